"""Stable allocation of everything the intent may leave out: node indexes, VNIs, route
distinguisher numbers, MACs and pod link subnets.

Stability comes from the lock (``<intent>.lock.json``, committed next to the intent): a value
that was handed out once is read back and kept as long as it is still valid, so adding,
removing or reordering pods, nodes or VRFs never moves an existing address. New items take the
lowest free value, in the order they appear in the intent. Explicit values in the intent always
win and are never handed out to anything else.

Link subnets are kept apart per *route table*, not per pool: two VRFs may reuse one pool when
their routes never meet (that is what VRFs are for), but when some VRF installs the routes of
both (hub and spoke: the hub table holds every spoke's prefixes), their subnets must not
overlap. Every allocation is a first-fit over sorted, merged ranges: no pairwise comparisons,
so 20,000 attachments allocate in well under a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Address, IPv6Network
from socket import AF_INET, AF_INET6, inet_ntop, inet_pton
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, ValidationInfo

from jcnrc.diagnostics import Diagnostic, error, warning
from jcnrc.intent import routetarget
from jcnrc.intent.model import Topology, Vrf, interface_name

LOCK_KIND = "AllocationLock"
FAMILIES = ("ipv4", "ipv6")
RD_NUMBER_MAX = 0xFFFF  # <IPv4 address>:<n> leaves 16 bits for n (RFC 4364 type 1)
NODE_INDEX_MAX = 1048574  # an SR index below the largest SRGB (`srgbRange` is at most 1048575)
VNI_MAX = 16777215  # 24 bits
_UNICAST_MAC = re.compile(r"[0-9a-f][02468ace](?::[0-9a-f]{2}){5}")  # fullmatch only: "$" would let "\n" through


@dataclass
class Lock:
    """What earlier builds handed out. Plain JSON-able data."""

    nodes: dict[str, int] = field(default_factory=dict)
    vnis: dict[str, int] = field(default_factory=dict)
    route_distinguishers: dict[str, int] = field(default_factory=dict)
    macs: dict[str, str] = field(default_factory=dict)
    subnets: dict[str, dict[str, str]] = field(default_factory=dict)  # attachment key -> {ipv4: cidr, ipv6: cidr}
    # The subnets from_json read that are written exactly as jcnrc writes them (`canonical_network`:
    # text -> (first address, prefix length)), so the allocation neither parses them again nor writes
    # their text again (it is `network_text`'s). Other spellings are parsed again, by ipaddress.
    networks: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)

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
        """The lock as jcnrc wrote it. The file comes from the repository: anything else (other
        types, values out of range, a MAC or subnet that is not one, written exactly, unknown keys,
        nesting deeper than a lock has) raises ValueError, and the lock is not used at all."""
        try:
            body = json.loads(text)
        except RecursionError:
            raise ValueError("it is nested too deeply to be a lock file") from None
        except json.JSONDecodeError:
            raise
        except ValueError:  # an integer of thousands of digits
            raise ValueError("it holds a number too long to be a lock value") from None
        if not isinstance(body, dict) or body.get("kind") != LOCK_KIND:
            raise ValueError(f"not a jcnrc lock file (kind is not {LOCK_KIND})")
        networks: dict[str, tuple[int, int]] = {}
        try:
            valid = _LockFile.model_validate(body, strict=True, context=networks)
        except ValidationError as exc:
            raise ValueError(_first_problem(exc)) from None
        except RecursionError:
            raise ValueError("it is nested too deeply to be a lock file") from None
        return cls(
            nodes=dict(valid.nodes),
            vnis=dict(valid.vnis),
            route_distinguishers=dict(valid.routeDistinguishers),
            macs=dict(valid.macs),
            subnets={key: {family: net for family, net in (("ipv4", nets.ipv4), ("ipv6", nets.ipv6)) if net is not None}
                     for key, nets in valid.subnets.items()},
            networks=networks,
        )


# --- what a lock file may hold ------------------------------------------------------------------

_MAC_TEXT = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}")
_NETWORK_TEXT = re.compile(r"[0-9a-fA-F.:]{2,45}/[0-9]{1,3}")


def _mac_text(text: str) -> str:
    if not _MAC_TEXT.fullmatch(text):
        raise ValueError("must be a MAC address like 02:00:00:00:00:01")
    return text.lower()


def canonical_network(version: int, text: str) -> tuple[int, int] | None:
    """(first address, prefix length) of `text` when it is a network written exactly as jcnrc writes
    one (`network_text`: what every lock jcnrc wrote holds), else None: the caller asks ipaddress,
    which accepts the other spellings and words the errors. Text that round-trips through
    `network_text` is text ipaddress writes, so it reads back to the same network."""
    address, slash, length = text.partition("/")
    if not slash or not length.isdigit() or str(int(length)) != length:
        return None
    prefixlen = int(length)
    width = 32 if version == 4 else 128
    if prefixlen > width:
        return None
    try:
        packed = inet_pton(AF_INET if version == 4 else AF_INET6, address)
    except OSError:
        return None
    start = int.from_bytes(packed, "big")
    if start & ((1 << (width - prefixlen)) - 1) or address_text(version, start) != address:
        return None  # host bits set, or another spelling (ipaddress says which)
    return start, prefixlen


def _network_text(kind: type[IPv4Network] | type[IPv6Network], example: str) -> Callable[[str, ValidationInfo], str]:
    version = 4 if kind is IPv4Network else 6

    def parse(text: str, info: ValidationInfo) -> str:
        like = _NETWORK_TEXT.fullmatch(text) is not None
        parsed = canonical_network(version, text) if like else None
        if parsed is None:
            try:
                if not like:
                    raise ValueError(f"not like {example}")
                kind(text, strict=True)
            except ValueError as exc:
                raise ValueError(f"must be an IPv{version} network ({exc})") from None
        elif info.context is not None:
            info.context[text] = parsed  # parsed once: the allocation takes it, and the text, from Lock.networks
        return text
    return parse


_Key = Annotated[StrictStr, Field(min_length=1, max_length=1024)]
_NodeIndex = Annotated[StrictInt, Field(ge=0, le=NODE_INDEX_MAX)]
_Vni = Annotated[StrictInt, Field(ge=1, le=VNI_MAX)]
_RdNumber = Annotated[StrictInt, Field(ge=1, le=RD_NUMBER_MAX)]
_Mac = Annotated[StrictStr, AfterValidator(_mac_text)]
_Ipv4Net = Annotated[StrictStr, AfterValidator(_network_text(IPv4Network, "1.1.0.0/30"))]
_Ipv6Net = Annotated[StrictStr, AfterValidator(_network_text(IPv6Network, "fd00::/126"))]


class _Subnets(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    ipv4: _Ipv4Net | None = None
    ipv6: _Ipv6Net | None = None


class _LockFile(BaseModel):
    """The schema of `<intent>.lock.json`, as Lock.to_json writes it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    apiVersion: Literal["jcnrc/v1"] | None = None
    kind: Literal["AllocationLock"]
    comment: Annotated[StrictStr, Field(max_length=1000)] | None = None
    nodes: dict[_Key, _NodeIndex] = Field(default_factory=dict)
    vnis: dict[_Key, _Vni] = Field(default_factory=dict)
    routeDistinguishers: dict[_Key, _RdNumber] = Field(default_factory=dict)
    macs: dict[_Key, _Mac] = Field(default_factory=dict)
    subnets: dict[_Key, _Subnets] = Field(default_factory=dict)


def _first_problem(exc: ValidationError) -> str:
    """Where the first problem is and what it is, without the value (the repository wrote it)."""
    problem = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) if len(str(part)) <= 40 else str(part)[:37] + "..." for part in problem["loc"])
    message = problem["msg"].removeprefix("Value error, ")
    more = exc.error_count() - 1
    return f"`{where}`: {message}" + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def attachment_key(pod: str, interface: str) -> str:
    return f"{pod}/{interface}"


def address_text(version: int, value: int) -> str:
    """The text `str(ipaddress.ip_address(value))` writes for an address of `version`, without
    building the object: a plan writes tens of thousands of them, and ipaddress's IPv6 text is slow
    to make. Property tests hold every path to ipaddress."""
    if version == 4:
        return f"{value >> 24}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"
    if not value >> 80:
        # ::/80 holds the IPv4-compatible and -mapped forms, which ipaddress itself writes differently
        # from one Python release to the next (dotted mapped addresses since 3.13): as jcnrc's other
        # address text does, ask ipaddress (special-purpose ranges, refused as pools anyway).
        return str(IPv6Address(value))
    if _GLIBC_NTOP:
        return inet_ntop(AF_INET6, value.to_bytes(16, "big"))
    return ipv6_text(value)


# glibc's inet_ntop writes RFC 5952 text as ipaddress does (the longest run of zero groups, the first
# of equal ones, never a single group, lower-case hex) outside ::/80. Other C libraries differ (Windows
# writes ISATAP interface IDs dotted, BSD's compresses a single zero group, older musl prefers a later
# run), and the output must not depend on the machine that built it: there, ipv6_text.
try:
    _GLIBC_NTOP = (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc ")
except (AttributeError, ValueError, OSError):
    _GLIBC_NTOP = False

# A run of 8 zero groups down to 2, as they appear in ":<group>:<group>:...:" (see ipv6_text).
_ZERO_RUNS = tuple(":" + "0:" * length for length in range(8, 1, -1))


def ipv6_text(value: int) -> str:
    """RFC 5952 text of an IPv6 address outside ::/80 as ipaddress writes it, in Python alone."""
    groups = (f":{value >> 112:x}:{value >> 96 & 0xFFFF:x}:{value >> 80 & 0xFFFF:x}:{value >> 64 & 0xFFFF:x}"
              f":{value >> 48 & 0xFFFF:x}:{value >> 32 & 0xFFFF:x}:{value >> 16 & 0xFFFF:x}:{value & 0xFFFF:x}:")
    if ":0:0:" in groups:
        # The longest run first; find() gives the first of equal runs, as ipaddress chooses.
        for run in _ZERO_RUNS:
            at = groups.find(run)
            if at >= 0:
                return groups[1:at] + "::" + groups[at + len(run):-1]
    return groups[1:-1]


def network_text(version: int, start: int, prefixlen: int) -> str:
    """`str(ipaddress.ip_network((start, prefixlen)))`."""
    return f"{address_text(version, start)}/{prefixlen}"


@dataclass(frozen=True, slots=True)
class LinkAllocation:
    """A pod link subnet as integers (the first address and the prefix length) and its text, which
    the lock and the plan both write; the pod's address when the intent wrote one."""

    version: int
    start: int
    prefixlen: int
    subnet_text: str
    explicit_address: int | None = None

    @property
    def subnet(self) -> IPv4Network | IPv6Network:
        return (IPv4Network if self.version == 4 else IPv6Network)((self.start, self.prefixlen))

    @property
    def gateway(self) -> str:
        """The node side: the first host."""
        return address_text(self.version, self.start + 1)

    @property
    def address(self) -> str:
        """The pod's address: as written in the intent, else the host after the gateway."""
        value = self.explicit_address if self.explicit_address is not None else self.start + 2
        return address_text(self.version, value)


def _link_allocation(version: int, start: int, prefixlen: int, explicit_address: int | None = None) -> LinkAllocation:
    return LinkAllocation(version, start, prefixlen, network_text(version, start, prefixlen), explicit_address)


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
    rd = _route_distinguishers(topology, previous, diagnostics)
    mac = macs(topology, previous)
    links = _links(topology, previous, route_tables(topology, vni), diagnostics)
    diagnostics += _unaddressed_warnings(topology)
    allocated_vnis, allocated_rds, explicit = _allocated_vnis(topology), _allocated_rds(topology), explicit_macs(topology)
    lock = Lock(
        nodes=dict(sorted(node_index.items())),
        vnis={k: v for k, v in sorted(vni.items()) if k in allocated_vnis},
        route_distinguishers={k: v for k, v in sorted(rd.items()) if k in allocated_rds},
        macs={k: v for k, v in sorted(mac.items()) if k not in explicit},
        subnets=_allocated_subnets(topology, links),
    )
    return Allocation(node_index, vni, rd, mac, links, lock, diagnostics)


# --- small counters: node indexes, VNIs, route distinguisher numbers ------------------------

def _lowest_free(taken: set[int], start: int) -> Iterator[int]:
    candidate = start
    while True:
        if candidate not in taken:
            yield candidate
            taken.add(candidate)
        candidate += 1


def _keep_locked(names: list[str], locked: dict[str, int], reserved: set[int],
                 valid: Callable[[int], bool] = lambda value: True) -> dict[str, int]:
    """Locked values still valid and not claimed by an explicit value or an earlier name."""
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
    sr = topology.cluster.segmentRouting
    fits = sr.srgbRange - max(sr.ipv4IndexBase, sr.ipv6IndexBase)  # indexes below this fit the SRGB
    kept = _keep_locked(names, previous.nodes, set(), lambda v: 0 <= v < fits)
    free = _lowest_free(set(kept.values()), 0)
    return {name: kept[name] if name in kept else next(free) for name in names}


def _allocated_vnis(topology: Topology) -> set[str]:
    return {v.name for v in topology.vrfs if v.vni is None}


def _vnis(topology: Topology, previous: Lock, diagnostics: list[Diagnostic]) -> dict[str, int]:
    explicit = {v.name: v.vni for v in topology.vrfs if v.vni is not None}
    rng = topology.cluster.vniRange
    wanted = [v.name for v in topology.vrfs if v.vni is None]
    kept = _keep_locked(wanted, previous.vnis, set(explicit.values()), lambda v: rng.first <= v <= rng.last)
    free = _lowest_free(set(explicit.values()) | set(kept.values()), rng.first)
    result = dict(explicit)
    unplaced: list[tuple[int, str]] = []
    for index, vrf in enumerate(topology.vrfs):
        if vrf.name in result:
            continue
        value = kept.get(vrf.name) or next(free)
        if value > rng.last:
            unplaced.append((index, vrf.name))
            value = 0
        result[vrf.name] = value
    if unplaced:
        size = rng.last - rng.first + 1
        in_range = sum(1 for v in result.values() if rng.first <= v <= rng.last)
        names = ", ".join(f"`{name}`" for _, name in unplaced)
        diagnostics.append(error(
            "JCN508",
            f"`cluster.vniRange` {rng.first}..{rng.last} is exhausted: it holds {size} VNI(s), {in_range} are in use, "
            f"and {len(unplaced)} more VRF(s) need one ({names})",
            ("vrfs", unplaced[0][0], "name"),
            help=f"widen `cluster.vniRange` to at least {len(wanted) + len(explicit)} VNIs, or give these VRFs a `vni`"))
    return result


def _allocated_rds(topology: Topology) -> set[str]:
    return {v.name for v in topology.vrfs if v.routeDistinguisherId is None}


def _route_distinguishers(topology: Topology, previous: Lock, diagnostics: list[Diagnostic]) -> dict[str, int]:
    explicit = {v.name: v.routeDistinguisherId for v in topology.vrfs if v.routeDistinguisherId is not None}
    wanted = [v.name for v in topology.vrfs if v.name not in explicit]
    kept = _keep_locked(wanted, previous.route_distinguishers, set(explicit.values()), lambda v: 1 <= v <= RD_NUMBER_MAX)
    free = _lowest_free(set(explicit.values()) | set(kept.values()), 1)
    result: dict[str, int] = {}
    for index, vrf in enumerate(topology.vrfs):
        value = explicit.get(vrf.name) or kept.get(vrf.name) or next(free)
        if value > RD_NUMBER_MAX:
            diagnostics.append(error(
                "JCN508",
                f"no route distinguisher number left for VRF `{vrf.name}`: <node address>:<n> allows n up to {RD_NUMBER_MAX}",
                ("vrfs", index, "name"), help="give VRFs explicit `routeDistinguisherId` values"))
            value = 0
        result[vrf.name] = value
    return result


# --- MACs -------------------------------------------------------------------------------------

def explicit_macs(topology: Topology) -> set[str]:
    return {attachment_key(p.name, interface_name(a, k)) for p in topology.pods for k, a in enumerate(p.networks) if a.mac}


def derived_mac(seed: str, attempt: int = 0) -> str:
    """Locally administered unicast (02:...), from a hash so it does not depend on file order."""
    digest = hashlib.sha256(f"{seed}#{attempt}".encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def macs(topology: Topology, previous: Lock) -> dict[str, str]:
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
        locked = previous.macs.get(key, "").lower()
        if _UNICAST_MAC.fullmatch(locked) and locked not in used:
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


# --- which VRFs must keep their link subnets apart -----------------------------------------

def route_tables(topology: Topology, vni: dict[str, int]) -> dict[str, frozenset[str]]:
    """VRF -> the VRFs whose tables hold its routes, itself included.

    Two VRFs whose sets meet have their prefixes side by side in some table, so their link
    subnets must not overlap; VRFs whose sets are disjoint may reuse addresses.
    """
    exports: dict[str, set[str]] = {}
    importers: dict[str, set[str]] = defaultdict(set)
    for vrf in topology.vrfs:
        imported, exported = route_target_texts(vrf, topology.cluster.asn, vni.get(vrf.name, 0))
        exports[vrf.name] = {_canonical_target(t) for t in exported}
        for target in imported:
            importers[_canonical_target(target)].add(vrf.name)
    return {name: frozenset({name}.union(*(importers.get(t, set()) for t in targets)))
            for name, targets in exports.items()}


def route_target_texts(vrf: Vrf, asn: int, vni: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The VRF's (import, export) route targets as written; without `routeTarget`, `<asn>:<vni>` both ways."""
    spec = vrf.routeTarget
    if spec is None:
        spec = f"{asn}:{vni}"
    if isinstance(spec, str):
        return (spec,), (spec,)
    return tuple(spec.import_), tuple(spec.export)


def _canonical_target(text: str) -> str:
    try:
        return routetarget.parse(text).junos
    except routetarget.RouteTargetError:  # already reported by the rules; keep it comparable
        return text


# --- link subnets -----------------------------------------------------------------------------

class AddressSpace:
    """Used addresses of one route table and family: sorted, disjoint, merged ranges."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def blocking_end(self, start: int, end: int) -> int | None:
        """End of the used range overlapping [start, end], if any (at most one can)."""
        index = bisect_right(self.starts, end) - 1
        if index >= 0 and self.ends[index] >= start:
            return self.ends[index]
        return None

    def add(self, start: int, end: int) -> None:
        index = bisect_left(self.starts, start)
        if index > 0 and self.ends[index - 1] >= start - 1:
            index -= 1
            start = self.starts[index]
            end = max(end, self.ends[index])
        last = index
        while last < len(self.starts) and self.starts[last] <= end + 1:
            end = max(end, self.ends[last])
            last += 1
        self.starts[index:last] = [start]
        self.ends[index:last] = [end]

    def __len__(self) -> int:
        return len(self.starts)


@dataclass
class _Demand:
    """Counts for one VRF pool, for the exhaustion message."""

    explicit: int = 0
    locked: int = 0
    fresh: int = 0
    placed: int = 0
    exhausted: bool = False


class _Spaces:
    """The address spaces a VRF's subnets must fit into: one per table that holds its routes."""

    def __init__(self, tables: dict[str, frozenset[str]]) -> None:
        self.tables = tables
        self.by_table: dict[tuple[str, str], AddressSpace] = defaultdict(AddressSpace)
        self.by_vrf: dict[tuple[str, str], list[AddressSpace]] = {}

    def _of(self, vrf: str, family: str) -> list[AddressSpace]:
        found = self.by_vrf.get((vrf, family))
        if found is None:
            found = [self.by_table[(table, family)] for table in sorted(self.tables.get(vrf, {vrf}))]
            self.by_vrf[(vrf, family)] = found
        return found

    def blocking_end(self, vrf: str, family: str, start: int, end: int) -> int | None:
        ends = [e for space in self._of(vrf, family) if (e := space.blocking_end(start, end)) is not None]
        return max(ends) if ends else None

    def take(self, vrf: str, family: str, start: int, end: int) -> None:
        for space in self._of(vrf, family):
            space.add(start, end)


def _size(version: int, prefixlen: int) -> int:
    """The number of addresses of an IPv`version` network of `prefixlen`."""
    return 1 << ((32 if version == 4 else 128) - prefixlen)


def _span(link: LinkAllocation) -> tuple[int, int]:
    return link.start, link.start + _size(link.version, link.prefixlen) - 1


@dataclass(frozen=True)
class _Pool:
    """A VRF's pool of one family as integers: what every link subnet of it is checked against."""

    version: int
    first: int
    last: int
    link_prefix: int
    size: int  # addresses in one link subnet


def _pools(vrf: Vrf) -> dict[str, _Pool | None]:
    found: dict[str, _Pool | None] = {}
    for family in FAMILIES:
        pool = getattr(vrf, f"{family}Pool")
        link_prefix = getattr(vrf, f"{family}LinkPrefix")
        found[family] = None if pool is None else _Pool(
            pool.version, int(pool.network_address), int(pool.broadcast_address), link_prefix,
            _size(pool.version, link_prefix))
    return found


def _links(topology: Topology, previous: Lock, tables: dict[str, frozenset[str]],
           diagnostics: list[Diagnostic]) -> dict[str, dict[str, LinkAllocation]]:
    vrfs = {v.name: (i, v) for i, v in enumerate(topology.vrfs)}
    pools = {v.name: _pools(v) for v in topology.vrfs}
    spaces = _Spaces(tables)
    result: dict[str, dict[str, LinkAllocation]] = {}
    demand: dict[tuple[str, str], _Demand] = defaultdict(_Demand)
    pending: list[tuple[str, str, str]] = []  # (attachment key, vrf, family), in file order

    # 1. Explicit addresses first: they win over anything the lock remembers.
    for pod in topology.pods:
        for k, a in enumerate(pod.networks):
            if a.vrf not in vrfs:
                continue
            key = attachment_key(pod.name, interface_name(a, k))
            vrf_pools = pools[a.vrf]
            for family in FAMILIES:
                iface = getattr(a, family)
                if iface is not None:
                    net = iface.network
                    # int(iface) is the interface's address (an ip_interface is its address), without
                    # the object `iface.ip` builds.
                    link = _link_allocation(net.version, int(net.network_address), net.prefixlen, int(iface))
                    result.setdefault(key, {})[family] = link
                    spaces.take(a.vrf, family, *_span(link))
                    demand[(a.vrf, family)].explicit += 1
                elif vrf_pools[family] is not None:
                    pending.append((key, a.vrf, family))
    # 2. What earlier builds handed out, unless something explicit took it since.
    fresh: list[tuple[str, str, str]] = []
    for key, vrf_name, family in pending:
        pool = pools[vrf_name][family]
        locked = _locked_subnet(previous, key, family, pool)
        if locked is not None:
            assert pool is not None  # a locked subnet lies in the pool
            start = locked.start
            end = start + pool.size - 1  # the pool's link size: _locked_subnet checked the prefix length
            if spaces.blocking_end(vrf_name, family, start, end) is None:
                result.setdefault(key, {})[family] = locked
                spaces.take(vrf_name, family, start, end)
                demand[(vrf_name, family)].locked += 1
                continue
        fresh.append((key, vrf_name, family))
        demand[(vrf_name, family)].fresh += 1
    # 3. New attachments: lowest free subnet of the pool, in file order.
    cursors: dict[tuple[str, str], int] = {}
    for key, vrf_name, family in fresh:
        count = demand[(vrf_name, family)]
        if count.exhausted:
            continue
        pool = pools[vrf_name][family]
        assert pool is not None  # pending only with a pool
        subnet = _first_fit(vrf_name, family, pool, spaces, cursors)
        if subnet is None:
            count.exhausted = True
            vrf = vrfs[vrf_name][1]
            diagnostics.append(_exhausted(vrfs[vrf_name][0], vrf, family, count, tables.get(vrf_name, frozenset())))
            continue
        result.setdefault(key, {})[family] = subnet
        count.placed += 1
    return result


def _locked_subnet(previous: Lock, key: str, family: str, pool: _Pool | None) -> LinkAllocation | None:
    """The lock's subnet for this attachment while it is still a link subnet of the VRF's pool."""
    text = previous.subnets.get(key, {}).get(family)
    if not text or pool is None:
        return None
    version = 4 if family == "ipv4" else 6
    parsed = previous.networks.get(text)
    subnet_text: str | None = text  # from_json keeps only text written as network_text writes it
    if parsed is None:  # another spelling, or a Lock made in code, not read by from_json
        try:
            net = (IPv4Network if version == 4 else IPv6Network)(text)
        except ValueError:  # not a network of this family
            return None
        parsed = int(net.network_address), net.prefixlen
        subnet_text = None
    start, prefixlen = parsed
    if version != pool.version or prefixlen != pool.link_prefix or start < pool.first or start + pool.size - 1 > pool.last:
        return None
    return LinkAllocation(version, start, prefixlen, subnet_text or network_text(version, start, prefixlen))


def _first_fit(vrf: str, family: str, pool: _Pool, spaces: _Spaces,
               cursors: dict[tuple[str, str], int]) -> LinkAllocation | None:
    """Lowest free aligned /prefix of the pool. The cursor only moves forward: everything
    below it is taken, because explicit and locked subnets were placed before any fresh one."""
    size = pool.size
    last = pool.last
    candidate = cursors.get((vrf, family), pool.first)
    while candidate + size - 1 <= last:
        blocking_end = spaces.blocking_end(vrf, family, candidate, candidate + size - 1)
        if blocking_end is None:
            spaces.take(vrf, family, candidate, candidate + size - 1)
            cursors[(vrf, family)] = candidate + size
            return _link_allocation(pool.version, candidate, pool.link_prefix)
        # Jump past the blocking range, realigned to the link size.
        candidate = ((blocking_end + size) // size) * size
    cursors[(vrf, family)] = candidate
    return None


def _exhausted(index: int, vrf: Vrf, family: str, count: _Demand, tables: frozenset[str]) -> Diagnostic:
    pool = getattr(vrf, f"{family}Pool")
    prefix = getattr(vrf, f"{family}LinkPrefix")
    capacity = 1 << (prefix - pool.prefixlen) if prefix >= pool.prefixlen else 0
    total = count.explicit + count.locked + count.fresh
    sharing = sorted(tables - {vrf.name})
    shared = (f"; VRFs {', '.join(f'`{n}`' for n in sharing)} share a route table with it, so their link subnets "
              "take room in it too") if sharing else ""
    bits = max(total - 1, 0).bit_length()
    wide_enough = max(prefix - bits, 0)
    return error(
        "JCN508",
        f"VRF `{vrf.name}` {family} pool {pool} is exhausted: it has room for {capacity} link subnet(s) of /{prefix}, "
        f"and {total} attachment(s) need one ({count.explicit} written in the intent, {count.locked} kept from the lock, "
        f"{count.fresh} new); {count.fresh - count.placed} could not be placed{shared}",
        ("vrfs", index, f"{family}Pool"),
        help=f"widen `{family}Pool` (a /{wide_enough} holds {1 << bits} link subnets of /{prefix}), "
             f"or give some attachments addresses outside the used range")


def _allocated_subnets(topology: Topology, links: dict[str, dict[str, LinkAllocation]]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for pod in topology.pods:
        for k, a in enumerate(pod.networks):
            key = attachment_key(pod.name, interface_name(a, k))
            families = {f: link.subnet_text for f, link in links.get(key, {}).items() if getattr(a, f) is None}
            if families:
                found[key] = dict(sorted(families.items()))
    return dict(sorted(found.items()))


def _unaddressed_warnings(topology: Topology) -> list[Diagnostic]:
    """A VRF without pools gives unaddressed attachments no prefix: nothing to advertise or reach."""
    unaddressed: dict[str, int] = defaultdict(int)
    for pod in topology.pods:
        for a in pod.networks:
            if a.ipv4 is None and a.ipv6 is None:
                unaddressed[a.vrf] += 1
    problems = []
    for index, vrf in enumerate(topology.vrfs):
        if vrf.ipv4Pool is None and vrf.ipv6Pool is None and unaddressed.get(vrf.name):
            problems.append(warning(
                "JCN913",
                f"VRF `{vrf.name}` has no `ipv4Pool` or `ipv6Pool`, so its {unaddressed[vrf.name]} attachment(s) without "
                "written addresses get no address and advertise no route",
                ("vrfs", index, "name"),
                help=f"give VRF `{vrf.name}` an `ipv4Pool` (and/or `ipv6Pool`) to have addresses allocated"))
    return problems
