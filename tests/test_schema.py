"""The JSON Schema editors use: generated from the model, committed, and consistent with the checker."""

from __future__ import annotations

import copy
import json
import re

import pytest
from jsonschema import Draft202012Validator

from conftest import EXAMPLES, ROOT
from jcnrc.intent.check import check
from jcnrc.intent.schema import DIALECT, SCHEMA_ID, generate, schema_text

COMMITTED = ROOT / "schemas" / "topology.schema.json"
GOOD = sorted((ROOT / "tests" / "corpus" / "good").glob("*.yaml"))
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(COMMITTED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator(schema) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def load_yaml(path):
    """The intent as a YAML 1.2 reader (an editor's, jcnrc's) reads it: ruamel's own reader still
    breaks lines at NEL and LS, which a good corpus file holds in a comment."""
    from jcnrc.intent.load import load_file

    loaded = load_file(path)
    assert loaded.data is not None, loaded.diagnostics
    return loaded.data


def all_properties(schema: dict):
    """(where, key, property schema) for every property of the root and of every definition."""
    for key, prop in schema["properties"].items():
        yield "root", key, prop
    for name, definition in schema["$defs"].items():
        for key, prop in definition.get("properties", {}).items():
            yield name, key, prop


def walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_committed_schema_equals_what_the_model_generates():
    assert COMMITTED.read_text(encoding="utf-8") == schema_text(), \
        "schemas/topology.schema.json is stale: run `.venv/bin/jcnrc schema > schemas/topology.schema.json`"


def test_schema_is_a_valid_draft_2020_12_schema_with_an_id(schema):
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DIALECT == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID
    assert schema["additionalProperties"] is False


def test_every_property_has_a_title_a_description_and_examples(schema):
    lacking = [(where, key, missing) for where, key, prop in all_properties(schema)
               for missing in ("title", "description", "examples") if missing not in prop]
    assert lacking == []


def test_descriptions_with_code_have_a_markdown_twin(schema):
    for where, key, prop in all_properties(schema):
        if "`" in prop["description"]:
            assert prop["markdownDescription"] == prop["description"], (where, key)


def test_every_pattern_has_a_pattern_error_message(schema):
    patterns = [node for node in walk(schema) if "pattern" in node]
    assert len(patterns) >= 15
    assert all(node.get("patternErrorMessage") for node in patterns)


def test_every_property_example_is_valid_for_its_property(schema):
    for where, key, prop in all_properties(schema):
        standalone = {**prop, "$defs": schema["$defs"]}
        for example in prop["examples"]:
            errors = [e.message for e in Draft202012Validator(standalone).iter_errors(example)]
            assert errors == [], (where, key, example, errors)


def resolve_snippet(value):
    """A snippet body as the editor inserts it with every placeholder left at its default."""
    if isinstance(value, dict):
        return {key: resolve_snippet(item) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_snippet(item) for item in value]
    if isinstance(value, str):
        raw = value.startswith("^")
        text = re.sub(r"\$\{\d+\|([^,|]+)[^}]*\}", r"\1", value.removeprefix("^"))
        text = re.sub(r"\$\{\d+:([^}]*)\}", r"\1", text)
        return json.loads(text) if raw else text
    return value


def test_the_starter_snippet_is_an_intent_that_checks_clean(schema, validator):
    [snippet] = schema["defaultSnippets"]
    intent = resolve_snippet(snippet["body"])
    assert list(validator.iter_errors(intent)) == []
    assert check(intent).diagnostics == []


@pytest.mark.parametrize("name", ["Node", "Vrf", "Pod", "Attachment", "SecretSource", "Expectation"])
def test_list_items_have_snippets_valid_for_their_definition(schema, name):
    snippets = schema["$defs"][name]["defaultSnippets"]
    assert snippets and all(s["label"] and s["description"] for s in snippets)
    item_schema = {"$ref": f"#/$defs/{name}", "$defs": schema["$defs"]}
    for snippet in snippets:
        assert list(Draft202012Validator(item_schema).iter_errors(resolve_snippet(snippet["body"]))) == []


@pytest.mark.parametrize("path", EXAMPLES + GOOD, ids=lambda p: p.name)
def test_schema_accepts_the_bundled_examples_and_good_intents(path, validator):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(load_yaml(path))]
    assert errors == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_carry_a_modeline_that_points_at_the_committed_schema(path):
    found = MODELINE.search(path.read_text(encoding="utf-8"))
    assert found, f"{path.name} lacks `# yaml-language-server: $schema=../schemas/topology.schema.json`"
    assert (path.parent / found.group(1)).resolve() == COMMITTED.resolve()


def test_good_corpus_files_carry_a_modeline_that_resolves():
    for path in GOOD:
        found = MODELINE.search(path.read_text(encoding="utf-8"))
        assert found and (path.parent / found.group(1)).resolve() == COMMITTED.resolve(), path.name


def edited_example(edit) -> dict:
    data = copy.deepcopy(load_yaml(ROOT / "examples" / "aks-evpn-type5.yaml"))
    edit(data)
    return data


def flattened(errors):
    """Every error with the errors of the `anyOf`/`oneOf` branches under it, as editors report the best branch."""
    for error in errors:
        yield error
        yield from flattened(error.context or [])


def test_schema_rejects_a_misspelt_key(validator):
    data = edited_example(lambda d: d["cluster"].update(nodeSubnett=d["cluster"].pop("nodeSubnet")))
    messages = [e.message for e in validator.iter_errors(data)]
    assert any("nodeSubnett" in m and "Additional properties" in m for m in messages)
    assert any("'nodeSubnet' is a required property" in m for m in messages)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["vrfs"][0].update(ipv4Pool="abcd::/64"), "an IPv4 network with its prefix length"),
    (lambda d: d["pods"][0]["networks"][0].update(interface="net1-to-the-blue-vrf"), None),
    (lambda d: d["pods"][0].update(name="Ubuntu"), "a Kubernetes name"),
    (lambda d: d["vrfs"][0].update(routeTarget="blue:1"), "a route target"),
    (lambda d: d["nodes"][0].update(address="10.240.0.256"), "an IPv4 address"),
])
def test_schema_flags_what_an_editor_should_flag(validator, edit, message):
    errors = list(flattened(validator.iter_errors(edited_example(edit))))
    assert errors
    if message is not None:
        assert any(message in e.schema.get("patternErrorMessage", "") for e in errors if isinstance(e.schema, dict))


def test_schema_and_checker_agree_on_types(validator):
    """Integers are not accepted as strings, in the editor as in the checker."""
    data = edited_example(lambda d: d["vrfs"][0].update(vni="10002"))
    assert any("is not of type 'integer'" in e.message for e in flattened(validator.iter_errors(data)))
    assert check(data).diagnostics[0].code == "JCN103"


def test_generate_is_deterministic():
    assert json.dumps(generate()) == json.dumps(generate())
