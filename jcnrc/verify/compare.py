"""Compare captured router and kernel output of one node with what the intent says it must show.

Understood captures (parsed by ``jcnrc.verify.capture``):
- ``show route table <vrf>.evpn.0`` (brief or ``extensive``): missing and unexpected Type-5
  routes, wrong route distinguishers, protocols, sources; with ``extensive`` also wrong VNIs,
  route targets and protocol next hops;
- ``show bgp summary``: sessions missing, not Established, or with peers the intent does not have;
- ``ip route show table N`` (or ``ip -6 route``): the kernel VRF table. The command names the
  table by number, which the intent cannot know, so the capture is compared with the VRF whose
  expected kernel routes it overlaps most, and the finding says which one that was.

A capture holding a ``< --- snipped --- >`` marker is incomplete: expected routes absent from it
are counted as not checked instead of reported missing. Every finding is one line of text (or a
JSON object); only findings with ``is_problem`` make ``jcnrc verify`` exit 1.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypedDict, TypeVar, Unpack

from jcnrc.plan import expected as expected_state
from jcnrc.plan.expected import ExpectedKernelRoute, ExpectedRoute, ExpectedSession, NodeState, VrfTable
from jcnrc.verify.capture import (
    BgpPeer,
    BgpSummaryCapture,
    Capture,
    CaptureError,
    EvpnType5Route,
    KernelRoute,
    KernelTableCapture,
    RouteTableCapture,
    parse_capture,
)

if TYPE_CHECKING:
    from jcnrc.plan.planner import Plan

# Kernel routes the kernel adds by itself for every address (local, broadcast, ...) are not
# part of the plan; only these kinds are compared.
COMPARED_KERNEL_KINDS = frozenset({"encap", "connected", "host", "gateway"})


# What a finding expected and found: a route, an AS number, the route targets, ...
Value = str | int | list | None


@dataclass(frozen=True)
class Finding:
    capture: str  # the capture's name, as given (usually its file path)
    kind: str  # machine-readable: missing-route, wrong-vni, session-down, truncated, ...
    message: str
    is_problem: bool = True
    line: int | None = None  # 1-based line in the capture, when the finding is about one
    subject: str | None = None  # the route, peer or prefix concerned
    expected: Value = None
    found: Value = None

    def text(self) -> str:
        where = f"{self.capture}:{self.line}" if self.line else self.capture
        return f"{where}: {'' if self.is_problem else 'note: '}{self.message}"

    def to_data(self) -> dict:
        return {
            "capture": self.capture,
            "line": self.line,
            "kind": self.kind,
            "problem": self.is_problem,
            "message": self.message,
            "subject": self.subject,
            "expected": self.expected,
            "found": self.found,
        }


def verify(plan: Plan, node_name: str, captures: dict[str, str]) -> list[Finding]:
    """Findings for every capture, in the order given. Never raises for bad capture text."""
    return check_captures(plan, node_name, parse_captures(captures))


def parse_captures(texts: Mapping[str, str]) -> dict[str, Capture | CaptureError]:
    """Every capture parsed, or the reason it cannot be."""
    parsed: dict[str, Capture | CaptureError] = {}
    for name, text in texts.items():
        try:
            parsed[name] = parse_capture(text)
        except CaptureError as exc:
            parsed[name] = exc
    return parsed


def check_captures(plan: Plan, node_name: str, parsed: Mapping[str, Capture | CaptureError],
                   state: NodeState | None = None) -> list[Finding]:
    """`verify` for captures already parsed (live mode builds some from JSON, never from text)."""
    state = state if state is not None else expected_state.node_state(plan, node_name)
    findings: list[Finding] = []
    for name, capture in parsed.items():
        if isinstance(capture, CaptureError):
            findings.append(Finding(name, "unreadable", f"cannot read the capture: {capture.message}", line=capture.line))
        elif isinstance(capture, RouteTableCapture):
            findings += RouteTableCheck(plan, state, name, capture).run()
        elif isinstance(capture, BgpSummaryCapture):
            findings += BgpSummaryCheck(plan, state, name, capture).run()
        else:
            findings += KernelTableCheck(plan, state, name, capture).run()
    return findings


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


class _Details(TypedDict, total=False):
    """The optional fields of a Finding, as `problem` and `note` take them."""

    line: int | None
    subject: str | None
    expected: Value
    found: Value


_Capture = TypeVar("_Capture", RouteTableCapture, BgpSummaryCapture, KernelTableCapture)


class _Check(Generic[_Capture]):
    """One capture compared with the node's expected state; collects findings."""

    def __init__(self, plan: Plan, state: NodeState, name: str, capture: _Capture) -> None:
        self.plan, self.state, self.name = plan, state, name
        self.capture: _Capture = capture
        self.findings: list[Finding] = []

    def problem(self, kind: str, message: str, **details: Unpack[_Details]) -> None:
        self.findings.append(Finding(self.name, kind, message, True, **details))

    def note(self, kind: str, message: str, **details: Unpack[_Details]) -> None:
        self.findings.append(Finding(self.name, kind, message, False, **details))


# --- show route table <vrf>.evpn.0 ----------------------------------------------------------

class RouteTableCheck(_Check[RouteTableCapture]):
    def run(self) -> list[Finding]:
        table = next((t for t in self.state.tables if t.table == self.capture.table), None)
        if table is None:
            self._unexpected_table()
            return self.findings
        expected = {r.text: r for r in table.routes}
        found: dict[str, list[EvpnType5Route]] = {}
        for route in self.capture.routes:
            found.setdefault(route.text, []).append(route)
        missing = [r for r in table.routes if r.text not in found]
        unexpected = [text for text in found if text not in expected]
        missing, unexpected = self._wrong_route_distinguishers(missing, unexpected, found)
        unchecked = self._missing(missing, table.table)
        for text, entries in found.items():
            if text in expected:
                self._compare(expected[text], entries)
        for text in unexpected:
            self._unexpected_route(text, found[text][0], table.table)
        for other in self.capture.other_destinations:
            self.note("not-type5", f"{other} in {table.table} is not an EVPN Type-5 route; not compared", subject=other)
        self._summary(table, unchecked)
        return self.findings

    def _unexpected_table(self) -> None:
        table = self.capture.table
        vrf = table.removesuffix(".evpn.0")
        routes = len(self.capture.routes)
        if vrf == table:
            self.problem("wrong-table", f"expected a `<vrf>.evpn.0` table, got {table}", subject=table)
        elif not self.plan.has_vrf(vrf):
            names = ", ".join(v.name for v in self.plan.vrfs) or "none"
            self.problem("unknown-table", f"table {table} belongs to no VRF of the intent (VRFs: {names})", subject=table)
        elif routes:
            self.problem("unexpected-table", f"{self.state.node} must not carry {table}: no pod of VRF {vrf} runs on it, "
                                             f"yet the capture shows {_count(routes, 'route')}", subject=table)
        else:
            self.note("empty-table", f"{table} is empty, as expected: no pod of VRF {vrf} runs on {self.state.node}",
                      subject=table)

    def _wrong_route_distinguishers(self, missing: list[ExpectedRoute], unexpected: list[str],
                                    found: dict[str, list[EvpnType5Route]]) -> tuple[list[ExpectedRoute], list[str]]:
        """A route for the right prefix from the right node under another RD is one difference,
        not a missing and an unexpected route: typically Junos auto-numbering instead of the planned RD."""
        by_origin: dict[tuple[str, str], EvpnType5Route] = {}
        for text in unexpected:
            first = found[text][0]  # the capture has parsed its RD and prefix
            by_origin.setdefault((first.rd.rpartition(":")[0], first.prefix), first)
        still_missing = []
        paired = set()
        for route in missing:
            entry = by_origin.get((route.rd.rpartition(":")[0], route.prefix))
            if entry is None or entry.text in paired:
                still_missing.append(route)
                continue
            paired.add(entry.text)
            self.problem("wrong-rd", f"route for {route.prefix} from {route.protocol_next_hop} has RD {entry.rd}, "
                                     f"expected {route.rd} ({entry.text} instead of {route.text})",
                         line=entry.line, subject=route.text, expected=route.rd, found=entry.rd)
        return still_missing, [t for t in unexpected if t not in paired]

    def _missing(self, missing: list[ExpectedRoute], table: str) -> int:
        if self.capture.snipped:
            return len(missing)
        for route in missing:
            self.problem("missing-route", f"missing route {route.text} in {table} (expected {_describe(route)})",
                         subject=route.text)
        return 0

    def _compare(self, route: ExpectedRoute, entries: list[EvpnType5Route]) -> None:
        first = entries[0]
        protocols = sorted({e.protocol for e in entries})
        if route.protocol not in protocols:
            self.problem("wrong-protocol", f"route {route.text} is {'/'.join(protocols)}, expected {_describe(route)}",
                         line=first.line, subject=route.text, expected=route.protocol, found=protocols)
        if not any(e.active for e in entries):
            self.problem("inactive-route", f"route {route.text} is not active (no entry marked * or +)",
                         line=first.line, subject=route.text)
        self._sources(route, entries)
        if self.capture.extensive:
            self._extensive_details(route, entries)

    def _sources(self, route: ExpectedRoute, entries: list[EvpnType5Route]) -> None:
        if route.protocol != "BGP":  # a wrong protocol is reported already
            return
        for entry in entries:
            if entry.protocol == "BGP" and entry.learned_from and entry.learned_from not in route.learned_from:
                word = "route reflector " if len(route.learned_from) == 1 else "route reflectors "
                reflectors = word + ", ".join(route.learned_from)
                self.problem("wrong-source", f"route {route.text} is learned from {entry.learned_from}, expected from "
                                             f"{reflectors}", line=entry.line, subject=route.text,
                             expected=list(route.learned_from), found=entry.learned_from)
                return

    def _extensive_details(self, route: ExpectedRoute, entries: list[EvpnType5Route]) -> None:
        reported: set[str] = set()
        for entry in entries:
            for kind, message, want, got in self._entry_differences(route, entry):
                if kind not in reported:
                    reported.add(kind)
                    self.problem(kind, message, line=entry.line, subject=route.text, expected=want, found=got)

    @staticmethod
    def _entry_differences(route: ExpectedRoute, entry: EvpnType5Route) -> Iterator[tuple[str, str, Value, Value]]:
        if entry.vni is not None and entry.vni != route.vni:
            yield ("wrong-vni", f"route {route.text} has VNI {entry.vni}, expected {route.vni} (VRF {route.origin_vrf})",
                   route.vni, entry.vni)
        targets = sorted(entry.route_targets)
        # A route originated here shows no target in the instance table: Junos adds it on export.
        if (targets or entry.protocol == "BGP") and targets != sorted(route.route_targets):
            shown = " ".join(targets) or "no route target"
            yield ("wrong-targets", (f"route {route.text} carries {shown}, expected {' '.join(route.route_targets)} "
                                     f"(exported by VRF {route.origin_vrf})"), list(route.route_targets), targets)
        if entry.protocol_next_hop and entry.protocol_next_hop != route.protocol_next_hop:
            yield ("wrong-next-hop", (f"route {route.text} has protocol next hop {entry.protocol_next_hop}, expected "
                                      f"{route.protocol_next_hop} (node {route.origin_node})"),
                   route.protocol_next_hop, entry.protocol_next_hop)

    def _unexpected_route(self, text: str, entry: EvpnType5Route, table: str) -> None:
        self.problem("unexpected-route", f"unexpected route {text} in {table} ({self._explain_origin(entry)})",
                     line=entry.line, subject=text)

    def _explain_origin(self, entry: EvpnType5Route) -> str:
        administrator, _, number = entry.rd.rpartition(":")
        node = next((n for n in self.plan.nodes if n.ipv4_loopback == administrator), None)
        if node is None:
            return f"RD {entry.rd}: {administrator} is no node of the intent"
        vrf = next((v for v in self.plan.vrfs if str(v.rd_number) == number), None)
        if vrf is None:
            return f"RD {entry.rd}: node {node.name} has no VRF with route distinguisher number {number}"
        return f"node {node.name} in VRF {vrf.name} advertises no prefix {entry.prefix} in the intent"

    def _summary(self, table: VrfTable, unchecked: int) -> None:
        kind = "extensive" if self.capture.extensive else "brief"
        checked = len(table.routes) - unchecked
        self.note("checked", f"{table.table} ({kind}): {checked} of {_count(len(table.routes), 'expected route')} "
                             "compared", subject=table.table)
        if not self.capture.snipped:
            return
        self.note("truncated", f"capture is truncated; {_count(unchecked, 'expected route')} not checked",
                  subject=table.table, expected=len(table.routes), found=checked)
        declared = self.capture.declared_destinations
        if declared is not None and declared != len(table.routes) + len(self.capture.other_destinations):
            self.problem("route-count", f"{table.table} holds {_count(declared, 'destination')} by its header line, "
                                        f"expected {len(table.routes)}", subject=table.table,
                         expected=len(table.routes), found=declared)


def _describe(route: ExpectedRoute) -> str:
    if route.protocol == "EVPN":
        return f"EVPN, originated here, VNI {route.vni}"
    return f"BGP from {', '.join(route.learned_from)}, VNI {route.vni}"


# --- show bgp summary -------------------------------------------------------------------------

class BgpSummaryCheck(_Check[BgpSummaryCapture]):
    def run(self) -> list[Finding]:
        found = {p.address: p for p in self.capture.peers}
        unchecked = 0
        for session in self.state.sessions:
            peer = found.get(session.peer)
            if peer is None and self.capture.snipped:
                unchecked += 1
            else:
                self._compare(session, peer)
        expected_peers = {s.peer for s in self.state.sessions}
        for peer in self.capture.peers:
            if peer.address not in expected_peers:
                self.problem("unexpected-session", f"unexpected BGP peer {peer.address} (AS {peer.asn}, {peer.state}): "
                                                   f"{self._explain_peer(peer.address)}", line=peer.line, subject=peer.address)
        established = sum(1 for s in self.state.sessions if s.peer in found and found[s.peer].established)
        total = len(self.state.sessions)
        self.note("checked", f"show bgp summary: {established} of {_count(total, 'expected session')} Establ",
                  expected=total, found=established)
        if unchecked:
            self.note("truncated", f"capture is truncated; {_count(unchecked, 'expected session')} not checked")
        return self.findings

    def _compare(self, session: ExpectedSession, peer: BgpPeer | None) -> None:
        who = f"{session.peer} ({session.peer_role} {session.peer_node})"
        if peer is None:
            self.problem("missing-session", f"no BGP session with {who}; expected Establ", subject=session.peer,
                         expected="Establ")
            return
        if peer.asn != session.asn:
            self.problem("wrong-asn", f"BGP peer {who} is in AS {peer.asn}, expected AS {session.asn}",
                         line=peer.line, subject=session.peer, expected=session.asn, found=peer.asn)
        if not peer.established:
            self.problem("session-down", f"BGP session with {who} is {peer.state}, expected Establ",
                         line=peer.line, subject=session.peer, expected="Establ", found=peer.state)

    def _explain_peer(self, address: str) -> str:
        # BGP runs between router IDs: the node address for Platter, the fabric address for JCNR.
        node = next((n for n in self.plan.nodes if address in (n.ipv4_loopback, n.address)), None)
        if node is None:
            return "not a node of the intent"
        if node.name == self.state.node:
            return "this node itself"
        if self.state.role == "worker":
            return f"node {node.name} is a {node.role}; a worker peers only with the route reflectors"
        return f"node {node.name} is a {node.role}; a route reflector peers only with workers"


# --- ip route show table N ----------------------------------------------------------------------

class KernelTableCheck(_Check[KernelTableCapture]):
    def __init__(self, plan: Plan, state: NodeState, name: str, capture: KernelTableCapture) -> None:
        super().__init__(plan, state, name, capture)
        self.compared = [r for r in capture.routes if r.kind in COMPARED_KERNEL_KINDS]
        self.families = {r.family for r in capture.routes}
        self.label = f"kernel table {capture.table}" if capture.table else "the kernel table"

    def run(self) -> list[Finding]:
        table = self._matching_table()
        if table is None:
            return self.findings
        expected = [k for k in table.kernel if k.family in self.families]
        self._compare(table, expected)
        skipped = [k for k in table.kernel if k.family not in self.families]
        if skipped:
            family = "IPv6" if skipped[0].family == "ipv6" else "IPv4"
            command = "ip -6 route" if family == "IPv6" else "ip route"
            self.note("family-not-captured", f"{_count(len(skipped), f'expected {family} route')} not checked: the capture "
                                             f"holds no {family} route (capture `{command} show table N` for them)")
        return self.findings

    def _matching_table(self) -> VrfTable | None:
        tables = self.state.tables
        if not tables:
            if self.compared:
                self.problem("unexpected-table", f"{self.state.node} carries no VRF, yet {self.label} holds "
                                                 f"{_count(len(self.compared), 'route')}")
            else:
                self.note("empty-table", f"{self.label} holds no VRF route, as expected: {self.state.node} carries no VRF")
            return None
        prefixes = {r.prefix for r in self.compared}
        overlaps = [(sum(1 for k in t.kernel if k.prefix in prefixes), t) for t in tables]
        best_overlap = max(o for o, _ in overlaps)
        best = [t for o, t in overlaps if o == best_overlap]
        if best_overlap == 0 and len(tables) > 1:
            names = ", ".join(t.vrf for t in tables)
            self.problem("unknown-kernel-table", f"cannot tell which VRF {self.label} belongs to: none of its routes is "
                                                 f"expected in any VRF of {self.state.node} ({names})")
            return None
        table = best[0]
        tie = f"; VRF {', '.join(t.vrf for t in best[1:])} fit{'s' if len(best) == 2 else ''} as well" if len(best) > 1 else ""
        self.note("matched-vrf", f"{self.label} compared with VRF {table.vrf}: {best_overlap} of its "
                                 f"{_count(len(self.compared), 'route')} are expected there{tie}", subject=table.vrf)
        return table

    def _compare(self, table: VrfTable, expected: list[ExpectedKernelRoute]) -> None:
        found: dict[str, KernelRoute] = {}
        for route in self.compared:
            found.setdefault(route.prefix, route)
        unchecked = 0
        for want in expected:
            got = found.get(want.prefix)
            if got is None:
                if self.capture.snipped:
                    unchecked += 1
                else:
                    self.problem("missing-kernel-route", f"missing kernel route `{want.text}` in {self.label} (VRF {table.vrf})",
                                 subject=want.prefix, expected=want.text)
                continue
            self._compare_route(want, got)
        wanted = {k.prefix for k in table.kernel}
        for route in self.compared:
            if route.prefix not in wanted:
                self.problem("unexpected-kernel-route", f"unexpected kernel route `{route.text}` in {self.label} "
                                                        f"({self._explain_unexpected(route, table)})",
                             line=route.line, subject=route.prefix, found=route.text)
        self.note("checked", f"{self.label}: {len(expected) - unchecked} of "
                             f"{_count(len(expected), 'expected route')} of VRF {table.vrf} compared", subject=table.vrf)
        if unchecked:
            self.note("truncated", f"capture is truncated; {_count(unchecked, 'expected route')} not checked")

    def _compare_route(self, want: ExpectedKernelRoute, got: KernelRoute) -> None:
        def differs(kind: str, what: str, expected: Value, found: Value) -> None:
            self.problem(kind, f"kernel route {want.prefix} {what} {found}, expected {expected} (`{want.text}`)",
                         line=got.line, subject=want.prefix, expected=expected, found=found)

        if got.kind != want.kind:
            differs("wrong-kernel-route", "is", f"an {want.kind} route" if want.kind == "encap" else f"a {want.kind} route",
                    f"a {got.kind} route" if got.kind != "encap" else "an encap route")
            return
        if want.kind == "encap":
            if got.vni != want.vni:
                differs("wrong-kernel-vni", "has encap id", want.vni, got.vni)
            if got.dst != want.dst:
                differs("wrong-kernel-dst", "goes to", f"{want.dst} ({self._node_at(want.dst)})", got.dst)
            if got.src != want.src:
                differs("wrong-kernel-src", "leaves from", want.src, got.src)
        elif want.kind == "connected" and want.src and got.src and got.src != want.src:
            differs("wrong-kernel-src", "has source", f"{want.src} (the pod's gateway)", got.src)
        elif want.kind == "host" and got.via != want.via:
            differs("wrong-kernel-via", "goes via", want.via, got.via)

    def _node_at(self, address: str | None) -> str:
        node = next((n for n in self.plan.nodes if n.ipv4_loopback == address), None)
        return f"node {node.name}" if node else "no node of the intent"

    def _explain_unexpected(self, route: KernelRoute, table: VrfTable) -> str:
        if route.kind == "encap":
            return f"VXLAN id {route.vni} to {route.dst}, {self._node_at(route.dst)}; VRF {table.vrf} installs no such prefix"
        return f"VRF {table.vrf} has no pod link {route.prefix} on {self.state.node}"
