"""Security review, issue 13, class 9: intents that built although their meaning is broken.

Each test is one finding of the review: a written route target equal to another VRF's derived
`<asn>:<vni>` (both VRFs exchange all routes while using two VXLAN segments), an underlay MTU that
leaves IPv6 attachments a default MTU below the IPv6 minimum, and addresses, pools and MACs in
special-purpose ranges that are never routed as unicast.
"""

from __future__ import annotations

import copy
import ipaddress

import pytest

from conftest import ROOT
from jcnrc.intent.check import check
from jcnrc.intent.load import load_file
from jcnrc.plan.planner import plan

EXAMPLE = load_file(ROOT / "examples" / "aks-evpn-type5.yaml").data


def diagnostics_after(edit) -> list:
    """Every diagnostic of check and, when check passes, of plan (where allocated values are known)."""
    data = copy.deepcopy(EXAMPLE)
    edit(data)
    checked = check(data)
    found = list(checked.diagnostics)
    if checked.ok:
        found += plan(checked.topology, None).diagnostics
    return found


def errors_after(edit) -> list:
    return [d for d in diagnostics_after(edit) if d.is_error]


def only_error(edit, code: str):
    found = errors_after(edit)
    assert [d.code for d in found] == [code], [(d.code, d.path, d.message) for d in found]
    return found[0]


def clean(edit) -> bool:
    return errors_after(edit) == []


# --- JCN701 on effective route targets -------------------------------------------------------

def red_with(route_target, vni: int | None = 10003, blue_vni: int | None = 10002):
    """Blue without `routeTarget` (default `64512:<vni>`), red writing `route_target`; pod-b moves to red."""
    def edit(data):
        blue = data["vrfs"][0]
        del blue["routeTarget"]
        if blue_vni is None:
            del blue["vni"]
        else:
            blue["vni"] = blue_vni
        red = {"name": "red", "routeTarget": route_target, "ipv4Pool": "2.2.0.0/16"}
        if vni is not None:
            red["vni"] = vni
        data["vrfs"].append(red)
        data["pods"][1]["networks"][0] = {"vrf": "red", "interface": "net1", "ipv4": "2.2.22.2/30"}
        data["expect"] = []
    return edit


def test_a_written_target_equal_to_a_derived_one_is_refused():
    d = only_error(red_with("64512:10002"), "JCN701")
    assert d.path == ("vrfs", 1, "routeTarget")
    assert "VNI 10003 instead of VNI 10002" in d.message and "64512:10002" in d.message
    assert d.related[0].path == ("vrfs", 0, "vni") and "default" in d.related[0].message


@pytest.mark.parametrize("written", ["target:64512:10002", "064512:10002", "64512:010002", "target:064512:10002"])
def test_the_comparison_is_on_normalised_targets(written):
    assert only_error(red_with(written), "JCN701").path == ("vrfs", 1, "routeTarget")


def test_an_import_export_policy_equal_to_a_derived_target_is_refused():
    policy = {"import": ["64512:10002"], "export": ["target:64512:10002"]}
    assert only_error(red_with(policy), "JCN701").path == ("vrfs", 1, "routeTarget")


def test_the_written_target_is_reported_when_the_derived_vrf_comes_later():
    def edit(data):
        red_with("64512:10002")(data)
        data["vrfs"].reverse()
    d = only_error(edit, "JCN701")
    assert d.path == ("vrfs", 0, "routeTarget") and d.related[0].path == ("vrfs", 1, "vni")


def test_a_written_target_equal_to_the_default_of_an_allocated_vni_is_refused():
    # blue gets the first VNI of cluster.vniRange, 10000, and so the default target 64512:10000.
    d = only_error(red_with("64512:10000", blue_vni=None), "JCN701")
    assert d.path == ("vrfs", 1, "routeTarget")
    assert "allocated VNI 10000" in d.message and "64512:10000" in d.message
    assert d.related[0].path == ("vrfs", 0, "name")


def test_both_allocated_and_a_written_target_equal_to_the_others_default():
    # red has no VNI either: blue takes 10000, red 10001; red's written 64512:10000 is blue's default.
    d = only_error(red_with("target:64512:10000", vni=None, blue_vni=None), "JCN701")
    assert d.path == ("vrfs", 1, "routeTarget") and "allocated VNI 10001" in d.message


def test_a_four_byte_as_default_equals_its_l_suffixed_spelling():
    def edit(data):
        data["cluster"]["asn"] = 4200000000
        red_with("4200000000L:10002")(data)
    d = only_error(edit, "JCN701")
    assert d.path == ("vrfs", 1, "routeTarget") and "4200000000:10002" in d.message


def test_the_four_byte_form_of_a_two_byte_as_is_another_community():
    # 64512L:10002 is a type-2 (4-byte AS) extended community, 64512:10002 a type-0 one: they differ on the wire.
    assert clean(red_with("64512L:10002"))


def test_targets_that_only_meet_a_derived_one_in_part_are_a_policy_not_a_clash():
    # A hub importing blue's default target exports its own: routes meet, VNIs legitimately differ.
    assert clean(red_with({"import": ["64512:10002"], "export": ["64512:7"]}))
    assert clean(red_with("64512:10001", blue_vni=None))  # blue gets 10000, not 10001


def test_the_same_vni_and_the_same_effective_targets_stays_a_duplicate_vni():
    assert only_error(red_with("64512:10002", vni=10002), "JCN404").path == ("vrfs", 1, "vni")


# --- the default MTU against the IPv6 minimum -------------------------------------------------

def test_an_underlay_mtu_leaving_ipv6_attachments_below_1280_is_refused():
    d = only_error(lambda data: data["cluster"].update(underlayMtu=1280), "JCN602")
    assert d.path == ("cluster", "underlayMtu")
    assert "1230" in d.message and "1330" in d.help
    assert d.related[0].path == ("pods", 0, "networks", 0)


def test_an_allocated_ipv6_address_counts_too():
    def edit(data):
        data["cluster"]["underlayMtu"] = 1300
        for pod in data["pods"]:
            del pod["networks"][0]["ipv6"]  # allocated from the VRF's ipv6Pool
    assert only_error(edit, "JCN602").path == ("cluster", "underlayMtu")


def test_the_smallest_underlay_that_fits_ipv6_builds():
    assert clean(lambda data: data["cluster"].update(underlayMtu=1330))


def test_a_small_underlay_without_ipv6_builds():
    def edit(data):
        data["cluster"]["underlayMtu"] = 1280
        del data["vrfs"][0]["ipv6Pool"]
        for pod in data["pods"]:
            del pod["networks"][0]["ipv6"]
    assert clean(edit)


# --- special-purpose ranges -------------------------------------------------------------------

@pytest.mark.parametrize("pool, family, range_text", [
    ("127.0.0.0/16", "ipv4", "127.0.0.0/8"),
    ("224.1.0.0/16", "ipv4", "224.0.0.0/4"),
    ("169.254.0.0/16", "ipv4", "169.254.0.0/16"),
    ("0.0.0.0/16", "ipv4", "0.0.0.0/8"),
    ("240.0.0.0/16", "ipv4", "240.0.0.0/4"),
    ("96.0.0.0/3", "ipv4", "127.0.0.0/8"),  # not inside, but allocation may reach into it
    ("ff05::/112", "ipv6", "ff00::/8"),
    ("fe80::/64", "ipv6", "fe80::/10"),
    ("::ffff:1.1.0.0/112", "ipv6", "::ffff:0:0/96"),
    ("::/112", "ipv6", "::/128"),
])
def test_a_pool_in_a_special_purpose_range_is_refused(pool, family, range_text):
    def edit(data):
        data["vrfs"][0][f"{family}Pool"] = pool
        for pod in data["pods"]:
            del pod["networks"][0][family]  # only the pool is wrong
    d = only_error(edit, "JCN513")
    assert d.path == ("vrfs", 0, f"{family}Pool")
    assert range_text in d.message and range_text in d.help and "RFC" in d.help


def test_the_hint_says_why():
    def edit(data):
        data["vrfs"][0]["ipv4Pool"] = "224.1.0.0/16"
        for pod in data["pods"]:
            del pod["networks"][0]["ipv4"]
    assert only_error(edit, "JCN513").help.startswith(
        "224.0.0.0/4 is IPv4 multicast (RFC 5771): a pod address there is never routed as unicast")


@pytest.mark.parametrize("family, address", [
    ("ipv4", "127.0.0.2/30"), ("ipv4", "169.254.1.2/30"), ("ipv4", "225.0.0.2/30"),
    ("ipv6", "fe80::2/126"), ("ipv6", "ff05::2/126"), ("ipv6", "::ffff:1.1.11.2/126"),
])
def test_an_explicit_pod_address_in_a_special_purpose_range_is_refused(family, address):
    # Outside the pool as well, but the range is the mistake to name.
    d = only_error(lambda data: data["pods"][0]["networks"][0].update({family: address}), "JCN513")
    assert d.path == ("pods", 0, "networks", 0, family)


def test_an_address_inside_a_refused_pool_is_not_reported_again():
    def edit(data):
        data["vrfs"][0]["ipv4Pool"] = "127.1.0.0/16"
        data["pods"][0]["networks"][0]["ipv4"] = "127.1.11.2/30"
        data["pods"][1]["networks"][0]["ipv4"] = "127.1.22.2/30"
    assert only_error(edit, "JCN513").path == ("vrfs", 0, "ipv4Pool")


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0", "169.254.0.5", "224.0.0.5", "255.255.255.255"])
def test_a_node_address_in_a_special_purpose_range_is_refused(address):
    d = only_error(lambda data: data["nodes"][1].update(address=address), "JCN513")
    assert d.path == ("nodes", 1, "address")


def test_a_node_subnet_in_a_special_purpose_range_is_refused_once():
    def edit(data):
        data["cluster"]["nodeSubnet"] = "127.0.0.0/16"
        for i, node in enumerate(data["nodes"]):
            node["address"] = f"127.0.0.{4 + i}"
    assert only_error(edit, "JCN513").path == ("cluster", "nodeSubnet")


@pytest.mark.parametrize("loopback", ["::1", "fe80::4", "ff02::1", "::ffff:10.240.0.5", "::"])
def test_an_ipv6_loopback_in_a_special_purpose_range_is_refused(loopback):
    d = only_error(lambda data: data["nodes"][1].update(ipv6Loopback=loopback), "JCN513")
    assert d.path == ("nodes", 1, "ipv6Loopback")


@pytest.mark.parametrize("pool", ["1.1.0.0/16", "10.100.0.0/16", "100.64.0.0/10", "192.0.2.0/24", "198.18.0.0/15",
                                  "abcd::1.1.0.0/112", "fd00::/112", "2001:db8::/112", "::1.1.0.0/112", "fec0::/112"])
def test_global_private_and_documentation_ranges_stay_accepted(pool):
    family = "ipv4" if "." in pool and ":" not in pool else "ipv6"

    def edit(data):
        data["vrfs"][0][f"{family}Pool"] = pool
        for pod in data["pods"]:
            del pod["networks"][0][family]
    assert clean(edit)


def test_the_all_zero_mac_is_refused_like_a_multicast_mac():
    d = only_error(lambda data: data["pods"][0]["networks"][0].update(mac="00:00:00:00:00:00"), "JCN206")
    assert d.path == ("pods", 0, "networks", 0, "mac") and "all-zero" in d.message


def test_the_table_agrees_with_the_ipaddress_properties():
    """The hints come from SPECIAL_RANGES; Python's ipaddress classifies the same addresses."""
    from jcnrc.intent.rules import SPECIAL_RANGES, special_range

    def flagged(address) -> bool:
        if address.version == 4:
            return (address.is_loopback or address.is_multicast or address.is_link_local or address.is_reserved
                    or address in ipaddress.ip_network("0.0.0.0/8"))
        return (address.is_loopback or address.is_multicast or address.is_link_local or address.is_unspecified
                or address.ipv4_mapped is not None)

    for entry in SPECIAL_RANGES:
        for address in (entry.network.network_address, entry.network.broadcast_address):
            assert flagged(address), entry
    samples = ["1.1.1.1", "10.0.0.1", "100.64.0.1", "126.255.255.255", "128.0.0.0", "169.253.255.255", "223.255.255.255",
               "abcd::1", "fd00::1", "2001:db8::1", "::2", "fec0::1", "febf::1", "fec0::", "feff::1"]
    samples += [str(e.network.network_address) for e in SPECIAL_RANGES]
    for text in samples:
        address = ipaddress.ip_address(text)
        net = ipaddress.ip_network(address)
        assert (special_range(net) is not None) == flagged(address), text
