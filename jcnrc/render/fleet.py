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
from ipaddress import IPv4Network, collapse_addresses, ip_address, ip_network

from jcnrc.plan.fleet import FleetPlan, PlannedCluster
from jcnrc.plan.planner import PlannedNode
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
    base = fleet.fleet.gitops.path or options.repository_path or f"out/{options.output_name or fleet.name}"
    labels = {"app.kubernetes.io/managed-by": "jcnrc", "app.kubernetes.io/part-of": fleet.name}
    peerings = tuple(_peering(fleet, a, b) for a, b in fleet.peerings)
    rows = tuple(_row(fleet, c) for c in fleet.clusters)
    ctx = {
        "fleet": fleet, "gitops": fleet.fleet.gitops, "base_path": base, "labels": labels, "peerings": peerings,
        "rows": rows, "intent_file": options.intent_file, "intent_digest": options.intent_digest,
        "rebuild_command": options.rebuild(),
        "version": options.version, "vxlan_port": VXLAN_PORT, "application_set": APPLICATION_SET,
        "flux_folder": FLUX_FOLDER, "cloud_prerequisites": CLOUD_PREREQUISITES,
    }
    files: dict[str, str] = {}
    if fleet.fleet.gitops.repoURL is not None:
        files[APPLICATION_SET] = templates.render("fleet/applicationset.yaml.j2", **ctx)
    for c in fleet.clusters:
        files[f"{FLUX_FOLDER}/{c.name}.yaml"] = templates.render("fleet/flux-kustomization.yaml.j2", cluster=c, **ctx)
        files[f"{c.name}/{CLOUD_PREREQUISITES}"] = templates.render(
            "fleet/cloud-prerequisites.sh.j2", cluster=c, rules=(rules := cloud_rules(fleet, c)),
            routed=routed_sources(rules), **ctx)
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
    sources: tuple[str, ...]  # where the other cluster's packets come from (see traffic_sources)
    source_cluster: str
    why: str


def traffic_sources(node_subnet: str, nodes: tuple[PlannedNode, ...]) -> tuple[str, ...]:
    """The ranges the BGP sessions and VXLAN tunnels of `nodes` come from: their node subnet, and the
    addresses the nodes use for them outside it (JCNR's fabric addresses, `ipv4_loopback`), merged
    into the fewest exact CIDRs."""
    subnet = ip_network(node_subnet)
    outside = [IPv4Network(n.ipv4_loopback) for n in nodes if ip_address(n.ipv4_loopback) not in subnet]
    inside = len(outside) < len(nodes)
    return ((node_subnet,) if inside or not nodes else ()) + tuple(str(net) for net in collapse_addresses(outside))


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
            rules.append(CloudRule("udp", VXLAN_PORT, traffic_sources(other.plan.node_subnet, other.plan.workers),
                                   other.name, f"VXLAN between the workers of {other.name} and {c.name} "
                                               "(EVPN Type-5 data path)"))
        if any(other.name in pair and c.name in pair for pair in fleet.peerings):
            # The other side connects to this cluster's listen port; replies to the sessions this side
            # opens are allowed by the (stateful) security group or NSG itself.
            sources = traffic_sources(other.plan.node_subnet, other.plan.masters)
            rules.append(CloudRule("tcp", bgp.listenPort or BGP_PORT, sources, other.name,
                                   f"BGP from the route reflectors of {other.name}"))
    return tuple(rules)


def routed_sources(rules: tuple[CloudRule, ...]) -> list[tuple[str, str]]:
    """(source, its cluster) once each, in rule order: what a self-managed node must have a route to."""
    return list(dict.fromkeys((source, rule.source_cluster) for rule in rules for source in rule.sources))


def fleet_drawing(fleet: FleetPlan) -> diagram.Drawing:
    """Clusters as groups, each with its route reflectors and its workers in one box; sessions from
    the workers to their route reflectors, and the route reflector mesh between clusters. Read from
    the fleet's graph (plan/fleet.py fleet_graph)."""
    g = fleet.graph
    members: dict[str, list[str]] = {c.name: [] for c in fleet.clusters}
    relations: list[tuple[tuple[str, str], tuple[str, str], str | None]] = list(g.edges(data="relation"))
    for (kind, name), (_, cluster), relation in relations:
        if relation == "in" and kind == "node":
            members[cluster].append(name)
    masters = {c: sorted(n for n in names if g.nodes[("node", n)]["role"] == "master") for c, names in members.items()}
    pods = {c.name: 0 for c in fleet.clusters}
    for kind, name in g.nodes:
        if kind == "pod":
            pods[name.partition("/")[0]] += 1
    rr_ids = diagram.safe_ids("rr", [m for names in masters.values() for m in names])
    workers = diagram.safe_ids("workers", list(members))
    groups = diagram.safe_ids("cluster", list(members))
    built = []
    edges = []
    for cluster, names in members.items():
        info = g.nodes[("cluster", cluster)]
        vertices = [diagram.Vertex(rr_ids[m], f"{m.partition('/')[2]}\nroute reflector {g.nodes[('node', m)]['address']}",
                                   "master") for m in masters[cluster]]
        count = len(names) - len(masters[cluster])
        vertices.append(diagram.Vertex(workers[cluster], f"{count} worker{'s' if count != 1 else ''}"
                                                         f"\n{pods[cluster]} pod{'s' if pods[cluster] != 1 else ''}", "workers"))
        built.append(diagram.Group(groups[cluster], f"{cluster}: {info['provider']}, AS {info['asn']}, {info['node_subnet']}",
                                   "role", tuple(vertices)))
        edges += [diagram.Edge(workers[cluster], rr_ids[m], "iBGP", "session") for m in masters[cluster]]
    drawn: set[frozenset[str]] = set()
    for (_, one), (_, other), session in sorted((u, v, data["session"]) for u, v, data in g.edges(data=True)
                                                if data.get("relation") == "peers-with" and "session" in data):
        pair = frozenset((one, other))
        if pair not in drawn:
            drawn.add(pair)
            edges.append(diagram.Edge(rr_ids[one], rr_ids[other], "iBGP" if session == "ibgp" else "eBGP multihop",
                                      "exchange"))
    return diagram.Drawing(fleet.name, tuple(built), (), tuple(edges), ())


def render_drawing(fleet: FleetPlan, fmt: str, templates: Templates | None = None) -> str | bytes:
    """`jcnrc graph` of a fleet: the peering picture in mermaid, dot, svg or png."""
    templates = templates or Templates(None)
    drawing = fleet_drawing(fleet)
    if fmt == "mermaid":
        return templates.render("diagram/mermaid.j2", drawing=drawing)
    dot_text = templates.render("diagram/dot.j2", drawing=drawing)
    return dot_text if fmt == "dot" else diagram.run_graphviz(dot_text, fmt)
