"""Reachability is answered on the networkx route-target graph, and a build's `expect:` the same way without it.

`jcnrc explain` and `jcnrc impact` ask graph.shared_targets of graph.routes(plan.vrfs), a DiGraph of
the VRFs and the targets they export and import. A build's `expect:` asks Plan.shared_targets, which
answers from the VRFs' lists: these tests hold every verdict of it to the graph's, on every example
and on random VRF sets, and a build never imports networkx for it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from types import SimpleNamespace

import networkx as nx
import pytest

from jcnrc.plan import graph, reach


def test_explain_asks_the_networkx_route_graph_and_expect_the_plan(compiled_examples, monkeypatch):
    asked = []
    shared_targets = graph.shared_targets

    def spy(g, exporter, importer):
        asked.append(type(g))
        return shared_targets(g, exporter, importer)

    monkeypatch.setattr(graph, "shared_targets", spy)
    plan = compiled_examples["hub-and-spoke.yaml"].plan
    assert plan.topology.expect
    reach.explain(plan, "spoke-a1", "hub-svc")
    assert asked and set(asked) == {nx.DiGraph}
    asked.clear()
    assert reach.check_expectations(plan) == []
    assert asked == []


def _questions(plan) -> list[tuple[str, str]]:
    """Every pair of the plan's VRFs and pods (the first 12 pods: a pod's answer is its VRFs')."""
    names = [v.name for v in plan.vrfs] + [p.name for p in plan.pods[:12]]
    return [(a, b) for a in names for b in names]


def test_the_plans_verdicts_are_the_route_graphs_on_every_example(compiled_examples):
    asked = 0
    for name, result in compiled_examples.items():
        plan = result.plan
        routes = reach.route_graph(plan)
        for a, b in _questions(plan):
            on_graph = reach.verdicts(plan, a, b, routes)
            assert reach.verdicts(plan, a, b, shared=plan.shared_targets) == on_graph, (name, a, b)
            asked += 1
    assert asked > 300


def test_the_route_graph_gives_the_full_graphs_and_the_plans_answers(compiled_examples):
    for name, result in compiled_examples.items():
        plan = result.plan
        routes = graph.routes(plan.vrfs)
        assert set(routes) == {v for v in plan.graph if v[0] in ("vrf", "target")}, name
        names = [v.name for v in plan.vrfs]
        for vrf in names:
            assert graph.route_sources(routes, vrf) == graph.route_sources(plan.graph, vrf) == plan.route_sources(vrf)
            for other in names:
                assert (graph.shared_targets(routes, vrf, other) == graph.shared_targets(plan.graph, vrf, other)
                        == plan.shared_targets(vrf, other)), (name, vrf, other)


class _VrfsOnly:
    """Just what reach reads of a plan when both ends of a question are whole VRFs."""

    def __init__(self, *vrfs: SimpleNamespace) -> None:
        self.vrfs = vrfs
        self._by_name = {v.name: v for v in vrfs}

    def has_pod(self, name: str) -> bool:
        return False

    def has_vrf(self, name: str) -> bool:
        return name in self._by_name

    def vrf(self, name: str) -> SimpleNamespace:
        return self._by_name[name]


def _vrf(name: str, imports: tuple[str, ...], exports: tuple[str, ...]) -> SimpleNamespace:
    """The fields of a PlannedVrf that reachability reads."""
    return SimpleNamespace(name=name, vni=1, imports=imports, exports=exports)


def test_routes_travel_one_hop_only():
    """A exports t1, B imports t1 and exports t2, C imports t2: B installs A's routes, C does not
    (a VRF does not pass on what it imports), although the graph has a path A -> ... -> C."""
    plan = _VrfsOnly(_vrf("a", (), ("target:1:1",)),
                     _vrf("b", ("target:1:1",), ("target:1:2",)),
                     _vrf("c", ("target:1:2",), ()))
    routes = reach.route_graph(plan)
    assert nx.has_path(routes, ("vrf", "a"), ("vrf", "c"))  # a path search would say yes

    [b_and_a] = reach.verdicts(plan, "b", "a", routes)
    assert b_and_a.forward.targets == ("target:1:1",) and b_and_a.forward.ok  # b's table holds a's routes
    [c_and_a] = reach.verdicts(plan, "c", "a", routes)
    assert c_and_a.forward.targets == () and not c_and_a.forward.ok  # c's table does not
    assert c_and_a.isolated


def test_random_vrf_sets_get_the_same_targets_from_the_plan_and_the_graph():
    from hypothesis import given
    from hypothesis import strategies as st

    from jcnrc.plan.planner import Plan

    targets = st.lists(st.sampled_from([f"target:1:{n}" for n in range(5)]), max_size=4, unique=True).map(tuple)

    @given(st.lists(st.tuples(targets, targets), min_size=1, max_size=6))
    def same(lists):
        plan = _VrfsOnly(*(_vrf(f"v{i}", imports, exports) for i, (imports, exports) in enumerate(lists)))
        routes = reach.route_graph(plan)
        for exporter in plan.vrfs:
            for importer in plan.vrfs:
                assert (Plan.shared_targets(plan, exporter.name, importer.name)  # type: ignore[arg-type]
                        == graph.shared_targets(routes, exporter.name, importer.name))
                plan_says = reach.verdicts(plan, importer.name, exporter.name,
                                           shared=lambda e, i: Plan.shared_targets(plan, e, i))  # type: ignore[arg-type]
                assert plan_says == reach.verdicts(plan, importer.name, exporter.name, routes)

    same()


@pytest.mark.parametrize("with_expect", [False, True])
def test_a_build_never_imports_networkx_for_expect(root, tmp_path, with_expect):
    import yaml

    data = yaml.safe_load((root / "examples" / "hub-and-spoke.yaml").read_text())
    if not with_expect:
        data.pop("expect")
    intent = tmp_path / "intent.yaml"
    intent.write_text(yaml.safe_dump(data, sort_keys=False))
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from jcnrc.pipeline import analyse
        result = analyse(Path({str(intent)!r}))
        assert result.plan is not None, [d.message for d in result.diagnostics]
        print("networkx" in sys.modules)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"
