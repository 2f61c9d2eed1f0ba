"""Stable allocation: link subnets, VNIs, route distinguisher numbers, MACs, node indexes."""

from __future__ import annotations

import copy
from ipaddress import ip_network
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import HANG_GUARD, JCNRC, call_count
from jcnrc.intent.model import Topology
from jcnrc.pipeline import analyse
from jcnrc.plan.allocate import AddressSpace, Lock, allocate, route_tables

BASE = {
    "apiVersion": "jcnrc/v1",
    "kind": "Topology",
    "metadata": {"name": "t", "namespace": "default"},
    "cluster": {"provider": "kubeadm", "asn": 64512, "nodeSubnet": "10.0.0.0/16",
                "podCidr": "10.244.0.0/16", "serviceCidr": "10.96.0.0/16"},
    "images": {"platter": "r.example.com/platter:1", "crpd": "r.example.com/crpd:1"},
    "nodes": [
        {"name": "m1", "address": "10.0.0.1", "role": "master"},
        {"name": "w1", "address": "10.0.0.2", "role": "worker"},
        {"name": "w2", "address": "10.0.0.3", "role": "worker"},
        {"name": "w3", "address": "10.0.0.4", "role": "worker"},
    ],
    "vrfs": [{"name": "blue", "ipv4Pool": "1.1.0.0/24", "ipv6Pool": "fd00:1::/120"}],
    "pods": [],
    "secrets": {"rootPassword": {"env": "A"}, "crpdLicense": {"env": "B"}},
}


def intent(**changes) -> dict:
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(changes))
    return data


def pod(name: str, node: str = "w1", *networks: dict) -> dict:
    return {"name": name, "node": node, "image": "alpine:3", "networks": list(networks) or [{"vrf": "blue"}]}


def topology(data: dict) -> Topology:
    return Topology.model_validate(data)


def links(allocation) -> dict[str, dict[str, str]]:
    return {key: {f: str(link.subnet) for f, link in families.items()} for key, families in allocation.links.items()}


def errors(allocation) -> list:
    return [d for d in allocation.diagnostics if d.is_error]


# --- a topology without any address ---------------------------------------------------------

def test_topology_without_addresses_gets_everything_allocated():
    data = intent(pods=[pod("a", "w1"), pod("b", "w2"), pod("c", "w3")])
    result = allocate(topology(data), None)

    assert errors(result) == []
    assert links(result) == {
        "a/net1": {"ipv4": "1.1.0.0/30", "ipv6": "fd00:1::/126"},
        "b/net1": {"ipv4": "1.1.0.4/30", "ipv6": "fd00:1::4/126"},
        "c/net1": {"ipv4": "1.1.0.8/30", "ipv6": "fd00:1::8/126"},
    }
    first = result.links["a/net1"]["ipv4"]
    assert (str(first.gateway), str(first.address)) == ("1.1.0.1", "1.1.0.2")
    assert result.vni == {"blue": 10000}  # first of the default cluster.vniRange
    assert result.rd == {"blue": 1}
    assert result.node_index == {"m1": 0, "w1": 1, "w2": 2, "w3": 3}
    assert len(set(result.mac.values())) == 3
    assert all(m.startswith("02:") for m in result.mac.values())  # locally administered unicast


def test_topology_without_addresses_builds_through_the_cli(tmp_path, root):
    import subprocess

    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(intent(pods=[pod("a", "w1"), pod("b", "w2")])))
    run = subprocess.run([*JCNRC, "build", str(path), "-o", str(tmp_path / "out"), "-q"],
                         capture_output=True, text=True, timeout=HANG_GUARD)

    assert run.returncode == 0, run.stderr
    lock = Lock.from_json((tmp_path / "t.lock.json").read_text())
    assert lock.subnets == {"a/net1": {"ipv4": "1.1.0.0/30", "ipv6": "fd00:1::/126"},
                            "b/net1": {"ipv4": "1.1.0.4/30", "ipv6": "fd00:1::4/126"}}
    pod_b = (tmp_path / "out" / "manifests" / "deployment-b.yaml").read_text()
    assert '"address":"1.1.0.6/30","gateway":"1.1.0.5"' in pod_b


# --- stability through the lock file ----------------------------------------------------------

def _build(tmp_path: Path, data: dict):
    """What `jcnrc build` does with the lock: read it, plan, write it back."""
    path = tmp_path / "intent.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = analyse(path)
    assert result.plan is not None, [d.message for d in result.diagnostics]
    result.lock_path.write_text(result.lock.to_json())
    return result.plan


def _identity(plan) -> dict:
    return {a.key: (a.ipv4, a.ipv6, a.mac) for a in plan.attachments} | {
        f"vrf:{v.name}": (v.vni, v.rd_number, v.imports, v.exports) for v in plan.vrfs}


def test_adding_a_pod_in_the_middle_of_the_file_moves_nothing(tmp_path):
    pods = [pod("a", "w1"), pod("b", "w2"), pod("c", "w3"), pod("d", "w1")]
    before = _identity(_build(tmp_path, intent(pods=pods)))
    after_plan = _build(tmp_path, intent(pods=[*pods[:2], pod("new", "w2"), *pods[2:]]))
    after = _identity(after_plan)

    assert {k: v for k, v in after.items() if not k.startswith("new/")} == before
    new = after_plan.pod("new").attachments[0]
    assert new.ipv4.subnet == "1.1.0.16/30"  # the lowest subnet nobody holds
    assert new.mac not in {a.mac for a in after_plan.attachments if a.pod != "new"}


def test_without_the_lock_file_order_decides(tmp_path):
    """Why the lock exists: allocation alone is first-fit in file order."""
    pods = [pod("a", "w1"), pod("b", "w2")]
    first = allocate(topology(intent(pods=pods)), None)
    inserted = allocate(topology(intent(pods=[pod("new", "w1"), *pods])), None)

    assert links(first)["a/net1"]["ipv4"] == "1.1.0.0/30"
    assert links(inserted)["a/net1"]["ipv4"] == "1.1.0.4/30"
    assert links(allocate(topology(intent(pods=[pod("new", "w1"), *pods])), first.lock))["a/net1"]["ipv4"] == "1.1.0.0/30"


def test_removing_and_reordering_keeps_every_value(tmp_path):
    vrfs = [{"name": "red", "ipv4Pool": "2.2.0.0/24"}, {"name": "blue", "ipv4Pool": "1.1.0.0/24"}]
    pods = [pod("a", "w1", {"vrf": "red"}), pod("b", "w2", {"vrf": "blue"}), pod("c", "w3", {"vrf": "red"}, {"vrf": "blue"})]
    before = _identity(_build(tmp_path, intent(vrfs=vrfs, pods=pods)))
    nodes = list(reversed(BASE["nodes"]))
    after = _identity(_build(tmp_path, intent(nodes=nodes, vrfs=list(reversed(vrfs)), pods=[pods[2], pods[0]])))

    assert after == {k: v for k, v in before.items() if not k.startswith("b/")}


def test_explicit_address_wins_over_the_lock_and_is_never_handed_out_twice():
    first = allocate(topology(intent(pods=[pod("a"), pod("b")])), None)
    assert links(first)["a/net1"]["ipv4"] == "1.1.0.0/30"

    # c now claims a's subnet explicitly: c gets it, a moves, b stays.
    claim = pod("c", "w2", {"vrf": "blue", "ipv4": "1.1.0.2/30"})
    second = allocate(topology(intent(pods=[pod("a"), pod("b"), claim])), first.lock)

    assert links(second)["c/net1"]["ipv4"] == "1.1.0.0/30"
    assert links(second)["b/net1"]["ipv4"] == "1.1.0.4/30"
    assert links(second)["a/net1"]["ipv4"] == "1.1.0.8/30"
    assert "c/net1" not in second.lock.subnets or "ipv4" not in second.lock.subnets["c/net1"]


def test_explicit_addresses_are_skipped_by_first_fit():
    explicit = pod("x", "w1", {"vrf": "blue", "ipv4": "1.1.0.6/30"})
    result = allocate(topology(intent(pods=[pod("a"), explicit, pod("b"), pod("c")])), None)

    assert [links(result)[k]["ipv4"] for k in ("a/net1", "x/net1", "b/net1", "c/net1")] == [
        "1.1.0.0/30", "1.1.0.4/30", "1.1.0.8/30", "1.1.0.12/30"]
    assert str(result.links["x/net1"]["ipv4"].address) == "1.1.0.6"  # as written, not .2


def test_explicit_vni_mac_and_rd_are_never_allocated_to_others():
    vrfs = [{"name": "a", "ipv4Pool": "1.1.0.0/24"}, {"name": "b", "vni": 10000, "routeDistinguisherId": 1},
            {"name": "c"}]
    mac = "02:00:00:00:00:01"
    pods = [pod("p", "w1", {"vrf": "a", "mac": mac}), pod("q", "w2", {"vrf": "a"})]
    result = allocate(topology(intent(vrfs=vrfs, pods=pods)), None)

    assert result.vni == {"a": 10001, "b": 10000, "c": 10002}
    assert result.rd == {"a": 2, "b": 1, "c": 3}
    assert result.mac["p/net1"] == mac and result.mac["q/net1"] != mac
    assert result.lock.vnis == {"a": 10001, "c": 10002}  # explicit values are not locked
    assert result.lock.macs == {"q/net1": result.mac["q/net1"]}


def test_lock_values_that_became_invalid_are_replaced():
    lock = Lock(vnis={"blue": 5}, route_distinguishers={"blue": 70000}, macs={"a/net1": "03:00:00:00:00:01"},
                subnets={"a/net1": {"ipv4": "9.9.9.0/30", "ipv6": "fd00:1::/125"}})
    result = allocate(topology(intent(pods=[pod("a")])), lock)

    assert result.vni["blue"] == 10000  # 5 is outside cluster.vniRange
    assert result.rd["blue"] == 1  # RD numbers stop at 65535
    assert result.mac["a/net1"] != "03:00:00:00:00:01"  # multicast: never kept
    assert links(result)["a/net1"] == {"ipv4": "1.1.0.0/30", "ipv6": "fd00:1::/126"}  # outside the pool / wrong length


def test_lock_round_trips_and_refuses_other_files():
    result = allocate(topology(intent(pods=[pod("a"), pod("b")])), None)
    text = result.lock.to_json()

    assert Lock.from_json(text) == result.lock
    assert text.endswith("\n") and '"kind": "AllocationLock"' in text
    with pytest.raises(ValueError, match="not a jcnrc lock file"):
        Lock.from_json('{"kind": "Topology"}')


# --- link prefixes and route tables ---------------------------------------------------------

def test_link_prefix_is_configurable_per_vrf():
    vrfs = [{"name": "blue", "ipv4Pool": "1.1.0.0/24", "ipv4LinkPrefix": 29, "ipv6Pool": "fd00:1::/112", "ipv6LinkPrefix": 120},
            {"name": "red", "ipv4Pool": "2.2.0.0/24"}]
    result = allocate(topology(intent(vrfs=vrfs, pods=[pod("a"), pod("b"), pod("r", "w1", {"vrf": "red"})])), None)

    assert links(result) == {
        "a/net1": {"ipv4": "1.1.0.0/29", "ipv6": "fd00:1::/120"},
        "b/net1": {"ipv4": "1.1.0.8/29", "ipv6": "fd00:1::100/120"},
        "r/net1": {"ipv4": "2.2.0.0/30"},
    }


def test_changing_the_link_prefix_reallocates_from_the_lock():
    first = allocate(topology(intent(pods=[pod("a")])), None)
    vrfs = [{"name": "blue", "ipv4Pool": "1.1.0.0/24", "ipv4LinkPrefix": 28}]
    second = allocate(topology(intent(vrfs=vrfs, pods=[pod("a")])), first.lock)

    assert links(second)["a/net1"]["ipv4"] == "1.1.0.0/28"


def test_isolated_vrfs_may_reuse_one_pool():
    vrfs = [{"name": "red", "ipv4Pool": "1.1.0.0/24"}, {"name": "blue", "ipv4Pool": "1.1.0.0/24"}]
    result = allocate(topology(intent(vrfs=vrfs, pods=[pod("r", "w1", {"vrf": "red"}), pod("b", "w2", {"vrf": "blue"})])), None)

    assert links(result)["r/net1"]["ipv4"] == links(result)["b/net1"]["ipv4"] == "1.1.0.0/30"


def test_vrfs_whose_routes_meet_in_a_table_never_overlap():
    hub = {"name": "hub", "routeTarget": {"import": ["1:1", "1:2"], "export": ["1:100"]}, "ipv4Pool": "9.9.0.0/24"}
    spoke_a = {"name": "spoke-a", "routeTarget": {"import": ["1:100"], "export": ["1:1"]}, "ipv4Pool": "1.1.0.0/24"}
    spoke_b = {"name": "spoke-b", "routeTarget": {"import": ["1:100"], "export": ["1:2"]}, "ipv4Pool": "1.1.0.0/24"}
    data = intent(vrfs=[hub, spoke_a, spoke_b], pods=[pod("a", "w1", {"vrf": "spoke-a"}), pod("b", "w2", {"vrf": "spoke-b"})])
    result = allocate(topology(data), None)

    # The spokes never see each other, but the hub's table holds both prefixes.
    assert links(result)["a/net1"]["ipv4"] == "1.1.0.0/30"
    assert links(result)["b/net1"]["ipv4"] == "1.1.0.4/30"
    assert route_tables(topology(data), result.vni) == {
        "hub": frozenset({"hub", "spoke-a", "spoke-b"}),  # the spokes import the hub's target
        "spoke-a": frozenset({"spoke-a", "hub"}),
        "spoke-b": frozenset({"spoke-b", "hub"}),
    }


def test_default_route_targets_count_for_route_tables():
    vrfs = [{"name": "red", "ipv4Pool": "1.1.0.0/24"},
            {"name": "blue", "vni": 7, "routeTarget": {"import": ["64512:10000", "64512:7"], "export": ["64512:7"]},
             "ipv4Pool": "1.1.0.0/24"}]
    result = allocate(topology(intent(vrfs=vrfs, pods=[pod("r", "w1", {"vrf": "red"}), pod("b", "w2", {"vrf": "blue"})])), None)

    # red defaults to 64512:10000, which blue imports: their subnets must differ.
    assert result.vni["red"] == 10000
    assert links(result)["r/net1"]["ipv4"] != links(result)["b/net1"]["ipv4"]


def test_address_space_merges_ranges_and_finds_overlaps_exactly():
    space = AddressSpace()
    for start, end in [(8, 11), (0, 3), (4, 7), (100, 200), (20, 23)]:
        space.add(start, end)

    assert list(zip(space.starts, space.ends, strict=True)) == [(0, 11), (20, 23), (100, 200)]
    assert space.blocking_end(12, 19) is None
    assert space.blocking_end(150, 151) == 200
    assert space.blocking_end(11, 12) == 11
    assert space.blocking_end(201, 300) is None


# --- exhaustion -----------------------------------------------------------------------------

def test_pool_exhaustion_names_the_pool_its_size_and_the_demand():
    vrfs = [{"name": "blue", "ipv4Pool": "1.1.0.0/29"}]
    explicit = pod("x", "w1", {"vrf": "blue", "ipv4": "1.1.0.2/30"})
    result = allocate(topology(intent(vrfs=vrfs, pods=[explicit, pod("a"), pod("b")])), None)

    [problem] = errors(result)
    assert problem.code == "JCN508"
    assert problem.path == ("vrfs", 0, "ipv4Pool")
    assert problem.message == (
        "VRF `blue` ipv4 pool 1.1.0.0/29 is exhausted: it has room for 2 link subnet(s) of /30, and 3 attachment(s) "
        "need one (1 written in the intent, 0 kept from the lock, 2 new); 1 could not be placed")
    assert "a /28 holds 4 link subnets of /30" in problem.help


def test_pool_exhaustion_is_located_in_the_intent(tmp_path):
    data = intent(vrfs=[{"name": "blue", "ipv4Pool": "1.1.0.0/30"}], pods=[pod("a"), pod("b")])
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = analyse(path, display_name="x.yaml")

    [located] = [item for item in result.located() if item.diagnostic.code == "JCN508"]
    assert result.plan is None
    assert "pool 1.1.0.0/30 is exhausted" in located.diagnostic.message
    assert located.line == path.read_text().splitlines().index("  ipv4Pool: 1.1.0.0/30") + 1


def test_vni_range_exhaustion_is_one_error_naming_range_size_and_demand():
    data = intent(vrfs=[{"name": n} for n in ("a", "b", "c", "d")])
    data["cluster"]["vniRange"] = {"first": 100, "last": 101}
    result = allocate(topology(data), None)

    [problem] = errors(result)
    assert problem.code == "JCN508"
    assert problem.message == ("`cluster.vniRange` 100..101 is exhausted: it holds 2 VNI(s), 2 are in use, "
                               "and 2 more VRF(s) need one (`c`, `d`)")
    assert problem.path == ("vrfs", 2, "name")


def test_vrf_without_pool_warns_that_its_attachments_get_no_address():
    data = intent(vrfs=[{"name": "blue", "ipv4Pool": "1.1.0.0/24"}, {"name": "red"}],
                  pods=[pod("a", "w1", {"vrf": "blue"}, {"vrf": "red"})])
    result = allocate(topology(data), None)

    [warning] = result.diagnostics
    assert (warning.code, warning.severity, warning.path) == ("JCN913", "warning", ("vrfs", 1, "name"))
    assert "its 1 attachment(s) without written addresses get no address" in warning.message
    assert "a/net2" not in result.links


# --- property: no edit ever moves an allocated value ------------------------------------------

NODE_NAMES = [f"n{i}" for i in range(5)]
VRF_NAMES = ["a", "b", "c", "d"]
TARGETS = ["1:1", "1:2", "1:3"]


@st.composite
def random_intent(draw) -> dict:
    nodes = [{"name": "m", "address": "10.0.0.1", "role": "master"}] + [
        {"name": n, "address": f"10.0.1.{i + 1}", "role": "worker"} for i, n in enumerate(NODE_NAMES)]
    vrfs = []
    for name in draw(st.lists(st.sampled_from(VRF_NAMES), min_size=1, max_size=4, unique=True)):
        vrf = {"name": name, "ipv4Pool": "1.1.0.0/25"}  # every VRF shares one small pool
        if draw(st.booleans()):
            vrf["routeTarget"] = {"import": draw(st.lists(st.sampled_from(TARGETS), min_size=1, max_size=2, unique=True)),
                                  "export": draw(st.lists(st.sampled_from(TARGETS), min_size=1, max_size=2, unique=True))}
        if draw(st.booleans()):
            vrf["ipv6Pool"] = "fd00::/121"
        vrfs.append(vrf)
    names = [v["name"] for v in vrfs]
    pods = []
    explicit_slots = iter(range(31, 0, -1))  # explicit /30s from the top of the pool, never overlapping
    for i in range(draw(st.integers(0, 10))):
        networks = []
        for _ in range(draw(st.integers(1, 2))):
            network = {"vrf": draw(st.sampled_from(names))}
            if draw(st.integers(0, 5)) == 0:
                network["ipv4"] = f"1.1.0.{next(explicit_slots) * 4 + 2}/30"
            networks.append(network)
        pods.append({"name": f"p{i}", "node": draw(st.sampled_from(NODE_NAMES)), "image": "alpine:3", "networks": networks})
    return intent(nodes=nodes, vrfs=vrfs, pods=pods)


@st.composite
def edited(draw, data: dict) -> dict:
    """Reorder and remove pods, idle nodes and VRFs, and add new pods anywhere in the list."""
    data = copy.deepcopy(data)
    names = [v["name"] for v in data["vrfs"]]
    kept_vrfs = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    data["vrfs"] = [v for name in kept_vrfs for v in data["vrfs"] if v["name"] == name]
    pods = []
    for p in draw(st.permutations(data["pods"])):
        networks = [n for n in p["networks"] if n["vrf"] in kept_vrfs]
        if networks and len(networks) == len(p["networks"]) and draw(st.integers(0, 4)) > 0:
            pods.append(p)  # pods losing an interface would rename the others: drop them whole
    for i in range(draw(st.integers(0, 4))):
        new = {"name": f"new{i}", "node": draw(st.sampled_from(NODE_NAMES)), "image": "alpine:3",
               "networks": [{"vrf": draw(st.sampled_from(kept_vrfs))}]}
        pods.insert(draw(st.integers(0, len(pods))), new)
    data["pods"] = pods
    master, workers = data["nodes"][0], data["nodes"][1:]
    used = {p["node"] for p in pods}
    kept = [w for w in workers if w["name"] in used or draw(st.booleans())]  # drop some idle workers
    data["nodes"] = [master, *draw(st.permutations(kept))]
    return data


def _values(allocation) -> dict:
    values = {f"node:{k}": v for k, v in allocation.node_index.items()}
    values |= {f"vni:{k}": v for k, v in allocation.vni.items()}
    values |= {f"rd:{k}": v for k, v in allocation.rd.items()}
    values |= {f"mac:{k}": v for k, v in allocation.mac.items()}
    values |= {f"link:{k}:{f}": str(link.subnet) for k, fams in allocation.links.items() for f, link in fams.items()}
    return values


def _assert_consistent(data: dict, allocation) -> None:
    tables = route_tables(topology(data), allocation.vni)
    vrf_of = {f"{p['name']}/net{k + 1}": n["vrf"] for p in data["pods"] for k, n in enumerate(p["networks"])}
    placed = [(ip_network(str(link.subnet)), vrf_of[key]) for key, fams in allocation.links.items() for link in fams.values()]
    for i, (net, vrf) in enumerate(placed):
        for other, other_vrf in placed[i + 1:]:
            if net.version == other.version and tables[vrf] & tables[other_vrf]:
                assert not net.overlaps(other), f"{net} ({vrf}) overlaps {other} ({other_vrf})"
    assert len(set(allocation.mac.values())) == len(allocation.mac)
    assert len(set(allocation.vni.values())) == len(allocation.vni)
    assert len(set(allocation.rd.values())) == len(allocation.rd)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_edits_never_move_an_allocated_value(data):
    original = data.draw(random_intent())
    first = allocate(topology(original), None)
    assert errors(first) == []  # 32 subnets per pool outnumber the at most 20 attachments
    _assert_consistent(original, first)
    changed = data.draw(edited(original))
    lock = Lock.from_json(first.lock.to_json())  # as read back from the committed file
    second = allocate(topology(changed), lock)
    assert errors(second) == []
    _assert_consistent(changed, second)
    before, after = _values(first), _values(second)
    moved = {k: (before[k], after[k]) for k in before.keys() & after.keys() if before[k] != after[k]}
    assert moved == {}


# --- scale --------------------------------------------------------------------------------------

def big_intent(nodes: int = 2000, vrfs: int = 20, attachments: int = 20000) -> dict:
    node_list = [{"name": "m0", "address": "10.0.0.1", "role": "master"}] + [
        {"name": f"w{i}", "address": f"10.{1 + i // 250}.{i % 250}.10", "role": "worker"} for i in range(nodes)]
    vrf_list = [{"name": f"v{i}", "ipv4Pool": f"172.{16 + i}.0.0/16", "ipv6Pool": f"fd00:{i}::/112"} for i in range(vrfs)]
    pods = [{"name": f"p{i}", "node": f"w{i % nodes}", "image": "alpine:3", "networks": [{"vrf": f"v{i % vrfs}"}]}
            for i in range(attachments)]
    data = intent(nodes=node_list, vrfs=vrf_list, pods=pods)
    data["cluster"]["nodeSubnet"] = "10.0.0.0/8"
    data["cluster"]["podCidr"] = "100.64.0.0/16"
    data["cluster"]["serviceCidr"] = "100.65.0.0/16"
    data["cluster"]["segmentRouting"] = {"srgbRange": 8000, "ipv4IndexBase": 0, "ipv6IndexBase": 4000}
    return data


def test_allocation_work_grows_linearly_with_attachments():
    """Ten times the attachments cost ten times the calls, fresh and with a lock (all-pairs work
    would cost a hundred times). Counted, not timed: the same answer on any machine."""
    small, large = topology(big_intent(nodes=30, attachments=300)), topology(big_intent(nodes=300, attachments=3000))
    first_small, fresh_small = call_count(allocate, small, None)
    _, locked_small = call_count(allocate, small, first_small.lock)
    first, fresh_large = call_count(allocate, large, None)
    again, locked_large = call_count(allocate, large, first.lock)

    assert errors(first) == []
    assert links(again) == links(first)
    assert links(first)["p2999/net1"]["ipv4"] == "172.35.2.84/30"  # v19's 150th /30: 149 * 4 addresses in
    assert fresh_large < 11 * fresh_small, (fresh_small, fresh_large)  # 9.8 measured
    assert locked_large < 11 * locked_small, (locked_small, locked_large)  # 9.9 measured

# --- addresses as integers (the plan writes tens of thousands of them) --------------------------

def _ipv6_values() -> st.SearchStrategy[int]:
    """IPv6 addresses shaped to hit every compression case: runs of zero groups of every length and
    place, ties between runs, single zero groups, and the IPv4-compatible and -mapped ranges."""
    group = st.one_of(st.just(0), st.just(0xFFFF), st.integers(1, 0xFFFF))
    groups = st.lists(group, min_size=8, max_size=8).map(lambda g: int("".join(f"{x:04x}" for x in g), 16))
    return st.one_of(groups, st.integers(0, (1 << 128) - 1), st.integers(0, (1 << 32) - 1),
                     st.integers(0, (1 << 32) - 1).map(lambda v: (0xFFFF << 32) | v))


@settings(max_examples=3000)
@given(st.one_of(st.tuples(st.just(4), st.integers(0, (1 << 32) - 1)), st.tuples(st.just(6), _ipv6_values())))
def test_address_text_is_what_ipaddress_writes(drawn):
    """On every path: this C library's inet_ntop where it is glibc's, Python alone elsewhere."""
    from ipaddress import IPv4Address, IPv6Address

    from jcnrc.plan import allocate

    version, value = drawn
    expected = str(IPv4Address(value) if version == 4 else IPv6Address(value))
    assert allocate.address_text(version, value) == expected
    if version == 6 and value >> 80:
        assert allocate.ipv6_text(value) == expected  # what a build writes on a machine without glibc


def test_ipv6_text_on_the_shapes_other_c_libraries_write_their_own_way():
    """Windows dots ISATAP interface IDs, BSD compresses a single zero group, older musl takes a
    later zero run; ipaddress (and jcnrc, on every machine) does none of that."""
    from ipaddress import IPv6Address

    from jcnrc.plan import allocate

    written = {"fd00:0:0:1:0:5efe:a00:2": "fd00::1:0:5efe:a00:2", "2001:db8:0:1:dcad:beff:feef:1": None,
               "1:0:0:1:0:0:2:3": "1::1:0:0:2:3", "0:0:1:0:0:1:2:3": "::1:0:0:1:2:3", "1:0:0:2:0:0:0:4": "1:0:0:2::4",
               "1:0:0:0:0:0:0:0": "1::", "fd00:0:0:0:0:0:0:0": "fd00::", "1:2:3:4:5:6:7:8": None,
               "ffff:0:0:0:0:ffff:0:0": "ffff::ffff:0:0"}
    for text, compressed in written.items():
        value = int(IPv6Address(text))
        assert allocate.ipv6_text(value) == (compressed or text) == str(IPv6Address(value))


@settings(max_examples=3000)
@given(st.one_of(st.tuples(st.just(4), st.integers(0, (1 << 32) - 1), st.integers(0, 32)),
                 st.tuples(st.just(6), _ipv6_values(), st.integers(0, 128))),
       st.sampled_from(["exact", "upper", "leading zero", "expanded", "host bits"]))
def test_lock_subnets_read_fast_only_when_ipaddress_reads_them_the_same(drawn, spelling):
    """canonical_network answers only for text ipaddress reads to the same network (else None, and
    the lock is read by ipaddress); text jcnrc writes is always answered."""
    from ipaddress import IPv4Network, IPv6Network

    from jcnrc.plan.allocate import canonical_network, network_text

    version, value, prefixlen = drawn
    kind = IPv4Network if version == 4 else IPv6Network
    width = 32 if version == 4 else 128
    start = value >> (width - prefixlen) << (width - prefixlen) if prefixlen else 0
    text = network_text(version, start, prefixlen)
    assert text == str(kind((start, prefixlen)))
    if spelling == "upper":
        text = text.upper()
    elif spelling == "leading zero":
        text = text.replace(".", ".0", 1).replace(":", ":0", 1)
    elif spelling == "expanded" and version == 6:
        text = f"{kind((start, prefixlen)).network_address.exploded}/{prefixlen}"
    elif spelling == "host bits" and prefixlen < width:
        text = network_text(version, start | 1, prefixlen)
    found = canonical_network(version, text)
    if spelling == "exact":
        assert found == (start, prefixlen)
    if found is not None:
        assert found == (int(kind(text, strict=True).network_address), kind(text, strict=True).prefixlen)
        assert text == str(kind(text, strict=True))
