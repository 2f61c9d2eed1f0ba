"""Time jcnrc.verify.kubeschema.validate_objects on 1,000 mixed Platter-shaped objects.

Usage: python benchmarks/bench_kubeschema.py [--count N] [--repeat R] [--kube 1.32] [--compare]

Prints the first (cold) call, which loads and compiles the schemas, and the warm calls that
the budget is about (well under 1 s for 1,000 objects).  --compare also times
kubernetes_validate.validate(), which reloads its schemas for every object, on a sample.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import time
from pathlib import Path

# Run from a checkout without installing: make the repository's jcnrc importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jcnrc.verify.kubeschema import validate_objects

NS = "kube-system"
# Objects the DaemonSets mount but that this benchmark does not generate.
ASSUMED = [("ConfigMap", NS, "platter-config"), ("ConfigMap", NS, "platter-node-config"),
           ("Secret", NS, "platter-secrets"), ("ServiceAccount", NS, "crpd"), ("ClusterRole", "", "crpd")]


def config_map(i):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}", "namespace": NS},
            "data": {f"node-{i}.json": json.dumps({"ipv4LoopbackAddr": f"10.0.{i // 250}.{i % 250}"})}}


def secret(i):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"secret-{i}", "namespace": NS},
            "data": {"root-password": base64.b64encode(b"my-root-password").decode()}}


def service_account(i):
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": f"sa-{i}", "namespace": NS}}


def cluster_role(i):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": f"role-{i}"},
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "watch"]}]}


def cluster_role_binding(i):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": f"binding-{i}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "crpd"},
            "subjects": [{"kind": "ServiceAccount", "name": "crpd", "namespace": NS}]}


def daemon_set(i):
    name = f"kube-crpd-worker-ds-{i}"
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": NS, "labels": {"k8s-app": "kube-crpd-worker"}},
        "spec": {"selector": {"matchLabels": {"name": name}}, "template": {
            "metadata": {"labels": {"name": name}},
            "spec": {
                "serviceAccountName": "crpd", "hostNetwork": True,
                "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
                "initContainers": [{"name": "install-cni", "image": "platter:latest",
                                    "env": [{"name": "IS_MASTER", "value": "False"}],
                                    "volumeMounts": [{"name": "platter-config", "mountPath": "/etc/platter"},
                                                     {"name": "secrets", "mountPath": "/etc/secrets"}],
                                    "securityContext": {"privileged": True}}],
                "containers": [{"name": "kube-crpd-worker", "image": "crpd:21.3R1",
                                "env": [{"name": "NODE_IP",
                                         "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}],
                                "volumeMounts": [{"name": "conf", "mountPath": "/config"}],
                                "securityContext": {"privileged": True}}],
                "volumes": [{"name": "conf", "hostPath": {"path": "/etc/crpd"}},
                            {"name": "platter-config", "configMap": {"name": "platter-config"}},
                            {"name": "node-config", "configMap": {"name": "platter-node-config"}},
                            {"name": "secrets", "secret": {"secretName": "platter-secrets"}}],
            }}},
    }


def pod(i):
    networks = [{"name": f"net-{i + 1}", "interface": "net1",
                 "cni-args": {"ipConfig": {"ipv4": {"address": "1.1.1.2/30", "gateway": "1.1.1.1"}}}}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"pod-{i}", "namespace": "default",
                         "annotations": {"k8s.v1.cni.cncf.io/networks": json.dumps(networks)}},
            "spec": {"containers": [{"name": "alpine", "image": "alpine:3.20", "command": ["sleep", "infinity"]}]}}


def nad(i):
    config = {"cniVersion": "0.4.0", "name": f"net-{i}", "type": "platter",
              "args": {"applyGroups": "evpn-type5", "vxlanVNI": str(10000 + i), "vrfName": f"vrf{i}",
                       "vrfTarget": f"64512:{i}"},
              "kubeConfig": "/etc/kubernetes/kubelet.conf"}
    return {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": f"net-{i}", "namespace": "default"}, "spec": {"config": json.dumps(config)}}


MAKERS = [config_map, secret, service_account, cluster_role, cluster_role_binding, daemon_set, pod, nad]


def mixed_objects(count: int) -> list[dict]:
    return [MAKERS[i % len(MAKERS)](i) for i in range(count)]


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def compare_with_library(objects: list[dict], kube_version: str, sample: int = 40) -> None:
    import kubernetes_validate

    builtin = [obj for obj in objects if obj["kind"] != "NetworkAttachmentDefinition"][:sample]
    seconds, _ = timed(lambda: [kubernetes_validate.validate(obj, kube_version, strict=True) for obj in builtin])
    per_object = seconds / len(builtin)
    print(f"kubernetes_validate.validate(): {per_object * 1000:.1f} ms/object "
          f"(~{per_object * len(objects):.1f} s for {len(objects)} objects)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--kube", default="1.32")
    parser.add_argument("--compare", action="store_true")
    options = parser.parse_args()

    objects = mixed_objects(options.count)
    cold, problems = timed(validate_objects, objects, options.kube, assume_present=ASSUMED)
    if problems:
        raise SystemExit(f"benchmark objects should be valid, got: {problems[:3]}")
    warm = [timed(validate_objects, objects, options.kube, assume_present=ASSUMED)[0]
            for _ in range(options.repeat)]
    print(f"{options.count} objects, Kubernetes {options.kube}")
    print(f"first call (loads schemas): {cold:.3f} s")
    print(f"warm calls: min {min(warm):.3f} s, median {statistics.median(warm):.3f} s, max {max(warm):.3f} s")
    if options.compare:
        compare_with_library(objects, options.kube)


if __name__ == "__main__":
    main()
