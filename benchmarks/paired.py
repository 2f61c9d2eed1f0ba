"""Paired A/B runs of one jcnrc command: CPU seconds (user + system) and peak memory of each side.

    .venv/bin/python benchmarks/paired.py --before HEAD --paths jcnrc/render/escape.py \\
        --intent /tmp/n200.yaml --runs 7 -- build {intent} -o {out} --quiet

Two frozen copies of the source tree (``jcnrc/``, ``templates/``, ``schemas/``) are made in a
temporary folder: B is the working tree as it is now, A the same with ``--paths`` taken from the
git revision ``--before`` (the files a change touched; everything else is the same in both, so
edits others make to the working tree while this runs do not leak into either side). Each run is
``python -m jcnrc ARGS`` with ``PYTHONPATH`` on one copy, started in the intent's folder (so the
lock file next to the intent is found, as a user's build finds it) into a fresh output folder.
The runs alternate A B, B A, A B...: on a machine shared with other work, the load then falls on
both sides alike. The children are measured with ``os.wait4`` (CPU seconds of exactly that
process, its peak RSS); wall time is printed too, but only CPU time is compared.

``--a``/``--b`` give the two roots directly instead (e.g. an old checkout against this one).
In ARGS, ``{intent}`` is the intent file and ``{out}`` a fresh output folder per run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Sample, measure  # benchmarks/measure.py, next to this file

ROOT = Path(__file__).resolve().parent.parent
# What a jcnrc run reads from the source tree.
TREE = ("jcnrc", "templates", "schemas")


def run_once(root: Path, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Sample:
    """`python -m jcnrc ARGS` with `root` first on the path; CPU and peak RSS of that child."""
    child_env = {**os.environ, **(env or {}), "PYTHONPATH": str(root)}
    child_env.pop("PYTHONDONTWRITEBYTECODE", None)  # the copies keep their bytecode, as an install does
    return measure([sys.executable, "-m", "jcnrc", *args], cwd, child_env, accept=(0, 1),
                   who=f"paired.py: under {root}")


def frozen_tree(into: Path, source: Path = ROOT) -> Path:
    """A copy of what a jcnrc run reads from `source` (no bytecode: it is compiled once, in the warm-up)."""
    into.mkdir(parents=True)
    for name in TREE:
        if (source / name).exists():
            shutil.copytree(source / name, into / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return into


def overlay_revision(tree: Path, revision: str, paths: list[str]) -> None:
    """Put each of `paths` as it was at git `revision` into `tree` (a path the revision lacks is removed)."""
    for path in paths:
        shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:{path}"], capture_output=True)
        target = tree / path
        if shown.returncode != 0:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(shown.stdout)


def paired(a: Path, b: Path, args: list[str], intent: Path, runs: int, env: dict[str, str] | None = None,
           keep_out: bool = False) -> dict[str, list[Sample]]:
    """`runs` runs of each side, interleaved (A B, B A, ...), after one unmeasured warm-up each."""
    samples: dict[str, list[Sample]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory(prefix="jcnrc-paired-out-") as scratch:
        def once(side: str, root: Path, record: bool) -> None:
            out = Path(scratch) / f"out-{side}"
            if not keep_out:
                shutil.rmtree(out, ignore_errors=True)
            filled = [word.replace("{intent}", str(intent)).replace("{out}", str(out)) for word in args]
            sample = run_once(root, filled, intent.parent, env)
            if record:
                samples[side].append(sample)

        once("A", a, False)
        once("B", b, False)
        for index in range(runs):
            order = (("A", a), ("B", b)) if index % 2 == 0 else (("B", b), ("A", a))
            for side, root in order:
                once(side, root, True)
    return samples


def summary(samples: dict[str, list[Sample]]) -> str:
    a, b = samples["A"], samples["B"]
    cpu_a, cpu_b = statistics.median(s.cpu for s in a), statistics.median(s.cpu for s in b)
    # Per pair: the ratio of the two runs that ran next to each other.
    ratios = sorted(y.cpu / x.cpu for x, y in zip(a, b, strict=True) if x.cpu > 0)
    lines = ["| side | CPU s (median) | CPU s (min-max) | user s | system s | wall s (median) | peak RSS MB (median) | runs |",
             "|---|---|---|---|---|---|---|---|"]
    for side, runs in (("A (before)", a), ("B (after)", b)):
        lines.append(f"| {side} | {statistics.median(s.cpu for s in runs):.3f} | {min(s.cpu for s in runs):.3f}-"
                     f"{max(s.cpu for s in runs):.3f} | {statistics.median(s.user for s in runs):.3f} | "
                     f"{statistics.median(s.system for s in runs):.3f} | {statistics.median(s.wall for s in runs):.3f} | "
                     f"{statistics.median(s.peak_mb for s in runs):.0f} | {len(runs)} |")
    lines.append("")
    lines.append(f"B/A CPU: {cpu_b / cpu_a:.3f} (median of medians); per pair median {statistics.median(ratios):.3f}, "
                 f"range {ratios[0]:.3f}-{ratios[-1]:.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Paired, interleaved A/B runs of one jcnrc command (CPU seconds).",
                                     usage="%(prog)s [options] -- ARGS (with {intent} and {out})")
    parser.add_argument("--before", help="git revision for side A's --paths (A is the working tree otherwise)")
    parser.add_argument("--paths", nargs="*", default=[], help="files A takes from --before")
    parser.add_argument("--a", type=Path, help="root of side A (instead of --before)")
    parser.add_argument("--b", type=Path, help="root of side B (default: a copy of the working tree)")
    parser.add_argument("--intent", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep-out", action="store_true", help="reuse the output folder (a rebuild of unchanged output)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="set in the children")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    args = options.args[1:] if options.args[:1] == ["--"] else options.args
    if not args:
        parser.error("give the jcnrc arguments after --")
    env = dict(item.split("=", 1) for item in options.env)
    with tempfile.TemporaryDirectory(prefix="jcnrc-paired-") as work:
        b = options.b or frozen_tree(Path(work) / "B")
        if options.a is not None:
            a = options.a
        else:
            if not options.before:
                parser.error("give --before REV (with --paths) or --a ROOT")
            a = frozen_tree(Path(work) / "A")
            overlay_revision(a, options.before, options.paths)
        samples = paired(a, b, args, options.intent.resolve(), options.runs, env, options.keep_out)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    side_a = a if options.a else f"{options.before} for {len(options.paths)} files"
    print(f"`jcnrc {' '.join(args)}` on {options.intent.name}; A: {side_a}; load average {load} on {os.cpu_count()} CPUs\n")
    print(summary(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
