"""Structure checking: pydantic validation errors -> diagnostics with codes, hints and paths.

pydantic knows *what* is wrong; this module says it the way a network engineer reads it:
which key, what was expected, what was found, and the closest valid spelling. One mistake
gives one diagnostic: a misspelt key is reported as unknown (with a did-you-mean), not also
as "missing", and the missing keys of one mapping are reported together.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from functools import lru_cache
from ipaddress import ip_interface, ip_network
from typing import Any, get_args

from annotated_types import Ge, Le
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from jcnrc.diagnostics import Diagnostic, Path, closest, error, escaped, one_of
from jcnrc.intent import names
from jcnrc.intent.model import Topology, field_for_key

# Fields whose syntax errors get a more specific code than "invalid format", keyed by the
# last two keys of the path (list indexes skipped): (code, why the text is invalid, what it names).
_NameCheck = tuple[str, Callable[[str], "str | None"], str]
_SUBDOMAIN: _NameCheck = ("JCN201", names.node_name_problem, "Kubernetes node name")
_LABEL: _NameCheck = ("JCN201", names.label_problem, "Kubernetes name")
_INTERFACE: _NameCheck = ("JCN202", names.interface_problem, "Linux interface name")
_IMAGE: _NameCheck = ("JCN203", names.image_problem, "image reference")
_ROUTE_TARGET: _NameCheck = ("JCN204", lambda _text: None, "route target")
_VRF: _NameCheck = ("JCN205", names.vrf_problem, "VRF name")
_NAME_CHECKS: dict[tuple[str, str], _NameCheck] = {
    ("metadata", "name"): _LABEL,
    ("metadata", "namespace"): _LABEL,
    ("store", "name"): _LABEL,
    ("nodes", "name"): _SUBDOMAIN,
    ("pods", "name"): _LABEL,
    ("pods", "node"): _SUBDOMAIN,
    ("networks", "interface"): _INTERFACE,
    ("cluster", "fabricInterface"): _INTERFACE,
    ("nodes", "fabricInterface"): _INTERFACE,
    ("pods", "image"): _IMAGE,
    ("images", "platter"): _IMAGE,
    ("images", "crpd"): _IMAGE,
    ("images", "nodePrep"): _IMAGE,
    ("vrfs", "routeTarget"): _ROUTE_TARGET,
    ("routeTarget", "import"): _ROUTE_TARGET,
    ("routeTarget", "export"): _ROUTE_TARGET,
    ("vrfs", "name"): _VRF,
    ("networks", "vrf"): _VRF,
    ("networks", "mac"): ("JCN206", lambda _text: None, "MAC address"),
    ("nodes", "isoLoopback"): ("JCN207", lambda _text: None, "ISO NET"),
    ("cluster", "kubeConfig"): ("JCN106", names.node_path_problem, "kubeconfig path"),
    ("rootPassword", "file"): ("JCN106", names.secret_file_problem, "secret file path"),
    ("crpdLicense", "file"): ("JCN106", names.secret_file_problem, "secret file path"),
}

_SYNTAX_HELP = {
    "JCN201": "lower-case letters, digits and '-' (dots between labels for node names), "
              "starting and ending with a letter or digit",
    "JCN202": "a Linux interface name: 1 to 15 bytes of letters, digits, '-', '_' or '.', without '/' or whitespace, e.g. `net1`",
    "JCN203": "an image reference such as `registry.example.com/crpd:23.2R1` (lower-case repository path)",
    "JCN204": "valid forms: `11:11` (2-byte AS:number), `4200000000:7` (4-byte AS), `10.0.0.1:5` (IPv4:number), "
    "each optionally prefixed by `target:`; quote it",
    "JCN205": "lower-case letters, digits and '-', starting with a letter, at most 31 characters "
    "(it becomes a Junos routing-instance and a NAD name)",
    "JCN206": "six pairs of hex digits separated by ':', e.g. `02:00:00:00:01:01`",
    "JCN207": "an ISO NET such as `49.0004.0102.4000.0004.00`: 49, an area, a three-group system ID and .00",
}

_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "float_type": "a number",
    "address_type": "an address written as text",
}

_IP_KINDS = {
    "ip_v4_address": (4, "address"),
    "ip_v4_network": (4, "network"),
    "ip_v4_interface": (4, "interface"),
    "ip_v6_address": (6, "address"),
    "ip_v6_network": (6, "network"),
    "ip_v6_interface": (6, "interface"),
    "ip_any_address": (0, "address"),
    "ip_any_network": (0, "network"),
    "ip_any_interface": (0, "interface"),
}


def describe(value: Any) -> str:
    """What was found, in the words of the file: `the string "11:11"`, `the integer 7`."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"the integer `{value}`"
    if isinstance(value, float):
        return f"the number `{value}`"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the string {quoted(shown)}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def quoted(text: str) -> str:
    """Text from the file in double quotes, with anything unprintable escaped."""
    return escaped(json.dumps(text, ensure_ascii=False))


# The model the paths being explained start from: a Topology, or a Fleet (whose paths run through
# `clusters[i]`). Set for the duration of one validate_structure call.
_ROOT: ContextVar[type[BaseModel]] = ContextVar("structure_root", default=Topology)


def validate_structure(data: dict, root: type[BaseModel] = Topology) -> tuple[Any, list[Diagnostic]]:
    """The intent as an instance of `root` (a Topology or a Fleet), or None and the diagnostics."""
    token = _ROOT.set(root)
    try:
        return root.model_validate(data), []
    except ValidationError as exc:
        if exc.error_count() > _DETAILED_ERRORS:
            return None, _explain_flood(exc, data)
        return None, explain(exc.errors(include_url=False), data)
    finally:
        _ROOT.reset(token)


# A list of 900,000 wrong items is 900,000 errors: as Python objects (exc.errors()) they would
# take a gigabyte, and as diagnostics minutes. Past this many, they are read one at a time from
# pydantic's JSON, and only the first _PER_KIND of each kind become diagnostics.
_DETAILED_ERRORS = 10_000
_PER_KIND = 1_000


def _explain_flood(exc: ValidationError, data: Any) -> list[Diagnostic]:
    """The first _PER_KIND errors of each kind (the same error at the same place in the model,
    whatever the list indexes) as diagnostics; the rest are counted on the last one
    (`Diagnostic.more`). pydantic lists the errors of one list in the order of its items, which is
    the order of the file, so the first of each kind are also the first by position."""
    from dataclasses import replace

    try:
        text = exc.json(include_url=False)
    except Exception:  # noqa: BLE001 - an input JSON cannot hold; the messages then lack the value
        text = exc.json(include_url=False, include_input=False)
    decoder = json.JSONDecoder()
    kept: list[dict] = []
    seen: dict[tuple, int] = defaultdict(int)
    dropped = 0
    index = text.index("[") + 1
    while True:
        while index < len(text) and text[index] in " \n,":
            index += 1
        if index >= len(text) or text[index] == "]":
            break
        err, index = decoder.raw_decode(text, index)
        loc = err["loc"]
        if err["type"] == "extra_forbidden":
            loc = loc[:-1]  # unknown keys: one kind per mapping, whatever the keys
        kind = (err["type"], tuple(None if isinstance(part, int) else part for part in loc))
        seen[kind] += 1
        if seen[kind] > _PER_KIND or len(kept) >= _DETAILED_ERRORS:
            dropped += 1
            continue
        err["loc"] = tuple(err["loc"])
        kept.append(err)
    del text
    found = explain(kept, data)
    if found and dropped:
        found[-1] = replace(found[-1], more=found[-1].more + dropped)
    return found


def explain(errors: Sequence[Mapping[str, Any]], data: Any) -> list[Diagnostic]:
    """All pydantic errors of one validation as diagnostics, unknown and missing keys merged."""
    unknown: dict[Path, list[str]] = defaultdict(list)
    missing: dict[Path, list[str]] = defaultdict(list)
    found: list[Diagnostic] = []
    for err in errors:
        path = data_path(err["loc"], data)
        if err["type"] == "extra_forbidden" and path:
            unknown[path[:-1]].append(str(path[-1]))
        elif err["type"] == "missing" and path:
            missing[path[:-1]].append(str(path[-1]))
        else:
            found.append(to_diagnostic(err, data))
    claimed: set[tuple[Path, str]] = set()
    misplaced = {key for keys in unknown.values() for key in keys}
    for parent, keys in unknown.items():
        for key in keys:
            diagnostic, meant = _unknown_key(parent, key, missing.get(parent, []))
            found.append(diagnostic)
            if meant is not None:
                claimed.add((parent, meant))
    for parent, keys in missing.items():
        # A key written with a typo, or at the wrong indentation, is reported once: where it is.
        left = [k for k in keys if (parent, k) not in claimed and k not in misplaced]
        if left:
            found.append(_missing_keys(parent, left))
    return found


def data_path(loc: tuple, data: Any) -> Path:
    """Keep the parts of a pydantic location that index into the data; drop union tags."""
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and last:
            path.append(part)  # a missing key: the path names it, the position falls on its parent
        # else: a union member tag such as 'text' or 'policy', skipped
    return tuple(path)


def model_at(path: Path) -> type[BaseModel] | None:
    """The model class that describes the mapping at `path` (for did-you-mean on keys)."""
    model: Any = _ROOT.get()
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = field_for_key(model, part)
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _field_at(path: Path) -> FieldInfo | None:
    keys = [p for p in path if isinstance(p, str)]
    if not keys:
        return None
    owner = model_at(path[: max(i for i, p in enumerate(path) if isinstance(p, str))])
    return field_for_key(owner, keys[-1]) if owner is not None else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _is_list(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is list or any(_is_list(a) for a in get_args(annotation))


def keys_of(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _homes() -> dict[str, list[str]]:
    return _homes_in(_ROOT.get())


@lru_cache(maxsize=2)
def _homes_in(root: type[BaseModel]) -> dict[str, list[str]]:
    """key -> where in the file it is valid (`cluster`, `vrfs[]`), for keys written at the wrong level."""
    found: dict[str, list[str]] = defaultdict(list)

    def walk(model: type[BaseModel], where: str, seen: frozenset) -> None:
        for name, field in model.model_fields.items():
            key = field.alias or name
            found[key].append(where or "the top level")
            inner = _inner_model(field.annotation)
            if inner is not None and inner not in seen:
                suffix = "[]" if _is_list(field.annotation) else ""
                walk(inner, f"{where}.{key}{suffix}" if where else f"{key}{suffix}", seen | {inner})

    walk(root, "", frozenset({root}))
    return dict(found)


def _code_for(path: Path) -> _NameCheck | None:
    keys = [p for p in path if isinstance(p, str)]
    return _NAME_CHECKS.get((keys[-2], keys[-1])) if len(keys) >= 2 else None


def to_diagnostic(err: Mapping[str, Any], data: Any) -> Diagnostic:
    """One pydantic error as a diagnostic (unknown and missing keys are merged by `explain`)."""
    kind = err["type"]
    path = data_path(err["loc"], data)
    value = err.get("input")
    where = _where(path)
    if kind == "extra_forbidden" and path:
        return _unknown_key(path[:-1], str(path[-1]), [])[0]
    if kind == "missing" and path:
        return _missing_keys(path[:-1], [str(path[-1])])
    if kind == "inline_secret":
        return error("JCN801", f"{where} holds the secret itself; secrets are referenced, never written in the intent", path,
                     help="write `{env: VARIABLE}` or `{file: path/to/file}` and keep the value out of git")
    if kind in ("secret_source", "expectation_kind"):
        return error("JCN109", f"{where}: {err['msg']}", path, help=_one_of_help(kind))
    if kind == "literal_error":
        return _literal(path, value, err)
    if kind in _TYPE_WORDS:
        return _wrong_type(path, kind, value)
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return _out_of_range(path, value)
    if kind in ("string_pattern_mismatch", "string_too_long", "string_too_short"):
        return _bad_syntax(path, value)
    if kind in _IP_KINDS:
        return _bad_address(path, kind, value)
    if kind == "ip_zone_id":
        return error("JCN107", f"{_where(path)} {describe(value)} has an IPv6 zone id", path,
                     help="remove the `%` and what follows it: intent addresses are global")
    if kind == "host_bits":
        network = err.get("ctx", {}).get("network")
        return error("JCN107", f"{where} {value} has host bits set; a pool or subnet is written as its network address", path,
                     help=f"write `{network}`" if network else None)
    if kind == "value_error":
        message = str(err.get("msg", "")).removeprefix("Value error, ")
        return error("JCN107", f"{where} is not valid: {message}", path)
    if kind in ("too_short", "too_long"):
        return _wrong_length(path, value, err)
    if kind == "invalid_key":
        return error("JCN101", f"the key {describe(value)} is not text; every key of an intent is a name", path, at="key")
    return error("JCN103", f"{where}: {err['msg']}", path)


def _where(path: Path) -> str:
    if not path:
        return "the intent"
    shown = ""
    for part in path:
        shown += f"[{part}]" if isinstance(part, int) else (f".{part}" if shown else str(part))
    return f"`{escaped(shown)}`"


def _unknown_key(parent: Path, key: str, missing: list[str]) -> tuple[Diagnostic, str | None]:
    """The diagnostic, and the valid key it most likely stands for (so that key is not also "missing")."""
    model = model_at(parent)
    valid = keys_of(model) if model else []
    meant = closest(key, missing) or closest(key, valid)
    if meant is not None:
        required = " (it is required)" if meant in missing else ""
        hint = f"did you mean `{meant}`?{required}"
    elif key in _homes():
        places = " or ".join("the top level" if p == "the top level" else f"`{p}`" for p in sorted(set(_homes()[key]))[:3])
        hint = f"`{key}` belongs at {places}; check the indentation of this line"
    elif valid:
        hint = f"valid keys here: {one_of(valid, limit=20)}"
    else:
        hint = None
    return error("JCN101", f"unknown key `{escaped(key)}` in {_where(parent)}", (*parent, key), at="key", help=hint), meant


def _missing_keys(parent: Path, keys: list[str]) -> Diagnostic:
    if len(keys) == 1:
        message = f"missing required key `{keys[0]}` in {_where(parent)}"
    else:
        message = f"{_where(parent)} lacks the required keys {', '.join(f'`{k}`' for k in keys)}"
    examples = [e for e in (_example_entry(parent, key) for key in keys[:4]) if e]
    return error("JCN102", message, parent, at="key", help=f"for example {', '.join(examples)}" if examples else None)


def _example_entry(parent: Path, key: str) -> str | None:
    """`key: value` from the field's first example, written the way the file writes it."""
    owner = model_at(parent)
    field = field_for_key(owner, key) if owner is not None else None
    if field is None or not field.examples:
        return None
    return f"`{key}: {flow_yaml(field.examples[0])}`"


def flow_yaml(value: Any) -> str:
    """A value in YAML flow style for hints: {name: blue, vni: 10002}, "11:11" quoted where YAML needs it."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {flow_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow_yaml(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str) and (":" in value or value[:1] in "{[&*!|>'\"%@`#" or value.isdigit()):
        return json.dumps(value)
    return str(value)


def _one_of_help(kind: str) -> str:
    if kind == "secret_source":
        return "write `{env: VARIABLE}` or `{file: path/to/file}`, not both"
    return "write `reach: [a, b]` or `isolate: [a, b]`, one per list item"


def _literal(path: Path, value: Any, err: Mapping[str, Any]) -> Diagnostic:
    expected = str(err.get("ctx", {}).get("expected", ""))
    allowed = [a.strip().strip("'") for part in expected.split(" or ") for a in part.split(",") if a.strip()]
    meant = closest(value, allowed) if isinstance(value, str) else None
    hint = f"did you mean `{meant}`?" if meant else None
    return error("JCN104", f"{_where(path)} cannot be {describe(value)}; expected {one_of(allowed)}", path, help=hint)


def _wrong_type(path: Path, kind: str, value: Any) -> Diagnostic:
    what = _TYPE_WORDS[kind]
    check = _code_for(path)
    if kind == "string_type" and check is not None and check[2] == "route target":
        what = "a route target written as text"
    field = _field_at(path)
    if kind in ("model_type", "dict_type", "model_attributes_type", "list_type") and field is not None:
        model = _inner_model(field.annotation)
        listed = _is_list(field.annotation) and kind == "list_type"
        if model is not None:
            what = f"a list of mappings with keys {one_of(keys_of(model), limit=5)}" if listed else \
                f"a mapping with keys {one_of(keys_of(model), limit=5)}"
    return error("JCN103", f"{_where(path)} must be {what}, found {describe(value)}", path, help=_type_help(kind, value, path))


def _type_help(kind: str, value: Any, path: Path) -> str | None:
    if kind in ("int_type", "int_parsing") and isinstance(value, str) and value.strip().isdigit():
        return "remove the quotes: numbers are written without them"
    if kind in ("int_type", "int_from_float") and isinstance(value, float):
        return "write a whole number"
    if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
        check = _code_for(path)
        if check is not None and check[2] == "route target":
            return "quote it, e.g. `routeTarget: \"11:11\"`: unquoted, YAML reads some route targets as numbers"
        return "put the value in quotes to make it a string"
    if kind == "string_type" and isinstance(value, bool):
        return "YAML reads yes/no/true/false as booleans; put the value in quotes"
    if kind == "address_type":
        return "write the address in dotted form, e.g. `10.240.0.4`"
    if kind == "list_type" and isinstance(value, dict):
        return "start each item with `- `"
    return None


def _bounds(path: Path) -> tuple[object, object]:
    """The field's `ge` and `le` bounds as the model writes them; None for a missing one."""
    field = _field_at(path)
    low: object = None
    high: object = None
    for item in getattr(field, "metadata", []):
        if isinstance(item, Ge):
            low = item.ge
        elif isinstance(item, Le):
            high = item.le
    return low, high


_RANGE_MEANING = {
    "vni": "a VXLAN network identifier has 24 bits",
    "asn": "an AS number has 32 bits, and 0 is reserved",
    "underlayMtu": "Kubernetes nodes need at least 1280 (IPv6), and jumbo frames end at 9216",
    "mtu": "576 is the smallest IPv4 datagram every host must accept",
    "listenPort": "a TCP port",
    "connectPort": "a TCP port",
}


def _out_of_range(path: Path, value: Any) -> Diagnostic:
    low, high = _bounds(path)
    if low is not None and high is not None:
        expected = f"{low} to {high}"
    elif low is not None:
        expected = f"at least {low}"
    else:
        expected = f"at most {high}"
    meaning = _RANGE_MEANING.get(str(path[-1]) if path else "")
    return error("JCN105", f"{_where(path)} is {escaped(str(value))}, out of range: it must be {expected}", path,
                 help=f"{meaning}" if meaning else None)


def _bad_syntax(path: Path, value: Any) -> Diagnostic:
    check = _code_for(path)
    if check is None:
        return error("JCN106", f"{_where(path)} is not valid: {describe(value)}", path, help=_pattern_message(path))
    code, problem_of, what = check
    reason = problem_of(value) if isinstance(value, str) else None
    shown = quoted(value) if isinstance(value, str) else describe(value)
    message = f"{_where(path)} is not a valid {what}: {shown}" + (f" {reason}" if reason else "")
    return error(code, message, path, help=_SYNTAX_HELP.get(code) or _pattern_message(path))


def _pattern_message(path: Path) -> str | None:
    field = _field_at(path)
    extra = getattr(field, "json_schema_extra", None) or {}
    expected = extra.get("patternErrorMessage") if isinstance(extra, dict) else None
    return f"expected {expected}" if expected else None


def _bad_address(path: Path, kind: str, value: Any) -> Diagnostic:
    version, shape = _IP_KINDS[kind]
    other = _other_family(value, version)
    if other:
        key = str(path[-1]) if path else ""
        moved = key.replace(f"v{version}", f"v{other}") if f"v{version}" in key else None
        return error("JCN503", f"{_where(path)} holds the IPv{other} {shape} {escaped(value)}, but it takes IPv{version}", path,
                     help=f"move it to `{moved}`" if moved and moved != key else f"write an IPv{version} {shape}")
    word = {"address": "address", "network": "network (address/prefix length)", "interface": "address with prefix length"}[shape]
    family = f"IPv{version} " if version else ""
    return error("JCN107", f"{_where(path)} is not a valid {family}{word}: {describe(value)}", path,
                 help=f"write it like `{_ip_example(version, shape)}`")


def _other_family(value: Any, version: int) -> int | None:
    """6 when an IPv6 value sits where IPv4 is expected (and the reverse); None otherwise."""
    if not isinstance(value, str) or version == 0:
        return None
    for parse in (ip_interface, lambda text: ip_network(text, strict=False)):
        try:
            found = parse(value).version
        except ValueError:
            continue
        return found if found != version else None
    return None


def _ip_example(version: int, shape: str) -> str:
    six = version == 6
    if shape == "interface":
        return "abcd::1.1.11.2/126" if six else "1.1.11.2/30"
    if shape == "network":
        return "abcd::1.1.0.0/112" if six else "1.1.0.0/16"
    return "abcd::10.240.0.4" if six else "10.240.0.4"


def _wrong_length(path: Path, value: Any, err: Mapping[str, Any]) -> Diagnostic:
    ctx = err.get("ctx", {})
    count = len(value) if isinstance(value, (list, str, dict)) else ctx.get("actual_length")
    low, high = ctx.get("min_length"), ctx.get("max_length")
    if low is not None and low == _max_items(path):
        expected = f"exactly {low}"
    elif err["type"] == "too_short":
        expected = f"at least {low}"
    else:
        expected = f"at most {high}"
    items = "item" if expected.endswith(" 1") else "items"
    return error("JCN110", f"{_where(path)} has {count} {'item' if count == 1 else 'items'}; it needs {expected} {items}", path,
                 help=_length_help(path))


def _max_items(path: Path) -> int | None:
    field = _field_at(path)
    for item in getattr(field, "metadata", []):
        if hasattr(item, "max_length"):
            return item.max_length
    return None


def _length_help(path: Path) -> str | None:
    key = str(path[-1]) if path else ""
    return {
        "nodes": "list the nodes that run cRPD: at least one `role: master` and one `role: worker`",
        "networks": "a pod joins at least one VRF, e.g. `networks: [{vrf: blue}]`",
        "reach": "name two pods or VRFs, e.g. `reach: [pod-a, pod-b]`",
        "isolate": "name two pods or VRFs, e.g. `isolate: [pod-a, pod-b]`",
        "import": "give at least one target, e.g. `import: [\"65000:1\"]`",
        "export": "give at least one target, e.g. `export: [\"65000:2\"]`",
    }.get(key)
