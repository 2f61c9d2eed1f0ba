"""Where the time goes: cProfile of each pipeline stage on a generated intent.

    .venv/bin/python benchmarks/profile.py --nodes 2000 --vrfs 20 --pods-per-node 10
    .venv/bin/python benchmarks/profile.py --intent examples/multi-vrf.yaml --stages render --top 25

For every stage (load, check, plan, render, write) it prints the stage's wall time without the
profiler, then, under cProfile, the functions with the most own time ("tottime") and the jcnrc and
template functions with the most cumulative time, each with its share of the profiled stage.
Profiling slows pure-Python code by about 1.5-2x, so read shares, not absolute seconds, from
the profiled tables. ``--save DIR`` keeps one ``<stage>.prof`` per stage for snakeviz/pstats.

``--no-gc`` turns the cyclic garbage collector off for the stages, the way a build would run with
``gc.disable()``: the difference to a run without it is what the collector costs each stage (it
walks the hundreds of thousands of objects a big build keeps alive, again and again).

``--what-if-no-route-tables`` is a what-if, not a build: it makes ``routes.node_state`` leave out
the VRF route tables (through its own ``vrf_filter`` argument), to show what the rest of render
costs when the per-node expected state, whose size grows with nodes x routes per VRF, is set aside.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder is sys.path[0], and this file is named like the standard
# library's `profile`, which cProfile imports: drop the folder so cProfile gets the real one.
_HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or ".").resolve() == _HERE:
    sys.path.pop(0)

import argparse  # noqa: E402
import cProfile  # noqa: E402
import importlib.util  # noqa: E402
import pstats  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402


def _load_generator():
    spec = importlib.util.spec_from_file_location("jcnrc_bench_generate", _HERE / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module.generate


generate = _load_generator()

STAGES = ("load", "check", "plan", "render", "write")
# Frames whose file is under one of these count as "ours" in the cumulative table.
OWN_MARKERS = ("/jcnrc/", "/templates/")


def pipeline_load_options(load_file) -> dict:
    """Load as `jcnrc build` does: through the fast parser when this jcnrc's load_file has one
    (`fast=True`; it falls back to the exact loader by itself), so older and newer checkouts
    are both measured on their own build path."""
    import inspect

    return {"fast": True} if "fast" in inspect.signature(load_file).parameters else {}


def without_route_tables() -> None:
    """What-if: every node's expected state keeps its BGP sessions but lists no VRF table."""
    import functools

    from jcnrc.plan import expected as routes

    routes.node_state = functools.partial(routes.node_state, vrf_filter="\0no-vrf-has-this-name")


def stage_functions(intent: Path, out: Path):
    """The stages as zero-argument callables, each feeding the next, as jcnrc.pipeline runs them."""
    from jcnrc import __version__
    from jcnrc.intent.check import check
    from jcnrc.intent.load import load_file
    from jcnrc.output.write import write_tree
    from jcnrc.pipeline import lock_path_for, read_lock
    from jcnrc.plan.planner import plan
    from jcnrc.render import render
    from jcnrc.render.common import RenderOptions

    state: dict = {}

    def load():
        state["loaded"] = load_file(intent, intent.name, **pipeline_load_options(load_file))

    def check_stage():
        state["checked"] = check(state["loaded"].data)

    def plan_stage():
        state["planned"] = plan(state["checked"].topology, read_lock(lock_path_for(intent))[0])

    def render_stage():
        options = RenderOptions(intent_file=intent.name, intent_digest=state["loaded"].digest, version=__version__)
        state["files"] = render(state["planned"].plan, options)

    def write_stage():
        write_tree(state["files"], out)

    return {"load": load, "check": check_stage, "plan": plan_stage, "render": render_stage, "write": write_stage}


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name  # a C function such as <built-in method ...>
    for marker in OWN_MARKERS:
        if marker in filename:
            return f"{marker.strip('/')}/{filename.split(marker, 1)[1]}:{line}:{name}"
    parts = Path(filename).parts
    short = "/".join(parts[-2:]) if len(parts) >= 2 else filename
    return f"{short}:{line}:{name}"


def report(stage: str, wall: float, profile: cProfile.Profile, top: int) -> str:
    stats = pstats.Stats(profile)
    # The stage's own cumulative time; the sum of own times can fall short of it by the profiler's overhead.
    total = max([stats.total_tt] + [row[3] for row in stats.stats.values()]) or 1e-9
    rows = stats.stats  # func -> (primitive calls, calls, tottime, cumtime, callers)
    lines = [f"## {stage}: {wall:.3f} s without profiler, {total:.3f} s profiled", "",
             "Own time (tottime):", "", "| share | tottime s | calls | function |", "|---:|---:|---:|---|"]
    for func, (_, calls, tottime, _, _) in sorted(rows.items(), key=lambda item: -item[1][2])[:top]:
        lines.append(f"| {100 * tottime / total:.1f}% | {tottime:.3f} | {calls} | `{_where(func)}` |")
    own = [(func, row) for func, row in rows.items() if any(m in func[0] for m in OWN_MARKERS)]
    lines += ["", "jcnrc and template functions by cumulative time:", "",
              "| share | cumtime s | calls | function |", "|---:|---:|---:|---|"]
    for func, (_, calls, _, cumtime, _) in sorted(own, key=lambda item: -item[1][3])[:top]:
        lines.append(f"| {100 * cumtime / total:.1f}% | {cumtime:.3f} | {calls} | `{_where(func)}` |")
    return "\n".join(lines) + "\n"


def run_stages(intent: Path, stages: list[str], top: int, save: Path | None) -> str:
    """Run every stage twice, once timed and once profiled, so the profiler's cost is visible."""
    sections = []
    with tempfile.TemporaryDirectory(prefix="jcnrc-profile-") as work:
        plain = stage_functions(intent, Path(work) / "plain")
        profiled = stage_functions(intent, Path(work) / "profiled")
        for stage in STAGES:
            started = time.perf_counter()
            plain[stage]()
            wall = time.perf_counter() - started
            profile = cProfile.Profile()
            profile.runcall(profiled[stage])
            if save is not None:
                profile.dump_stats(str(save / f"{stage}.prof"))
            if stage in stages:
                sections.append(report(stage, wall, profile, top))
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Profile each jcnrc pipeline stage with cProfile.")
    parser.add_argument("--intent", type=Path, help="an intent file (default: generate one from the sizes below)")
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--vrfs", type=int, default=20)
    parser.add_argument("--pods-per-node", type=int, default=10)
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated stages to report")
    parser.add_argument("--top", type=int, default=15, help="rows per table")
    parser.add_argument("--save", type=Path, help="folder for <stage>.prof files")
    parser.add_argument("--no-gc", action="store_true", help="run the stages with the cyclic garbage collector off")
    parser.add_argument("--what-if-no-route-tables", action="store_true",
                        help="leave the VRF tables out of the per-node expected state (a what-if, see above)")
    args = parser.parse_args(argv)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
    if args.what_if_no_route_tables:
        without_route_tables()
    if args.no_gc:
        import gc

        gc.disable()
    with tempfile.TemporaryDirectory(prefix="jcnrc-profile-intent-") as folder:
        intent = args.intent
        if intent is None:
            intent = Path(folder) / f"n{args.nodes}.yaml"
            intent.write_text(generate(args.nodes, args.vrfs, args.pods_per_node), encoding="utf-8")
        what_if = " (what-if: no VRF tables in the expected state)" if args.what_if_no_route_tables else ""
        what_if += " (cyclic garbage collector off)" if args.no_gc else ""
        print(f"# Profile of {intent.name}{what_if}\n")
        print(run_stages(intent, stages, args.top, args.save))
    return 0


if __name__ == "__main__":
    sys.exit(main())
