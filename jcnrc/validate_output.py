"""`jcnrc build --validate`: read the rendered manifests back and validate every object."""

from __future__ import annotations

from jcnrc.render import MANIFESTS


class ValidationUnavailable(Exception):
    pass


def manifest_objects(files: dict[str, str]) -> tuple[list[dict], list[str]]:
    """Every Kubernetes object under manifests/, parsed back with a YAML 1.2 reader, with its file name."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    objects, sources = [], []
    for path, text in sorted(files.items()):
        if not path.startswith(MANIFESTS + "/") or path.endswith("kustomization.yaml"):
            continue
        for index, obj in enumerate(yaml.load_all(text)):
            if obj is None:
                continue
            objects.append(obj)
            sources.append(f"{path}#{index}" if path.endswith("manifest.yaml") else path)
    return objects, sources


def validate_files(files: dict[str, str], kube_version: str) -> list:
    try:
        from jcnrc import kubeschema
    except ImportError as exc:  # pragma: no cover - kubeschema imports lazily
        raise ValidationUnavailable(str(exc)) from exc
    objects, sources = manifest_objects(files)
    # The Secret is created out of band in `reference` mode: references to it are expected.
    assumed = [("Secret", "kube-system", "platter-secrets"), ("Secret", "jcnr", "jcnr-secrets")]
    try:
        return kubeschema.validate_objects(objects, kube_version, sources=sources, assume_present=assumed)
    except kubeschema.UnsupportedKubeVersion as exc:
        raise ValidationUnavailable(str(exc)) from exc
    except ImportError as exc:
        raise ValidationUnavailable(f"{exc} (install jcnrc[validate])") from exc
