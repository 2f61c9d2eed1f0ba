from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def compile_example(path: Path, **options):
    from jcnrc.pipeline import Options, compile_intent

    result = compile_intent(path, Options(**options), display_name=f"examples/{path.name}")
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    return result


@pytest.fixture(scope="session")
def compiled_examples():
    """Every bundled example compiled once: {example file name: Result}."""
    return {path.name: compile_example(path) for path in EXAMPLES}
