"""out/ is the golden output of examples/: it must be exactly what the examples compile to."""

from __future__ import annotations

import pytest

from conftest import EXAMPLES, ROOT, compile_example
from jcnrc.output.write import OWNED_LIST

# (example, --target override, output folder suffix): `make examples` builds exactly these.
GOLDEN = [(path, None, "") for path in EXAMPLES] + [(ROOT / "examples" / "aks-evpn-type5.yaml", "jcnr", "-jcnr")]


@pytest.mark.parametrize("example,target,suffix", GOLDEN, ids=lambda v: getattr(v, "name", v or ""))
def test_out_folder_matches_a_fresh_build(example, target, suffix):
    result = compile_example(example, target=target)
    out_dir = ROOT / "out" / (result.plan.name + suffix)
    assert out_dir.is_dir(), f"out/{result.plan.name} is missing: run `make examples`"
    on_disk = {
        p.relative_to(out_dir).as_posix(): p.read_text(encoding="utf-8")
        for p in out_dir.rglob("*")
        if p.is_file() and p.name != OWNED_LIST
    }
    stale = sorted(path for path in set(on_disk) | set(result.files) if on_disk.get(path) != result.files.get(path))
    assert not stale, f"out/{result.plan.name} is stale (run `make examples`): {stale[:10]}"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_lock_file_is_committed_and_current(example):
    result = compile_example(example)
    assert result.lock_path.is_file(), f"{result.lock_path.name} is missing: run `make examples`"
    assert not result.lock_changed, f"{result.lock_path.name} is stale: run `make examples`"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_build_is_deterministic(example):
    first = compile_example(example).files
    second = compile_example(example).files
    assert first == second
    for path, text in first.items():
        assert "\r" not in text, path
        assert text.endswith("\n") and not text.endswith("\n\n"), path
