"""Diagnostics: what every stage reports instead of raising.

A diagnostic names the place it is about by its *path* in the intent (``("pods", 3, "node")``)
rather than by line and column, so the checking stages never need to know about YAML. The
loader's source map turns paths into positions when the diagnostics are shown.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field, replace
from typing import Iterable, Literal

Severity = Literal["error", "warning"]
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Related:
    """Another place involved, e.g. where a duplicate name was first defined."""

    message: str
    path: Path
    at: Literal["key", "value"] = "value"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    path: Path = ()
    severity: Severity = "error"
    help: str | None = None
    # Point at the key ("unknown key") or at the value ("bad address").
    at: Literal["key", "value"] = "value"
    related: tuple[Related, ...] = ()
    # Set only for problems found before a path exists (YAML syntax errors).
    line: int | None = None
    column: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def error(code: str, message: str, path: Path = (), **kwargs) -> Diagnostic:
    return Diagnostic(code=code, message=message, path=path, severity="error", **kwargs)


def warning(code: str, message: str, path: Path = (), **kwargs) -> Diagnostic:
    return Diagnostic(code=code, message=message, path=path, severity="warning", **kwargs)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate, in the words a reader expects."""
    shortlist = difflib.get_close_matches(word, list(candidates), n=6, cutoff=0.6)
    if not shortlist:
        return None
    best = min(shortlist, key=lambda candidate: (edit_distance(word, candidate), candidate))
    return f"did you mean `{best}`?"


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: difflib's ratio alone ranks `vmss00001` closer to `vmss000002` than to `vmss000001`."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def one_of(candidates: Iterable[str], limit: int = 8) -> str:
    names = sorted(candidates)
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


@dataclass(frozen=True)
class Located:
    """A diagnostic with its place in a file resolved."""

    diagnostic: Diagnostic
    file: str
    line: int
    column: int
    source_line: str
    related: tuple[tuple[Related, int, int], ...] = field(default=())


def sort_key(item: Located) -> tuple:
    return (item.file, item.line, item.column, item.diagnostic.code, item.diagnostic.message)


def format_text(item: Located, color: bool = False) -> str:
    d = item.diagnostic
    bold, red, yellow, blue, reset = ("\033[1m", "\033[31m", "\033[33m", "\033[34m", "\033[0m") if color else ("",) * 5
    sev_color = red if d.is_error else yellow
    lines = [f"{bold}{item.file}:{item.line}:{item.column}: {sev_color}{d.severity}[{d.code}]{reset}{bold}: {d.message}{reset}"]
    if item.source_line:
        gutter = str(item.line)
        pad = " " * len(gutter)
        caret_pad = " " * _display_width(item.source_line[: max(item.column - 1, 0)])
        lines.append(f"{blue}{pad} |{reset}")
        lines.append(f"{blue}{gutter} |{reset} {item.source_line}")
        lines.append(f"{blue}{pad} |{reset} {caret_pad}{sev_color}^{reset}")
    for related, line, column in item.related:
        lines.append(f"{blue}note{reset}: {related.message} at {item.file}:{line}:{column}")
    if d.help:
        lines.append(f"{blue}help{reset}: {d.help}")
    return "\n".join(lines)


def _display_width(text: str) -> int:
    # Tabs are refused in intents, so one character is one column here.
    return len(text)


def to_json(items: list[Located]) -> str:
    records = [
        {
            "file": item.file,
            "line": item.line,
            "column": item.column,
            "severity": item.diagnostic.severity,
            "code": item.diagnostic.code,
            "message": item.diagnostic.message,
            "path": list(item.diagnostic.path),
            "help": item.diagnostic.help,
            "related": [
                {"message": rel.message, "line": line, "column": column, "path": list(rel.path)}
                for rel, line, column in item.related
            ],
        }
        for item in items
    ]
    return json.dumps({"diagnostics": records}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def summary(items: list[Located]) -> str:
    errors = sum(1 for i in items if i.diagnostic.is_error)
    warnings = len(items) - errors
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts) if parts else "no problems"


def with_path_prefix(diagnostic: Diagnostic, prefix: Path) -> Diagnostic:
    return replace(diagnostic, path=prefix + diagnostic.path)


def locate(diagnostics: Iterable[Diagnostic], source) -> list[Located]:
    """Resolve paths to positions with a source map (anything with file, position(), source_line())."""
    located = []
    for d in diagnostics:
        if d.line is not None:
            line, column = d.line, d.column or 1
        else:
            line, column = source.position(d.path, d.at)
        related = tuple((r, *source.position(r.path, r.at)) for r in d.related)
        located.append(Located(d, source.file, line, column, source.source_line(line), related))
    return sorted(located, key=sort_key)
