"""jcnrc/verify/report.py: the JUnit XML and JSON reports of `jcnrc verify`, on the walkthrough's real
captures (tests/fixtures/captures/) and on edited copies."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from conftest import HANG_GUARD, JCNRC, ROOT, compile_example
from jcnrc.verify import report
from jcnrc.verify.compare import verify

CAPTURES = Path(__file__).parent / "fixtures" / "captures"
BRIEF = "vmss000002-show-route-blue-evpn.txt"
EXTENSIVE = "vmss000002-show-route-blue-evpn-extensive.txt"
BGP_SUMMARY = "vmss000002-show-bgp-summary.txt"
KERNEL = "vmss000002-ip-route-table-1.txt"
ALL = (BRIEF, EXTENSIVE, BGP_SUMMARY, KERNEL)
INTENT = "examples/aks-evpn-type5.yaml"
NODE2 = "aks-agentpool-23733201-vmss000002"
REMOTE_V6 = "5:10.240.0.5:1::0::abcd::101:b00::126/248"
REMOTE_V6_ENTRY = (REMOTE_V6 + "\n                   *[BGP/170] 01:38:47, localpref 100, from 10.240.0.4\n"
                   "                      AS path: I, validation-state: unverified\n"
                   "                    >  to 10.240.0.5 via eth0\n")


@pytest.fixture(scope="module")
def aks(compiled_examples):
    return compiled_examples["aks-evpn-type5.yaml"].plan


def text_of(name: str) -> str:
    return (CAPTURES / name).read_text(encoding="utf-8")


def edited(name: str, old: str, new: str) -> str:
    text = text_of(name)
    assert old in text, f"{old!r} not in {name}"
    return text.replace(old, new, 1)


def walkthrough(**replaced: str) -> dict[str, str]:
    """The four real captures, by file name; `replaced` swaps one's text (keyword: BRIEF, ...)."""
    texts = {name: text_of(name) for name in ALL}
    names = {"BRIEF": BRIEF, "EXTENSIVE": EXTENSIVE, "BGP_SUMMARY": BGP_SUMMARY, "KERNEL": KERNEL}
    texts.update({names[key]: text for key, text in replaced.items()})
    return texts


def report_of(plan, texts: dict[str, str], node: str = NODE2, **options) -> report.Report:
    return report.Report(INTENT, (report.verify_node(plan, node, texts, **options),))


# --- the JUnit schema -----------------------------------------------------------------------------

# The elements and attributes of Jenkins' JUnit schema (jenkinsci/xunit-plugin, junit-10.xsd), which
# GitLab and GitHub reporters read too: {element: (allowed attributes, required attributes, children)}.
JUNIT_10 = {
    "testsuites": ({"name", "time", "tests", "failures", "errors"}, set(), {"testsuite"}),
    "testsuite": ({"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname", "id",
                   "package", "file", "log", "url"}, {"name", "tests", "failures", "errors"},
                  {"testsuite", "properties", "testcase", "system-out", "system-err"}),
    "properties": (set(), set(), {"property"}),
    "property": ({"name", "value"}, {"name", "value"}, set()),
    "testcase": ({"name", "time", "classname", "group"}, {"name"},
                 {"skipped", "error", "failure", "rerunFailure", "rerunError", "flakyFailure", "flakyError",
                  "system-out", "system-err"}),
    "failure": ({"type", "message"}, set(), set()),
    "error": ({"type", "message"}, set(), set()),
    "skipped": ({"type", "message"}, set(), set()),
    "system-out": (set(), set(), set()),
    "system-err": (set(), set(), set()),
}
SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")
# Ant's stricter schema also fixes the order of a testsuite's children.
SUITE_ORDER = ["properties", "testcase", "system-out", "system-err"]


def valid_junit(xml: str) -> ET.Element:
    """The document parsed, after checking it against junit-10.xsd's rules and its own counts."""
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    for element in root.iter():
        allowed, required, children = JUNIT_10[element.tag]
        assert set(element.attrib) <= allowed, (element.tag, set(element.attrib) - allowed)
        assert required <= set(element.attrib), (element.tag, required - set(element.attrib))
        assert {child.tag for child in element} <= children, element.tag
        if element.tag in ("testsuites", "testsuite") and "time" in element.attrib:
            assert SUREFIRE_TIME.fullmatch(element.attrib["time"]), element.attrib["time"]
    for suite in root.findall("testsuite"):
        order = [SUITE_ORDER.index(child.tag) for child in suite]
        assert order == sorted(order), [child.tag for child in suite]
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(suite.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
        assert int(suite.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None)
    for total in ("tests", "failures", "errors"):
        assert int(root.get(total)) == sum(int(s.get(total)) for s in root.findall("testsuite"))
    return root


def cases_by_status(suite: ET.Element) -> dict[str, list[ET.Element]]:
    found: dict[str, list[ET.Element]] = {"passed": [], "failure": [], "error": [], "skipped": []}
    for case in suite.findall("testcase"):
        kinds = [tag for tag in ("failure", "error", "skipped") if case.find(tag) is not None]
        found[kinds[0] if kinds else "passed"].append(case)
    return found


# --- the real captures ----------------------------------------------------------------------------

def test_findings_of_parsed_captures_are_those_of_compare_verify(aks):
    edits = [walkthrough(), walkthrough(BRIEF=edited(BRIEF, REMOTE_V6_ENTRY, "")),
             walkthrough(BGP_SUMMARY=edited(BGP_SUMMARY, "2:54:25 Establ", "2:54:25 Active")),
             walkthrough(EXTENSIVE=edited(EXTENSIVE, "Route Label: 10002", "Route Label: 10003")),
             walkthrough(KERNEL=edited(KERNEL, "encap ip id 10002", "encap ip id 10003")),
             {"junk": "root@x> show version\nJunos: 21.2R1\n"}]
    for texts in edits:
        assert report.check_captures(aks, NODE2, report.parse_captures(texts)) == verify(aks, NODE2, texts)


def test_walkthrough_junit_is_clean_one_suite_one_case_per_check(aks):
    root = valid_junit(report.to_junit(report_of(aks, walkthrough())))

    [suite] = root.findall("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        NODE2, "11", "0", "0", "3")
    assert {p.get("name"): p.get("value") for p in suite.find("properties")} == {
        "intent": INTENT, "node": NODE2, "role": "worker", "address": "10.240.0.6", "source": "captures"}
    groups = [case.get("classname") for case in suite.findall("testcase")]
    assert groups == [f"{NODE2}.bgp"] + [f"{NODE2}.evpn"] * 4 + [f"{NODE2}.kernel"] * 6
    by_status = cases_by_status(suite)
    assert [c.get("name") for c in by_status["skipped"]] == [
        "kernel table of VRF blue: abcd::101:b00/126 encap ip id 10002 src 10.240.0.6 dst 10.240.0.5",
        "kernel table of VRF blue: abcd::101:1600/126 dev <veth> proto kernel scope link",
        "kernel table of VRF blue: abcd::101:1602 via abcd::101:1602 dev <veth> proto 22"]
    assert {c.find("skipped").get("message") for c in by_status["skipped"]} == {
        "not checked: the kernel capture holds no IPv6 route (capture `ip -6 route show table N`)"}
    assert by_status["passed"][0].get("name") == (
        "BGP session with 10.240.0.4 (route-reflector aks-agentpool-23733201-vmss000000) is Established")
    assert by_status["passed"][1].get("name") == (
        "blue.evpn.0: 5:10.240.0.5:1::0::1.1.11.0::30/248 learned from 10.240.0.4, protocol next hop 10.240.0.5, "
        "VNI 10002, target:11:11")
    notes = suite.find("system-out").text.splitlines()
    assert notes == [f.text() for f in verify(aks, NODE2, walkthrough()) if not f.is_problem]


def test_a_route_seen_only_in_a_brief_capture_passes_and_says_what_was_not_compared(aks):
    node = report_of(aks, walkthrough()).nodes[0]
    checks = {c.id: c for c in node.checks}

    assert checks["evpn:blue.evpn.0:5:10.240.0.5:1::0::1.1.11.0::30/248"].notes == ()  # in the extensive capture
    assert checks[f"evpn:blue.evpn.0:{REMOTE_V6}"].status == "passed"
    assert checks[f"evpn:blue.evpn.0:{REMOTE_V6}"].notes == (
        "VNI, route targets and protocol next hop not compared: no `extensive` capture of blue.evpn.0 shows this route",)


def test_walkthrough_json_report_has_totals_and_one_object_per_node(aks):
    data = json.loads(report.to_json(report_of(aks, walkthrough())))

    assert data["format"] == "jcnrc.verify.report/v1" and data["intent"] == INTENT and data["ok"] is True
    assert data["totals"] == {"nodes": 1, "nodesOk": 1, "checks": 11, "passed": 8, "failed": 0, "error": 0,
                              "skipped": 3}
    [node] = data["nodes"]
    assert (node["node"], node["name"], node["cluster"], node["role"], node["source"], node["pod"]) == (
        NODE2, NODE2, None, "worker", "captures", None)
    assert node["totals"] == {"checks": 11, "passed": 8, "failed": 0, "error": 0, "skipped": 3, "problems": 0,
                              "notes": 7}
    assert node["findings"] == [f.to_data() for f in verify(aks, NODE2, walkthrough())]
    assert [c["name"] for c in node["captures"]] == list(ALL)
    assert [c["id"] for c in node["checks"]][:2] == ["bgp:10.240.0.4", "evpn:blue.evpn.0:5:10.240.0.5:1::0::1.1.11.0::30/248"]
    assert json.loads(report.to_json(report_of(aks, walkthrough()))) == data  # deterministic


# --- edited captures ------------------------------------------------------------------------------

def test_a_missing_route_fails_exactly_one_testcase(aks):
    built = report_of(aks, walkthrough(BRIEF=edited(BRIEF, REMOTE_V6_ENTRY, "")))
    root = valid_junit(report.to_junit(built))

    [suite] = root.findall("testsuite")
    assert (root.get("failures"), root.get("errors"), suite.get("failures"), suite.get("skipped")) == ("1", "0", "1", "3")
    [case] = cases_by_status(suite)["failure"]
    assert case.get("name").startswith(f"blue.evpn.0: {REMOTE_V6} learned from 10.240.0.4")
    failure = case.find("failure")
    message = f"missing route {REMOTE_V6} in blue.evpn.0 (expected BGP from 10.240.0.4, VNI 10002)"
    assert (failure.get("type"), failure.get("message"), failure.text) == ("missing-route", message, f"{BRIEF}: {message}")

    data = report.to_data(built)
    assert data["ok"] is False and data["totals"]["failed"] == 1 and data["totals"]["checks"] == 11
    [failed] = [c for c in data["nodes"][0]["checks"] if c["status"] == "failed"]
    assert (failed["id"], failed["message"]) == (f"evpn:blue.evpn.0:{REMOTE_V6}", message)
    assert [f["kind"] for f in failed["findings"]] == ["missing-route"]


def test_an_unexpected_route_is_a_failed_testcase_of_its_own(aks):
    extra = "5:10.240.0.5:1::0::1.1.33.0::30/248\n                   *[BGP/170] 01:38:47, localpref 100, from 10.240.0.4\n"
    node = report_of(aks, walkthrough(BRIEF=text_of(BRIEF) + extra)).nodes[0]

    [failed] = [c for c in node.checks if c.status == "failed"]
    assert (failed.id, failed.group, failed.name) == (
        "evpn:unexpected-route:5:10.240.0.5:1::0::1.1.33.0::30/248", "evpn",
        "unexpected-route: 5:10.240.0.5:1::0::1.1.33.0::30/248")
    assert len(node.checks) == 12 and node.count("passed") == 8


def test_a_session_down_fails_its_bgp_check(aks):
    node = report_of(aks, walkthrough(BGP_SUMMARY=edited(BGP_SUMMARY, "2:54:25 Establ", "2:54:25 Active"))).nodes[0]

    assert [(c.id, c.status, c.message) for c in node.checks if c.status != "passed" and c.group == "bgp"] == [
        ("bgp:10.240.0.4", "failed", ("BGP session with 10.240.0.4 (route-reflector aks-agentpool-23733201-vmss000000) "
                                      "is Active, expected Establ"))]


def test_a_wrong_vni_and_a_wrong_kernel_route_fail_their_own_checks(aks):
    node = report_of(aks, walkthrough(EXTENSIVE=edited(EXTENSIVE, "Route Label: 10002", "Route Label: 10003"),
                                      KERNEL=edited(KERNEL, "dst 10.240.0.5", "dst 10.240.0.9"))).nodes[0]

    assert [(c.id, [f.kind for f in c.findings]) for c in node.checks if c.status == "failed"] == [
        ("evpn:blue.evpn.0:5:10.240.0.5:1::0::1.1.11.0::30/248", ["wrong-vni"]),
        ("kernel:blue:1.1.11.0/30", ["wrong-kernel-dst"])]


def test_an_unreadable_capture_is_an_error_and_its_checks_are_skipped(aks):
    built = report_of(aks, {"junk.txt": "root@x> show version\nJunos: 21.2R1\n"})
    root = valid_junit(report.to_junit(built))

    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("12", "0", "1")
    [case] = cases_by_status(root.find("testsuite"))["error"]
    assert case.find("error").get("type") == "unreadable" and case.get("classname") == f"{NODE2}.capture"
    skipped = {c.id: c.message for c in built.nodes[0].checks if c.status == "skipped"}
    assert skipped["bgp:10.240.0.4"] == "not checked: no capture of `show bgp summary`"
    assert skipped[f"evpn:blue.evpn.0:{REMOTE_V6}"] == "not checked: no capture of `show route table blue.evpn.0`"
    assert skipped["kernel:blue:1.1.22.2"] == "not checked: no capture of the kernel table of VRF blue (`ip route show table N`)"


def test_routes_cut_by_the_snip_marker_are_skipped_not_passed(aks):
    node = report_of(aks, {EXTENSIVE: text_of(EXTENSIVE)}).nodes[0]

    evpn = [(c.status, c.message) for c in node.checks if c.group == "evpn"]
    assert evpn == [("passed", None), ("passed", None),
                    ("skipped", "the capture of blue.evpn.0 is truncated before this route"),
                    ("skipped", "the capture of blue.evpn.0 is truncated before this route")]


def test_what_captures_quote_cannot_escape_into_the_xml_or_the_terminal(aks):
    name = "evil\x1b[2J\u202e.txt"
    extra = "5:10.240.0.5:1::0::1.1.33.0::30/248\n                   *[BGP/170] 01:38:47, localpref 100, from 10.240.0.4\n"
    built = report_of(aks, {name: text_of(BRIEF) + extra})
    xml = report.to_junit(built)

    valid_junit(xml)
    assert "\x1b" not in xml and "\u202e" not in xml and "evil\\x1b[2J\\u202e.txt" in xml
    assert "\x1b" not in report.to_text(built) and "\u202e" not in report.to_json(built)


# --- other shapes ---------------------------------------------------------------------------------

def test_the_text_form_is_what_the_cli_prints_for_captures(aks, root):
    run = subprocess.run([*JCNRC, "verify", INTENT, "--node", NODE2, *(str(CAPTURES / n) for n in ALL)],
                         capture_output=True, text=True, cwd=root, timeout=HANG_GUARD)
    texts = {str(CAPTURES / n): text_of(n) for n in ALL}

    assert run.returncode == 0, run.stderr
    assert run.stdout == report.to_text(report_of(aks, texts))


def test_several_nodes_are_several_testsuites_with_totals(aks):
    master = "aks-agentpool-23733201-vmss000000"
    built = report.Report(INTENT, (report.verify_node(aks, NODE2, walkthrough()),
                                   report.verify_node(aks, master, {BGP_SUMMARY: text_of(BGP_SUMMARY)})))
    root = valid_junit(report.to_junit(built))

    assert [s.get("name") for s in root.findall("testsuite")] == [NODE2, master]
    # The route reflector expects both workers and sees itself: 2 failed sessions and 1 unexpected peer.
    assert (root.get("tests"), root.get("failures")) == ("14", "3")
    data = report.to_data(built)
    assert data["totals"] == {"nodes": 2, "nodesOk": 1, "checks": 14, "passed": 8, "failed": 3, "error": 0,
                              "skipped": 3}
    verdicts = [line for line in report.to_text(built).splitlines() if ": note: " not in line and "BGP" not in line]
    assert verdicts == [f"{NODE2}: matches the intent", f"{master}: 3 difference(s)",
                        "2 nodes: 1 match the intent, 1 differ"]


def test_a_jcnr_node_has_no_kernel_check(root):
    # JCNR forwards in the DPDK vRouter: `ip route` shows none of its tables (docs/jcnr.md).
    plan = compile_example(root / INTENT, target="jcnr").plan
    node = report.verify_node(plan, NODE2, {})

    assert [(c.group, c.status) for c in node.checks] == [("bgp", "skipped")] + [("evpn", "skipped")] * 4


def test_a_fleet_node_is_named_with_its_cluster(compiled_fleets):
    fleet = compiled_fleets["tri-fleet.yaml"].fleet
    reference = next(r for r in fleet.node_references() if r.startswith("east/"))
    cluster, name = fleet.resolve_node(reference)
    built = report.Report("tri.yaml", (report.verify_node(cluster.plan, name, {}, label=reference, cluster="east"),))
    suite = valid_junit(report.to_junit(built)).find("testsuite")

    assert suite.get("name") == reference
    assert {p.get("name"): p.get("value") for p in suite.find("properties")}["cluster"] == "east"
    assert suite.get("tests") == suite.get("skipped")  # nothing captured: every check skipped, none failed
    assert report.to_data(built)["nodes"][0]["cluster"] == "east"


def test_every_json_key_is_documented(aks):
    live_node = report.node_report(aks, NODE2, report.parse_captures(walkthrough()), verify(aks, NODE2, walkthrough()),
                                   source="live", pod=report.PodInfo("kube-system", "kube-crpd-worker-ds-8xk2p",
                                                                     "kube-crpd-worker", "aks"),
                                   captures=(report.CaptureInfo("show bgp summary", ("kubectl", "exec"), True),))
    broken = report.verify_node(aks, NODE2, walkthrough(BRIEF=edited(BRIEF, REMOTE_V6_ENTRY, "")))
    data = report.to_data(report.Report(INTENT, (live_node, broken)))
    documented = (ROOT / "docs" / "verify.md").read_text(encoding="utf-8")
    keys: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            keys.update(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)
    missing = sorted(k for k in keys if f"`{k}`" not in documented)
    assert not missing, f"keys not described in docs/verify.md: {missing}"
    assert live_node.checks[0].id == "pod" and live_node.checks[0].status == "passed"
