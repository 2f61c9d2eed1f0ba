"""What differs between managed Kubernetes offerings, each fact in one place with its source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Profile:
    name: str
    # The kubeconfig the Platter CNI binary reads, referenced by every NAD (`kubeConfig`).
    kubeconfig: str
    # Where node preparation copies it from when `kubeconfig` is missing on the node.
    kubeconfig_source: str
    # How pod subnets are kept out of SNAT: host iptables rules, or the VPC CNI's exclusion list.
    nat: Literal["iptables", "aws-node"]
    # Whether kube-proxy's KUBE-FORWARD chain exists (iptables-mode kube-proxy).
    kube_forward_chain: bool
    source: str


PROFILES: dict[str, Profile] = {
    "aks": Profile(
        name="aks",
        # The walkthrough had to `kubectl cp` a kubeconfig to /etc/kubernetes/kubelet.conf through a
        # debug pod; the kubelet's own kubeconfig is already on every AKS node, so the NADs point there.
        kubeconfig="/var/lib/kubelet/kubeconfig",
        kubeconfig_source="/var/lib/kubelet/kubeconfig",
        nat="iptables",
        kube_forward_chain=True,
        source="AKS walkthrough (shared/seed): kubelet.conf missing -> pods stuck in ContainerCreating; "
        "iptables rules on the workers; AKS nodes run the kubelet with --kubeconfig /var/lib/kubelet/kubeconfig",
    ),
    "eks": Profile(
        name="eks",
        kubeconfig="/var/lib/kubelet/kubeconfig",
        kubeconfig_source="/var/lib/kubelet/kubeconfig",
        nat="aws-node",
        kube_forward_chain=True,
        source="robric/eks-platter-inter-cluster fix-source-dest-check-and-snat.sh (AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS); "
        "simonrho/jcnr-in-aws-demo NADs (kubeConfig /var/lib/kubelet/kubeconfig)",
    ),
    "kubeadm": Profile(
        name="kubeadm",
        kubeconfig="/etc/kubernetes/kubelet.conf",
        kubeconfig_source="/etc/kubernetes/kubelet.conf",
        nat="iptables",
        kube_forward_chain=True,
        source="kubeadm writes /etc/kubernetes/kubelet.conf on every node; robric load-kubelet-conf.sh",
    ),
}


def profile(name: str) -> Profile:
    return PROFILES[name]
