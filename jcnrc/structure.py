"""Structure checking: pydantic validation errors -> diagnostics with codes, hints and paths.

pydantic knows *what* is wrong; this module says it the way a network engineer reads it:
which key, what was expected, what was found, and the closest valid spelling.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from jcnrc.diagnostics import Diagnostic, Path, did_you_mean, error, one_of
from jcnrc.model import Topology

# Fields whose syntax errors get a more specific code than "invalid format".
_NAME_CODES = {
    ("metadata", "name"): "JCN201",
    ("metadata", "namespace"): "JCN201",
    ("nodes", "name"): "JCN201",
    ("pods", "name"): "JCN201",
    ("pods", "node"): "JCN201",
    ("networks", "interface"): "JCN202",
    ("pods", "image"): "JCN203",
    ("images", "platter"): "JCN203",
    ("images", "crpd"): "JCN203",
    ("images", "nodePrep"): "JCN203",
    ("vrfs", "routeTarget"): "JCN204",
    ("routeTarget", "import"): "JCN204",
    ("routeTarget", "export"): "JCN204",
    ("vrfs", "name"): "JCN205",
    ("networks", "vrf"): "JCN205",
    ("networks", "mac"): "JCN206",
    ("nodes", "isoLoopback"): "JCN207",
}

_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "float_type": "a number",
}


def describe(value: Any) -> str:
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
        return f"the string {shown!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def validate_structure(data: dict) -> tuple[Topology | None, list[Diagnostic]]:
    try:
        return Topology.model_validate(data), []
    except ValidationError as exc:
        return None, [to_diagnostic(err, data) for err in exc.errors(include_url=False)]


def data_path(loc: tuple, data: Any) -> Path:
    """Keep the parts of a pydantic location that index into the data; drop union tags."""
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and last:
            path.append(part)  # a missing key: the path names it, the position falls on its parent
        # else: a union member tag such as 'text' or 'policy', skipped
    return tuple(path)


def model_at(path: Path) -> type[BaseModel] | None:
    """The model class that describes the mapping at `path` (for did-you-mean on keys)."""
    model: Any = Topology
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = _field_by_alias(model, part)
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _field_by_alias(model: type[BaseModel], key: str):
    for name, field in model.model_fields.items():
        if (field.alias or name) == key:
            return field
    return None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def keys_of(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _code_for(path: Path, default: str) -> str:
    keys = [p for p in path if isinstance(p, str)]
    for depth in (2,):
        if len(keys) >= depth:
            code = _NAME_CODES.get(tuple(keys[-depth:]))
            if code:
                return code
    return default


def to_diagnostic(err: dict, data: dict) -> Diagnostic:
    kind = err["type"]
    path = data_path(err["loc"], data)
    value = err.get("input")
    where = _where(path)
    if kind == "extra_forbidden":
        return _unknown_key(path)
    if kind == "missing":
        parent, key = path[:-1], path[-1]
        return error("JCN102", f"missing required key `{key}` in {_where(parent)}", parent,
                     help=_expected_help(parent, key))
    if kind == "inline_secret":
        return error("JCN801", f"{where} holds the secret itself; secrets are referenced, never written in the intent", path,
                     help="write `{env: VARIABLE}` or `{file: path/to/file}` and keep the value out of git")
    if kind in ("secret_source", "expectation_kind"):
        return error("JCN109", f"{where}: {err['msg']}", path)
    if kind == "literal_error":
        allowed = [str(v) for v in (err.get("ctx", {}).get("expected", "") or "").replace("'", "").split(" or ")]
        allowed = [a.strip() for part in allowed for a in part.split(",") if a.strip()]
        hint = did_you_mean(str(value), allowed) if isinstance(value, str) else None
        return error("JCN104", f"{where} cannot be {describe(value)}; expected {one_of(allowed)}", path, help=hint)
    if kind in _TYPE_WORDS:
        return error("JCN103", f"{where} must be {_TYPE_WORDS[kind]}, found {describe(value)}", path, help=_type_help(kind, value))
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return error("JCN105", f"{where} is {value}, out of range: {err['msg'].lower().replace('input should be ', 'it must be ')}", path,
                     help=_range_help(path))
    if kind in ("string_pattern_mismatch", "string_too_long", "string_too_short"):
        return error(_code_for(path, "JCN106"), f"{where} is not valid: {describe(value)}", path, help=_pattern_help(path))
    if kind.startswith("ip_v4") or kind.startswith("ip_v6") or kind in ("ip_any_address", "ip_any_network", "ip_any_interface"):
        return error("JCN107", f"{where} is not a valid {_ip_word(kind)}: {describe(value)}", path,
                     help=f"write it like `{_ip_example(kind)}`")
    if kind == "value_error":
        message = str(err.get("msg", "")).removeprefix("Value error, ")
        return error("JCN107", f"{where} is not valid: {message}", path)
    if kind in ("too_short", "too_long"):
        return error("JCN110", f"{where}: {err['msg'].lower().replace('list should have', 'needs')}", path)
    if kind == "union_tag_invalid":
        return error("JCN103", f"{where} has the wrong shape: {describe(value)}", path)
    return error("JCN103", f"{where}: {err['msg']}", path)


def _where(path: Path) -> str:
    if not path:
        return "the intent"
    shown = ""
    for part in path:
        shown += f"[{part}]" if isinstance(part, int) else (f".{part}" if shown else part)
    return f"`{shown}`"


def _unknown_key(path: Path) -> Diagnostic:
    parent, key = path[:-1], str(path[-1])
    model = model_at(parent)
    valid = keys_of(model) if model else []
    hint = did_you_mean(key, valid) if valid else None
    if hint is None and valid:
        hint = f"valid keys here: {one_of(valid, limit=20)}"
    return error("JCN101", f"unknown key `{key}` in {_where(parent)}", path, at="key", help=hint)


def _expected_help(parent: Path, key: str) -> str | None:
    model = model_at(parent + (key,))
    field = None
    owner = model_at(parent)
    if owner is not None:
        field = _field_by_alias(owner, key)
    if field is not None and field.examples:
        example = field.examples[0]
        return f"for example `{key}: {example}`"
    if model is not None:
        return f"`{key}` is a mapping with keys {one_of(keys_of(model))}"
    return None


def _type_help(kind: str, value: Any) -> str | None:
    if kind in ("int_type", "int_parsing") and isinstance(value, str) and value.strip().isdigit():
        return "remove the quotes: numbers are written without them"
    if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return "put the value in quotes to make it a string"
    return None


def _range_help(path: Path) -> str | None:
    field = path[-1] if path else ""
    return {
        "vni": "a VXLAN VNI is 1 to 16777215",
        "asn": "an AS number is 1 to 4294967295",
        "underlayMtu": "the underlay MTU is 1280 to 9216",
        "mtu": "an interface MTU is 576 to 9216",
    }.get(str(field))


_SYNTAX_HELP = {
    "JCN201": "lower-case letters, digits and '-' (dots between labels for node names), starting and ending with a letter or digit",
    "JCN202": "a Linux interface name: 1 to 15 characters, letters, digits, '-', '_' or '.'",
    "JCN203": "an image reference such as `registry.example.com/crpd:23.2R1` (lower-case repository path)",
    "JCN204": "valid forms: `11:11` (2-byte AS:number), `4200000000:7` (4-byte AS), `10.0.0.1:5` (IPv4:number), each optionally prefixed by `target:`",
    "JCN205": "lower-case letters, digits and '-', starting with a letter, at most 31 characters (it becomes a Junos routing-instance and a NAD name)",
    "JCN206": "six pairs of hex digits separated by ':', e.g. `02:00:00:00:01:01`",
    "JCN207": "an ISO NET such as `49.0001.0102.4000.0004.00`",
}


def _pattern_help(path: Path) -> str | None:
    return _SYNTAX_HELP.get(_code_for(path, ""))


def _ip_word(kind: str) -> str:
    if "interface" in kind:
        return "address with prefix length"
    if "network" in kind:
        return "network"
    return "address"


def _ip_example(kind: str) -> str:
    six = "v6" in kind
    if "interface" in kind:
        return "abcd::1.1.11.2/126" if six else "1.1.11.2/30"
    if "network" in kind:
        return "abcd::1.1.0.0/112" if six else "1.1.0.0/16"
    return "abcd::1" if six else "10.240.0.4"
