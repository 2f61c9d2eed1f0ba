"""`target: jcnr`: the JCNR 23.x/24.x artifacts of an intent (jcnrc/render/jcnr.py, templates/jcnr/).

The checks that matter most: every Kubernetes object validates strictly, every Configlet holds
well-formed Junos set commands, the VNI, route targets and route distinguisher in those commands
are the ones `jcnrc routes` expects on each node, and JCNR's data path runs between the nodes'
fabric addresses everywhere (BGP local address, router ID, neighbors, RDs, the expected next hops
and sessions). The Helm values come from the intent alone (no FILL IN, never Platter's images), and
23.x gets the same configuration in its persistent form, the chart's custom cRPD template.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml as pyyaml
from ruamel.yaml import YAML

from conftest import EXAMPLES, FLEET_EXAMPLES, HANG_GUARD, ROOT, compile_example
from jcnrc.intent.names import is_dns1123_subdomain
from jcnrc.pipeline import Options, analyse, compile_intent
from jcnrc.plan import expected as routes
from jcnrc.render.jcnr import JCNR23_TEMPLATE, configlet_name, params_profile
from jcnrc.verify import kubeschema
from jcnrc.verify.manifests import manifest_objects
from junos_syntax import flatten_to_set, parse_curly, parse_set_lines

AKS = ROOT / "examples" / "aks-evpn-type5.yaml"
SECRET = ("Secret", "jcnr", "jcnr-secrets")
ROOT_PASSWORD = "Zq9-root-pw-do-not-leak"
LICENSE = "E2023-LICENSE-do-not-leak aeaqie"


def fabric_address(index: int) -> str:
    return f"10.250.{index // 200}.{index % 200 + 10}"


def with_fabric(data: dict) -> dict:
    """An intent with JCNR's data path, where it has none: `cluster.fabricInterface` and a fabric
    address per node (10.250.0.0/16, which no example uses)."""
    data["cluster"].setdefault("fabricInterface", "eth1")
    for index, node in enumerate(data["nodes"]):
        node.setdefault("fabricAddress", fabric_address(index))
    return data


@pytest.fixture(scope="session")
def jcnr_intents(tmp_path_factory) -> dict[str, Path]:
    """Every example as target jcnr builds it: aks-evpn-type5 as it is (it carries the JCNR data path),
    the others copied with one added (and their lock file, so allocated values stay)."""
    folder = tmp_path_factory.mktemp("jcnr-intents")
    found = {}
    for path in EXAMPLES:
        data = pyyaml.safe_load(path.read_text(encoding="utf-8"))
        if "fabricInterface" in data["cluster"]:
            found[path.name] = path
            continue
        copy = folder / path.name
        copy.write_text(json.dumps(with_fabric(data), indent=2), encoding="utf-8")
        lock = path.with_name(path.stem + ".lock.json")
        if lock.exists():
            shutil.copy(lock, copy.with_name(lock.name))
        found[path.name] = copy
    return found


def build(path: Path, **options):
    return compile_example(path, target="jcnr", **options)


@pytest.fixture(scope="module")
def aks():
    return build(AKS)


@pytest.fixture(scope="module")
def jcnr_examples(jcnr_intents):
    return {name: build(path) for name, path in jcnr_intents.items()}


def write_intent(folder: Path, change) -> Path:
    """The AKS example, changed by `change(data)`, written as JSON (which is YAML) into `folder`."""
    data = pyyaml.safe_load(AKS.read_text(encoding="utf-8"))
    change(data)
    path = folder / f"{data['metadata']['name']}.yaml"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def env_secrets(data: dict) -> None:
    data["secrets"] = {"rootPassword": {"env": "CRPD_ROOT_PASSWORD"}, "crpdLicense": {"env": "CRPD_LICENSE"}}


def asymmetric(data: dict) -> None:
    """Hub and spoke: `hub` imports both spokes, each spoke imports only the hub."""
    data["metadata"]["name"] = "jcnr-hub-spoke"
    data["vrfs"] = [
        {"name": "hub", "routeTarget": {"import": ["64512:101", "64512:102"], "export": ["64512:100"]}, "vni": 20100,
         "ipv4Pool": "172.16.0.0/24"},
        {"name": "spoke-a", "routeTarget": {"import": ["64512:100"], "export": ["64512:101"]}, "vni": 20101,
         "ipv4Pool": "172.16.1.0/24", "ipv6Pool": "fd00:101::/120"},
        {"name": "spoke-b", "routeTarget": {"import": ["64512:100"], "export": ["64512:102"]}, "vni": 20102,
         "ipv4Pool": "172.16.2.0/24"},
    ]
    workers = [n["name"] for n in data["nodes"] if n["role"] == "worker"]
    data["pods"] = [
        {"name": "hub-svc", "node": workers[0], "image": "nginx:1.27", "networks": [{"vrf": "hub"}]},
        {"name": "spoke-a1", "node": workers[1], "image": "alpine:3.20", "networks": [{"vrf": "spoke-a"}]},
        {"name": "spoke-b1", "node": workers[1], "image": "alpine:3.20", "networks": [{"vrf": "spoke-b"}]},
    ]
    data["expect"] = [{"reach": ["spoke-a1", "hub-svc"]}, {"isolate": ["spoke-a1", "spoke-b1"]}]


def manifests(result) -> list[dict]:
    return manifest_objects(result.files)[0]


def objects_of(result, kind: str) -> list[dict]:
    return [obj for obj in manifests(result) if obj["kind"] == kind]


# --------------------------------------------------------------------------- set lines, read back


@dataclass
class Instance:
    values: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def one(self, key: str) -> str:
        (value,) = self.values[key]
        return value


@dataclass
class NodeConfig:
    """What one node's set lines configure, in the terms the assertions need."""

    instances: dict[str, Instance] = field(default_factory=lambda: defaultdict(Instance))
    bgp: dict[str, list[tuple[str, ...]]] = field(default_factory=lambda: defaultdict(list))
    communities: dict[str, set[str]] = field(default_factory=dict)
    policy_from_communities: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    policy_adds: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    other: list[tuple[str, ...]] = field(default_factory=list)

    def export_targets(self, vrf: str) -> set[str]:
        instance = self.instances[vrf]
        if instance.values["vrf-target"]:
            return {instance.one("vrf-target")}
        policy = instance.one("vrf-export")
        return set().union(*(self.communities[c] for c in self.policy_adds[policy]))

    def import_targets(self, vrf: str) -> set[str]:
        instance = self.instances[vrf]
        if instance.values["vrf-target"]:
            return {instance.one("vrf-target")}
        policy = instance.one("vrf-import")
        return set().union(*(self.communities[c] for c in self.policy_from_communities[policy]))


def _without_brackets(words) -> set[str]:
    return {w for w in words if w not in ("[", "]")}


def read_set_lines(text: str) -> NodeConfig:
    config = NodeConfig()
    for command in parse_set_lines(text):
        assert command[0] == "set", command
        match command[1:]:
            case ("routing-instances", name, "protocols", "evpn", "ip-prefix-routes", key, *value):
                config.instances[name].values[f"evpn {key}"].append(" ".join(value))
            case ("routing-instances", name, key, *value):
                config.instances[name].values[key].append(" ".join(value))
            case ("protocols", "bgp", "group", _group, key, *value):
                config.bgp[key].append(tuple(value))
            case ("policy-options", "community", name, "members", *members):
                config.communities[name] = _without_brackets(members)
            case ("policy-options", "policy-statement", name, "term", _term, "from", "community", *names):
                config.policy_from_communities[name] |= _without_brackets(names)
            case ("policy-options", "policy-statement", name, "then", "community", "add", community):
                config.policy_adds[name].add(community)
            case other:
                config.other.append(other)
    return config


def configlets_by_node(result) -> dict[str, str]:
    found = {}
    for obj in objects_of(result, "Configlet"):
        node = obj["spec"]["crpdSelector"]["matchLabels"]["kubernetes.io/hostname"]
        assert node not in found, f"two Configlets select {node}"
        found[node] = obj["spec"]["config"]
    return found


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("layout", ["tree", "single"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_object_validates_strictly(example, layout, jcnr_intents):
    result = build(jcnr_intents[example.name], layout=layout)
    objects, sources = manifest_objects(result.files)
    problems = kubeschema.validate_objects(objects, sources=sources, assume_present=[SECRET])
    assert problems == []
    kinds = {obj["kind"] for obj in objects}
    assert {"Namespace", "ConfigMap", "DaemonSet", "Configlet", "NetworkAttachmentDefinition", "Deployment"} <= kinds
    # Platter's RBAC (`crpd`) and cRPD DaemonSets come from the Helm chart under JCNR.
    assert not [o for o in objects if o["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")
                and o["metadata"]["name"] == "crpd"]
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "DaemonSet"] == ["jcnrc-node-prep"]


def test_validation_is_not_vacuous_for_configlets(aks):
    """A Configlet with a field JCNR does not know is caught: the schema really applies."""
    objects = manifests(aks)
    configlet = next(o for o in objects if o["kind"] == "Configlet")
    configlet["spec"]["applyGroups"] = ["evpn-type5"]
    problems = kubeschema.validate_objects(objects, assume_present=[SECRET])
    assert [p.path for p in problems] == ["spec"]


def test_namespace_and_platform_objects(aks):
    (namespace,) = objects_of(aks, "Namespace")
    assert namespace["metadata"]["name"] == "jcnr"
    for configlet in objects_of(aks, "Configlet"):
        assert configlet["apiVersion"] == "configplane.juniper.net/v1"
        assert configlet["metadata"]["namespace"] == "jcnr"
    # The node-prep objects stay in kube-system, as for Platter; NADs and pods in the intent's namespace.
    assert {o["metadata"]["namespace"] for o in objects_of(aks, "DaemonSet") + objects_of(aks, "ConfigMap")} == {"kube-system"}
    namespace_of_apps = aks.plan.namespace
    assert {o["metadata"]["namespace"]
            for o in objects_of(aks, "Deployment") + objects_of(aks, "NetworkAttachmentDefinition")} == {namespace_of_apps}


# --------------------------------------------------------------------------- NAD and pods


def test_nad_is_a_jcnr_configuration_list(aks):
    nads = {o["metadata"]["name"]: o for o in objects_of(aks, "NetworkAttachmentDefinition")}
    assert set(nads) == {v.nad_name for v in aks.plan.vrfs}
    for vrf in aks.plan.vrfs:
        text = nads[vrf.nad_name]["spec"]["config"]
        config = json.loads(text)
        assert text == json.dumps(config, sort_keys=True, separators=(",", ":"))  # sorted keys, compact
        assert config["cniVersion"] == "0.4.0"
        assert config["name"] == vrf.nad_name
        (plugin,) = config["plugins"]
        assert plugin["type"] == "jcnr"
        assert plugin["kubeConfig"] == aks.plan.kubeconfig
        assert plugin["args"] == {"instanceName": vrf.name, "instanceType": "vrf", "interfaceType": "veth",
                                  "vrfTarget": vrf.nad_target}
        assert all(isinstance(value, str) for value in plugin["args"].values())
    assert set(nads) == {"blue-net"} and (
        json.loads(nads["blue-net"]["spec"]["config"])["plugins"][0]["args"]["vrfTarget"] == "11:11")


def test_pods_carry_jcnr_cni_args(aks):
    pods = {o["metadata"]["name"]: o["spec"]["template"] for o in objects_of(aks, "Deployment")}
    assert set(pods) == {p.name for p in aks.plan.pods}
    for pod in aks.plan.pods:
        obj = pods[pod.name]
        elements = json.loads(obj["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"])
        assert [e["interface"] for e in elements] == [a.interface for a in pod.attachments]
        for element, attachment in zip(elements, pod.attachments, strict=True):
            assert element["name"] == aks.plan.vrf(attachment.vrf).nad_name
            args = element["cni-args"]
            assert set(args) == {"interfaceType", "dataplane", "mac", "ipConfig"}
            assert (args["interfaceType"], args["dataplane"], args["mac"]) == ("veth", "dpdk", attachment.mac)
            assert args["ipConfig"]["ipv4"]["address"] == attachment.ipv4.address
            assert args["ipConfig"]["ipv4"]["gateway"] == attachment.ipv4.gateway
            assert args["ipConfig"]["ipv6"]["address"] == attachment.ipv6.address
        spec = obj["spec"]
        assert "volumes" not in spec  # a veth pod needs no /dpdk socket folder
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert terms[0]["matchExpressions"][0]["values"] == [pod.node]
    du11 = json.loads(pods["ubuntu-du11"]["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"])
    assert du11[0]["cni-args"]["ipConfig"]["ipv4"] == {"address": "1.1.11.2/30", "gateway": "1.1.11.1", "routes": ["1.1.0.0/16"]}


# --------------------------------------------------------------------------- Configlets


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_configlet_is_well_formed_set_commands(example, jcnr_examples):
    result = jcnr_examples[example.name]
    by_node = configlets_by_node(result)
    assert set(by_node) == {n.name for n in result.plan.nodes}
    for node_name, text in by_node.items():
        commands = parse_set_lines(text)
        assert commands and all(c[0] == "set" for c in commands)
        # 23.x has no Configlet: the same lines are written for the cRPD CLI.
        assert result.files[f"nodes/{node_name}/crpd-config.set"] == text


def _assert_node_matches_expected_state(plan, node, config: NodeConfig) -> int:
    """Every check against routes.node_state for one node; returns how many local routes were compared."""
    state = routes.node_state(plan, node.name)
    assert set(config.instances) == {t.vrf for t in state.tables}
    compared = 0
    for table in state.tables:
        instance = config.instances[table.vrf]
        assert instance.one("instance-type") == "vrf"
        assert instance.values["vrf-table-label"] == [""]
        assert instance.one("evpn encapsulation") == "vxlan"
        assert instance.one("evpn advertise") == "direct-nexthop"
        imports = config.import_targets(table.vrf)
        for route in table.routes:
            if route.origin_node == node.name and route.origin_vrf == table.vrf:
                assert instance.one("route-distinguisher") == route.rd
                assert int(instance.one("evpn vni")) == route.vni
                assert config.export_targets(table.vrf) == set(route.route_targets)
                compared += 1
            else:
                # Any other route is in this table because one of its targets is imported here.
                assert set(route.route_targets) & imports, (node.name, table.vrf, route.text)
    bgp = config.bgp
    # JCNR's data path: BGP, the router ID and the VTEP are the node's fabric address.
    assert (node.fabric_address is not None and node.ipv4_loopback == node.fabric_address != node.address) or (
        node.fabric_address == node.address)
    assert ("routing-options", "router-id", node.fabric_address) in config.other
    assert bgp["type"] == [("internal",)]
    assert bgp["local-as"] == [(str(plan.asn),)]
    assert bgp["local-address"] == [(node.fabric_address,)]
    assert ("evpn", "signaling") in bgp["family"]
    # A worker peers with the route reflectors, a route reflector with the workers: the expected sessions.
    assert sorted(peer for (peer,) in bgp["neighbor"]) == sorted(s.peer for s in state.sessions if s.peer_role != "fleet-peer")
    assert {s.peer for s in state.sessions if s.peer_role != "fleet-peer"} == {
        p.fabric_address for p in (plan.workers if node.is_master else plan.masters)}
    assert "allow" not in bgp  # the peers' fabric addresses are not in `cluster.nodeSubnet`
    if node.is_master:
        assert bgp["cluster"] == [(node.fabric_address,)]
    else:
        assert "cluster" not in bgp
    return compared


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_vni_targets_and_rd_equal_the_expected_routing_state(example, jcnr_examples):
    result = jcnr_examples[example.name]
    compared = 0
    for node_name, text in configlets_by_node(result).items():
        config = read_set_lines(text)
        compared += _assert_node_matches_expected_state(result.plan, result.plan.node(node_name), config)
        assert [c for c in config.other if c[0] not in ("routing-options", "system", "policy-options")] == []
    assert compared == sum(len(a.links) for a in result.plan.attachments)


def test_aks_configlets_say_what_the_walkthrough_shows_over_the_fabric(aks):
    """The walkthrough's VNI, target and RD number, from the fabric addresses of examples/aks-evpn-type5.yaml
    (eth1: 10.241.0.4 route reflector, 10.241.0.5 and 10.241.0.6 workers)."""
    worker = read_set_lines(configlets_by_node(aks)["aks-agentpool-23733201-vmss000001"])
    blue = worker.instances["blue"]
    assert (blue.one("route-distinguisher"), blue.one("evpn vni"), blue.one("vrf-target")) == (
        "10.241.0.5:1", "10002", "target:11:11")
    assert worker.bgp["neighbor"] == [("10.241.0.4",)] and worker.bgp["local-address"] == [("10.241.0.5",)]
    assert ("routing-options", "router-id", "10.241.0.5") in worker.other
    master = read_set_lines(configlets_by_node(aks)["aks-agentpool-23733201-vmss000000"])
    assert master.bgp["cluster"] == [("10.241.0.4",)] and master.bgp["local-address"] == [("10.241.0.4",)]
    assert master.bgp["neighbor"] == [("10.241.0.5",), ("10.241.0.6",)]
    assert dict(master.instances) == {}
    # The node addresses (eth0) carry neither BGP nor VXLAN under JCNR.
    for text in configlets_by_node(aks).values():
        assert "10.240.0." not in text


def test_asymmetric_targets_become_import_and_export_policies(tmp_path):
    result = build(write_intent(tmp_path, asymmetric))
    by_node = configlets_by_node(result)
    compared = 0
    for node in result.plan.nodes:
        config = read_set_lines(by_node[node.name])
        compared += _assert_node_matches_expected_state(result.plan, node, config)
        for name, instance in config.instances.items():
            assert instance.values["vrf-target"] == [], "asymmetric VRFs use policies, not vrf-target"
            assert instance.one("vrf-import") == f"jcnrc-{name}-import"
            assert instance.one("vrf-export") == f"jcnrc-{name}-export"
    assert compared == sum(len(a.links) for a in result.plan.attachments)
    node_of = {pod.name: pod.node for pod in result.plan.pods}
    spoke_node = read_set_lines(by_node[node_of["spoke-a1"]])
    assert spoke_node.import_targets("spoke-a") == {"target:64512:100"}
    assert spoke_node.export_targets("spoke-b") == {"target:64512:102"}
    hub_node = read_set_lines(by_node[node_of["hub-svc"]])
    assert hub_node.import_targets("hub") == {"target:64512:101", "target:64512:102"}


def test_bgp_ports_from_the_intent_reach_the_configlets(tmp_path):
    def ports(data):
        data["cluster"]["bgp"] = {"listenPort": 178, "connectPort": 178}

    result = build(write_intent(tmp_path, ports))
    for text in configlets_by_node(result).values():
        commands = parse_set_lines(text)
        assert ("set", "system", "processes", "routing", "bgp", "tcp-listen-port", "178") in commands
        assert read_set_lines(text).bgp["tcp-connect-port"] == [("178",)]


@pytest.mark.parametrize(
    "node_name",
    [
        ".".join(["a" * 63] * 4)[:253].rstrip("."),  # the longest node name
        "b" * 63 + ".example.com",  # a first label that "jcnrc-" would push past 63
    ],
)
def test_configlet_names_stay_valid_for_long_node_names(node_name):
    name = configlet_name(SimpleNamespace(name=node_name))
    assert is_dns1123_subdomain(name) and kubeschema._dns1123_subdomain_error(name) is None
    assert name.startswith("jcnrc-" + node_name[:20])
    # Unique per node: names that differ only past the kept part get different digests.
    assert configlet_name(SimpleNamespace(name=node_name[:-1] + "z")) != name
    assert configlet_name(SimpleNamespace(name=node_name)) == name


def test_configlet_names_are_readable_for_usual_node_names(aks):
    assert {configlet_name(n) for n in aks.plan.nodes} == {f"jcnrc-{n.name}" for n in aks.plan.nodes}


# --------------------------------------------------------------------------- Helm values


def _load_both(text: str):
    return pyyaml.safe_load(text), YAML(typ="safe", pure=True).load(text)


def test_values_yaml_reads_the_same_in_pyyaml_and_ruamel(aks):
    # Helm values are not a Kubernetes object: outside manifests/ and out of the kustomization.
    assert "helm/values.yaml" in aks.files
    assert "values" not in aks.files["manifests/kustomization.yaml"] + aks.files["kustomization.yaml"]
    text = aks.files["helm/values.yaml"]
    by_pyyaml, by_ruamel = _load_both(text)
    assert by_pyyaml == by_ruamel
    values = by_pyyaml["global"]
    assert values["replicas"] == str(len(aks.plan.nodes)) == "3"
    assert values["nodeAffinity"] == [{"key": "jcnrc.io/role", "operator": "In", "values": ["master", "worker"]}]
    assert values["fabricInterface"] == ["eth1"]  # the chart's key (simonrho/jcnr-in-aws-demo values.yaml)
    assert by_pyyaml["jcnr-vrouter"] == {"mtu": "1500"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_values_are_complete_generated_and_say_so(example, jcnr_examples):
    """Nothing is left for the user to fill in, and the file says it is generated and rewritten, and
    where the user's own values go (a second -f file outside the output folder)."""
    text = jcnr_examples[example.name].files["helm/values.yaml"]
    assert "FILL IN" not in text and "fill in" not in text.lower()
    header = text.split("\nglobal:")[0]
    assert "GENERATED by jcnrc" in header and "rewritten by every build" in header and "do not" in header
    assert "-f helm/values.yaml -f <your site values>.yaml" in header and "outside this folder" in header
    assert "imagePullSecret" in header  # the one site value that holds credentials: never in the intent


def test_images_are_the_charts_own_unless_the_intent_names_them(aks):
    """A JCNR build never falls back to the Platter images of `images:`: without `cluster.jcnr` the
    image keys are left out, so the chart's defaults apply, and the file says so."""
    text = aks.files["helm/values.yaml"]
    values = pyyaml.safe_load(text)["global"]
    assert not {"registry", "repository", "common", "storageClass"} & set(values)
    for image in (aks.plan.topology.images.crpd, aks.plan.topology.images.platter):
        assert image and image not in text and image.split("/")[0] not in text
    assert "# registry: the chart's default" in text and "the chart's own cRPD, vRouter and CNI images" in text
    assert "# cpu_core_mask: the chart's default" in text and "# vrouter_dpdk_uio_driver: the chart's default" in text
    assert "# storageClass: the cluster's default storage class" in text
    # images.crpd is a Platter field now: a JCNR build says it ignores it.
    codes = {(d.code, d.path) for d in aks.diagnostics}
    assert ("JCN914", ("images", "crpd")) in codes and ("JCN914", ("images", "platter")) in codes


def test_values_from_cluster_jcnr(tmp_path):
    def chart(data):
        data["cluster"]["provider"] = "eks"
        data["cluster"]["jcnr"] = {"registry": "709825985650.dkr.ecr.us-east-1.amazonaws.com",
                                   "repository": "juniper-networks", "crpdTag": "23.2R1.14", "vrouterTag": "R23.2-156",
                                   "cniTag": "23.2-20230628-8cf4350", "cpuCoreMask": "2,3", "uioDriver": "uio_pci_generic"}

    text = build(write_intent(tmp_path, chart)).files["helm/values.yaml"]
    by_pyyaml, by_ruamel = _load_both(text)
    assert by_pyyaml == by_ruamel
    values = by_pyyaml["global"]
    # The chart concatenates registry + repository + image name: both end with '/'.
    assert values["registry"] == "709825985650.dkr.ecr.us-east-1.amazonaws.com/"
    assert values["repository"] == "juniper-networks/"
    assert values["common"] == {"crpd": {"tag": "23.2R1.14"}, "vrouter": {"tag": "R23.2-156"},
                                "jcnrcni": {"tag": "23.2-20230628-8cf4350"}}
    assert values["storageClass"] == "gp2"  # the EKS default
    assert by_pyyaml["jcnr-vrouter"] == {"mtu": "1500", "cpu_core_mask": "2,3", "vrouter_dpdk_uio_driver": "uio_pci_generic"}
    for setting in ("registry", "repository", "crpdTag", "vrouterTag", "cniTag", "cpuCoreMask", "uioDriver"):
        assert f"# cluster.jcnr.{setting}" in text, setting


def test_only_the_tags_given_are_written_and_storage_class_overrides_the_provider(tmp_path):
    def chart(data):
        data["cluster"]["provider"] = "eks"
        data["cluster"]["jcnr"] = {"crpdTag": "24.2R1.14", "storageClass": "gp3"}

    values = pyyaml.safe_load(build(write_intent(tmp_path, chart)).files["helm/values.yaml"])["global"]
    assert values["common"] == {"crpd": {"tag": "24.2R1.14"}} and "registry" not in values
    assert values["storageClass"] == "gp3"


def test_a_node_names_its_own_fabric_interface(tmp_path):
    def override(data):
        data["nodes"][2]["fabricInterface"] = "ens5"

    result = build(write_intent(tmp_path, override))
    assert [n.fabric_interface for n in result.plan.nodes] == ["eth1", "eth1", "ens5"]
    text = result.files["helm/values.yaml"]
    assert pyyaml.safe_load(text)["global"]["fabricInterface"] == ["eth1", "ens5"]
    assert "# WARNING: the chart takes one list for every node" in text
    assert "ens5: aks-agentpool-23733201-vmss000002" in text
    # Every node naming its own interface needs no cluster-wide one.
    def every_node(data):
        del data["cluster"]["fabricInterface"]
        for node in data["nodes"]:
            node["fabricInterface"] = "ens4"

    (tmp_path / "b").mkdir()
    result = build(write_intent(tmp_path / "b", every_node))
    assert pyyaml.safe_load(result.files["helm/values.yaml"])["global"]["fabricInterface"] == ["ens4"]


# --------------------------------------------------------------------------- the JCNR data path


def test_a_jcnr_build_without_the_fabric_is_an_error_with_a_hint(tmp_path):
    def no_fabric(data):
        del data["cluster"]["fabricInterface"]
        del data["nodes"][1]["fabricAddress"]

    result = analyse(write_intent(tmp_path, no_fabric), Options(target="jcnr"))
    errors = [d for d in result.diagnostics if d.is_error]
    assert [(d.code, d.path) for d in errors] == [("JCN514", ("cluster",)), ("JCN514", ("nodes", 1, "name"))]
    assert "`cluster.fabricInterface`" in errors[0].message and "fabricInterface: <name>" in errors[0].help
    assert "`aks-agentpool-23733201-vmss000001` has no `fabricAddress`" in errors[1].message
    assert "fabricAddress: <IPv4>" in errors[1].help and "ip -4 addr show" in errors[1].help


@pytest.mark.parametrize(("fabric", "code", "words"), [
    ("10.241.0.4", "JCN409", "duplicate fabric address `10.241.0.4`"),  # the route reflector's
    ("10.240.0.6", "JCN409", "is the address of node `aks-agentpool-23733201-vmss000002`"),
    ("169.254.0.5", "JCN513", "fabric address 169.254.0.5 is in 169.254.0.0/16"),
])
def test_a_fabric_address_is_the_nodes_own_and_routable(tmp_path, fabric, code, words):
    def change(data):
        data["nodes"][1]["fabricAddress"] = fabric

    result = analyse(write_intent(tmp_path, change), Options(target="jcnr"))
    (error,) = [d for d in result.diagnostics if d.is_error]
    assert (error.code, error.path) == (code, ("nodes", 1, "fabricAddress")) and words in error.message, error.message
    assert analyse(write_intent(tmp_path, change), Options(target="platter")).ok  # Platter does not read it


def test_platter_builds_ignore_the_jcnr_fields(tmp_path):
    """The walkthrough is built for both generations: Platter reads neither the fabric nor `cluster.jcnr`,
    says nothing about them (they describe the nodes whichever generation runs) and writes none of them."""
    platter = compile_example(AKS)
    assert platter.plan.target == "platter"
    assert not [d for d in platter.diagnostics if any(k in str(d.path) for k in ("fabric", "jcnr"))]
    assert all(n.fabric_address is None and n.fabric_interface is None and n.ipv4_loopback == n.address
               for n in platter.plan.nodes)
    for path, text in platter.files.items():
        assert "10.241.0." not in text, path

    def chart(data):
        data["cluster"]["jcnr"] = {"crpdTag": "23.2R1.14", "cpuCoreMask": "2,3"}
        data["nodes"][0]["fabricInterface"] = "ens5"

    more = compile_intent(write_intent(tmp_path, chart), Options(), display_name=f"examples/{AKS.name}")
    assert more.ok and [(d.code, d.path) for d in more.diagnostics] == [(d.code, d.path) for d in platter.diagnostics]
    assert {p for p in platter.files if platter.files[p] != more.files.get(p)} == {"README.md"}  # its digest


def test_expected_state_runs_between_the_fabric_addresses(aks):
    """`jcnrc routes` of a JCNR build: protocol next hops, RDs, kernel VXLAN ends and BGP sessions are
    fabric addresses; the state still names the node by its address."""
    fabric = {n.name: n.fabric_address for n in aks.plan.nodes}
    assert fabric == {"aks-agentpool-23733201-vmss000000": "10.241.0.4", "aks-agentpool-23733201-vmss000001": "10.241.0.5",
                      "aks-agentpool-23733201-vmss000002": "10.241.0.6"}
    for node in aks.plan.nodes:
        state = json.loads(aks.files[f"state/{node.name}.json"])
        assert state["address"] == node.address
        peers = {s["peer"] for s in state["bgpSessions"]}
        assert peers == {fabric[n.name] for n in (aks.plan.workers if node.is_master else aks.plan.masters)}
        for table in state["tables"]:
            for route in table["evpnRoutes"]:
                assert route["protocolNextHop"] == fabric[route["originNode"]]
                assert route["rd"].startswith(fabric[route["originNode"]] + ":")
                assert route["learnedFrom"] in ([], ["10.241.0.4"])
            for kernel in table["kernelRoutes"]:
                if kernel["kind"] == "encap":
                    assert (kernel["src"], kernel["dst"]) == (fabric[node.name], kernel["dst"])
                    assert kernel["dst"] in fabric.values()
    worker = json.loads(aks.files["state/aks-agentpool-23733201-vmss000001.json"])
    (learned,) = [r for t in worker["tables"] for r in t["evpnRoutes"] if r["prefix"] == "1.1.22.0/30"]
    assert (learned["route"], learned["protocolNextHop"]) == ("5:10.241.0.6:1::0::1.1.22.0::30/248", "10.241.0.6")


def test_routes_of_the_fleets_jcnr_cluster_and_its_peering_use_fabric_addresses():
    """tri-fleet's lab cluster runs JCNR: `jcnrc routes` shows its fabric addresses, and the Platter route
    reflector of west peers with lab's at its fabric address."""
    from typer.testing import CliRunner

    from jcnrc.cli import app

    tri = next(p for p in FLEET_EXAMPLES if p.name == "tri-fleet.yaml")
    run = CliRunner().invoke(app, ["routes", str(tri), "--node", "lab/lab-worker-1", "--format", "json"])
    assert run.exit_code == 0, run.output
    state = json.loads(run.output)
    assert [s["peer"] for s in state["bgpSessions"]] == ["192.168.60.10"]
    local = [r for t in state["tables"] for r in t["evpnRoutes"] if r["originNode"] == "lab-worker-1"]
    assert local and all(r["protocolNextHop"] == "192.168.60.11" for r in local)
    master = json.loads(CliRunner().invoke(app, ["routes", str(tri), "--node", "lab/lab-master", "--format", "json"]).output)
    assert {"peer": "10.240.0.4", "peerNode": "west/aks-agentpool-23733201-vmss000000", "asn": 64513,
            "peerRole": "fleet-peer", "state": "Established"} in master["bgpSessions"]
    west = json.loads(CliRunner().invoke(app, ["routes", str(tri), "--node", "west/aks-agentpool-23733201-vmss000000",
                                               "--format", "json"]).output)
    assert {s["peer"] for s in west["bgpSessions"] if s["peerRole"] == "fleet-peer"} == {"10.10.1.10", "192.168.60.10"}


# --------------------------------------------------------------------------- JCNR 23.x: persistent form


_NODE_BLOCK = re.compile(r'^\{\{if eq \.Params\.IPv4LoopbackAddr "(?P<address>[0-9.]+)"\}\}\n(?P<body>.*?)^\{\{end\}\}\n',
                         re.MULTILINE | re.DOTALL)


def custom_template_blocks(text: str) -> dict[str, str]:
    """The custom cRPD template's block per node, by the fabric address that selects it."""
    blocks = {m["address"]: m["body"] for m in _NODE_BLOCK.finditer(text)}
    outside = _NODE_BLOCK.sub("", text)
    assert all(line.startswith("#") for line in outside.splitlines() if line.strip()), outside
    return blocks


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_the_23x_template_holds_each_nodes_configlet_in_group_custom(example, jcnr_examples):
    """JCNR 23.x reads no Configlet: the chart's custom cRPD configuration template carries the same
    statements, rendered by the CNI deployer whenever cRPD starts (it survives restarts). Flattened,
    each node's block is exactly the node's set lines inside `groups custom`, applied."""
    result = jcnr_examples[example.name]
    blocks = custom_template_blocks(result.files[JCNR23_TEMPLATE])
    assert set(blocks) == {n.fabric_address for n in result.plan.nodes}
    by_node = configlets_by_node(result)
    for node in result.plan.nodes:
        tree = parse_curly(blocks[node.fabric_address], template_actions=False)
        commands = parse_set_lines("\n".join(flatten_to_set(tree)))
        assert ("set", "apply-groups", "[", "custom", "]") in commands  # as the sources write it: [custom]
        inside = sorted(("set", *c[3:]) for c in commands if c[:3] == ("set", "groups", "custom"))
        assert len(inside) == len(commands) - 1
        assert inside == sorted(parse_set_lines(by_node[node.name])), node.name


def test_the_23x_parameters_select_each_nodes_block(aks, tmp_path):
    """jcnr-params (23.3+: a ConfigMap entry per node, named by the node's params-profile label) and the
    node annotation (23.2) give each node the IPv4LoopbackAddr that selects its block; both hold only
    strings, as Juniper's examples do."""
    (params,) = pyyaml.safe_load_all(aks.files["jcnr23/jcnr-params.yaml"])
    assert (params["kind"], params["metadata"]["name"], params["metadata"]["namespace"]) == ("ConfigMap", "jcnr-params", "jcnr")
    assert kubeschema.validate_objects([params]) == []
    profiles = {n.name: params_profile(n) for n in aks.plan.nodes}
    assert set(params["data"]) == set(profiles.values())
    for node in aks.plan.nodes:
        values = json.loads(params["data"][profiles[node.name]])
        assert values == {"IPv4LoopbackAddr": node.fabric_address, "BGPLocalAsn": "64512"}
    # The script applies the ConfigMap, then labels and annotates every node; run it with a stub kubectl.
    folder = tmp_path / "jcnr23"
    folder.mkdir()
    for name in ("node-params.sh", "jcnr-params.yaml"):
        (folder / name).write_text(aks.files[f"jcnr23/{name}"], encoding="utf-8")
    calls = tmp_path / "calls"
    calls.mkdir()
    stub = tmp_path / "kubectl"
    stub.write_text(f'#!/bin/sh\nprintf "%s\\0" "$@" > "{calls}/$(date +%s%N).$$"\n', encoding="utf-8")
    stub.chmod(0o755)
    run = subprocess.run(["sh", str(folder / "node-params.sh")], env={**os.environ, "KUBECTL": str(stub)},
                         capture_output=True, text=True, timeout=HANG_GUARD)
    assert run.returncode == 0, run.stderr
    recorded = [c.read_bytes().decode().split("\0")[:-1] for c in sorted(calls.iterdir(), key=lambda c: c.name)]
    assert recorded[0] == ["apply", "-f", str(folder / "jcnr-params.yaml")]
    assert len(recorded) == 1 + 2 * len(aks.plan.nodes)
    for node in aks.plan.nodes:
        assert ["label", "node", "--overwrite", node.name, f"jcnr.juniper.net/params-profile={profiles[node.name]}"] in recorded
        (annotate,) = [c for c in recorded if c[:4] == ["annotate", "node", "--overwrite", node.name]]
        key, _, value = annotate[4].partition("=")
        assert key == "jcnr.juniper.net/params" and json.loads(value)["IPv4LoopbackAddr"] == node.fabric_address


def test_params_profiles_stay_label_values_for_long_node_names():
    for node_name in (".".join(["a" * 63] * 4)[:253].rstrip("."), "b" * 63 + ".example.com", "short"):
        profile = params_profile(SimpleNamespace(name=node_name))
        assert len(profile) <= 63 and re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", profile), profile
        assert params_profile(SimpleNamespace(name=node_name + "x")) != profile


def test_the_readme_says_which_form_each_version_uses(aks):
    readme = aks.files["README.md"]
    assert "Configlets need JCNR 24.2 or later" in readme
    assert "charts/jcnr-cni/files/jcnr-cni-custom-config.tmpl" in readme and "sh jcnr23/node-params.sh" in readme
    assert "FILL IN" not in readme
    assert "| aks-agentpool-23733201-vmss000001 | 10.240.0.5 | eth1 | 10.241.0.5 | worker |" in readme


# --------------------------------------------------------------------------- secrets


def test_reference_mode_writes_no_secret_and_a_script_for_namespace_jcnr(tmp_path):
    environ = {"CRPD_ROOT_PASSWORD": ROOT_PASSWORD, "CRPD_LICENSE": LICENSE}
    result = build(write_intent(tmp_path, env_secrets), environ=environ)
    assert objects_of(result, "Secret") == [] and objects_of(result, "ExternalSecret") == []
    script = result.files["scripts/create-secrets.sh"]
    assert '-n jcnr create secret generic jcnr-secrets' in script
    _assert_nowhere(result.files, ROOT_PASSWORD, LICENSE)


@pytest.mark.parametrize("layout", ["tree", "single"])
def test_inline_mode_puts_values_only_in_the_git_ignored_secret(tmp_path, layout):
    environ = {"CRPD_ROOT_PASSWORD": ROOT_PASSWORD, "CRPD_LICENSE": LICENSE}
    result = build(write_intent(tmp_path, env_secrets), environ=environ, with_secrets=True, layout=layout)
    (secret,) = objects_of(result, "Secret")
    assert (secret["metadata"]["name"], secret["metadata"]["namespace"]) == ("jcnr-secrets", "jcnr")
    assert base64.b64decode(secret["data"]["root-password"]).decode() == ROOT_PASSWORD
    secret_file = "manifests/manifest.yaml" if layout == "single" else "manifests/secret-jcnr-secrets.yaml"
    assert f"/{secret_file}\n" in result.files[".gitignore"]
    others = {path: text for path, text in result.files.items() if path != secret_file}
    _assert_nowhere(others, ROOT_PASSWORD, LICENSE)
    objects, sources = manifest_objects(result.files)
    assert kubeschema.validate_objects(objects, sources=sources) == []


def test_external_secrets_mode_targets_jcnr_secrets(tmp_path):
    def external(data):
        env_secrets(data)
        data["secrets"]["mode"] = "external-secrets"
        data["secrets"]["store"] = {"name": "vault", "rootPasswordKey": "jcnr/root", "crpdLicenseKey": "jcnr/license"}

    result = build(write_intent(tmp_path, external))
    (external_secret,) = objects_of(result, "ExternalSecret")
    assert external_secret["metadata"]["namespace"] == "jcnr"
    assert external_secret["spec"]["target"]["name"] == "jcnr-secrets"
    assert "scripts/create-secrets.sh" not in result.files
    objects, sources = manifest_objects(result.files)
    assert kubeschema.validate_objects(objects, sources=sources) == []


def _assert_nowhere(files: dict[str, str], *values: str) -> None:
    for value in values:
        encoded = base64.b64encode(value.encode()).decode()
        for path, text in files.items():
            assert value not in text and encoded not in text, f"{path} holds a secret value"


# --------------------------------------------------------------------------- one intent, two targets


def test_target_in_the_intent_equals_the_command_line_override(tmp_path, aks):
    (tmp_path / "in-intent").mkdir()
    copy = tmp_path / "in-intent" / AKS.name
    copy.write_text(AKS.read_text(encoding="utf-8").replace("\ncluster:\n", "\ntarget: jcnr\ncluster:\n", 1), encoding="utf-8")
    shutil.copy(AKS.with_name("aks-evpn-type5.lock.json"), copy.with_name("aks-evpn-type5.lock.json"))
    from_intent = compile_intent(copy, Options(), display_name=f"examples/{AKS.name}")
    assert from_intent.ok and from_intent.plan.target == "jcnr"
    differing = {path for path in set(aks.files) | set(from_intent.files) if aks.files.get(path) != from_intent.files.get(path)}
    assert differing == {"README.md"}  # it names the intent's digest and the command that rebuilds the folder
    strip_digest = lambda text: [line for line in text.splitlines() if "sha256" not in line and "Do not edit" not in line]  # noqa: E731
    assert strip_digest(aks.files["README.md"]) == strip_digest(from_intent.files["README.md"])


def test_node_preparation_iptables_and_expected_state_are_shared_with_platter(aks):
    platter = compile_example(AKS)
    shared = [p for p in platter.files if p.endswith("/iptables.sh")]
    shared.append("scripts/prepare-nodes.sh")
    assert len(shared) > 2
    for path in shared:
        assert aks.files[path] == platter.files[path], path
    # The same routes and sessions, between other addresses: Platter's node addresses are JCNR's fabric addresses.
    fabric = {n.address: n.fabric_address for n in aks.plan.nodes}
    for node in aks.plan.nodes:
        text = platter.files[f"state/{node.name}.json"]
        for address, vtep in fabric.items():
            text = text.replace(f'"{address}', f'"{vtep}').replace(f"{address}:", f"{vtep}:").replace(
                f"src {address} ", f"src {vtep} ").replace(f"dst {address}\"", f"dst {vtep}\"")
        moved = json.loads(text)
        moved["address"] = node.address  # the state names the node by its address
        assert moved == json.loads(aks.files[f"state/{node.name}.json"]), node.name
    # JCNR forwards in the DPDK vRouter: its state text has no kernel `ip route` section.
    for path in (p for p in platter.files if p.startswith("state/") and p.endswith(".txt")):
        assert "ip route show table" not in aks.files[path]
    # The node-prep script skips Platter's node-config file under JCNR; the rules it applies are the same.
    (jcnr_prep,) = [o for o in objects_of(aks, "ConfigMap") if o["metadata"]["name"] == "jcnrc-node-prep"]
    (platter_prep,) = [o for o in objects_of(platter, "ConfigMap") if o["metadata"]["name"] == "jcnrc-node-prep"]
    assert set(jcnr_prep["data"]) == set(platter_prep["data"])
    assert jcnr_prep["data"]["workers"].split() == [w.name for w in aks.plan.workers]
    assert jcnr_prep["data"]["iptables.sh"] == platter_prep["data"]["iptables.sh"]
    assert platter.plan.target == "platter" and aks.plan.target == "jcnr"


def test_build_is_deterministic_and_text_is_clean():
    first, second = build(AKS).files, build(AKS).files
    assert first == second
    assert list(first) == sorted(first)
    for path, text in first.items():
        assert "\r" not in text, path
        assert text.endswith("\n") and not text.endswith("\n\n"), path
