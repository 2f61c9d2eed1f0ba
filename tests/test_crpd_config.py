"""The cRPD Go template in platter-config: both branches are well-formed Junos, and they say what the walkthrough needs."""

from __future__ import annotations

import itertools

import pytest
import yaml

from junos_syntax import flatten_to_set, parse_curly, render_go_branches

CONDITIONS = ("LicenseKey", "ISOLoopbackAddr", "IPv4LoopbackAddr", "IPv4DefaultGw")


def config_template(result) -> str:
    configmap = yaml.safe_load(result.files["manifests/configmap-platter-config.yaml"])
    return configmap["data"]["crpd-config.tmpl"]


def branch(result, master: bool, **conditions) -> list[str]:
    values = {name: conditions.get(name, True) for name in CONDITIONS}
    return flatten_to_set(parse_curly(render_go_branches(config_template(result), IsMasterNode=master, **values)))


@pytest.mark.parametrize("master", [True, False])
def test_every_branch_combination_parses(compiled_examples, master):
    for result in compiled_examples.values():
        for flags in itertools.product([True, False], repeat=len(CONDITIONS)):
            branch(result, master, **dict(zip(CONDITIONS, flags)))


def test_master_is_a_route_reflector_for_the_node_subnet(compiled_examples):
    result = compiled_examples["aks-evpn-type5.yaml"]
    lines = branch(result, master=True, IPv4LoopbackAddr=False)
    assert "set protocols bgp group CNI cluster __NodeIP__" in lines
    assert "set protocols bgp group CNI allow 10.240.0.0/16" in lines
    assert "set protocols bgp group CNI local-as 64512" in lines
    for family in ("inet-vpn unicast", "inet6-vpn unicast", "evpn signaling"):
        assert f"set protocols bgp group CNI family {family}" in lines
    assert not any(line.startswith("set groups evpn-type5") for line in lines), "the master carries no VRFs"
    assert not any(" neighbor " in line for line in lines)


def test_workers_peer_with_every_master_and_define_the_nad_group(compiled_examples):
    lines = branch(compiled_examples["multi-vrf.yaml"], master=False, IPv4LoopbackAddr=False)
    assert "set protocols bgp group CNI neighbor 10.240.0.4" in lines
    assert "set protocols bgp group CNI neighbor 10.240.0.5" in lines
    assert "set groups evpn-type5 routing-instances <*> vrf-table-label" in lines
    assert "set groups evpn-type5 routing-instances <*> protocols evpn ip-prefix-routes advertise direct-nexthop" in lines
    for vrf, number in (("red", 1), ("green", 2), ("blue", 3)):
        assert f"set groups evpn-type5 routing-instances {vrf} route-distinguisher __NodeIP__:{number}" in lines


def test_walkthrough_route_distinguisher_is_node_address_colon_one(compiled_examples):
    lines = branch(compiled_examples["aks-evpn-type5.yaml"], master=False, IPv4LoopbackAddr=False)
    assert "set groups evpn-type5 routing-instances blue route-distinguisher __NodeIP__:1" in lines
