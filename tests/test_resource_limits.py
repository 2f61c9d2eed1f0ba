"""Resource limits: hostile YAML fails fast, with JCN008 and bounded memory, and the limits are configurable.

Each hostile file goes through ``jcnrc.pipeline.analyse`` (load -> check -> plan, what
``jcnrc check`` and ``jcnrc build`` run, fast loader and fallback included) in a child process,
so that a runaway parse is killed instead of hanging the suite, and so that its peak memory can
be read from the process itself (``ru_maxrss``; tracemalloc would slow the pure-Python parser
down fifteenfold). "Fast" is counted, not timed, so it holds on any machine however busy: the
child counts the characters ruamel's pure-Python reader consumed (``read``), the nodes its
composer built (``composed``), the nodes converted to plain data (``plain``) and the bytes
handed to rapidyaml's C++ parser (``rapidyaml``). A refusal that stops early reads a few hundred
characters whatever the file's size; a C++ pass is linear in the bytes it is given.

The small hostile inputs share one child (``refusals``), each measured on its own (its work
counted from zero, its memory as the growth of the peak it caused); the big ones have a child each.

The defaults live in ``jcnrc.intent.load.Limits``; docs/security.md documents them.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import HANG_GUARD
from jcnrc.intent.load import DEFAULT_LIMITS, Limits, expanded_budget, load_bytes
from jcnrc.pipeline import Options, compile_intent
from strategies import EXAMPLE, benchmark_intent, dump_intent, example_intent, write_intent

MEMORY_MB = 100  # growth of the peak resident set while handling a hostile input
EARLY = 200  # nodes composed before an early refusal: a few levels of aliases or nesting past the limit

_CHILD = r"""
import json, resource, sys
from pathlib import Path
import ruamel.yaml.composer, ruamel.yaml.reader, ryml
from jcnrc.intent import load
from jcnrc.intent.load import Limits
from jcnrc.pipeline import Options, analyse
requests = json.loads(Path(sys.argv[1]).read_text())  # [[intent, limits], ...]
analyse(Path(sys.argv[2]))  # warm up: lazy imports and caches are not the input's cost
work = {}


def count(owner, name, key, amount=lambda *args, **kwargs: 1):
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        work[key] += amount(*args, **kwargs)
        return real(*args, **kwargs)

    setattr(owner, name, counted)


count(ruamel.yaml.reader.Reader, "forward", "read", lambda reader, length=1: length)
count(ruamel.yaml.composer.Composer, "compose_node", "composed")
count(load, "to_plain", "plain")
for parse in ("parse_in_arena", "parse_in_place"):
    count(ryml, parse, "rapidyaml", lambda buffer, *args, **kwargs: len(buffer))
outcomes = []
for intent, limits in requests:
    work.update(dict.fromkeys(("read", "composed", "plain", "rapidyaml"), 0))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = analyse(Path(intent), Options(limits=Limits(**limits)))
    located = result.located()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcomes.append({
        "ok": result.ok,
        "diagnostics": [[i.diagnostic.code, i.diagnostic.message, i.line, i.column] for i in located[:20]],
        "count": len(located),
        "work": dict(work),
        "growth_mb": (after - before) / 1024,
    })
    del result, located
print(json.dumps(outcomes))
"""


@dataclasses.dataclass
class Outcome:
    ok: bool
    diagnostics: list
    count: int
    work: dict[str, int]
    growth_mb: float

    @property
    def codes(self) -> list[str]:
        return [d[0] for d in self.diagnostics]


def analyse_in_child(raw: bytes, tmp_path: Path, limits: Limits = DEFAULT_LIMITS) -> Outcome:
    """Analyse `raw` in a fresh interpreter, counting its work (the module docstring says what)."""
    intent = tmp_path / "hostile.yaml"
    intent.write_bytes(raw)
    [outcome] = _run_child([(intent, limits)], tmp_path)
    return outcome


def _run_child(requests: list[tuple[Path, Limits]], folder: Path) -> list[Outcome]:
    """Analyse each intent in turn in one fresh interpreter."""
    listing = folder / "requests.json"
    listing.write_text(json.dumps([[str(intent), dataclasses.asdict(limits)] for intent, limits in requests]))
    run = subprocess.run([sys.executable, "-c", _CHILD, str(listing), str(EXAMPLE)], capture_output=True, text=True,
                         timeout=HANG_GUARD)
    assert run.returncode == 0, run.stderr[-3000:]
    return [Outcome(**outcome) for outcome in json.loads(run.stdout)]


def assert_refused_early(outcome: Outcome, words: str) -> None:
    """JCN008 at a position, after composing a few nodes and converting none, in bounded memory."""
    assert not outcome.ok
    assert outcome.codes == ["JCN008"], outcome.diagnostics
    _code, message, line, column = outcome.diagnostics[0]
    assert words in message, message
    assert line >= 1 and column >= 1
    assert outcome.work["composed"] < EARLY and outcome.work["plain"] == 0, outcome.work
    assert_small_memory(outcome)


def assert_one_cpp_pass(outcome: Outcome, raw: bytes, passes: int = 1) -> None:
    """Handled by rapidyaml at C++ speed: at most `passes` passes over the text, nothing read by ruamel."""
    assert outcome.work["rapidyaml"] <= passes * len(raw), outcome.work
    assert outcome.work["read"] == 0 and outcome.work["composed"] == 0 and outcome.work["plain"] == 0, outcome.work


def assert_small_memory(outcome: Outcome) -> None:
    assert outcome.growth_mb < MEMORY_MB, f"peak memory grew by {outcome.growth_mb:.0f} MB"


# ----------------------------------------------------------------------------- hostile shapes


def billion_laughs(levels: int = 9, fan_out: int = 10) -> bytes:
    lines = ["apiVersion: jcnrc/v1", "lol0: &lol0 [" + ", ".join(['"lol"'] * fan_out) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"lol{level}: &lol{level} [" + ", ".join([f"*lol{level - 1}"] * fan_out) + "]")
    return ("\n".join(lines) + "\n").encode()


def nested_flow_lists(depth: int) -> bytes:
    return b"apiVersion: jcnrc/v1\nnodes: " + b"[" * depth + b"]" * depth + b"\n"


def nested_flow_maps(depth: int) -> bytes:
    return b"apiVersion: jcnrc/v1\nnodes: " + b"{a: " * depth + b"1" + b"}" * depth + b"\n"


def nested_block_lists(depth: int) -> bytes:
    return b"nodes:\n" + b"".join(b"  " * level + b"- \n" for level in range(depth)) + b"  " * depth + b"- x\n"


def long_command(items: int, flow: bool) -> bytes:
    """The walkthrough intent whose first pod has a command of `items` words: valid, only big."""
    data = example_intent()
    data["pods"][0]["command"] = ["__COMMAND__"]
    text = dump_intent(data)
    marker = "- __COMMAND__\n"
    indent = text[: text.index(marker)].rsplit("\n", 1)[1]
    if flow:
        body = "[" + ", ".join(["x"] * items) + "]\n"
        text = text.replace("\n" + indent + marker, " " + body)
    else:
        text = text.replace(marker, marker.replace("__COMMAND__", "x") + (indent + "- x\n") * (items - 1))
    return text.encode()


def laughs_of_mappings() -> bytes:
    lines = ["a0: &a0 {x: 1, y: 2, z: 3, w: 4, v: 5, u: 6, t: 7, s: 8, r: 9, q: 10}"]
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} {{" + ", ".join(f"k{i}: *a{level - 1}" for i in range(10)) + "}")
    return ("\n".join(lines) + "\n").encode()


# The small hostile inputs, analysed in one child, in this order: {name: (the file's bytes, limits)}.
# The first is a file over the byte limit, made sparse (no bytes are written, so none is given here);
# the biggest, a million and a half nodes of aliases just under the node limit, comes last.
OVER_SIZE = "over-size"
SMALL_HOSTILE: dict[str, tuple] = {
    OVER_SIZE: (None, DEFAULT_LIMITS),
    **{f"{shape.__name__}-{depth}": (shape(depth), DEFAULT_LIMITS)
       for shape in (nested_flow_lists, nested_flow_maps) for depth in (65, 10_000, 100_000)},
    "nested_block_lists-1000": (nested_block_lists(1_000), DEFAULT_LIMITS),
    "laughs": (billion_laughs(), DEFAULT_LIMITS),
    "laughs-of-mappings": (laughs_of_mappings(), DEFAULT_LIMITS),
    "list-over-max-nodes-flow": (long_command(120_000, flow=True), Limits(max_nodes=100_000)),
    "list-over-max-nodes-block": (long_command(120_000, flow=False), Limits(max_nodes=100_000)),
    "laughs-4x18": (billion_laughs(levels=4, fan_out=18), DEFAULT_LIMITS),
    "laughs-4x17": (billion_laughs(levels=4, fan_out=17), DEFAULT_LIMITS),
}


@pytest.fixture(scope="module")
def refusals(tmp_path_factory) -> dict[str, Outcome]:
    """{name: Outcome} of every input of SMALL_HOSTILE, from one child."""
    folder = tmp_path_factory.mktemp("hostile")
    requests = []
    for name, (raw, limits) in SMALL_HOSTILE.items():
        intent = folder / f"{name}.yaml"
        if raw is None:
            with open(intent, "wb") as handle:  # sparse: costs no disk space
                handle.truncate(limits.max_bytes + 1)
        else:
            intent.write_bytes(raw)
        requests.append((intent, limits))
    return dict(zip(SMALL_HOSTILE, _run_child(requests, folder), strict=True))


def test_billion_laughs_is_refused_without_expanding(refusals):
    assert_refused_early(refusals["laughs"], "expands to more than")


def test_billion_laughs_of_mappings_is_refused_without_expanding(refusals):
    assert_refused_early(refusals["laughs-of-mappings"], "expands to more than")


def laughs_nodes(levels: int, fan_out: int) -> int:
    """Nodes of `billion_laughs` with every alias expanded, as the loader counts them (keys too)."""
    size, total = 1 + fan_out, 3  # lol0; the top-level mapping and `apiVersion: jcnrc/v1`
    for _ in range(levels + 1):
        total += 1 + size  # the key `lolN` and its list
        size = 1 + fan_out * size
    return total


def test_laughs_just_under_the_node_limit_are_still_cheap(refusals):
    """Accepted aliases are expanded into plain data: the node limit bounds that work too."""
    assert laughs_nodes(4, 17) < DEFAULT_LIMITS.max_nodes < laughs_nodes(4, 18)  # 1.6 and 2.1 million
    outcome = refusals["laughs-4x17"]
    assert not outcome.ok and "JCN008" not in outcome.codes  # unknown keys `lol0`...: refused by the checker
    assert outcome.work["composed"] < EARLY, outcome.work  # as written: a few nodes and aliases
    assert outcome.work["plain"] <= laughs_nodes(4, 17), outcome.work  # each expanded node converted once, no more
    assert_small_memory(outcome)
    over = refusals["laughs-4x18"]
    assert over.codes == ["JCN008"]
    assert over.work["plain"] == 0 and over.work["composed"] < EARLY, over.work
    assert_small_memory(over)


def test_the_node_count_is_exact_at_the_limit():
    raw = billion_laughs(levels=2, fan_out=3)
    nodes = laughs_nodes(2, 3)
    assert load_bytes(raw, "x.yaml", Limits(max_nodes=nodes)).ok
    assert [d.code for d in load_bytes(raw, "x.yaml", Limits(max_nodes=nodes - 1)).diagnostics] == ["JCN008"]


@pytest.mark.parametrize("shape", [nested_flow_lists, nested_flow_maps])
def test_deep_flow_nesting_is_refused_with_work_proportional_to_the_limit_not_the_input(shape, refusals):
    """One level past the limit, or ten and a hundred thousand: refused at the limit, and the input
    ten times deeper costs exactly the same work (a few hundred characters read)."""
    at_limit, deep, deeper = (refusals[f"{shape.__name__}-{depth}"] for depth in (65, 10_000, 100_000))
    for outcome in (at_limit, deep, deeper):
        assert_refused_early(outcome, "nest")
        assert outcome.work["rapidyaml"] == 0, outcome.work  # too deep for a C++ count: the composer stops first
    assert deep.work == deeper.work, (deep.work, deeper.work)
    assert deep.work["read"] < 20 * DEFAULT_LIMITS.max_depth, deep.work


def test_deep_block_nesting_is_refused(refusals):
    raw = SMALL_HOSTILE["nested_block_lists-1000"][0]
    outcome = refusals["nested_block_lists-1000"]
    assert_refused_early(outcome, "nest")
    # ruamel reads no further than the levels up to the limit; rapidyaml's one pass declines it.
    assert outcome.work["read"] <= len(nested_block_lists(DEFAULT_LIMITS.max_depth + 2)), outcome.work
    assert outcome.work["rapidyaml"] <= len(raw), outcome.work


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(refusals):
    outcome = refusals[OVER_SIZE]
    assert_refused_early(outcome, f"the limit is {DEFAULT_LIMITS.max_bytes}")
    assert outcome.work == {"read": 0, "composed": 0, "plain": 0, "rapidyaml": 0}
    assert outcome.growth_mb < 5, "the file was read although its size alone refuses it"


def test_bytes_over_the_size_limit_are_refused():
    loaded = load_bytes(b"#" * 101, "big.yaml", Limits(max_bytes=100))
    assert not loaded.ok
    assert [d.code for d in loaded.diagnostics] == ["JCN008"]
    assert "101 bytes" in loaded.diagnostics[0].message and "100" in loaded.diagnostics[0].message


def test_long_command_builds_what_the_tests_below_use():
    for flow in (True, False):
        data = YAML(typ="safe", pure=True).load(long_command(5, flow))
        assert data["pods"][0]["command"] == ["x"] * 5 and data["pods"][1]["name"] == "ubuntu-du22"


@pytest.mark.parametrize("layout", ["flow", "block"])
def test_a_list_over_max_nodes_is_refused_fast(layout, refusals):
    raw = SMALL_HOSTILE[f"list-over-max-nodes-{layout}"][0]
    outcome = refusals[f"list-over-max-nodes-{layout}"]
    assert_refused_early(outcome, "more than 100000 nodes")
    assert_one_cpp_pass(outcome, raw)


def test_a_one_megabyte_list_is_handled_fast_with_the_default_limits(tmp_path):
    """Big but valid input within the default limits is no way to make a build slow either."""
    raw = long_command(250_000, flow=False)
    assert 900_000 < len(raw) < DEFAULT_LIMITS.max_bytes
    outcome = analyse_in_child(raw, tmp_path)
    assert outcome.ok or outcome.codes[0] == "JCN008", outcome.diagnostics
    # The parse, and rapidyaml's tree for the position of the warning about the lone route reflector.
    assert_one_cpp_pass(outcome, raw, passes=2 if "JCN922" in outcome.codes else 1)
    assert_small_memory(outcome)


def test_one_huge_scalar_is_refused_fast(tmp_path):
    """An invalid 4 MB name: refused, and the diagnostic's position costs no full re-read by ruamel."""
    raw = b"apiVersion: jcnrc/v1\nmetadata:\n  name: " + b"a" * 4_000_000 + b"\n"
    outcome = analyse_in_child(raw, tmp_path)
    assert not outcome.ok
    assert_one_cpp_pass(outcome, raw, passes=2)  # the parse, and rapidyaml's tree for the position
    assert_small_memory(outcome)


# ----------------------------------------------------------------------------- configurable limits


def test_the_defaults_are_what_docs_security_md_says():
    text = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text(encoding="utf-8")
    for name, value in dataclasses.asdict(DEFAULT_LIMITS).items():
        if value is None:  # derived from max_bytes (max_expanded)
            value = expanded_budget(DEFAULT_LIMITS)
        assert f"`{name}`" in text and f"{value:,}" in text, f"docs/security.md does not give {name} = {value:,}"


@pytest.mark.parametrize(("limits", "words"), [
    (Limits(max_bytes=500), "the limit is 500"),
    (Limits(max_depth=2), "deeper than 2 levels"),
    (Limits(max_nodes=50), "more than 50 nodes"),
])
def test_every_limit_can_be_lowered_through_the_pipeline(limits, words):
    result = compile_intent(EXAMPLE, Options(limits=limits))
    assert not result.ok
    assert [d.diagnostic.code for d in result.located()] == ["JCN008"]
    located = result.located()[0]
    assert words in located.diagnostic.message
    assert located.line >= 1 and located.column >= 1


def test_raised_limits_let_a_large_genuine_intent_through(tmp_path):
    data = example_intent()
    data["pods"][0]["command"] = ["sh", "-c", "x" * 2000]
    path = write_intent(data, tmp_path)
    assert not compile_intent(path, Options(limits=Limits(max_bytes=2000))).ok
    result = compile_intent(path, Options(limits=Limits(max_bytes=10_000)))
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]


def test_the_default_limits_accept_the_5000_node_benchmark_intent(tmp_path):
    """The largest intent the defaults are sized for (jcnrc.intent.load.Limits says why)."""
    from jcnrc.intent.load import load_file

    intent = tmp_path / "n5000.yaml"
    intent.write_text(benchmark_intent(nodes=5000, vrfs=20, pods_per_node=10), encoding="utf-8")
    assert 1.5 * intent.stat().st_size < DEFAULT_LIMITS.max_bytes
    assert DEFAULT_LIMITS.max_nodes > 680_277  # so the load at exactly 680,277 below stands for the defaults
    loaded = load_file(intent, fast=True, limits=Limits(max_nodes=680_277))  # 680,277 nodes: a third of the limit
    assert loaded.ok and not loaded.exact, loaded.diagnostics
    assert load_file(intent, fast=True, limits=Limits(max_nodes=680_276)).diagnostics[0].code == "JCN008"


def test_the_default_limits_accept_every_example():
    for example in sorted(EXAMPLE.parent.glob("*.yaml")):
        loaded = load_bytes(example.read_bytes(), example.name)
        assert loaded.ok, [d.message for d in loaded.diagnostics]


def test_the_limit_options_named_in_diagnostics_exist():
    from typer.testing import CliRunner

    from jcnrc.cli import app

    help_text = CliRunner().invoke(app, ["build", "--help"], env={"COLUMNS": "200"}).output
    for option in ("--max-bytes", "--max-depth", "--max-nodes"):
        assert option in help_text, option


@pytest.mark.parametrize("flow", [True, False], ids=["flow", "block"])
def test_a_file_at_the_byte_limit_made_of_tiny_nodes_is_refused_in_bounded_memory(flow, tmp_path):
    """The worst case the defaults allow (jcnrc.intent.load.Limits): counting costs rapidyaml's tree, under 1 GB."""
    size = DEFAULT_LIMITS.max_bytes
    raw = b"v: [" + b"a," * ((size - 8) // 2) + b"a]\n" if flow else b"v:\n" + b"- a\n" * ((size - 3) // 4)
    assert len(raw) <= size
    outcome = analyse_in_child(raw, tmp_path)
    assert not outcome.ok and outcome.codes == ["JCN008"], outcome.diagnostics
    assert_one_cpp_pass(outcome, raw)
    assert f"more than {DEFAULT_LIMITS.max_nodes} nodes" in outcome.diagnostics[0][1]
    assert outcome.growth_mb < 1024, f"peak memory grew by {outcome.growth_mb:.0f} MB"
