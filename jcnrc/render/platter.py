"""Stage 4 for `target: platter`: a Plan -> the Platter artifacts (2021 kernel data plane). Pure."""

from __future__ import annotations

from jcnrc.plan.planner import Plan, PlannedAttachment
from jcnrc.render.common import BUILT_IN_NAMESPACES, Output, PodVolume, RenderOptions, common_context, digest, ip_config
from jcnrc.render.templates import Templates

# Platter's CNI keeps each pod's DPDK sockets in a folder of the node named by the pod's UID.
DPDK_VOLUME = PodVolume("dpdk", "/dpdk", "/var/run/platter/containers")


def cni_args(attachment: PlannedAttachment, ctx: dict) -> dict:
    """Platter's cni-args: static addresses and the MTU on a kernel (linux) interface. The MTU is
    always written: left out, the pod's veth keeps 1500 and, on a 1500-byte underlay, VXLAN makes
    1550-byte frames that the cloud network drops (`cluster.underlayMtu` minus 50 is the default)."""
    return {"mac": attachment.mac, "dataplane": "linux", "ipConfig": ip_config(attachment, ctx["pod_routes"]),
            "mtu": str(attachment.mtu)}


PLATTER_SECRET = ("platter-secrets", "kube-system")


def render(plan: Plan, options: RenderOptions, templates: Templates) -> dict[str, str]:
    out = Output(plan, options, templates, common_context(plan, options, templates))
    if plan.namespace not in BUILT_IN_NAMESPACES:
        out.manifest("namespace", plan.namespace, "common/namespace.yaml.j2", namespace_name=plan.namespace)
    crpd_config = out.render("platter/crpd-config.tmpl.j2")
    node_configs = {n.name: out.render("platter/node-config.json.j2", node=n) for n in plan.nodes}
    out.manifest("serviceaccount", "crpd", "platter/serviceaccount.yaml.j2")
    out.add_cni_identity("serviceaccount")
    out.manifest("clusterrole", "crpd", "platter/clusterrole.yaml.j2")
    out.add_cni_identity("clusterrole")
    out.manifest("clusterrolebinding", "crpd", "platter/clusterrolebinding.yaml.j2")
    out.add_cni_identity("clusterrolebinding")
    config_text = out.manifest("configmap", "platter-config", "platter/configmap-platter-config.yaml.j2", crpd_config=crpd_config)
    node_config_text = out.manifest("configmap", "platter-node-config", "platter/configmap-platter-node-config.yaml.j2",
                                    node_configs=node_configs)
    prep_checksum = out.add_node_preparation(node_config_text)
    out.add_secret(*PLATTER_SECRET)
    checksum = digest(config_text, node_config_text)
    # Apply order = Argo CD sync waves (common.SYNC_WAVES): NADs before the DaemonSets, workloads last.
    for vrf in plan.vrfs:
        out.manifest("networkattachmentdefinition", vrf.nad_name, "platter/nad.yaml.j2", vrf=vrf)
    out.manifest("daemonset", "kube-crpd-master-ds", "platter/daemonset-master.yaml.j2", config_checksum=checksum)
    out.manifest("daemonset", "kube-crpd-worker-ds", "platter/daemonset-worker.yaml.j2", config_checksum=checksum)
    out.manifest("daemonset", "jcnrc-node-prep", "common/daemonset-node-prep.yaml.j2", config_checksum=prep_checksum)
    out.add_pods(lambda attachment: cni_args(attachment, out.ctx), DPDK_VOLUME)
    for name, text in node_configs.items():
        out.files[f"nodes/{name}/node-{name}.json"] = text
    return out.finish(*PLATTER_SECRET)
