"""The benchmark's synthetic intents (benchmarks/generate.py) and the harness's measuring parts
(benchmarks/run.py, floor.py, netlab.py): a generated intent must be valid, or the benchmark would time the
error path; the floor must write what jcnrc writes, and the netlab topology must have the n200 shape."""

from __future__ import annotations

import importlib.util
import os
import sys
from ipaddress import ip_interface, ip_network
from pathlib import Path

import pytest
import yaml

from conftest import HANG_GUARD
from jcnrc.pipeline import analyse

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"jcnrc_bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


generate_module = _load("generate")
run_module = _load("run")
generate = generate_module.generate


def _analyse(tmp_path: Path, text: str):
    intent = tmp_path / "bench.yaml"
    intent.write_text(text, encoding="utf-8")
    return analyse(intent)


def _attachments(data: dict) -> list[dict]:
    return [a for pod in data["pods"] for a in pod["networks"]]


@pytest.mark.parametrize(
    ("nodes", "vrfs", "pods_per_node", "attachments_per_pod", "explicit_ratio"),
    [(12, 3, 3, 1, 0.3), (10, 4, 2, 2, 0.5), (5, 1, 4, 1, 1.0), (150, 6, 2, 3, 0.0)],
)
def test_generated_intent_checks_and_plans_without_any_diagnostic(tmp_path, nodes, vrfs, pods_per_node, attachments_per_pod,
                                                                  explicit_ratio):
    result = _analyse(tmp_path, generate(nodes, vrfs, pods_per_node, attachments_per_pod, explicit_ratio))
    assert [(d.code, d.message) for d in result.diagnostics] == []
    assert result.plan is not None
    assert len(result.plan.nodes) == nodes
    assert len(result.plan.attachments) == nodes * pods_per_node * attachments_per_pod


def test_shape_matches_the_arguments():
    data = yaml.safe_load(generate(150, 6, 2, attachments_per_pod=3))
    roles = [n["role"] for n in data["nodes"]]
    assert roles.count("master") == 3 and roles.count("worker") == 147
    assert len(data["vrfs"]) == 6
    assert len(data["pods"]) == 300
    masters = {n["name"] for n in data["nodes"] if n["role"] == "master"}
    assert not any(pod["node"] in masters for pod in data["pods"])
    for pod in data["pods"]:
        assert len({a["vrf"] for a in pod["networks"]}) == 3  # one interface per VRF
    per_vrf = {}
    for attachment in _attachments(data):
        per_vrf[attachment["vrf"]] = per_vrf.get(attachment["vrf"], 0) + 1
    assert set(per_vrf.values()) == {150}  # dealt round-robin: equal demand on every pool
    assert data["cluster"]["segmentRouting"] == {"srgbStart": 400000, "srgbRange": 100000,
                                                 "ipv4IndexBase": 0, "ipv6IndexBase": 50000}


@pytest.mark.parametrize(("vrfs_per_node", "carried"), [(None, 6), (1, 1), (3, 3)])
def test_each_worker_carries_the_vrfs_of_its_window_and_demand_stays_even(vrfs_per_node, carried):
    data = yaml.safe_load(generate(40, 6, 8, vrfs_per_node=vrfs_per_node))
    by_node: dict[str, set[str]] = {}
    per_vrf: dict[str, int] = {}
    for pod in data["pods"]:
        for attachment in pod["networks"]:
            by_node.setdefault(pod["node"], set()).add(attachment["vrf"])
            per_vrf[attachment["vrf"]] = per_vrf.get(attachment["vrf"], 0) + 1
    assert {len(vrfs) for vrfs in by_node.values()} == {carried}
    assert len(per_vrf) == 6
    pods_per_worker = -(-320 // 38)  # 40 nodes, 2 of them masters
    assert max(per_vrf.values()) - min(per_vrf.values()) <= 2 * pods_per_worker  # about even: off by a worker or two


def test_explicit_addresses_are_inside_their_pools_distinct_and_host_addresses():
    data = yaml.safe_load(generate(40, 4, 5, explicit_ratio=0.5, seed=3))
    pools = {v["name"]: v for v in data["vrfs"]}
    explicit = [a for a in _attachments(data) if "ipv4" in a]
    assert 0.35 * 200 < len(explicit) < 0.65 * 200
    subnets = set()
    for attachment in explicit:
        for family in ("ipv4", "ipv6"):
            if family not in attachment:
                continue
            iface = ip_interface(attachment[family])
            assert iface.network.subnet_of(ip_network(pools[attachment["vrf"]][f"{family}Pool"]))
            assert iface.ip == iface.network.network_address + 2  # not network, gateway or broadcast
            subnets.add(iface.network)
    assert len(subnets) == sum(("ipv4" in a) + ("ipv6" in a) for a in explicit)


def test_pools_stay_clear_of_the_cluster_ranges_and_of_each_other():
    data = yaml.safe_load(generate(20, 30, 2))
    cluster = [ip_network(data["cluster"][k]) for k in ("nodeSubnet", "podCidr", "serviceCidr")]
    pools = [ip_network(v["ipv4Pool"]) for v in data["vrfs"]]
    assert all(not p.overlaps(c) for p in pools for c in cluster)
    assert all(not a.overlaps(b) for i, a in enumerate(pools) for b in pools[i + 1:])


def test_pools_grow_with_demand():
    assert generate_module._pool_prefix(8192) == 16  # a /16 holds 16384 /30 links: twice 8192
    assert generate_module._pool_prefix(8193) == 15
    assert generate_module._pool_prefix(20000) == 14


def test_expectations_are_present_and_hold(tmp_path):
    text = generate(30, 5, 2)
    data = yaml.safe_load(text)
    kinds = sorted(next(iter(e)) for e in data["expect"])
    assert kinds == ["isolate", "isolate", "reach", "reach"]
    assert _analyse(tmp_path, text).ok


def test_same_arguments_give_the_same_text_and_the_seed_changes_it():
    assert generate(50, 5, 3, seed=7) == generate(50, 5, 3, seed=7)
    assert generate(50, 5, 3, seed=7) != generate(50, 5, 3, seed=8)


def test_ratio_zero_gives_only_allocated_addresses():
    assert not [a for a in _attachments(yaml.safe_load(generate(10, 2, 3, explicit_ratio=0.0))) if "ipv4" in a or "ipv6" in a]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [((2, 1, 1), "at least 3"), ((10, 0, 1), "vrfs"), ((10, 2, 0), "pods_per_node"), ((10, 2, 1, 3), "attachments_per_pod"),
     ((10, 2, 1, 1, 1.5), "explicit_ratio"), ((10, 4, 2, 2, 0.3, 0, 1), "vrfs_per_node"),
     ((10, 4, 2, 1, 0.3, 0, 5), "vrfs_per_node")],
)
def test_impossible_shapes_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        generate(*arguments)


def test_command_line_writes_the_same_text(tmp_path):
    target = tmp_path / "x.yaml"
    assert generate_module.main(["--nodes", "8", "--vrfs", "2", "--pods-per-node", "2", "--seed", "4", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == generate(8, 2, 2, seed=4)


# --- run.py ---------------------------------------------------------------------------------

def test_run_child_reports_peak_memory_of_that_child():
    run = run_module.run_child([sys.executable, "-c", "b = bytearray(150 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"],
                               timeout=HANG_GUARD, memory_limit_mb=2048)
    assert run.ok
    assert run.peak_mb >= 150


def test_run_child_kills_a_child_past_the_timeout():
    run = run_module.run_child([sys.executable, "-c", "import time; time.sleep(3600)"], timeout=0.5, memory_limit_mb=2048)
    assert run.timed_out and not run.ok
    assert run.failure() == "> 0.5 s (timeout)"
    assert run.seconds == 0.5


def test_run_child_reports_out_of_memory_under_the_limit():
    run = run_module.run_child([sys.executable, "-c", "b = bytearray(600 * 1024 * 1024)"], timeout=HANG_GUARD,
                               memory_limit_mb=400)
    assert run.out_of_memory
    assert run.failure() == "out of memory"


def test_stage_worker_lines_survive_a_killed_run():
    stdout = '{"stage": "load", "seconds": 1.5, "cpu_seconds": 1.4, "peak_mb": 80}\n{"stage": "check", "seconds": 0.2, "cpu_se'
    assert list(run_module._stage_lines(stdout)) == ["load"]


def test_slowest_imports_counts_each_package_once_at_its_outermost_import():
    importtime = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       100 |        100 |     click.core\n"
        "import time:       200 |      30000 |   typer\n"
        "import time:        50 |       5000 |   jcnrc.diagnostics\n"
        "import time:       300 |      45000 | jcnrc.cli\n"
    )
    assert run_module.slowest_imports(importtime, top=3) == [("jcnrc", 45.0), ("typer", 30.0), ("click", 0.1)]


def test_stage_worker_runs_every_stage_on_the_bundled_example(tmp_path, root):
    import shutil

    for name in ("aks-evpn-type5.yaml", "aks-evpn-type5.lock.json"):
        shutil.copy(root / "examples" / name, tmp_path / name)
    run = run_module.run_child([sys.executable, str(BENCHMARKS / "run.py"),
                                "--stage-worker", str(tmp_path / "aks-evpn-type5.yaml"), "--out", str(tmp_path / "out")],
                               timeout=HANG_GUARD, memory_limit_mb=4096)
    assert run.ok, run.stderr
    stages = run_module._stage_lines(run.stdout)
    assert list(stages) == list(run_module.STAGES)
    assert all(isinstance(stages[s]["seconds"], float) for s in stages)  # reported; how long it took is no test's business
    assert (tmp_path / "out" / "README.md").is_file()


def test_netlab_topology_has_the_shape_of_the_n200_intent():
    """benchmarks/netlab.py: 200 routers (3 route reflectors), 800 hosts with one VRF link each, 4
    VRFs, the hosts dealt over the workers as generate() deals the pods, each worker's VRFs cycled."""
    netlab = _load("netlab")
    topology = yaml.safe_load(netlab.netlab_topology())
    intent = yaml.safe_load(generate(200, 4, 4))
    routers = [name for name, node in topology["nodes"].items() if node.get("device") != "linux"]
    hosts = [name for name, node in topology["nodes"].items() if node.get("device") == "linux"]
    assert len(routers) == len(intent["nodes"]) == 200 and len(hosts) == len(intent["pods"]) == 800
    assert sum(bool(node.get("bgp.rr")) for node in topology["nodes"].values()) == \
        sum(node["role"] == "master" for node in intent["nodes"]) == 3
    assert len(topology["vrfs"]) == len(intent["vrfs"]) == 4
    fabric, *attachments = topology["links"]
    assert len(fabric["interfaces"]) == 200 and len(attachments) == 800
    per_worker: dict[str, list[str]] = {}
    for link in attachments:
        [router] = [key for key in link if key.startswith("r")]
        per_worker.setdefault(router, []).append(link["vrf"])
    pods_per_worker = {}
    for pod in intent["pods"]:
        pods_per_worker[pod["node"]] = pods_per_worker.get(pod["node"], 0) + 1
    assert sorted(map(len, per_worker.values())) == sorted(pods_per_worker.values())
    assert all(len(set(vrfs)) == min(4, len(vrfs)) for vrfs in per_worker.values())


def test_the_floor_writes_the_tree_jcnrc_writes(tmp_path, root):
    """benchmarks/floor.py's child writes exactly the files (and the owned list) of a jcnrc build."""
    import pickle
    import shutil

    floor = _load("floor")
    intent = tmp_path / "aks-evpn-type5.yaml"
    shutil.copy(root / "examples" / intent.name, intent)
    shutil.copy(root / "examples" / "aks-evpn-type5.lock.json", tmp_path)
    blob = floor.capture_output(intent, tmp_path, dict(os.environ))
    floor.floor_child(intent, blob, tmp_path / "floor-out")
    with open(blob, "rb") as handle:
        files = pickle.load(handle)
    written = {path.relative_to(tmp_path / "floor-out").as_posix(): path.read_bytes()
               for path in (tmp_path / "floor-out").rglob("*") if path.is_file()}
    assert written == files and floor.OWNED_LIST in written and len(written) > 20


# --- errors.py --------------------------------------------------------------------------------

def test_the_error_variants_report_exactly_their_mistakes(tmp_path):
    """benchmarks/errors.py compares a clean check with one and with many errors: each variant must
    report exactly the mistakes it plants (one JCN702; one JCN303 per misplaced pod), or it would
    time something else."""
    errors = _load("errors")
    text = generate(40, 4, 10)
    many, misplaced = errors.many_errors(text, every=100)
    assert misplaced == 4
    for name, variant, code, count in (("clean", text, None, 0), ("one", errors.one_error(text), "JCN702", 1),
                                       ("many", many, "JCN303", misplaced)):
        intent = tmp_path / f"{name}.yaml"
        intent.write_text(variant, encoding="utf-8")
        found = [d.code for d in analyse(intent).diagnostics if d.is_error]
        assert found == [code] * count, name
