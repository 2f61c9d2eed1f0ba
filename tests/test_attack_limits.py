"""Issue 13, classes 6 and 10: hostile input within the resource limits costs bounded work, and positions follow YAML 1.2.

Each reproducer is a row of the review, at a fraction of its size where the behaviour is the same
by construction. Nothing here measures wall-clock time: the work is measured instead, as the
number of diagnostics built and printed, the bytes written to stderr, the nodes ruamel composed
(none, when the fast loader's positions serve), and the peak resident memory of a child process.

Rows (review sizes; the tests use smaller ones):

* 1.95 million one-character list items and one type error: the position of the error no longer
  costs a second, exact parse of the whole file;
* 900,000 aliases of a one-item list, each a wrong item: at most --max-diagnostics (100) are
  printed, the rest counted, and pydantic's flood is never turned into a million Python objects;
* a 400,000-item list as `metadata.name`: the source line is shown around the place, not whole;
* an 8 MB key: refused as longer than `max_scalar` (1 MiB), at its position.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, HANG_GUARD, ROOT, utf8_files
from jcnrc import diagnostics as diag
from jcnrc.diagnostics import Diagnostic, Located, error, format_text
from jcnrc.intent import fastyaml, load
from jcnrc.intent.load import Limits, SourceMap, load_bytes, load_file
from jcnrc.pipeline import analyse

EXAMPLE = ROOT / "examples" / "aks-evpn-type5.yaml"
CORPUS = sorted((ROOT / "tests" / "corpus").rglob("*.yaml"))

# A child process that runs `python -m jcnrc ARGS...` and prints its own peak memory (kB) on stdout.
_CLI = r"""
import json, resource, runpy, sys
sys.argv = ["jcnrc", *sys.argv[1:]]
try:
    runpy.run_module("jcnrc", run_name="__main__", alter_sys=True)
    code = 0
except SystemExit as stop:
    code = stop.code or 0
sys.stdout.flush()
print("\nPEAK", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def run_cli(*args: str) -> tuple[int, str, str, int]:
    """(exit code, stdout without the peak line, stderr, peak RSS in MB) of `jcnrc ARGS` in a child."""
    run = subprocess.run([sys.executable, "-c", _CLI, *args], capture_output=True, text=True, cwd=ROOT, timeout=HANG_GUARD)
    stdout, _, peak = run.stdout.rpartition("\nPEAK ")
    return run.returncode, stdout, run.stderr, int(peak) // 1024


@pytest.fixture(scope="module")
def baseline_mb() -> int:
    """Peak memory of checking the small example: the interpreter and jcnrc's imports."""
    return run_cli("check", str(EXAMPLE))[3]


def intent_text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


def with_command(text: str, items: str) -> str:
    """The example with the first pod's command set to the flow list `items`."""
    return text.replace("    image: ubuntu:20.04\n", f"    image: ubuntu:20.04\n    command: [{items}]\n", 1)


@pytest.fixture
def no_ruamel(monkeypatch):
    """Fails the test if ruamel composes a single node (the fast loader's positions must serve)."""

    def composed(*args, **kwargs):
        raise AssertionError("ruamel composed the document")

    monkeypatch.setattr(load._LimitedComposer, "compose_node", composed)
    monkeypatch.setattr(load, "_positions_tree", composed)


# ----------------------------------------------------------------------------- row 1: one error in a big file


def test_one_type_error_in_a_big_file_is_located_without_a_second_parse(tmp_path, no_ruamel):
    """Review: 1.95 million items and one type error cost 2 min 08 s and 1.48 GB, nearly all of it
    ruamel reading the file again for one position. Here a quarter of it."""
    text = with_command(intent_text(), ",".join("x" * 490_000)).replace("vni: 10002", "vni: blue")
    path = tmp_path / "big.yaml"
    path.write_text(text)
    located = analyse(path).located()
    line = text.split("\n").index("    vni: blue") + 1
    assert [(i.diagnostic.code, i.line, i.column) for i in located] == [("JCN103", line, 10)]


def test_one_type_error_in_a_big_file_costs_little_memory(tmp_path, baseline_mb):
    text = with_command(intent_text(), ",".join("x" * 490_000)).replace("vni: 10002", "vni: blue")
    path = tmp_path / "big.yaml"
    path.write_text(text)
    code, _, stderr, peak = run_cli("check", str(path))
    assert code == 1 and "JCN103" in stderr
    # rapidyaml's tree (twice, one at a time) and the data; ruamel would add about 350 MB.
    assert peak - baseline_mb < 200, f"peak memory grew by {peak - baseline_mb} MB"


# ----------------------------------------------------------------------------- row 2: a flood of diagnostics


# A flood: just past the 10,000 errors the checker still explains one by one (jcnrc.intent.
# structure._DETAILED_ERRORS); past that they are counted, and bigger floods take the same path.
FLOOD = 12_000


def aliases(count: int) -> str:
    """The example with a one-item anchored list and a command of `count` aliases to it:
    every alias is a list where a string is expected."""
    text = with_command(intent_text(), ",".join(["*a"] * count))
    return text.replace("kind: Topology\n", "kind: Topology\nx-anchor: &a [x]\n", 1)


def test_a_flood_of_errors_is_counted_not_built(tmp_path):
    """Review: 900,000 aliases cost 3 min 15 s, 2.19 GB, 900,000 diagnostics and 120 MB of stderr."""
    path = tmp_path / "flood.yaml"
    path.write_text(aliases(FLOOD))
    result = analyse(path)
    assert len(result.diagnostics) <= 2_000, "the flood was turned into diagnostics one by one"
    assert diag.summary(result.diagnostics) == f"{FLOOD + 1:,} errors"  # the unknown key `x-anchor` and every alias
    located, hidden = diag.locate_first(result.diagnostics, result.source, 100)
    assert len(located) == 100 and hidden == FLOOD + 1 - 100
    assert located == sorted(located, key=diag.sort_key)


def test_a_flood_of_errors_prints_the_first_hundred_and_a_count(tmp_path):
    path = tmp_path / "flood.yaml"
    path.write_text(aliases(FLOOD))
    code, _, stderr, _ = run_cli("check", str(path))
    assert code == 1
    assert stderr.count("error[JCN") == 100
    assert f"... and {FLOOD + 1 - 100:,} more errors not shown (--max-diagnostics N)" in stderr
    assert stderr.rstrip().endswith(f"{FLOOD + 1:,} errors")
    assert len(stderr) < 40_000, f"{len(stderr)} bytes of diagnostics"


def test_max_diagnostics_and_json(tmp_path):
    path = tmp_path / "flood.yaml"
    path.write_text(aliases(12_000))
    code, _, stderr, _ = run_cli("check", "--max-diagnostics", "3", str(path))
    assert code == 1 and stderr.count("error[JCN") == 3
    assert "... and 11,998 more errors not shown" in stderr
    code, stdout, _, _ = run_cli("check", "--format", "json", "--max-diagnostics", "5", str(path))
    document = json.loads(stdout)
    assert code == 1 and len(document["diagnostics"]) == 5 and document["omitted"] == 11_996


def test_flood_selection_keeps_the_first_of_each_kind_by_position(tmp_path):
    """Two floods in different fields: the first diagnostics shown are the first in the file."""
    text = with_command(intent_text(), ",".join(["[y]"] * 6_000))
    text = text.replace("  - name: ubuntu-du22\n", "  - name: ubuntu-du22\n    command: [" + ",".join(["[z]"] * 6_000) + "]\n", 1)
    path = tmp_path / "two-floods.yaml"
    path.write_text(text)
    result = analyse(path)
    located, hidden = diag.locate_first(result.diagnostics, result.source, 10)
    assert diag.summary(result.diagnostics) == "12,000 errors"
    assert hidden == 11_990
    first_line = text.split("\n").index("    command: [" + ",".join(["[y]"] * 6_000) + "]") + 1
    assert {item.line for item in located} == {first_line}
    assert [item.column for item in located] == sorted(item.column for item in located)


def test_a_flood_of_unknown_keys_is_counted_not_built(tmp_path):
    text = intent_text() + "".join(f"k{i:06d}: x\n" for i in range(FLOOD))
    path = tmp_path / "keys.yaml"
    path.write_text(text)
    result = analyse(path)
    assert len(result.diagnostics) <= 2_000
    assert diag.summary(result.diagnostics) == f"{FLOOD:,} errors"


# ----------------------------------------------------------------------------- row 3: a huge value echoed


def test_a_huge_list_as_a_name_prints_a_few_hundred_bytes(tmp_path, no_ruamel):
    """Review: a 400,000-item list as `metadata.name` cost 68 s, 548 MB and 13 MB of stderr."""
    text = intent_text().replace("  name: aks-evpn-type5 ", "  name: [" + ",".join("x" * 100_000) + "] ", 1)
    path = tmp_path / "name.yaml"
    path.write_text(text)
    result = analyse(path)
    located = result.located()
    assert [(i.diagnostic.code, i.line, i.column) for i in located] == [("JCN103", 8, 9)]
    shown = format_text(located[0])
    assert len(shown) < 1_000, shown[:2000]
    assert "    ^" in shown


def test_messages_and_source_lines_are_abbreviated():
    long = error("JCN101", "unknown key `" + "k" * 500_000 + "`", ("k" * 500_000,), help="h" * 5000)
    assert len(long.message) < 1_100 and "more characters" in long.message and len(long.help) < 1_100
    line = "name: [" + "x, " * 300_000 + "]"
    item = Located(Diagnostic("JCN103", "wrong type"), "f.yaml", 3, 400_001, line)
    shown = format_text(item)
    assert len(shown) < 600
    source, carets = shown.split("\n")[2:4]
    caret_at = carets.index("^")
    assert source[caret_at] == line[400_000] and source.startswith("3 | ...")
    path = json.loads(diag.to_json([Located(long, "f.yaml", 1, 1, "")]))["diagnostics"][0]["path"]
    assert len(path[0]) < 1_100


# ----------------------------------------------------------------------------- row 4: one huge scalar


def test_an_eight_megabyte_key_is_refused_at_its_position(tmp_path, no_ruamel):
    """Review: an 8 MB key cost 29.5 s (and printed it twice). Here a 2 MB one."""
    path = tmp_path / "key.yaml"
    path.write_text(intent_text() + "a" * 2_000_000 + ": x\n")
    result = analyse(path)
    located = result.located()
    line = intent_text().count("\n") + 1
    assert [(i.diagnostic.code, i.line, i.column) for i in located] == [("JCN008", line, 1)]
    assert located[0].diagnostic.message == "this key is 2,000,000 characters long; the limit is 1,048,576"
    assert len(format_text(located[0])) < 1_000


def test_a_huge_value_is_refused_at_its_position(tmp_path, no_ruamel):
    path = tmp_path / "value.yaml"
    path.write_text(intent_text().replace("  namespace: default ", "  namespace: " + "b" * 1_100_000 + " ", 1))
    [item] = analyse(path).located()
    assert (item.diagnostic.code, item.line, item.column) == ("JCN008", 9, 14)


def test_the_exact_loader_refuses_long_scalars_too():
    limits = Limits(max_scalar=100)
    [d] = load_bytes(b"a: 1\nb: " + b"x" * 101 + b"\n", "t.yaml", limits).diagnostics
    assert (d.code, d.line, d.column) == ("JCN008", 2, 4) and "value is 101 characters" in d.message
    [d] = load_bytes(b"a: 1\n'" + b"y" * 101 + b"': 2\n", "t.yaml", limits).diagnostics
    assert (d.code, d.line, d.column) == ("JCN008", 2, 1) and "key is 101 characters" in d.message
    assert load_bytes(b"a: " + b"x" * 100 + b"\n", "t.yaml", limits).ok


# ----------------------------------------------------------------------------- node limits


def test_an_alias_counts_the_nodes_of_what_it_names_in_both_loaders():
    """An alias to a collection counts that collection's nodes each time it is used."""
    text = "apiVersion: jcnrc/v1\nbase: &a [x, y, z]\nuse: [" + ", ".join(["*a"] * 20_000) + "]\n"
    assert len(text) >= fastyaml.FAST_PATH_MIN_BYTES
    nodes = 1 + 3 + 1 + 4 + 1 + 20_000 * 4  # the mapping, 3 keys, `jcnrc/v1`, [x, y, z], the list of aliases, each 4
    for fast in (False, True):
        assert load_bytes(text.encode(), "t.yaml", Limits(max_nodes=nodes), fast=fast).ok
        [d] = load_bytes(text.encode(), "t.yaml", Limits(max_nodes=nodes - 1), fast=fast).diagnostics
        assert d.code == "JCN008" and "aliases" in d.message


def test_the_exact_loader_composes_a_bounded_number_of_nodes(monkeypatch):
    """ruamel's tree costs about 700 bytes a node: what the fast loader declines (here a tab in a
    comment) is read only up to exact_budget, so that no input within the limits takes 1 GB."""
    monkeypatch.setattr(load, "EXACT_MIN_BUDGET", 1_000)
    limits = Limits(max_nodes=3_000)  # the exact loader reads half: 1,500
    assert load.exact_budget(limits) == 1_500
    text = "v: [" + ", ".join(["x"] * 2_000) + "]\n#\tx\n"
    [d] = load_bytes(text.encode(), "t.yaml", limits, fast=True).diagnostics
    assert d.code == "JCN008" and d.message == "the document has more than 1,500 nodes, the most the exact YAML reader reads"
    assert load_bytes(text.encode(), "t.yaml", Limits(max_nodes=4_100), fast=True).ok
    aliased = "a: &a x\nv: [" + ", ".join(["*a"] * 2_000) + "]\n"  # few nodes, many aliases: counted as written
    [d] = load_bytes(aliased.encode(), "t.yaml", limits).diagnostics
    assert d.code == "JCN008" and "exact YAML reader" in d.message
    monkeypatch.setattr(load.fastyaml, "count_nodes", lambda text: None)  # the composer counts too
    [d] = load_bytes(aliased.encode(), "t.yaml", limits).diagnostics
    assert d.code == "JCN008" and "exact YAML reader" in d.message


def test_a_declined_file_is_not_parsed_twice(tmp_path):
    """The pipeline reads a file again for positions when it has diagnostics; a file only the
    exact loader reads (anchors) was read exactly the first time already."""
    path = tmp_path / "anchored.yaml"
    path.write_text(aliases(200))
    calls = []
    original = load._parse

    def counted(*args):
        calls.append(1)
        return original(*args)

    load._READ.clear()
    try:
        load._parse = counted
        result = analyse(path)
    finally:
        load._parse = original
    assert not result.ok and len(calls) == 1


# ----------------------------------------------------------------------------- positions: fast == exact


def all_paths(data, prefix=()):
    """Every path into `data`, and one missing key and one index past the end of each collection."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from all_paths(value, (*prefix, key))
        yield (*prefix, "no-such-key")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from all_paths(value, (*prefix, index))
        yield (*prefix, len(data))


def fast_and_exact(text: str):
    """(fast positions, exact loader) for a text the fast loader reads, else None."""
    data = fastyaml.parse(text, 64)
    if data is None:
        return None
    exact = load_bytes(text.encode("utf-8"), "t.yaml")
    assert exact.data == data
    return SourceMap("t.yaml", load._LINE_BREAK.split(text), text=text), exact.source


def assert_same_positions(text: str) -> int:
    pair = fast_and_exact(text)
    if pair is None:
        return 0
    fast, exact = pair
    count = 0
    for path in all_paths(exact and load.to_plain(exact.root)):
        for at in ("key", "value"):
            assert fast.position(path, at) == exact.position(path, at), (path, at)
            count += 1
    assert fast.root is None, "the fast positions asked ruamel"
    return count


@pytest.mark.parametrize("path", utf8_files(EXAMPLES + CORPUS), ids=lambda p: p.name)
def test_fast_positions_equal_the_exact_loaders(path: Path):
    assert_same_positions(path.read_text(encoding="utf-8").removeprefix("\ufeff"))


@pytest.mark.parametrize("text", [
    'a: ""\nb:\nc: []\nd: {}\ne:\n  - x\n  - - y\n    - z\nf: "x\\\\ty"\ng: x\n  y\n"h": 1\n',
    "a:\n- x\n- {b: c, d: [e, f]}\n- [ g , h ]\n'k''q': v\n",
    "a:   # comment\n  # more\n  b: 1\nc:\n\n  - 1\n",
    'é: ü\nñ:\n  - ö: [ä, "ß"]\n',
    "a: 1\r\nb:\r\n  - x\r\n  - y: z\r\n",
    "a: { b: 1, c: [ 1 , 2 ] , d: {} }\n",
    '"a\\"b": 1\nx: "q\\"\\\\"\n',
    "a:\n  - - - x\n    - y\n  -   - z\n",
    "a: 1\nb:\nc: 1\n", "b: # c\nc: 1\n", "b:\n  # c\nc: 1\n", "a: 1\nb:", "a:\n  b:\nc: 1\n",
    "a: {b: , c: 1}\n", "a:\n  b:  # c\n  # d\n  d: 1\n", "k: v\nl:\n-\n  a: b\n",
])
def test_fast_positions_equal_the_exact_loaders_on_awkward_yaml(text):
    assert assert_same_positions(text) > 0


def test_a_place_the_fast_positions_cannot_tell_is_asked_of_ruamel():
    text = "a:\n  -\n  - []\n  - x\n"  # an empty item and an empty flow list: known from their `-` only
    fast, exact = fast_and_exact(text)
    for path in [("a", 0), ("a", 1), ("a", 2)]:
        assert fast.position(path) == exact.position(path)


def big_intent_with_mistakes() -> str:
    text = intent_text()
    text = text.replace("    vni: 10002", "    vnii: 10002").replace("role: master}", "role: boss}")
    text = text.replace("  asn: 64512 ", "  asn: 99999999999 ", 1).replace("image: ubuntu:20.04", "image: Ubuntu:20.04", 1)
    pods = "".join(f"  - name: pod-{i}\n    node: aks-agentpool-23733201-vmss00000{i % 3}\n    image: ubuntu:20.04\n"
                   f"    networks:\n      - {{vrf: {'blue' if i % 7 else 'red'}, interface: net1}}\n" for i in range(800))
    return text.replace("\nsecrets:", "\n" + pods + "secrets:", 1).replace("pods:\n", "pods:\n", 1)


def test_pipeline_positions_on_a_big_intent_with_errors_equal_the_exact_loaders(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(big_intent_with_mistakes())
    assert path.stat().st_size >= fastyaml.FAST_PATH_MIN_BYTES
    result = analyse(path)
    fast = [(i.diagnostic.code, i.line, i.column, i.related) for i in result.located()]
    assert len(fast) > 100
    assert result.source.root is None, "ruamel read the file for positions"
    load._READ.clear()
    exact = load_file(path)
    reference = [(i.diagnostic.code, i.line, i.column, i.related) for i in diag.locate(
        analyse_diagnostics(path), exact.source)]
    assert fast == reference


def analyse_diagnostics(path: Path) -> list:
    from jcnrc.intent.check import check

    return check(load_file(path, fast=True).data).diagnostics


# ----------------------------------------------------------------------------- class 10: positions and YAML 1.2


def test_an_empty_key_is_reported_on_its_line():
    text = intent_text().replace("  asn: 64512 ", "  : x\n  asn: 64512 ", 1)
    loaded = load_bytes(text.encode(), "t.yaml")
    line = text.split("\n").index("  : x") + 1
    assert loaded.source.position(("cluster", "null"), "key") == (line, 3)


def test_an_alias_used_as_a_key_is_reported_where_it_is_used():
    text = (intent_text().replace("  provider: aks ", "  provider: &p aks ", 1)
            .replace("  asn: 64512 ", "  *p : x\n  asn: 64512 ", 1))
    loaded = load_bytes(text.encode(), "t.yaml")
    line = text.split("\n").index("  *p : x") + 1
    assert loaded.source.position(("cluster", "aks"), "key") == (line, 3)
    assert loaded.source.position(("cluster", "provider")) == (line - 1, 13)  # the anchored value stays put


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\u2029"])
def test_yaml_1_2_line_separators_are_characters(char):
    text = f"a: 1\n# a comment{char}with a separator\nb: x{char}y\nc{char}d: 2\ne: [3]\n"
    loaded = load_bytes(text.encode(), "t.yaml")
    assert loaded.ok, loaded.diagnostics
    assert loaded.data == {"a": 1, "b": f"x{char}y", f"c{char}d": 2, "e": [3]}
    assert loaded.source.position(("e", 0)) == (5, 5)
    assert loaded.source.position((f"c{char}d",), "key") == (4, 1)
