"""A small checker of Mermaid flowchart syntax, for the diagrams jcnrc writes.

It parses the flowchart subset of Mermaid's grammar (flow.jison) that a generated diagram
needs: the header, ``%%`` comments, ``subgraph ID["title"]`` ... ``end``, vertices with their
shapes, edges with ``|"label"|`` labels, ``:::class``, ``classDef``, ``class``, ``style`` and
``linkStyle``, and returns what it read, so tests can check structure as well as syntax.

It is stricter than Mermaid where Mermaid silently draws something else than was meant: a
vertex that an edge names but nothing declares, a class without ``classDef``, a ``linkStyle``
index past the last edge, a subgraph id reused as a vertex id, a reserved word as an id.
With ``plain_labels`` (the default) a quoted label may hold no raw HTML but ``<br/>`` and no
markdown backquote: what a name says is written with entity codes (``#60;``), never as markup.

Anything outside the subset is an error too, so a template that starts writing a construct the
tests have not seen fails loudly instead of passing unchecked.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

DIRECTIONS = {"TB", "TD", "BT", "RL", "LR"}
RESERVED = {"end", "subgraph", "graph", "flowchart", "style", "linkstyle", "classdef", "class", "click", "call",
            "href", "direction", "default", "interpolate"}
ID = re.compile(r"[A-Za-z0-9_]+")
CLASS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# Opening delimiter -> (shape, closing delimiter); longest openings first.
SHAPES = [
    ("(((", "double-circle", ")))"),
    ("([", "stadium", "])"),
    ("[[", "subroutine", "]]"),
    ("[(", "cylinder", ")]"),
    ("((", "circle", "))"),
    ("{{", "hexagon", "}}"),
    ("[/", "lean-right", "/]"),
    ("[\\", "lean-left", "\\]"),
    ("[", "rect", "]"),
    ("(", "round", ")"),
    (">", "asymmetric", "]"),
    ("{", "rhombus", "}"),
]
ARROW = re.compile(r"(<)?(-{2,}|={2,}|-\.+-|~{3,})(>|o|x)?")
UNQUOTED_TEXT = re.compile(r"[A-Za-z0-9 _.,:!?'/+-]*")
ENTITY = re.compile(r"#(\d+|[A-Za-z]+);")
STYLE_VALUE = re.compile(r"[A-Za-z-]+:[^,;\s][^,;]*(,[A-Za-z-]+:[^,;\s][^,;]*)*")


class MermaidSyntaxError(ValueError):
    def __init__(self, line: int, message: str, text: str = "") -> None:
        super().__init__(f"line {line}: {message}" + (f"\n    {text}" if text else ""))
        self.line = line


@dataclass
class Vertex:
    id: str
    shape: str | None = None
    label: str | None = None  # as written, entity codes and <br/> included
    classes: list[str] = field(default_factory=list)
    parent: str | None = None  # the innermost subgraph it was declared in
    line: int = 0

    @property
    def text(self) -> str | None:
        return None if self.label is None else decode_label(self.label)


@dataclass
class Subgraph:
    id: str
    title: str | None
    parent: str | None
    line: int

    @property
    def text(self) -> str | None:
        return None if self.title is None else decode_label(self.title)


@dataclass
class Edge:
    source: str
    arrow: str
    label: str | None
    target: str
    line: int

    @property
    def text(self) -> str | None:
        return None if self.label is None else decode_label(self.label)


@dataclass
class Flowchart:
    direction: str
    vertices: dict[str, Vertex] = field(default_factory=dict)
    subgraphs: dict[str, Subgraph] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    class_defs: dict[str, str] = field(default_factory=dict)
    link_styles: dict[int, str] = field(default_factory=dict)

    def children(self, subgraph: str) -> list[str]:
        """Vertices declared directly in a subgraph."""
        return sorted(v.id for v in self.vertices.values() if v.parent == subgraph)

    def ancestors(self, vertex: str) -> list[str]:
        found = []
        parent = self.vertices[vertex].parent
        while parent is not None:
            found.append(parent)
            parent = self.subgraphs[parent].parent
        return found


def decode_label(label: str) -> str:
    """The text a quoted label shows: entity codes decoded, <br/> as a newline."""
    lines = re.split(r"<br\s*/?>", label)
    return "\n".join(ENTITY.sub(lambda m: _entity(m.group(1)), line) for line in lines)


def _entity(code: str) -> str:
    if code.isdigit():
        return chr(int(code))
    decoded = html.unescape(f"&{code};")
    return decoded


def check(text: str, plain_labels: bool = True) -> Flowchart:
    """Parse a Mermaid flowchart; raise MermaidSyntaxError on the first problem."""
    return _Parser(plain_labels).parse(text)


class _Parser:
    def __init__(self, plain_labels: bool) -> None:
        self.plain_labels = plain_labels
        self.chart: Flowchart | None = None
        self.stack: list[str] = []
        self.used_classes: list[tuple[str, int]] = []
        self.referenced: list[tuple[str, int]] = []
        self.link_style_lines: dict[int, int] = {}

    def parse(self, text: str) -> Flowchart:
        if "\r" in text:
            raise MermaidSyntaxError(1, "carriage return in the text")
        for number, raw in enumerate(text.split("\n"), start=1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("%%"):
                if line.startswith("%%{"):
                    raise MermaidSyntaxError(number, "directives are not expected in generated diagrams", raw)
                continue
            for statement in _split_statements(line, number):
                self.statement(statement, number, raw)
        if self.chart is None:
            raise MermaidSyntaxError(1, "no `flowchart` header")
        if self.stack:
            opened = self.chart.subgraphs[self.stack[-1]]
            raise MermaidSyntaxError(opened.line, f"subgraph `{opened.id}` is never closed with `end`")
        self.finish()
        return self.chart

    # statements

    def statement(self, line: str, number: int, raw: str) -> None:
        if self.chart is None:
            self.header(line, number, raw)
            return
        keyword = line.split(None, 1)[0]
        rest = line[len(keyword):].strip()
        handlers = {"subgraph": self.subgraph, "end": self.end, "direction": self.direction,
                    "classDef": self.class_def, "class": self.class_statement, "style": self.style,
                    "linkStyle": self.link_style}
        if keyword in handlers:
            handlers[keyword](rest, number, raw)
        elif keyword in ("click", "call", "href", "graph", "flowchart"):
            raise MermaidSyntaxError(number, f"`{keyword}` is not expected here", raw)
        else:
            self.chain(line, number, raw)

    def header(self, line: str, number: int, raw: str) -> None:
        match = re.fullmatch(r"(flowchart|graph)(?:\s+(\w+))?", line)
        if not match:
            raise MermaidSyntaxError(number, "expected `flowchart <direction>` first", raw)
        direction = match.group(2) or "TB"
        if direction not in DIRECTIONS:
            raise MermaidSyntaxError(number, f"unknown direction `{direction}`; expected one of {sorted(DIRECTIONS)}", raw)
        self.chart = Flowchart(direction)

    def subgraph(self, rest: str, number: int, raw: str) -> None:
        match = re.fullmatch(r"([A-Za-z0-9_]+)\s*(.*)", rest)
        if not match:
            raise MermaidSyntaxError(number, "expected `subgraph ID` or `subgraph ID[\"title\"]`", raw)
        sub_id, title_part = match.groups()
        self.check_id(sub_id, number, raw)
        title = None
        if title_part:
            if not (title_part.startswith("[") and title_part.endswith("]")):
                raise MermaidSyntaxError(number, "a subgraph title must be written `[\"title\"]`", raw)
            title = self.label_text(title_part[1:-1], number, raw)
        if sub_id in self.chart.subgraphs:
            raise MermaidSyntaxError(number, f"subgraph `{sub_id}` is declared twice", raw)
        if sub_id in self.chart.vertices:
            raise MermaidSyntaxError(number, f"`{sub_id}` is both a vertex and a subgraph", raw)
        parent = self.stack[-1] if self.stack else None
        self.chart.subgraphs[sub_id] = Subgraph(sub_id, title, parent, number)
        self.stack.append(sub_id)

    def end(self, rest: str, number: int, raw: str) -> None:
        if rest:
            raise MermaidSyntaxError(number, "`end` takes nothing after it", raw)
        if not self.stack:
            raise MermaidSyntaxError(number, "`end` without an open subgraph", raw)
        self.stack.pop()

    def direction(self, rest: str, number: int, raw: str) -> None:
        if not self.stack:
            raise MermaidSyntaxError(number, "`direction` belongs inside a subgraph", raw)
        if rest not in DIRECTIONS:
            raise MermaidSyntaxError(number, f"unknown direction `{rest}`", raw)

    def class_def(self, rest: str, number: int, raw: str) -> None:
        parts = rest.split(None, 1)
        if len(parts) != 2:
            raise MermaidSyntaxError(number, "expected `classDef NAME style:value,...`", raw)
        names, styles = parts
        self.check_styles(styles, number, raw)
        for name in names.split(","):
            if not CLASS_NAME.fullmatch(name):
                raise MermaidSyntaxError(number, f"bad class name `{name}`", raw)
            self.chart.class_defs[name] = styles

    def class_statement(self, rest: str, number: int, raw: str) -> None:
        parts = rest.split()
        if len(parts) != 2:
            raise MermaidSyntaxError(number, "expected `class ID[,ID...] NAME`", raw)
        for vertex in parts[0].split(","):
            self.check_id(vertex, number, raw)
            self.referenced.append((vertex, number))
        self.used_classes.append((parts[1], number))

    def style(self, rest: str, number: int, raw: str) -> None:
        parts = rest.split(None, 1)
        if len(parts) != 2:
            raise MermaidSyntaxError(number, "expected `style ID style:value,...`", raw)
        self.check_id(parts[0], number, raw)
        self.check_styles(parts[1], number, raw)
        self.referenced.append((parts[0], number))

    def link_style(self, rest: str, number: int, raw: str) -> None:
        parts = rest.split(None, 1)
        if len(parts) != 2:
            raise MermaidSyntaxError(number, "expected `linkStyle N[,N...] style:value,...`", raw)
        indices, styles = parts
        self.check_styles(styles, number, raw)
        if indices == "default":
            return
        for index in indices.split(","):
            if not index.isdigit():
                raise MermaidSyntaxError(number, f"`{index}` is not an edge number", raw)
            if int(index) in self.chart.link_styles:
                raise MermaidSyntaxError(number, f"edge {index} is styled twice", raw)
            self.chart.link_styles[int(index)] = styles
            self.link_style_lines[int(index)] = number

    def check_styles(self, styles: str, number: int, raw: str) -> None:
        if not STYLE_VALUE.fullmatch(styles.rstrip(";")):
            raise MermaidSyntaxError(number, f"bad style list `{styles}`", raw)

    # vertices and edges

    def chain(self, line: str, number: int, raw: str) -> None:
        """`A[...] --> |label| B(...) --> C`: vertices joined by arrows."""
        position, previous = self.vertex(line, 0, number, raw)
        while True:
            position = _skip_spaces(line, position)
            if position == len(line):
                return
            match = ARROW.match(line, position)
            if not match:
                raise MermaidSyntaxError(number, f"expected an arrow at `{line[position:]}`", raw)
            arrow = match.group(0)
            position = match.end()
            if arrow[-1] in "ox" and position < len(line) and ID.match(line[position]):
                raise MermaidSyntaxError(
                    number, f"`{arrow}` runs into the next id: Mermaid reads `{arrow[-1]}` as an arrow head", raw)
            label = None
            position = _skip_spaces(line, position)
            if line.startswith("|", position):
                close = line.find("|", position + 1)
                if close < 0:
                    raise MermaidSyntaxError(number, "edge label `|` is never closed", raw)
                label = self.label_text(line[position + 1:close], number, raw)
                position = close + 1
            position = _skip_spaces(line, position)
            position, current = self.vertex(line, position, number, raw)
            self.chart.edges.append(Edge(previous, arrow, label, current, number))
            previous = current

    def vertex(self, line: str, position: int, number: int, raw: str) -> tuple[int, str]:
        match = ID.match(line, position)
        if not match:
            raise MermaidSyntaxError(number, f"expected a vertex id at `{line[position:]}`", raw)
        vertex_id = match.group(0)
        self.check_id(vertex_id, number, raw)
        if vertex_id in self.chart.subgraphs:
            raise MermaidSyntaxError(number, f"`{vertex_id}` is a subgraph, not a vertex", raw)
        position = match.end()
        shape = label = None
        for opening, name, closing in SHAPES:
            if line.startswith(opening, position):
                body_start = position + len(opening)
                end = _closing(line, body_start, closing)
                if end < 0:
                    raise MermaidSyntaxError(number, f"`{opening}` of `{vertex_id}` is never closed with `{closing}`", raw)
                shape, label = name, self.label_text(line[body_start:end], number, raw)
                position = end + len(closing)
                break
        classes = []
        while line.startswith(":::", position):
            match = CLASS_NAME.match(line, position + 3)
            if not match:
                raise MermaidSyntaxError(number, "expected a class name after `:::`", raw)
            classes.append(match.group(0))
            self.used_classes.append((match.group(0), number))
            position = match.end()
        self.declare(vertex_id, shape, label, classes, number, raw)
        return position, vertex_id

    def declare(self, vertex_id: str, shape, label, classes, number: int, raw: str) -> None:
        known = self.chart.vertices.get(vertex_id)
        if shape is None:
            if known is None:
                self.referenced.append((vertex_id, number))
            elif classes:
                known.classes += classes
            return
        if known is not None and known.shape is not None:
            raise MermaidSyntaxError(number, f"vertex `{vertex_id}` is declared twice (first on line {known.line})", raw)
        parent = self.stack[-1] if self.stack else None
        if known is None:
            self.chart.vertices[vertex_id] = Vertex(vertex_id, shape, label, classes, parent, number)
        else:
            known.shape, known.label, known.parent, known.line = shape, label, parent, number
            known.classes += classes

    def label_text(self, body: str, number: int, raw: str) -> str:
        if body.startswith('"'):
            if len(body) < 2 or not body.endswith('"') or '"' in body[1:-1]:
                raise MermaidSyntaxError(number, f"a quoted label must be one string without inner quotes: `{body}`", raw)
            text = body[1:-1]
            if self.plain_labels:
                _check_plain(text, number, raw)
            return text
        if not UNQUOTED_TEXT.fullmatch(body):
            raise MermaidSyntaxError(number, f"unquoted label `{body}` holds characters Mermaid reads as syntax; quote it", raw)
        return body

    def check_id(self, vertex_id: str, number: int, raw: str) -> None:
        if not ID.fullmatch(vertex_id):
            raise MermaidSyntaxError(number, f"`{vertex_id}` is not a plain id (letters, digits, '_')", raw)
        if vertex_id.lower() in RESERVED:
            raise MermaidSyntaxError(number, f"`{vertex_id}` is a Mermaid keyword and cannot be an id", raw)

    def finish(self) -> None:
        chart = self.chart
        for vertex_id, number in self.referenced:
            known = chart.vertices.get(vertex_id)
            if (known is None or known.shape is None) and vertex_id not in chart.subgraphs:
                raise MermaidSyntaxError(number, f"`{vertex_id}` is used but never declared with a label")
        for name, number in self.used_classes:
            if name not in chart.class_defs:
                raise MermaidSyntaxError(number, f"class `{name}` has no classDef")
        for index in chart.link_styles:
            if index >= len(chart.edges):
                raise MermaidSyntaxError(self.link_style_lines[index],
                                         f"linkStyle {index} names a missing edge (there are {len(chart.edges)})")


def _check_plain(text: str, number: int, raw: str) -> None:
    without_breaks = re.sub(r"<br/>", "", text)
    without_entities = ENTITY.sub("", without_breaks)
    for forbidden in "<>&`":
        if forbidden in without_entities:
            raise MermaidSyntaxError(number, f"label holds a raw `{forbidden}`: write it as an entity code", raw)
    stray = re.search(r"#(?![0-9]+;|[A-Za-z]+;)", without_breaks)
    if stray:
        raise MermaidSyntaxError(number, "label holds a `#` that is not an entity code", raw)


def _split_statements(line: str, number: int) -> list[str]:
    """Split on `;` outside quotes; Mermaid allows `;` as a statement end."""
    statements, current, quoted = [], [], False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if quoted:
        raise MermaidSyntaxError(number, "a quote is never closed", line)
    statements.append("".join(current).strip())
    return [s for s in statements if s]


def _skip_spaces(line: str, position: int) -> int:
    while position < len(line) and line[position] in " \t":
        position += 1
    return position


def _closing(line: str, start: int, closing: str) -> int:
    """Where the shape closes: after a quoted label when there is one."""
    if line.startswith('"', start):
        end_quote = line.find('"', start + 1)
        if end_quote < 0:
            return -1
        return end_quote + 1 if line.startswith(closing, end_quote + 1) else -1
    return line.find(closing, start)
