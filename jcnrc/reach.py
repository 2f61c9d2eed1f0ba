"""Reachability between pods and VRFs, proved on the graph, and the `expect:` assertions.

A pod interface in VRF A reaches one in VRF B when A installs B's prefix (A imports a target
that B exports) *and* B installs A's prefix, so that the reply finds its way back. Everything is
decided per VRF pair, so the cost grows with VRFs and targets, never with pods squared.
"""

from __future__ import annotations

from dataclasses import dataclass

from jcnrc import graph as tg
from jcnrc.diagnostics import Diagnostic, error


@dataclass(frozen=True)
class Direction:
    source_vrf: str  # whose prefixes travel
    dest_vrf: str  # whose table installs them
    targets: tuple[str, ...]  # targets that carry them; empty means no path

    @property
    def ok(self) -> bool:
        return bool(self.targets)


@dataclass(frozen=True)
class Verdict:
    a: str
    b: str
    a_vrf: str
    b_vrf: str
    forward: Direction  # a's table has b's routes: a can send to b
    backward: Direction  # b's table has a's routes: b can answer

    @property
    def reachable(self) -> bool:
        return self.forward.ok and self.backward.ok

    @property
    def one_way(self) -> bool:
        return self.forward.ok != self.backward.ok

    @property
    def isolated(self) -> bool:
        return not self.forward.ok and not self.backward.ok


def _direction(g, source_vrf: str, dest_vrf: str) -> Direction:
    return Direction(source_vrf, dest_vrf, tuple(tg.shared_targets(g, source_vrf, dest_vrf)))


def endpoint_vrfs(plan, name: str) -> list[str]:
    """The VRFs of a pod's interfaces, or [name] when name is a VRF."""
    g = plan.graph
    if ("pod", name) in g:
        return sorted({tg.vrf_of_attachment(g, key) for key in tg.attachments_of_pod(g, name)})
    if ("vrf", name) in g:
        return [name]
    raise KeyError(name)


def verdicts(plan, a: str, b: str) -> list[Verdict]:
    g = plan.graph
    found = []
    for a_vrf in endpoint_vrfs(plan, a):
        for b_vrf in endpoint_vrfs(plan, b):
            found.append(Verdict(a, b, a_vrf, b_vrf, _direction(g, b_vrf, a_vrf), _direction(g, a_vrf, b_vrf)))
    return found


def check_expectations(plan) -> list[Diagnostic]:
    problems = []
    for index, expectation in enumerate(plan.topology.expect):
        if expectation.reach is not None:
            a, b = expectation.reach
            results = verdicts(plan, a, b)
            if not any(v.reachable for v in results):
                problems.append(error("JCN703", f"`{a}` and `{b}` must reach each other, but they do not: {why_not(results)}",
                                      ("expect", index, "reach"), help=_fix_hint(results)))
        else:
            a, b = expectation.isolate
            leaking = [v for v in verdicts(plan, a, b) if not v.isolated]
            if leaking:
                problems.append(error("JCN704", f"`{a}` and `{b}` must be isolated, but {leak_reason(leaking[0])}",
                                      ("expect", index, "isolate"),
                                      help="remove the shared route target from one side's import or export list"))
    return problems


def why_not(results: list[Verdict]) -> str:
    if not results:
        return "one of them has no VRF interface"
    v = results[0]
    parts = []
    if not v.forward.ok:
        parts.append(f"VRF `{v.a_vrf}` imports no target that VRF `{v.b_vrf}` exports")
    if not v.backward.ok:
        parts.append(f"VRF `{v.b_vrf}` imports no target that VRF `{v.a_vrf}` exports")
    return " and ".join(parts)


def leak_reason(v: Verdict) -> str:
    if v.forward.ok:
        return f"VRF `{v.a_vrf}` imports {', '.join(v.forward.targets)}, which VRF `{v.b_vrf}` exports"
    return f"VRF `{v.b_vrf}` imports {', '.join(v.backward.targets)}, which VRF `{v.a_vrf}` exports"


def _fix_hint(results: list[Verdict]) -> str | None:
    if not results:
        return None
    v = results[0]
    if v.one_way:
        missing = v.backward if v.forward.ok else v.forward
        return f"the path is one-way: let VRF `{missing.dest_vrf}` import a target that VRF `{missing.source_vrf}` exports"
    return f"give VRFs `{v.a_vrf}` and `{v.b_vrf}` a common route target in both directions"


def explain(plan, a: str, b: str) -> str:
    """In words: how a's traffic gets to b and back, or which link is missing."""
    lines = []
    for v in verdicts(plan, a, b):
        lines.append(f"{a} (VRF {v.a_vrf}) -> {b} (VRF {v.b_vrf}):")
        lines.append("  " + _direction_text(plan, v.forward, sender=a, receiver=b))
        lines.append("  " + _direction_text(plan, v.backward, sender=b, receiver=a))
        state = "reachable both ways" if v.reachable else "ONE-WAY only" if v.one_way else "isolated"
        lines.append(f"  verdict: {state}")
    if not lines:
        lines.append(f"{a} and {b}: no VRF interfaces to compare")
    return "\n".join(lines) + "\n"


def _direction_text(plan, d: Direction, sender: str, receiver: str) -> str:
    # d.dest_vrf installs d.source_vrf's prefixes: that is what lets `sender` send to `receiver`.
    if d.ok:
        return (f"{sender} -> {receiver}: VRF {d.dest_vrf} imports {', '.join(d.targets)}, exported by VRF {d.source_vrf}, "
                f"so {receiver}'s prefixes are in {d.dest_vrf}.evpn.0")
    exported = ", ".join(plan.vrf(d.source_vrf).exports)
    imported = ", ".join(plan.vrf(d.dest_vrf).imports)
    return (f"{sender} -> {receiver}: no route. VRF {d.source_vrf} exports {exported}; "
            f"VRF {d.dest_vrf} imports only {imported}")
