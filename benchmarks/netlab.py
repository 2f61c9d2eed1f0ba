"""jcnrc next to netlab (PyPI ``networklab``) on the same amount of work, paired CPU seconds.

    .venv/bin/python benchmarks/netlab.py                 # 200 routers, 800 hosts, 4 VRFs, 3 rounds
    .venv/bin/python benchmarks/netlab.py --runs 5 --cache ~/.cache/jcnrc-bench

netlab is installed into a virtual environment of its own under the cache folder (default
``$XDG_CACHE_HOME/jcnrc-bench`` or ``~/.cache/jcnrc-bench``), once; it is never a dependency of
jcnrc, its tests or its runtime. ``--netlab-version`` pins the release (default: the newest).

The equal case is jcnrc's n200 benchmark intent (benchmarks/generate.py: 200 nodes, 4 VRFs, 4
pods per node, 800 attachments) and a netlab topology of the same shape:

- 200 Kubernetes nodes, each a cRPD: 200 routers (`frr`, containerlab);
- the 3 masters are the route reflectors: `bgp.rr: true` on r1-r3, iBGP (`bgp.as: 65000`);
- the node network, one subnet: one multi-access link of all 200 routers, OSPF on it (netlab's
  iBGP runs between loopbacks, which need an IGP; jcnrc's peers are on the node subnet and need none);
- 4 VRFs, route targets and VNIs: 4 VRFs (the `vrf` module: route distinguishers and targets);
- 800 pods, one attachment each, dealt round-robin over the 197 workers, each worker's attachments
  cycling through the VRFs from a different first one: 800 hosts (`linux`), one link each to its
  worker router, in the VRF of the pod's attachment, dealt the same way;
- every other VRF dual-stack: IPv4 only (netlab's default address pools).

Both build from scratch each run: ``netlab create -o none`` (read, check and transform the
topology, write nothing), ``netlab create`` (everything it writes by default: clab.yml, Ansible
inventory and variables, device configurations, the snapshot), and ``jcnrc build`` into a fresh
folder with its lock file present. Each run is a child process started in a fresh folder; the
three alternate in a rotating order. CPU seconds are user + system of that child (os.wait4).
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402  (benchmarks/generate.py, next to this file)
from measure import Sample, measure  # noqa: E402

NODES, VRFS, PODS_PER_NODE = 200, 4, 4


def cache_folder(given: Path | None) -> Path:
    if given is not None:
        return given
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jcnrc-bench"


def install_netlab(cache: Path, version: str | None) -> Path:
    """netlab's command in its own virtual environment under `cache`, installed on first use."""
    venv = cache / (f"netlab-{version}" if version else "netlab-venv")
    command = venv / "bin" / "netlab"
    if command.exists():
        return command
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    requirement = f"networklab=={version}" if version else "networklab"
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", requirement], check=True)
    return command


def netlab_version(command: Path) -> str:
    shown = subprocess.run([str(command.parent / "pip"), "show", "networklab"], capture_output=True, text=True)
    return next((line.split(":", 1)[1].strip() for line in shown.stdout.splitlines() if line.startswith("Version:")), "?")


def netlab_topology(nodes: int = NODES, vrfs: int = VRFS, pods_per_node: int = PODS_PER_NODE) -> str:
    """The netlab topology of the same shape as generate(nodes, vrfs, pods_per_node) (see the list above)."""
    masters = 3 if nodes >= 100 else 2
    workers = [f"r{index}" for index in range(masters + 1, nodes + 1)]
    # By default netlab numbers at most 150 nodes and takes management addresses, router loopbacks
    # and one /24 per link from /24, /24 and /16 pools: too few for 1,000 nodes and 801 links.
    lines = ["provider: clab", "defaults.device: frr", "defaults.vrf.warnings.inactive: false",
             f"defaults.const.MAX_NODE_ID: {nodes * (pods_per_node + 1) + 10}",
             "addressing.mgmt.ipv4: 192.168.0.0/20", "addressing.loopback.ipv4: 10.0.0.0/20",
             "addressing.lan.ipv4: 172.16.0.0/12",
             "module: [ospf, bgp, vrf]", "bgp.as: 65000", "vrfs:"]
    lines += [f"  v{index}: {{}}" for index in range(1, vrfs + 1)]
    lines.append("nodes:")
    lines += [f"  r{index}: {{bgp.rr: true}}" for index in range(1, masters + 1)]
    lines += [f"  {name}: {{}}" for name in workers]
    hosts = nodes * pods_per_node
    lines += [f"  h{index}: {{device: linux}}" for index in range(1, hosts + 1)]
    lines += ["links:", "- interfaces:"]
    lines += [f"  - node: r{index}" for index in range(1, nodes + 1)]
    seen: dict[str, int] = {}
    for index in range(hosts):
        worker_index = index % len(workers)
        worker = workers[worker_index]
        nth = seen.get(worker, 0)
        seen[worker] = nth + 1
        vrf = (worker_index + nth) % vrfs + 1
        lines += [f"- h{index + 1}:", f"  {worker}:", f"  vrf: v{vrf}"]
    return "\n".join(lines) + "\n"


def run(command: list[str], cwd: Path, counted: Path) -> Sample:
    sample = measure(command, cwd, who="netlab.py")
    sample.files = sum(len(names) for _, _, names in os.walk(counted)) if counted.exists() else 0
    return sample


def compare(netlab: Path, runs: int, jcnrc_python: str) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {"netlab create -o none": [], "netlab create": [], "jcnrc build": []}
    with tempfile.TemporaryDirectory(prefix="jcnrc-netlab-") as folder:
        work = Path(folder)
        topology = work / "topology.yml"
        topology.write_text(netlab_topology(), encoding="utf-8")
        intent = work / "n200.yaml"
        intent.write_text(generate(NODES, VRFS, PODS_PER_NODE), encoding="utf-8")
        jcnrc = [jcnrc_python, "-m", "jcnrc", "build", str(intent), "--quiet"]

        def once(name: str, record: bool) -> None:
            scratch = Path(tempfile.mkdtemp(prefix="run-", dir=work))
            try:
                if name == "jcnrc build":
                    sample = run([*jcnrc, "-o", str(scratch / "out")], work, scratch)
                else:
                    shutil.copy(topology, scratch / "topology.yml")
                    extra = ["-o", "none"] if name.endswith("none") else []
                    sample = run([str(netlab), "create", *extra, "topology.yml"], scratch, scratch)
                    sample.files -= 1  # the topology itself
                if record:
                    samples[name].append(sample)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)

        names = list(samples)
        for name in names:  # warm-up (bytecode, page cache); jcnrc's also writes the lock file
            once(name, False)
        for index in range(runs):
            for name in names[index % 3:] + names[:index % 3]:
                once(name, True)
    return samples


def report(samples: dict[str, list[Sample]], version: str) -> str:
    def med(runs: list[Sample], attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in runs)

    jcnrc_cpu = med(samples["jcnrc build"], "cpu")
    lines = [f"netlab {version} (networklab) against jcnrc, {NODES} routers/nodes, {NODES * PODS_PER_NODE} hosts/attachments, "
             f"{VRFS} VRFs; load average " + " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs", "",
             "| command | CPU s (median) | user s | system s | wall s | peak RSS MB | files written | CPU / jcnrc build | runs |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, runs in samples.items():
        lines.append(f"| `{name}` | {med(runs, 'cpu'):.3f} | {med(runs, 'user'):.3f} | {med(runs, 'system'):.3f} | "
                     f"{med(runs, 'wall'):.3f} | {med(runs, 'peak_mb'):.0f} | {runs[0].files} | "
                     f"{med(runs, 'cpu') / jcnrc_cpu:.2f} | {len(runs)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="netlab create and jcnrc build on the same shape, paired CPU seconds.")
    parser.add_argument("--runs", type=int, default=3, help="rounds (each runs all three commands)")
    parser.add_argument("--cache", type=Path, help="folder for netlab's virtual environment (default: ~/.cache/jcnrc-bench)")
    parser.add_argument("--netlab-version", help="networklab release to install (default: the newest)")
    parser.add_argument("--topology", action="store_true", help="print the netlab topology and stop")
    options = parser.parse_args(argv)
    if options.topology:
        print(netlab_topology(), end="")
        return 0
    netlab = install_netlab(cache_folder(options.cache), options.netlab_version)
    samples = compare(netlab, options.runs, sys.executable)
    print(report(samples, netlab_version(netlab)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
