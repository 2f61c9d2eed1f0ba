"""The intent's JSON Schema, generated from the model (draft 2020-12), for editors and CI.

Editors (yaml-language-server) show `title`, `markdownDescription`/`description` and
`examples` on hover, offer `defaultSnippets` on completion and use `patternErrorMessage`
instead of echoing a regex. The committed ``schemas/topology.schema.json`` and
``schemas/fleet.schema.json`` must equal ``schema_text("Topology")`` and ``schema_text("Fleet")``;
tests keep them in sync.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import CoreSchema

from jcnrc.intent.model import Fleet, Topology

SCHEMA_ID = "https://jcnrc.dev/schemas/topology.schema.json"
FLEET_SCHEMA_ID = "https://jcnrc.dev/schemas/fleet.schema.json"
KINDS: dict[str, tuple[type[BaseModel], str]] = {"Topology": (Topology, SCHEMA_ID), "Fleet": (Fleet, FLEET_SCHEMA_ID)}
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
            {"name": "node-3", "address": "10.240.0.7", "role": "master"},
            {"name": "${7:node-1}", "address": "10.240.0.5", "role": "worker"},
        ],
        "vrfs": [{"name": "blue", "routeTarget": "11:11", "vni": 10002, "ipv4Pool": "1.1.0.0/16"}],
        "pods": [{"name": "pod-1", "node": "${7:node-1}", "image": "ubuntu:20.04", "networks": [{"vrf": "blue"}]}],
        "secrets": {"rootPassword": {"env": "CRPD_ROOT_PASSWORD"}, "crpdLicense": {"file": "crpd-license.txt"}},
    },
}


FLEET_STARTER_SNIPPET = {
    "label": "jcnrc fleet",
    "description": "Two clusters in one AS, their route reflectors peering, one VRF across both",
    "body": {
        "apiVersion": "jcnrc/v1",
        "kind": "Fleet",
        "metadata": {"name": "${1:my-fleet}", "namespace": "default"},
        "images": {"platter": "${2:registry.example.com/platter:latest}", "crpd": "${3:registry.example.com/crpd:latest}"},
        "vrfs": [{"name": "blue", "routeTarget": "11:11", "vni": 10002, "ipv4Pool": "1.1.0.0/16"}],
        "secrets": {"rootPassword": {"env": "CRPD_ROOT_PASSWORD"}, "crpdLicense": {"file": "crpd-license.txt"}},
        "clusters": [
            {"name": "${4:east}",
             "cluster": {"provider": "kubeadm", "asn": 64512, "nodeSubnet": "10.10.0.0/16", "podCidr": "10.244.0.0/16",
                         "serviceCidr": "10.96.0.0/12"},
             "nodes": [{"name": "east-0", "address": "10.10.0.4", "role": "master"},
                       {"name": "east-9", "address": "10.10.0.9", "role": "master"},
                       {"name": "east-1", "address": "10.10.0.5", "role": "worker"}],
             "pods": [{"name": "pod-1", "node": "east-1", "image": "ubuntu:20.04", "networks": [{"vrf": "blue"}]}]},
            {"name": "${5:west}",
             "cluster": {"provider": "kubeadm", "asn": 64512, "nodeSubnet": "10.20.0.0/16", "podCidr": "10.244.0.0/16",
                         "serviceCidr": "10.96.0.0/12"},
             "nodes": [{"name": "west-0", "address": "10.20.0.4", "role": "master"},
                       {"name": "west-9", "address": "10.20.0.9", "role": "master"},
                       {"name": "west-1", "address": "10.20.0.5", "role": "worker"}],
             "pods": [{"name": "pod-1", "node": "west-1", "image": "ubuntu:20.04", "networks": [{"vrf": "blue"}]}]},
        ],
        "expect": [{"reach": ["${4:east}/pod-1", "${5:west}/pod-1"]}],
    },
}


def _generator(schema_id: str) -> type[GenerateJsonSchema]:
    class _Generator(GenerateJsonSchema):
        def generate(self, schema: CoreSchema, mode: JsonSchemaMode = "validation") -> JsonSchemaValue:
            result = super().generate(schema, mode=mode)
            return {"$schema": DIALECT, "$id": schema_id, **result}

        def sort(self, value: JsonSchemaValue, parent_key: str | None = None) -> JsonSchemaValue:
            # Keep authored order: snippets and examples read top-down like the file they create.
            return value

    return _Generator


def _polish(node: Any) -> None:
    """Titles in SchemaStore style; markdown descriptions for editors that render them; pattern
    messages next to the pattern they explain (pydantic puts them beside `anyOf` for optional fields)."""
    if isinstance(node, dict):
        if "description" in node and "markdownDescription" not in node and "`" in node["description"]:
            node["markdownDescription"] = node["description"]
        if "title" in node and isinstance(node["title"], str):
            node["title"] = node["title"][0].lower() + node["title"][1:]
        for key, prop in (node.get("properties") or {}).items():
            if isinstance(prop, dict):
                prop.setdefault("title", key)
        message = node.get("patternErrorMessage")
        if message and "pattern" not in node and "anyOf" in node:
            for option in node["anyOf"]:
                if isinstance(option, dict) and "pattern" in option:
                    option.setdefault("patternErrorMessage", message)
            del node["patternErrorMessage"]
        for value in node.values():
            _polish(value)
    elif isinstance(node, list):
        for value in node:
            _polish(value)


# Completion snippets for list items: what a new node, VRF, pod or interface looks like.
ITEM_SNIPPETS = {
    "Node": [
        {"label": "worker node", "description": "A node that runs application pods",
         "body": {"name": "${1:node-1}", "address": "${2:10.240.0.5}", "role": "worker"}},
        {"label": "master node", "description": "The BGP route reflector",
         "body": {"name": "${1:node-0}", "address": "${2:10.240.0.4}", "role": "master"}},
    ],
    "Vrf": [
        {"label": "VRF", "description": "A VRF with a symmetric route target and an IPv4 pool",
         "body": {"name": "${1:blue}", "routeTarget": "${2:11:11}", "vni": "^${3:10002}", "ipv4Pool": "${4:1.1.0.0/16}"}},
        {"label": "VRF with import/export targets", "description": "Hub and spoke or shared services",
         "body": {"name": "${1:hub}", "routeTarget": {"import": ["${2:64512:101}"], "export": ["${3:64512:100}"]},
                  "ipv4Pool": "${4:172.16.0.0/24}"}},
    ],
    "Pod": [
        {"label": "pod", "description": "An application pod with one interface in a VRF",
         "body": {"name": "${1:pod-1}", "node": "${2:node-1}", "image": "${3:ubuntu:20.04}", "networks": [{"vrf": "${4:blue}"}]}},
    ],
    "Attachment": [
        {"label": "interface (allocated)", "description": "Address, gateway and MAC are allocated", "body": {"vrf": "${1:blue}"}},
        {"label": "interface (explicit address)", "description": "An interface with its address written",
         "body": {"vrf": "${1:blue}", "interface": "${2:net1}", "ipv4": "${3:1.1.11.2/30}"}},
    ],
    "SecretSource": [
        {"label": "from an environment variable", "description": "Read at build time, never written",
         "body": {"env": "${1:CRPD_ROOT_PASSWORD}"}},
        {"label": "from a file", "description": "Relative to the intent file", "body": {"file": "${1:crpd-license.txt}"}},
    ],
    "Expectation": [
        {"label": "reach", "description": "Two pods or VRFs that must reach each other",
         "body": {"reach": ["${1:pod-a}", "${2:pod-b}"]}},
        {"label": "isolate", "description": "Two pods or VRFs that must not reach each other",
         "body": {"isolate": ["${1:pod-a}", "${2:pod-b}"]}},
    ],
}


def generate(kind: str = "Topology") -> dict:
    model, schema_id = KINDS[kind]
    schema = model.model_json_schema(by_alias=True, schema_generator=_generator(schema_id))
    _polish(schema)
    schema["defaultSnippets"] = [STARTER_SNIPPET if kind == "Topology" else FLEET_STARTER_SNIPPET]
    for name, snippets in ITEM_SNIPPETS.items():
        if name in schema["$defs"]:
            schema["$defs"][name]["defaultSnippets"] = snippets
    return schema


def schema_text(kind: str = "Topology") -> str:
    return json.dumps(generate(kind), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
