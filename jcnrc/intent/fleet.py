"""Stage 2 for fleets: a `kind: Fleet` intent -> one checked Topology per cluster, or diagnostics.

A fleet is lowered, not interpreted: each cluster becomes the Topology a user would have written
for it alone (the fleet's VRFs, its images and secrets unless the cluster overrides them, the
cluster's own `cluster`, `nodes` and `pods`), and every single-cluster rule runs on that Topology.
Each diagnostic is then moved back to where the fleet file says it (`nodes[3]` of cluster 1 is
`clusters[1].nodes[3]`; a VRF is the fleet's `vrfs[k]`), and the copies one fleet-wide mistake makes
in every cluster are reported once. What only the fleet can see (two clusters with one node subnet,
a link subnet used in two clusters, peerings, the licence's BGP peer limit) is checked here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from jcnrc.diagnostics import Diagnostic, Path, Related, did_you_mean, error, escaped, once, warning
from jcnrc.intent import names, rules
from jcnrc.intent.check import partial_intent
from jcnrc.intent.model import Fleet, FleetCluster, Images, Metadata, Topology
from jcnrc.intent.structure import validate_structure

# A standard cRPD licence allows this many BGP peers (Juniper's meshrr README: "the standard cRPD
# licence is limited to 16 BGP peers"); a route reflector peers with every worker of its cluster
# and with the route reflectors of the clusters it is connected to.
LICENSED_BGP_PEERS = 16


@dataclass(frozen=True)
class Overrides:
    """What a cluster of the fleet writes for itself instead of taking the fleet's value."""

    images: frozenset[str] = frozenset()
    secrets: bool = False
    target: bool = False


@dataclass
class Member:
    """One cluster of the fleet, lowered to the Topology it stands for."""

    index: int  # position in `clusters`
    name: str
    topology: Topology
    overrides: Overrides

    def fleet_path(self, path: Path) -> Path:
        return fleet_path(self.index, self.overrides, path)


@dataclass
class CheckedFleet:
    fleet: Fleet | None
    members: list[Member] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.fleet is not None and bool(self.members) and not any(d.is_error for d in self.diagnostics)


def member_name(fleet_name: str, cluster_name: str) -> str:
    """`metadata.name` of a cluster's Topology: the label `app.kubernetes.io/part-of` of its objects."""
    return f"{fleet_name}-{cluster_name}"


def fleet_path(index: int, overrides: Overrides, path: Path) -> Path:
    """Where a path of cluster `index`'s Topology is written in the fleet file."""
    if not path:
        return ("clusters", index)
    head = path[0]
    if head == "cluster" and path[1:2] == ("vniRange",):
        return path[1:]  # fleet-wide
    if head in ("vrfs", "metadata", "apiVersion", "kind", "expect"):
        return path
    if head == "images":
        return ("clusters", index, *path) if path[1:2] and path[1] in overrides.images else path
    if head == "secrets":
        return ("clusters", index, *path) if overrides.secrets else path
    if head == "target":
        return ("clusters", index, "target") if overrides.target else path
    return ("clusters", index, *path)


def _moved(diagnostic: Diagnostic, where: Any) -> Diagnostic:
    """The diagnostic with its path, and its notes' paths, mapped by `where`."""
    related = tuple(replace(r, path=where(r.path)) for r in diagnostic.related)
    moved = replace(diagnostic, path=where(diagnostic.path), related=related)
    return fleet_worded(moved) if moved.path[:1] == ("vniRange",) else moved


def fleet_worded(diagnostic: Diagnostic) -> Diagnostic:
    """The diagnostic naming a Topology's `cluster.vniRange` as a fleet writes it, the top-level `vniRange`."""
    def worded(text: str) -> str:
        return text.replace("`cluster.vniRange`", "`vniRange`")

    return replace(diagnostic, message=worded(diagnostic.message),
                   help=worded(diagnostic.help) if diagnostic.help else diagnostic.help)


# --- lowering ----------------------------------------------------------------------------------

def _overrides(entry: dict) -> Overrides:
    images = entry.get("images")
    written: frozenset[str] = frozenset()
    if isinstance(images, dict):
        written = frozenset(k for k, v in images.items() if isinstance(k, str) and v is not None)
    return Overrides(images=written, secrets=entry.get("secrets") is not None, target=entry.get("target") is not None)


def lowered_data(data: dict, entry: dict) -> dict:
    """A cluster entry of the fleet as the data of a Topology (for rules on partly valid fleets)."""
    images = data.get("images")
    own_images = entry.get("images")
    merged: Any = images
    if isinstance(images, dict) and isinstance(own_images, dict):
        merged = {**images, **{k: v for k, v in own_images.items() if v is not None}}
    cluster = entry.get("cluster")
    if isinstance(cluster, dict) and "vniRange" in data:
        cluster = {**cluster, "vniRange": data["vniRange"]}
    return {
        "apiVersion": data.get("apiVersion"),
        "kind": "Topology",
        "metadata": data.get("metadata"),
        "target": entry.get("target") if entry.get("target") is not None else data.get("target", "platter"),
        "cluster": cluster,
        "images": merged,
        "nodes": entry.get("nodes"),
        "vrfs": data.get("vrfs", []),
        "pods": entry.get("pods", []),
        "secrets": entry.get("secrets") if entry.get("secrets") is not None else data.get("secrets"),
    }


def lower(fleet: Fleet, index: int, entry: FleetCluster) -> Topology:
    """The Topology cluster `entry` stands for (built from validated parts, not validated again)."""
    images = fleet.images
    if entry.images is not None:
        images = Images.model_construct(**{key: getattr(entry.images, key) or getattr(fleet.images, key)
                                           for key in Images.model_fields})
    cluster = entry.cluster.model_copy(update={"vniRange": fleet.vniRange})
    return Topology.model_construct(
        apiVersion=fleet.apiVersion,
        kind="Topology",
        metadata=Metadata.model_construct(name=member_name(fleet.metadata.name, entry.name),
                                          namespace=fleet.metadata.namespace),
        target=entry.target or fleet.target,
        cluster=cluster,
        images=images,
        nodes=entry.nodes,
        vrfs=fleet.vrfs,
        pods=entry.pods,
        secrets=entry.secrets or fleet.secrets,
        expect=[],
    )


def _member_intent(topology: Topology) -> rules.Intent:
    return rules.Intent(
        cluster=topology.cluster, target=topology.target, nodes=list(enumerate(topology.nodes)),
        vrfs=list(enumerate(topology.vrfs)), pods=list(enumerate(topology.pods)), expect=[],
        secrets=topology.secrets, images=topology.images, metadata=topology.metadata, written_names={},
        fleet_member=True)


# --- checking ----------------------------------------------------------------------------------

def check_fleet(data: dict) -> CheckedFleet:
    fleet, diagnostics = validate_structure(data, Fleet)
    entries = data.get("clusters")
    entries = entries if isinstance(entries, list) else []
    members: list[Member] = []
    found: list[Diagnostic] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        overrides = _overrides(entry)
        if fleet is not None:
            topology = lower(fleet, index, fleet.clusters[index])
            members.append(Member(index, fleet.clusters[index].name, topology, overrides))
            intent = _member_intent(topology)
        else:
            intent = partial_intent(lowered_data(data, entry))
            intent.fleet_member = True
        found += [_moved(d, lambda path, i=index, o=overrides: fleet_path(i, o, path)) for d in rules.run(intent)]
    if fleet is not None:
        found = _shared_image_warnings(found, fleet)
        found += fleet_rules(fleet, members)
    return CheckedFleet(fleet, members, diagnostics + once(found))


def _shared_image_warnings(found: list[Diagnostic], fleet: Fleet) -> list[Diagnostic]:
    """JCN914 on a fleet-wide value (`images.platter`) says a JCNR cluster ignores it: true, but other
    clusters use it. Kept only when no cluster of the fleet is built for Platter."""
    if not any((c.target or fleet.target) == "platter" for c in fleet.clusters):
        return found
    return [d for d in found if not (d.code == "JCN914" and d.path[:1] != ("clusters",))]


def fleet_rules(fleet: Fleet, members: list[Member]) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for rule in (_cluster_names, _member_names, _vni_ranges, _node_subnets, _router_ids, _interconnect, _bgp_ports,
                 _mixed_asns, _union_overlaps, _expectations, _vrf_spans, _peer_counts, _flux_interval):
        found.extend(rule(fleet, members))
    return found


# Flux parses `interval` with Go's time.ParseDuration into an int64 of nanoseconds, so about 2562047h is
# the most it holds; below a second, every cluster's kustomize-controller would reconcile without pause.
FLUX_INTERVAL_MIN_S = 1.0
FLUX_INTERVAL_MAX_S = (2**63 - 1) / 1e9
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_DURATION_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str) -> float:
    """A Flux duration (already full-matched by the model) in seconds."""
    return sum(float(number) * _DURATION_UNIT_S[unit] for number, unit in _DURATION_PART.findall(text))


def _flux_interval(fleet: Fleet, members: list[Member]) -> Iterator[Diagnostic]:
    interval = fleet.gitops.interval
    seconds = duration_seconds(interval)
    if not FLUX_INTERVAL_MIN_S <= seconds <= FLUX_INTERVAL_MAX_S:
        why = ("shorter than a second: Flux would reconcile every cluster without pause" if seconds < FLUX_INTERVAL_MIN_S
               else "longer than Go's duration holds (about 2562047h): Flux would refuse the Kustomization")
        yield error("JCN459", f"`gitops.interval` {interval} is {why}", ("gitops", "interval"),
                    help="Flux's own examples reconcile every 1m to 10m: e.g. `interval: 10m`")


# Folders and files a fleet's output holds beside the cluster folders: a cluster may not be named so.
RESERVED_CLUSTER_NAMES = frozenset({"gitops"})


def _distinct_names(members: list[Member]) -> bool:
    return len({m.name for m in members}) == len(members)


def _cluster_names(fleet: Fleet, members: list[Member]) -> Iterator[Diagnostic]:
    first: dict[str, int] = {}
    for m in members:
        problem = ("names the fleet's GitOps folder" if m.name in RESERVED_CLUSTER_NAMES
                   else names.windows_device_problem(m.name))
        if problem is not None:
            yield error("JCN451", f"cluster name `{m.name}` cannot name the cluster's output folder: it {problem}",
                        ("clusters", m.index, "name"),
                        help=f"rename the cluster; a fleet's output folder holds {', '.join(sorted(RESERVED_CLUSTER_NAMES))}/ "
                             "and one folder per cluster, which Windows checkouts must be able to create too")
        if m.name in first:
            yield error("JCN451", f"duplicate cluster name `{m.name}`", ("clusters", m.index, "name"),
                        related=(Related("first defined", ("clusters", first[m.name], "name")),),
                        help="every cluster of a fleet needs its own name: it names the cluster's output folder")
        else:
            first[m.name] = m.index


def _member_names(fleet: Fleet, members: list[Member]) -> Iterator[Diagnostic]:
    for m in members:
        name = member_name(fleet.metadata.name, m.name)
        problem = names.label_problem(name)
        if problem is not None:
            yield error("JCN457", f"`{name}` (the fleet's name, '-', the cluster's name) {problem}",
                        ("clusters", m.index, "name"),
                        help="it labels every object of the cluster (`app.kubernetes.io/part-of`): shorten the fleet's "
                             "`metadata.name` or the cluster's `name`")


def _vni_ranges(fleet: Fleet, members: list[Member]) -> Iterator[Diagnostic]:
    for m in members:
        if "vniRange" in fleet.clusters[m.index].cluster.model_fields_set:
            yield error("JCN455", f"cluster `{m.name}` sets `cluster.vniRange`, but VNIs are fleet-wide",
                        ("clusters", m.index, "cluster", "vniRange"), at="key",
                        help="a VRF has one VNI in every cluster: move `vniRange` to the top level of the fleet")


def _node_subnets(fleet: Fleet, members: list[Member]) -> Iterator[Diagnostic]:
    if not _distinct_names(members):
        return  # two clusters with one name (JCN451): messages naming them would be ambiguous
    seen: list[Member] = []
    for m in members:
        subnet = m.topology.cluster.nodeSubnet
        for other in seen:
            other_subnet = other.topology.cluster.nodeSubnet
            if subnet.overlaps(other_subnet):
                yield error("JCN452", f"the node subnet {subnet} of cluster `{m.name}` overlaps {other_subnet} of "
                                      f"cluster `{other.name}`", ("clusters", m.index, "cluster", "nodeSubnet"),
                            related=(Related(f"cluster `{other.name}`'s node subnet", ("clusters", other.index, "cluster",
                                                                                       "nodeSubnet")),),
                            help="VXLAN and BGP run between the clusters' node addresses, so the underlays must route "
                                 "to each other: give each cluster its own node subnet (VPC/VNet CIDR)")
                break
        seen.append(m)


def _router_ids(fleet: Fleet, members: list[Member]) -> Iterator[Diagnostic]:
    """A node's address is its router ID, the administrator of its route distinguishers and its
    VTEP address: unique across the fleet. Explicit IPv6 loopbacks and ISO NETs likewise."""
    if not _distinct_names(members):
        return
    seen: dict[tuple[str, str], tuple[Member, int]] = {}
    for m in members:
        for i, node in enumerate(m.topology.nodes):
            keys = [("router ID", str(node.address), "address")]
            if node.ipv6Loopback is not None:
                keys.append(("IPv6 loopback", node.ipv6Loopback.lower(), "ipv6Loopback"))
            if node.isoLoopback is not None:
                keys.append(("ISO NET", node.isoLoopback.lower(), "isoLoopback"))
            if node.fabricAddress is not None:  # JCNR's VTEP and BGP source
                keys.append(("fabric address", str(node.fabricAddress), "fabricAddress"))
            for what, value, key in keys:
                first = seen.setdefault((what, value), (m, i))
                if first[0] is not m:
                    other, j = first
                    yield error("JCN453", f"node `{node.name}` of cluster `{m.name}` has the {what} {value} of node "
                                          f"`{other.topology.nodes[j].name}` of cluster `{other.name}`",
                                ("clusters", m.index, "nodes", i, key),
                                related=(Related("first used", ("clusters", other.index, "nodes", j, key)),),
                                help="route distinguishers and VXLAN tunnels name nodes by these values: every node of the "
                                     "fleet needs its own")


def peerings(fleet: Fleet, members: list[Member]) -> list[tuple[str, str]]:
    """The cluster pairs whose route reflectors peer, each pair sorted, in a stable order."""
    known = {m.name for m in members}
    if fleet.interconnect.peerings is None:
        ordered = sorted(known)
        return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1:]]
    pairs = set()
    for peering in fleet.interconnect.peerings:
        a, b = peering.clusters
        if a != b and a in known and b in known:
            pairs.add((min(a, b), max(a, b)))
    return sorted(pairs)


def _interconnect(fleet: Fleet, members: list[Member]) -> Iterator[Diagnostic]:
    if fleet.interconnect.peerings is None:
        return
    known = [m.name for m in members]
    seen: dict[tuple[str, str], int] = {}
    for k, peering in enumerate(fleet.interconnect.peerings):
        a, b = peering.clusters
        unknown = [(j, name) for j, name in enumerate((a, b)) if name not in known]
        for j, name in unknown[:1] if a == b else unknown:
            yield error("JCN454", f"`interconnect.peerings` names cluster `{escaped(name)}`, which the fleet does not have",
                        ("interconnect", "peerings", k, "clusters", j),
                        help=did_you_mean(name, known) or f"the clusters are {', '.join(f'`{n}`' for n in known)}")
        if unknown:
            continue
        if a == b:
            yield error("JCN454", f"a peering joins cluster `{a}` with itself", ("interconnect", "peerings", k, "clusters", 1),
                        help="a peering names two different clusters; the route reflectors of one cluster need no peering")
            continue
        pair = (min(a, b), max(a, b))
        if pair in seen:
            yield error("JCN454", f"clusters `{a}` and `{b}` are already peered", ("interconnect", "peerings", k),
                        related=(Related("first peered", ("interconnect", "peerings", seen[pair])),),
                        help="write each peering once")
        seen.setdefault(pair, k)


def _bgp_ports(fleet: Fleet, members: list[Member]) -> Iterator[Diagnostic]:
    """Each side of a peering connects to the other's listen port with its own `connectPort`: the
    session comes up when either side's connection reaches a listening port."""
    if not _distinct_names(members):
        return
    by_name = {m.name: m for m in members}
    for a, b in peerings(fleet, members):
        a_listen, a_connect = rules.bgp_ports(by_name[a].topology.cluster.bgp)
        b_listen, b_connect = rules.bgp_ports(by_name[b].topology.cluster.bgp)
        if a_connect != b_listen and b_connect != a_listen:
            yield error("JCN458", f"the route reflectors of clusters `{a}` and `{b}` can never open a BGP session: "
                                  f"`{a}` connects to port {a_connect} and listens on {a_listen}, "
                                  f"`{b}` connects to {b_connect} and listens on {b_listen}",
                        ("clusters", by_name[b].index, "cluster"), at="key",
                        related=(Related(f"cluster `{a}`", ("clusters", by_name[a].index, "cluster")),),
                        help=f"make one cluster's `bgp.connectPort` the other's `bgp.listenPort` (179 when left out), "
                             f"or do not peer `{a}` and `{b}` (`interconnect.peerings`)")


def _mixed_asns(fleet: Fleet, members: list[Member]) -> Iterator[Diagnostic]:
    """Without `routeTarget`, a VRF's target is `<cluster asn>:<vni>`: with different ASNs the clusters
    would export and import different targets, and no route would cross."""
    asns = {m.topology.cluster.asn for m in members}
    if len(asns) < 2:
        return
    for i, vrf in enumerate(fleet.vrfs):
        if vrf.routeTarget is None:
            yield error("JCN456", f"VRF `{vrf.name}` needs a `routeTarget`: the clusters have different ASNs "
                                  f"({', '.join(str(a) for a in sorted(asns))}), so the default `<asn>:<vni>` would differ "
                                  "between clusters and no route would cross", ("vrfs", i, "name"),
                        help="write one `routeTarget` for the VRF, e.g. `11:11`: it is the same in every cluster")


def _union_overlaps(fleet: Fleet, members: list[Member]) -> Iterator[Diagnostic]:
    """JCN505 over every cluster's pods at once: the VRFs span the fleet, so a link subnet may be
    used once in the whole fleet."""
    if not members:
        return
    owners: list[tuple[Member, int]] = []
    pods = []
    for m in members:
        for i, pod in enumerate(m.topology.pods):
            pods.append((len(owners), pod))
            owners.append((m, i))
    union = rules.Intent(cluster=members[0].topology.cluster, target=fleet.target, nodes=[],
                         vrfs=list(enumerate(fleet.vrfs)), pods=pods, expect=[], secrets=None)

    def where(path: Path) -> Path:
        if path[:1] == ("pods",) and len(path) > 1 and isinstance(path[1], int):
            m, i = owners[path[1]]
            return ("clusters", m.index, "pods", i, *path[2:])
        return path

    for d in rules.overlaps(union):
        yield _moved(d, where)


def _endpoints(fleet: Fleet, members: list[Member]) -> set[str]:
    found = {v.name for v in fleet.vrfs}
    for m in members:
        found.update(f"{m.name}/{p.name}" for p in m.topology.pods)
    return found


def _expectations(fleet: Fleet, members: list[Member]) -> Iterator[Diagnostic]:
    known = _endpoints(fleet, members)
    for i, expectation in enumerate(fleet.expect):
        key = "reach" if expectation.reach is not None else "isolate"
        for k, name in enumerate(expectation.reach or expectation.isolate or []):
            if name not in known:
                yield error("JCN306", f"`{escaped(name)}` is neither a pod (`<cluster>/<pod>`) nor a VRF of this fleet",
                            ("expect", i, key, k),
                            help=did_you_mean(name, known) or "name a pod as `<cluster>/<pod>`, or a VRF")


def _vrf_spans(fleet: Fleet, members: list[Member]) -> Iterator[Diagnostic]:
    """VRF usage over the whole fleet (JCN910/JCN912), and VRFs that stay inside one cluster (JCN920)."""
    attachments: dict[str, int] = defaultdict(int)
    clusters: dict[str, set[str]] = defaultdict(set)
    for m in members:
        for pod in m.topology.pods:
            for attachment in pod.networks:
                attachments[attachment.vrf] += 1
                clusters[attachment.vrf].add(m.name)
    vrf_names = {v.name for v in fleet.vrfs}
    if not all(name in vrf_names for name in attachments):
        return  # a pod names an unknown VRF: that mistake is reported, not the usage it skews
    union = rules.Intent(cluster=None, target=fleet.target, nodes=[], vrfs=list(enumerate(fleet.vrfs)), pods=[],
                         expect=[], secrets=None)
    yield from rules.vrf_usage(union, attachments)
    if len({m.name for m in members}) < 2 or len({m.name for m in members}) != len(members):
        return  # one cluster, or two with one name (reported): no span to judge
    for i, vrf in enumerate(fleet.vrfs):
        if len(clusters.get(vrf.name, ())) == 1:
            only = next(iter(clusters[vrf.name]))
            yield warning("JCN920", f"VRF `{vrf.name}` has pods in cluster `{only}` only", ("vrfs", i, "name"),
                          help="its routes still travel to every peered cluster's route reflectors; that is fine if pods "
                               "in other clusters come later")


def peer_counts(fleet: Fleet, members: list[Member]) -> dict[str, tuple[int, int, int]]:
    """Per cluster: BGP peers of one of its route reflectors, as (total, own workers, remote
    route reflectors). Workers peer with their own cluster's route reflectors only."""
    by_name = {m.name: m for m in members}
    remote: dict[str, int] = defaultdict(int)
    for a, b in peerings(fleet, members):
        remote[a] += sum(n.role == "master" for n in by_name[b].topology.nodes)
        remote[b] += sum(n.role == "master" for n in by_name[a].topology.nodes)
    counts = {}
    for m in members:
        workers = sum(n.role == "worker" for n in m.topology.nodes)
        counts[m.name] = (workers + remote[m.name], workers, remote[m.name])
    return counts


def _peer_counts(fleet: Fleet, members: list[Member]) -> Iterator[Diagnostic]:
    if not _distinct_names(members):
        return  # duplicate names: reported; the counts would mix two clusters
    counts = peer_counts(fleet, members)
    for m in members:
        total, workers, remote = counts[m.name]
        if total > LICENSED_BGP_PEERS:
            reflectors = f"{remote} route reflector{'s' if remote != 1 else ''} of other clusters"
            yield warning("JCN921", f"each route reflector of cluster `{m.name}` has {total} BGP peers ({workers} workers, "
                                    f"{reflectors}), above the {LICENSED_BGP_PEERS} a "
                                    "standard cRPD licence allows", ("clusters", m.index, "name"),
                          help="check the licence of the route reflectors (Juniper's meshrr README: the standard cRPD "
                               "licence is limited to 16 BGP peers), or peer fewer clusters with `interconnect.peerings`")
