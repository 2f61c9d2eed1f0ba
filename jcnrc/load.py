"""Stage 1, load: bytes on disk -> plain Python data plus a map from paths to source positions.

YAML is read as YAML 1.2 (``on``/``yes`` stay strings, ``11:11`` stays a string) with
ruamel.yaml's round-trip loader, the only loader that keeps a line and column for every key and
value. Everything that can go wrong in a file — encoding, tabs, syntax, duplicate keys, several
documents, a top level that is not a mapping, resource limits — becomes a diagnostic here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from jcnrc.diagnostics import Diagnostic, Path, error


@dataclass(frozen=True)
class Limits:
    """Bounds that keep hostile input from exhausting memory or time (documented in README)."""

    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 64
    # Nodes after alias expansion: defeats "billion laughs" without forbidding anchors.
    max_nodes: int = 5_000_000


DEFAULT_LIMITS = Limits()


@dataclass
class SourceMap:
    """Resolves a diagnostic path to (line, column), both 1-based."""

    file: str
    lines: list[str]
    root: Any = None

    def source_line(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""

    def position(self, path: Path, at: str = "value") -> tuple[int, int]:
        if self.root is None or not hasattr(self.root, "lc"):
            return (1, 1)
        node = self.root
        line, col = node.lc.line, node.lc.col
        for index, part in enumerate(path):
            last = index == len(path) - 1
            if isinstance(node, dict) and not isinstance(part, int) and part in node:
                line, col = node.lc.key(part) if (last and at == "key") else node.lc.value(part)
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                line, col = node.lc.item(part)
                node = node[part]
            elif isinstance(node, dict) and isinstance(part, int):
                # A map whose items are addressed by position (rare); stay on the map.
                continue
            else:
                # Missing key: point at the mapping that should hold it, stop here.
                break
            if not hasattr(node, "lc"):
                # Scalars carry no position of their own; the parent's entry is the position.
                if not last:
                    break
        return (line + 1, col + 1)


@dataclass
class Loaded:
    data: dict | None
    source: SourceMap
    diagnostics: list[Diagnostic] = field(default_factory=list)
    digest: str = ""

    @property
    def ok(self) -> bool:
        return self.data is not None and not any(d.is_error for d in self.diagnostics)


def load_file(path: FsPath, display_name: str | None = None, limits: Limits = DEFAULT_LIMITS) -> Loaded:
    """Read an intent file. Raises OSError only when the file cannot be read at all (a usage error)."""
    name = display_name or str(path)
    size = path.stat().st_size
    if size > limits.max_bytes:
        return _fail(name, [], error("JCN008", f"the file is {size} bytes; the limit is {limits.max_bytes}",
                                     line=1, column=1, help="raise the limit with --max-bytes if this file is genuine"))
    return load_bytes(path.read_bytes(), name, limits)


def load_bytes(raw: bytes, name: str, limits: Limits = DEFAULT_LIMITS) -> Loaded:
    import hashlib

    digest = hashlib.sha256(raw).hexdigest()
    if len(raw) > limits.max_bytes:
        return _fail(name, [], error("JCN008", f"the input is {len(raw)} bytes; the limit is {limits.max_bytes}", line=1, column=1))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return _fail(name, [], error("JCN004", f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                                     line=line, column=column, help="save the file as UTF-8"))
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines()
    source = SourceMap(name, lines)
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in lines):
        return Loaded(None, source, [error("JCN005", "the file is empty", line=1, column=1,
                                           help="start from `jcnrc init`, which writes a commented example")], digest)
    tabs = _tab_indentation(lines)
    if tabs:
        return Loaded(None, source, tabs, digest)
    return _parse(text, source, limits, digest)


def _fail(name: str, lines: list[str], diagnostic: Diagnostic) -> Loaded:
    return Loaded(None, SourceMap(name, lines), [diagnostic])


def _tab_indentation(lines: list[str]) -> list[Diagnostic]:
    found = []
    for number, line in enumerate(lines, start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            found.append(error("JCN003", "a tab is used for indentation; YAML allows only spaces",
                               line=number, column=indent.index("\t") + 1, help="replace the tab with spaces"))
    return found


def _parse(text: str, source: SourceMap, limits: Limits, digest: str) -> Loaded:
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        documents = list(yaml.load_all(text))
    except DuplicateKeyError as exc:
        return Loaded(None, source, [_duplicate_key(exc)], digest)
    except MarkedYAMLError as exc:
        return Loaded(None, source, [_syntax_error(exc)], digest)
    except YAMLError as exc:
        return Loaded(None, source, [error("JCN001", f"YAML error: {exc}", line=1, column=1)], digest)
    except RecursionError:
        return Loaded(None, source, [error("JCN008", f"the document nests too deeply (limit {limits.max_depth})", line=1, column=1)], digest)
    documents = [d for d in documents if d is not None] or [None]
    if len(documents) > 1:
        second = documents[1]
        line = second.lc.line + 1 if hasattr(second, "lc") else 1
        return Loaded(None, source, [error("JCN007", f"the file holds {len(documents)} YAML documents; an intent is one document",
                                           line=line, column=1, help="keep one topology per file, without `---` separators")], digest)
    root = documents[0]
    if not isinstance(root, dict):
        kind = "a list" if isinstance(root, list) else f"a {type(root).__name__}" if root is not None else "nothing"
        return Loaded(None, source, [error("JCN006", f"the top level of an intent must be a mapping, found {kind}",
                                           line=1, column=1, help="start with `apiVersion: jcnrc/v1`")], digest)
    source.root = root
    problem = _check_limits(root, limits)
    if problem:
        return Loaded(None, source, [problem], digest)
    return Loaded(to_plain(root), source, [], digest)


def _duplicate_key(exc) -> Diagnostic:
    mark = exc.problem_mark
    first = exc.context_mark
    key = _quoted_key(exc.problem)
    return error(
        "JCN002",
        f"duplicate key {key}" if key else "duplicate key",
        line=mark.line + 1,
        column=mark.column + 1,
        help=f"the key is first defined at line {first.line + 1}, column {first.column + 1}; keep one of them",
    )


def _quoted_key(problem: str | None) -> str:
    if problem and '"' in problem:
        parts = problem.split('"')
        if len(parts) >= 3:
            return f"`{parts[1]}`"
    return ""


def _syntax_error(exc) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or "invalid YAML").strip()
    context = (exc.context or "").strip()
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    return error("JCN001", message, line=(mark.line + 1) if mark else 1, column=(mark.column + 1) if mark else 1,
                 help="check indentation, colons and quotes on this line and the one before")


def _check_limits(root: Any, limits: Limits) -> Diagnostic | None:
    """Count nodes as if aliases were expanded, without expanding them (memoised by identity)."""
    sizes: dict[int, int] = {}

    def size(node: Any, depth: int) -> int:
        if depth > limits.max_depth:
            raise _TooDeep()
        if not isinstance(node, (dict, list)):
            return 1
        known = sizes.get(id(node))
        if known is not None:
            return known
        children = node.items() if isinstance(node, dict) else enumerate(node)
        total = 1
        for _, child in children:
            total += size(child, depth + 1)
            if total > limits.max_nodes:
                raise _TooLarge()
        sizes[id(node)] = total
        return total

    try:
        size(root, 0)
    except _TooDeep:
        return error("JCN008", f"the document nests deeper than {limits.max_depth} levels", line=1, column=1)
    except _TooLarge:
        return error("JCN008", f"the document expands to more than {limits.max_nodes} nodes (YAML aliases?)", line=1, column=1,
                     help="an intent needs no deeply repeated aliases; write the values out")
    return None


class _TooDeep(Exception):
    pass


class _TooLarge(Exception):
    pass


def to_plain(node: Any) -> Any:
    """Plain dict/list/str/int/float/bool/None: what pydantic and every later stage expect."""
    if isinstance(node, dict):
        return {_plain_key(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    # Timestamps and other YAML types: keep the text so the type check names it plainly.
    return node


def _plain_key(key: Any) -> Any:
    return str(key) if isinstance(key, str) else key
