"""Stage 4 for fleets: the fleet's own files, beside one folder per cluster (rendered by the target
of each cluster, exactly as a Topology build of it). Pure: returns ``{relative path: text}``.

- ``README.md``: the clusters, their peering (a diagram) and how to apply, sync and verify;
- ``gitops/argocd/applicationset.yaml``: one Argo CD Application per cluster folder (when
  `gitops.repoURL` says where the output lives), each sent to the Argo CD cluster of the same name;
- ``gitops/flux/<cluster>.yaml``: one Flux Kustomization per cluster, for that cluster's own Flux;
- ``<cluster>/scripts/cloud-prerequisites.sh``: the security-group / NSG rules the overlay needs
  between the clusters' nodes (VXLAN, BGP), reviewed before it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from jcnrc.plan.fleet import FleetPlan, PlannedCluster
from jcnrc.render import diagram
from jcnrc.render.common import RenderOptions
from jcnrc.render.templates import Templates

APPLICATION_SET = "gitops/argocd/applicationset.yaml"
FLUX_FOLDER = "gitops/flux"
CLOUD_PREREQUISITES = "scripts/cloud-prerequisites.sh"
# The label `argocd cluster add` gives the cluster secrets (docs/fleet.md): the ApplicationSet's
# list generator names each cluster's Argo CD destination after the cluster.
VXLAN_PORT = 4789  # IANA VXLAN (RFC 7348); the Linux vxlan device cRPD programs uses it
BGP_PORT = 179


@dataclass(frozen=True)
class Peering:
    a: str
    b: str
    session: str  # iBGP or eBGP
    asns: tuple[int, int]


@dataclass(frozen=True)
class ClusterRow:
    cluster: PlannedCluster
    peers: tuple[str, ...]
    bgp_peers: int  # BGP sessions of one route reflector of the cluster


def render_fleet(fleet: FleetPlan, options: RenderOptions) -> dict[str, str]:
    templates = Templates(options.templates)
    base = fleet.fleet.gitops.path or f"out/{fleet.name}"
    labels = {"app.kubernetes.io/managed-by": "jcnrc", "app.kubernetes.io/part-of": fleet.name}
    peerings = tuple(_peering(fleet, a, b) for a, b in fleet.peerings)
    rows = tuple(_row(fleet, c) for c in fleet.clusters)
    ctx = {
        "fleet": fleet, "gitops": fleet.fleet.gitops, "base_path": base, "labels": labels, "peerings": peerings,
        "rows": rows, "intent_file": options.intent_file, "intent_digest": options.intent_digest,
        "version": options.version, "vxlan_port": VXLAN_PORT, "application_set": APPLICATION_SET,
        "flux_folder": FLUX_FOLDER, "cloud_prerequisites": CLOUD_PREREQUISITES,
    }
    files: dict[str, str] = {}
    if fleet.fleet.gitops.repoURL is not None:
        files[APPLICATION_SET] = templates.render("fleet/applicationset.yaml.j2", **ctx)
    for c in fleet.clusters:
        files[f"{FLUX_FOLDER}/{c.name}.yaml"] = templates.render("fleet/flux-kustomization.yaml.j2", cluster=c, **ctx)
        files[f"{c.name}/{CLOUD_PREREQUISITES}"] = templates.render(
            "fleet/cloud-prerequisites.sh.j2", cluster=c, rules=cloud_rules(fleet, c), **ctx)
    drawing = fleet_drawing(fleet)
    files["README.md"] = templates.render("fleet/README.md.j2", diagram=templates.render("diagram/mermaid.j2", drawing=drawing),
                                          **ctx)
    return files


def _peering(fleet: FleetPlan, a: str, b: str) -> Peering:
    asn_a, asn_b = fleet.cluster(a).plan.asn, fleet.cluster(b).plan.asn
    return Peering(a, b, "iBGP" if asn_a == asn_b else "eBGP", (asn_a, asn_b))


def _row(fleet: FleetPlan, c: PlannedCluster) -> ClusterRow:
    peers = tuple(sorted({b if a == c.name else a for a, b in fleet.peerings if c.name in (a, b)}))
    remote = len(c.plan.fleet.reflectors) if c.plan.fleet else 0
    return ClusterRow(c, peers, len(c.plan.workers) + remote)


@dataclass(frozen=True)
class CloudRule:
    """One ingress rule a cluster's nodes need from another cluster's nodes."""

    protocol: str  # udp or tcp
    port: int
    source: str  # the other cluster's node subnet
    source_cluster: str
    why: str


def cloud_rules(fleet: FleetPlan, c: PlannedCluster) -> tuple[CloudRule, ...]:
    """Ingress into cluster `c`'s nodes from the nodes of every cluster whose traffic reaches them:
    VXLAN from the workers of clusters that exchange routes with it, BGP from the route reflectors
    of the clusters it peers with (the configured port, or 179)."""
    rules = []
    bgp = c.plan.topology.cluster.bgp
    for other in fleet.clusters:
        if other.name == c.name:
            continue
        if fleet.exchanges(c.name, other.name) or fleet.exchanges(other.name, c.name):
            rules.append(CloudRule("udp", VXLAN_PORT, other.plan.node_subnet, other.name,
                                   f"VXLAN between the workers of {other.name} and {c.name} (EVPN Type-5 data path)"))
        if any(other.name in pair and c.name in pair for pair in fleet.peerings):
            other_bgp = other.plan.topology.cluster.bgp
            ports = sorted({bgp.listenPort or BGP_PORT, other_bgp.connectPort or BGP_PORT})
            for port in ports:
                rules.append(CloudRule("tcp", port, other.plan.node_subnet, other.name,
                                       f"BGP from the route reflectors of {other.name}"))
    return tuple(rules)


def fleet_drawing(fleet: FleetPlan) -> diagram.Drawing:
    """Clusters as groups, each with its route reflectors and its workers in one box; sessions from
    the workers to their route reflectors, and the route reflector mesh between clusters."""
    masters = diagram.safe_ids("rr", [f"{c.name}/{m.name}" for c in fleet.clusters for m in c.plan.masters])
    workers = diagram.safe_ids("workers", [c.name for c in fleet.clusters])
    groups = diagram.safe_ids("cluster", [c.name for c in fleet.clusters])
    built = []
    edges = []
    for c in fleet.clusters:
        vertices = [diagram.Vertex(masters[f"{c.name}/{m.name}"], f"{m.name}\nroute reflector {m.address}", "master")
                    for m in c.plan.masters]
        pods = len(c.plan.pods)
        vertices.append(diagram.Vertex(workers[c.name], f"{len(c.plan.workers)} worker{'s' if len(c.plan.workers) != 1 else ''}"
                                                        f"\n{pods} pod{'s' if pods != 1 else ''}", "workers"))
        built.append(diagram.Group(groups[c.name], f"{c.name}: {c.plan.profile.name}, AS {c.plan.asn}, {c.plan.node_subnet}",
                                   "role", tuple(vertices)))
        for m in c.plan.masters:
            edges.append(diagram.Edge(workers[c.name], masters[f"{c.name}/{m.name}"], "iBGP", "session"))
    for a, b in fleet.peerings:
        session = "iBGP" if fleet.cluster(a).plan.asn == fleet.cluster(b).plan.asn else "eBGP multihop"
        for ma in fleet.cluster(a).plan.masters:
            for mb in fleet.cluster(b).plan.masters:
                edges.append(diagram.Edge(masters[f"{a}/{ma.name}"], masters[f"{b}/{mb.name}"], session, "exchange"))
    return diagram.Drawing(fleet.name, tuple(built), (), tuple(edges), ())


def render_drawing(fleet: FleetPlan, fmt: str, templates: Templates | None = None) -> str | bytes:
    """`jcnrc graph` of a fleet: the peering picture in mermaid, dot, svg or png."""
    templates = templates or Templates(None)
    drawing = fleet_drawing(fleet)
    if fmt == "mermaid":
        return templates.render("diagram/mermaid.j2", drawing=drawing)
    dot_text = templates.render("diagram/dot.j2", drawing=drawing)
    return dot_text if fmt == "dot" else diagram.run_graphviz(dot_text, fmt)
