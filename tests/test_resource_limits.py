"""Resource limits: hostile YAML fails fast, with JCN008 and bounded memory, and the limits are configurable.

Each hostile file goes through ``jcnrc.pipeline.analyse`` (load -> check -> plan, what
``jcnrc check`` and ``jcnrc build`` run, fast loader and fallback included) in a child process,
so that a runaway parse is killed instead of hanging the suite, and so that its peak memory can
be read from the process itself (``ru_maxrss``; tracemalloc would slow the pure-Python parser
down fifteenfold). Time is CPU time of the child: the bound then holds on a busy CI machine too.

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

from jcnrc.intent.load import DEFAULT_LIMITS, Limits, load_bytes
from jcnrc.pipeline import Options, compile_intent
from strategies import EXAMPLE, dump_intent, example_intent, write_intent

SECONDS = 5.0  # CPU seconds a hostile input may cost before it is refused
MEMORY_MB = 100  # growth of the peak resident set while handling it

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from jcnrc.intent.load import Limits
from jcnrc.pipeline import Options, analyse
options = Options(limits=Limits(**json.loads(sys.argv[2])))
analyse(Path(sys.argv[3]))  # warm up: lazy imports and caches are not the input's cost
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.process_time()
result = analyse(Path(sys.argv[1]), options)
located = result.located()
seconds = time.process_time() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "ok": result.ok,
    "diagnostics": [[i.diagnostic.code, i.diagnostic.message, i.line, i.column] for i in located[:20]],
    "count": len(located),
    "seconds": seconds,
    "growth_mb": (after - before) / 1024,
}))
"""


@dataclasses.dataclass
class Outcome:
    ok: bool
    diagnostics: list
    count: int
    seconds: float
    growth_mb: float

    @property
    def codes(self) -> list[str]:
        return [d[0] for d in self.diagnostics]


def analyse_in_child(raw: bytes, tmp_path: Path, limits: Limits = DEFAULT_LIMITS,
                     wall_timeout: float = 3 * SECONDS) -> Outcome:
    """Analyse `raw` in a fresh interpreter; one that outlives `wall_timeout` fails the test."""
    intent = tmp_path / "hostile.yaml"
    intent.write_bytes(raw)
    return _run_child(intent, limits, wall_timeout)


def _run_child(intent: Path, limits: Limits, wall_timeout: float) -> Outcome:
    command = [sys.executable, "-c", _CHILD, str(intent), json.dumps(dataclasses.asdict(limits)), str(EXAMPLE)]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=wall_timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"analysing {intent.stat().st_size} bytes did not finish within {wall_timeout:.0f} s")
    assert run.returncode == 0, run.stderr[-3000:]
    return Outcome(**json.loads(run.stdout))


def assert_refused_fast(outcome: Outcome, words: str) -> None:
    assert not outcome.ok
    assert outcome.codes == ["JCN008"], outcome.diagnostics
    code, message, line, column = outcome.diagnostics[0]
    assert words in message, message
    assert line >= 1 and column >= 1
    assert_cheap(outcome)


def assert_cheap(outcome: Outcome) -> None:
    assert outcome.seconds < SECONDS, f"{outcome.seconds:.1f} CPU seconds"
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


def test_billion_laughs_is_refused_without_expanding(tmp_path):
    assert_refused_fast(analyse_in_child(billion_laughs(), tmp_path), "expands to more than")


def test_billion_laughs_of_mappings_is_refused_without_expanding(tmp_path):
    lines = ["a0: &a0 {x: 1, y: 2, z: 3, w: 4, v: 5, u: 6, t: 7, s: 8, r: 9, q: 10}"]
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} {{" + ", ".join(f"k{i}: *a{level - 1}" for i in range(10)) + "}")
    assert_refused_fast(analyse_in_child(("\n".join(lines) + "\n").encode(), tmp_path), "expands to more than")


def laughs_nodes(levels: int, fan_out: int) -> int:
    """Nodes of `billion_laughs` with every alias expanded, as the loader counts them (keys too)."""
    size, total = 1 + fan_out, 3  # lol0; the top-level mapping and `apiVersion: jcnrc/v1`
    for _ in range(levels + 1):
        total += 1 + size  # the key `lolN` and its list
        size = 1 + fan_out * size
    return total


def test_laughs_just_under_the_node_limit_are_still_cheap(tmp_path):
    """Accepted aliases are expanded into plain data: the node limit must keep that cheap too."""
    assert laughs_nodes(4, 17) < DEFAULT_LIMITS.max_nodes < laughs_nodes(4, 18)  # 1.6 and 2.1 million
    outcome = analyse_in_child(billion_laughs(levels=4, fan_out=17), tmp_path)
    assert not outcome.ok and "JCN008" not in outcome.codes  # unknown keys `lol0`...: refused by the checker
    assert_cheap(outcome)
    over = analyse_in_child(billion_laughs(levels=4, fan_out=18), tmp_path)
    assert over.codes == ["JCN008"]
    assert_cheap(over)


def test_the_node_count_is_exact_at_the_limit():
    raw = billion_laughs(levels=2, fan_out=3)
    nodes = laughs_nodes(2, 3)
    assert load_bytes(raw, "x.yaml", Limits(max_nodes=nodes)).ok
    assert [d.code for d in load_bytes(raw, "x.yaml", Limits(max_nodes=nodes - 1)).diagnostics] == ["JCN008"]


@pytest.mark.parametrize(("shape", "depth"), [
    (nested_flow_lists, 65), (nested_flow_lists, 10_000),
    (nested_flow_maps, 65), (nested_flow_maps, 10_000), (nested_flow_maps, 100_000),
])
def test_deep_flow_nesting_is_refused(shape, depth, tmp_path):
    assert_refused_fast(analyse_in_child(shape(depth), tmp_path), "nest")


def test_deep_block_nesting_is_refused(tmp_path):
    assert_refused_fast(analyse_in_child(nested_block_lists(1_000), tmp_path), "nest")


def test_deep_nesting_costs_time_proportional_to_the_limit_not_the_input(tmp_path):
    outcome = analyse_in_child(nested_flow_lists(10_000), tmp_path)
    assert outcome.codes == ["JCN008"]
    assert outcome.seconds < 0.5, f"{outcome.seconds:.2f} CPU seconds to refuse nesting deeper than 64"


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as handle:  # sparse: costs no disk space
        handle.truncate(DEFAULT_LIMITS.max_bytes + 1)
    outcome = _run_child(huge, DEFAULT_LIMITS, 3 * SECONDS)
    assert_refused_fast(outcome, f"the limit is {DEFAULT_LIMITS.max_bytes}")
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


@pytest.mark.parametrize("flow", [True, False], ids=["flow", "block"])
def test_a_list_over_max_nodes_is_refused_fast(flow, tmp_path):
    limits = Limits(max_nodes=100_000)
    outcome = analyse_in_child(long_command(120_000, flow), tmp_path, limits, wall_timeout=2 * SECONDS)
    assert_refused_fast(outcome, "more than 100000 nodes")


def test_a_one_megabyte_list_is_handled_fast_with_the_default_limits(tmp_path):
    """Big but valid input within the default limits is no way to make a build slow either."""
    raw = long_command(250_000, flow=False)
    assert 900_000 < len(raw) < DEFAULT_LIMITS.max_bytes
    outcome = analyse_in_child(raw, tmp_path, wall_timeout=2 * SECONDS)
    assert outcome.ok or outcome.codes[0] == "JCN008", outcome.diagnostics
    assert_cheap(outcome)


def test_one_huge_scalar_is_refused_fast(tmp_path):
    """An invalid 4 MB name: refused, and the diagnostic's position costs no full re-read."""
    raw = b"apiVersion: jcnrc/v1\nmetadata:\n  name: " + b"a" * 4_000_000 + b"\n"
    outcome = analyse_in_child(raw, tmp_path, wall_timeout=2 * SECONDS)
    assert not outcome.ok
    assert_cheap(outcome)


# ----------------------------------------------------------------------------- configurable limits


def test_the_defaults_are_what_docs_security_md_says():
    text = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text(encoding="utf-8")
    for name, value in dataclasses.asdict(DEFAULT_LIMITS).items():
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
    subprocess.run([sys.executable, str(Path(__file__).resolve().parent.parent / "benchmarks" / "generate.py"),
                    "--nodes", "5000", "--vrfs", "20", "--pods-per-node", "10", "-o", str(intent)], check=True)
    assert 1.5 * intent.stat().st_size < DEFAULT_LIMITS.max_bytes
    loaded = load_file(intent, fast=True)
    assert loaded.ok and not loaded.exact, loaded.diagnostics
    assert load_file(intent, fast=True, limits=Limits(max_nodes=680_276)).diagnostics[0].code == "JCN008"
    assert load_file(intent, fast=True, limits=Limits(max_nodes=680_277)).ok  # 680,277 nodes: a third of the limit


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
    outcome = analyse_in_child(raw, tmp_path, wall_timeout=30 * SECONDS)
    assert not outcome.ok and outcome.codes == ["JCN008"], outcome.diagnostics
    assert f"more than {DEFAULT_LIMITS.max_nodes} nodes" in outcome.diagnostics[0][1]
    assert outcome.growth_mb < 1024, f"peak memory grew by {outcome.growth_mb:.0f} MB"
