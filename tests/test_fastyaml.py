"""The fast loader either reads a file exactly as ruamel's YAML 1.2 loader does, or declines."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT
from jcnrc import fastyaml
from jcnrc.load import load_file

CORPUS = sorted((ROOT / "tests" / "corpus").rglob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES + CORPUS, ids=lambda p: p.name)
def test_fast_reading_equals_ruamel_or_declines(path: Path, capfd):
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: refused before any parser runs")
    fast = fastyaml.parse(text, 64)
    exact = load_file(path)
    if fast is not None:
        assert exact.data is not None, f"fast path accepted what ruamel refuses: {exact.diagnostics[:1]}"
        assert fast == exact.data
    assert capfd.readouterr().err == "", "the C++ parser must not print"


@pytest.mark.parametrize("text", [
    "a: 1\na: 2\n",                 # duplicate key
    "a: 1\n---\nb: 2\n",            # two documents
    "a: &x 1\nb: *x\n",             # anchor and alias
    "a: !!str 5\n",                 # tag
    "a: ~\n", "a: 0x1F\n", "a: 0777\n", "a: True\n", "a: 1e3\n",  # not strings in YAML 1.2
    "a: |\n  two\n  lines\n",       # block scalar
    "- 1\n",                        # not a mapping
    "a: [1, 2\n",                   # syntax error
])
def test_declines_whenever_json_could_differ(text, capfd):
    assert fastyaml.parse(text, 64) is None
    assert capfd.readouterr().err == ""


def test_reads_the_usual_intent_values():
    text = 'a: "11:11"\nb: 11:11\nc: 10.240.0.4\nd: 1500\ne: [x, "y"]\nf: {g: yes, h: on}\ni: null\nj: true\n'
    assert fastyaml.parse(text, 64) == {"a": "11:11", "b": "11:11", "c": "10.240.0.4", "d": 1500, "e": ["x", "y"],
                                        "f": {"g": "yes", "h": "on"}, "i": None, "j": True}


def _big_intent(tmp_path: Path, mistake: bool) -> Path:
    """The AKS example padded past the fast-path size with comments, optionally with a typo."""
    text = (ROOT / "examples" / "aks-evpn-type5.yaml").read_text()
    if mistake:
        text = text.replace("    vni: 10002", "    vnii: 10002")
    padding = "".join(f"# padding line {i:06d} keeps this file above the fast-path size\n" for i in range(1500))
    path = tmp_path / "big.yaml"
    path.write_text(text + padding)
    assert path.stat().st_size >= fastyaml.FAST_PATH_MIN_BYTES
    return path


def test_pipeline_diagnostics_are_the_same_with_the_fast_loader(tmp_path):
    from jcnrc.pipeline import analyse

    path = _big_intent(tmp_path, mistake=True)
    located = analyse(path).located()
    line = next(n for n, text in enumerate(path.read_text().splitlines(), start=1) if "vnii:" in text)
    assert [(i.diagnostic.code, i.line, i.column) for i in located] == [("JCN101", line, 5)]


def test_pipeline_builds_big_clean_intents_through_the_fast_loader(tmp_path):
    from jcnrc.pipeline import compile_intent

    clean = compile_intent(_big_intent(tmp_path, mistake=False))
    assert clean.ok and clean.files
    assert clean.source.root is None, "no positions were needed, so ruamel never ran"
