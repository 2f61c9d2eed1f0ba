"""Where the built-in templates and schemas are: inside the wheel, or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def folder(name: str) -> Path:
    shipped = _PACKAGE / name
    if shipped.is_dir():
        return shipped
    return _PACKAGE.parent / name
