"""The routing state a node must show once the deployment works, derived from the plan.

Three views, each in the notation of the command an engineer would run on the node:
- ``show bgp summary``: one iBGP session per route reflector (on a master: one per worker);
- ``show route table <vrf>.evpn.0``: EVPN Type-5 routes, ``5:<rd>::0::<prefix>::<len>/248``;
- ``ip route show table <vrf table>``: VXLAN encap routes towards the other nodes, and the
  connected link subnet and host route of every local pod.

Every node that carries a VRF holds the same prefixes in it, so the prefixes are grouped per
VRF once (``OriginIndex``) and each node only adds its point of view. For big topologies the
full per-node listing is quadratic (every node lists every route of every VRF it carries), so
``node_state(..., detail_limit=N)`` switches to a compact form when all nodes together would
list more than N routes: each node lists the routes it originates, the route counts, and the
names of the VRFs whose routes it installs; the routes of each VRF are then listed once, by
``vrf_routes``. Output stays linear in attachments.

Kernel routes for IPv6 prefixes (``ip -6 route``) are an inference: cRPD programs every route
of the VRF into the kernel VRF table, and the walkthrough only shows the IPv4 side.
"""

from __future__ import annotations

import socket
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import ip_address
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jcnrc.plan.planner import LinkAddress, Plan, PlannedAttachment, PlannedNode, PlannedVrf

# Platter installs the pod host routes with this kernel protocol number (walkthrough: `proto 22`).
CRPD_KERNEL_PROTO = 22


@dataclass(frozen=True)
class Origin:
    """One advertised prefix: a pod link subnet on a node, in a VRF."""

    vrf: str
    node: str
    node_address: str  # the origin's VTEP, the protocol next hop: its ipv4_loopback (JCNR: its fabric address)
    prefix: str
    family: str
    gateway: str
    pod: str
    interface: str
    pod_ip: str = ""
    # Derived once per prefix (parsing addresses is the expensive part of listing routes):
    rd: str = ""  # <node address>:<VRF's RD number>
    text: str = ""  # the Type-5 NLRI in Junos notation
    order: tuple = ()  # where Junos lists it in <vrf>.evpn.0
    kernel_order: tuple = ()  # where `ip route` lists the prefix
    host_order: tuple = ()  # and the pod's host route


def _type5_nlri(rd: str, prefix: str) -> str:
    """The Type-5 NLRI as Junos prints it (capture.format_type5), from values valid by
    construction: the plan's RD and a network as ipaddress writes it. format_type5 checks the
    RD and parses the prefix again, which for tens of thousands of routes is most of the work;
    tests compare both. Not importing capture (a parser) also keeps a build's start-up shorter."""
    address, _, length = prefix.partition("/")
    return f"5:{rd}::0::{address}::{length}/248"


# Per family: the IP version, the address length in bits and the socket family that parses it.
_FAMILIES = {"ipv4": (4, 32, socket.AF_INET), "ipv6": (6, 128, socket.AF_INET6)}


def _address_number(text: str, family: str) -> int:
    """An address of the plan (written by ipaddress) as a number, for sorting; parsed in C."""
    return int.from_bytes(socket.inet_pton(_FAMILIES[family][2], text), "big")


def _origin(attachment: PlannedAttachment, node: PlannedNode, family: str, link: LinkAddress, rd: str,
            rd_order: tuple) -> Origin:
    version, bits, _ = _FAMILIES[family]
    network, _, length = link.subnet.partition("/")
    start, prefixlen = _address_number(network, family), int(length)
    return Origin(attachment.vrf, node.name, node.ipv4_loopback, link.subnet, family, link.gateway, attachment.pod,
                  attachment.interface, link.pod_ip, rd, _type5_nlri(rd, link.subnet),
                  order=(version, rd_order, start, prefixlen),
                  kernel_order=(version, start, prefixlen),
                  host_order=(version, _address_number(link.pod_ip, family), bits))


class OriginIndex(dict[str, list[Origin]]):
    """VRF name -> its advertised prefixes, plus the lookups every node needs, computed once."""

    def __init__(self, plan: Plan, by_vrf: dict[str, list[Origin]]) -> None:
        super().__init__(by_vrf)
        self._plan = plan
        self._by_node: dict[tuple[str, str], list[Origin]] = defaultdict(list)
        for origins in self.values():
            for origin in origins:
                self._by_node[(origin.vrf, origin.node)].append(origin)
        self._sources: dict[str, tuple[str, ...]] = {}
        self._listing: tuple[int, int] | None = None  # (id of the membership map, size)

    def sources(self, vrf: str) -> tuple[str, ...]:
        """VRFs whose routes VRF `vrf` installs, sorted."""
        if vrf not in self._sources:
            self._sources[vrf] = tuple(sorted(self._plan.route_sources(vrf)))
        return self._sources[vrf]

    def on_node(self, vrf: str, node: str) -> list[Origin]:
        return self._by_node.get((vrf, node), [])

    def table_sources(self, vrf: str) -> tuple[str, ...]:
        """VRFs with routes in `<vrf>.evpn.0`: the imported ones, and the VRF itself, whose
        routes originated on the node are in its table whatever it imports."""
        sources = self.sources(vrf)
        return sources if vrf in sources else tuple(sorted((*sources, vrf)))

    def listing_size(self, membership: dict[str, set[str]]) -> int:
        """How many routes the states of all nodes list in full: what `detail_limit` bounds."""
        if self._listing is None or self._listing[0] != id(membership):
            size = sum(self.table_size(vrf, node) for node, vrfs in membership.items() for vrf in vrfs)
            self._listing = (id(membership), size)
        return self._listing[1]

    def table_size(self, vrf: str, node: str) -> int:
        """How many Type-5 routes `<vrf>.evpn.0` holds on `node`."""
        size = sum(len(self.get(source, ())) for source in self.sources(vrf))
        if vrf not in self.sources(vrf):
            size += len(self.on_node(vrf, node))
        return size


@dataclass(frozen=True)
class ExpectedRoute:
    table: str
    text: str  # 5:10.240.0.5:1::0::1.1.11.0::30/248
    rd: str
    prefix: str
    protocol: str  # EVPN (originated here) or BGP (learned from a route reflector)
    origin_vrf: str
    origin_node: str
    protocol_next_hop: str
    vni: int
    route_targets: tuple[str, ...]
    learned_from: tuple[str, ...]
    family: str = "ipv4"
    origin_pod: str = ""


@dataclass(frozen=True)
class ExpectedSession:
    peer: str
    peer_node: str
    asn: int
    peer_role: str  # route-reflector (seen from a worker) or client (seen from a master)


@dataclass(frozen=True)
class ExpectedKernelRoute:
    vrf: str
    prefix: str  # a network, or a bare address for a host route (as `ip route` prints them)
    kind: str  # encap (remote, over VXLAN), connected (a local pod link) or host (the local pod)
    vni: int | None
    src: str | None
    dst: str | None
    family: str = "ipv4"
    via: str | None = None

    @property
    def text(self) -> str:
        if self.kind == "encap":
            return f"{self.prefix} encap ip id {self.vni} src {self.src} dst {self.dst}"
        if self.kind == "host":
            return f"{self.prefix} via {self.via} dev <veth> proto {CRPD_KERNEL_PROTO}"
        return f"{self.prefix} dev <veth> proto kernel scope link" + (f" src {self.src}" if self.src else "")


@dataclass(frozen=True)
class VrfTable:
    vrf: str
    table: str
    routes: tuple[ExpectedRoute, ...]  # all of them, or only those originated here when not complete
    kernel: tuple[ExpectedKernelRoute, ...]  # likewise
    sources: tuple[str, ...] = ()  # VRFs whose routes this table installs
    route_count: int = 0  # routes the table holds in all
    kernel_count: int = 0
    complete: bool = True

    @property
    def kernel_ipv4(self) -> tuple[ExpectedKernelRoute, ...]:
        return tuple(k for k in self.kernel if k.family == "ipv4")

    @property
    def kernel_ipv6(self) -> tuple[ExpectedKernelRoute, ...]:
        return tuple(k for k in self.kernel if k.family == "ipv6")


@dataclass(frozen=True)
class NodeState:
    node: str
    address: str
    role: str
    asn: int
    sessions: tuple[ExpectedSession, ...]
    tables: tuple[VrfTable, ...]
    vrf_filter: str | None = None  # only this VRF's table was asked for

    @property
    def complete(self) -> bool:
        return all(t.complete for t in self.tables)


@dataclass(frozen=True)
class AdvertisedRoute:
    """A VRF's route as every node that installs it sees it (the compact form's shared list)."""

    text: str
    rd: str
    prefix: str
    family: str
    origin_node: str
    protocol_next_hop: str
    pod: str
    interface: str


@dataclass(frozen=True)
class VrfRoutes:
    vrf: str
    vni: int
    route_targets: tuple[str, ...]
    routes: tuple[AdvertisedRoute, ...]


# --- computing ---------------------------------------------------------------------------

def origins_by_vrf(plan: Plan) -> OriginIndex:
    found: dict[str, list[Origin]] = defaultdict(list)
    for attachment in plan.routed_attachments:
        node, vrf = plan.node(attachment.node), plan.vrf(attachment.vrf)
        rd = node.route_distinguisher(vrf)
        rd_order = (_administrator_order(node.ipv4_loopback), vrf.rd_number)
        for family, link in (("ipv4", attachment.ipv4), ("ipv6", attachment.ipv6)):
            if link is not None:
                found[attachment.vrf].append(_origin(attachment, node, family, link, rd, rd_order))
    for origins in found.values():
        origins.sort(key=lambda o: o.order)
    return OriginIndex(plan, found)


def vrfs_on_node(plan: Plan) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for attachment in plan.attachments:
        found[attachment.node].add(attachment.vrf)
    return found


def sessions(plan: Plan, node_name: str) -> tuple[ExpectedSession, ...]:
    node = plan.node(node_name)
    peers = plan.workers if node.is_master else plan.masters
    role = "client" if node.is_master else "route-reflector"
    # Sessions run between the nodes' BGP local addresses: the node address, for JCNR the fabric address.
    found = [ExpectedSession(p.ipv4_loopback, p.name, plan.asn, role) for p in peers if p.name != node.name]
    if node.is_master and plan.fleet is not None:
        # Route reflectors of the peered clusters, named `<cluster>/<node>`.
        found += [ExpectedSession(r.address, f"{r.cluster}/{r.node}", r.asn, "fleet-peer") for r in plan.fleet.reflectors]
    return tuple(found)


def node_state(plan: Plan, node_name: str, vrf_filter: str | None = None, origins: OriginIndex | None = None,
               membership: dict[str, set[str]] | None = None, detail_limit: int | None = None) -> NodeState:
    """What `node_name` must show.

    `origins` and `membership` (from `origins_by_vrf` and `vrfs_on_node`) may be passed in to
    share them between nodes. With `detail_limit`, when the states of all nodes together would
    list more Type-5 routes than that, every node gets the compact form (see the module
    docstring), so all state files of one build have the same shape; None lists everything."""
    node = plan.node(node_name)
    origins = origins if origins is not None else origins_by_vrf(plan)
    membership = membership if membership is not None else vrfs_on_node(plan)
    names = sorted(v for v in membership.get(node_name, ()) if not vrf_filter or v == vrf_filter)
    compact = detail_limit is not None and origins.listing_size(membership) > detail_limit
    tables = tuple(_vrf_table(plan, node, name, origins, compact) for name in names)
    return NodeState(node.name, node.address, node.role, plan.asn, sessions(plan, node_name), tables, vrf_filter)


def _vrf_table(plan: Plan, node: PlannedNode, vrf_name: str, origins: OriginIndex, compact: bool) -> VrfTable:
    table = f"{vrf_name}.evpn.0"
    masters = tuple(m.ipv4_loopback for m in plan.masters)
    routes: list[ExpectedRoute] = []
    local_routes = local_kernel = 0
    imported = origins.sources(vrf_name)
    listed: list[tuple[Origin, PlannedVrf]] = []
    for source_vrf in origins.table_sources(vrf_name):
        source = plan.vrf(source_vrf)
        everywhere = source_vrf in imported and not compact
        chosen = origins.get(source_vrf, ()) if everywhere else origins.on_node(source_vrf, node.name)
        listed.extend((origin, source) for origin in chosen)
    listed.sort(key=lambda pair: pair[0].order)  # Junos order; each VRF's list is already sorted
    kernel_keyed: list[tuple[tuple, ExpectedKernelRoute]] = []
    for origin, source in listed:
        local = origin.node == node.name
        local_routes += local
        routes.append(_route(table, source, origin, local, masters))
        found = _kernel_routes(vrf_name, source, origin, local, node)
        local_kernel += len(found) if local else 0
        kernel_keyed.extend(((origin.host_order if k.kind == "host" else origin.kernel_order), k) for k in found)
    kernel_keyed.sort(key=lambda pair: pair[0])
    kernel = [k for _, k in kernel_keyed]
    route_count = origins.table_size(vrf_name, node.name)
    # Remote routes each give one encap route; local ones were counted above.
    kernel_count = len(kernel) if not compact else local_kernel + (route_count - local_routes)
    return VrfTable(vrf_name, table, tuple(routes), tuple(kernel), imported, route_count, kernel_count, complete=not compact)


def _route(table: str, source: PlannedVrf, origin: Origin, local: bool, masters: tuple[str, ...]) -> ExpectedRoute:
    return ExpectedRoute(
        table=table,
        text=origin.text,
        rd=origin.rd,
        prefix=origin.prefix,
        protocol="EVPN" if local else "BGP",
        origin_vrf=source.name,
        origin_node=origin.node,
        protocol_next_hop=origin.node_address,
        vni=source.vni,
        route_targets=source.exports,
        learned_from=() if local else masters,
        family=origin.family,
        origin_pod=origin.pod,
    )


def _kernel_routes(vrf_name: str, source: PlannedVrf, origin: Origin, local: bool,
                   node: PlannedNode) -> list[ExpectedKernelRoute]:
    if not local:
        return [ExpectedKernelRoute(vrf_name, origin.prefix, "encap", source.vni, node.ipv4_loopback,
                                    origin.node_address, origin.family)]
    if source.name != vrf_name:
        # Another VRF's pod on this same node: no VXLAN hop; what the kernel shows depends
        # on cRPD's local route leaking, so nothing is asserted.
        return []
    connected_src = origin.gateway if origin.family == "ipv4" else None
    return [
        ExpectedKernelRoute(vrf_name, origin.prefix, "connected", None, connected_src, None, origin.family),
        ExpectedKernelRoute(vrf_name, origin.pod_ip, "host", None, None, None, origin.family, via=origin.pod_ip),
    ]


@lru_cache(maxsize=4096)  # one per node address: every VRF of a node shares it
def _administrator_order(administrator: str) -> tuple:
    try:
        return (0, int(ip_address(administrator)))
    except ValueError:
        return (1, int(administrator.rstrip("L") or 0))


def vrf_routes(plan: Plan, vrf_name: str, origins: OriginIndex | None = None) -> VrfRoutes:
    """Every route VRF `vrf_name` advertises, once: what compact node states refer to."""
    origins = origins if origins is not None else origins_by_vrf(plan)
    vrf = plan.vrf(vrf_name)
    routes = tuple(AdvertisedRoute(o.text, o.rd, o.prefix, o.family, o.node, o.node_address, o.pod, o.interface)
                   for o in origins.get(vrf_name, ()))  # already in Junos order
    return VrfRoutes(vrf.name, vrf.vni, vrf.exports, routes)


# --- presentation ------------------------------------------------------------------------

def to_data(state: NodeState) -> dict:
    return {
        "node": state.node,
        "address": state.address,
        "role": state.role,
        "asn": state.asn,
        "complete": state.complete,
        "bgpSessions": [
            {"peer": s.peer, "peerNode": s.peer_node, "asn": s.asn, "peerRole": s.peer_role, "state": "Established"}
            for s in state.sessions
        ],
        "tables": [_table_data(t) for t in state.tables],
    }


def _table_data(t: VrfTable) -> dict:
    return {
        "vrf": t.vrf,
        "table": t.table,
        "complete": t.complete,
        "installsRoutesOf": list(t.sources),
        "routeCount": t.route_count,
        "kernelRouteCount": t.kernel_count,
        "evpnRoutes": [
            {
                "route": r.text,
                "rd": r.rd,
                "prefix": r.prefix,
                "family": r.family,
                "protocol": r.protocol,
                "originVrf": r.origin_vrf,
                "originNode": r.origin_node,
                "originPod": r.origin_pod,
                "protocolNextHop": r.protocol_next_hop,
                "vni": r.vni,
                "routeTargets": list(r.route_targets),
                "learnedFrom": list(r.learned_from),
            }
            for r in t.routes
        ],
        "kernelRoutes": [
            {"text": k.text, "prefix": k.prefix, "family": k.family, "kind": k.kind, "vni": k.vni, "src": k.src,
             "dst": k.dst, "via": k.via}
            for k in t.kernel
        ],
    }


def vrf_routes_to_data(routes: VrfRoutes) -> dict:
    return {
        "vrf": routes.vrf,
        "vni": routes.vni,
        "routeTargets": list(routes.route_targets),
        "routes": [
            {"route": r.text, "rd": r.rd, "prefix": r.prefix, "family": r.family, "originNode": r.origin_node,
             "protocolNextHop": r.protocol_next_hop, "pod": r.pod, "interface": r.interface}
            for r in routes.routes
        ],
    }
