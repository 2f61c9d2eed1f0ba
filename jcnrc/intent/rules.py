"""Semantic rules: every check that looks at more than one field of the intent.

Rules see the intent items with their original list positions, so that a rule can still run
when other items failed structure checking (all errors in one run), and every diagnostic
points at the item it is about. Every rule is linear in the size of the intent: lookups go
through dicts, overlap checks sort and sweep, nothing compares all pairs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network, ip_network
from typing import TypeVar

from jcnrc.diagnostics import Diagnostic, Path, Related, did_you_mean, error, escaped, warning
from jcnrc.intent import names, providers, routetarget
from jcnrc.intent.model import (
    VXLAN_OVERHEAD,
    Attachment,
    Bgp,
    Cluster,
    Expectation,
    Images,
    Metadata,
    Node,
    Pod,
    Secrets,
    Topology,
    Vrf,
    interface_name,
)

IPV6_MIN_MTU = 1280  # RFC 8200: Linux turns IPv6 off on an interface with a smaller MTU



@dataclass(frozen=True)
class SpecialRange:
    """An address range that is never a routed unicast address of a pod, a node or a pool."""

    network: IPv4Network | IPv6Network
    kind: str  # "IPv4 multicast"
    rfc: str
    why: str

    @property
    def hint(self) -> str:
        return f"{self.network} is {self.kind} ({self.rfc}): {self.why}"


def _special(network: str, kind: str, rfc: str, why: str) -> SpecialRange:
    return SpecialRange(ip_network(network), kind, rfc, why)


# The ranges refused for pools, link subnets, node addresses, `nodeSubnet` and IPv6 loopbacks.
# Python's ipaddress classifies the same addresses (is_loopback, is_multicast, is_link_local,
# is_reserved, ipv4_mapped, is_unspecified; tests/test_attack_semantics.py checks the two agree),
# but the hint names the range and its RFC, so the table is written out. Not listed, and so
# accepted: private, shared (100.64.0.0/10), documentation and unallocated ranges, which route
# like any unicast range inside a VRF (the walkthrough's own pools are 1.1.0.0/16 and
# abcd::1.1.0.0/112, which Python's IPv6 `is_reserved` would flag).
SPECIAL_RANGES: tuple[SpecialRange, ...] = (
    _special("0.0.0.0/8", "IPv4 \"this network\"", "RFC 1122",
             "it means \"this host\" as a source and is never a destination"),
    _special("127.0.0.0/8", "IPv4 loopback", "RFC 1122", "a packet sent there never leaves the host"),
    _special("169.254.0.0/16", "IPv4 link-local", "RFC 3927", "routers never forward it off its link"),
    _special("224.0.0.0/4", "IPv4 multicast", "RFC 5771", "a pod address there is never routed as unicast"),
    _special("255.255.255.255/32", "the IPv4 limited broadcast address", "RFC 919",
             "it reaches every host of the link and is never routed"),
    _special("240.0.0.0/4", "reserved IPv4 (former class E)", "RFC 1112", "hosts and routers drop it"),
    _special("::/128", "the IPv6 unspecified address", "RFC 4291",
             "it means \"no address\" as a source and is never a destination"),
    _special("::1/128", "the IPv6 loopback address", "RFC 4291", "a packet sent there never leaves the host"),
    _special("::ffff:0:0/96", "IPv4-mapped IPv6", "RFC 4291",
             "it stands for an IPv4 address inside a host's sockets and never appears in an IPv6 packet"),
    _special("fe80::/10", "IPv6 link-local", "RFC 4291", "routers never forward it off its link"),
    _special("ff00::/8", "IPv6 multicast", "RFC 4291", "a pod address there is never routed as unicast"),
)


def _subnet_of(net: IPv4Network | IPv6Network, outer: IPv4Network | IPv6Network) -> bool:
    """`net.subnet_of(outer)` for networks whose family is known only at run time; like it,
    a TypeError when the families differ."""
    if isinstance(net, IPv4Network) and isinstance(outer, IPv4Network):
        return net.subnet_of(outer)
    if isinstance(net, IPv6Network) and isinstance(outer, IPv6Network):
        return net.subnet_of(outer)
    raise TypeError(f"{net} and {outer} are not of the same version")


# SPECIAL_RANGES per IP version as (first, last, range) integers: special_range runs once per pod link,
# and integer comparisons cost a fraction of ipaddress's overlaps()/subnet_of().
_SPECIAL_BOUNDS: dict[int, tuple[tuple[int, int, SpecialRange], ...]] = {
    version: tuple((int(r.network.network_address), int(r.network.broadcast_address), r)
                   for r in SPECIAL_RANGES if r.network.version == version)
    for version in (4, 6)
}


def special_range(net: IPv4Network | IPv6Network) -> SpecialRange | None:
    """The special-purpose range `net` lies in (the most specific one), else the first one it overlaps."""
    first, last, _ = _bounds(net)
    overlapped = [(low, high, r) for low, high, r in _SPECIAL_BOUNDS[net.version] if first <= high and low <= last]
    inside = [r for low, high, r in overlapped if low <= first and last <= high]
    if inside:
        return max(inside, key=lambda r: r.network.prefixlen)
    return overlapped[0][2] if overlapped else None


def _special_problem(what: str, net: IPv4Network | IPv6Network, path: tuple, shown: str | None = None,
                     advice: str | None = None) -> Diagnostic | None:
    """JCN513 when `net` lies in or overlaps a special-purpose range; `shown` is the value as the message names it."""
    found = special_range(net)
    if found is None:
        return None
    inside = _subnet_of(net, found.network)
    if advice is None:
        unicast = "10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16" if net.version == 4 else "fd00::/8 (unique local)"
        advice = f"use a unicast range, e.g. in {unicast}"
    if not inside:
        advice = f"no part of it may lie there (link subnets are allocated anywhere in a pool); {advice}"
    return error("JCN513", f"{what} {shown or net} {'is in' if inside else 'overlaps'} {found.network}, {found.kind}", path,
                 help=f"{found.hint}; {advice}")


ROUTE_TARGET_FORMS = ("valid forms: 2-byte AS:32-bit number (11:11), 4-byte AS:16-bit number (4200000000:7), "
                      "IPv4:16-bit number (10.0.0.1:5)")


@dataclass
class Intent:
    """The parts of an intent that passed structure checking, with their list positions."""

    cluster: Cluster | None
    target: str
    nodes: list[tuple[int, Node]]
    vrfs: list[tuple[int, Vrf]]
    pods: list[tuple[int, Pod]]
    expect: list[tuple[int, Expectation]]
    secrets: Secrets | None
    images: Images | None = None
    metadata: Metadata | None = None
    # Names written in the file, valid or not: a pod naming a node whose entry had a typo
    # elsewhere is not reported again as "unknown node".
    written_names: dict[str, set[str]] = field(default_factory=dict)
    complete: bool = True
    # A cluster of a fleet: link subnets and VRF usage are judged over the whole fleet (intent/fleet.py).
    fleet_member: bool = False
    _names: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _hints: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)

    def names(self, kind: str) -> set[str]:
        """Valid and written names of `nodes`, `vrfs` or `pods`: the candidates for a did-you-mean."""
        if kind not in self._names:
            items: dict[str, Sequence[tuple[int, Node | Vrf | Pod]]] = {"nodes": self.nodes, "vrfs": self.vrfs, "pods": self.pods}
            self._names[kind] = {item.name for _, item in items[kind]} | self.written_names.get(kind, set())
        return self._names[kind]

    def hint(self, kind: str, word: str, what: str) -> str:
        """A did-you-mean among the `kind` names, else the list of them; memoised, because thousands of
        pods may name the same missing node and each fuzzy match scans every name."""
        key = (kind, word)
        if key not in self._hints:
            self._hints[key] = did_you_mean(word, self.names(kind)) or _defined(what, self.names(kind))
        return self._hints[key]


def run(intent: Intent) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    rules: tuple[Callable[[Intent], Iterable[Diagnostic]], ...] = (
        _roles, _file_names, _cluster_rules, _node_rules, _vrf_rules, _pod_rules, _default_mtu, _overlaps,
        _route_target_conflicts, _expectations, _secret_rules, _target_rules, _provider_rules, _usage_warnings, _jcnr_pod_mtu)
    for rule in rules:
        found.extend(rule(intent))
    if intent.complete and not any(d.is_error for d in found):
        # Advice about the design, given once the intent is right: a file with a mistake shows the mistake.
        found.extend(_lone_route_reflector(intent))
    return found


# --- roles -----------------------------------------------------------------------------------

def _roles(intent: Intent) -> Iterator[Diagnostic]:
    if not intent.complete and len(intent.nodes) < len(intent.written_names.get("nodes", ())):
        return  # some node entries are broken; their role is unknown
    roles = {node.role for _, node in intent.nodes}
    if intent.nodes and "master" not in roles:
        yield error("JCN301", "no node has `role: master`, so there is no BGP route reflector", ("nodes",), at="key",
                    help="set `role: master` on one node (more for redundancy); without it kube-crpd-master-ds has DESIRED 0 "
                         "and the workers never learn each other's routes")
    if intent.nodes and "worker" not in roles:
        yield error("JCN302", "no node has `role: worker`, so no pod can attach to a VRF", ("nodes",), at="key",
                    help="set `role: worker` on the nodes that run application pods")


# --- names that become file names -----------------------------------------------------------

def _file_names(intent: Intent) -> Iterator[Diagnostic]:
    """The output names folders and files after the topology (out/<name>), each node
    (nodes/<node>/, state/<node>.json) and each VRF (state/vrfs/<vrf>.json); GitOps repositories
    holding them are checked out on Windows too."""
    named: list[tuple[Path, str, str, str]] = (
        [(("metadata", "name"), intent.metadata.name, "JCN201", "topology")] if intent.metadata else [])
    named += [(("nodes", i, "name"), node.name, "JCN201", "node") for i, node in intent.nodes]
    named += [(("vrfs", i, "name"), vrf.name, "JCN205", "VRF") for i, vrf in intent.vrfs]
    for path, name, code, what in named:
        problem = names.windows_device_problem(name)
        if problem is not None:
            stem, dot, rest = name.partition(".")
            yield error(code, f"{what} name `{name}` {problem}", path, help=f"rename the {what}, e.g. `{stem}-1{dot}{rest}`")


# --- nodes -----------------------------------------------------------------------------------

# A pod's own interfaces, which its primary CNI creates: a VRF attachment may not take their names.
POD_OWN_INTERFACES = {"eth0": "primary interface (the cluster network's)", "lo": "loopback"}
# Routing-instance names Junos keeps for itself (`master` is the main instance, `default` its alias).
RESERVED_INSTANCE_NAMES = {"master": "the name of Junos's main routing instance",
                           "default": "a name Junos keeps for its main routing instance"}
# AS numbers no cRPD may use: AS_TRANS stands in for 4-byte ASes in 2-byte sessions (RFC 6793), and
# 65535 and 4294967295 are reserved (RFC 7300).
RESERVED_ASNS = {23456: "AS_TRANS (RFC 6793), which stands in for 4-byte AS numbers on 2-byte sessions",
                 65535: "reserved (RFC 7300)", 4294967295: "reserved (RFC 7300)"}
MPLS_LABEL_MAX = 2**20 - 1  # labels are 20 bits (RFC 3032)


def _cluster_rules(intent: Intent) -> Iterator[Diagnostic]:
    cluster = intent.cluster
    if cluster is None:
        return
    sr = cluster.segmentRouting
    if sr.srgbStart + sr.srgbRange - 1 > MPLS_LABEL_MAX:
        yield error("JCN518", f"the SR global block {sr.srgbStart}..{sr.srgbStart + sr.srgbRange - 1} ends past the largest "
                              f"MPLS label {MPLS_LABEL_MAX}", ("cluster", "segmentRouting", "srgbRange"),
                    related=(Related("`srgbStart` is set", ("cluster", "segmentRouting", "srgbStart")),),
                    help=f"labels are 20 bits: keep `srgbStart + srgbRange` at most {MPLS_LABEL_MAX + 1}, "
                         f"e.g. `srgbRange: {MPLS_LABEL_MAX + 1 - sr.srgbStart}`")
    yield from _bgp_ports(cluster.bgp)
    if cluster.asn in RESERVED_ASNS:
        yield error("JCN516", f"AS {cluster.asn} is {RESERVED_ASNS[cluster.asn]}", ("cluster", "asn"),
                    help="use a private AS: 64512 to 65534, or 4200000000 to 4294967294")
    for other, key in ((cluster.nodeSubnet, "nodeSubnet"), (cluster.podCidr, "podCidr")):
        if cluster.serviceCidr.overlaps(other):
            yield error("JCN515", f"`cluster.serviceCidr` {cluster.serviceCidr} overlaps `cluster.{key}` {other}",
                        ("cluster", "serviceCidr"), related=(Related(f"`cluster.{key}`", ("cluster", key)),),
                        help="service addresses are virtual and must not be node or pod addresses: write the "
                             "cluster's service range (`kubectl cluster-info dump | grep service-cluster-ip-range`)")


BGP_PORT = 179
# TCP ports a node's own services hold (the cRPD runs with hostNetwork): sshd, etcd, the
# kube-apiserver on kubeadm masters, the kubelet, kube-proxy's health check, the controller
# manager and the scheduler. cRPD could not listen there, and its sessions would never come up.
NODE_TCP_PORTS = {22: "sshd", 2379: "etcd", 2380: "etcd peers", 6443: "the kube-apiserver", 10250: "the kubelet",
                  10256: "kube-proxy's health check", 10257: "the kube-controller-manager", 10259: "the kube-scheduler"}


def bgp_ports(bgp: Bgp) -> tuple[int, int]:
    """(listen, connect): the ports cRPD listens on and connects to, BGP_PORT where left out."""
    return bgp.listenPort or BGP_PORT, bgp.connectPort or BGP_PORT


def _bgp_ports(bgp: Bgp) -> Iterator[Diagnostic]:
    """Route reflectors are passive (they accept any client): workers connect to `connectPort`, route
    reflectors listen on `listenPort`, so within a cluster the two must be the same port."""
    listen, connect = bgp_ports(bgp)
    if listen != connect:
        key = "connectPort" if bgp.connectPort is not None else "listenPort"
        both = bgp.listenPort is not None and bgp.connectPort is not None
        yield error("JCN521", f"cRPD listens for BGP on port {listen} but connects to port {connect}"
                              f"{'' if both else ' (179 where left out)'}: no session of the cluster can come up",
                    ("cluster", "bgp", key),
                    related=(Related("`listenPort` is set", ("cluster", "bgp", "listenPort")),) if both else (),
                    help=f"set `listenPort` and `connectPort` to the same port, e.g. both "
                         f"{listen if key == 'listenPort' else connect}")
    if listen in NODE_TCP_PORTS:
        yield warning("JCN925", f"BGP port {listen} is the port of {NODE_TCP_PORTS[listen]} on Kubernetes nodes: cRPD runs "
                                "in the node's network and cannot listen there", ("cluster", "bgp", "listenPort"),
                      help="choose a free port, e.g. 178 (the walkthrough's, when Calico holds 179)")


def _node_rules(intent: Intent) -> Iterator[Diagnostic]:
    yield from _duplicates(((("nodes", i, "name"), n.name) for i, n in intent.nodes), "JCN401", "node name")
    yield from _duplicates(((("nodes", i, "address"), str(n.address)) for i, n in intent.nodes), "JCN402", "node address")
    yield from _node_loopbacks(intent)
    subnet = intent.cluster.nodeSubnet if intent.cluster is not None else None
    usable: tuple[int, int] | None = None
    if subnet is not None:
        subnet_problem = _special_problem("`cluster.nodeSubnet`", subnet, ("cluster", "nodeSubnet"),
                                          advice="write the subnet of the nodes' InternalIPs (`kubectl get nodes -o wide`)")
        if subnet_problem is not None:
            yield subnet_problem
            return  # the addresses are judged against a subnet that is itself the mistake
        first, last, _ = _bounds(subnet)
        usable = (first + 1, last - 1) if subnet.prefixlen < 31 else (first, last)
    # Most nodes are judged by integer bounds alone; only one with something to report goes through
    # _node_address, which builds the ipaddress objects and the messages.
    for i, node in intent.nodes:
        address = int(node.address)
        if _special_address(address, 4) or (usable is not None and not usable[0] <= address <= usable[1]):
            yield from _node_address(i, node, subnet)


def _special_address(address: int, version: int) -> bool:
    """Whether the single address `address` lies in one of SPECIAL_RANGES (`special_range` of its /32 or /128)."""
    return any(low <= address <= high for low, high, _ in _SPECIAL_BOUNDS[version])


def _node_address(i: int, node: Node, subnet: IPv4Network | None) -> Iterator[Diagnostic]:
    problem = _special_problem("node address", ip_network(node.address), ("nodes", i, "address"), shown=str(node.address),
                               advice="use the node's InternalIP (`kubectl get nodes -o wide`)")
    if problem is not None:
        yield problem  # one mistake: not reported again as outside `nodeSubnet`
    elif subnet is None:
        return
    elif node.address not in subnet:
        yield error("JCN501", f"node address {node.address} is outside `cluster.nodeSubnet` {subnet}",
                    ("nodes", i, "address"),
                    help="use the node's InternalIP (`kubectl get nodes -o wide`) or fix `nodeSubnet`")
    elif subnet.prefixlen < 31 and node.address in (subnet.network_address, subnet.broadcast_address):
        yield error("JCN501", f"node address {node.address} is the network or broadcast address of {subnet}",
                    ("nodes", i, "address"), help="use the node's InternalIP (`kubectl get nodes -o wide`)")


def _node_loopbacks(intent: Intent) -> Iterator[Diagnostic]:
    overlay = _RangeIndex(_overlay_ipv6(intent))
    for i, node in intent.nodes:
        if node.ipv6Loopback is None:
            # The planner's default, `abcd::<node address>`: abcd in the top 16 bits, the IPv4 address in the low 32.
            loopback = IPv6Address(DERIVED_LOOPBACK_BASE | int(node.address))
            path: Path = ("nodes", i, "address")
        else:
            try:
                loopback = IPv6Address(node.ipv6Loopback)
            except ValueError:  # refused by the model already
                continue
            path = ("nodes", i, "ipv6Loopback")
            if _special_address(int(loopback), 6):
                problem = _special_problem(f"node `{node.name}` IPv6 loopback", ip_network(loopback), path,
                                           shown=node.ipv6Loopback, advice="use a global or unique-local address, or leave "
                                           "`ipv6Loopback` out to derive `abcd::<node address>`")
                if problem is not None:
                    yield problem
                    continue
        found = overlay.first_holding(loopback)
        if found is not None:
            what, network, where = found
            shown = node.ipv6Loopback if node.ipv6Loopback is not None else f"{loopback} (derived as `abcd::{node.address}`)"
            yield error("JCN517", f"node `{node.name}` IPv6 loopback {shown} lies in {what} {network}", path,
                        related=(Related(what, where),),
                        help="the loopback is the node's BGP next hop and router identity; a pod holding the same "
                             "address would black-hole it: give the node an `ipv6Loopback` outside every VRF's "
                             "`ipv6Pool` and pod link, or move the pool")


DERIVED_LOOPBACK_BASE = 0xABCD << 112  # `abcd::` as an integer


class _RangeIndex:
    """Named IPv6 ranges, asked which is the first (in the order given) to hold an address: one lookup
    per distinct prefix length instead of one test per range (a big intent has a link per pod)."""

    def __init__(self, ranges: Iterable[tuple[str, IPv6Network, Path]]) -> None:
        self._by_length: dict[int, dict[int, tuple[int, tuple[str, IPv6Network, Path]]]] = {}
        for order, entry in enumerate(ranges):
            network = entry[1]
            self._by_length.setdefault(network.prefixlen, {}).setdefault(int(network.network_address), (order, entry))

    def first_holding(self, address: IPv6Address) -> tuple[str, IPv6Network, Path] | None:
        value = int(address)
        hits = [found for length, networks in self._by_length.items()
                if (found := networks.get(value >> (128 - length) << (128 - length) if length else 0)) is not None]
        return min(hits, key=lambda hit: hit[0])[1] if hits else None


def _overlay_ipv6(intent: Intent) -> Iterator[tuple[str, IPv6Network, Path]]:
    """Every IPv6 range pods take addresses from: VRF pools and explicit pod links."""
    for i, vrf in intent.vrfs:
        if vrf.ipv6Pool is not None:
            yield f"VRF `{vrf.name}` `ipv6Pool`", vrf.ipv6Pool, ("vrfs", i, "ipv6Pool")
    for i, pod in intent.pods:
        for k, attachment in enumerate(pod.networks):
            if attachment.ipv6 is not None:
                yield f"pod `{pod.name}` link", attachment.ipv6.network, ("pods", i, "networks", k, "ipv6")


# --- VRFs ------------------------------------------------------------------------------------

Targets = tuple[frozenset[str], frozenset[str]]  # (import, export), canonical `target:A:B`


def targets_of(vrf: Vrf, cluster: Cluster | None = None) -> Targets | None:
    """The VRF's (import, export) targets.

    Without `routeTarget` the build derives `<asn>:<vni>`; that is known here only when the VNI
    is written (and the cluster valid). None when the targets are not known before allocation.
    """
    return effective_targets(vrf, cluster.asn if cluster is not None else None, vrf.vni)


def effective_targets(vrf: Vrf, asn: int | None, vni: int | None) -> Targets | None:
    """The (import, export) targets the build uses, canonical: written ones, else `<asn>:<vni>`
    (the default of allocate.route_target_texts). None when unknown or invalid (reported elsewhere)."""
    spec = vrf.routeTarget
    try:
        if spec is None:
            if asn is None or vni is None:
                return None
            one = frozenset({routetarget.default(asn, vni).junos})
            return one, one
        if isinstance(spec, str):
            one = frozenset({routetarget.parse(spec).junos})
            return one, one
        return (frozenset(routetarget.parse(t).junos for t in spec.import_),
                frozenset(routetarget.parse(t).junos for t in spec.export))
    except routetarget.RouteTargetError:
        return None


def _vrf_rules(intent: Intent) -> Iterator[Diagnostic]:
    yield from _duplicates(((("vrfs", i, "name"), v.name) for i, v in intent.vrfs), "JCN403", "VRF name")
    yield from _duplicates(((("vrfs", i, "routeDistinguisherId"), v.routeDistinguisherId) for i, v in intent.vrfs
                            if v.routeDistinguisherId is not None), "JCN408", "route distinguisher number")
    for i, vrf in intent.vrfs:
        if vrf.name in RESERVED_INSTANCE_NAMES:
            yield error("JCN205", f"VRF name `{vrf.name}` is {RESERVED_INSTANCE_NAMES[vrf.name]}", ("vrfs", i, "name"),
                        help="rename the VRF, e.g. `blue`; it becomes a Junos routing instance and a NAD name")
        yield from _route_target_syntax(i, vrf)
        yield from _pool_rules(intent, i, vrf)
    if intent.cluster is not None:
        rng = intent.cluster.vniRange
        if rng.first > rng.last:
            yield error("JCN105", f"`cluster.vniRange` is empty: first {rng.first} is after last {rng.last}",
                        ("cluster", "vniRange", "last"), help="swap the two, or widen the range")


def _route_target_syntax(i: int, vrf: Vrf) -> Iterator[Diagnostic]:
    spec = vrf.routeTarget
    if spec is None:
        return
    entries = [(("vrfs", i, "routeTarget"), spec)] if isinstance(spec, str) else (
        [(("vrfs", i, "routeTarget", "import", k), t) for k, t in enumerate(spec.import_)]
        + [(("vrfs", i, "routeTarget", "export", k), t) for k, t in enumerate(spec.export)])
    for path, text in entries:
        try:
            routetarget.parse(text)
        except routetarget.RouteTargetError as exc:
            yield error("JCN204", f"route target {text!r} is out of range: {exc}", path, help=ROUTE_TARGET_FORMS)


def _pool_rules(intent: Intent, i: int, vrf: Vrf) -> Iterator[Diagnostic]:
    for family, pool in (("ipv4", vrf.ipv4Pool), ("ipv6", vrf.ipv6Pool)):
        problem = _special_problem(f"VRF `{vrf.name}` `{family}Pool`", pool, ("vrfs", i, f"{family}Pool")) if pool else None
        if problem is not None:
            yield problem
    if intent.cluster is None or vrf.ipv4Pool is None:
        return
    for key in ("nodeSubnet", "podCidr", "serviceCidr"):
        other = getattr(intent.cluster, key)
        if vrf.ipv4Pool.overlaps(other):
            yield error("JCN506", f"VRF `{vrf.name}` pool {vrf.ipv4Pool} overlaps `cluster.{key}` {other}",
                        ("vrfs", i, "ipv4Pool"),
                        related=(Related(f"`cluster.{key}` is set", ("cluster", key)),),
                        help="overlay pools must not overlap the cluster's own ranges, "
                             "or the node routes its own traffic into the VRF")


# --- pods ------------------------------------------------------------------------------------

def _pod_rules(intent: Intent) -> Iterator[Diagnostic]:
    pod_names = [p.name for _, p in intent.pods]
    if len(set(pod_names)) < len(pod_names):
        yield from _duplicates(((("pods", i, "name"), p.name) for i, p in intent.pods), "JCN405", "pod name")
    nodes = first_by_name(intent.nodes)
    vrfs = first_by_name(intent.vrfs)
    # Each VRF's pools as integer bounds, worked out once: most attachments are checked against them
    # alone (_link_fits), and only one with something to report goes through _address_rules.
    pools = {name: (_bounds(vrf.ipv4Pool) if vrf.ipv4Pool is not None else None,
                    _bounds(vrf.ipv6Pool) if vrf.ipv6Pool is not None else None) for name, (_, vrf) in vrfs.items()}
    written_vrfs = intent.written_names.get("vrfs", set())
    macs: list[tuple[Path, str]] = []
    for i, pod in intent.pods:
        placed = nodes.get(pod.node)
        if placed is None or placed[1].role != "worker":
            yield from _placement(intent, i, pod, nodes)
        networks = pod.networks
        if len(networks) > 1:
            interfaces = [interface_name(a, k) for k, a in enumerate(networks)]
            if len(set(interfaces)) < len(interfaces):
                yield from _duplicates(((("pods", i, "networks", k, "interface"), name) for k, name in enumerate(interfaces)),
                                       "JCN406", "interface name", scope=f"pod `{pod.name}`")
        for k, attachment in enumerate(networks):
            if attachment.interface in POD_OWN_INTERFACES:
                own = POD_OWN_INTERFACES[attachment.interface]
                yield error("JCN202", f"interface `{attachment.interface}` is the pod's {own}: "
                                      "a VRF attachment cannot take its name",
                            ("pods", i, "networks", k, "interface"),
                            help="use another name, e.g. `net1`, or leave `interface` out for `net<N>`")
            if attachment.mac:
                macs.append((("pods", i, "networks", k, "mac"), attachment.mac.lower()))
            found = vrfs.get(attachment.vrf)
            if found is None:
                if attachment.vrf not in written_vrfs:
                    yield error("JCN305", f"VRF `{attachment.vrf}` is not defined", ("pods", i, "networks", k, "vrf"),
                                help=intent.hint("vrfs", attachment.vrf, "VRFs"))
                continue
            ipv4, ipv6 = attachment.ipv4, attachment.ipv6
            if ipv4 is not None or ipv6 is not None:
                pool4, pool6 = pools[attachment.vrf]
                if not (_link_fits(ipv4, pool4) and _link_fits(ipv6, pool6)):
                    yield from _address_rules(("pods", i, "networks", k), attachment, found[1], found[0])
            if attachment.mtu is not None:
                yield from _mtu_rules(intent, ("pods", i, "networks", k), attachment, found[1])
    yield from _duplicates(iter(macs), "JCN407", "MAC address")
    for path, mac in macs:
        if int(mac[:2], 16) & 1:
            yield error("JCN206", f"MAC {mac} is a multicast address", path,
                        help="the first octet must be even; 02:xx:... is locally administered unicast")
        elif int(mac.replace(":", ""), 16) == 0:
            yield error("JCN206", f"MAC {mac} is the all-zero address, which no interface may use", path,
                        help="use a unicast MAC such as 02:00:00:00:01:01 (locally administered), or omit `mac` to derive one")


_Named = TypeVar("_Named", Node, Vrf)


def first_by_name(items: Iterable[tuple[int, _Named]]) -> dict[str, tuple[int, _Named]]:
    """name -> (position, item) of its first definition; later duplicates are reported by JCN401/JCN403."""
    found: dict[str, tuple[int, _Named]] = {}
    for position, item in items:
        found.setdefault(item.name, (position, item))
    return found


def _defined(what: str, names: Iterable[str]) -> str:
    names = sorted(names)
    if not names:
        return f"no {what} are defined"
    return f"defined {what}: " + ", ".join(f"`{escaped(n)}`" for n in names[:8]) + (" ..." if len(names) > 8 else "")


def _placement(intent: Intent, i: int, pod: Pod, nodes: dict) -> Iterator[Diagnostic]:
    if pod.node not in nodes:
        if pod.node not in intent.written_names.get("nodes", set()):
            yield error("JCN303", f"pod `{pod.name}` is placed on node `{pod.node}`, which is not defined", ("pods", i, "node"),
                        help=intent.hint("nodes", pod.node, "nodes"))
        return
    node_index, node = nodes[pod.node]
    if node.role != "worker":
        yield error("JCN304", f"pod `{pod.name}` is placed on `{pod.node}`, a master; pods run on workers", ("pods", i, "node"),
                    related=(Related("the node's role is set", ("nodes", node_index, "role")),),
                    help="move the pod to a worker: the master is the route reflector and carries no VRFs")


Bounds = tuple[int, int, int]  # a network's first and last address as integers, and its address bits


def _bounds(net: IPv4Network | IPv6Network) -> Bounds:
    first = int(net.network_address)
    return first, first | ((1 << (net.max_prefixlen - net.prefixlen)) - 1), net.max_prefixlen


def _link_fits(iface: IPv4Interface | IPv6Interface | None, pool: Bounds | None) -> bool:
    """Whether _address_rules has nothing to say about `iface` in the pool `pool`, by integers alone.

    True exactly when the link subnet has room for a gateway and the pod (at least 2 host bits),
    lies in the pool, and the address is neither its network address, its gateway (the first host)
    nor, for IPv4, its broadcast address. A link subnet inside a pool that is itself special (JCN513)
    is reported at the pool; one inside an ordinary pool cannot meet a special range. No iface: nothing to say."""
    if iface is None:
        return True
    if pool is None:
        return False
    low, high, bits = pool
    host_bits = bits - iface.network.prefixlen
    if host_bits < 2:
        return False
    address = int(iface)
    first = address >> host_bits << host_bits
    last = first | ((1 << host_bits) - 1)
    return low <= first and last <= high and address - first > 1 and (bits == 128 or address != last)


def _address_rules(path: tuple, attachment: Attachment, vrf: Vrf, vrf_index: int) -> Iterator[Diagnostic]:
    for family, iface, pool in (("ipv4", attachment.ipv4, vrf.ipv4Pool), ("ipv6", attachment.ipv6, vrf.ipv6Pool)):
        if iface is None:
            continue
        where = (*path, family)
        if pool is None:
            yield error("JCN507", f"the attachment has an {family} address but VRF `{vrf.name}` has no `{family}Pool`", where,
                        related=(Related(f"VRF `{vrf.name}` is defined", ("vrfs", vrf_index, "name")),),
                        help=f"add `{family}Pool` to VRF `{vrf.name}` or remove the address")
            continue
        net = iface.network
        if special_range(pool) is None or not _subnet_of(net, pool):  # else the pool is the mistake, reported once
            problem = _special_problem("pod address", net, where, shown=str(iface),
                                       advice=f"pick an address in VRF `{vrf.name}`'s pool {pool}, "
                                              "or omit it to have one allocated")
            if problem is not None:
                yield problem
                continue
        if net.prefixlen >= net.max_prefixlen - 1:
            smallest = net.max_prefixlen - 2
            yield error("JCN509", f"link subnet {net} leaves no room for both a gateway and the pod", where,
                        help=f"write the prefix length of the link subnet, /{smallest} or shorter, e.g. {iface.ip}/{smallest}")
            continue
        if not _subnet_of(net, pool):
            yield error("JCN502", f"{iface} is outside VRF `{vrf.name}`'s {family} pool {pool}", where,
                        related=(Related(f"the pool of VRF `{vrf.name}` is set", ("vrfs", vrf_index, f"{family}Pool")),),
                        help=f"pick an address in {pool}, or omit it to have one allocated")
            continue
        reserved = {net.network_address: "the network address", net.network_address + 1: "the gateway (first host)"}
        if isinstance(net, IPv4Network):
            reserved[net.broadcast_address] = "the broadcast address"
        if iface.ip in reserved:
            usable = net.network_address + 2
            yield error("JCN504", f"{iface.ip} is {reserved[iface.ip]} of link subnet {net}", where,
                        help=f"the node side takes {net.network_address + 1}; give the pod {usable}/{net.prefixlen}")


def _mtu_rules(intent: Intent, path: tuple, attachment: Attachment, vrf: Vrf) -> Iterator[Diagnostic]:
    if attachment.mtu is None:
        return
    if intent.cluster is not None:
        limit = intent.cluster.underlayMtu - VXLAN_OVERHEAD
        if attachment.mtu > limit:
            yield error("JCN601", f"MTU {attachment.mtu} does not fit the underlay: {intent.cluster.underlayMtu} minus "
                        f"{VXLAN_OVERHEAD} bytes of VXLAN is {limit}", (*path, "mtu"),
                        related=(Related("the underlay MTU is set", ("cluster", "underlayMtu")),),
                        help=f"use at most {limit}, or raise `cluster.underlayMtu`")
    carries_ipv6 = attachment.ipv6 is not None or vrf.ipv6Pool is not None
    if carries_ipv6 and attachment.mtu < IPV6_MIN_MTU:
        yield error("JCN602", f"MTU {attachment.mtu} is below {IPV6_MIN_MTU}, the IPv6 minimum, "
                              "on an interface with an IPv6 address",
                    (*path, "mtu"), help=f"use at least {IPV6_MIN_MTU}; Linux disables IPv6 on smaller interfaces")


def _default_mtu(intent: Intent) -> Iterator[Diagnostic]:
    """Attachments without `mtu` take `cluster.underlayMtu` minus VXLAN; below the IPv6 minimum that
    disables IPv6 on every such interface. An explicit `mtu` cannot help (it may not exceed the same
    limit), so the one fix is the underlay: one error there, naming the first interface it breaks."""
    if intent.cluster is None:
        return
    underlay = intent.cluster.underlayMtu
    default = underlay - VXLAN_OVERHEAD
    if default >= IPV6_MIN_MTU:
        return
    vrfs = first_by_name(intent.vrfs)
    affected = [(("pods", i, "networks", k), pod.name, interface_name(attachment, k))
                for i, pod in intent.pods for k, attachment in enumerate(pod.networks)
                if attachment.mtu is None and attachment.vrf in vrfs
                and (attachment.ipv6 is not None or vrfs[attachment.vrf][1].ipv6Pool is not None)]
    if not affected:
        return
    path, pod, interface = affected[0]
    others = f" and {len(affected) - 1} more" if len(affected) > 1 else ""
    yield error("JCN602", f"`cluster.underlayMtu` {underlay} leaves attachments a default MTU of {default} ({underlay} minus "
                f"{VXLAN_OVERHEAD} bytes of VXLAN), below {IPV6_MIN_MTU}, the IPv6 minimum: interface {interface} of pod "
                f"`{pod}`{others} would lose IPv6", ("cluster", "underlayMtu"),
                related=(Related(f"pod `{pod}` interface {interface} has IPv6 and takes the default MTU", path),),
                help=f"raise `cluster.underlayMtu` to at least {IPV6_MIN_MTU + VXLAN_OVERHEAD}: an attachment `mtu` may not "
                     f"exceed `underlayMtu` minus {VXLAN_OVERHEAD} either, so no attachment can be given {IPV6_MIN_MTU}")


# --- overlaps --------------------------------------------------------------------------------

def route_tables(vrfs: list[tuple[int, Vrf]], cluster: Cluster | None = None) -> dict[str, frozenset[str]]:
    """VRF name -> the VRFs whose tables hold its routes: itself and every importer of a target it exports.

    Two VRFs whose sets meet have prefixes side by side in some table (each other's, or a
    third VRF's, such as a hub importing two spokes), so their link subnets must not overlap.
    VRFs whose targets are not known yet (allocated VNI) are alone in their table.
    """
    exports: dict[str, frozenset[str]] = {}
    importers: dict[str, set[str]] = defaultdict(set)
    unique = list(first_by_name(vrfs).values())
    for _, vrf in unique:
        targets = targets_of(vrf, cluster)
        if targets is None:
            continue
        exports[vrf.name] = targets[1]
        for target in targets[0]:
            importers[target].add(vrf.name)
    tables = {}
    for _, vrf in unique:
        holders = {vrf.name}
        for target in exports.get(vrf.name, ()):
            holders |= importers.get(target, set())
        tables[vrf.name] = frozenset(holders)
    return tables


def _overlaps(intent: Intent) -> Iterator[Diagnostic]:
    if not intent.fleet_member:
        yield from overlaps(intent)


def overlaps(intent: Intent) -> Iterator[Diagnostic]:
    """JCN505: link subnets that overlap where their routes meet."""
    tables = route_tables(intent.vrfs, intent.cluster)
    subnets: list[tuple[IPv4Network | IPv6Network, str, tuple]] = []
    for i, pod in intent.pods:
        for k, attachment in enumerate(pod.networks):
            ipv4, ipv6 = attachment.ipv4, attachment.ipv6
            if (ipv4 is None and ipv6 is None) or attachment.vrf not in tables:
                continue
            if ipv4 is not None:
                subnets.append((ipv4.network, attachment.vrf, ("pods", i, "networks", k, "ipv4")))
            if ipv6 is not None:
                subnets.append((ipv6.network, attachment.vrf, ("pods", i, "networks", k, "ipv6")))

    def meet(a: str, b: str) -> bool:
        return a == b or not tables[a].isdisjoint(tables[b])

    for pair in overlapping(subnets, meet):
        # Report at the one written later: the earlier one is usually the one that was there first.
        (net, vrf, path), (other, other_vrf, other_path) = sorted(pair, key=lambda entry: entry[2], reverse=True)
        yield error("JCN505", f"link subnet {net} overlaps {other} {_shared_scope(vrf, other_vrf, tables)}", path,
                    related=(Related(f"{other} is first used", other_path),),
                    help="give each pod interface its own link subnet, or omit the addresses to have them allocated")


def _shared_scope(vrf: str, other: str, tables: dict[str, frozenset[str]]) -> str:
    if vrf == other:
        return f"in VRF `{vrf}`"
    if vrf in tables[other]:
        return f"of VRF `{other}`, whose routes VRF `{vrf}` installs"
    if other in tables[vrf]:
        return f"of VRF `{other}`, which installs VRF `{vrf}`'s routes"
    hub = sorted(tables[vrf] & tables[other])[0]
    return f"of VRF `{other}`; both are installed in VRF `{hub}`'s table"


def overlapping(entries: list[tuple], related: Callable[[str, str], bool]) -> Iterator[tuple[tuple, tuple]]:
    """(entry, an earlier entry it overlaps) for entries (network, tag, path) whose tags are related.

    Sort by start address and keep the still-open networks: linear unless networks really overlap.
    Each entry is reported once, against the first related network it overlaps.
    """
    # Each network's bounds as integers, worked out once: (version, first, -prefix length, path,
    # position, last, entry). The position breaks the remaining ties as a stable sort would.
    keyed = []
    for position, entry in enumerate(entries):
        net = entry[0]
        first, last, _ = _bounds(net)
        keyed.append((net.version, first, -net.prefixlen, entry[2], position, last, entry))
    keyed.sort()  # the position is unique: `last` and the entry itself are never compared
    open_entries: list[tuple] = []  # (version, last, entry) of the networks that may still hold later ones
    for version, start, _, _, _, last, entry in keyed:
        open_entries = [o for o in open_entries if o[0] == version and o[1] >= start]
        for _, _, other in open_entries:
            if related(entry[1], other[1]):
                yield entry, other
                break
        open_entries.append((version, last, entry))


# --- route targets and VNIs ------------------------------------------------------------------

def _route_target_conflicts(intent: Intent) -> Iterator[Diagnostic]:
    by_vni: dict[int, tuple[int, Vrf]] = {}
    asn = intent.cluster.asn if intent.cluster is not None else None
    for i, vrf in intent.vrfs:
        if vrf.vni is not None:
            if vrf.vni in by_vni:
                yield _shared_vni(intent, i, vrf, targets_of(vrf, intent.cluster), *by_vni[vrf.vni])
            else:
                by_vni[vrf.vni] = (i, vrf)
    # Derived targets take part: a written target equal to another VRF's `<asn>:<vni>` joins the
    # two VRFs as surely as two written ones. Targets that depend on an allocated VNI are compared
    # at plan time (allocated_target_conflicts).
    for later, earlier in _same_targets([(i, vrf, vrf.vni) for i, vrf in intent.vrfs], asn):
        yield _same_targets_error(asn, later, earlier, allocated=frozenset())


VrfVni = tuple[int, Vrf, int | None]  # (position, VRF, its VNI: written, allocated, or None when not known yet)


def _same_targets(entries: list[VrfVni], asn: int | None) -> Iterator[tuple[VrfVni, VrfVni]]:
    """(later, earlier) pairs of VRFs with the same effective (import, export) targets whose VNIs
    differ or are not known yet. Equal VNIs with equal targets are one network written twice: JCN404."""
    by_targets: dict[Targets, VrfVni] = {}
    for entry in entries:
        targets = effective_targets(entry[1], asn, entry[2])
        if targets is None:
            continue
        earlier = by_targets.setdefault(targets, entry)
        if earlier is not entry and (entry[2] is None or earlier[2] is None or entry[2] != earlier[2]):
            yield entry, earlier


def allocated_target_conflicts(topology: Topology, vnis: dict[str, int]) -> list[Diagnostic]:
    """JCN701 where the check stage could not see it: a VRF with neither `routeTarget` nor `vni`
    takes the default `<asn>:<allocated vni>`, which may equal another VRF's written targets.
    Run by the plan stage with the allocated VNIs; pairs the check stage judged are skipped."""
    asn = topology.cluster.asn
    allocated = frozenset(v.name for v in topology.vrfs if v.vni is None)
    derived_from_allocation = {v.name for v in topology.vrfs if v.vni is None and v.routeTarget is None}
    entries = [(i, vrf, vnis.get(vrf.name)) for i, vrf in enumerate(topology.vrfs)]
    return [_same_targets_error(asn, later, earlier, allocated) for later, earlier in _same_targets(entries, asn)
            if later[1].name in derived_from_allocation or earlier[1].name in derived_from_allocation]


def _same_targets_error(asn: int | None, later: VrfVni, earlier: VrfVni, allocated: frozenset[str]) -> Diagnostic:
    """Reported at the written `routeTarget` (the later VRF's when both are written): that is the
    value that collides, a default `<asn>:<vni>` is only named."""
    this, that = (later, earlier) if later[1].routeTarget is not None else (earlier, later)
    (i, vrf, _), (other_index, other, _) = this, that
    if this[2] is None and that[2] is None:
        vnis = "each gets a VNI of its own (both are allocated)"
    else:
        vnis = f"{_vni_words(this, allocated)} instead of {_vni_words(that, allocated)}"
    message = f"VRF `{vrf.name}` has the same import and export targets as VRF `{other.name}` but {vnis}"
    if other.routeTarget is None:
        # Its targets are known (or it would not be paired), so they are the default of a known AS and VNI.
        assert asn is not None and that[2] is not None
        target = routetarget.default(asn, that[2]).value
        message += f": VRF `{other.name}` has no `routeTarget`, so it uses the default `<asn>:<vni>` {target}"
        where = ("vrfs", other_index, "vni") if other.vni is not None else ("vrfs", other_index, "name")
        related = Related(f"VRF `{other.name}` takes the default route target {target} from its "
                          f"{'VNI' if other.vni is not None else 'allocated VNI'}", where)
    else:
        related = Related(f"VRF `{other.name}` sets the same targets", ("vrfs", other_index, "routeTarget"))
    return error("JCN701", message, ("vrfs", i, "routeTarget"), related=(related,),
                 help="VRFs that exchange all routes are one network: merge them or give them one VNI, "
                      "or give them different targets (a VRF without `routeTarget` uses `<asn>:<vni>`)")


def _shared_vni(intent: Intent, i: int, vrf: Vrf, targets: Targets | None, first_index: int, first: Vrf) -> Diagnostic:
    same = targets is not None and targets == targets_of(first, intent.cluster)
    related = (Related(f"VRF `{first.name}` uses it", ("vrfs", first_index, "vni")),)
    if same:
        return error("JCN404", f"duplicate VNI {vrf.vni}: VRF `{first.name}` and VRF `{vrf.name}` also have the same route "
                     "targets, so they are one network", ("vrfs", i, "vni"), related=related, help="merge the two VRFs into one")
    return error("JCN702", f"VNI {vrf.vni} is used by VRF `{first.name}` and VRF `{vrf.name}` with different route targets: "
                 "both would share one VXLAN segment", ("vrfs", i, "vni"), related=related,
                 help="give every VRF its own VNI")


def _vni_words(entry: VrfVni, allocated: frozenset[str]) -> str:
    _, vrf, vni = entry
    if vni is None:
        return "an allocated VNI"
    return f"allocated VNI {vni}" if vrf.name in allocated else f"VNI {vni}"


# --- expectations, secrets -------------------------------------------------------------------

def _expectations(intent: Intent) -> Iterator[Diagnostic]:
    known = intent.names("pods") | intent.names("vrfs")
    for i, expectation in intent.expect:
        key = "reach" if expectation.reach is not None else "isolate"
        for k, name in enumerate(expectation.reach or expectation.isolate or []):
            if name not in known:
                yield error("JCN306", f"`{escaped(name)}` is neither a pod nor a VRF", ("expect", i, key, k),
                            help=did_you_mean(name, known) or "name a pod or a VRF of this intent")


def _secret_rules(intent: Intent) -> Iterator[Diagnostic]:
    secrets = intent.secrets
    if secrets is None:
        return
    missing = [key for key in ("rootPassword", "crpdLicense") if getattr(secrets, key) is None]
    if missing and secrets.mode != "external-secrets":
        keys = " and ".join(f"`{key}`" for key in missing)
        yield error("JCN102", f"missing required key{'s' if len(missing) > 1 else ''} {keys} in `secrets`: "
                              f"mode {secrets.mode} reads the value{'s' if len(missing) > 1 else ''} at build time or in "
                              "scripts/create-secrets.sh", ("secrets",), at="key",
                    help="for example `rootPassword: {env: CRPD_ROOT_PASSWORD}` and `crpdLicense: {file: crpd-license.txt}`; "
                         "only `mode: external-secrets` does without them (the store holds the values)")
    if secrets.mode == "external-secrets" and secrets.store is None:
        yield error("JCN802", "`secrets.mode: external-secrets` needs `secrets.store`", ("secrets", "mode"),
                    help="add `store: {name: <ClusterSecretStore>, rootPasswordKey: ..., crpdLicenseKey: ...}`")
    if secrets.store is not None and secrets.mode != "external-secrets":
        yield warning("JCN915", f"`secrets.store` is ignored with `mode: {secrets.mode}`", ("secrets", "store"), at="key",
                      help="remove `store`, or set `mode: external-secrets`")


# --- router generation and provider -----------------------------------------------------------

def _target_rules(intent: Intent) -> Iterator[Diagnostic]:
    """Each router generation reads its own fields: Platter its images, JCNR its data path (a fabric
    interface and address per node) and chart values.

    A field only Platter reads is a warning under JCNR (JCN914). The JCNR fields are not one under
    Platter: an intent built for both generations (the walkthrough is) carries the JCNR data path,
    which describes the nodes' second NIC and is true whichever generation runs; Platter simply runs
    VXLAN and BGP from `address`. docs/jcnr.md lists what each target reads."""
    yield from _router_namespace(intent)
    if intent.target == "jcnr":
        yield from _jcnr_data_path(intent)
        yield from _ignored_by_jcnr(intent)
    else:
        yield from _platter_images(intent)


def _platter_images(intent: Intent) -> Iterator[Diagnostic]:
    if intent.images is None:
        return
    missing = [key for key in ("platter", "crpd") if getattr(intent.images, key) is None]
    if missing:
        keys = " and ".join(f"`{key}`" for key in missing)
        yield error("JCN102", f"missing required key{'s' if len(missing) > 1 else ''} {keys} in `images`: target platter "
                              "installs its CNI from `platter` and runs cRPD from `crpd`", ("images",), at="key",
                    help=" and ".join(f"`{key}: registry.example.com/{key}:latest`" for key in missing) +
                         " for example (target jcnr takes its images from its Helm chart, `cluster.jcnr`)")


def _ignored_by_jcnr(intent: Intent) -> Iterator[Diagnostic]:
    ignored: list[tuple[Path, str]] = []
    if intent.images is not None:
        ignored += [(("images", key), f"`images.{key}`") for key in ("platter", "crpd")
                    if getattr(intent.images, key) is not None]
    if intent.cluster is not None and "segmentRouting" in intent.cluster.model_fields_set:
        ignored.append((("cluster", "segmentRouting"), "`cluster.segmentRouting`"))
    for i, node in intent.nodes:
        for key in ("isoLoopback", "ipv6Loopback"):
            if getattr(node, key) is not None:
                ignored.append((("nodes", i, key), f"`nodes[{i}].{key}`"))
    for i, pod in intent.pods:
        for k, attachment in enumerate(pod.networks):
            if attachment.mtu is not None:
                ignored.append((("pods", i, "networks", k, "mtu"), f"`pods[{i}].networks[{k}].mtu`"))
    for path, shown in ignored:
        yield warning("JCN914", f"{shown} is used only by target platter; target jcnr ignores it", path, at="key",
                      help="remove it, or build with `--target platter`; see docs/jcnr.md for what each target reads")


def _jcnr_data_path(intent: Intent) -> Iterator[Diagnostic]:
    """JCNR's DPDK vRouter forwards VXLAN through a fabric interface: every node needs that interface
    and its IPv4 address there, the VTEP and BGP source of the node."""
    cluster_interface = intent.cluster.fabricInterface if intent.cluster is not None else None
    without_interface = [node.name for _, node in intent.nodes if node.fabricInterface is None]
    if intent.cluster is not None and cluster_interface is None and without_interface:
        yield error("JCN514", "target jcnr needs the fabric interface the DPDK vRouter takes over, and `cluster.fabricInterface` "
                              f"is not set ({len(without_interface)} of {len(intent.nodes)} nodes set no `fabricInterface` "
                              "of their own)",
                    ("cluster",), at="key",
                    help="add `fabricInterface: <name>` under `cluster` (the NIC that holds the nodes' `fabricAddress`, "
                         "e.g. eth1); a node whose NIC is named otherwise sets its own `fabricInterface`")
    yield from _fabric_interfaces(intent)
    fabric_seen: dict[str, Path] = {}
    addresses = {str(node.address): (i, node.name) for i, node in intent.nodes}
    ranges = list(_overlay_and_cluster_ranges(intent))
    for i, node in intent.nodes:
        if node.fabricAddress is None:
            interface = node.fabricInterface or cluster_interface
            yield error("JCN514", f"node `{node.name}` has no `fabricAddress`: target jcnr runs VXLAN and BGP from the "
                                  f"node's IPv4 address on {interface or 'its fabric interface'}", ("nodes", i, "name"),
                        help=f"add `fabricAddress: <IPv4>` to the node: the address `ip -4 addr show {interface or '<NIC>'}` "
                             "shows on the node before JCNR takes the interface over")
            continue
        path = ("nodes", i, "fabricAddress")
        text = str(node.fabricAddress)
        problem = _special_problem(f"node `{node.name}` fabric address", ip_network(node.fabricAddress), path, shown=text,
                                   advice="use the node's address on its fabric interface")
        if problem is not None:
            yield problem
            continue
        inside = next(((what, network, where) for what, network, where in ranges if node.fabricAddress in network), None)
        if inside is not None:
            what, network, where = inside
            yield error("JCN519", f"fabric address `{text}` of node `{node.name}` lies in {what} {network}", path,
                        related=(Related(what, where),),
                        help="the fabric address is the node's VTEP, BGP source and router ID: it must be the node's own "
                             "address on its fabric interface, outside the pod, service and VRF ranges")
            continue
        other = addresses.get(text)
        if text in fabric_seen:
            yield error("JCN409", f"duplicate fabric address `{text}`", path,
                        related=(Related("first used", fabric_seen[text]),),
                        help="every node needs its own fabric address: it is the node's VTEP and BGP identity")
        elif other is not None and other[0] != i:
            yield error("JCN409", f"fabric address `{text}` of node `{node.name}` is the address of node `{other[1]}`",
                        path, related=(Related("that node's address", ("nodes", other[0], "address")),),
                        help="the fabric address is the node's own address on its fabric interface")
        else:
            fabric_seen[text] = path


# Namespaces that hold the router's own pods: kube-system (the cluster's own, and Platter's CNI and cRPD
# DaemonSets), and for JCNR the chart's namespace jcnr (its cRPD and vRouter). Workloads there sit
# beside pods `verify --live` executes in, and inherit whatever those namespaces allow.
ROUTER_NAMESPACES = {"kube-system": ("platter", "jcnr"), "jcnr": ("jcnr",)}


def _router_namespace(intent: Intent) -> Iterator[Diagnostic]:
    namespace = intent.metadata.namespace if intent.metadata is not None else None
    if namespace in ROUTER_NAMESPACES and intent.target in ROUTER_NAMESPACES[namespace]:
        yield error("JCN522", f"`metadata.namespace` is `{namespace}`, where the {intent.target} router runs its own pods: "
                              "the intent's pods and NADs need a namespace of their own", ("metadata", "namespace"),
                    help="use the application's namespace, e.g. `default` or `ran`")


def _overlay_and_cluster_ranges(intent: Intent) -> Iterator[tuple[str, IPv4Network, Path]]:
    """The IPv4 ranges no node's own address may lie in: the pod and service ranges of the primary CNI
    and every VRF pool (pods take addresses there)."""
    if intent.cluster is not None:
        yield "`cluster.podCidr`", intent.cluster.podCidr, ("cluster", "podCidr")
        yield "`cluster.serviceCidr`", intent.cluster.serviceCidr, ("cluster", "serviceCidr")
    for i, vrf in intent.vrfs:
        if vrf.ipv4Pool is not None:
            yield f"VRF `{vrf.name}` `ipv4Pool`", vrf.ipv4Pool, ("vrfs", i, "ipv4Pool")


# Providers whose nodes have one NIC by default: the DPDK vRouter taking it would cut the node off.
SINGLE_NIC_PROVIDERS = ("aks", "eks")


def _fabric_interfaces(intent: Intent) -> Iterator[Diagnostic]:
    """The interface DPDK takes over must be a NIC the node can spare: never its loopback, and on cloud
    nodes (one NIC unless more are attached) not its primary interface."""
    named: list[tuple[str, Path]] = []
    if intent.cluster is not None and intent.cluster.fabricInterface is not None:
        named.append((intent.cluster.fabricInterface, ("cluster", "fabricInterface")))
    named += [(node.fabricInterface, ("nodes", i, "fabricInterface")) for i, node in intent.nodes
              if node.fabricInterface is not None]
    provider = intent.cluster.provider if intent.cluster is not None else None
    for interface, path in named:
        if interface == "lo":
            yield error("JCN519", "the fabric interface cannot be `lo`: the DPDK vRouter takes over a NIC, and the "
                                  "loopback is none", path, help="name the NIC that holds the fabric addresses, e.g. eth1")
        elif interface == "eth0" and provider in SINGLE_NIC_PROVIDERS:
            yield warning("JCN924", f"the fabric interface is `eth0`, the primary interface of {provider} nodes: the DPDK "
                                    "vRouter takes it away from the kernel, and the node loses its cluster network", path,
                          help="attach a second NIC for the fabric (JCNR on AKS/EKS uses one) and name it, e.g. eth1")


def _provider_rules(intent: Intent) -> Iterator[Diagnostic]:
    if intent.cluster is None:
        return
    kube_config = intent.cluster.kubeConfig
    problem = names.kubeconfig_file_problem(kube_config) if kube_config is not None else None
    if kube_config is not None and problem is not None:
        own = providers.profile(intent.cluster.provider).kubeconfig
        allowed = ", ".join(f"{path} ({used})" for path, used in names.KUBECONFIG_FILES.items())
        yield error("JCN111", f"`cluster.kubeConfig` {escaped(kube_config)} {problem}: node preparation copies the "
                    "node's credentials to this path as root", ("cluster", "kubeConfig"),
                    help=f"remove `kubeConfig` to use the kubelet's own {own}, or name one of {allowed}")
        return
    for advice in providers.advice(intent.cluster.provider, kube_config, intent.cluster.cniCredentials):
        yield warning("JCN916", advice.message, advice.path, help=advice.help)


# --- warnings --------------------------------------------------------------------------------

POOL_WARNING_SIZE = 1 << 16
POOL_WARNING_RATIO = 1024


def _usage_warnings(intent: Intent) -> Iterator[Diagnostic]:
    """Suspicious but legal. Skipped while items are broken: a typo in a pod would make its
    node and its VRF look unused, and that is one mistake, already reported."""
    if not intent.complete:
        return
    attachments_per_vrf: dict[str, int] = defaultdict(int)
    pods_per_node: dict[str, int] = defaultdict(int)
    for _, pod in intent.pods:
        pods_per_node[pod.node] += 1
        for attachment in pod.networks:
            attachments_per_vrf[attachment.vrf] += 1
    vrf_names = {v.name for _, v in intent.vrfs}
    if not intent.fleet_member and all(name in vrf_names for name in attachments_per_vrf):
        yield from vrf_usage(intent, attachments_per_vrf)
    workers = {n.name for _, n in intent.nodes if n.role == "worker"}
    has_master = any(n.role == "master" for _, n in intent.nodes)
    # A pod on an unknown node or on a master was meant for some worker, and without a master the
    # roles themselves are wrong: those are the mistakes to report, not the idle worker they leave.
    if intent.pods and has_master and all(name in workers for name in pods_per_node):
        for i, node in intent.nodes:
            if node.role == "worker" and pods_per_node.get(node.name, 0) == 0:
                yield warning("JCN911", f"worker `{node.name}` runs no pods", ("nodes", i, "name"),
                              help="its cRPD still peers with the route reflector; that is fine if pods come later")


def vrf_usage(intent: Intent, attachments_per_vrf: dict[str, int]) -> Iterator[Diagnostic]:
    for i, vrf in intent.vrfs:
        demand = attachments_per_vrf.get(vrf.name, 0)
        if demand == 0:
            yield warning("JCN910", f"VRF `{vrf.name}` has no pod attachments", ("vrfs", i, "name"),
                          help="it produces a NetworkAttachmentDefinition that nothing uses; attach a pod or remove the VRF")
            continue
        for family, pool, link in (("ipv4", vrf.ipv4Pool, vrf.ipv4LinkPrefix), ("ipv6", vrf.ipv6Pool, vrf.ipv6LinkPrefix)):
            if pool is None:
                continue
            needed = demand * (1 << (pool.max_prefixlen - link))
            if pool.num_addresses > POOL_WARNING_SIZE and pool.num_addresses > needed * POOL_WARNING_RATIO:
                fitting = _fitting_prefix(pool.max_prefixlen, needed)
                yield warning("JCN912", f"VRF `{vrf.name}` {family} pool {pool} has {pool.num_addresses} addresses for "
                              f"{demand} attachment{'s' if demand != 1 else ''}", ("vrfs", i, f"{family}Pool"),
                              help=f"a /{fitting} holds them with room to spare; a smaller pool leaves room for other VRFs "
                                   "and keeps routes readable")


LINUX_DEFAULT_MTU = 1500


def _jcnr_pod_mtu(intent: Intent) -> Iterator[Diagnostic]:
    """JCNR's NAD and cni-args have no MTU key (Juniper's JCNR NAD reference): a pod's veth keeps
    Linux's 1500, and when the overlay carries less, bulk traffic is dropped."""
    if intent.target != "jcnr" or intent.cluster is None or not intent.pods:
        return
    overlay = intent.cluster.underlayMtu - VXLAN_OVERHEAD
    if overlay >= LINUX_DEFAULT_MTU:
        return
    yield warning("JCN923", f"target jcnr cannot set the pods' MTU (its NAD and cni-args have no MTU key): their "
                            f"interfaces keep {LINUX_DEFAULT_MTU} bytes, but the overlay carries {overlay} "
                            f"(`cluster.underlayMtu` {intent.cluster.underlayMtu} minus {VXLAN_OVERHEAD} for VXLAN), so "
                            "full-size packets are dropped", ("cluster", "underlayMtu"),
                  help=f"raise `cluster.underlayMtu` to at least {LINUX_DEFAULT_MTU + VXLAN_OVERHEAD} (jumbo frames on the "
                       f"fabric), or set the MTU in each pod (`ip link set net1 mtu {overlay}`)")


def _lone_route_reflector(intent: Intent) -> Iterator[Diagnostic]:
    """One route reflector is a single point of failure for every route of the cluster."""
    masters = [(i, n) for i, n in intent.nodes if n.role == "master"]
    if len(masters) != 1 or not any(n.role == "worker" for _, n in intent.nodes):
        return
    i, master = masters[0]
    bgp = intent.cluster.bgp if intent.cluster is not None else None
    keeps = ("graceful restart keeps the routes while its cRPD restarts, not when the node is gone"
             if bgp is None or bgp.gracefulRestart else "and graceful restart is off")
    yield warning("JCN922", f"`{master.name}` is the only route reflector: when it fails, every worker withdraws every "
                            f"route after the BGP hold time (90 s); {keeps}", ("nodes", i, "role"),
                  help="give a second node `role: master` (workers peer with every route reflector), and consider "
                       "`cluster.bgp.bfd` to notice a failure in about a second")


def _fitting_prefix(max_prefixlen: int, needed: int) -> int:
    """The longest prefix with room for 4x `needed` addresses (growth without re-addressing)."""
    bits = max((needed * 4 - 1).bit_length(), 2)
    return max_prefixlen - bits


# --- helpers ---------------------------------------------------------------------------------

def _duplicates(entries: Iterable[tuple[tuple, object]], code: str, what: str, scope: str = "") -> Iterator[Diagnostic]:
    first_seen: dict[object, tuple] = {}
    within = f" in {scope}" if scope else ""
    for path, value in entries:
        if value in first_seen:
            yield error(code, f"duplicate {what} `{escaped(str(value))}`{within}", path,
                        related=(Related("first defined", first_seen[value]),),
                        help=f"every {what}{within} must be unique")
        else:
            first_seen[value] = path

