"""Escaping per target language, used as template filters. Nothing is ever escaped by hand.

- YAML scalars are written plain only when both a YAML 1.1 reader (PyYAML, older kubectl
  paths) and a YAML 1.2 reader (ruamel, kyaml) resolve them to the same string; otherwise they
  are quoted. The resolvers are ruamel.yaml's own, so "reads the same under 1.1 and 1.2" is
  decided by real parsers, not by a hand-made list of special words.
- JSON comes from ``json.dumps`` with sorted keys.
- Shell words come from ``shlex.quote``.
- Every pattern is matched whole (`fullmatch`): with `re.match`, `$` also matches before a final
  line break, and "blue\\n" would pass as an identifier.
- Junos identifiers are checked against a strict pattern (names are validated upstream, this is
  the last line of defence), and Junos strings are double-quoted with backslash escapes.
- Mermaid and Graphviz DOT labels (the topology diagrams) are quoted strings that show the
  value verbatim (``mermaid_string``, ``dot_string``).
"""

from __future__ import annotations

import json
import re
import shlex
from functools import lru_cache
from typing import Any

_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_/][A-Za-z0-9_./:@+=-]*$")
_JUNOS_IDENTIFIER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/*<>-]*$")
_STR_TAG = "tag:yaml.org,2002:str"
_TRAILING_BLANK = re.compile(r"[ \t]$", re.MULTILINE)


class EscapeError(ValueError):
    pass


@lru_cache(maxsize=1)
def _resolvers():
    from ruamel.yaml.resolver import VersionedResolver

    return VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2))


@lru_cache(maxsize=1)
def _implicit_patterns() -> dict[str | None, tuple[re.Pattern[str], ...]]:
    """{first character: the patterns of ruamel's YAML 1.1 and 1.2 implicit resolvers for it}.

    This is the table `VersionedResolver.resolve` walks for a plain scalar (keyed by its first
    character, "" for the empty one, None for patterns tried on every scalar), taken from the two
    resolvers themselves, for both versions at once. A pattern that gives the string tag is left
    out (ruamel has none), so a plain scalar reads as a string under both versions exactly when
    none of these patterns matches it. Asking `resolve` itself costs a property lookup and a list
    per call (tests/test_unoptimised.py compares the two)."""
    patterns: dict[str | None, list[re.Pattern[str]]] = {}
    for resolver in _resolvers():
        for first, resolvers in resolver.versioned_resolver.items():
            # re.compile of the pattern is what ruamel's LazyEval wrapper holds, without its attribute hops.
            patterns.setdefault(first, []).extend(re.compile(regexp.pattern, regexp.flags)
                                                  for tag, regexp in resolvers if tag != _STR_TAG)
    return {first: tuple(found) for first, found in patterns.items()}


def resolver_fingerprint() -> str:
    """The patterns yaml_scalar consults, as text: it changes when ruamel's resolvers do (compiled
    templates that folded a `yaml` filter call into their code are kept under it)."""
    return repr(sorted((repr(first), [(regexp.pattern, regexp.flags) for regexp in patterns])
                       for first, patterns in _implicit_patterns().items()))


def _plain_is_string(text: str) -> bool:
    """Both a YAML 1.1 and a YAML 1.2 reader resolve `text`, written plain, to a string."""
    table = _implicit_patterns()
    return not any(regexp.match(text) for regexp in table.get(text[:1], ())) \
        and not any(regexp.match(text) for regexp in table.get(None, ()))


def _plain_is_string_by_resolve(text: str) -> bool:
    """_plain_is_string as ruamel's resolvers answer it, one call each: the reference for tests."""
    from ruamel.yaml.nodes import ScalarNode

    return all(resolver.resolve(ScalarNode, text, (True, False)) == _STR_TAG for resolver in _resolvers())


# What yaml_scalar wrote for a str, by the str: a build writes the same names, namespaces, labels
# and addresses thousands of times. Bounded (emptied when full) and only for short text, so a
# hostile intent of long distinct values cannot make it grow without end.
_STRING_SCALARS: dict[str, str] = {}
_STRING_SCALARS_MAX = 1 << 16
_STRING_SCALAR_MAX_CHARS = 256


def yaml_scalar(value: Any) -> str:
    """One YAML scalar for a value: strings stay strings for every reader, numbers stay numbers."""
    if type(value) is str:  # nearly every call; a subclass of str goes the long way (its str() may differ)
        written = _STRING_SCALARS.get(value)
        if written is None:
            written = _string_scalar(value)
            if len(value) <= _STRING_SCALAR_MAX_CHARS:
                if len(_STRING_SCALARS) >= _STRING_SCALARS_MAX:
                    _STRING_SCALARS.clear()
                _STRING_SCALARS[value] = written
        return written
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise EscapeError("floats are not written by jcnrc")
    return _string_scalar(str(value))


def _string_scalar(text: str) -> str:
    if _PLAIN_SAFE.fullmatch(text) and not text.endswith(":") and _plain_is_string(text):
        return text
    return yaml_quoted(text)


def yaml_quoted(text: str) -> str:
    """Single quotes when the text is printable on one line (JSON reads best that way), else JSON-style double quotes."""
    if text.isprintable() and "\n" not in text:
        return "'" + text.replace("'", "''") + "'"
    return yaml_double_quoted(text)


def yaml_double_quoted(text: str) -> str:
    """JSON's escapes are YAML double-quoted escapes in 1.1 and 1.2; characters that are not
    printable are escaped too, astral ones as \\UXXXXXXXX: YAML readers do not join the
    surrogate pairs that json.dumps(ensure_ascii=True) would write."""
    body = json.dumps(text, ensure_ascii=False)[1:-1]
    return '"' + "".join(ch if ch.isprintable() else _yaml_code_escape(ch) for ch in body) + '"'


def _yaml_code_escape(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def yaml_string(value: Any) -> str:
    """Always a string, also for numbers: ConfigMap data and env values must be strings."""
    return yaml_scalar(value if type(value) is str else str(value))


def yaml_block(text: str, indent: int) -> str:
    """A literal block scalar (`|`) for multi-line text, indented by `indent` spaces."""
    if not text or not text.replace("\n", "").replace("\t", "").isprintable():
        return yaml_quoted(text)
    if _TRAILING_BLANK.search(text):
        # Trailing blanks are lost by some editors and linters; quote to keep the value exact.
        return yaml_quoted(text)
    return literal_block(text, indent)


def literal_block(text: str, indent: int) -> str:
    """`text` as a literal block scalar, for text that yaml_block found fit for one."""
    indicator = "|"
    if text[0] in " \n":
        indicator += "2"
    if not text.endswith("\n"):
        indicator += "-"
    elif text.endswith("\n\n"):
        indicator += "+"
    pad = " " * indent
    body = "\n".join(pad + line if line else "" for line in text.rstrip("\n").split("\n"))
    trailing = "\n" * (len(text) - len(text.rstrip("\n")) - 1) if text.endswith("\n") else ""
    return f"{indicator}\n{body}{trailing}"


def to_json(value: Any, indent: int | None = None) -> str:
    if indent is None:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return json.dumps(value, sort_keys=True, indent=indent, ensure_ascii=False)


def shell_word(value: Any) -> str:
    return shlex.quote(str(value))


def junos_identifier(value: Any) -> str:
    text = str(value)
    if not _JUNOS_IDENTIFIER.fullmatch(text):
        raise EscapeError(f"{text!r} is not safe as a Junos identifier")
    return text


def junos_string(value: Any) -> str:
    text = str(value)
    if any(not ch.isprintable() for ch in text):
        raise EscapeError(f"{text!r} holds control characters")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_MERMAID_PLAIN = re.compile(r"[A-Za-z0-9 .,:/_()+@-]")


def mermaid_string(value: Any) -> str:
    """A quoted Mermaid label that shows ``value`` verbatim; newlines become line breaks.

    Inside ``"..."`` Mermaid ends the string only at a quote, but it later decodes ``#name;``
    entity codes and (with HTML labels) interprets tags and markdown, so every character
    outside a small safe set is written as a numeric entity code (``<`` is ``#60;``).
    """
    lines = str(value).split("\n")
    return '"' + "<br/>".join(
        "".join(ch if _MERMAID_PLAIN.fullmatch(ch) else f"#{ord(ch)};" for ch in line) for line in lines
    ) + '"'


def dot_string(value: Any) -> str:
    """A quoted DOT string that Graphviz shows verbatim; newlines become centred line breaks.

    Graphviz reads ``\\"`` in the string, then expands backslash escapes (``\\N`` is the node
    name) and HTML entities (``&amp;``) in labels, so backslash, quote and ampersand are
    escaped, and other control characters are written as numeric entities.
    """
    out = []
    for ch in str(value):
        if ch == "\n":
            out.append("\\n")
        elif ch in '\\"':
            out.append("\\" + ch)
        elif ch == "&":
            out.append("&amp;")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"&#{ord(ch)};")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
