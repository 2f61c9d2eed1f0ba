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
            branch(result, master, **dict(zip(CONDITIONS, flags, strict=True)))


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


def _variant(tmp_path, **cluster) -> list[str]:
    """The master and worker branches of the aks example built with other `cluster` settings."""
    from pathlib import Path

    from conftest import ROOT
    from jcnrc.pipeline import Options, compile_intent

    data = yaml.safe_load((ROOT / "examples" / "aks-evpn-type5.yaml").read_text())
    data["cluster"].update(cluster)
    Path(tmp_path).mkdir(parents=True, exist_ok=True)
    intent = Path(tmp_path) / "variant.yaml"
    intent.write_text(yaml.safe_dump(data))
    result = compile_intent(intent, Options(environ={}))
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    return branch(result, True) + branch(result, False)


def test_the_igp_is_opt_in(tmp_path):
    """An IGP on `interface all` forms adjacencies on a shared segment and installs host routes:
    none by default; IS-IS with segment routing, LDP and MPLS, or OSPF, when asked for."""
    lines = _variant(tmp_path / "none")
    assert not any(line.startswith(("set protocols ospf", "set protocols isis", "set protocols ldp", "set protocols mpls",
                                    "set interfaces lo unit 0 family iso")) for line in lines)
    isis = _variant(tmp_path / "isis", underlay={"igp": "isis"})
    assert "set protocols isis interface all" in isis and "set protocols mpls interface all" in isis
    assert any(line.startswith("set protocols isis source-packet-routing node-segment") for line in isis)
    ospf = _variant(tmp_path / "ospf", underlay={"igp": "ospf"})
    assert "set protocols ospf area 0.0.0.0 interface all" in ospf and not any("isis" in line for line in ospf)


def test_graceful_restart_is_on_by_default_and_bfd_is_opt_in(tmp_path):
    lines = _variant(tmp_path / "default")
    assert "set routing-options graceful-restart" in lines
    assert not any("bfd-liveness-detection" in line for line in lines)
    tuned = _variant(tmp_path / "tuned", bgp={"gracefulRestart": False, "bfd": {"minimumInterval": 500, "multiplier": 4}})
    assert "set routing-options graceful-restart" not in tuned
    assert "set protocols bgp group CNI bfd-liveness-detection minimum-interval 500" in tuned
    assert "set protocols bgp group CNI bfd-liveness-detection multiplier 4" in tuned
