"""The fast path of loading: rapidyaml (C++) parses, emits JSON, and json.loads builds the data.

ruamel.yaml's round-trip loader keeps positions for every node and takes about 12 s on a
2.2 MB intent; this path takes about 0.2 s. It is used only when the result is guaranteed to
be what ruamel's YAML 1.2 loader returns, so it declines (returns None) whenever that is not
certain: parse errors, several documents, anchors, aliases, tags, duplicate keys, and any
string that ruamel's YAML 1.2 resolver would read as something else (``~``, ``0x1F``,
``0777``, ``True``...), since JSON cannot say whether such a value was quoted. It also declines
input where the two parsers are known to disagree (found by fuzz/fuzz_loader.py, each kind
described with the check that finds it below): tabs, line breaks other than LF and CR LF, a flow
collection (``[...]``, ``{...}``) that does not close on the line where it opens or is followed
by more text, ``?``, ``<<``, ``:`` right before ``,``/``]``/``}``, block scalar headers,
directives, empty keys and strings that start like YAML syntax. The checks are a few scans of
the text at C speed (about 20 ms for 2 MB) and look at brackets and colons in quotes and
comments too: they decline more than they must, never less. Declining costs nothing but time:
the caller then uses ruamel, which also reports the exact problem.

The one thing it does not decline is a document over the node limit: it raises `TooManyNodes`,
since the exact loader would only spend longer reaching the same answer.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ctypes

    from ruamel.yaml.resolver import VersionedResolver

# Files from this size on are read by the fast path when the caller asks for it: every size. Even
# the bundled examples (a few KB) load faster here than through ruamel, and with a threshold an
# intent just under it built slower than a bigger one. What the fast path cannot read exactly it
# declines, at any size, and the exact loader reads it.
FAST_PATH_MIN_BYTES = 0

# Anchors (&a), aliases (*a) and tags (!x) after a separator: the JSON view would lose them
# (and a bare `&` or `*` is an error for ruamel, text for rapidyaml).
_NODE_PROPERTY = re.compile(r"(?:^|[\s\[\]{},:?-])[&*!]", re.MULTILINE)
# Document markers; rapidyaml also takes indented ones for markers (`- a\n  ...`), ruamel does not.
_DOCUMENT_MARKER = re.compile(r"^[ ]*(?:---|\.\.\.)(?:\s|$)", re.MULTILINE)
# First characters of plain scalars that YAML 1.2 may resolve to something other than a string.
# (ruamel's resolver also reads `=` as a `value` tag and `<<` as a merge, YAML 1.1 remnants.)
_MAYBE_NOT_STRING = frozenset("0123456789+-.~nNtTfF=<")
_STR_TAG = "tag:yaml.org,2002:str"
# Characters where the parsers part ways: ruamel breaks lines at NEL, LS and PS (and a lone CR),
# rapidyaml does not; a tab after `:` ends a key for ruamel and not for rapidyaml (`{b:\t7}`),
# and ruamel refuses a tab after `key:` that rapidyaml skips.
# A byte order mark inside the text is a character for ruamel and nothing for rapidyaml; `?`
# (explicit keys) is read differently in flow mappings and refused differently in block ones.
_DISPUTED = ("\t", "\x85", "\u2028", "\u2029", "\ufeff", "?")
# `{a:}` is {"a": null} for rapidyaml and {"a:": null} for ruamel; `<<` merges only for ruamel.
_DISPUTED_PAIRS = (b":,", b":]", b":}", b"<<")
# Lines where rapidyaml is lenient and ruamel is not (or fails): a directive (`%`) without
# `---`; block scalar headers (`|1x`, `| -` pass as empty strings); and a scalar on the line
# after `key: # comment`, which ruamel 0.19 cannot parse when a blank line follows.
_LENIENT = re.compile(
    rb"^%"
    rb"|(?:^[ ]*|[:?-][ ]+|[\[{,][ ]*)[|>]"
    rb"|:[ ]+#[^\n]*\n(?:[ \r]*(?:#[^\n]*)?\n)*[ ]+(?!-[ \r\n])(?![^\n]*:[ \r\n])[^\s#]",
    re.MULTILINE,
)
_LENIENT_HINTS = (b"%", b"|", b">", b" #")
# Anything but a comment, a separator or a closing bracket after a flow collection: an error for
# ruamel, more entries for rapidyaml (`- {} -`).
_AFTER_FLOW = re.compile(rb"[\]}] *[^\s,\]}:#]")
# First characters that cannot start a plain scalar (YAML 1.2, 7.3.3), which rapidyaml takes as
# text anyway (`a: }`, `a: @x`): a string that starts with one was quoted, or ruamel refuses it.
# (`:` too: `{:1}` is {null: 1} for ruamel and {":1": null} for rapidyaml; `- ` and `-` alone.)
_INDICATORS = frozenset(",[]{}#&*!|>'\"%@`")
# Everything but brackets and line feeds, deleted to see whether each flow collection closes on
# its own line (rapidyaml reads multi-line plain keys in flow mappings that ruamel refuses).
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}\n")
# No line of an intent holds this many brackets; a line that does is declined without a look.
_MAX_BRACKETS_PER_LINE = 1024
# rapidyaml's JSON emitter stops at this depth; deeper documents are declined anyway.
_EMIT_MAX_DEPTH = 64


class _Decline(Exception):
    pass


class TooManyNodes(Exception):
    """The document holds more nodes than the limit: refuse it, do not ask the exact loader."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count  # at least this many nodes


def parse(text: str, max_depth: int, max_nodes: int | None = None, max_scalar: int | None = None) -> dict | None:
    """The document as plain data, or None when only ruamel can say what it means.

    Raises `TooManyNodes` when the document has more than `max_nodes` nodes (mappings, lists
    and scalars, keys included), counted on rapidyaml's tree before any Python object is built,
    and `ScalarTooLong` for a key or value of more than `max_scalar` characters.
    """
    try:
        import ryml
    except ImportError:
        return None
    raw = text.encode("utf-8")
    if _disputed(text, raw, max_depth):
        return None
    try:
        with _silenced_stderr():
            tree = ryml.parse_in_arena(raw)
            # Every tree node is one YAML node, or two with its key: the size is a lower bound.
            size = tree.size()
            if max_nodes is not None and size - 1 > max_nodes:
                raise TooManyNodes(size - 1)
            root = tree.root_id()
            if tree.is_stream(root) or not tree.is_map(root):
                return None
            emitted = ryml.emit_json_malloc(tree, root)
            del tree
        data = json.loads(emitted, object_pairs_hook=_unique_keys)
        del emitted
        count = _check_document(data, max_depth, max_scalar or sys.maxsize)
        if max_nodes is not None and 2 * size - 1 > max_nodes:
            count = count if count is not None else _yaml_nodes(data)
            if count > max_nodes:
                raise TooManyNodes(count)
    except (TooManyNodes, ScalarTooLong):
        raise
    except Exception:  # noqa: BLE001 - a _Decline, a JSON or C++ parser error, or any surprise: let ruamel decide
        return None
    return data if isinstance(data, dict) else None


def count_nodes(text: str) -> int | None:
    """At least how many nodes the document has (aliases count as one), as rapidyaml reads it;
    None without rapidyaml or when it cannot read the text. Costs about 20 ms per MB."""
    try:
        import ryml
    except ImportError:
        return None
    try:
        with _silenced_stderr():
            return max(ryml.parse_in_arena(text.encode("utf-8")).size() - 1, 0)
    except Exception:  # noqa: BLE001 - the exact loader will say what is wrong with the text
        return None


def _disputed(text: str, raw: bytes, max_depth: int) -> bool:
    """Input the two parsers may read differently, found by a few scans at C speed."""
    if any(char in text for char in _DISPUTED):
        return True
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return True
    if any(pair in raw for pair in _DISPUTED_PAIRS) or _AFTER_FLOW.search(raw):
        return True
    if any(hint in raw for hint in _LENIENT_HINTS) and _LENIENT.search(raw):
        return True
    if any(char in text for char in "&*!") and _NODE_PROPERTY.search(text):
        return True
    if ("---" in text or "..." in text) and _DOCUMENT_MARKER.search(text):
        return True
    return not _flow_closes_on_its_line(raw, min(max_depth, _EMIT_MAX_DEPTH))


def _flow_closes_on_its_line(raw: bytes, max_depth: int) -> bool:
    """True when every `[` and `{` is closed on its own line, nested at most `max_depth` deep.
    Brackets inside quotes or comments count too: an unbalanced one only makes this answer
    False, which is safe. Each distinct line of brackets is looked at once: a few for an intent."""
    for line in set(raw.translate(None, _NOT_BRACKET).split()):
        if len(line) > _MAX_BRACKETS_PER_LINE or not _balanced(line, max_depth):
            return False
    return True


def _balanced(brackets: bytes, max_depth: int) -> bool:
    for _ in range(max_depth + 1):
        inner = brackets.replace(b"{}", b"").replace(b"[]", b"")
        if not inner:
            return True
        if len(inner) == len(brackets):
            return False
        brackets = inner
    return False


@contextmanager
def _silenced_stderr() -> Iterator[None]:
    """rapidyaml prints its parse errors to file descriptor 2; ruamel reports them properly later."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Decline("duplicate key")
    return result


def _check_document(data: Any, max_depth: int, max_scalar: int) -> int | None:
    """What `_check(data, 0, ...)` does, in one pass over the document, level by level, that
    checks each distinct string once (an intent repeats its keys and many values thousands of
    times). Declining does not depend on the order in which things are found; which too-long
    scalar is reported first does: when there is one, `_check` itself walks the document.
    Returns what `_yaml_nodes(data)` counts, found on the way (None when `_check` walked)."""
    strings: set[str] = set()
    declined = False
    level: list[Any] = [data]
    depth = 0
    count = 0
    while level:
        if depth > max_depth:
            declined = True
            break
        count += len(level)
        below: list[Any] = []
        for node in level:
            kind = type(node)
            if kind is str:
                strings.add(node)
            elif kind is dict:
                if "" in node:
                    declined = True  # `: y`, see _check
                strings.update(node)
                count += len(node)  # the keys
                below.extend(node.values())
            elif kind is list:
                below.extend(node)
            elif kind is float:
                declined = True
            elif kind not in (int, bool, type(None)):
                _check(data, 0, max_depth, max_scalar)  # not what json.loads makes: the careful walk
                return None
        level = below
        depth += 1
    if any(len(text) > max_scalar for text in strings):
        _check(data, 0, max_depth, max_scalar)
        return None
    if declined:
        raise _Decline("too deep, an empty key or a float")
    for text in strings:
        _check_string(text)
    return count


def _check(node: Any, depth: int, max_depth: int, max_scalar: int) -> None:
    if depth > max_depth:
        raise _Decline("too deep")
    if isinstance(node, dict):
        for key, value in node.items():
            if not key:
                # `: y` is a null key for ruamel and '' for rapidyaml; `"": y` is '' for both.
                raise _Decline("empty key")
            try:
                if len(key) > max_scalar:
                    too_long = ScalarTooLong(len(key))
                    too_long.key = True
                    raise too_long
                _check_string(key)
                _check(value, depth + 1, max_depth, max_scalar)
            except ScalarTooLong as found:
                found.path.insert(0, key)
                raise
    elif isinstance(node, list):
        for index, value in enumerate(node):
            try:
                _check(value, depth + 1, max_depth, max_scalar)
            except ScalarTooLong as found:
                found.path.insert(0, index)
                raise
    elif isinstance(node, str):
        if len(node) > max_scalar:
            raise ScalarTooLong(len(node))
        _check_string(node)
    elif isinstance(node, float):
        raise _Decline("floats: JSON and YAML spell them differently")


def _yaml_nodes(data: Any) -> int:
    """Nodes as the exact loader counts them: every mapping, list, key and value."""
    count = 0
    stack = [data]
    while stack:
        node = stack.pop()
        count += 1
        if isinstance(node, dict):
            count += len(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def _check_string(text: str) -> None:
    if not text:
        return
    first = text[0]
    if first in _MAYBE_NOT_STRING and not _resolves_to_string(text):
        raise _Decline(f"{text!r} may not be a string in YAML 1.2")
    if first in _INDICATORS or first == ":" or (first == "-" and text[1:2] in ("", " ")):
        raise _Decline(f"{text!r} starts like YAML syntax")
    if " #" in text:
        # In a plain scalar, ruamel starts a comment there; rapidyaml does not in flow collections.
        raise _Decline("a comment inside a string")
    if text != text.strip() or "\n" in text:
        # Block scalars and quoted strings with edge whitespace: keep ruamel's exact reading.
        raise _Decline("multi-line or padded string")


@lru_cache(maxsize=1)
def _resolver() -> VersionedResolver:
    from ruamel.yaml.resolver import VersionedResolver

    return VersionedResolver(version=(1, 2))


@lru_cache(maxsize=1)
def _implicit_resolvers() -> dict[str | None, tuple[tuple[str, re.Pattern[str]], ...]]:
    """The (tag, pattern) pairs ruamel's YAML 1.2 resolver tries on a plain scalar, by first character
    ("" for the empty scalar, None for those tried on every scalar), in its order: the table
    `VersionedResolver.resolve` walks, taken from it once instead of asked through a property and a
    new list per string (tests/test_fastyaml.py holds the two to the same answers)."""
    # ruamel keeps its patterns in LazyEval wrappers, which route every attribute access through
    # Python code; re.compile of the same pattern and flags is the object they wrap.
    return {first: tuple((str(tag), re.compile(regexp.pattern, regexp.flags)) for tag, regexp in pairs)
            for first, pairs in _resolver().versioned_resolver.items()}


@lru_cache(maxsize=65536)
def _resolves_to_string(text: str) -> bool:
    """A plain `text` resolves to a string under YAML 1.2 as ruamel reads it: the first pattern
    that matches decides the tag, and no match is a string."""
    table = _implicit_resolvers()
    for tag, regexp in (*table.get(text[:1], ()), *table.get(None, ())):
        if regexp.match(text):
            return tag == _STR_TAG
    return True


def _resolves_to_string_by_resolve(text: str) -> bool:
    """_resolves_to_string as ruamel's `resolve` answers it: the reference for tests."""
    from ruamel.yaml.nodes import ScalarNode

    return _resolver().resolve(ScalarNode, text, (True, False)) == _STR_TAG


# ----------------------------------------------------------------------------- positions

class ScalarTooLong(Exception):
    """A key or value longer than the limit; `path` leads to it, `key` says which of the two."""

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length
        self.path: list[Any] = []
        self.key = False


class Positions:
    """Where each node of a text that `parse` read starts, as ruamel's round-trip loader marks it,
    found on rapidyaml's tree instead of composing the document again in Python.

    rapidyaml parses the text in place: every scalar (key or value) it returns is a slice of the
    buffer it was given, so the slice's address less the buffer's is the scalar's byte offset.
    ruamel marks a node where its first token starts: a scalar at its first character (the quote
    of a quoted one), a block mapping at its first key, a block sequence at its first `-`, a flow
    collection at its bracket, and an empty value right after the `:` (or `-`) that announces
    it. For the texts `parse` reads (no anchors, tags, block scalars, `?`, empty keys, or flow
    collections over several lines) these are found from the slices and a few characters around
    them. Where they are not (an empty value or an empty flow collection as a list item),
    `offset` says None and the caller asks ruamel. Offsets are in bytes of the UTF-8 text.
    """

    def __init__(self, text: str) -> None:
        import ctypes

        import ryml

        self.raw = text.encode("utf-8")
        # rapidyaml unescapes quoted scalars in this copy; `raw` keeps the text as written.
        self._buffer = bytearray(self.raw)
        with _silenced_stderr():
            self.tree = ryml.parse_in_place(self._buffer)
        self._none = ryml.NONE
        self._base = ctypes.addressof(ctypes.c_char.from_buffer(self._buffer))
        self._children: dict[int, list[int]] = {}
        self._keys: dict[int, dict[str, int]] = {}
        self._line_starts: list[int] | None = None
        self.root = self.tree.root_id()

    # --- the tree

    def is_map(self, node: int) -> bool:
        return self.tree.is_map(node)

    def is_seq(self, node: int) -> bool:
        return self.tree.is_seq(node)

    def is_container(self, node: int) -> bool:
        return self.tree.is_container(node)

    def length(self, node: int) -> int:
        return self.tree.num_children(node)

    def item(self, node: int, index: int) -> int | None:
        children = self._child_list(node)
        return children[index] if 0 <= index < len(children) else None

    def entry(self, node: int, key: str) -> int | None:
        """The child of mapping `node` under `key`."""
        keys = self._keys.get(node)
        if keys is None:
            tree = self.tree
            keys = {}
            for child in self._child_list(node):
                keys.setdefault(bytes(tree.key(child)).decode("utf-8"), child)
            self._keys[node] = keys
        return keys.get(key)

    def _child_list(self, node: int) -> list[int]:
        children = self._children.get(node)
        if children is None:
            tree, none = self.tree, self._none
            children = []
            child = tree.first_child(node)
            while child != none:
                children.append(child)
                child = tree.next_sibling(child)
            self._children[node] = children
        return children

    # --- where nodes start (byte offsets)

    def key_start(self, node: int) -> int | None:
        return self._scalar_start(node, key=True)

    def value_start(self, node: int) -> int | None:
        """Where the value of mapping entry `node` starts."""
        found = self.start(node)
        if found is not None:
            return found
        colon = self._colon(node)
        if colon is None:
            return None
        blanks = _BLANKS_AND_COMMENTS.match(self.raw, colon + 1)
        assert blanks is not None  # the pattern matches the empty text too
        after = blanks.end()
        if self.tree.is_container(node):
            return after
        # An empty value: ruamel marks it where the `:` ends in a flow mapping or when a comment
        # follows on its line, and else where the next token starts (the next key, or the end).
        if self.tree.is_flow(self.tree.parent(node)):
            return colon + 1
        spaces = colon + 1
        while self.raw[spaces:spaces + 1] == b" ":
            spaces += 1
        return colon + 1 if self.raw[spaces:spaces + 1] == b"#" else after

    def start(self, node: int) -> int | None:
        """Where `node` (its value, for a mapping entry) starts; None when only its context says."""
        tree = self.tree
        if not tree.is_container(node):
            return self._scalar_start(node, key=False)
        first = tree.first_child(node)
        if first == self._none:
            return None  # `[]` or `{}`: found from what announces it
        if tree.is_map(node):
            inner = self._scalar_start(first, key=True)
            opener = b"{"
        else:
            inner = self.start(first)
            opener = b"["
        if inner is None:
            return None
        if not tree.is_flow(node) and tree.is_map(node):
            return inner
        back = inner
        while back > 0 and self.raw[back - 1:back] == b" ":
            back -= 1
        if back == 0:
            return None
        before = self.raw[back - 1:back]
        if tree.is_flow(node):
            return back - 1 if before == opener else None
        return back - 1 if before == b"-" else None  # a block sequence starts at its first `-`

    def _scalar_start(self, node: int, key: bool) -> int | None:
        tree = self.tree
        view = tree.key(node) if key else tree.val(node)
        if view is None:
            return None
        offset = self._offset(view)
        if offset is None:
            return None
        quoted = tree.is_key_quoted(node) if key else tree.is_val_quoted(node)
        return offset - 1 if quoted else offset

    def _colon(self, node: int) -> int | None:
        """The offset of the `:` after the key of mapping entry `node`."""
        start = self._scalar_start(node, key=True)
        if start is None:
            return None
        raw = self.raw
        quote = raw[start:start + 1]
        if quote in (b'"', b"'"):
            found = (_DOUBLE_QUOTED if quote == b'"' else _SINGLE_QUOTED).match(raw, start)
            if found is None:
                return None
            end = found.end()
        else:
            end = start + len(self.tree.key(node))
        while raw[end:end + 1] == b" ":
            end += 1
        return end if raw[end:end + 1] == b":" else None

    def _offset(self, view: memoryview) -> int | None:
        offset = _address(view) - self._base
        return offset if 0 <= offset <= len(self.raw) else None

    # --- offsets to lines and columns

    def line_column(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in characters, as ruamel counts them) of a byte offset."""
        line, start = self._line_of(offset)
        return line, len(self.raw[start:offset].decode("utf-8", errors="replace")) + 1

    def order(self, offset: int) -> tuple[int, int]:
        """A key that sorts like `line_column` without decoding the line: line, byte column."""
        line, start = self._line_of(offset)
        return line, offset - start + 1

    def _line_of(self, offset: int) -> tuple[int, int]:
        if self._line_starts is None:
            self._line_starts = [0] + [found.end() for found in _LINE_FEED.finditer(self.raw)]
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1, self._line_starts[index]


_BLANKS_AND_COMMENTS = re.compile(rb"(?:[ \r\n]|#[^\n]*)*")
_DOUBLE_QUOTED = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SINGLE_QUOTED = re.compile(rb"'(?:[^']|'')*'")
_LINE_FEED = re.compile(rb"\n")


def _address(view: memoryview) -> int:
    """The address of the first byte of a read-only buffer (ctypes can only take writable ones)."""
    import ctypes

    buffer = _PyBuffer()
    _get_buffer(view, ctypes.byref(buffer), 0)
    try:
        return buffer.buf or 0
    finally:
        _release_buffer(ctypes.byref(buffer))


def _buffer_api() -> tuple[type[ctypes.Structure], Callable[..., int], Callable[..., None]]:
    import ctypes

    class PyBuffer(ctypes.Structure):
        _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p), ("len", ctypes.c_ssize_t),
                    ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                    ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p),
                    ("suboffsets", ctypes.c_void_p), ("internal", ctypes.c_void_p)]

    get = ctypes.pythonapi.PyObject_GetBuffer
    get.argtypes = [ctypes.py_object, ctypes.POINTER(PyBuffer), ctypes.c_int]
    get.restype = ctypes.c_int
    release = ctypes.pythonapi.PyBuffer_Release
    release.argtypes = [ctypes.POINTER(PyBuffer)]
    release.restype = None
    return PyBuffer, get, release


_PyBuffer, _get_buffer, _release_buffer = _buffer_api()
