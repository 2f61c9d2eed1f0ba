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
"""

from __future__ import annotations

import networkx as nx


def build(nodes, vrfs, pods) -> nx.DiGraph:
    g = nx.DiGraph()
    masters = [n for n in nodes if n.role == "master"]
    for node in nodes:
        g.add_node(("node", node.name), role=node.role, address=node.address)
    for node in nodes:
        if node.role == "worker":
            for master in masters:
                g.add_edge(("node", node.name), ("node", master.name), relation="peers-with")
    for vrf in vrfs:
        g.add_node(("vrf", vrf.name), vni=vrf.vni)
        for target in vrf.exports:
            g.add_edge(("vrf", vrf.name), ("target", target), relation="exports")
        for target in vrf.imports:
            g.add_edge(("target", target), ("vrf", vrf.name), relation="imported-by")
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
