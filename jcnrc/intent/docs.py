"""docs/intent.md: the reference of every intent field, generated from the model.

``python -m jcnrc.intent.docs > docs/intent.md`` writes it; a test keeps the committed file equal to
``intent_reference()``. The text comes from the JSON Schema that ``jcnrc.intent.schema`` generates from
the pydantic model, so the reference says exactly what editors show on hover, and from the model
itself for the defaults the schema leaves out (fields whose default is built by a factory).

One section per object (top level, ``metadata``, ``cluster``, ``nodes[]`` ...), in the order a
reader meets them in a file; one entry per field with its type, whether it is required or its
default, the allowed values, the syntax rule, the description and examples.
"""

from __future__ import annotations

import json
import re
import sys
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from jcnrc.intent import schema as intent_schema
from jcnrc.intent.model import Fleet, Topology, field_for_key

PLURALS = {"string": "strings", "integer": "integers", "boolean": "booleans", "number": "numbers"}
GENERATOR = "python -m jcnrc.intent.docs > docs/intent.md"
FORMATS = {
    "ipv4": "IPv4 address",
    "ipv6": "IPv6 address",
    "ipv4network": "IPv4 network with prefix length",
    "ipv6network": "IPv6 network with prefix length",
    "ipv4interface": "IPv4 address with prefix length",
    "ipv6interface": "IPv6 address with prefix length",
}


@dataclass
class _Section:
    """One object type, documented once at the first path it appears at."""

    path: str  # "" for the top level, "cluster.bgp", "nodes[]"
    schema: dict
    model: type[BaseModel] | None
    also_at: list[str] = field(default_factory=list)
    part: str = ""  # "Fleet: " for the sections of `kind: Fleet` only

    @property
    def title(self) -> str:
        if not self.path:
            return f"{self.part}Top level" if not self.part else f"{self.part}top level"
        return self.part + " and ".join(f"`{p}`" for p in [self.path, *self.also_at]) + " fields"


def intent_reference() -> str:
    """The Markdown text of docs/intent.md."""
    root = intent_schema.generate()
    definitions = root.get("$defs", {})
    sections = _sections(root, definitions, _models_by_name(Topology), Topology)
    # A fleet documents only what a Topology does not have; the parts they share are linked.
    fleet_root = intent_schema.generate("Fleet")
    fleet_definitions = fleet_root.get("$defs", {})
    shared = {name: next(s for s in sections if s.schema is definitions[name]) for name in fleet_definitions
              if name in definitions and any(s.schema is definitions[name] for s in sections)}
    fleet_sections = _sections(fleet_root, fleet_definitions, _models_by_name(Fleet), Fleet, shared, part="Fleet: ")
    anchors = {id(s): _anchor(s.title) for s in sections + fleet_sections}
    by_def = {id(s.schema): s for s in sections + fleet_sections}
    by_def.update((id(fleet_definitions[name]), section) for name, section in shared.items())
    out = [
        "# Intent reference",
        "",
        f"<!-- Generated from jcnrc/intent/model.py by `{GENERATOR}`; do not edit by hand. -->",
        "",
        "Every field of a jcnrc intent file (`apiVersion: jcnrc/v1`, `kind: Topology`). Editors that use",
        "`schemas/topology.schema.json` show the same text on hover; `jcnrc check FILE` checks a file against",
        "these rules and the cross-field rules (roles, uniqueness, overlaps) that no single field can state.",
        "",
        "A field marked optional may be left out; its default applies. Examples are written in JSON,",
        "which YAML reads the same way.",
        "",
        "## Contents",
        "",
    ]
    out += [f"- [{s.title}](#{anchors[id(s)]})" for s in sections + fleet_sections]
    for section in sections:
        out += _section_text(section, definitions, by_def, anchors)
    out += ["", "# Fleet reference", "",
            "A fleet (`kind: Fleet`, schema `schemas/fleet.schema.json`) is many clusters with the same VRFs: each",
            "cluster is written like the `cluster`, `nodes` and `pods` of a Topology, and compiles into the folder a",
            "Topology build of it would be; the route reflectors of the clusters peer (docs/fleet.md). The objects it",
            "shares with a Topology are documented above and linked."]
    for section in fleet_sections:
        out += _section_text(section, fleet_definitions, by_def, anchors)
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"  # one blank line between blocks


# --- which objects, in which order ---------------------------------------------------------

def _models_by_name(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every model reachable from the root, by class name (the key pydantic uses in $defs)."""
    found: dict[str, type[BaseModel]] = {}
    pending = [root]
    while pending:
        model = pending.pop()
        if model.__name__ in found:
            continue
        found[model.__name__] = model
        for info in model.model_fields.values():
            pending += _models_in(info.annotation)
    return found


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _sections(root: dict, definitions: dict, models: dict[str, type[BaseModel]], root_model: type[BaseModel],
              shared: dict[str, _Section] | None = None, part: str = "") -> list[_Section]:
    """The sections of one root model; objects in `shared` are documented elsewhere (their section
    learns the paths where this root holds them)."""
    sections: list[_Section] = []
    seen: dict[str, _Section] = {}
    shared = shared or {}

    def visit(path: str, schema: dict, model: type[BaseModel] | None, ref: str | None = None) -> None:
        section = _Section(path, schema, model, part=part)
        sections.append(section)
        if ref is not None:
            seen[ref] = section  # before the fields, so that a model holding itself ends here
        for name, prop in schema.get("properties", {}).items():
            for child_ref, suffix in _object_refs(prop):
                child_path = f"{path}.{name}{suffix}" if path else f"{name}{suffix}"
                if child_ref in shared:
                    continue  # linked from the field's type
                if child_ref in seen:
                    seen[child_ref].also_at.append(child_path)
                else:
                    visit(child_path, definitions[child_ref], models.get(child_ref), child_ref)

    visit("", root, root_model)
    return sections


def _object_refs(prop: dict, suffix: str = "") -> list[tuple[str, str]]:
    """($defs name, path suffix) of every object a property holds: `[]` marks list items."""
    if "$ref" in prop:
        return [(prop["$ref"].rsplit("/", 1)[-1], suffix)]
    found = []
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
        found += _object_refs(prop["items"], suffix + "[]")
    for key in ("anyOf", "oneOf", "allOf"):
        for option in prop.get(key, []):
            found += _object_refs(option, suffix)
    return found


# --- text ----------------------------------------------------------------------------------

def _section_text(section: _Section, definitions: dict, by_def: dict, anchors: dict) -> list[str]:
    out = ["", f"## {section.title}", ""]
    if section.schema.get("description"):
        out += [section.schema["description"], ""]
    required = set(section.schema.get("required", []))
    names = list(section.schema.get("properties", {}))
    out += ["Fields: " + ", ".join(f"`{name}`" for name in names) + ".", ""] if names else []
    for name, prop in section.schema.get("properties", {}).items():
        path = f"{section.path}.{name}" if section.path else name
        out += [f"### `{path}`", ""]
        if prop.get("description"):
            out += [prop["description"], ""]
        out += _facts(name, prop, name in required, section.model, definitions, by_def, anchors)
    return out


def _facts(name: str, prop: dict, required: bool, model: type[BaseModel] | None, definitions: dict, by_def: dict,
           anchors: dict) -> list[str]:
    facts = [f"- **Type:** {_type_text(prop, definitions, by_def, anchors)}"]
    facts.append("- **Required.**" if required else f"- **Optional.** {_default_text(name, prop, model)}".rstrip())
    allowed = _allowed_values(prop)
    if allowed:
        facts.append("- **Allowed values:**")
        facts += [f"  - {line}" for line in allowed]
    rules = _syntax_rules(prop)
    if rules:
        facts.append("- **Syntax:** " + "; ".join(rules) + ".")
    examples = prop.get("examples") or []
    if examples:
        label = "Example" if len(examples) == 1 else "Examples"
        facts.append(f"- **{label}:** " + ", ".join(_code(_json(e)) for e in examples))
    return [*facts, ""]


def _type_text(prop: dict, definitions: dict, by_def: dict, anchors: dict) -> str:
    options = [o for o in _options(prop) if o.get("type") != "null"]
    texts = []
    for option in options:
        texts.append(_one_type(option, definitions, by_def, anchors))
    return " or ".join(dict.fromkeys(texts)) or "any"


def _options(prop: dict) -> list[dict]:
    for key in ("anyOf", "oneOf"):
        if key in prop:
            return [inner for option in prop[key] for inner in _options(option)]
    return [prop]


def _one_type(option: dict, definitions: dict, by_def: dict, anchors: dict) -> str:
    if "$ref" in option:
        target = definitions[option["$ref"].rsplit("/", 1)[-1]]
        section = by_def[id(target)]
        return f"object, see [{section.title}](#{anchors[id(section)]})"
    kind = option.get("type")
    if "const" in option:
        return f"the exact value {_code(_json(option['const']))}"
    if kind == "array":
        items = option.get("items", {})
        inner = _type_text(items, definitions, by_def, anchors) if items else "any"
        if inner.startswith("object"):
            return f"list of objects ({inner.removeprefix('object, ')})"
        return f"list of {PLURALS.get(inner, inner)}"
    if kind == "string" and option.get("format") in FORMATS:
        return f"string: {FORMATS[option['format']]}"
    if kind == "integer":
        return "integer" + _range_text(option)
    return kind or "any"


def _range_text(option: dict) -> str:
    low, high = option.get("minimum"), option.get("maximum")
    if low is not None and high is not None:
        return f", {low} to {high}"
    if low is not None:
        return f", at least {low}"
    if high is not None:
        return f", at most {high}"
    return ""


def _default_text(name: str, prop: dict, model: type[BaseModel] | None) -> str:
    if "default" in prop:
        value = prop["default"]
        return "" if value is None else f"Default: {_code(_json(value))}."
    info = field_for_key(model, name) if model is not None else None
    if info is None or info.default_factory is None:
        return ""
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "When left out, each of its fields takes its own default."
    return f"Default: {_code(_json(value))}."


def _allowed_values(prop: dict) -> list[str]:
    for option in _options(prop):
        if "enum" in option or "enum" in prop:
            values = option.get("enum") or prop["enum"]
            notes = prop.get("markdownEnumDescriptions") or option.get("markdownEnumDescriptions") or []
            return [_code(_json(v)) + (f": {notes[i]}" if i < len(notes) else "") for i, v in enumerate(values)]
    return []


def _syntax_rules(prop: dict) -> list[str]:
    rules = []
    for option in _options(prop):
        for scope, prefix in ((option, ""), (option.get("items") or {}, "each item: ")):
            message = scope.get("patternErrorMessage") or prop.get("patternErrorMessage")
            if "pattern" in scope:
                rules.append(prefix + (message if message else f"matches {_code(scope['pattern'])}"))
            if "maxLength" in scope:
                rules.append(f"{prefix}at most {scope['maxLength']} characters")
        if option.get("type") == "array":
            rules += _item_counts(option)
    return list(dict.fromkeys(rules))


def _item_counts(option: dict) -> list[str]:
    low, high = option.get("minItems"), option.get("maxItems")
    if low is not None and low == high:
        return [f"exactly {low} items"]
    found = []
    if low:
        found.append(f"at least {low} item" + ("s" if low != 1 else ""))
    if high is not None:
        found.append(f"at most {high} items")
    return found


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _code(text: str) -> str:
    """A Markdown code span that holds any text: the fence is longer than any backquote run inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as '-'."""
    slug = re.sub(r"[^\w\- ]", "", heading.lower())
    return slug.replace(" ", "-")


def main() -> None:
    sys.stdout.write(intent_reference())


if __name__ == "__main__":
    main()
