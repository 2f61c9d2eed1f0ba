"""Stage 4 for `target: jcnr`: a Plan -> the JCNR 23.x/24.x artifacts. Pure, like render.py.

The plan is the same for both router generations; only the packaging and the data path differ
(jcnr-formats.md §3 and §7):

- the platform (cRPD, vRouter, CNI, RBAC) comes from Juniper's Helm chart, so jcnrc writes the
  chart's ``helm/values.yaml`` instead of DaemonSets and ConfigMaps: every value from the intent
  (``cluster.fabricInterface``, ``cluster.jcnr``), every other key left to the chart's default;
- the DPDK vRouter forwards VXLAN through the fabric interface, so each node's fabric address is
  its VTEP, BGP local address, router ID and RD administrator (the planner's ``ipv4_loopback``);
- the CNI builds only the routing instance, the pod interface and ``vrf-target``; the EVPN
  Type-5 overlay and the BGP sessions come from one ``Configlet`` per node (24.2+), and for 23.x,
  which has no Configlet resource, from the chart's custom cRPD configuration template
  (``jcnr23/``: the template, the ``jcnr-params`` ConfigMap and a script that labels and annotates
  the nodes), persistent across cRPD restarts; the same ``set`` lines are also written to
  ``nodes/<node>/crpd-config.set``;
- NADs are CNI configuration lists with a ``jcnr`` plugin, pods carry JCNR ``cni-args``;
- ``jcnr-secrets`` lives in namespace ``jcnr``, which jcnrc creates.

Node preparation, iptables rules, expected routing state and the verification files are the
target-independent ones from ``templates/common`` (via ``render.Output``).
"""

from __future__ import annotations

from dataclasses import dataclass

from jcnrc.intent import names
from jcnrc.intent.model import JcnrChart
from jcnrc.plan.planner import Plan, PlannedAttachment, PlannedNode, PlannedVrf
from jcnrc.render.common import Output, RenderOptions, common_context, digest, ip_config
from jcnrc.render.templates import Templates

JCNR_NAMESPACE = "jcnr"
SECRET_NAME = "jcnr-secrets"
VALUES_FILE = "helm/values.yaml"
# Name of the iBGP group jcnrc writes on every cRPD, masters and workers alike.
BGP_GROUP = "jcnrc-evpn"
# Pod attachments: a kernel (non-DPDK) application on a veth pair into the DPDK vRouter
# (simonrho/jcnr-in-aws-demo config-east/config/red1.yaml; jnpr-jp-crdc/JCNR vrf1-nad-jcnr1.yaml).
POD_INTERFACE_TYPE = "veth"
POD_DATAPLANE = "dpdk"
# `global.storageClass` is required on clouds without a usable default class
# (simonrho/jcnr-in-aws-demo config-east/charts/values.yaml: "a must for ... AWS where gp2 can be used").
STORAGE_CLASSES = {"eks": "gp2"}
# JCNR 23.x: the chart's custom cRPD configuration template and the per-node parameters that select
# each node's part of it (docs/jcnr.md, "JCNR 23.x: persistent configuration").
JCNR23_FOLDER = "jcnr23"
JCNR23_TEMPLATE = f"{JCNR23_FOLDER}/jcnr-cni-custom-config.tmpl"
# Image tags of the chart's values (`global.common.<image>.tag`) and the `cluster.jcnr` field of each.
CHART_IMAGE_TAGS = (("crpd", "crpdTag"), ("vrouter", "vrouterTag"), ("jcnrcni", "cniTag"))
# Characters of the node name kept in a shortened Configlet name (the label stays under 63).
_READABLE_PART = 40
# A Kubernetes label value (the 23.3 params-profile label) has at most 63 characters.
_LABEL_VALUE_MAX = 63


def configlet_name(node: PlannedNode) -> str:
    """`jcnrc-<node>`; when the prefix makes the name too long (253 in all, 63 per dot-separated
    label), `jcnrc-<start of the node name>-<digest>`, still unique per node and stable."""
    name = f"jcnrc-{node.name}"
    if names.is_dns1123_subdomain(name):
        return name
    head = node.name.split(".")[0][:_READABLE_PART].rstrip("-")
    return f"jcnrc-{head}-{digest(node.name)[:10]}"


def params_profile(node: PlannedNode) -> str:
    """The node's key in the 23.3+ `jcnr-params` ConfigMap, also the value of its
    `jcnr.juniper.net/params-profile` label: `jcnrc-<node>`, shortened with a digest beyond 63
    characters (a label value), still unique per node and stable."""
    name = f"jcnrc-{node.name}"
    if len(name) <= _LABEL_VALUE_MAX:
        return name
    head = node.name[:_LABEL_VALUE_MAX - len("jcnrc--") - 10].rstrip("-.")
    return f"jcnrc-{head}-{digest(node.name)[:10]}"


def render(plan: Plan, options: RenderOptions, templates: Templates) -> dict[str, str]:
    out = Output(plan, options, templates, _context(plan, options, templates))
    out.manifest("namespace", JCNR_NAMESPACE, "jcnr/namespace.yaml.j2")
    out.add_secret(SECRET_NAME, JCNR_NAMESPACE)
    out.add_cni_identity()
    prep_checksum = out.add_node_preparation()
    vrfs_by_node = {n.name: [plan.vrf(name) for name in out.ctx["vrfs_on_node"].get(n.name, ())] for n in plan.nodes}
    # Apply order = Argo CD sync waves (common.SYNC_WAVES): custom resources, then DaemonSets, workloads last.
    _add_configlets(out, plan, vrfs_by_node)
    for vrf in plan.vrfs:
        out.manifest("networkattachmentdefinition", vrf.nad_name, "jcnr/nad.yaml.j2", vrf=vrf)
    out.manifest("daemonset", "jcnrc-node-prep", "common/daemonset-node-prep.yaml.j2", config_checksum=prep_checksum)
    out.add_pods(lambda attachment: cni_args(attachment, out.ctx), volume=None)
    out.files[VALUES_FILE] = out.render("jcnr/values.yaml.j2", **_helm_context(plan))
    _add_jcnr23(out, plan, vrfs_by_node)
    # The JCNR apply order has a Helm step between the Secret and the Configlets.
    return out.finish(SECRET_NAME, JCNR_NAMESPACE, readme="jcnr/README.md.j2")


def cni_args(attachment: PlannedAttachment, ctx: dict) -> dict:
    """JCNR's cni-args (simonrho/jcnr-in-aws-demo red1.yaml): a veth into the DPDK vRouter with
    static addresses. A veth pod needs no /dpdk socket volume."""
    return {"interfaceType": POD_INTERFACE_TYPE, "dataplane": POD_DATAPLANE, "mac": attachment.mac,
            "ipConfig": ip_config(attachment, ctx["pod_routes"])}


def _context(plan: Plan, options: RenderOptions, templates: Templates) -> dict:
    return {
        **common_context(plan, options, templates),
        "jcnr_namespace": JCNR_NAMESPACE,
        "bgp_group": BGP_GROUP,
        "pod_interface_type": POD_INTERFACE_TYPE,
        "values_file": VALUES_FILE,
        "configlets": {n.name: configlet_name(n) for n in plan.nodes},
        "params_profiles": {n.name: params_profile(n) for n in plan.nodes},
    }


def _add_configlets(out: Output, plan: Plan, vrfs_by_node: dict[str, list[PlannedVrf]]) -> None:
    """One Configlet per node (24.2+), and the same set lines as a file for the 23.x cRPD CLI."""
    for node in plan.nodes:
        set_lines = out.render("jcnr/crpd-config.set.j2", node=node, vrfs=vrfs_by_node[node.name])
        out.files[f"nodes/{node.name}/crpd-config.set"] = set_lines
        name = out.ctx["configlets"][node.name]
        out.manifest("configlet", name, "jcnr/configlet.yaml.j2", node=node, configlet_name=name, set_lines=set_lines)


def _add_jcnr23(out: Output, plan: Plan, vrfs_by_node: dict[str, list[PlannedVrf]]) -> None:
    """JCNR 23.x's persistent form of the Configlets: the custom cRPD configuration template, with one
    block per node selected by the node's `IPv4LoopbackAddr` parameter (its fabric address), and
    those parameters as the 23.3+ ConfigMap and as labels and annotations (23.2)."""
    # Only keys the template reads, all strings, as the documented examples write them.
    node_params = {n.name: {"IPv4LoopbackAddr": n.ipv4_loopback, "BGPLocalAsn": str(plan.asn)} for n in plan.nodes}
    out.files[JCNR23_TEMPLATE] = out.render("jcnr/custom-config.tmpl.j2", vrfs_by_node=vrfs_by_node)
    out.files[f"{JCNR23_FOLDER}/jcnr-params.yaml"] = out.render("jcnr/jcnr-params.yaml.j2", node_params=node_params)
    out.files[f"{JCNR23_FOLDER}/node-params.sh"] = out.render("jcnr/node-params.sh.j2", node_params=node_params)


@dataclass(frozen=True)
class ChartValues:
    """`cluster.jcnr` as the chart's values take it: registry and repository end with '/'."""

    registry: str | None
    repository: str | None
    tags: tuple[tuple[str, str, str], ...]  # (chart image key, cluster.jcnr field, tag), the tags given
    cpu_core_mask: str | None
    uio_driver: str | None


def chart_values(chart: JcnrChart | None) -> ChartValues:
    def slashed(text: str | None) -> str | None:
        return None if text is None else text.rstrip("/") + "/"

    if chart is None:
        return ChartValues(None, None, (), None, None)
    tags = tuple((image, field, getattr(chart, field)) for image, field in CHART_IMAGE_TAGS if getattr(chart, field))
    return ChartValues(slashed(chart.registry), slashed(chart.repository), tags, chart.cpuCoreMask, chart.uioDriver)


def fabric_interfaces(plan: Plan) -> list[tuple[str, list[str]]]:
    """The fabric interface names of the nodes, each with its nodes, the cluster's name first."""
    by_name: dict[str, list[str]] = {}
    default = plan.topology.cluster.fabricInterface
    if default is not None and any(n.fabric_interface == default for n in plan.nodes):
        by_name[default] = []
    for node in plan.nodes:
        if node.fabric_interface is not None:
            by_name.setdefault(node.fabric_interface, []).append(node.name)
    return list(by_name.items())


def _helm_context(plan: Plan) -> dict:
    chart = plan.topology.cluster.jcnr
    storage_class = chart.storageClass if chart is not None else None
    source = "cluster.jcnr.storageClass"
    if storage_class is None and plan.profile.name in STORAGE_CLASSES:
        storage_class, source = STORAGE_CLASSES[plan.profile.name], f"The {plan.profile.name} default"
    return {
        "chart": chart_values(chart),
        "storage_class": storage_class,
        "storage_class_source": source,
        "replicas": str(len(plan.nodes)),
        "fabric_interfaces": fabric_interfaces(plan),
    }
