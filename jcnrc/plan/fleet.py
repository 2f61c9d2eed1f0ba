"""Stage 3 for fleets: checked clusters -> one Plan per cluster, and the fleet's own plan.

Allocation is fleet-wide and stable: every cluster's nodes and pods take part in one allocation,
under names qualified by their cluster (`east/du-1/net1`), so link subnets never repeat across the
fleet (the VRFs span it), node indexes (and with them SR indexes) are unique, and the one lock file
keeps every value when a cluster is added. Each cluster is then planned with its share of that
allocation, exactly as a Topology would be, plus a `FleetView`: the route reflectors it peers with
and the pods whose routes reach it.

Who learns whose routes across clusters is a graph question, answered on the cluster graph
(networkx): route reflectors of peered clusters exchange routes; iBGP (equal ASNs) does not pass a
route learned from one non-client peer on to another, eBGP does, and an AS never accepts a route
whose path holds its own AS.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

from jcnrc.diagnostics import Diagnostic, Related, error
from jcnrc.intent.fleet import CheckedFleet, Member, fleet_worded, peerings
from jcnrc.intent.model import Fleet, Topology
from jcnrc.plan.allocate import Allocation, Lock, allocate, attachment_key, explicit_macs
from jcnrc.plan.allocate import macs as allocate_macs
from jcnrc.plan.planner import FleetView, Plan, PlannedAttachment, PlannedNode, RemoteReflector, plan

if TYPE_CHECKING:
    import networkx as nx

SEPARATOR = "/"


def qualified(cluster: str, name: str) -> str:
    return f"{cluster}{SEPARATOR}{name}"


@dataclass(frozen=True)
class PlannedCluster:
    name: str
    member: Member  # the checked cluster: its position in the file, and where its paths are written
    plan: Plan

    @property
    def index(self) -> int:
        return self.member.index


@dataclass(frozen=True)
class FleetPlan:
    name: str
    namespace: str
    fleet: Fleet
    clusters: tuple[PlannedCluster, ...]
    peerings: tuple[tuple[str, str], ...]  # sorted pairs whose route reflectors peer
    lock: Lock

    def cluster(self, name: str) -> PlannedCluster:
        return next(c for c in self.clusters if c.name == name)

    def has_cluster(self, name: str) -> bool:
        return any(c.name == name for c in self.clusters)

    @cached_property
    def cluster_graph(self) -> nx.Graph:
        return cluster_graph([(c.name, c.plan.asn) for c in self.clusters], self.peerings)

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The whole fleet as one networkx DiGraph (fleet_graph): what the diagrams draw."""
        return fleet_graph(self)

    @cached_property
    def union(self) -> Plan:
        """The whole fleet as one plan, nodes and pods named `<cluster>/<name>`: what reachability,
        `explain` and the diagrams ask. Its `route_between` says which clusters exchange routes."""
        return union_plan(self)

    @cached_property
    def reached(self) -> dict[str, frozenset[str]]:
        """For every cluster, the clusters that learn its routes."""
        return reach_map(self.cluster_graph)

    def exchanges(self, sender: str, receiver: str) -> bool:
        """Whether routes of cluster `sender` reach cluster `receiver`."""
        return sender == receiver or receiver in self.reached[sender]

    def resolve_node(self, reference: str) -> tuple[PlannedCluster, str] | None:
        """`<cluster>/<node>` -> (the cluster, the node's name in it), or None."""
        cluster, sep, node = reference.partition(SEPARATOR)
        if not sep or not self.has_cluster(cluster):
            return None
        planned = self.cluster(cluster)
        return (planned, node) if any(n.name == node for n in planned.plan.nodes) else None

    def node_references(self) -> list[str]:
        return [qualified(c.name, n.name) for c in self.clusters for n in c.plan.nodes]


@dataclass
class PlannedFleet:
    plan: FleetPlan | None
    diagnostics: list[Diagnostic]


def cluster_graph(clusters: list[tuple[str, int]], pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> nx.Graph:
    """Clusters (with their AS) and the peerings between their route reflectors (iBGP or eBGP)."""
    import networkx as nx

    g: nx.Graph = nx.Graph()
    asn = dict(clusters)
    for name, number in clusters:
        g.add_node(name, asn=number)
    for a, b in pairs:
        g.add_edge(a, b, session="ibgp" if asn[a] == asn[b] else "ebgp")
    return g


def fleet_graph(fleet: FleetPlan) -> nx.DiGraph:
    """The fleet as a networkx DiGraph: the union plan's graph (graph.build: nodes, pods,
    attachments, VRFs, route targets, worker -peers-with-> master), with names `<cluster>/<name>`,
    plus ("cluster", name) vertices (asn, provider, node subnet), node -in-> cluster,
    master -peers-with-> master across peered clusters (session ibgp or ebgp, both ways), and
    vrf -spans-> cluster for every cluster where the VRF has a pod."""
    from jcnrc.plan import graph as topology_graph

    union = fleet.union
    g = topology_graph.build(union.nodes, union.vrfs, union.pods)
    for c in fleet.clusters:
        g.add_node(("cluster", c.name), asn=c.plan.asn, provider=c.plan.profile.name, node_subnet=c.plan.node_subnet)
        for n in c.plan.nodes:
            g.add_edge(("node", qualified(c.name, n.name)), ("cluster", c.name), relation="in")
        for vrf in sorted({a.vrf for a in c.plan.attachments}):
            g.add_edge(("vrf", vrf), ("cluster", c.name), relation="spans")
    for a, b in fleet.peerings:
        first, second = fleet.cluster(a), fleet.cluster(b)
        session = "ibgp" if first.plan.asn == second.plan.asn else "ebgp"
        for ma in first.plan.masters:
            for mb in second.plan.masters:
                one, other = ("node", qualified(a, ma.name)), ("node", qualified(b, mb.name))
                g.add_edge(one, other, relation="peers-with", session=session)
                g.add_edge(other, one, relation="peers-with", session=session)
    return g


# A route as one cluster's route reflectors hold it: the AS path, how it arrived (origin, ibgp,
# ebgp) and the cluster that sent it.
_Route = tuple[tuple[int, ...], str, str]


def _preference(route: _Route) -> tuple:
    """BGP's best-path order for what differs here: the shorter AS path, then a route learned over
    eBGP before one learned over iBGP, then (Junos: the lower router ID) the sender's name."""
    path, arrived, sender = route
    return (len(path), arrived != "ebgp", sender)


def reached_clusters(g: nx.Graph, origin: str) -> set[str]:
    """The clusters whose route reflectors learn the routes originated in `origin`.

    A path-vector simulation of the route reflectors' BGP: each cluster keeps the best of the
    routes its peers advertise (`_preference`) and advertises that one only; a route that arrived
    over iBGP from a non-client peer is not passed to another iBGP peer (RFC 4456 reflects only
    between clients and non-clients); over eBGP the sender's AS is prepended and a cluster refuses
    a path that already holds its own AS. Every change is an improvement or a withdrawal, so it
    settles; each cluster looks only at the peers it advertises to, so a single-AS full mesh costs
    one pass over the origin's peers."""
    asn = {name: g.nodes[name]["asn"] for name in g.nodes}
    ebgp_peers = {name: sorted(p for p in g.neighbors(name) if g.edges[name, p]["session"] == "ebgp") for name in g.nodes}
    received: dict[str, dict[str, _Route]] = {name: {} for name in g.nodes}  # cluster -> sender -> route
    best: dict[str, _Route | None] = {origin: ((), "origin", origin)}
    sent_to: dict[str, set[str]] = {name: set() for name in g.nodes}
    queue = deque([origin])
    queued = {origin}
    while queue:
        sender = queue.popleft()
        queued.discard(sender)
        route = best.get(sender)
        # Whom the sender advertises to now, and what: iBGP-learned routes go to eBGP peers only.
        targets = ebgp_peers[sender] if route is not None and route[1] == "ibgp" else (
            sorted(g.neighbors(sender)) if route is not None else [])
        advertised: dict[str, _Route | None] = dict.fromkeys(sent_to[sender] - set(targets))  # withdrawals
        for peer in targets:
            assert route is not None  # targets is empty without a route
            session = g.edges[sender, peer]["session"]
            path = (asn[sender], *route[0]) if session == "ebgp" else route[0]
            refused = peer == origin or (session == "ebgp" and asn[peer] in path)
            advertised[peer] = None if refused else (path, session, sender)
        sent_to[sender] = {peer for peer, new in advertised.items() if new is not None}
        for peer, new in advertised.items():
            if received[peer].get(sender) == new:
                continue
            if new is None:
                received[peer].pop(sender, None)
            else:
                received[peer][sender] = new
            if peer == origin:
                continue
            choice = min(received[peer].values(), key=_preference, default=None)
            if choice != best.get(peer):
                best[peer] = choice
                if peer not in queued:
                    queue.append(peer)
                    queued.add(peer)
    return {name for name, route in best.items() if route is not None and name != origin}


def reach_map(g: nx.Graph) -> dict[str, frozenset[str]]:
    """For every cluster, the clusters that learn its routes (reached_clusters), once each."""
    return {name: frozenset(reached_clusters(g, name)) for name in sorted(g.nodes)}


def _union_topology(checked: CheckedFleet) -> Topology:
    """Every cluster's nodes and pods under qualified names, for one fleet-wide allocation."""
    members = checked.members
    fits = [m.topology.cluster.segmentRouting for m in members]
    tightest = min(range(len(members)), key=lambda i: fits[i].srgbRange - max(fits[i].ipv4IndexBase, fits[i].ipv6IndexBase))
    nodes = [n.model_copy(update={"name": qualified(m.name, n.name)}) for m in members for n in m.topology.nodes]
    pods = [p.model_copy(update={"name": qualified(m.name, p.name), "node": qualified(m.name, p.node)})
            for m in members for p in m.topology.pods]
    base = members[tightest].topology
    return base.model_copy(update={"nodes": nodes, "pods": pods})


def _local(mapping: dict, member: Member) -> dict:
    """The entries of `mapping` named `<member>/...`, under the names inside the cluster."""
    prefix = qualified(member.name, "")
    return {key[len(prefix):]: value for key, value in mapping.items() if key.startswith(prefix)}


def _share(allocation: Allocation, member: Member, macs: dict[str, str]) -> Allocation:
    """A cluster's part of the fleet's allocation, under the names its Topology uses."""
    return Allocation(node_index=_local(allocation.node_index, member), vni=allocation.vni, rd=allocation.rd,
                      mac=macs, links=_local(allocation.links, member), lock=allocation.lock, diagnostics=[])


def _cluster_macs(members: list[Member], previous: Lock | None) -> dict[str, dict[str, str]]:
    """MACs per cluster, as a Topology build of the cluster derives them: a pod interface's MAC
    matters only on its own node, so they need not differ across clusters, and a cluster's folder
    stays byte for byte its Topology build."""
    locked = previous.macs if previous is not None else {}
    return {m.name: allocate_macs(m.topology, Lock(macs=_local(locked, m))) for m in members}


def _with_cluster_macs(lock: Lock, members: list[Member], macs: dict[str, dict[str, str]]) -> Lock:
    derived = {qualified(m.name, key): mac for m in members for key, mac in macs[m.name].items()
               if key not in explicit_macs(m.topology)}
    return replace(lock, macs=dict(sorted(derived.items())))


def _remote(planned: PlannedCluster) -> tuple[tuple[PlannedNode, ...], tuple[PlannedAttachment, ...]]:
    nodes = tuple(replace(n, name=qualified(planned.name, n.name)) for n in planned.plan.nodes)
    attachments = tuple(replace(a, pod=qualified(planned.name, a.pod), node=qualified(planned.name, a.node))
                        for a in planned.plan.attachments)
    return nodes, attachments


def plan_fleet(checked: CheckedFleet, previous: Lock | None) -> PlannedFleet:
    fleet = checked.fleet
    assert fleet is not None and checked.members  # checked.ok
    members = checked.members
    allocation = allocate(_union_topology(checked), previous)
    diagnostics = [_moved_allocation_problem(d, members) for d in allocation.diagnostics]
    if any(d.is_error for d in diagnostics):
        return PlannedFleet(None, diagnostics)
    macs = _cluster_macs(members, previous)
    lock = _with_cluster_macs(allocation.lock, members, macs)
    pairs = tuple(peerings(fleet, members))
    # First each cluster on its own, then again with what it learns of the others.
    alone: list[PlannedCluster] = []
    for m in members:
        planned = plan(m.topology, allocation=_share(allocation, m, macs[m.name]))
        diagnostics += [_moved_member_problem(d, m) for d in planned.diagnostics]
        if planned.plan is not None:
            alone.append(PlannedCluster(m.name, m, planned.plan))
    if any(d.is_error for d in diagnostics) or len(alone) != len(members):
        return PlannedFleet(None, diagnostics)
    diagnostics += _sr_index_clashes(alone)
    if any(d.is_error for d in diagnostics):
        return PlannedFleet(None, diagnostics)
    reached = reach_map(cluster_graph([(c.name, c.plan.asn) for c in alone], pairs))
    remote = {c.name: _remote(c) for c in alone}
    by_name = {c.name: c for c in alone}
    clusters = []
    for c in alone:
        peers = sorted({b if a == c.name else a for a, b in pairs if c.name in (a, b)})
        reflectors = tuple(RemoteReflector(p, n.name, n.ipv4_loopback, by_name[p].plan.asn)  # its BGP local address
                           for p in peers for n in by_name[p].plan.masters)
        reached_from = sorted(other for other in by_name if other != c.name and c.name in reached[other])
        view = FleetView(
            fleet=fleet.metadata.name, cluster=c.name, reflectors=reflectors, multihop_ttl=fleet.interconnect.multihopTtl,
            remote_nodes=tuple(n for other in reached_from for n in remote[other][0]),
            remote_attachments=tuple(a for other in reached_from for a in remote[other][1]),
        )
        planned = plan(c.member.topology, allocation=_share(allocation, c.member, macs[c.name]), fleet=view)
        assert planned.plan is not None  # the same cluster planned above
        clusters.append(PlannedCluster(c.name, c.member, planned.plan))
    result = FleetPlan(fleet.metadata.name, fleet.metadata.namespace, fleet, tuple(clusters), pairs, lock)
    from jcnrc.plan import reach

    diagnostics += reach.check_expectations(result.union, fleet_plan=result)
    if any(d.is_error for d in diagnostics):
        return PlannedFleet(None, diagnostics)
    return PlannedFleet(result, diagnostics)


def _moved_member_problem(d: Diagnostic, member: Member) -> Diagnostic:
    related = tuple(replace(r, path=member.fleet_path(r.path)) for r in d.related)
    return replace(d, path=member.fleet_path(d.path), related=related)


def _moved_allocation_problem(d: Diagnostic, members: list[Member]) -> Diagnostic:
    """Allocation problems of the fleet-wide allocation name VRFs (the fleet's), or a qualified pod/node
    by its position in the union: moved to the cluster that has it."""
    def where(path: tuple) -> tuple:
        if path[:1] in (("pods",), ("nodes",)) and len(path) > 1 and isinstance(path[1], int):
            position = path[1]
            for m in members:
                items = m.topology.pods if path[0] == "pods" else m.topology.nodes
                if position < len(items):
                    return m.fleet_path((path[0], position, *path[2:]))
                position -= len(items)
        if path[:1] == ("cluster",):
            return (("vniRange", *path[2:])) if path[1:2] == ("vniRange",) else ("clusters", 0, *path)
        return path

    # The allocator speaks of a Topology's `cluster.vniRange`; a fleet writes it at the top.
    return fleet_worded(replace(d, path=where(d.path), related=tuple(replace(r, path=where(r.path)) for r in d.related)))


def _sr_index_clashes(clusters: list[PlannedCluster]) -> list[Diagnostic]:
    """Node SIDs are global in an SR domain: with per-cluster index bases two clusters' nodes may
    land on one index even though node indexes are allocated fleet-wide."""
    problems = []
    seen: dict[int, tuple[PlannedCluster, int]] = {}
    for c in clusters:
        for position, node in enumerate(c.plan.nodes):
            for index in (node.sr_ipv4_index, node.sr_ipv6_index):
                first = seen.setdefault(index, (c, position))
                if first[0] is not c:
                    other, j = first
                    problems.append(error(
                        "JCN453", f"node `{node.name}` of cluster `{c.name}` gets SR index {index}, as node "
                                  f"`{other.plan.nodes[j].name}` of cluster `{other.name}` does",
                        ("clusters", c.index, "cluster", "segmentRouting"), at="key",
                        related=(Related("that cluster's index bases", ("clusters", other.index, "cluster", "segmentRouting")),),
                        help="use the same `segmentRouting` index bases in every cluster (node indexes are allocated "
                             "fleet-wide and never repeat), or bases far enough apart"))
                    return problems
    return problems


def union_plan(fleet: FleetPlan) -> Plan:
    first = fleet.clusters[0].plan
    nodes = tuple(n for c in fleet.clusters for n in _remote(c)[0])
    pods = tuple(replace(p, name=qualified(c.name, p.name), node=qualified(c.name, p.node),
                         attachments=tuple(replace(a, pod=qualified(c.name, a.pod), node=qualified(c.name, a.node))
                                           for a in p.attachments))
                 for c in fleet.clusters for p in c.plan.pods)
    topology = first.topology.model_copy(update={"expect": fleet.fleet.expect})
    return replace(first, name=fleet.name, nodes=nodes, pods=pods, topology=topology, fleet=None, lock=fleet.lock)


def attachment_lock_key(cluster: str, pod: str, interface: str) -> str:
    return attachment_key(qualified(cluster, pod), interface)
