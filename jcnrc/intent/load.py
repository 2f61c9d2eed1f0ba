"""Stage 1, load: bytes on disk -> plain Python data plus a map from paths to source positions.

YAML is read as YAML 1.2 (``on``/``yes`` stay strings, ``11:11`` stays a string) with
ruamel.yaml's round-trip loader, the only loader that keeps a line and column for every key and
value. Everything that can go wrong in a file — encoding, tabs, syntax, duplicate keys, several
documents, a top level that is not a mapping, resource limits — becomes a diagnostic here.
"""

from __future__ import annotations

import functools
import itertools
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from jcnrc.diagnostics import Diagnostic, Path, Related, error, escaped
from jcnrc.intent import fastyaml

# ruamel.yaml is imported where the exact loader runs, not here: the fast loader reads most
# intents (and `jcnrc check` of one) without it, and importing it costs more than reading a
# bundled example.
if TYPE_CHECKING:
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import MarkedYAMLError, StreamMark


@dataclass(frozen=True)
class Limits:
    """Bounds that keep hostile input from exhausting memory or time (documented in docs/security.md).

    The loader refuses input beyond them with JCN008, and stops reading as soon as it knows:

    * `max_bytes`: size of the intent file in bytes, checked on the file size before it is read
      (and on the bytes, for `load_bytes`).
    * `max_depth`: nesting of mappings and lists; the top-level mapping is level 0, so the
      default 64 allows 64 levels under it. Checked on the parser's events: nothing deeper
      is composed (an alias counts with the depth of what it names).
    * `max_nodes`: mappings, lists and scalars, keys included, counted as if every alias
      were expanded, without expanding them. Counted while the document is composed, and
      before that by rapidyaml's C++ parser whenever the text might hold more (a cheap textual
      bound says so): a document over the limit is refused without building it.
    * `max_scalar`: characters in one key or value (1 MiB; the longest value of an intent is a
      path or an image reference). The diagnostic points at it; its text is never repeated.
    * `max_expanded`: characters in all keys and values together, counted as if every alias
      were expanded, without expanding them (like `max_nodes`, while the document is composed).
      None, the default, is `EXPANDED_PER_BYTE` (4) times `max_bytes`: 33,554,432 (32 MiB)
      with the default `max_bytes`, and it follows `--max-bytes`. The output repeats the
      intent's values, so it grows with this count, not with the file's size: 12 pods whose
      command is a list of 100 aliases of one 1 MB string are a 1.1 MB file that expands to 1.2
      billion characters, and rendered 1.26 GB in 38 s at 2.6 GB. A document without aliases
      never exceeds its own size (every key and value is written out in it; quotes, escapes,
      line folding and indentation only make the text longer than the values), so only aliases
      reach the bound; the factor 4 leaves room for an intent that shares lists and mappings
      through aliases, up to four times the largest intent that could be written out within
      `max_bytes`, while the output stays within a small multiple of what `max_bytes` allows.

    Why these defaults: the largest intent jcnrc is meant for is the benchmark's 5,000 nodes
    with 50,000 pods (`benchmarks/generate.py --nodes 5000 --vrfs 20 --pods-per-node 10`):
    5.6 MB and 680,277 nodes, or 7.1 MB and 875,673 nodes with two attachments per pod. The
    2,000-node benchmark intent is 2.2 MB and 272,117 nodes; the bundled examples are 2-3 KB
    and 120-350 nodes. 8 MiB (8,388,608 bytes) is 1.5 times the 5,000-node intent and holds the
    two-attachment variant too. The byte limit is what bounds memory: the worst case is a file
    at the limit made of one-character nodes. 2,000,000 nodes is twice what 8 MiB of such
    intents hold (one node per 8 bytes); it binds first for terse or aliased documents. An
    intent nests 5 levels; 64 is also as deep as rapidyaml's JSON emitter goes, so the fast
    loader reads whatever the limit lets through.

    What these limits cost at worst, in time and memory, is measured and recorded in
    docs/security.md ("Resource limits"); tests/test_resource_limits.py and
    tests/test_attack_limits.py bound the work (nodes composed, diagnostics, peak memory). Lower
    `max_bytes` to lower the worst case in proportion; raise it (`--max-bytes`) for bigger intents.

    The exact loader reads at most `exact_budget` nodes and aliases as written (see there): a
    file that only it can read costs at most about 35 CPU seconds and 850 MB. An 8 MB key costs
    0.8 s to refuse through the fast loader (`max_scalar`).
    """

    max_bytes: int = 8 * 1024 * 1024
    max_depth: int = 64
    max_nodes: int = 2_000_000
    max_scalar: int = 1024 * 1024
    max_expanded: int | None = None


# `max_expanded` when it is None: this many characters of keys and values for every byte of
# `max_bytes` (see Limits).
EXPANDED_PER_BYTE = 4


def expanded_budget(limits: Limits) -> int:
    """How many characters of keys and values, aliases expanded, a document may hold (`Limits.max_expanded`)."""
    return EXPANDED_PER_BYTE * limits.max_bytes if limits.max_expanded is None else limits.max_expanded


DEFAULT_LIMITS = Limits()

# The exact loader (ruamel) holds about 700 bytes for every node and alias as written, the fast
# loader about 150 (rapidyaml's tree): ruamel reads at most half of `max_nodes` of them, and
# never fewer than a million (a 5,000-node intent is 680,277 nodes; every intent the defaults are
# sized for fits). Aliases still count as expanded against `max_nodes` itself.
EXACT_MIN_BUDGET = 1_000_000


def exact_budget(limits: Limits) -> int:
    """How many nodes and aliases, as written, the exact loader composes."""
    return max(EXACT_MIN_BUDGET, limits.max_nodes // 2)

# The fast loader's positions come from rapidyaml's tree (fastyaml.Positions). For the few
# places that tree cannot tell (an empty value or an empty flow collection as a list item),
# ruamel reads the text again, if it is at most this long (about 5 CPU seconds); in a longer text
# the closest place the tree knows (the enclosing item) is given instead.
EXACT_POSITIONS_MAX_CHARS = 1_000_000


@dataclass
class SourceMap:
    """Resolves a diagnostic path to (line, column), both 1-based."""

    file: str
    lines: list[str]
    root: Any = None
    # Set by the fast loader: positions are then found on rapidyaml's tree of the text
    # (fastyaml.Positions), built when the first one is asked for; ruamel reads the text again
    # only for a place that tree cannot tell, and only when the text is small enough.
    text: str | None = None
    fast: Any = None
    # Set by the exact loader when it stood placeholders in for NEL, LS and PS (see
    # _hide_yaml_1_1_breaks): the keys of `root` hold the placeholders.
    hidden: dict[int, str] | None = None

    def source_line(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""

    def position(self, path: Path, at: str = "value") -> tuple[int, int]:
        if self.root is None and self.text is not None:
            found, certain = self._fast_position(self.text, path, at, exact=True)
            if certain or len(self.text) > EXACT_POSITIONS_MAX_CHARS:
                return found
            self.root = _positions_tree(self.text)
            self.text = self.fast = None
        return self._exact_position(path, at)

    def order(self, path: Path, at: str = "value") -> tuple[int, int]:
        """Sorts like `position`, at less cost for a text the fast loader read (a byte column)."""
        if self.root is None and self.text is not None:
            return self._fast_position(self.text, path, at, exact=False)[0]
        return self._exact_position(path, at)

    def _fast_position(self, text: str, path: Path, at: str, exact: bool) -> tuple[tuple[int, int], bool]:
        """`position` from rapidyaml's tree of `text` (the fast loader's), and whether it is certain
        (else: the closest place known)."""
        if self.fast is None:
            self.fast = fastyaml.Positions(text)
        tree = self.fast
        node = tree.root
        offset = tree.start(node)
        if offset is None:
            return (1, 1), False
        certain = True
        for index, part in enumerate(path):
            last = index == len(path) - 1
            if tree.is_map(node) and not isinstance(part, int):
                child = tree.entry(node, part)
                if child is None:
                    break  # a missing key: the enclosing node
                entry = tree.key_start(child) if (last and at == "key") else tree.value_start(child)
            elif tree.is_seq(node) and isinstance(part, int):
                child = tree.item(node, part)
                if child is None:
                    break
                entry = tree.start(child)
            elif tree.is_map(node) and isinstance(part, int):
                continue
            else:
                break
            if entry is None:
                certain = False
                break
            offset, node = entry, child
            if not tree.is_container(node) and not last:
                break
        return (tree.line_column(offset) if exact else tree.order(offset)), certain

    def _exact_position(self, path: Path, at: str) -> tuple[int, int]:
        if self.hidden:
            path = tuple(part.translate(self.hidden) if isinstance(part, str) else part for part in path)
        start = _node_start(self.root)
        if start is None:
            return (1, 1)
        line, col = start
        node = self.root
        for index, part in enumerate(path):
            last = index == len(path) - 1
            if isinstance(node, dict) and not isinstance(part, int) and (key := _original_key(node, part)) is not _MISSING:
                entry = _entry_position(node, key, "key" if (last and at == "key") else "value")
                child = node[key]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                entry = _item_position(node, part)
                child = node[part]
            elif isinstance(node, dict) and isinstance(part, int):
                # A map whose items are addressed by position (rare); stay on the map.
                continue
            else:
                # Missing key: point at the enclosing node, stop here.
                break
            if entry is None:
                # A node without a position: likewise.
                break
            line, col = entry[0] + 1, entry[1] + 1
            node = child
            if not hasattr(node, "lc") and not last:
                # Scalars carry no position of their own; the parent's entry is the position.
                break
        return (line, col)


def _item_position(sequence: Any, index: int) -> tuple[int, int] | None:
    try:
        line, col = sequence.lc.item(index)
    except (KeyError, TypeError, AttributeError):
        return None
    return None if line is None or col is None else (line, col)


_MISSING = object()


def _original_key(mapping: Any, key: str) -> Any:
    """The key as ruamel holds it: `to_plain` turned `7:` into "7" and an empty key into "null"."""
    if key in mapping:
        return key
    for original in mapping:
        if not isinstance(original, str) and _plain_key(original) == key:
            return original
    return _MISSING


def _entry_position(mapping: Any, key: Any, at: str) -> tuple[int, int] | None:
    """(line, col), 0-based, of a key or its value, also for keys that arrive through a `<<: *anchor` merge."""
    lc = getattr(mapping, "lc", None)
    if lc is None:
        return None
    if lc.data is not None and key in lc.data:
        return lc.key(key) if at == "key" else lc.value(key)
    from ruamel.yaml.comments import merge_attrib

    for merged in getattr(mapping, merge_attrib, None) or ():
        if isinstance(merged, dict) and key in merged:
            found = _entry_position(merged, key, at)
            if found is not None:
                return found
    # Merged through a chain we cannot follow: the mapping itself is the closest place.
    return (lc.line, lc.col) if lc.line is not None else None


@dataclass
class Loaded:
    data: dict | None
    source: SourceMap
    diagnostics: list[Diagnostic] = field(default_factory=list)
    digest: str = ""
    # False when the fast loader read the file: no YAML-level checks beyond "it parsed the same".
    exact: bool = True

    @property
    def ok(self) -> bool:
        return self.data is not None and not any(d.is_error for d in self.diagnostics)


def load_file(path: FsPath, display_name: str | None = None, limits: Limits = DEFAULT_LIMITS, fast: bool = False) -> Loaded:
    """Read an intent file. Raises OSError only when the file cannot be read at all (a usage error)."""
    name = display_name or str(path)
    size = path.stat().st_size
    if size > limits.max_bytes:
        return _fail(name, [], error("JCN008", f"the file is {size} bytes; the limit is {limits.max_bytes}",
                                     line=1, column=1, help="raise the limit with --max-bytes if this file is genuine"))
    return load_bytes(path.read_bytes(), name, limits, fast=fast)


def load_bytes(raw: bytes, name: str, limits: Limits = DEFAULT_LIMITS, fast: bool = False) -> Loaded:
    """Read intent bytes. With `fast`, a C++ parser reads files it can read exactly like ruamel's
    YAML 1.2 loader, without positions; the caller reloads without `fast` when it has
    something to report (see pipeline.analyse), so diagnostics are the same either way."""
    import hashlib

    digest = hashlib.sha256(raw).hexdigest()
    if len(raw) > limits.max_bytes:
        return _fail(name, [], error("JCN008", f"the input is {len(raw)} bytes; the limit is {limits.max_bytes}",
                                     line=1, column=1))
    again = _READ.pop((digest, name, limits), None)
    if again is not None and not fast:
        # The pipeline reads a file a second time, without `fast`, when it has something to
        # report, for the exact loader's positions: the fast loader's are the same (see
        # SourceMap), and so is everything else it answered. Reading again would cost the most
        # exactly when the file is big or hostile.
        return Loaded(again.data, again.source, list(again.diagnostics), digest, exact=again.exact)
    loaded = _load_text(raw, name, limits, fast, digest)
    if fast:
        _READ.clear()
        _READ[(digest, name, limits)] = loaded
    return loaded


# What the last `load_bytes(fast=True)` answered, for the pipeline's second read of the same bytes.
_READ: dict[tuple[str, str, Limits], Loaded] = {}


def _load_text(raw: bytes, name: str, limits: Limits, fast: bool, digest: str) -> Loaded:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        shown = _LINE_BREAK.split(raw.decode("utf-8", errors="replace"))
        return _fail(name, shown, error("JCN004", f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                                        line=line, column=column, span=1, help="save the file as UTF-8"))
    if text.startswith("\ufeff"):
        text = text[1:]
    # Split where the YAML parser counts lines (CR LF, LF, CR); str.splitlines() would also split
    # on form feeds and U+2028 and shift every position after them.
    lines = _LINE_BREAK.split(text)
    source = SourceMap(name, lines)
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in lines):
        return Loaded(None, source, [error("JCN005", "the file is empty", line=1, column=1, span=1,
                                           help="start from `jcnrc init`, which writes a commented example")], digest)
    forbidden = _control_character(text)
    if forbidden:
        return Loaded(None, source, [forbidden], digest)
    tabs = _tab_indentation(lines)
    if tabs:
        return Loaded(None, source, tabs, digest)
    # Not when the text nests deeper than the limit (a hint, see _nested_deeper_than): the exact
    # composer refuses that at the limit, where rapidyaml would first parse every level.
    if fast and len(raw) >= fastyaml.FAST_PATH_MIN_BYTES and not _nested_deeper_than(raw, limits.max_depth):
        try:
            data = fastyaml.parse(text, limits.max_depth, limits.max_nodes, limits.max_scalar)
        except fastyaml.TooManyNodes as over:
            _remember_count(digest, over.count)
            return Loaded(None, source, [_too_many_nodes(limits, aliases=False)], digest, exact=False)
        except fastyaml.ScalarTooLong as long:
            source.text = text
            line, column = source.position(tuple(long.path), "key" if long.key else "value")
            return Loaded(None, source, [_too_long(limits, long.length, long.key, line, column)], digest, exact=False)
        if data is not None:
            source.text = text
            return Loaded(data, source, [], digest, exact=False)
    return _parse(text, source, limits, digest, raw)


def _positions_tree(text: str) -> Any:
    from ruamel.yaml import YAML

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return YAML(typ="rt").load(text)


def _fail(name: str, lines: list[str], diagnostic: Diagnostic) -> Loaded:
    return Loaded(None, SourceMap(name, lines), [diagnostic])


_LINE_BREAK = re.compile("\r\n|\r|\n")
# Every character YAML 1.2 does not call printable (section 5.1: the complement of its set within
# Unicode), which the parser refuses with a character offset only, so it is found here with a line
# and a column. Listed as the refused characters: a class of the allowed ones spans most of
# Unicode, and compiling it was a noticeable part of every run's start-up.
_NOT_PRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


# YAML 1.1 broke lines at NEL, LS and PS; YAML 1.2 reads them as ordinary characters (in a
# comment, a key or a value), and so does rapidyaml. ruamel's scanner still breaks lines at them
# (its reader does not count them as lines in 1.2 mode): it is given the text with a character
# the text does not use standing in for each, from Unicode's private use areas, which every YAML
# reader takes as text; `to_plain` puts the real ones back. One character for one: every line
# and column stays where it was.
_YAML_1_1_BREAKS = "\x85\u2028\u2029"
_PRIVATE_USE = (range(0xE000, 0xF900), range(0xF0000, 0xFFFFE), range(0x100000, 0x10FFFE))


def _hide_yaml_1_1_breaks(text: str) -> tuple[str, dict[int, str] | None, dict[int, str] | None]:
    """The text with placeholders for NEL, LS and PS; the table that puts placeholders in (for
    keys of paths) and the one that takes them out (None, None when the text holds none)."""
    if not any(char in text for char in _YAML_1_1_BREAKS):
        return text, None, None
    used = set(text)
    free = (chr(code) for block in _PRIVATE_USE for code in block if chr(code) not in used)
    placeholders = list(itertools.islice(free, len(_YAML_1_1_BREAKS)))
    if len(placeholders) < len(_YAML_1_1_BREAKS):  # the text uses every private character: leave it as it is
        return text, None, None
    # One placeholder for each break (checked just above): zip pairs them all.
    hide = {ord(char): placeholder for char, placeholder in zip(_YAML_1_1_BREAKS, placeholders, strict=True)}
    restore = {ord(placeholder): char for char, placeholder in zip(_YAML_1_1_BREAKS, placeholders, strict=True)}
    return text.translate(hide), hide, restore


def _control_character(text: str) -> Diagnostic | None:
    found = _NOT_PRINTABLE.search(text)
    if found is None:
        return None
    offset = found.start()
    before = _LINE_BREAK.split(text[:offset])
    line, column = len(before), len(before[-1]) + 1
    return error("JCN009", f"the file contains the control character U+{ord(found.group()):04X}, which YAML does not allow",
                 line=line, column=column, span=1, help="delete it; it is often left behind by copying from a terminal or a PDF")


def _tab_indentation(lines: list[str]) -> list[Diagnostic]:
    found = []
    for number, line in enumerate(lines, start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            found.append(error("JCN003", "a tab is used for indentation; YAML allows only spaces",
                               line=number, column=indent.index("\t") + 1, span=1, help="replace the tab with spaces"))
    return found


def _parse(text: str, source: SourceMap, limits: Limits, digest: str, raw: bytes) -> Loaded:
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    at_least = _COUNTED.get(digest)
    budget = exact_budget(limits)
    if at_least is None and _node_upper_bound(text) > min(limits.max_nodes, budget) \
            and not _nested_deeper_than(raw, limits.max_depth):
        # The text may hold more nodes than the limit even without aliases: count them in C++
        # first, so that ruamel does not spend a minute composing a million nodes to be refused.
        # (Not when it nests too deep: the composer below stops at that within milliseconds,
        # where rapidyaml would hold every level.)
        at_least = fastyaml.count_nodes(text)
    if at_least is not None and at_least > limits.max_nodes:
        _remember_count(digest, at_least)
        return Loaded(None, source, [_too_many_nodes(limits, aliases=False)], digest)
    if at_least is not None and at_least > budget:
        _remember_count(digest, at_least)
        return Loaded(None, source, [_too_many_for_ruamel(limits)], digest)
    text, source.hidden, restore = _hide_yaml_1_1_breaks(text)
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.Scanner = _ruamel_classes()[0]
    yaml.Composer = _composer_class(limits)
    try:
        with warnings.catch_warnings():
            # A reused anchor is legal YAML (the later one wins); ruamel would print a warning.
            warnings.simplefilter("ignore")
            documents = list(yaml.load_all(text))
    except _TooDeep as deep:
        return Loaded(None, source, [_too_deep(limits, deep.line, deep.column)], digest)
    except _TooLarge as large:
        diagnostic = _too_many_for_ruamel(limits) if large.exact else _too_many_nodes(limits, large.aliases)
        return Loaded(None, source, [diagnostic], digest)
    except _TooExpanded as expanded:
        return Loaded(None, source, [_too_expanded(limits, expanded.aliases)], digest)
    except _TooLong as long:
        return Loaded(None, source, [_too_long(limits, long.length, long.key, long.line, long.column)], digest)
    except DuplicateKeyError as exc:
        return Loaded(None, source, [_duplicate_key(exc, text, restore)], digest)
    except MarkedYAMLError as exc:
        return Loaded(None, source, [_syntax_error(exc, source.lines)], digest)
    except YAMLError as exc:
        return Loaded(None, source, [error("JCN001", escaped(f"YAML error: {exc}"), line=1, column=1)], digest)
    except RecursionError:
        return Loaded(None, source, [error("JCN008", f"the document nests too deeply (limit {limits.max_depth})",
                                           line=1, column=1)], digest)
    except Exception as exc:  # noqa: BLE001 - the parser raises plain errors on some malformed input; never a traceback
        return Loaded(None, source, [error("JCN001", escaped(f"YAML error: the parser gave up ({type(exc).__name__}: {exc})"),
                                           line=1, column=1,
                                           help="check the file for unusual YAML (tags, complex keys)")], digest)
    documents = [d for d in documents if d is not None] or [None]
    if len(documents) > 1:
        line, column = _second_document_position(yaml, text)
        return Loaded(None, source, [error("JCN007", f"the file holds {len(documents)} YAML documents; an intent is one document",
                                           line=line, column=column,
                                           help="keep one topology per file, without `---` separators")], digest)
    root = documents[0]
    if not isinstance(root, dict):
        kind = "a list" if isinstance(root, list) else f"a {_scalar_kind(root)}" if root is not None else "nothing"
        line, column = _node_start(root) or _first_content(source.lines)
        return Loaded(None, source, [error("JCN006", f"the top level of an intent must be a mapping, found {kind}",
                                           line=line, column=column, help="start with `apiVersion: jcnrc/v1`")], digest)
    source.root = root
    try:
        data = to_plain(root, restore)
    except RecursionError:  # only with a max_depth raised far beyond the default
        return Loaded(None, source, [error("JCN008", f"the document nests too deeply (limit {limits.max_depth})",
                                           line=1, column=1)], digest)
    return Loaded(data, source, [], digest)


def _node_start(node: Any) -> tuple[int, int] | None:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None or lc.col is None:
        return None
    return lc.line + 1, lc.col + 1


def _scalar_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _first_content(lines: list[str]) -> tuple[int, int]:
    for number, text in enumerate(lines, start=1):
        stripped = text.strip()
        if stripped and not stripped.startswith("#"):
            return number, len(text) - len(text.lstrip()) + 1
    return 1, 1


def _second_document_position(yaml: YAML, text: str) -> tuple[int, int]:
    """Where the second non-empty document starts: its `---` marker, or its first node."""
    from ruamel.yaml.events import DocumentStartEvent, ScalarEvent

    seen = 0
    start: DocumentStartEvent | None = None
    expect_root = False
    for event in yaml.parse(text):
        if isinstance(event, DocumentStartEvent):
            start, expect_root = event, True
            continue
        if not expect_root:
            continue
        expect_root = False
        empty = isinstance(event, ScalarEvent) and event.tag is None and event.value in ("", "~", "null", "Null", "NULL")
        if empty:
            continue
        seen += 1
        if seen == 2:
            mark = start.start_mark if start is not None and getattr(start, "explicit", False) else event.start_mark
            return mark.line + 1, mark.column + 1
    return 1, 1


def _duplicate_key(exc: DuplicateKeyError, text: str, restore: dict[int, str] | None = None) -> Diagnostic:
    mark = exc.problem_mark
    key = _quoted_key(exc.problem)
    first = _first_occurrence(text, key.strip("`"), exc.context_mark, mark) if key else None
    related = (Related("first defined", (), line=first[0], column=first[1]),) if first else ()
    shown = key.translate(restore) if restore else key
    return error(
        "JCN002",
        escaped(f"duplicate key {shown}") if key else "duplicate key",
        line=mark.line + 1,
        column=mark.column + 1,
        related=related,
        help="keep one of them: YAML tools disagree on which one wins",
    )


def _first_occurrence(text: str, key: str, mapping_start: StreamMark | None,
                      duplicate: StreamMark | None) -> tuple[int, int] | None:
    """Where `key` first appears between the start of its mapping (ruamel's context mark) and the duplicate."""
    if mapping_start is None or duplicate is None:
        return None
    pattern = re.compile(r"(?<![\w.-])[\"']?" + re.escape(key) + r"[\"']?\s*:")
    for found in pattern.finditer(text, mapping_start.index, duplicate.index):
        before = _LINE_BREAK.split(text[: found.start()])
        line, column = len(before), len(before[-1]) + 1
        # In a block mapping the keys share a column; a match elsewhere belongs to a nested mapping.
        if column == duplicate.column + 1 or mapping_start.line == duplicate.line:
            return line, column
    return None


def _quoted_key(problem: str | None) -> str:
    if problem and '"' in problem:
        parts = problem.split('"')
        if len(parts) >= 3:
            return f"`{parts[1]}`"
    return ""


# Contexts in which the parser notices a mistake later than it was made (at the next line,
# or at the end of the file); the construct it was reading is where the mistake is.
_OPENED_AT_CONTEXT = ("while parsing a flow mapping", "while parsing a flow sequence", "while scanning a simple key")


def _syntax_error(exc: MarkedYAMLError, lines: list[str]) -> Diagnostic:
    problem = (exc.problem or "invalid YAML").strip()
    context = (exc.context or "").strip()
    noticed = exc.problem_mark or exc.context_mark
    line, column = ((noticed.line + 1, noticed.column + 1) if noticed else (1, 1))
    unclosed_quote = "quoted scalar" in context and "end of stream" in problem
    if exc.context_mark is not None and (context in _OPENED_AT_CONTEXT or unclosed_quote):
        line, column = exc.context_mark.line + 1, exc.context_mark.column + 1
    hint = _syntax_help(problem, context, unclosed_quote)
    keyless = _key_without_colon(lines, line) if "mapping values are not allowed" in problem else None
    if keyless is not None:
        line, column = keyless
        hint = "a key needs a colon and a space: `key: value`; without it this line runs on into the next"
    message = escaped(f"YAML syntax error: {problem}" + (f" ({context})" if context else ""))
    if noticed is not None and (line, column) != (noticed.line + 1, noticed.column + 1):
        hint += f" (the parser noticed it at line {noticed.line + 1}, column {noticed.column + 1})"
    return error("JCN001", message, line=line, column=column, help=hint)


def _key_without_colon(lines: list[str], line: int) -> tuple[int, int] | None:
    """`asn 64512` as the first key of a mapping: YAML reads it as text that continues on the next
    line and only complains at the next colon. The line before, at the same indentation and
    without a colon of its own, is the mistake."""
    if not 1 < line <= len(lines):
        return None
    current = lines[line - 1]
    previous = lines[line - 2]
    indent = len(current) - len(current.lstrip(" "))
    body = previous.split(" #", 1)[0].strip()
    if not body or body.startswith(("#", "-", "{", "[")) or ":" in body:
        return None
    if len(previous) - len(previous.lstrip(" ")) != indent:
        return None
    return line - 1, indent + 1


def _syntax_help(problem: str, context: str, unclosed_quote: bool) -> str:
    if "flow mapping" in context:
        return "this `{` is never closed: add the `}`"
    if "flow sequence" in context:
        return "this `[` is never closed: add the `]`"
    if "simple key" in context:
        return "a key needs a colon and a space: `key: value`"
    if unclosed_quote:
        return "this quote is never closed"
    if "mapping values are not allowed" in problem:
        return "quote a value that contains ': ', or check the indentation of this line"
    if "<block end>" in problem:
        return "check the indentation of this line against the lines above it"
    if "undefined alias" in problem:
        return "define the anchor (`&name`) before the alias (`*name`) that uses it"
    return "check indentation, colons and quotes on this line and the one before"


def _node_upper_bound(text: str) -> int:
    """More nodes than any YAML text can hold (aliases counted as one), from a few character
    counts: every node but a document's root is announced by an indicator (`: `, `- `, `?`,
    `,`, `[`, `{`), and each such indicator brings at most a key and a value (an opening
    bracket, the collection and its first entry). Plain text with colons or commas only makes
    the bound larger. About 6 ms per MB. (Line breaks other than LF and CR LF can make it too
    low; then the composer, which counts anyway, is what refuses the document.)"""
    separators = text.count(":") + text.count("?") + text.count(",")
    openers = text.count("[") + text.count("{")
    dashes = text.count("- ") + text.count("-\n") + text.count("-\r") + text.count("-\t")
    documents = text.count("---") + text.count("...")
    return 2 + 2 * separators + 4 * openers + dashes + documents


# Node counts of refused files by SHA-256 of their bytes: the pipeline reads a refused file a
# second time (fast loader, then exact loader for positions), and counting again would cost
# as much as the first time. A few entries: only files over the node limit get here.
_COUNTED: dict[str, int] = {}


def _remember_count(digest: str, count: int) -> None:
    for old in list(_COUNTED)[:-7]:
        _COUNTED.pop(old, None)
    _COUNTED[digest] = count


_BRACKETS_AS_ONE = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def _nested_deeper_than(raw: bytes, depth: int) -> bool:
    """A hint: more than `depth` opening brackets in a row, whatever text lies between them
    (`[[[`, `{a: {b: {c:`, `[x, [y, [z`), which a document nesting that deep usually shows."""
    return b"[" * (depth + 1) in raw.translate(_BRACKETS_AS_ONE, _NOT_BRACKET)


@functools.lru_cache(maxsize=1)
def _ruamel_classes() -> tuple[type[Any], type[Any]]:
    """(_LinearScanner, _LimitedComposer), subclasses of ruamel's scanner and composer, defined at
    their first use: defining them imports ruamel.yaml."""
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.error import StreamMark
    from ruamel.yaml.events import AliasEvent, ScalarEvent
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.scanner import RoundTripScanner, ScannerError

    class _LinearScanner(RoundTripScanner):
        """ruamel's round-trip scanner without its quadratic cost in open flow levels.

        The scanner keeps one possible simple key per open `[`/`{` level and, for every token,
        looked at all of them: 10,000 `[` cost 3 CPU seconds before the composer could stop at
        `max_depth`, since the scanner reads up to 1,024 characters ahead. The keys are kept in the
        order they were saved, which is also the order of their token numbers, lines and offsets:
        the nearest is the first, and the stale ones are a prefix. Same answers, constant time.

        This replaces and relies on ruamel internals, not its documented API: pyproject pins
        ruamel.yaml below its next minor, and tests/test_libraries_ruamel.py records the ruamel
        methods involved (and checks that this scanner's tokens are ruamel's own).
        """

        def next_possible_simple_key(self) -> Any:
            for key in self.possible_simple_keys.values():
                return key.token_number
            return None

        def stale_possible_simple_keys(self) -> None:
            keys = self.possible_simple_keys
            if not keys:
                return
            reader = self.reader
            line, index = reader.line, reader.index
            while keys:
                level = next(iter(keys))
                key = keys[level]
                if key.line == line and index - key.index <= 1024:
                    return
                if key.required:
                    raise ScannerError("while scanning a simple key", key.mark, "could not find expected ':'",
                                       reader.get_mark())
                del keys[level]


    class _LimitedComposer(Composer):
        """ruamel's composer, counting nodes, depth and characters on the parser's events as it
        composes them, and stopping at the first node past a limit: the rest of the document is
        never scanned.

        An alias counts the nodes, the levels and the characters of the node it names (known once
        that node is composed), so "billion laughs" is refused after a few hundred events, and so is
        a long string repeated through aliases, and nothing is expanded.
        Like _LinearScanner, it depends on ruamel internals recorded in tests/test_libraries_ruamel.py.
        """

        def __init__(self, loader: Any = None, limits: Limits = DEFAULT_LIMITS) -> None:
            super().__init__(loader)
            self.max_nodes = limits.max_nodes
            self.max_depth = limits.max_depth
            self.nodes = 0
            self.level = 0  # of the node being composed (ruamel's own `depth` is not in every version)
            self.deepest = 0  # the deepest level reached inside the anchored node being composed
            # id of an anchored node -> (nodes, levels below it, characters of its keys and values)
            self.expanded: dict[int, tuple[int, int, int]] = {}
            self.aliases = False
            self.events: Any = None
            self.max_scalar = limits.max_scalar
            self.max_read = exact_budget(limits)
            self.read = 0  # nodes and aliases as written, each an object in ruamel's tree
            self.max_characters = expanded_budget(limits)
            self.characters = 0  # of the keys and values composed, aliases counted as expanded

        def compose_document(self) -> Any:
            self.events = self.parser  # the property looks itself up on every use; once is enough
            return super().compose_document()

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.events.peek_event()
            depth = self.level  # levels above this node: 0 for the root
            self.read += 1
            if self.read > self.max_read:
                raise _TooLarge(aliases=self.aliases, exact=True)
            if isinstance(event, AliasEvent):
                target = self.anchors.get(event.anchor)
                if target is not None:  # an undefined alias is the base class's error
                    known = self.expanded.get(id(target))
                    if known is None:  # an alias inside the node it names: infinitely deep
                        raise _TooDeep(event.start_mark)
                    nodes, levels, characters = known
                    self.aliases = True
                    self.nodes += nodes
                    if self.nodes > self.max_nodes:
                        raise _TooLarge(aliases=True)
                    self.characters += characters
                    if self.characters > self.max_characters:
                        raise _TooExpanded(aliases=True)
                    if depth + levels > self.max_depth:
                        raise _TooDeep(event.start_mark)
                    if depth + levels > self.deepest:
                        self.deepest = depth + levels
                node = super().compose_node(parent, index)
                if index is None and parent is not None and isinstance(node, ScalarNode):
                    # An alias used as a key: the key is here, not where its anchor is (the mapping
                    # records its keys' positions from their nodes).
                    node = ScalarNode(node.tag, node.value, event.start_mark, event.end_mark, style=node.style)
                return node
            if depth > self.max_depth:
                raise _TooDeep(event.start_mark)
            self.nodes += 1
            if self.nodes > self.max_nodes:
                raise _TooLarge(aliases=self.aliases)
            # Counts before this node (nodes, characters) and the deepest level outside it, for an anchored node.
            saved: tuple[int, int, int] | None = None
            if event.anchor is not None:
                saved = (self.nodes - 1, self.characters, self.deepest)
                self.deepest = depth
            elif depth > self.deepest:
                self.deepest = depth
            if isinstance(event, ScalarEvent):
                length = len(event.value)
                if length > self.max_scalar:
                    raise _TooLong(event.start_mark, length, key=index is None and parent is not None)
                self.characters += length
                if self.characters > self.max_characters:
                    raise _TooExpanded(aliases=self.aliases)
            self.level = depth + 1
            try:
                node = super().compose_node(parent, index)
            finally:
                self.level = depth
            if saved is not None:
                nodes_before, characters_before, outer = saved
                self.expanded[id(node)] = (self.nodes - nodes_before, self.deepest - depth, self.characters - characters_before)
                self.deepest = max(outer, self.deepest)
            # The document's nodes live until it is constructed, each with two marks that hold the
            # whole text's buffer, its offset twice, line and column: a third of ruamel's memory.
            # The constructor reads the start's line and column (and an error its index) only.
            mark = node.start_mark
            node.start_mark = node.end_mark = StreamMark(mark.name, mark.index, mark.line, mark.column)
            return node

    return _LinearScanner, _LimitedComposer


def __getattr__(name: str) -> Any:
    """`load._LinearScanner` and `load._LimitedComposer` as module attributes (tests read them)."""
    if name == "_LinearScanner":
        return _ruamel_classes()[0]
    if name == "_LimitedComposer":
        return _ruamel_classes()[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _TooDeep(Exception):
    def __init__(self, mark: Any) -> None:
        super().__init__()
        self.line = mark.line + 1 if mark is not None else 1
        self.column = mark.column + 1 if mark is not None else 1


class _TooLong(Exception):
    def __init__(self, mark: Any, length: int, key: bool) -> None:
        super().__init__()
        self.line = mark.line + 1 if mark is not None else 1
        self.column = mark.column + 1 if mark is not None else 1
        self.length = length
        self.key = key


class _TooLarge(Exception):
    def __init__(self, aliases: bool, exact: bool = False) -> None:
        super().__init__()
        self.aliases = aliases
        self.exact = exact  # over exact_budget, not over max_nodes


class _TooExpanded(Exception):
    """More characters of keys and values than `expanded_budget`."""

    def __init__(self, aliases: bool) -> None:
        super().__init__()
        self.aliases = aliases


@functools.lru_cache(maxsize=8)
def _composer_class(limits: Limits) -> type[Any]:
    """_LimitedComposer bound to `limits`: ruamel builds its composer as `self.Composer(loader=self)`."""
    limited = _ruamel_classes()[1]

    class _BoundComposer(limited):  # type: ignore[misc,valid-type]
        def __init__(self, loader: Any = None) -> None:
            super().__init__(loader, limits)

    return _BoundComposer


def _too_deep(limits: Limits, line: int, column: int) -> Diagnostic:
    return error("JCN008", f"the document nests deeper than {limits.max_depth} levels", line=line, column=column,
                 help="an intent nests a few levels; this looks like generated or corrupted input")


def _too_long(limits: Limits, length: int, key: bool, line: int, column: int) -> Diagnostic:
    what = "key" if key else "value"
    return error("JCN008", f"this {what} is {length:,} characters long; the limit is {limits.max_scalar:,}",
                 line=line, column=column, span=1,
                 help=f"no {what} of an intent is this long; this looks like generated or corrupted input")


def _too_many_for_ruamel(limits: Limits) -> Diagnostic:
    return error("JCN008", f"the document has more than {exact_budget(limits):,} nodes, the most the exact YAML reader "
                 "reads", line=1, column=1,
                 help="bigger intents are read by the fast reader, which reads neither anchors, aliases, tags, tabs, "
                      "quoted numbers nor other YAML it cannot read exactly like the exact reader; write the file "
                      "without them, or raise --max-nodes (the exact reader reads half as many)")


_EXPANDED_SOURCE = f" ({EXPANDED_PER_BYTE} times --max-bytes)"


def _too_expanded(limits: Limits, aliases: bool) -> Diagnostic:
    budget = expanded_budget(limits)
    if aliases:
        return error("JCN008", f"the document expands to more than {budget:,} characters (YAML aliases?)",
                     line=1, column=1,
                     help=f"the keys and values of an intent, its aliases expanded, may hold at most {budget:,} characters"
                          f"{_EXPANDED_SOURCE if limits.max_expanded is None else ''}; an intent needs no long values "
                          "repeated through aliases: write the values out")
    return error("JCN008", f"the document has more than {budget:,} characters of keys and values", line=1, column=1,
                 help=f"the limit is {budget:,} characters; raise --max-bytes if this file is genuine")


def _too_many_nodes(limits: Limits, aliases: bool) -> Diagnostic:
    if aliases:
        return error("JCN008", f"the document expands to more than {limits.max_nodes} nodes (YAML aliases?)",
                     line=1, column=1, help="an intent needs no deeply repeated aliases; write the values out")
    return error("JCN008", f"the document has more than {limits.max_nodes} nodes", line=1, column=1,
                 help="raise the limit with --max-nodes if this file is genuine")


def to_plain(node: Any, restore: dict[int, str] | None = None) -> Any:
    """Plain dict/list/str/int/float/bool/None: what pydantic and every later stage expect.
    `restore` translates every string and key (the placeholders of _hide_yaml_1_1_breaks)."""
    if restore:
        return _restored(to_plain(node), restore)
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


def _restored(node: Any, table: dict[int, str]) -> Any:
    if isinstance(node, dict):
        return {k.translate(table): _restored(v, table) for k, v in node.items()}
    if isinstance(node, list):
        return [_restored(v, table) for v in node]
    return node.translate(table) if isinstance(node, str) else node


def _plain_key(key: Any) -> str:
    """Every key of an intent is a name; `7:` or `true:` become text so they are reported as unknown keys."""
    if isinstance(key, str):
        return str(key)
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, (tuple, list)):
        return "[" + ", ".join(_plain_key(k) for k in key) + "]"
    return str(key)
