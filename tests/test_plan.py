"""Derived identifiers in the plan: route distinguishers, targets, VNIs, MACs, loopbacks, SR indexes."""

from __future__ import annotations

import re

import pytest

from jcnrc.intent.check import check
from jcnrc.plan.planner import iso_from_address, iso_system_id, plan
from test_allocate import intent, pod
from test_routes import planned


def diagnostics(data: dict):
    checked = check(data)
    assert checked.ok, [d.message for d in checked.diagnostics if d.is_error]
    result = plan(checked.topology)
    return result.plan, [d for d in result.diagnostics if d.is_error]


def test_walkthrough_identifiers(compiled_examples):
    p = compiled_examples["aks-evpn-type5.yaml"].plan
    node = p.node("aks-agentpool-23733201-vmss000002")
    blue = p.vrf("blue")

    assert node.route_distinguisher(blue) == "10.240.0.6:1"
    assert (blue.vni, blue.imports, blue.exports, blue.nad_target) == (10002, ("target:11:11",), ("target:11:11",), "11:11")
    assert (node.iso_loopback, node.ipv6_loopback) == ("49.0004.0102.4000.0006.00", "abcd::10.240.0.6")
    assert (node.index, node.sr_ipv4_index, node.sr_ipv6_index) == (2, 2002, 3002)


def test_route_distinguishers_are_written_into_the_crpd_config(compiled_examples):
    files = compiled_examples["aks-evpn-type5.yaml"].files
    config = files["manifests/configmap-platter-config.yaml"]

    # Explicit `<node address>:<n>` per VRF instead of Junos's order-dependent auto-numbering.
    assert re.search(r"\bblue \{\n\s+route-distinguisher \{\{if \.IPv4LoopbackAddr\}\}\{\{\.IPv4LoopbackAddr\}\}"
                     r"\{\{else\}\}\{\{\.NodeIP\}\}\{\{end\}\}:1;", config)


def test_every_vrf_gets_its_own_rd_number_and_every_node_its_own_rd(compiled_examples):
    p = compiled_examples["hub-and-spoke.yaml"].plan
    numbers = {v.name: v.rd_number for v in p.vrfs}

    assert numbers == {"hub": 1, "spoke-a": 2, "spoke-b": 3, "collector": 4}
    rds = {p.node(n).route_distinguisher(p.vrf(v)) for n in ("worker-1", "worker-2") for v in numbers}
    assert len(rds) == 8
    assert p.node("worker-2").route_distinguisher(p.vrf("spoke-a")) == "192.168.10.12:2"


def test_defaults_come_from_the_vni_range_and_the_asn():
    data = intent(vrfs=[{"name": "blue", "ipv4Pool": "1.1.0.0/24"}, {"name": "red", "vni": 42, "routeTarget": "7:7"}],
                  pods=[pod("a")])
    data["cluster"]["vniRange"] = {"first": 500, "last": 600}
    p = planned(data)

    assert (p.vrf("blue").vni, p.vrf("blue").imports, p.vrf("blue").nad_target) == (500, ("target:64512:500",), "64512:500")
    assert (p.vrf("red").vni, p.vrf("red").exports) == (42, ("target:7:7",))


def test_explicit_identifiers_override_the_derived_ones():
    nodes = [{"name": "m1", "address": "10.0.0.1", "role": "master"},
             {"name": "w1", "address": "10.0.0.2", "role": "worker", "isoLoopback": "49.0001.1111.2222.3333.00",
              "ipv6Loopback": "2001:db8::2"}]
    vrfs = [{"name": "blue", "ipv4Pool": "1.1.0.0/24", "vni": 9000, "routeDistinguisherId": 77,
             "routeTarget": {"import": ["target:65000:1", "65000:2"], "export": ["65000:2"]}}]
    data = intent(nodes=nodes, vrfs=vrfs,
                  pods=[pod("a", "w1", {"vrf": "blue", "mac": "02:AA:BB:CC:DD:EE", "ipv4": "1.1.0.6/30"})])
    data["cluster"]["segmentRouting"] = {"ipv4IndexBase": 10, "ipv6IndexBase": 20, "srgbRange": 100}
    p = planned(data)
    w1, blue, [attachment] = p.node("w1"), p.vrf("blue"), p.attachments

    assert (w1.iso_loopback, w1.ipv6_loopback, w1.sr_ipv4_index, w1.sr_ipv6_index) == (
        "49.0001.1111.2222.3333.00", "2001:db8::2", 11, 21)
    assert (blue.vni, blue.rd_number, blue.imports, blue.exports) == (9000, 77, ("target:65000:1", "target:65000:2"),
                                                                      ("target:65000:2",))
    assert w1.route_distinguisher(blue) == "10.0.0.2:77"
    assert (attachment.mac, attachment.ipv4.address, attachment.ipv4.gateway) == ("02:aa:bb:cc:dd:ee", "1.1.0.6/30", "1.1.0.5")


def test_iso_address_spells_the_node_address():
    assert iso_from_address("10.240.0.4") == "49.0004.0102.4000.0004.00"
    assert iso_from_address("192.168.1.13") == "49.0004.1921.6800.1013.00"
    assert iso_system_id("49.0004.0102.4000.0004.00") == "0102.4000.0004"


def test_derived_macs_are_unique_locally_administered_unicast(compiled_examples):
    macs = [a.mac for a in compiled_examples["allocated.yaml"].plan.attachments]

    assert len(macs) == len(set(macs)) == 6
    for mac in macs:
        first = int(mac[:2], 16)
        assert first & 0b10 and not first & 0b01  # locally administered, unicast


def test_duplicate_iso_system_id_is_an_error():
    nodes = [{"name": "m1", "address": "10.0.0.1", "role": "master"},
             {"name": "w1", "address": "10.0.0.2", "role": "worker", "isoLoopback": "49.0004.0100.0000.0001.00"}]
    p, problems = diagnostics(intent(nodes=nodes, pods=[pod("a")]))

    assert p is None
    [problem] = problems
    assert (problem.code, problem.path) == ("JCN512", ("nodes", 1, "isoLoopback"))
    assert problem.message == "node `w1` has the same ISO system ID 0100.0000.0001 as node `m1`"


def test_duplicate_ipv6_loopback_is_an_error():
    nodes = [{"name": "m1", "address": "10.0.0.1", "role": "master", "ipv6Loopback": "abcd::a00:2"},
             {"name": "w1", "address": "10.0.0.2", "role": "worker"}]
    _, [problem] = diagnostics(intent(nodes=nodes, pods=[pod("a")]))

    assert (problem.code, problem.path) == ("JCN512", ("nodes", 1, "address"))
    assert "the same IPv6 loopback abcd::a00:2 as node `m1`" in problem.message


def test_sr_indexes_outside_the_srgb_are_one_error():
    data = intent(pods=[pod("a")])
    data["cluster"]["segmentRouting"] = {"srgbRange": 3002}
    _, problems = diagnostics(data)

    assert [(p.code, p.message) for p in problems] == [
        ("JCN510", "2 node(s) get an SR IPv6 index outside the SRGB index range 0..3001, the first is `w2` with 3002")]
    assert problems[0].help.startswith("raise `cluster.segmentRouting.srgbRange` to at least 3004")


def test_overlapping_ipv4_and_ipv6_sr_index_ranges_are_an_error():
    data = intent(pods=[pod("a")])
    data["cluster"]["segmentRouting"] = {"ipv4IndexBase": 100, "ipv6IndexBase": 102}
    _, [problem] = diagnostics(data)

    assert problem.code == "JCN510"
    assert problem.message == ("SR index 102 is both the IPv4 index of node `w2` and the IPv6 index of node `m1`: "
                               "the IPv4 and IPv6 index ranges overlap")
    assert problem.help == "4 nodes use node indexes 0..3: keep `ipv4IndexBase` and `ipv6IndexBase` at least 4 apart"


def test_default_target_that_does_not_fit_a_four_byte_as_is_an_error():
    data = intent(vrfs=[{"name": "blue", "vni": 70000}])
    data["cluster"]["asn"] = 4200000000
    _, [problem] = diagnostics(data)

    assert problem.code == "JCN511"
    assert "the default 4200000000:70000 does not fit" in problem.message


@pytest.mark.parametrize("name,expected", [("a", True), ("missing", False)])
def test_plan_looks_pods_up_by_name(name, expected):
    p = planned(intent(pods=[pod("a")]))

    assert p.has_pod(name) is expected
    assert p.has_vrf("blue") and not p.has_vrf("a")
    if expected:
        assert p.pod(name).attachments[0].key == "a/net1"


@pytest.mark.parametrize("target", ["platter", "jcnr"])
@pytest.mark.parametrize("mode", ["policies", "nad-vrf-target"])
def test_a_vrf_with_asymmetric_targets_has_one_source_of_targets(tmp_path, target, mode):
    """By default a hub's or spoke's NAD carries no `vrfTarget`, so the CNI writes no `vrf-target` next to
    jcnrc's vrf-import/vrf-export policies; `nad-vrf-target` brings back the first export target."""
    import json

    import yaml

    from conftest import ROOT
    from strategies import compile_data

    data = yaml.safe_load((ROOT / "examples" / "hub-and-spoke.yaml").read_text())
    data["cluster"]["asymmetricRouteTargets"] = mode
    data["target"] = target
    if target == "jcnr":
        data["cluster"]["fabricInterface"] = "eth1"
        for index, node in enumerate(data["nodes"]):
            node["fabricAddress"] = f"192.168.20.{10 + index}"
    environ = {"CRPD_ROOT_PASSWORD": "Correct-Horse-Battery-9", "CRPD_LICENSE": "licence-value-0123456789"}
    result = compile_data(data, tmp_path, environ=environ)
    assert result.ok and result.files, [d.message for d in result.diagnostics if d.is_error]
    nads = {path: yaml.safe_load(text) for path, text in result.files.items() if "networkattachmentdefinition-" in path}
    args_of = {}
    for nad in nads.values():
        config = json.loads(nad["spec"]["config"])
        plugin = config["plugins"][0] if "plugins" in config else config
        args_of[nad["metadata"]["name"]] = plugin["args"]
    exports = {v.name: v.exports for v in result.plan.vrfs}
    assert set(args_of) == {f"{name}-net" for name in exports} and len(args_of) == 4
    for vrf in result.plan.vrfs:
        assert not vrf.symmetric  # every VRF of the example imports what it does not export
        expected = exports[vrf.name][0].removeprefix("target:") if mode == "nad-vrf-target" else None
        assert args_of[vrf.nad_name].get("vrfTarget") == expected
    # The policies are there either way: they are the instance's one source of targets by default.
    config_text = "".join(text for path, text in result.files.items() if "crpd" in path or "platter-config" in path
                          or "configlet" in path)
    for vrf in result.plan.vrfs:
        assert f"vrf-import jcnrc-{vrf.name}-import" in config_text and f"vrf-export jcnrc-{vrf.name}-export" in config_text
