"""docs/intent.md: generated from the model by jcnrc.intent.docs and kept in sync (issue 7)."""

from __future__ import annotations

import re
import subprocess
import sys
import typing

import pytest
from pydantic import BaseModel

from conftest import HANG_GUARD, ROOT
from jcnrc.intent.docs import intent_reference
from jcnrc.intent.model import Topology

DOC = ROOT / "docs" / "intent.md"


@pytest.fixture(scope="module")
def reference() -> str:
    return intent_reference()


def test_committed_reference_is_current(reference):
    committed = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
    assert committed == reference, "docs/intent.md is stale: run `python -m jcnrc.intent.docs > docs/intent.md`"


def test_module_prints_the_reference(reference):
    done = subprocess.run([sys.executable, "-m", "jcnrc.intent.docs"], capture_output=True, text=True, timeout=HANG_GUARD,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout == reference


def _field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every field path, walked from the pydantic classes themselves (not from the schema the doc reads)."""
    paths = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        path = f"{prefix}.{key}" if prefix else key
        paths.append(path)
        for nested, suffix in _nested_models(info.annotation):
            paths += _field_paths(nested, path + suffix)
    return paths


def _nested_models(annotation, suffix: str = "") -> list[tuple[type[BaseModel], str]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, suffix)]
    origin = typing.get_origin(annotation)
    if origin is list:
        return [found for arg in typing.get_args(annotation) for found in _nested_models(arg, suffix + "[]")]
    return [found for arg in typing.get_args(annotation) for found in _nested_models(arg, suffix)]


def _documented(path: str) -> str:
    # A model used at two places (secrets.rootPassword and secrets.crpdLicense) is written out once.
    return path.replace("secrets.crpdLicense.", "secrets.rootPassword.")


def test_every_field_of_the_model_has_an_entry(reference):
    headings = set(re.findall(r"^### `([^`]+)`$", reference, flags=re.M))
    paths = _field_paths(Topology)
    assert len(paths) > 60
    missing = [p for p in paths if _documented(p) not in headings]
    assert not missing, missing


def _entry(reference: str, path: str) -> str:
    return reference.split(f"### `{path}`\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]


def test_entries_give_type_required_default_allowed_values_syntax_and_examples(reference):
    provider = _entry(reference, "cluster.provider")
    assert "- **Required.**" in provider
    assert '  - `"eks"`: Amazon EKS' in provider
    assert "Where the cluster runs." in provider
    mtu = _entry(reference, "cluster.underlayMtu")
    assert "- **Type:** integer, 1280 to 9216" in mtu and "- **Optional.** Default: `1500`." in mtu
    command = _entry(reference, "pods[].command")
    assert '- **Optional.** Default: `["sleep", "infinity"]`.' in command, "defaults from factories come from the model"
    assert "- **Type:** list of strings" in command
    bgp = _entry(reference, "cluster.bgp")
    assert "- **Type:** object, see [`cluster.bgp` fields](#clusterbgp-fields)" in bgp
    assert "When left out, each of its fields takes its own default." in bgp
    route_target = _entry(reference, "vrfs[].routeTarget")
    assert "string or object" in route_target
    assert '`{"import": ["65000:1"], "export": ["65000:2"]}`' in route_target
    subnet = _entry(reference, "cluster.nodeSubnet")
    assert "- **Type:** string: IPv4 network with prefix length" in subnet
    assert "- **Example:** `\"10.240.0.0/16\"`" in subnet
    api = _entry(reference, "apiVersion")
    assert '- **Type:** the exact value `"jcnrc/v1"`' in api and "- **Required.**" in api
    reach = _entry(reference, "expect[].reach")
    assert "exactly 2 items" in reach


def github_anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_every_link_points_at_exactly_one_heading(reference):
    anchors = [github_anchor(h) for h in re.findall(r"^#{1,6} (.+)$", reference, flags=re.M)]
    links = re.findall(r"\]\(#([^)]+)\)", reference)
    assert links
    for link in set(links):
        assert anchors.count(link) == 1, link


def test_code_spans_hold_backquotes():
    from jcnrc.intent.docs import _code

    assert _code("11:11") == "`11:11`"
    assert _code("a`b") == "``a`b``"
    assert _code("`x`") == "`` `x` ``", "a span that starts with a backquote is padded"


def test_reference_is_byte_stable(reference):
    assert intent_reference() == reference
    assert "\r" not in reference and reference.endswith("\n") and not reference.endswith("\n\n")
    assert "\n\n\n" not in reference
