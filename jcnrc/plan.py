"""Stage 3, plan: a checked Topology -> a Plan, the complete network with every value decided.

The plan is plain frozen data: the renderers and the expected-state writers read it and
never compute addresses or identifiers themselves. It also carries the topology graph
(networkx) that reachability and the diagrams are computed from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address

import networkx as nx

from jcnrc import graph as topology_graph
from jcnrc import reach, routetarget
from jcnrc.allocate import Allocation, Lock, allocate, attachment_key
from jcnrc.diagnostics import Diagnostic, error
from jcnrc.model import Topology
from jcnrc.providers import Profile, profile
from jcnrc.rules import VXLAN_OVERHEAD, interface_name


@dataclass(frozen=True)
class PlannedNode:
    name: str
    address: str
    role: str
    index: int
    iso_loopback: str
    ipv4_loopback: str
    ipv6_loopback: str
    sr_ipv4_index: int
    sr_ipv6_index: int

    @property
    def is_master(self) -> bool:
        return self.role == "master"


@dataclass(frozen=True)
class PlannedVrf:
    name: str
    vni: int
    rd_number: int
    imports: tuple[str, ...]  # target:A:B, sorted
    exports: tuple[str, ...]
    nad_target: str  # the NAD's vrfTarget, A:B
    ipv4_pool: str | None
    ipv6_pool: str | None
    nad_name: str

    @property
    def symmetric(self) -> bool:
        return self.imports == self.exports and len(self.imports) == 1


@dataclass(frozen=True)
class LinkAddress:
    address: str  # pod address with prefix length, 1.1.11.2/30
    gateway: str  # 1.1.11.1
    subnet: str  # 1.1.11.0/30, the prefix EVPN advertises
    pod_ip: str  # 1.1.11.2


@dataclass(frozen=True)
class PlannedAttachment:
    pod: str
    node: str
    vrf: str
    interface: str
    mac: str
    mtu: int
    ipv4: LinkAddress | None
    ipv6: LinkAddress | None

    @property
    def key(self) -> str:
        return attachment_key(self.pod, self.interface)

    @property
    def links(self) -> tuple[LinkAddress, ...]:
        return tuple(link for link in (self.ipv4, self.ipv6) if link is not None)


@dataclass(frozen=True)
class PlannedPod:
    name: str
    node: str
    image: str
    command: tuple[str, ...]
    attachments: tuple[PlannedAttachment, ...]


@dataclass(frozen=True)
class Plan:
    name: str
    namespace: str
    target: str
    asn: int
    node_subnet: str
    pod_cidr: str
    service_cidr: str
    underlay_mtu: int
    kubeconfig: str
    profile: Profile
    topology: Topology
    nodes: tuple[PlannedNode, ...]
    vrfs: tuple[PlannedVrf, ...]
    pods: tuple[PlannedPod, ...]
    lock: Lock
    graph: nx.DiGraph = field(compare=False)

    @property
    def masters(self) -> tuple[PlannedNode, ...]:
        return tuple(n for n in self.nodes if n.is_master)

    @property
    def workers(self) -> tuple[PlannedNode, ...]:
        return tuple(n for n in self.nodes if not n.is_master)

    @property
    def attachments(self) -> tuple[PlannedAttachment, ...]:
        return tuple(a for p in self.pods for a in p.attachments)

    def node(self, name: str) -> PlannedNode:
        return self._nodes_by_name()[name]

    def vrf(self, name: str) -> PlannedVrf:
        return self._vrfs_by_name()[name]

    def _nodes_by_name(self) -> dict[str, PlannedNode]:
        cached = self.__dict__.get("_node_index")
        if cached is None:
            cached = {n.name: n for n in self.nodes}
            object.__setattr__(self, "_node_index", cached)
        return cached

    def _vrfs_by_name(self) -> dict[str, PlannedVrf]:
        cached = self.__dict__.get("_vrf_index")
        if cached is None:
            cached = {v.name: v for v in self.vrfs}
            object.__setattr__(self, "_vrf_index", cached)
        return cached


@dataclass
class Planned:
    plan: Plan | None
    diagnostics: list[Diagnostic]


def plan(topology: Topology, previous_lock: Lock | None = None) -> Planned:
    allocation = allocate(topology, previous_lock)
    diagnostics = list(allocation.diagnostics)
    if any(d.is_error for d in diagnostics):
        return Planned(None, diagnostics)
    nodes, node_problems = _plan_nodes(topology, allocation)
    diagnostics += node_problems + _default_target_problems(topology, allocation)
    if any(d.is_error for d in diagnostics):
        return Planned(None, diagnostics)
    vrfs = tuple(_plan_vrf(topology, allocation, vrf) for vrf in topology.vrfs)
    pods = tuple(_plan_pod(topology, allocation, pod) for pod in topology.pods)
    cluster = topology.cluster
    prof = profile(cluster.provider)
    graph = topology_graph.build(nodes, vrfs, pods)
    result = Plan(
        name=topology.metadata.name,
        namespace=topology.metadata.namespace,
        target=topology.target,
        asn=cluster.asn,
        node_subnet=str(cluster.nodeSubnet),
        pod_cidr=str(cluster.podCidr),
        service_cidr=str(cluster.serviceCidr),
        underlay_mtu=cluster.underlayMtu,
        kubeconfig=cluster.kubeConfig or prof.kubeconfig,
        profile=prof,
        topology=topology,
        nodes=nodes,
        vrfs=vrfs,
        pods=pods,
        lock=allocation.lock,
        graph=graph,
    )
    diagnostics += reach.check_expectations(result)
    if any(d.is_error for d in diagnostics):
        return Planned(None, diagnostics)
    return Planned(result, diagnostics)


def iso_from_address(address: IPv4Address, area: str = "0004") -> str:
    """ISO NET with the system ID spelled from the IPv4 address (10.240.0.4 -> 0102.4000.0004)."""
    digits = "".join(f"{int(octet):03d}" for octet in str(address).split("."))
    return f"49.{area}.{digits[0:4]}.{digits[4:8]}.{digits[8:12]}.00"


def _plan_nodes(topology: Topology, allocation: Allocation) -> tuple[tuple[PlannedNode, ...], list[Diagnostic]]:
    sr = topology.cluster.segmentRouting
    problems: list[Diagnostic] = []
    planned = []
    for position, node in enumerate(topology.nodes):
        index = allocation.node_index[node.name]
        v4, v6 = sr.ipv4IndexBase + index, sr.ipv6IndexBase + index
        for family, value in (("IPv4", v4), ("IPv6", v6)):
            if value >= sr.srgbRange:
                problems.append(error(
                    "JCN510", f"node `{node.name}` gets SR {family} index {value}, outside the SRGB index range 0..{sr.srgbRange - 1}",
                    ("nodes", position, "name"),
                    help="raise `cluster.segmentRouting.srgbRange` or lower the index bases"))
        planned.append(PlannedNode(
            name=node.name,
            address=str(node.address),
            role=node.role,
            index=index,
            iso_loopback=node.isoLoopback or iso_from_address(node.address),
            ipv4_loopback=str(node.address),
            ipv6_loopback=node.ipv6Loopback or f"abcd::{node.address}",
            sr_ipv4_index=v4,
            sr_ipv6_index=v6,
        ))
    return tuple(planned), problems


def _default_target_problems(topology: Topology, allocation: Allocation) -> list[Diagnostic]:
    """`<asn>:<vni>` does not fit a route target when a 4-byte AS meets a VNI above 65535."""
    problems = []
    for position, vrf in enumerate(topology.vrfs):
        vni = allocation.vni[vrf.name]
        if vrf.routeTarget is None and topology.cluster.asn > 0xFFFF and vni > 0xFFFF:
            problems.append(error(
                "JCN511", f"VRF `{vrf.name}` needs a `routeTarget`: the default {topology.cluster.asn}:{vni} does not fit "
                "(a 4-byte AS leaves 16 bits for the number)", ("vrfs", position, "name"),
                help="write `routeTarget:` explicitly, e.g. an IPv4-administered target `10.240.0.4:7`"))
    return problems


def _plan_vrf(topology: Topology, allocation: Allocation, vrf) -> PlannedVrf:
    vni = allocation.vni[vrf.name]
    spec = vrf.routeTarget
    if spec is None:
        imports = exports = (routetarget.parse(f"{topology.cluster.asn}:{vni}"),)
    elif isinstance(spec, str):
        imports = exports = (routetarget.parse(spec),)
    else:
        imports = tuple(routetarget.parse(t) for t in spec.import_)
        exports = tuple(routetarget.parse(t) for t in spec.export)
    return PlannedVrf(
        name=vrf.name,
        vni=vni,
        rd_number=allocation.rd[vrf.name],
        imports=tuple(sorted({t.junos for t in imports})),
        exports=tuple(sorted({t.junos for t in exports})),
        nad_target=sorted(exports)[0].value,
        ipv4_pool=str(vrf.ipv4Pool) if vrf.ipv4Pool else None,
        ipv6_pool=str(vrf.ipv6Pool) if vrf.ipv6Pool else None,
        nad_name=f"{vrf.name}-net",
    )


def _plan_pod(topology: Topology, allocation: Allocation, pod) -> PlannedPod:
    default_mtu = topology.cluster.underlayMtu - VXLAN_OVERHEAD
    attachments = []
    for position, attachment in enumerate(pod.networks):
        interface = interface_name(attachment, position)
        key = attachment_key(pod.name, interface)
        links = allocation.links.get(key, {})
        attachments.append(PlannedAttachment(
            pod=pod.name,
            node=pod.node,
            vrf=attachment.vrf,
            interface=interface,
            mac=allocation.mac[key],
            mtu=attachment.mtu or default_mtu,
            ipv4=_link(links.get("ipv4")),
            ipv6=_link(links.get("ipv6")),
        ))
    return PlannedPod(pod.name, pod.node, pod.image, tuple(pod.command), tuple(attachments))


def _link(allocation) -> LinkAddress | None:
    if allocation is None:
        return None
    subnet = allocation.subnet
    return LinkAddress(
        address=f"{allocation.address}/{subnet.prefixlen}",
        gateway=str(allocation.gateway),
        subnet=str(subnet),
        pod_ip=str(allocation.address),
    )
