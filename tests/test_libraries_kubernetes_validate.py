"""kubeschema reads kubernetes-validate's schema files, not its code: this checks that layout.

jcnrc/verify/kubeschema.py describes what it relies on (its docstring, "kubernetes-validate is
used for its data"). pyproject admits a range of kubernetes-validate releases; a release that
moves or reshapes the files fails here, naming the installed version, instead of letting
`jcnrc verify` pass manifests it never checked. When one of these fails: read the new
release's layout, update kubeschema (and _KUBERNETES_VALIDATE_CHECKED) or tighten the pin.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib

import pytest

kubernetes_validate = pytest.importorskip("kubernetes_validate")

from packaging.requirements import Requirement  # noqa: E402 - kubernetes-validate brings packaging

from jcnrc.verify import kubeschema  # noqa: E402

INSTALLED = kubernetes_validate.__version__
WHO = f"kubernetes-validate {INSTALLED}"
RECHECK = ("re-check the layout described in jcnrc/verify/kubeschema.py against this release, "
           "then update kubeschema or the pin in pyproject.toml")


def _pyproject() -> dict:
    from conftest import ROOT

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _validate_extra_requirement() -> Requirement:
    extras = _pyproject()["project"]["optional-dependencies"]["validate"]
    [requirement] = [Requirement(text) for text in extras if Requirement(text).name == "kubernetes-validate"]
    return requirement


def test_the_installed_release_is_one_the_pin_admits():
    requirement = _validate_extra_requirement()
    assert requirement.specifier.contains(INSTALLED), f"{WHO} is outside pyproject's {requirement}"
    assert any(spec.operator == "<" for spec in requirement.specifier), f"{requirement}: the pin needs an upper bound"
    assert requirement.specifier.contains(kubeschema._KUBERNETES_VALIDATE_CHECKED), (
        f"pyproject's {requirement} excludes {kubeschema._KUBERNETES_VALIDATE_CHECKED}, the release whose layout "
        "kubeschema describes")


def test_the_schema_folders_are_where_kubeschema_reads_them():
    root = kubeschema._schema_root()
    assert root.is_dir(), f"{WHO}: no {kubeschema._SCHEMA_ROOT}/ in the package; {RECHECK}"
    strict = sorted(entry.name for entry in root.iterdir() if kubeschema._STRICT_FOLDER.fullmatch(entry.name))
    assert strict, f"{WHO}: no vX.Y.Z-local-strict folders under {kubeschema._SCHEMA_ROOT}/; {RECHECK}"
    latest = kubernetes_validate.latest_version()  # public
    assert f"v{latest}-local-strict" in strict, f"{WHO}: latest_version() {latest} has no strict folder; {RECHECK}"
    assert kubeschema.supported_kube_versions()[-1] == ".".join(latest.split(".")[:2]), WHO


@pytest.mark.parametrize("kube_version", ["oldest", "default", "newest"])
def test_definitions_file_has_the_id_and_defs_the_kind_files_refer_to(kube_version):
    versions = kubeschema.supported_kube_versions()
    minor = {"oldest": versions[0], "default": kubeschema.DEFAULT_KUBE_VERSION, "newest": versions[-1]}[kube_version]
    folder = kubeschema._kubernetes_schema_dir(kubeschema._schema_version_for(minor))
    definitions = json.loads((folder / "_definitions.json").read_text(encoding="utf-8"))
    assert definitions.get("$id") == "https://kubernetes.io/api/_definitions.json", f"{WHO} {folder.name}; {RECHECK}"
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in definitions.get("$defs", {}), f"{WHO}; {RECHECK}"
    for file_name, gvk in [
        ("pod-v1.json", {"group": "", "version": "v1", "kind": "Pod"}),
        ("configmap-v1.json", {"group": "", "version": "v1", "kind": "ConfigMap"}),
        ("daemonset-apps-v1.json", {"group": "apps", "version": "v1", "kind": "DaemonSet"}),
        ("clusterrolebinding-rbac-v1.json",
         {"group": "rbac.authorization.k8s.io", "version": "v1", "kind": "ClusterRoleBinding"}),
    ]:
        path = folder / file_name
        assert path.is_file(), f"{WHO}: no {folder.name}/{file_name}; {RECHECK}"
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert gvk in schema.get("x-kubernetes-group-version-kind", []), f"{WHO}: {file_name} names no {gvk}; {RECHECK}"
        refs = set(re.findall(r'"\$ref": "([^"#]*)#', path.read_text(encoding="utf-8")))
        assert refs == {"/api/_definitions.json"}, f"{WHO}: {file_name} refers to {refs}; {RECHECK}"
        assert schema.get("$id", "").startswith("https://kubernetes.io/api/"), f"{WHO}: {file_name}; {RECHECK}"


# --- the same verdicts as the public validate() ------------------------------------------------

def _pod():
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]},
    }


def _daemon_set():
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d", "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": {"app": "d"}},
                 "template": {"metadata": {"labels": {"app": "d"}}, "spec": _pod()["spec"]}},
    }


def _binding():
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "crpd", "namespace": "kube-system"}],
    }


def _config_map():
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m", "namespace": "default"},
            "data": {"a": "b"}}


def _broken(make, *path_and_value):
    obj = make()
    *path, key, value = path_and_value
    target = obj
    for part in path:
        target = target[part]
    target[key] = value
    return obj


SAMPLES = {
    "pod": _pod(),
    "daemonset": _daemon_set(),
    "binding": _binding(),
    "configmap": _config_map(),
    "pod unknown field": _broken(_pod, "spec", "containers", 0, "imagePullPolicyy", "Always"),
    "pod wrong type": _broken(_pod, "spec", "containers", 0, "securityContext", "privileged", "yes"),
    "daemonset unknown field": _broken(_daemon_set, "spec", "template", "spec", "hostNetwrk", True),
    "daemonset metadata typo": _broken(_daemon_set, "metadata", "lables", {"a": "b"}),
    "binding without roleRef name": _broken(_binding, "roleRef", "name", None),
    "configmap number value": _broken(_config_map, "data", "a", 7),
}


@pytest.mark.parametrize("kube_version", ["1.28", kubeschema.DEFAULT_KUBE_VERSION])
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_cached_validators_agree_with_the_public_validate(name, kube_version):
    obj = SAMPLES[name]
    try:
        kubernetes_validate.validate(copy.deepcopy(obj), kube_version, strict=True)
        public_valid = True
    except kubernetes_validate.ValidationError:
        public_valid = False
    schema_version = kubeschema._schema_version_for(kube_version)
    validator = kubeschema._kind_validator(schema_version, obj["apiVersion"], obj["kind"])
    assert validator is not None, f"{WHO}: kubeschema found no schema for {obj['apiVersion']}/{obj['kind']}; {RECHECK}"
    ours_valid = not list(validator.iter_errors(obj))
    assert ours_valid == public_valid, (
        f"{WHO}: kubeschema says {'valid' if ours_valid else 'invalid'} for {name!r} at {kube_version}, "
        f"kubernetes_validate.validate() the opposite; {RECHECK}")
    assert ours_valid == (" " not in name), name  # the samples with a defect in their name are invalid


def test_a_moved_layout_is_refused_loudly_naming_the_release(monkeypatch, tmp_path):
    kubeschema._bundled_schema_versions.cache_clear()
    monkeypatch.setattr(kubeschema, "_schema_root", lambda: tmp_path / "kubernetes-json-schema")
    try:
        with pytest.raises(kubeschema.SchemaLayoutChanged) as excinfo:
            kubeschema.supported_kube_versions()
        assert f"kubernetes-validate {INSTALLED}" in str(excinfo.value)
        assert isinstance(excinfo.value, ImportError)  # `jcnrc verify`: validation unavailable, not a pass

        (tmp_path / "kubernetes-json-schema" / "v1.99.0-local-strict").mkdir(parents=True)
        (tmp_path / "kubernetes-json-schema" / "v1.99.0-local-strict" / "_definitions.json").write_text("{}")
        with pytest.raises(kubeschema.SchemaLayoutChanged, match="latest_version"):
            kubeschema.supported_kube_versions()
    finally:
        monkeypatch.undo()
        kubeschema._bundled_schema_versions.cache_clear()
    assert kubeschema.supported_kube_versions()[-1] == ".".join(kubernetes_validate.latest_version().split(".")[:2])


def test_validators_are_built_once_per_kind_and_reused():
    """What keeps validation fast (validate() per object builds its validator, 6-17 ms each): one
    validator per (version, apiVersion, kind), counted, not timed."""
    objects = [copy.deepcopy(SAMPLES[name]) for name in ("pod", "daemonset", "binding", "configmap")] * 100
    for index, obj in enumerate(objects):
        obj["metadata"]["name"] = f"{obj['metadata']['name']}{index}"
    kubeschema._kind_validator.cache_clear()
    kubeschema.validate_objects(objects)
    info = kubeschema._kind_validator.cache_info()
    assert info.misses <= 4 and info.hits >= len(objects) - 4, info
