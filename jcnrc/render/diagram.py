"""Pictures of the topology: Mermaid and Graphviz DOT text, SVG and PNG through Graphviz.

What is drawn is decided here, as plain data (a ``Drawing``): which vertices and edges exist,
what their labels say, and what is collapsed when the topology is too large to read. How it is
written lives in ``templates/diagram/`` (``mermaid.j2``, ``dot.j2``), so this module never
writes Mermaid or DOT syntax itself.

The drawing:

- Kubernetes nodes grouped by role (route reflectors, workers); each node is a box holding its
  cRPD (with the node address, and the fabric address under JCNR) and its pods;
- one vertex per VRF (VNI, route targets, pools) and one edge per pod interface into its VRF,
  coloured per VRF and labelled with the interface and its addresses;
- an edge VRF A -> VRF B when B installs A's routes (B imports a target A exports), labelled
  with the targets that carry them; one two-headed edge when both directions use the same ones;
- the iBGP sessions, worker -> every route reflector.

Identifiers in the output are generated from names (``node_...``, ``pod_...``), never the raw
names, and every label goes through the ``mermaid_str`` / ``dot_str`` filters, so no name can
break the syntax. Everything is sorted; the same plan always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from jcnrc.plan.planner import Plan, PlannedAttachment, PlannedNode, PlannedVrf
from jcnrc.render.templates import Templates

TEXT_FORMATS = ("mermaid", "dot")
IMAGE_FORMATS = ("svg", "png")
FORMATS = TEXT_FORMATS + IMAGE_FORMATS
GRAPHVIZ_TIMEOUT_SECONDS = 120
INSTALL_GRAPHVIZ = ("install Graphviz (`apt-get install graphviz`, `dnf install graphviz` or `brew install graphviz`), "
                    "or draw text with `--format mermaid` or `--format dot`")


class GraphvizError(Exception):
    """Graphviz could not turn the DOT text into a picture."""


class GraphvizMissing(GraphvizError):
    """`dot` is not on PATH."""


class GraphvizFailed(GraphvizError):
    """`dot` ran but gave no picture (an error exit or a timeout)."""


@dataclass(frozen=True)
class Limits:
    """Sizes past which parts of the drawing are collapsed, so that it stays readable."""

    pods_per_node: int = 8  # a node with more pods draws them as one "N pods" box
    pods: int = 40  # more pods in the whole drawing: every node draws one box
    workers: int = 24  # more workers: one "N workers" box, attachments counted per VRF
    vrf_links: int = 40  # more VRF -> VRF edges: draw the route targets as vertices instead, if fewer lines
    listed: int = 3  # route targets named in one label before "+N more"


DEFAULT_LIMITS = Limits()


# --- the drawing, as data ------------------------------------------------------------------

@dataclass(frozen=True)
class Vertex:
    id: str
    label: str  # lines separated by "\n"
    kind: str  # master, worker, peer, pod, pods, workers, vrf, vrf-context, target, note
    colour: int | None = None  # the VRF's colour slot (templates pick the colour)


@dataclass(frozen=True)
class Group:
    id: str
    label: str
    kind: str  # role, node, vrfs
    vertices: tuple[Vertex, ...] = ()
    groups: tuple[Group, ...] = ()


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    kind: str  # attachment, import, exchange (both ways), export (VRF -> target), session
    colour: int | None = None


@dataclass(frozen=True)
class LinkGroup:
    """Edges that share one style; Mermaid styles edges by their position (``linkStyle``)."""

    kind: str
    colour: int | None
    indices: tuple[int, ...]


@dataclass(frozen=True)
class Drawing:
    name: str
    groups: tuple[Group, ...]
    vertices: tuple[Vertex, ...]  # outside every group (the note)
    edges: tuple[Edge, ...]
    notes: tuple[str, ...]
    collapsed: tuple[str, ...] = ()  # what was collapsed: pods, workers, vrf-links

    @property
    def colours(self) -> tuple[int, ...]:
        """Colour slots in use, for one style class each."""
        used = {v.colour for v in self.all_vertices() if v.colour is not None}
        used |= {e.colour for e in self.edges if e.colour is not None}
        return tuple(sorted(used))

    @property
    def link_groups(self) -> tuple[LinkGroup, ...]:
        found: dict[tuple[str, int | None], list[int]] = defaultdict(list)
        for index, edge in enumerate(self.edges):
            found[(edge.kind, edge.colour)].append(index)
        return tuple(LinkGroup(kind, colour, tuple(indices))
                     for (kind, colour), indices in sorted(found.items(), key=lambda item: item[1][0]))

    def all_vertices(self) -> list[Vertex]:
        found = list(self.vertices)

        def walk(groups: Iterable[Group]) -> None:
            for group in groups:
                found.extend(group.vertices)
                walk(group.groups)

        walk(self.groups)
        return found


# --- identifiers ---------------------------------------------------------------------------

def safe_ids(prefix: str, names: Iterable[str]) -> dict[str, str]:
    """``prefix_`` + the name with every character outside [A-Za-z0-9] turned into ``_``.

    Readable and stable when other names come and go. Names that clash after the replacement
    (``a-b`` and ``a.b``) all get a hash suffix; should even that clash, every id becomes a
    sorted position.
    """
    names = sorted(set(names))
    bases = {name: f"{prefix}_{re.sub(r'[^A-Za-z0-9]', '_', name)}" for name in names}
    clashes = Counter(bases.values())
    ids = {name: base if clashes[base] == 1 else f"{base}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"
           for name, base in bases.items()}
    if len(set(ids.values())) != len(ids):
        ids = {name: f"{prefix}_{position}" for position, name in enumerate(names)}
    return ids


@dataclass(frozen=True)
class _Ids:
    node: dict[str, str]  # the node's box (a group)
    crpd: dict[str, str]  # the cRPD vertex inside it
    pods_box: dict[str, str]  # a node's collapsed pods
    pod: dict[str, str]
    vrf: dict[str, str]
    target: dict[str, str]

    @classmethod
    def of(cls, plan: Plan) -> _Ids:
        nodes = [n.name for n in plan.nodes]
        targets = {t for v in plan.vrfs for t in v.imports + v.exports}
        return cls(
            node=safe_ids("node", nodes),
            crpd=safe_ids("crpd", nodes),
            pods_box=safe_ids("pods", nodes),
            pod=safe_ids("pod", [p.name for p in plan.pods]),
            vrf=safe_ids("vrf", [v.name for v in plan.vrfs]),
            target=safe_ids("rt", targets),
        )


# --- what is in the picture ----------------------------------------------------------------

@dataclass
class _Scope:
    home: list[PlannedNode]  # drawn with their pods
    peers: list[PlannedNode]  # drawn without pods: BGP peers of the node asked for
    attachments: list[PlannedAttachment]
    focus_vrfs: list[str]
    context_vrfs: list[str]  # exchange routes with a focus VRF; drawn without their pods
    notes: list[str] = field(default_factory=list)


def _scope(plan: Plan, vrf: str | None, node: str | None) -> _Scope:
    attachments = [a for a in plan.attachments if (vrf is None or a.vrf == vrf) and (node is None or a.node == node)]
    notes = []
    if node is not None:
        chosen = plan.node(node)
        home = [chosen]
        peers = list(plan.workers if chosen.is_master else plan.masters)
        notes.append(f"node {node} only; its iBGP peers are drawn without their pods")
    elif vrf is not None:
        carrying = {a.node for a in attachments}
        home = [n for n in plan.nodes if n.name in carrying or n.is_master]
        peers = []
    else:
        home, peers = list(plan.nodes), []
    if vrf is not None:
        focus = [vrf]
        notes.append(f"VRF {vrf} only")
        if not attachments:
            notes.append(f"no pod interface in VRF {vrf}" + (f" on node {node}" if node else ""))
    elif node is not None:
        focus = sorted({a.vrf for a in attachments})
    else:
        focus = sorted(v.name for v in plan.vrfs)
    context = sorted(_route_neighbours(plan, focus) - set(focus))
    if context:
        notes.append("dashed VRFs exchange routes with the ones shown; their pods are not drawn")
    by_name = lambda n: n.name  # noqa: E731
    return _Scope(sorted(home, key=by_name), sorted(peers, key=by_name), attachments, focus, context, notes)


def _route_neighbours(plan: Plan, vrfs: Iterable[str]) -> set[str]:
    """VRFs that send routes to, or take routes from, any of `vrfs`."""
    sources = {v.name: plan.route_sources(v.name) for v in plan.vrfs}
    takers: dict[str, set[str]] = {}  # VRF -> the VRFs that take its routes, built once: no scan per VRF
    for other, their_sources in sources.items():
        for source in their_sources:
            takers.setdefault(source, set()).add(other)
    found: set[str] = set()
    for name in vrfs:
        found |= sources[name]
        found |= takers.get(name, set())
    return found


# --- building the drawing ------------------------------------------------------------------

def build(plan: Plan, vrf: str | None = None, node: str | None = None, limits: Limits = DEFAULT_LIMITS) -> Drawing:
    """The drawing of the plan, or of one VRF / one node (and what they exchange routes with)."""
    ids = _Ids.of(plan)
    scope = _scope(plan, vrf, node)
    colours = {name: slot for slot, name in enumerate(sorted(v.name for v in plan.vrfs))}
    builder = _Builder(plan, ids, scope, colours, limits)
    return builder.drawing()


@dataclass
class _Builder:
    plan: Plan
    ids: _Ids
    scope: _Scope
    colours: dict[str, int]
    limits: Limits
    edges: list[Edge] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    collapsed: list[str] = field(default_factory=list)

    def drawing(self) -> Drawing:
        self.notes = list(self.scope.notes)
        workers_home = [n for n in self.scope.home if not n.is_master]
        workers_all = workers_home + [n for n in self.scope.peers if not n.is_master]
        masters = [n for n in self.scope.home + self.scope.peers if n.is_master]
        groups = []
        if masters:
            ordered = sorted(masters, key=lambda n: n.name)
            groups.append(Group("masters", "route reflectors (masters)", "role",
                                groups=tuple(self._node_group(n, n in self.scope.peers) for n in ordered)))
        if len(workers_all) > self.limits.workers:
            groups.append(self._collapsed_workers(workers_all, masters))
        elif workers_all:
            ordered = sorted(workers_all, key=lambda n: n.name)
            groups.append(Group("workers", "workers", "role",
                                groups=tuple(self._node_group(n, n in self.scope.peers) for n in ordered)))
            self._sessions(workers_all, masters)
        vrf_vertices, target_vertices = self._vrf_links()
        groups.append(Group("vrfs", "VRFs (EVPN Type-5 over VXLAN)", "vrfs", vertices=vrf_vertices + target_vertices))
        # Attachments first, then VRF links, then sessions: the order Mermaid counts edges in for styles.
        order = {"attachment": 0, "import": 1, "exchange": 1, "export": 1, "session": 2}
        edges = sorted(self.edges, key=lambda e: order[e.kind])
        vertices = (Vertex("notes", "\n".join(self.notes), "note"),) if self.notes else ()
        return Drawing(self.plan.name, tuple(groups), vertices, tuple(edges), tuple(self.notes), tuple(self.collapsed))

    # nodes and pods

    def _node_group(self, node: PlannedNode, is_peer: bool) -> Group:
        # Under JCNR, BGP and VXLAN run over the fabric: its address is the one the sessions join.
        where = f"{node.address}\nfabric {node.fabric_address}" if node.fabric_address else node.address
        crpd = Vertex(self.ids.crpd[node.name], f"{'route reflector' if node.is_master else 'cRPD'}\n{where}",
                      "master" if node.is_master else "worker")
        label = f"{node.name} (peer)" if is_peer else node.name
        if is_peer:
            return Group(self.ids.node[node.name], label, "node", vertices=(crpd,))
        attachments = [a for a in self.scope.attachments if a.node == node.name]
        pods = sorted({a.pod for a in attachments})
        if pods and self._collapse_pods(len(pods)):
            box = Vertex(self.ids.pods_box[node.name], _count(len(pods), "pod"), "pods")
            self._collapsed_attachments(box.id, attachments)
            self._note_collapsed_pods()
            return Group(self.ids.node[node.name], label, "node", vertices=(crpd, box))
        vertices = [crpd] + [Vertex(self.ids.pod[p], p, "pod") for p in pods]
        for a in sorted(attachments, key=lambda a: (a.pod, a.interface)):
            lines = [a.interface] + [link.address for link in a.links]
            self.edges.append(Edge(self.ids.pod[a.pod], self.ids.vrf[a.vrf], "\n".join(lines), "attachment",
                                   self.colours[a.vrf]))
        return Group(self.ids.node[node.name], label, "node", vertices=tuple(vertices))

    def _collapse_pods(self, on_node: int) -> bool:
        total = len({a.pod for a in self.scope.attachments})
        return on_node > self.limits.pods_per_node or total > self.limits.pods

    def _note_collapsed_pods(self) -> None:
        if "pods" in self.collapsed:
            return
        self.collapsed.append("pods")
        total = len({a.pod for a in self.scope.attachments})
        if total > self.limits.pods:
            self.notes.append(f"{total} pods: each node draws its pods as one box (more than {self.limits.pods} pods)")
        else:
            self.notes.append(f"a node with more than {self.limits.pods_per_node} pods draws them as one box")

    def _collapsed_attachments(self, source: str, attachments: list[PlannedAttachment]) -> None:
        per_vrf = Counter(a.vrf for a in attachments)
        for vrf_name in sorted(per_vrf):
            self.edges.append(Edge(source, self.ids.vrf[vrf_name], _count(per_vrf[vrf_name], "interface"),
                                   "attachment", self.colours[vrf_name]))

    def _collapsed_workers(self, workers: list[PlannedNode], masters: list[PlannedNode]) -> Group:
        """Past the worker limit: one box for all workers, one edge per VRF, one per route reflector."""
        self.collapsed.append("workers")
        names = {n.name for n in workers}
        attachments = [a for a in self.scope.attachments if a.node in names]
        pods = {a.pod for a in attachments}
        label = _count(len(workers), "worker") + (f"\n{_count(len(pods), 'pod')}" if pods else "")
        box = Vertex("workers_all", label, "workers")
        per_vrf: dict[str, list[PlannedAttachment]] = defaultdict(list)
        for a in attachments:
            per_vrf[a.vrf].append(a)
        for vrf_name in sorted(per_vrf):
            group = per_vrf[vrf_name]
            carrying = len({a.node for a in group})
            self.edges.append(Edge(box.id, self.ids.vrf[vrf_name],
                                   f"{_count(len(group), 'interface')}\non {_count(carrying, 'worker')}",
                                   "attachment", self.colours[vrf_name]))
        for master in sorted(masters, key=lambda n: n.name):
            self.edges.append(Edge(box.id, self.ids.crpd[master.name], _count(len(workers), "iBGP session"), "session"))
        self.notes.append(f"{len(workers)} workers drawn as one box (more than {self.limits.workers}); "
                          "pod interfaces counted per VRF")
        return Group("workers", "workers", "role", vertices=(box,))

    def _sessions(self, workers: list[PlannedNode], masters: list[PlannedNode]) -> None:
        for worker in sorted(workers, key=lambda n: n.name):
            for master in sorted(masters, key=lambda n: n.name):
                self.edges.append(Edge(self.ids.crpd[worker.name], self.ids.crpd[master.name], "iBGP", "session"))

    # VRFs and route targets

    def _vrf_links(self) -> tuple[tuple[Vertex, ...], tuple[Vertex, ...]]:
        focus, context = self.scope.focus_vrfs, self.scope.context_vrfs
        drawn = sorted(focus + context)
        vertices = tuple(self._vrf_vertex(self.plan.vrf(name), name in context) for name in drawn)
        pairs = self._importing_pairs(drawn, set(focus))
        direct = self._import_edges(pairs)
        if len(direct) > self.limits.vrf_links:
            target_vertices, via_targets = self._target_edges(drawn, pairs)
            if len(via_targets) < len(direct):
                self.collapsed.append("vrf-links")
                self.notes.append(f"route targets drawn as vertices: {len(direct)} VRF-to-VRF lines "
                                  f"would be more than {self.limits.vrf_links}")
                self.edges.extend(via_targets)
                return vertices, target_vertices
        self.edges.extend(direct)
        return vertices, ()

    def _vrf_vertex(self, vrf: PlannedVrf, is_context: bool) -> Vertex:
        lines = [f"VRF {vrf.name}", f"VNI {vrf.vni}"]
        if vrf.imports == vrf.exports:
            lines.append(f"RT {self._listed(vrf.exports)}")
        else:
            lines += [f"import {self._listed(vrf.imports)}", f"export {self._listed(vrf.exports)}"]
        lines += [pool for pool in (vrf.ipv4_pool, vrf.ipv6_pool) if pool]
        return Vertex(self.ids.vrf[vrf.name], "\n".join(lines), "vrf-context" if is_context else "vrf",
                      self.colours[vrf.name])

    def _listed(self, items: Iterable[str]) -> str:
        items = list(items)
        shown = " ".join(items[: self.limits.listed])
        hidden = len(items) - self.limits.listed
        return f"{shown} +{hidden} more" if hidden > 0 else shown

    def _importing_pairs(self, drawn: list[str], focus: set[str]) -> dict[tuple[str, str], list[str]]:
        """(exporter, importer) -> the targets that carry the routes, for two different drawn VRFs."""
        pairs = {}
        drawn_set = set(drawn)
        for importer in drawn:
            for exporter in sorted(self.plan.route_sources(importer) & drawn_set):
                if exporter != importer and (exporter in focus or importer in focus):
                    pairs[(exporter, importer)] = self.plan.shared_targets(exporter, importer)
        return pairs

    def _import_edges(self, pairs: dict[tuple[str, str], list[str]]) -> list[Edge]:
        edges = []
        for (exporter, importer), targets in sorted(pairs.items()):
            back = pairs.get((importer, exporter))
            if back == targets and importer < exporter:
                continue  # drawn once, both ways, from the smaller name
            kind = "exchange" if back == targets else "import"
            edges.append(Edge(self.ids.vrf[exporter], self.ids.vrf[importer], self._listed(targets), kind))
        return edges

    def _target_edges(self, drawn: list[str], pairs: dict[tuple[str, str], list[str]]) -> tuple[tuple[Vertex, ...], list[Edge]]:
        """VRF -> target -> VRF, for the targets that carry routes between two different drawn VRFs."""
        vrfs = [self.plan.vrf(name) for name in drawn]
        linking = sorted({target for targets in pairs.values() for target in targets})
        edges = []
        for target in linking:
            edges += [Edge(self.ids.vrf[v.name], self.ids.target[target], "exports", "export", self.colours[v.name])
                      for v in vrfs if target in v.exports]
            edges += [Edge(self.ids.target[target], self.ids.vrf[v.name], "imported by", "import")
                      for v in vrfs if target in v.imports]
        vertices = tuple(Vertex(self.ids.target[t], t, "target") for t in linking)
        return vertices, edges


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- output --------------------------------------------------------------------------------

def render(plan: Plan, fmt: str, vrf: str | None = None, node: str | None = None,
           limits: Limits = DEFAULT_LIMITS, templates: Templates | None = None) -> str | bytes:
    """The picture in ``fmt``: text for mermaid and dot, bytes for svg and png (through Graphviz).
    ``templates`` is the template set to use (a build passes its own); by default the built-in one."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown diagram format {fmt!r}; expected one of {', '.join(FORMATS)}")
    drawing = build(plan, vrf=vrf, node=node, limits=limits)
    if templates is None:
        templates = Templates(None)
    if fmt == "mermaid":
        return templates.render("diagram/mermaid.j2", drawing=drawing)
    dot_text = templates.render("diagram/dot.j2", drawing=drawing)
    if fmt == "dot":
        return dot_text
    return run_graphviz(dot_text, fmt)


def run_graphviz(dot_text: str, fmt: str, timeout: float = GRAPHVIZ_TIMEOUT_SECONDS) -> bytes:
    """``dot -T<fmt>`` on the DOT text. Raises GraphvizMissing or GraphvizFailed."""
    executable = shutil.which("dot")
    if executable is None:
        raise GraphvizMissing(f"Graphviz is needed for --format {fmt} but `dot` is not on PATH: {INSTALL_GRAPHVIZ}")
    try:
        done = subprocess.run([executable, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise GraphvizFailed(f"`dot -T{fmt}` did not finish within {timeout:g} s; draw less with --vrf or --node") from exc
    except OSError as exc:
        raise GraphvizFailed(f"cannot run `{executable}`: {exc.strerror or exc}") from exc
    if done.returncode != 0 or not done.stdout:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = "; ".join(detail[:5]) or "no output"
        raise GraphvizFailed(f"`dot -T{fmt}` failed (exit {done.returncode}): {reason}")
    return done.stdout
