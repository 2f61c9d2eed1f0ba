"""Stable allocation of everything the intent may leave out: node indexes, VNIs, route
distinguisher numbers, MACs and pod link subnets.

Stability comes from the lock (``<intent>.lock.json``, committed next to the intent): a value
that was handed out once is read back and kept as long as it is still valid, so adding,
removing or reordering pods, nodes or VRFs never moves an existing address. New items take the
lowest free value, in the order they appear in the intent. Explicit values in the intent always
win and are never handed out to anything else.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right, insort
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

from jcnrc.diagnostics import Diagnostic, error
from jcnrc.model import Topology
from jcnrc.rules import interface_name

LOCK_KIND = "AllocationLock"


@dataclass
class Lock:
    """What earlier builds handed out. Plain JSON-able data."""

    nodes: dict[str, int] = field(default_factory=dict)
    vnis: dict[str, int] = field(default_factory=dict)
    route_distinguishers: dict[str, int] = field(default_factory=dict)
    macs: dict[str, str] = field(default_factory=dict)
    subnets: dict[str, dict[str, str]] = field(default_factory=dict)  # attachment key -> {ipv4: cidr, ipv6: cidr}

    def to_json(self) -> str:
        body = {
            "apiVersion": "jcnrc/v1",
            "kind": LOCK_KIND,
            "comment": "Values jcnrc allocated for this intent. Commit this file next to the intent: it keeps addresses stable.",
            "nodes": self.nodes,
            "vnis": self.vnis,
            "routeDistinguishers": self.route_distinguishers,
            "macs": self.macs,
            "subnets": self.subnets,
        }
        return json.dumps(body, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Lock:
        body = json.loads(text)
        if not isinstance(body, dict) or body.get("kind") != LOCK_KIND:
            raise ValueError(f"not a jcnrc lock file (kind is not {LOCK_KIND})")
        return cls(
            nodes=_dict_of(body.get("nodes"), int),
            vnis=_dict_of(body.get("vnis"), int),
            route_distinguishers=_dict_of(body.get("routeDistinguishers"), int),
            macs=_dict_of(body.get("macs"), str),
            subnets={k: _dict_of(v, str) for k, v in (body.get("subnets") or {}).items() if isinstance(v, dict)},
        )


def _dict_of(value, kind) -> dict:
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, kind) and not isinstance(v, bool)}


def attachment_key(pod: str, interface: str) -> str:
    return f"{pod}/{interface}"


@dataclass
class LinkAllocation:
    subnet: IPv4Network | IPv6Network
    explicit_address: IPv4Address | IPv6Address | None = None

    @property
    def gateway(self):
        return self.subnet.network_address + 1

    @property
    def address(self):
        """The pod's address: as written in the intent, else the host after the gateway."""
        return self.explicit_address or self.subnet.network_address + 2


@dataclass
class Allocation:
    node_index: dict[str, int]
    vni: dict[str, int]
    rd: dict[str, int]
    mac: dict[str, str]
    links: dict[str, dict[str, LinkAllocation]]  # attachment key -> family -> allocation
    lock: Lock
    diagnostics: list[Diagnostic]


def allocate(topology: Topology, previous: Lock | None) -> Allocation:
    previous = previous or Lock()
    diagnostics: list[Diagnostic] = []
    node_index = _node_indexes(topology, previous)
    vni = _vnis(topology, previous, diagnostics)
    rd = _route_distinguishers(topology, previous)
    mac = _macs(topology, previous)
    links = _links(topology, previous, diagnostics)
    explicit_vnis = {v.name for v in topology.vrfs if v.vni is not None}
    explicit_rds = {v.name for v in topology.vrfs if v.routeDistinguisherId is not None}
    explicit_macs = _explicit_macs(topology)
    explicit_links = _explicit_links(topology)
    allocated_links = {
        key: {family: str(link.subnet) for family, link in sorted(families.items()) if family not in explicit_links.get(key, ())}
        for key, families in sorted(links.items())
    }
    lock = Lock(
        nodes=dict(sorted(node_index.items())),
        vnis={k: v for k, v in sorted(vni.items()) if k not in explicit_vnis},
        route_distinguishers={k: v for k, v in sorted(rd.items()) if k not in explicit_rds},
        macs={k: v for k, v in sorted(mac.items()) if k not in explicit_macs},
        subnets={key: families for key, families in allocated_links.items() if families},
    )
    return Allocation(node_index, vni, rd, mac, links, lock, diagnostics)


def _lowest_free(taken: set[int], start: int):
    candidate = start
    while True:
        if candidate not in taken:
            yield candidate
            taken.add(candidate)
        candidate += 1


def _keep_locked(names: list[str], locked: dict[str, int], reserved: set[int], valid=lambda value: True) -> dict[str, int]:
    kept: dict[str, int] = {}
    used = set(reserved)
    for name in names:
        value = locked.get(name)
        if value is not None and value not in used and valid(value):
            kept[name] = value
            used.add(value)
    return kept


def _node_indexes(topology: Topology, previous: Lock) -> dict[str, int]:
    names = [n.name for n in topology.nodes]
    kept = _keep_locked(names, previous.nodes, set(), lambda v: v >= 0)
    free = _lowest_free(set(kept.values()), 0)
    return {name: kept[name] if name in kept else next(free) for name in names}


def _vnis(topology: Topology, previous: Lock, diagnostics: list[Diagnostic]) -> dict[str, int]:
    explicit = {v.name: v.vni for v in topology.vrfs if v.vni is not None}
    rng = topology.cluster.vniRange
    wanted = [v.name for v in topology.vrfs if v.vni is None]
    kept = _keep_locked(wanted, previous.vnis, set(explicit.values()), lambda v: rng.first <= v <= rng.last)
    taken = set(explicit.values()) | set(kept.values())
    free = _lowest_free(taken, rng.first)
    result = dict(explicit)
    for index, vrf in enumerate(topology.vrfs):
        if vrf.name in result:
            continue
        if vrf.name in kept:
            result[vrf.name] = kept[vrf.name]
            continue
        value = next(free)
        if value > rng.last:
            diagnostics.append(error("JCN508", f"no free VNI left in `cluster.vniRange` {rng.first}..{rng.last} for VRF `{vrf.name}`",
                                     ("vrfs", index, "name"), help="widen `cluster.vniRange` or give the VRF a `vni`"))
            value = 0
        result[vrf.name] = value
    return result


def _route_distinguishers(topology: Topology, previous: Lock) -> dict[str, int]:
    explicit = {v.name: v.routeDistinguisherId for v in topology.vrfs if v.routeDistinguisherId is not None}
    wanted = [v.name for v in topology.vrfs if v.name not in explicit]
    kept = _keep_locked(wanted, previous.route_distinguishers, set(explicit.values()), lambda v: 1 <= v <= 65535)
    free = _lowest_free(set(explicit.values()) | set(kept.values()), 1)
    return {v.name: explicit.get(v.name) or kept.get(v.name) or next(free) for v in topology.vrfs}


def _explicit_macs(topology: Topology) -> set[str]:
    return {attachment_key(p.name, interface_name(a, k)) for p in topology.pods for k, a in enumerate(p.networks) if a.mac}


def _explicit_links(topology: Topology) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for pod in topology.pods:
        for k, a in enumerate(pod.networks):
            families = {f for f in ("ipv4", "ipv6") if getattr(a, f) is not None}
            if families:
                found[attachment_key(pod.name, interface_name(a, k))] = families
    return found


def derived_mac(seed: str, attempt: int = 0) -> str:
    """Locally administered unicast (02:...), from a hash so it does not depend on file order."""
    digest = hashlib.sha256(f"{seed}#{attempt}".encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def _macs(topology: Topology, previous: Lock) -> dict[str, str]:
    result: dict[str, str] = {}
    used: set[str] = set()
    pending: list[str] = []
    for pod in topology.pods:
        for k, a in enumerate(pod.networks):
            key = attachment_key(pod.name, interface_name(a, k))
            if a.mac:
                result[key] = a.mac.lower()
                used.add(a.mac.lower())
            else:
                pending.append(key)
    for key in pending:
        locked = previous.macs.get(key)
        if locked and locked not in used:
            result[key] = locked
            used.add(locked)
    namespace = topology.metadata.namespace
    for key in pending:
        if key in result:
            continue
        attempt = 0
        mac = derived_mac(f"{namespace}/{key}")
        while mac in used:
            attempt += 1
            mac = derived_mac(f"{namespace}/{key}", attempt)
        result[key] = mac
        used.add(mac)
    return result


class _Intervals:
    """Used address ranges of one pool, sorted, for first-fit allocation without pairwise scans."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: dict[int, int] = {}

    def add(self, start: int, end: int) -> None:
        insort(self.starts, start)
        self.ends[start] = max(end, self.ends.get(start, end))

    def overlapping(self, start: int, end: int) -> int | None:
        """End of a used range overlapping [start, end], if any."""
        index = bisect_right(self.starts, end)
        worst = None
        # Ranges are link subnets (aligned, mostly equal size): look back a few entries only.
        for probe in range(index - 1, max(index - 4, -1), -1):
            s = self.starts[probe]
            e = self.ends[s]
            if e >= start and s <= end:
                worst = max(worst or e, e)
        return worst


def _links(topology: Topology, previous: Lock, diagnostics: list[Diagnostic]) -> dict[str, dict[str, LinkAllocation]]:
    vrfs = {v.name: (i, v) for i, v in enumerate(topology.vrfs)}
    result: dict[str, dict[str, LinkAllocation]] = {}
    used: dict[tuple[str, str], _Intervals] = {}
    pending: list[tuple[str, str, str]] = []  # (key, vrf, family)

    def intervals(vrf: str, family: str) -> _Intervals:
        return used.setdefault((vrf, family), _Intervals())

    for pod in topology.pods:
        for k, a in enumerate(pod.networks):
            key = attachment_key(pod.name, interface_name(a, k))
            vrf = vrfs[a.vrf][1]
            for family in ("ipv4", "ipv6"):
                iface = getattr(a, family)
                if iface is not None:
                    net = iface.network
                    result.setdefault(key, {})[family] = LinkAllocation(net, iface.ip)
                    intervals(a.vrf, family).add(int(net.network_address), int(net.broadcast_address))
                elif getattr(vrf, f"{family}Pool") is not None:
                    pending.append((key, a.vrf, family))
    fresh: list[tuple[str, str, str]] = []
    for key, vrf_name, family in pending:
        vrf = vrfs[vrf_name][1]
        locked = _locked_subnet(previous, key, family, vrf)
        spans = intervals(vrf_name, family)
        if locked is not None and spans.overlapping(int(locked.network_address), int(locked.broadcast_address)) is None:
            result.setdefault(key, {})[family] = LinkAllocation(locked)
            spans.add(int(locked.network_address), int(locked.broadcast_address))
        else:
            fresh.append((key, vrf_name, family))
    cursors: dict[tuple[str, str], int] = {}
    for key, vrf_name, family in fresh:
        index, vrf = vrfs[vrf_name]
        pool = getattr(vrf, f"{family}Pool")
        prefix = getattr(vrf, f"{family}LinkPrefix")
        subnet = _first_fit(pool, prefix, intervals(vrf_name, family), cursors, (vrf_name, family))
        if subnet is None:
            demand = sum(1 for _, v, f in fresh if v == vrf_name and f == family)
            diagnostics.append(error(
                "JCN508",
                f"VRF `{vrf_name}` {family} pool {pool} is exhausted: it has room for {2 ** (prefix - pool.prefixlen)} "
                f"link subnets of /{prefix}, and {demand} more attachments need one",
                ("vrfs", index, f"{family}Pool"),
                help=f"widen `{family}Pool` or lengthen `{family}LinkPrefix`"))
            return result
        result.setdefault(key, {})[family] = LinkAllocation(subnet)
    return result


def _locked_subnet(previous: Lock, key: str, family: str, vrf) -> IPv4Network | IPv6Network | None:
    text = previous.subnets.get(key, {}).get(family)
    if not text:
        return None
    try:
        net = ip_network(text)
    except ValueError:
        return None
    pool = getattr(vrf, f"{family}Pool")
    prefix = getattr(vrf, f"{family}LinkPrefix")
    if pool is None or net.version != pool.version or net.prefixlen != prefix or not net.subnet_of(pool):
        return None
    return net


def _first_fit(pool, prefix: int, spans: _Intervals, cursors: dict, cursor_key) -> IPv4Network | IPv6Network | None:
    size = 1 << (pool.max_prefixlen - prefix)
    first = int(pool.network_address)
    last = int(pool.broadcast_address)
    candidate = cursors.get(cursor_key, first)
    while candidate + size - 1 <= last:
        blocking_end = spans.overlapping(candidate, candidate + size - 1)
        if blocking_end is None:
            spans.add(candidate, candidate + size - 1)
            cursors[cursor_key] = candidate + size
            return type(pool)((candidate, prefix))
        # Jump past the blocking range, realigned to the link size.
        candidate = ((blocking_end + 1 + size - 1) // size) * size
    return None
