"""The fast path of loading: rapidyaml (C++) parses, emits JSON, and json.loads builds the data.

ruamel.yaml's round-trip loader keeps positions for every node and takes about 25 s on a
2.5 MB intent; this path takes about 0.5 s. It is used only when the result is guaranteed to
be what ruamel's YAML 1.2 loader returns, so it declines (returns None) whenever that is not
certain: parse errors, several documents, anchors, aliases, tags, duplicate keys, and any
string that ruamel's YAML 1.2 resolver would read as something else (``~``, ``0x1F``,
``0777``, ``True``...), since JSON cannot say whether such a value was quoted. Declining
costs nothing but time: the caller then uses ruamel, which also reports the exact problem.
"""

from __future__ import annotations

import json
import os
import re
import sys
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

# Below this size ruamel is fast enough, and the exact path is always the one that runs.
FAST_PATH_MIN_BYTES = 64 * 1024

# Anchors (&a), aliases (*a) and tags (!x) after a separator: the JSON view would lose them.
_NODE_PROPERTY = re.compile(r"(?:^|[\s\[\]{},:-])[&*!][^\s]", re.MULTILINE)
_DOCUMENT_MARKER = re.compile(r"^(?:---|\.\.\.)(?:\s|$)", re.MULTILINE)
# First characters of plain scalars that YAML 1.2 may resolve to something other than a string.
_MAYBE_NOT_STRING = frozenset("0123456789+-.~nNtTfF")
_STR_TAG = "tag:yaml.org,2002:str"


class _Decline(Exception):
    pass


def parse(text: str, max_depth: int) -> dict | None:
    """The document as plain data, or None when only ruamel can say what it means."""
    try:
        import ryml
    except ImportError:
        return None
    if _NODE_PROPERTY.search(text) or _DOCUMENT_MARKER.search(text):
        return None
    try:
        with _silenced_stderr():
            tree = ryml.parse_in_arena(text.encode("utf-8"))
            root = tree.root_id()
            if tree.is_stream(root) or not tree.is_map(root):
                return None
            emitted = ryml.emit_json_malloc(tree, root)
        data = json.loads(emitted, object_pairs_hook=_unique_keys)
        _check(data, 0, max_depth)
    except (_Decline, ValueError, RecursionError, RuntimeError):
        return None
    except Exception:  # noqa: BLE001 - any surprise from the C++ parser means: let ruamel decide
        return None
    return data if isinstance(data, dict) else None


@contextmanager
def _silenced_stderr():
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


def _check(node: Any, depth: int, max_depth: int) -> None:
    if depth > max_depth:
        raise _Decline("too deep")
    if isinstance(node, dict):
        for key, value in node.items():
            _check_string(key)
            _check(value, depth + 1, max_depth)
    elif isinstance(node, list):
        for value in node:
            _check(value, depth + 1, max_depth)
    elif isinstance(node, str):
        _check_string(node)
    elif isinstance(node, float):
        raise _Decline("floats: JSON and YAML spell them differently")


def _check_string(text: str) -> None:
    if not text:
        return
    if text[0] in _MAYBE_NOT_STRING and not _resolves_to_string(text):
        raise _Decline(f"{text!r} may not be a string in YAML 1.2")
    if text != text.strip() or "\n" in text:
        # Block scalars and quoted strings with edge whitespace: keep ruamel's exact reading.
        raise _Decline("multi-line or padded string")


@lru_cache(maxsize=1)
def _resolver():
    from ruamel.yaml.resolver import VersionedResolver

    return VersionedResolver(version=(1, 2))


@lru_cache(maxsize=65536)
def _resolves_to_string(text: str) -> bool:
    from ruamel.yaml.nodes import ScalarNode

    return _resolver().resolve(ScalarNode, text, (True, False)) == _STR_TAG
