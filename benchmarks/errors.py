"""What a mistake costs: `jcnrc check` on a big intent, clean, with one error and with 100 errors.

    .venv/bin/python benchmarks/errors.py --runs 3          # generate.py --nodes 2000 --vrfs 20 --pods-per-node 10
    .venv/bin/python benchmarks/errors.py --intent /tmp/n2000.yaml --runs 5

Issue 18 asks that a diagnostic costs about what checking costs: at most 1.5 times a clean check
with one error and 2 times with 100 errors. The three intents differ only where the mistakes are:

- clean: the generated intent (with its lock file, from a first build, as a user's repository has);
- one error: the second VRF takes the first VRF's VNI (JCN702, with a related position);
- 100 errors: every 200th pod (100 of them, spread over the whole file) is placed on a node that
  does not exist (JCN303 each, a position and a "did you mean" hint each).

Before measuring, each variant is checked once and its error count compared with what it must
report, so a generator change cannot turn the comparison into clean against clean. The children
alternate in a rotating order (clean, one, many; one, many, clean; ...) so that load on a shared
machine falls on all three alike; CPU seconds are user + system of exactly that child (os.wait4).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate  # benchmarks/generate.py, next to this file
from measure import Sample, measure

ROOT = Path(__file__).resolve().parent.parent
MISPLACED_EVERY = 200  # pods; 100 errors at 20,000 pods
_VNI = re.compile(r"^(\s+vni: )(\d+)$", re.MULTILINE)
_POD_NODE = re.compile(r"^(  - \{name: [^,]+, node: )([^,]+)(,)")


def one_error(text: str) -> str:
    """The second explicit VNI becomes the first one's."""
    found = list(_VNI.finditer(text))
    if len(found) < 2:
        raise SystemExit("errors.py: the intent needs two VRFs with an explicit `vni`")
    second = found[1]
    return text[:second.start(2)] + found[0].group(2) + text[second.end(2):]


def many_errors(text: str, every: int = MISPLACED_EVERY) -> tuple[str, int]:
    """Every `every`th pod (one line each, as generate.py writes them) placed on a missing node."""
    lines = text.split("\n")
    changed = 0
    pods = 0
    for index, line in enumerate(lines):
        match = _POD_NODE.match(line)
        if match is None:
            continue
        pods += 1
        if pods % every == 0:
            lines[index] = f"{match.group(1)}missing-{match.group(2)}{match.group(3)}{line[match.end():]}"
            changed += 1
    return "\n".join(lines), changed


def error_count(intent: Path) -> int:
    shown = subprocess.run([sys.executable, "-m", "jcnrc", "check", str(intent), "--max-diagnostics", "1000"],
                           cwd=intent.parent, capture_output=True, text=True)
    return len(re.findall(r"^[^\n]*: error\[JCN\d+\]", shown.stdout + shown.stderr, re.MULTILINE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--intent", type=Path, help="a generate.py intent (default: generated with the sizes below)")
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--vrfs", type=int, default=20)
    parser.add_argument("--pods-per-node", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="jcnrc-errors-") as work_dir:
        work = Path(work_dir)
        clean = work / "clean.yaml"
        if options.intent is not None:
            shutil.copy(options.intent, clean)
            lock = options.intent.with_name(options.intent.stem + ".lock.json")
            if lock.exists():
                shutil.copy(lock, work / "clean.lock.json")
        else:
            clean.write_text(generate(nodes=options.nodes, vrfs=options.vrfs, pods_per_node=options.pods_per_node),
                             encoding="utf-8")
        if not (work / "clean.lock.json").exists():  # a first build writes it, as in a user's repository
            measure([sys.executable, "-m", "jcnrc", "build", str(clean), "-o", str(work / "out"), "--quiet"], work,
                    who="errors.py")
            shutil.rmtree(work / "out")
        text = clean.read_text(encoding="utf-8")
        many_text, misplaced = many_errors(text)
        variants = {"clean": (clean, 0), "one error": (work / "one.yaml", 1),
                    f"{misplaced} errors": (work / "many.yaml", misplaced)}
        (work / "one.yaml").write_text(one_error(text), encoding="utf-8")
        (work / "many.yaml").write_text(many_text, encoding="utf-8")
        for name in ("one", "many"):
            shutil.copy(work / "clean.lock.json", work / f"{name}.lock.json")
        for name, (intent, expected) in variants.items():
            found = error_count(intent)
            if found != expected:
                raise SystemExit(f"errors.py: the {name} intent reports {found} error(s), not {expected}")
        samples: dict[str, list[Sample]] = {name: [] for name in variants}
        names = list(variants)
        for run in range(options.runs + 1):  # the first round warms the caches and is not recorded
            for name in names[run % 3:] + names[:run % 3]:
                sample = measure([sys.executable, "-m", "jcnrc", "check", str(variants[name][0])], work, accept=(0, 1),
                                 who="errors.py")
                if run:
                    samples[name].append(sample)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    sizes = f"--nodes {options.nodes} --vrfs {options.vrfs} --pods-per-node {options.pods_per_node}"
    source = options.intent or f"generate.py {sizes}"
    print(f"`jcnrc check` on {source}; {options.runs} runs each, load average {load} on {os.cpu_count()} CPUs\n")
    print("| intent | CPU s (median) | user s | system s | peak RSS MB | multiple of the clean check |")
    print("|---|---|---|---|---|---|")
    base = statistics.median(s.cpu for s in samples["clean"])
    for name, runs in samples.items():
        cpu = statistics.median(s.cpu for s in runs)
        print(f"| {name} | {cpu:.3f} | {statistics.median(s.user for s in runs):.3f} | "
              f"{statistics.median(s.system for s in runs):.3f} | {statistics.median(s.peak_mb for s in runs):.0f} | "
              f"{cpu / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
