"""What differs between managed Kubernetes offerings: each fact in one place, with its source.

A profile holds only facts the compiler acts on. Each fact's source is recorded next to it in
``Profile.sources`` (tests require one per fact), and ``docs/gitops.md`` explains them.

The facts:

- ``kubeconfig``: the kubelet's own kubeconfig on every node. The NADs point the Platter CNI at
  it unless ``cluster.kubeConfig`` overrides the path; node preparation then keeps a copy of
  this file at the overriding path. The walkthrough instead copied a user's ``~/.kube/config``
  into ``/etc/kubernetes/kubelet.conf`` through a debug pod on every node.
- ``nat``: how traffic between VRF pools is kept out of the primary CNI's SNAT. ``iptables``:
  ACCEPT rules in the host's nat table, written per worker and applied by node preparation.
  ``aws-node``: the Amazon VPC CNI's own exclusion list, ``AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS``;
  the VPC CNI rewrites its iptables rules itself, so host rules would be fighting it.
- ``nat_artifacts``: the files that carry the ``aws-node`` setting (a strategic-merge patch for
  ``kubectl patch`` and the same setting as EKS add-on configuration values). They live outside
  ``manifests/``: aws-node belongs to EKS, and a GitOps controller must not take it over.
- ``master_label``: how the route reflector's node gets the label the master DaemonSet selects,
  ``jcnrc.io/role=master`` (never ``node-role.kubernetes.io/master``: deprecated, and on AKS it
  takes the node out of the Standard Load Balancer's backend pools). ``kubectl label``
  (``scripts/prepare-nodes.sh``) sets it on running nodes; ``provisioning_labels`` says how it can
  instead be set when the node is created, which survives node replacement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

NatMethod = Literal["iptables", "aws-node"]

# Where the aws-node artifacts go in the output folder (outside manifests/, see above).
AWS_NODE_PATCH = "eks/aws-node-snat-patch.yaml"
AWS_NODE_ADDON_VALUES = "eks/aws-node-addon-values.json"
_AWS_NODE_PATCH_TEMPLATE = "common/aws-node-snat-patch.yaml.j2"
_AWS_NODE_ADDON_TEMPLATE = "common/aws-node-addon-values.json.j2"

@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    kubeconfig: str
    nat: NatMethod
    nat_patch: str | None  # aws-node patch that scripts/prepare-nodes.sh applies with `kubectl patch`
    nat_addon_values: str | None  # the same setting as EKS add-on configuration values
    master_label: str
    provisioning_labels: str
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    FACTS = ("kubeconfig", "nat", "nat_artifacts", "master_label", "provisioning_labels")

    @property
    def nat_artifacts(self) -> tuple[tuple[str, str], ...]:
        """(output path, template) of each file that carries the NAT exemption, outside manifests/."""
        pairs = ((self.nat_patch, _AWS_NODE_PATCH_TEMPLATE), (self.nat_addon_values, _AWS_NODE_ADDON_TEMPLATE))
        return tuple((path, template) for path, template in pairs if path)

    def __post_init__(self) -> None:
        missing = [fact for fact in self.FACTS if not self.sources.get(fact)]
        if missing:
            raise ValueError(f"provider profile {self.name}: no source for {', '.join(missing)}")


_KUBECTL_LABEL = ("jcnrc.io/role=master: kubectl label (scripts/prepare-nodes.sh), or set when the node is created "
                  "(provisioning_labels)")
# Why the DaemonSets select on jcnrc.io/role and never on node-role.kubernetes.io/master.
_ROLE_LABEL_SOURCE = (
    "Platter reads the role from its DaemonSet's env IS_MASTER, not from a node label (docs/reference/jcnr-formats.md "
    "section 2); node-role.kubernetes.io/master is deprecated (the API server warns: use .../control-plane) and makes "
    "cloud-provider-azure drop the node from Standard Load Balancer backend pools, excludeMasterFromStandardLB "
    "(kubernetes-sigs/cloud-provider-azure pkg/provider/azure_standard.go; docs/reference/fleet-and-day2.md)"
)

PROFILES: dict[str, Profile] = {
    "aks": Profile(
        name="aks",
        title="Azure Kubernetes Service",
        kubeconfig="/var/lib/kubelet/kubeconfig",
        nat="iptables",
        nat_patch=None,
        nat_addon_values=None,
        master_label=_KUBECTL_LABEL,
        provisioning_labels="az aks nodepool add --labels jcnrc.io/role=master (a dedicated pool for the route reflector)",
        sources=MappingProxyType({
            "kubeconfig": "Azure/AgentBaker parts/linux/cloud-init/artifacts/10-tlsbootstrap.conf: "
            "KUBELET_TLS_BOOTSTRAP_FLAGS=\"--kubeconfig /var/lib/kubelet/kubeconfig ...\"",
            "nat": "AKS walkthrough (shared/seed), 'Test Traffic between the 2 pods': iptables -I KUBE-FORWARD -j ACCEPT "
            "and nat PREROUTING/POSTROUTING ACCEPT for the VRF pool on both workers",
            "nat_artifacts": "none: the iptables rules are per-node scripts in the node-preparation ConfigMap",
            "master_label": _ROLE_LABEL_SOURCE,
            "provisioning_labels": "az aks nodepool add --labels (AKS documentation: 'Use labels in an AKS cluster')",
        }),
    ),
    "eks": Profile(
        name="eks",
        title="Amazon Elastic Kubernetes Service",
        kubeconfig="/var/lib/kubelet/kubeconfig",
        nat="aws-node",
        nat_patch=AWS_NODE_PATCH,
        nat_addon_values=AWS_NODE_ADDON_VALUES,
        master_label=_KUBECTL_LABEL,
        provisioning_labels="the node group's labels: {jcnrc.io/role: master} (eksctl nodeGroups[].labels or the "
        "managed node group API)",
        sources=MappingProxyType({
            "kubeconfig": "awslabs/amazon-eks-ami templates/al2/runtime/kubelet.service: "
            "--kubeconfig /var/lib/kubelet/kubeconfig",
            "nat": "aws/amazon-vpc-cni-k8s README, AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS (v1.6.0+); "
            "robric/eks-platter-inter-cluster fix-source-dest-check-and-snat.sh sets it for the Platter pools",
            "nat_artifacts": "kubectl patch --type strategic (env is merged by name); EKS add-on "
            "--configuration-values {\"env\": {...}} for clusters that manage vpc-cni as an add-on",
            "master_label": _ROLE_LABEL_SOURCE,
            "provisioning_labels": "eksctl ClusterConfig nodeGroups[].labels; EKS CreateNodegroup labels",
        }),
    ),
    "kubeadm": Profile(
        name="kubeadm",
        title="kubeadm (and kubespray) clusters",
        kubeconfig="/etc/kubernetes/kubelet.conf",
        nat="iptables",
        nat_patch=None,
        nat_addon_values=None,
        master_label=_KUBECTL_LABEL,
        provisioning_labels="JoinConfiguration nodeRegistration.kubeletExtraArgs node-labels: jcnrc.io/role=master",
        sources=MappingProxyType({
            "kubeconfig": "kubeadm writes /etc/kubernetes/kubelet.conf on every node (kubeadm implementation details: "
            "'kubelet.conf'); robric/eks-platter-inter-cluster load-kubelet-conf.sh installs a kubeconfig at that path",
            "nat": "same rules as the AKS walkthrough: kube-proxy in iptables mode has KUBE-FORWARD, and the primary "
            "CNI masquerades traffic leaving its pod range",
            "nat_artifacts": "none: the iptables rules are per-node scripts in the node-preparation ConfigMap",
            "master_label": _ROLE_LABEL_SOURCE,
            "provisioning_labels": "kubeadm JoinConfiguration nodeRegistration.kubeletExtraArgs (kubelet --node-labels)",
        }),
    ),
}


def profile(name: str) -> Profile:
    return PROFILES[name]


@dataclass(frozen=True)
class Advice:
    """A provider-specific remark on an intent field, for the check stage to report as a warning."""

    path: tuple[str, ...]
    message: str
    help: str


def advice(provider: str, kube_config: str | None, credentials: str = "kubelet") -> list[Advice]:
    """Warnings for intent fields whose meaning depends on the provider.

    ``cluster.kubeConfig`` is the only such field today: with ``cniCredentials: kubelet`` every
    provider honours it, but on each one the kubelet already keeps a kubeconfig on every node, and a
    different path means node preparation must keep a second copy of the node's credentials in
    sync at that path. With the CNI's own ServiceAccount nothing is copied: no advice.
    """
    chosen = profile(provider)
    if credentials != "kubelet" or kube_config is None or kube_config == chosen.kubeconfig:
        return []
    return [Advice(
        path=("cluster", "kubeConfig"),
        message=f"on {provider}, `cluster.kubeConfig` {kube_config} is a copy of the kubelet's own kubeconfig "
        f"{chosen.kubeconfig}, kept in sync on every node by node preparation",
        help=f"remove `kubeConfig` to point the NADs at {chosen.kubeconfig} directly",
    )]
