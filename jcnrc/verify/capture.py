"""Parse captured router and kernel output into plain, comparable data.

Three captures are understood, each as printed on a Platter/JCNR worker
(see the AKS walkthrough in tests/fixtures/captures/):

* Junos ``show route table <vrf>.evpn.0`` -- brief, ``detail`` or ``extensive``;
  EVPN Type-5 (IP prefix) routes become :class:`EvpnType5Route`.
* Junos ``show bgp summary``.
* Linux ``ip route show table <n>`` (the kernel VRF table cRPD programs).

Everything is text in, frozen dataclasses out; no I/O. A capture may start
with the prompt and command line (``root@host> show bgp summary``,
``# ip route show table 1``) and may contain ``< --- snipped --- >`` markers,
CRLF line endings and trailing blanks. Anything that cannot be understood
raises :class:`CaptureError` with a 1-based line number, and no other
exception type escapes the parsers.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "BgpPeer",
    "BgpSummaryCapture",
    "Capture",
    "CaptureError",
    "EvpnType5Route",
    "KernelRoute",
    "KernelTableCapture",
    "RouteTableCapture",
    "format_type5",
    "parse_bgp_summary",
    "parse_capture",
    "parse_kernel_routes",
    "parse_route_table",
    "parse_type5",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class EvpnType5Route:
    """One route entry for an EVPN Type-5 destination.

    A destination with several entries (e.g. the same prefix heard from two
    route reflectors) yields one object per entry; only one of them is active.
    """

    text: str  # the NLRI exactly as Junos prints it
    rd: str  # "10.240.0.5:1"
    prefix: str  # compressed network: "1.1.11.0/30", "abcd::101:b00/126"
    protocol: str  # "BGP" (learned) or "EVPN" (originated locally)
    active: bool
    learned_from: str | None  # brief "from X" / extensive "Source: X"
    protocol_next_hop: str | None  # extensive only
    next_hop: str | None  # forwarding next hop ("to X via eth0")
    vni: int | None  # extensive "Route Label:"
    route_targets: tuple[str, ...]  # extensive "Communities: target:..."
    line: int  # where this entry starts in the capture

    @property
    def network(self) -> IPNetwork:
        return ipaddress.ip_network(self.prefix)


@dataclass(frozen=True)
class RouteTableCapture:
    table: str  # "blue.evpn.0"
    extensive: bool  # detail/extensive format (also true for `detail`)
    routes: tuple[EvpnType5Route, ...]
    declared_destinations: int | None  # from "4 destinations, 4 routes"
    # Destinations that are not Type-5 (EVPN types 1-4, plain prefixes), verbatim.
    other_destinations: tuple[str, ...] = ()
    # True when the capture holds a snipped marker: routes may be missing.
    snipped: bool = False


@dataclass(frozen=True)
class BgpPeer:
    address: str
    asn: int
    state: str  # "Establ", "Active", "Connect", "Idle", ...
    established: bool
    # ("bgp.evpn.0", (2, 2, 2, 0)) = active/received/accepted/damped
    tables: tuple[tuple[str, tuple[int, ...]], ...]
    line: int


@dataclass(frozen=True)
class BgpSummaryCapture:
    peers: tuple[BgpPeer, ...]
    groups: int | None
    peer_count: int | None
    down_peers: int | None
    snipped: bool = False


@dataclass(frozen=True)
class KernelRoute:
    text: str  # the line, whitespace-normalized
    # "encap", "connected", "host", "gateway", or the kernel route type
    # ("local", "broadcast", "unreachable", "blackhole", ...).
    kind: str
    # Compressed network ("1.1.22.0/30"), or the bare address when the
    # prefix is a single host ("1.1.22.1" for local/broadcast/host routes).
    prefix: str
    vni: int | None  # "encap ip id N"
    src: str | None  # encap tunnel source for encap routes, else preferred source
    dst: str | None  # encap tunnel destination
    via: str | None
    dev: str | None
    line: int

    @property
    def family(self) -> str:
        """The address family, "ipv4" or "ipv6", as the expected state names them."""
        return "ipv6" if ipaddress.ip_network(self.prefix).version == 6 else "ipv4"


@dataclass(frozen=True)
class KernelTableCapture:
    table: str | None  # from "ip route show table 1" when the command is present
    routes: tuple[KernelRoute, ...]
    snipped: bool = False


Capture = RouteTableCapture | BgpSummaryCapture | KernelTableCapture


class CaptureError(ValueError):
    """The capture cannot be understood; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(line, message)
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


# ------------------------------------------------------------- Type-5 notation

_RD = r"(?:\d{1,3}(?:\.\d{1,3}){3}|\d{1,10}L?):\d{1,10}"
_TYPE5 = re.compile(
    rf"5:(?P<rd>{_RD})::(?P<tag>\d{{1,10}})::(?P<prefix>.+)::(?P<length>\d{{1,3}})/248",
    re.ASCII,
)
_MAX_U16 = 0xFFFF
_MAX_U32 = 0xFFFFFFFF


def _rd_problem(rd: str) -> str | None:
    """Why ``rd`` is not a valid route distinguisher (RFC 4364 types 0-2), or None."""
    administrator, sep, assigned_text = rd.rpartition(":")
    if not sep or not assigned_text.isascii() or not assigned_text.isdigit():
        return f"route distinguisher {rd!r} is not ADMINISTRATOR:NUMBER"
    if len(assigned_text) > 10:
        return f"route distinguisher {rd!r} has an out-of-range number"
    assigned = int(assigned_text)
    if "." in administrator:  # type 1: IPv4:16-bit
        try:
            ipaddress.IPv4Address(administrator)
        except ValueError:
            return f"route distinguisher {rd!r} has an invalid IPv4 address"
        limit = _MAX_U16
    elif administrator.endswith("L"):  # type 2: 4-byte AS (Junos "L" suffix):16-bit
        asn_text, limit = administrator[:-1], _MAX_U16
        if not _is_uint(asn_text, _MAX_U32):
            return f"route distinguisher {rd!r} has an invalid AS number"
    else:  # type 0: 2-byte AS:32-bit
        limit = _MAX_U32
        if not _is_uint(administrator, _MAX_U16):
            return f"route distinguisher {rd!r} has an invalid AS number"
    if assigned > limit:
        return f"route distinguisher {rd!r}: assigned number {assigned} is above {limit}"
    return None


def _is_uint(text: str, maximum: int) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= maximum


def format_type5(rd: str, network: str | IPNetwork, ethernet_tag: int = 0) -> str:
    """The NLRI exactly as Junos prints it in ``show route``.

    >>> format_type5("10.240.0.5:1", "1.1.11.0/30")
    '5:10.240.0.5:1::0::1.1.11.0::30/248'
    >>> format_type5("10.240.0.5:1", "abcd::1.1.11.0/126")
    '5:10.240.0.5:1::0::abcd::101:b00::126/248'

    Raises ValueError for an invalid RD or a prefix with host bits set (an
    interface address such as 1.1.11.1/30 is not what EVPN advertises).
    """
    problem = _rd_problem(rd)
    if problem:
        raise ValueError(problem)
    if not 0 <= ethernet_tag <= _MAX_U32:
        raise ValueError(f"ethernet tag {ethernet_tag} is out of range")
    net = ipaddress.ip_network(network)  # strict: rejects host bits
    return f"5:{rd}::{ethernet_tag}::{net.network_address.compressed}::{net.prefixlen}/248"


def parse_type5(text: str) -> tuple[str, IPNetwork]:
    """(rd, network) of a Type-5 NLRI in Junos notation; ValueError if it is not one."""
    parsed = _parse_type5(text)
    if isinstance(parsed, str):
        raise ValueError(parsed)
    return parsed


def _parse_type5(text: str) -> tuple[str, IPNetwork] | str:
    """(rd, network), or a message saying why ``text`` is not a Type-5 NLRI."""
    # The IPv6 prefix itself contains "::", so the regex anchors the RD before
    # the first "::" and the length after the last one; the greedy middle is
    # the prefix.
    match = _TYPE5.fullmatch(text)
    if not match:
        return f"{text!r} is not an EVPN Type-5 NLRI (5:RD::TAG::PREFIX::LEN/248)"
    problem = _rd_problem(match["rd"])
    if problem:
        return problem
    try:
        network = ipaddress.ip_network(f"{match['prefix']}/{match['length']}", strict=False)
    except ValueError as exc:
        return f"{text!r} has an invalid IP prefix: {exc}"
    return match["rd"], network


# ------------------------------------------------------------------ lines

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_PROMPT = re.compile(
    r"(?:[\w.-]+@[\w.-]+(?::\S*?)?[>#%$]|[>#%$])(?:\s+(?P<command>.*))?", re.ASCII
)
_SNIPPED = re.compile(r"\s*<\s*-*\s*snip(?:ped)?\s*-*\s*>", re.ASCII | re.IGNORECASE)

Line = tuple[int, str]  # (1-based number, text without trailing blanks)


@dataclass(frozen=True)
class _Prepared:
    command: str | None
    command_line: int | None
    lines: tuple[Line, ...]  # without the command line and a trailing bare prompt


def _prepare(text: str) -> _Prepared:
    lines = [(number, raw.rstrip()) for number, raw in enumerate(_LINE_BREAK.split(text), 1)]
    content = [line for line in lines if line[1]]
    if not content:
        raise CaptureError(1, "empty capture")
    command, command_line = None, None
    first_number, first_text = content[0]
    # Only the first line may be a prompt: indented route output contains ">".
    prompt = _PROMPT.fullmatch(first_text)
    if prompt:
        command, command_line = (prompt["command"] or "").strip(), first_number
        lines = [line for line in lines if line[0] != first_number]
    last_number, last_text = content[-1]
    if last_number != first_number and "@" in last_text and _is_bare_prompt(last_text):
        lines = [line for line in lines if line[0] != last_number]
    return _Prepared(command, command_line, tuple(lines))


def _is_bare_prompt(text: str) -> bool:
    prompt = _PROMPT.fullmatch(text)
    return prompt is not None and not prompt["command"]


def _has_snip(lines: tuple[Line, ...]) -> bool:
    return any(_SNIPPED.fullmatch(text) for _, text in lines)


def _meaningful(lines: tuple[Line, ...]) -> Iterator[Line]:
    """Lines that carry output: not blank and not a snip marker."""
    return ((n, t) for n, t in lines if t.strip() and not _SNIPPED.fullmatch(t))


def _int(text: str, line: int, what: str) -> int:
    # Bounded: int() of a huge digit string is slow and raises past 4300 digits.
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise CaptureError(line, f"invalid {what} {text!r}")
    return int(text)


def _address(text: str, line: int, what: str) -> str:
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        raise CaptureError(line, f"invalid {what} address {text!r}") from None


# ---------------------------------------------------------- command dispatch

_ROUTE, _BGP_SUMMARY, _KERNEL = "show route", "show bgp summary", "ip route"


def _cli_words_match(words: list[str], keywords: tuple[str, ...]) -> bool:
    """Junos accepts unique abbreviations: "sh bgp summ" is "show bgp summary"."""
    return len(words) >= len(keywords) and all(
        (len(word) >= 2 and keyword.startswith(word)) or word == keyword
        for word, keyword in zip(words, keywords, strict=False)  # `words` may go on past the keywords
    )


def _kernel_command_args(command: str) -> list[str] | None:
    """Arguments after "ip [-opts] route [show|list]", or None if not that command."""
    words = command.split("|")[0].split()
    if not words or words[0] != "ip":
        return None
    rest = words[1:]
    while rest and rest[0].startswith("-"):
        rest = rest[1:]
    if not rest or not "route".startswith(rest[0]):
        return None
    return rest[1:]


def _command_kind(command: str | None) -> str | None:
    if not command:
        return None
    words = command.split("|")[0].split()
    if _cli_words_match(words, ("show", "route")):
        return _ROUTE
    if _cli_words_match(words, ("show", "bgp", "summary")):
        return _BGP_SUMMARY
    if _kernel_command_args(command) is not None:
        return _KERNEL
    return None


def _expect_kind(prepared: _Prepared, kind: str) -> None:
    found = _command_kind(prepared.command)
    if found and found != kind:
        raise CaptureError(
            prepared.command_line or 1,
            f"expected a `{kind}` capture, got the command {prepared.command!r}",
        )


# -------------------------------------------------------------- public entry


def parse_capture(text: str) -> Capture:
    """Parse any supported capture, recognizing its kind from the command or the content."""
    prepared = _prepare(text)
    kind = _command_kind(prepared.command) or _content_kind(prepared)
    if kind == _ROUTE:
        return _parse_route_table(prepared)
    if kind == _BGP_SUMMARY:
        return _parse_bgp_summary(prepared)
    return _parse_kernel_routes(prepared)


def _content_kind(prepared: _Prepared) -> str:
    lines = list(_meaningful(prepared.lines))
    if not lines:
        raise CaptureError(prepared.command_line or 1, "capture holds no output")
    if any(_TABLE_HEADER.match(t) for _, t in lines):
        return _ROUTE
    if any(_GROUPS_LINE.fullmatch(t) or _PEER_HEADER.match(t) for _, t in lines):
        return _BGP_SUMMARY
    number, first = lines[0]
    if _looks_like_kernel_route(first):
        return _KERNEL
    what = f" for the command {prepared.command!r}" if prepared.command else ""
    raise CaptureError(
        number,
        f"unrecognized capture{what}: expected Junos `show route`, "
        f"`show bgp summary` or Linux `ip route` output, got {first.strip()[:60]!r}",
    )


def parse_route_table(text: str) -> RouteTableCapture:
    prepared = _prepare(text)
    _expect_kind(prepared, _ROUTE)
    return _parse_route_table(prepared)


def parse_bgp_summary(text: str) -> BgpSummaryCapture:
    prepared = _prepare(text)
    _expect_kind(prepared, _BGP_SUMMARY)
    return _parse_bgp_summary(prepared)


def parse_kernel_routes(text: str) -> KernelTableCapture:
    prepared = _prepare(text)
    _expect_kind(prepared, _KERNEL)
    return _parse_kernel_routes(prepared)


# ----------------------------------------------------------- show route

_TABLE_HEADER = re.compile(
    r"^(?P<table>\S+): (?P<destinations>\d{1,9}) destinations?, \d{1,9} routes?\b", re.ASCII
)
_LEGEND = re.compile(r"\+ = Active Route, - = Last Active, \* = Both")
_RESTART_NOTICE = re.compile(r"^Restart (?:Complete|in progress)")
_EXTENSIVE_DESTINATION = re.compile(
    r"(?P<destination>\S+) \(\d{1,9} entr(?:y|ies), \d{1,9} announced\)", re.ASCII
)
_BRIEF_DESTINATION = re.compile(r"(?P<destination>[0-9A-Fa-f:]\S*)(?:\s+(?P<rest>\S.*))?", re.ASCII)
_BRIEF_ENTRY = re.compile(
    r"\s*(?P<mark>[*+-]?)\[(?P<protocol>[A-Za-z][\w-]*)/\d{1,5}(?:/-?\d{1,10})?\]\s*(?P<rest>.*)",
    re.ASCII,
)
_BRIEF_FROM = re.compile(r"\bfrom (?P<address>[0-9A-Fa-f.:]+)", re.ASCII)
_BRIEF_NEXT_HOP = re.compile(r"^\s*(?P<selected>>)?\s*to (?P<address>[0-9A-Fa-f.:]+) via \S+", re.ASCII)
_EXTENSIVE_ENTRY = re.compile(r"^\s+(?P<mark>[*+-]?)(?P<protocol>[A-Za-z][\w-]*)\s+Preference:", re.ASCII)
_EXTENSIVE_SOURCE = re.compile(r"\s+Source: (?P<address>\S+)")
_EXTENSIVE_PROTOCOL_NEXT_HOP = re.compile(r"^\s+Protocol next hop: (?P<address>\S+)")
_EXTENSIVE_NEXT_HOP = re.compile(
    r"^\s+Next hop: (?P<address>[0-9A-Fa-f.:]+)(?: via \S+)?(?P<selected>,\s*selected)?", re.ASCII
)
_EXTENSIVE_COMMUNITIES = re.compile(r"\s+Communities: (?P<communities>.*)")
_EXTENSIVE_ROUTE_LABEL = re.compile(r"^\s+Route Label: (?P<label>\d{1,10})\b", re.ASCII)


@dataclass
class _Destination:
    """A destination line with the indented lines under it (mutable, while grouping)."""

    text: str
    line: int
    rest: str  # brief format: an entry printed on the destination line
    body: list[Line]
    cut_by_snip: bool = False


@dataclass(frozen=True)
class _Entry:
    protocol: str
    active: bool
    line: int
    lines: tuple[Line, ...]  # the entry line and the detail lines under it


def _parse_route_table(prepared: _Prepared) -> RouteTableCapture:
    header_line, table, declared = _route_table_header(prepared)
    after_header = tuple(line for line in prepared.lines if line[0] > header_line)
    extensive = _is_extensive(after_header)
    destinations = _group_destinations(after_header, extensive)
    routes: list[EvpnType5Route] = []
    others: list[str] = []
    for destination in destinations:
        nlri = _parse_type5(destination.text)
        if destination.text.startswith("5:") and isinstance(nlri, str):
            raise CaptureError(destination.line, nlri)
        if isinstance(nlri, str):
            others.append(destination.text)
            continue
        entries = _extensive_entries(destination) if extensive else _brief_entries(destination)
        if not entries and not destination.cut_by_snip:
            raise CaptureError(destination.line, f"destination {destination.text} has no route entry")
        read = _read_extensive_entry if extensive else _read_brief_entry
        routes.extend(_type5_route(destination.text, nlri, entry, read(entry)) for entry in entries)
    return RouteTableCapture(
        table=table,
        extensive=extensive,
        routes=tuple(routes),
        declared_destinations=declared,
        other_destinations=tuple(others),
        snipped=_has_snip(prepared.lines),
    )


def _route_table_header(prepared: _Prepared) -> tuple[int, str, int]:
    matches = [(n, _TABLE_HEADER.match(t)) for n, t in prepared.lines]
    headers = [(n, m) for n, m in matches if m]
    if not headers:
        number = next(_meaningful(prepared.lines), (prepared.command_line or 1, ""))[0]
        raise CaptureError(number, "no route table header such as 'blue.evpn.0: 4 destinations, 4 routes (...)'")
    if len(headers) > 1:
        tables = [m["table"] for _, m in headers]
        if len(set(tables)) == 1:  # e.g. `show route table X` and `... extensive` pasted into one file
            raise CaptureError(headers[1][0], f"capture holds table {tables[0]} {len(tables)} times (several commands' "
                                              "output?); save each command's output in a file of its own")
        raise CaptureError(headers[1][0], f"capture holds several tables ({', '.join(tables)}); capture one table")
    number, match = headers[0]
    for other_number, text in _meaningful(prepared.lines):
        if other_number < number:
            raise CaptureError(other_number, f"unexpected text before the table header: {text.strip()[:60]!r}")
    return number, match["table"].rstrip(":"), _int(match["destinations"], number, "destination count")


def _is_extensive(lines: tuple[Line, ...]) -> bool:
    for _, text in _meaningful(lines):
        if text[0].isspace() or _LEGEND.fullmatch(text) or _RESTART_NOTICE.match(text):
            continue
        return bool(_EXTENSIVE_DESTINATION.fullmatch(text))
    return False


def _group_destinations(lines: tuple[Line, ...], extensive: bool) -> list[_Destination]:
    destinations: list[_Destination] = []
    current: _Destination | None = None
    after_snip = False  # detail lines right after a snip belong to a destination cut away
    for number, text in lines:
        if not text.strip():
            continue
        if _SNIPPED.fullmatch(text):
            if current is not None:
                current.cut_by_snip = True
            current, after_snip = None, True
            continue
        if not extensive and (_LEGEND.fullmatch(text) or _RESTART_NOTICE.match(text)):
            continue
        # Extensive output also prints some detail lines ("TSI:") at column 0.
        is_detail = text[0].isspace() or extensive
        match = _starts_destination(text, extensive)
        if match:
            current = _Destination(match["destination"], number, _group_or_empty(match, "rest"), [])
            destinations.append(current)
            after_snip = False
        elif is_detail and current is not None:
            current.body.append((number, text))
        elif not (is_detail and after_snip):
            raise CaptureError(number, f"unexpected line in route table: {text.strip()[:60]!r}")
    return destinations


def _starts_destination(text: str, extensive: bool) -> re.Match[str] | None:
    if text[0].isspace():
        return None
    return (_EXTENSIVE_DESTINATION if extensive else _BRIEF_DESTINATION).fullmatch(text)


def _group_or_empty(match: re.Match[str], name: str) -> str:
    return (match.groupdict().get(name) or "").strip()


def _brief_entries(destination: _Destination) -> list[_Entry]:
    """Entries of a brief destination; the first may share the destination line."""
    lines = list(destination.body)
    if destination.rest:
        if not _BRIEF_ENTRY.fullmatch(destination.rest):
            raise CaptureError(destination.line, f"unexpected text after destination: {destination.rest[:60]!r}")
        lines.insert(0, (destination.line, destination.rest))
    return _split_entries(lines, _BRIEF_ENTRY, destination)


def _extensive_entries(destination: _Destination) -> list[_Entry]:
    return _split_entries(destination.body, _EXTENSIVE_ENTRY, destination)


def _split_entries(lines: list[Line], entry_start: re.Pattern[str], destination: _Destination) -> list[_Entry]:
    starts = [index for index, (_, text) in enumerate(lines) if entry_start.match(text)]
    # Brief output has nothing between a destination and its first entry
    # (extensive output may print "TSI:" details there).
    if entry_start is _BRIEF_ENTRY and lines and (not starts or starts[0] > 0):
        number, text = lines[0]
        raise CaptureError(number, f"route detail before any entry of {destination.text}: {text.strip()[:60]!r}")
    entries: list[_Entry] = []
    for position, index in enumerate(starts):
        end = starts[position + 1] if position + 1 < len(starts) else len(lines)
        match = entry_start.match(lines[index][1])
        assert match  # found by the scan above
        entries.append(
            _Entry(
                protocol=match["protocol"],
                active=match["mark"] in ("*", "+"),  # "+" active, "-" last active, "*" both
                # The first entry starts with its destination line.
                line=lines[index][0] if entries else destination.line,
                lines=tuple(lines[index:end]),
            )
        )
    return entries


@dataclass(frozen=True)
class _EntryDetails:
    learned_from: str | None = None
    protocol_next_hop: str | None = None
    next_hop: str | None = None
    vni: int | None = None
    route_targets: tuple[str, ...] = ()


def _read_brief_entry(entry: _Entry) -> _EntryDetails:
    first_number, first_text = entry.lines[0]
    learned = _BRIEF_FROM.search(first_text)
    hops = [(m["selected"], m["address"], n) for n, t in entry.lines[1:] if (m := _BRIEF_NEXT_HOP.match(t))]
    return _EntryDetails(
        learned_from=_address(learned["address"], first_number, "peer") if learned else None,
        next_hop=_chosen_next_hop(hops),
    )


def _read_extensive_entry(entry: _Entry) -> _EntryDetails:
    learned_from = protocol_next_hop = None
    vni = None
    targets: tuple[str, ...] = ()
    hops: list[tuple[str | None, str, int]] = []
    for number, text in entry.lines[1:]:
        if (match := _EXTENSIVE_SOURCE.fullmatch(text)) and learned_from is None:
            learned_from = _address(match["address"], number, "source")
        elif (match := _EXTENSIVE_PROTOCOL_NEXT_HOP.match(text)) and protocol_next_hop is None:
            # Repeated under "Indirect next hops"; the first is the route's own.
            protocol_next_hop = _address(match["address"], number, "protocol next hop")
        elif match := _EXTENSIVE_NEXT_HOP.match(text):
            hops.append((match["selected"], match["address"], number))
        elif (match := _EXTENSIVE_COMMUNITIES.fullmatch(text)) and not targets:
            targets = tuple(word for word in match["communities"].split() if word.startswith("target:"))
        elif (match := _EXTENSIVE_ROUTE_LABEL.match(text)) and vni is None:
            vni = _int(match["label"], number, "route label")
    return _EntryDetails(learned_from, protocol_next_hop, _chosen_next_hop(hops), vni, targets)


def _chosen_next_hop(hops: list[tuple[str | None, str, int]]) -> str | None:
    """The selected forwarding next hop, else the first one listed."""
    if not hops:
        return None
    selected = [hop for hop in hops if hop[0]] or hops
    _, address, number = selected[0]
    return _address(address, number, "next hop")


def _type5_route(text: str, nlri: tuple[str, IPNetwork], entry: _Entry, details: _EntryDetails) -> EvpnType5Route:
    rd, network = nlri
    return EvpnType5Route(
        text=text,
        rd=rd,
        prefix=network.compressed,
        protocol=entry.protocol,
        active=entry.active,
        learned_from=details.learned_from,
        protocol_next_hop=details.protocol_next_hop,
        next_hop=details.next_hop,
        vni=details.vni,
        route_targets=details.route_targets,
        line=entry.line,
    )


# ------------------------------------------------------- show bgp summary

_GROUPS_LINE = re.compile(
    r"Groups: (?P<groups>\d{1,9}) Peers: (?P<peers>\d{1,9}) Down peers: (?P<down>\d{1,9})", re.ASCII
)
_PREAMBLE_LINE = re.compile(r"^[A-Z][A-Za-z0-9 /-]*: \S")
_TABLE_SECTION_HEADER = re.compile(r"^Table\s+Tot Paths\s+Act Paths")
_TABLE_SECTION_LINE = re.compile(r"(?:\S+(?:\s+\d{1,20}){6}|\S+|\s+\d{1,20}(?:\s+\d{1,20}){5})", re.ASCII)
_PEER_HEADER = re.compile(r"^Peer\s+AS\s+InPkt\s+OutPkt")
_PEER_TABLE = re.compile(r"\s+(?P<table>\S+): (?P<counts>\d{1,20}(?:/\d{1,20})+)", re.ASCII)
_COUNTS = re.compile(r"\d{1,20}(?:/\d{1,20}){3}", re.ASCII)
_STATE = re.compile(r"[A-Za-z]+", re.ASCII)
_UP_DOWN = re.compile(r"[0-9wdhms:]+", re.ASCII)

_PREAMBLE, _TABLES, _PEERS = "preamble", "tables", "peers"


@dataclass
class _PeerDraft:
    """A peer line before its per-table lines are read (mutable)."""

    address: str
    asn: int
    state: str
    established: bool
    tables: list[tuple[str, tuple[int, ...]]]
    line: int


def _parse_bgp_summary(prepared: _Prepared) -> BgpSummaryCapture:
    groups = peer_count = down_peers = None
    section = _PREAMBLE
    tables: list[str] = []  # from the Table section, to name inline peer counts
    peers: list[_PeerDraft] = []
    for number, text in _meaningful(prepared.lines):
        if match := _GROUPS_LINE.fullmatch(text):
            groups, peer_count, down_peers = (int(match[k]) for k in ("groups", "peers", "down"))
        elif _TABLE_SECTION_HEADER.match(text):
            section = _TABLES
        elif _PEER_HEADER.match(text):
            section = _PEERS
        elif section == _PREAMBLE:
            if not _PREAMBLE_LINE.match(text):
                raise CaptureError(number, f"unexpected line in BGP summary: {text.strip()[:60]!r}")
        elif section == _TABLES:
            _read_table_section_line(number, text, tables)
        elif match := _PEER_TABLE.fullmatch(text):
            if not peers:
                raise CaptureError(number, "table counts before any peer line")
            counts = tuple(int(c) for c in match["counts"].split("/"))
            peers[-1].tables.append((match["table"], counts))
        else:
            peers.append(_read_peer_line(number, text, tables))
    if groups is None and not peers:
        raise CaptureError(1, "no 'Groups: N Peers: N Down peers: N' line and no peer lines")
    return BgpSummaryCapture(
        peers=tuple(BgpPeer(p.address, p.asn, p.state, p.established, tuple(p.tables), p.line) for p in peers),
        groups=groups,
        peer_count=peer_count,
        down_peers=down_peers,
        snipped=_has_snip(prepared.lines),
    )


def _read_table_section_line(number: int, text: str, tables: list[str]) -> None:
    if not _TABLE_SECTION_LINE.fullmatch(text):
        raise CaptureError(number, f"unexpected line in the BGP table section: {text.strip()[:60]!r}")
    if not text[0].isspace():
        tables.append(text.split()[0])


def _read_peer_line(number: int, text: str, tables: list[str]) -> _PeerDraft:
    """``10.240.0.4  64512  402  403  0  0  2:54:25 Establ`` (or trailing a/r/a/d counts)."""
    words = text.split()
    if text[0].isspace() or len(words) < 8:
        raise CaptureError(number, f"unexpected line in BGP peer list: {text.strip()[:60]!r}")
    address = _address(words[0].split("+")[0], number, "peer")  # "10.0.0.1+179" shows the port
    asn = _int(words[1], number, "AS number")
    for counter in words[2:6]:
        _int(counter, number, "packet/flap counter")
    state_words = _trailing_state_words(words[6:])
    up_down = words[6 : len(words) - len(state_words)]
    if not state_words or not up_down or not all(_UP_DOWN.fullmatch(w) for w in up_down):
        raise CaptureError(number, f"cannot read the Last Up/Dwn and State columns of {text.strip()[:80]!r}")
    if _COUNTS.fullmatch(state_words[0]):
        # An established peer may print its counts in place of "Establ", one
        # group per RIB in the order of the Table section ("" when that is ambiguous).
        names = tables if len(tables) == len(state_words) else [""] * len(state_words)
        counts = [(name, tuple(int(c) for c in word.split("/"))) for name, word in zip(names, state_words, strict=True)]
        return _PeerDraft(address, asn, "Establ", True, counts, number)
    state = state_words[0]
    return _PeerDraft(address, asn, state, state == "Establ", [], number)


def _trailing_state_words(words: list[str]) -> list[str]:
    """The State column: one state word, or one or more a/r/a/d count groups."""
    counts: list[str] = []
    for word in reversed(words):
        if not _COUNTS.fullmatch(word):
            break
        counts.insert(0, word)
    if counts:
        return counts
    return words[-1:] if words and _STATE.fullmatch(words[-1]) else []


# ----------------------------------------------------------------- ip route

_ROUTE_TYPES = frozenset(
    {"unicast", "local", "broadcast", "multicast", "anycast", "unreachable", "blackhole", "prohibit", "throw", "nat"}
)
_IP_ENCAP_KEYS = frozenset({"id", "src", "dst", "ttl", "tos", "hoplimit", "tc"})
_IP_ENCAP_FLAGS = frozenset({"key", "csum", "seq"})
_ROUTE_KEYWORDS = frozenset({"via", "dev", "proto", "scope", "metric", "table", "onlink", "src", "mtu", "nexthop"})
# Route attributes printed as "keyword value"; the value is skipped so that it
# is never mistaken for a keyword (an interface could be called "src").
_KEYWORDS_WITH_VALUE = frozenset(
    {"via", "dev", "src", "proto", "scope", "metric", "table", "mtu", "advmss", "pref", "expires", "realm",
     "realms", "nhid", "weight", "hoplimit", "ttl", "tos", "rtt", "rttvar", "window", "cwnd", "initcwnd",
     "initrwnd", "ssthresh", "features", "quickack", "congctl", "error", "from", "as", "to", "vrf"}
)


def _looks_like_kernel_route(text: str) -> bool:
    words = text.split()
    if words and words[0] in _ROUTE_TYPES:
        words = words[1:]
    return bool(words) and not text[0].isspace() and _is_prefix_word(words[0])


def _is_prefix_word(word: str) -> bool:
    if word == "default":
        return True
    try:
        ipaddress.ip_network(word, strict=False)
    except ValueError:
        return False
    return True


@dataclass
class _KernelDraft:
    """Attributes of one route line while its words are read (mutable)."""

    words: list[str]
    line: int
    route_type: str = "unicast"
    prefix_word: str = ""
    vni: int | None = None
    encap: bool = False
    src: str | None = None
    dst: str | None = None
    via: str | None = None
    dev: str | None = None


def _parse_kernel_routes(prepared: _Prepared) -> KernelTableCapture:
    args = _kernel_command_args(prepared.command or "") or []
    ipv6_command = bool(prepared.command) and "-6" in (prepared.command or "").split()
    drafts: list[_KernelDraft] = []
    for number, text in _meaningful(prepared.lines):
        if text[0].isspace() and drafts and text.split()[0] == "nexthop":
            # Multipath routes list their next hops on indented lines.
            drafts[-1].words.extend(text.split())
            continue
        if not _looks_like_kernel_route(text):
            raise CaptureError(number, f"not an `ip route` line: {text.strip()[:60]!r}")
        drafts.append(_KernelDraft(text.split(), number))
    if not drafts:
        raise CaptureError(prepared.command_line or 1, "capture holds no routes")
    return KernelTableCapture(
        table=_word_after(args, "table"),
        routes=tuple(_kernel_route(draft, ipv6_command) for draft in drafts),
        snipped=_has_snip(prepared.lines),
    )


def _word_after(words: list[str], keyword: str) -> str | None:
    for index, word in enumerate(words[:-1]):
        if word == keyword:
            return words[index + 1]
    return None


def _kernel_route(draft: _KernelDraft, ipv6_command: bool) -> KernelRoute:
    words = draft.words
    if words[0] in _ROUTE_TYPES:
        draft.route_type, words = words[0], words[1:]
    draft.prefix_word = words[0]
    _read_kernel_attributes(draft, words[1:])
    network = _kernel_prefix(draft, ipv6_command)
    full_length = network.prefixlen == network.max_prefixlen
    return KernelRoute(
        text=" ".join(draft.words),
        kind=_kernel_kind(draft, full_length),
        prefix=network.network_address.compressed if full_length else network.compressed,
        vni=draft.vni,
        src=draft.src,
        dst=draft.dst,
        via=draft.via,
        dev=draft.dev,
        line=draft.line,
    )


def _read_kernel_attributes(draft: _KernelDraft, words: list[str]) -> None:
    index = 0
    while index < len(words):
        word = words[index]
        value = words[index + 1] if index + 1 < len(words) else None
        if word == "encap" and value is not None:
            index = _read_encap(draft, words, index + 1)
            continue
        if word == "via" and value in ("inet", "inet6") and index + 2 < len(words):
            index, value = index + 1, words[index + 2]  # "via inet6 fe80::1"
        if word == "via" and value is not None and draft.via is None:
            draft.via = _address(value, draft.line, "gateway")
        elif word == "dev" and value is not None and draft.dev is None:
            draft.dev = value
        elif word == "src" and value is not None and draft.src is None:
            draft.src = _address(value, draft.line, "source")
        index += 2 if word in _KEYWORDS_WITH_VALUE else 1


def _read_encap(draft: _KernelDraft, words: list[str], index: int) -> int:
    """Read "encap ip id 10002 src A dst B ttl 255 tos 0"; return the index after it."""
    draft.encap = True
    encap_type = words[index]
    index += 1
    if encap_type not in ("ip", "ip6"):
        # Other encaps (mpls, seg6, bpf, ...) have their own syntax; skip to the route keywords.
        while index < len(words) and words[index] not in _ROUTE_KEYWORDS:
            index += 1
        return index
    while index < len(words):
        word = words[index]
        if word in _IP_ENCAP_FLAGS:
            index += 1
            continue
        if word not in _IP_ENCAP_KEYS or index + 1 >= len(words):
            break
        _set_encap_value(draft, word, words[index + 1])
        index += 2
    return index


def _set_encap_value(draft: _KernelDraft, key: str, value: str) -> None:
    if key == "id":
        draft.vni = _int(value, draft.line, "encap id")
    elif key == "src":
        draft.src = _address(value, draft.line, "encap source")
    elif key == "dst":
        draft.dst = _address(value, draft.line, "encap destination")


def _kernel_prefix(draft: _KernelDraft, ipv6_command: bool) -> IPNetwork:
    word = draft.prefix_word
    if word == "default":
        ipv6 = ipv6_command or ":" in (draft.via or "") + (draft.src or "")
        return ipaddress.ip_network("::/0" if ipv6 else "0.0.0.0/0")
    try:
        return ipaddress.ip_network(word, strict=False)
    except ValueError:
        raise CaptureError(draft.line, f"invalid route prefix {word!r}") from None


def _kernel_kind(draft: _KernelDraft, full_length: bool) -> str:
    if draft.route_type != "unicast":
        return draft.route_type
    if draft.encap:
        return "encap"
    if full_length:
        return "host"
    return "gateway" if draft.via else "connected"
