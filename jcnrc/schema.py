"""The intent's JSON Schema, generated from the model (draft 2020-12), for editors and CI.

Editors (yaml-language-server) show `title`, `markdownDescription`/`description` and
`examples` on hover, offer `defaultSnippets` on completion and use `patternErrorMessage`
instead of echoing a regex. The committed ``schemas/topology.schema.json`` must equal
``schema_text()``; a test keeps them in sync.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from jcnrc.model import Topology

SCHEMA_ID = "https://jcnrc.dev/schemas/topology.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

STARTER_SNIPPET = {
    "label": "jcnrc topology",
    "description": "A route reflector, two workers, one VRF and one pod",
    "body": {
        "apiVersion": "jcnrc/v1",
        "kind": "Topology",
        "metadata": {"name": "${1:my-topology}", "namespace": "default"},
        "cluster": {
            "provider": "${2|aks,eks,kubeadm|}",
            "asn": 64512,
            "nodeSubnet": "${3:10.240.0.0/16}",
            "podCidr": "10.244.0.0/16",
            "serviceCidr": "10.0.0.0/16",
        },
        "images": {"platter": "${4:registry.example.com/platter:latest}", "crpd": "${5:registry.example.com/crpd:latest}"},
        "nodes": [
            {"name": "${6:node-0}", "address": "10.240.0.4", "role": "master"},
            {"name": "${7:node-1}", "address": "10.240.0.5", "role": "worker"},
        ],
        "vrfs": [{"name": "blue", "routeTarget": "11:11", "vni": 10002, "ipv4Pool": "1.1.0.0/16"}],
        "pods": [{"name": "pod-1", "node": "${7:node-1}", "image": "ubuntu:20.04", "networks": [{"vrf": "blue"}]}],
        "secrets": {"rootPassword": {"env": "CRPD_ROOT_PASSWORD"}, "crpdLicense": {"file": "crpd-license.txt"}},
    },
}


class _Generator(GenerateJsonSchema):
    def generate(self, schema, mode="validation"):
        result = super().generate(schema, mode=mode)
        return {"$schema": DIALECT, "$id": SCHEMA_ID, **result}

    def sort(self, value, parent_key=None):
        # Keep authored order: snippets and examples read top-down like the file they create.
        return value


def _polish(node: Any) -> None:
    """Titles in SchemaStore style; markdown descriptions for editors that render them."""
    if isinstance(node, dict):
        if "description" in node and "markdownDescription" not in node and "`" in node["description"]:
            node["markdownDescription"] = node["description"]
        if "title" in node and isinstance(node["title"], str):
            node["title"] = node["title"][0].lower() + node["title"][1:]
        for value in node.values():
            _polish(value)
    elif isinstance(node, list):
        for value in node:
            _polish(value)


def generate() -> dict:
    schema = Topology.model_json_schema(by_alias=True, schema_generator=_Generator)
    _polish(schema)
    schema["defaultSnippets"] = [STARTER_SNIPPET]
    return schema


def schema_text() -> str:
    return json.dumps(generate(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
