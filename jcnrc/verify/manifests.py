"""`jcnrc build --validate`: read the rendered manifests back and validate every object.

The objects are parsed from the files as written (so the YAML itself is checked too) and handed
to `kubeschema.validate_objects`: strict schemas for the Kubernetes version, the NAD and CNI
checks, name and label syntax, and references between objects (a volume naming a ConfigMap that
exists, a pod naming a NAD that exists). kubeschema caches its validators, so validating a big
topology costs a fraction of a second.

The GitOps objects a fleet writes under gitops/ (an Argo CD ApplicationSet, Flux Kustomizations)
are validated with them; they name only things outside the output (a Git repository, clusters),
so they add no references to check.

Two kinds of object are not in the set as such:

- a Secret that the output says is created out of band (`secrets.mode: reference` writes
  `scripts/create-secrets.sh`): references to it are expected to dangle, so it is assumed present;
- a sops-encrypted Secret: its `data` holds ciphertext and a `sops` block, not Kubernetes fields.
  It is not schema-checked, but it counts as present for references.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from jcnrc.render.common import CREATE_SECRETS_SCRIPT, MANIFESTS
from jcnrc.render.jcnr import JCNR_NAMESPACE
from jcnrc.render.jcnr import SECRET_NAME as JCNR_SECRET
from jcnrc.render.platter import PLATTER_SECRET

GITOPS = "gitops"
# kustomize's own kustomization.yaml is a build input, never applied to a cluster.
_KUSTOMIZE_CONFIG_GROUP = "kustomize.config.k8s.io/"

# The Secret each target's workloads reference, as (kind, namespace, name).
_OUT_OF_BAND_SECRETS = (("Secret", PLATTER_SECRET[1], PLATTER_SECRET[0]), ("Secret", JCNR_NAMESPACE, JCNR_SECRET))


class ValidationUnavailable(Exception):
    pass


def yaml_reader() -> Callable[[str], Iterator]:
    """`load_all` of the fastest safe YAML reader at hand.

    libyaml through PyYAML when it is installed: ruamel.yaml's pure-Python reader needs about
    9 ms for a 1 KB Pod, 9 s for a thousand objects. jcnrc writes every scalar so that YAML 1.1
    (libyaml, and the go-yaml that kubectl and the API server use) and YAML 1.2 (ruamel,
    kustomize's kyaml) read the same value, so either reader sees the same objects.
    """
    try:
        import yaml as pyyaml

        loader = pyyaml.CSafeLoader
    except (ImportError, AttributeError):
        from ruamel.yaml import YAML

        return YAML(typ="safe", pure=True).load_all
    return lambda text: pyyaml.load_all(text, Loader=loader)


def manifest_objects(files: dict[str, str]) -> tuple[list[dict], list[str]]:
    """Every Kubernetes object under manifests/, parsed back from the text, with its file name."""
    load_all = yaml_reader()
    objects, sources = [], []
    for path, text in sorted(files.items()):
        if not path.startswith(MANIFESTS + "/") or path.endswith("kustomization.yaml"):
            continue
        for index, obj in enumerate(load_all(text)):
            if obj is None:
                continue
            objects.append(obj)
            sources.append(f"{path}#{index}" if path.endswith("manifest.yaml") else path)
    return objects, sources


def gitops_objects(files: dict[str, str]) -> tuple[list[dict], list[str]]:
    """Every object in the .yaml files under gitops/, with its file name (and #index in a multi-document file)."""
    load_all = yaml_reader()
    objects, sources = [], []
    for path, text in sorted(files.items()):
        if not (path.startswith(GITOPS + "/") and path.endswith(".yaml")):
            continue
        documents = [obj for obj in load_all(text) if obj is not None]
        for index, obj in enumerate(documents):
            if isinstance(obj, dict) and str(obj.get("apiVersion", "")).startswith(_KUSTOMIZE_CONFIG_GROUP):
                continue
            objects.append(obj)
            sources.append(f"{path}#{index}" if len(documents) > 1 else path)
    return objects, sources


def validate_files(files: dict[str, str], kube_version: str, folders: tuple[str, ...] = ("",)) -> list:
    """Every object of the build: the manifests of each folder (one kustomize root each: a fleet has
    one per cluster, `folders` names them) with their references inside that folder, and the
    GitOps objects under `gitops/`."""
    try:
        from jcnrc.verify import kubeschema
    except ImportError as exc:  # pragma: no cover - kubeschema imports lazily
        raise ValidationUnavailable(str(exc)) from exc
    problems: list = []
    gitops, gitops_sources = gitops_objects(files)
    for position, folder in enumerate(folders):
        prefix = f"{folder}/" if folder else ""
        subset = {path[len(prefix):]: text for path, text in files.items() if path.startswith(prefix)} if prefix else files
        objects, sources = manifest_objects(subset)
        sources = [prefix + source for source in sources]
        if position == 0:
            objects, sources = objects + gitops, sources + gitops_sources
        checked, checked_sources, assumed = [], [], []
        for obj, source in zip(objects, sources, strict=True):
            if _sops_encrypted(obj):
                assumed.append(_identity(obj))
            else:
                checked.append(obj)
                checked_sources.append(source)
        if CREATE_SECRETS_SCRIPT in subset:
            assumed.extend(_OUT_OF_BAND_SECRETS)
        try:
            problems += kubeschema.validate_objects(checked, kube_version, sources=checked_sources, assume_present=assumed)
        except kubeschema.UnsupportedKubeVersion as exc:
            raise ValidationUnavailable(str(exc)) from exc
        except ImportError as exc:
            raise ValidationUnavailable(f"{exc} (install jcnrc[validate])") from exc
    return problems


def _sops_encrypted(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("sops"), dict)


def _identity(obj: dict) -> tuple[str, str, str]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    return str(obj.get("kind", "")), str(metadata.get("namespace") or "default"), str(metadata.get("name", ""))
