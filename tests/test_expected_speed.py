"""The expected state's objects are built without their dataclass __init__ (``expected._frozen``),
and a route learned from another node is one object shared by every node that lists it: each must
be the object its public constructor makes, with every field set, its cached properties included,
and still frozen."""

from __future__ import annotations

import dataclasses

import pytest

from jcnrc.plan import expected

# Imports between VRFs (a table with several source VRFs), dual stack, one VRF per node.
EXAMPLES = ("hub-and-spoke.yaml", "multi-vrf.yaml", "aks-evpn-type5.yaml")
CACHED = {expected.ExpectedKernelRoute: ("text",), expected.VrfTable: ("kernel_ipv4", "kernel_ipv6")}


def assert_as_constructed(obj) -> None:
    attributes = vars(obj)
    names = [f.name for f in dataclasses.fields(obj)]
    # A field left out would read as its class default, not fail: every field must be set.
    assert [name for name in names if name not in attributes] == []
    twin = type(obj)(**{name: attributes[name] for name in names})
    assert obj == twin
    assert hash(obj) == hash(twin)
    for name in CACHED.get(type(obj), ()):
        assert getattr(obj, name) == getattr(twin, name), name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, names[0], None)


def states(plan, detail_limit: int | None) -> list[expected.NodeState]:
    origins, membership = expected.origins_by_vrf(plan), expected.vrfs_on_node(plan)
    return [expected.node_state(plan, node.name, origins=origins, membership=membership, detail_limit=detail_limit)
            for node in plan.nodes]


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("detail_limit", [None, 0], ids=["full", "compact"])
def test_objects_equal_those_the_constructors_make(compiled_examples, example: str, detail_limit: int | None):
    plan = compiled_examples[example].plan
    found = states(plan, detail_limit)
    assert any(t.kernel_ipv4 for state in found for t in state.tables)
    for state in found:
        for session in state.sessions:
            assert_as_constructed(session)
        for table in state.tables:
            assert table.complete is (detail_limit is None)
            assert_as_constructed(table)
            for route in table.routes:
                assert_as_constructed(route)
            for kernel in table.kernel:
                assert_as_constructed(kernel)
    origins = expected.origins_by_vrf(plan)
    for vrf in plan.vrfs:
        for origin in origins.get(vrf.name, ()):
            assert_as_constructed(origin)
        for advertised in expected.vrf_routes(plan, vrf.name, origins).routes:
            assert_as_constructed(advertised)


def test_learned_routes_are_the_same_on_every_node(compiled_examples):
    """One object per learned route and VRF, whichever node lists it, and the same as a node's
    state computed on its own."""
    plan = compiled_examples["multi-vrf.yaml"].plan  # a VRF on several workers
    found = states(plan, None)
    learned: dict[tuple[str, str], list[expected.ExpectedRoute]] = {}
    for state in found:
        alone = expected.node_state(plan, state.node)
        assert alone == state
        for table in state.tables:
            for route in table.routes:
                if route.protocol == "BGP":
                    learned.setdefault((table.table, route.text), []).append(route)
    assert any(len(routes) > 1 for routes in learned.values())
    assert all(route is routes[0] for routes in learned.values() for route in routes)
