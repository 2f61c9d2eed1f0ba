"""Tests for jcnrc.verify.kubeschema: objects shaped like Platter's and JCNR's rendered manifests."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from conftest import call_count
from jcnrc.verify import kubeschema
from jcnrc.verify.kubeschema import (
    DEFAULT_KUBE_VERSION,
    ManifestProblem,
    UnsupportedKubeVersion,
    _schemas_dir,
    supported_kube_versions,
    validate_objects,
)

NS = "kube-system"
NETWORKS = "k8s.v1.cni.cncf.io/networks"


# --------------------------------------------------------------------------- builders


def config_map(name="platter-config", namespace=NS, data=None):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data if data is not None else {"crpd-config.tmpl": "system { }\n"},
    }


def secret(name="platter-secrets", namespace=NS):
    license_b64 = base64.encodebytes(b"DEMO LICENSE " * 20).decode()  # wrapped at 76 chars
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {
            "root-password": base64.b64encode(b"my-root-password").decode(),
            "crpd-license": license_b64,
        },
    }


def service_account(name="crpd", namespace=NS):
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}


def cluster_role(name="crpd"):
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "watch"]}],
    }


def cluster_role_binding(name="crpd", role="crpd", account="crpd", namespace=NS):
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }


def daemon_set(name="kube-crpd-worker-ds"):
    mounts = [
        {"name": "cni", "mountPath": "/host"},
        {"name": "platter-config", "mountPath": "/etc/platter"},
        {"name": "node-config", "mountPath": "/etc/platter-node-config"},
        {"name": "secrets", "mountPath": "/etc/secrets"},
    ]
    node_ip = {"name": "NODE_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": NS, "labels": {"k8s-app": "kube-crpd-worker"}},
        "spec": {
            "selector": {"matchLabels": {"name": name}},
            "template": {
                "metadata": {"labels": {"name": name}},
                "spec": {
                    "serviceAccountName": "crpd",
                    "hostNetwork": True,
                    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [
                            {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                            {"key": "node-role.kubernetes.io/master", "operator": "DoesNotExist"},
                        ]}],
                    }}},
                    "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
                    "initContainers": [{
                        "name": "install-cni",
                        "image": "registry.example/platter:latest",
                        "imagePullPolicy": "IfNotPresent",
                        "env": [node_ip, {"name": "IS_MASTER", "value": "False"},
                                {"name": "CRPD_CONFIG_TEMPLATE", "value": "/etc/platter/crpd-config.tmpl"},
                                {"name": "PRIMARY_CNI", "value": "False"}],
                        "volumeMounts": mounts,
                        "securityContext": {"privileged": True,
                                            "capabilities": {"add": ["NET_ADMIN", "NET_RAW", "SYS_ADMIN"]}},
                    }],
                    "containers": [{
                        "name": "kube-crpd-worker",
                        "image": "registry.example/crpd:21.3R1",
                        "imagePullPolicy": "IfNotPresent",
                        "env": [node_ip, {"name": "IS_MASTER", "value": "False"}],
                        "volumeMounts": [{"name": "conf", "mountPath": "/config"}, mounts[0], mounts[3]],
                        "securityContext": {"privileged": True},
                        "startupProbe": {"exec": {"command": ["/config/scripts/health-check.sh", "--startup"]},
                                         "initialDelaySeconds": 5, "periodSeconds": 10},
                    }],
                    "volumes": [
                        {"name": "cni", "hostPath": {"path": "/"}},
                        {"name": "conf", "hostPath": {"path": "/etc/crpd"}},
                        {"name": "platter-config", "configMap": {"name": "platter-config"}},
                        {"name": "node-config", "configMap": {"name": "platter-node-config"}},
                        {"name": "secrets", "secret": {"secretName": "platter-secrets"}},
                    ],
                },
            },
        },
    }


def nad(name="blue-net", namespace="default", config=None):
    if config is None:
        config = platter_cni_config(name)
    return {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"config": config if isinstance(config, str) else json.dumps(config)},
    }


def platter_cni_config(name="blue-net", **arg_overrides):
    args = {"applyGroups": "evpn-type5", "vxlanVNI": "10002", "vrfName": "blue", "vrfTarget": "11:11"}
    args.update(arg_overrides)
    return {"cniVersion": "0.4.0", "name": name, "type": "platter", "args": args,
            "kubeConfig": "/etc/kubernetes/kubelet.conf"}


def jcnr_cni_config(name="vrf1", **arg_overrides):
    args = {"instanceName": name, "instanceType": "vrf", "interfaceType": "veth", "vrfTarget": "64512:1"}
    args.update(arg_overrides)
    return {"cniVersion": "0.4.0", "name": name, "plugins": [{
        "type": "jcnr",
        "args": args,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.0.0.0/24", "gateway": "10.0.0.1"}]]},
        "kubeConfig": "/etc/kubernetes/kubelet.conf",
    }]}


def pod(name="alpine-du1", namespace="default", networks=None):
    if networks is None:
        networks = json.dumps([{
            "name": "blue-net", "interface": "net1",
            "cni-args": {"mac": "aa:bb:cc:dd:01:01", "dataplane": "linux",
                         "ipConfig": {"ipv4": {"address": "1.1.1.2/30", "gateway": "1.1.1.1",
                                               "routes": ["1.1.0.0/16"]}}},
        }])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "annotations": {NETWORKS: networks}},
        "spec": {
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "node-role.kubernetes.io/master", "operator": "NotIn", "values": ["master"]}]}],
            }}},
            "containers": [{
                "name": "alpine",
                "image": "alpine:3.20",
                "command": ["sleep", "infinity"],
                "env": [{"name": "KUBERNETES_POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}],
                "volumeMounts": [{"name": "dpdk", "mountPath": "/dpdk", "subPathExpr": "$(KUBERNETES_POD_UID)"}],
                "securityContext": {"privileged": False},
            }],
            "volumes": [{"name": "dpdk", "hostPath": {"path": "/var/run/platter/containers"}}],
        },
    }


def configlet(name="configlet-jcnr-master", spec=None):
    return {
        "apiVersion": "configplane.juniper.net/v1",
        "kind": "Configlet",
        "metadata": {"name": name, "namespace": "jcnr"},
        "spec": spec if spec is not None else {
            "config": "set interfaces lo0 unit 0 family inet address 1.1.1.1/32",
            "crpdSelector": {"matchLabels": {"kubernetes.io/hostname": "jcnr-master"}},
        },
    }


def external_secret(name="platter-secrets", spec=None):
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec if spec is not None else {
            "refreshInterval": "1h",
            "secretStoreRef": {"name": "vault", "kind": "ClusterSecretStore"},
            "target": {"name": name},
            "data": [{"secretKey": "root-password", "remoteRef": {"key": "jcnr/crpd", "property": "root"}}],
        },
    }


def platter_set():
    return [
        secret(),
        config_map(),
        config_map("platter-node-config", data={"node-ip-10-20-63-45.us-west-2.compute.internal.json":
                                                json.dumps({"ipv4LoopbackAddr": "10.20.63.45"})}),
        cluster_role(),
        cluster_role_binding(),
        service_account(),
        daemon_set(),
        nad(),
        nad("vrf1", config=jcnr_cni_config()),
        pod(),
        configlet(),
    ]


def problems_at(problems, path):
    return [problem.message for problem in problems if problem.path == path]


# --------------------------------------------------------------------------- valid input


@pytest.mark.parametrize("kube_version", ["1.28", "1.32"])
def test_platter_set_is_valid(kube_version):
    assert validate_objects(platter_set(), kube_version) == []


def test_external_secret_provides_the_secret_it_targets():
    objects = [obj for obj in platter_set() if obj["kind"] != "Secret"] + [external_secret()]
    assert validate_objects(objects) == []


def test_default_version_and_supported_versions_are_numeric_and_sorted():
    versions = supported_kube_versions()
    assert versions[0] == "1.25" and versions[-1] == "1.37"
    assert [int(v.split(".")[1]) for v in versions] == list(range(25, 38))
    assert DEFAULT_KUBE_VERSION in versions


@pytest.mark.parametrize("kube_version", ["v1.32", "1.32.4", " 1.30 "])
def test_version_spellings_are_accepted(kube_version):
    assert validate_objects([config_map()], kube_version) == []


@pytest.mark.parametrize("kube_version", ["1.20", "banana", "1.99", "", "2", "1.3"])
def test_unsupported_versions_raise_with_the_supported_list(kube_version):
    with pytest.raises(UnsupportedKubeVersion) as excinfo:
        validate_objects([config_map()], kube_version)
    assert "1.25" in str(excinfo.value) and "1.37" in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_schemas_dir_is_the_repository_folder():
    assert (_schemas_dir() / "nad.schema.json").is_file()
    assert (_schemas_dir() / "cni-config.schema.json").is_file()


# --------------------------------------------------------------------------- built-in kinds


def test_typo_field_fails_in_strict_mode_with_its_path():
    daemon = daemon_set()
    container = daemon["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolcy"] = container.pop("imagePullPolicy")
    problems = validate_objects([daemon], assume_present=_platter_dependencies())
    assert len(problems) == 1
    assert problems[0].source == "DaemonSet kube-system/kube-crpd-worker-ds"
    assert problems[0].path == "spec/template/spec/containers/0"
    assert "'imagePullPolcy' was unexpected" in problems[0].message


def _platter_dependencies():
    return [("ConfigMap", NS, "platter-config"), ("ConfigMap", NS, "platter-node-config"),
            ("Secret", NS, "platter-secrets"), ("ServiceAccount", NS, "crpd")]


def test_config_map_int_value_fails():
    problems = validate_objects([config_map(data={"x": 5})])
    assert problems_at(problems, "data/x") == ["5 is not of type 'string', 'null'"]


def test_missing_role_ref_fails():
    binding = cluster_role_binding()
    del binding["roleRef"]
    problems = validate_objects([binding, service_account()])
    assert [(p.path, p.message) for p in problems] == [("", "'roleRef' is a required property")]


def test_wrong_type_reports_the_field_path():
    broken = pod()
    broken["spec"]["containers"][0]["command"] = "sleep infinity"
    problems = validate_objects([broken, nad()])
    assert problems_at(problems, "spec/containers/0/command") == [
        "'sleep infinity' is not of type 'array', 'null'"
    ]


def test_unknown_kind_has_no_schema():
    problems = validate_objects([{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}])
    assert [p.message for p in problems] == ["no schema for example.com/v1/Widget"]


def test_nested_types_and_foreign_groups_are_not_mistaken_for_kinds():
    affinity = {"apiVersion": "v1", "kind": "Affinity", "metadata": {"name": "a"}}
    foreign = cluster_role()
    foreign["apiVersion"] = "rbac.example.com/v1"  # file name would be clusterrole-rbac-v1.json
    problems = validate_objects([affinity, foreign])
    assert [p.message for p in problems] == [
        "no schema for v1/Affinity",
        "no schema for rbac.example.com/v1/ClusterRole",
    ]


def test_non_mapping_and_kindless_objects_are_reported():
    problems = validate_objects([None, {"metadata": {"name": "x"}}])
    assert [(p.source, p.message) for p in problems] == [
        ("object #0", "expected a mapping, got NoneType"),
        ("<no kind> x", "apiVersion and kind must be non-empty strings"),
    ]


def test_sources_label_problems_and_must_match_in_length():
    problems = validate_objects([config_map(data={"x": 5})], sources=["out/configmap.yaml"])
    assert problems[0].source == "out/configmap.yaml"
    with pytest.raises(ValueError, match="1 sources for 2 objects"):
        validate_objects([config_map(), secret()], sources=["a.yaml"])


def test_problems_are_ordered_values():
    first = ManifestProblem("a", "x", "m")
    second = ManifestProblem("b", "", "m")
    assert sorted([second, first]) == [first, second]
    assert len({first, ManifestProblem("a", "x", "m")}) == 1


# --------------------------------------------------------------------------- NAD and CNI config


def test_nad_config_not_json():
    problems = validate_objects([nad(config='{"cniVersion": "0.4.0", name: "x"}')])
    assert len(problems) == 1
    assert problems[0].path == "spec/config"
    assert problems[0].message.startswith("not JSON: Expecting property name")


def test_nad_config_must_be_an_object():
    problems = validate_objects([nad(config="[1, 2]")])
    assert problems_at(problems, "spec/config") == ["must be a JSON object"]


@pytest.mark.parametrize("config", [platter_cni_config(), jcnr_cni_config()], ids=["single", "list"])
def test_nad_config_missing_cni_version(config):
    del config["cniVersion"]
    problems = validate_objects([nad(config["name"], config=config)])
    assert problems_at(problems, "spec/config") == ["'cniVersion' is a required property"]


def test_cni_config_version_name_and_type_syntax():
    config = platter_cni_config()
    config.update(cniVersion="0.4", name="-blue")
    list_config = jcnr_cni_config()
    list_config["plugins"][0]["type"] = "../bin/jcnr"
    list_config["plugins"].append({"ipam": {"type": "static"}})
    problems = validate_objects([nad(config=config), nad("vrf1", config=list_config)])
    assert any("'0.4' does not match" in m for m in problems_at(problems, "spec/config/cniVersion"))
    assert any("'-blue' does not match" in m for m in problems_at(problems, "spec/config/name"))
    assert any("'../bin/jcnr' does not match" in m for m in problems_at(problems, "spec/config/plugins/0/type"))
    assert problems_at(problems, "spec/config/plugins/1") == ["'type' is a required property"]


def test_nad_args_value_int_fails():
    config = platter_cni_config(vxlanVNI=10002)
    problems = validate_objects([nad(config=config)])
    assert problems_at(problems, "spec/config/args/vxlanVNI") == [
        'platter args must be strings, e.g. "10002"; got 10002'
    ]


def test_nad_missing_vrf_name_fails_but_vrf_target_is_optional():
    """A VRF with asymmetric targets takes them from policies and its NAD has no vrfTarget."""
    config = platter_cni_config()
    del config["args"]["vrfTarget"]
    assert problems_at(validate_objects([nad(config=config)]), "spec/config/args") == []
    del config["args"]["vrfName"]
    problems = validate_objects([nad(config=config)])
    assert problems_at(problems, "spec/config/args") == ["platter args need 'vrfName'"]


def test_platter_args_formats_and_kube_config():
    config = platter_cni_config(vxlanVNI="99999999", vrfTarget="11-11")
    config["kubeConfig"] = "etc/kubernetes/kubelet.conf"
    problems = validate_objects([nad(config=config)])
    assert len(problems_at(problems, "spec/config/args/vxlanVNI")) == 1
    assert len(problems_at(problems, "spec/config/args/vrfTarget")) == 1
    assert "absolute path" in problems_at(problems, "spec/config/kubeConfig")[0]


@pytest.mark.parametrize("vni", ["\u00b2", "\u0661\u0662", "\uff11\uff12"])
def test_a_vni_of_other_digits_is_a_finding_not_a_crash(vni):
    """str.isdigit() holds for superscripts and other scripts' digits; int() reads some of them and
    refuses others: a VXLAN VNI is ASCII decimal."""
    problems = validate_objects([nad(config=platter_cni_config(vxlanVNI=vni))])
    assert len(problems_at(problems, "spec/config/args/vxlanVNI")) == 1


def test_platter_args_must_be_an_object():
    config = platter_cni_config()
    config["args"] = "vrfName=blue"
    problems = validate_objects([nad(config=config)])
    assert problems_at(problems, "spec/config/args") == ["platter needs 'args', an object of string values"]


def test_jcnr_args_rules():
    no_name = jcnr_cni_config()
    del no_name["plugins"][0]["args"]["instanceName"]
    bad_type = jcnr_cni_config("vrf2", instanceType="l3vpn")
    switch = jcnr_cni_config("vrf3", instanceType="virtual-switch", instanceName="bd")
    legacy = jcnr_cni_config("red1")  # 23.2 EKS shape: vrfName, no instanceType
    legacy["plugins"][0]["args"] = {"vrfName": "red1", "vrfTarget": "65000:100"}
    problems = validate_objects([nad("vrf1", config=no_name), nad("vrf2", config=bad_type),
                                 nad("vrf3", config=switch), nad("red1", config=legacy)])
    by_source = {(p.source, p.path): p.message for p in problems}
    assert by_source == {
        ("NetworkAttachmentDefinition default/vrf1", "spec/config/plugins/0/args"):
            "jcnr args need 'instanceName' (or the older 'vrfName')",
        ("NetworkAttachmentDefinition default/vrf2", "spec/config/plugins/0/args/instanceType"):
            "'l3vpn' is not one of vrf, virtual-router, virtual-switch",
        ("NetworkAttachmentDefinition default/vrf3", "spec/config/plugins/0/args/instanceName"):
            "a virtual-switch instance must be named 'vswitch'",
    }


def test_nad_structure_is_strict_including_metadata():
    extra_spec = nad()
    extra_spec["spec"]["cniVersion"] = "0.4.0"
    typo_meta = nad("red-net", config=platter_cni_config("red-net"))
    typo_meta["metadata"]["lables"] = {"a": "b"}
    wrong_type = nad("green-net")
    wrong_type["spec"]["config"] = {"type": "bridge"}
    problems = validate_objects([extra_spec, typo_meta, wrong_type])
    assert any("'cniVersion' was unexpected" in m for m in problems_at(problems, "spec"))
    assert any("'lables' was unexpected" in m for m in problems_at(problems, "metadata"))
    assert problems_at(problems, "spec/config") == ["{'type': 'bridge'} is not of type 'string'"]


def test_nad_without_config_is_allowed():
    empty = nad()
    empty["spec"] = {}
    assert validate_objects([empty]) == []


# --------------------------------------------------------------------------- Configlet, ExternalSecret


def test_configlet_bad():
    missing_config = configlet("a", spec={"crpdSelector": {"matchLabels": {"kubernetes.io/hostname": "n1"}}})
    bad_selector = configlet("b", spec={"config": "set x", "crpdSelector": {
        "matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In"}],
        "matchLabels": {"bad key!": "n1"},
    }})
    extra_field = configlet("c", spec={"config": "set x", "group": "g"})
    no_namespace = configlet("d")
    del no_namespace["metadata"]["namespace"]
    problems = validate_objects([missing_config, bad_selector, extra_field, no_namespace])
    messages = {(p.source, p.path, p.message) for p in problems}
    assert ("Configlet jcnr/a", "spec", "'config' is a required property") in messages
    assert ("Configlet jcnr/b", "spec/crpdSelector/matchExpressions/0", "'values' is a required property") in messages
    assert any(s == "Configlet jcnr/b" and p == "spec/crpdSelector/matchLabels/bad key!" for s, p, _ in messages)
    assert any(s == "Configlet jcnr/c" and "'group' was unexpected" in m for s, _, m in messages)
    assert ("Configlet d", "metadata", "'namespace' is a required property") in messages


def test_external_secret_bad():
    spec = copy.deepcopy(external_secret()["spec"])
    spec["secretStoreRef"]["kind"] = "Store"
    spec["data"][0]["remoteRef"] = {"property": "root"}
    spec["refreshInterval"] = "hourly"
    problems = validate_objects([external_secret(spec=spec)])
    assert {p.path for p in problems} == {
        "spec/secretStoreRef/kind", "spec/data/0/remoteRef", "spec/refreshInterval",
    }
    assert "'key' is a required property" in problems_at(problems, "spec/data/0/remoteRef")


# --------------------------------------------------------------------------- names, labels, data


def test_bad_names():
    objects = [
        pod(name="Alpine_DU1"),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jcnr.system"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1svc", "namespace": "default"},
         "spec": {"ports": [{"port": 80}]}},
        config_map(namespace="Kube_System"),
        cluster_role("system:jcnr:reader"),  # RBAC names may contain ':'
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": NS}},
    ]
    problems = validate_objects(objects, assume_present=[("NetworkAttachmentDefinition", "default", "blue-net")])
    by_source = {(p.source, p.path): p.message for p in problems}
    assert "not a DNS-1123 subdomain" in by_source[("Pod default/Alpine_DU1", "metadata/name")]
    assert "not a DNS-1123 label" in by_source[("Namespace jcnr.system", "metadata/name")]
    assert "not a DNS-1035 label" in by_source[("Service default/1svc", "metadata/name")]
    assert "not a DNS-1123 label" in by_source[("ConfigMap Kube_System/platter-config", "metadata/namespace")]
    assert by_source[("ConfigMap kube-system/<unnamed>", "metadata")] == "metadata.name is required"
    assert not any(source.startswith("ClusterRole") for source, _ in by_source)


def test_bad_labels_and_annotations():
    cm = config_map()
    cm["metadata"]["labels"] = {
        "app.kubernetes.io/name": "platter",  # fine
        "Bad_Prefix.io/name": "x",
        "-leading": "x",
        "ok": "not valid!",
        "long": "x" * 64,
        "empty": "",  # fine
    }
    cm["metadata"]["annotations"] = {"jcnr.juniper.net/params": "{}", "a b": "c"}
    problems = validate_objects([cm])
    assert {p.path for p in problems} == {
        "metadata/labels/Bad_Prefix.io~1name",
        "metadata/labels/-leading",
        "metadata/labels/ok",
        "metadata/labels/long",
        "metadata/annotations/a b",
    }


def test_pod_template_labels_are_checked_and_selector_must_match():
    daemon = daemon_set()
    daemon["spec"]["template"]["metadata"]["labels"]["bad key!"] = "x"
    daemon["spec"]["selector"]["matchLabels"]["tier"] = "cni"
    problems = validate_objects([daemon], assume_present=_platter_dependencies())
    assert [p.path for p in problems] == [
        "spec/template/metadata/labels/bad key!",
        "spec/selector/matchLabels/tier",
    ]
    assert "selector requires tier=cni" in problems[1].message


def test_config_and_secret_keys_and_base64():
    bad_cm = config_map(data={"crpd config.tmpl": "x"})
    bad_secret = secret()
    bad_secret["data"]["root-password"] = "my-root-password!"
    problems = validate_objects([bad_cm, bad_secret])
    assert [(p.source, p.path) for p in problems] == [
        ("ConfigMap kube-system/platter-config", "data/crpd config.tmpl"),
        ("Secret kube-system/platter-secrets", "data/root-password"),
    ]
    assert "stringData" in problems[1].message


def test_oversized_config_map():
    problems = validate_objects([config_map(data={"big": "x" * (1024 * 1024 + 1)})])
    assert [(p.path, p.message) for p in problems] == [("", "ConfigMap payload is 1048577 bytes; the limit is 1048576")]


# --------------------------------------------------------------------------- references


def test_dangling_config_map_and_secret_references():
    objects = [daemon_set(), service_account(), config_map()]
    problems = validate_objects(objects)
    assert [(p.path, p.message) for p in problems] == [
        ("spec/template/spec/volumes/3/configMap/name",
         "ConfigMap kube-system/platter-node-config is not in the object set"),
        ("spec/template/spec/volumes/4/secret/secretName",
         "Secret kube-system/platter-secrets is not in the object set"),
    ]


def test_assume_present_and_optional_suppress_references():
    daemon = daemon_set()
    daemon["spec"]["template"]["spec"]["volumes"][3]["configMap"]["optional"] = True
    objects = [daemon, service_account(), config_map()]
    assert validate_objects(objects, assume_present=[("Secret", NS, "platter-secrets")]) == []


def test_reference_in_another_namespace_is_dangling():
    objects = [daemon_set(), service_account(), config_map(namespace="default"),
               config_map("platter-node-config"), secret()]
    problems = validate_objects(objects)
    assert [p.path for p in problems] == ["spec/template/spec/volumes/2/configMap/name"]


def test_env_references_are_checked():
    p = pod(networks="blue-net")
    p["spec"]["containers"][0]["envFrom"] = [{"secretRef": {"name": "creds"}}]
    p["spec"]["containers"][0]["env"].append(
        {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "params", "key": "x", "optional": True}}})
    problems = validate_objects([p, nad()])
    assert [(p.path, p.message) for p in problems] == [
        ("spec/containers/0/envFrom/0/secretRef/name", "Secret default/creds is not in the object set"),
    ]


def test_dangling_service_account_and_rbac_references():
    objects = [daemon_set(), cluster_role_binding(role="crpd-reader", account="crpd-agent")]
    problems = validate_objects(objects, assume_present=_platter_dependencies()[:3])
    assert [(p.source, p.path, p.message) for p in problems] == [
        ("DaemonSet kube-system/kube-crpd-worker-ds", "spec/template/spec/serviceAccountName",
         "ServiceAccount kube-system/crpd is not in the object set"),
        ("ClusterRoleBinding crpd", "roleRef/name", "ClusterRole crpd-reader is not in the object set"),
        ("ClusterRoleBinding crpd", "subjects/0/name",
         "ServiceAccount kube-system/crpd-agent is not in the object set"),
    ]


def test_bootstrap_cluster_roles_and_default_service_account_exist():
    binding = cluster_role_binding(role="cluster-admin", account="default")
    assert validate_objects([binding]) == []


def test_cluster_role_binding_service_account_needs_namespace():
    binding = cluster_role_binding()
    del binding["subjects"][0]["namespace"]
    problems = validate_objects([binding, cluster_role(), service_account(namespace="default")])
    assert [p.path for p in problems] == ["subjects/0/namespace"]


def test_dangling_network_attachment_references():
    json_form = pod("du1")  # names blue-net in its own namespace
    other_ns = pod("du2", networks=json.dumps([{"name": "red-net", "namespace": "tenant", "interface": "net1"}]))
    short_form = pod("du3", networks="blue-net@net1, tenant/red-net")
    problems = validate_objects([json_form, other_ns, short_form, nad("red-net", "tenant")])
    path = "metadata/annotations/k8s.v1.cni.cncf.io~1networks"
    assert [(p.source, p.path, p.message) for p in problems] == [
        ("Pod default/du1", path, "NetworkAttachmentDefinition default/blue-net is not in the object set"),
        ("Pod default/du3", path, "NetworkAttachmentDefinition default/blue-net is not in the object set"),
    ]


def test_network_annotation_syntax():
    bad_json = pod("du1", networks='[{"name": "blue-net", "cni_args": {}}, {"interface": "net2"}]')
    not_json = pod("du2", networks='[{"name": blue-net}]')
    bad_short = pod("du3", networks="a/b/c, ,blue-net")
    problems = validate_objects([bad_json, not_json, bad_short, nad()])
    by_source = {}
    for p in problems:
        by_source.setdefault(p.source, []).append(p.message)
    assert by_source["Pod default/du1"] == [
        "element 0 has unknown keys ['cni_args'] (Multus ignores them)",
        "element 1 needs a non-empty string 'name'",
    ]
    assert by_source["Pod default/du2"][0].startswith("not valid JSON")
    assert by_source["Pod default/du3"] == [
        "'a/b/c' is not of the form [namespace/]name[@interface]",
        "'' is not of the form [namespace/]name[@interface]",
    ]


def test_duplicates():
    objects = [config_map(), config_map(), service_account(),
               service_account(namespace="default"), cluster_role(), cluster_role()]
    problems = validate_objects(objects)
    assert [(p.source, p.path, p.message) for p in problems] == [
        ("ConfigMap kube-system/platter-config", "metadata/name",
         "duplicate of object #0 (ConfigMap kube-system/platter-config): same group, kind, namespace and name"),
        ("ClusterRole crpd", "metadata/name",
         "duplicate of object #4 (ClusterRole crpd): same group, kind, namespace and name"),
    ]


# --------------------------------------------------------------------------- performance


def mixed_objects(count):
    makers = [
        lambda i: config_map(f"cm-{i}"),
        lambda i: secret(f"secret-{i}"),
        lambda i: service_account(f"sa-{i}"),
        lambda i: cluster_role(f"role-{i}"),
        lambda i: cluster_role_binding(f"binding-{i}", role=f"role-{i - 1}", account=f"sa-{i - 2}"),
        lambda i: daemon_set(f"ds-{i}"),
        lambda i: pod(f"pod-{i}", networks=f"net-{i + 1}"),
        lambda i: nad(f"net-{i}"),
    ]
    return [makers[i % len(makers)](i) for i in range(count)]


def test_thousand_objects_validate_with_cached_validators_in_linear_work():
    """One validator per kind, built once; the work per object does not grow with the object set
    (cross-object checks look names up, they do not scan). Counted, not timed: benchmarks/
    bench_kubeschema.py measures the speed."""
    present = [("ConfigMap", NS, "platter-config"), ("ConfigMap", NS, "platter-node-config"),
               ("Secret", NS, "platter-secrets"), ("ServiceAccount", NS, "crpd")]
    validate_objects(mixed_objects(8), "1.32", assume_present=present)  # builds and caches one validator per kind
    built = kubeschema._kind_validator.cache_info().misses
    small, small_calls = call_count(validate_objects, mixed_objects(100), "1.32", assume_present=present)
    large, large_calls = call_count(validate_objects, mixed_objects(1000), "1.32", assume_present=present)
    assert small == large == []
    assert kubeschema._kind_validator.cache_info().misses == built, "a validator was built again"
    assert large_calls < 12 * small_calls, (small_calls, large_calls)  # ten times the objects: ten times the work (10.3 measured)
