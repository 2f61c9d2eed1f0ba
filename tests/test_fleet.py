"""Fleets (`kind: Fleet`): one intent, many clusters, route reflectors peering across them.

What a fleet must give, checked on the bundled fleets and on small fleets made here: per-cluster
kustomize roots that real consumers accept, the route reflector mesh in the rendered cRPD config,
routes of one cluster's pods on another cluster's workers with the right next hop, stable
fleet-wide allocation, BGP propagation rules across clusters, and the GitOps objects.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from conftest import FLEET_EXAMPLES, HANG_GUARD, ROOT, cluster_results, compile_example
from jcnrc.cli import app
from jcnrc.intent.schema import FLEET_STARTER_SNIPPET, schema_text
from jcnrc.pipeline import Options, analyse, compile_intent
from jcnrc.plan.allocate import Lock
from jcnrc.plan.fleet import cluster_graph, reach_map, reached_clusters
from jcnrc.verify import kubeschema
from jcnrc.verify.manifests import gitops_objects, manifest_objects
from junos_syntax import flatten_to_set, parse_curly, render_go_branches

KUBECTL = shutil.which("kubectl")
ASSUMED = [("Secret", "kube-system", "platter-secrets"), ("Secret", "jcnr", "jcnr-secrets")]


def write_intent(tmp_path: Path, data: dict, name: str = "fleet.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def small_fleet(asns=(64512, 64512), peerings=None) -> dict:
    """Clusters c0, c1, ... with one route reflector, one worker and one pod in VRF blue each."""
    clusters = []
    for i, asn in enumerate(asns):
        clusters.append({
            "name": f"c{i}",
            "cluster": {"provider": "kubeadm", "asn": asn, "nodeSubnet": f"10.{i}.0.0/16",
                        "podCidr": "10.244.0.0/16", "serviceCidr": "10.96.0.0/12"},
            "nodes": [{"name": f"c{i}-rr", "address": f"10.{i}.0.10", "role": "master"},
                      {"name": f"c{i}-w", "address": f"10.{i}.0.11", "role": "worker"}],
            "pods": [{"name": "pod", "node": f"c{i}-w", "image": "ubuntu:22.04", "networks": [{"vrf": "blue"}]}],
        })
    data = {
        "apiVersion": "jcnrc/v1", "kind": "Fleet", "metadata": {"name": "f", "namespace": "default"},
        "images": {"platter": "registry.example.com/platter:1", "crpd": "registry.example.com/crpd:1"},
        "vrfs": [{"name": "blue", "routeTarget": "11:11", "vni": 10002, "ipv4Pool": "1.1.0.0/16"}],
        "secrets": {"rootPassword": {"env": "ROOT_PW"}, "crpdLicense": {"env": "LICENSE"}},
        "clusters": clusters,
    }
    if peerings is not None:
        data["interconnect"] = {"peerings": [{"clusters": list(pair)} for pair in peerings]}
    return data


@pytest.fixture(scope="module")
def fleets(compiled_fleets):
    return compiled_fleets


# --- the bundled fleets, read back by real consumers ------------------------------------------------

def test_every_cluster_folder_is_a_kustomize_root_and_validates_strictly(fleets):
    for name, result in fleets.items():
        clusters = cluster_results(name, result)
        assert len(clusters) == len(result.fleet.clusters) >= 2
        for key, cluster in clusters.items():
            assert "kustomization.yaml" in cluster.files and "README.md" in cluster.files, key
            objects, sources = manifest_objects(cluster.files)
            assert objects, key
            problems = kubeschema.validate_objects(objects, "1.32", sources=sources, assume_present=ASSUMED)
            assert problems == [], f"{key}: {problems[:5]}"


def test_gitops_objects_validate_against_the_argo_cd_and_flux_schemas(fleets):
    for name, result in fleets.items():
        objects, sources = gitops_objects(result.files)
        kinds = sorted(o["kind"] for o in objects)
        assert kinds == ["ApplicationSet"] + ["Kustomization"] * 2 * len(result.fleet.clusters), name
        assert kubeschema.validate_objects(objects, "1.32", sources=sources) == [], name
        appset = next(o for o in objects if o["kind"] == "ApplicationSet")
        elements = appset["spec"]["generators"][0]["list"]["elements"]
        assert [e["cluster"] for e in elements] == [c.name for c in result.fleet.clusters]
        assert appset["spec"]["template"]["spec"]["source"]["path"] == f"out/{result.fleet.name}/{{{{.cluster}}}}"
        for flux in (o for o in objects if o["kind"] == "Kustomization"):
            cluster, _, part = flux["metadata"]["name"].removeprefix(result.fleet.name + "-").rpartition("-")
            assert flux["spec"]["path"] == f"./out/{result.fleet.name}/{cluster}/flux/{part}"
            assert f"{cluster}/flux/{part}/kustomization.yaml" in result.files
            if part == "workloads":  # the workloads wait for the platform
                assert flux["spec"]["dependsOn"] == [{"name": f"{result.fleet.name}-{cluster}-platform"}]


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_kustomize_renders_every_cluster_folder(fleets, tmp_path):
    for name, result in fleets.items():
        root = tmp_path / name
        for path, text in result.files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
        for cluster in result.fleet.clusters:
            run = subprocess.run([KUBECTL, "kustomize", str(root / cluster.name)], capture_output=True, text=True,
                                 timeout=HANG_GUARD)
            assert run.returncode == 0, f"{name}/{cluster.name}: {run.stderr}"
            kinds = {doc["kind"] for doc in yaml.safe_load_all(run.stdout) if doc}
            assert "NetworkAttachmentDefinition" in kinds


def test_cloud_prerequisite_scripts_pass_shellcheck(fleets, tmp_path):
    from test_artifacts import SHELLCHECK

    checked = 0
    for name, result in fleets.items():
        for path, text in result.files.items():
            if path.endswith("scripts/cloud-prerequisites.sh"):
                script = tmp_path / f"{checked}.sh"
                script.write_text(text)
                run = subprocess.run([SHELLCHECK, "--shell=sh", str(script)], capture_output=True, text=True,
                                     timeout=HANG_GUARD)
                assert run.returncode == 0, f"{name}/{path}:\n{run.stdout}"
                checked += 1
    assert checked == sum(len(r.fleet.clusters) for r in fleets.values())


def test_cloud_rules_open_vxlan_and_bgp_from_the_peer_clusters(fleets):
    files = fleets["tri-fleet.yaml"].files
    east = files["east/scripts/cloud-prerequisites.sh"]
    assert "allow udp 4789 10.240.0.0/16" in east  # west's workers
    # lab runs JCNR: its tunnels and sessions leave from the fabric addresses, outside its node subnet
    assert "allow udp 4789 192.168.60.11/32" in east  # lab's worker: east's routes reach lab through west
    assert "192.168.50.0/24" not in east
    assert "allow tcp 179 10.240.0.0/16" in east and "allow tcp 179 192.168.60.10/32" not in east  # only its peer
    assert "modify-network-interface-attribute" in east
    west = files["west/scripts/cloud-prerequisites.sh"]
    assert "\"$AZ\" network nsg rule create" in west and "--source-address-prefixes 192.168.60.10/32" in west
    assert "\"$IP\" route get 10.240.0.0" in files["lab/scripts/cloud-prerequisites.sh"]


def test_cloud_rule_sources_are_where_the_sessions_and_tunnels_come_from():
    """The node subnet for nodes that use their node address; the fabric addresses outside it, merged
    into the fewest exact CIDRs; both when a cluster has both kinds."""
    from types import SimpleNamespace

    from jcnrc.render.fleet import traffic_sources

    def nodes(*addresses):
        return tuple(SimpleNamespace(ipv4_loopback=a) for a in addresses)

    assert traffic_sources("10.20.0.0/16", nodes("10.20.0.4", "10.20.0.5")) == ("10.20.0.0/16",)
    assert traffic_sources("10.20.0.0/16", nodes("10.30.1.10", "10.30.1.11", "10.30.1.13")) == (
        "10.30.1.10/31", "10.30.1.13/32")
    assert traffic_sources("10.20.0.0/16", nodes("10.20.0.4", "10.30.1.11")) == ("10.20.0.0/16", "10.30.1.11/32")
    assert traffic_sources("10.20.0.0/16", ()) == ("10.20.0.0/16",)


# --- route reflectors peer across clusters -----------------------------------------------------------

def platter_lines(result, cluster: str, master: bool) -> set[str]:
    configmap = yaml.safe_load(result.files[f"{cluster}/manifests/configmap-platter-config.yaml"])
    template = configmap["data"]["crpd-config.tmpl"]
    return set(flatten_to_set(parse_curly(render_go_branches(template, IsMasterNode=master, LicenseKey=True,
                                                         ISOLoopbackAddr=True, IPv4LoopbackAddr=False,
                                                         IPv4DefaultGw=False))))


def test_same_as_route_reflectors_peer_over_ibgp(fleets):
    result = fleets["eks-inter-cluster.yaml"]
    east = platter_lines(result, "east", master=True)
    group = "set protocols bgp group jcnrc-fleet"
    assert f"{group} type internal" in east
    assert f"{group} neighbor 10.20.1.10 description west/ip-10-20-1-10.ec2.internal" in east
    for family in ("inet-vpn unicast", "inet6-vpn unicast", "evpn signaling"):
        assert f"{group} family {family}" in east
    assert not any(line.startswith(f"{group} cluster ") for line in east), "a non-client peer, not a client"
    assert not any(line.startswith(group) for line in platter_lines(result, "east", master=False)), "workers do not"


def test_other_as_route_reflectors_peer_over_ebgp_multihop_keeping_the_next_hop(fleets):
    result = fleets["tri-fleet.yaml"]
    west = platter_lines(result, "west", master=True)
    group = "set protocols bgp group jcnrc-fleet-ebgp"
    assert {f"{group} type external", f"{group} multihop ttl 64", f"{group} multihop no-nexthop-change",
            f"{group} neighbor 10.10.1.10 peer-as 64512", f"{group} neighbor 192.168.60.10 peer-as 64514"} <= west
    east = platter_lines(result, "east", master=True)  # lab runs JCNR: its route reflector speaks from its fabric address
    assert not any("192.168.60.10" in line for line in east), "east and lab do not peer"
    lab = result.files["lab/nodes/lab-master/crpd-config.set"]
    assert "set protocols bgp group jcnrc-fleet-ebgp neighbor 10.240.0.4 peer-as 64513" in lab


def test_a_workers_routes_list_another_clusters_pod_with_that_clusters_next_hop(tmp_path):
    intent = FLEET_EXAMPLES[0]
    assert intent.name == "eks-inter-cluster.yaml"
    run = CliRunner().invoke(app, ["routes", str(intent), "--node", "east/ip-10-10-1-11.ec2.internal", "--format", "json"])
    assert run.exit_code == 0, run.output
    state = json.loads(run.output)
    routes = {r["prefix"]: r for t in state["tables"] for r in t["evpnRoutes"]}
    remote = routes["1.1.22.0/30"]
    assert (remote["protocolNextHop"], remote["originNode"], remote["vni"]) == (
        "10.20.1.11", "west/ip-10-20-1-11.ec2.internal", 10002)
    assert remote["rd"] == "10.20.1.11:1" and remote["routeTargets"] == ["target:11:11"]
    assert remote["learnedFrom"] == ["10.10.1.10"]
    kernel = {k["prefix"]: k for t in state["tables"] for k in t["kernelRoutes"]}
    assert kernel["1.1.22.0/30"]["text"] == "1.1.22.0/30 encap ip id 10002 src 10.10.1.11 dst 10.20.1.11"
    master = json.loads(CliRunner().invoke(app, ["routes", str(intent), "--node", "east/ip-10-10-1-10.ec2.internal",
                                                 "--format", "json"]).output)
    assert {"peer": "10.20.1.10", "peerNode": "west/ip-10-20-1-10.ec2.internal", "asn": 64512, "peerRole": "fleet-peer",
            "state": "Established"} in master["bgpSessions"]


def test_commands_name_fleet_nodes_and_pods_by_cluster():
    intent = str(FLEET_EXAMPLES[0])
    unknown = CliRunner().invoke(app, ["routes", intent, "--node", "ip-10-10-1-11.ec2.internal"])
    assert unknown.exit_code == 2 and "did you mean `east/ip-10-10-1-11.ec2.internal`" in unknown.output
    explained = CliRunner().invoke(app, ["explain", intent, "east/du-east-1", "west/du-west-1"])
    assert explained.exit_code == 0 and "reachable both ways" in explained.output
    assert "to west/ip-10-20-1-11.ec2.internal (10.20.1.11)" in explained.output
    drawn = CliRunner().invoke(app, ["graph", intent])
    assert drawn.exit_code == 0 and drawn.output.count("subgraph cluster_") == 2 and "<-->|\"iBGP\"|" in drawn.output
    one = CliRunner().invoke(app, ["graph", intent, "--cluster", "west"])
    assert one.exit_code == 0 and "du-west-1" in one.output and "du-east-1" not in one.output


# --- propagation between clusters: a graph question -----------------------------------------------------

def test_only_the_best_path_is_passed_on():
    """y learns o's route through a (AS path 65010 65001) and through c-b (longer): it advertises the
    best one only, whose path holds t's AS 65010, so t never learns o's routes (outside review, finding 6)."""
    asns = [("o", 65001), ("a", 65010), ("b", 65020), ("c", 65030), ("y", 65040), ("t", 65010)]
    pairs = [("a", "o"), ("a", "y"), ("c", "o"), ("b", "c"), ("b", "y"), ("t", "y")]
    assert reached_clusters(cluster_graph(asns, pairs), "o") == {"a", "b", "c", "y"}


def test_reachability_of_a_big_mixed_as_fleet_is_computed_in_polynomial_work():
    """Sixteen clusters, each its own AS, in a full mesh took minutes when every AS set was a state
    (outside review, finding 1): count the routes the simulation considers instead of timing it."""
    from conftest import call_count

    def calls(n: int) -> int:
        names = [f"c{i:02d}" for i in range(n)]
        graph = cluster_graph([(name, 65000 + i) for i, name in enumerate(names)],
                              [(a, b) for i, a in enumerate(names) for b in names[i + 1:]])
        reached, count = call_count(reach_map, graph)
        assert all(len(others) == n - 1 for others in reached.values())
        return count

    small, large = calls(8), calls(16)
    assert large < small * 16 * 2  # cubic in the clusters of a full mesh (edges x origins), with room


@pytest.mark.parametrize("asns,pairs,origin,reached", [
    ((1, 1, 1), [("a", "b"), ("b", "c")], "a", {"b"}),          # iBGP: a non-client's route is not passed on
    ((1, 2, 3), [("a", "b"), ("b", "c")], "a", {"b", "c"}),     # eBGP passes it on
    ((1, 2, 1), [("a", "b"), ("b", "c")], "a", {"b"}),          # c refuses a path holding its own AS
    ((1, 1, 2), [("a", "b"), ("b", "c")], "a", {"b", "c"}),     # iBGP then eBGP: advertised to the eBGP peer
    ((1, 2, 2), [("a", "b"), ("b", "c")], "a", {"b", "c"}),     # eBGP then iBGP: learned over eBGP, sent to iBGP
    ((1, 1, 1), [("a", "b"), ("b", "c"), ("a", "c")], "a", {"b", "c"}),
    ((1, 1), [], "a", set()),
])
def test_routes_cross_clusters_as_bgp_passes_them_on(asns, pairs, origin, reached):
    names = "abc"[: len(asns)]
    graph = cluster_graph(list(zip(names, asns, strict=True)), pairs)
    assert reached_clusters(graph, origin) == reached


def test_an_expectation_across_unpeered_ibgp_clusters_fails_with_the_peering_to_add(tmp_path):
    data = small_fleet(asns=(64512, 64512, 64512), peerings=[("c0", "c1"), ("c1", "c2")])
    data["expect"] = [{"reach": ["c0/pod", "c2/pod"]}]
    result = analyse(write_intent(tmp_path, data), Options(environ={}))
    [problem] = [d for d in result.diagnostics if d.is_error]
    assert problem.code == "JCN703" and problem.path == ("expect", 0, "reach")
    assert "routes of cluster `c2` never reach cluster `c0`" in problem.message
    assert "peer clusters `c0` and `c2`" in problem.help
    data["interconnect"]["peerings"].append({"clusters": ["c0", "c2"]})
    assert analyse(write_intent(tmp_path, data), Options(environ={})).ok


# --- one fleet, one lock --------------------------------------------------------------------------------

def test_adding_a_cluster_renumbers_nothing(tmp_path):
    data = yaml.safe_load((ROOT / "examples" / "fleets" / "tri-fleet.yaml").read_text())
    first = compile_intent(write_intent(tmp_path, data, "tri.yaml"), Options(environ={}))
    assert first.ok
    (tmp_path / "tri.lock.json").write_text(first.lock.to_json())
    grown = copy.deepcopy(data)
    grown["clusters"].insert(1, {
        "name": "north", "cluster": {"provider": "kubeadm", "asn": 64515, "nodeSubnet": "192.168.60.0/24",
                                     "podCidr": "10.244.0.0/16", "serviceCidr": "10.96.0.0/12"},
        "nodes": [{"name": "n-rr", "address": "192.168.60.10", "role": "master"},
                  {"name": "n-w", "address": "192.168.60.11", "role": "worker"}],
        "pods": [{"name": "p", "node": "n-w", "image": "ubuntu:22.04", "networks": [{"vrf": "red"}, {"vrf": "blue"}]}]})
    grown["interconnect"]["peerings"].append({"clusters": ["north", "west"]})
    second = compile_intent(write_intent(tmp_path, grown, "tri.yaml"), Options(environ={}))
    assert second.ok, [d.message for d in second.diagnostics]
    old, new = json.loads(first.lock.to_json()), json.loads(second.lock.to_json())
    for section in ("nodes", "vnis", "routeDistinguishers", "macs", "subnets"):
        kept = {k: v for k, v in new[section].items() if k in old[section]}
        assert kept == old[section], section
    assert any(key.startswith("north/") for key in new["subnets"])
    for cluster in ("east", "west", "lab"):  # the clusters that did not change keep their bytes but for
        for path, text in first.files.items():  # the peering and the routes of the new cluster
            if path.startswith(f"{cluster}/manifests/deployment-"):
                assert second.files[path] == text, path


def test_a_one_cluster_fleet_folder_is_its_topology_build(tmp_path):
    fleet = small_fleet(asns=(64512,))
    cluster = fleet["clusters"][0]
    topology = {"apiVersion": "jcnrc/v1", "kind": "Topology", "metadata": {"name": "f-c0", "namespace": "default"},
                "cluster": cluster["cluster"], "images": fleet["images"], "nodes": cluster["nodes"],
                "vrfs": fleet["vrfs"], "pods": [{**p, "name": p["name"]} for p in cluster["pods"]],
                "secrets": fleet["secrets"]}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    as_fleet = compile_intent(write_intent(tmp_path / "a", fleet, "same.yaml"), Options(environ={}))
    as_topology = compile_intent(write_intent(tmp_path / "b", topology, "same.yaml"), Options(environ={}))
    assert as_fleet.ok and as_topology.ok
    folder = {path.removeprefix("c0/"): text for path, text in as_fleet.files.items() if path.startswith("c0/")}
    assert set(folder) - set(as_topology.files) == {"scripts/cloud-prerequisites.sh"}  # the fleet's addition
    assert set(as_topology.files) <= set(folder)

    def same(text: str) -> str:
        """Commands name a fleet's nodes `c0/<node>`; the README records the intent's digest."""
        text = text.replace("--node c0/", "--node ")
        return "\n".join(line for line in text.split("\n") if "sha256" not in line)

    differ = sorted(p for p, text in as_topology.files.items() if folder[p] != text)
    assert differ and all(p == "README.md" or p.startswith("state/") for p in differ)
    assert all(same(folder[p]) == same(as_topology.files[p]) for p in differ)


# --- options that apply to every cluster --------------------------------------------------------------

def test_target_override_applies_to_every_cluster_including_their_own_target(tmp_path):
    data = small_fleet()
    data["clusters"][1]["target"] = "platter"
    for i, cluster in enumerate(data["clusters"]):  # JCNR's data path, which target jcnr requires
        cluster["cluster"]["fabricInterface"] = "eth1"
        for node in cluster["nodes"]:
            node["fabricAddress"] = node["address"].replace(f"10.{i}.", f"10.{200 + i}.", 1)  # outside serviceCidr 10.96.0.0/12
    result = analyse(write_intent(tmp_path, data), Options(environ={}, target="jcnr"))
    assert result.ok and {c.plan.target for c in result.fleet.clusters} == {"jcnr"}


# --- schema --------------------------------------------------------------------------------------------

def test_committed_fleet_schema_equals_the_model_and_accepts_the_examples():
    committed = ROOT / "schemas" / "fleet.schema.json"
    assert committed.read_text(encoding="utf-8") == schema_text("Fleet"), \
        "schemas/fleet.schema.json is stale: run `.venv/bin/jcnrc schema --kind fleet > schemas/fleet.schema.json`"
    schema = json.loads(committed.read_text())
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for path in FLEET_EXAMPLES:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], path.name
    refused = [e.message for e in validator.iter_errors({**yaml.safe_load(FLEET_EXAMPLES[0].read_text()), "nodes": []})]
    assert refused, "a Topology key at the top of a fleet"


def test_the_fleet_starter_snippet_is_a_fleet_that_checks_clean(tmp_path):
    import re

    text = json.dumps(FLEET_STARTER_SNIPPET["body"])
    text = re.sub(r"\$\{\d+:([^}]*)\}", r"\1", text)
    result = analyse(write_intent(tmp_path, json.loads(text)), Options(environ={}))
    assert result.ok and [d for d in result.diagnostics if d.severity == "error"] == []


# --- golden output -------------------------------------------------------------------------------------

@pytest.mark.parametrize("example", FLEET_EXAMPLES, ids=lambda p: p.name)
def test_out_folder_and_lock_match_a_fresh_build(example):
    from jcnrc.output.write import OWNED_LIST

    result = compile_example(example, display_folder="examples/fleets")
    out_dir = ROOT / "out" / result.fleet.name
    assert out_dir.is_dir(), f"out/{result.fleet.name} is missing: run `make examples`"
    on_disk = {p.relative_to(out_dir).as_posix(): p.read_text(encoding="utf-8")
               for p in out_dir.rglob("*") if p.is_file() and p.name != OWNED_LIST}
    stale = sorted(p for p in set(on_disk) | set(result.files) if on_disk.get(p) != result.files.get(p))
    assert not stale, f"out/{result.fleet.name} is stale (run `make examples`): {stale[:10]}"
    assert result.lock_path.is_file() and not result.lock_changed, "run `make examples`"
    assert Lock.from_json(result.lock_path.read_text()).subnets.keys() == result.lock.subnets.keys()


def test_validate_checks_each_cluster_folder_and_the_gitops_objects(fleets):
    from jcnrc.verify.manifests import validate_files

    for name, result in fleets.items():
        folders = tuple(c.name for c in result.fleet.clusters)
        assert validate_files(result.files, "1.32", folders) == [], name
    files = dict(fleets["eks-inter-cluster.yaml"].files)
    files["west/manifests/deployment-du-west-1.yaml"] = files["west/manifests/deployment-du-west-1.yaml"].replace(
        "spec:", "spec:\n  bogusField: 1", 1)
    files["gitops/flux/east.yaml"] = files["gitops/flux/east.yaml"].replace("interval: 10m", "interval: soon", 1)
    problems = validate_files(files, "1.32", ("east", "west"))
    assert sorted(p.source.split(":")[0].split("#")[0] for p in problems) == [
        "gitops/flux/east.yaml", "west/manifests/deployment-du-west-1.yaml"]


# --- the fleet's graph, and verification across clusters -------------------------------------------

def test_the_fleet_graph_holds_clusters_sessions_and_vrf_spans(fleets):
    fleet = fleets["tri-fleet.yaml"].fleet
    g = fleet.graph
    assert sorted(name for kind, name in g.nodes if kind == "cluster") == ["east", "lab", "west"]
    assert g.nodes[("cluster", "west")]["asn"] == 64513
    sessions = {(u[1], v[1], d["session"]) for u, v, d in g.edges(data=True) if d.get("session")}
    assert ("east/ip-10-10-1-10.ec2.internal", "west/aks-agentpool-23733201-vmss000000", "ebgp") in sessions
    assert not any("east/" in u and "lab/" in v for u, v, _ in sessions)  # east and lab do not peer
    spans = {(u[1], v[1]) for u, v, d in g.edges(data=True) if d.get("relation") == "spans"}
    assert spans == {("blue", "east"), ("blue", "west"), ("blue", "lab"), ("red", "west"), ("red", "lab")}
    assert all(g.has_edge(("node", f"{c.name}/{n.name}"), ("cluster", c.name)) for c in fleet.clusters for n in c.plan.nodes)


def walkthrough_fleet(extra_cluster: bool) -> dict:
    """The walkthrough's AKS topology as the cluster `aks` of a fleet, with or without a second cluster."""
    topology = yaml.safe_load((ROOT / "examples" / "aks-evpn-type5.yaml").read_text())
    clusters = [{"name": "aks", "cluster": topology["cluster"], "nodes": topology["nodes"], "pods": topology["pods"]}]
    if extra_cluster:
        clusters.append({"name": "far", "cluster": {**topology["cluster"], "nodeSubnet": "10.250.0.0/16"},
                         "nodes": [{"name": "far-rr", "address": "10.250.0.4", "role": "master"},
                                   {"name": "far-w", "address": "10.250.0.5", "role": "worker"}],
                         "pods": [{"name": "far-pod", "node": "far-w", "image": "ubuntu:20.04",
                                   "networks": [{"vrf": "blue", "interface": "net1", "ipv4": "1.1.33.2/30"}]}]})
    return {"apiVersion": "jcnrc/v1", "kind": "Fleet", "metadata": {"name": "walk", "namespace": "default"},
            "images": topology["images"], "vrfs": topology["vrfs"], "secrets": topology["secrets"], "clusters": clusters}


def test_verify_across_clusters_on_the_walkthroughs_real_captures(tmp_path):
    from test_verify import ALL, NODE2, text_of

    captures = [str(tmp_path / name) for name in ALL]
    for name in ALL:
        (tmp_path / name).write_text(text_of(name), encoding="utf-8")
    alone = write_intent(tmp_path, walkthrough_fleet(extra_cluster=False), "alone.yaml")
    run = CliRunner().invoke(app, ["verify", str(alone), "--node", f"aks/{NODE2}", *captures])
    assert run.exit_code == 0, run.output
    assert run.output.rstrip().endswith("matches the intent")
    # A second cluster in the fleet: the worker must now also hold far-pod's route, next hop in `far`.
    joined = write_intent(tmp_path, walkthrough_fleet(extra_cluster=True), "joined.yaml")
    run = CliRunner().invoke(app, ["verify", str(joined), "--node", f"aks/{NODE2}", "--format", "json", *captures])
    assert run.exit_code == 1
    missing = [f for f in json.loads(run.output) if f["problem"]]
    assert any(f["kind"] == "missing-route" and f["subject"] == "5:10.250.0.5:1::0::1.1.33.0::30/248"
               and "expected BGP from 10.240.0.4" in f["message"] for f in missing), missing
    assert any("1.1.33.0/30 encap ip id 10002 src 10.240.0.6 dst 10.250.0.5" in f["message"] for f in missing), missing


# --- every fleet-only text field refuses every hostile value -------------------------------------------

def _fleet_text_fields(model=None, prefix: str = "") -> dict[str, tuple]:
    """label -> path in the bundled tri-fleet of every text field that only a Fleet has (the parts it
    shares with a Topology, `cluster`, `nodes`, `pods`, `vrfs`, `images`, `secrets`, are the Topology
    matrix's: tests/test_injection.py)."""
    from jcnrc.intent.model import Fleet, FleetCluster, Topology
    from test_injection import string_fields

    shared = ("clusters[].cluster.", "clusters[].nodes[]", "clusters[].pods[]", "clusters[].secrets.", "vrfs[]",
              "images.", "secrets.", "metadata.", "apiVersion")
    # A fleet's `expect` names pods as <cluster>/<pod>: another syntax than a Topology's, so its own entries.
    topology_fields = string_fields(Topology) - {"expect[].reach[]", "expect[].isolate[]"}
    labels = sorted(label for label in string_fields(Fleet)
                    if not label.startswith(shared) and label not in topology_fields | {"kind"})
    paths = {
        "clusters[].name": ("clusters", 0, "name"),
        "clusters[].target": ("clusters", 1, "target"),
        "clusters[].images.platter": ("clusters", 0, "images", "platter"),
        "clusters[].images.crpd": ("clusters", 0, "images", "crpd"),
        "clusters[].images.nodePrep": ("clusters", 0, "images", "nodePrep"),
        "interconnect.peerings[].clusters[]": ("interconnect", "peerings", 0, "clusters", 0),
        "gitops.repoURL": ("gitops", "repoURL"),
        "gitops.revision": ("gitops", "revision"),
        "gitops.path": ("gitops", "path"),
        "gitops.argocdNamespace": ("gitops", "argocdNamespace"),
        "gitops.argocdProject": ("gitops", "argocdProject"),
        "gitops.fluxNamespace": ("gitops", "fluxNamespace"),
        "gitops.fluxSource": ("gitops", "fluxSource"),
        "gitops.interval": ("gitops", "interval"),
        "expect[].reach[]": ("expect", 0, "reach", 0),
        "expect[].isolate[]": ("expect", 1, "isolate", 1),
    }
    assert labels == sorted(paths), f"fleet text fields without a path here: {sorted(set(labels) ^ set(paths))}"
    assert FleetCluster  # the model the cluster fields come from
    return paths


def test_every_fleet_only_text_field_refuses_every_hostile_value(tmp_path):
    from strategies import HOSTILE

    base = small_fleet(peerings=[("c0", "c1")])
    base["clusters"][0]["images"] = {"platter": "r.example.com/p:1", "crpd": "r.example.com/c:1", "nodePrep": "r.example.com/n:1"}
    base["clusters"][1]["target"] = "platter"
    base["gitops"] = {"repoURL": "https://example.com/net.git", "revision": "main", "path": "out/f"}
    base["expect"] = [{"reach": ["c0/pod", "c1/pod"]}, {"isolate": ["c0/pod", "blue"]}]
    base["vrfs"].append({"name": "red", "routeTarget": "22:22", "vni": 10003, "ipv4Pool": "2.2.0.0/16"})
    base["expect"][1]["isolate"][1] = "red"
    assert analyse(write_intent(tmp_path, base, "base.yaml"), Options(environ={})).ok, "the base must be valid"
    accepted = []
    for label, path in _fleet_text_fields().items():
        for name, value in HOSTILE.items():
            data = copy.deepcopy(base)
            node = data
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
            result = analyse(write_intent(tmp_path, data, "hostile.yaml"), Options(environ={}))
            errors = [d for d in result.diagnostics if d.is_error]
            if not errors:
                accepted.append((label, name))
            else:
                located = result.located()
                assert all(loc.line is not None for loc in located), (label, name)
    assert accepted == [], f"fleet fields that accept hostile values (give them the full injection matrix): {accepted}"


# --- outside review of the fleet (fuzz/README.md): regressions ------------------------------------------

def test_the_bundled_fleets_check_without_a_warning_but_the_lone_route_reflectors():
    """robric's clusters have one route reflector each (JCN922); nothing else is reported."""
    for path in FLEET_EXAMPLES:
        result = analyse(path, Options(environ={}))
        assert result.ok and {d.code for d in result.diagnostics} <= {"JCN922"}, [d.message for d in result.diagnostics]


def test_a_target_override_builds_into_its_own_folder_and_gitops_paths_follow(tmp_path):
    from jcnrc.cli import Target, default_out_dir

    # Target jcnr needs every cluster's JCNR data path, which only tri's JCNR cluster writes.
    data = yaml.safe_load(FLEET_EXAMPLES[1].read_text(encoding="utf-8"))
    for i, cluster in enumerate(data["clusters"]):
        cluster["cluster"]["fabricInterface"] = "eth1"
        for node in cluster["nodes"]:
            node.setdefault("fabricAddress", f"10.{200 + i}.0.{10 + cluster['nodes'].index(node)}")
    everywhere = write_intent(tmp_path, data, FLEET_EXAMPLES[1].name)
    for target, folder in (("jcnr", "tri-jcnr"), ("platter", "tri-platter")):  # tri has a JCNR cluster: mixed
        result = compile_intent(everywhere if target == "jcnr" else FLEET_EXAMPLES[1], Options(environ={}, target=target))
        assert result.ok and default_out_dir(result, Target(target)).name == folder
        appset = yaml.safe_load(result.files["gitops/argocd/applicationset.yaml"])
        assert appset["spec"]["template"]["spec"]["source"]["path"] == f"out/{folder}/{{{{.cluster}}}}"
    same = compile_intent(FLEET_EXAMPLES[0], Options(environ={}, target="platter"))
    assert default_out_dir(same, Target("platter")).name == "eks-inter-cluster"


def test_secret_problems_of_a_cluster_point_at_its_own_secrets(tmp_path):
    data = small_fleet()
    data["clusters"][1]["secrets"] = {"rootPassword": {"env": "C1_ROOT"}, "crpdLicense": {"env": "C1_LICENSE"}}
    result = compile_intent(write_intent(tmp_path, data), Options(environ={"ROOT_PW": "fleet-root-1", "LICENSE": "fleet-lic-1"}))
    [unchecked] = [d for d in result.diagnostics if d.code == "JCN918"]
    assert unchecked.path == ("clusters", 1, "secrets", "rootPassword", "env") and "C1_ROOT" in unchecked.message


def test_a_fleet_wide_mistake_is_reported_once(tmp_path):
    data = small_fleet(asns=(64512, 64512, 64512))
    data["secrets"]["mode"] = "inline"
    result = compile_intent(write_intent(tmp_path, data), Options(environ={}, allow_secret_values=False))
    assert [d.code for d in result.diagnostics if d.is_error] == ["JCN808"]


@pytest.mark.parametrize("interval, words", [("0.0001ms", "shorter than a second"), ("500ms", "shorter than a second"),
                                              ("9999999h", "longer than Go's duration holds")])
def test_a_flux_interval_flux_cannot_use_is_refused(tmp_path, interval, words):
    """Attack round 4, F8: 100 ns reconciles without pause; 9999999h overflows Go's time.Duration."""
    data = small_fleet()
    data["gitops"] = {"interval": interval}
    result = analyse(write_intent(tmp_path, data), Options(environ={}))
    errors = [d for d in result.diagnostics if d.is_error]
    assert [(d.code, d.path) for d in errors] == [("JCN459", ("gitops", "interval"))] and words in errors[0].message


def test_flux_intervals_from_a_second_to_the_longest_go_duration_pass():
    from jcnrc.intent.fleet import FLUX_INTERVAL_MAX_S, duration_seconds

    assert duration_seconds("1s") == 1.0 and duration_seconds("1h30m") == 5400.0 and duration_seconds("1.5m") == 90.0
    assert duration_seconds("2562047h") < FLUX_INTERVAL_MAX_S < duration_seconds("2562048h")


def test_gitops_objects_name_the_folder_the_build_writes(tmp_path, monkeypatch):
    """Attack round 4, F6: with `-o clusters/prod` Argo CD and Flux must sync clusters/prod, the folder
    `build --check` compares, not out/<fleet>; a `gitops.path` naming another folder is a warning."""
    from jcnrc.cli import app

    shutil.copy(ROOT / "examples" / "fleets" / "tri-fleet.yaml", tmp_path / "f.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CRPD_ROOT_PASSWORD", "Correct-Horse-Battery-9")
    run = CliRunner().invoke(app, ["build", "f.yaml", "-o", "clusters/prod", "--quiet"])
    assert run.exit_code == 0, run.output
    appset = yaml.safe_load((tmp_path / "clusters/prod/gitops/argocd/applicationset.yaml").read_text())
    assert appset["spec"]["template"]["spec"]["source"]["path"] == "clusters/prod/{{.cluster}}"
    for cluster in ("east", "west", "lab"):
        platform, workloads = yaml.safe_load_all((tmp_path / f"clusters/prod/gitops/flux/{cluster}.yaml").read_text())
        assert (platform["spec"]["path"], workloads["spec"]["path"]) == (
            f"./clusters/prod/{cluster}/flux/platform", f"./clusters/prod/{cluster}/flux/workloads")
        assert (tmp_path / "clusters/prod" / cluster / "flux" / "platform").is_dir()

    data = yaml.safe_load((tmp_path / "f.yaml").read_text())
    data["gitops"]["path"] = "somewhere/else"
    (tmp_path / "f.yaml").write_text(yaml.safe_dump(data))
    warned = CliRunner().invoke(app, ["build", "f.yaml", "-o", "clusters/prod", "--warnings-as-errors"])
    assert warned.exit_code == 1 and "warning[JCN926]: `gitops.path` is somewhere/else, but this build writes clusters/prod" \
        in warned.output
