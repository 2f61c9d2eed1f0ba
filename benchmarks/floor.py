"""The floor: the least any program can spend to turn an intent into jcnrc's output folder.

    .venv/bin/python benchmarks/floor.py                        # the 2,000-node case, 3 pairs
    .venv/bin/python benchmarks/floor.py --nodes 200 --vrfs 4 --pods-per-node 4 --runs 5
    .venv/bin/python benchmarks/floor.py --intent examples/aks-evpn-type5.yaml

The floor is a process that starts Python, parses the intent with rapidyaml (`ryml`, the C++
parser jcnrc's fast loader uses), and writes exactly the files jcnrc writes for that intent the
way ``jcnrc/output/write.py`` does: into a staging folder next to the output folder, every folder
once (parents first), every file with ``open(O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW)`` and
``write``, then the list of owned files, one ``syncfs`` of the file system, the rename into place
and an ``fsync`` of the parent folder. It knows the files' text in advance: a jcnrc build into a
temporary folder makes them, and the floor reads them from one file (a pickle of
``{path: bytes}``), which costs it a read of the output's size. It checks nothing, plans nothing
and renders nothing: what jcnrc spends beyond it is what its own work costs.

Both run as children, alternately (floor, jcnrc, jcnrc, floor, ...), each into a fresh output
folder, with the lock file next to the intent (as a user's second build). CPU seconds are user +
system of exactly that child (``os.wait4``): on this machine most of the floor is the kernel's
time to create the files (a new inode on ext4 costs far more than writing its bytes), which
also varies the most from run to run, so the pairs are printed one by one.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402  (benchmarks/generate.py, next to this file)
from measure import Sample, measure  # noqa: E402

OWNED_LIST = ".jcnrc-owned"


# --- the floor itself (a child process) -------------------------------------------------------

def floor_child(intent: Path, blob: Path, out: Path) -> None:
    """Parse `intent` with rapidyaml, write the files of `blob` to `out` as write.py does."""
    import ctypes

    import ryml

    tree = ryml.parse_in_arena(intent.read_bytes())
    if tree.size() < 2:
        raise SystemExit("floor: the intent parsed to nothing")
    with open(blob, "rb") as handle:
        files: dict[str, bytes] = pickle.load(handle)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent)
    folders: set[str] = set()
    for path in files:
        slash = path.rfind("/")
        while slash != -1 and path[:slash] not in folders:
            folders.add(path[:slash])
            slash = path.rfind("/", 0, slash)
    for folder in sorted(folders):
        os.mkdir(f"{staging}/{folder}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for path, data in sorted(files.items()):
        fd = os.open(f"{staging}/{path}", flags, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(staging, os.O_RDONLY | os.O_CLOEXEC)
    try:
        libc.syncfs(fd)
    finally:
        os.close(fd)
    os.rename(staging, out)
    fd = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- measuring ----------------------------------------------------------------------------------

def jcnrc_command(intent: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "jcnrc", "build", str(intent), "-o", str(out), "--quiet"]


def capture_output(intent: Path, work: Path, env: dict[str, str]) -> Path:
    """One jcnrc build (it also writes the lock file next to the intent); its files as a pickle."""
    built = work / "reference"
    measure(jcnrc_command(intent, built), intent.parent, env, who="floor.py")
    files = {}
    for root, _, names in os.walk(built):
        for name in names:
            path = Path(root) / name
            relative = path.relative_to(built).as_posix()
            if relative != OWNED_LIST:  # write.py writes it after the files; the floor does too
                files[relative] = path.read_bytes()
    files[OWNED_LIST] = (built / OWNED_LIST).read_bytes()
    blob = work / "files.pickle"
    with open(blob, "wb") as handle:
        pickle.dump(files, handle, protocol=pickle.HIGHEST_PROTOCOL)
    shutil.rmtree(built)
    return blob


def compare(intent: Path, runs: int, env: dict[str, str]) -> tuple[list[Sample], list[Sample], int, int]:
    with tempfile.TemporaryDirectory(prefix="jcnrc-floor-") as folder:
        work = Path(folder)
        blob = capture_output(intent, work, env)
        with open(blob, "rb") as handle:
            files = pickle.load(handle)
        count, size = len(files), sum(len(data) for data in files.values())
        floor_runs: list[Sample] = []
        jcnrc_runs: list[Sample] = []

        def floor_once(record: bool) -> None:
            out = work / "floor-out"
            shutil.rmtree(out, ignore_errors=True)
            sample = measure([sys.executable, __file__, "--child", str(intent), str(blob), str(out)], intent.parent, env,
                             who="floor.py")
            if record:
                floor_runs.append(sample)
            shutil.rmtree(out, ignore_errors=True)

        def jcnrc_once(record: bool) -> None:
            out = work / "jcnrc-out"
            shutil.rmtree(out, ignore_errors=True)
            sample = measure(jcnrc_command(intent, out), intent.parent, env, who="floor.py")
            if record:
                jcnrc_runs.append(sample)
            shutil.rmtree(out, ignore_errors=True)

        floor_once(False)  # warm-up: bytecode, page cache
        jcnrc_once(False)
        for index in range(runs):
            pair = (floor_once, jcnrc_once) if index % 2 == 0 else (jcnrc_once, floor_once)
            for once in pair:
                once(True)
    return floor_runs, jcnrc_runs, count, size


def report(floor_runs: list[Sample], jcnrc_runs: list[Sample], count: int, size: int, what: str) -> str:
    def med(runs: list[Sample], attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in runs)

    lines = [f"{what}: {count} files, {size / 1e6:.1f} MB; load average "
             + " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs", "",
             "| pair | floor CPU s (user + system) | jcnrc CPU s (user + system) | jcnrc / floor |", "|---|---|---|---|"]
    for index, (floor, jcnrc) in enumerate(zip(floor_runs, jcnrc_runs, strict=True), 1):
        lines.append(f"| {index} | {floor.cpu:.3f} ({floor.user:.3f} + {floor.system:.3f}) | "
                     f"{jcnrc.cpu:.3f} ({jcnrc.user:.3f} + {jcnrc.system:.3f}) | {jcnrc.cpu / floor.cpu:.2f} |")
    ratios = [j.cpu / f.cpu for f, j in zip(floor_runs, jcnrc_runs, strict=True)]
    lines += ["", (f"medians: floor {med(floor_runs, 'cpu'):.3f} CPU s (user {med(floor_runs, 'user'):.3f}, system "
                   f"{med(floor_runs, 'system'):.3f}, peak {med(floor_runs, 'peak_mb'):.0f} MB); jcnrc "
                   f"{med(jcnrc_runs, 'cpu'):.3f} (user {med(jcnrc_runs, 'user'):.3f}, system "
                   f"{med(jcnrc_runs, 'system'):.3f}, peak {med(jcnrc_runs, 'peak_mb'):.0f} MB); jcnrc is "
                   f"{statistics.median(ratios):.2f}x the floor (median of the pairs), "
                   f"{med(jcnrc_runs, 'user') / med(floor_runs, 'user'):.2f}x in user time")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--child"]:
        floor_child(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description="jcnrc build against the floor: parse with rapidyaml, write the same files.")
    parser.add_argument("--intent", type=Path, help="an intent (default: generated from the sizes below)")
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--vrfs", type=int, default=20)
    parser.add_argument("--pods-per-node", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3, help="pairs")
    parser.add_argument("--pythonpath", help="PYTHONPATH of the jcnrc children (another checkout)")
    options = parser.parse_args(argv)
    env = dict(os.environ)
    if options.pythonpath:
        env["PYTHONPATH"] = options.pythonpath
    with tempfile.TemporaryDirectory(prefix="jcnrc-floor-intent-") as folder:
        if options.intent is not None:
            intent = Path(folder) / options.intent.name
            shutil.copy(options.intent, intent)
            lock = options.intent.with_name(options.intent.stem + ".lock.json")
            if lock.exists():
                shutil.copy(lock, Path(folder) / lock.name)
            what = str(options.intent)
        else:
            intent = Path(folder) / f"n{options.nodes}.yaml"
            intent.write_text(generate(options.nodes, options.vrfs, options.pods_per_node), encoding="utf-8")
            what = f"{options.nodes} nodes, {options.vrfs} VRFs, {options.nodes * options.pods_per_node} attachments"
        floor_runs, jcnrc_runs, count, size = compare(intent, options.runs, env)
    print(report(floor_runs, jcnrc_runs, count, size, what))
    return 0


if __name__ == "__main__":
    sys.exit(main())
