"""Time `jcnrc build` end to end and per stage, for intents from the bundled example to 5,000 nodes.

    make bench                              # everything (long: the big sizes run for minutes)
    .venv/bin/python benchmarks/run.py --quick
    .venv/bin/python benchmarks/run.py --cases n200,n2000 --runs 3 --json /tmp/bench.json
    .venv/bin/python benchmarks/run.py --scaling     # how each stage grows with nodes, pods, VRFs

For every case it measures, each as the median of several runs:

- ``build``: the installed ``jcnrc`` console script as a subprocess (start-up and imports count),
  writing into a fresh empty folder, with its peak memory (ru_maxrss of that child, from wait4);
- ``check``: ``jcnrc check`` on the same intent, as a subprocess;
- the stages in a fresh child process per run (imports done before the clock starts):
  load (``load.load_file``, with ``fast=True`` where it has that option, as the pipeline
  calls it), check (``check.check``), plan (``plan.plan``, lock file read included), render
  (``render.render``) and write (``write.write_tree`` into a fresh folder);
- ``rebuild``: ``jcnrc build`` again into a folder that already holds the output, and whether
  it left every file alone (same inode and mtime).

The first build of a case creates the allocation lock next to the intent, as a user's first build
does; the timed runs then find it, as every later build does. A run that exceeds ``--timeout`` is
killed and reported as such, and one that exceeds ``--memory-limit`` (address space of the child)
as out of memory, so the benchmark cannot take the machine down. When the first build of a case
fails, its builds are not repeated, but ``jcnrc check`` and the stages are still measured (a
stage worker reports every stage it finished before it was stopped).

``--scaling`` replaces the cases by series of intents that differ in one dimension (nodes, pods
per node, VRFs) and prints each stage's CPU time per point and its growth exponent k
(time ~ size^k: 1 is linear, 2 quadratic).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate, generate_fleet  # noqa: E402  (benchmarks/generate.py, next to this file)

STAGES = ("load", "check", "plan", "render", "write")


@dataclass(frozen=True)
class Case:
    name: str
    nodes: int = 0
    vrfs: int = 0
    pods_per_node: int = 0
    example: str | None = None  # a bundled intent instead of a generated one
    clusters: int = 0  # a Fleet of this many clusters, each of `nodes` nodes
    runs: int = 5
    target_build_s: float | None = None
    target_check_s: float | None = None
    target_memory_mb: float | None = None

    @property
    def attachments(self) -> int:
        return self.nodes * self.pods_per_node * max(self.clusters, 1)


CASES = (
    Case("aks-example", example="examples/aks-evpn-type5.yaml", target_build_s=0.4),
    Case("n10", nodes=10, vrfs=2, pods_per_node=2),
    Case("n200", nodes=200, vrfs=4, pods_per_node=4, target_build_s=1.0),
    Case("n1000", nodes=1000, vrfs=10, pods_per_node=10, runs=3),
    Case("n2000", nodes=2000, vrfs=20, pods_per_node=10, runs=3, target_build_s=10.0, target_check_s=3.0, target_memory_mb=1024),
    Case("n5000", nodes=5000, vrfs=50, pods_per_node=10, runs=1),
    # Issue 15: a fleet of 10 clusters x 200 nodes x 4 attachments, under 10 s.
    Case("f10x200", nodes=200, vrfs=4, pods_per_node=4, clusters=10, runs=3, target_build_s=10.0),
)
QUICK_CASES = ("aks-example", "n10", "n200")


# --- running a child and measuring it -----------------------------------------------------

@dataclass
class Run:
    seconds: float
    peak_mb: float
    returncode: int | None
    cpu_seconds: float = 0.0  # user + system: less sensitive than wall time to other load on the machine
    timed_out: bool = False
    stdout: str = ""
    stderr: str = ""

    @property
    def out_of_memory(self) -> bool:
        return "MemoryError" in self.stderr or "Cannot allocate memory" in self.stderr

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def failure(self) -> str:
        if self.timed_out:
            return f"> {self.seconds:g} s (timeout)"
        if self.out_of_memory:
            return "out of memory"
        return f"failed (exit {self.returncode})"


def _limit_memory(limit_mb: int):
    def apply() -> None:
        limit = limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def run_child(command: list[str], timeout: float, memory_limit_mb: int, cwd: Path | None = None) -> Run:
    """Run one command; wall time and peak RSS of exactly that child (os.wait4), killed on timeout.

    The child starts outside the checkout unless told otherwise: `python -c` puts its working
    folder first on sys.path, which would shadow a jcnrc given with PYTHONPATH.
    """
    cwd = cwd or Path(tempfile.gettempdir())
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=cwd, start_new_session=True,
                                preexec_fn=_limit_memory(memory_limit_mb))
        finished: dict = {}

        def reap() -> None:
            _, status, usage = os.wait4(proc.pid, 0)
            finished["seconds"] = time.perf_counter() - started
            finished["status"] = status
            finished["usage"] = usage

        waiter = threading.Thread(target=reap, daemon=True)
        waiter.start()
        waiter.join(timeout)
        timed_out = waiter.is_alive()
        if timed_out:
            os.killpg(proc.pid, signal.SIGKILL)
            waiter.join()
        proc.returncode = os.waitstatus_to_exitcode(finished["status"])  # reaped by wait4, not by Popen
        out.seek(0)
        err.seek(0)
        return Run(
            seconds=timeout if timed_out else finished["seconds"],
            peak_mb=finished["usage"].ru_maxrss / 1024,  # KiB on Linux
            cpu_seconds=finished["usage"].ru_utime + finished["usage"].ru_stime,
            returncode=None if timed_out else proc.returncode,
            timed_out=timed_out,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def jcnrc_executable() -> str:
    """The console script installed next to this interpreter (the .venv one under `make bench`)."""
    beside = Path(sys.executable).parent / "jcnrc"
    if beside.exists():
        return str(beside)
    found = shutil.which("jcnrc")
    if not found:
        raise SystemExit("run.py: the `jcnrc` console script is not installed; run `make bench` or `pip install -e .`")
    return found


# --- one case ---------------------------------------------------------------------------

@dataclass
class Measure:
    """Medians of one measurement, or why it has none."""

    runs: int = 0
    seconds: float | None = None
    cpu_seconds: float | None = None
    peak_mb: float | None = None
    note: str = ""
    samples: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, runs: list[Run]) -> Measure:
        good = [r for r in runs if r.ok]
        if not good:
            return cls(note=runs[0].failure() if runs else "not run")
        return cls(len(good), statistics.median(r.seconds for r in good), statistics.median(r.cpu_seconds for r in good),
                   statistics.median(r.peak_mb for r in good), samples=[round(r.seconds, 4) for r in good])


@dataclass
class CaseResult:
    case: Case
    intent_bytes: int = 0
    files: int = 0
    output_bytes: int = 0
    first_build: Measure = field(default_factory=Measure)
    build: Measure = field(default_factory=Measure)
    check: Measure = field(default_factory=Measure)
    rebuild: Measure = field(default_factory=Measure)
    rebuild_untouched: bool | None = None
    rebuild_touched: list[str] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # medians, wall time
    stage_cpu: dict[str, float] = field(default_factory=dict)  # medians, process CPU time
    stage_peak_mb: dict[str, float] = field(default_factory=dict)  # ru_maxrss after each stage, medians
    stage_runs: int = 0
    stage_note: str = ""


def prepare_intent(case: Case, folder: Path) -> Path:
    if case.example:
        source = ROOT / case.example
        intent = folder / source.name
        shutil.copy(source, intent)
        lock = source.with_name(source.stem + ".lock.json")
        if lock.exists():
            shutil.copy(lock, folder / lock.name)
        return intent
    intent = folder / f"{case.name}.yaml"
    text = (generate_fleet(case.clusters, case.nodes, case.vrfs, case.pods_per_node) if case.clusters
            else generate(case.nodes, case.vrfs, case.pods_per_node))
    intent.write_text(text, encoding="utf-8")
    return intent


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file's (inode, mtime): a rewrite changes one of them even when the content is equal."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            stat = path.stat()
            found[path.relative_to(folder).as_posix()] = (stat.st_ino, stat.st_mtime_ns)
    return found


def folder_size(folder: Path) -> tuple[int, int]:
    files = total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            files += 1
            total += (Path(root) / name).stat().st_size
    return files, total


def series(once, wanted: int, budget: float) -> list[Run]:
    """Up to `wanted` runs, fewer when one run is long (`budget` seconds per series), and none
    after a failure (a timeout would only repeat itself)."""
    runs = [once()]
    if runs[0].ok:
        for _ in range(max(1, min(wanted, int(budget // max(runs[0].seconds, 1e-3)))) - 1):
            runs.append(once())
            if not runs[-1].ok:
                break
    return runs


def measure_case(case: Case, options: argparse.Namespace, work: Path) -> CaseResult:
    result = CaseResult(case)
    folder = work / case.name
    folder.mkdir()
    intent = prepare_intent(case, folder)
    result.intent_bytes = intent.stat().st_size
    jcnrc = jcnrc_executable()
    wanted = options.runs or case.runs

    def build(out: Path) -> Run:
        return run_child([jcnrc, "build", str(intent), "-o", str(out), "--quiet"], options.timeout, options.memory_limit)

    _progress(f"{case.name}: first build ({result.intent_bytes / 1e6:.2f} MB intent)")
    kept = folder / "out"
    first = build(kept)
    result.first_build = Measure.of([first])
    if first.ok:
        result.files, result.output_bytes = folder_size(kept)
        _progress(f"{case.name}: timed builds into fresh folders (first build took {first.seconds:.2f} s)")
        result.build = Measure.of(series(lambda: _fresh_build(build, folder), wanted, options.budget))
        _progress(f"{case.name}: rebuilds of unchanged output")
        before = snapshot(kept)
        result.rebuild = Measure.of(series(lambda: build(kept), wanted, options.budget))
        after = snapshot(kept)
        result.rebuild_touched = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
        result.rebuild_untouched = not result.rebuild_touched
        shutil.rmtree(kept, ignore_errors=True)
    else:
        _progress(f"{case.name}: first build {first.failure()}; no further builds, check and stages still measured")
        if first.stderr and not first.timed_out:
            _progress(first.stderr.strip().splitlines()[-1])
        result.build = Measure(note=first.failure())
        shutil.rmtree(kept, ignore_errors=True)

    _progress(f"{case.name}: jcnrc check")
    result.check = Measure.of(series(lambda: run_child([jcnrc, "check", str(intent)], options.timeout, options.memory_limit),
                                     wanted, options.budget))
    _progress(f"{case.name}: stages in-process")
    measure_stages(result, intent, folder, wanted, options)
    return result


def _fresh_build(build, folder: Path) -> Run:
    out = Path(tempfile.mkdtemp(prefix="build-", dir=folder)) / "out"
    try:
        return build(out)
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def measure_stages(result: CaseResult, intent: Path, folder: Path, wanted: int, options: argparse.Namespace) -> None:
    """Per-stage medians over complete runs; if no run completes, the stages the first run finished."""

    def once() -> Run:
        out = Path(tempfile.mkdtemp(prefix="stages-", dir=folder)) / "out"
        try:
            return run_child([sys.executable, __file__, "--stage-worker", str(intent), "--out", str(out)],
                             options.timeout, options.memory_limit)
        finally:
            shutil.rmtree(out.parent, ignore_errors=True)

    runs = series(once, wanted, options.budget)
    complete = [_stage_lines(run.stdout) for run in runs if run.ok]
    if not complete:
        stages = _stage_lines(runs[0].stdout)
        unfinished = next((s for s in STAGES if s not in stages), STAGES[-1])
        done_seconds = sum(record["seconds"] for record in stages.values())
        # The worker's clock also ran during its imports (well under a second): leave a margin.
        why = f"> {max(0.0, runs[0].seconds - done_seconds - 1):.0f} s (timeout)" if runs[0].timed_out else runs[0].failure()
        result.stage_note = f"{unfinished}: {why}"
        complete = [stages]
    result.stage_runs = len(complete)
    done = [s for s in STAGES if all(s in run for run in complete)]
    result.stages = {s: statistics.median(run[s]["seconds"] for run in complete) for s in done}
    result.stage_cpu = {s: statistics.median(run[s]["cpu_seconds"] for run in complete) for s in done}
    result.stage_peak_mb = {s: statistics.median(run[s]["peak_mb"] for run in complete) for s in done}


def _output_size(stdout: str) -> dict | None:
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("output"), dict):
            return record["output"]
    return None


def _stage_lines(stdout: str) -> dict[str, dict]:
    """The worker prints one JSON line per finished stage, so a killed run still tells what it did."""
    found = {}
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("stage") in STAGES:
            found[record["stage"]] = record
    return found


# --- how cost grows -----------------------------------------------------------------------

@dataclass(frozen=True)
class Series:
    """Intents that differ in one dimension only: (nodes, VRFs, pods per node) per point."""

    grows: str
    points: tuple[tuple[int, int, int], ...]
    until: str = STAGES[-1]  # the last stage run: bigger intents for the stages before render

    @property
    def stages(self) -> tuple[str, ...]:
        return STAGES[: STAGES.index(self.until) + 1]

    def size(self, point: tuple[int, int, int]) -> int:
        nodes, vrfs, pods_per_node = point
        return {"nodes": nodes, "VRFs": vrfs, "pods per node": pods_per_node}[self.grows]


# The full pipeline on intents small enough that the un-optimised render (whose per-node
# expected state grows with nodes x routes per VRF) finishes every point; then load, check and
# plan alone on intents of the size.
SCALING = (
    Series("nodes", ((50, 4, 4), (100, 4, 4), (200, 4, 4), (400, 4, 4))),
    Series("pods per node", ((100, 4, 2), (100, 4, 4), (100, 4, 8), (100, 4, 16))),
    Series("VRFs", ((100, 2, 8), (100, 4, 8), (100, 8, 8), (100, 16, 8))),
    Series("nodes", ((500, 20, 10), (1000, 20, 10), (2000, 20, 10), (4000, 20, 10)), until="plan"),
    Series("pods per node", ((1000, 20, 5), (1000, 20, 10), (1000, 20, 20), (1000, 20, 40)), until="plan"),
    Series("VRFs", ((1000, 5, 10), (1000, 10, 10), (1000, 20, 10), (1000, 40, 10)), until="plan"),
)
# Below this much CPU time a stage's growth is mostly noise: no exponent is given for it.
EXPONENT_FLOOR_S = 0.05


def growth_exponent(sizes: list[int], seconds: list[float]) -> float | None:
    """k in time ~ size**k, from the first and last point: about 1 linear, about 2 quadratic."""
    import math

    if len(sizes) < 2 or seconds[0] < EXPONENT_FLOOR_S or seconds[-1] <= 0 or sizes[-1] == sizes[0]:
        return None
    return math.log(seconds[-1] / seconds[0]) / math.log(sizes[-1] / sizes[0])


def measure_point(point: tuple[int, int, int], until: str, options: argparse.Namespace,
                  work: Path) -> tuple[dict[str, float], dict | None, str]:
    """Median CPU seconds per stage of one intent (first-build path: no lock file), its output size, a note."""
    nodes, vrfs, pods_per_node = point
    folder = Path(tempfile.mkdtemp(prefix=f"n{nodes}-v{vrfs}-p{pods_per_node}-", dir=work))
    intent = folder / "intent.yaml"
    intent.write_text(generate(nodes, vrfs, pods_per_node), encoding="utf-8")

    def once() -> Run:
        out = Path(tempfile.mkdtemp(prefix="stages-", dir=folder)) / "out"
        try:
            return run_child([sys.executable, __file__, "--stage-worker", str(intent), "--out", str(out), "--until", until],
                             options.timeout, options.memory_limit)
        finally:
            shutil.rmtree(out.parent, ignore_errors=True)

    runs = series(once, options.runs or 1, options.budget)
    shutil.rmtree(folder, ignore_errors=True)
    complete = [run for run in runs if run.ok]
    if not complete:
        return {}, None, runs[0].failure()
    records = [_stage_lines(run.stdout) for run in complete]
    cpu = {s: statistics.median(r[s]["cpu_seconds"] for r in records) for s in STAGES if all(s in r for r in records)}
    return cpu, _output_size(complete[0].stdout), ""


def scaling_report(options: argparse.Namespace) -> str:
    lines = [f"jcnrc under test: {describe_jcnrc()}", "",
             ("CPU seconds per stage (stage worker, no lock file); the last row is k in time ~ size^k "
              f"from the first to the last point (none below {EXPONENT_FLOOR_S} s)."), ""]
    with tempfile.TemporaryDirectory(prefix="jcnrc-scaling-") as work:
        for chain in SCALING:
            _progress(f"scaling: {chain.grows}")
            stages = chain.stages
            with_output = "render" in stages
            lines += [f"### Growing {chain.grows}" + ("" if with_output else f" (stages up to {chain.until})"), "",
                      "| nodes | VRFs | pods/node | attachments | " + " | ".join(stages)
                      + (" | output MB |" if with_output else " |"),
                      "|---|---|---|---|" + "---|" * (len(stages) + with_output)]
            sizes, per_stage, outputs = [], {s: [] for s in stages}, []
            for point in chain.points:
                cpu, output, note = measure_point(point, chain.until, options, Path(work))
                nodes, vrfs, pods_per_node = point
                if note:
                    lines.append(f"| {nodes} | {vrfs} | {pods_per_node} | {nodes * pods_per_node} | {note} |"
                                 + " |" * (len(stages) - 1 + with_output))
                    break
                sizes.append(chain.size(point))
                for stage in stages:
                    per_stage[stage].append(cpu[stage])
                outputs.append(output["bytes"] if output else 0)
                cells = " | ".join(f"{cpu[s]:.3f}" for s in stages)
                size = f" {outputs[-1] / 1e6:.1f} |" if with_output else ""
                lines.append(f"| {nodes} | {vrfs} | {pods_per_node} | {nodes * pods_per_node} | {cells} |{size}")
            exponents = [growth_exponent(sizes, per_stage[s]) for s in stages]
            if with_output:
                exponents.append(growth_exponent(sizes, [b / 1e6 for b in outputs]))
            cells = " | ".join("-" if k is None else f"k = {k:.2f}" for k in exponents)
            lines += [f"| growth in {chain.grows} | | | | {cells} |", ""]
    return "\n".join(lines)


# --- the stage worker (a child process per run) ------------------------------------------

def pipeline_load_options(load_file) -> dict:
    """Load as `jcnrc build` does: through the fast parser when this jcnrc's load_file has one
    (`fast=True`; it falls back to the exact loader by itself), so older and newer checkouts
    are both measured on their own build path."""
    import inspect

    return {"fast": True} if "fast" in inspect.signature(load_file).parameters else {}


def stage_worker(intent: Path, out: Path, until: str = STAGES[-1]) -> None:
    """Run the pipeline stage by stage, as jcnrc.pipeline does, printing a JSON line per stage."""
    from jcnrc import __version__
    from jcnrc.intent.check import check
    from jcnrc.intent.load import load_file
    from jcnrc.output.write import write_tree
    from jcnrc.pipeline import lock_path_for, read_lock
    from jcnrc.plan.planner import plan
    from jcnrc.render import render
    from jcnrc.render.common import RenderOptions

    def timed(stage: str, work):
        started, cpu_started = time.perf_counter(), time.process_time()
        value = work()
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"stage": stage, "seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mb": peak_mb}), flush=True)
        return value

    loaded = timed("load", lambda: load_file(intent, intent.name, **pipeline_load_options(load_file)))
    _require(loaded.ok, "load", loaded.diagnostics)
    if until == "load":
        return
    if loaded.data.get("kind") == "Fleet":
        files = _fleet_stages(intent, loaded, until, timed)
        if files is None:
            return
    else:
        checked = timed("check", lambda: check(loaded.data))
        _require(checked.ok, "check", checked.diagnostics)
        if until == "check":
            return
        planned = timed("plan", lambda: plan(checked.topology, read_lock(lock_path_for(intent))[0]))
        _require(planned.plan is not None, "plan", planned.diagnostics)
        if until == "plan":
            return
        options = RenderOptions(intent_file=intent.name, intent_digest=loaded.digest, version=__version__)
        files = timed("render", lambda: render(planned.plan, options))
    size = sum(len(text.encode("utf-8")) for text in files.values())
    print(json.dumps({"output": {"files": len(files), "bytes": size}}), flush=True)
    if until == "render":
        return
    timed("write", lambda: write_tree(files, out))


def _fleet_stages(intent: Path, loaded, until: str, timed) -> dict[str, str] | None:
    """check, plan and render of a fleet as jcnrc.pipeline does them (every cluster, then the fleet's files)."""
    from jcnrc import __version__
    from jcnrc.intent.fleet import check_fleet
    from jcnrc.pipeline import lock_path_for, read_lock
    from jcnrc.plan.fleet import plan_fleet
    from jcnrc.render import render
    from jcnrc.render.common import RenderOptions
    from jcnrc.render.fleet import render_fleet

    checked = timed("check", lambda: check_fleet(loaded.data))
    _require(checked.ok, "check", checked.diagnostics)
    if until == "check":
        return None
    planned = timed("plan", lambda: plan_fleet(checked, read_lock(lock_path_for(intent))[0]))
    _require(planned.plan is not None, "plan", planned.diagnostics)
    if until == "plan":
        return None
    options = RenderOptions(intent_file=intent.name, intent_digest=loaded.digest, version=__version__)

    def render_all() -> dict[str, str]:
        files = {f"{c.name}/{path}": text for c in planned.plan.clusters for path, text in render(c.plan, options).items()}
        files.update(render_fleet(planned.plan, options))
        return files

    return timed("render", render_all)


def _require(ok: bool, stage: str, diagnostics) -> None:
    if not ok:
        problems = "; ".join(f"{d.code} {d.message}" for d in diagnostics if d.is_error)[:2000]
        raise SystemExit(f"stage {stage} failed: {problems}")


# --- start-up -------------------------------------------------------------------------------

def measure_startup(options: argparse.Namespace, work: Path) -> dict:
    """`import jcnrc.cli` and `jcnrc --version` (the floor under every command), and what a build
    of the bundled example imports, with `-X importtime`."""
    wanted = options.runs or 5
    imports = Measure.of(series(lambda: run_child([sys.executable, "-c", "import jcnrc.cli"], 60, options.memory_limit),
                                wanted, 60))
    version = Measure.of(series(lambda: run_child([jcnrc_executable(), "--version"], 60, options.memory_limit), wanted, 60))
    cli = run_child([sys.executable, "-X", "importtime", "-c", "import jcnrc.cli"], 60, options.memory_limit)
    folder = work / "startup"
    folder.mkdir()
    intent = prepare_intent(CASES[0], folder)
    build = run_child([sys.executable, "-X", "importtime", jcnrc_executable(), "build", str(intent),
                       "-o", str(folder / "out"), "--quiet"], 60, options.memory_limit)
    return {"import_cli": asdict(imports), "version": asdict(version),
            "cli_imports_ms": total_import_ms(cli.stderr), "slowest_imports": slowest_imports(cli.stderr),
            "build_imports_ms": total_import_ms(build.stderr), "slowest_build_imports": slowest_imports(build.stderr)}


def _importtime_rows(importtime: str):
    """(cumulative microseconds, nesting level, module) per line of `python -X importtime` output."""
    for line in importtime.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or "cumulative" in parts[1]:
            continue
        name = parts[2][1:]  # one space after the bar, then two per nesting level
        yield int(parts[1]), (len(name) - len(name.lstrip(" "))) // 2, name.strip()


def total_import_ms(importtime: str) -> float:
    """Everything imported, start-up included: the sum over the outermost imports."""
    return sum(cumulative for cumulative, level, _ in _importtime_rows(importtime) if level == 0) / 1000


def slowest_imports(importtime: str, top: int = 8) -> list[tuple[str, float]]:
    """Packages by cumulative import time (ms) from `python -X importtime`, largest first.

    A package appears once, with the largest cumulative time of any of its modules (its
    outermost import), so nested modules are not counted twice.
    """
    totals: dict[str, float] = {}
    for cumulative, _, module in _importtime_rows(importtime):
        package = module.split(".")[0]
        totals[package] = max(totals.get(package, 0.0), cumulative / 1000)
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


# --- the report ---------------------------------------------------------------------------

def _seconds(measure: Measure) -> str:
    return f"{measure.seconds:.3f}" if measure.seconds is not None else (measure.note or "-")


def _with_cpu(measure: Measure) -> str:
    if measure.seconds is None or measure.cpu_seconds is None:
        return _seconds(measure)
    return f"{measure.seconds:.3f} ({measure.cpu_seconds:.3f})"


def _target(value: float | None, unit: str) -> str:
    return f"< {value:g} {unit}" if value is not None else ""


def _size(case: Case) -> str:
    if case.example:
        return f"`{case.example}`"
    return f"{case.nodes} nodes, {case.vrfs} VRFs, {case.attachments} attachments"


def describe_jcnrc() -> str:
    """Which jcnrc the children import (PYTHONPATH may point at another checkout), its commit,
    and whether Python caches its bytecode: with PYTHONDONTWRITEBYTECODE set and no cached .pyc,
    every run compiles jcnrc's sources again (about 50 ms of the bundled example's start-up)."""
    where = subprocess.run([sys.executable, "-c", "import jcnrc; print(jcnrc.__file__)"], capture_output=True, text=True,
                           cwd=tempfile.gettempdir())
    package = Path(where.stdout.strip() or ".").parent
    commit = subprocess.run(["git", "-C", str(package), "describe", "--always", "--dirty"], capture_output=True, text=True)
    compiles = os.environ.get("PYTHONDONTWRITEBYTECODE") and not any((package / "__pycache__").glob("cli.*.pyc"))
    bytecode = "; PYTHONDONTWRITEBYTECODE is set and jcnrc has no .pyc files: every run compiles its sources" if compiles else ""
    return f"{package}" + (f" (git {commit.stdout.strip()})" if commit.returncode == 0 else "") + bytecode


def markdown(results: list[CaseResult], startup: dict | None, source: str = "", load: str = "") -> str:
    header = [f"jcnrc under test: {source}"] if source else []
    header += [f"Load average (1/5/15 min) at start and end: {load}"] if load else []
    lines = ([*header, ""] if header else []) + [
        "### End to end (`jcnrc build` / `jcnrc check` as subprocesses, medians)", "",
        ("| case | size | intent | output | first build s | build s (cpu) | target | peak RSS MB | check s (cpu) | check target"
         " | rebuild s (cpu) | rebuild rewrites | runs |"),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = r.case
        rewrites = ("-" if r.rebuild_untouched is None
                    else ("no file" if r.rebuild_untouched else f"{len(r.rebuild_touched)} files"))
        peak = f"{r.build.peak_mb:.0f}" if r.build.peak_mb is not None else "-"
        target_mem = f" (< {c.target_memory_mb:g})" if c.target_memory_mb else ""
        output = f"{r.files} files, {r.output_bytes / 1e6:.1f} MB" if r.files else "-"
        lines.append(f"| {c.name} | {_size(c)} | {r.intent_bytes / 1e6:.2f} MB | {output} | {_seconds(r.first_build)} | "
                     f"{_with_cpu(r.build)} | {_target(c.target_build_s, 's')} | {peak}{target_mem} | {_with_cpu(r.check)} | "
                     f"{_target(c.target_check_s, 's')} | {_with_cpu(r.rebuild)} | {rewrites} | {r.build.runs} |")
    lines += ["", "### Per stage (in-process, fresh child per run, medians of wall (CPU) seconds; imports not counted)", "",
              ("| case | load s | check s | plan s | render s | write s | sum s"
               " | RSS after load / check / plan / render / write MB | runs |"),
              "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if not r.stages and not r.stage_note:
            lines.append(f"| {r.case.name} | skipped | | | | | | | 0 |")
            continue
        unfinished = r.stage_note.split(":", 1)[0] if r.stage_note else None
        cells = " | ".join(f"{r.stages[s]:.3f} ({r.stage_cpu[s]:.3f})" if s in r.stages
                           else (r.stage_note.split(": ", 1)[1] if s == unfinished else "-") for s in STAGES)
        rss = " / ".join(f"{r.stage_peak_mb[s]:.0f}" if s in r.stage_peak_mb else "-" for s in STAGES)
        wall, cpu = sum(r.stages.values()), sum(r.stage_cpu.values())
        total = f"{wall:.3f} ({cpu:.3f})" if not unfinished else f"> {wall:.0f}"
        lines.append(f"| {r.case.name} | {cells} | {total} | {rss} | {r.stage_runs} |")
    if startup:
        imports, version = startup["import_cli"], startup["version"]
        lines += ["", "### Start-up", "",
                  (f"- `python -c 'import jcnrc.cli'`: {_seconds(Measure(**imports))} s; "
                   f"`jcnrc --version`: {_seconds(Measure(**version))} s (medians)"),
                  (f"- `import jcnrc.cli` imports for {startup['cli_imports_ms']:.0f} ms (`-X importtime`, start-up included); "
                   "slowest packages (cumulative ms): ") + _packages(startup["slowest_imports"]),
                  f"- `jcnrc build` of the bundled example imports for {startup['build_imports_ms']:.0f} ms; slowest packages: "
                  + _packages(startup["slowest_build_imports"])]
    return "\n".join(lines) + "\n"


def _load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def _packages(rows) -> str:
    return ", ".join(f"{name} {ms:.0f}" for name, ms in rows)


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- command line -------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark jcnrc build end to end and per stage; prints a Markdown table.")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK_CASES)}, 3 runs each")
    parser.add_argument("--cases", help="comma-separated case names: " + ", ".join(c.name for c in CASES))
    parser.add_argument("--runs", type=int, help="runs per measurement (default: per case, 5 for small, fewer for big)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a run is killed and its case skipped")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds per measurement; long cases get fewer runs")
    parser.add_argument("--memory-limit", type=int, default=8192, help="address-space limit of each child, MB")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up measurements")
    parser.add_argument("--scaling", action="store_true",
                        help="instead of the cases: grow nodes, pods per node and VRFs one at a time"
                             " and report how each stage grows")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--stage-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--until", choices=STAGES, default=STAGES[-1], help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def selected_cases(options: argparse.Namespace) -> list[Case]:
    by_name = {c.name: c for c in CASES}
    if options.cases:
        names = [n.strip() for n in options.cases.split(",") if n.strip()]
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise SystemExit(f"run.py: unknown case(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
        return [by_name[n] for n in names]
    if options.quick:
        return [by_name[n] for n in QUICK_CASES]
    return list(CASES)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    if options.stage_worker:
        stage_worker(options.stage_worker, options.out, options.until)
        return 0
    if options.quick and options.runs is None:
        options.runs = 3
    if options.scaling:
        print(scaling_report(options), end="")
        return 0
    load_at_start = _load_average()
    results = []
    with tempfile.TemporaryDirectory(prefix="jcnrc-bench-") as work:
        for case in selected_cases(options):
            results.append(measure_case(case, options, Path(work)))
        startup = None if options.no_startup else measure_startup(options, Path(work))
    source = describe_jcnrc()
    load = f"{load_at_start}; {_load_average()} on {os.cpu_count()} CPUs (other work on the machine slows wall times)"
    print(markdown(results, startup, source, load), end="")
    if options.json:
        raw = {"jcnrc": source, "load": load, "results": [asdict(r) for r in results], "startup": startup}
        options.json.write_text(json.dumps(raw, indent=1, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
