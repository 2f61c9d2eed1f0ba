"""Provider profiles: each fact has a source, and each fact shows up in the artifacts."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess

import pytest
import yaml as pyyaml

from conftest import HANG_GUARD, NO_KUBECTL, ROOT
from jcnrc.intent import providers
from jcnrc.pipeline import Options, compile_intent
from jcnrc.render.common import RenderOptions, common_context
from jcnrc.render.templates import Templates

AKS = ROOT / "examples" / "aks-evpn-type5.yaml"
WORKERS = ["aks-agentpool-23733201-vmss000001", "aks-agentpool-23733201-vmss000002"]


def compile_on(tmp_path, provider: str, **cluster):
    data = pyyaml.safe_load(AKS.read_text())
    data["cluster"]["provider"] = provider
    data["cluster"].update(cluster)
    intent = tmp_path / f"{provider}.yaml"
    intent.write_text(pyyaml.safe_dump(data, sort_keys=False))
    result = compile_intent(intent, Options())
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    return result


def nad_kubeconfig(files) -> str:
    nad = pyyaml.safe_load(files["manifests/networkattachmentdefinition-blue-net.yaml"])
    return json.loads(nad["spec"]["config"])["kubeConfig"]


def test_every_fact_of_every_profile_names_its_source():
    for profile in providers.PROFILES.values():
        for fact in providers.Profile.FACTS:
            assert len(profile.sources[fact]) > 20, (profile.name, fact)


def test_a_profile_without_a_source_for_a_fact_is_refused():
    aks = providers.profile("aks")
    sources = {k: v for k, v in aks.sources.items() if k != "nat"}
    with pytest.raises(ValueError, match="no source for nat"):
        dataclasses.replace(aks, sources=sources)


@pytest.mark.parametrize("provider, kubeconfig", [
    ("aks", "/var/lib/kubelet/kubeconfig"),
    ("eks", "/var/lib/kubelet/kubeconfig"),
    ("kubeadm", "/etc/kubernetes/kubelet.conf"),
])
def test_nads_use_the_kubelets_own_kubeconfig_of_the_provider(tmp_path, provider, kubeconfig):
    result = compile_on(tmp_path, provider, cniCredentials="kubelet")
    assert providers.profile(provider).kubeconfig == kubeconfig
    assert nad_kubeconfig(result.files) == kubeconfig
    prepare = pyyaml.safe_load(result.files["manifests/configmap-jcnrc-node-prep.yaml"])["data"]["prepare.sh"]
    assert f"kubeconfig={kubeconfig}\n" in prepare and f"kubelet_kubeconfig={kubeconfig}\n" in prepare


@pytest.mark.parametrize("provider", ["aks", "eks", "kubeadm"])
def test_by_default_the_nads_use_the_cnis_own_kubeconfig(tmp_path, provider):
    result = compile_on(tmp_path, provider)
    assert nad_kubeconfig(result.files) == "/etc/cni/net.d/jcnrc.d/jcnrc.kubeconfig"
    prepare = pyyaml.safe_load(result.files["manifests/configmap-jcnrc-node-prep.yaml"])["data"]["prepare.sh"]
    assert "kubelet_kubeconfig" not in prepare  # nothing of the kubelet's is read or copied


def test_cluster_kubeconfig_overrides_the_nads_and_node_preparation_copies_to_it(tmp_path):
    result = compile_on(tmp_path, "aks", kubeConfig="/etc/kubernetes/kubelet.conf", cniCredentials="kubelet")
    assert nad_kubeconfig(result.files) == "/etc/kubernetes/kubelet.conf"
    prepare = pyyaml.safe_load(result.files["manifests/configmap-jcnrc-node-prep.yaml"])["data"]["prepare.sh"]
    assert "kubeconfig=/etc/kubernetes/kubelet.conf\n" in prepare
    assert "kubelet_kubeconfig=/var/lib/kubelet/kubeconfig\n" in prepare


def test_advice_on_a_kubeconfig_override_names_the_kubelets_file():
    assert providers.advice("aks", None) == []
    assert providers.advice("kubeadm", "/etc/kubernetes/kubelet.conf") == []
    (advice,) = providers.advice("eks", "/etc/kubernetes/kubelet.conf")
    assert advice.path == ("cluster", "kubeConfig")
    assert "/var/lib/kubelet/kubeconfig" in advice.message and "in sync" in advice.message
    assert advice.help.startswith("remove `kubeConfig`")


@pytest.mark.parametrize("provider", ["aks", "kubeadm"])
def test_iptables_providers_get_per_worker_rules_and_no_aws_node_change(tmp_path, provider):
    result = compile_on(tmp_path, provider)
    assert providers.profile(provider).nat == "iptables"
    assert sorted(p for p in result.files if p.endswith("/iptables.sh")) == [f"nodes/{w}/iptables.sh" for w in WORKERS]
    data = pyyaml.safe_load(result.files["manifests/configmap-jcnrc-node-prep.yaml"])["data"]
    assert sorted(data) == ["iptables.sh", "prepare.sh", "workers"]
    assert data["workers"].split() == WORKERS
    for worker in WORKERS:
        for rule in result.files[f"nodes/{worker}/iptables.sh"].splitlines():
            if rule.startswith("ensure_rule nat"):
                assert rule in data["iptables.sh"], "the DaemonSet's rules cover every worker's own"
    assert "aws-node" not in result.files["scripts/prepare-nodes.sh"]
    assert not any(path.startswith("eks/") for path in result.files)


def test_eks_exempts_the_pools_in_aws_node_instead_of_iptables(tmp_path):
    result = compile_on(tmp_path, "eks")
    assert not any(path.endswith("iptables.sh") for path in result.files)
    keys = pyyaml.safe_load(result.files["manifests/configmap-jcnrc-node-prep.yaml"])["data"]
    assert list(keys) == ["prepare.sh"]
    script = result.files["scripts/prepare-nodes.sh"]
    assert ('"$KUBECTL" -n kube-system patch daemonset aws-node --type strategic '
            '--patch-file "$here/eks/aws-node-snat-patch.yaml"') in script
    assert "--configuration-values \"file://$here/eks/aws-node-addon-values.json\"" in script


def _render_nat_artifacts(plan) -> dict[str, str]:
    templates = Templates(None)
    context = common_context(plan, RenderOptions(intent_file="eks.yaml"))
    return {path: templates.render(template, **context) for path, template in plan.profile.nat_artifacts}


def test_aws_node_artifacts_carry_the_same_exclusion_list(tmp_path):
    result = compile_on(tmp_path, "eks")
    artifacts = _render_nat_artifacts(result.plan)
    assert sorted(artifacts) == [providers.AWS_NODE_ADDON_VALUES, providers.AWS_NODE_PATCH]
    assert all(not path.startswith("manifests/") for path in artifacts)
    patch = pyyaml.safe_load(artifacts[providers.AWS_NODE_PATCH])
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    assert container == {"name": "aws-node", "env": [{"name": "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS", "value": "1.1.0.0/16"}]}
    values = json.loads(artifacts[providers.AWS_NODE_ADDON_VALUES])
    assert values == {"env": {"AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS": "1.1.0.0/16"}}


AWS_NODE = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: aws-node, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: aws-node}}
  template:
    metadata: {labels: {k8s-app: aws-node}}
    spec:
      containers:
        - name: aws-node
          image: 602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18.0
          env:
            - {name: AWS_VPC_K8S_CNI_LOGLEVEL, value: DEBUG}
            - {name: AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS, value: ""}
        - name: aws-eks-nodeagent
          image: 602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon/aws-network-policy-agent:v1.1.0
"""


@pytest.mark.skipif(shutil.which("kubectl") is None, reason=NO_KUBECTL)
def test_kubectl_merges_the_patch_into_aws_node_by_name(tmp_path):
    result = compile_on(tmp_path, "eks")
    patch = tmp_path / "patch.yaml"
    patch.write_text(_render_nat_artifacts(result.plan)[providers.AWS_NODE_PATCH])
    daemonset = tmp_path / "aws-node.yaml"
    daemonset.write_text(AWS_NODE)
    run = subprocess.run(["kubectl", "patch", "--local", "-f", str(daemonset), "--type", "strategic",
                          "--patch-file", str(patch), "-o", "yaml"], capture_output=True, text=True, timeout=HANG_GUARD)
    assert run.returncode == 0, run.stderr
    containers = pyyaml.safe_load(run.stdout)["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["aws-node", "aws-eks-nodeagent"]
    assert {e["name"]: e["value"] for e in containers[0]["env"]} == {
        "AWS_VPC_K8S_CNI_LOGLEVEL": "DEBUG",
        "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS": "1.1.0.0/16",
    }


def test_the_eks_build_writes_the_aws_node_artifacts_outside_manifests(tmp_path):
    result = compile_on(tmp_path, "eks")
    assert set(_render_nat_artifacts(result.plan).items()) <= set(result.files.items())


@pytest.mark.parametrize("provider", ["aks", "eks", "kubeadm"])
def test_prepare_nodes_labels_the_route_reflector_and_says_how_to_label_at_provisioning(tmp_path, provider):
    result = compile_on(tmp_path, provider)
    script = result.files["scripts/prepare-nodes.sh"]
    assert '"$KUBECTL" label node --overwrite aks-agentpool-23733201-vmss000000 jcnrc.io/role=master\n' in script
    assert "node-role.kubernetes.io/master=" not in script  # deprecated; on AKS it leaves the LB pools
    for worker in WORKERS:
        assert f'"$KUBECTL" label node --overwrite {worker} jcnrc.io/role=worker' in script
    assert providers.profile(provider).provisioning_labels in script
    assert "jcnrc.io/role=master" in providers.profile(provider).provisioning_labels or \
        "jcnrc.io/role: master" in providers.profile(provider).provisioning_labels
