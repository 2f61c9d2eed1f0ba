"""`jcnrc verify`: the walkthrough's real captures against examples/aks-evpn-type5.yaml, and edited copies."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import HANG_GUARD, JCNRC, ROOT
from jcnrc.plan import expected as routes
from jcnrc.verify.compare import Finding, verify

CAPTURES = Path(__file__).parent / "fixtures" / "captures"
BRIEF = "vmss000002-show-route-blue-evpn.txt"
EXTENSIVE = "vmss000002-show-route-blue-evpn-extensive.txt"
BGP_SUMMARY = "vmss000002-show-bgp-summary.txt"
KERNEL = "vmss000002-ip-route-table-1.txt"
ALL = (BRIEF, EXTENSIVE, BGP_SUMMARY, KERNEL)
NODE2 = "aks-agentpool-23733201-vmss000002"


@pytest.fixture(scope="module")
def aks(compiled_examples):
    return compiled_examples["aks-evpn-type5.yaml"].plan


def text_of(name: str) -> str:
    return (CAPTURES / name).read_text(encoding="utf-8")


def edited(name: str, old: str, new: str, count: int = 1) -> str:
    text = text_of(name)
    assert text.count(old) >= count, f"{old!r} not in {name}"
    return text.replace(old, new, count)


def problems(findings: list[Finding]) -> list[str]:
    return [f.text() for f in findings if f.is_problem]


def notes(findings: list[Finding]) -> list[str]:
    return [f.text() for f in findings if not f.is_problem]


# --- the real captures ------------------------------------------------------------------------

def test_walkthrough_captures_verify_clean(aks):
    findings = verify(aks, NODE2, {name: text_of(name) for name in ALL})

    assert problems(findings) == []
    assert notes(findings) == [
        f"{BRIEF}: note: blue.evpn.0 (brief): 4 of 4 expected routes compared",
        f"{EXTENSIVE}: note: blue.evpn.0 (extensive): 2 of 4 expected routes compared",
        f"{EXTENSIVE}: note: capture is truncated; 2 expected routes not checked",
        f"{BGP_SUMMARY}: note: show bgp summary: 1 of 1 expected session Establ",
        f"{KERNEL}: note: kernel table 1 compared with VRF blue: 3 of its 3 routes are expected there",
        f"{KERNEL}: note: kernel table 1: 3 of 3 expected routes of VRF blue compared",
        (f"{KERNEL}: note: 3 expected IPv6 routes not checked: the capture holds no IPv6 route "
         "(capture `ip -6 route show table N` for them)"),
    ]


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*JCNRC, "verify", "examples/aks-evpn-type5.yaml", "--node", NODE2, *args],
                          capture_output=True, text=True, cwd=root, timeout=HANG_GUARD)


def test_cli_exits_0_on_the_walkthrough_captures(root):
    run = run_cli(root, *(str(CAPTURES / name) for name in ALL))

    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == f"{NODE2}: matches the intent"


def test_cli_exits_1_and_names_the_difference(root, tmp_path):
    capture = tmp_path / "brief.txt"
    capture.write_text(edited(BRIEF, "5:10.240.0.5:1::0::1.1.11.0::30/248\n", "5:10.240.0.5:2::0::1.1.11.0::30/248\n"))
    run = run_cli(root, str(capture))

    assert run.returncode == 1
    assert run.stdout.splitlines()[0] == (
        f"{capture}:6: route for 1.1.11.0/30 from 10.240.0.5 has RD 10.240.0.5:2, expected 10.240.0.5:1 "
        "(5:10.240.0.5:2::0::1.1.11.0::30/248 instead of 5:10.240.0.5:1::0::1.1.11.0::30/248)")
    assert run.stdout.splitlines()[-1] == f"{NODE2}: 1 difference(s)"


def test_cli_json_lists_findings(root, tmp_path):
    capture = tmp_path / "bgp.txt"
    capture.write_text(edited(BGP_SUMMARY, "2:54:25 Establ", "2:54:25 Active"))
    run = run_cli(root, str(capture), "--format", "json")

    assert run.returncode == 1
    findings = json.loads(run.stdout)
    assert findings[0] == {
        "capture": str(capture), "line": 13, "kind": "session-down", "problem": True,
        "message": "BGP session with 10.240.0.4 (route-reflector aks-agentpool-23733201-vmss000000) is Active, expected Establ",
        "subject": "10.240.0.4", "expected": "Establ", "found": "Active"}


# --- show route table: edited captures --------------------------------------------------------

REMOTE_V4 = "5:10.240.0.5:1::0::1.1.11.0::30/248"


def test_a_removed_route_is_missing(aks):
    text = edited(BRIEF, REMOTE_V4 + "\n                   *[BGP/170] 01:38:47, localpref 100, from 10.240.0.4\n"
                  "                      AS path: I, validation-state: unverified\n"
                  "                    >  to 10.240.0.5 via eth0\n", "")
    findings = verify(aks, NODE2, {"brief": text})

    assert problems(findings) == [
        f"brief: missing route {REMOTE_V4} in blue.evpn.0 (expected BGP from 10.240.0.4, VNI 10002)"]


def test_an_extra_route_is_unexpected_and_its_origin_explained(aks):
    extra = "5:10.240.0.5:1::0::1.1.33.0::30/248\n                   *[BGP/170] 01:38:47, localpref 100, from 10.240.0.4\n"
    findings = verify(aks, NODE2, {"brief": text_of(BRIEF) + extra})

    assert problems(findings) == [
        ("brief:20: unexpected route 5:10.240.0.5:1::0::1.1.33.0::30/248 in blue.evpn.0 (node "
         "aks-agentpool-23733201-vmss000001 in VRF blue advertises no prefix 1.1.33.0/30 in the intent)")]


def test_a_route_from_an_unknown_node_says_so(aks):
    extra = "5:10.240.0.77:1::0::1.1.33.0::30/248\n                   *[BGP/170] 01:38:47, localpref 100, from 10.240.0.4\n"
    [problem] = problems(verify(aks, NODE2, {"brief": text_of(BRIEF) + extra}))

    assert problem.endswith("(RD 10.240.0.77:1: 10.240.0.77 is no node of the intent)")


def test_a_changed_vni_fails_with_both_values(aks):
    text = edited(EXTENSIVE, "Route Label: 10002", "Route Label: 10003")
    findings = verify(aks, NODE2, {"extensive": text})

    assert problems(findings) == [f"extensive:4: route {REMOTE_V4} has VNI 10003, expected 10002 (VRF blue)"]
    [finding] = [f for f in findings if f.is_problem]
    assert (finding.kind, finding.expected, finding.found) == ("wrong-vni", 10002, 10003)


def test_a_changed_route_target_fails(aks):
    text = edited(EXTENSIVE, "Communities: target:11:11", "Communities: target:11:12")

    assert problems(verify(aks, NODE2, {"extensive": text})) == [
        f"extensive:4: route {REMOTE_V4} carries target:11:12, expected target:11:11 (exported by VRF blue)"]


def test_a_learned_route_without_target_fails_but_a_local_one_may_lack_it(aks):
    text = edited(EXTENSIVE, "Communities: target:11:11 ", "Communities: ")

    assert problems(verify(aks, NODE2, {"extensive": text})) == [
        f"extensive:4: route {REMOTE_V4} carries no route target, expected target:11:11 (exported by VRF blue)"]


def test_a_wrong_protocol_next_hop_fails(aks):
    text = edited(EXTENSIVE, "Protocol next hop: 10.240.0.5", "Protocol next hop: 10.240.0.9")

    assert problems(verify(aks, NODE2, {"extensive": text})) == [
        (f"extensive:4: route {REMOTE_V4} has protocol next hop 10.240.0.9, expected 10.240.0.5 "
         "(node aks-agentpool-23733201-vmss000001)")]


def test_a_route_learned_from_a_non_reflector_fails(aks):
    text = edited(BRIEF, "from 10.240.0.4", "from 10.240.0.5")

    assert problems(verify(aks, NODE2, {"brief": text})) == [
        f"brief:6: route {REMOTE_V4} is learned from 10.240.0.5, expected from route reflector 10.240.0.4"]


def test_a_local_route_learned_over_bgp_fails(aks):
    text = edited(BRIEF, "*[EVPN/170] 01:38:48", "*[BGP/170] 01:38:48, localpref 100, from 10.240.0.4")

    assert problems(verify(aks, NODE2, {"brief": text})) == [
        "brief:10: route 5:10.240.0.6:1::0::1.1.22.0::30/248 is BGP, expected EVPN, originated here, VNI 10002"]


def test_an_inactive_route_fails(aks):
    text = edited(BRIEF, "*[BGP/170] 01:38:47", "[BGP/170] 01:38:47")

    assert problems(verify(aks, NODE2, {"brief": text})) == [
        f"brief:6: route {REMOTE_V4} is not active (no entry marked * or +)"]


def test_truncated_capture_hides_no_extra_destination(aks):
    text = edited(EXTENSIVE, "4 destinations, 4 routes (4 active", "5 destinations, 5 routes (5 active")

    assert problems(verify(aks, NODE2, {"extensive": text})) == [
        "extensive: blue.evpn.0 holds 5 destinations by its header line, expected 4"]


def test_a_table_of_a_vrf_not_on_the_node_is_unexpected(aks):
    text = edited(BRIEF, "blue.evpn.0: 4 destinations", "red.evpn.0: 4 destinations")

    assert problems(verify(aks, NODE2, {"red": text})) == [
        "red: table red.evpn.0 belongs to no VRF of the intent (VRFs: blue)"]


# --- show bgp summary ----------------------------------------------------------------------------

def test_an_active_session_fails(aks):
    text = edited(BGP_SUMMARY, "2:54:25 Establ", "2:54:25 Active")

    assert problems(verify(aks, NODE2, {"bgp": text})) == [
        "bgp:13: BGP session with 10.240.0.4 (route-reflector aks-agentpool-23733201-vmss000000) is Active, expected Establ"]


def test_a_missing_and_an_unexpected_peer_fail(aks):
    text = edited(BGP_SUMMARY, "10.240.0.4            64512", "10.240.0.5            64512")

    assert problems(verify(aks, NODE2, {"bgp": text})) == [
        "bgp: no BGP session with 10.240.0.4 (route-reflector aks-agentpool-23733201-vmss000000); expected Establ",
        ("bgp:13: unexpected BGP peer 10.240.0.5 (AS 64512, Establ): node aks-agentpool-23733201-vmss000001 is a worker; "
         "a worker peers only with the route reflectors"),
    ]


def test_a_peer_in_another_as_fails(aks):
    text = edited(BGP_SUMMARY, "10.240.0.4            64512", "10.240.0.4            64999")

    assert problems(verify(aks, NODE2, {"bgp": text})) == [
        "bgp:13: BGP peer 10.240.0.4 (route-reflector aks-agentpool-23733201-vmss000000) is in AS 64999, expected AS 64512"]


def test_the_route_reflector_expects_every_client(aks):
    findings = verify(aks, "aks-agentpool-23733201-vmss000000", {"bgp": text_of(BGP_SUMMARY)})

    assert problems(findings) == [
        "bgp: no BGP session with 10.240.0.5 (client aks-agentpool-23733201-vmss000001); expected Establ",
        "bgp: no BGP session with 10.240.0.6 (client aks-agentpool-23733201-vmss000002); expected Establ",
        "bgp:13: unexpected BGP peer 10.240.0.4 (AS 64512, Establ): this node itself",
    ]


# --- ip route show table N ----------------------------------------------------------------------

def test_a_wrong_encap_vni_fails(aks):
    text = edited(KERNEL, "encap ip id 10002", "encap ip id 10003")

    assert problems(verify(aks, NODE2, {"ip": text})) == [
        ("ip:2: kernel route 1.1.11.0/30 has encap id 10003, expected 10002 "
         "(`1.1.11.0/30 encap ip id 10002 src 10.240.0.6 dst 10.240.0.5`)")]


def test_a_wrong_encap_destination_fails(aks):
    text = edited(KERNEL, "dst 10.240.0.5", "dst 10.240.0.9")

    assert problems(verify(aks, NODE2, {"ip": text})) == [
        ("ip:2: kernel route 1.1.11.0/30 goes to 10.240.0.9, expected 10.240.0.5 (node aks-agentpool-23733201-vmss000001) "
         "(`1.1.11.0/30 encap ip id 10002 src 10.240.0.6 dst 10.240.0.5`)")]


def test_missing_and_unexpected_kernel_routes_fail(aks):
    text = edited(KERNEL, "1.1.11.0/30  encap", "1.1.12.0/30  encap")

    assert problems(verify(aks, NODE2, {"ip": text})) == [
        "ip: missing kernel route `1.1.11.0/30 encap ip id 10002 src 10.240.0.6 dst 10.240.0.5` in kernel table 1 (VRF blue)",
        ("ip:2: unexpected kernel route `1.1.12.0/30 encap ip id 10002 src 10.240.0.6 dst 10.240.0.5 ttl 255 tos 0 via "
         "10.240.0.5 dev irb proto 22 onlink` in kernel table 1 (VXLAN id 10002 to 10.240.0.5, node "
         "aks-agentpool-23733201-vmss000001; VRF blue installs no such prefix)"),
    ]


def test_a_missing_pod_host_route_fails(aks):
    text = edited(KERNEL, "1.1.22.2 via 1.1.22.2 dev vethnet1-55eed2 proto 22\n", "")

    assert problems(verify(aks, NODE2, {"ip": text})) == [
        "ip: missing kernel route `1.1.22.2 via 1.1.22.2 dev <veth> proto 22` in kernel table 1 (VRF blue)"]


def test_kernel_capture_is_matched_to_the_vrf_it_overlaps_most(compiled_examples):
    plan = compiled_examples["allocated.yaml"].plan
    node = "ip-192-168-1-11.ec2.internal"  # du-1 (red, mgmt) and cu-2 (blue)
    tables = {t.vrf: t for t in routes.node_state(plan, node).tables}
    mgmt_lines = "\n".join(k.text.replace("<veth>", "veth0") for k in tables["mgmt"].kernel_ipv4) + "\n"
    findings = verify(plan, node, {"ip": "# ip route show table 3\n" + mgmt_lines})

    assert problems(findings) == []
    assert notes(findings)[0] == "ip: note: kernel table 3 compared with VRF mgmt: 3 of its 3 routes are expected there"


def test_a_kernel_capture_matching_no_vrf_of_the_node_fails(compiled_examples):
    plan = compiled_examples["allocated.yaml"].plan
    findings = verify(plan, "ip-192-168-1-11.ec2.internal", {"ip": "9.9.9.0/30 dev eth9 proto kernel scope link src 9.9.9.1\n"})

    assert problems(findings) == [
        ("ip: cannot tell which VRF the kernel table belongs to: none of its routes is expected in any VRF of "
         "ip-192-168-1-11.ec2.internal (blue, mgmt, red)")]


# --- unreadable input ----------------------------------------------------------------------------

def test_an_unreadable_capture_is_a_problem_with_its_line(aks):
    [finding] = verify(aks, NODE2, {"junk": "root@x> show version\nJunos: 21.2R1\n"})

    assert finding.is_problem and finding.kind == "unreadable"
    assert finding.text().startswith("junk:2: cannot read the capture: unrecognized capture for the command 'show version'")


def test_cli_an_unreadable_capture_is_a_usage_error(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from jcnrc.cli import app

    capture = tmp_path / "brief.txt"
    capture.write_text(BRIEF)
    real_read_text = Path.read_text

    def refuse_the_capture(path, *args, **kwargs):
        if path == capture:
            raise PermissionError(13, "Permission denied")
        return real_read_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refuse_the_capture)
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    run = CliRunner().invoke(app, ["verify", "examples/aks-evpn-type5.yaml", "--node", NODE2, str(capture)])
    assert run.exit_code == 2 and f"jcnrc: error: {capture}: Permission denied" in run.output, run.output


def test_an_unexpected_peer_is_named_by_its_fabric_address_under_jcnr(tmp_path):
    """JCNR sessions run between fabric addresses: a stray peer there is still named as the node it is."""
    from jcnrc.pipeline import Options, compile_intent

    result = compile_intent(ROOT / "examples" / "aks-evpn-type5.yaml", Options(target="jcnr"),
                            display_name="aks-evpn-type5.yaml")
    assert result.plan is not None
    worker = result.plan.node("aks-agentpool-23733201-vmss000001")
    text = edited(BGP_SUMMARY, "10.240.0.4            64512", f"{worker.ipv4_loopback}            64512")
    found = problems(verify(result.plan, NODE2, {"bgp": text}))
    assert (f"bgp:13: unexpected BGP peer {worker.ipv4_loopback} (AS 64512, Establ): node {worker.name} is a worker; "
            "a worker peers only with the route reflectors") in found
    assert worker.ipv4_loopback == "10.241.0.5" != worker.address
