"""Semantic rules: every check that looks at more than one field of the intent.

Rules see the intent items with their original list positions, so that a rule can still run
when other items failed structure checking (all errors in one run), and every diagnostic
points at the item it is about. Overlap checks sort and sweep, never compare all pairs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Iterable, Iterator

from jcnrc import routetarget
from jcnrc.diagnostics import Diagnostic, Related, did_you_mean, error, warning
from jcnrc.model import Attachment, Cluster, Expectation, Node, Pod, Secrets, Vrf

VXLAN_OVERHEAD = 50


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
    # Names written in the file, valid or not: a pod naming a node whose entry had a typo
    # elsewhere is not reported again as "unknown node".
    written_names: dict[str, set[str]] = field(default_factory=dict)
    complete: bool = True


def interface_name(attachment: Attachment, position: int) -> str:
    return attachment.interface or f"net{position + 1}"


def run(intent: Intent) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for rule in (_roles, _node_rules, _vrf_rules, _pod_rules, _overlaps, _route_target_conflicts, _expectations, _secret_rules, _usage_warnings):
        found.extend(rule(intent))
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


# --- nodes -----------------------------------------------------------------------------------

def _node_rules(intent: Intent) -> Iterator[Diagnostic]:
    yield from _duplicates(((("nodes", i, "name"), n.name) for i, n in intent.nodes), "JCN401", "node name")
    yield from _duplicates(((("nodes", i, "address"), str(n.address)) for i, n in intent.nodes), "JCN402", "node address")
    if intent.cluster is None:
        return
    subnet = intent.cluster.nodeSubnet
    for i, node in intent.nodes:
        if node.address not in subnet:
            yield error("JCN501", f"node address {node.address} is outside `cluster.nodeSubnet` {subnet}",
                        ("nodes", i, "address"), help="use the node's InternalIP (`kubectl get nodes -o wide`) or fix `nodeSubnet`")
        elif node.address in (subnet.network_address, subnet.broadcast_address):
            yield error("JCN501", f"node address {node.address} is the network or broadcast address of {subnet}",
                        ("nodes", i, "address"))


# --- VRFs ------------------------------------------------------------------------------------

def targets_of(vrf: Vrf) -> tuple[frozenset[str], frozenset[str]] | None:
    """(import, export) in canonical `target:A:B` form; None when derived later from the VNI."""
    spec = vrf.routeTarget
    if spec is None:
        return None
    try:
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
        yield from _route_target_syntax(i, vrf)
        yield from _pool_rules(intent, i, vrf)
    vni_rangeless = intent.cluster is None
    if not vni_rangeless:
        rng = intent.cluster.vniRange
        if rng.first > rng.last:
            yield error("JCN105", f"`cluster.vniRange` is empty: first {rng.first} is after last {rng.last}", ("cluster", "vniRange"))


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
            yield error("JCN204", f"route target {text!r} is invalid: {exc}", path,
                        help="valid forms: 2-byte AS:32-bit number (11:11), 4-byte AS:16-bit number (4200000000:7), IPv4:16-bit number (10.0.0.1:5)")


def _pool_rules(intent: Intent, i: int, vrf: Vrf) -> Iterator[Diagnostic]:
    if intent.cluster is None or vrf.ipv4Pool is None:
        return
    for key in ("nodeSubnet", "podCidr", "serviceCidr"):
        other = getattr(intent.cluster, key)
        if vrf.ipv4Pool.overlaps(other):
            yield error("JCN506", f"VRF `{vrf.name}` pool {vrf.ipv4Pool} overlaps `cluster.{key}` {other}",
                        ("vrfs", i, "ipv4Pool"),
                        help="overlay pools must not overlap the cluster's own ranges, or the node routes its own traffic into the VRF")


# --- pods ------------------------------------------------------------------------------------

def _pod_rules(intent: Intent) -> Iterator[Diagnostic]:
    yield from _duplicates(((("pods", i, "name"), p.name) for i, p in intent.pods), "JCN405", "pod name")
    nodes = {n.name: (i, n) for i, n in intent.nodes}
    vrfs = {v.name: (i, v) for i, v in intent.vrfs}
    macs = []
    for i, pod in intent.pods:
        yield from _placement(intent, i, pod, nodes)
        yield from _duplicates(((("pods", i, "networks", k, "interface"), interface_name(a, k)) for k, a in enumerate(pod.networks)),
                               "JCN406", f"interface name in pod `{pod.name}`")
        for k, attachment in enumerate(pod.networks):
            path = ("pods", i, "networks", k)
            if attachment.mac:
                macs.append((path + ("mac",), attachment.mac.lower()))
            if attachment.vrf not in vrfs:
                if attachment.vrf not in intent.written_names.get("vrfs", set()):
                    yield error("JCN305", f"VRF `{attachment.vrf}` is not defined", path + ("vrf",),
                                help=did_you_mean(attachment.vrf, vrfs) or _defined("VRFs", vrfs))
                continue
            vrf = vrfs[attachment.vrf][1]
            yield from _address_rules(path, attachment, vrf)
            yield from _mtu_rule(intent, path, attachment)
    yield from _duplicates(iter(macs), "JCN407", "MAC address")
    for path, mac in macs:
        first_octet = int(mac[:2], 16)
        if first_octet & 1:
            yield error("JCN206", f"MAC {mac} is a multicast address", path, help="the first octet must be even; 02:xx:... is locally administered unicast")


def _defined(what: str, names: Iterable[str]) -> str:
    names = sorted(names)
    if not names:
        return f"no {what} are defined"
    return f"defined {what}: " + ", ".join(f"`{n}`" for n in names[:8]) + (" ..." if len(names) > 8 else "")


def _placement(intent: Intent, i: int, pod: Pod, nodes: dict) -> Iterator[Diagnostic]:
    if pod.node not in nodes:
        if pod.node not in intent.written_names.get("nodes", set()):
            yield error("JCN303", f"pod `{pod.name}` is placed on node `{pod.node}`, which is not defined", ("pods", i, "node"),
                        help=did_you_mean(pod.node, nodes) or _defined("nodes", nodes))
        return
    node_index, node = nodes[pod.node]
    if node.role != "worker":
        yield error("JCN304", f"pod `{pod.name}` is placed on `{pod.node}`, a master; pods run on workers", ("pods", i, "node"),
                    related=(Related("the node is defined here", ("nodes", node_index, "role")),),
                    help="move the pod to a worker: the master is the route reflector and carries no VRFs")


def _address_rules(path: tuple, attachment: Attachment, vrf: Vrf) -> Iterator[Diagnostic]:
    for family, iface, pool in (("ipv4", attachment.ipv4, vrf.ipv4Pool), ("ipv6", attachment.ipv6, vrf.ipv6Pool)):
        if iface is None:
            continue
        where = path + (family,)
        if pool is None:
            yield error("JCN507", f"the attachment has an {family} address but VRF `{vrf.name}` has no `{family}Pool`", where,
                        help=f"add `{family}Pool` to VRF `{vrf.name}` or remove the address")
            continue
        net = iface.network
        if net.prefixlen >= net.max_prefixlen - 1:
            yield error("JCN509", f"link subnet {net} leaves no room for both a gateway and the pod", where,
                        help=f"use /{net.max_prefixlen - 2} or shorter (e.g. {'/30' if family == 'ipv4' else '/126'})")
            continue
        if not net.subnet_of(pool):
            yield error("JCN502", f"{iface} is outside VRF `{vrf.name}`'s {family} pool {pool}", where,
                        help=f"pick an address in {pool}, or omit it to have one allocated")
            continue
        reserved = {net.network_address: "the network address", net.network_address + 1: "the gateway (first host)"}
        if isinstance(net, IPv4Network):
            reserved[net.broadcast_address] = "the broadcast address"
        if iface.ip in reserved:
            usable = net.network_address + 2
            yield error("JCN504", f"{iface.ip} is {reserved[iface.ip]} of link subnet {net}", where,
                        help=f"the node side takes {net.network_address + 1}; give the pod {usable}/{net.prefixlen}")


def _mtu_rule(intent: Intent, path: tuple, attachment: Attachment) -> Iterator[Diagnostic]:
    if attachment.mtu is None or intent.cluster is None:
        return
    limit = intent.cluster.underlayMtu - VXLAN_OVERHEAD
    if attachment.mtu > limit:
        yield error("JCN601", f"MTU {attachment.mtu} does not fit the underlay: {intent.cluster.underlayMtu} minus {VXLAN_OVERHEAD} bytes of VXLAN is {limit}",
                    path + ("mtu",), help=f"use at most {limit}, or raise `cluster.underlayMtu`")


# --- overlaps --------------------------------------------------------------------------------

def sharing(vrfs: list[tuple[int, Vrf]]) -> dict[str, set[str]]:
    """VRF name -> names of the VRFs whose routes it installs (itself included)."""
    exporters: dict[str, set[str]] = defaultdict(set)
    imports: dict[str, frozenset[str]] = {}
    for _, vrf in vrfs:
        targets = targets_of(vrf)
        if targets is None:
            continue
        imports[vrf.name] = targets[0]
        for target in targets[1]:
            exporters[target].add(vrf.name)
    installs: dict[str, set[str]] = {}
    for _, vrf in vrfs:
        learned = {vrf.name}
        for target in imports.get(vrf.name, ()):
            learned |= exporters.get(target, set())
        installs[vrf.name] = learned
    return installs


def _overlaps(intent: Intent) -> Iterator[Diagnostic]:
    installs = sharing(intent.vrfs)
    known_vrfs = {v.name for _, v in intent.vrfs}
    subnets: list[tuple[IPv4Network | IPv6Network, str, tuple]] = []
    for i, pod in intent.pods:
        for k, attachment in enumerate(pod.networks):
            if attachment.vrf not in known_vrfs:
                continue
            for family in ("ipv4", "ipv6"):
                iface = getattr(attachment, family)
                if iface is not None:
                    subnets.append((iface.network, attachment.vrf, ("pods", i, "networks", k, family)))
    yield from sweep_overlaps(subnets, installs)


def sweep_overlaps(subnets, installs: dict[str, set[str]]) -> Iterator[Diagnostic]:
    """Sort by start address and keep the still-open subnets: linear unless subnets really overlap."""
    ordered = sorted(subnets, key=lambda s: (s[0].version, int(s[0].network_address), -s[0].prefixlen, s[2]))
    open_subnets: list[tuple] = []
    for net, vrf, path in ordered:
        start = int(net.network_address)
        open_subnets = [o for o in open_subnets if o[0].version == net.version and int(o[0].broadcast_address) >= start]
        for other, other_vrf, other_path in open_subnets:
            if other_vrf == vrf or vrf in installs.get(other_vrf, ()) or other_vrf in installs.get(vrf, ()):
                scope = f"VRF `{vrf}`" if other_vrf == vrf else f"VRFs `{other_vrf}` and `{vrf}`, which import each other's routes"
                yield error("JCN505", f"link subnet {net} overlaps {other} in {scope}", path,
                            related=(Related(f"{other} is defined here", other_path),),
                            help="give each pod interface its own link subnet, or omit the addresses to have them allocated")
                break
        open_subnets.append((net, vrf, path))


# --- route targets and VNIs ------------------------------------------------------------------

def _route_target_conflicts(intent: Intent) -> Iterator[Diagnostic]:
    by_vni: dict[int, tuple[int, Vrf]] = {}
    by_targets: dict[tuple, tuple[int, Vrf]] = {}
    for i, vrf in intent.vrfs:
        targets = targets_of(vrf)
        if vrf.vni is not None:
            if vrf.vni in by_vni:
                first_index, first = by_vni[vrf.vni]
                same = targets is not None and targets == targets_of(first)
                code, why = ("JCN404", "with the same route targets: the two VRFs are one network") if same else (
                    "JCN702", "with different route targets: both would share one VXLAN segment")
                yield error(code, f"VNI {vrf.vni} is used by VRF `{first.name}` and VRF `{vrf.name}` {why}", ("vrfs", i, "vni"),
                            related=(Related(f"VRF `{first.name}` uses it here", ("vrfs", first_index, "vni")),),
                            help="give every VRF its own VNI" if not same else "merge the two VRFs into one")
            else:
                by_vni[vrf.vni] = (i, vrf)
        if targets is not None and vrf.vni is not None:
            if targets in by_targets and by_targets[targets][1].vni != vrf.vni:
                first_index, first = by_targets[targets]
                yield error("JCN701", f"VRF `{vrf.name}` has the same import and export targets as VRF `{first.name}` but VNI {vrf.vni} instead of {first.vni}",
                            ("vrfs", i, "routeTarget"),
                            related=(Related(f"VRF `{first.name}` is defined here", ("vrfs", first_index, "routeTarget")),),
                            help="VRFs that exchange all routes are one network: give them one VNI, or different targets")
            by_targets.setdefault(targets, (i, vrf))


# --- expectations, secrets -------------------------------------------------------------------

def _expectations(intent: Intent) -> Iterator[Diagnostic]:
    pods = {p.name for _, p in intent.pods} | intent.written_names.get("pods", set())
    vrfs = {v.name for _, v in intent.vrfs} | intent.written_names.get("vrfs", set())
    for i, expectation in intent.expect:
        key = "reach" if expectation.reach is not None else "isolate"
        for k, name in enumerate(expectation.reach or expectation.isolate or []):
            if name not in pods and name not in vrfs:
                yield error("JCN306", f"`{name}` is neither a pod nor a VRF", ("expect", i, key, k),
                            help=did_you_mean(name, pods | vrfs) or "name a pod or a VRF of this intent")


def _secret_rules(intent: Intent) -> Iterator[Diagnostic]:
    secrets = intent.secrets
    if secrets is None:
        return
    if secrets.mode == "external-secrets" and secrets.store is None:
        yield error("JCN802", "`secrets.mode: external-secrets` needs `secrets.store`", ("secrets", "mode"),
                    help="add `store: {name: <ClusterSecretStore>, rootPasswordKey: ..., crpdLicenseKey: ...}`")
    if secrets.store is not None and secrets.mode != "external-secrets":
        yield warning("JCN915", f"`secrets.store` is ignored with `mode: {secrets.mode}`", ("secrets", "store"), at="key")


# --- warnings --------------------------------------------------------------------------------

POOL_WARNING_SIZE = 1 << 16
POOL_WARNING_RATIO = 1024


def _usage_warnings(intent: Intent) -> Iterator[Diagnostic]:
    attachments_per_vrf: dict[str, int] = defaultdict(int)
    pods_per_node: dict[str, int] = defaultdict(int)
    for _, pod in intent.pods:
        pods_per_node[pod.node] += 1
        for attachment in pod.networks:
            attachments_per_vrf[attachment.vrf] += 1
    for i, vrf in intent.vrfs:
        demand = attachments_per_vrf.get(vrf.name, 0)
        if demand == 0:
            yield warning("JCN910", f"VRF `{vrf.name}` has no pod attachments", ("vrfs", i, "name"),
                          help="it produces a NetworkAttachmentDefinition that nothing uses")
        for family, pool, link in (("ipv4", vrf.ipv4Pool, vrf.ipv4LinkPrefix), ("ipv6", vrf.ipv6Pool, vrf.ipv6LinkPrefix)):
            if pool is None or demand == 0:
                continue
            needed = demand * (1 << (pool.max_prefixlen - link))
            if pool.num_addresses > POOL_WARNING_SIZE and pool.num_addresses > needed * POOL_WARNING_RATIO:
                yield warning("JCN912", f"VRF `{vrf.name}` {family} pool {pool} has {pool.num_addresses} addresses for {demand} attachments",
                              ("vrfs", i, f"{family}Pool"), help="a smaller pool leaves room for other VRFs and keeps routes readable")
    for i, node in intent.nodes:
        if node.role == "worker" and pods_per_node.get(node.name, 0) == 0 and intent.pods:
            yield warning("JCN911", f"worker `{node.name}` runs no pods", ("nodes", i, "name"),
                          help="its cRPD still peers with the route reflector; that is fine if pods come later")


# --- helpers ---------------------------------------------------------------------------------

def _duplicates(entries: Iterable[tuple[tuple, object]], code: str, what: str) -> Iterator[Diagnostic]:
    first_seen: dict[object, tuple] = {}
    for path, value in entries:
        if value in first_seen:
            yield error(code, f"duplicate {what} `{value}`", path,
                        related=(Related("first defined here", first_seen[value]),),
                        help=f"every {what} must be unique")
        else:
            first_seen[value] = path


def parse_network(text: str):
    return ip_network(text, strict=False)
