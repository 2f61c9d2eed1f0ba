"""The topology as a directed graph: what is placed where, and who learns whose routes.

Vertices are tuples ``(kind, name)`` with kind in node, vrf, pod, attachment, subnet, target.
Edges carry a ``relation``:

- pod -placed-on-> node, attachment -of-> pod, attachment -member-of-> vrf,
  attachment -advertises-> subnet
- vrf -exports-> target -imported-by-> vrf: a route of VRF A reaches VRF B's table exactly
  when a path A -> target -> B exists
- worker -peers-with-> master (iBGP to every route reflector)

The plan builds this graph only when ``Plan.graph`` is asked for: a build needs just the
route-target part, which ``Plan.route_sources`` and ``Plan.shared_targets`` answer from the VRFs
directly (tests check that both agree with ``route_sources`` and ``shared_targets`` here).

Reachability (``reach.py``: ``jcnrc explain``, ``jcnrc impact``) asks ``shared_targets`` of
``routes``, the route-target part alone: VRFs and targets, whatever the number of pods; a build's
``expect:`` asks the plan, whose answers tests hold to these. Only
paths of exactly two edges count (vrf -> target -> vrf): a VRF does not pass on the routes it
imports, so a longer path (A exports what B imports, B exports what C imports) carries nothing
from A to C, and a path search (``has_path``) would be the wrong question.
"""

from __future__ import annotations

import networkx as nx


def build(nodes, vrfs, pods) -> nx.DiGraph:
    g: nx.DiGraph = nx.DiGraph()
    masters = [n for n in nodes if n.role == "master"]
    for node in nodes:
        g.add_node(("node", node.name), role=node.role, address=node.address)
    for node in nodes:
        if node.role == "worker":
            for master in masters:
                g.add_edge(("node", node.name), ("node", master.name), relation="peers-with")
    _add_routes(g, vrfs)
    for pod in pods:
        g.add_node(("pod", pod.name), node=pod.node)
        g.add_edge(("pod", pod.name), ("node", pod.node), relation="placed-on")
        for attachment in pod.attachments:
            vertex = ("attachment", attachment.key)
            g.add_node(vertex, interface=attachment.interface)
            g.add_edge(vertex, ("pod", pod.name), relation="of")
            g.add_edge(vertex, ("vrf", attachment.vrf), relation="member-of")
            for link in attachment.links:
                g.add_edge(vertex, ("subnet", link.subnet), relation="advertises")
    return g


def routes(vrfs) -> nx.DiGraph:
    """vrf -exports-> target -imported-by-> vrf and nothing else: who installs whose routes."""
    g: nx.DiGraph = nx.DiGraph()
    _add_routes(g, vrfs)
    return g


def _add_routes(g: nx.DiGraph, vrfs) -> None:
    for vrf in vrfs:
        g.add_node(("vrf", vrf.name), vni=vrf.vni)
        for target in vrf.exports:
            g.add_edge(("vrf", vrf.name), ("target", target), relation="exports")
        for target in vrf.imports:
            g.add_edge(("target", target), ("vrf", vrf.name), relation="imported-by")


def route_sources(g: nx.DiGraph, vrf: str) -> set[str]:
    """VRFs whose routes VRF `vrf` installs (itself included when it imports its own export)."""
    sources: set[str] = set()
    for target in g.predecessors(("vrf", vrf)):
        if target[0] != "target":
            continue
        sources.update(name for kind, name in g.predecessors(target) if kind == "vrf")
    return sources


def shared_targets(g: nx.DiGraph, exporter: str, importer: str) -> list[str]:
    exported = {t for k, t in g.successors(("vrf", exporter)) if k == "target"}
    imported = {t for k, t in g.predecessors(("vrf", importer)) if k == "target"}
    return sorted(exported & imported)
