"""Synthetic jcnrc/v1 intents of any size, for the benchmark (benchmarks/run.py).

    python benchmarks/generate.py --nodes 2000 --vrfs 20 --pods-per-node 10 -o /tmp/x.yaml

The intent is valid by construction (``jcnrc check`` reports nothing), so the benchmark times
the normal path, not the error path. What it contains:

- 2 route-reflector masters (3 from 100 nodes on), the rest workers, addresses in a /16
  ``nodeSubnet`` (172.16.0.0/16: room for 65,000 nodes);
- ``nodes * pods_per_node`` pods dealt round-robin over the workers (masters carry no pods),
  each with ``attachments_per_pod`` interfaces in distinct VRFs;
- each worker's attachments cycle through a window of ``vrfs_per_node`` consecutive VRFs
  (default: all of them) that starts at a different VRF on every worker, so the VRFs get about
  equal demand and a worker carries min(vrfs_per_node, its attachments) VRFs. This matters for
  the output: the expected routing state of a node lists the routes of every VRF it carries;
- VRF pools carved one after the other from 10.0.0.0/8, all the size of the smallest power of
  two that is at least a /16 and holds twice the largest VRF demand; every other VRF is
  dual-stack (an ``ipv6Pool`` with as many link subnets as the IPv4 pool);
- VRFs alternate between an explicit ``vni`` and ``routeTarget``, and allocated ones;
- about ``explicit_ratio`` of the attachments give their addresses; the others are allocated.
  Explicit link subnets are drawn at random (seeded) from the pool without repetition, so they
  never overlap and the allocator has to skip them;
- a few ``expect:`` assertions that hold: reach within a VRF, isolation between VRFs;
- ``cluster.segmentRouting`` with an index range large enough for every node.

The same arguments always give the same text (the random choices come from ``seed``).
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Network
from pathlib import Path

ASN = 64512
NODE_SUBNET = IPv4Network("172.16.0.0/16")
POD_CIDR = "172.20.0.0/14"
SERVICE_CIDR = "172.24.0.0/16"
VRF_SPACE = IPv4Network("10.0.0.0/8")
IPV6_SPACE_PREFIX = "fd00:0:"  # VRF v gets fd00:0:<v>::/<n>
# Node addresses start here inside NODE_SUBNET, as cloud providers reserve the first few.
FIRST_NODE_HOST = 4
IPV4_LINK_PREFIX = 30
IPV6_LINK_PREFIX = 126
# VNIs from the intent's default vniRange (10000..19999) are allocated; explicit ones sit above it.
EXPLICIT_VNI_BASE = 20000
IMAGES = ("ubuntu:20.04", "alpine:3.20")


@dataclass(frozen=True)
class Shape:
    """The size of an intent, checked before anything is generated."""

    nodes: int
    vrfs: int
    pods_per_node: int
    attachments_per_pod: int
    explicit_ratio: float
    vrfs_per_node: int

    @property
    def masters(self) -> int:
        return 3 if self.nodes >= 100 else 2

    @property
    def workers(self) -> int:
        return self.nodes - self.masters

    @property
    def pods(self) -> int:
        return self.nodes * self.pods_per_node

    @property
    def attachments(self) -> int:
        return self.pods * self.attachments_per_pod

    def validate(self) -> None:
        if self.nodes < 3:
            raise ValueError("nodes must be at least 3 (two route reflectors and one worker)")
        if self.nodes > NODE_SUBNET.num_addresses - FIRST_NODE_HOST - 1:
            raise ValueError(f"nodes must fit {NODE_SUBNET}: at most {NODE_SUBNET.num_addresses - FIRST_NODE_HOST - 1}")
        if self.vrfs < 1:
            raise ValueError("vrfs must be at least 1")
        if self.pods_per_node < 1:
            raise ValueError("pods_per_node must be at least 1")
        if not 1 <= self.attachments_per_pod <= self.vrfs:
            raise ValueError("attachments_per_pod must be between 1 and vrfs (one interface per VRF and pod)")
        if not self.attachments_per_pod <= self.vrfs_per_node <= self.vrfs:
            raise ValueError(
                "vrfs_per_node must be between attachments_per_pod and vrfs (a pod's interfaces are in distinct VRFs)")
        if not 0.0 <= self.explicit_ratio <= 1.0:
            raise ValueError("explicit_ratio must be between 0 and 1")


@dataclass(frozen=True)
class VrfSpec:
    index: int
    name: str
    ipv4_pool: IPv4Network
    ipv6_pool: IPv6Network | None
    explicit_ids: bool  # writes vni and routeTarget; the others get them allocated / derived

    @property
    def links(self) -> int:
        return self.ipv4_pool.num_addresses >> (32 - IPV4_LINK_PREFIX)


@dataclass
class AttachmentSpec:
    vrf: VrfSpec
    explicit_slot: int | None = None  # index of the link subnet inside the pool, when explicit


@dataclass
class PodSpec:
    name: str
    node: str
    image: str
    attachments: list[AttachmentSpec]


def generate(nodes: int, vrfs: int, pods_per_node: int, attachments_per_pod: int = 1,
             explicit_ratio: float = 0.3, seed: int = 0, vrfs_per_node: int | None = None) -> str:
    """A jcnrc/v1 intent as YAML text; see the module docstring for its contents."""
    shape = Shape(nodes, vrfs, pods_per_node, attachments_per_pod, explicit_ratio,
                  vrfs if vrfs_per_node is None else vrfs_per_node)
    shape.validate()
    rng = random.Random(seed)
    node_names = _node_names(shape)
    placement = _placement(shape, node_names)
    vrf_specs = _vrfs(shape, placement)
    pods = [PodSpec(name, node, image, [AttachmentSpec(vrf_specs[v]) for v in indexes])
            for name, node, image, indexes in placement]
    _choose_explicit_slots(pods, vrf_specs, explicit_ratio, rng)
    name = f"bench-n{nodes}-v{vrfs}-p{pods_per_node}"
    sections = [
        _header(name, shape, seed),
        _nodes_section(node_names, shape),
        _vrfs_section(vrf_specs),
        _pods_section(pods),
        _secrets_section(),
        _expect_section(pods, vrf_specs),
    ]
    return "".join(sections)


# --- the model of the intent ---------------------------------------------------------------

def _node_names(shape: Shape) -> list[str]:
    masters = [f"rr-{i}" for i in range(shape.masters)]
    workers = [f"worker-{i:05d}" for i in range(shape.workers)]
    return masters + workers


def _node_address(position: int) -> IPv4Address:
    return NODE_SUBNET.network_address + FIRST_NODE_HOST + position


def _pool_prefix(demand: int) -> int:
    """Smallest power-of-two pool, at least a /16, with room for twice the demand in /30 links."""
    prefix = 16
    while (1 << (IPV4_LINK_PREFIX - prefix)) < 2 * demand:
        prefix -= 1
    return prefix


def _placement(shape: Shape, node_names: list[str]) -> list[tuple[str, str, str, list[int]]]:
    """(pod name, node, image, VRF indexes of its interfaces) for every pod.

    Worker w's k-th attachment goes to VRF (w + k mod window) mod vrfs: windows start one VRF
    further on each worker, so demand spreads evenly, and a pod's interfaces are in distinct VRFs.
    """
    workers = node_names[shape.masters:]
    window = shape.vrfs_per_node
    placement = []
    for number in range(shape.pods):
        w, slot = number % len(workers), number // len(workers)
        first = slot * shape.attachments_per_pod
        indexes = [(w + (first + a) % window) % shape.vrfs for a in range(shape.attachments_per_pod)]
        placement.append((f"pod-{number:06d}", workers[w], IMAGES[number % len(IMAGES)], indexes))
    return placement


def _vrfs(shape: Shape, placement: list[tuple[str, str, str, list[int]]]) -> list[VrfSpec]:
    demand = [0] * shape.vrfs
    for *_, indexes in placement:
        for index in indexes:
            demand[index] += 1
    prefix = _pool_prefix(max(demand))
    pools = VRF_SPACE.subnets(new_prefix=prefix)
    available = 1 << (prefix - VRF_SPACE.prefixlen)
    if shape.vrfs > available:
        raise ValueError(f"{shape.vrfs} VRFs with /{prefix} pools do not fit {VRF_SPACE} (at most {available})")
    specs = []
    for index in range(shape.vrfs):
        ipv4_pool = next(pools)
        ipv6_prefix = 128 - (32 - prefix)
        ipv6_pool = IPv6Network(f"{IPV6_SPACE_PREFIX}{index + 1:x}::/{ipv6_prefix}") if index % 2 == 0 else None
        specs.append(VrfSpec(index, f"tenant-{index:03d}", ipv4_pool, ipv6_pool, explicit_ids=index % 2 == 1))
    return specs


def _choose_explicit_slots(pods: list[PodSpec], vrfs: list[VrfSpec], ratio: float, rng: random.Random) -> None:
    """Mark about `ratio` of the attachments explicit and give each a distinct link slot of its pool."""
    chosen: dict[int, list[AttachmentSpec]] = {vrf.index: [] for vrf in vrfs}
    for pod in pods:
        for attachment in pod.attachments:
            if rng.random() < ratio:
                chosen[attachment.vrf.index].append(attachment)
    for vrf in vrfs:
        explicit = chosen[vrf.index]
        for attachment, slot in zip(explicit, rng.sample(range(vrf.links), len(explicit)), strict=True):
            attachment.explicit_slot = slot


def _pod_ipv4(vrf: VrfSpec, slot: int) -> str:
    """The pod's address in link subnet `slot`: network + 2 (network + 1 is the gateway)."""
    link = int(vrf.ipv4_pool.network_address) + (slot << (32 - IPV4_LINK_PREFIX))
    return f"{IPv4Address(link + 2)}/{IPV4_LINK_PREFIX}"


def _pod_ipv6(vrf: VrfSpec, slot: int) -> str:
    link = int(vrf.ipv6_pool.network_address) + (slot << (128 - IPV6_LINK_PREFIX))
    return f"{IPv6Network((link, IPV6_LINK_PREFIX)).network_address + 2}/{IPV6_LINK_PREFIX}"


# --- YAML text ------------------------------------------------------------------------------
# Written by hand rather than dumped: the flow style matches the bundled examples (one line per
# node and pod, as people write big intents), and every scalar here is a safe plain word or is
# quoted explicitly.

def _header(name: str, shape: Shape, seed: int) -> str:
    half = max(50000, shape.nodes)
    return (
        f"# Synthetic benchmark intent: {shape.nodes} nodes, {shape.vrfs} VRFs, {shape.pods} pods, "
        f"{shape.attachments} attachments, up to {shape.vrfs_per_node} VRFs per worker "
        f"(explicit ratio {shape.explicit_ratio}, seed {seed}).\n"
        f"# Generated by benchmarks/generate.py; do not edit.\n"
        "apiVersion: jcnrc/v1\n"
        "kind: Topology\n"
        "metadata:\n"
        f"  name: {name}\n"
        "  namespace: tenants\n"
        "cluster:\n"
        "  provider: aks\n"
        f"  asn: {ASN}\n"
        f"  nodeSubnet: {NODE_SUBNET}\n"
        f"  podCidr: {POD_CIDR}\n"
        f"  serviceCidr: {SERVICE_CIDR}\n"
        "  underlayMtu: 1500\n"
        "  segmentRouting: {srgbStart: 400000, "
        f"srgbRange: {2 * half}, ipv4IndexBase: 0, ipv6IndexBase: {half}}}\n"
        "images:\n"
        "  platter: platter.azurecr.io/platter:latest\n"
        "  crpd: platter.azurecr.io/crpd:latest\n"
    )


def _nodes_section(node_names: list[str], shape: Shape) -> str:
    lines = ["nodes:\n"]
    for position, name in enumerate(node_names):
        role = "master" if position < shape.masters else "worker"
        lines.append(f"  - {{name: {name}, address: {_node_address(position)}, role: {role}}}\n")
    return "".join(lines)


def _vrfs_section(vrfs: list[VrfSpec]) -> str:
    lines = ["vrfs:\n"]
    for vrf in vrfs:
        lines.append(f"  - name: {vrf.name}\n")
        if vrf.explicit_ids:
            lines.append(f'    routeTarget: "{ASN}:{1000 + vrf.index}"\n')
            lines.append(f"    vni: {EXPLICIT_VNI_BASE + vrf.index}\n")
        lines.append(f"    ipv4Pool: {vrf.ipv4_pool}\n")
        if vrf.ipv6_pool is not None:
            lines.append(f"    ipv6Pool: {vrf.ipv6_pool}\n")
    return "".join(lines)


def _attachment_text(attachment: AttachmentSpec) -> str:
    vrf = attachment.vrf
    fields = [f"vrf: {vrf.name}"]
    if attachment.explicit_slot is not None:
        fields.append(f"ipv4: {_pod_ipv4(vrf, attachment.explicit_slot)}")
        if vrf.ipv6_pool is not None:
            fields.append(f"ipv6: {_pod_ipv6(vrf, attachment.explicit_slot)}")
    return "{" + ", ".join(fields) + "}"


def _pods_section(pods: list[PodSpec]) -> str:
    lines = ["pods:\n"]
    for pod in pods:
        networks = ", ".join(_attachment_text(a) for a in pod.attachments)
        lines.append(f"  - {{name: {pod.name}, node: {pod.node}, image: {pod.image}, networks: [{networks}]}}\n")
    return "".join(lines)


def _secrets_section() -> str:
    return "secrets:\n  rootPassword: {env: CRPD_ROOT_PASSWORD}\n  crpdLicense: {file: crpd-license.txt}\n"


def _expect_section(pods: list[PodSpec], vrfs: list[VrfSpec]) -> str:
    """Assertions that hold: VRFs share no route target, so pods reach exactly within their VRFs."""
    lines = ["expect:\n"]
    for a, b in _reach_pairs(pods):
        lines.append(f"  - reach: [{a}, {b}]\n")
    for a, b in _isolated_pairs(pods, vrfs):
        lines.append(f"  - isolate: [{a}, {b}]\n")
    return "".join(lines)


def _vrf_set(pod: PodSpec) -> frozenset[str]:
    return frozenset(a.vrf.name for a in pod.attachments)


def _reach_pairs(pods: list[PodSpec]) -> list[tuple[str, str]]:
    """The first pod with the last pod that shares one of its VRFs, and the same for the second pod."""
    pairs = []
    for first in pods[:2]:
        partner = next((p for p in reversed(pods) if p is not first and _vrf_set(p) & _vrf_set(first)), None)
        if partner is not None:
            pairs.append((first.name, partner.name))
    return pairs


def _isolated_pairs(pods: list[PodSpec], vrfs: list[VrfSpec]) -> list[tuple[str, str]]:
    """Two VRFs, and two pods whose VRF sets are disjoint."""
    pairs = []
    if len(vrfs) >= 2:
        pairs.append((vrfs[0].name, vrfs[-1].name))
    first = pods[0]
    stranger = next((p for p in pods if not _vrf_set(p) & _vrf_set(first)), None)
    if stranger is not None:
        pairs.append((first.name, stranger.name))
    return pairs


# --- command line ---------------------------------------------------------------------------

def generate_fleet(clusters: int, nodes: int, vrfs: int, pods_per_node: int, seed: int = 0) -> str:
    """A jcnrc/v1 Fleet of `clusters` clusters, each shaped like `generate(nodes, vrfs, pods_per_node)`
    with every address allocated: one AS, the VRFs shared (pools sized for the whole fleet), node
    subnets 100.64.0.0/16, 100.65.0.0/16, ... (shared address space, clear of the VRF pools and of
    the clusters' pod and service ranges), route reflectors in a full mesh (the default)."""
    import yaml

    if not 1 <= clusters <= 64:
        raise ValueError("clusters must be between 1 and 64")
    members = []
    data: dict = {}
    for index in range(clusters):
        data = yaml.safe_load(generate(nodes, vrfs, pods_per_node, explicit_ratio=0.0, seed=seed + index))
        subnet = f"100.{64 + index}."
        for node in data["nodes"]:
            node["address"] = node["address"].replace("172.16.", subnet, 1)
        data["cluster"]["nodeSubnet"] = f"{subnet}0.0/16"
        members.append({"name": f"c{index:02d}", "cluster": data["cluster"], "nodes": data["nodes"], "pods": data["pods"]})
    demand = clusters * nodes * pods_per_node // max(vrfs, 1) + 1
    space = VRF_SPACE.subnets(new_prefix=_pool_prefix(demand))
    for vrf in data["vrfs"]:
        vrf["ipv4Pool"] = str(next(space))
        vrf.pop("ipv6Pool", None)
    for member in members:
        member["cluster"].pop("vniRange", None)
        for pod in member["pods"]:
            for attachment in pod["networks"]:
                attachment.pop("ipv6", None)
    fleet = {
        "apiVersion": "jcnrc/v1", "kind": "Fleet",
        "metadata": {"name": f"bench-f{clusters}-n{nodes}-v{vrfs}-p{pods_per_node}", "namespace": "default"},
        "images": data["images"], "vrfs": data["vrfs"], "secrets": data["secrets"], "clusters": members,
    }
    header = (f"# Synthetic fleet: {clusters} clusters x {nodes} nodes, {vrfs} VRFs, {pods_per_node} pods per node"
              f" (seed {seed}).\n")
    return header + yaml.safe_dump(fleet, sort_keys=False, width=200)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic jcnrc/v1 intent for benchmarks.")
    parser.add_argument("--nodes", type=int, required=True, help="nodes in total (2-3 of them route reflectors)")
    parser.add_argument("--vrfs", type=int, required=True, help="tenant VRFs")
    parser.add_argument("--pods-per-node", type=int, required=True,
                        help="pods per node on average: nodes x this many pods, spread over the workers")
    parser.add_argument("--attachments-per-pod", type=int, default=1, help="interfaces per pod, each in another VRF")
    parser.add_argument("--explicit-ratio", type=float, default=0.3, help="share of attachments that give their addresses")
    parser.add_argument("--vrfs-per-node", type=int, help="VRFs each worker's attachments cycle through (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random choices")
    parser.add_argument("--clusters", type=int, help="write a Fleet of this many clusters, each of --nodes nodes")
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    try:
        if args.clusters is not None:
            text = generate_fleet(args.clusters, args.nodes, args.vrfs, args.pods_per_node, args.seed)
        else:
            text = generate(args.nodes, args.vrfs, args.pods_per_node, args.attachments_per_pod, args.explicit_ratio,
                            args.seed, args.vrfs_per_node)
    except ValueError as exc:
        parser.error(str(exc))
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
