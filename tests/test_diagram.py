"""Diagrams (jcnrc.render.diagram, templates/diagram/) and the output folder README (issue 7).

Mermaid is checked by tests/mermaid_syntax.py (and by the real Mermaid parser when
JCNRC_MERMAID_MODULES names a folder holding node_modules/mermaid and node_modules/jsdom);
DOT, SVG and PNG by Graphviz when `dot` is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

import mermaid_syntax
from conftest import EXAMPLES, HANG_GUARD, JCNRC, ROOT
from jcnrc.intent.check import check
from jcnrc.pipeline import analyse
from jcnrc.plan import expected as routes
from jcnrc.plan.planner import plan as make_plan
from jcnrc.render import diagram, escape
from jcnrc.render.common import RenderOptions, common_context
from jcnrc.render.templates import Templates

AKS = ROOT / "examples" / "aks-evpn-type5.yaml"
AKS_NODES = ["aks-agentpool-23733201-vmss000000", "aks-agentpool-23733201-vmss000001", "aks-agentpool-23733201-vmss000002"]
needs_graphviz = pytest.mark.skipif(shutil.which("dot") is None, reason=(
    "Graphviz's `dot` is not on PATH: this test has Graphviz itself read or draw the output; install Graphviz "
    "(.ci/run installs it with apt-get)"))


# --- helpers -------------------------------------------------------------------------------

def example_plan(path: Path = AKS):
    result = analyse(path)
    assert result.plan is not None, [d.message for d in result.diagnostics if d.is_error]
    return result.plan


def synthetic_intent(workers: int = 2, pods_per_worker: int = 1, vrfs: list[dict] | None = None, masters: int = 1) -> dict:
    """A kubeadm topology; pods take the VRFs in turn."""
    vrfs = vrfs or [{"name": "blue", "routeTarget": "11:11", "ipv4Pool": "1.1.0.0/16"}]
    nodes = [{"name": f"master-{i}", "address": f"10.240.0.{4 + i}", "role": "master"} for i in range(masters)]
    nodes += [{"name": f"worker-{i}", "address": f"10.240.{1 + i // 200}.{10 + i % 200}", "role": "worker"}
              for i in range(workers)]
    pods = []
    for w in range(workers):
        for p in range(pods_per_worker):
            vrf = vrfs[(w * pods_per_worker + p) % len(vrfs)]["name"]
            pods.append({"name": f"pod-{w}-{p}", "node": f"worker-{w}", "image": "ubuntu:20.04", "networks": [{"vrf": vrf}]})
    return {
        "apiVersion": "jcnrc/v1", "kind": "Topology", "metadata": {"name": "synthetic"},
        "cluster": {"provider": "kubeadm", "asn": 64512, "nodeSubnet": "10.240.0.0/16",
                    "podCidr": "10.244.0.0/16", "serviceCidr": "10.0.0.0/16"},
        "images": {"platter": "registry.example.com/platter:1", "crpd": "registry.example.com/crpd:1"},
        "nodes": nodes, "vrfs": vrfs, "pods": pods,
        "secrets": {"rootPassword": {"env": "ROOT"}, "crpdLicense": {"env": "LICENSE"}},
    }


def synthetic_plan(**kwargs):
    checked = check(synthetic_intent(**kwargs))
    assert checked.ok, [d.message for d in checked.diagnostics if d.is_error]
    planned = make_plan(checked.topology)
    assert planned.plan is not None, [d.message for d in planned.diagnostics if d.is_error]
    return planned.plan


def hub_and_spoke_vrfs() -> list[dict]:
    return [
        {"name": "red", "routeTarget": "1:1", "ipv4Pool": "20.1.0.0/16"},
        {"name": "blue", "routeTarget": "2:2", "ipv4Pool": "20.2.0.0/16"},
        {"name": "shared", "routeTarget": {"import": ["1:1", "2:2", "3:3"], "export": ["3:3"]}, "ipv4Pool": "20.3.0.0/16"},
        {"name": "spoke", "routeTarget": {"import": ["3:3"], "export": ["1:1"]}, "ipv4Pool": "20.4.0.0/16"},
    ]


def mermaid(plan, **kwargs) -> mermaid_syntax.Flowchart:
    return mermaid_syntax.check(diagram.render(plan, "mermaid", **kwargs))


def labels(chart: mermaid_syntax.Flowchart) -> dict[str, str]:
    return {v.id: v.text for v in chart.vertices.values()}


def readme(plan, **extra) -> str:
    """The README as render.py renders it, with the diagram in the context."""
    ctx = common_context(plan, RenderOptions(intent_file="examples/x.yaml", intent_digest="0" * 64, version="9.9.9"))
    states = {n.name: routes.node_state(plan, n.name) for n in plan.nodes}
    return Templates(None).render("common/README.md.j2", **{**ctx, "manifest_order": ["pod-a.yaml"], "states": states,
                                                            "diagram": diagram.render(plan, "mermaid"), **extra})


def mermaid_block(markdown: str) -> str:
    blocks = re.findall(r"^```mermaid\n(.*?)^```$", markdown, flags=re.S | re.M)
    assert len(blocks) == 1, "expected exactly one mermaid block"
    return blocks[0]


# --- Mermaid -------------------------------------------------------------------------------

@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_draws_valid_mermaid_with_every_filter(example):
    plan = example_plan(example)
    views = [{}] + [{"vrf": v.name} for v in plan.vrfs] + [{"node": n.name} for n in plan.nodes]
    views += [{"vrf": v.name, "node": n.name} for v in plan.vrfs for n in plan.nodes]
    for view in views:
        chart = mermaid(plan, **view)
        assert chart.direction == "LR", view
        assert set(chart.link_styles) == set(range(len(chart.edges))), f"every edge is styled: {view}"


def test_aks_example_shows_nodes_by_role_pods_in_their_nodes_and_vrf_blue():
    plan = example_plan()
    chart = mermaid(plan)
    groups = {s.id: s for s in chart.subgraphs.values()}
    titles = {s.text: s.id for s in groups.values()}
    assert titles["route reflectors (masters)"] == "masters"
    master_box = titles[AKS_NODES[0]]
    assert groups[master_box].parent == "masters"
    for worker in AKS_NODES[1:]:
        assert groups[titles[worker]].parent == "workers"
    text = labels(chart)
    pod_ids = {text[v]: v for v in text if text[v] in ("ubuntu-du11", "ubuntu-du22")}
    assert chart.vertices[pod_ids["ubuntu-du11"]].parent == titles[AKS_NODES[1]]
    assert chart.vertices[pod_ids["ubuntu-du22"]].parent == titles[AKS_NODES[2]]
    assert "route reflector\n10.240.0.4" in text.values()
    assert "cRPD\n10.240.0.5" in text.values() and "cRPD\n10.240.0.6" in text.values()
    assert "VRF blue\nVNI 10002\nRT target:11:11\n1.1.0.0/16\nabcd::101:0/112" in text.values()


def test_aks_example_attachments_carry_addresses_and_sessions_go_to_the_route_reflector():
    chart = mermaid(example_plan())
    text = labels(chart)
    by_label = {text[e.source]: e for e in chart.edges if e.source.startswith("pod_")}
    assert by_label["ubuntu-du11"].text == "net1\n1.1.11.2/30\nabcd::101:b02/126"
    assert by_label["ubuntu-du22"].text == "net1\n1.1.22.2/30\nabcd::101:1602/126"
    assert {text[e.target] for e in by_label.values()} == {"VRF blue\nVNI 10002\nRT target:11:11\n1.1.0.0/16\nabcd::101:0/112"}
    sessions = [(text[e.source], text[e.target], e.arrow) for e in chart.edges if e.text == "iBGP"]
    assert sessions == [("cRPD\n10.240.0.5", "route reflector\n10.240.0.4", "-.->"),
                        ("cRPD\n10.240.0.6", "route reflector\n10.240.0.4", "-.->")]
    # attachments take the VRF's colour, sessions another one
    assert chart.link_styles[0] == chart.link_styles[1] != chart.link_styles[2]


def test_ids_are_generated_never_raw_names():
    chart = mermaid(example_plan())
    for vertex_id in list(chart.vertices) + list(chart.subgraphs):
        assert re.fullmatch(r"[a-z]+(_[A-Za-z0-9]+)*", vertex_id), vertex_id
        assert vertex_id not in {"ubuntu-du11", "blue"} and "-" not in vertex_id


def test_safe_ids_keep_clashing_names_apart():
    ids = diagram.safe_ids("node", ["a-b", "a.b", "c"])
    assert ids["c"] == "node_c"
    assert ids["a-b"] != ids["a.b"]
    assert all(re.fullmatch(r"node_[A-Za-z0-9_]+", v) for v in ids.values())
    assert ids == diagram.safe_ids("node", ["c", "a.b", "a-b"]), "independent of order"


def test_route_target_imports_are_drawn_from_the_exporting_vrf():
    plan = synthetic_plan(workers=3, pods_per_worker=2, vrfs=hub_and_spoke_vrfs())
    chart = mermaid(plan)
    text = labels(chart)
    name = {v: text[v].split("\n")[0].removeprefix("VRF ") for v in text if v.startswith("vrf_")}
    links = sorted((name[e.source], name[e.target], e.text, e.arrow) for e in chart.edges
                   if e.source.startswith("vrf_") and e.target.startswith("vrf_"))
    assert links == [
        ("blue", "shared", "target:2:2", "-->"),
        ("red", "shared", "target:1:1", "-->"),
        ("shared", "spoke", "target:3:3", "-->"),
        ("spoke", "red", "target:1:1", "-->"),
        ("spoke", "shared", "target:1:1", "-->"),
    ]
    shared = next(v for v in text if name.get(v) == "shared")
    assert "import target:1:1 target:2:2 target:3:3\nexport target:3:3" in text[shared]


def test_vrfs_that_import_each_other_the_same_way_get_one_two_headed_edge():
    vrfs = [{"name": "east", "routeTarget": {"import": ["5:5"], "export": ["5:5", "6:6"]}, "ipv4Pool": "20.5.0.0/16"},
            {"name": "west", "routeTarget": {"import": ["5:5"], "export": ["5:5", "7:7"]}, "ipv4Pool": "20.6.0.0/16"}]
    chart = mermaid(synthetic_plan(vrfs=vrfs))
    links = [(e.source, e.arrow, e.text, e.target) for e in chart.edges if e.source.startswith("vrf_")]
    assert links == [("vrf_east", "<-->", "target:5:5", "vrf_west")]


def test_vrf_filter_keeps_its_pods_route_reflectors_and_route_partners():
    plan = synthetic_plan(workers=3, pods_per_worker=2, vrfs=hub_and_spoke_vrfs())
    chart = mermaid(plan, vrf="red")
    text = labels(chart)
    pods = sorted(t for v, t in text.items() if v.startswith("pod_"))
    assert pods == sorted(a.pod for a in plan.attachments if a.vrf == "red")
    vrfs = {text[v].split("\n")[0]: chart.vertices[v].classes for v in text if v.startswith("vrf_")}
    assert set(vrfs) == {"VRF red", "VRF shared", "VRF spoke"}, "blue exchanges no route with red"
    assert vrfs["VRF red"][0].startswith("vrf") and not vrfs["VRF red"][0].startswith("vrfctx")
    assert vrfs["VRF shared"][0].startswith("vrfctx") and vrfs["VRF spoke"][0].startswith("vrfctx")
    assert "route reflector\n10.240.0.4" in text.values()
    assert "VRF red only" in text["notes"]


def test_node_filter_draws_that_node_and_its_peers_without_their_pods():
    plan = synthetic_plan(workers=3, pods_per_worker=2, vrfs=hub_and_spoke_vrfs())
    chart = mermaid(plan, node="worker-1")
    text = labels(chart)
    assert sorted(t for v, t in text.items() if v.startswith("pod_")) == ["pod-1-0", "pod-1-1"]
    titles = sorted(s.text for s in chart.subgraphs.values() if s.id.startswith("node_"))
    assert titles == ["master-0 (peer)", "worker-1"]
    master_chart = mermaid(plan, node="master-0")
    master_titles = sorted(s.text for s in master_chart.subgraphs.values() if s.id.startswith("node_"))
    assert master_titles == ["master-0", "worker-0 (peer)", "worker-1 (peer)", "worker-2 (peer)"]
    assert not [v for v in master_chart.vertices if v.startswith("pod_")]
    assert len([e for e in master_chart.edges if e.text == "iBGP"]) == 3


def test_labels_show_any_text_verbatim_without_breaking_the_syntax():
    nasty = ['a "quoted" name', "end", "<b>bold</b> & #quot; `code`", "back\\slash ]) }} |pipe|", "two\nlines", "ünïcödé ✓",
             "x;y%%z"]
    for text in nasty:
        label = escape.mermaid_string(text)
        chart = mermaid_syntax.check(f"flowchart LR\n  v[{label}] -->|{label}| w({label})\n  subgraph s[{label}]\n  end\n")
        assert chart.vertices["v"].text == text
        assert chart.vertices["w"].text == text
        assert chart.edges[0].text == text
        assert chart.subgraphs["s"].text == text


@pytest.mark.skipif(not os.environ.get("JCNRC_MERMAID_MODULES") or shutil.which("node") is None, reason=(
    "Mermaid's own parser is not available: set JCNRC_MERMAID_MODULES to a node_modules folder holding mermaid and "
    "jsdom, with Node.js on PATH (.ci/run installs them with npm and sets it)"))
def test_real_mermaid_parses_every_example(tmp_path):
    modules = Path(os.environ["JCNRC_MERMAID_MODULES"])
    script = tmp_path / "parse.mjs"
    script.write_text(MERMAID_PARSE_SCRIPT, encoding="utf-8")
    plans = [example_plan(e) for e in EXAMPLES] + [synthetic_plan(workers=3, pods_per_worker=2, vrfs=hub_and_spoke_vrfs()),
                                                   synthetic_plan(workers=30, pods_per_worker=3)]
    for position, plan in enumerate(plans):
        source = tmp_path / f"d{position}.mmd"
        source.write_text(diagram.render(plan, "mermaid"), encoding="utf-8")
        done = subprocess.run(["node", str(script), str(source)], capture_output=True, text=True, timeout=HANG_GUARD,
                              env={**os.environ, "JCNRC_MERMAID_MODULES": str(modules)})
        assert done.returncode == 0 and done.stdout.startswith("OK flowchart"), done.stdout + done.stderr


MERMAID_PARSE_SCRIPT = """
import { createRequire } from 'module';
import { pathToFileURL } from 'url';
import fs from 'fs';
const require = createRequire(process.env.JCNRC_MERMAID_MODULES + '/');
const { JSDOM } = require('jsdom');
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window; globalThis.document = dom.window.document;
const { default: mermaid } = await import(pathToFileURL(require.resolve('mermaid')).href);
mermaid.initialize({ startOnLoad: false });
try {
  const result = await mermaid.parse(fs.readFileSync(process.argv[2], 'utf8'));
  console.log('OK ' + result.diagramType);
} catch (e) { console.log('FAIL ' + (e.message || e)); process.exit(1); }
"""


# --- collapsing large topologies -----------------------------------------------------------

def test_a_node_with_many_pods_draws_one_box_with_counts_per_vrf():
    plan = synthetic_plan(workers=2, pods_per_worker=12, vrfs=hub_and_spoke_vrfs()[:2])
    drawing = diagram.build(plan)
    assert drawing.collapsed == ("pods",)
    chart = mermaid(plan)
    text = labels(chart)
    assert not [v for v in text if v.startswith("pod_")]
    boxes = sorted(t for v, t in text.items() if v.startswith("pods_"))
    assert boxes == ["12 pods", "12 pods"]
    per_vrf = sorted((text[e.source], e.text, text[e.target].split("\n")[0]) for e in chart.edges if e.source.startswith("pods_"))
    assert per_vrf == [("12 pods", "6 interfaces", "VRF blue"), ("12 pods", "6 interfaces", "VRF blue"),
                       ("12 pods", "6 interfaces", "VRF red"), ("12 pods", "6 interfaces", "VRF red")]
    assert "more than 8 pods" in text["notes"]


def test_only_the_crowded_node_collapses_below_the_total_limit():
    intent = synthetic_intent(workers=2, pods_per_worker=2)
    intent["pods"] += [{"name": f"extra-{i}", "node": "worker-0", "image": "ubuntu:20.04", "networks": [{"vrf": "blue"}]}
                       for i in range(8)]
    checked = check(intent)
    plan = make_plan(checked.topology).plan
    text = labels(mermaid(plan))
    assert text["pods_worker_0"] == "10 pods"
    assert sorted(t for v, t in text.items() if v.startswith("pod_")) == ["pod-1-0", "pod-1-1"]


def test_many_pods_in_total_collapse_every_node():
    plan = synthetic_plan(workers=10, pods_per_worker=5)
    text = labels(mermaid(plan))
    assert sorted(v for v in text if v.startswith("pods_")) == sorted(f"pods_worker_{i}" for i in range(10))
    assert "50 pods: each node draws its pods as one box (more than 40 pods)" in text["notes"]


def test_many_workers_collapse_into_one_box_with_counts_per_vrf_and_session_counts():
    plan = synthetic_plan(workers=30, pods_per_worker=3, vrfs=hub_and_spoke_vrfs()[:2], masters=2)
    drawing = diagram.build(plan)
    assert drawing.collapsed == ("workers",)
    chart = mermaid(plan)
    text = labels(chart)
    assert text["workers_all"] == "30 workers\n90 pods"
    edges = sorted((e.text, text[e.target].split("\n")[0]) for e in chart.edges if e.source == "workers_all")
    assert edges == [("30 iBGP sessions", "route reflector"), ("30 iBGP sessions", "route reflector"),
                     ("45 interfaces\non 30 workers", "VRF blue"), ("45 interfaces\non 30 workers", "VRF red")]
    assert not [s for s in chart.subgraphs if s.startswith("node_worker")]


def test_a_mesh_of_vrf_imports_is_drawn_through_route_target_vertices():
    vrfs = [{"name": f"v{i}", "routeTarget": {"import": ["9:9"], "export": ["9:9", f"{i + 1}:{i + 1}"]},
             "ipv4Pool": f"20.{i}.0.0/16"} for i in range(10)]
    plan = synthetic_plan(workers=5, pods_per_worker=2, vrfs=vrfs)
    drawing = diagram.build(plan)
    assert drawing.collapsed == ("vrf-links",)
    chart = mermaid(plan)
    text = labels(chart)
    assert [t for v, t in text.items() if v.startswith("rt_")] == ["target:9:9"]
    assert not [e for e in chart.edges if e.source.startswith("vrf_") and e.target.startswith("vrf_")]
    assert len([e for e in chart.edges if e.target == "rt_target_9_9"]) == 10
    assert len([e for e in chart.edges if e.source == "rt_target_9_9"]) == 10
    assert "45 VRF-to-VRF lines would be more than 40" in text["notes"]


def test_a_large_topology_stays_within_what_github_renders():
    vrfs = [{"name": f"v{i}", "routeTarget": f"{i + 1}:{i + 1}", "ipv4Pool": f"20.{i}.0.0/16"} for i in range(20)]
    plan = synthetic_plan(workers=100, pods_per_worker=10, vrfs=vrfs, masters=3)
    text = diagram.render(plan, "mermaid")
    assert len(text) < 50_000, "GitHub refuses Mermaid text above 50 000 characters"
    chart = mermaid_syntax.check(text)
    assert len(chart.edges) == 20 + 3


def test_limits_are_parameters():
    plan = synthetic_plan(workers=3, pods_per_worker=2)
    assert diagram.build(plan).collapsed == ()
    assert diagram.build(plan, limits=diagram.Limits(pods_per_node=1)).collapsed == ("pods",)
    assert diagram.build(plan, limits=diagram.Limits(workers=2)).collapsed == ("workers",)


# --- determinism ---------------------------------------------------------------------------

def test_diagrams_are_byte_stable_and_independent_of_intent_order(tmp_path):
    plan = example_plan()
    for fmt in ("mermaid", "dot"):
        first = diagram.render(plan, fmt)
        assert first == diagram.render(example_plan(), fmt)
        assert "\r" not in first and first.endswith("\n") and not first.endswith("\n\n")
    data = yaml.safe_load(AKS.read_text(encoding="utf-8"))
    for key in ("nodes", "pods", "vrfs"):
        data[key] = list(reversed(data[key]))
    shuffled = tmp_path / "aks-evpn-type5.yaml"
    shuffled.write_text(yaml.safe_dump(data), encoding="utf-8")
    reordered = example_plan(shuffled)
    assert diagram.render(reordered, "mermaid") == diagram.render(plan, "mermaid")
    assert diagram.render(reordered, "dot") == diagram.render(plan, "dot")


def test_colours_follow_the_vrf_not_the_filter():
    plan = synthetic_plan(workers=3, pods_per_worker=2, vrfs=hub_and_spoke_vrfs())
    full = mermaid(plan)
    only_spoke = mermaid(plan, vrf="spoke")
    assert full.vertices["vrf_spoke"].classes == only_spoke.vertices["vrf_spoke"].classes == ["vrf3"]


# --- DOT and Graphviz ----------------------------------------------------------------------

def test_dot_escapes_labels():
    assert escape.dot_string('a"b\\N&amp;\nc\x01') == '"a\\"b\\\\N&amp;amp;\\nc&#1;"'


@needs_graphviz
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_graphviz_reads_the_dot_of_every_example(example):
    plan = example_plan(example)
    for view in [{}] + [{"vrf": v.name} for v in plan.vrfs] + [{"node": n.name} for n in plan.nodes]:
        layout = json.loads(diagram.run_graphviz(diagram.render(plan, "dot", **view), "json"))
        names = {o["name"] for o in layout.get("objects", [])}
        assert "cluster_vrfs" in names, view


@needs_graphviz
def test_graphviz_shows_labels_verbatim():
    nasty = ['a "q" b', "back\\N", "&amp; <b>", "two\nlines"]
    dot_text = "digraph g {\n" + "".join(f"  v{i} [label={escape.dot_string(t)}];\n" for i, t in enumerate(nasty)) + "}\n"
    svg = ET.fromstring(diagram.run_graphviz(dot_text, "svg"))
    shown = {}
    for node in svg.iter("{http://www.w3.org/2000/svg}g"):
        title = node.find("{http://www.w3.org/2000/svg}title")
        if title is not None and node.get("class") == "node":
            shown[title.text] = "\n".join(t.text for t in node.iter("{http://www.w3.org/2000/svg}text"))
    assert shown == {f"v{i}": t for i, t in enumerate(nasty)}


@needs_graphviz
def test_graphviz_failure_is_reported_with_its_message():
    with pytest.raises(diagram.GraphvizFailed, match=r"`dot -Tsvg` failed \(exit 1\): .*syntax error"):
        diagram.run_graphviz("digraph {", "svg")


def test_missing_graphviz_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(diagram.shutil, "which", lambda name: None)
    with pytest.raises(diagram.GraphvizMissing, match="apt-get install graphviz"):
        diagram.render(example_plan(), "svg")
    assert isinstance(diagram.render(example_plan(), "dot"), str), "text formats need no Graphviz"


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="mermaid, dot, svg, png"):
        diagram.render(example_plan(), "gif")


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*JCNRC, *args], capture_output=True, timeout=HANG_GUARD, cwd=ROOT,
                          env=env or dict(os.environ))


@needs_graphviz
def test_cli_draws_the_aks_example_as_svg():
    done = run_cli("graph", "examples/aks-evpn-type5.yaml", "--format", "svg")
    assert done.returncode == 0, done.stderr.decode()
    svg = ET.fromstring(done.stdout)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    for name in [*AKS_NODES, "ubuntu-du11", "ubuntu-du22", "VRF blue"]:
        assert name in texts, name


@needs_graphviz
def test_cli_writes_png_to_a_file(tmp_path):
    target = tmp_path / "topology.png"
    done = run_cli("graph", "examples/aks-evpn-type5.yaml", "--format", "png", "-o", str(target))
    assert done.returncode == 0, done.stderr.decode()
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_cli_without_graphviz_fails_with_the_install_hint(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # an empty folder: no `dot`
    done = run_cli("graph", "examples/aks-evpn-type5.yaml", "--format", "svg", env=env)
    assert done.returncode == 2
    assert b"apt-get install graphviz" in done.stderr
    assert done.stdout == b""


def test_cli_mermaid_matches_the_library():
    done = run_cli("graph", "examples/aks-evpn-type5.yaml", "--vrf", "blue")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode() == diagram.render(example_plan(), "mermaid", vrf="blue")


# --- the output folder README --------------------------------------------------------------

def test_readme_embeds_a_valid_diagram_and_the_inventory():
    plan = example_plan()
    text = readme(plan)
    assert mermaid_block(text) == diagram.render(plan, "mermaid")
    mermaid_syntax.check(mermaid_block(text))
    assert "Generated by jcnrc 9.9.9 from `examples/x.yaml` (sha256 of its parsed data `" + "0" * 64 + "`:" in text
    assert "| blue | 10002 | target:11:11 | target:11:11 | `<node>:1` | 1.1.0.0/16 | abcd::101:0/112 |" in text
    assert ("| ubuntu-du11 | aks-agentpool-23733201-vmss000001 | net1 | blue | 1.1.11.2/30 | 1.1.11.1 "
            "| abcd::101:b02/126 |") in text
    assert "   - `pod-a.yaml`" in text


def test_readme_says_what_each_verification_command_must_show():
    text = readme(example_plan())
    worker = text.split("### aks-agentpool-23733201-vmss000001 (10.240.0.5, worker)")[1].split("### ")[0]
    assert "`show bgp summary` lists 1 iBGP peer in AS 64512, in state `Establ`:" in worker
    assert "- 10.240.0.4, route reflector aks-agentpool-23733201-vmss000000" in worker
    assert "`show route table blue.evpn.0` holds 4 EVPN Type-5 routes" in worker
    assert "5:10.240.0.5:1::0::1.1.11.0::30/248         EVPN, next hop 10.240.0.5, VNI 10002" in worker
    assert "5:10.240.0.6:1::0::1.1.22.0::30/248         BGP from 10.240.0.4, next hop 10.240.0.6, VNI 10002" in worker
    master = text.split("### aks-agentpool-23733201-vmss000000 (10.240.0.4, route reflector)")[1].split("### ")[0]
    assert "lists 2 iBGP peers" in master and "- 10.240.0.6, client aks-agentpool-23733201-vmss000002" in master


def test_readme_stays_bounded_for_a_large_topology():
    vrfs = [{"name": "blue", "routeTarget": "11:11", "ipv4Pool": "1.1.0.0/16"}]
    plan = synthetic_plan(workers=40, pods_per_worker=3, vrfs=vrfs, masters=2)
    text = readme(plan)
    verify = text.split("## Verify")[1]
    assert len(re.findall(r"^### ", verify, flags=re.M)) == 2 + 6
    assert "... and 34 more nodes: see `state/<node>.txt`." in verify
    assert "`show route table blue.evpn.0` holds 120 EVPN Type-5 routes" in verify
    assert "... and 112 more" in verify
    assert "lists 40 iBGP peers" in verify and "- ... and 32 more" in verify
    mermaid_syntax.check(mermaid_block(text))


def test_readme_is_byte_stable():
    first, second = readme(example_plan()), readme(example_plan())
    assert first == second
    assert "\r" not in first and first.endswith("\n") and not first.endswith("\n\n")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_compiled_readme_carries_the_diagram(compiled_examples, example):
    """Needs render.py to pass `diagram=jcnrc.render.diagram.render(plan, "mermaid")` to common/README.md.j2."""
    result = compiled_examples[example.name]
    text = result.files["README.md"]
    assert "```mermaid" in text, "render.py does not pass `diagram` to the README template yet"
    assert mermaid_block(text) == diagram.render(result.plan, "mermaid")


def test_a_jcnr_drawing_shows_each_crpd_with_its_fabric_address():
    """Under JCNR the route-reflector sessions join fabric addresses, so the drawing names them too."""
    from jcnrc.pipeline import Options

    result = analyse(AKS, Options(target="jcnr"))
    assert result.plan is not None
    for fmt in ("mermaid", "dot"):
        text = diagram.render(result.plan, fmt)
        for node in result.plan.nodes:
            assert node.fabric_address and f"fabric {node.fabric_address}" in text and node.address in text
    assert "fabric" not in diagram.render(example_plan(), "mermaid")  # Platter: the node address only


def test_route_neighbours_are_what_a_scan_of_every_vrf_pair_finds():
    """The reverse index that replaced a scan of every VRF per VRF (quadratic: 4000 VRFs took 9 s)."""
    plan = example_plan(ROOT / "examples" / "hub-and-spoke.yaml")
    sources = {v.name: plan.route_sources(v.name) for v in plan.vrfs}
    for name in sources:
        scanned = sources[name] | {other for other, theirs in sources.items() if name in theirs}
        assert diagram._route_neighbours(plan, [name]) == scanned
    assert diagram._route_neighbours(plan, ["hub"]) >= {"spoke-a", "spoke-b"}
