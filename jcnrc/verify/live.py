"""`jcnrc verify FILE --live`: ask the cluster itself instead of reading captures.

For each node (every node of the intent unless `--node` names some; `<cluster>/<node>` in a fleet):

1. find its cRPD pod: ``kubectl get pods -n <namespace> -o json --field-selector spec.nodeName=<node>
   -l <selector>`` (Platter: namespace ``kube-system``, the pod label ``name`` of the two DaemonSets of
   ``templates/platter/_daemonset.j2``; JCNR: namespace ``jcnr``, the pod with a ``kube-crpd-worker``
   container, see `JCNR_PODS`). A pod jcnrc deployed for a workload is never taken, and when more
   than one pod remains the node is an error naming them: a guess could read another pod's answers
   (`_NodeRun._choose`);
2. run in it, through ``kubectl exec -n <namespace> <pod> -c <container> --``, the commands the
   checks need, structured output first:

   - ``cli -c 'show bgp summary | display json'``
   - ``cli -c 'show route table <vrf>.evpn.0 extensive | display json'`` for each VRF of the node
     (``extensive``: it alone shows VNI, route targets and protocol next hop)
   - Platter only (JCNR forwards in the DPDK vRouter, not in kernel tables):
     ``ip -j -d link show type vrf`` (cRPD names its kernel VRFs ``__crpd-vrf<N>``, not after the
     routing instance, so every one of them is read and compare.py matches each with the VRF whose
     routes it holds), then ``ip -j route show table <N>`` and ``ip -j -6 route show table <N>``;

   a command whose structured form gives no JSON document (an old ``ip`` without ``-j``, a CLI
   without ``display json``) is run again in text form (``cli -c 'show bgp summary'``, ``ip vrf
   show``, ``ip route show table <N>``), which the capture parser reads as it reads saved captures;
3. compare what it read with the expected state (compare.py) and report (report.py).

kubectl always runs from an argument list (never a shell), with a timeout per call and a limit on
what it may print (`KUBECTL_MAX_OUTPUT`), with the caller's environment (KUBECONFIG, credentials
plugins) and ``--context`` when one is given. Errors:

- kubectl missing, a context that does not exist, a cluster that does not answer ``get pods``, RBAC
  refusing ``get pods`` or ``pods/exec``: nothing can be verified, `LiveError` (exit 2);
- no cRPD pod on a node (or several), a pod not Running, a command that fails, times out or prints
  more than the limit in one pod: the node's report holds an error (exit 1), the other nodes are
  verified.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from jcnrc.diagnostics import did_you_mean, escaped
from jcnrc.plan import expected as expected_state
from jcnrc.verify.capture import (
    BgpPeer,
    BgpSummaryCapture,
    Capture,
    CaptureError,
    EvpnType5Route,
    KernelTableCapture,
    RouteTableCapture,
    _int,
    parse_bgp_summary,
    parse_kernel_routes,
    parse_route_table,
    parse_type5,
)
from jcnrc.verify.compare import Finding, check_captures
from jcnrc.verify.report import CaptureInfo, NodeReport, PodInfo, Report, node_report

if TYPE_CHECKING:
    from jcnrc.plan.fleet import FleetPlan
    from jcnrc.plan.planner import Plan

__all__ = [
    "JCNR_PODS",
    "KUBECTL_MAX_OUTPUT",
    "KUBECTL_TIMEOUT",
    "PLATTER_PODS",
    "Kubectl",
    "LiveError",
    "LiveNode",
    "PodLocator",
    "bgp_summary_from_json",
    "find_kubectl",
    "kernel_lines_from_json",
    "live_nodes",
    "parse_contexts",
    "route_table_from_json",
    "run",
    "verify_nodes",
]

KUBECTL_TIMEOUT = 30.0  # seconds per kubectl call: a pod that answers slower than that is reported, not waited for
# Bytes one kubectl call may print, stdout and stderr together, before it is killed and reported: a
# pod that prints fast (a compromised one, or a routing table far beyond any intent's) would otherwise
# fill memory long before the timeout, JOBS nodes at a time. The largest answer asked for, `show route
# ... extensive | display json`, is about 10 kB a route: this holds some six thousand routes of one VRF,
# and --max-output raises it.
KUBECTL_MAX_OUTPUT = 64 * 1024 * 1024
_READ_CHUNK = 64 * 1024  # bytes read from kubectl at a time; the chunk that passes the limit is cut to it
JOBS = 4  # nodes verified at once: kubectl calls are I/O bound, and a cluster's API server should not be flooded
# Kubernetes object names (RFC 1123). A pod or container name is put on kubectl's command line
# before `--`: anything else (a name starting with `-`) could be read as an option.
_K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", re.ASCII)
_REFUSED = re.compile(r"\(Forbidden\)|\(Unauthorized\)|\bforbidden\b|must be logged in", re.IGNORECASE)
_KLOG_LINE = re.compile(r"^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s", re.ASCII)
CRPD_VRF_PREFIX = "__crpd-vrf"  # cRPD's kernel VRF devices: __crpd-vrf1, __crpd-vrf2, ...


class LiveError(Exception):
    """Nothing can be verified: kubectl or the cluster cannot be used as asked (exit 2)."""


@dataclass(frozen=True)
class PodLocator:
    """Where a target's cRPD pods are and which container holds the CLI."""

    namespace: str
    selector: str | None  # kubectl -l; None: every pod of the node in the namespace, kept by container name
    containers: tuple[str, ...]  # the CLI container's exact names, by preference
    # Also a container whose name holds "crpd", used only when no pod of the node has one of
    # `containers`: for a chart version whose container name jcnrc's sources do not show.
    any_crpd: bool = False


# templates/platter/_daemonset.j2: DaemonSets kube-crpd-master-ds and kube-crpd-worker-ds in kube-system,
# their pods labelled `name: <DaemonSet>`, the cRPD container named kube-crpd-<role>: jcnrc writes
# them, so exactly these names.
PLATTER_PODS = PodLocator("kube-system", "name in (kube-crpd-master-ds,kube-crpd-worker-ds)",
                          ("kube-crpd-worker", "kube-crpd-master"))
# JCNR's Helm chart (docs/jcnr.md, docs/reference/jcnr-formats.md): cRPD pods in namespace jcnr,
# kube-crpd-worker-sts-N (23.x, a DaemonSet's kube-crpd-worker-ds-* in some 23.3 docs) or
# jcnr-N-crpd-0 (24.2), the CLI in container kube-crpd-worker (23.2: "Defaulted container
# kube-crpd-worker out of: kube-crpd-worker, jcnr-crpd-config (init), install-cni (init)"). The
# chart's pod labels are in none of the sources jcnrc is built on, so no label selector: the node's
# pods in jcnr are kept by that container name, and only when no pod has it by a container whose name
# holds "crpd" (24.2 names its two containers nowhere jcnrc has read).
JCNR_PODS = PodLocator("jcnr", None, ("kube-crpd-worker",), any_crpd=True)
# The labels jcnrc gives the pods of the intent's workloads (jcnrc/render/common.py: `labels` and
# POD_LABEL; templates/common/pod.yaml.j2). The intent names those pods and their containers (after
# the pod), and could name one `x-crpd` in a namespace where cRPD pods are looked for: such a pod is
# never taken for the router, whatever its names. The intent sets no label, so it cannot drop these.
WORKLOAD_POD_LABEL = "jcnrc.io/pod"
MANAGED_BY = ("app.kubernetes.io/managed-by", "jcnrc")


def pod_locator(target: str) -> PodLocator:
    return JCNR_PODS if target == "jcnr" else PLATTER_PODS


@dataclass(frozen=True)
class LiveNode:
    label: str  # as reported: the node, or `<cluster>/<node>` in a fleet
    plan: Plan
    name: str  # the Kubernetes node name
    cluster: str | None
    context: str | None  # kubectl --context; None: kubectl's current context


# ------------------------------------------------------------------ choosing nodes and contexts


def parse_contexts(values: Sequence[str], clusters: Sequence[str] | None) -> tuple[str | None, dict[str, str]]:
    """`--context` values: (the context for every cluster, {cluster: its own context}).

    A Topology takes one `--context CTX`. A fleet also takes `--context CLUSTER=CTX`, once per
    cluster, and a bare `--context CTX` for the clusters without one. On a fleet, the text before
    the first `=` must name one of its clusters (a context name holding `=` cannot be given there)."""
    default: str | None = None
    per_cluster: dict[str, str] = {}
    for value in values:
        cluster, sep, context = value.partition("=")
        if clusters is not None and sep:
            if cluster not in clusters:
                hint = did_you_mean(cluster, clusters)
                raise LiveError(f"--context {escaped(value)}: the fleet has no cluster `{escaped(cluster)}`"
                                + (f"; {hint}" if hint else ""))
            if not context:
                raise LiveError(f"--context {escaped(value)}: no context after `=`")
            if cluster in per_cluster:
                raise LiveError(f"--context: cluster `{escaped(cluster)}` is given twice")
            per_cluster[cluster] = context
            continue
        if not value:
            raise LiveError("--context: empty context name")
        if default is not None:
            what = ("give the others as CLUSTER=CONTEXT" if clusters is not None
                    else "a Topology is one cluster: give one --context")
            raise LiveError(f"--context is given twice without a cluster ({escaped(default)}, {escaped(value)}): {what}")
        default = value
    return default, per_cluster


def live_nodes(plan: Plan | None, fleet: FleetPlan | None, names: Sequence[str], contexts: Sequence[str]) -> list[LiveNode]:
    """The nodes to verify, each with its plan and kubectl context; every node when `names` is empty."""
    if fleet is not None:
        references = fleet.node_references()
        default, per_cluster = parse_contexts(contexts, [c.name for c in fleet.clusters])
        chosen = list(dict.fromkeys(names)) or references
        nodes = []
        for reference in chosen:
            found = fleet.resolve_node(reference)
            if found is None:
                hint = did_you_mean(reference, references)
                raise LiveError(f"no node (`<cluster>/<node>` in a fleet) named `{escaped(reference)}`"
                                + (f"; {hint}" if hint else ""))
            cluster, name = found
            nodes.append(LiveNode(reference, cluster.plan, name, cluster.name,
                                  per_cluster.get(cluster.name, default)))
        # One kubectl context reaches one cluster: with several clusters, kubectl's current context
        # would send every node's questions to the same one.
        clusters = sorted({n.cluster for n in nodes if n.cluster is not None and n.context is None})
        if clusters and len({n.cluster for n in nodes}) > 1:
            raise LiveError(f"cluster{'s' if len(clusters) > 1 else ''} {', '.join(f'`{c}`' for c in clusters)} "
                            "of the fleet ha" + ("ve" if len(clusters) > 1 else "s")
                            + " no kubectl context: give --context CLUSTER=CONTEXT for each cluster "
                            "(or --context CONTEXT for all of them)")
        return nodes
    assert plan is not None  # a planned Topology
    default, _ = parse_contexts(contexts, None)
    valid = [n.name for n in plan.nodes]
    chosen = list(dict.fromkeys(names)) or valid
    for name in chosen:
        if name not in valid:
            hint = did_you_mean(name, valid)
            raise LiveError(f"no node named `{escaped(name)}`" + (f"; {hint}" if hint else ""))
    return [LiveNode(name, plan, name, None, default) for name in chosen]


# ------------------------------------------------------------------ kubectl


def find_kubectl() -> str:
    program = shutil.which("kubectl")
    if program is None:
        raise LiveError("--live runs kubectl, which is not on PATH: install kubectl "
                        "(https://kubernetes.io/docs/tasks/tools/) or verify saved captures instead")
    return program


@dataclass(frozen=True)
class Answer:
    argv: tuple[str, ...]
    code: int | None  # None: stopped, not answered: it timed out, or printed more than the limit (too_large)
    stdout: str  # at most Kubectl.max_output bytes, together with stderr; empty when stopped
    stderr: str
    too_large: bool = False  # killed once stdout and stderr together passed Kubectl.max_output bytes

    @property
    def said(self) -> str:
        """kubectl's complaint in one line, for a message: its last line that is not a client-go log
        line (`E1206 12:11:56.445584 3928 memcache.go:265] ...`), which says what went wrong."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        plain = [line for line in lines if not _KLOG_LINE.match(line)] or lines
        return escaped(plain[-1][:300]) if plain else f"exit status {self.code}"


class Kubectl:
    """Runs kubectl from an argument list, with a timeout and a limit on its output; never through a shell."""

    def __init__(self, program: str, timeout: float = KUBECTL_TIMEOUT, max_output: int = KUBECTL_MAX_OUTPUT) -> None:
        self.program, self.timeout, self.max_output = program, timeout, max_output

    def argv(self, context: str | None, args: Sequence[str]) -> tuple[str, ...]:
        return ("kubectl", *(("--context", context) if context else ()), *args)

    def run(self, context: str | None, args: Sequence[str]) -> Answer:
        argv = self.argv(context, args)
        try:
            ran = _run_capped([self.program, *argv[1:]], self.timeout, self.max_output)
        except OSError as exc:
            raise LiveError(f"cannot run kubectl ({self.program}): {exc.strerror or exc}") from None
        return Answer(argv, ran.code, ran.stdout.decode("utf-8", "replace"), ran.stderr.decode("utf-8", "replace"),
                      ran.too_large)


class _Ran(NamedTuple):
    code: int | None  # None: killed, for the timeout or the limit; then stdout and stderr are empty
    stdout: bytes | bytearray  # the buffer read into, decoded as it is: no copy of up to `limit` bytes
    stderr: bytes | bytearray
    too_large: bool


def _run_capped(command: list[str], timeout: float, limit: int) -> _Ran:
    """Run `command` and read its stdout and stderr as they come, keeping at most `limit` bytes of the
    two together: past that it is killed. subprocess.run(capture_output=True) would keep everything it
    prints until it ends or times out, and a pod can print gigabytes in the 30 s of the timeout.

    One thread per pipe (portable, unlike select on pipes); each closes its own pipe, so a pipe
    still held open by something kubectl left running never blocks this thread on a close."""
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kept = (bytearray(), bytearray())
    lock = threading.Lock()
    over = threading.Event()

    def drain(pipe: IO[bytes], into: bytearray) -> None:
        try:
            while not over.is_set():
                chunk = os.read(pipe.fileno(), _READ_CHUNK)  # what is there, at most a chunk: never all at once
                if not chunk:
                    return
                with lock:
                    room = limit - len(kept[0]) - len(kept[1])
                    into += chunk[:max(room, 0)]
                    if len(chunk) > room:
                        over.set()
                        process.kill()  # nothing more is read, so nothing more is kept
                        return
        except (OSError, ValueError):
            return  # the pipe broke or was closed: what was read is the answer
        finally:
            pipe.close()

    assert process.stdout is not None and process.stderr is not None
    readers = [threading.Thread(target=drain, args=(pipe, into), daemon=True)
               for pipe, into in ((process.stdout, kept[0]), (process.stderr, kept[1]))]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        process.kill()
        process.wait()
    # kubectl has ended: its pipes end too, unless something it started still holds them open, which
    # is then waited for as long as the timeout and reported as one.
    deadline = time.monotonic() + timeout
    for reader in readers:
        reader.join(max(deadline - time.monotonic(), 0.0))
        timed_out = timed_out or reader.is_alive()
    # A call stopped answers nothing that is read: what it printed is let go at once (up to `limit`
    # bytes a node, JOBS nodes at a time), and a reader still running cannot change it under a decode.
    if over.is_set():
        return _Ran(None, b"", b"", True)
    if timed_out:
        return _Ran(None, b"", b"", False)
    return _Ran(process.returncode, kept[0], kept[1], False)


# ------------------------------------------------------------------ structured output


_JSON_START = re.compile(r"^[ \t]*[\[{]", re.MULTILINE)


def _json_document(text: str) -> Any:
    """The JSON document in a command's output, or None: the first line that starts a value that
    decodes. A warning may come before it, and Junos may print a line such as `{master:0}` after
    it, which is ignored. Only the first few candidate lines are tried: garbage costs little."""
    decoder = json.JSONDecoder(object_pairs_hook=_Pairs)
    for attempt, match in enumerate(_JSON_START.finditer(text)):
        if attempt == 8:
            break
        try:
            value, _ = decoder.raw_decode(text, match.end() - 1)
        except ValueError:
            continue
        return value
    return None


class _Pairs(dict):
    """A JSON object that also keeps its (key, value) pairs in order, repeated keys included:
    `ip -j route` prints an encap route's tunnel `src`/`dst` under the same keys as the route's own
    `dst` (iproute2's print_encap_ip), which a plain dict would overwrite."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__()
        for key, value in pairs:
            self.setdefault(key, value)  # the first value of a repeated key: the route's own
        self.pairs = pairs


def _junos_values(node: Any, key: str) -> list[Any]:
    """Junos JSON writes every element as a list of objects: `"key": [{"data": "..."}]`."""
    if not isinstance(node, dict):
        return []
    value = node.get(key)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _junos_text(node: Any, key: str) -> str | None:
    for item in _junos_values(node, key):
        data = item.get("data") if isinstance(item, dict) else item
        if isinstance(data, str | int) and not isinstance(data, bool):
            return str(data).strip()
    return None


def _junos_int(node: Any, key: str, what: str) -> int | None:
    text = _junos_text(node, key)
    return None if text is None else _int(text, 0, what)  # bounded, as the text parser reads numbers


def _address(text: str | None, what: str) -> str | None:
    if text is None:
        return None
    try:
        return ip_address(text.split("+")[0]).compressed  # "10.240.0.4+179" shows the port
    except ValueError:
        raise CaptureError(0, f"invalid {what} address {text!r}") from None


def route_table_from_json(document: Any, table: str) -> RouteTableCapture:
    """`show route table <table> extensive | display json` as the parser's RouteTableCapture.

    The names are those of Junos' XML schema for `show route` (route-information/route-table/rt/
    rt-entry): `rt-destination` (+ `rt-prefix-length` in detail styles), `active-tag`,
    `protocol-name`, `learned-from` (brief) or `gateway` (detail: "Source:"), `protocol-nh`/`to`,
    `nh`/`to`, `communities`/`community`, `route-label` (the VNI). A table Junos does not list is
    empty: every expected route of it is then missing."""
    information = next(iter(_junos_values(document, "route-information")), None)
    tables = [t for t in _junos_values(information, "route-table") if _junos_text(t, "table-name") == table]
    if not tables:
        return RouteTableCapture(table=table, extensive=True, routes=(), declared_destinations=0)
    found = tables[0]
    routes: list[EvpnType5Route] = []
    others: list[str] = []
    for rt in _junos_values(found, "rt"):
        destination = _junos_text(rt, "rt-destination") or ""
        length = _junos_text(rt, "rt-prefix-length")
        if "/" not in destination:
            destination += f"/{length}" if length else ("/248" if destination.startswith("5:") else "")
        try:
            rd, network = parse_type5(destination)
        except ValueError as exc:
            if destination.startswith("5:"):
                raise CaptureError(0, str(exc)) from None
            others.append(destination)
            continue
        for entry in _junos_values(rt, "rt-entry"):
            routes.append(_json_route(destination, rd, network.compressed, entry))
    return RouteTableCapture(table=table, extensive=True, routes=tuple(routes),
                             declared_destinations=_junos_int(found, "destination-count", "destination count"),
                             other_destinations=tuple(others))


def _json_route(text: str, rd: str, prefix: str, entry: Any) -> EvpnType5Route:
    protocol_hops = [_junos_text(hop, "to") for hop in _junos_values(entry, "protocol-nh")]
    hops = _junos_values(entry, "nh")
    selected = [hop for hop in hops if "selected-next-hop" in hop] or hops
    communities = [c.get("data") for group in _junos_values(entry, "communities")
                   for c in _junos_values(group, "community") if isinstance(c, dict)]
    label = _junos_int(entry, "route-label", "route label")
    return EvpnType5Route(
        text=text,
        rd=rd,
        prefix=prefix,
        protocol=_junos_text(entry, "protocol-name") or "",
        active=_junos_text(entry, "active-tag") in ("*", "+"),  # as in text: "+" active, "*" active and last active
        learned_from=_address(_junos_text(entry, "learned-from") or _junos_text(entry, "gateway"), "source"),
        protocol_next_hop=_address(next((h for h in protocol_hops if h), None), "protocol next hop"),
        next_hop=_address(next((_junos_text(h, "to") for h in selected if _junos_text(h, "to")), None), "next hop"),
        vni=label,
        route_targets=tuple(c for c in communities if isinstance(c, str) and c.startswith("target:")),
        line=0,  # no line to point at in a JSON document
    )


def bgp_summary_from_json(document: Any) -> BgpSummaryCapture:
    """`show bgp summary | display json` (bgp-information/bgp-peer: `peer-address`, `peer-as`,
    `peer-state`, `bgp-rib`) as the parser's BgpSummaryCapture. Junos' XML says "Established"
    where the text says "Establ"; the text's word is kept, so messages read the same."""
    information = next(iter(_junos_values(document, "bgp-information")), None)
    peers = []
    for peer in _junos_values(information, "bgp-peer"):
        address = _address(_junos_text(peer, "peer-address"), "peer")
        asn = _junos_int(peer, "peer-as", "AS number")
        if address is None or asn is None:
            raise CaptureError(0, "a bgp-peer without peer-address or peer-as")
        state = _junos_text(peer, "peer-state") or ""
        established = state in ("Established", "Establ")
        tables = tuple((_junos_text(rib, "name") or "", tuple(
            _junos_int(rib, key, key) or 0 for key in ("active-prefix-count", "received-prefix-count",
                                                       "accepted-prefix-count", "suppressed-prefix-count")))
                       for rib in _junos_values(peer, "bgp-rib"))
        peers.append(BgpPeer(address, asn, "Establ" if established else state, established, tables, 0))
    return BgpSummaryCapture(peers=tuple(peers), groups=_junos_int(information, "group-count", "group count"),
                             peer_count=_junos_int(information, "peer-count", "peer count"),
                             down_peers=_junos_int(information, "down-peer-count", "down peer count"))


_ENCAP_KEYS = {"id", "src", "dst", "ttl", "tos", "hoplimit", "tc"}
_ENCAP_FLAGS = {"key", "csum", "seq"}
_ROUTE_KEYS = {"gateway": "via", "dev": "dev", "protocol": "proto", "scope": "scope", "prefsrc": "src", "metric": "metric"}


def kernel_lines_from_json(document: Any) -> list[str]:
    """`ip -j route show table N` as the `ip route` lines iproute2 prints without -j, so that one
    parser reads both (capture.parse_kernel_routes) and a route means the same either way."""
    if not isinstance(document, list):
        raise CaptureError(0, "`ip -j route` printed no JSON list")
    return [_kernel_line(route) for route in document if isinstance(route, dict)]


def _kernel_line(route: dict) -> str:
    pairs = route.pairs if isinstance(route, _Pairs) else list(route.items())
    words: list[str] = []
    route_type = route.get("type")
    if isinstance(route_type, str) and route_type != "unicast":
        words.append(route_type)
    words.append(str(route.get("dst", "")))
    in_encap = False
    seen_dst = False
    for key, value in pairs:
        if key == "dst" and not seen_dst:
            seen_dst = True  # the route's own destination, written first
            continue
        if key == "encap":
            words += ["encap", str(value)]
            in_encap = True
            continue
        if in_encap and key in _ENCAP_KEYS:
            words += [key, str(value)]
            continue
        if in_encap and key in _ENCAP_FLAGS:
            words.append(key)
            continue
        in_encap = False
        if key in _ROUTE_KEYS:
            words += [_ROUTE_KEYS[key], str(value)]
        elif key == "via" and isinstance(value, dict):  # RTA_VIA: {"family": "inet", "host": "..."}
            words += ["via", str(value.get("family", "")), str(value.get("host", ""))]
        elif key == "flags" and isinstance(value, list):
            words += [str(flag) for flag in value]
        elif key == "nexthops" and isinstance(value, list):
            for hop in value:
                if isinstance(hop, dict):
                    words.append("nexthop")
                    words += [w for k, name in _ROUTE_KEYS.items() if k in hop for w in (name, str(hop[k]))]
    return " ".join(word for word in words if word)


def _link_local(line: str) -> bool:
    """A route the kernel adds to every IPv6 interface (fe80::/64 and its addresses): never planned."""
    words = line.split()
    if words and words[0] in ("local", "multicast", "broadcast", "anycast", "unicast"):
        words = words[1:]
    try:
        network = ip_network(words[0], strict=False) if words else None
    except ValueError:
        return False
    return network is not None and network.version == 6 and network.is_link_local


def _vrf_devices_from_json(document: Any) -> list[tuple[str, int]]:
    if not isinstance(document, list):
        raise CaptureError(0, "`ip -j link` printed no JSON list")
    found = []
    for link in document:
        info = link.get("linkinfo") if isinstance(link, dict) else None
        data = info.get("info_data") if isinstance(info, dict) else None
        if isinstance(info, dict) and info.get("info_kind") == "vrf" and isinstance(data, dict):
            table = data.get("table")
            if isinstance(table, int) and not isinstance(table, bool) and isinstance(link.get("ifname"), str):
                found.append((link["ifname"], table))
    return found


_VRF_SHOW_LINE = re.compile(r"(?P<name>\S+)\s+(?P<table>\d{1,10})", re.ASCII)


def _vrf_devices_from_text(text: str) -> list[tuple[str, int]]:
    """`ip vrf show`: a `Name Table` header, dashes, then one `NAME TABLE` line per VRF."""
    return [(m["name"], int(m["table"])) for line in text.splitlines() if (m := _VRF_SHOW_LINE.fullmatch(line.strip()))]


# ------------------------------------------------------------------ one node


@dataclass
class _NodeRun:
    """Everything asked of one node's pod, and what came back."""

    kubectl: Kubectl
    node: LiveNode
    structured: bool
    findings: list[Finding] = field(default_factory=list)  # live mode's own: pod, commands, fallbacks
    parsed: dict[str, Capture | CaptureError] = field(default_factory=dict)
    infos: list[CaptureInfo] = field(default_factory=list)
    pod: PodInfo | None = None
    # Once a pod's CLI (or its `ip`) has given no JSON, it is not asked for JSON again: each
    # question would cost a second kubectl exec.
    cli_json: bool = True
    ip_json: bool = True

    def run(self) -> NodeReport:
        started = time.monotonic()  # reported as the testsuite's time, never asserted on
        plan, name = self.node.plan, self.node.name
        state = expected_state.node_state(plan, name)
        self.pod = self._find_pod()
        if self.pod is not None:
            self._junos("show bgp summary", "bgp-information", bgp_summary_from_json, parse_bgp_summary, None)
            for table in state.tables:
                def from_json(document: Any, table: str = table.table) -> Capture:
                    return route_table_from_json(document, table)

                empty = RouteTableCapture(table=table.table, extensive=True, routes=(), declared_destinations=0)
                self._junos(f"show route table {table.table} extensive", "route-information", from_json,
                            parse_route_table, empty)
            if plan.target == "platter":
                self._kernel_tables(plan)
        findings = self.findings + check_captures(plan, name, self.parsed, state)
        return node_report(plan, name, self.parsed, findings, label=self.node.label, cluster=self.node.cluster,
                           source="live", state=state, captures=self.infos, pod=self.pod,
                           seconds=time.monotonic() - started)

    # --- the pod

    def _find_pod(self) -> PodInfo | None:
        locator = pod_locator(self.node.plan.target)
        args = ["get", "pods", "-n", locator.namespace, "-o", "json", "--field-selector", f"spec.nodeName={self.node.name}"]
        if locator.selector:
            args += ["-l", locator.selector]
        answer = self.kubectl.run(self.node.context, args)
        where = f"{self.node.label}" + (f" (context {self.node.context})" if self.node.context else "")
        if answer.too_large:
            raise LiveError(f"{where}: `kubectl get pods` printed more than {self.kubectl.max_output} bytes "
                            "(--max-output): stopped")
        if answer.code is None:
            raise LiveError(f"{where}: `kubectl get pods` did not answer within {self.kubectl.timeout:g} s")
        if answer.code != 0:
            raise LiveError(f"{where}: `kubectl get pods` failed: {answer.said}")
        document = _json_document(answer.stdout)
        items = document.get("items") if isinstance(document, dict) else None
        if not isinstance(items, list):
            raise LiveError(f"{where}: `kubectl get pods -o json` printed no pod list")
        self.infos.append(CaptureInfo("kubectl get pods", answer.argv, True))
        return self._choose(locator, [p for p in items if isinstance(p, dict)])

    def _problem(self, kind: str, message: str, capture: str = "kubectl get pods", subject: str | None = None) -> None:
        self.findings.append(Finding(capture, kind, message, True, subject=subject))

    def _choose(self, locator: PodLocator, items: list[dict]) -> PodInfo | None:
        """The node's cRPD pod and its CLI container, or None with a problem saying why.

        Whatever answers `cli` in the pod chosen is compared with the intent, so a wrong choice can
        pass a node whose router is down. Hence: never a pod of jcnrc's own workloads (the intent
        names them and their containers); the exact container names of the cRPD DaemonSets or chart
        before any lookalike; and exactly one Running pod, or an error naming the candidates, never
        a pick by name order."""
        node = self.node.plan.node(self.node.name)
        role = "master" if node.is_master else "worker"
        workloads = [p for p in items if _jcnrc_workload(p)]
        others = [p for p in items if not _jcnrc_workload(p)]
        for pod in workloads:
            if _containers(pod, locator, loose=True):
                self.findings.append(Finding(
                    "kubectl get pods", "workload-pod-left-out",
                    f"pod {locator.namespace}/{escaped(_name(pod))} left out: jcnrc deployed it for a workload of the "
                    f"intent (label {WORKLOAD_POD_LABEL} or {MANAGED_BY[0]}: {MANAGED_BY[1]}), it is no cRPD pod",
                    is_problem=False, subject=_name(pod)))
        candidates = [(p, c) for p in others for c in _containers(p, locator, loose=False)]
        if not candidates and locator.any_crpd:
            candidates = [(p, c) for p in others for c in _containers(p, locator, loose=True)]
        if not candidates:
            hint = (f"; is the node labelled for the {role} DaemonSet kube-crpd-{role}-ds "
                    "(jcnrc.io/role, node-role.kubernetes.io/master: scripts/prepare-nodes.sh)?"
                    if locator is PLATTER_PODS else "; is JCNR installed (helm install) and is its replicas count right?")
            wanted = " or ".join(locator.containers) + (", else one whose name holds crpd" if locator.any_crpd else "")
            kept = f"selector {locator.selector}" if locator.selector else f"a container {wanted}"
            self._problem("no-crpd-pod", f"no cRPD pod on node {self.node.name} (namespace {locator.namespace}, "
                                         f"{kept}){hint}", subject=self.node.name)
            return None
        running = [(p, c) for p, c in candidates if _phase(p) == "Running" and not _metadata(p).get("deletionTimestamp")]
        if not running:
            pod = candidates[0][0]
            self._problem("crpd-pod-not-running", f"cRPD pod {locator.namespace}/{escaped(_name(pod))} on node "
                                                  f"{self.node.name} is {_describe_status(pod)}", subject=_name(pod))
            return None
        if len(running) > 1:
            shown = ", ".join(f"{locator.namespace}/{escaped(_name(p))} (container {escaped(c)})"
                              for p, c in sorted(running, key=lambda pair: (_name(pair[0]), pair[1])))
            self._problem("ambiguous-crpd-pod", f"{len(running)} Running pods on node {self.node.name} could be its "
                                                f"cRPD: {shown}; jcnrc does not guess which one answers for the "
                                                "router: leave one (docs/verify.md, Live mode)", subject=self.node.name)
            return None
        [(pod, container)] = running
        if not (_K8S_NAME.fullmatch(_name(pod)) and _K8S_NAME.fullmatch(container)):
            self._problem("no-crpd-pod", f"cRPD pod {escaped(_name(pod))!r} (container {escaped(container)!r}) has a "
                                         "name kubectl cannot be given safely", subject=self.node.name)
            return None
        owner = _labels(pod).get("name")
        expected_set = f"kube-crpd-{role}-ds"
        if locator is PLATTER_PODS and owner and owner != expected_set:
            what = "a route reflector (master)" if node.is_master else "a worker"
            self._problem("wrong-crpd-role", f"node {self.node.name} is {what} in the intent, but its cRPD pod "
                                             f"{_name(pod)} belongs to {escaped(str(owner))}, not {expected_set}: check "
                                             "the node's labels (scripts/prepare-nodes.sh)", subject=_name(pod))
        return PodInfo(locator.namespace, _name(pod), container, self.node.context)

    # --- commands in the pod

    def _exec(self, command: Sequence[str], name: str, fallback: bool = False) -> Answer | None:
        """kubectl exec; None when it failed (reported under `name`, unless a text form is tried next),
        an Answer with code None when it timed out or printed more than the limit (reported)."""
        assert self.pod is not None
        args = ["exec", "-n", self.pod.namespace, self.pod.name, "-c", self.pod.container, "--", *command]
        answer = self.kubectl.run(self.node.context, args)
        shown = shlex.join(command)  # for the reader only: kubectl gets the list
        if answer.too_large:
            # Not retried in text form: that would print as much. The structured form is the larger
            # one, so the limit is what to raise when a table really is that big.
            self._problem("command-failed", f"`{shown}` in pod {self.pod.name}: output exceeded "
                                            f"{self.kubectl.max_output} bytes (--max-output); kubectl was stopped and "
                                            "the output not compared", capture=name)
            return answer
        if answer.code is None:
            self._problem("command-failed", f"`{shown}` in pod {self.pod.name} did not answer within "
                                            f"{self.kubectl.timeout:g} s", capture=name)
            return answer
        if answer.code != 0:
            if _REFUSED.search(answer.stderr):
                raise LiveError(f"{self.node.label}: kubectl exec into {self.pod.namespace}/{self.pod.name} was refused: "
                                f"{answer.said} (live mode needs `create` and `get` on pods/exec in namespace "
                                f"{self.pod.namespace})")
            if not fallback:
                self._problem("command-failed", f"`{shown}` failed in pod {self.pod.name}: {answer.said}", capture=name)
            return None
        return answer

    def _add(self, name: str, capture: Capture | CaptureError, answer: Answer, structured: bool) -> None:
        self.parsed[name] = capture
        self.infos.append(CaptureInfo(name, answer.argv, structured))

    def _text_instead(self, name: str, what: str) -> None:
        self.findings.append(Finding(name, "text-output", f"{what} gave no JSON document; compared the text output",
                                     is_problem=False))

    def _junos(self, command: str, key: str, from_json: Callable[[Any], Capture], parse: Callable[[str], Capture],
               empty: Capture | None) -> None:
        if self.structured and self.cli_json:
            structured = f"{command} | display json"
            answer = self._exec(["cli", "-c", structured], command, fallback=True)
            if answer is not None and answer.code is None:
                return  # timed out: the text form would wait as long
            document = _json_document(answer.stdout) if answer is not None else None
            if isinstance(document, dict) and key in document:
                try:
                    capture: Capture | CaptureError = from_json(document)
                except CaptureError as exc:
                    capture = exc
                assert answer is not None
                self._add(command, capture, answer, True)
                return
            self.cli_json = False
            self._text_instead(command, f"`{structured}`")
        answer = self._exec(["cli", "-c", command], command)
        if answer is None or answer.code is None:
            return
        if not answer.stdout.strip() and empty is not None:
            capture = empty  # Junos prints nothing for a table it does not have
        else:
            try:
                capture = parse(answer.stdout)
            except CaptureError as exc:
                capture = exc
        self._add(command, capture, answer, False)

    def _kernel_tables(self, plan: Plan) -> None:
        devices = self._vrf_devices()
        if devices is None:
            return
        vrfs = {v.name for v in plan.vrfs}
        for device, table in devices:
            # Other VRF devices on the host (a management VRF, another CNI's) are none of cRPD's business.
            if device.startswith(CRPD_VRF_PREFIX) or device in vrfs:
                self._kernel_table(device, table)

    def _vrf_devices(self) -> list[tuple[str, int]] | None:
        if self.structured and self.ip_json:
            command = ["ip", "-j", "-d", "link", "show", "type", "vrf"]
            answer = self._exec(command, "ip vrf show", fallback=True)
            if answer is not None and answer.code is None:
                return None
            if answer is not None:
                try:
                    found = _vrf_devices_from_json(_json_document(answer.stdout))
                except CaptureError:
                    pass
                else:
                    self.infos.append(CaptureInfo("ip vrf show", answer.argv, True))
                    return found
            self.ip_json = False
            self._text_instead("ip vrf show", "`ip -j -d link show type vrf`")
        answer = self._exec(["ip", "vrf", "show"], "ip vrf show")
        if answer is None or answer.code is None:
            return None
        self.infos.append(CaptureInfo("ip vrf show", answer.argv, False))
        return _vrf_devices_from_text(answer.stdout)

    def _kernel_table(self, device: str, table: int) -> None:
        """Both address families of kernel table `table` as one capture: compare.py checks the
        expected routes of each family the capture holds a route of."""
        name = f"ip route show table {table}"
        ipv4 = self._ip_routes(name, device, table, [])
        if ipv4 is None:
            return
        # A host without IPv6 refuses `ip -6`: its IPv6 routes are then not checked, with a note.
        ipv6 = self._ip_routes(name, device, table, ["-6"]) or []
        lines = ipv4 + ipv6
        kept = [line for line in lines if not _link_local(line)]
        if len(kept) < len(lines):
            self.findings.append(Finding(name, "link-local", f"{len(lines) - len(kept)} IPv6 link-local route(s) "
                                         "(fe80::/10) left out: the kernel adds them to every IPv6 interface",
                                         is_problem=False))
        capture: Capture | CaptureError
        if not kept:
            capture = KernelTableCapture(table=str(table), routes=())
        else:
            try:
                capture = parse_kernel_routes(f"# ip route show table {table}\n" + "\n".join(kept) + "\n")
            except CaptureError as exc:
                capture = exc
        self.parsed[name] = capture

    def _ip_routes(self, name: str, device: str, table: int, family: list[str]) -> list[str] | None:
        """The routes of one family of a kernel table as `ip route` lines, or None when they cannot
        be read (reported for IPv4; a note for IPv6, which a host may have turned off)."""
        optional = bool(family)
        if self.structured and self.ip_json:
            answer = self._exec(["ip", "-j", *family, "route", "show", "table", str(table)], name, fallback=True)
            if answer is not None and answer.code is None:
                return None
            document = _json_document(answer.stdout) if answer is not None else None
            if answer is not None and isinstance(document, list):
                self.infos.append(CaptureInfo(f"{name} ({device})", answer.argv, True))
                return kernel_lines_from_json(document)
            if not optional:  # `ip -j -6` also fails where IPv6 is off: that says nothing of -j
                self.ip_json = False
                self._text_instead(name, f"`ip -j route show table {table}`")
        command = ["ip", *family, "route", "show", "table", str(table)]
        answer = self._exec(command, name, fallback=optional)
        if answer is None and optional:
            self.findings.append(Finding(name, "family-not-read", f"`{' '.join(command)}` failed: IPv6 kernel routes "
                                         "not read", is_problem=False))
        if answer is None or answer.code is None:
            return None
        self.infos.append(CaptureInfo(f"{name} ({device})", answer.argv, False))
        return [line for line in answer.stdout.splitlines() if line.strip()]


def _metadata(pod: dict) -> dict:
    value = pod.get("metadata")
    return value if isinstance(value, dict) else {}


def _jcnrc_workload(pod: dict) -> bool:
    """A pod of the intent's workloads: a Deployment's carries both labels, a bare Pod (`workload:
    pod`) only app.kubernetes.io/managed-by. jcnrc deploys no cRPD pod of JCNR, and the pods of its
    Platter DaemonSets carry only `name`, so neither label ever marks a cRPD pod."""
    labels = _labels(pod)
    return WORKLOAD_POD_LABEL in labels or labels.get(MANAGED_BY[0]) == MANAGED_BY[1]


def _containers(pod: dict, locator: PodLocator, loose: bool) -> list[str]:
    """The pod's containers that can be the cRPD CLI's: the first of `locator.containers` it has
    (exact names), or with `loose` every container whose name holds "crpd"."""
    spec = pod.get("spec")
    containers = spec.get("containers") if isinstance(spec, dict) else None
    names = [c["name"] for c in containers if isinstance(c, dict) and isinstance(c.get("name"), str)] \
        if isinstance(containers, list) else []
    if loose:
        return [n for n in names if "crpd" in n]
    return [wanted for wanted in locator.containers if wanted in names][:1]


def _labels(pod: dict) -> dict:
    value = _metadata(pod).get("labels")
    return value if isinstance(value, dict) else {}


def _name(pod: dict) -> str:
    return str(_metadata(pod).get("name", ""))


def _phase(pod: dict) -> str:
    status = pod.get("status")
    return str(status.get("phase", "Unknown")) if isinstance(status, dict) else "Unknown"


def _describe_status(pod: dict) -> str:
    """`Pending`, or `Running (kube-crpd-worker: CrashLoopBackOff)`: what `kubectl get pods` would show."""
    status = pod.get("status")
    containers = status.get("containerStatuses") if isinstance(status, dict) else None
    reasons = []
    for container in containers if isinstance(containers, list) else []:
        state = container.get("state") if isinstance(container, dict) else None
        waiting = state.get("waiting") if isinstance(state, dict) else None
        if isinstance(waiting, dict) and waiting.get("reason"):
            reasons.append(f"{container.get('name')}: {waiting['reason']}")
    if _metadata(pod).get("deletionTimestamp"):
        reasons.append("being deleted")
    return escaped(_phase(pod) + (f" ({', '.join(reasons)})" if reasons else ""))


# ------------------------------------------------------------------ many nodes


def verify_nodes(nodes: Sequence[LiveNode], kubectl: Kubectl, structured: bool = True, jobs: int = JOBS) -> list[NodeReport]:
    """Every node verified, `jobs` at a time; the reports in the order of `nodes`. A LiveError of
    any node ends the run: what made it (kubectl, RBAC, the API server) concerns every node."""
    def one(node: LiveNode) -> NodeReport:
        return _NodeRun(kubectl, node, structured).run()

    if jobs <= 1 or len(nodes) <= 1:
        return [one(node) for node in nodes]
    with ThreadPoolExecutor(max_workers=min(jobs, len(nodes))) as pool:
        return list(pool.map(one, nodes))


def run(intent: str, plan: Plan | None, fleet: FleetPlan | None, names: Sequence[str], contexts: Sequence[str],
        timeout: float = KUBECTL_TIMEOUT, structured: bool = True, jobs: int = JOBS,
        max_output: int = KUBECTL_MAX_OUTPUT) -> Report:
    """`jcnrc verify FILE --live`: the report of every node asked for (all of them when `names` is
    empty). The nodes and contexts are checked before kubectl is looked for. Raises LiveError (exit 2)."""
    nodes = live_nodes(plan, fleet, names, contexts)
    kubectl = Kubectl(find_kubectl(), timeout, max_output)
    return Report(intent, tuple(verify_nodes(nodes, kubectl, structured, jobs)))
