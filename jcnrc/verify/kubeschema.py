"""Strict, fast, offline validation of rendered Kubernetes manifests.

`validate_objects()` takes the objects jcnrc renders (plain dicts) and returns a list of
`ManifestProblem`s; an empty list means the set is valid.  It checks:

* built-in kinds against kubernetes-validate's bundled *strict* JSON schemas for the requested
  Kubernetes minor (unknown fields are errors);
* NetworkAttachmentDefinition, Configlet, ExternalSecret, Argo CD ApplicationSet and Flux
  Kustomization against jcnrc's own schemas in
  ``schemas/``; a NAD's ``spec.config`` is parsed and checked as a CNI network configuration,
  with extra rules for the ``platter`` and ``jcnr`` plugins;
* what the schemas cannot say: name, label and annotation syntax, ConfigMap/Secret keys,
  workload selectors, references between objects, and duplicates.

Why not ``kubernetes_validate.validate()``: it re-reads the 1.3 MB ``_definitions.json`` for
every object (6-10 ms each), crashes on versions below 1.25 and compares versions as
strings.  We build one validator per (schema version, apiVersion, kind) and cache it; 1,000
objects take about 0.2 s (``benchmarks/bench_kubeschema.py``).

Versions: "1.28", "v1.28" and "1.28.3" all mean minor 1.28; the newest bundled schema set
not newer than it is used.  Minors older than the oldest or newer than the newest bundled
set raise `UnsupportedKubeVersion`.  kubernetes-validate (the optional ``validate`` extra)
is imported on first use, so importing this module never needs it.

kubernetes-validate is used for its data, not its code: its public ``validate()`` builds a
validator per call, and nothing public hands out a schema. jcnrc reads the schema files the
package ships (its README: the ``.0`` schemas of each Kubernetes minor, in a "local-strict"
variant that rejects unknown properties) with ``importlib.resources``, as the package itself
does, and relies on this layout (checked against 1.37.0; pyproject admits ``>=1.37,<2``):

* schemas live inside the package under ``kubernetes-json-schema/v{X.Y.Z}-local-strict/``,
  one folder per bundled Kubernetes version, each holding ``_definitions.json``; the newest
  folder is the version the public ``kubernetes_validate.latest_version()`` names;
* one file per type, named ``{kind lowercased}-{first DNS label of the group}-{version}.json``,
  without the group part for the core group: ``pod-v1.json``, ``daemonset-apps-v1.json``,
  ``clusterrolebinding-rbac-v1.json`` (the name the public ``validate()`` looks up too);
* the kind files refer to ``/api/_definitions.json#/$defs/<type>``, which resolves against
  their ``$id`` (``https://kubernetes.io/api/...``) to the ``$id`` of ``_definitions.json``,
  ``https://kubernetes.io/api/_definitions.json``;
* the same directory holds schemas of nested types (``affinity-v1.json``...), so a file is
  only used when its ``x-kubernetes-group-version-kind`` names the object's group, version
  and kind.

A release that moves the folders raises `SchemaLayoutChanged` (an ImportError, so
``jcnrc verify`` reports validation as unavailable instead of passing everything), naming the
installed version; ``tests/test_libraries_kubernetes_validate.py`` checks every point above
and compares verdicts with ``kubernetes_validate.validate()`` on sample objects.

Conventions: an object without ``metadata.namespace`` is taken to be in ``default`` when
references are resolved; the ``default`` ServiceAccount and the bootstrap ClusterRoles
(``cluster-admin``, ``admin``, ``edit``, ``view``, ``system:*``) always exist.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib.resources
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.protocols import Validator
from referencing import Registry, Resource

from jcnrc import resources

__all__ = [
    "DEFAULT_KUBE_VERSION",
    "ManifestProblem",
    "SchemaLayoutChanged",
    "UnsupportedKubeVersion",
    "supported_kube_versions",
    "validate_objects",
]

DEFAULT_KUBE_VERSION = "1.32"


@dataclass(frozen=True, order=True)
class ManifestProblem:
    source: str  # the object's label, e.g. "Pod default/ubuntu-du11", or the caller's source
    path: str  # JSON-pointer-like location inside the object; "" is the object itself
    message: str


class UnsupportedKubeVersion(ValueError):
    def __init__(self, requested: object) -> None:
        self.requested = requested
        self.supported = supported_kube_versions()
        super().__init__(
            f"unsupported Kubernetes version {requested!r}; "
            f"supported: {', '.join(self.supported)}"
        )


# A check yields (path, message); validate_objects() attaches the object's label.
Finding = tuple[str, str]


# --------------------------------------------------------------------------- public API


def supported_kube_versions() -> list[str]:
    """Kubernetes minors with bundled schemas, oldest first, e.g. ["1.25", ..., "1.37"]."""
    return [f"{major}.{minor}" for major, minor in sorted(_bundled_schema_versions())]


def validate_objects(
    objects: Iterable[dict],
    kube_version: str = DEFAULT_KUBE_VERSION,
    sources: Iterable[str] | None = None,
    *,
    assume_present: Iterable[tuple[str, str, str]] = (),
) -> list[ManifestProblem]:
    """Validate a set of manifests; return every problem found, in object order.

    `sources` optionally labels each object (e.g. with its file name); by default an object
    is labelled "Kind namespace/name".  `assume_present` lists (kind, namespace, name) of
    objects that exist in the cluster without being in `objects` (a Secret made elsewhere);
    references to them are not reported.
    """
    schema_version = _schema_version_for(kube_version)
    objects = list(objects)
    labels = _labels(objects, sources)

    problems: list[ManifestProblem] = []
    for obj, label in zip(objects, labels, strict=True):  # one label per object (_labels checks)
        problems += _problems(label, _check_object(obj, schema_version))
    problems += _check_duplicates(objects, labels)
    problems += _check_references(objects, labels, assume_present)
    return problems


def _problems(label: str, findings: Iterable[Finding]) -> list[ManifestProblem]:
    return [ManifestProblem(label, path, message) for path, message in findings]


def _labels(objects: list[Any], sources: Iterable[str] | None) -> list[str]:
    if sources is None:
        return [_default_label(obj, index) for index, obj in enumerate(objects)]
    labels = [str(source) for source in sources]
    if len(labels) != len(objects):
        raise ValueError(f"got {len(labels)} sources for {len(objects)} objects")
    return labels


def _default_label(obj: Any, index: int) -> str:
    if not isinstance(obj, dict):
        return f"object #{index}"
    kind = obj.get("kind") or "<no kind>"
    metadata = _mapping(obj.get("metadata"))
    name = metadata.get("name") or "<unnamed>"
    namespace = metadata.get("namespace")
    if namespace and isinstance(kind, str) and kind not in _CLUSTER_SCOPED_KINDS:
        return f"{kind} {namespace}/{name}"
    return f"{kind} {name}"


# --------------------------------------------------------------------------- versions

_VERSION_PATTERN = re.compile(r"v?(\d+)\.(\d+)(?:\.\d+)?")


_KUBERNETES_VALIDATE_CHECKED = "1.37.0"  # the release whose layout the docstring describes
_SCHEMA_ROOT = "kubernetes-json-schema"
_STRICT_FOLDER = re.compile(r"v(\d+)\.(\d+)\.(\d+)-local-strict")
_DEFINITIONS_FILE = "_definitions.json"


class SchemaLayoutChanged(ImportError):
    """The installed kubernetes-validate keeps its schemas somewhere jcnrc does not look."""

    def __init__(self, version: str, detail: str) -> None:
        self.version = version
        super().__init__(
            f"kubernetes-validate {version} does not keep its schemas where jcnrc reads them ({detail}); "
            f"jcnrc reads the layout of kubernetes-validate {_KUBERNETES_VALIDATE_CHECKED}: "
            f"pip install 'kubernetes-validate=={_KUBERNETES_VALIDATE_CHECKED}', or update "
            "jcnrc/verify/kubeschema.py and its layout test"
        )


def _kubernetes_validate() -> Any:
    # Imported on first use: kubernetes-validate is the optional `validate` extra (108 MB of
    # schemas), and importing this module must not break a jcnrc installed without it.
    try:
        import kubernetes_validate
    except ImportError as exc:
        raise ImportError(
            "manifest validation needs kubernetes-validate: pip install 'jcnrc[validate]'"
        ) from exc
    return kubernetes_validate


def _schema_root() -> Any:
    return importlib.resources.files("kubernetes_validate") / _SCHEMA_ROOT


@functools.lru_cache(maxsize=1)
def _bundled_schema_versions() -> dict[tuple[int, int], str]:
    """(major, minor) -> the full version naming the bundled strict schema folder.

    Read from the folder names; raises `SchemaLayoutChanged` when the layout is not the one
    described at the top of this module.
    """
    package = _kubernetes_validate()
    version = str(getattr(package, "__version__", "(unknown version)"))
    root = _schema_root()
    if not root.is_dir():
        raise SchemaLayoutChanged(version, f"no {_SCHEMA_ROOT}/ folder in the package")
    found: dict[tuple[int, int, int], str] = {}
    for entry in root.iterdir():
        match = _STRICT_FOLDER.fullmatch(entry.name)
        if match and (entry / _DEFINITIONS_FILE).is_file():
            found[(int(match[1]), int(match[2]), int(match[3]))] = f"{match[1]}.{match[2]}.{match[3]}"
    if not found:
        raise SchemaLayoutChanged(
            version, f"no {_SCHEMA_ROOT}/vX.Y.Z-local-strict/{_DEFINITIONS_FILE} in the package"
        )
    latest = package.latest_version()
    if latest not in found.values():
        raise SchemaLayoutChanged(
            version, f"its latest_version() is {latest}, but there is no v{latest}-local-strict folder"
        )
    versions: dict[tuple[int, int], str] = {}
    for key in sorted(found):  # the newest patch of a minor wins
        versions[key[:2]] = found[key]
    return versions


def _schema_version_for(kube_version: object) -> str:
    """Pick the newest bundled schema set not newer than the requested minor.

    Versions compare as integer pairs (kubernetes-validate compares strings, so "1.4" would
    sort after "1.37").  A minor newer than every bundled set is refused, like the library
    does, rather than silently checked against older schemas; so is anything but a string
    (a caller's `1.30` read as a float from YAML).
    """
    match = _VERSION_PATTERN.fullmatch(kube_version.strip()) if isinstance(kube_version, str) else None
    if match is None:
        raise UnsupportedKubeVersion(kube_version)
    wanted = (int(match[1]), int(match[2]))
    bundled = _bundled_schema_versions()
    candidates = [minor for minor in bundled if minor <= wanted]
    if not candidates or wanted > max(bundled):
        raise UnsupportedKubeVersion(kube_version)
    return bundled[max(candidates)]


# --------------------------------------------------------------------------- schemas

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# Kinds Kubernetes does not know; their schemas are jcnrc's own files in schemas/.
_CUSTOM_SCHEMA_FILES = {
    ("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition"): "nad.schema.json",
    ("configplane.juniper.net/v1", "Configlet"): "configlet.schema.json",
    ("external-secrets.io/v1", "ExternalSecret"): "externalsecret.schema.json",
    ("argoproj.io/v1alpha1", "ApplicationSet"): "applicationset.schema.json",
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): "flux-kustomization.schema.json",
}
_CNI_CONFIG_SCHEMA_FILE = "cni-config.schema.json"


def _schemas_dir() -> Path:
    """jcnrc/schemas inside an installed wheel, else the repository's top-level schemas/."""
    return resources.folder("schemas")


def _kubernetes_schema_dir(schema_version: str) -> Any:
    """The strict schema folder for one bundled version, inside kubernetes-validate."""
    return _schema_root() / f"v{schema_version}-local-strict"


def _load_json(resource: Any) -> Any:
    return json.loads(resource.read_text(encoding="utf-8"))


def _make_validator(schema: dict, registry: Registry | None = None) -> Validator:
    # Formats are not asserted: the k8s schemas use OpenAPI formats (int32, byte) that a
    # JSON Schema format checker does not know; names are checked in code instead.
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, registry=registry if registry is not None else Registry())


@functools.cache
def _kubernetes_definitions(schema_version: str) -> tuple[str, Registry]:
    """The $id of the version's _definitions.json and a registry holding it."""
    path = _kubernetes_schema_dir(schema_version) / _DEFINITIONS_FILE
    definitions = _load_json(path)
    return definitions["$id"], Registry().with_resource(
        definitions["$id"], Resource.from_contents(definitions)
    )


@functools.cache
def _kind_validator(schema_version: str, api_version: str, kind: str) -> Validator | None:
    """Validator for one (apiVersion, kind) at one schema version; None if there is none."""
    schema_file = _CUSTOM_SCHEMA_FILES.get((api_version, kind))
    if schema_file is not None:
        return _custom_kind_validator(schema_version, schema_file)
    return _builtin_kind_validator(schema_version, api_version, kind)


def _builtin_kind_validator(schema_version: str, api_version: str, kind: str) -> Validator | None:
    group, _, version = api_version.rpartition("/")
    group_part = f"-{group.split('.')[0]}" if group else ""
    path = _kubernetes_schema_dir(schema_version) / f"{kind.lower()}{group_part}-{version}.json"
    if not path.is_file():
        return None
    schema = _load_json(path)
    # The file name drops all but the first label of the group (rbac.example.com would map
    # to the rbac file) and nested types have files too: trust only the declared GVK.
    if {"group": group, "version": version, "kind": kind} not in schema.get(
        "x-kubernetes-group-version-kind", []
    ):
        return None
    _, registry = _kubernetes_definitions(schema_version)
    return _make_validator(schema, registry)


def _custom_kind_validator(schema_version: str, schema_file: str) -> Validator:
    """jcnrc's schema for a custom kind, with metadata held to Kubernetes' strict ObjectMeta.

    The CRD schemas only say `metadata: {type: object}`; the API server checks ObjectMeta
    itself, so a typo such as `lables` would otherwise pass unnoticed.
    """
    schema = _load_json(_schemas_dir() / schema_file)
    definitions_id, registry = _kubernetes_definitions(schema_version)
    registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
    combined = {
        "$schema": _DRAFT_2020_12,
        "allOf": [{"$ref": schema["$id"]}],
        "properties": {"metadata": {"$ref": f"{definitions_id}#/$defs/{_OBJECT_META}"}},
    }
    return _make_validator(combined, registry)


@functools.cache
def _standalone_validator(schema_file: str) -> Validator:
    return _make_validator(_load_json(_schemas_dir() / schema_file))


def _schema_findings(validator: Validator, instance: Any, prefix: str = "") -> Iterator[Finding]:
    for error in validator.iter_errors(instance):
        yield _join(prefix, *error.absolute_path), _shorten(error.message)


# --------------------------------------------------------------------------- paths, helpers


def _pointer(*parts: object) -> str:
    """JSON-pointer escaping, without the leading slash: ("a/b", 0) -> "a~1b/0"."""
    return "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _join(prefix: str, *parts: object) -> str:
    tail = _pointer(*parts)
    return f"{prefix}/{tail}" if prefix and tail else prefix or tail


def _shorten(message: str, limit: int = 300) -> str:
    # jsonschema quotes the offending value, which may be a whole pod spec.
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> Iterator[tuple[int, dict]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                yield index, item


def _dig(obj: Any, parts: Iterable[str]) -> Any:
    for part in parts:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


# --------------------------------------------------------------------------- name syntax

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def _dns1123_label_error(value: str) -> str | None:
    if len(value) <= 63 and _DNS1123_LABEL.fullmatch(value):
        return None
    return f"{value!r} is not a DNS-1123 label (lowercase alphanumerics and '-', at most 63 characters)"


def _dns1123_subdomain_error(value: str) -> str | None:
    if len(value) <= 253 and _DNS1123_SUBDOMAIN.fullmatch(value):
        return None
    return (
        f"{value!r} is not a DNS-1123 subdomain "
        "(lowercase alphanumerics, '-' and '.', at most 253 characters)"
    )


def _dns1035_label_error(value: str) -> str | None:
    if len(value) <= 63 and _DNS1035_LABEL.fullmatch(value):
        return None
    return (
        f"{value!r} is not a DNS-1035 label "
        "(starts with a letter; lowercase alphanumerics and '-', at most 63 characters)"
    )


def _path_segment_error(value: str) -> str | None:
    # RBAC names only need to be usable in a URL path: "system:node-proxier" is valid.
    if value in (".", "..") or "/" in value or "%" in value:
        return f"{value!r} is not a valid path segment name (no '/', '%', '.' or '..')"
    return None


def _qualified_name_error(key: str) -> str | None:
    """Label and annotation keys: optional DNS-subdomain prefix, '/', name of <= 63 chars."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or _dns1123_subdomain_error(prefix)):
        return f"prefix {prefix!r} of key {key!r} must be a DNS-1123 subdomain"
    if not name or len(name) > 63 or not _QUALIFIED_NAME_PART.fullmatch(name):
        return (
            f"name {name!r} of key {key!r} must be 1-63 characters of alphanumerics, "
            "'-', '_' or '.', starting and ending with an alphanumeric"
        )
    return None


def _label_value_error(value: str) -> str | None:
    if value == "" or (len(value) <= 63 and _QUALIFIED_NAME_PART.fullmatch(value)):
        return None
    return (
        f"label value {value!r} must be empty or 1-63 characters of alphanumerics, "
        "'-', '_' or '.', starting and ending with an alphanumeric"
    )


def _config_key_error(key: str) -> str | None:
    if len(key) <= 253 and _CONFIG_KEY.fullmatch(key) and key not in (".", ".."):
        return None
    return f"key {key!r} must be alphanumerics, '-', '_' or '.' (not '.' or '..'), at most 253 characters"


# How Kubernetes validates metadata.name; every kind not listed uses DNS-1123 subdomain.
_NAME_RULES: dict[str, Callable[[str], str | None]] = {
    "Namespace": _dns1123_label_error,
    "Service": _dns1035_label_error,
    "ClusterRole": _path_segment_error,
    "ClusterRoleBinding": _path_segment_error,
    "Role": _path_segment_error,
    "RoleBinding": _path_segment_error,
}

_CLUSTER_SCOPED_KINDS = frozenset({
    "APIService", "CSIDriver", "CSINode", "CertificateSigningRequest", "ClusterRole",
    "ClusterRoleBinding", "ClusterSecretStore", "CustomResourceDefinition", "IngressClass",
    "MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume", "PriorityClass",
    "RuntimeClass", "StorageClass", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "VolumeAttachment",
})

_MAX_ANNOTATIONS_BYTES = 256 * 1024
_MAX_CONFIG_BYTES = 1024 * 1024  # ConfigMap and Secret payload limit


# --------------------------------------------------------------------------- per object


def _check_object(obj: Any, schema_version: str) -> Iterator[Finding]:
    if not isinstance(obj, dict):
        yield "", f"expected a mapping, got {type(obj).__name__}"
        return
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not (isinstance(api_version, str) and api_version and isinstance(kind, str) and kind):
        yield "", "apiVersion and kind must be non-empty strings"
        return

    validator = _kind_validator(schema_version, api_version, kind)
    if validator is None:
        yield "", f"no schema for {api_version}/{kind}"
    else:
        yield from _schema_findings(validator, obj)
    yield from _check_identity(obj, kind)
    yield from _check_labels_and_annotations(_mapping(obj.get("metadata")), "metadata")
    if validator is not None:
        for check in _KIND_CHECKS.get(kind, ()):
            yield from check(obj)


def _check_identity(obj: dict, kind: str) -> Iterator[Finding]:
    metadata = _mapping(obj.get("metadata"))
    name = metadata.get("name")
    if name is None:
        # kubectl apply and GitOps tools need a fixed name; generateName is no substitute.
        yield "metadata", "metadata.name is required"
    elif isinstance(name, str):
        error = _NAME_RULES.get(kind, _dns1123_subdomain_error)(name)
        if error:
            yield "metadata/name", error
    namespace = metadata.get("namespace")
    if isinstance(namespace, str):
        error = _dns1123_label_error(namespace)
        if error:
            yield "metadata/namespace", error


def _check_labels_and_annotations(metadata: dict, prefix: str) -> Iterator[Finding]:
    for key, value in _mapping(metadata.get("labels")).items():
        path = _join(prefix, "labels", key)
        error = _qualified_name_error(str(key))
        if error:
            yield path, f"label {error}"
        if isinstance(value, str):
            error = _label_value_error(value)
            if error:
                yield path, error
    annotations = _mapping(metadata.get("annotations"))
    for key in annotations:
        error = _qualified_name_error(str(key))
        if error:
            yield _join(prefix, "annotations", key), f"annotation {error}"
    size = sum(len(str(key)) + len(str(value)) for key, value in annotations.items())
    if size > _MAX_ANNOTATIONS_BYTES:
        yield _join(prefix, "annotations"), f"annotations total {size} bytes; the limit is {_MAX_ANNOTATIONS_BYTES}"


# ---- ConfigMap and Secret


def _check_data_keys(obj: dict, fields: tuple[str, ...]) -> Iterator[Finding]:
    for field in fields:
        for key in _mapping(obj.get(field)):
            error = _config_key_error(str(key))
            if error:
                yield _pointer(field, key), error


def _check_payload_size(obj: dict, size: int) -> Iterator[Finding]:
    if size > _MAX_CONFIG_BYTES:
        yield "", f"{obj['kind']} payload is {size} bytes; the limit is {_MAX_CONFIG_BYTES}"


def _check_configmap(obj: dict) -> Iterator[Finding]:
    yield from _check_data_keys(obj, ("data", "binaryData"))
    size = sum(len(value.encode()) for value in _mapping(obj.get("data")).values() if isinstance(value, str))
    yield from _check_payload_size(obj, size)


def _decoded_secret_value(value: str) -> bytes | None:
    # The API server's base64 decoding skips line breaks (YAML block scalars wrap at 76).
    try:
        return base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError):
        return None


def _check_secret(obj: dict) -> Iterator[Finding]:
    yield from _check_data_keys(obj, ("data", "stringData"))
    size = 0
    for key, value in _mapping(obj.get("data")).items():
        if not isinstance(value, str):
            continue  # the schema reports the type
        decoded = _decoded_secret_value(value)
        if decoded is None:
            yield _pointer("data", key), "value is not base64; put plain text under stringData"
        else:
            size += len(decoded)
    yield from _check_payload_size(obj, size)


# ---- Workloads and pod templates

# Where the pod template sits in each workload kind; () means the object is the pod.
_POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "DaemonSet": ("spec", "template"),
    "Deployment": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
_SELECTOR_MUST_MATCH_TEMPLATE = frozenset({"DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"})


@dataclass(frozen=True)
class _PodTemplate:
    path: tuple[str, ...]  # where the template's metadata/spec live inside the object
    metadata: dict
    spec: dict


def _pod_template(obj: dict) -> _PodTemplate | None:
    kind = obj.get("kind")
    path = _POD_TEMPLATE_PATHS.get(kind) if isinstance(kind, str) else None
    if path is None:
        return None
    template = obj if not path else _dig(obj, path)
    if not isinstance(template, dict):
        return None
    return _PodTemplate(path, _mapping(template.get("metadata")), _mapping(template.get("spec")))


def _check_pod_template(obj: dict) -> Iterator[Finding]:
    template = _pod_template(obj)
    if template is None:
        return
    metadata_path = _pointer(*template.path, "metadata")
    if template.path:  # a Pod's own metadata was already checked as the object's
        yield from _check_labels_and_annotations(template.metadata, metadata_path)
    networks = _mapping(template.metadata.get("annotations")).get(_NETWORKS_ANNOTATION)
    if isinstance(networks, str):
        path = _join(metadata_path, "annotations", _NETWORKS_ANNOTATION)
        _, errors = _parse_network_selection(networks)
        for error in errors:
            yield path, error
    if obj["kind"] in _SELECTOR_MUST_MATCH_TEMPLATE:
        yield from _check_selector_matches_template(obj, template)


def _check_selector_matches_template(obj: dict, template: _PodTemplate) -> Iterator[Finding]:
    selector = _mapping(_dig(obj, ("spec", "selector")))
    yield from _check_label_selector(selector, "spec/selector")
    template_labels = _mapping(template.metadata.get("labels"))
    for key, value in _mapping(selector.get("matchLabels")).items():
        if template_labels.get(key) != value:
            # The API server rejects a workload whose selector does not select its own pods.
            yield _pointer("spec", "selector", "matchLabels", key), (
                f"selector requires {key}={value} but the pod template labels do not carry it"
            )


def _check_label_selector(selector: dict, prefix: str) -> Iterator[Finding]:
    for key, value in _mapping(selector.get("matchLabels")).items():
        path = _join(prefix, "matchLabels", key)
        error = _qualified_name_error(str(key))
        if error:
            yield path, f"label {error}"
        if isinstance(value, str):
            error = _label_value_error(value)
            if error:
                yield path, error
    for index, expression in _dicts(selector.get("matchExpressions")):
        key = expression.get("key")
        error = _qualified_name_error(key) if isinstance(key, str) else None
        if error:
            yield _join(prefix, "matchExpressions", index, "key"), f"label {error}"


# ---- Multus network selection annotation

_NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
# Multus's NetworkSelectionElement; Go's JSON decoding drops unknown keys without a word.
_NETWORK_SELECTION_KEYS = frozenset({
    "name", "namespace", "ips", "mac", "interface", "portMappings", "bandwidth", "cni-args",
    "default-route", "infiniband-guid", "ipam-claim-reference",
})


def _parse_network_selection(value: str) -> tuple[list[dict], list[str]]:
    """Parse the networks annotation (JSON list or "ns/name@iface, ..." short form).

    Returns the elements that name a network and the syntax errors found.
    """
    text = value.strip()
    if text.startswith("["):
        try:
            elements = json.loads(text)
        except json.JSONDecodeError as exc:
            return [], [f"not valid JSON: {exc}"]
        return _checked_selection_elements(elements)
    return _parse_short_network_selection(text)


def _checked_selection_elements(elements: list) -> tuple[list[dict], list[str]]:
    valid, errors = [], []
    for index, element in enumerate(elements):
        if not isinstance(element, dict):
            errors.append(f"element {index} must be an object")
            continue
        unknown = sorted(set(element) - _NETWORK_SELECTION_KEYS)
        if unknown:
            errors.append(f"element {index} has unknown keys {unknown} (Multus ignores them)")
        if not isinstance(element.get("name"), str) or not element["name"]:
            errors.append(f"element {index} needs a non-empty string 'name'")
            continue
        for key in ("namespace", "interface", "mac"):
            if key in element and not isinstance(element[key], str):
                errors.append(f"element {index}: '{key}' must be a string")
        if "cni-args" in element and not isinstance(element["cni-args"], dict):
            errors.append(f"element {index}: 'cni-args' must be an object")
        valid.append(element)
    return valid, errors


def _parse_short_network_selection(text: str) -> tuple[list[dict], list[str]]:
    valid, errors = [], []
    for item in (part.strip() for part in text.split(",")):
        namespaced = item.split("/")
        named = namespaced[-1].split("@")
        if not item or len(namespaced) > 2 or len(named) > 2 or not all(namespaced + named):
            errors.append(f"{item!r} is not of the form [namespace/]name[@interface]")
            continue
        element = {"name": named[0]}
        if len(namespaced) == 2:
            element["namespace"] = namespaced[0]
        valid.append(element)
    return valid, errors


# ---- RBAC


def _check_cluster_role_binding(obj: dict) -> Iterator[Finding]:
    for index, subject in _dicts(obj.get("subjects")):
        if subject.get("kind") == "ServiceAccount" and not subject.get("namespace"):
            yield _pointer("subjects", index, "namespace"), (
                "a ServiceAccount subject of a ClusterRoleBinding needs a namespace"
            )


# ---- NetworkAttachmentDefinition and its CNI configuration

# `vrfTarget` is optional: a VRF whose targets come from vrf-import/vrf-export policies has none.
_PLATTER_REQUIRED_ARGS = ("vrfName", "vxlanVNI", "applyGroups")
_JCNR_INSTANCE_TYPES = ("vrf", "virtual-router", "virtual-switch")
_JCNR_L2_INSTANCE_NAME = "vswitch"  # JCNR docs: fixed for virtual-switch, cannot be changed
_ROUTE_TARGET = re.compile(r"(\d+L?|\d{1,3}(\.\d{1,3}){3}):\d+")  # Junos vrf-target, "target:" omitted
_MAX_VNI = 2**24 - 1


def _check_nad(obj: dict) -> Iterator[Finding]:
    config_text = _dig(obj, ("spec", "config"))
    if not isinstance(config_text, str):
        return  # absent config is legal (Multus reads a file); a wrong type the schema reports
    try:
        config = json.loads(config_text)
    except json.JSONDecodeError as exc:
        yield "spec/config", f"not JSON: {exc}"
        return
    if not isinstance(config, dict):
        yield "spec/config", "must be a JSON object"
        return
    yield from _schema_findings(_standalone_validator(_CNI_CONFIG_SCHEMA_FILE), config, "spec/config")
    for path, plugin in _cni_plugins(config, "spec/config"):
        yield from _check_vendor_plugin(plugin, path)


def _cni_plugins(config: dict, prefix: str) -> Iterator[tuple[str, dict]]:
    if "plugins" in config:
        for index, plugin in _dicts(config["plugins"]):
            yield _join(prefix, "plugins", index), plugin
    else:
        yield prefix, config  # single-plugin form: the configuration is the plugin


def _check_vendor_plugin(plugin: dict, path: str) -> Iterator[Finding]:
    """Rules for the Platter and JCNR CNI plugins, which read their settings from `args`."""
    plugin_type = plugin.get("type")
    if plugin_type not in ("platter", "jcnr"):
        return
    kube_config = plugin.get("kubeConfig")
    if not (isinstance(kube_config, str) and kube_config.startswith("/")):
        yield _join(path, "kubeConfig"), (
            f"{plugin_type} needs 'kubeConfig', the absolute path of a kubeconfig on every node"
        )
    args = plugin.get("args")
    if not isinstance(args, dict):
        yield _join(path, "args"), f"{plugin_type} needs 'args', an object of string values"
        return
    for key, value in args.items():
        if not isinstance(value, str):
            yield _join(path, "args", key), (
                f"{plugin_type} args must be strings, e.g. \"10002\"; got {json.dumps(value)}"
            )
    check_args = _check_platter_args if plugin_type == "platter" else _check_jcnr_args
    yield from check_args(args, _join(path, "args"))
    yield from _check_common_args(args, _join(path, "args"))


def _check_platter_args(args: dict, path: str) -> Iterator[Finding]:
    for key in _PLATTER_REQUIRED_ARGS:
        if key not in args:
            yield path, f"platter args need '{key}'"


def _check_jcnr_args(args: dict, path: str) -> Iterator[Finding]:
    if "instanceName" not in args and "vrfName" not in args:
        yield path, "jcnr args need 'instanceName' (or the older 'vrfName')"
    # instanceType may be absent: 22.x and 23.2 NADs name only vrfName and vrfTarget.
    instance_type = args.get("instanceType")
    if instance_type is not None and instance_type not in _JCNR_INSTANCE_TYPES:
        yield _join(path, "instanceType"), (
            f"{instance_type!r} is not one of {', '.join(_JCNR_INSTANCE_TYPES)}"
        )
    if instance_type == "virtual-switch" and args.get("instanceName", _JCNR_L2_INSTANCE_NAME) != _JCNR_L2_INSTANCE_NAME:
        yield _join(path, "instanceName"), f"a virtual-switch instance must be named {_JCNR_L2_INSTANCE_NAME!r}"


def _check_common_args(args: dict, path: str) -> Iterator[Finding]:
    target = args.get("vrfTarget")
    if isinstance(target, str) and not _ROUTE_TARGET.fullmatch(target):
        yield _join(path, "vrfTarget"), f"{target!r} is not a route target like \"64512:1\" or \"10.0.0.1:5\""
    vni = args.get("vxlanVNI")
    if isinstance(vni, str) and not (vni.isascii() and vni.isdigit() and 1 <= int(vni) <= _MAX_VNI):
        yield _join(path, "vxlanVNI"), f"{vni!r} is not a VXLAN VNI (a decimal string, 1-{_MAX_VNI})"


# ---- Configlet


def _check_configlet(obj: dict) -> Iterator[Finding]:
    selector = _dig(obj, ("spec", "crpdSelector"))
    if isinstance(selector, dict):
        yield from _check_label_selector(selector, "spec/crpdSelector")


_KIND_CHECKS: dict[str, tuple[Callable[[dict], Iterator[Finding]], ...]] = {
    "ConfigMap": (_check_configmap,),
    "Secret": (_check_secret,),
    "ClusterRoleBinding": (_check_cluster_role_binding,),
    "NetworkAttachmentDefinition": (_check_nad,),
    "Configlet": (_check_configlet,),
    **dict.fromkeys(_POD_TEMPLATE_PATHS, (_check_pod_template,)),
}


# --------------------------------------------------------------------------- across objects

Identity = tuple[str, str, str]  # (kind, namespace or "" when cluster-scoped, name)


def _identity(kind: str, namespace: str | None, name: str) -> Identity:
    if kind in _CLUSTER_SCOPED_KINDS:
        return kind, "", name
    return kind, namespace or "default", name


def _object_identity(obj: Any) -> Identity | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
        return None
    metadata = _mapping(obj.get("metadata"))
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if not isinstance(name, str) or not isinstance(namespace, (str, type(None))):
        return None
    return _identity(obj["kind"], namespace, name)


def _describe(identity: Identity) -> str:
    kind, namespace, name = identity
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _check_duplicates(objects: list[Any], labels: list[str]) -> list[ManifestProblem]:
    first_seen: dict[tuple[str, Identity], int] = {}
    problems = []
    for index, obj in enumerate(objects):
        identity = _object_identity(obj)
        if identity is None or not isinstance(obj.get("apiVersion"), str):
            continue
        group = obj["apiVersion"].rpartition("/")[0]  # v1 and v2 of one group are one object
        key = (group, identity)
        if key in first_seen:
            first = first_seen[key]
            problems.append(ManifestProblem(
                labels[index], "metadata/name",
                f"duplicate of object #{first} ({labels[first]}): same group, kind, namespace and name",
            ))
        else:
            first_seen[key] = index
    return problems


@dataclass(frozen=True)
class _Reference:
    path: str  # where the reference is written in the referring object
    target: Identity


def _check_references(
    objects: list[Any], labels: list[str], assume_present: Iterable[tuple[str, str, str]]
) -> list[ManifestProblem]:
    present = {_identity(kind, namespace, name) for kind, namespace, name in assume_present}
    for obj in objects:
        present.update(_provided_identities(obj))
    problems = []
    for obj, label in zip(objects, labels, strict=True):  # one label per object (_labels checks)
        if not isinstance(obj, dict):
            continue
        for reference in _references(obj):
            if reference.target not in present and not _exists_by_default(reference.target):
                problems.append(ManifestProblem(
                    label, reference.path, f"{_describe(reference.target)} is not in the object set"
                ))
    return problems


def _provided_identities(obj: Any) -> Iterator[Identity]:
    identity = _object_identity(obj)
    if identity is None:
        return
    yield identity
    if identity[0] == "ExternalSecret":
        # The operator creates the target Secret (named after the ExternalSecret by default).
        target_name = _dig(obj, ("spec", "target", "name")) or identity[2]
        if isinstance(target_name, str):
            yield _identity("Secret", identity[1], target_name)


_BOOTSTRAP_CLUSTER_ROLES = frozenset({"cluster-admin", "admin", "edit", "view"})


def _exists_by_default(identity: Identity) -> bool:
    kind, _, name = identity
    if kind == "ServiceAccount":
        return name == "default"  # created in every namespace by the controller manager
    if kind == "ConfigMap" and name == "kube-root-ca.crt":
        return True  # published into every namespace by the controller manager (root CA publisher)
    if kind == "ClusterRole":
        return name in _BOOTSTRAP_CLUSTER_ROLES or name.startswith("system:")
    return False


def _references(obj: dict) -> Iterator[_Reference]:
    namespace = _mapping(obj.get("metadata")).get("namespace")
    namespace = namespace if isinstance(namespace, str) else None
    kind = obj.get("kind")
    if kind in ("ClusterRoleBinding", "RoleBinding"):
        yield from _binding_references(obj, namespace if kind == "RoleBinding" else None)
    template = _pod_template(obj)
    if template is not None:
        yield from _pod_references(template, namespace)


def _binding_references(obj: dict, namespace: str | None) -> Iterator[_Reference]:
    role_ref = _mapping(obj.get("roleRef"))
    role_kind, role_name = role_ref.get("kind"), role_ref.get("name")
    if role_kind in ("ClusterRole", "Role") and isinstance(role_name, str):
        yield _Reference("roleRef/name", _identity(role_kind, namespace, role_name))
    for index, subject in _dicts(obj.get("subjects")):
        name = subject.get("name")
        if subject.get("kind") == "ServiceAccount" and isinstance(name, str):
            subject_namespace = subject.get("namespace") or namespace
            yield _Reference(
                _pointer("subjects", index, "name"),
                _identity("ServiceAccount", subject_namespace, name),
            )


def _named_reference(
    source: Any, name_key: str, kind: str, namespace: str | None, path: tuple
) -> Iterator[_Reference]:
    """A reference such as volumes[i].configMap.name, skipped when marked optional."""
    if not isinstance(source, dict) or source.get("optional") is True:
        return
    name = source.get(name_key)
    if isinstance(name, str):
        yield _Reference(_pointer(*path, name_key), _identity(kind, namespace, name))


def _pod_references(template: _PodTemplate, namespace: str | None) -> Iterator[_Reference]:
    spec_path = (*template.path, "spec")
    spec = template.spec
    yield from _volume_references(spec, namespace, spec_path)
    yield from _container_references(spec, namespace, spec_path)
    for key in ("serviceAccountName", "serviceAccount"):
        if isinstance(spec.get(key), str):
            yield _Reference(_pointer(*spec_path, key), _identity("ServiceAccount", namespace, spec[key]))
            break
    yield from _network_references(template, namespace)


def _volume_references(spec: dict, namespace: str | None, spec_path: tuple) -> Iterator[_Reference]:
    for index, volume in _dicts(spec.get("volumes")):
        path = (*spec_path, "volumes", index)
        yield from _named_reference(volume.get("configMap"), "name", "ConfigMap", namespace, (*path, "configMap"))
        yield from _named_reference(volume.get("secret"), "secretName", "Secret", namespace, (*path, "secret"))
        for source_index, source in _dicts(_dig(volume, ("projected", "sources"))):
            source_path = (*path, "projected", "sources", source_index)
            yield from _named_reference(source.get("configMap"), "name", "ConfigMap", namespace, (*source_path, "configMap"))
            yield from _named_reference(source.get("secret"), "name", "Secret", namespace, (*source_path, "secret"))


def _container_references(spec: dict, namespace: str | None, spec_path: tuple) -> Iterator[_Reference]:
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in _dicts(spec.get(group)):
            path = (*spec_path, group, index)
            for env_index, source in _dicts(container.get("envFrom")):
                env_path = (*path, "envFrom", env_index)
                yield from _named_reference(source.get("configMapRef"), "name", "ConfigMap", namespace,
                                            (*env_path, "configMapRef"))
                yield from _named_reference(source.get("secretRef"), "name", "Secret", namespace, (*env_path, "secretRef"))
            for env_index, variable in _dicts(container.get("env")):
                value_from = _mapping(variable.get("valueFrom"))
                env_path = (*path, "env", env_index, "valueFrom")
                yield from _named_reference(value_from.get("configMapKeyRef"), "name", "ConfigMap", namespace,
                                            (*env_path, "configMapKeyRef"))
                yield from _named_reference(value_from.get("secretKeyRef"), "name", "Secret", namespace,
                                            (*env_path, "secretKeyRef"))


def _network_references(template: _PodTemplate, namespace: str | None) -> Iterator[_Reference]:
    networks = _mapping(template.metadata.get("annotations")).get(_NETWORKS_ANNOTATION)
    if not isinstance(networks, str):
        return
    path = _pointer(*template.path, "metadata", "annotations", _NETWORKS_ANNOTATION)
    elements, _ = _parse_network_selection(networks)  # syntax errors are reported per object
    for element in elements:
        network_namespace = element.get("namespace")
        if not isinstance(network_namespace, str):
            network_namespace = namespace
        yield _Reference(path, _identity("NetworkAttachmentDefinition", network_namespace, element["name"]))
