"""Stage 2, check: plain data -> a validated Topology, or diagnostics that say why not.

Structure errors (unknown keys, types, syntax) come from the pydantic model; semantic errors
(roles, uniqueness, overlaps) from ``rules``. When some items are malformed, the well-formed
ones are still checked, so one run reports every problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from jcnrc.diagnostics import Diagnostic
from jcnrc.intent import rules
from jcnrc.intent.model import Cluster, Expectation, Images, Metadata, Node, Pod, Secrets, Topology, Vrf
from jcnrc.intent.structure import validate_structure

_Model = TypeVar("_Model", bound=BaseModel)


@dataclass
class Checked:
    topology: Topology | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.topology is not None and not any(d.is_error for d in self.diagnostics)


def check(data: dict) -> Checked:
    topology, diagnostics = validate_structure(data)
    if topology is not None:
        intent = rules.Intent(
            cluster=topology.cluster,
            target=topology.target,
            nodes=list(enumerate(topology.nodes)),
            vrfs=list(enumerate(topology.vrfs)),
            pods=list(enumerate(topology.pods)),
            expect=list(enumerate(topology.expect)),
            secrets=topology.secrets,
            images=topology.images,
            metadata=topology.metadata,
            written_names={},
        )
    else:
        intent = partial_intent(data)
    diagnostics = diagnostics + rules.run(intent)
    return Checked(topology, diagnostics)


def partial_intent(data: dict) -> rules.Intent:
    target = data.get("target")
    return rules.Intent(
        cluster=_valid_or_none(Cluster, data.get("cluster")),
        target=target if target in ("platter", "jcnr") else "platter",
        nodes=_valid_items(Node, data.get("nodes")),
        vrfs=_valid_items(Vrf, data.get("vrfs")),
        pods=_valid_items(Pod, data.get("pods")),
        expect=_valid_items(Expectation, data.get("expect")),
        secrets=_valid_or_none(Secrets, data.get("secrets")),
        images=_valid_or_none(Images, data.get("images")),
        metadata=_valid_or_none(Metadata, data.get("metadata")),
        written_names={key: _written_names(data.get(key), "name") for key in ("nodes", "vrfs", "pods")},
        complete=False,
    )


def _valid_or_none(model: type[_Model], value: Any) -> _Model | None:
    if value is None:
        return None
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def _valid_items(model: type[_Model], items: Any) -> list[tuple[int, _Model]]:
    if not isinstance(items, list):
        return []
    valid: list[tuple[int, _Model]] = []
    for index, item in enumerate(items):
        parsed = _valid_or_none(model, item)
        if parsed is not None:
            valid.append((index, parsed))
    return valid


def _written_names(items: Any, key: str) -> set[str]:
    if not isinstance(items, list):
        return set()
    return {item[key] for item in items if isinstance(item, dict) and isinstance(item.get(key), str)}
