"""The fleet's GitOps objects (an Argo CD ApplicationSet, one Flux Kustomization per cluster) against
jcnrc's schemas for them, schemas/applicationset.schema.json and schemas/flux-kustomization.schema.json,
both directly through kubeschema and through the manifests path of `jcnrc build --validate`."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import yaml as pyyaml

from jcnrc.verify import manifests as validate_output
from jcnrc.verify.kubeschema import DEFAULT_KUBE_VERSION, ManifestProblem, validate_objects

APPLICATIONSET_YAML = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: tri
  namespace: argocd
  labels:
    app.kubernetes.io/managed-by: jcnrc
    app.kubernetes.io/part-of: tri
spec:
  goTemplate: true
  goTemplateOptions:
    - missingkey=error
  generators:
    - list:
        elements:
          - cluster: east
            destination: east
          - cluster: west
            destination: west
  template:
    metadata:
      name: 'tri-{{.cluster}}'
      labels:
        app.kubernetes.io/managed-by: jcnrc
        app.kubernetes.io/part-of: tri
    spec:
      project: default
      source:
        repoURL: https://github.com/example/network.git
        targetRevision: main
        path: 'out/tri/{{.cluster}}'
      destination:
        name: '{{.destination}}'
      syncPolicy:
        automated:
          prune: true
          selfHeal: true
        syncOptions:
          - ServerSideApply=true
"""

FLUX_YAML = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: tri-{cluster}
  namespace: flux-system
  labels:
    app.kubernetes.io/managed-by: jcnrc
    app.kubernetes.io/part-of: tri
spec:
  interval: 10m
  path: ./out/tri/{cluster}
  prune: true
  wait: true
  timeout: 5m
  sourceRef:
    kind: GitRepository
    name: flux-system
"""

APPLICATIONSET = pyyaml.safe_load(APPLICATIONSET_YAML)
FLUX = pyyaml.safe_load(FLUX_YAML.format(cluster="east"))
DOCUMENTS = {"applicationset": APPLICATIONSET, "flux": FLUX}

Path = tuple[str | int, ...]

# Mappings whose keys are data, not field names: any key is allowed, only the value type is checked.
FREE_FORM_MAPS = {
    "applicationset": {
        ("metadata", "labels"),
        ("spec", "template", "metadata", "labels"),
        ("spec", "generators", 0, "list", "elements", 0),
        ("spec", "generators", 0, "list", "elements", 1),
    },
    "flux": {("metadata", "labels")},
}


def leaves(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every scalar in a parsed document, with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, (*path, index))
    else:
        yield path, node


def mappings(node: Any, path: Path = ()) -> Iterator[Path]:
    """The path of every mapping in a parsed document, the document itself first."""
    if isinstance(node, dict):
        yield path
        for key, value in node.items():
            yield from mappings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from mappings(value, (*path, index))


def get(doc: Any, path: Path) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def replaced(doc: dict, path: Path, value: Any) -> dict:
    copied = copy.deepcopy(doc)
    get(copied, path[:-1])[path[-1]] = value
    return copied


def wrong_types(value: Any) -> list[Any]:
    """Values of every JSON type but the leaf's own (null aside: ObjectMeta admits it)."""
    return [other for other in (12345, True, "text", ["text"], {"text": "text"}) if type(other) is not type(value)]


def escaped(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer(path: Path) -> str:
    """The path as kubeschema reports it: JSON-pointer escaped, no leading slash."""
    return "/".join(escaped(part) for part in path)


def blames(problems: list[ManifestProblem], path: Path) -> bool:
    """A problem is reported at the mutated location or at one of the objects holding it."""
    target = [escaped(part) for part in path]
    return any(
        (parts := p.path.split("/") if p.path else []) == target[: len(parts)] for p in problems
    )


LEAVES = [(name, path) for name, doc in DOCUMENTS.items() for path, _ in leaves(doc)]
MAPPINGS = [
    (name, path) for name, doc in DOCUMENTS.items() for path in mappings(doc) if path not in FREE_FORM_MAPS[name]
]


# --------------------------------------------------------------------------- the shapes jcnrc renders


def test_rendered_shapes_validate():
    west = pyyaml.safe_load(FLUX_YAML.format(cluster="west"))
    assert validate_objects([APPLICATIONSET, FLUX, west]) == []


def test_documented_variations_validate():
    flux = copy.deepcopy(FLUX)
    flux["spec"].update({
        "retryInterval": "1m30s",
        "targetNamespace": "jcnr",
        "dependsOn": [{"name": "tri-west"}, {"name": "infra", "namespace": "flux-system"}],
        "sourceRef": {"kind": "OCIRepository", "name": "network", "namespace": "flux-system"},
        "healthChecks": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "crpd", "namespace": "jcnr"}],
        "postBuild": {"substitute": {"cluster": "east"}, "substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]},
        "deletionPolicy": "Orphan",
    })
    appset = copy.deepcopy(APPLICATIONSET)
    appset["spec"]["syncPolicy"] = {"preserveResourcesOnDeletion": True, "applicationsSync": "create-update"}
    template_spec = appset["spec"]["template"]["spec"]
    template_spec["destination"] = {"server": "https://kubernetes.default.svc", "namespace": "jcnr"}
    template_spec["syncPolicy"]["retry"] = {"limit": 5, "backoff": {"duration": "5s", "factor": 2}}
    yaml_list = copy.deepcopy(APPLICATIONSET)
    yaml_list["spec"]["generators"] = [{"list": {"elementsYaml": "{{ .clusters | toJson }}"}}]
    multi_source = copy.deepcopy(APPLICATIONSET)
    multi_source["spec"]["template"]["spec"]["sources"] = [
        multi_source["spec"]["template"]["spec"].pop("source")
    ]
    for doc in (flux, appset, yaml_list, multi_source):
        assert validate_objects([doc]) == []


def test_schemas_cover_both_documents():
    # The enumeration below must reach the deepest fields, not stop at the first level.
    assert ("applicationset", ("spec", "template", "spec", "syncPolicy", "automated", "selfHeal")) in LEAVES
    assert ("applicationset", ("spec", "generators", 0, "list", "elements", 1, "destination")) in LEAVES
    assert ("flux", ("spec", "sourceRef", "kind")) in LEAVES
    assert len(LEAVES) == 23 + 13  # the scalars of the two documents above
    assert ("applicationset", ("spec", "template", "spec", "source")) in MAPPINGS


# --------------------------------------------------------------------------- every leaf, every mapping


@pytest.mark.parametrize(("name", "path"), LEAVES, ids=[f"{n}:{pointer(p)}" for n, p in LEAVES])
def test_every_leaf_refuses_a_wrong_type(name, path):
    doc = DOCUMENTS[name]
    for wrong in wrong_types(get(doc, path)):
        problems = validate_objects([replaced(doc, path, wrong)])
        assert problems, f"{pointer(path)} = {wrong!r} was accepted"
        assert blames(problems, path), f"{pointer(path)} = {wrong!r}: {problems}"


def test_unhashable_kind_is_reported():
    assert validate_objects([replaced(FLUX, ("kind",), ["Kustomization"])])


@pytest.mark.parametrize(("name", "path"), MAPPINGS, ids=[f"{n}:{pointer(p) or '<object>'}" for n, p in MAPPINGS])
def test_every_mapping_refuses_an_unknown_key(name, path):
    doc = copy.deepcopy(DOCUMENTS[name])
    get(doc, path)["jcnrcUnknownField"] = "x"
    problems = validate_objects([doc])
    assert any(p.path == pointer(path) and "jcnrcUnknownField" in p.message for p in problems), problems


@pytest.mark.parametrize(("name", "path"), [(n, p) for n, maps in FREE_FORM_MAPS.items() for p in maps])
def test_free_form_maps_take_any_key_but_only_strings(name, path):
    doc = copy.deepcopy(DOCUMENTS[name])
    get(doc, path)["example.com/extra"] = "x"
    assert validate_objects([doc]) == []
    get(doc, path)["example.com/extra"] = 1
    assert blames(validate_objects([doc]), (*path, "example.com/extra"))


# --------------------------------------------------------------------------- required fields, rules


@pytest.mark.parametrize("path", [
    ("spec", "interval"), ("spec", "prune"), ("spec", "sourceRef"),
    ("spec", "sourceRef", "kind"), ("spec", "sourceRef", "name"), ("metadata", "name"), ("spec",),
])
def test_flux_required_fields(path):
    doc = copy.deepcopy(FLUX)
    del get(doc, path[:-1])[path[-1]]
    assert validate_objects([doc])


@pytest.mark.parametrize("path", [
    ("spec", "generators"), ("spec", "template"), ("spec", "template", "metadata"),
    ("spec", "template", "spec"), ("spec", "template", "spec", "project"),
    ("spec", "template", "spec", "destination"), ("spec", "template", "spec", "source"),
    ("spec", "template", "spec", "source", "repoURL"), ("spec", "template", "spec", "destination", "name"),
])
def test_applicationset_required_fields(path):
    doc = copy.deepcopy(APPLICATIONSET)
    del get(doc, path[:-1])[path[-1]]
    assert validate_objects([doc])


def test_applicationset_rules_beyond_types():
    both = copy.deepcopy(APPLICATIONSET)
    both["spec"]["template"]["spec"]["destination"]["server"] = "https://kubernetes.default.svc"
    no_generators = copy.deepcopy(APPLICATIONSET)
    no_generators["spec"]["generators"] = []
    empty_generator = copy.deepcopy(APPLICATIONSET)
    empty_generator["spec"]["generators"] = [{}]
    empty_list = copy.deepcopy(APPLICATIONSET)
    empty_list["spec"]["generators"] = [{"list": {}}]
    bad_sync = copy.deepcopy(APPLICATIONSET)
    bad_sync["spec"]["syncPolicy"] = {"applicationsSync": "always"}
    for doc in (both, no_generators, empty_generator, empty_list, bad_sync):
        assert validate_objects([doc])


@pytest.mark.parametrize("field", ["interval", "timeout", "retryInterval"])
@pytest.mark.parametrize("value", ["10", "10 m", "1d", "-5m", "", "5M", "1h30", "P1D", "1.m", "10m "])
def test_flux_wrong_duration(field, value):
    doc = copy.deepcopy(FLUX)
    doc["spec"][field] = value
    problems = validate_objects([doc])
    assert [p.path for p in problems] == [f"spec/{field}"]
    assert "does not match" in problems[0].message


@pytest.mark.parametrize("value", ["10m", "1h30m", "500ms", "1.5h", "30s", "2h0m0s"])
def test_flux_good_duration(value):
    doc = copy.deepcopy(FLUX)
    doc["spec"]["retryInterval"] = value
    assert validate_objects([doc]) == []


# --------------------------------------------------------------------------- through `--validate`


def gitops_files() -> dict[str, str]:
    return {
        "gitops/argocd/applicationset.yaml": APPLICATIONSET_YAML,
        "gitops/flux/east.yaml": FLUX_YAML.format(cluster="east"),
        "gitops/flux/west.yaml": FLUX_YAML.format(cluster="west"),
        "gitops/README.md": "not YAML: {{ ignored",
    }


def test_gitops_files_are_collected_and_validated():
    objects, sources = validate_output.gitops_objects(gitops_files())
    assert sources == ["gitops/argocd/applicationset.yaml", "gitops/flux/east.yaml", "gitops/flux/west.yaml"]
    assert [obj["kind"] for obj in objects] == ["ApplicationSet", "Kustomization", "Kustomization"]
    assert validate_output.validate_files(gitops_files(), DEFAULT_KUBE_VERSION) == []


def test_gitops_problems_name_the_file():
    files = gitops_files()
    files["gitops/flux/east.yaml"] = files["gitops/flux/east.yaml"].replace("interval: 10m", "interval: 10 minutes")
    typo = "selfHeal: true\n          selfheal: true"
    files["gitops/argocd/applicationset.yaml"] = APPLICATIONSET_YAML.replace("selfHeal: true", typo)
    problems = validate_output.validate_files(files, DEFAULT_KUBE_VERSION)
    assert {(p.source, p.path) for p in problems} == {
        ("gitops/flux/east.yaml", "spec/interval"),
        ("gitops/argocd/applicationset.yaml", "spec/template/spec/syncPolicy/automated"),
    }


def test_gitops_multi_document_file_and_kustomize_config():
    files = {
        "gitops/flux/all.yaml": FLUX_YAML.format(cluster="east") + "---\n" + FLUX_YAML.format(cluster="west"),
        "gitops/flux/kustomization.yaml": (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - all.yaml\n"
        ),
    }
    _, sources = validate_output.gitops_objects(files)
    assert sources == ["gitops/flux/all.yaml#0", "gitops/flux/all.yaml#1"]
    assert validate_output.validate_files(files, DEFAULT_KUBE_VERSION) == []


def test_gitops_objects_sit_beside_manifests_without_reference_problems():
    files = gitops_files()
    files["manifests/configmap-demo.yaml"] = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n  namespace: jcnr\ndata:\n  a: b\n"
    )
    objects, _ = validate_output.manifest_objects(files)
    assert [obj["kind"] for obj in objects] == ["ConfigMap"]  # gitops/ is not under manifests/
    assert validate_output.validate_files(files, DEFAULT_KUBE_VERSION) == []
