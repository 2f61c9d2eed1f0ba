"""Injection matrix: every string field of the intent x every hostile value x every output language.

The intent comes from pull requests; its strings end up in YAML, JSON inside YAML, Junos
configuration, shell scripts that run as root, and file names. For every field and every value
in ``strategies.HOSTILE`` the compiler must do one of two things:

* reject it: ``compile_intent`` returns an error diagnostic with a code, a path at the field
  (or one of the places that name the same thing) and a position, and raises nothing; or
* render it so that every output, read back by its real consumer (PyYAML and ruamel, json,
  POSIX shell words with their expansions, the Junos parser), holds exactly that value wherever
  the value of a well-behaved build stands, and nothing else: no extra document, key, statement,
  word or expansion.

Most fields are validated (names, addresses, images, keywords) and refuse every hostile value:
one test per such field proves that, looping over every value (``VALIDATED``). The fields whose
text reaches an output as free text accept some hostile values, and get the full matrix, one
test per field and value, in both targets (``FREE_TEXT``, and the intent's own file name). A
validated field that starts accepting a hostile value fails its test, which says to move it to
``FREE_TEXT_FIELDS``: the escaping guarantee never depends on someone remembering to.

"Exactly there and nothing else" is checked by difference: the hostile build and a build with
an ordinary value are both read back, each value is replaced by one marker, and the two must be
equal with the same number of markers. Scripts that carry intent values also run, with stub
commands on PATH that record their argv, to show the value arrives as one argument.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import shlex
import stat
import subprocess
import traceback
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from conftest import HANG_GUARD
from jcnrc.intent.model import Topology
from strategies import (
    HOSTILE,
    INTENT_NAME,
    OutputProblem,
    compile_data,
    dump_intent,
    example_intent,
    first_difference,
    read_output,
    read_outputs,
    read_yaml,
    replace_value,
    set_at,
    write_intent,
    yaml_double_quoted,
)

CODE = re.compile(r"^JCN\d{3}$")

# ----------------------------------------------------------------------------- the fields


@dataclass(frozen=True)
class Field:
    """One intent value and every place that must repeat it (references to the same name)."""

    label: str
    paths: tuple[tuple, ...]  # where the value is written; the first is the field itself
    base: str  # an ordinary, valid value that occurs nowhere else in the output
    covers: tuple[str, ...]  # model fields (as `string_fields` names them) this entry exercises
    setup: Callable[[dict], None] | None = None  # makes the field matter (a mode, a second VRF)
    scripts: tuple[str, ...] = ()  # scripts that carry the value and are run with stubs

    def intent(self, value: str, target: str = "platter") -> dict:
        data = copy.deepcopy(_BASE_INTENT)
        data["target"] = target
        if self.setup:
            self.setup(data)
        for path in self.paths:
            set_at(data, path, value)
        return data


def base_intent() -> dict:
    """The walkthrough intent with explicit values everywhere a field is optional."""
    data = example_intent()
    data["cluster"]["kubeConfig"] = "/var/lib/kubelet/kubeconfig"  # the AKS kubelet's own: no warning (JCN916)
    data["images"]["nodePrep"] = "zq.example.com/prep:1"
    data["nodes"][1]["isoLoopback"] = "49.0004.1111.2222.3333.00"
    data["nodes"][1]["ipv6Loopback"] = "abcd::77:1"
    data["pods"][0]["command"] = ["sleep", "zq-arg"]
    data["pods"][0]["networks"][0]["mac"] = "02:00:00:00:77:77"
    data["secrets"] = {"rootPassword": {"env": "ZQ_ROOT"}, "crpdLicense": {"file": "zq-licence.txt"}}
    return data


_BASE_INTENT = base_intent()


def _external_secrets(data: dict) -> None:
    data["secrets"]["mode"] = "external-secrets"
    data["secrets"]["store"] = {"kind": "ClusterSecretStore", "name": "zq-store", "rootPasswordKey": "zq/root",
                                "crpdLicenseKey": "zq/licence"}


def _file_root_password(data: dict) -> None:
    data["secrets"]["rootPassword"] = {"file": "zq-root.txt"}


def _env_licence(data: dict) -> None:
    data["secrets"]["crpdLicense"] = {"env": "ZQ_LICENCE"}


def _policy_targets(data: dict) -> None:
    # 77:78 is imported from nowhere; 77:79 is exported and imported, so the pods still reach each other.
    data["vrfs"][0]["routeTarget"] = {"import": ["77:78", "77:79"], "export": ["77:79"]}


def _isolated_second_vrf(data: dict) -> None:
    data["vrfs"].append({"name": "zqred", "routeTarget": "88:88", "vni": 10088, "ipv4Pool": "1.2.0.0/16"})
    data["expect"].append({"isolate": ["blue", "zqred"]})


def _jcnr_chart(data: dict) -> None:
    data["cluster"]["jcnr"] = {}


def _pods_in(data: dict, vrf: str) -> list[tuple]:
    return [("pods", j, "networks", k, "vrf") for j, pod in enumerate(data["pods"])
            for k, net in enumerate(pod["networks"]) if net["vrf"] == vrf]


def _with_underlay(data: dict) -> None:
    data["cluster"]["underlay"] = {"igp": "none"}


_EXAMPLE = example_intent()
FIELDS: tuple[Field, ...] = (
    Field("apiVersion", (("apiVersion",),), "jcnrc/v1", ("apiVersion",)),
    Field("kind", (("kind",),), "Topology", ("kind",)),
    Field("target", (("target",),), "platter", ("target",)),
    Field("metadata.name", (("metadata", "name"),), "zq-topo", ("metadata.name",)),
    Field("metadata.namespace", (("metadata", "namespace"),), "zq-ns", ("metadata.namespace",)),
    Field("cluster.provider", (("cluster", "provider"),), "aks", ("cluster.provider",)),
    Field("cluster.nodeSubnet", (("cluster", "nodeSubnet"),), "10.240.0.0/16", ("cluster.nodeSubnet",)),
    Field("cluster.podCidr", (("cluster", "podCidr"),), "10.244.0.0/16", ("cluster.podCidr",)),
    Field("cluster.serviceCidr", (("cluster", "serviceCidr"),), "10.0.0.0/16", ("cluster.serviceCidr",)),
    Field("cluster.cniCredentials", (("cluster", "cniCredentials"),), "kubelet", ("cluster.cniCredentials",)),
    Field("cluster.asymmetricRouteTargets", (("cluster", "asymmetricRouteTargets"),), "nad-vrf-target",
          ("cluster.asymmetricRouteTargets",)),
    Field("cluster.underlay.igp", (("cluster", "underlay", "igp"),), "isis", ("cluster.underlay.igp",),
          setup=_with_underlay),
    Field("cluster.kubeConfig", (("cluster", "kubeConfig"),), "/etc/kubernetes/kubelet.conf", ("cluster.kubeConfig",),
          scripts=("node-prep",)),
    Field("images.platter", (("images", "platter"),), "zq.example.com/platter:1", ("images.platter",)),
    Field("images.crpd", (("images", "crpd"),), "zq.example.com/crpd:1", ("images.crpd",)),
    Field("images.nodePrep", (("images", "nodePrep"),), "zq.example.com/prep:1", ("images.nodePrep",)),
    Field("node name (and pods[].node)", (("nodes", 1, "name"), ("pods", 0, "node")), "zq-node1",
          ("nodes[].name", "pods[].node")),
    Field("nodes[].address", (("nodes", 1, "address"),), "10.240.0.77", ("nodes[].address",)),
    Field("nodes[].role", (("nodes", 1, "role"),), "worker", ("nodes[].role",)),
    Field("nodes[].isoLoopback", (("nodes", 1, "isoLoopback"),), "49.0004.1111.2222.3333.00", ("nodes[].isoLoopback",)),
    Field("nodes[].ipv6Loopback", (("nodes", 1, "ipv6Loopback"),), "abcd::77:1", ("nodes[].ipv6Loopback",)),
    Field("nodes[].fabricAddress", (("nodes", 1, "fabricAddress"),), "10.241.0.77", ("nodes[].fabricAddress",)),
    Field("nodes[].fabricInterface", (("nodes", 1, "fabricInterface"),), "zqfab2", ("nodes[].fabricInterface",)),
    Field("cluster.fabricInterface", (("cluster", "fabricInterface"),), "zqfab1", ("cluster.fabricInterface",)),
    *(Field(f"cluster.jcnr.{key}", (("cluster", "jcnr", key),), base, (f"cluster.jcnr.{key}",), setup=_jcnr_chart)
      for key, base in (("registry", "zq.example.com"), ("repository", "zq-repo/"), ("crpdTag", "zq-crpd-1"),
                        ("vrouterTag", "zq-vrouter-1"), ("cniTag", "zq-cni-1"), ("cpuCoreMask", "7,9"),
                        ("uioDriver", "uio_pci_generic"), ("storageClass", "zq-class"))),
    Field("VRF name (and networks[].vrf)", (("vrfs", 0, "name"), *_pods_in(_EXAMPLE, "blue")), "zqvrf",
          ("vrfs[].name", "pods[].networks[].vrf")),
    Field("vrfs[].routeTarget", (("vrfs", 0, "routeTarget"),), "77:77", ("vrfs[].routeTarget",)),
    Field("vrfs[].routeTarget.import[]", (("vrfs", 0, "routeTarget", "import", 0),), "77:78",
          ("vrfs[].routeTarget.import[]",), setup=_policy_targets),
    Field("vrfs[].routeTarget.export[]", (("vrfs", 0, "routeTarget", "export", 0), ("vrfs", 0, "routeTarget", "import", 1)),
          "77:79", ("vrfs[].routeTarget.export[]",), setup=_policy_targets),
    Field("vrfs[].ipv4Pool", (("vrfs", 0, "ipv4Pool"),), "1.1.0.0/16", ("vrfs[].ipv4Pool",)),
    Field("vrfs[].ipv6Pool", (("vrfs", 0, "ipv6Pool"),), "abcd::101:0/112", ("vrfs[].ipv6Pool",)),
    Field("pod name (and expect[].reach[])", (("pods", 0, "name"), ("expect", 0, "reach", 0)), "zq-pod1",
          ("pods[].name", "expect[].reach[]")),
    Field("pods[].image", (("pods", 0, "image"),), "zq.example.com/app:1", ("pods[].image",)),
    Field("pods[].command[]", (("pods", 0, "command", 1),), "zq-arg", ("pods[].command[]",)),
    Field("pods[].workload", (("pods", 0, "workload"),), "pod", ("pods[].workload",)),
    Field("networks[].interface", (("pods", 0, "networks", 0, "interface"),), "zqif1", ("pods[].networks[].interface",)),
    Field("networks[].ipv4", (("pods", 0, "networks", 0, "ipv4"),), "1.1.11.2/30", ("pods[].networks[].ipv4",)),
    Field("networks[].ipv6", (("pods", 0, "networks", 0, "ipv6"),), "abcd::101:b02/126", ("pods[].networks[].ipv6",)),
    Field("networks[].mac", (("pods", 0, "networks", 0, "mac"),), "02:00:00:00:77:77", ("pods[].networks[].mac",)),
    Field("secrets.mode", (("secrets", "mode"),), "reference", ("secrets.mode",)),
    Field("secrets.rootPassword.env", (("secrets", "rootPassword", "env"),), "ZQ_ROOT",
          ("secrets.rootPassword.env",), scripts=("create-secrets",)),
    Field("secrets.rootPassword.file", (("secrets", "rootPassword", "file"),), "zq-root.txt",
          ("secrets.rootPassword.file",), setup=_file_root_password, scripts=("create-secrets",)),
    Field("secrets.crpdLicense.file", (("secrets", "crpdLicense", "file"),), "zq-licence.txt",
          ("secrets.crpdLicense.file",), scripts=("create-secrets",)),
    Field("secrets.crpdLicense.env", (("secrets", "crpdLicense", "env"),), "ZQ_LICENCE",
          ("secrets.crpdLicense.env",), setup=_env_licence, scripts=("create-secrets",)),
    Field("secrets.store.kind", (("secrets", "store", "kind"),), "ClusterSecretStore", ("secrets.store.kind",),
          setup=_external_secrets),
    Field("secrets.store.name", (("secrets", "store", "name"),), "zq-store", ("secrets.store.name",),
          setup=_external_secrets),
    Field("secrets.store.rootPasswordKey", (("secrets", "store", "rootPasswordKey"),), "zq/root",
          ("secrets.store.rootPasswordKey",), setup=_external_secrets),
    Field("secrets.store.crpdLicenseKey", (("secrets", "store", "crpdLicenseKey"),), "zq/licence",
          ("secrets.store.crpdLicenseKey",), setup=_external_secrets),
    Field("VRF name in expect[].isolate[]", (("vrfs", 1, "name"), ("expect", 1, "isolate", 1)), "zqred",
          ("expect[].isolate[]",), setup=_isolated_second_vrf),
)

# Fields whose text reaches an output as free text: each accepts hostile values (quotes, spaces,
# `$`, `;`, and for a pod's command line breaks too), found by trying every field with every value.
# They get the full matrix; every other field must refuse every hostile value.
FREE_TEXT_FIELDS = ("pods[].command[]", "secrets.rootPassword.file", "secrets.crpdLicense.file",
                    "secrets.store.rootPasswordKey", "secrets.store.crpdLicenseKey")
FREE_TEXT = tuple(f for f in FIELDS if f.label in FREE_TEXT_FIELDS)
VALIDATED = tuple(f for f in FIELDS if f.label not in FREE_TEXT_FIELDS)

# ----------------------------------------------------------------------------- known bugs

# (field label, hostile key) -> the bug, as the xfail reason. The owners remove entries as they fix them.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


# ----------------------------------------------------------------------------- the model's string fields

_TEXT_TYPES = ("str", "IPv4Address", "IPv4Network", "IPv4Interface", "IPv6Address", "IPv6Network", "IPv6Interface")


def string_fields(model: type[BaseModel] = Topology, prefix: str = "") -> set[str]:
    """Every field of the intent model that is written as text, e.g. `pods[].command[]`."""
    found: set[str] = set()
    for name, info in model.model_fields.items():
        key = info.alias or name
        found |= _text_leaves(info.annotation, f"{prefix}{key}")
    return found


def _text_leaves(annotation: Any, label: str) -> set[str]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _text_leaves(typing.get_args(annotation)[0], label)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return string_fields(annotation, label + ".")
    if origin is list:
        return _text_leaves(typing.get_args(annotation)[0], label + "[]")
    if origin is typing.Literal:
        return {label} if all(isinstance(v, str) for v in typing.get_args(annotation)) else set()
    if origin is not None and typing.get_args(annotation):  # unions: str | None, str | Policy
        found: set[str] = set()
        for arg in typing.get_args(annotation):
            found |= _text_leaves(arg, label)
        return found
    return {label} if getattr(annotation, "__name__", "") in _TEXT_TYPES else set()


def test_matrix_covers_every_string_field_of_the_model():
    covered = {label for f in FIELDS for label in f.covers}
    missing = string_fields() - covered
    assert not missing, f"string fields without an injection entry (add them to FIELDS): {sorted(missing)}"
    assert not covered - string_fields(), f"FIELDS names fields the model no longer has: {sorted(covered - string_fields())}"


def test_every_field_is_free_text_or_validated():
    assert len(FREE_TEXT) == len(FREE_TEXT_FIELDS), "FREE_TEXT_FIELDS names a field FIELDS does not have"
    assert {f.label for f in FREE_TEXT} | {f.label for f in VALIDATED} == {f.label for f in FIELDS}
    from test_field_syntax import FIELDS as MODEL_FIELDS

    marked = {label for label, free in MODEL_FIELDS.items() if free}  # the model's own FREE_TEXT marker
    assert marked <= {label for f in FREE_TEXT for label in f.covers}, marked


def test_string_fields_walks_nested_models_lists_and_unions():
    fields = string_fields()
    for expected in ("pods[].command[]", "vrfs[].routeTarget", "vrfs[].routeTarget.import[]", "secrets.store.name",
                     "pods[].networks[].ipv6", "nodes[].role"):
        assert expected in fields
    assert "cluster.asn" not in fields and "vrfs[].vni" not in fields


# ----------------------------------------------------------------------------- baselines


@dataclass
class Expected:
    """What a build with another value must read back as: the ordinary build's files, each read
    back with the ordinary value replaced by a marker (`replace_value`), and how often it was."""

    value: str
    texts: dict[str, str]
    replaced: dict[str, tuple[Any, int]]

    @classmethod
    def of(cls, files: dict[str, str], value: str) -> Expected:
        return cls(value, dict(files), {path: replace_value(parsed, value) for path, parsed in read_outputs(files).items()})

    @property
    def count(self) -> int:
        return sum(count for _, count in self.replaced.values())


class Baselines:
    """The ordinary build of each field (per target), compiled once and read back once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.cache: dict[tuple[str, str], Expected] = {}

    def expected(self, f: Field, target: str) -> Expected:
        key = (f.label, target)
        if key not in self.cache:
            result = _compile(f, f.base, target, self.folder / f"{len(self.cache)}")
            assert result.ok and result.files, f"{f.label}: the baseline does not compile: {_errors(result)}"
            self.cache[key] = Expected.of(result.files, f.base)
        return self.cache[key]


ENVIRON = {"ZQ_ROOT": "root-secret", "ZQ_LICENCE": "licence-secret", "CRPD_ROOT_PASSWORD": "x"}


@pytest.fixture(scope="module")
def baselines(tmp_path_factory) -> Baselines:
    return Baselines(tmp_path_factory.mktemp("baselines"))


@pytest.mark.parametrize("target", ["platter", "jcnr"])
def test_every_free_text_baseline_compiles_and_carries_its_value(baselines, target):
    """The matrix is only as good as its baselines: each builds in both targets, and each value
    shows up in the output, or the matrix would prove nothing about it."""
    silent = [f.label for f in FREE_TEXT if baselines.expected(f, target).count == 0]
    assert not silent, f"values missing from the ordinary build's output: {silent}"


def test_every_validated_baseline_is_valid(tmp_path):
    """A validated field's refusals prove something only if its ordinary value passes: the whole
    analysis (load, check, plan) of each baseline is clean."""
    from jcnrc.pipeline import Options, analyse

    for index, f in enumerate(VALIDATED):
        result = analyse(write_intent(f.intent(f.base), tmp_path / str(index)), Options(environ=ENVIRON))
        assert result.ok and result.plan is not None, f"{f.label}: {_errors(result)}"


# ----------------------------------------------------------------------------- the matrix


def _cases():
    for f in FREE_TEXT:
        for key in HOSTILE:
            marks = []
            if (f.label, key) in KNOWN_BUGS:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[(f.label, key)]))
            yield pytest.param(f, key, id=f"{f.label}-{key}", marks=marks)


@pytest.mark.parametrize(("f", "key"), list(_cases()))
def test_hostile_value_is_rejected_or_rendered_exactly(f: Field, key: str, baselines, tmp_path):
    payload = HOSTILE[key]
    for variant, value in enumerate((f.base + payload, payload + f.base)):
        outcome = _compile(f, value, "platter", tmp_path / f"platter-{variant}")
        if not outcome.ok:
            check_rejected(f, value, outcome)
            continue
        # Both generations render every accepted value; JCNR once per payload keeps the matrix fast.
        for target in ("platter", "jcnr") if variant == 0 else ("platter",):
            result = outcome if target == "platter" else _compile(f, value, target, tmp_path / f"{target}-{variant}")
            assert result.ok, f"{f.label}={value!r}: accepted for platter, refused for {target}: {_errors(result)}"
            check_rendered_exactly(f, value, target, baselines.expected(f, target), result)
            check_scripts(f, result, tmp_path / f"run-{target}-{variant}")


@pytest.mark.parametrize("f", VALIDATED, ids=lambda f: f.label)
def test_a_validated_field_refuses_every_hostile_value(f: Field, tmp_path):
    """Every value of HOSTILE, after and before an ordinary value, is refused with an error at the
    field. Each is checked as the pipeline checks a loaded intent (`check`, which refuses them
    all today); one the checks let through goes through the whole pipeline (plan included), and
    if that accepts it, the field belongs in FREE_TEXT_FIELDS. How the loader reads hostile text
    is the free-text matrix's business: it reads every value of HOSTILE there."""
    from jcnrc.intent.check import check
    from jcnrc.intent.load import load_file

    source = load_file(write_intent(f.intent(f.base), tmp_path / "base")).source  # the values start where the base's do
    accepted = []
    for key, payload in HOSTILE.items():
        for variant, value in enumerate((f.base + payload, payload + f.base)):
            try:
                diagnostics = check(f.intent(value)).diagnostics
            except Exception:  # noqa: BLE001  (any exception is the finding: fail with its traceback)
                pytest.fail(f"{f.label}={value!r}: check raised instead of reporting:\n{traceback.format_exc()}")
            where = source
            if not _errors_at(f, diagnostics):
                result = _compile(f, value, "platter", tmp_path / f"{key}-{variant}")
                if result.ok:
                    accepted.append(f"{key} ({value!r})")
                    continue
                diagnostics, where = result.diagnostics, result.source
            _check_refusal(f, value, diagnostics, where)
    assert not accepted, (f"{f.label} accepts hostile text: {accepted}. If that is intended, add it to FREE_TEXT_FIELDS, "
                          "where the full matrix proves such text is rendered exactly in every output")


def _compile(f: Field, value: str, target: str, folder: Path):
    from jcnrc.pipeline import Options, compile_intent

    folder.mkdir(parents=True, exist_ok=True)
    intent = folder / INTENT_NAME
    intent.write_text(_intent_text(f, target).replace(_PLACEHOLDER, yaml_double_quoted(value)), encoding="utf-8")
    try:
        return compile_intent(intent, Options(environ=ENVIRON), display_name=INTENT_NAME)
    except Exception:  # noqa: BLE001  (any exception is the finding: fail with its traceback)
        pytest.fail(f"{f.label}={value!r} ({target}): compile_intent raised instead of reporting:\n{traceback.format_exc()}")


# The intent of a field is written once, with this in the field's places, and each value then
# takes its place as a double-quoted YAML scalar: the same file `write_intent` writes, without
# running ruamel's pure-Python writer for each of the matrix's thousand builds.
_PLACEHOLDER = "zqplaceholderzq"


@functools.cache
def _intent_text(f: Field, target: str) -> str:
    text = dump_intent(f.intent(_PLACEHOLDER, target))
    assert text.count(_PLACEHOLDER) == len(f.paths), (f.label, text.count(_PLACEHOLDER))
    return text


def test_yaml_double_quoted_reads_back_exactly_with_the_loader():
    from jcnrc.intent.load import load_bytes

    values = [*HOSTILE.values(), *(f"{f.base}{v}" for f in FREE_TEXT for v in HOSTILE.values()), "\x85\u2028\ud800x"]
    text = "".join(f"v{i}: {yaml_double_quoted(v)}\n" for i, v in enumerate(values))
    loaded = load_bytes(text.encode("utf-8", "surrogatepass"), "x.yaml")
    assert loaded.ok and loaded.data == {f"v{i}": v for i, v in enumerate(values)}, loaded.diagnostics[:3]


def _errors(result) -> list[str]:
    return [f"{d.code} {'.'.join(map(str, d.path))}: {d.message}" for d in result.diagnostics if d.is_error]


def check_rejected(f: Field, value: str, result) -> None:
    _check_refusal(f, value, result.diagnostics, result.source)


def _errors_at(f: Field, diagnostics) -> list:
    return [d for d in diagnostics if d.is_error and any(tuple(d.path[: len(p)]) == p for p in f.paths)]


def _check_refusal(f: Field, value: str, diagnostics, source) -> None:
    from jcnrc.diagnostics import locate

    errors = [d for d in diagnostics if d.is_error]
    assert errors, f"{f.label}={value!r}: not ok but no error diagnostic"
    for item in locate(diagnostics, source):
        assert item.line >= 1 and item.column >= 1, item
        assert CODE.match(item.diagnostic.code), item.diagnostic
    assert _errors_at(f, diagnostics), (f"{f.label}={value!r}: rejected, but no error points at {[list(p) for p in f.paths]}: "
                                        f"{[f'{d.code} {list(d.path)}: {d.message}' for d in errors]}")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def unprintable_parts(diagnostic) -> list[str]:
    """Characters of a diagnostic's message or help that a terminal would act on instead of showing."""
    return [ch for text in (diagnostic.message, diagnostic.help or "") for ch in _CONTROL.findall(text)]


def test_diagnostics_never_echo_control_characters(tmp_path):
    """Diagnostics go to terminals and CI logs: a hostile value must not bring line breaks or bidi overrides with it."""
    control = "\u2028\u2029\x85\u202e\x1b[2J\x00\r\n"
    offenders = []
    for index, f in enumerate(FIELDS):
        result = compile_data(f.intent(f.base + control), tmp_path / str(index), environ=ENVIRON)
        for d in result.diagnostics:
            if unprintable_parts(d):
                offenders.append(f"{f.label}: {d.code} {d.message!r}")
    assert not offenders, "\n".join(offenders)


def test_unprintable_parts_finds_line_separators_and_bidi_controls():
    from jcnrc.diagnostics import error

    assert unprintable_parts(error("JCN999", "a\u2028b", help="\u202e")) == ["\u2028", "\u202e"]
    assert unprintable_parts(error("JCN999", "plain text \\u2028 escaped")) == []


def check_rendered_exactly(f: Field, value: str, target: str, expected: Expected, result) -> None:
    """Every output read back equals the ordinary build's with the value in place of the ordinary
    value, as often. File by file; a file is skipped only when its text is the ordinary build's and
    the ordinary value is nowhere in it read back: a value that contains the ordinary value (every
    value here does) is then nowhere in it either, so both sides read the same, with no marker."""
    only = set(result.files) ^ set(expected.texts)
    assert not only, f"{f.label}={value!r} ({target}): files only in one of the builds: {sorted(only)[:5]}"
    contains_base = expected.value in value
    count = 0
    for path, text in result.files.items():
        base_replaced, base_count = expected.replaced[path]
        if contains_base and base_count == 0 and text == expected.texts[path]:
            continue
        try:
            parsed = read_output(path, text)
        except OutputProblem as exc:
            pytest.fail(f"{f.label}={value!r} ({target}): an output no longer parses: {exc}")
        actual, found = replace_value(parsed, value)
        difference = first_difference(base_replaced, actual, f"/{path}")
        assert difference is None, (f"{f.label}={value!r} ({target}): the outputs differ from the ordinary build beyond "
                                    f"the value itself at {difference}")
        count += found
    assert count == expected.count, (f"{f.label}={value!r} ({target}): the value appears {count} times, the ordinary "
                                     f"value {expected.count} times (changed or dropped on the way)")
    for path, text in result.files.items():
        if path.endswith(".sh"):
            assert_sh_syntax(path, text)
    for obj in read_yaml(result.files.get("manifests/configmap-jcnrc-node-prep.yaml", "")):
        for key, text in ((obj or {}).get("data") or {}).items():
            if key.endswith(".sh"):
                assert_sh_syntax(key, text)


def assert_sh_syntax(label: str, text: str) -> None:
    problem = _sh_syntax_problem(text)
    assert problem is None, f"{label}: sh -n: {problem}"


@functools.lru_cache(maxsize=1024)
def _sh_syntax_problem(text: str) -> str | None:
    """What `sh -n` says about a script, None when it is fine; once per distinct text (most scripts
    of a hostile build are byte for byte the ordinary build's)."""
    run = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True, timeout=HANG_GUARD)
    return None if run.returncode == 0 else run.stderr


# ----------------------------------------------------------------------------- running scripts with stubs

# A stub records its argv (NUL-separated, one file per call) and, like kubectl would, the content
# of every `--from-file=KEY=PATH` it is given: the scripts may delete those files on exit.
_STUB = """#!/bin/sh
calls={calls}
printf '%s\\0' {name} "$@" > "$calls/$$.{name}"
for argument in "$@"; do
    case "$argument" in
        --from-file=*=*)
            spec=${{argument#--from-file=}}
            cat "${{spec#*=}}" > "$calls/$$.{name}.content.${{spec%%=*}}"
            ;;
    esac
done
exit {status}
"""


def make_stubs(folder: Path, names: tuple[str, ...], failing: tuple[str, ...] = ()) -> Path:
    bin_dir = folder / "bin"
    calls = folder / "calls"
    bin_dir.mkdir(parents=True, exist_ok=True)
    calls.mkdir(exist_ok=True)
    for name in names:
        stub = bin_dir / name
        stub.write_text(_STUB.format(calls=shlex.quote(str(calls)), name=name, status=1 if name in failing else 0))
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def recorded_calls(folder: Path) -> list[list[str]]:
    return [call.read_bytes().decode("utf-8").split("\0")[:-1]
            for call in sorted((folder / "calls").iterdir()) if ".content." not in call.name]


def recorded_contents(folder: Path) -> dict[str, str]:
    """{KEY: content} of every `--from-file=KEY=PATH` a stub was given."""
    return {call.name.split(".content.", 1)[1]: call.read_bytes().decode("utf-8")
            for call in (folder / "calls").iterdir() if ".content." in call.name}


def run_script(text: str, folder: Path, stubs: tuple[str, ...], env: dict[str, str], failing: tuple[str, ...] = (),
               cwd: Path | None = None) -> subprocess.CompletedProcess:
    bin_dir = make_stubs(folder, stubs, failing)
    script = folder / "script.sh"
    script.write_text(text, encoding="utf-8")
    environment = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(folder), **env}
    return subprocess.run(["sh", str(script)], cwd=cwd or folder, env=environment, capture_output=True, text=True,
                          timeout=HANG_GUARD)


def has_sequence(call: list[str], sequence: list[str]) -> bool:
    return any(call[i : i + len(sequence)] == sequence for i in range(len(call) - len(sequence) + 1))


def check_scripts(f: Field, result, folder: Path) -> None:
    if "create-secrets" in f.scripts and "scripts/create-secrets.sh" in result.files:
        check_create_secrets(result, folder / "create-secrets")
    if "node-prep" in f.scripts:
        check_node_prep(result, folder / "node-prep")


ENV_SECRET = "a b'\"$(id)`id`;${HOME}\n#x\r\n"


def check_create_secrets(result, folder: Path) -> None:
    """kubectl receives each secret exactly, byte for byte, from a private copy: kubectl splits
    `--from-file` at '=' and ',', so the script never hands it the intent's own file name."""
    secrets = result.plan.topology.secrets
    work = folder / "intent-folder"
    work.mkdir(parents=True)
    env = {"KUBECTL": "kubectl"}
    expected_contents = {}
    for key, ref in (("root-password", secrets.rootPassword), ("crpd-license", secrets.crpdLicense)):
        if ref.env:
            env[ref.env] = ENV_SECRET
            expected_contents[key] = ENV_SECRET
        else:
            if _create_inside(work, ref.file, f"{key} from a file\r\n"):
                expected_contents[key] = f"{key} from a file\r\n"
    run = run_script(result.files["scripts/create-secrets.sh"], folder, ("kubectl",), env, cwd=work)
    if len(expected_contents) < 2 and run.returncode != 0:
        # A file that cannot exist here (an absolute path, `..` through a file): the script must say so.
        assert "cannot read" in run.stderr, run.stderr
        return
    assert run.returncode == 0, run.stderr
    create = [c for c in recorded_calls(folder) if "create" in c]
    assert len(create) == 1, recorded_calls(folder)
    given = sorted(argument.split("=", 2)[1] for argument in create[0] if argument.startswith("--from-file="))
    assert given == ["crpd-license", "root-password"], create[0]
    assert recorded_contents(folder) == expected_contents


def _create_inside(folder: Path, relative: str, content: str) -> bool:
    """Create `relative` under `folder` when the name can only mean a file in there; say whether it exists now."""
    if Path(relative).is_absolute() or ".." in Path(relative).parts or relative.endswith("/"):
        return False
    target = folder / relative
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8"))
    except OSError:
        return False
    return os.path.isfile(os.path.join(folder, relative))


def node_prep_script(result) -> str:
    configmap = read_yaml(result.files["manifests/configmap-jcnrc-node-prep.yaml"])[0]
    return configmap["data"]["prepare.sh"]


def check_node_prep(result, folder: Path) -> None:
    """One round of node preparation against a fake host root: the kubeconfig copy (and the record of
    its checksum) land at the exact path, and nothing else is written.

    The script takes the host root, its ConfigMap folders and sysfs from the environment; the
    kernel modules are marked loaded in the fake sysfs, and `chroot` is a stub. File commands are
    the real ones, so a path that the shell split, globbed or expanded would show as another file.
    """
    plan = result.plan
    host = folder / "host"
    kubelet_kubeconfig = host / plan.profile.kubeconfig.lstrip("/")
    kubelet_kubeconfig.parent.mkdir(parents=True)
    kubelet_kubeconfig.write_text("kubeconfig")
    sysfs = folder / "sys"
    for module in ("ip_tunnel", "mpls_gso", "vxlan"):
        (sysfs / "module" / module).mkdir(parents=True)
    env = {"NODE_NAME": "zq-node1", "JCNRC_HOST_ROOT": str(host), "JCNRC_NODE_CONFIG_DIR": str(folder / "node-config"),
           "JCNRC_SCRIPT_DIR": str(folder / "scripts"), "JCNRC_SYSFS": str(sysfs), "JCNRC_ROUNDS": "1"}
    own = plan.topology.cluster.cniCredentials == "service-account"
    if own:  # the CNI's own kubeconfig, from a projected token
        tokens = folder / "token"
        tokens.mkdir()
        (tokens / "token").write_text("zq.token")
        (tokens / "ca.crt").write_text("zq-ca")
        env.update(JCNRC_CNI_TOKEN_DIR=str(tokens), KUBERNETES_SERVICE_HOST="10.0.0.1", KUBERNETES_SERVICE_PORT="443")
    run = run_script(node_prep_script(result), folder, ("chroot",), env)
    assert run.returncode == 0, run.stderr
    written = sorted("/" + str(path.relative_to(host)) for path in host.rglob("*") if not path.is_dir())
    expected = [plan.profile.kubeconfig]
    if own:
        expected += [plan.kubeconfig, plan.kubeconfig + ".jcnrc-cksum"]
        assert "token: zq.token" in (host / plan.kubeconfig.lstrip("/")).read_text()
        assert f"wrote the CNI's kubeconfig {plan.kubeconfig}" in run.stderr
    elif plan.kubeconfig != plan.profile.kubeconfig:
        expected += [plan.kubeconfig, plan.kubeconfig + ".jcnrc-cksum"]
        assert (host / plan.kubeconfig.lstrip("/")).read_text() == "kubeconfig"
        assert f"copied {plan.profile.kubeconfig} to {plan.kubeconfig}" in run.stderr
    assert written == sorted(expected), (written, run.stderr)


# ----------------------------------------------------------------------------- scripts of the plain example


@pytest.mark.parametrize("name", ["keys/licence file (v2) #1 & co.txt", "lic=1.txt", "a,b.txt", "-licence.txt"])
def test_create_secrets_reads_files_whatever_their_names_hold(name, tmp_path):
    """Spaces, '#', '&', and the '=' and ',' that kubectl's --from-file would split at (the outside
    review: `file: "lic=1.txt"` built, and `kubectl create secret` refused it)."""
    data = base_intent()
    data["secrets"]["crpdLicense"]["file"] = name
    result = compile_data(data, tmp_path / "intent", environ=ENVIRON)
    assert result.ok, _errors(result)
    check_create_secrets(result, tmp_path / "run")
    assert recorded_contents(tmp_path / "run") == {"root-password": ENV_SECRET, "crpd-license": "crpd-license from a file\r\n"}


def test_prepare_nodes_labels_each_node_by_its_exact_name(tmp_path):
    result = compile_data(base_intent(), tmp_path / "intent")
    folder = tmp_path / "run"
    folder.mkdir()
    run = run_script(result.files["scripts/prepare-nodes.sh"], folder, ("kubectl",), {"KUBECTL": "kubectl"})
    assert run.returncode == 0, run.stderr
    labelled = set()
    for call in recorded_calls(folder):
        if has_sequence(call, ["label", "node", "--overwrite"]):
            labelled |= {argument for argument in call if argument in {n.name for n in result.plan.nodes}}
    assert labelled == {n.name for n in result.plan.nodes}, recorded_calls(folder)


def test_iptables_script_passes_each_pool_as_one_argument(tmp_path):
    result = compile_data(base_intent(), tmp_path / "intent")
    worker = result.plan.workers[0].name
    folder = tmp_path / "run"
    folder.mkdir()
    # `iptables -C` fails: no rule is present yet, so every rule is inserted with -I.
    bin_dir = make_stubs(folder, ())
    (bin_dir / "iptables").write_text(
        "#!/bin/sh\n"
        f"printf '%s\\0' iptables \"$@\" > {shlex.quote(str(folder))}/calls/$$.iptables\n"
        'for a in "$@"; do [ "$a" = -C ] && exit 1; done\nexit 0\n'
    )
    (bin_dir / "iptables").chmod(0o755)
    run = run_script(result.files[f"nodes/{worker}/iptables.sh"], folder, (), {})
    assert run.returncode == 0, run.stderr
    inserted = [c for c in recorded_calls(folder) if "-I" in c]
    for chain in ("POSTROUTING", "PREROUTING"):
        assert any(has_sequence(c, ["-I", chain, "-s", "1.1.0.0/16", "-d", "1.1.0.0/16", "-j", "ACCEPT"])
                   for c in inserted), inserted


def test_node_prep_copies_the_kubelet_kubeconfig_to_the_configured_path(tmp_path):
    data = base_intent()
    data["cluster"]["kubeConfig"] = "/etc/cni/net.d/multus.d/multus.kubeconfig"
    data["cluster"]["cniCredentials"] = "kubelet"
    result = compile_data(data, tmp_path / "intent")
    assert result.ok, _errors(result)
    check_node_prep(result, tmp_path / "run")


# ----------------------------------------------------------------------------- secret values


@pytest.mark.parametrize("key", sorted(HOSTILE))
def test_inline_secret_values_arrive_exactly_in_the_secret(key, tmp_path):
    """Secret values are not intent fields, but they are the one input copied into a manifest verbatim."""
    import base64

    value = "pw" + HOSTILE[key] + "end"
    data = base_intent()
    data["secrets"]["mode"] = "inline"
    folder = tmp_path / "intent"
    folder.mkdir()
    (folder / "zq-licence.txt").write_bytes(value.encode("utf-8"))
    result = compile_data(data, folder, environ={"ZQ_ROOT": value})
    assert result.ok, _errors(result)
    secrets = [path for path in result.files if path.startswith("manifests/secret-")]
    assert len(secrets) == 1, sorted(result.files)
    secret = read_yaml(result.files[secrets[0]])
    assert len(secret) == 1 and secret[0]["kind"] == "Secret"
    decoded = {k: base64.b64decode(v).decode("utf-8") for k, v in secret[0]["data"].items()}
    assert decoded == {"root-password": value, "crpd-license": value}
    others = {path: text for path, text in result.files.items() if path not in secrets}
    assert not any(value in text for text in others.values()), "a secret value leaked into another file"


# ----------------------------------------------------------------------------- values that parse but must not pass


def _rejected_at(f: Field, value: str, folder: Path, **options) -> list[str]:
    """Why `value` was not rejected at the field (empty when it was)."""
    result = compile_data(f.intent(value), folder, environ=ENVIRON, **options)
    if any(d.is_error and any(tuple(d.path[: len(p)]) == p for p in f.paths) for d in result.diagnostics):
        return []
    return [f"{value!r}: {'accepted' if result.ok else _errors(result)}"]


def _field(label: str) -> Field:
    return next(f for f in FIELDS if f.label == label)


def test_ipv6_values_with_a_zone_id_are_rejected(tmp_path):
    """Python's ipaddress accepts RFC 4007 zone ids (`%eth0`, and any text after the `%`); jcnrc must not."""
    accepted = []
    for index, (label, value) in enumerate([
        ("nodes[].ipv6Loopback", "abcd::77:1%eth0"),
        ("nodes[].ipv6Loopback", 'abcd::77:1%"\n---\nkind: Secret'),
        ("networks[].ipv6", "abcd::101:b02%eth0/126"),
    ]):
        accepted += _rejected_at(_field(label), value, tmp_path / str(index))
    assert not accepted, accepted


def test_kube_config_is_a_plain_absolute_path(tmp_path):
    """The NADs name this path and node preparation copies a credential to it: no control characters, no `.`/`..`."""
    accepted = []
    for index, value in enumerate(["/zq/kube\x00.conf", "/zq/\x1b[2J.conf", "/zq/\x7f.conf",
                                   "/etc/kubernetes/../shadow", "/etc/./kubelet.conf"]):
        accepted += _rejected_at(_field("cluster.kubeConfig"), value, tmp_path / str(index))
    assert not accepted, accepted


def test_kube_config_cannot_name_a_system_file(tmp_path):
    """Node preparation copies the node's credentials to cluster.kubeConfig as root: only the kubeconfig
    files real deployments use, never a pod's volume (JCN111 was bypassed through an emptyDir), a static
    pod or a CNI network configuration."""
    accepted = []
    for index, value in enumerate(["/etc/shadow", "/etc/passwd", "/root/.ssh/authorized_keys", "/etc/sudoers.d/jcnrc",
                                   "/usr/bin/kubelet", "/etc/kubernetes", "/etc/kubernetes/", "/etc/kubernetesx/a",
                                   "/etc/kubernetes/manifests/evil.yaml", "/etc/cni/net.d/00-first.conf",
                                   "/etc/kubernetes//kubelet.conf", "/etc/cni/kube.conf", "/etc/kubernetes/kubelet.conf/x",
                                   "/var/lib/kubelet/pods/0c1d/volumes/kubernetes.io~empty-dir/loot/kubeconfig",
                                   "/var/lib/kubelet/plugins/x/kubeconfig"]):
        accepted += _rejected_at(_field("cluster.kubeConfig"), value, tmp_path / str(index))
    assert not accepted, accepted


def test_kube_config_may_name_the_paths_real_deployments_use(tmp_path):
    """kubeadm's and the walkthrough's path, the kubelet's own on AKS and EKS, and multus's."""
    for index, value in enumerate(["/etc/kubernetes/kubelet.conf", "/var/lib/kubelet/kubeconfig",
                                   "/etc/cni/net.d/multus.d/multus.kubeconfig"]):
        data = base_intent()
        data["cluster"]["kubeConfig"] = value
        result = compile_data(data, tmp_path / str(index), environ=ENVIRON)
        assert result.ok, (value, _errors(result))


def test_secret_files_stay_inside_the_intent_folder(tmp_path):
    """With --with-secrets a secret file is copied into a Secret: it must not be any file the build can read."""
    accepted = []
    for index, value in enumerate(["/etc/hostname", "../outside.txt", "keys/../../outside.txt"]):
        accepted += _rejected_at(_field("secrets.crpdLicense.file"), value, tmp_path / str(index))
    assert not accepted, accepted


def test_a_secret_file_outside_the_intent_folder_is_not_copied_into_the_output(tmp_path):
    """Whatever the checks decide, a file outside the intent folder never lands in a manifest."""
    outside = tmp_path / "outside.txt"
    outside.write_text("zq-outside-secret")
    data = base_intent()
    data["secrets"]["mode"] = "inline"
    data["secrets"]["crpdLicense"]["file"] = "../outside.txt"
    result = compile_data(data, tmp_path / "intent", environ=ENVIRON)
    leaked = [path for path, text in (result.files or {}).items()
              if "zq-outside-secret" in text or _b64("zq-outside-secret") in text]
    assert not leaked, f"the content of ../outside.txt is in {leaked}"


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


# ----------------------------------------------------------------------------- the intent's own file name

# The CLI passes the intent's path as given (`jcnrc build intents/*.yaml`); file names in a pull
# request are as hostile as its content. The name is copied into comments and messages.
_FILE_NAME_PAYLOADS = sorted(key for key, value in HOSTILE.items() if "/" not in value and "\0" not in value)
# Refused (JCN010): line breaks and other control characters end or garble the comments that repeat
# the name, a backquote ends the Markdown code spans. Every other name is printed exactly.
_FILE_NAME_REFUSED = {"backticks", "crlf", "emoji-line-break", "escape", "newline-key", "tab", "unicode-line-breaks",
                      "yaml-doc-end", "yaml-doc-start", "bidi-override", "bom"}


_BASE_NAME = "zqintent.yaml"


def _build_named(name: str, folder: Path, target: str):
    from jcnrc.pipeline import Options, compile_intent

    path = write_intent(base_intent(), folder, name)
    try:
        return compile_intent(path, Options(environ=ENVIRON, target=target), display_name=name)
    except Exception:  # noqa: BLE001  (any exception is the finding: fail with its traceback)
        pytest.fail(f"intent file {name!r} ({target}): compile_intent raised:\n{traceback.format_exc()}")


@pytest.fixture(scope="module")
def file_name_baselines(tmp_path_factory) -> dict[str, Expected]:
    """{target: the build of the intent under an ordinary name, read back}."""
    baselines = {}
    for target in ("platter", "jcnr"):
        result = _build_named(_BASE_NAME, tmp_path_factory.mktemp(f"named-{target}"), target)
        assert result.ok, _errors(result)
        baselines[target] = Expected.of(result.files, _BASE_NAME)
    return baselines


@pytest.mark.parametrize("key", _FILE_NAME_PAYLOADS)
def test_the_intent_file_name_is_rendered_exactly_or_refused(key, file_name_baselines, tmp_path):
    name = f"zqintent{HOSTILE[key]}.yaml"
    result = _build_named(name, tmp_path / "platter", "platter")
    if key in _FILE_NAME_REFUSED:
        assert not result.ok and result.files is None
        [item] = [item for item in result.located() if item.diagnostic.code == "JCN010"]
        assert (item.line, item.column) == (1, 1)
        assert not unprintable_parts(item.diagnostic) and not _CONTROL.search(item.file), item
        return
    f = Field("intent file name", (), _BASE_NAME, ())
    for target in ("platter", "jcnr"):
        result = result if target == "platter" else _build_named(name, tmp_path / target, target)
        assert result.ok, f"{name!r} ({target}): {_errors(result)}"
        check_rendered_exactly(f, name, target, file_name_baselines[target], result)


@pytest.mark.parametrize("planted", ["file", "folder"])
def test_create_secrets_refuses_a_secret_file_reached_through_a_link(tmp_path, planted):
    """Attack round 4, F13: the script reads a secret file as jcnrc does, never through a link the
    repository planted (to ~/.kube/config of whoever runs it, say)."""
    data = base_intent()
    data["secrets"] = {"rootPassword": {"env": "ROOT_PW"}, "crpdLicense": {"file": "secrets/licence.txt"}}
    result = compile_data(data, tmp_path / "intent")
    assert result.ok, _errors(result)
    folder = tmp_path / "run"
    work = folder / "intent-folder"
    private = tmp_path / "private"
    private.mkdir()
    (private / "licence.txt").write_text("the operator's private file\n")
    work.mkdir(parents=True)
    if planted == "file":
        (work / "secrets").mkdir()
        (work / "secrets" / "licence.txt").symlink_to(private / "licence.txt")
        link = "secrets/licence.txt"
    else:
        (work / "secrets").symlink_to(private)
        link = "secrets"
    run = run_script(result.files["scripts/create-secrets.sh"], folder, ("kubectl",), {"ROOT_PW": "pw"}, cwd=work)
    assert run.returncode == 1 and f"create-secrets.sh: {link} is a symbolic link" in run.stderr, run.stderr
    assert recorded_calls(folder) == []  # kubectl never ran: nothing was read
