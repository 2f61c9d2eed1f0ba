"""The routing state a node must show once the deployment works, derived from the plan.

Three views, each in the notation of the command an engineer would run on the node:
- ``show bgp summary``: one iBGP session per route reflector (on a master: one per worker);
- ``show route table <vrf>.evpn.0``: EVPN Type-5 routes, ``5:<rd>::0::<prefix>::<len>/248``;
- ``ip route show table <vrf table>``: VXLAN encap routes towards the other nodes, and the
  connected link subnets of local pods.

The VRF tables of every node that carries a VRF hold the same prefixes, so the work is grouped
per VRF once (``vrf_routes``) and each node only adds its point of view.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from jcnrc import graph as tg
from jcnrc.capture import format_type5


@dataclass(frozen=True)
class Origin:
    """One advertised prefix: a pod link subnet on a node, in a VRF."""

    vrf: str
    node: str
    node_address: str
    prefix: str
    family: str
    gateway: str
    pod: str
    interface: str


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


@dataclass(frozen=True)
class ExpectedSession:
    peer: str
    peer_node: str
    asn: int
    peer_role: str  # route-reflector (seen from a worker) or client (seen from a master)


@dataclass(frozen=True)
class ExpectedKernelRoute:
    vrf: str
    prefix: str
    kind: str  # encap (remote, over VXLAN) or connected (a local pod link)
    vni: int | None
    src: str
    dst: str | None

    @property
    def text(self) -> str:
        if self.kind == "encap":
            return f"{self.prefix} encap ip id {self.vni} src {self.src} dst {self.dst}"
        return f"{self.prefix} dev <veth> proto kernel scope link src {self.src}"


@dataclass(frozen=True)
class VrfTable:
    vrf: str
    table: str
    routes: tuple[ExpectedRoute, ...]
    kernel: tuple[ExpectedKernelRoute, ...]


@dataclass(frozen=True)
class NodeState:
    node: str
    address: str
    role: str
    asn: int
    sessions: tuple[ExpectedSession, ...]
    tables: tuple[VrfTable, ...]


def origins_by_vrf(plan) -> dict[str, list[Origin]]:
    found: dict[str, list[Origin]] = defaultdict(list)
    for attachment in plan.attachments:
        node = plan.node(attachment.node)
        for family, link in (("ipv4", attachment.ipv4), ("ipv6", attachment.ipv6)):
            if link is not None:
                found[attachment.vrf].append(Origin(attachment.vrf, node.name, node.address, link.subnet, family,
                                                    link.gateway, attachment.pod, attachment.interface))
    return found


def vrfs_on_node(plan) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for attachment in plan.attachments:
        found[attachment.node].add(attachment.vrf)
    return found


def sessions(plan, node_name: str) -> tuple[ExpectedSession, ...]:
    node = plan.node(node_name)
    peers = plan.workers if node.is_master else plan.masters
    role = "client" if node.is_master else "route-reflector"
    return tuple(ExpectedSession(p.address, p.name, plan.asn, role) for p in peers if p.name != node.name)


def node_state(plan, node_name: str, vrf_filter: str | None = None, origins=None, membership=None) -> NodeState:
    node = plan.node(node_name)
    origins = origins if origins is not None else origins_by_vrf(plan)
    membership = membership if membership is not None else vrfs_on_node(plan)
    tables = []
    for vrf_name in sorted(membership.get(node_name, ())):
        if vrf_filter and vrf_name != vrf_filter:
            continue
        tables.append(_vrf_table(plan, node, vrf_name, origins))
    return NodeState(node.name, node.address, node.role, plan.asn, sessions(plan, node_name), tuple(tables))


def _vrf_table(plan, node, vrf_name: str, origins: dict[str, list[Origin]]) -> VrfTable:
    table = f"{vrf_name}.evpn.0"
    masters = tuple(m.address for m in plan.masters)
    routes = []
    kernel = []
    for source_vrf in sorted(tg.route_sources(plan.graph, vrf_name)):
        source = plan.vrf(source_vrf)
        for origin in origins.get(source_vrf, ()):
            local = origin.node == node.name
            rd = f"{origin.node_address}:{source.rd_number}"
            routes.append(ExpectedRoute(
                table=table,
                text=format_type5(rd, origin.prefix),
                rd=rd,
                prefix=origin.prefix,
                protocol="EVPN" if local else "BGP",
                origin_vrf=source_vrf,
                origin_node=origin.node,
                protocol_next_hop=origin.node_address,
                vni=source.vni,
                route_targets=source.exports,
                learned_from=() if local else masters,
            ))
            if origin.family != "ipv4":
                continue
            if local and source_vrf == vrf_name:
                kernel.append(ExpectedKernelRoute(vrf_name, origin.prefix, "connected", None, origin.gateway, None))
            elif not local:
                kernel.append(ExpectedKernelRoute(vrf_name, origin.prefix, "encap", source.vni, node.address, origin.node_address))
    # Junos lists IPv4 prefixes first, then by route distinguisher and prefix.
    routes.sort(key=lambda r: (":" in r.prefix, r.text))
    kernel.sort(key=lambda k: (k.kind, k.prefix))
    return VrfTable(vrf_name, table, tuple(routes), tuple(kernel))


# --- presentation ------------------------------------------------------------------------

def to_data(state: NodeState) -> dict:
    return {
        "node": state.node,
        "address": state.address,
        "role": state.role,
        "asn": state.asn,
        "bgpSessions": [
            {"peer": s.peer, "peerNode": s.peer_node, "asn": s.asn, "peerRole": s.peer_role, "state": "Established"}
            for s in state.sessions
        ],
        "tables": [
            {
                "vrf": t.vrf,
                "table": t.table,
                "evpnRoutes": [
                    {
                        "route": r.text,
                        "rd": r.rd,
                        "prefix": r.prefix,
                        "protocol": r.protocol,
                        "originVrf": r.origin_vrf,
                        "originNode": r.origin_node,
                        "protocolNextHop": r.protocol_next_hop,
                        "vni": r.vni,
                        "routeTargets": list(r.route_targets),
                        "learnedFrom": list(r.learned_from),
                    }
                    for r in t.routes
                ],
                "kernelRoutes": [
                    {"text": k.text, "prefix": k.prefix, "kind": k.kind, "vni": k.vni, "src": k.src, "dst": k.dst}
                    for k in t.kernel
                ],
            }
            for t in state.tables
        ],
    }


def to_text(state: NodeState) -> str:
    lines = [f"# Expected routing state of {state.node} ({state.address}, {state.role}), AS {state.asn}", ""]
    lines.append("show bgp summary: sessions that must be Establ")
    for s in state.sessions:
        lines.append(f"  {s.peer:<15} AS {s.asn}  {s.peer_role} {s.peer_node}")
    if not state.sessions:
        lines.append("  (none)")
    for t in state.tables:
        lines.append("")
        lines.append(f"show route table {t.table}: {len(t.routes)} destinations")
        for r in t.routes:
            origin = "local" if r.protocol == "EVPN" else f"from {', '.join(r.learned_from)}"
            lines.append(f"  {r.text}")
            lines.append(f"      {r.protocol}, {origin}, protocol next hop {r.protocol_next_hop}, VNI {r.vni}, {' '.join(r.route_targets)}")
        lines.append("")
        lines.append(f"ip route show table <{t.vrf} table>:")
        for k in t.kernel:
            lines.append(f"  {k.text}")
        if not t.kernel:
            lines.append("  (none)")
    return "\n".join(lines) + "\n"
