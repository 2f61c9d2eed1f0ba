"""Every text field of the intent model refuses a value that ends in a line break.

Python's `re.match` lets `$` match before a final line break, so a pattern written `^[a-z]+$`
accepted "t1\\n": a metadata.name ending in a line feed turned the rest of a comment in the
generated node-preparation script (run as root on every node) into a command. The model now
matches every pattern whole. This file proves it for every text field of the model, found by
walking the model rather than listed by hand, so a field added tomorrow is covered too: each one
either refuses a trailing LF, CR, NEL and LS at its own position, or is marked free text
(`model.FREE_TEXT`, a pod's command) and arrives in the output exactly, escaped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from jcnrc.intent import model, names
from jcnrc.intent.model import Topology
from jcnrc.render import escape
from strategies import compile_data, dump_intent, example_intent, get_at, set_at, write_intent, yaml_double_quoted

LINE_BREAKS = {"LF": "\n", "CR": "\r", "NEL": "\x85", "LS": "\u2028"}
ENVIRON = {"ZQ_ROOT": "root-secret-value", "ZQ_LICENCE": "licence-secret-value", "CRPD_ROOT_PASSWORD": "x" * 16}

# ----------------------------------------------------------------------------- walking the model

_ADDRESS_TYPES = ("IPv4Address", "IPv4Network", "IPv4Interface", "IPv6Address", "IPv6Network", "IPv6Interface")


def text_fields(annotation: Any = Topology, label: str = "", free: bool = False) -> dict[str, bool]:
    """Every field written as text, e.g. `pods[].command[]`, mapped to whether it is free text."""
    found: dict[str, bool] = {}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            key = info.alias or name
            found |= text_fields(info.annotation, f"{label}.{key}" if label else key, model.FREE_TEXT in info.metadata)
        return found
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return text_fields(args[0], label, free or model.FREE_TEXT in args[1:])
    if origin is list:
        return text_fields(args[0], label + "[]", free)
    if origin is typing.Literal:
        return {label: free} if all(isinstance(v, str) for v in args) else {}
    if origin is not None and args:  # unions: str | None, text | policy
        for arg in args:
            found |= text_fields(arg, label, free)
        return found
    if annotation is str or getattr(annotation, "__name__", "") in _ADDRESS_TYPES:
        return {label: free}
    return {}


def label_of(path: tuple) -> str:
    """`("pods", 0, "command", 1)` -> `pods[].command[]`."""
    out = ""
    for part in path:
        out += "[]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def text_leaves(data: Any, prefix: tuple = ()) -> Iterator[tuple]:
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        if isinstance(value, str):
            yield (*prefix, key)
        else:
            yield from text_leaves(value, (*prefix, key))


def value_position(intent: Path, path: tuple) -> tuple[int, int]:
    """Line and column (1-based) where the value at `path` starts in the intent file."""
    from ruamel.yaml import YAML

    parent = YAML().load(intent.read_text(encoding="utf-8"))
    for part in path[:-1]:
        parent = parent[part]
    line, column = parent.lc.value(path[-1]) if isinstance(path[-1], str) else parent.lc.item(path[-1])
    return line + 1, column + 1


# ----------------------------------------------------------------------------- intents that set every field


def _full_intent() -> dict:
    """The walkthrough with every optional text field written, a policy route target and an isolate."""
    data = example_intent()
    data["target"] = "platter"
    data["cluster"]["kubeConfig"] = "/etc/kubernetes/kubelet.conf"
    data["cluster"]["cniCredentials"] = "kubelet"
    data["cluster"]["asymmetricRouteTargets"] = "nad-vrf-target"
    data["cluster"]["underlay"] = {"igp": "isis"}
    data["images"]["nodePrep"] = "zq.example.com/prep:1"
    data["nodes"][1]["isoLoopback"] = "49.0004.1111.2222.3333.00"
    data["nodes"][1]["ipv6Loopback"] = "abcd::77:1"
    data["nodes"][1]["fabricInterface"] = "ens5"  # the JCNR fields; target platter ignores them
    data["cluster"]["jcnr"] = {"registry": "zq.example.com", "repository": "zq-repo/", "crpdTag": "zq-crpd-1",
                               "vrouterTag": "zq-vrouter-1", "cniTag": "zq-cni-1", "cpuCoreMask": "2,3",
                               "uioDriver": "vfio-pci", "storageClass": "zq-class"}
    data["pods"][0]["command"] = ["sleep", "zq-arg"]
    data["pods"][0]["workload"] = "pod"  # the bare Pod; the other pod is a Deployment
    data["pods"][0]["networks"][0]["interface"] = "net1"
    data["pods"][0]["networks"][0]["mac"] = "02:00:00:00:77:77"
    data["vrfs"].append({"name": "red", "routeTarget": {"import": ["77:78"], "export": ["77:79"]}, "vni": 10088,
                         "ipv4Pool": "1.2.0.0/16"})
    data["expect"].append({"isolate": ["blue", "red"]})
    data["secrets"] = {"mode": "external-secrets", "rootPassword": {"env": "ZQ_ROOT"}, "crpdLicense": {"file": "zq-licence.txt"},
                       "store": {"kind": "ClusterSecretStore", "name": "zq-store", "rootPasswordKey": "zq/root",
                                 "crpdLicenseKey": "zq/licence"}}
    return data


def _swapped_secret_sources() -> dict:
    data = _full_intent()
    data["secrets"]["rootPassword"] = {"file": "zq-root.txt"}
    data["secrets"]["crpdLicense"] = {"env": "ZQ_LICENCE"}
    return data


INTENTS = {"full": _full_intent, "swapped-secrets": _swapped_secret_sources}


def _cases() -> dict[str, tuple[str, tuple]]:
    """One (intent, concrete path) for each text field of the model."""
    cases: dict[str, tuple[str, tuple]] = {}
    for name, make in INTENTS.items():
        for path in text_leaves(make()):
            cases.setdefault(label_of(path), (name, path))
    return cases


FIELDS = text_fields()
CASES = _cases()


def test_the_walk_finds_nested_lists_unions_and_the_free_text_marker():
    for expected in ("metadata.name", "vrfs[].routeTarget", "vrfs[].routeTarget.import[]", "secrets.store.name",
                     "pods[].networks[].ipv6", "nodes[].role", "expect[].isolate[]", "cluster.kubeConfig"):
        assert expected in FIELDS
    assert "cluster.asn" not in FIELDS and "vrfs[].vni" not in FIELDS
    assert [label for label, free in FIELDS.items() if free] == ["pods[].command[]"]


def test_the_intents_here_set_every_text_field_of_the_model():
    missing = set(FIELDS) - set(CASES)
    assert not missing, f"text fields no intent in this file sets (extend _full_intent): {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(INTENTS))
def test_each_base_intent_builds_clean(name, tmp_path):
    data = INTENTS[name]()
    (tmp_path / "zq-licence.txt").write_text("licence-file-value-0123456789\n")
    (tmp_path / "zq-root.txt").write_text("root-file-value-0123456789\n")
    result = compile_data(data, tmp_path, environ=ENVIRON)
    assert result.ok, [f"{d.code} {d.path} {d.message}" for d in result.diagnostics if d.is_error]


# ----------------------------------------------------------------------------- the proof


_PLACEHOLDER = "zqplaceholderzq"


@pytest.mark.parametrize("label", sorted(label for label, free in FIELDS.items() if not free))
def test_every_validated_text_field_refuses_a_trailing_line_break(label, tmp_path):
    """The intent is written once with a placeholder at the field (where ruamel's reader puts the
    value's start: the position every diagnostic at the field must give), then once per line break
    with the value in its place, double-quoted and escaped."""
    from jcnrc.pipeline import Options, compile_intent

    intent, path = CASES[label]
    data = INTENTS[intent]()
    ordinary = get_at(data, path)
    set_at(data, path, _PLACEHOLDER)
    text = dump_intent(data)
    assert text.count(_PLACEHOLDER) == 1
    (tmp_path / "placeholder.yaml").write_text(text, encoding="utf-8")
    line, column = value_position(tmp_path / "placeholder.yaml", path)
    accepted = []
    for break_name, line_break in LINE_BREAKS.items():
        intent_file = tmp_path / break_name / "topology.yaml"
        intent_file.parent.mkdir()
        intent_file.write_text(text.replace(_PLACEHOLDER, yaml_double_quoted(ordinary + line_break)), encoding="utf-8")
        result = compile_intent(intent_file, Options(environ=ENVIRON), display_name=intent_file.name)
        errors = [d for d in result.diagnostics if d.is_error]
        at_field = [d for d in errors if tuple(d.path[: len(path)]) == path]
        if result.ok or not at_field:
            accepted.append((break_name, [f"{d.code} {d.path}" for d in errors]))
            continue
        positions = {(item.line, item.column) for item in result.located() if item.diagnostic in at_field}
        assert (line, column) in positions, (break_name, (line, column), positions)
    assert not accepted, f"{label} took a value ending in a line break: {accepted}"


@pytest.mark.parametrize("break_name", sorted(LINE_BREAKS))
def test_free_text_keeps_its_line_break_and_arrives_exactly(break_name, tmp_path):
    from ruamel.yaml import YAML

    data = _full_intent()
    data["secrets"] = {"rootPassword": {"env": "ZQ_ROOT"}, "crpdLicense": {"env": "ZQ_LICENCE"}}
    data["pods"][0]["command"] = ["sh", "-c", "echo one" + LINE_BREAKS[break_name]]
    # Written escaped ("\u2028"): raw, ruamel's writer would break the line there, which YAML 1.2
    # readers (jcnrc's) read as the character followed by a folded line break.
    intent = write_intent(data, tmp_path)
    intent.write_text(json.dumps(data, ensure_ascii=True), encoding="utf-8")  # JSON is YAML 1.2
    from jcnrc.pipeline import Options, compile_intent

    result = compile_intent(intent, Options(environ=ENVIRON), display_name=intent.name)
    assert result.ok
    pod = next(text for path, text in result.files.items() if path.endswith(f"pod-{data['pods'][0]['name']}.yaml"))
    container = YAML(typ="safe").load(pod)["spec"]["containers"][0]
    assert container["command"] == data["pods"][0]["command"]


# ----------------------------------------------------------------------------- the reproducer


def test_a_metadata_name_with_a_line_feed_is_refused_at_its_position_and_nothing_is_written(tmp_path):
    """The report's reproducer: `a;touch PWNED;.yaml` with `name: "t1\\n"` built with exit 0 and the
    node-preparation script ran `touch PWNED`."""
    data = example_intent()
    data["metadata"]["name"] = "t1\n"
    intent = write_intent(data, tmp_path, name="a;touch PWNED;.yaml")
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "jcnrc", "build", intent.name, "-o", str(out), "--quiet"],
                         cwd=tmp_path, capture_output=True, text=True, env={"CRPD_ROOT_PASSWORD": "x" * 16, "PATH": ""})
    assert run.returncode == 1, run.stderr
    line = next(n for n, text in enumerate(intent.read_text().splitlines(), 1) if text.lstrip().startswith("name:"))
    assert f"a;touch PWNED;.yaml:{line}:" in run.stderr and "error[JCN201]" in run.stderr, run.stderr
    assert not out.exists() and not (tmp_path / "PWNED").exists()


def test_shell_comments_quote_the_intent_file_name(tmp_path):
    """A comment line in a generated script never carries raw input text: the file name is quoted."""
    data = example_intent()
    data["secrets"] = {"rootPassword": {"env": "ZQ_ROOT"}, "crpdLicense": {"env": "ZQ_LICENCE"}}
    intent = write_intent(data, tmp_path, name="a;touch PWNED;.yaml")
    from jcnrc.pipeline import Options, compile_intent

    result = compile_intent(intent, Options(environ=ENVIRON), display_name=intent.name)
    assert result.ok
    scripts = {path: text for path, text in result.files.items() if path.endswith(".sh")}
    assert scripts
    for path, text in scripts.items():
        for line in text.splitlines():
            if line.startswith("#") and "PWNED" in line:
                assert "'a;touch PWNED;.yaml'" in line, (path, line)


# ----------------------------------------------------------------------------- the last line of defence


@pytest.mark.parametrize("line_break", sorted(LINE_BREAKS.values()), ids=sorted(LINE_BREAKS))
def test_escape_filters_and_name_checks_refuse_or_quote_a_trailing_line_break(line_break):
    with pytest.raises(escape.EscapeError):
        escape.junos_identifier("blue" + line_break)
    assert escape.yaml_scalar("ubuntu:20.04" + line_break) != "ubuntu:20.04" + line_break
    for pattern, good in ((names.DNS1123_LABEL, "t1"), (names.DNS1123_SUBDOMAIN, "node.example"), (names.VRF_NAME, "blue"),
                          (names.LINUX_IFNAME, "net1"), (names.IMAGE_REFERENCE, "ubuntu:20.04"),
                          (names.MAC_ADDRESS, "02:00:00:00:00:01"), (names.ISO_NET, "49.0004.1111.2222.3333.00"),
                          (names.ROUTE_TARGET, "11:11"), (names.ENV_VARIABLE, "X"),
                          (names.SECRET_FILE, "a.txt"), (names.NODE_PATH, "/etc/kubernetes/kubelet.conf"),
                          (names.KUBECONFIG_PATH, "/etc/kubernetes/kubelet.conf"), (names.STORE_KEY, "a/b")):
        assert names.full_match(pattern, good)
        assert not names.full_match(pattern, good + line_break), (pattern, line_break)


def test_no_module_matches_a_dollar_anchored_pattern_with_re_match():
    """A guard for the future: jcnrc's own code calls `fullmatch` (or `names.full_match`) on syntax patterns."""
    root = Path(__file__).resolve().parent.parent / "jcnrc"
    offenders = []
    for source in sorted(root.rglob("*.py")):
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
            if "Field(pattern=" in line or "pattern=names." in line:
                offenders.append(f"{source.name}:{number}: {line.strip()}")
    assert not offenders, offenders


def test_a_text_that_matched_once_is_remembered_as_itself_and_nothing_else():
    """FullMatch remembers the texts that matched (a big intent repeats node, VRF and image names):
    a text that matched before still passes, a near one with a line break is still refused, and a
    str subclass claiming to equal anything is never taken for a remembered text."""
    from pydantic import ValidationError

    class Sly(str):
        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return hash("blue")

    for _ in range(2):
        assert model.Metadata.model_validate({"name": "blue"}).name == "blue"
    for refused in ("blue\n", Sly("Not A Name!"), "Blue"):
        with pytest.raises(ValidationError):
            model.Metadata.model_validate({"name": refused})
