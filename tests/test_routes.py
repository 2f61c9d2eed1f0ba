"""Expected routing state: `jcnrc routes`, state/<node>.{json,txt}, the compact form for big topologies."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import HANG_GUARD, JCNRC, call_count
from jcnrc.intent.check import check
from jcnrc.plan import expected as routes
from jcnrc.plan.planner import plan as make_plan
from jcnrc.render.templates import Templates
from test_allocate import big_intent, intent, pod

NODE2 = "aks-agentpool-23733201-vmss000002"
WALKTHROUGH_ROUTES = [
    "5:10.240.0.5:1::0::1.1.11.0::30/248",
    "5:10.240.0.6:1::0::1.1.22.0::30/248",
    "5:10.240.0.5:1::0::abcd::101:b00::126/248",
    "5:10.240.0.6:1::0::abcd::101:1600::126/248",
]


def planned(data: dict):
    checked = check(data)
    assert checked.ok, [d.message for d in checked.diagnostics if d.is_error]
    result = make_plan(checked.topology)
    assert result.plan is not None, [d.message for d in result.diagnostics]
    return result.plan


@pytest.fixture(scope="module")
def aks(compiled_examples):
    return compiled_examples["aks-evpn-type5.yaml"].plan


def render_text(state) -> str:
    return Templates(None).render("common/node-state.txt.j2", state=state)


# --- the walkthrough ----------------------------------------------------------------------------

def test_walkthrough_worker_has_exactly_the_four_type5_routes(aks):
    [table] = routes.node_state(aks, NODE2).tables

    assert table.table == "blue.evpn.0"
    assert [r.text for r in table.routes] == WALKTHROUGH_ROUTES
    assert [(r.protocol, r.protocol_next_hop, r.vni, r.route_targets, r.learned_from) for r in table.routes] == [
        ("BGP", "10.240.0.5", 10002, ("target:11:11",), ("10.240.0.4",)),
        ("EVPN", "10.240.0.6", 10002, ("target:11:11",), ()),
        ("BGP", "10.240.0.5", 10002, ("target:11:11",), ("10.240.0.4",)),
        ("EVPN", "10.240.0.6", 10002, ("target:11:11",), ()),
    ]
    assert (table.route_count, table.complete, table.sources) == (4, True, ("blue",))


def test_walkthrough_worker_kernel_table_matches_ip_route(aks):
    [table] = routes.node_state(aks, NODE2).tables

    assert [k.text for k in table.kernel_ipv4] == [
        "1.1.11.0/30 encap ip id 10002 src 10.240.0.6 dst 10.240.0.5",
        "1.1.22.0/30 dev <veth> proto kernel scope link src 1.1.22.1",
        "1.1.22.2 via 1.1.22.2 dev <veth> proto 22",
    ]
    assert [k.text for k in table.kernel_ipv6] == [
        "abcd::101:b00/126 encap ip id 10002 src 10.240.0.6 dst 10.240.0.5",
        "abcd::101:1600/126 dev <veth> proto kernel scope link",
        "abcd::101:1602 via abcd::101:1602 dev <veth> proto 22",
    ]


def test_sessions_worker_to_each_route_reflector_master_to_each_client(aks):
    assert [(s.peer, s.peer_role, s.peer_node) for s in routes.node_state(aks, NODE2).sessions] == [
        ("10.240.0.4", "route-reflector", "aks-agentpool-23733201-vmss000000")]
    master = routes.node_state(aks, "aks-agentpool-23733201-vmss000000")
    assert [(s.peer, s.peer_role) for s in master.sessions] == [("10.240.0.5", "client"), ("10.240.0.6", "client")]
    assert master.tables == ()


def test_routes_cli_prints_the_walkthrough_state(root):
    run = subprocess.run([*JCNRC, "routes", "examples/aks-evpn-type5.yaml", "--node", NODE2],
                         capture_output=True, text=True, cwd=root, timeout=HANG_GUARD)

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[3:] == [
        "show bgp summary: peers that must be established (State column: Establ)",
        "  10.240.0.4      AS 64512  route-reflector aks-agentpool-23733201-vmss000000",
        "",
        "show route table blue.evpn.0: 4 destinations",
        "  5:10.240.0.5:1::0::1.1.11.0::30/248",
        "      BGP, from 10.240.0.4, protocol next hop 10.240.0.5, VNI 10002, target:11:11",
        "  5:10.240.0.6:1::0::1.1.22.0::30/248",
        "      EVPN, local, protocol next hop 10.240.0.6, VNI 10002, target:11:11",
        "  5:10.240.0.5:1::0::abcd::101:b00::126/248",
        "      BGP, from 10.240.0.4, protocol next hop 10.240.0.5, VNI 10002, target:11:11",
        "  5:10.240.0.6:1::0::abcd::101:1600::126/248",
        "      EVPN, local, protocol next hop 10.240.0.6, VNI 10002, target:11:11",
        "",
        "ip route show table <blue table>:",
        "  1.1.11.0/30 encap ip id 10002 src 10.240.0.6 dst 10.240.0.5",
        "  1.1.22.0/30 dev <veth> proto kernel scope link src 1.1.22.1",
        "  1.1.22.2 via 1.1.22.2 dev <veth> proto 22",
        "",
        "ip -6 route show table <blue table>:",
        "  abcd::101:b00/126 encap ip id 10002 src 10.240.0.6 dst 10.240.0.5",
        "  abcd::101:1600/126 dev <veth> proto kernel scope link",
        "  abcd::101:1602 via abcd::101:1602 dev <veth> proto 22",
    ]


def test_routes_cli_json_carries_every_field(root):
    run = subprocess.run([*JCNRC, "routes", "examples/aks-evpn-type5.yaml", "--node", NODE2,
                          "--vrf", "blue", "--format", "json"], capture_output=True, text=True, cwd=root, timeout=HANG_GUARD)

    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    [table] = data["tables"]
    assert [r["route"] for r in table["evpnRoutes"]] == WALKTHROUGH_ROUTES
    assert table["evpnRoutes"][0] == {
        "route": "5:10.240.0.5:1::0::1.1.11.0::30/248", "rd": "10.240.0.5:1", "prefix": "1.1.11.0/30", "family": "ipv4",
        "protocol": "BGP", "originVrf": "blue", "originNode": "aks-agentpool-23733201-vmss000001",
        "originPod": "ubuntu-du11", "protocolNextHop": "10.240.0.5", "vni": 10002, "routeTargets": ["target:11:11"],
        "learnedFrom": ["10.240.0.4"]}
    assert table["kernelRoutes"][0] == {
        "text": "1.1.11.0/30 encap ip id 10002 src 10.240.0.6 dst 10.240.0.5", "prefix": "1.1.11.0/30", "family": "ipv4",
        "kind": "encap", "vni": 10002, "src": "10.240.0.6", "dst": "10.240.0.5", "via": None}
    assert data["bgpSessions"] == [{"peer": "10.240.0.4", "peerNode": "aks-agentpool-23733201-vmss000000", "asn": 64512,
                                    "peerRole": "route-reflector", "state": "Established"}]
    assert (data["complete"], table["routeCount"], table["kernelRouteCount"]) == (True, 4, 6)


def test_master_state_text_says_it_carries_no_vrf(aks):
    text = render_text(routes.node_state(aks, "aks-agentpool-23733201-vmss000000"))

    assert "  10.240.0.5      AS 64512  client aks-agentpool-23733201-vmss000001" in text
    assert text.endswith("no VRF tables: no pod runs on this node (a route reflector carries no VRFs)\n")


# --- derived values in more shapes ---------------------------------------------------------------

def two_masters_two_vrfs():
    nodes = [{"name": "m1", "address": "10.0.0.1", "role": "master"}, {"name": "m2", "address": "10.0.0.2", "role": "master"},
             {"name": "w9", "address": "10.0.0.9", "role": "worker"}, {"name": "w10", "address": "10.0.0.10", "role": "worker"}]
    vrfs = [{"name": "blue", "ipv4Pool": "1.1.0.0/24"}, {"name": "red", "ipv4Pool": "2.2.0.0/24", "routeDistinguisherId": 7}]
    pods = [pod("a", "w10", {"vrf": "blue"}), pod("b", "w9", {"vrf": "blue"}, {"vrf": "red"}), pod("c", "w10", {"vrf": "red"})]
    return planned(intent(nodes=nodes, vrfs=vrfs, pods=pods))


def test_routes_follow_junos_order_with_numeric_route_distinguishers():
    plan = two_masters_two_vrfs()
    [blue] = [t for t in routes.node_state(plan, "w9").tables if t.vrf == "blue"]

    # 10.0.0.9 sorts before 10.0.0.10 (as numbers), whatever the order of the pods in the file.
    assert [r.text for r in blue.routes] == ["5:10.0.0.9:1::0::1.1.0.4::30/248", "5:10.0.0.10:1::0::1.1.0.0::30/248"]


def test_every_route_reflector_is_a_session_and_a_source():
    plan = two_masters_two_vrfs()
    state = routes.node_state(plan, "w9")

    assert [s.peer for s in state.sessions] == ["10.0.0.1", "10.0.0.2"]
    [red] = [t for t in state.tables if t.vrf == "red"]
    assert [(r.text, r.protocol, r.learned_from) for r in red.routes] == [
        ("5:10.0.0.9:7::0::2.2.0.0::30/248", "EVPN", ()),
        ("5:10.0.0.10:7::0::2.2.0.4::30/248", "BGP", ("10.0.0.1", "10.0.0.2")),
    ]


def test_vrf_filter_keeps_one_table():
    plan = two_masters_two_vrfs()

    assert [t.vrf for t in routes.node_state(plan, "w9").tables] == ["blue", "red"]
    assert [t.vrf for t in routes.node_state(plan, "w9", "red").tables] == ["red"]


def test_vrf_filter_for_a_vrf_the_node_does_not_carry_says_so():
    plan = two_masters_two_vrfs()
    state = routes.node_state(plan, "m1", "red")

    assert state.tables == ()
    assert render_text(state).endswith("\nno table red.evpn.0: no pod of VRF red runs on this node\n")


def test_a_vrf_that_does_not_import_its_own_target_still_holds_its_local_routes(compiled_examples):
    plan = compiled_examples["hub-and-spoke.yaml"].plan
    [hub] = routes.node_state(plan, "worker-1").tables

    assert hub.sources == ("spoke-a", "spoke-b")
    assert [(r.origin_vrf, r.protocol, r.vni, r.route_targets) for r in hub.routes] == [
        ("hub", "EVPN", 20000, ("target:64512:100",)),
        ("spoke-a", "BGP", 20001, ("target:64512:101",)),
        ("spoke-b", "BGP", 20002, ("target:64512:102",)),
        ("spoke-a", "BGP", 20001, ("target:64512:101",)),
        ("spoke-b", "BGP", 20002, ("target:64512:102",)),
    ]
    assert [k.text for k in hub.kernel_ipv4] == [
        "172.16.0.0/29 dev <veth> proto kernel scope link src 172.16.0.1",
        "172.16.0.2 via 172.16.0.2 dev <veth> proto 22",
        "172.16.1.0/30 encap ip id 20001 src 192.168.10.11 dst 192.168.10.12",
        "172.16.1.4/30 encap ip id 20002 src 192.168.10.11 dst 192.168.10.13",
    ]


def test_spokes_see_the_hub_but_not_each_other(compiled_examples):
    plan = compiled_examples["hub-and-spoke.yaml"].plan
    [spoke_a] = routes.node_state(plan, "worker-2").tables

    assert sorted({r.origin_vrf for r in spoke_a.routes}) == ["hub", "spoke-a"]
    assert "5:192.168.10.11:1::0::172.16.0.0::29/248" in [r.text for r in spoke_a.routes]


# --- compact form ---------------------------------------------------------------------------------

def test_compact_form_lists_local_routes_and_counts(aks):
    origins, membership = routes.origins_by_vrf(aks), routes.vrfs_on_node(aks)
    assert origins.listing_size(membership) == 8  # two workers, four routes each

    full = routes.node_state(aks, NODE2, origins=origins, membership=membership, detail_limit=8)
    compact = routes.node_state(aks, NODE2, origins=origins, membership=membership, detail_limit=7)

    assert full == routes.node_state(aks, NODE2)
    [table] = compact.tables
    assert compact.complete is False
    assert [r.text for r in table.routes] == ["5:10.240.0.6:1::0::1.1.22.0::30/248", "5:10.240.0.6:1::0::abcd::101:1600::126/248"]
    assert [k.kind for k in table.kernel] == ["connected", "host", "connected", "host"]
    assert (table.route_count, table.kernel_count, table.sources) == (4, 6, ("blue",))
    data = routes.to_data(compact)
    assert (data["complete"], data["tables"][0]["installsRoutesOf"], data["tables"][0]["routeCount"]) == (False, ["blue"], 4)


def test_compact_form_text_says_where_the_rest_is(aks):
    text = render_text(routes.node_state(aks, NODE2, detail_limit=0))

    assert ("show route table blue.evpn.0: 4 destinations\n"
            "  (the routes of VRF blue: listed once per VRF in\n"
            "   state/vrfs/<vrf>.json; below: the 2 originated on this node)\n"
            "  5:10.240.0.6:1::0::1.1.22.0::30/248\n") in text
    assert "ip route show table <blue table>: 6 routes in all (IPv4 and IPv6); below: those of this node's pods\n" in text


def test_vrf_routes_list_every_advertised_route_once(aks):
    listed = routes.vrf_routes(aks, "blue")

    assert [r.text for r in listed.routes] == WALKTHROUGH_ROUTES
    assert (listed.vni, listed.route_targets) == (10002, ("target:11:11",))
    assert routes.vrf_routes_to_data(listed)["routes"][0] == {
        "route": "5:10.240.0.5:1::0::1.1.11.0::30/248", "rd": "10.240.0.5:1", "prefix": "1.1.11.0/30", "family": "ipv4",
        "originNode": "aks-agentpool-23733201-vmss000001", "protocolNextHop": "10.240.0.5", "pod": "ubuntu-du11",
        "interface": "net1"}


def _every_state(plan):
    origins, membership = routes.origins_by_vrf(plan), routes.vrfs_on_node(plan)
    states = [routes.node_state(plan, n.name, origins=origins, membership=membership, detail_limit=20000) for n in plan.nodes]
    shared = [routes.vrf_routes(plan, v.name, origins) for v in plan.vrfs]
    return origins.listing_size(membership), states, shared


def test_state_of_every_node_stays_linear_in_attachments():
    """Every node's expected state lists its own routes; each VRF's routes are listed once, not
    once per node. Ten times the topology costs ten times the calls (counted, not timed)."""
    small, large = planned(big_intent(nodes=20, attachments=200)), planned(big_intent(nodes=200, attachments=2000))
    for plan in (small, large):  # warm the memoised helpers: counted below, each run finds them in the same state
        _every_state(plan)
    (_, _, _), small_calls = call_count(_every_state, small)
    (full_size, states, shared), calls = call_count(_every_state, large)

    listed = sum(len(t.routes) for s in states for t in s.tables) + sum(len(v.routes) for v in shared)
    assert full_size == 40_000  # 200 workers, each listing all 200 routes of its VRF
    assert listed == 8_000  # each of the 4,000 prefixes once at its node and once in its VRF's list
    assert all(not s.complete for s in states if s.tables)
    assert calls < 11 * small_calls, (small_calls, calls)  # 9.8 measured; listing everything grows with the square
