"""Stage 3, plan: a checked Topology -> a Plan, the complete network with every value decided.

The plan is plain frozen data: the renderers and the expected-state writers read it and
never compute addresses or identifiers themselves. Who installs whose routes (``route_sources``,
``shared_targets``) is answered from the VRFs' route targets; the same topology as a networkx
graph (``graph.py``) is built only when ``Plan.graph`` is asked for, so a build never imports
networkx.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING

from jcnrc.diagnostics import Diagnostic, Related, error
from jcnrc.intent import routetarget, rules
from jcnrc.intent.model import VXLAN_OVERHEAD, Pod, Topology, Vrf, interface_name
from jcnrc.intent.names import CNI_KUBECONFIG
from jcnrc.intent.providers import Profile, profile
from jcnrc.plan import allocate as allocate_module  # its address_text, looked up at the call (tests swap it)
from jcnrc.plan import reach
from jcnrc.plan.allocate import Allocation, LinkAllocation, Lock, allocate, attachment_key, route_target_texts

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True)
class PlannedNode:
    name: str
    address: str
    role: str
    index: int
    iso_loopback: str
    # The node's router ID, BGP local address, route-distinguisher administrator and VTEP: Platter's
    # `ipv4LoopbackAddr`, the node address; for target jcnr the node's fabric address.
    ipv4_loopback: str
    ipv6_loopback: str
    sr_ipv4_index: int
    sr_ipv6_index: int
    # Target jcnr: the node's address on its fabric interface and that interface (the node's own
    # `fabricInterface`, else `cluster.fabricInterface`); None for target platter, which ignores them.
    fabric_address: str | None = None
    fabric_interface: str | None = None

    @property
    def is_master(self) -> bool:
        return self.role == "master"

    def route_distinguisher(self, vrf: PlannedVrf) -> str:
        """`<node address>:<n>`, exactly as the cRPD config writes it: `route-distinguisher {{$rid}}:<n>`
        where $rid is the IPv4 loopback Platter reads from node-<name>.json."""
        return f"{self.ipv4_loopback}:{vrf.rd_number}"


@dataclass(frozen=True)
class PlannedVrf:
    name: str
    vni: int
    rd_number: int
    imports: tuple[str, ...]  # target:A:B, sorted
    exports: tuple[str, ...]
    nad_target: str | None  # the NAD's vrfTarget, A:B; None when the VRF's policies alone carry its targets
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
    workload: str = "deployment"  # or "pod": the kind of object the pod is rendered as


@dataclass(frozen=True)
class RemoteReflector:
    """A route reflector of another cluster of the fleet that this cluster's route reflectors peer with."""

    cluster: str
    node: str
    address: str
    asn: int


@dataclass(frozen=True)
class FleetView:
    """What one cluster of a fleet knows of the others: whom its route reflectors peer with, and
    the pods of the clusters whose routes reach it (nodes and pods named `<cluster>/<name>`)."""

    fleet: str
    cluster: str
    reflectors: tuple[RemoteReflector, ...]  # route reflectors of the clusters this one peers with
    multihop_ttl: int
    remote_nodes: tuple[PlannedNode, ...]
    remote_attachments: tuple[PlannedAttachment, ...]


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
    fleet: FleetView | None = None  # set when the cluster is one of a fleet's

    # Derived views, computed once: the plan is frozen, and renderers ask for them per node and pod.
    @cached_property
    def masters(self) -> tuple[PlannedNode, ...]:
        return tuple(n for n in self.nodes if n.is_master)

    @cached_property
    def workers(self) -> tuple[PlannedNode, ...]:
        return tuple(n for n in self.nodes if not n.is_master)

    @cached_property
    def attachments(self) -> tuple[PlannedAttachment, ...]:
        return tuple(a for p in self.pods for a in p.attachments)

    @cached_property
    def routed_attachments(self) -> tuple[PlannedAttachment, ...]:
        """The attachments whose routes this cluster's nodes learn: its own, and in a fleet those of
        the clusters whose routes reach it."""
        return self.attachments + (self.fleet.remote_attachments if self.fleet else ())

    @cached_property
    def external_reflectors(self) -> tuple[RemoteReflector, ...]:
        """Route reflectors of other clusters with another AS: eBGP multihop peers."""
        return tuple(r for r in (self.fleet.reflectors if self.fleet else ()) if r.asn != self.asn)

    @cached_property
    def internal_reflectors(self) -> tuple[RemoteReflector, ...]:
        """Route reflectors of other clusters in the same AS: iBGP non-client peers."""
        return tuple(r for r in (self.fleet.reflectors if self.fleet else ()) if r.asn == self.asn)

    @cached_property
    def _nodes_by_name(self) -> dict[str, PlannedNode]:
        found = {n.name: n for n in self.nodes}
        if self.fleet is not None:
            found.update((n.name, n) for n in self.fleet.remote_nodes)
        return found

    @cached_property
    def _vrfs_by_name(self) -> dict[str, PlannedVrf]:
        return {v.name: v for v in self.vrfs}

    @cached_property
    def _pods_by_name(self) -> dict[str, PlannedPod]:
        return {p.name: p for p in self.pods}

    def node(self, name: str) -> PlannedNode:
        return self._nodes_by_name[name]

    def vrf(self, name: str) -> PlannedVrf:
        return self._vrfs_by_name[name]

    def pod(self, name: str) -> PlannedPod:
        return self._pods_by_name[name]

    def has_pod(self, name: str) -> bool:
        return name in self._pods_by_name

    def has_vrf(self, name: str) -> bool:
        return name in self._vrfs_by_name

    @cached_property
    def _route_sources(self) -> dict[str, frozenset[str]]:
        exporters: dict[str, set[str]] = defaultdict(set)
        for vrf in self.vrfs:
            for target in vrf.exports:
                exporters[target].add(vrf.name)
        return {v.name: frozenset(name for target in v.imports for name in exporters.get(target, ())) for v in self.vrfs}

    def route_sources(self, vrf: str) -> frozenset[str]:
        """VRFs whose routes VRF `vrf` installs: those that export a target it imports (itself
        included when it imports its own export). The answer of graph.route_sources on `graph`."""
        return self._route_sources[vrf]

    def shared_targets(self, exporter: str, importer: str) -> list[str]:
        """The targets that carry `exporter`'s routes into `importer`'s table, sorted."""
        return sorted(set(self.vrf(exporter).exports) & set(self.vrf(importer).imports))

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The topology as a networkx DiGraph (see graph.py), built on first use."""
        from jcnrc.plan import graph as topology_graph

        return topology_graph.build(self.nodes, self.vrfs, self.pods)


@dataclass
class Planned:
    plan: Plan | None
    diagnostics: list[Diagnostic]


def plan(topology: Topology, previous_lock: Lock | None = None, allocation: Allocation | None = None,
         fleet: FleetView | None = None) -> Planned:
    """The plan of one cluster. A fleet passes the cluster's share of its fleet-wide allocation
    (and then `previous_lock` is not read) and what the cluster knows of the others."""
    allocation = allocation or allocate(topology, previous_lock)
    diagnostics = list(allocation.diagnostics)
    if any(d.is_error for d in diagnostics):
        return Planned(None, diagnostics)
    nodes, node_problems = _plan_nodes(topology, allocation)
    diagnostics += node_problems + _node_identity_problems(topology, nodes) + _default_target_problems(topology, allocation)
    diagnostics += rules.allocated_target_conflicts(topology, allocation.vni)  # JCN701 on `<asn>:<allocated vni>`
    if any(d.is_error for d in diagnostics):
        return Planned(None, diagnostics)
    vrfs = tuple(_plan_vrf(topology, allocation, vrf) for vrf in topology.vrfs)
    default_mtu = topology.cluster.underlayMtu - VXLAN_OVERHEAD
    pods = tuple(_plan_pod(topology, allocation, pod, default_mtu) for pod in topology.pods)
    cluster = topology.cluster
    prof = profile(cluster.provider)
    result = Plan(
        name=topology.metadata.name,
        namespace=topology.metadata.namespace,
        target=topology.target,
        asn=cluster.asn,
        node_subnet=str(cluster.nodeSubnet),
        pod_cidr=str(cluster.podCidr),
        service_cidr=str(cluster.serviceCidr),
        underlay_mtu=cluster.underlayMtu,
        kubeconfig=cluster.kubeConfig or (CNI_KUBECONFIG if cluster.cniCredentials == "service-account" else prof.kubeconfig),
        profile=prof,
        topology=topology,
        nodes=nodes,
        vrfs=vrfs,
        pods=pods,
        lock=allocation.lock,
        fleet=fleet,
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
    jcnr = topology.target == "jcnr"  # rules.py makes sure every node has its fabric address then
    planned = []
    for node in topology.nodes:
        index = allocation.node_index[node.name]
        fabric_address = str(node.fabricAddress) if jcnr and node.fabricAddress is not None else None
        planned.append(PlannedNode(
            name=node.name,
            address=str(node.address),
            role=node.role,
            index=index,
            iso_loopback=node.isoLoopback or iso_from_address(node.address),
            ipv4_loopback=fabric_address or str(node.address),
            ipv6_loopback=node.ipv6Loopback or f"abcd::{node.address}",
            sr_ipv4_index=sr.ipv4IndexBase + index,
            sr_ipv6_index=sr.ipv6IndexBase + index,
            fabric_address=fabric_address,
            fabric_interface=(node.fabricInterface or topology.cluster.fabricInterface) if jcnr else None,
        ))
    nodes = tuple(planned)
    return nodes, _sr_index_problems(topology, nodes)


def _sr_index_problems(topology: Topology, nodes: tuple[PlannedNode, ...]) -> list[Diagnostic]:
    """Node SIDs must fit the SRGB and be unique across both families (one error per cause, not per node)."""
    sr = topology.cluster.segmentRouting
    problems = []
    for family, attribute in (("IPv4", "sr_ipv4_index"), ("IPv6", "sr_ipv6_index")):
        beyond = [(position, n) for position, n in enumerate(nodes) if getattr(n, attribute) >= sr.srgbRange]
        if beyond:
            position, first = beyond[0]
            problems.append(error(
                "JCN510", f"{len(beyond)} node(s) get an SR {family} index outside the SRGB index range 0..{sr.srgbRange - 1}, "
                f"the first is `{first.name}` with {getattr(first, attribute)}", ("nodes", position, "name"),
                help=f"raise `cluster.segmentRouting.srgbRange` to at least {max(getattr(n, attribute) for n in nodes) + 1} "
                     "or lower the index bases"))
    ipv4_owner = {n.sr_ipv4_index: (position, n) for position, n in enumerate(nodes)}
    clash = next(((ipv4_owner[n.sr_ipv6_index], n) for n in nodes if n.sr_ipv6_index in ipv4_owner), None)
    if clash:
        (position, ipv4_node), ipv6_node = clash
        span = max(n.index for n in nodes) + 1
        problems.append(error(
            "JCN510", f"SR index {ipv4_node.sr_ipv4_index} is both the IPv4 index of node `{ipv4_node.name}` and the IPv6 "
            f"index of node `{ipv6_node.name}`: the IPv4 and IPv6 index ranges overlap", ("nodes", position, "name"),
            help=f"{len(nodes)} nodes use node indexes 0..{span - 1}: keep `ipv4IndexBase` and `ipv6IndexBase` "
                 f"at least {span} apart"))
    return problems


def iso_system_id(net: str) -> str:
    """The system ID of an ISO NET: the three groups before the selector (49.0004.0102.4000.0004.00 -> 0102.4000.0004)."""
    return ".".join(net.split(".")[-4:-1]).lower()


def _node_identity_problems(topology: Topology, nodes: tuple[PlannedNode, ...]) -> list[Diagnostic]:
    """IS-IS needs one system ID per node and the loopbacks must differ: an explicit value may
    collide with another node's derived one, which no per-field rule can see."""
    problems = []
    seen: dict[tuple[str, str], int] = {}
    for position, node in enumerate(nodes):
        written_ipv6 = topology.nodes[position].ipv6Loopback
        # A derived loopback is abcd::<node address>: its number is known, and address_text writes what
        # ipaddress would without parsing the text (thousands of nodes).
        ipv6 = (_normal_ipv6(node.ipv6_loopback) if written_ipv6
                else allocate_module.address_text(6, _DERIVED_IPV6_LOOPBACK | int(topology.nodes[position].address)))
        for what, field_name, value in (("ISO system ID", "isoLoopback", iso_system_id(node.iso_loopback)),
                                        ("IPv6 loopback", "ipv6Loopback", ipv6)):
            first = seen.setdefault((what, value), position)
            if first != position:
                written = getattr(topology.nodes[position], field_name) is not None
                problems.append(error(
                    "JCN512", f"node `{node.name}` has the same {what} {value} as node `{nodes[first].name}`",
                    ("nodes", position, field_name if written else "address"),
                    related=(Related(f"node `{nodes[first].name}` is defined here", ("nodes", first, "name")),),
                    help=f"give each node its own `{field_name}`, or leave it out to derive it from the node address"))
    return problems


_DERIVED_IPV6_LOOPBACK = 0xABCD << 112  # abcd::/16, the prefix of `_plan_nodes`'s abcd::<node address>


def _normal_ipv6(text: str) -> str:
    try:
        return IPv6Address(text).compressed
    except ValueError:  # not an address: compare the text as written
        return text


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


def _plan_vrf(topology: Topology, allocation: Allocation, vrf: Vrf) -> PlannedVrf:
    vni = allocation.vni[vrf.name]
    imported, exported = route_target_texts(vrf, topology.cluster.asn, vni)
    imports = [routetarget.parse(t) for t in imported]
    exports = [routetarget.parse(t) for t in exported]
    return PlannedVrf(
        name=vrf.name,
        vni=vni,
        rd_number=allocation.rd[vrf.name],
        imports=tuple(sorted({t.junos for t in imports})),
        exports=tuple(sorted({t.junos for t in exports})),
        nad_target=_nad_target(topology, imports, exports),
        ipv4_pool=str(vrf.ipv4Pool) if vrf.ipv4Pool else None,
        ipv6_pool=str(vrf.ipv6Pool) if vrf.ipv6Pool else None,
        nad_name=f"{vrf.name}-net",
    )


def _nad_target(topology: Topology, imports: list[routetarget.RouteTarget], exports: list[routetarget.RouteTarget]) -> str | None:
    """The NAD's `vrfTarget`: the VRF's one target when it imports and exports just that one.

    Platter and JCNR turn `vrfTarget` into a `vrf-target` statement in the routing instance. For a VRF with
    asymmetric targets jcnrc writes `vrf-import`/`vrf-export` policies, and Junos documents no precedence
    between those and a `vrf-target` in the same instance, so by default the NAD leaves it out.
    """
    exported = {t.junos for t in exports}
    symmetric = len(exported) == 1 and {t.junos for t in imports} == exported
    if symmetric or topology.cluster.asymmetricRouteTargets == "nad-vrf-target":
        return sorted(exports)[0].value
    return None


def _plan_pod(topology: Topology, allocation: Allocation, pod: Pod, default_mtu: int | None = None) -> PlannedPod:
    if default_mtu is None:
        default_mtu = topology.cluster.underlayMtu - VXLAN_OVERHEAD
    attachments = []
    name, node = pod.name, pod.node
    for position, attachment in enumerate(pod.networks):
        interface = interface_name(attachment, position)
        key = attachment_key(name, interface)
        links = allocation.links.get(key)
        ipv4 = ipv6 = None
        if links:  # none for an attachment of a VRF without pools
            if (link := links.get("ipv4")) is not None:
                ipv4 = _link(link)
            if (link := links.get("ipv6")) is not None:
                ipv6 = _link(link)
        attachments.append(PlannedAttachment(
            pod=name,
            node=node,
            vrf=attachment.vrf,
            interface=interface,
            mac=allocation.mac[key],
            mtu=attachment.mtu or default_mtu,
            ipv4=ipv4,
            ipv6=ipv6,
        ))
    return PlannedPod(name, node, pod.image, tuple(pod.command), tuple(attachments), pod.workload)


def _link(allocation: LinkAllocation | None) -> LinkAddress | None:
    if allocation is None:
        return None
    pod_ip = allocation.address
    return LinkAddress(
        address=f"{pod_ip}/{allocation.prefixlen}",
        gateway=allocation.gateway,
        subnet=allocation.subnet_text,
        pod_ip=pod_ip,
    )
