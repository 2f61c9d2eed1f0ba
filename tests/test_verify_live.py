"""`jcnrc verify --live` (jcnrc/verify/live.py) against a fake kubectl (tests/fixtures/fake_kubectl/) that
replays the walkthrough's real captures for its worker aks-agentpool-23733201-vmss000002 and records its
arguments. No test needs a cluster or a real kubectl: PATH holds only the fake, behind `OVERLAY`, which
answers `get pods` with a pod list a test gives and makes a call print a given number of bytes."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml

from conftest import HANG_GUARD, JCNRC, compile_example
from jcnrc.verify import live, report
from jcnrc.verify.capture import parse_bgp_summary, parse_kernel_routes, parse_route_table
from jcnrc.verify.compare import verify

FIXTURES = Path(__file__).parent / "fixtures"
CAPTURES = FIXTURES / "captures"
FAKE = FIXTURES / "fake_kubectl"
INTENT = "examples/aks-evpn-type5.yaml"
NODES = [f"aks-agentpool-23733201-vmss00000{i}" for i in range(3)]
NODE2 = NODES[2]
POD = ["-n", "kube-system", "kube-crpd-worker-ds-8xk2p", "-c", "kube-crpd-worker", "--"]
GET_PODS = ["get", "pods", "-n", "kube-system", "-o", "json", "--field-selector", f"spec.nodeName={NODE2}",
            "-l", "name in (kube-crpd-master-ds,kube-crpd-worker-ds)"]


@pytest.fixture(scope="module")
def aks(compiled_examples):
    return compiled_examples["aks-evpn-type5.yaml"].plan


class FakeKubectl:
    def __init__(self, log: Path) -> None:
        self.log = log

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]


# In front of the fixture's fake: with FAKE_KUBECTL_PODS (a JSON file holding a list of pods), `get pods`
# answers with that list; with FAKE_KUBECTL_PRINT=`<call>:<stream>:<bytes>`, a call whose first word is
# <call> (`get`, `exec`) prints that many bytes to stdout or stderr and exits 0. Everything else, and
# the log of every call, is the fixture's.
OVERLAY = r"""
import json, os, runpy, sys

FIXTURE = sys.argv.pop(1)  # the fixture's fake, which then sees the arguments as kubectl's
args = sys.argv[1:]


def record():
    with open(os.environ["FAKE_KUBECTL_LOG"], "a", encoding="utf-8") as out:
        out.write(json.dumps(args) + "\n")


printing = os.environ.get("FAKE_KUBECTL_PRINT")
if printing and args[:1] == [printing.split(":")[0]]:
    record()
    _, stream, count = printing.split(":")
    out = getattr(sys, stream).buffer
    left = int(count)
    while left:  # in chunks, as a pod's output comes; a reader that stops reading kills us here
        out.write(b"A" * min(left, 65536))
        left -= min(left, 65536)
    sys.exit(0)
if os.environ.get("FAKE_KUBECTL_PODS") and args[:2] == ["get", "pods"]:
    record()
    with open(os.environ["FAKE_KUBECTL_PODS"], encoding="utf-8") as pods:
        sys.stdout.write(json.dumps({"apiVersion": "v1", "kind": "List", "items": json.load(pods)}) + "\n")
    sys.exit(0)
runpy.run_path(FIXTURE, run_name="__main__")
"""


@pytest.fixture
def kubectl(tmp_path, monkeypatch) -> FakeKubectl:
    """The fake as `kubectl`, alone on PATH. A small sh wrapper runs it with this interpreter, so the test
    depends neither on the fixture's executable bit nor on which python3 is installed."""
    folder = tmp_path / "bin"
    folder.mkdir()
    overlay = tmp_path / "overlay.py"
    overlay.write_text(OVERLAY, encoding="utf-8")
    wrapper = folder / "kubectl"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(overlay))} '
                       f'{shlex.quote(str(FAKE / "kubectl"))} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    for name in ("FAKE_KUBECTL_STRUCTURED", "FAKE_KUBECTL_CAPTURES", "FAKE_KUBECTL_CONTEXTS", "FAKE_KUBECTL_POD_PHASE",
                 "FAKE_KUBECTL_WAITING", "FAKE_KUBECTL_POD_LABEL", "FAKE_KUBECTL_FORBID_EXEC", "FAKE_KUBECTL_PODS",
                 "FAKE_KUBECTL_PRINT"):
        monkeypatch.delenv(name, raising=False)
    log = tmp_path / "kubectl.log"
    monkeypatch.setenv("FAKE_KUBECTL_LOG", str(log))
    return FakeKubectl(log)


def run_live(plan, names=(NODE2,), contexts=(), **options) -> report.Report:
    return live.run(INTENT, plan, None, list(names), list(contexts), jobs=1, **options)


def statuses(node: report.NodeReport) -> list[tuple[str, str]]:
    return [(c.id, c.status) for c in node.checks]


def problems(node: report.NodeReport) -> list[str]:
    return [f.text() for f in node.findings if f.is_problem]


# --- the walkthrough node, text and structured -----------------------------------------------------

def test_text_output_replays_the_real_captures_with_these_kubectl_calls(aks, kubectl):
    built = run_live(aks)

    assert kubectl.calls() == [
        GET_PODS,
        ["exec", *POD, "cli", "-c", "show bgp summary | display json"],
        ["exec", *POD, "cli", "-c", "show bgp summary"],
        # The CLI gave no JSON once: the pod is not asked for JSON again.
        ["exec", *POD, "cli", "-c", "show route table blue.evpn.0 extensive"],
        ["exec", *POD, "ip", "-j", "-d", "link", "show", "type", "vrf"],
        ["exec", *POD, "ip", "vrf", "show"],
        ["exec", *POD, "ip", "route", "show", "table", "1"],
        ["exec", *POD, "ip", "-6", "route", "show", "table", "1"],
    ]
    [node] = built.nodes
    assert built.ok and node.pod == report.PodInfo("kube-system", "kube-crpd-worker-ds-8xk2p", "kube-crpd-worker", None)
    # The same notes as the saved captures give, the extensive one cut after its second route.
    saved = {"show bgp summary": "vmss000002-show-bgp-summary.txt",
             "show route table blue.evpn.0 extensive": "vmss000002-show-route-blue-evpn-extensive.txt",
             "ip route show table 1": "vmss000002-ip-route-table-1.txt"}
    expected = [f for name, file in saved.items()
                for f in verify(aks, NODE2, {name: (CAPTURES / file).read_text(encoding="utf-8")})]
    assert [f for f in node.findings if f.kind != "text-output"] == expected
    assert [f.text() for f in node.findings if f.kind == "text-output"] == [
        "show bgp summary: note: `show bgp summary | display json` gave no JSON document; compared the text output",
        "ip vrf show: note: `ip -j -d link show type vrf` gave no JSON document; compared the text output"]
    assert [s for _, s in statuses(node)] == ["passed"] * 4 + ["skipped"] * 2 + ["passed"] * 3 + ["skipped"] * 3


def test_structured_output_checks_every_route_in_full(aks, kubectl, monkeypatch):
    monkeypatch.setenv("FAKE_KUBECTL_STRUCTURED", "1")
    built = run_live(aks)

    assert kubectl.calls() == [
        GET_PODS,
        ["exec", *POD, "cli", "-c", "show bgp summary | display json"],
        ["exec", *POD, "cli", "-c", "show route table blue.evpn.0 extensive | display json"],
        ["exec", *POD, "ip", "-j", "-d", "link", "show", "type", "vrf"],
        ["exec", *POD, "ip", "-j", "route", "show", "table", "1"],
        ["exec", *POD, "ip", "-j", "-6", "route", "show", "table", "1"],
    ]
    [node] = built.nodes
    assert problems(node) == []
    assert [s for _, s in statuses(node)] == ["passed"] * 9 + ["skipped"] * 3  # the walkthrough has no IPv6 kernel route
    assert all(c.notes == () for c in node.checks if c.group == "evpn")  # VNI, targets and next hop compared
    assert all(c.structured for c in node.captures)
    assert [f.text() for f in node.findings if not f.is_problem][:2] == [
        "show bgp summary: note: show bgp summary: 1 of 1 expected session Establ",
        "show route table blue.evpn.0 extensive: note: blue.evpn.0 (extensive): 4 of 4 expected routes compared"]


def test_the_report_of_a_live_run_is_valid_junit(aks, kubectl):
    root = ET.fromstring(report.to_junit(run_live(aks)))

    [suite] = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("12", "0", "0", "5")
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties["pod"] == "kube-system/kube-crpd-worker-ds-8xk2p" and properties["source"] == "live"
    assert suite.find("testcase").get("classname") == f"{NODE2}.pod"


def test_an_edited_capture_fails_exactly_one_testcase(aks, kubectl, monkeypatch, tmp_path):
    folder = tmp_path / "captures"
    shutil.copytree(CAPTURES, folder)
    summary = folder / "vmss000002-show-bgp-summary.txt"
    summary.write_text(summary.read_text(encoding="utf-8").replace("2:54:25 Establ", "2:54:25 Active"), encoding="utf-8")
    monkeypatch.setenv("FAKE_KUBECTL_CAPTURES", str(folder))
    built = run_live(aks)

    [node] = built.nodes
    assert [(c.id, c.status) for c in node.checks if c.status in ("failed", "error")] == [("bgp:10.240.0.4", "failed")]
    root = ET.fromstring(report.to_junit(built))
    assert (root.get("failures"), root.get("errors")) == ("1", "0")
    assert report.to_data(built)["ok"] is False


# --- structured output read like text ---------------------------------------------------------------

def test_json_of_the_kernel_table_gives_the_captured_lines_back():
    lines = live.kernel_lines_from_json(live._json_document((FAKE / "structured" / "ip-route-show-table-1.json")
                                                            .read_text(encoding="utf-8")))
    captured = (CAPTURES / "vmss000002-ip-route-table-1.txt").read_text(encoding="utf-8").splitlines()[1:]

    # The encap route's two `dst` keys (the route's, then the tunnel's) both survive.
    assert lines == [" ".join(line.split()) for line in captured]


def test_json_of_the_route_table_and_bgp_summary_reads_as_the_text_does():
    from_json = live.route_table_from_json(live._json_document(
        (FAKE / "structured" / "show-route-blue-evpn-extensive.json").read_text(encoding="utf-8")), "blue.evpn.0")
    from_text = parse_route_table((CAPTURES / "vmss000002-show-route-blue-evpn-extensive.txt").read_text(encoding="utf-8"))

    def fields(route):
        return (route.text, route.rd, route.prefix, route.protocol, route.active, route.learned_from,
                route.protocol_next_hop, route.vni, route.route_targets)

    assert [fields(r) for r in from_json.routes[:2]] == [fields(r) for r in from_text.routes]
    assert (from_json.table, from_json.declared_destinations, from_json.snipped) == ("blue.evpn.0", 4, False)

    bgp_json = live.bgp_summary_from_json(live._json_document(
        (FAKE / "structured" / "show-bgp-summary.json").read_text(encoding="utf-8")))
    bgp_text = parse_bgp_summary((CAPTURES / "vmss000002-show-bgp-summary.txt").read_text(encoding="utf-8"))
    assert [(p.address, p.asn, p.state, p.established, p.tables) for p in bgp_json.peers] == [
        (p.address, p.asn, p.state, p.established, p.tables) for p in bgp_text.peers]
    assert (bgp_json.groups, bgp_json.peer_count, bgp_json.down_peers) == (1, 1, 0)


def test_the_json_document_is_found_after_a_warning_and_before_a_trailer():
    assert live._json_document('warning: [deprecated] knob\n{"bgp-information": []}\n{master:0}\n') == {
        "bgp-information": []}
    assert live._json_document("syntax error, expecting <command>.\n") is None
    assert live._json_document('Option "-j" is unknown, try "ip -help".\n') is None


def test_json_routes_in_brief_style_and_a_missing_table_are_read():
    brief = {"route-information": [{"route-table": [{"table-name": [{"data": "blue.evpn.0"}], "rt": [
        {"rt-destination": [{"data": "5:10.240.0.5:1::0::1.1.11.0::30/248"}],
         "rt-entry": [{"active-tag": [{"data": "*"}], "protocol-name": [{"data": "BGP"}],
                       "learned-from": [{"data": "10.240.0.4"}],
                       "nh": [{"selected-next-hop": [{"data": [None]}], "to": [{"data": "10.240.0.5"}]}]}]},
        {"rt-destination": [{"data": "5:10.240.0.6:1::0::1.1.22.0::30"}],  # no /248, no rt-prefix-length
         "rt-entry": [{"active-tag": [{}], "protocol-name": [{"data": "EVPN"}]}]}]}]}]}
    capture = live.route_table_from_json(brief, "blue.evpn.0")

    assert [(r.text, r.active, r.learned_from, r.next_hop) for r in capture.routes] == [
        ("5:10.240.0.5:1::0::1.1.11.0::30/248", True, "10.240.0.4", "10.240.0.5"),
        ("5:10.240.0.6:1::0::1.1.22.0::30/248", False, None, None)]
    assert live.route_table_from_json({"route-information": [{}]}, "blue.evpn.0").routes == ()


def test_an_empty_table_on_the_router_is_every_route_missing(aks):
    empty = live.route_table_from_json({"route-information": [{}]}, "blue.evpn.0")
    findings = report.check_captures(aks, NODE2, {"show route table blue.evpn.0 extensive": empty})

    assert [f.kind for f in findings if f.is_problem] == ["missing-route"] * 4


def test_ipv6_link_local_routes_are_left_out(aks, kubectl, monkeypatch, tmp_path):
    # What `ip -6 route show table 1` prints on a VRF with IPv6: the pod link, and what the kernel adds.
    assert live._link_local("fe80::/64 dev vethnet1-55eed2 proto kernel metric 256 pref medium")
    assert live._link_local("local fe80::1 dev vethnet1-55eed2 proto kernel metric 0 pref medium")
    assert not live._link_local("abcd::101:1600/126 dev vethnet1-55eed2 proto kernel metric 256 pref medium")
    assert not live._link_local("multicast ff00::/8 dev vethnet1-55eed2 proto kernel metric 256 pref medium")
    capture = parse_kernel_routes("# ip route show table 1\nmulticast ff00::/8 dev irb proto kernel metric 256\n")
    assert [r.kind for r in capture.routes] == ["multicast"]  # not compared, but it says IPv6 was captured


# --- pods ------------------------------------------------------------------------------------------

def test_every_node_by_default_and_a_node_without_a_pod_is_an_error(aks, kubectl):
    built = live.run(INTENT, aks, None, [], [])  # four at a time: the calls come in any order

    assert [n.node for n in built.nodes] == NODES
    gets = sorted(call[7] for call in kubectl.calls() if call[:2] == ["get", "pods"])
    assert gets == [f"spec.nodeName={name}" for name in NODES]
    master, worker, walkthrough = built.nodes
    assert statuses(master)[0] == ("pod", "error") and worker.checks[0].status == "error"
    assert master.checks[0].message == (
        "no cRPD pod on node aks-agentpool-23733201-vmss000000 (namespace kube-system, selector name in "
        "(kube-crpd-master-ds,kube-crpd-worker-ds)); is the node labelled for the master DaemonSet kube-crpd-master-ds "
        "(jcnrc.io/role, node-role.kubernetes.io/master: scripts/prepare-nodes.sh)?")
    assert {c.status for c in master.checks[1:]} == {"skipped"} and walkthrough.ok and not built.ok
    root = ET.fromstring(report.to_junit(built))
    assert (root.get("errors"), root.get("failures")) == ("2", "0")
    assert report.to_text(built).splitlines()[-1] == "3 nodes: 1 match the intent, 2 differ"


def test_a_pod_that_is_not_running_is_an_error_and_nothing_is_run_in_it(aks, kubectl, monkeypatch):
    monkeypatch.setenv("FAKE_KUBECTL_POD_PHASE", "Pending")
    monkeypatch.setenv("FAKE_KUBECTL_WAITING", "CrashLoopBackOff")
    [node] = run_live(aks).nodes

    assert problems(node) == [
        (f"kubectl get pods: cRPD pod kube-system/kube-crpd-worker-ds-8xk2p on node {NODE2} is Pending "
         "(kube-crpd-worker: CrashLoopBackOff)")]
    assert kubectl.calls() == [GET_PODS]
    assert node.pod is None and node.checks[0].status == "error"


def test_a_worker_running_the_master_daemonset_fails_the_pod_check(aks, kubectl, monkeypatch):
    monkeypatch.setenv("FAKE_KUBECTL_POD_LABEL", "kube-crpd-master-ds")
    [node] = run_live(aks).nodes

    assert statuses(node)[0] == ("pod", "failed")
    assert node.checks[0].findings[0].kind == "wrong-crpd-role"
    assert node.count("passed") == 6  # verified all the same


def test_jcnr_pods_are_found_by_container_and_no_kernel_table_is_read(root, kubectl):
    plan = compile_example(root / INTENT, target="jcnr").plan
    [node] = run_live(plan).nodes

    calls = kubectl.calls()
    assert calls[0] == ["get", "pods", "-n", "jcnr", "-o", "json", "--field-selector", f"spec.nodeName={NODE2}"]
    assert node.pod == report.PodInfo("jcnr", "kube-crpd-worker-sts-2", "kube-crpd-worker", None)
    assert not [call for call in calls if "ip" in call]
    # The walkthrough's captures are Platter's: a JCNR build plans other loopbacks, hence differences.
    assert [c.group for c in node.checks][:6] == ["pod", "bgp"] + ["evpn"] * 4
    assert "kernel" not in {c.group for c in node.checks}


# --- which pod answers for the node (attack round 4, F3) --------------------------------------------

REAL_CRPD = "kube-crpd-worker-sts-2"  # the JCNR 23.x chart's cRPD pod of the walkthrough node, as the fixture has it


def k8s_pod(name: str, containers: list[str], labels: dict | None = None, phase: str = "Running",
            namespace: str = "jcnr") -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"nodeName": NODE2, "containers": [{"name": c, "image": "registry.example.com/x:1"} for c in containers]},
            "status": {"phase": phase}}


@pytest.fixture(scope="module")
def workload_pods(root, tmp_path_factory) -> list[dict]:
    """The pods Kubernetes makes on the node from jcnrc's own manifests for two workloads of the intent
    named a-crpd (a Deployment, the default) and b-crpd (`workload: pod`): labels and containers as the
    templates render them, so the test follows them. Placed in namespace jcnr, where cRPD pods are
    looked for, and named to sort before the chart's pod: the attack of the review."""
    text = (root / INTENT).read_text(encoding="utf-8").replace("ubuntu-du22", "a-crpd").replace("ubuntu-du11", "b-crpd")
    text = text.replace("    node: aks-agentpool-23733201-vmss000001\n",
                        "    node: aks-agentpool-23733201-vmss000001\n    workload: pod\n")
    intent = tmp_path_factory.mktemp("workloads") / "aks-evpn-type5.yaml"
    intent.write_text(text, encoding="utf-8")
    files = compile_example(intent, target="jcnr").files
    deployment = yaml.safe_load(files["manifests/deployment-a-crpd.yaml"])["spec"]["template"]
    bare = yaml.safe_load(files["manifests/pod-b-crpd.yaml"])
    return [k8s_pod(name, [c["name"] for c in made["spec"]["containers"]], made["metadata"]["labels"])
            for name, made in (("a-crpd-7d9f5c-abcde", deployment), ("b-crpd", bare))]


@pytest.fixture
def pods(kubectl, monkeypatch, tmp_path):
    """pods([...]): what `kubectl get pods` answers from now on."""
    def answer(items: list[dict]) -> None:
        listing = tmp_path / "pods.json"
        listing.write_text(json.dumps(items), encoding="utf-8")
        monkeypatch.setenv("FAKE_KUBECTL_PODS", str(listing))

    return answer


@pytest.fixture(scope="module")
def jcnr(root):
    return compile_example(root / INTENT, target="jcnr").plan


def exec_targets(kubectl: FakeKubectl) -> set[tuple[str, ...]]:
    return {tuple(call[1:6]) for call in kubectl.calls() if call[0] == "exec"}


def test_the_workload_labels_are_those_jcnrc_renders(workload_pods):
    from jcnrc.render import common

    assert live.WORKLOAD_POD_LABEL == common.POD_LABEL
    a_crpd, b_crpd = workload_pods
    # A Deployment's pods carry both labels, a bare Pod only the managed-by one: either is enough.
    assert a_crpd["metadata"]["labels"] == {"jcnrc.io/pod": "a-crpd", "app.kubernetes.io/managed-by": "jcnrc",
                                            "app.kubernetes.io/part-of": "aks-evpn-type5"}
    assert b_crpd["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "jcnrc",
                                            "app.kubernetes.io/part-of": "aks-evpn-type5"}
    assert [c["name"] for p in workload_pods for c in p["spec"]["containers"]] == ["a-crpd", "b-crpd"]


def test_jcnr_never_execs_into_a_workload_pod_jcnrc_deployed(jcnr, kubectl, pods, workload_pods):
    pods([*workload_pods, k8s_pod(REAL_CRPD, ["kube-crpd-worker"]), k8s_pod("syslog-ng-b2c86", ["syslog-ng"])])
    [node] = run_live(jcnr).nodes

    assert node.pod == report.PodInfo("jcnr", REAL_CRPD, "kube-crpd-worker", None)
    assert exec_targets(kubectl) == {("-n", "jcnr", REAL_CRPD, "-c", "kube-crpd-worker")}
    assert [f.text() for f in node.findings if f.kind == "workload-pod-left-out"] == [
        (f"kubectl get pods: note: pod jcnr/{name} left out: jcnrc deployed it for a workload of the intent (label "
         "jcnrc.io/pod or app.kubernetes.io/managed-by: jcnrc), it is no cRPD pod")
        for name in ("a-crpd-7d9f5c-abcde", "b-crpd")]


def test_a_workload_pod_alone_is_no_crpd_pod(jcnr, kubectl, pods, workload_pods):
    pods(workload_pods)
    [node] = run_live(jcnr).nodes

    assert node.pod is None and not exec_targets(kubectl)
    assert statuses(node)[0] == ("pod", "error")
    assert problems(node) == [
        (f"kubectl get pods: no cRPD pod on node {NODE2} (namespace jcnr, a container kube-crpd-worker, else one whose "
         "name holds crpd); is JCNR installed (helm install) and is its replicas count right?")]


def test_the_charts_container_name_wins_over_a_lookalike(jcnr, kubectl, pods):
    # Not jcnrc's, not the chart's: a pod whose container merely holds "crpd" is no candidate beside the chart's.
    pods([k8s_pod("a-crpd-exporter-x1", ["crpd-exporter"]), k8s_pod(REAL_CRPD, ["kube-crpd-worker"])])
    [node] = run_live(jcnr).nodes

    assert node.pod == report.PodInfo("jcnr", REAL_CRPD, "kube-crpd-worker", None)
    assert exec_targets(kubectl) == {("-n", "jcnr", REAL_CRPD, "-c", "kube-crpd-worker")}


def test_a_chart_pod_not_running_is_not_replaced_by_a_lookalike(jcnr, kubectl, pods):
    pods([k8s_pod("a-crpd-exporter-x1", ["crpd-exporter"]), k8s_pod(REAL_CRPD, ["kube-crpd-worker"], phase="Pending")])
    [node] = run_live(jcnr).nodes

    assert problems(node) == [f"kubectl get pods: cRPD pod jcnr/{REAL_CRPD} on node {NODE2} is Pending"]
    assert node.pod is None and not exec_targets(kubectl)


def test_a_crpd_container_of_another_name_is_still_found_when_alone(jcnr, kubectl, pods):
    # A chart whose cRPD container is not kube-crpd-worker (24.2's names are in no source jcnrc read).
    pods([k8s_pod("jcnr-0-crpd-0", ["crpd", "syslog"]), k8s_pod("syslog-ng-b2c86", ["syslog-ng"])])
    [node] = run_live(jcnr).nodes

    assert node.pod == report.PodInfo("jcnr", "jcnr-0-crpd-0", "crpd", None)


@pytest.mark.parametrize(("target", "items", "named"), [
    ("jcnr", [k8s_pod(REAL_CRPD, ["kube-crpd-worker"]), k8s_pod("kube-crpd-worker-sts-9", ["kube-crpd-worker"])],
     f"jcnr/{REAL_CRPD} (container kube-crpd-worker), jcnr/kube-crpd-worker-sts-9 (container kube-crpd-worker)"),
    ("jcnr", [k8s_pod("jcnr-0-crpd-0", ["crpd", "crpd-config"])],
     "jcnr/jcnr-0-crpd-0 (container crpd), jcnr/jcnr-0-crpd-0 (container crpd-config)"),
    ("platter", [k8s_pod(name, ["kube-crpd-worker"], {"name": "kube-crpd-worker-ds"}, namespace="kube-system")
                 for name in ("kube-crpd-worker-ds-zz9", "kube-crpd-worker-ds-8xk2p")],
     ("kube-system/kube-crpd-worker-ds-8xk2p (container kube-crpd-worker), kube-system/kube-crpd-worker-ds-zz9 "
      "(container kube-crpd-worker)")),
])
def test_several_candidates_are_refused_naming_them(root, aks, jcnr, kubectl, pods, target, items, named):
    pods(items)
    [node] = run_live(jcnr if target == "jcnr" else aks).nodes

    assert node.pod is None and not exec_targets(kubectl)  # no guess: nothing is asked of any of them
    assert statuses(node)[0] == ("pod", "error") and node.checks[0].findings[0].kind == "ambiguous-crpd-pod"
    assert problems(node) == [
        (f"kubectl get pods: 2 Running pods on node {NODE2} could be its cRPD: {named}; jcnrc does not guess which "
         "one answers for the router: leave one (docs/verify.md, Live mode)")]


def test_platter_takes_only_the_daemonsets_container(aks, kubectl, pods):
    # The label selector chose the pod; a container of another name is not taken for cRPD's.
    pods([k8s_pod("kube-crpd-worker-ds-8xk2p", ["sidecar"], {"name": "kube-crpd-worker-ds"}, namespace="kube-system")])
    [node] = run_live(aks).nodes

    assert node.pod is None and not exec_targets(kubectl)
    assert node.checks[0].findings[0].kind == "no-crpd-pod"


# --- kubectl and the cluster ------------------------------------------------------------------------

def test_kubectl_missing_is_a_usage_error(aks, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(live.LiveError, match="--live runs kubectl, which is not on PATH"):
        run_live(aks)


def test_the_context_goes_to_every_call_and_an_unknown_one_ends_the_run(aks, kubectl):
    run_live(aks, contexts=["aks-evpn-type5"])
    assert {tuple(call[:2]) for call in kubectl.calls()} == {("--context", "aks-evpn-type5")}

    with pytest.raises(live.LiveError) as raised:
        run_live(aks, contexts=["nope"])
    assert str(raised.value) == (f'{NODE2} (context nope): `kubectl get pods` failed: error: context "nope" does not exist')


def test_exec_refused_by_rbac_ends_the_run(aks, kubectl, monkeypatch):
    monkeypatch.setenv("FAKE_KUBECTL_FORBID_EXEC", "1")
    with pytest.raises(live.LiveError, match=r"was refused: .*Forbidden.* \(live mode needs `create` and `get` on pods/exec"):
        run_live(aks)


def test_a_command_that_times_out_is_an_error_of_its_node(aks, kubectl, monkeypatch):
    real_run = live._run_capped

    def exec_hangs(command, timeout, limit):
        if "exec" in command:  # no sleeping: what _run_capped returns for a call it stopped at the timeout
            return live._Ran(None, b"", b"", False)
        return real_run(command, timeout, limit)

    monkeypatch.setattr(live, "_run_capped", exec_hangs)
    [node] = run_live(aks, timeout=7).nodes

    assert problems(node) == [
        ("show bgp summary: `cli -c 'show bgp summary | display json'` in pod kube-crpd-worker-ds-8xk2p did not answer "
         "within 7 s"),
        ("show route table blue.evpn.0 extensive: `cli -c 'show route table blue.evpn.0 extensive | display json'` in "
         "pod kube-crpd-worker-ds-8xk2p did not answer within 7 s"),
        "ip vrf show: `ip -j -d link show type vrf` in pod kube-crpd-worker-ds-8xk2p did not answer within 7 s"]
    assert [(c.id, c.status) for c in node.checks if c.group == "bgp"] == [
        ("bgp:10.240.0.4", "skipped"), ("bgp:command-failed:show bgp summary", "error")]
    assert [c.group for c in node.checks if c.status == "error"] == ["bgp", "evpn", "kernel"]
    assert len(kubectl.calls()) == 1  # get pods; the three execs never reached the fake


def test_get_pods_timing_out_ends_the_run(aks, kubectl, monkeypatch):
    def hangs(command, timeout, limit):
        return live._Ran(None, b"", b"", False)

    monkeypatch.setattr(live, "_run_capped", hangs)
    with pytest.raises(live.LiveError, match="did not answer within 30 s"):
        run_live(aks)


# --- output past the limit (attack round 4, F5) -----------------------------------------------------

def test_output_past_the_limit_stops_kubectl_and_fails_the_command(aks, kubectl, monkeypatch):
    monkeypatch.setenv("FAKE_KUBECTL_PRINT", "exec:stdout:4097")  # one byte past the limit
    [node] = run_live(aks, max_output=4096).nodes

    stopped = ("in pod kube-crpd-worker-ds-8xk2p: output exceeded 4096 bytes (--max-output); kubectl was stopped and "
               "the output not compared")
    assert problems(node) == [
        f"show bgp summary: `cli -c 'show bgp summary | display json'` {stopped}",
        (f"show route table blue.evpn.0 extensive: `cli -c 'show route table blue.evpn.0 extensive | display json'` "
         f"{stopped}"),
        f"ip vrf show: `ip -j -d link show type vrf` {stopped}"]
    assert [c.group for c in node.checks if c.status == "error"] == ["bgp", "evpn", "kernel"]
    assert len(kubectl.calls()) == 4  # get pods and three execs: the text forms would print as much


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_kubectl_keeps_no_more_than_the_limit(kubectl, monkeypatch, stream):
    limit = 1024 * 1024
    monkeypatch.setenv("FAKE_KUBECTL_PRINT", f"exec:{stream}:{16 * limit}")
    kubectl_ = live.Kubectl(live.find_kubectl(), max_output=limit)
    tracemalloc.start()  # counts bytes allocated (every thread's), never time
    try:
        answer = kubectl_.run(None, ["exec", "-n", "jcnr", "p", "--", "cli"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert answer.too_large and answer.code is None and (answer.stdout, answer.stderr) == ("", "")
    # What was held is bounded by the limit, not by the 16 MiB printed (kept whole, it would be twice that).
    assert peak < 3 * limit


def test_output_of_exactly_the_limit_is_read(kubectl, monkeypatch):
    monkeypatch.setenv("FAKE_KUBECTL_PRINT", "exec:stdout:4096")
    answer = live.Kubectl(live.find_kubectl(), max_output=4096).run(None, ["exec", "-n", "jcnr", "p", "--", "cli"])

    assert (answer.code, answer.too_large, answer.stdout) == (0, False, "A" * 4096)


def test_get_pods_past_the_limit_ends_the_run(aks, kubectl, monkeypatch):
    monkeypatch.setenv("FAKE_KUBECTL_PRINT", "get:stdout:4097")
    with pytest.raises(live.LiveError, match=f"^{NODE2}: `kubectl get pods` printed more than 4096 bytes "
                                             r"\(--max-output\): stopped$"):
        run_live(aks, max_output=4096)


def test_a_call_past_its_timeout_is_killed(tmp_path):
    # A kubectl that never ends by itself (it waits for a signal): killed at the timeout, reported as such.
    program = tmp_path / "kubectl"
    program.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -c "import signal; signal.pause()"\n',
                       encoding="utf-8")
    program.chmod(0o755)
    answer = live.Kubectl(str(program), timeout=0.5).run(None, ["get", "pods"])

    assert (answer.code, answer.too_large, answer.stdout) == (None, False, "")


# --- nodes and contexts -----------------------------------------------------------------------------

def test_an_unknown_node_is_a_usage_error_with_a_hint(aks):
    with pytest.raises(live.LiveError, match="no node named `aks-agentpool-23733201-vmss00002`; did you mean"):
        live.live_nodes(aks, None, ["aks-agentpool-23733201-vmss00002"], [])


def test_a_topology_takes_one_context():
    assert live.parse_contexts(["aks"], None) == ("aks", {})
    assert live.parse_contexts(["a=b"], None) == ("a=b", {})  # no cluster to name: the whole is the context
    with pytest.raises(live.LiveError, match="a Topology is one cluster"):
        live.parse_contexts(["a", "b"], None)


def test_a_fleet_takes_a_context_per_cluster():
    clusters = ["east", "west", "lab"]
    assert live.parse_contexts(["east=eks-east", "west=arn:aws:eks:us-west-2:1:cluster/west", "kind"], clusters) == (
        "kind", {"east": "eks-east", "west": "arn:aws:eks:us-west-2:1:cluster/west"})
    with pytest.raises(live.LiveError, match="the fleet has no cluster `eats`; did you mean `east`"):
        live.parse_contexts(["eats=x"], clusters)
    with pytest.raises(live.LiveError, match="cluster `east` is given twice"):
        live.parse_contexts(["east=a", "east=b"], clusters)
    with pytest.raises(live.LiveError, match="no context after"):
        live.parse_contexts(["east="], clusters)


def test_fleet_nodes_each_get_their_cluster_context(compiled_fleets):
    fleet = compiled_fleets["tri-fleet.yaml"].fleet
    clusters = [c.name for c in fleet.clusters]

    with pytest.raises(live.LiveError, match="of the fleet have no kubectl context"):
        live.live_nodes(None, fleet, [], [])
    nodes = live.live_nodes(None, fleet, [], [f"{c}=ctx-{c}" for c in clusters])
    assert [n.label for n in nodes] == fleet.node_references()
    assert {(n.cluster, n.context) for n in nodes} == {(c, f"ctx-{c}") for c in clusters}
    assert all(n.label == f"{n.cluster}/{n.name}" and n.plan is fleet.cluster(n.cluster).plan for n in nodes)
    # One cluster's node: kubectl's current context is that cluster's.
    [one] = live.live_nodes(None, fleet, [nodes[0].label], [])
    assert one.context is None
    with pytest.raises(live.LiveError, match=r"no node .* named `east/nope`"):
        live.live_nodes(None, fleet, ["east/nope"], [])


# --- the command line (jcnrc/cli.py wires these options) -----------------------------------------------

def cli_has_live(root: Path) -> bool:
    run = subprocess.run([*JCNRC, "verify", "--help"], capture_output=True, text=True, cwd=root, timeout=HANG_GUARD)
    return "--live" in run.stdout


@pytest.fixture
def cli(root, kubectl):
    if not cli_has_live(root):
        pytest.skip("`jcnrc verify` has no --live option: it runs once jcnrc/cli.py wires live mode in (docs/verify.md)")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*JCNRC, "verify", INTENT, *args], capture_output=True, text=True, cwd=root,
                              timeout=HANG_GUARD)

    return run


def test_cli_live_writes_junit_and_shows_text(cli, kubectl, tmp_path):
    out = tmp_path / "verify.xml"
    run = cli("--live", "--node", NODE2, "--format", "junit", "--output", str(out))

    assert run.returncode == 0, run.stderr
    assert ET.fromstring(out.read_text(encoding="utf-8")).get("tests") == "12"
    assert run.stdout.splitlines()[0] == f"== {NODE2} (pod kube-system/kube-crpd-worker-ds-8xk2p)"
    assert run.stdout.splitlines()[-1] == f"{NODE2}: matches the intent"


def test_cli_live_json_report_and_exit_1_when_a_node_differs(cli, kubectl):
    run = cli("--live", "--format", "json")

    assert run.returncode == 1, run.stderr
    data = json.loads(run.stdout)
    assert [n["node"] for n in data["nodes"]] == NODES and data["totals"]["error"] == 2


def test_cli_live_usage_errors_exit_2(cli, kubectl, tmp_path, monkeypatch):
    run = cli("--live", "--context", "nope")
    assert run.returncode == 2 and 'jcnrc: error: ' in run.stderr and 'context "nope" does not exist' in run.stderr

    run = cli("--live", str(CAPTURES / "vmss000002-show-bgp-summary.txt"))
    assert run.returncode == 2 and "give no CAPTURE" in run.stderr

    run = cli("--live", "--node", "nope")
    assert run.returncode == 2 and "no node named `nope`" in run.stderr

    run = cli("--live", "--output", str(tmp_path / "missing" / "verify.xml"), "--format", "junit", "--node", NODE2)
    assert run.returncode == 2 and "jcnrc: error: cannot write" in run.stderr

    calls = len(kubectl.calls())
    monkeypatch.setenv("PATH", str(tmp_path))
    run = cli("--live")
    assert run.returncode == 2 and "kubectl, which is not on PATH" in run.stderr
    assert len(kubectl.calls()) == calls  # nothing more reached the fake


def test_cli_captures_keep_their_json_and_take_junit(cli, tmp_path):
    captures = [str(CAPTURES / name) for name in ("vmss000002-show-bgp-summary.txt", "vmss000002-ip-route-table-1.txt")]
    findings = json.loads(cli("--node", NODE2, *captures, "--format", "json").stdout)
    assert isinstance(findings, list) and findings[0]["kind"] == "checked"  # the findings list, as before

    run = cli("--node", NODE2, *captures, "--format", "junit")
    assert run.returncode == 0 and ET.fromstring(run.stdout).find("testsuite").get("name") == NODE2

    run = cli("--node", NODE2, *captures, "--context", "aks")
    assert run.returncode == 2 and "--context is an option of --live" in run.stderr


def test_cli_max_output_is_the_limit_of_each_kubectl_call(cli, kubectl, monkeypatch):
    monkeypatch.setenv("FAKE_KUBECTL_PRINT", "exec:stdout:4097")
    run = cli("--live", "--node", NODE2, "--max-output", "4096")
    assert run.returncode == 1, run.stderr
    assert "`cli -c 'show bgp summary | display json'` in pod kube-crpd-worker-ds-8xk2p: output exceeded 4096 bytes" \
        in run.stdout

    monkeypatch.setenv("FAKE_KUBECTL_PRINT", "exec:stdout:4096")  # the default limit lets far more through
    assert "output exceeded" not in cli("--live", "--node", NODE2).stdout

    run = cli("--node", NODE2, str(CAPTURES / "vmss000002-show-bgp-summary.txt"), "--max-output", "4096")
    assert run.returncode == 2 and "--max-output is an option of --live" in run.stderr
