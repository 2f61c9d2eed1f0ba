"""The package's shape: stages pass data forward, never backwards, and no module imports in a circle.

    load/check (intent) -> plan -> render -> output        and, beside them, verify

Every `import` of every module (also those inside functions) is read from the source with `ast`,
so a lazy import cannot hide a cycle or a backward step.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "jcnrc"
# The order of the stages; a module may import its own wing and earlier ones.
STAGES = ["intent", "plan", "render", "output"]
# Modules at the top: shared by every stage (diagnostics, resources) or driving them (pipeline, cli).
SHARED = {"jcnrc", "jcnrc.diagnostics", "jcnrc.resources"}
DRIVERS = {"jcnrc.pipeline", "jcnrc.cli", "jcnrc.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> nx.DiGraph:
    graph = nx.DiGraph()
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    for name, path in modules.items():
        graph.add_node(name)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jcnrc"):
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = [t if t in modules else node.module for t in targets]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names if alias.name.startswith("jcnrc")]
            else:
                continue
            for target in targets:
                own_package = target in modules and modules[target].name == "__init__.py" and name.startswith(target + ".")
                if target != name and not own_package:
                    graph.add_edge(name, target)
    return graph


def wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in [*STAGES, "verify"]) else None


def test_no_import_circle():
    graph = imports()
    assert graph.number_of_edges() > 60  # the walk finds the imports at all
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import circles: {cycles}"


def test_no_stage_imports_a_later_stage_and_only_drivers_import_the_verifier():
    backwards = []
    for source, target in imports().edges:
        if source in DRIVERS or target in SHARED:
            continue
        from_wing, to_wing = wing(source), wing(target)
        to_verifier = to_wing == "verify" and from_wing != "verify"
        to_later_stage = from_wing in STAGES and to_wing in STAGES and STAGES.index(to_wing) > STAGES.index(from_wing)
        if to_verifier or to_later_stage:
            backwards.append((source, target))
        elif from_wing is None and source not in SHARED:
            backwards.append((source, target))  # a new top-level module: give it a wing
        elif source in SHARED and target not in SHARED:
            backwards.append((source, target))
    assert not backwards, f"imports against the stage order: {backwards}"


def test_every_module_lives_in_a_wing_or_is_one_of_the_top_modules():
    top = {module_name(p) for p in PACKAGE.glob("*.py")}
    assert top == SHARED | DRIVERS, sorted(top - SHARED - DRIVERS)


def test_targets_are_a_registry_of_one_module_and_one_template_folder_each():
    import importlib

    from jcnrc.render import TARGETS

    for target, module in TARGETS.items():
        assert callable(importlib.import_module(module).render)
        assert (ROOT / "templates" / target).is_dir()
    literal = [(p.name, n) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent.name != "render"
               for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
               if "render_jcnr" in line or "_render_platter" in line]
    assert not literal, literal
