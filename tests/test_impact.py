"""`jcnrc impact OLD NEW` (jcnrc/verify/impact.py, the command in jcnrc/cli.py, templates/impact/).

Each change is a bundled example edited in the test (the lock file copied beside both sides), so a
test says exactly what changed. Three of them have golden outputs under tests/impact/ in every
format; after a deliberate change to the report, or to what a build writes, regenerate them with

    .venv/bin/python tests/test_impact.py --write-golden

and review the diff like any other change of output.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "impact"
FORMATS = {"text": "txt", "json": "json", "markdown": "md"}
GIT_GUARD = 120  # seconds: a git child that runs this long is stuck; never a measure of speed


def _replace(text: str, old: str, new: str, count: int = 1) -> str:
    assert text.count(old) == count, f"the example changed: {old!r} is there {text.count(old)} times"
    return text.replace(old, new)


def _address_change(t: str) -> str:
    return _replace(t, "ipv4: 1.1.22.2/30", "ipv4: 1.1.23.2/30")


def _route_target_change(t: str) -> str:
    return _replace(t, 'routeTarget: "11:11"', 'routeTarget: "11:12"')


def _pod_moved(t: str) -> str:
    return _replace(t, "  - name: ubuntu-du22\n    node: aks-agentpool-23733201-vmss000002\n",
                    "  - name: ubuntu-du22\n    node: aks-agentpool-23733201-vmss000001\n")


SPOKE_B = 'routeTarget: {import: ["64512:100"], export: ["64512:102"]}'


def _expect_flip(t: str) -> str:
    """spoke-b now imports spoke-a's target: the two `isolate:` clauses of the spokes fail."""
    return _replace(t, SPOKE_B, 'routeTarget: {import: ["64512:100", "64512:101"], export: ["64512:102"]}')


def _expect_flip_hidden(t: str) -> str:
    """The same change, with the clauses it breaks deleted: NEW compiles, the change still breaks them."""
    t = _expect_flip(t)
    t = _replace(t, "  - isolate: [spoke-a1, spoke-b1]   # spokes never learn each other's routes\n", "")
    return _replace(t, "  - isolate: [spoke-a, spoke-b]     # the same, for whole VRFs\n", "")


def _vrf_added_removed(t: str) -> str:
    t = _replace(t, '  - name: collector\n    routeTarget: {import: ["64512:101", "64512:102"], export: ["64512:199"]}\n'
                    "    ipv4Pool: 172.16.9.0/24\n",
                 '  - name: spoke-c\n    routeTarget: {import: ["64512:100"], export: ["64512:103"]}\n'
                 "    ipv4Pool: 172.16.2.0/24\n")
    t = _replace(t, "  - name: collector\n    node: worker-3\n    image: docker.io/library/alpine:3.20\n    networks:\n"
                    "      - {vrf: collector}\n",
                 "  - name: spoke-c1\n    node: worker-3\n    image: docker.io/library/alpine:3.20\n    networks:\n"
                 "      - {vrf: spoke-c}\n")
    return _replace(t, "  - isolate: [hub-svc, collector]   # the collector imports only the spokes' targets\n", "")


def _node_added_removed(t: str) -> str:
    t = _replace(t, "{name: worker-3, address: 192.168.10.13, role: worker}",
                 "{name: worker-4, address: 192.168.10.14, role: worker}")
    return _replace(t, "node: worker-3", "node: worker-4", count=2)


def _fleet_pod_added(t: str) -> str:
    pod = "          - {vrf: blue, interface: net1, ipv4: 1.1.11.2/30}\n"
    return _replace(t, pod, pod + "      - name: du-east-2\n        node: ip-10-10-1-11.ec2.internal\n"
                                  "        image: public.ecr.aws/docker/library/ubuntu:22.04\n        networks:\n"
                                  "          - {vrf: blue, interface: net1, ipv4: 1.1.12.2/30}\n")


CASES: dict[str, tuple[str, Callable[[str], str]]] = {
    "address-change": ("aks-evpn-type5.yaml", _address_change),
    "route-target-change": ("aks-evpn-type5.yaml", _route_target_change),
    "pod-moved": ("aks-evpn-type5.yaml", _pod_moved),
    "expect-flip": ("hub-and-spoke.yaml", _expect_flip),
    "expect-flip-hidden": ("hub-and-spoke.yaml", _expect_flip_hidden),
    "vrf-added-removed": ("hub-and-spoke.yaml", _vrf_added_removed),
    "node-added-removed": ("hub-and-spoke.yaml", _node_added_removed),
    "fleet-pod-added": ("fleets/eks-inter-cluster.yaml", _fleet_pod_added),
}
GOLDEN_CASES = ("address-change", "expect-flip", "fleet-pod-added")


def write_pair(folder: Path, example: str, edit: Callable[[str], str]) -> tuple[Path, Path]:
    """old/<example> as bundled and new/<example> edited, each with the example's lock file."""
    source = ROOT / "examples" / example
    text = source.read_text(encoding="utf-8")
    paths = []
    for side, content in (("old", text), ("new", edit(text))):
        (folder / side).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source.with_name(source.stem + ".lock.json"), folder / side / (source.stem + ".lock.json"))
        (folder / side / source.name).write_text(content, encoding="utf-8")
        paths.append(folder / side / source.name)
    return paths[0], paths[1]


def report_of(case: str, folder: Path) -> dict:
    """The report of a case, both sides named as the command line would from `folder` (old/..., new/...)."""
    from jcnrc.pipeline import Options
    from jcnrc.verify import impact

    example, edit = CASES[case]
    old, new = write_pair(folder, example, edit)
    name = Path(example).name
    report, _, _ = impact.analyse_change(impact.Source(old, f"old/{name}"), new, f"new/{name}",
                                         Options(environ={}, allow_secret_values=False))
    return report


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict]:
    """Every case's report, computed once for the module."""
    return {case: report_of(case, tmp_path_factory.mktemp(case)) for case in CASES}


def _tables(report: dict, node: str) -> dict[str, dict]:
    found = [n for n in report["nodes"] if n["node"] == node]
    return {t["vrf"]: t for t in found[0]["vrfs"]} if found else {}


def _routes(entries: list[dict]) -> set[str]:
    return {r["route"] for r in entries}


W1, W2 = "aks-agentpool-23733201-vmss000001", "aks-agentpool-23733201-vmss000002"


# --- what each change does --------------------------------------------------------------------------

def test_an_address_change_withdraws_the_old_prefix_and_advertises_the_new_one_on_every_node_of_the_vrf(reports):
    r = reports["address-change"]
    for node in (W1, W2):
        blue = _tables(r, node)["blue"]
        assert _routes(blue["withdrawn"]) == {"5:10.240.0.6:1::0::1.1.22.0::30/248"}
        assert _routes(blue["advertised"]) == {"5:10.240.0.6:1::0::1.1.23.0::30/248"}
        assert blue["updated"] == []
    assert r["exitCode"] == 0 and not r["breaking"]
    assert [e["change"] for e in r["expects"]] == ["unchanged"]
    # The pod whose address changed restarts or is re-created (its networks annotation); the other one does not.
    moved = [w for w in r["workloads"] if w["name"] == "ubuntu-du22"]
    assert moved and any(x["part"] == "networks" for x in moved[0]["reasons"])
    assert not any(w["name"] == "ubuntu-du11" for w in r["workloads"])


def test_a_route_target_change_keeps_every_nlri_and_updates_its_communities(reports):
    r = reports["route-target-change"]
    blue = _tables(r, W1)["blue"]
    assert blue["withdrawn"] == blue["advertised"] == []
    assert {u["before"]["routeTargets"][0] for u in blue["updated"]} == {"target:11:11"}
    assert {u["routeTargets"][0] for u in blue["updated"]} == {"target:11:12"}
    assert len(blue["updated"]) == 4  # two pods, IPv4 and IPv6 each
    assert "manifests/networkattachmentdefinition-blue-net.yaml" in {c["path"] for c in r["artifacts"]["changed"]}
    # Multus reads a NAD only when a pod attaches: the pods on it must start again to see the new target.
    assert all(any(x["part"] == "network-attachment" and x["name"] == "blue-net" for x in w["reasons"])
               for w in r["workloads"] if w["name"].startswith("ubuntu-"))
    assert r["exitCode"] == 0


def test_a_pod_moved_to_another_node_is_withdrawn_from_one_route_distinguisher_and_advertised_from_the_other(reports):
    r = reports["pod-moved"]
    blue = _tables(r, W1)["blue"]
    assert "5:10.240.0.6:1::0::1.1.22.0::30/248" in _routes(blue["withdrawn"])
    assert "5:10.240.0.5:1::0::1.1.22.0::30/248" in _routes(blue["advertised"])
    # The node it left carries no VRF any more: its whole table goes.
    assert _tables(r, W2)["blue"]["change"] == "removed"
    moved = next(w for w in r["workloads"] if w["name"] == "ubuntu-du22")
    node = next(x for x in moved["reasons"] if x["part"] == "node")
    assert (node["before"], node["after"]) == (W2, W1)
    assert moved["nodes"] == [W1]
    assert moved["action"] in ("recreate", "restart")  # a bare Pod, or the single-replica Deployment that replaces it
    if moved["kind"] == "Pod":
        assert moved["automatic"] is False


def test_a_route_target_change_that_breaks_an_isolate_fails_and_still_shows_its_blast_radius(reports):
    r = reports["expect-flip"]
    assert r["exitCode"] == 1 and r["breaking"]
    assert not r["new"]["compiles"] and r["new"]["planned"]
    assert {d["code"] for d in r["new"]["diagnostics"]} == {"JCN704"}
    broken = {(e["kind"], e["a"], e["b"]) for e in r["expects"] if e["change"] == "broken"}
    assert broken == {("isolate", "spoke-a1", "spoke-b1"), ("isolate", "spoke-a", "spoke-b")}
    gained = {(p["a"]["vrf"], p["b"]["vrf"]): p for p in r["reachability"]["vrfPairs"]}
    pair = gained[("spoke-a", "spoke-b")]
    assert pair["change"] == "gained" and pair["after"] == {"state": "one-way", "aToB": False, "bToA": True}
    assert _routes(_tables(r, "worker-3")["spoke-b"]["advertised"]) == {
        "5:192.168.10.12:2::0::172.16.1.0::30/248", "5:192.168.10.12:2::0::fd00:101::::126/248"}


def test_deleting_the_expect_a_change_breaks_does_not_hide_it(reports):
    r = reports["expect-flip-hidden"]
    assert r["new"]["compiles"]
    broken = [e for e in r["expects"] if e["change"] == "broken"]
    assert {(e["a"], e["b"]) for e in broken} == {("spoke-a1", "spoke-b1"), ("spoke-a", "spoke-b")}
    assert all(e["declared"] == ["old"] for e in broken)
    assert r["exitCode"] == 1


def test_a_change_that_repairs_an_expect_fixes_it_and_passes(tmp_path):
    from jcnrc.pipeline import Options
    from jcnrc.verify import impact

    fixed, broken = write_pair(tmp_path, "hub-and-spoke.yaml", _expect_flip)
    r, _, _ = impact.analyse_change(impact.Source(broken, "broken"), fixed, "fixed", Options(environ={}))
    assert not r["old"]["compiles"] and r["old"]["planned"] and r["new"]["compiles"]
    assert sorted(e["change"] for e in r["expects"]) == ["fixed", "fixed", "unchanged", "unchanged", "unchanged"]
    assert r["exitCode"] == 0


def test_an_old_intent_that_cannot_be_planned_compares_nothing_and_exits_1(tmp_path):
    from jcnrc.pipeline import Options
    from jcnrc.verify import impact

    good, bad = write_pair(tmp_path, "aks-evpn-type5.yaml", lambda t: _replace(t, "role: master}", "role: worker}"))
    r, _, _ = impact.analyse_change(impact.Source(bad, "bad"), good, "good", Options(environ={}))
    assert not r["compared"] and not r["old"]["planned"] and r["new"]["compiles"]
    assert "JCN301" in {d["code"] for d in r["old"]["diagnostics"]} and r["old"]["diagnostics"][0]["file"] == "bad"
    assert r["exitCode"] == 1 and "OLD cannot be planned" in impact.to_text(r, "text")


def test_a_vrf_added_and_one_removed(reports):
    r = reports["vrf-added-removed"]
    tables = _tables(r, "worker-3")
    assert tables["collector"]["change"] == "removed" and tables["spoke-c"]["change"] == "added"
    assert "manifests/networkattachmentdefinition-spoke-c-net.yaml" in r["artifacts"]["added"]
    assert "manifests/networkattachmentdefinition-collector-net.yaml" in r["artifacts"]["removed"]
    pairs = {(p["a"]["vrf"], p["b"]["vrf"]): p for p in r["reachability"]["vrfPairs"]}
    # spoke-c imports the hub's target but the hub does not import spoke-c's: one-way.
    assert pairs[("hub", "spoke-c")]["after"]["state"] == "one-way"
    assert pairs[("collector", "spoke-a")]["change"] == "lost"
    # The expect naming the collector went with it: not evaluated on NEW, nothing breaks.
    gone = next(e for e in r["expects"] if "collector" in (e["a"], e["b"]))
    assert (gone["after"], gone["change"]) == ("absent", "unchanged")
    assert r["exitCode"] == 0


def test_a_node_added_and_one_removed(reports):
    r = reports["node-added-removed"]
    changes = {n["node"]: n for n in r["nodes"]}
    assert changes["worker-3"]["change"] == "removed" and changes["worker-4"]["change"] == "added"
    assert changes["worker-4"]["sessions"]["added"] == [
        {"peer": "192.168.10.10", "peerNode": "cp-1", "asn": 64512, "peerRole": "route-reflector"}]
    assert changes["cp-1"]["sessions"] == {
        "added": [{"peer": "192.168.10.14", "peerNode": "worker-4", "asn": 64512, "peerRole": "client"}],
        "removed": [{"peer": "192.168.10.13", "peerNode": "worker-3", "asn": 64512, "peerRole": "client"}]}
    # Every other worker installs the moved pods' routes under worker-4's route distinguisher.
    hub = _tables(r, "worker-1")["hub"]
    assert {x["protocolNextHop"] for x in hub["advertised"]} == {"192.168.10.14"}
    assert {x["protocolNextHop"] for x in hub["withdrawn"]} == {"192.168.10.13"}
    stages = r["rollout"]["stages"]
    assert stages[0]["role"] == "route-reflector" and stages[0]["nodes"] == ["cp-1"]
    assert all("worker-3" not in s["nodes"] for s in stages)  # gone: nothing to verify there
    assert r["exitCode"] == 0


def test_a_pod_added_in_one_cluster_of_a_fleet_reaches_the_other_clusters_workers(reports):
    r = reports["fleet-pod-added"]
    route = "5:10.10.1.11:1::0::1.1.12.0::30/248"
    for node in ("east/ip-10-10-1-11.ec2.internal", "west/ip-10-20-1-11.ec2.internal"):
        assert _routes(_tables(r, node)["blue"]["advertised"]) == {route}
    west = _tables(r, "west/ip-10-20-1-11.ec2.internal")["blue"]["advertised"][0]
    assert (west["pod"], west["originNode"]) == ("east/du-east-2", "east/ip-10-10-1-11.ec2.internal")
    created = [w for w in r["workloads"] if w["action"] == "create"]
    assert [(w["cluster"], w["name"]) for w in created] == [("east", "du-east-2")]
    assert [s["verify"] for s in r["rollout"]["stages"]] == [
        ["jcnrc verify new/eks-inter-cluster.yaml --node east/ip-10-10-1-11.ec2.internal CAPTURE..."],
        ["jcnrc verify new/eks-inter-cluster.yaml --node west/ip-10-20-1-11.ec2.internal CAPTURE..."]]
    assert r["exitCode"] == 0


def test_unpeering_a_cluster_loses_its_reachability_and_breaks_the_expects_that_need_it(tmp_path):
    """A fleet's VRF pairs are per cluster: the route targets still allow it, no peering carries the routes."""
    from jcnrc.pipeline import Options
    from jcnrc.verify import impact

    old, new = write_pair(tmp_path, "fleets/tri-fleet.yaml", lambda t: _replace(t, "    - clusters: [west, lab]\n", ""))
    r, _, _ = impact.analyse_change(impact.Source(old, "old"), new, "new", Options(environ={}))
    assert r["exitCode"] == 1 and not r["new"]["compiles"] and r["new"]["planned"]
    assert {d["code"] for d in r["new"]["diagnostics"]} == {"JCN703"}
    broken = {(e["a"], e["b"]) for e in r["expects"] if e["change"] == "broken"}
    assert broken == {("east/du-east-1", "lab/du-lab-1"), ("west/cu-west-1", "lab/du-lab-1")}
    lost = {(p["a"]["cluster"], p["b"]["cluster"]) for p in r["reachability"]["vrfPairs"] if p["change"] == "lost"}
    assert ("east", "lab") in lost and ("lab", "west") in lost and ("east", "west") not in lost
    west_master = next(n for n in r["nodes"] if n["cluster"] == "west" and n["after"]["role"] == "master")
    assert {s["peerNode"].split("/")[0] for s in west_master["sessions"]["removed"]} == {"lab"}


def test_a_new_crpd_image_rolls_the_platter_daemonsets_and_upgrades_the_jcnr_chart(tmp_path):
    from jcnrc.pipeline import Options
    from jcnrc.verify import impact

    old, new = write_pair(tmp_path, "fleets/tri-fleet.yaml", lambda t: _replace(
        t, "  crpd: registry.example.com/crpd:23.2R1\n", "  crpd: registry.example.com/crpd:24.2R1\n"))
    r, _, _ = impact.analyse_change(impact.Source(old, "old"), new, "new", Options(environ={}))
    by_name = {(w["cluster"], w["name"]): w for w in r["workloads"]}
    worker = by_name[("west", "kube-crpd-worker-ds")]
    assert worker["action"] == "restart" and worker["automatic"]
    assert [(x["part"], x["before"], x["after"]) for x in worker["reasons"]] == [
        ("image", "registry.example.com/crpd:23.2R1", "registry.example.com/crpd:24.2R1")]
    assert all(n.startswith("west/") for n in worker["nodes"]) and "west/aks-agentpool-23733201-vmss000000" not in worker["nodes"]
    assert ("lab", "helm/values.yaml") not in by_name  # JCNR's images come from `cluster.jcnr`, never `images.crpd`
    assert not any(w["cluster"] == "east" for w in r["workloads"])  # east has its own registry's image
    assert r["exitCode"] == 0
    old, new = write_pair(tmp_path / "tag", "fleets/tri-fleet.yaml", lambda t: _replace(
        t, "        crpdTag: 23.2R1.14\n", "        crpdTag: 24.2R1.14\n"))
    r, _, _ = impact.analyse_change(impact.Source(old, "old"), new, "new", Options(environ={}))
    chart = {(w["cluster"], w["name"]): w for w in r["workloads"]}[("lab", "helm/values.yaml")]
    assert (chart["kind"], chart["action"], chart["automatic"]) == ("HelmValues", "upgrade", False)


def test_the_rollout_takes_route_reflectors_one_at_a_time_then_workers_in_batches(reports):
    from jcnrc.pipeline import Options
    from jcnrc.verify import impact

    r = reports["expect-flip"]
    assert [s["role"] for s in r["rollout"]["stages"]][:1] == ["route-reflector"]
    assert all(len(s["nodes"]) <= 2 for s in r["rollout"]["stages"] if s["role"] == "worker")
    side = impact.compile_side(impact.Source(ROOT / "examples" / "multi-vrf.yaml", "x"), Options(environ={}), "x")
    touched = [{"node": n, "change": "changed"} for n in ("aks-worker-4", "aks-rr-1", "aks-worker-0", "aks-rr-0")]
    touched.append({"node": "gone", "change": "removed"})
    stages = impact.rollout(side, touched, [], "my intents/multi-vrf.yaml", 3)["stages"]
    # In the intent's order, route reflectors alone, workers three at a time; NEW quoted for a shell.
    assert [(s["role"], s["nodes"]) for s in stages] == [
        ("route-reflector", ["aks-rr-0"]), ("route-reflector", ["aks-rr-1"]), ("worker", ["aks-worker-0", "aks-worker-4"])]
    assert stages[0]["verify"] == ["jcnrc verify 'my intents/multi-vrf.yaml' --node aks-rr-0 CAPTURE..."]


def test_every_report_is_deterministic_and_its_json_keys_are_the_documented_ones(reports, tmp_path):
    r = reports["node-added-removed"]
    again = report_of("node-added-removed", tmp_path)
    assert json.dumps(again, sort_keys=True) == json.dumps(r, sort_keys=True)
    documented = (ROOT / "docs" / "impact.md").read_text(encoding="utf-8")
    keys: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            keys.update(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for report in reports.values():
        walk(report)
    missing = sorted(k for k in keys if f"`{k}`" not in documented)
    assert not missing, f"keys not described in docs/impact.md: {missing}"


# --- golden outputs -------------------------------------------------------------------------------

def render_golden(case: str, folder: Path) -> dict[str, str]:
    from jcnrc.verify import impact

    report = report_of(case, folder)
    return {f"{case}.{suffix}": impact.to_text(report, fmt) for fmt, suffix in FORMATS.items()}


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_golden_outputs(case, tmp_path):
    for name, text in render_golden(case, tmp_path).items():
        golden = GOLDEN / name
        assert golden.is_file(), f"{golden} is missing: python tests/test_impact.py --write-golden"
        assert text == golden.read_text(encoding="utf-8"), f"{name} differs: python tests/test_impact.py --write-golden"


# --- escaping -------------------------------------------------------------------------------------

def test_values_from_the_intent_are_escaped_for_a_terminal_and_for_markdown(tmp_path):
    from jcnrc.pipeline import Options
    from jcnrc.verify import impact

    hostile = '    command: ["sh", "-c", "echo a|b `c` \\e[31m @team <b>x</b>"]\n'
    old, new = write_pair(tmp_path, "aks-evpn-type5.yaml", lambda t: _replace(
        t, "    node: aks-agentpool-23733201-vmss000002\n    image: ubuntu:20.04\n",
        "    node: aks-agentpool-23733201-vmss000002\n    image: ubuntu:20.04\n" + hostile))
    report, _, _ = impact.analyse_change(impact.Source(old, "old"), new, "new", Options(environ={}))
    text = impact.to_text(report, "text")
    assert "\x1b" not in text and "echo a|b `c` \\u001b[31m" in text
    markdown = impact.to_text(report, "markdown")
    assert "\x1b" not in markdown
    # One code span around the whole command: the backquotes inside need a longer fence, the pipe an escape.
    assert '``["sh","-c","echo a\\|b `c` \\u001b[31m @team <b>x</b>"]``' in markdown
    assert json.loads(impact.to_text(report, "json")) == report


@pytest.mark.parametrize(("value", "cell", "expected"), [
    ("plain", True, "`plain`"),
    ("a|b", True, "`a\\|b`"),
    ("a|b", False, "`a|b`"),
    ("x`y", True, "``x`y``"),
    ("`x`", True, "`` `x` ``"),
    ("line\nbreak", True, "`line\\x0abreak`"),
    ("", True, "` `"),
])
def test_markdown_code_spans(value, cell, expected):
    from jcnrc.verify.impact import markdown_code

    assert markdown_code(value, cell) == expected


# --- the command line -----------------------------------------------------------------------------

def run(arguments: list[str]):
    from typer.testing import CliRunner

    from jcnrc.cli import app

    return CliRunner().invoke(app, ["impact", *arguments])


def test_exit_codes_and_formats(tmp_path, monkeypatch):
    write_pair(tmp_path / "ok", "aks-evpn-type5.yaml", _address_change)
    write_pair(tmp_path / "flip", "hub-and-spoke.yaml", _expect_flip)
    monkeypatch.chdir(tmp_path)
    done = run(["ok/old/aks-evpn-type5.yaml", "ok/new/aks-evpn-type5.yaml"])
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("jcnrc impact: ok/old/aks-evpn-type5.yaml -> ok/new/aks-evpn-type5.yaml\n")
    assert "Result: nothing breaks an expect: (exit 0)" in done.stdout
    flipped = run(["flip/old/hub-and-spoke.yaml", "flip/new/hub-and-spoke.yaml", "--format", "json"])
    assert flipped.exit_code == 1
    assert json.loads(flipped.stdout)["summary"]["expectsBroken"] == 2
    markdown = run(["flip/old/hub-and-spoke.yaml", "flip/new/hub-and-spoke.yaml", "--format", "markdown", "--batch", "1"])
    assert markdown.exit_code == 1 and "| **broken** | isolate `spoke-a1` `spoke-b1` |" in markdown.stdout
    assert "workers 1 at a time" in markdown.stdout
    assert "Show the blast radius" in run(["-h"]).stdout


@pytest.mark.parametrize("arguments", [
    ["missing.yaml", "ok/new/aks-evpn-type5.yaml"],
    ["ok/old/aks-evpn-type5.yaml", "missing.yaml"],
    ["ok/old", "ok/new/aks-evpn-type5.yaml"],
    ["ok/old/aks-evpn-type5.yaml", "ok/new/aks-evpn-type5.yaml", "--batch", "0"],
    ["ok/old/aks-evpn-type5.yaml", "ok/new/aks-evpn-type5.yaml", "--format", "yaml"],
    ["git:-p", "ok/new/aks-evpn-type5.yaml"],
    ["git:", "ok/new/aks-evpn-type5.yaml"],
    ["git:HEAD:other.yaml", "ok/new/aks-evpn-type5.yaml"],
])
def test_usage_errors_exit_2_without_a_traceback(tmp_path, monkeypatch, arguments):
    write_pair(tmp_path / "ok", "aks-evpn-type5.yaml", _address_change)
    monkeypatch.chdir(tmp_path)
    done = run(arguments)
    assert done.exit_code == 2, done.output
    assert "Traceback" not in done.output
    assert done.exception is None or isinstance(done.exception, SystemExit)


def test_a_new_intent_that_does_not_compile_reports_its_diagnostics_and_exits_1(tmp_path, monkeypatch):
    write_pair(tmp_path, "aks-evpn-type5.yaml", lambda t: _replace(
        t, "    node: aks-agentpool-23733201-vmss000002\n", "    node: aks-agentpool-23733201-vmss000009\n"))
    monkeypatch.chdir(tmp_path)
    done = run(["old/aks-evpn-type5.yaml", "new/aks-evpn-type5.yaml", "--format", "json"])
    assert done.exit_code == 1
    report = json.loads(done.stdout)
    assert not report["compared"] and not report["new"]["compiles"] and not report["new"]["planned"]
    assert [d["code"] for d in report["new"]["diagnostics"]] == ["JCN303"]
    assert report["new"]["diagnostics"][0]["file"] == "new/aks-evpn-type5.yaml"
    text = run(["old/aks-evpn-type5.yaml", "new/aks-evpn-type5.yaml"])
    assert text.exit_code == 1 and "error[JCN303]" in text.stdout and "NEW cannot be planned" in text.stdout


# --- git:REF --------------------------------------------------------------------------------------

def _git(folder: Path, *arguments: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=jcnrc tests", "-c", "user.email=tests@example.com",
                           "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *arguments],
                          cwd=folder, capture_output=True, text=True, timeout=GIT_GUARD, check=True)
    return done.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not on PATH: git:REF reads the old intent with git")
def test_git_ref_reads_the_same_path_and_its_lock_at_that_revision(tmp_path, monkeypatch):
    import tempfile

    repository = tmp_path / "repo"
    (repository / "net").mkdir(parents=True)
    example = ROOT / "examples" / "aks-evpn-type5.yaml"
    intent = repository / "net" / "aks-evpn-type5.yaml"
    intent.write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    shutil.copyfile(example.with_name("aks-evpn-type5.lock.json"), repository / "net" / "aks-evpn-type5.lock.json")
    _git(repository, "init", "-q")
    _git(repository, "add", ".")
    _git(repository, "commit", "-q", "-m", "base")
    intent.write_text(_address_change(intent.read_text(encoding="utf-8")), encoding="utf-8")
    _git(repository, "commit", "-q", "-am", "move ubuntu-du22")
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    monkeypatch.chdir(repository / "net")

    done = run(["git:HEAD~1", "aks-evpn-type5.yaml", "--format", "json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["old"]["source"] == "git:HEAD~1:net/aks-evpn-type5.yaml"
    assert report["summary"]["routesWithdrawn"] == 2 and report["summary"]["routesAdvertised"] == 2
    # Read with the lock of that revision: the allocated MACs and addresses did not move, so only what
    # the edit touched changes.
    assert report["summary"]["filesChanged"] < 12
    assert list(private.iterdir()) == []  # the private folder is gone

    same = json.loads(run(["git:HEAD", "aks-evpn-type5.yaml", "--format", "json"]).stdout)
    assert same["nodes"] == [] and same["artifacts"] == {"added": [], "removed": [], "changed": []}

    for ref, message in (("no-such-branch", "no such revision"), ("-c", "must not start with `-`")):
        refused = run([f"git:{ref}", "aks-evpn-type5.yaml"])
        assert refused.exit_code == 2 and message in refused.output, refused.output
    (repository / "net" / "new.yaml").write_text(intent.read_text(encoding="utf-8"), encoding="utf-8")
    absent = run(["git:HEAD", "new.yaml"])
    assert absent.exit_code == 2 and "does not exist at that revision" in absent.output
    assert list(private.iterdir()) == []


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not on PATH: git:REF reads the old intent with git")
def test_git_ref_outside_a_repository_is_a_usage_error(tmp_path, monkeypatch):
    write_pair(tmp_path, "aks-evpn-type5.yaml", _address_change)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    done = run(["git:HEAD", "new/aks-evpn-type5.yaml"])
    assert done.exit_code == 2, done.output


def write_golden() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        for case in GOLDEN_CASES:
            for name, text in render_golden(case, Path(folder) / case).items():
                (GOLDEN / name).write_text(text, encoding="utf-8")
                print(f"wrote tests/impact/{name}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-golden"]:
        sys.exit("usage: python tests/test_impact.py --write-golden")
    sys.path.insert(0, str(ROOT))
    GOLDEN.mkdir(exist_ok=True)
    write_golden()
