"""Verification results as CI reads them: one report for one or many nodes, as text, JSON or JUnit XML.

``compare.py`` returns findings: the differences (problems) and what was compared (notes). A check
that passes leaves no finding, so a report cannot be built from findings alone. The checks are
therefore listed from the expected state (``expected.node_state``), one per thing the intent says
the node must show:

- ``bgp``: each expected BGP session, Established;
- ``evpn``: each expected Type-5 route of each ``<vrf>.evpn.0`` table of the node, present, active,
  from the right node and route reflector, with the right RD, VNI, route targets and protocol next hop;
- ``kernel``: each expected route of each kernel VRF table (Platter only: JCNR forwards in the DPDK
  vRouter, whose tables ``ip route`` does not show, so a JCNR node has no kernel check);
- ``pod`` (live mode only): the node's cRPD pod is Running, from the DaemonSet of its role.

Each check is then marked from the findings and the parsed captures:

- **failed** (**error**) when a problem finding names it: a finding about a capture of table T (or
  of the kernel table compared with VRF V, as the ``matched-vrf`` note says) whose ``subject`` is the
  route (prefix, peer) of the check. Problems of the kinds in ``ERROR_KINDS`` (a capture that cannot
  be read, a pod that is missing, a command that failed) are errors, the others failures;
- **passed** when a capture covers it (a capture of its table, or ``show bgp summary``, or a kernel
  capture of its VRF holding its address family) and no problem names it; a route present only in a
  brief capture passes with a note that VNI, targets and protocol next hop were not compared;
- **skipped** when no capture covers it (not captured, or cut by a ``< --- snipped --- >`` marker, or
  the kernel capture holds no route of its family); the reason is the check's message.

A problem that names no expected check (an unexpected route, session or table, a wrong route count,
an unreadable capture) becomes a check of its own, failed or in error, so each difference fails
exactly one testcase. Notes go to the JUnit ``system-out`` of the node's testsuite.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from jcnrc.diagnostics import escaped
from jcnrc.plan import expected as expected_state
from jcnrc.plan.expected import ExpectedKernelRoute, ExpectedRoute, ExpectedSession, NodeState
from jcnrc.verify.capture import (
    BgpSummaryCapture,
    Capture,
    CaptureError,
    EvpnType5Route,
    KernelTableCapture,
    RouteTableCapture,
)
from jcnrc.verify.compare import COMPARED_KERNEL_KINDS, Finding, _count, check_captures, parse_captures

if TYPE_CHECKING:
    from jcnrc.plan.planner import Plan

__all__ = [
    "ERROR_KINDS",
    "FORMAT",
    "POD_KINDS",
    "CaptureInfo",
    "Check",
    "NodeReport",
    "PodInfo",
    "Report",
    "node_report",
    "render",
    "to_data",
    "to_json",
    "to_junit",
    "to_text",
    "verify_node",
]

# The value of the JSON report's `format` key; it changes only when a key changes meaning or goes.
FORMAT = "jcnrc.verify.report/v1"
PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
# Problems that say the node could not be verified, not that it differs: JUnit <error>, not <failure>.
# All but the first come from live mode (live.py).
ERROR_KINDS = frozenset({"unreadable", "no-crpd-pod", "ambiguous-crpd-pod", "crpd-pod-not-running", "command-failed"})
# Findings about the cRPD pod itself, which the live mode's `pod` check collects.
POD_KINDS = frozenset({"no-crpd-pod", "ambiguous-crpd-pod", "crpd-pod-not-running", "wrong-crpd-role"})


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Check:
    """One testcase: something the intent says the node must show, or one unexpected thing."""

    id: str  # stable within a node: "bgp:10.240.0.4", "evpn:blue.evpn.0:5:...", "kernel:blue:1.1.22.2"
    group: str  # pod | bgp | evpn | kernel
    name: str
    status: str  # passed | failed | error | skipped
    findings: tuple[Finding, ...] = ()  # the problems that failed it
    notes: tuple[str, ...] = ()  # why it was skipped, or what a passing check did not compare

    @property
    def message(self) -> str | None:
        if self.findings:
            return self.findings[0].message
        if self.status == SKIPPED and self.notes:
            return self.notes[0]
        return None


@dataclass(frozen=True)
class CaptureInfo:
    """Where one capture came from: a file (`command` None) or a command run in the cRPD pod."""

    name: str  # the name findings give as their `capture`
    command: tuple[str, ...] | None = None  # the kubectl argument list, in live mode
    structured: bool = False  # read from JSON (`| display json`, `ip -j`) rather than text


@dataclass(frozen=True)
class PodInfo:
    namespace: str
    name: str
    container: str
    context: str | None = None


@dataclass(frozen=True)
class NodeReport:
    node: str  # as the user names it: `<cluster>/<node>` in a fleet
    name: str  # the Kubernetes node name
    cluster: str | None
    role: str
    address: str
    source: str  # captures | live
    checks: tuple[Check, ...]
    findings: tuple[Finding, ...]
    captures: tuple[CaptureInfo, ...] = ()
    pod: PodInfo | None = None
    seconds: float = 0.0  # how long live mode spent on the node; 0 for captures

    def count(self, status: str) -> int:
        return sum(1 for c in self.checks if c.status == status)

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.is_problem)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Report:
    intent: str  # the intent file, as given
    nodes: tuple[NodeReport, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(n.ok for n in self.nodes)

    def count(self, status: str) -> int:
        return sum(n.count(status) for n in self.nodes)


# ------------------------------------------------------------------ comparing


def verify_node(plan: Plan, node_name: str, texts: Mapping[str, str], label: str | None = None,
                cluster: str | None = None) -> NodeReport:
    """Captured text of one node compared with the intent: what `jcnrc verify --node N CAPTURE...` reports."""
    state = expected_state.node_state(plan, node_name)
    parsed = parse_captures(texts)
    findings = check_captures(plan, node_name, parsed, state)
    return node_report(plan, node_name, parsed, findings, label=label, cluster=cluster, state=state,
                       captures=tuple(CaptureInfo(name) for name in texts))


def node_report(plan: Plan, node_name: str, parsed: Mapping[str, Capture | CaptureError], findings: Sequence[Finding],
                *, label: str | None = None, cluster: str | None = None, source: str = "captures",
                state: NodeState | None = None, captures: Sequence[CaptureInfo] = (), pod: PodInfo | None = None,
                seconds: float = 0.0) -> NodeReport:
    """The checks of one node (see the module docstring), marked from its findings and parsed captures."""
    state = state if state is not None else expected_state.node_state(plan, node_name)
    builder = _Checks(plan, state, parsed, findings, live=source == "live")
    node = plan.node(node_name)
    return NodeReport(label or node_name, node_name, cluster, node.role, node.address, source, builder.build(),
                      tuple(findings), tuple(captures), pod, seconds)


@dataclass(frozen=True)
class _Seen:
    """What one capture shows, looked up once per capture rather than once per check."""

    name: str
    snipped: bool
    present: frozenset[str]  # route texts, peer addresses, kernel prefixes (of the compared kinds)
    detailed: dict[str, list[EvpnType5Route]]  # extensive route captures: route text -> its entries
    families: frozenset[str] = frozenset()  # kernel captures: the address families it holds a route of


class _Checks:
    """Lists a node's checks from its expected state and marks each from findings and captures.

    Findings and capture contents are indexed once, so the work grows with checks plus findings,
    not with their product (a big topology has thousands of each)."""

    def __init__(self, plan: Plan, state: NodeState, parsed: Mapping[str, Capture | CaptureError],
                 findings: Sequence[Finding], live: bool) -> None:
        self.plan, self.state, self.parsed, self.live = plan, state, parsed, live
        self.findings = list(findings)
        self.by_subject: dict[tuple[str, str | None], list[int]] = {}  # (capture, subject) -> problem indexes
        for index, finding in enumerate(self.findings):
            if finding.is_problem:
                self.by_subject.setdefault((finding.capture, finding.subject), []).append(index)
        self.claimed: set[int] = set()  # indexes of the problems attached to an expected check
        self.tables: dict[str, list[_Seen]] = {}
        self.bgp: list[_Seen] = []
        self.kernel: dict[str, list[_Seen]] = {}
        # compare.py matches a kernel table with a VRF by the routes they share and says which in a note.
        matched = {f.capture: f.subject for f in self.findings if f.kind == "matched-vrf" and not f.is_problem}
        for name, capture in parsed.items():
            if isinstance(capture, RouteTableCapture):
                detailed: dict[str, list[EvpnType5Route]] = {}
                if capture.extensive:
                    for route in capture.routes:
                        detailed.setdefault(route.text, []).append(route)
                self.tables.setdefault(capture.table, []).append(
                    _Seen(name, capture.snipped, frozenset(r.text for r in capture.routes), detailed))
            elif isinstance(capture, BgpSummaryCapture):
                self.bgp.append(_Seen(name, capture.snipped, frozenset(p.address for p in capture.peers), {}))
            elif isinstance(capture, KernelTableCapture) and matched.get(name):
                self.kernel.setdefault(str(matched[name]), []).append(_Seen(
                    name, capture.snipped, frozenset(r.prefix for r in capture.routes if r.kind in COMPARED_KERNEL_KINDS),
                    {}, frozenset(r.family for r in capture.routes)))

    def build(self) -> tuple[Check, ...]:
        checks: list[Check] = []
        if self.live:
            checks.append(self._pod())
        checks += [self._session(s) for s in self.state.sessions]
        for table in self.state.tables:
            checks += [self._route(table.table, r) for r in table.routes]
        if self.plan.target == "platter":
            for table in self.state.tables:
                checks += [self._kernel(table.vrf, k) for k in table.kernel]
        checks += self._unclaimed()
        return tuple(checks)

    # --- problems -> checks

    def _claim(self, seen: Iterable[_Seen], subject: str) -> tuple[Finding, ...]:
        """The problems about `subject` in these captures, marked as belonging to an expected check."""
        indexes = sorted(i for s in seen for i in self.by_subject.get((s.name, subject), ()))
        self.claimed.update(indexes)
        return tuple(self.findings[i] for i in indexes)

    def _status(self, problems: tuple[Finding, ...], covered: bool) -> str:
        if any(p.kind in ERROR_KINDS for p in problems):
            return ERROR
        if problems:
            return FAILED
        return PASSED if covered else SKIPPED

    def _check(self, check_id: str, group: str, name: str, problems: tuple[Finding, ...], covered: bool,
               skip_reason: str, notes: Iterable[str] = ()) -> Check:
        status = self._status(problems, covered)
        shown = [skip_reason] if status == SKIPPED else [n for n in notes if n]
        return Check(check_id, group, name, status, problems, tuple(shown))

    # --- the checks

    def _pod(self) -> Check:
        indexes = [i for i, f in enumerate(self.findings) if f.is_problem and f.kind in POD_KINDS]
        self.claimed.update(indexes)
        problems = tuple(self.findings[i] for i in indexes)
        return self._check("pod", "pod", "the node's cRPD pod is Running", problems, True, "")

    def _session(self, session: ExpectedSession) -> Check:
        problems = self._claim(self.bgp, session.peer)
        covered = any(not s.snipped or session.peer in s.present for s in self.bgp)
        reason = ("the capture of `show bgp summary` is truncated before this peer" if self.bgp
                  else "not checked: no capture of `show bgp summary`")
        name = f"BGP session with {session.peer} ({session.peer_role} {session.peer_node}) is Established"
        return self._check(f"bgp:{session.peer}", "bgp", name, problems, covered, reason)

    def _route(self, table: str, route: ExpectedRoute) -> Check:
        seen = self.tables.get(table, [])
        problems = self._claim(seen, route.text)
        shown_in = [s for s in seen if route.text in s.present]
        covered = bool(shown_in) or any(not s.snipped for s in seen)
        if not seen:
            reason = f"not checked: no capture of `show route table {table}`"
        else:
            reason = f"the capture of {table} is truncated before this route"
        entries = [entry for s in shown_in for entry in s.detailed.get(route.text, ())]
        if not entries:
            notes = [(f"VNI, route targets and protocol next hop not compared: no `extensive` capture of {table} "
                      "shows this route")]
        elif all(entry.vni is None for entry in entries):
            notes = ["VNI not compared: the capture shows no route label"]
        else:
            notes = []
        if route.protocol == "EVPN":
            what = f"originated here (EVPN), VNI {route.vni}"
        else:
            what = (f"learned from {', '.join(route.learned_from)}, protocol next hop {route.protocol_next_hop}, "
                    f"VNI {route.vni}, {' '.join(route.route_targets)}")
        return self._check(f"evpn:{table}:{route.text}", "evpn", f"{table}: {route.text} {what}", problems, covered,
                           reason, notes)

    def _kernel(self, vrf: str, route: ExpectedKernelRoute) -> Check:
        seen = self.kernel.get(vrf, [])
        problems = self._claim(seen, route.prefix)
        covered = False
        reason = f"not checked: no capture of the kernel table of VRF {vrf} (`ip route show table N`)"
        for capture in seen:
            if route.family in capture.families and (not capture.snipped or route.prefix in capture.present):
                covered = True
            elif route.family not in capture.families:
                command = "ip -6 route" if route.family == "ipv6" else "ip route"
                reason = (f"not checked: the kernel capture holds no {'IPv6' if route.family == 'ipv6' else 'IPv4'} "
                          f"route (capture `{command} show table N`)")
            else:
                reason = "the kernel capture is truncated before this route"
        return self._check(f"kernel:{vrf}:{route.prefix}", "kernel", f"kernel table of VRF {vrf}: {route.text}",
                           problems, covered, reason)

    def _unclaimed(self) -> list[Check]:
        """A problem that names no expected check is a check of its own: one difference, one testcase."""
        checks: list[Check] = []
        seen: dict[str, int] = {}
        for index, finding in enumerate(self.findings):
            if not finding.is_problem or index in self.claimed:
                continue
            group = self._group_of(finding)
            subject = finding.subject or finding.capture
            check_id = f"{group}:{finding.kind}:{subject}"
            seen[check_id] = seen.get(check_id, 0) + 1
            if seen[check_id] > 1:  # the same kind about the same subject twice (two captures of one table)
                check_id += f"#{seen[check_id]}"
            status = ERROR if finding.kind in ERROR_KINDS else FAILED
            checks.append(Check(check_id, group, f"{finding.kind}: {subject}", status, (finding,)))
        return checks

    def _group_of(self, finding: Finding) -> str:
        capture = self.parsed.get(finding.capture)
        if finding.kind in POD_KINDS:
            return "pod"
        if isinstance(capture, RouteTableCapture):
            return "evpn"
        if isinstance(capture, BgpSummaryCapture):
            return "bgp"
        if isinstance(capture, KernelTableCapture):
            return "kernel"
        # Live mode names a capture after its command, also when the command failed and nothing was read.
        for prefix, group in (("show bgp", "bgp"), ("show route", "evpn"), ("ip ", "kernel")):
            if finding.capture.startswith(prefix):
                return group
        return "capture"


# ------------------------------------------------------------------ rendering


def render(report: Report, fmt: str) -> str:
    """The report as `text`, `json` or `junit`."""
    if fmt == "json":
        return to_json(report)
    if fmt == "junit":
        return to_junit(report)
    return to_text(report)


def _safe_line(text: str) -> str:
    # Findings quote captures and the cluster's answers: shown, never acted on (escape sequences,
    # bidi overrides, stray line breaks), and what is left is valid XML 1.0 and plain JSON text.
    return escaped(text)


def _safe_lines(text: str) -> str:
    return "\n".join(_safe_line(line) for line in text.split("\n"))


def to_text(report: Report) -> str:
    """Every finding, one line each, then one verdict line per node. For one node read from captures
    this is exactly what `jcnrc verify` has always printed."""
    lines: list[str] = []
    several = len(report.nodes) > 1
    for node in report.nodes:
        if node.source == "live":
            where = f" (pod {node.pod.namespace}/{node.pod.name})" if node.pod else ""
            lines.append(f"== {_safe_line(node.node)}{_safe_line(where)}")
        lines += [_safe_lines(f.text()) for f in node.findings]
        problems = len(node.problems)
        lines.append(f"{_safe_line(node.node)}: {problems} difference(s)" if problems
                     else f"{_safe_line(node.node)}: matches the intent")
    if several:
        differing = sum(1 for n in report.nodes if not n.ok)
        lines.append(f"{_count(len(report.nodes), 'node')}: {len(report.nodes) - differing} match the intent, "
                     f"{differing} differ")
    return "\n".join(lines) + "\n"


def _totals(checks: Sequence[Check]) -> dict[str, int]:
    return {"checks": len(checks), **{status: sum(1 for c in checks if c.status == status)
                                      for status in (PASSED, FAILED, ERROR, SKIPPED)}}


def to_data(report: Report) -> dict:
    """The JSON report: keys documented in docs/verify.md."""
    nodes = [_node_data(n) for n in report.nodes]
    totals = _totals([c for n in report.nodes for c in n.checks])
    totals |= {"nodes": len(report.nodes), "nodesOk": sum(1 for n in report.nodes if n.ok)}
    return {"format": FORMAT, "intent": report.intent, "ok": report.ok, "totals": totals, "nodes": nodes}


def _node_data(node: NodeReport) -> dict:
    totals = _totals(node.checks) | {"problems": len(node.problems),
                                     "notes": sum(1 for f in node.findings if not f.is_problem)}
    return {
        "node": node.node,
        "name": node.name,
        "cluster": node.cluster,
        "role": node.role,
        "address": node.address,
        "source": node.source,
        "ok": node.ok,
        "seconds": round(node.seconds, 3),
        "pod": None if node.pod is None else {"namespace": node.pod.namespace, "name": node.pod.name,
                                              "container": node.pod.container, "context": node.pod.context},
        "captures": [{"name": c.name, "command": None if c.command is None else list(c.command),
                      "structured": c.structured} for c in node.captures],
        "totals": totals,
        "checks": [{"id": c.id, "group": c.group, "name": c.name, "status": c.status, "message": c.message,
                    "notes": list(c.notes), "findings": [f.to_data() for f in c.findings]} for c in node.checks],
        "findings": [f.to_data() for f in node.findings],
    }


def to_json(report: Report) -> str:
    # ensure_ascii (json's default) writes every non-ASCII character of a quoted capture as \\uXXXX.
    return json.dumps(to_data(report), indent=2, sort_keys=True) + "\n"


def _seconds(value: float) -> str:
    # Jenkins' schema (SUREFIRE_TIME) takes digits and a dot: no exponent, no sign.
    return f"{max(value, 0.0):.3f}"


_CLASS_UNSAFE = re.compile(r"[^\w./:-]", re.ASCII)


def to_junit(report: Report) -> str:
    """JUnit XML as Jenkins (xunit's junit-10.xsd), GitLab and GitHub test reporters read it:
    `<testsuites>` with one `<testsuite>` per node, one `<testcase>` per check; failures and
    errors carry the finding's message (attribute) and text (body), skipped checks their reason,
    and the node's notes go to the suite's `<system-out>`. `<testsuites>` has no `skipped`
    attribute: junit-10.xsd allows none there."""
    root = ET.Element("testsuites", {
        "name": _safe_line(f"jcnrc verify {report.intent}"),
        "tests": str(sum(len(n.checks) for n in report.nodes)),
        "failures": str(report.count(FAILED)),
        "errors": str(report.count(ERROR)),
        "time": _seconds(sum(n.seconds for n in report.nodes)),
    })
    for node in report.nodes:
        suite = ET.SubElement(root, "testsuite", {
            "name": _safe_line(node.node),
            "tests": str(len(node.checks)),
            "failures": str(node.count(FAILED)),
            "errors": str(node.count(ERROR)),
            "skipped": str(node.count(SKIPPED)),
            "time": _seconds(node.seconds),
        })
        properties = ET.SubElement(suite, "properties")
        values = [("intent", report.intent), ("node", node.name), ("role", node.role), ("address", node.address),
                  ("source", node.source)]
        if node.cluster is not None:
            values.append(("cluster", node.cluster))
        if node.pod is not None:
            values += [("pod", f"{node.pod.namespace}/{node.pod.name}"), ("container", node.pod.container)]
            if node.pod.context:
                values.append(("context", node.pod.context))
        for name, value in values:
            ET.SubElement(properties, "property", {"name": name, "value": _safe_line(value)})
        # Jenkins reads `package.Class` from classname: the node, then the group of the check.
        classname = _CLASS_UNSAFE.sub("_", node.node)
        for check in node.checks:
            case = ET.SubElement(suite, "testcase", {"name": _safe_line(check.name),
                                                     "classname": f"{classname}.{check.group}", "time": "0"})
            if check.status in (FAILED, ERROR):
                for finding in check.findings:
                    element = "error" if finding.kind in ERROR_KINDS else "failure"
                    ET.SubElement(case, element, {"message": _safe_line(finding.message), "type": finding.kind}).text = \
                        _safe_lines(finding.text())
            elif check.status == SKIPPED:
                ET.SubElement(case, "skipped", {"message": _safe_line(check.message or "not checked")})
            if check.notes and check.status != SKIPPED:
                ET.SubElement(case, "system-out").text = _safe_lines("\n".join(check.notes))
        notes = [f.text() for f in node.findings if not f.is_problem]
        if notes:
            ET.SubElement(suite, "system-out").text = _safe_lines("\n".join(notes))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
