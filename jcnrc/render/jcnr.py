"""Stage 4 for `target: jcnr`: a Plan -> the JCNR 23.x/24.x artifacts. Pure, like render.py.

The plan is the same for both router generations; only the packaging differs
(jcnr-formats.md §3 and §7):

- the platform (cRPD, vRouter, CNI, RBAC) comes from Juniper's Helm chart, so jcnrc writes
  the chart's ``helm/values.yaml`` instead of DaemonSets and ConfigMaps;
- the CNI builds only the routing instance, the pod interface and ``vrf-target``; the EVPN
  Type-5 overlay and the BGP sessions come from one ``Configlet`` per node (24.2+), whose
  ``set`` lines are also written to ``nodes/<node>/crpd-config.set`` for 23.x, which has no
  Configlet resource;
- NADs are CNI configuration lists with a ``jcnr`` plugin, pods carry JCNR ``cni-args``;
- ``jcnr-secrets`` lives in namespace ``jcnr``, which jcnrc creates.

Node preparation, iptables rules, expected routing state and the verification files are the
target-independent ones from ``templates/common`` (via ``render.Output``).
"""

from __future__ import annotations

from dataclasses import dataclass

from jcnrc.intent import names
from jcnrc.plan.planner import Plan, PlannedAttachment, PlannedNode
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
# The chart builds each image as <global.registry><common.X.repository><image name>:<tag>.
CHART_CRPD_IMAGE_NAME = "crpd"
# Characters of the node name kept in a shortened Configlet name (the label stays under 63).
_READABLE_PART = 40


@dataclass(frozen=True)
class ImageParts:
    """An image reference split the way the JCNR chart's values take it."""

    registry: str  # "platter.azurecr.io/" (with the slash the chart expects), or "" without a registry host
    repository: str  # the path between registry and image name, "juniper-networks/" or ""
    name: str  # the last path component, "crpd"
    tag: str  # "latest" when the reference names none
    digest: str  # "sha256:..." or ""


def split_image(reference: str) -> ImageParts:
    body, _, image_digest = reference.partition("@")
    path, tag = body, ""
    last_colon = body.rfind(":")
    if last_colon > body.rfind("/"):
        path, tag = body[:last_colon], body[last_colon + 1:]
    first, slash, rest = path.partition("/")
    registry = ""
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first + "/", rest
    directory, _, name = path.rpartition("/")
    return ImageParts(registry, directory + "/" if directory else "", name, tag or "latest", image_digest)


def configlet_name(node: PlannedNode) -> str:
    """`jcnrc-<node>`; when the prefix makes the name too long (253 in all, 63 per dot-separated
    label), `jcnrc-<start of the node name>-<digest>`, still unique per node and stable."""
    name = f"jcnrc-{node.name}"
    if names.is_dns1123_subdomain(name):
        return name
    head = node.name.split(".")[0][:_READABLE_PART].rstrip("-")
    return f"jcnrc-{head}-{digest(node.name)[:10]}"


def render(plan: Plan, options: RenderOptions, templates: Templates) -> dict[str, str]:
    out = Output(plan, options, templates, _context(plan, options, templates))
    out.manifest("namespace", JCNR_NAMESPACE, "jcnr/namespace.yaml.j2")
    out.add_secret(SECRET_NAME, JCNR_NAMESPACE)
    prep_checksum = out.add_node_preparation()
    # Apply order = Argo CD sync waves (common.SYNC_WAVES): custom resources, then DaemonSets, workloads last.
    _add_configlets(out, plan)
    for vrf in plan.vrfs:
        out.manifest("networkattachmentdefinition", vrf.nad_name, "jcnr/nad.yaml.j2", vrf=vrf)
    out.manifest("daemonset", "jcnrc-node-prep", "common/daemonset-node-prep.yaml.j2", config_checksum=prep_checksum)
    out.add_pods(lambda attachment: cni_args(attachment, out.ctx), volume=None)
    out.files[VALUES_FILE] = out.render("jcnr/values.yaml.j2", **_helm_context(plan))
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
        "layout": options.layout,
        "values_file": VALUES_FILE,
        "configlets": {n.name: configlet_name(n) for n in plan.nodes},
    }


def _add_configlets(out: Output, plan: Plan) -> None:
    """One Configlet per node (24.2+), and the same set lines as a file for the 23.x cRPD CLI."""
    for node in plan.nodes:
        vrfs = [plan.vrf(name) for name in out.ctx["vrfs_on_node"].get(node.name, ())]
        set_lines = out.render("jcnr/crpd-config.set.j2", node=node, vrfs=vrfs)
        out.files[f"nodes/{node.name}/crpd-config.set"] = set_lines
        name = out.ctx["configlets"][node.name]
        out.manifest("configlet", name, "jcnr/configlet.yaml.j2", node=node, configlet_name=name, set_lines=set_lines)


def _helm_context(plan: Plan) -> dict:
    return {
        "crpd_image": split_image(plan.topology.images.crpd),
        "chart_crpd_image_name": CHART_CRPD_IMAGE_NAME,
        "storage_class": STORAGE_CLASSES.get(plan.profile.name),
        "replicas": str(len(plan.nodes)),
    }
