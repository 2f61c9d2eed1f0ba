"""Stage 4, render: a Plan -> ``{relative path: file text}``. Pure: no I/O but reading templates.

Every output format lives in ``templates/`` (users can override any file with
``--templates DIR``). This module only decides *which* files exist, builds each template's
context from the plan, and hands values to escaping filters (``escape.py``).

Templates whose name contains ``.tmpl.`` produce Go text/template files (the cRPD config
template), which are full of ``{{ }}``; those use ``<< >>`` and ``<% %>`` as Jinja delimiters.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from json.encoder import c_make_encoder, encode_basestring
from pathlib import Path
from typing import Any, Callable

from jcnrc import escape, resources
from jcnrc.plan import Plan
from jcnrc.model import VXLAN_OVERHEAD

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
    # Above this many routes over all nodes, node states list only local routes (see routes.node_state).
    state_detail_limit: int = 20000
    extra: dict = field(default_factory=dict)


class Templates:
    """Two Jinja environments over the same search path (user folder first, then built-in)."""

    def __init__(self, user_folder: Path | None) -> None:
        import jinja2  # here, not at the top: `jcnrc check` imports this module and renders nothing

        search = [str(user_folder)] if user_folder else []
        search.append(str(resources.folder("templates")))
        loader = jinja2.FileSystemLoader(search)
        # auto_reload=False: one build does not watch the template files change, so Jinja need not
        # stat each one again every time it is used (tens of thousands of times in a big build).
        common = dict(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True, autoescape=False, extensions=["jinja2.ext.do"],
                      auto_reload=False)
        self.text = jinja2.Environment(**common)
        self.go_template = jinja2.Environment(
            **common,
            variable_start_string="<<", variable_end_string=">>",
            block_start_string="<%", block_end_string="%>",
            comment_start_string="<#", comment_end_string="#>",
        )
        for env in (self.text, self.go_template):
            env.filters.update(FILTERS)
        self._template_error = jinja2.TemplateError

    def render(self, name: str, **context) -> str:
        env = self.go_template if ".tmpl." in name else self.text
        try:
            text = env.get_template(name).render(**context)
        except self._template_error as exc:
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


def indented_json(value: Any) -> str:
    """``escape.to_json(value, indent=2)`` (json.dumps with indent=2, sorted keys, no ASCII
    escapes), byte for byte, in about half the time.

    json.dumps runs its C encoder only without ``indent``; with it, it falls back to a
    pure-Python encoder, which took most of the time of writing the expected state of big
    topologies. Here every dict or list whose items are all strings, ints, bools or None (one
    route, one session, a list of targets) is written by the C encoder in one call, with ",",
    a line break and the next line's indentation as its item separator; the containers above
    them are walked in Python. Anything else (floats, non-string keys, other types) is left
    to json.dumps. tests/test_unoptimised.py compares both on every file of a build.
    """
    if c_make_encoder is None:  # a Python without json's C accelerator
        return escape.to_json(value, indent=2)
    pieces: list[str] = []
    try:
        _indented(value, 0, pieces)
    except _NotPlain:
        return escape.to_json(value, indent=2)
    return "".join(pieces)


_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})


class _NotPlain(Exception):
    """A value indented_json leaves to json.dumps."""


def _not_plain(value: Any) -> Any:
    raise _NotPlain


@lru_cache(maxsize=None)
def _flat_encoder(depth: int) -> Callable:
    """json's C encoder (json.encoder.c_make_encoder, what json.dumps uses without indent), keys
    sorted, whose item separator starts a new line indented to `depth`. Called as f(value, 0), it
    returns the pieces of the text."""
    return c_make_encoder(None,  # markers: no circular-reference check (the values are trees)
                          _not_plain,  # default: called for a type json cannot write
                          encode_basestring,  # strings as json.dumps(ensure_ascii=False) writes them
                          None, ": ", ",\n" + "  " * depth,  # indent (unused), key and item separators
                          True, False, True)  # sort_keys, skipkeys, allow_nan


def _indented(value: Any, depth: int, pieces: list[str]) -> None:
    kind = type(value)
    if kind is str:
        pieces.append(encode_basestring(value))
        return
    if kind in _PLAIN_SCALARS:
        pieces.append("".join(_flat_encoder(0)(value, 0)))
        return
    if kind is dict:
        opening, closing, items = "{", "}", value.values()
    elif kind is list or kind is tuple:
        opening, closing, items = "[", "]", value
    else:
        raise _NotPlain
    if not value:
        pieces.append(opening + closing)
        return
    indent, outer = "\n" + "  " * (depth + 1), "\n" + "  " * depth
    if _PLAIN_SCALARS.issuperset(map(type, items)):
        # One C call: {"a": 1,<indent>"b": 2} -> {<indent>"a": 1,<indent>"b": 2<outer>}
        pieces.append(opening + indent + "".join(_flat_encoder(depth + 1)(value, 0))[1:-1] + outer + closing)
        return
    separator = opening + indent
    if kind is dict:
        for key in sorted(value):
            if type(key) is not str:
                raise _NotPlain
            pieces.append(separator + encode_basestring(key) + ": ")
            _indented(value[key], depth + 1, pieces)
            separator = "," + indent
    else:
        for item in value:
            pieces.append(separator)
            _indented(item, depth + 1, pieces)
            separator = "," + indent
    pieces.append(outer + closing)


_COMPACT_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _json(value: Any, indent: int | None = None) -> str:
    """escape.to_json with json's encoder made once, not at every call (once per pod), and
    indented_json for `json(2)`."""
    if indent is None:
        return _COMPACT_JSON(value)
    if indent == 2:
        return indented_json(value)
    return escape.to_json(value, indent)


FILTERS: dict[str, Callable] = {
    "b64": _base64,
    "yaml": escape.yaml_scalar,
    "yaml_string": escape.yaml_string,
    "yaml_block": escape.yaml_block,
    "json": _json,
    "sh": escape.shell_word,
    "junos_id": escape.junos_identifier,
    "junos_str": escape.junos_string,
    "mermaid_str": escape.mermaid_string,
    "dot_str": escape.dot_string,
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


def common_context(plan: Plan, options: RenderOptions, templates: Templates | None = None) -> dict:
    """The context every template of both targets gets. `templates` draws the README diagram;
    without it, a template set is made from `options`."""
    from jcnrc import diagram, routes

    membership = routes.vrfs_on_node(plan)
    pairs = nat_pairs(plan, membership)
    cluster_pairs = sorted({pair for node_pairs in pairs.values() for pair in node_pairs}, key=_pair_sort_key)
    return {
        "plan": plan,
        "bgp": plan.topology.cluster.bgp,
        "sr": plan.topology.cluster.segmentRouting,
        "default_mtu": plan.underlay_mtu - VXLAN_OVERHEAD,
        "pod_routes": pod_routes(plan),
        "leaking_vrfs": leaking_vrfs(plan),
        "kernel_modules": KERNEL_MODULES,
        "node_config_map": "platter-node-config",
        "eks_snat_exclusions": sorted({pool for pair in cluster_pairs for pool in pair}, key=_network_sort_key),
        "labels": {"app.kubernetes.io/managed-by": "jcnrc", "app.kubernetes.io/part-of": plan.name},
        "intent_file": options.intent_file,
        "intent_digest": options.intent_digest,
        "version": options.version,
        "secrets": plan.topology.secrets,
        "secret_values": options.secret_values,
        "vrfs_on_node": {node: sorted(vrfs) for node, vrfs in membership.items()},
        "nat_pairs": pairs,
        "cluster_nat_pairs": cluster_pairs,
        "diagram": diagram.render(plan, "mermaid", templates=templates or Templates(options.templates)),
    }


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
        text = self.render(template, **extra)
        self.manifests.append(Manifest(f"{kind}-{name}.yaml", text))
        return text

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
        self.ctx["manifest_order"] = [m.path for m in self.manifests]
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

    def _add_edge_files(self, secret_name: str, secret_namespace: str, readme: str) -> None:
        """Scripts, the secrets example, the expected routing state and the README."""
        from jcnrc import routes

        plan = self.plan
        self.files["scripts/prepare-nodes.sh"] = self.render("common/prepare-nodes.sh.j2")
        self.files["secrets.example.env"] = self.render("common/secrets.example.env.j2", secret_name=secret_name)
        if plan.topology.secrets.mode == "reference":
            self.files[CREATE_SECRETS_SCRIPT] = self.render("common/create-secrets.sh.j2", secret_name=secret_name,
                                                            secret_namespace=secret_namespace)
        origins = routes.origins_by_vrf(plan)
        membership = routes.vrfs_on_node(plan)
        states = {}
        for node in plan.nodes:
            state = routes.node_state(plan, node.name, origins=origins, membership=membership,
                                      detail_limit=self.options.state_detail_limit)
            states[node.name] = state
            self.files[f"state/{node.name}.json"] = indented_json(routes.to_data(state)) + "\n"
            self.files[f"state/{node.name}.txt"] = self.templates.render("common/node-state.txt.j2", state=state,
                                                                         target=plan.target)
        if any(not state.complete for state in states.values()):
            # Big topologies: every VRF's routes once, instead of on every node that carries it.
            for vrf in plan.vrfs:
                self.files[f"state/vrfs/{vrf.name}.json"] = indented_json(
                    routes.vrf_routes_to_data(routes.vrf_routes(plan, vrf.name, origins))) + "\n"
        self.files["README.md"] = self.render(readme, states=states, secret_name=secret_name)


PLATTER_SECRET = ("platter-secrets", "kube-system")


def _render_platter(plan: Plan, options: RenderOptions, templates: Templates) -> dict[str, str]:
    out = Output(plan, options, templates, common_context(plan, options, templates))
    if plan.namespace not in BUILT_IN_NAMESPACES:
        out.manifest("namespace", plan.namespace, "common/namespace.yaml.j2", namespace_name=plan.namespace)
    crpd_config = out.render("platter/crpd-config.tmpl.j2")
    node_configs = {n.name: out.render("platter/node-config.json.j2", node=n) for n in plan.nodes}
    out.manifest("serviceaccount", "crpd", "platter/serviceaccount.yaml.j2")
    out.manifest("clusterrole", "crpd", "platter/clusterrole.yaml.j2")
    out.manifest("clusterrolebinding", "crpd", "platter/clusterrolebinding.yaml.j2")
    config_text = out.manifest("configmap", "platter-config", "platter/configmap-platter-config.yaml.j2", crpd_config=crpd_config)
    node_config_text = out.manifest("configmap", "platter-node-config", "platter/configmap-platter-node-config.yaml.j2",
                                    node_configs=node_configs)
    prep_checksum = out.add_node_preparation(node_config_text)
    out.add_secret(*PLATTER_SECRET)
    checksum = digest(config_text, node_config_text)
    out.manifest("daemonset", "kube-crpd-master-ds", "platter/daemonset-master.yaml.j2", config_checksum=checksum)
    out.manifest("daemonset", "kube-crpd-worker-ds", "platter/daemonset-worker.yaml.j2", config_checksum=checksum)
    out.manifest("daemonset", "jcnrc-node-prep", "common/daemonset-node-prep.yaml.j2", config_checksum=prep_checksum)
    for vrf in plan.vrfs:
        out.manifest("networkattachmentdefinition", vrf.nad_name, "platter/nad.yaml.j2", vrf=vrf)
    for pod in plan.pods:
        out.manifest("pod", pod.name, "platter/pod.yaml.j2", pod=pod)
    for name, text in node_configs.items():
        out.files[f"nodes/{name}/node-{name}.json"] = text
    return out.finish(*PLATTER_SECRET)
