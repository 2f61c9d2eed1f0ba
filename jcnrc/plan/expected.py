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
from functools import cached_property, lru_cache
from ipaddress import ip_address
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from jcnrc.plan.planner import LinkAddress, Plan, PlannedAttachment, PlannedNode, PlannedVrf

# Platter installs the pod host routes with this kernel protocol number (walkthrough: `proto 22`).
CRPD_KERNEL_PROTO = 22

_Frozen = TypeVar("_Frozen")
_new_object = object.__new__
_set_attribute = object.__setattr__


def _frozen(cls: type[_Frozen], attributes: dict[str, Any]) -> _Frozen:
    """An instance of the frozen dataclass `cls` whose attributes are `attributes`: every field
    of `cls`, in declaration order, and optionally the values of its cached properties, known
    already where it is built. What `cls(...)` makes, for the objects a big build makes by the
    hundred thousand: a frozen dataclass's __init__ sets each field through a call of
    object.__setattr__, several times slower than handing the instance its attributes at once.
    tests/test_expected_speed.py checks that every object made here equals the one `cls(...)` makes."""
    instance = _new_object(cls)
    _set_attribute(instance, "__dict__", attributes)
    return instance


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

# Sort keys read in C rather than by a lambda: an Origin's place in <vrf>.evpn.0, and the key of a
# (key, kernel route) pair and its route.
_JUNOS_ORDER = attrgetter("order")
_PAIR_KEY, _PAIR_ROUTE = itemgetter(0), itemgetter(1)


def _address_number(text: str, family: str) -> int:
    """An address of the plan (written by ipaddress) as a number, for sorting; parsed in C."""
    return int.from_bytes(socket.inet_pton(_FAMILIES[family][2], text), "big")


def _origin(attachment: PlannedAttachment, node: PlannedNode, family: str, link: LinkAddress, rd: str,
            rd_order: tuple) -> Origin:
    version, bits, _ = _FAMILIES[family]
    network, _, length = link.subnet.partition("/")
    start, prefixlen = _address_number(network, family), int(length)
    return _frozen(Origin, {
        "vrf": attachment.vrf, "node": node.name, "node_address": node.ipv4_loopback, "prefix": link.subnet,
        "family": family, "gateway": link.gateway, "pod": attachment.pod, "interface": attachment.interface,
        "pod_ip": link.pod_ip, "rd": rd, "text": _type5_nlri(rd, link.subnet),
        "order": (version, rd_order, start, prefixlen),
        "kernel_order": (version, start, prefixlen),
        "host_order": (version, _address_number(link.pod_ip, family), bits)})


@dataclass(frozen=True)
class _TableLayout:
    """What `<vrf>.evpn.0` draws its routes from, the same on every node that carries the VRF."""

    table: str
    imported: tuple[str, ...]  # OriginIndex.sources
    # (source VRF, whether it is imported: all its routes are in the table, not only the node's own), in
    # the order of OriginIndex.table_sources
    sources: tuple[tuple[str, bool], ...]
    vrfs: dict[str, PlannedVrf]  # every source VRF by name
    imported_routes: int  # how many routes the imported VRFs advertise


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
        self._layouts: dict[str, _TableLayout] = {}
        self._masters: tuple[str, ...] | None = None
        # A route learned from another node reads the same in that VRF's table on every node that
        # carries it: (VRF, id of the Origin, which this index keeps alive) -> the route, made once.
        self._learned: dict[tuple[str, int], ExpectedRoute] = {}

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
        layout = self.layout(vrf)
        if vrf in layout.imported:
            return layout.imported_routes
        return layout.imported_routes + len(self.on_node(vrf, node))

    def layout(self, vrf: str) -> _TableLayout:
        found = self._layouts.get(vrf)
        if found is None:
            imported = self.sources(vrf)
            sources = self.table_sources(vrf)
            found = self._layouts[vrf] = _TableLayout(
                f"{vrf}.evpn.0", imported, tuple((source, source in imported) for source in sources),
                {source: self._plan.vrf(source) for source in sources},
                sum(len(self.get(source, ())) for source in imported))
        return found

    @property
    def masters(self) -> tuple[str, ...]:
        """The addresses of the route reflectors, which every learned route is learned from."""
        if self._masters is None:
            self._masters = tuple(m.ipv4_loopback for m in self._plan.masters)
        return self._masters

    def learned_route(self, vrf: str, source: PlannedVrf, origin: Origin) -> ExpectedRoute:
        """`origin`'s route in `<vrf>.evpn.0` of a node other than its own."""
        key = (vrf, id(origin))
        route = self._learned.get(key)
        if route is None:
            route = self._learned[key] = _route(self.layout(vrf).table, source, origin, False, self.masters)
        return route


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

    # Cached: a build reads it twice (JSON and text state) and _vrf_table fills it in as it builds.
    @cached_property
    def text(self) -> str:
        return _kernel_route_text(self.prefix, self.kind, self.vni, self.src, self.dst, self.via)


def _kernel_route_text(prefix: str, kind: str, vni: int | None, src: str | None, dst: str | None,
                       via: str | None) -> str:
    if kind == "encap":
        return f"{prefix} encap ip id {vni} src {src} dst {dst}"
    if kind == "host":
        return f"{prefix} via {via} dev <veth> proto {CRPD_KERNEL_PROTO}"
    return f"{prefix} dev <veth> proto kernel scope link" + (f" src {src}" if src else "")


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

    # Cached, and filled in by _vrf_table, which knows where the IPv6 routes start.
    @cached_property
    def kernel_ipv4(self) -> tuple[ExpectedKernelRoute, ...]:
        return tuple(k for k in self.kernel if k.family == "ipv4")

    @cached_property
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
        origins.sort(key=_JUNOS_ORDER)
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
    asn = plan.asn
    found = [_frozen(ExpectedSession, {"peer": p.ipv4_loopback, "peer_node": p.name, "asn": asn, "peer_role": role})
             for p in peers if p.name != node.name]
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
    tables = tuple(_vrf_table(node, name, origins, compact) for name in names)
    return NodeState(node.name, node.address, node.role, plan.asn, sessions(plan, node_name), tables, vrf_filter)


def _vrf_table(node: PlannedNode, vrf_name: str, origins: OriginIndex, compact: bool) -> VrfTable:
    layout = origins.layout(vrf_name)
    table, here = layout.table, node.name
    chosen = [origins.get(source, []) if imported and not compact else origins.on_node(source, here)
              for source, imported in layout.sources]
    chosen = [found for found in chosen if found]
    if len(chosen) == 1:
        listed = chosen[0]  # each VRF's list is already in Junos order
    else:
        listed = [origin for found in chosen for origin in found]
        listed.sort(key=_JUNOS_ORDER)
    routes: list[ExpectedRoute] = []
    kernel_keyed: list[tuple[tuple, ExpectedKernelRoute]] = []
    local_routes = local_kernel = kernel_ipv4 = 0
    for origin in listed:
        source = layout.vrfs[origin.vrf]
        if origin.node != here:
            routes.append(origins.learned_route(vrf_name, source, origin))
            kernel_keyed.append((origin.kernel_order, _encap_route(vrf_name, source, origin, node)))
            kernel_ipv4 += origin.family == "ipv4"
            continue
        local_routes += 1
        routes.append(_route(table, source, origin, True, ()))
        if origin.vrf == vrf_name:
            # Another VRF's pod on this same node is left out: no VXLAN hop; what the kernel shows
            # depends on cRPD's local route leaking, so nothing is asserted.
            connected, host = _local_kernel_routes(vrf_name, origin)
            kernel_keyed.append((origin.kernel_order, connected))
            kernel_keyed.append((origin.host_order, host))
            local_kernel += 2
            kernel_ipv4 += 2 if origin.family == "ipv4" else 0
    kernel_keyed.sort(key=_PAIR_KEY)  # the keys start with the IP version: IPv4 routes first
    kernel = tuple(map(_PAIR_ROUTE, kernel_keyed))
    route_count = origins.table_size(vrf_name, here)
    # Remote routes each give one encap route; local ones were counted above.
    kernel_count = len(kernel) if not compact else local_kernel + (route_count - local_routes)
    return _frozen(VrfTable, {
        "vrf": vrf_name, "table": table, "routes": tuple(routes), "kernel": kernel, "sources": layout.imported,
        "route_count": route_count, "kernel_count": kernel_count, "complete": not compact,
        "kernel_ipv4": kernel[:kernel_ipv4], "kernel_ipv6": kernel[kernel_ipv4:]})


def _route(table: str, source: PlannedVrf, origin: Origin, local: bool, masters: tuple[str, ...]) -> ExpectedRoute:
    return _frozen(ExpectedRoute, {
        "table": table,
        "text": origin.text,
        "rd": origin.rd,
        "prefix": origin.prefix,
        "protocol": "EVPN" if local else "BGP",
        "origin_vrf": source.name,
        "origin_node": origin.node,
        "protocol_next_hop": origin.node_address,
        "vni": source.vni,
        "route_targets": source.exports,
        "learned_from": () if local else masters,
        "family": origin.family,
        "origin_pod": origin.pod,
    })


def _kernel_route(vrf: str, prefix: str, kind: str, vni: int | None, src: str | None, dst: str | None, family: str,
                  via: str | None) -> ExpectedKernelRoute:
    return _frozen(ExpectedKernelRoute, {
        "vrf": vrf, "prefix": prefix, "kind": kind, "vni": vni, "src": src, "dst": dst, "family": family, "via": via,
        "text": _kernel_route_text(prefix, kind, vni, src, dst, via)})


def _encap_route(vrf_name: str, source: PlannedVrf, origin: Origin, node: PlannedNode) -> ExpectedKernelRoute:
    """The route over VXLAN towards a prefix of another node."""
    return _kernel_route(vrf_name, origin.prefix, "encap", source.vni, node.ipv4_loopback, origin.node_address,
                         origin.family, None)


def _local_kernel_routes(vrf_name: str, origin: Origin) -> tuple[ExpectedKernelRoute, ExpectedKernelRoute]:
    """The connected route of a local pod's link, in the pod's own VRF, and the pod's host route."""
    connected_src = origin.gateway if origin.family == "ipv4" else None
    return (_kernel_route(vrf_name, origin.prefix, "connected", None, connected_src, None, origin.family, None),
            _kernel_route(vrf_name, origin.pod_ip, "host", None, None, None, origin.family, origin.pod_ip))


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
    routes = tuple(_frozen(AdvertisedRoute, {
        "text": o.text, "rd": o.rd, "prefix": o.prefix, "family": o.family, "origin_node": o.node,
        "protocol_next_hop": o.node_address, "pod": o.pod, "interface": o.interface})
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
