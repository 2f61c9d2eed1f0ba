"""The optimised build writes the same bytes as the plain, un-optimised one (issue 8).

Every speed-up of the build keeps a plain reference that does the same work the slow,
obvious way. ``_reference_implementations`` swaps each one in:

- loading: the exact ruamel.yaml loader instead of the fast one (rapidyaml + json), which now
  reads intents of every size (the bundled examples too, which were below its old 64 KB threshold);
- ``escape.yaml_block``: its checks written per character and per line, as before 210570c;
- the templates' ``yaml`` and ``yaml_string`` filters: ruamel's ``VersionedResolver.resolve`` asked
  for every scalar, nothing remembered (``escape.yaml_scalar`` keeps what it wrote for a string and
  walks the resolvers' pattern table itself);
- ``Templates``: every template compiled afresh (no compiled code from this process, the cache
  folder or the shipped table) and looked up through Jinja at every render;
- ``render.templates.indented_json`` and the templates' ``json`` filter: ``escape.to_json`` (json.dumps
  with sorted keys, with or without indent=2);
- ``Plan.route_sources`` / ``Plan.shared_targets``: the networkx graph's answers (graph.py);
- ``routes._type5_nlri``: ``capture.format_type5``, which checks the RD and parses the prefix;
- ``routes._address_number``: ``int(ipaddress.ip_address(...))``;
- ``allocate.address_text`` (inet_ntop and integer formatting): ``str(ipaddress.ip_address(...))``; the lock's
  subnets read by ipaddress instead of ``allocate.canonical_network``;
- the memoised helpers (``render.common._network_sort_key``, ``routes._administrator_order``) computed
  again at every call.

A mid-size generated intent (60 nodes, 6 VRFs, 240 pods, 30 % explicit addresses, the rest
allocated) and every bundled example (both targets) are built both ways in the same run and
compared file by file, byte for byte, the expected routing state in its full and in its compact
form. What the examples' output is, is pinned by tests/test_golden.py (the committed out/).
"""

from __future__ import annotations

import ipaddress
import json
from contextlib import contextmanager
from pathlib import Path

from strategies import benchmark_intent

ROOT = Path(__file__).resolve().parent.parent
MID_SIZE = {"nodes": 60, "vrfs": 6, "pods_per_node": 4}  # benchmarks/generate.py, seed 0, 30 % explicit addresses
MID_NAME = "mid.yaml"
LOCK = "<lock file>"  # the allocation lock's text, compared like an output file


def build(intent: Path):
    """Every output file of `intent` as `jcnrc build` renders it and the allocation lock, and the Result."""
    from jcnrc.pipeline import Options, compile_intent

    result = compile_intent(intent, Options(), display_name=intent.name)
    assert result.ok and result.files is not None, [d.message for d in result.diagnostics if d.is_error]
    return {**result.files, LOCK: result.lock.to_json()}, result


# --- the reference implementations ---------------------------------------------------------

def _reference_yaml_block(text: str, indent: int) -> str:
    """escape.yaml_block with its two checks as they were before 210570c (a Python loop over
    every character, a split into lines), which that commit replaced with C-level string calls."""
    from jcnrc.render import escape

    if not text or any(not (ch.isprintable() or ch in "\n\t") for ch in text) or "\r" in text:
        return escape.yaml_quoted(text)
    if any(line != line.rstrip(" \t") for line in text.split("\n")):
        return escape.yaml_quoted(text)
    return escape.literal_block(text, indent)


def _reference_yaml_scalar(value):
    """escape.yaml_scalar as it was before issue 18: ruamel's resolvers asked for every string."""
    from jcnrc.render import escape

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise escape.EscapeError("floats are not written by jcnrc")
    text = str(value)
    if escape._PLAIN_SAFE.fullmatch(text) and not text.endswith(":") and escape._plain_is_string_by_resolve(text):
        return text
    return escape.yaml_quoted(text)


def _reference_template_render(self, name, **context):
    """Templates.render before issue 18: the template asked of Jinja at every render."""
    from jcnrc.render.templates import TemplateProblem, normalize

    env = self.go_template if ".tmpl." in name else self.text
    try:
        text = env.get_template(name).render(**context)
    except self._template_error as exc:
        raise TemplateProblem(name, exc) from exc
    return normalize(text)


@contextmanager
def _reference_implementations():
    import pytest

    from jcnrc import pipeline
    from jcnrc.intent import load
    from jcnrc.plan import allocate, graph
    from jcnrc.plan import expected as routes
    from jcnrc.plan.planner import Plan
    from jcnrc.render import common, escape, templates
    from jcnrc.verify import capture

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "load_file", lambda *args, **kwargs: load.load_file(*args, **{**kwargs, "fast": False}))
        patch.setitem(templates.FILTERS, "yaml_block", _reference_yaml_block)
        patch.setitem(templates.FILTERS, "yaml", _reference_yaml_scalar)
        patch.setitem(templates.FILTERS, "yaml_string", lambda value: _reference_yaml_scalar(str(value)))
        patch.setattr(templates.Templates, "render", _reference_template_render)
        patch.setattr(templates, "_COMPILED", {})  # compiled here, with the reference filters
        patch.setenv(templates.CACHE_ENV, "")  # and none from the cache folder
        patch.setattr(templates, "SHIPPED", None)  # nor from the shipped table
        patch.setitem(templates.FILTERS, "json", escape.to_json)
        for module in (templates, common):
            patch.setattr(module, "indented_json", lambda value: escape.to_json(value, indent=2))
        patch.setattr(Plan, "route_sources", lambda plan, vrf: graph.route_sources(plan.graph, vrf))
        patch.setattr(Plan, "shared_targets",
                      lambda plan, exporter, importer: graph.shared_targets(plan.graph, exporter, importer))
        patch.setattr(routes, "_type5_nlri", capture.format_type5)
        patch.setattr(routes, "_address_number", lambda text, family: int(ipaddress.ip_address(text)))
        patch.setattr(allocate, "address_text", _reference_address_text)
        patch.setattr(allocate, "canonical_network", lambda version, text: None)  # the lock read by ipaddress
        patch.setattr(common, "_network_sort_key", common._network_sort_key.__wrapped__)
        patch.setattr(routes, "_administrator_order", routes._administrator_order.__wrapped__)
        yield


def _reference_address_text(version: int, value: int) -> str:
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


def _compact(result) -> dict[str, str]:
    """The expected state in its compact form (the form of big topologies), rendered from the same plan."""
    from jcnrc.render import render
    from jcnrc.render.common import RenderOptions

    options = RenderOptions(intent_file=MID_NAME, intent_digest=result.source_digest, state_detail_limit=0)
    return {path: text for path, text in render(result.plan, options).items() if path.startswith("state/")}


# --- tests -----------------------------------------------------------------------------------

def _first_difference(expected: dict[str, str], actual: dict[str, str]) -> str | None:
    if expected.keys() != actual.keys():
        return (f"files only in the reference build: {sorted(expected.keys() - actual.keys())[:5]}; "
                f"only in the optimised build: {sorted(actual.keys() - expected.keys())[:5]}")
    for path in sorted(expected):
        if expected[path] != actual[path]:
            a, b = expected[path], actual[path]
            at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            return f"{path} differs at character {at}: reference {a[at - 40:at + 40]!r}, optimised {b[at - 40:at + 40]!r}"
    return None


def _mid_builds(tmp: Path):
    intent = tmp / MID_NAME
    intent.write_text(benchmark_intent(**MID_SIZE), encoding="utf-8")
    optimised, result = build(intent)
    compact = _compact(result)
    with _reference_implementations():
        reference, reference_result = build(intent)
        reference_compact = _compact(reference_result)
    return optimised, compact, reference, reference_compact


def test_mid_size_intent_builds_the_same_bytes_both_ways(tmp_path):
    optimised, compact, reference, reference_compact = _mid_builds(tmp_path)
    assert len(optimised) > 400 and any(path.startswith("state/vrfs/") for path in compact)
    full_state, compact_state = _first_difference(reference, optimised), _first_difference(reference_compact, compact)
    assert full_state is None, full_state
    assert compact_state is None, compact_state


def test_examples_build_the_same_bytes_both_ways(tmp_path):
    import json
    import shutil

    import yaml

    from jcnrc.pipeline import Options, compile_intent

    def jcnr_ready(path):
        """Target jcnr needs the JCNR data path; an example without one gets it in a copy (with its lock)."""
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if "fabricInterface" in data["cluster"]:
            return path
        data["cluster"]["fabricInterface"] = "eth1"
        for i, node in enumerate(data["nodes"]):
            node["fabricAddress"] = f"10.250.0.{10 + i}"
        copy = tmp_path / path.name
        copy.write_text(json.dumps(data), encoding="utf-8")
        if path.with_suffix(".lock.json").exists():
            shutil.copy(path.with_suffix(".lock.json"), copy.with_suffix(".lock.json"))
        return copy

    def build_all():
        built = {}
        for path in sorted((ROOT / "examples").glob("*.yaml")):
            for target in ("platter", "jcnr"):
                intent = jcnr_ready(path) if target == "jcnr" else path
                result = compile_intent(intent, Options(target=target), display_name=f"examples/{path.name}")
                assert result.ok, [d.message for d in result.diagnostics if d.is_error]
                built[(path.name, target)] = result.files
        return built

    optimised = build_all()
    with _reference_implementations():
        reference = build_all()
    problems = [(key, _first_difference(reference[key], optimised[key])) for key in optimised]
    assert not [p for p in problems if p[1]], [p for p in problems if p[1]]


def test_route_targets_without_the_graph_agree_with_the_graph(compiled_examples):
    from jcnrc.plan import graph

    for result in compiled_examples.values():
        plan = result.plan
        names = [v.name for v in plan.vrfs]
        for vrf in names:
            assert plan.route_sources(vrf) == graph.route_sources(plan.graph, vrf)
            for other in names:
                assert plan.shared_targets(vrf, other) == graph.shared_targets(plan.graph, vrf, other)


def test_indented_json_is_json_dumps_with_indent():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from jcnrc.render.escape import to_json
    from jcnrc.render.templates import indented_json

    def outcome(encode, value):
        try:
            return encode(value)
        except (TypeError, ValueError) as exc:  # keys that do not sort, say
            return type(exc)

    # No floats: jcnrc writes none (the intent model has none, escape refuses them), and orjson
    # writes their exponents otherwise than json.dumps (1e-06 against 1e-6).
    scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    keys = st.text(max_size=4) | st.integers(-2, 2) | st.none()  # non-string keys are left to json.dumps
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                          | st.dictionaries(keys, inner, max_size=4), max_leaves=30)

    @settings(max_examples=300, deadline=None)
    @given(values)
    def same(value):
        assert outcome(indented_json, value) == outcome(lambda v: to_json(v, indent=2), value)

    same()
    for value in ({"a": [], "b": {}, "c": [{}], "d": [[]]}, [{"x": "},\n  {"}], "\u2028\x00\x7f😀", 10 ** 30):
        assert indented_json(value) == json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def test_plain_scalars_resolve_as_ruamels_resolvers_say():
    """escape._plain_is_string walks ruamel's pattern table itself; ruamel's resolve() answers the same."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from jcnrc.render import escape

    special = ["", "y", "Y", "yes", "No", "on", "OFF", "n", "N", "true", "False", "null", "Null", "~", "0", "-0", "+1",
               "0x1F", "0o17", "017", "1_000", "1e3", "1E-3", ".5", ".inf", "-.Inf", ".NaN", "12:30", "1:2:3",
               "2020-01-01", "2020-1-1 10:00:00", "<<", "=", "20.04", "10.1.2.3", "fe80::1", "o", "O", "t", "f"]
    for text in special:
        assert escape._plain_is_string(text) == escape._plain_is_string_by_resolve(text), text

    @settings(max_examples=2000)
    @given(st.text(alphabet=st.sampled_from("0123456789abcdefxoOnNyYtTfFeE.:+-_~<=/ "), max_size=12)
           | st.text(max_size=8))
    def same(text):
        assert escape._plain_is_string(text) == escape._plain_is_string_by_resolve(text)

    same()


def test_the_yaml_filters_remember_only_what_they_would_write_again():
    """What yaml_scalar keeps for a str is what it writes for it; other types, str subclasses and
    long text are written as before; a full memory starts again."""
    from enum import Enum

    from jcnrc.render import escape

    class Word(str, Enum):
        ON = "on"

    values = [None, True, False, 1, 0, -7, 10 ** 30, "1", "true", "True", "on", "a:", "a: b", "x" * 300, "kube-system",
              Word.ON, "it's", "line\nbreak", "\u2028", "😀", ""]
    for _ in range(2):  # the second round answers from what the first one kept
        for value in values:
            assert escape.yaml_scalar(value) == _reference_yaml_scalar(value), value
            assert escape.yaml_string(value) == _reference_yaml_scalar(str(value)), value
    kept = escape._STRING_SCALARS
    assert "x" * 300 not in kept and "kube-system" in kept
    for index in range(escape._STRING_SCALARS_MAX + 5):
        escape.yaml_scalar(f"name-{index}")
    assert len(kept) <= escape._STRING_SCALARS_MAX
    assert escape.yaml_scalar("on") == "'on'"



def _examples_with_workloads(tmp_path: Path):
    """Every example, as it is and with every pod a bare Pod, each with its lock: (intent, display name)."""
    import json
    import shutil

    import yaml

    for path in sorted((ROOT / "examples").glob("*.yaml")):
        yield path, f"examples/{path.name}"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for pod in data["pods"]:
            pod["workload"] = "pod"
        copy = tmp_path / path.name
        copy.write_text(json.dumps(data), encoding="utf-8")
        if path.with_suffix(".lock.json").exists():
            shutil.copy(path.with_suffix(".lock.json"), copy.with_suffix(".lock.json"))
        yield copy, f"pods/{path.name}"


def test_the_pod_templates_own_metadata_is_what_the_shared_macro_writes(tmp_path, monkeypatch):
    """templates/common/pod.yaml.j2 writes its metadata itself (a macro call per pod is most of its
    cost) unless a template folder has its own _macros.j2: every example, its pods as Deployments and
    as bare Pods, builds to the same files both ways."""
    from jcnrc.pipeline import Options, compile_intent
    from jcnrc.render.templates import Templates

    def build_all():
        built = {}
        for intent, name in _examples_with_workloads(tmp_path):
            result = compile_intent(intent, Options(), display_name=name)
            assert result.ok, [d.message for d in result.diagnostics if d.is_error]
            built[name] = result.files
        return built

    own = build_all()
    assert any("kind: Pod\n" in text for files in own.values() for text in files.values())
    monkeypatch.setattr(Templates, "overrides", lambda self, name: True)  # as with a template folder's _macros.j2
    with_macro = build_all()
    problems = [(name, _first_difference(with_macro[name], own[name])) for name in own]
    assert not [p for p in problems if p[1]], [p for p in problems if p[1]]


def test_a_template_folders_macros_shape_the_workloads_too(tmp_path):
    """A `metadata` macro of the user's reaches every object, Deployments, their pod templates and bare Pods included."""
    from jcnrc import resources
    from jcnrc.pipeline import Options, compile_intent

    folder = tmp_path / "mine" / "common"
    folder.mkdir(parents=True)
    macros = (resources.folder("templates") / "common" / "_macros.j2").read_text(encoding="utf-8")
    marked = macros.replace("  labels:\n", "  labels:\n    team.example.com/owner: netops\n", 1)
    assert marked != macros
    (folder / "_macros.j2").write_text(marked, encoding="utf-8")
    workloads = 0
    for intent, name in _examples_with_workloads(tmp_path):
        result = compile_intent(intent, Options(templates=tmp_path / "mine"), display_name=name)
        assert result.ok and result.files is not None, name
        for path, text in result.files.items():
            if path.startswith("manifests/") and path.endswith(".yaml") and "kustomization" not in path:
                owners = text.count("team.example.com/owner: netops")
                assert owners == (2 if "kind: Deployment" in text else 1), (name, path)
                workloads += path.startswith(("manifests/deployment-", "manifests/pod-"))
    assert workloads > 20
