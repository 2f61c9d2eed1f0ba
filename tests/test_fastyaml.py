"""The fast loader either reads a file exactly as ruamel's YAML 1.2 loader does, or declines."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import EXAMPLES, ROOT, utf8_files
from jcnrc.intent import fastyaml
from jcnrc.intent.load import load_file

CORPUS = sorted((ROOT / "tests" / "corpus").rglob("*.yaml"))


@pytest.mark.parametrize("path", utf8_files(EXAMPLES + CORPUS), ids=lambda p: p.name)
def test_fast_reading_equals_ruamel_or_declines(path: Path, capfd):
    text = path.read_text(encoding="utf-8")
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
    "a: {b:\t7}\n", "a: \t\n",        # tabs: the parsers disagree where they may stand
    "a: b\x85c: d\n", "a: b\u2028c\n",  # NEL, LS: line breaks for ruamel only
    "a: 1\rb: 2\n",                 # a lone CR
    "a: [b,\n  c]\n",               # a flow collection over two lines
    "a: {b: " * 70 + "c" + "}" * 70 + "\n",  # deeper than rapidyaml's JSON emitter goes
    "a: [" + "[], " * 600 + "]\n",  # more brackets on a line than an intent has
    "a:\n  b: x\n  : y\n",           # empty key: null for ruamel, '' for rapidyaml
    "a: =\n", "a: '<<'\n",          # YAML 1.1's `value` and merge tags: not strings for ruamel
    "a: |1x\n", "a: # c\n  x\n\n",   # rapidyaml is lenient, ruamel refuses or fails
    "%YAML 1.1\na: b\n", "a: b\n\ufeffc: d\n", "{?a}\n",
])
def test_declines_whenever_json_could_differ(text, capfd):
    assert fastyaml.parse(text, 64) is None
    assert capfd.readouterr().err == ""


def test_reads_the_usual_intent_values():
    text = 'a: "11:11"\nb: 11:11\nc: 10.240.0.4\nd: 1500\ne: [x, "y"]\nf: {g: yes, h: on}\ni: null\nj: true\n'
    assert fastyaml.parse(text, 64) == {"a": "11:11", "b": "11:11", "c": "10.240.0.4", "d": 1500, "e": ["x", "y"],
                                        "f": {"g": "yes", "h": "on"}, "i": None, "j": True}


def test_every_first_character_the_resolver_knows_is_checked():
    """A plain string that starts with one of these may resolve to another type in ruamel."""
    resolver = fastyaml._resolver()
    starts = {first for first in resolver.versioned_resolver if first}
    assert starts <= fastyaml._MAYBE_NOT_STRING | fastyaml._INDICATORS


def test_reads_crlf_line_ends():
    assert fastyaml.parse('a: "x"\r\nb: [c, {d: e}]  # f | g\r\n', 64) == {"a": "x", "b": ["c", {"d": "e"}]}
    assert fastyaml.parse('a: "[x"\r\n', 64) is None  # a bracket in quotes counts: declining is safe


def test_counts_nodes_against_the_limit():
    text = "a: [1, 2, 3]\nb: {c: d}\n"  # the mapping, 2 keys, the list and 3 items, the map, c and d
    assert fastyaml.parse(text, 64, max_nodes=10) == {"a": [1, 2, 3], "b": {"c": "d"}}
    with pytest.raises(fastyaml.TooManyNodes) as refused:
        fastyaml.parse(text, 64, max_nodes=9)
    assert refused.value.count == 10
    with pytest.raises(fastyaml.TooManyNodes):  # refused on the tree's size, before any Python object exists
        fastyaml.parse("a: [" + "x, " * 1000 + "]\n", 64, max_nodes=500)
    assert 0 < fastyaml.count_nodes(text) <= 10  # rapidyaml's tree: a lower bound (keys share their value's node)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_examples_are_read_by_the_fast_loader(path: Path):
    """Declining is safe but slow: what intents look like must not be declined."""
    text = path.read_text(encoding="utf-8")
    if '"3600"' in text:  # multi-vrf.yaml: a quoted number, which JSON cannot tell from a number
        assert fastyaml.parse(text, 64) is None
    else:
        assert fastyaml.parse(text, 64) is not None


def test_the_benchmark_intent_is_read_by_the_fast_loader(tmp_path):
    import subprocess
    import sys

    intent = tmp_path / "bench.yaml"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--nodes", "50", "--vrfs", "5",
                    "--pods-per-node", "10", "--attachments-per-pod", "2", "-o", str(intent)], check=True)
    loaded = load_file(intent, fast=True)
    assert loaded.ok and not loaded.exact


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


_SCALARISH = st.text(alphabet="0123456789+-._:eExXoObBaAfFnNlLtTrRuUsSyYiI~=<# ", max_size=12)


@settings(max_examples=3000)
@given(st.one_of(_SCALARISH, st.sampled_from(sorted(fastyaml._MAYBE_NOT_STRING)).flatmap(
    lambda first: _SCALARISH.map(lambda rest: first + rest))))
def test_the_resolver_table_answers_as_ruamel_resolves(text):
    """_resolves_to_string walks the table ruamel's resolve walks; resolve itself is the reference."""
    assert fastyaml._resolves_to_string(text) == fastyaml._resolves_to_string_by_resolve(text)
