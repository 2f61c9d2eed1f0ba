"""jcnrc.verify.capture against the real outputs of the AKS walkthrough (tests/fixtures/captures/)."""

from __future__ import annotations

import contextlib
import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jcnrc.verify.capture import (
    BgpSummaryCapture,
    CaptureError,
    KernelTableCapture,
    RouteTableCapture,
    format_type5,
    parse_bgp_summary,
    parse_capture,
    parse_kernel_routes,
    parse_route_table,
    parse_type5,
)

CAPTURES = Path(__file__).parent / "fixtures" / "captures"
BRIEF = "vmss000002-show-route-blue-evpn.txt"
EXTENSIVE = "vmss000002-show-route-blue-evpn-extensive.txt"
BGP_SUMMARY = "vmss000002-show-bgp-summary.txt"
KERNEL = "vmss000002-ip-route-table-1.txt"
ALL_FIXTURES = (BRIEF, EXTENSIVE, BGP_SUMMARY, KERNEL)


def fixture_text(name: str) -> str:
    return (CAPTURES / name).read_text()


def without_command_line(text: str) -> str:
    return text.split("\n", 1)[1]


# ------------------------------------------------------------ show route (brief)


def test_brief_route_table_has_the_four_type5_routes():
    capture = parse_route_table(fixture_text(BRIEF))

    assert capture.table == "blue.evpn.0"
    assert capture.extensive is False
    assert capture.declared_destinations == 4
    assert capture.other_destinations == ()
    assert capture.snipped is False
    summary = [(r.rd, r.prefix, r.protocol, r.active, r.learned_from, r.next_hop) for r in capture.routes]
    assert summary == [
        ("10.240.0.5:1", "1.1.11.0/30", "BGP", True, "10.240.0.4", "10.240.0.5"),
        ("10.240.0.6:1", "1.1.22.0/30", "EVPN", True, None, None),
        ("10.240.0.5:1", "abcd::101:b00/126", "BGP", True, "10.240.0.4", "10.240.0.5"),
        ("10.240.0.6:1", "abcd::101:1600/126", "EVPN", True, None, None),
    ]


def test_brief_route_keeps_junos_text_and_line_numbers():
    routes = parse_route_table(fixture_text(BRIEF)).routes

    assert [r.text for r in routes] == [
        "5:10.240.0.5:1::0::1.1.11.0::30/248",
        "5:10.240.0.6:1::0::1.1.22.0::30/248",
        "5:10.240.0.5:1::0::abcd::101:b00::126/248",
        "5:10.240.0.6:1::0::abcd::101:1600::126/248",
    ]
    lines = fixture_text(BRIEF).split("\n")
    assert all(lines[r.line - 1] == r.text for r in routes)


def test_brief_route_has_no_extensive_only_fields():
    route = parse_route_table(fixture_text(BRIEF)).routes[0]

    assert (route.vni, route.route_targets, route.protocol_next_hop) == (None, (), None)


def test_ipv6_prefix_is_the_embedded_ipv4_pod_subnet():
    prefixes = {r.network for r in parse_route_table(fixture_text(BRIEF)).routes}

    assert ipaddress.ip_network("abcd::1.1.11.0/126") in prefixes
    assert ipaddress.ip_network("abcd::1.1.22.0/126") in prefixes


# --------------------------------------------------------- show route extensive


def test_extensive_first_route_carries_vni_target_and_next_hops():
    capture = parse_route_table(fixture_text(EXTENSIVE))
    route = capture.routes[0]

    assert capture.extensive is True
    assert route.text == "5:10.240.0.5:1::0::1.1.11.0::30/248"
    assert (route.rd, route.prefix, route.protocol, route.active) == ("10.240.0.5:1", "1.1.11.0/30", "BGP", True)
    assert route.learned_from == "10.240.0.4"
    assert route.protocol_next_hop == "10.240.0.5"
    assert route.next_hop == "10.240.0.5"
    assert route.vni == 10002
    assert route.route_targets == ("target:11:11",)
    assert route.line == 4


def test_extensive_local_route_is_evpn_with_vni_but_no_target():
    route = parse_route_table(fixture_text(EXTENSIVE)).routes[1]

    assert (route.rd, route.prefix, route.protocol, route.active) == ("10.240.0.6:1", "1.1.22.0/30", "EVPN", True)
    assert route.learned_from is None
    assert route.protocol_next_hop == "10.240.0.6"
    assert route.vni == 10002
    # The walkthrough's local route lists only encapsulation and router-mac communities.
    assert route.route_targets == ()


def test_snipped_extensive_capture_keeps_what_is_there_and_says_so():
    capture = parse_route_table(fixture_text(EXTENSIVE))

    assert capture.snipped is True
    assert capture.declared_destinations == 4
    assert len(capture.routes) == 2


# ------------------------------------------------------------- show bgp summary


def test_bgp_summary_has_the_route_reflector_established():
    capture = parse_bgp_summary(fixture_text(BGP_SUMMARY))

    assert (capture.groups, capture.peer_count, capture.down_peers) == (1, 1, 0)
    [peer] = capture.peers
    assert (peer.address, peer.asn, peer.state, peer.established) == ("10.240.0.4", 64512, "Establ", True)
    assert dict(peer.tables) == {
        "bgp.l3vpn.0": (0, 0, 0, 0),
        "bgp.l3vpn-inet6.0": (0, 0, 0, 0),
        "bgp.evpn.0": (2, 2, 2, 0),
        "blue.evpn.0": (2, 2, 2, 0),
    }
    assert peer.line == 13


SUMMARY_WITH_DOWN_PEERS = """\
root@rr> show bgp summary
Threading mode: BGP I/O
Groups: 1 Peers: 3 Down peers: 2
Unconfigured peers: 2
Table          Tot Paths  Act Paths Suppressed    History Damp State    Pending
inet.0
                       5          5          0          0          0          0
inet6.0                0          0          0          0          0          0
Peer                     AS      InPkt     OutPkt    OutQ   Flaps Last Up/Dwn State|#Active/Received/Accepted/Damped...
10.240.0.5            64512          0          0       0       3        1:02 Active
10.240.0.6            64512          0          0       0       0    1d 2:03:04 Connect
abcd::10.240.0.7      64512        100        101       0       0   3w2d 4:05:06 5/5/5/0              0/0/0/0
"""


def test_peer_in_state_active_is_not_established():
    capture = parse_bgp_summary(SUMMARY_WITH_DOWN_PEERS)
    active, connect, inline = capture.peers

    assert (active.address, active.state, active.established, active.tables) == ("10.240.0.5", "Active", False, ())
    assert (connect.state, connect.established) == ("Connect", False)
    assert (capture.peer_count, capture.down_peers) == (3, 2)
    # An established peer may print per-RIB counts in place of "Establ".
    assert (inline.address, inline.state, inline.established) == ("abcd::af0:7", "Establ", True)
    assert inline.tables == (("inet.0", (5, 5, 5, 0)), ("inet6.0", (0, 0, 0, 0)))


# --------------------------------------------------------------- ip route


def test_kernel_table_has_the_vxlan_encap_and_the_local_pod_subnet():
    capture = parse_kernel_routes(fixture_text(KERNEL))

    assert capture.table == "1"
    summary = [(r.kind, r.prefix, r.vni, r.src, r.dst, r.via, r.dev) for r in capture.routes]
    assert summary == [
        ("encap", "1.1.11.0/30", 10002, "10.240.0.6", "10.240.0.5", "10.240.0.5", "irb"),
        ("broadcast", "1.1.22.0", None, "1.1.22.1", None, None, "vethnet1-55eed2"),
        ("connected", "1.1.22.0/30", None, "1.1.22.1", None, None, "vethnet1-55eed2"),
        ("local", "1.1.22.1", None, "1.1.22.1", None, None, "vethnet1-55eed2"),
        ("host", "1.1.22.2", None, None, None, "1.1.22.2", "vethnet1-55eed2"),
        ("broadcast", "1.1.22.3", None, "1.1.22.1", None, None, "vethnet1-55eed2"),
    ]
    assert [r.line for r in capture.routes] == [2, 3, 4, 5, 6, 7]


def test_kernel_route_text_is_whitespace_normalized():
    encap = parse_kernel_routes(fixture_text(KERNEL)).routes[0]

    assert encap.text == (
        "1.1.11.0/30 encap ip id 10002 src 10.240.0.6 dst 10.240.0.5 ttl 255 tos 0 "
        "via 10.240.0.5 dev irb proto 22 onlink"
    )


def test_kernel_routes_other_kinds():
    text = (
        "default via 10.240.0.1 dev eth0 proto dhcp src 10.240.0.6 metric 100\n"
        "10.244.0.0/16 via 10.240.0.1 dev eth0\n"
        "unreachable default metric 4278198272\n"
        "abcd::101:1600/126 dev vethnet1-55eed2 proto kernel metric 256 pref medium\n"
    )
    routes = parse_kernel_routes(text).routes

    assert [(r.kind, r.prefix) for r in routes] == [
        ("gateway", "0.0.0.0/0"),
        ("gateway", "10.244.0.0/16"),
        ("unreachable", "0.0.0.0/0"),
        ("connected", "abcd::101:1600/126"),
    ]
    assert parse_kernel_routes(text).table is None


# ------------------------------------------------------- detection and layout


@pytest.mark.parametrize(
    ("name", "kind"),
    [(BRIEF, RouteTableCapture), (EXTENSIVE, RouteTableCapture), (BGP_SUMMARY, BgpSummaryCapture), (KERNEL, KernelTableCapture)],
)
def test_parse_capture_detects_the_kind_with_and_without_the_command_line(name, kind):
    text = fixture_text(name)

    assert isinstance(parse_capture(text), kind)
    assert isinstance(parse_capture(without_command_line(text)), kind)


def test_without_command_line_only_line_numbers_and_table_name_change():
    with_command = parse_route_table(fixture_text(BRIEF))
    without = parse_route_table(without_command_line(fixture_text(BRIEF)))

    assert [r.line - 1 for r in with_command.routes] == [r.line for r in without.routes]
    assert [r.prefix for r in with_command.routes] == [r.prefix for r in without.routes]
    assert parse_kernel_routes(without_command_line(fixture_text(KERNEL))).table is None


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_crlf_trailing_blanks_and_tabs_parse_the_same(name):
    text = fixture_text(name)
    mangled = "\r\n".join(line + " \t " for line in text.split("\n"))

    assert parse_capture(mangled) == parse_capture(text)


def test_trailing_bare_prompt_is_ignored():
    text = fixture_text(BGP_SUMMARY) + "\nroot@aks-agentpool-23733201-vmss000002> \n"

    assert parse_capture(text) == parse_capture(fixture_text(BGP_SUMMARY))


def test_abbreviated_junos_command_is_recognized():
    text = fixture_text(BGP_SUMMARY).replace("show bgp summary", "sh bgp summ | no-more")

    assert isinstance(parse_capture(text), BgpSummaryCapture)


def test_route_with_two_entries_gives_one_route_per_entry():
    text = """\
blue.evpn.0: 1 destinations, 2 routes (1 active, 0 holddown, 0 hidden)
+ = Active Route, - = Last Active, * = Both

5:10.240.0.5:1::0::1.1.11.0::30/248
                   *[BGP/170] 01:38:47, localpref 100, from 10.240.0.4
                      AS path: I, validation-state: unverified
                    >  to 10.240.0.5 via eth0
                    [BGP/170] 01:38:40, localpref 100, from 10.240.0.9
                      AS path: I, validation-state: unverified
                    >  to 10.240.0.5 via eth0
"""
    first, second = parse_route_table(text).routes

    assert (first.active, first.learned_from, first.line) == (True, "10.240.0.4", 4)
    assert (second.active, second.learned_from, second.line) == (False, "10.240.0.9", 8)
    assert first.prefix == second.prefix == "1.1.11.0/30"


def test_non_type5_destinations_are_listed_separately():
    text = """\
blue.evpn.0: 2 destinations, 2 routes (2 active, 0 holddown, 0 hidden)
+ = Active Route, - = Last Active, * = Both

2:10.240.0.5:1::0::4e:9b:0e:f2:6e:0e/304 MAC/IP
                   *[BGP/170] 01:38:47, localpref 100, from 10.240.0.4
5:10.240.0.6:1::0::1.1.22.0::30/248
                   *[EVPN/170] 01:38:48
                       Indirect
"""
    capture = parse_route_table(text)

    assert capture.other_destinations == ("2:10.240.0.5:1::0::4e:9b:0e:f2:6e:0e/304",)
    assert [r.prefix for r in capture.routes] == ["1.1.22.0/30"]


# -------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 1, "empty"),
        ("\n\n   \n", 1, "empty"),
        ("hello world\n", 1, "unrecognized"),
        ("\n\nnot a capture at all\n", 3, "unrecognized"),
        ("root@r> show version\nHostname: r\n", 2, "show version"),
    ],
)
def test_unrecognized_text_is_a_capture_error_with_line(text, line, words):
    with pytest.raises(CaptureError) as error:
        parse_capture(text)

    assert error.value.line == line
    assert words in error.value.message
    assert str(error.value).startswith(f"line {line}: ")


def test_malformed_type5_destination_reports_its_line():
    text = fixture_text(BRIEF).replace("5:10.240.0.6:1::0::1.1.22.0::30/248", "5:10.240.0.6:1::0::1.1.22.0::33/248")

    with pytest.raises(CaptureError) as error:
        parse_route_table(text)

    assert error.value.line == 10
    assert "invalid IP prefix" in error.value.message


def test_garbage_inside_a_route_table_reports_its_line():
    lines = fixture_text(BRIEF).split("\n")
    lines[8] = "Uh-oh, the session was closed"

    with pytest.raises(CaptureError) as error:
        parse_route_table("\n".join(lines))

    assert error.value.line == 9


def test_bad_peer_line_reports_its_line():
    text = fixture_text(BGP_SUMMARY).replace("10.240.0.4            64512", "10.240.0.400          64512")

    with pytest.raises(CaptureError) as error:
        parse_bgp_summary(text)

    assert error.value.line == 13
    assert "10.240.0.400" in error.value.message


def test_bad_kernel_line_reports_its_line():
    text = fixture_text(KERNEL) + "RTNETLINK answers: No such process\n"

    with pytest.raises(CaptureError) as error:
        parse_kernel_routes(text)

    assert error.value.line == 8


def test_two_tables_in_one_capture_is_an_error():
    text = fixture_text(BRIEF) + "\nblue.inet.0: 1 destinations, 1 routes (1 active, 0 holddown, 0 hidden)\n"

    with pytest.raises(CaptureError, match="several tables"):
        parse_route_table(text)


def test_one_table_captured_twice_says_so():
    """The walkthrough shows `show route table blue.evpn.0` and its `extensive` form one after the other:
    pasted into one file, the message names the repetition, not "several tables"."""
    text = fixture_text(BRIEF) + "\n" + fixture_text(BRIEF)

    with pytest.raises(CaptureError, match=r"holds table blue\.evpn\.0 2 times .* a file of its own"):
        parse_route_table(text)


def test_explicit_parser_refuses_a_capture_of_another_command():
    with pytest.raises(CaptureError) as error:
        parse_route_table(fixture_text(BGP_SUMMARY))

    assert error.value.line == 1
    assert "show bgp summary" in error.value.message


# ------------------------------------------------------------ Type-5 notation


def test_format_type5_matches_the_walkthrough():
    assert format_type5("10.240.0.5:1", "1.1.11.0/30") == "5:10.240.0.5:1::0::1.1.11.0::30/248"
    assert format_type5("10.240.0.5:1", "abcd::1.1.11.0/126") == "5:10.240.0.5:1::0::abcd::101:b00::126/248"
    assert format_type5("10.240.0.6:1", ipaddress.ip_network("abcd::101:1600/126")) == (
        "5:10.240.0.6:1::0::abcd::101:1600::126/248"
    )


@pytest.mark.parametrize(
    ("rd", "network"),
    [
        ("10.240.0.5:1", "1.1.11.1/30"),  # host bits: an interface address, not a prefix
        ("10.240.0.5", "1.1.11.0/30"),
        ("10.240.0.500:1", "1.1.11.0/30"),
        ("10.240.0.5:65536", "1.1.11.0/30"),
        ("70000:1", "1.1.11.0/30"),
        ("4200000000L:65536", "1.1.11.0/30"),
    ],
)
def test_format_type5_rejects_invalid_input(rd, network):
    with pytest.raises(ValueError):
        format_type5(rd, network)


def test_parse_type5_rejects_other_route_types():
    with pytest.raises(ValueError):
        parse_type5("2:10.240.0.5:1::0::4e:9b:0e:f2:6e:0e/304")


route_distinguishers = st.one_of(
    st.builds(lambda ip, n: f"{ip}:{n}", st.ip_addresses(v=4), st.integers(0, 0xFFFF)),
    st.builds(lambda asn, n: f"{asn}:{n}", st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)),
    st.builds(lambda asn, n: f"{asn}L:{n}", st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFF)),
)


@st.composite
def networks(draw):
    address = draw(st.ip_addresses())
    length = draw(st.integers(0, address.max_prefixlen))
    return ipaddress.ip_network(f"{address}/{length}", strict=False)


@given(route_distinguishers, networks())
def test_format_type5_round_trips_through_the_parser(rd, network):
    text = format_type5(rd, network)

    assert parse_type5(text) == (rd, network)
    capture = parse_route_table(
        "t.evpn.0: 1 destinations, 1 routes (1 active, 0 holddown, 0 hidden)\n"
        f"{text}\n                   *[EVPN/170] 00:00:01\n                       Indirect\n"
    )
    [route] = capture.routes
    assert (route.text, route.rd, route.prefix) == (text, rd, network.compressed)


# --------------------------------------------------------------------- fuzzing

fixture_lines = [line for name in ALL_FIXTURES for line in fixture_text(name).split("\n")]
capture_like_text = st.lists(
    st.one_of(st.sampled_from(fixture_lines), st.text(max_size=40)), max_size=30
).map("\n".join)


@given(st.one_of(st.text(), capture_like_text))
def test_random_text_raises_nothing_but_capture_error(text):
    for parse in (parse_capture, parse_route_table, parse_bgp_summary, parse_kernel_routes):
        try:
            parse(text)
        except CaptureError as error:
            assert error.line >= 1
            assert error.message


@given(st.lists(st.sampled_from(fixture_text(EXTENSIVE).split("\n")), max_size=60).map("\n".join))
def test_shuffled_extensive_lines_raise_nothing_but_capture_error(text):
    with contextlib.suppress(CaptureError):
        parse_capture(text)
