"""`target: jcnr`: the JCNR 23.x/24.x artifacts of an intent (jcnrc/render/jcnr.py, templates/jcnr/).

The checks that matter most: every Kubernetes object validates strictly, every Configlet holds
well-formed Junos set commands, and the VNI, route targets and route distinguisher in those
commands are the ones `jcnrc routes` expects on each node.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml as pyyaml
from ruamel.yaml import YAML

from conftest import EXAMPLES, ROOT, compile_example
from jcnrc.plan import expected as routes
from jcnrc.verify import kubeschema
from jcnrc.intent.names import is_dns1123_subdomain
from jcnrc.pipeline import Options, compile_intent
from jcnrc.render.jcnr import ImageParts, configlet_name, split_image
from jcnrc.verify.manifests import manifest_objects
from junos_syntax import parse_set_lines

AKS = ROOT / "examples" / "aks-evpn-type5.yaml"
SECRET = ("Secret", "jcnr", "jcnr-secrets")
ROOT_PASSWORD = "Zq9-root-pw-do-not-leak"
LICENSE = "E2023-LICENSE-do-not-leak aeaqie"


def build(path: Path, **options):
    return compile_example(path, target="jcnr", **options)


@pytest.fixture(scope="module")
def aks():
    return build(AKS)


@pytest.fixture(scope="module")
def jcnr_examples():
    return {path.name: build(path) for path in EXAMPLES}


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
def test_every_object_validates_strictly(example, layout):
    result = build(example, layout=layout)
    objects, sources = manifest_objects(result.files)
    problems = kubeschema.validate_objects(objects, sources=sources, assume_present=[SECRET])
    assert problems == []
    kinds = {obj["kind"] for obj in objects}
    assert {"Namespace", "ConfigMap", "DaemonSet", "Configlet", "NetworkAttachmentDefinition", "Deployment"} <= kinds
    # Platter's RBAC and cRPD DaemonSets come from the Helm chart under JCNR.
    assert not kinds & {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
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
    assert {o["metadata"]["namespace"] for o in objects_of(aks, "Deployment") + objects_of(aks, "NetworkAttachmentDefinition")} == {
        namespace_of_apps}


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
    assert set(nads) == {"blue-net"} and json.loads(nads["blue-net"]["spec"]["config"])["plugins"][0]["args"]["vrfTarget"] == "11:11"


def test_pods_carry_jcnr_cni_args(aks):
    pods = {o["metadata"]["name"]: o["spec"]["template"] for o in objects_of(aks, "Deployment")}
    assert set(pods) == {p.name for p in aks.plan.pods}
    for pod in aks.plan.pods:
        obj = pods[pod.name]
        elements = json.loads(obj["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"])
        assert [e["interface"] for e in elements] == [a.interface for a in pod.attachments]
        for element, attachment in zip(elements, pod.attachments):
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
    assert bgp["type"] == [("internal",)]
    assert bgp["local-as"] == [(str(plan.asn),)]
    assert bgp["local-address"] == [(node.ipv4_loopback,)]
    assert ("evpn", "signaling") in bgp["family"]
    assert {peer for (peer,) in bgp["neighbor"]} == {s.peer for s in state.sessions if not node.is_master}
    if node.is_master:
        assert bgp["cluster"] == [(node.ipv4_loopback,)]
        assert bgp["allow"] == [(plan.node_subnet,)]
    else:
        assert "cluster" not in bgp and "allow" not in bgp
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


def test_aks_configlets_say_what_the_walkthrough_shows(aks):
    worker = read_set_lines(configlets_by_node(aks)["aks-agentpool-23733201-vmss000001"])
    blue = worker.instances["blue"]
    assert (blue.one("route-distinguisher"), blue.one("evpn vni"), blue.one("vrf-target")) == ("10.240.0.5:1", "10002", "target:11:11")
    assert worker.bgp["neighbor"] == [("10.240.0.4",)]
    master = read_set_lines(configlets_by_node(aks)["aks-agentpool-23733201-vmss000000"])
    assert master.bgp["cluster"] == [("10.240.0.4",)] and master.bgp["allow"] == [("10.240.0.0/16",)]
    assert dict(master.instances) == {}


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
    assert values["registry"] == "platter.azurecr.io/"
    assert values["common"]["crpd"] == {"repository": "", "tag": "latest"}
    assert by_pyyaml["jcnr-vrouter"]["mtu"] == "1500"
    # Facts the intent does not hold are left to the user, named in a comment, not invented.
    assert "fabricInterface" not in values and "cpu_core_mask" not in by_pyyaml["jcnr-vrouter"]
    assert "# FILL IN fabricInterface" in text and "# FILL IN cpu_core_mask" in text


def test_node_affinity_selects_the_labels_prepare_nodes_sets(aks):
    script = aks.files["scripts/prepare-nodes.sh"]
    for node in aks.plan.nodes:
        assert f"{node.name} " in script and f"jcnrc.io/role={node.role}" in script
    values = pyyaml.safe_load(aks.files["helm/values.yaml"])["global"]
    assert {n.role for n in aks.plan.nodes} == set(values["nodeAffinity"][0]["values"])


def test_values_on_eks_with_a_registry_path(tmp_path):
    def eks(data):
        data["cluster"]["provider"] = "eks"
        data["images"]["crpd"] = "709825985650.dkr.ecr.us-east-1.amazonaws.com/juniper-networks/crpd:23.2R1.14"

    result = build(write_intent(tmp_path, eks))
    by_pyyaml, by_ruamel = _load_both(result.files["helm/values.yaml"])
    assert by_pyyaml == by_ruamel
    values = by_pyyaml["global"]
    assert values["registry"] == "709825985650.dkr.ecr.us-east-1.amazonaws.com/"
    assert values["common"]["crpd"] == {"repository": "juniper-networks/", "tag": "23.2R1.14"}
    assert values["storageClass"] == "gp2"


def test_values_warn_when_the_chart_cannot_express_the_crpd_image(tmp_path):
    def renamed(data):
        data["images"]["crpd"] = "registry.example.com/routing/cprd-custom:1.0@sha256:" + "a" * 64

    text = build(write_intent(tmp_path, renamed)).files["helm/values.yaml"]
    assert "# WARNING: images.crpd names the image `cprd-custom`" in text
    assert "# WARNING: the chart takes a tag only" in text
    assert pyyaml.safe_load(text)["global"]["common"]["crpd"] == {"repository": "routing/", "tag": "1.0"}


@pytest.mark.parametrize(
    ("reference", "parts"),
    [
        ("platter.azurecr.io/crpd:latest", ImageParts("platter.azurecr.io/", "", "crpd", "latest", "")),
        ("localhost:5000/jcnr/crpd", ImageParts("localhost:5000/", "jcnr/", "crpd", "latest", "")),
        ("crpd:23.2R1", ImageParts("", "", "crpd", "23.2R1", "")),
        ("juniper/crpd@sha256:" + "0" * 64, ImageParts("", "juniper/", "crpd", "latest", "sha256:" + "0" * 64)),
        ("enterprise-hub.juniper.net/jcnr-container-prod/crpd:24.2R1.14",
         ImageParts("enterprise-hub.juniper.net/", "jcnr-container-prod/", "crpd", "24.2R1.14", "")),
    ],
)
def test_split_image(reference, parts):
    assert split_image(reference) == parts


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
    assert differing == {"README.md"}  # it names the intent's digest, and the intent text differs
    strip_digest = lambda text: [line for line in text.splitlines() if "sha256" not in line]  # noqa: E731
    assert strip_digest(aks.files["README.md"]) == strip_digest(from_intent.files["README.md"])


def test_node_preparation_iptables_and_expected_state_are_shared_with_platter(aks):
    platter = compile_example(AKS)
    shared = [p for p in platter.files if p.endswith(".json") and p.startswith("state/") or p.endswith("/iptables.sh")]
    shared.append("scripts/prepare-nodes.sh")
    assert len(shared) > 3
    for path in shared:
        assert aks.files[path] == platter.files[path], path
    # JCNR forwards in the DPDK vRouter: its state text has no kernel `ip route` section.
    for path in (p for p in platter.files if p.startswith("state/") and p.endswith(".txt")):
        assert "ip route show table" not in aks.files[path]
        assert aks.files[path].split("\nip route")[0].rstrip() == platter.files[path].split("\nip route")[0].rstrip(), path
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
