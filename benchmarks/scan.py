"""The leak scan on a build's files: the scan, the scan without its probes, and a plain search.

    .venv/bin/python benchmarks/scan.py                      # n2000 (28,000 files), 3 runs each
    .venv/bin/python benchmarks/scan.py --nodes 200 --vrfs 4 --pods-per-node 4

The intent is generated (benchmarks/generate.py) and rendered in this process; the scan then
looks for two values (a password, a two-line licence) in every file, as `jcnrc build` does
outside inline mode when it can read the values. Three ways, CPU seconds of this process
(best of the runs):

- `secretscan.scan`: as a build runs it (a file is searched needle by needle only when one of a
  few probes is in it);
- without probes: every file through `_find_text` and `_find_base64` (the scan before issue 18);
- plain: `value in text` for each value and file, the least any scan can do.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402  (benchmarks/generate.py, next to this file)

VALUES = ["S3cr3t-Passw0rd!", "LICENSE-KEY-ABCDEF0123456789\nsecond line of the licence text here\n"]
LABELS = ["`secrets.rootPassword`", "`secrets.crpdLicense`"]


def rendered(nodes: int, vrfs: int, pods_per_node: int) -> dict[str, str]:
    from jcnrc.pipeline import Options, analyse
    from jcnrc.render import render
    from jcnrc.render.common import RenderOptions

    with tempfile.TemporaryDirectory(prefix="jcnrc-scan-") as folder:
        intent = Path(folder) / "intent.yaml"
        intent.write_text(generate(nodes, vrfs, pods_per_node), encoding="utf-8")
        result = analyse(intent, Options())
        assert result.plan is not None, [d.message for d in result.diagnostics]
        return render(result.plan, RenderOptions())


def without_probes(files: dict[str, str], values: list[str], labels: list[str]) -> list:
    from jcnrc.output import secretscan

    needles = [secretscan._Needle(label, text, secretscan._WHITESPACE.sub(" ", text), encoding, via)
               for value, label in zip(values, labels, strict=True)
               for text, (encoding, via) in secretscan._text_forms(value).items()]
    encoded = [(label, needle) for value, label in zip(values, labels, strict=True)
               for needle in secretscan._all_base64_forms(value)]
    findings = set()
    for path, text in files.items():
        findings.update(secretscan._find_text(path, text, needles))
        findings.update(secretscan._find_base64(path, text, encoded))
    return sorted(findings)


def plain(files: dict[str, str], values: list[str], labels: list[str]) -> list:
    cores = [value.strip() for value in values]
    return [path for path, text in files.items() if any(core in text for core in cores)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the leak scan on a rendered build.")
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--vrfs", type=int, default=20)
    parser.add_argument("--pods-per-node", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args(argv)
    from jcnrc.output import secretscan

    files = rendered(options.nodes, options.vrfs, options.pods_per_node)
    secretscan.scan({"-": ""}, VALUES, LABELS)  # the needles are computed once per value, outside the clock
    best = {}
    for name, scan in (("secretscan.scan", secretscan.scan), ("without probes (before issue 18)", without_probes),
                       ("plain substring search", plain)):
        times = []
        for _ in range(options.runs):
            started = time.process_time()
            found = scan(files, VALUES, LABELS)
            times.append(time.process_time() - started)
        best[name] = (min(times), len(found))
    size = sum(len(text) for text in files.values())
    print(f"{len(files)} files, {size / 1e6:.1f} million characters; CPU seconds, best of {options.runs}\n")
    print("| scan | CPU s | multiple of the plain search | findings |\n|---|---|---|---|")
    floor = best["plain substring search"][0]
    for name, (seconds, found) in best.items():
        print(f"| {name} | {seconds:.3f} | {seconds / floor:.1f} | {found} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
