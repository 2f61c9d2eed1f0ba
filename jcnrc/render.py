"""Stage 4, render: a Plan -> ``{relative path: file text}``. Pure: no I/O but reading templates.

Every output format lives in ``templates/`` (users can override any file with
``--templates DIR``). This module only decides *which* files exist, builds each template's
context from the plan, and hands values to escaping filters (``escape.py``).

Templates whose name contains ``.tmpl.`` produce Go text/template files (the cRPD config
template), which are full of ``{{ }}``; those use ``<< >>`` and ``<% %>`` as Jinja delimiters.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import jinja2

from jcnrc import escape, resources
from jcnrc.plan import Plan
from jcnrc.rules import VXLAN_OVERHEAD

MANIFESTS = "manifests"
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
    # Above this many routes over all nodes, node states list only local routes (see routes.node_state).
    state_detail_limit: int = 20000
    extra: dict = field(default_factory=dict)


class Templates:
    """Two Jinja environments over the same search path (user folder first, then built-in)."""

    def __init__(self, user_folder: Path | None) -> None:
        search = [str(user_folder)] if user_folder else []
        search.append(str(resources.folder("templates")))
        loader = jinja2.FileSystemLoader(search)
        common = dict(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True, autoescape=False, extensions=["jinja2.ext.do"])
        self.text = jinja2.Environment(**common)
        self.go_template = jinja2.Environment(
            **common,
            variable_start_string="<<", variable_end_string=">>",
            block_start_string="<%", block_end_string="%>",
            comment_start_string="<#", comment_end_string="#>",
        )
        for env in (self.text, self.go_template):
            env.filters.update(FILTERS)

    def render(self, name: str, **context) -> str:
        env = self.go_template if ".tmpl." in name else self.text
        try:
            text = env.get_template(name).render(**context)
        except jinja2.TemplateError as exc:
            raise TemplateProblem(name, exc) from exc
        return normalize(text)


class TemplateProblem(Exception):
    def __init__(self, name: str, cause: Exception) -> None:
        where = f" line {cause.lineno}" if getattr(cause, "lineno", None) else ""
        super().__init__(f"template {name}{where}: {cause}")
        self.template = name


def normalize(text: str) -> str:
    """LF endings, exactly one final newline."""
    text = text.replace("\r\n", "\n")
    return text.rstrip("\n") + "\n"


def _base64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


FILTERS: dict[str, Callable] = {
    "b64": _base64,
    "yaml": escape.yaml_scalar,
    "yaml_string": escape.yaml_string,
    "yaml_block": escape.yaml_block,
    "json": escape.to_json,
    "sh": escape.shell_word,
    "junos_id": escape.junos_identifier,
    "junos_str": escape.junos_string,
}


def digest(*texts: str) -> str:
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode())
        h.update(b"\0")
    return h.hexdigest()


def render(plan: Plan, options: RenderOptions | None = None) -> dict[str, str]:
    options = options or RenderOptions()
    templates = Templates(options.templates)
    if plan.target == "jcnr":
        from jcnrc.render_jcnr import render_jcnr

        return render_jcnr(plan, options, templates)
    return _render_platter(plan, options, templates)


def common_context(plan: Plan, options: RenderOptions) -> dict:
    from jcnrc import diagram, routes

    membership = routes.vrfs_on_node(plan)
    pools = nat_pools(plan, membership)
    return {
        "plan": plan,
        "bgp": plan.topology.cluster.bgp,
        "sr": plan.topology.cluster.segmentRouting,
        "default_mtu": plan.underlay_mtu - VXLAN_OVERHEAD,
        "pod_routes": pod_routes(plan),
        "leaking_vrfs": leaking_vrfs(plan),
        "kernel_modules": KERNEL_MODULES,
        "node_config_map": "platter-node-config",
        "eks_snat_exclusions": sorted({p for node_pools in pools.values() for p in node_pools}, key=_network_sort_key),
        "labels": {"app.kubernetes.io/managed-by": "jcnrc", "app.kubernetes.io/part-of": plan.name},
        "intent_file": options.intent_file,
        "intent_digest": options.intent_digest,
        "version": options.version,
        "secrets": plan.topology.secrets,
        "secret_values": options.secret_values,
        "vrfs_on_node": {node: sorted(vrfs) for node, vrfs in membership.items()},
        "nat_pools": pools,
        "diagram": diagram.render(plan, "mermaid", template_folder=options.templates),
    }


# Kernel modules the Platter data plane needs (robric/eks-platter-inter-cluster load-node-modules.sh).
KERNEL_MODULES = ("ip_tunnel", "mpls_gso", "vxlan")


def pod_routes(plan: Plan) -> dict[str, dict[str, list[str]]]:
    """Per VRF: the pools a pod routes through its gateway, its own and those its VRF imports."""
    from jcnrc import graph as tg

    result = {}
    for vrf in plan.vrfs:
        sources = [plan.vrf(name) for name in sorted(tg.route_sources(plan.graph, vrf.name) | {vrf.name})]
        result[vrf.name] = {
            "ipv4": sorted({v.ipv4_pool for v in sources if v.ipv4_pool}, key=_network_sort_key),
            "ipv6": sorted({v.ipv6_pool for v in sources if v.ipv6_pool}, key=_network_sort_key),
        }
    return result


def leaking_vrfs(plan: Plan) -> set[str]:
    """VRFs that install another VRF's routes: on one node that takes `routing-options auto-export`."""
    from jcnrc import graph as tg

    return {v.name for v in plan.vrfs if tg.route_sources(plan.graph, v.name) - {v.name}}


def nat_pools(plan: Plan, membership: dict[str, set[str]]) -> dict[str, list[str]]:
    """Per worker: the IPv4 pools its pods send to or receive from, for the NAT exemptions."""
    from jcnrc import graph as tg

    pools_of = {v.name: v.ipv4_pool for v in plan.vrfs if v.ipv4_pool}
    result: dict[str, list[str]] = {}
    for node in plan.workers:
        vrfs = set(membership.get(node.name, ()))
        for vrf in list(vrfs):
            vrfs |= tg.route_sources(plan.graph, vrf)
        result[node.name] = sorted({pools_of[v] for v in vrfs if v in pools_of}, key=_network_sort_key)
    return result


def _network_sort_key(text: str) -> tuple:
    from ipaddress import ip_network

    net = ip_network(text)
    return (net.version, int(net.network_address), net.prefixlen)


@dataclass
class Manifest:
    path: str  # relative to the manifests folder
    text: str


def _render_platter(plan: Plan, options: RenderOptions, templates: Templates) -> dict[str, str]:
    ctx = common_context(plan, options)
    files: dict[str, str] = {}
    manifests: list[Manifest] = []

    def manifest(kind: str, name: str, template: str, **extra) -> str:
        text = templates.render(template, **ctx, **extra)
        manifests.append(Manifest(f"{kind}-{name}.yaml", text))
        return text

    if plan.namespace not in BUILT_IN_NAMESPACES:
        manifest("namespace", plan.namespace, "common/namespace.yaml.j2", namespace_name=plan.namespace)
    crpd_config = templates.render("platter/crpd-config.tmpl.j2", **ctx)
    node_configs = {n.name: templates.render("platter/node-config.json.j2", **ctx, node=n) for n in plan.nodes}
    manifest("serviceaccount", "crpd", "platter/serviceaccount.yaml.j2")
    manifest("clusterrole", "crpd", "platter/clusterrole.yaml.j2")
    manifest("clusterrolebinding", "crpd", "platter/clusterrolebinding.yaml.j2")
    config_text = manifest("configmap", "platter-config", "platter/configmap-platter-config.yaml.j2", crpd_config=crpd_config)
    node_config_text = manifest("configmap", "platter-node-config", "platter/configmap-platter-node-config.yaml.j2",
                                node_configs=node_configs)
    iptables = {n.name: templates.render("common/iptables.sh.j2", **ctx, node=n) for n in plan.workers}
    if plan.profile.nat == "iptables":
        for name, text in iptables.items():
            files[f"nodes/{name}/iptables.sh"] = text
    prep_script = templates.render("common/node-prep.sh.j2", **ctx)
    manifest("configmap", "jcnrc-node-prep", "common/configmap-node-prep.yaml.j2", prep_script=prep_script, iptables=iptables)
    secret_mode = plan.topology.secrets.mode
    if secret_mode == "inline":
        manifest("secret", "platter-secrets", "platter/secret.yaml.j2", secret_name="platter-secrets", secret_namespace="kube-system")
        files[".gitignore"] = templates.render("common/gitignore.j2", **ctx, secret_files=[f"{MANIFESTS}/secret-platter-secrets.yaml"])
    elif secret_mode == "external-secrets":
        manifest("externalsecret", "platter-secrets", "common/externalsecret.yaml.j2", secret_name="platter-secrets",
                 secret_namespace="kube-system")
    checksum = digest(config_text, node_config_text)
    manifest("daemonset", "kube-crpd-master-ds", "platter/daemonset-master.yaml.j2", config_checksum=checksum)
    manifest("daemonset", "kube-crpd-worker-ds", "platter/daemonset-worker.yaml.j2", config_checksum=checksum)
    manifest("daemonset", "jcnrc-node-prep", "common/daemonset-node-prep.yaml.j2", config_checksum=digest(prep_script, *iptables.values(), node_config_text))
    for vrf in plan.vrfs:
        manifest("networkattachmentdefinition", vrf.nad_name, "platter/nad.yaml.j2", vrf=vrf)
    for pod in plan.pods:
        manifest("pod", pod.name, "platter/pod.yaml.j2", pod=pod)
    for name, text in node_configs.items():
        files[f"nodes/{name}/node-{name}.json"] = text
    files.update(_manifest_files(manifests, options, templates, ctx))
    ctx["manifest_order"] = [m.path for m in manifests]
    files.update(_edge_files(plan, options, templates, ctx, secret_name="platter-secrets", secret_namespace="kube-system"))
    return dict(sorted(files.items()))


def _manifest_files(manifests: list[Manifest], options: RenderOptions, templates: Templates, ctx: dict) -> dict[str, str]:
    files: dict[str, str] = {}
    if options.layout == "single":
        body = "".join(("---\n" if i else "") + m.text for i, m in enumerate(manifests))
        files[f"{MANIFESTS}/manifest.yaml"] = body
        resources_list = ["manifest.yaml"]
    else:
        for m in manifests:
            files[f"{MANIFESTS}/{m.path}"] = m.text
        resources_list = [m.path for m in manifests]
    files[f"{MANIFESTS}/kustomization.yaml"] = templates.render("common/kustomization.yaml.j2", **ctx, resources=resources_list)
    files["kustomization.yaml"] = templates.render("common/kustomization.yaml.j2", **ctx, resources=[MANIFESTS])
    return files


def _edge_files(plan: Plan, options: RenderOptions, templates: Templates, ctx: dict, secret_name: str, secret_namespace: str) -> dict[str, str]:
    """Scripts, the secrets example, the expected routing state and the README."""
    from jcnrc import routes

    files = {
        "scripts/prepare-nodes.sh": templates.render("common/prepare-nodes.sh.j2", **ctx),
        "secrets.example.env": templates.render("common/secrets.example.env.j2", **ctx, secret_name=secret_name),
    }
    if plan.topology.secrets.mode == "reference":
        files["scripts/create-secrets.sh"] = templates.render("common/create-secrets.sh.j2", **ctx, secret_name=secret_name,
                                                              secret_namespace=secret_namespace)
    origins = routes.origins_by_vrf(plan)
    membership = routes.vrfs_on_node(plan)
    states = {}
    for node in plan.nodes:
        state = routes.node_state(plan, node.name, origins=origins, membership=membership,
                                  detail_limit=options.state_detail_limit)
        states[node.name] = state
        files[f"state/{node.name}.json"] = escape.to_json(routes.to_data(state), indent=2) + "\n"
        files[f"state/{node.name}.txt"] = templates.render("common/node-state.txt.j2", state=state)
    if any(not state.complete for state in states.values()):
        # Big topologies: every VRF's routes once, instead of on every node that carries it.
        for vrf in plan.vrfs:
            files[f"state/vrfs/{vrf.name}.json"] = escape.to_json(
                routes.vrf_routes_to_data(routes.vrf_routes(plan, vrf.name, origins)), indent=2) + "\n"
    manifest_order = ctx.get("manifest_order", [])
    files["README.md"] = templates.render("common/README.md.j2", **{**ctx, "manifest_order": manifest_order}, states=states)
    return files
