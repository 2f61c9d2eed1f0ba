"""Reachability between pods and VRFs, proved on the route targets, and the `expect:` assertions.

A pod interface in VRF A can send to one in VRF B when A's table holds B's prefix: B's VRF
exports a target that A's VRF imports, and B has an address to advertise. A *reaches* B when
that holds in both directions, so that replies find their way back; when it holds in one
direction only, the path is one-way (packets arrive, connections never complete).

Everything is decided per pair of endpoints named in a question, by `SharedTargets`: which targets
carry one VRF's routes into another's table, a path of exactly two edges (vrf -> target -> vrf)
in the route-target graph (``graph.routes``). ``jcnrc explain`` (and ``jcnrc impact``) ask it of
that networkx DiGraph, built once per question. A build's ``expect:`` asks the plan, which answers
the same (``Plan.shared_targets``, from the VRFs' import and export lists; tests hold both to the
graph's answers on every example and on random VRF sets): importing networkx would cost a build
more than all of its ``expect:`` checks. The cost grows with assertions, VRFs and targets, never
with pods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jcnrc.diagnostics import Diagnostic, error

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True)
class Endpoint:
    """One side of a question: a pod interface, or a whole VRF."""

    name: str  # as written: a pod or a VRF
    vrf: str
    interface: str | None = None  # pods only
    node: str | None = None
    node_address: str | None = None  # its VXLAN endpoint: the node address, on JCNR the fabric address
    prefixes: tuple[str, ...] | None = None  # the link subnets it advertises; None for a whole VRF

    @property
    def is_pod(self) -> bool:
        return self.interface is not None

    @property
    def advertises(self) -> bool:
        return self.prefixes is None or bool(self.prefixes)

    def label(self, qualified: bool = False) -> str:
        if not self.is_pod:
            return f"VRF {self.name}"
        return f"{self.name}/{self.interface}" if qualified else self.name


@dataclass(frozen=True)
class Direction:
    """Can `sender` send to `receiver`? Only if the sender's table holds the receiver's prefix."""

    sender: Endpoint
    receiver: Endpoint
    targets: tuple[str, ...]  # exported by the receiver's VRF and imported by the sender's
    # In a fleet: (receiver's cluster, sender's cluster) when the receiver's routes never reach the
    # sender's cluster (no peering between their route reflectors carries them).
    unpeered: tuple[str, str] | None = None

    @property
    def source_vrf(self) -> str:
        """Whose prefixes travel."""
        return self.receiver.vrf

    @property
    def dest_vrf(self) -> str:
        """Whose table installs them."""
        return self.sender.vrf

    @property
    def local(self) -> bool:
        """Same VRF on the same node: the prefix is in the table without any import."""
        return (self.sender.is_pod and self.receiver.is_pod and self.sender.vrf == self.receiver.vrf
                and self.sender.node == self.receiver.node)

    @property
    def ok(self) -> bool:
        return (bool(self.targets) or self.local) and self.receiver.advertises and self.unpeered is None


@dataclass(frozen=True)
class Verdict:
    a: Endpoint
    b: Endpoint
    forward: Direction  # a can send to b
    backward: Direction  # b can send to a (the replies)

    @property
    def reachable(self) -> bool:
        return self.forward.ok and self.backward.ok

    @property
    def one_way(self) -> bool:
        return self.forward.ok != self.backward.ok

    @property
    def isolated(self) -> bool:
        return not self.forward.ok and not self.backward.ok


def endpoints(plan, name: str) -> list[Endpoint]:
    """Every VRF interface of a pod, or the VRF itself when `name` is a VRF."""
    if plan.has_pod(name):
        pod = plan.pod(name)
        node = plan.node(pod.node)
        # The address its tunnels leave from: the node address, JCNR's fabric address (ipv4_loopback).
        return [Endpoint(name, a.vrf, a.interface, node.name, node.ipv4_loopback, tuple(link.subnet for link in a.links))
                for a in pod.attachments]
    if plan.has_vrf(name):
        return [Endpoint(name, name)]
    raise KeyError(name)


# (exporter VRF, importer VRF) -> the targets, sorted, that carry the exporter's routes into the importer's table.
SharedTargets = Callable[[str, str], list[str]]


def route_graph(plan) -> nx.DiGraph:
    """The plan's VRFs and route targets as a networkx DiGraph (graph.routes)."""
    from jcnrc.plan import graph

    return graph.routes(plan.vrfs)


# A fleet's answer to "do routes of cluster X reach cluster Y?" (FleetPlan.exchanges); None for one cluster.
Exchanges = Callable[[str, str], bool] | None


def _cluster(endpoint: Endpoint) -> str | None:
    """The cluster of a pod endpoint of a fleet (nodes named `<cluster>/<node>`), else None."""
    if endpoint.node is None or "/" not in endpoint.node:
        return None
    return endpoint.node.partition("/")[0]


def on_route_graph(routes: nx.DiGraph) -> SharedTargets:
    """SharedTargets answered on the networkx route-target graph (graph.routes)."""
    from jcnrc.plan import graph

    return lambda exporter, importer: graph.shared_targets(routes, exporter, importer)


def _direction(shared: SharedTargets, sender: Endpoint, receiver: Endpoint, exchanges: Exchanges = None) -> Direction:
    unpeered = None
    here, there = _cluster(sender), _cluster(receiver)
    if exchanges is not None and here is not None and there is not None and not exchanges(there, here):
        unpeered = (there, here)
    return Direction(sender, receiver, tuple(shared(receiver.vrf, sender.vrf)), unpeered)


def verdicts(plan, a: str, b: str, routes: nx.DiGraph | None = None, exchanges: Exchanges = None,
             shared: SharedTargets | None = None) -> list[Verdict]:
    """Every pair of a's and b's endpoints, decided by `shared`, else on `routes` (route_graph(plan) if None)."""
    if shared is None:
        shared = on_route_graph(routes if routes is not None else route_graph(plan))
    found = []
    for one in endpoints(plan, a):
        for other in endpoints(plan, b):
            found.append(Verdict(one, other, _direction(shared, one, other, exchanges),
                                 _direction(shared, other, one, exchanges)))
    return found


# --- expect: ----------------------------------------------------------------------------------

def check_expectations(plan, fleet_plan=None) -> list[Diagnostic]:
    """JCN703/JCN704 for every `expect:` of the plan; for a fleet, `plan` is the fleet's union plan
    and `fleet_plan` says which clusters exchange routes."""
    if not plan.topology.expect:
        return []
    shared = plan.shared_targets  # the plan's answer, the route graph's (see the module docstring)
    exchanges = fleet_plan.exchanges if fleet_plan is not None else None
    problems = []
    for index, expectation in enumerate(plan.topology.expect):
        if expectation.reach is not None:
            a, b = expectation.reach
            results = verdicts(plan, a, b, exchanges=exchanges, shared=shared)
            if not any(v.reachable for v in results):
                closest = _closest(results)
                problems.append(error(
                    "JCN703", f"`{a}` and `{b}` must reach each other, but {why_not(plan, closest)}",
                    ("expect", index, "reach"), help=fix_hint(plan, closest)))
        else:
            a, b = expectation.isolate
            leaking = [v for v in verdicts(plan, a, b, exchanges=exchanges, shared=shared) if not v.isolated]
            if leaking:
                problems.append(error(
                    "JCN704", f"`{a}` and `{b}` must be isolated, but {leak_reason(leaking[0])}",
                    ("expect", index, "isolate"), help=isolation_hint(leaking[0])))
    return problems


def _closest(results: list[Verdict]) -> Verdict | None:
    """The pair that comes nearest to working (one-way beats isolated): its fix is the smallest."""
    return min(results, key=lambda v: (not v.one_way, v.a.label(True), v.b.label(True)), default=None)


def why_not(plan, v: Verdict | None) -> str:
    if v is None:
        return "one of them has no VRF interface"
    if not (v.a.is_pod or v.b.is_pod):
        where = ""
    elif v.a.vrf == v.b.vrf:
        where = f" (both in VRF `{v.a.vrf}`)"
    else:
        where = f" (VRF `{v.a.vrf}` and VRF `{v.b.vrf}`)"
    if v.one_way:
        working, broken = (v.forward, v.backward) if v.forward.ok else (v.backward, v.forward)
        return (f"the path is one-way{where}: `{working.sender.name}` can send to `{working.receiver.name}`, "
                f"but {_missing_link(plan, broken)}, so `{broken.sender.name}` cannot answer")
    return f"neither can send to the other{where}: {_missing_link(plan, v.forward)}; and {_missing_link(plan, v.backward)}"


def _missing_link(plan, d: Direction) -> str:
    if d.unpeered is not None and (d.targets or d.local) and d.receiver.advertises:
        return _unpeered_text(d)
    if (d.targets or d.local) and not d.receiver.advertises:
        return (f"`{d.receiver.label(True)}` has no address in VRF `{d.receiver.vrf}`, so it advertises no route "
                f"(VRF `{d.receiver.vrf}` has no pool)")
    exported = ", ".join(plan.vrf(d.source_vrf).exports)
    imported = ", ".join(plan.vrf(d.dest_vrf).imports) or "nothing"
    return (f"VRF `{d.dest_vrf}` imports no target that VRF `{d.source_vrf}` exports "
            f"(`{d.source_vrf}` exports {exported}; `{d.dest_vrf}` imports {imported})")


def leak_reason(v: Verdict) -> str:
    d = v.forward if v.forward.ok else v.backward
    if not d.targets:
        return f"both are in VRF `{d.dest_vrf}` on node `{d.sender.node}`, so they share one table"
    if d.source_vrf == d.dest_vrf:
        return f"both are in VRF `{d.dest_vrf}`, which imports its own target {', '.join(d.targets)}"
    return (f"VRF `{d.dest_vrf}` imports {', '.join(d.targets)}, which VRF `{d.source_vrf}` exports, "
            f"so `{d.sender.name}` has a route to `{d.receiver.name}`")


def fix_hint(plan, v: Verdict | None) -> str | None:
    if v is None:
        return None
    prefix = "the path is one-way: " if v.one_way else ""
    return prefix + _fixes(plan, v)


def _fixes(plan, v: Verdict) -> str:
    hints = []
    for d in (v.forward, v.backward):
        if d.ok:
            continue
        if d.unpeered is not None and (d.targets or d.local) and d.receiver.advertises:
            first, second = sorted(d.unpeered)
            hints.append(f"peer clusters `{first}` and `{second}` in `interconnect.peerings`")
        elif d.targets or d.local:  # the route would be there; the receiver has nothing to advertise
            hints.append(f"give VRF `{d.receiver.vrf}` an address pool (or `{d.receiver.label(True)}` an address)")
        else:
            exported = plan.vrf(d.source_vrf).exports
            choice = exported[0] if len(exported) == 1 else "one of " + ", ".join(exported)
            hints.append(f"let VRF `{d.dest_vrf}` import {choice}")
    return "; and ".join(dict.fromkeys(hints))  # both directions may need the same peering


def isolation_hint(v: Verdict) -> str:
    d = v.forward if v.forward.ok else v.backward
    if not d.targets or d.source_vrf == d.dest_vrf:
        return "put one of them in another VRF"
    return f"remove {', '.join(d.targets)} from VRF `{d.dest_vrf}`'s imports or from VRF `{d.source_vrf}`'s exports"


# --- jcnrc explain ----------------------------------------------------------------------------

def _unpeered_text(d: Direction) -> str:
    there, here = d.unpeered or ("", "")
    return (f"the routes of cluster `{there}` never reach cluster `{here}` (their route reflectors do not peer, and no "
            "peering passes them on: iBGP does not pass a route from one peer cluster to the next)")


def explain(plan, a: str, b: str, fleet_plan=None) -> str:
    """In words: how a's traffic gets to b and back, or which link is missing."""
    results = verdicts(plan, a, b, exchanges=fleet_plan.exchanges if fleet_plan is not None else None)
    if not results:
        return f"{a} and {b}: no VRF interfaces to compare\n"
    qualified = len(results) > 1
    lines: list[str] = []
    for v in results:
        if lines:
            lines.append("")
        lines.append(f"{_where(v.a, qualified)} and {_where(v.b, qualified)}: {_state(v)}")
        lines.append("  " + _direction_text(plan, v.forward))
        lines.append("  " + _direction_text(plan, v.backward))
        if not v.reachable:
            lines.append(f"  {'to make it two-way' if v.one_way else 'to connect them'}: {_fixes(plan, v)}")
    return "\n".join(lines) + "\n"


def explain_data(plan, a: str, b: str, fleet_plan=None) -> dict:
    """`jcnrc explain --format json`: every pair of a's and b's interfaces, both directions, with the
    same sentences as the text form. Keys: a, b, reachable (some pair both ways), pairs[]."""
    results = verdicts(plan, a, b, exchanges=fleet_plan.exchanges if fleet_plan is not None else None)

    def endpoint(e: Endpoint) -> dict:
        return {"name": e.name, "vrf": e.vrf, "interface": e.interface, "node": e.node, "nodeAddress": e.node_address,
                "prefixes": list(e.prefixes) if e.prefixes is not None else None}

    def direction(d: Direction) -> dict:
        return {"ok": d.ok, "routeTargets": list(d.targets), "sameNode": d.local,
                "unpeeredClusters": list(d.unpeered) if d.unpeered else None, "explanation": _direction_text(plan, d)}

    pairs = [{"a": endpoint(v.a), "b": endpoint(v.b), "state": "reachable" if v.reachable else "one-way" if v.one_way
              else "isolated", "forward": direction(v.forward), "backward": direction(v.backward),
              "fix": None if v.reachable else _fixes(plan, v)} for v in results]
    return {"a": a, "b": b, "reachable": any(v.reachable for v in results), "pairs": pairs}


def _where(e: Endpoint, qualified: bool) -> str:
    if not e.is_pod:
        return f"VRF {e.name}"
    return f"{e.label(qualified)} (VRF {e.vrf}, node {e.node})"


def _state(v: Verdict) -> str:
    a, b = v.a.label(), v.b.label()
    if v.reachable:
        return "reachable both ways"
    if v.one_way:
        sender, receiver = (a, b) if v.forward.ok else (b, a)
        return f"ONE-WAY: {sender} can send to {receiver}, but {receiver} has no route back, so replies are lost"
    return "isolated: neither has a route to the other"


def _direction_text(plan, d: Direction) -> str:
    sender, receiver = d.sender.label(), d.receiver.label()
    table = f"{d.dest_vrf}.evpn.0" + (f" on {d.sender.node}" if d.sender.is_pod else "")
    if d.unpeered is not None and (d.targets or d.local) and d.receiver.advertises:
        return f"{sender} -> {receiver}: no route. VRF {d.dest_vrf} imports the target, but {_unpeered_text(d)}"
    if not d.targets and not d.local:
        exported = ", ".join(plan.vrf(d.source_vrf).exports)
        imported = ", ".join(plan.vrf(d.dest_vrf).imports) or "nothing"
        return (f"{sender} -> {receiver}: no route. VRF {d.source_vrf} exports {exported}, but VRF {d.dest_vrf} "
                f"imports only {imported}, so {table} holds no route to {receiver}")
    if not d.receiver.advertises:
        return (f"{sender} -> {receiver}: no route. {receiver} has no address on {d.receiver.interface}, "
                f"so it advertises nothing into VRF {d.source_vrf}")
    if d.receiver.prefixes is not None:  # a pod
        plural = "es" if len(d.receiver.prefixes) > 1 else ""
        what = f"{receiver}'s prefix{plural} {' and '.join(d.receiver.prefixes)}"
    else:
        what = f"VRF {d.source_vrf}'s prefixes"
    if d.targets:
        text = (f"{sender} -> {receiver}: yes. VRF {d.dest_vrf} imports {', '.join(d.targets)}, which VRF {d.source_vrf} "
                f"exports, so {table} holds {what}")
    else:
        text = f"{sender} -> {receiver}: yes. Both are in VRF {d.dest_vrf} on {d.sender.node}, so {table} holds {what}"
    return text + _path_text(plan, d)


def _path_text(plan, d: Direction) -> str:
    """The data path: EVPN Type-5 carries the receiver VRF's VNI in the route, so that is the VXLAN VNI."""
    vni = plan.vrf(d.source_vrf).vni
    if not (d.sender.is_pod and d.receiver.is_pod):
        return f"; packets travel in VXLAN VNI {vni}"
    if d.sender.node == d.receiver.node:
        return f"; both are on {d.sender.node}, so packets stay on the node"
    return (f"; packets leave {d.sender.node} ({d.sender.node_address}) in VXLAN VNI {vni} "
            f"to {d.receiver.node} ({d.receiver.node_address})")
