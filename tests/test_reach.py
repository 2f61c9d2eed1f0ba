"""Reachability on the route-target graph: verdicts, `expect:` diagnostics and `jcnrc explain`."""

from __future__ import annotations

import subprocess

import pytest

from conftest import HANG_GUARD, JCNRC, call_count
from jcnrc.pipeline import analyse
from jcnrc.plan import reach
from test_allocate import big_intent, intent, pod
from test_routes import planned

HUB = {"name": "hub", "routeTarget": {"import": ["1:1", "1:2"], "export": ["1:100"]}, "ipv4Pool": "3.3.0.0/24"}
SPOKE_A = {"name": "spoke-a", "routeTarget": {"import": ["1:100"], "export": ["1:1"]}, "ipv4Pool": "1.1.0.0/24"}
SPOKE_B = {"name": "spoke-b", "routeTarget": {"import": ["1:100"], "export": ["1:2"]}, "ipv4Pool": "1.1.0.0/24"}
LISTENER = {"name": "listener", "routeTarget": {"import": ["1:1"], "export": ["1:9"]}, "ipv4Pool": "4.4.0.0/24"}


@pytest.fixture(scope="module")
def hub_and_spoke(compiled_examples):
    return compiled_examples["hub-and-spoke.yaml"].plan


def small_hub(*expect: dict, **changes):
    pods = [pod("h", "w1", {"vrf": "hub"}), pod("a", "w2", {"vrf": "spoke-a"}), pod("b", "w3", {"vrf": "spoke-b"}),
            pod("l", "w3", {"vrf": "listener"})]
    return intent(vrfs=[HUB, SPOKE_A, SPOKE_B, LISTENER], pods=pods, expect=list(expect), **changes)


# --- verdicts -----------------------------------------------------------------------------------

def test_hub_and_spoke_verdicts():
    plan = planned(small_hub())
    [spoke_to_hub] = reach.verdicts(plan, "a", "h")
    [spoke_to_spoke] = reach.verdicts(plan, "a", "b")
    [listener] = reach.verdicts(plan, "l", "a")

    assert spoke_to_hub.reachable and spoke_to_hub.forward.targets == ("target:1:100",)
    assert spoke_to_hub.backward.targets == ("target:1:1",)
    assert spoke_to_spoke.isolated
    assert listener.one_way and listener.forward.ok and not listener.backward.ok


def test_whole_vrfs_can_be_compared():
    plan = planned(small_hub())
    [verdict] = reach.verdicts(plan, "spoke-a", "hub")

    assert verdict.reachable and not verdict.a.is_pod


def test_pods_in_one_vrf_on_one_node_reach_each_other_without_importing_it():
    hub_only = {**HUB, "ipv4Pool": "3.3.0.0/24"}
    plan = planned(intent(vrfs=[hub_only, SPOKE_A, SPOKE_B], pods=[pod("x", "w1", {"vrf": "hub"}), pod("y", "w1", {"vrf": "hub"}),
                                                                   pod("z", "w2", {"vrf": "hub"})]))

    [same_node] = reach.verdicts(plan, "x", "y")
    [other_node] = reach.verdicts(plan, "x", "z")
    assert same_node.reachable  # one table on one node
    assert other_node.isolated  # hub imports only the spokes' targets


def test_a_pod_without_address_cannot_be_reached():
    vrfs = [{"name": "blue", "ipv4Pool": "1.1.0.0/24"}, {"name": "dark"}]
    plan = planned(intent(vrfs=vrfs, pods=[pod("a", "w1", {"vrf": "dark"}), pod("b", "w2", {"vrf": "dark"})]))
    [verdict] = reach.verdicts(plan, "a", "b")

    assert verdict.isolated
    assert reach.why_not(plan, verdict) == (
        "neither can send to the other (both in VRF `dark`): `b/net1` has no address in VRF `dark`, so it advertises "
        "no route (VRF `dark` has no pool); and `a/net1` has no address in VRF `dark`, so it advertises no route "
        "(VRF `dark` has no pool)")


def test_a_pod_with_several_interfaces_reaches_through_any_of_them():
    data = small_hub({"reach": ["m", "a"]})
    data["pods"].append(pod("m", "w1", {"vrf": "spoke-b"}, {"vrf": "hub"}))
    plan = planned(data)

    assert [(v.a.interface, v.reachable) for v in reach.verdicts(plan, "m", "a")] == [("net1", False), ("net2", True)]
    assert reach.check_expectations(plan) == []


# --- expect: ------------------------------------------------------------------------------------

def test_the_hub_and_spoke_example_proves_its_expectations(hub_and_spoke):
    assert [e.reach or e.isolate for e in hub_and_spoke.topology.expect] == [
        ["spoke-a1", "hub-svc"], ["spoke-b1", "hub-svc"], ["spoke-a1", "spoke-b1"], ["spoke-a", "spoke-b"],
        ["hub-svc", "collector"]]
    assert reach.check_expectations(hub_and_spoke) == []


def test_violated_reach_explains_both_missing_directions():
    checked = _expectation_problems(small_hub({"reach": ["a", "b"]}))

    [problem] = checked
    assert (problem.code, problem.path) == ("JCN703", ("expect", 0, "reach"))
    assert problem.message == (
        "`a` and `b` must reach each other, but neither can send to the other (VRF `spoke-a` and VRF `spoke-b`): "
        "VRF `spoke-a` imports no target that VRF `spoke-b` exports (`spoke-b` exports target:1:2; `spoke-a` imports "
        "target:1:100); and VRF `spoke-b` imports no target that VRF `spoke-a` exports (`spoke-a` exports target:1:1; "
        "`spoke-b` imports target:1:100)")
    assert problem.help == "let VRF `spoke-a` import target:1:2; and let VRF `spoke-b` import target:1:1"


def test_violated_reach_on_a_one_way_path_says_which_way_fails():
    [problem] = _expectation_problems(small_hub({"reach": ["l", "a"]}))

    assert problem.message == (
        "`l` and `a` must reach each other, but the path is one-way (VRF `listener` and VRF `spoke-a`): `l` can send to "
        "`a`, but VRF `spoke-a` imports no target that VRF `listener` exports (`listener` exports target:1:9; `spoke-a` "
        "imports target:1:100), so `a` cannot answer")
    assert problem.help == "the path is one-way: let VRF `spoke-a` import target:1:9"


def test_violated_isolation_names_the_leaking_target():
    [problem] = _expectation_problems(small_hub({"isolate": ["l", "a"]}))

    assert (problem.code, problem.path) == ("JCN704", ("expect", 0, "isolate"))
    assert problem.message == ("`l` and `a` must be isolated, but VRF `listener` imports target:1:1, which VRF `spoke-a` "
                               "exports, so `l` has a route to `a`")
    assert problem.help == "remove target:1:1 from VRF `listener`'s imports or from VRF `spoke-a`'s exports"


def _expectation_problems(data: dict):
    from jcnrc.intent.check import check
    from jcnrc.plan.planner import plan

    result = plan(check(data).topology)
    assert result.plan is None
    return [d for d in result.diagnostics if d.code in ("JCN703", "JCN704")]


def test_violated_expectation_fails_the_build_with_the_reason(root, tmp_path):
    text = (root / "examples" / "hub-and-spoke.yaml").read_text()
    broken = tmp_path / "hub-and-spoke.yaml"
    broken.write_text(text + "  - reach: [collector, spoke-b1]   # one-way: must fail\n")
    run = subprocess.run([*JCNRC, "build", str(broken), "-o", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=HANG_GUARD)

    assert run.returncode == 1
    line = len(text.splitlines()) + 1
    assert f"{broken}:{line}:" in run.stderr and "error[JCN703]" in run.stderr
    assert ("`collector` and `spoke-b1` must reach each other, but the path is one-way (VRF `collector` and VRF "
            "`spoke-b`): `collector` can send to `spoke-b1`, but VRF `spoke-b` imports no target that VRF `collector` "
            "exports") in run.stderr
    assert "help: the path is one-way: let VRF `spoke-b` import target:64512:199" in run.stderr
    assert not (tmp_path / "out").exists()


def test_the_located_diagnostic_points_at_the_expectation(tmp_path):
    import yaml

    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(small_hub({"reach": ["h", "a"]}, ), sort_keys=False)
                    + "- isolate: [a, h]\n")  # appended to the `expect:` list
    result = analyse(path, display_name="t.yaml")

    [located] = [item for item in result.located() if item.diagnostic.code == "JCN704"]
    assert located.line == len(path.read_text().splitlines())


# --- explain ------------------------------------------------------------------------------------

def test_explain_shows_one_way_reachability_in_words(root):
    run = subprocess.run([*JCNRC, "explain", "examples/hub-and-spoke.yaml", "collector", "spoke-a1"],
                         capture_output=True, text=True, cwd=root, timeout=HANG_GUARD)

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        ("collector (VRF collector, node worker-3) and spoke-a1 (VRF spoke-a, node worker-2): ONE-WAY: collector can send "
         "to spoke-a1, but spoke-a1 has no route back, so replies are lost"),
        ("  collector -> spoke-a1: yes. VRF collector imports target:64512:101, which VRF spoke-a exports, so "
         "collector.evpn.0 on worker-3 holds spoke-a1's prefixes 172.16.1.0/30 and fd00:101::/126; packets leave worker-3 "
         "(192.168.10.13) in VXLAN VNI 20001 to worker-2 (192.168.10.12)"),
        ("  spoke-a1 -> collector: no route. VRF collector exports target:64512:199, but VRF spoke-a imports only "
         "target:64512:100, so spoke-a.evpn.0 on worker-2 holds no route to collector"),
        "  to make it two-way: let VRF `spoke-a` import target:64512:199",
    ]


def test_explain_reachable_and_isolated(hub_and_spoke):
    reachable = reach.explain(hub_and_spoke, "spoke-a1", "hub-svc").splitlines()
    isolated = reach.explain(hub_and_spoke, "spoke-a1", "spoke-b1").splitlines()

    assert reachable[0] == "spoke-a1 (VRF spoke-a, node worker-2) and hub-svc (VRF hub, node worker-1): reachable both ways"
    assert reachable[2] == ("  hub-svc -> spoke-a1: yes. VRF hub imports target:64512:101, which VRF spoke-a exports, so "
                            "hub.evpn.0 on worker-1 holds spoke-a1's prefixes 172.16.1.0/30 and fd00:101::/126; packets "
                            "leave worker-1 (192.168.10.11) in VXLAN VNI 20001 to worker-2 (192.168.10.12)")
    assert len(reachable) == 3  # no fix line
    assert isolated[0].endswith("isolated: neither has a route to the other")
    assert isolated[-1] == ("  to connect them: let VRF `spoke-a` import target:64512:102; "
                            "and let VRF `spoke-b` import target:64512:101")


def test_explain_on_the_walkthrough(compiled_examples):
    text = reach.explain(compiled_examples["aks-evpn-type5.yaml"].plan, "ubuntu-du11", "ubuntu-du22")

    assert text.splitlines()[1] == (
        "  ubuntu-du11 -> ubuntu-du22: yes. VRF blue imports target:11:11, which VRF blue exports, so blue.evpn.0 on "
        "aks-agentpool-23733201-vmss000001 holds ubuntu-du22's prefixes 1.1.22.0/30 and abcd::101:1600/126; packets leave "
        "aks-agentpool-23733201-vmss000001 (10.240.0.5) in VXLAN VNI 10002 to aks-agentpool-23733201-vmss000002 (10.240.0.6)")


def test_explain_for_jcnr_names_the_fabric_addresses_the_tunnels_join(root):
    """On JCNR the VXLAN endpoints are the fabric addresses (as `routes` and the Configlets say), not the
    node addresses; `explain --target` plans the intent as `build --target` builds it."""
    run = subprocess.run([*JCNRC, "explain", "examples/aks-evpn-type5.yaml", "ubuntu-du11", "ubuntu-du22", "--target", "jcnr"],
                         capture_output=True, text=True, cwd=root, timeout=HANG_GUARD)

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[1].endswith(
        "packets leave aks-agentpool-23733201-vmss000001 (10.241.0.5) in VXLAN VNI 10002 to "
        "aks-agentpool-23733201-vmss000002 (10.241.0.6)")


# --- scale --------------------------------------------------------------------------------------

def test_expectations_cost_does_not_grow_with_pods():
    """51 assertions over 500 or 5,000 pods: the same work, per assertion only (counted, not timed)."""
    counted = []
    for attachments in (500, 5000):
        data = big_intent(nodes=50, vrfs=4, attachments=attachments)
        data["expect"] = [{"reach": [f"p{i}", f"p{i + 4}"]} for i in range(0, 400, 8)] + [{"isolate": ["v0", "v1"]}]
        plan = planned(data)
        reach.check_expectations(plan)  # warm the memoised helpers: the counted run finds them in the same state
        problems, calls = call_count(reach.check_expectations, plan)
        assert problems == []
        counted.append(calls)
    assert counted[1] == counted[0], counted


def test_isolating_two_pods_of_one_vrf_suggests_separate_vrfs():
    plan_data = intent(pods=[pod("a", "w1"), pod("b", "w2")], expect=[{"isolate": ["a", "b"]}])
    [problem] = _expectation_problems(plan_data)

    assert problem.message == ("`a` and `b` must be isolated, but both are in VRF `blue`, "
                               "which imports its own target target:64512:10000")
    assert problem.help == "put one of them in another VRF"
