"""What every target renders alike: the build's options, the shared template context, and
``Output``, which collects the files of one build and the manifests in apply order.

The context is complete before any template renders, the README's diagram included.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from jcnrc.plan import expected
from jcnrc.plan.planner import Plan, PlannedAttachment
from jcnrc.render import diagram, escape
from jcnrc.render.templates import Templates, indented_json

MANIFESTS = "manifests"
# Written in `secrets.mode: reference`, where the Secret is created out of band.
CREATE_SECRETS_SCRIPT = "scripts/create-secrets.sh"
# Namespaces every cluster has; any other namespace of the intent gets a Namespace object.
BUILT_IN_NAMESPACES = frozenset({"default", "kube-system"})


@dataclass(frozen=True)
class SecretValues:
    """Secret values read at the edge, for `inline` mode only."""

    root_password: str
    crpd_license: str


@dataclass(frozen=True)
class RenderOptions:
    templates: Path | None = None  # a user folder that overrides built-in templates
    secret_values: SecretValues | None = None
    layout: str = "tree"  # tree: one object per file; single: one manifest.yaml
    intent_file: str = "topology.yaml"
    intent_digest: str = ""
    version: str = ""
    # Above this many routes over all nodes, node states list only local routes (see expected.node_state).
    state_detail_limit: int = 20000
    # The folder name the output goes to when the intent does not say (a fleet's GitOps objects
    # point at out/<it>/<cluster>): out/<metadata.name>, with -<target> after a --target override.
    output_name: str = ""
    # The output folder as a path of the repository (pipeline.repository_path): what a fleet's GitOps
    # objects name when `gitops.path` does not say; empty when unknown.
    repository_path: str = ""
    rebuild_command: str = ""  # the `jcnrc build ...` that writes this output again (pipeline.rebuild_command)
    extra: dict = field(default_factory=dict)

    def rebuild(self) -> str:
        """rebuild_command, or `jcnrc build <intent file>` when the caller gave none."""
        return self.rebuild_command or f"jcnrc build {escape.shell_word(self.intent_file)}"


def digest(*texts: str) -> str:
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode())
        h.update(b"\0")
    return h.hexdigest()


def common_context(plan: Plan, options: RenderOptions, templates: Templates | None = None) -> dict:
    """The context every template of both targets gets. `templates` draws the README diagram;
    without it, a template set is made from `options`."""
    membership = expected.vrfs_on_node(plan)
    pairs = nat_pairs(plan, membership)
    cluster_pairs = sorted({pair for node_pairs in pairs.values() for pair in node_pairs}, key=_pair_sort_key)
    return {
        "plan": plan,
        "bgp": plan.topology.cluster.bgp,
        "sr": plan.topology.cluster.segmentRouting,
        "pod_routes": pod_routes(plan),
        "leaking_vrfs": leaking_vrfs(plan),
        "kernel_modules": KERNEL_MODULES,
        "node_config_map": "platter-node-config",
        # In a fleet, commands name a node as `<cluster>/<node>`.
        "node_prefix": f"{plan.fleet.cluster}/" if plan.fleet is not None else "",
        "fleet_group": FLEET_GROUP,
        "cni_identity": CNI_IDENTITY,
        "cni_credentials": plan.topology.cluster.cniCredentials,
        "cni_token_dir": CNI_TOKEN_DIR,
        "fleet_external_group": FLEET_EXTERNAL_GROUP,
        "eks_snat_exclusions": sorted({pool for pair in cluster_pairs for pool in pair}, key=_network_sort_key),
        "labels": {"app.kubernetes.io/managed-by": "jcnrc", "app.kubernetes.io/part-of": plan.name},
        "intent_file": options.intent_file,
        "layout": options.layout,
        "intent_digest": options.intent_digest,
        "rebuild_command": options.rebuild(),
        "version": options.version,
        "secrets": plan.topology.secrets,
        "secret_values": options.secret_values,
        "vrfs_on_node": {node: sorted(vrfs) for node, vrfs in membership.items()},
        "nat_pairs": pairs,
        "cluster_nat_pairs": cluster_pairs,
        "diagram": diagram.render(plan, "mermaid", templates=templates or Templates(options.templates)),
    }


# BGP groups of a fleet's route reflectors towards the other clusters' route reflectors
# (same AS: iBGP non-clients; another AS: eBGP multihop keeping the next hop). docs/fleet.md.
FLEET_GROUP = "jcnrc-fleet"
FLEET_EXTERNAL_GROUP = "jcnrc-fleet-ebgp"


# Argo CD applies objects wave by wave, each wave once the previous one is healthy; without waves it
# orders by kind and applies custom resources (NADs, ExternalSecrets, Configlets) after Pods and
# DaemonSets. The waves follow the apply order of manifests/kustomization.yaml (docs/gitops.md).
SYNC_WAVES = {
    "namespace": -2,
    "serviceaccount": -1, "clusterrole": -1, "clusterrolebinding": -1, "configmap": -1, "secret": -1,
    "externalsecret": 0, "networkattachmentdefinition": 0, "configlet": 0,
    "daemonset": 1,
    "deployment": 2, "pod": 2,
}

# The CNI's own ServiceAccount (cluster.cniCredentials: service-account), and where its projected
# token and the cluster's CA reach the node-preparation pod.
CNI_IDENTITY = "jcnrc-cni"
CNI_TOKEN_DIR = "/var/run/jcnrc-cni"

# The two halves of manifests/ that Flux applies one after the other (templates/common/flux-kustomization.yaml.j2).
FLUX_SPLIT = "flux"
WORKLOAD_KINDS = ("deployment", "pod")

# The shared pieces of object templates (the `metadata` macro).
MACROS = "common/_macros.j2"

# The label that ties a Deployment to its pod, and the pod template annotation that restarts the
# pod when anything its network depends on changes (docs/gitops.md, "Workloads").
POD_LABEL = "jcnrc.io/pod"
NETWORK_CHECKSUM = "jcnrc.io/network-checksum"


# Kernel modules the Platter data plane needs (robric/eks-platter-inter-cluster load-node-modules.sh).
KERNEL_MODULES = ("ip_tunnel", "mpls_gso", "vxlan")


def pod_routes(plan: Plan) -> dict[str, dict[str, list[str]]]:
    """Per VRF: the pools a pod routes through its gateway, its own and those its VRF imports."""
    result = {}
    for vrf in plan.vrfs:
        sources = [plan.vrf(name) for name in sorted(plan.route_sources(vrf.name) | {vrf.name})]
        result[vrf.name] = {
            "ipv4": sorted({v.ipv4_pool for v in sources if v.ipv4_pool}, key=_network_sort_key),
            "ipv6": sorted({v.ipv6_pool for v in sources if v.ipv6_pool}, key=_network_sort_key),
        }
    return result


def leaking_vrfs(plan: Plan) -> set[str]:
    """VRFs that install another VRF's routes: on one node that takes `routing-options auto-export`."""
    return {v.name for v in plan.vrfs if plan.route_sources(v.name) - {v.name}}


def nat_pairs(plan: Plan, membership: dict[str, set[str]]) -> dict[str, list[tuple[str, str]]]:
    """Per worker: the (source, destination) IPv4 pool pairs its pods exchange traffic with,
    both directions. The walkthrough's `-s 1.1.0.0/16 -d 1.1.0.0/16` is the one-VRF case; a VRF
    pair gets rules only when one installs the other's routes, so rules grow with routing
    relationships, not with the square of all pools."""
    pools_of = {v.name: v.ipv4_pool for v in plan.vrfs if v.ipv4_pool}
    sources = {v.name: plan.route_sources(v.name) | {v.name} for v in plan.vrfs}
    result: dict[str, list[tuple[str, str]]] = {}
    for node in plan.workers:
        pairs = set()
        for local in membership.get(node.name, ()):
            for other in sources.get(local, ()):
                if local in pools_of and other in pools_of:
                    pairs.add((pools_of[local], pools_of[other]))
                    pairs.add((pools_of[other], pools_of[local]))
        result[node.name] = sorted(pairs, key=_pair_sort_key)
    return result


def _pair_sort_key(pair: tuple[str, str]) -> tuple:
    return (_network_sort_key(pair[0]), _network_sort_key(pair[1]))


@lru_cache(maxsize=4096)  # the same few VRF pools are sorted again for every worker
def _network_sort_key(text: str) -> tuple:
    from ipaddress import ip_network

    net = ip_network(text)
    return (net.version, int(net.network_address), net.prefixlen)


@dataclass(frozen=True)
class PodVolume:
    """A host folder the CNI shares with each pod, one subfolder per pod (by its UID)."""

    name: str
    mount_path: str
    host_path: str


def ip_config(attachment: PlannedAttachment, routes: dict[str, dict[str, list[str]]]) -> dict:
    """The static addresses of one attachment as both CNIs take them: address, gateway and the
    pools the pod routes through that gateway, per family."""
    return {family: {"address": link.address, "gateway": link.gateway, "routes": routes[attachment.vrf][family]}
            for family, link in (("ipv4", attachment.ipv4), ("ipv6", attachment.ipv6)) if link}


@dataclass
class Manifest:
    path: str  # relative to the manifests folder
    text: str


class Output:
    """The files of one build, and the manifests in apply order. Shared by both targets."""

    def __init__(self, plan: Plan, options: RenderOptions, templates: Templates, ctx: dict) -> None:
        self.plan = plan
        self.options = options
        self.templates = templates
        self.ctx = ctx
        self.files: dict[str, str] = {}
        self.manifests: list[Manifest] = []
        # Kept out of a single manifest.yaml: sops must encrypt the Secret and nothing else.
        self.separate: set[str] = set()

    def render(self, template: str, **extra) -> str:
        return self.templates.render(template, **self.ctx, **extra)

    def manifest(self, kind: str, name: str, template: str, **extra) -> str:
        text = self.render(template, sync_wave=str(SYNC_WAVES[kind]), **extra)
        self.manifests.append(Manifest(f"{kind}-{name}.yaml", text))
        return text

    def add_pods(self, cni_args: Callable[[PlannedAttachment], dict], volume: PodVolume | None) -> None:
        """One workload per intent pod (a single-replica Deployment, or a bare Pod with `workload:
        pod`), from the one pod template: the target gives the cni-args of each attachment and the
        folder its CNI shares with pods. Call it after the NADs are in: the pod template's network
        checksum covers the NADs it attaches to."""
        texts = {m.path: m.text for m in self.manifests}
        # The pod template writes the metadata `metadata` of _macros.j2 would, unless a template folder changes that macro.
        inline_metadata = not self.templates.overrides(MACROS)
        for pod in self.plan.pods:
            networks = [{"name": self.plan.vrf(a.vrf).nad_name, "interface": a.interface, "cni-args": cni_args(a)}
                        for a in pod.attachments]
            nads = sorted({self.plan.vrf(a.vrf).nad_name for a in pod.attachments})
            nad_texts = (texts.get(f"networkattachmentdefinition-{nad}.yaml", nad) for nad in nads)
            checksum = digest(indented_json(networks), *nad_texts)
            self.manifest(pod.workload, pod.name, "common/pod.yaml.j2", pod=pod, networks=networks, pod_volume=volume,
                          network_checksum=checksum, pod_label=POD_LABEL, checksum_annotation=NETWORK_CHECKSUM,
                          inline_metadata=inline_metadata)

    def add_secret(self, secret_name: str, secret_namespace: str) -> None:
        """The Secret object in the modes that have one; `reference` mode gets scripts/create-secrets.sh instead."""
        mode = self.plan.topology.secrets.mode
        names = {"secret_name": secret_name, "secret_namespace": secret_namespace}
        if mode in ("inline", "sops"):
            self.manifest("secret", secret_name, "platter/secret.yaml.j2", **names)
            if mode == "sops":
                self.separate.add(f"secret-{secret_name}.yaml")
        elif mode == "external-secrets":
            self.manifest("externalsecret", secret_name, "common/externalsecret.yaml.j2", **names)
        if mode == "inline":
            # In the single layout the Secret is inside manifest.yaml, so that whole file holds values.
            secret_file = "manifest.yaml" if self.options.layout == "single" else f"secret-{secret_name}.yaml"
            self.files[".gitignore"] = self.render("common/gitignore.j2", secret_files=[f"{MANIFESTS}/{secret_file}"])

    def add_cni_identity(self, *kinds: str) -> None:
        """The CNI's ServiceAccount and its least RBAC (cluster.cniCredentials: service-account):
        the objects of `kinds` (serviceaccount, clusterrole, clusterrolebinding), so that a target
        can put each beside its own objects of that kind in the apply order."""
        if self.plan.topology.cluster.cniCredentials == "service-account":
            for kind in kinds or ("serviceaccount", "clusterrole", "clusterrolebinding"):
                self.manifest(kind, CNI_IDENTITY, "common/cni-rbac.yaml.j2", object=kind)

    def add_node_preparation(self, node_config_text: str = "") -> str:
        """Node preparation is the same for both targets: script, iptables rules, ConfigMap, DaemonSet."""
        cluster_rules = ""
        if self.plan.profile.nat == "iptables":
            for node in self.plan.workers:
                self.files[f"nodes/{node.name}/iptables.sh"] = self.render(
                    "common/iptables.sh.j2", scope=f"worker {node.name} ({node.address})", pairs=self.ctx["nat_pairs"][node.name])
            # One script for every worker keeps the ConfigMap far below its 1 MiB limit; rules for
            # pools a worker does not carry match no traffic there.
            cluster_rules = self.render("common/iptables.sh.j2", scope=f"every worker of {self.plan.name}",
                                        pairs=self.ctx["cluster_nat_pairs"])
        for path, template in self.plan.profile.nat_artifacts:
            self.files[path] = self.render(template)
        prep_script = self.render("common/node-prep.sh.j2")
        self.manifest("configmap", "jcnrc-node-prep", "common/configmap-node-prep.yaml.j2", prep_script=prep_script,
                      cluster_rules=cluster_rules)
        return digest(prep_script, cluster_rules, node_config_text)

    def finish(self, secret_name: str, secret_namespace: str, readme: str = "common/README.md.j2") -> dict[str, str]:
        self._add_manifest_files()
        self._add_edge_files(secret_name, secret_namespace, readme)
        return dict(sorted(self.files.items()))

    def _add_manifest_files(self) -> None:
        """The manifests, one per file or bundled in manifest.yaml, and the two kustomizations."""
        if self.options.layout == "single":
            bundled = [m for m in self.manifests if m.path not in self.separate]
            self.files[f"{MANIFESTS}/manifest.yaml"] = "---\n".join(m.text for m in bundled)
            resources_list = ["manifest.yaml"]
            for m in self.manifests:
                if m.path in self.separate:
                    self.files[f"{MANIFESTS}/{m.path}"] = m.text
                    resources_list.append(m.path)
        else:
            for m in self.manifests:
                self.files[f"{MANIFESTS}/{m.path}"] = m.text
            resources_list = [m.path for m in self.manifests]
        self.files[f"{MANIFESTS}/kustomization.yaml"] = self.render("common/kustomization.yaml.j2", resources=resources_list)
        self.files["kustomization.yaml"] = self.render("common/kustomization.yaml.j2", resources=[MANIFESTS])
        if self.options.layout != "single":
            # Flux applies custom resources (NADs) in the same step as workloads: a second
            # Kustomization for the workloads, depending on the first, keeps them apart.
            parts: dict[str, list[str]] = {"platform": [], "workloads": []}
            for m in self.manifests:
                parts["workloads" if m.path.split("-", 1)[0] in WORKLOAD_KINDS else "platform"].append(m.path)
            for part, paths in parts.items():
                self.files[f"{FLUX_SPLIT}/{part}/kustomization.yaml"] = self.render(
                    "common/flux-kustomization.yaml.j2", part=part, resources=paths, manifests=MANIFESTS)

    def _add_edge_files(self, secret_name: str, secret_namespace: str, readme: str) -> None:
        """Scripts, the secrets example, the expected routing state and the README."""
        plan = self.plan
        self.files["scripts/prepare-nodes.sh"] = self.render("common/prepare-nodes.sh.j2")
        self.files["secrets.example.env"] = self.render("common/secrets.example.env.j2", secret_name=secret_name)
        if plan.topology.secrets.mode == "reference":
            self.files[CREATE_SECRETS_SCRIPT] = self.render("common/create-secrets.sh.j2", secret_name=secret_name,
                                                            secret_namespace=secret_namespace)
        origins = expected.origins_by_vrf(plan)
        membership = expected.vrfs_on_node(plan)
        states = {}
        for node in plan.nodes:
            state = expected.node_state(plan, node.name, origins=origins, membership=membership,
                                      detail_limit=self.options.state_detail_limit)
            states[node.name] = state
            self.files[f"state/{node.name}.json"] = indented_json(expected.to_data(state)) + "\n"
            self.files[f"state/{node.name}.txt"] = self.templates.render("common/node-state.txt.j2", state=state,
                                                                         target=plan.target,
                                                                         node_prefix=self.ctx["node_prefix"])
        if any(not state.complete for state in states.values()):
            # Big topologies: every VRF's routes once, instead of on every node that carries it.
            for vrf in plan.vrfs:
                self.files[f"state/vrfs/{vrf.name}.json"] = indented_json(
                    expected.vrf_routes_to_data(expected.vrf_routes(plan, vrf.name, origins))) + "\n"
        # The apply order is known once every manifest is in; it is passed, not added to the shared context.
        self.files["README.md"] = self.render(readme, states=states, secret_name=secret_name,
                                              manifest_order=[m.path for m in self.manifests])
