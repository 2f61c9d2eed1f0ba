"""Diagnostics: what every stage reports instead of raising.

A diagnostic names the place it is about by its *path* in the intent (``("pods", 3, "node")``)
rather than by line and column, so the checking stages never need to know about YAML. The
loader's source map turns paths into positions when the diagnostics are shown.
"""

from __future__ import annotations

import difflib
import heapq
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypedDict, Unpack

Severity = Literal["error", "warning"]
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Related:
    """Another place involved, e.g. where a duplicate name was first defined."""

    message: str
    path: Path
    at: Literal["key", "value"] = "value"
    # Set only when the other place is known by position alone (the loader's duplicate keys).
    line: int | None = None
    column: int | None = None

    def __post_init__(self) -> None:
        if len(self.message) > MAX_MESSAGE:
            object.__setattr__(self, "message", abbreviate(self.message, MAX_MESSAGE))


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    path: Path = ()
    severity: Severity = "error"
    help: str | None = None
    # Point at the key ("unknown key") or at the value ("bad address").
    at: Literal["key", "value"] = "value"
    related: tuple[Related, ...] = ()
    # Set only for problems found before a path exists (YAML syntax errors).
    line: int | None = None
    column: int | None = None
    # Characters the caret underlines; None: the key, scalar or quoted string at the position.
    span: int | None = None
    # Problems of the same kind found after this one and not built one by one (a flood of them,
    # see structure.py): counted in the summary and in "... more not shown", never listed.
    more: int = 0

    def __post_init__(self) -> None:
        # Messages quote the file; a quoted value must not make one diagnostic megabytes long.
        for name in ("message", "help"):
            text = getattr(self, name)
            if text is not None and len(text) > MAX_MESSAGE:
                object.__setattr__(self, name, abbreviate(text, MAX_MESSAGE))

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


# Longest message or help shown (characters), longest piece of a source line shown, and how many
# diagnostics a command prints by default (`--max-diagnostics`); the rest are counted.
MAX_MESSAGE = 1000
MAX_SOURCE_LINE = 200
MAX_DIAGNOSTICS = 100


def abbreviate(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"


class Details(TypedDict, total=False):
    """The optional fields of a Diagnostic, as `error` and `warning` take them."""

    help: str | None
    at: Literal["key", "value"]
    related: tuple[Related, ...]
    line: int | None
    column: int | None
    span: int | None
    more: int


def error(code: str, message: str, path: Path = (), **kwargs: Unpack[Details]) -> Diagnostic:
    return Diagnostic(code=code, message=message, path=path, severity="error", **kwargs)


def warning(code: str, message: str, path: Path = (), **kwargs: Unpack[Details]) -> Diagnostic:
    return Diagnostic(code=code, message=message, path=path, severity="warning", **kwargs)


def once(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Each diagnostic once (same code, severity, place and message), in order: a fleet finds one
    fleet-wide mistake once per cluster."""
    seen: set[tuple] = set()
    kept = []
    for d in diagnostics:
        key = (d.code, d.severity, d.path, d.message)
        if key not in seen:
            seen.add(key)
            kept.append(d)
    return kept


def escaped(text: str) -> str:
    """`text` with every character a terminal would act on instead of showing written as an escape.

    Messages quote what the file holds; a hostile value must not bring line breaks, escape
    sequences or bidi overrides into a terminal or a CI log with it. Every place that quotes
    text from the file passes it through here."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate a reader most likely meant, or None when nothing is close."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered:
        return lowered[word.lower()]  # only the case differs: `Master` for `master`
    shortlist = difflib.get_close_matches(word, pool, n=6, cutoff=0.6)
    if not shortlist:
        return None
    return min(shortlist, key=lambda candidate: (edit_distance(word, candidate), candidate))


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate, in the words a reader expects."""
    best = closest(word, candidates)
    return f"did you mean `{escaped(best)}`?" if best is not None else None


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: difflib's ratio alone ranks `vmss00001` closer to `vmss000002` than to `vmss000001`."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def one_of(candidates: Iterable[str], limit: int = 8) -> str:
    names = sorted(candidates)
    shown = ", ".join(f"`{escaped(n)}`" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


@dataclass(frozen=True)
class Located:
    """A diagnostic with its place in a file resolved."""

    diagnostic: Diagnostic
    file: str
    line: int
    column: int
    source_line: str
    related: tuple[tuple[Related, int, int], ...] = field(default=())


def sort_key(item: Located) -> tuple:
    return (item.file, item.line, item.column, item.diagnostic.code, item.diagnostic.message)


def format_text(item: Located, color: bool = False) -> str:
    """`FILE:LINE:COL: error[CODE]: message`, the source line with a caret under the place, notes, help."""
    d = item.diagnostic
    file = escaped(item.file)  # a file name from the command line is text from the input, too
    bold, red, yellow, blue, reset = ("\033[1m", "\033[31m", "\033[33m", "\033[34m", "\033[0m") if color else ("",) * 5
    sev_color = red if d.is_error else yellow
    lines = [f"{bold}{file}:{item.line}:{item.column}: {sev_color}{d.severity}[{d.code}]{reset}{bold}: {d.message}{reset}"]
    if item.source_line:
        shown, column = _window(item.source_line, item.column)
        shown = printable(shown)
        gutter = str(item.line)
        pad = " " * len(gutter)
        caret_pad = " " * _display_width(shown[: max(column - 1, 0)])
        carets = "^" * max(min(d.span or token_width(shown, column), len(shown) - column + 1), 1)
        lines.append(f"{blue}{pad} |{reset}")
        lines.append(f"{blue}{gutter} |{reset} {shown}")
        lines.append(f"{blue}{pad} |{reset} {caret_pad}{sev_color}{carets}{reset}")
    for related, line, column in item.related:
        lines.append(f"{blue}note{reset}: {related.message} at {file}:{line}:{column}")
    if d.help:
        lines.append(f"{blue}help{reset}: {d.help}")
    return "\n".join(lines)


def _window(line: str, column: int) -> tuple[str, int]:
    """At most MAX_SOURCE_LINE characters of `line` around `column`, with `...` where it is cut,
    and the column in what is shown: a line of a megabyte is not printed whole."""
    if len(line) <= MAX_SOURCE_LINE:
        return line, column
    start = min(max(column - 1 - MAX_SOURCE_LINE // 4, 0), len(line) - MAX_SOURCE_LINE)
    end = start + MAX_SOURCE_LINE
    head = "..." if start > 0 else ""
    tail = "..." if end < len(line) else ""
    return head + line[start:end] + tail, column - start + len(head)


def printable(text: str) -> str:
    """The source line as it is safe to print: control characters would move the cursor or beep."""
    return "".join(c if c == "\t" or c.isprintable() else "\ufffd" for c in text)


def token_width(line: str, column: int) -> int:
    """How many characters the caret underlines: the key, scalar or quoted string starting at `column`."""
    start = max(column - 1, 0)
    if start >= len(line):
        return 1
    first = line[start]
    if first in "\"'":
        end = line.find(first, start + 1)
        return (end - start + 1) if end > start else len(line) - start
    if first in "{[-":
        return 1  # a whole mapping or list: point at where it opens
    end = start
    while end < len(line):
        char = line[end]
        if char in ",}]" or (char == "#" and end > start and line[end - 1] == " "):
            break
        if char == ":" and (end + 1 == len(line) or line[end + 1] == " "):
            break
        end += 1
    return max(len(line[start:end].rstrip()), 1)


def _display_width(text: str) -> int:
    # Tabs are refused in intents, so one character is one column here.
    return len(text)


def to_json(items: list[Located], omitted: int = 0) -> str:
    """The diagnostics as JSON; `omitted` (those past --max-diagnostics) is given when not 0."""
    records = [
        {
            "file": item.file,
            "line": item.line,
            "column": item.column,
            "severity": item.diagnostic.severity,
            "code": item.diagnostic.code,
            "message": item.diagnostic.message,
            "path": [abbreviate(p, MAX_MESSAGE) if isinstance(p, str) else p for p in item.diagnostic.path],
            "help": item.diagnostic.help,
            "related": [
                {"message": rel.message, "line": line, "column": column, "path": list(rel.path)}
                for rel, line, column in item.related
            ],
        }
        for item in items
    ]
    document: dict = {"diagnostics": records}
    if omitted:
        document["omitted"] = omitted
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def summary(items: list[Located] | list[Diagnostic]) -> str:
    """`2 errors, 1 warning`, counting what each diagnostic stands for (its `more` too)."""
    found = [i.diagnostic if isinstance(i, Located) else i for i in items]
    errors = sum(1 + d.more for d in found if d.is_error)
    warnings = sum(1 + d.more for d in found) - errors
    parts = []
    if errors:
        parts.append(f"{errors:,} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings:,} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts) if parts else "no problems"


class SourcePositions(Protocol):
    """What `locate` needs of a source map (jcnrc.intent.load.SourceMap)."""

    file: str

    def position(self, path: Path, at: str = "value") -> tuple[int, int]: ...

    def source_line(self, line: int) -> str: ...


def locate(diagnostics: Iterable[Diagnostic], source: SourcePositions) -> list[Located]:
    """Resolve paths to positions with a source map (anything with file, position(), source_line())."""
    located = []
    for d in diagnostics:
        if d.line is not None:
            line, column = d.line, d.column or 1
        else:
            line, column = source.position(d.path, d.at)
        related = tuple((r, r.line, r.column or 1) if r.line is not None else (r, *source.position(r.path, r.at))
                        for r in d.related)
        located.append(Located(d, source.file, line, column, source.source_line(line), related))
    return sorted(located, key=sort_key)


def locate_first(diagnostics: list[Diagnostic], source: SourcePositions,
                 limit: int | None = MAX_DIAGNOSTICS) -> tuple[list[Located], int]:
    """The first `limit` diagnostics by position, located, and how many are not among them
    (with the `more` each one stands for). Only those shown are located in full: the rest are
    ordered on a cheap form of their position (`source.order`, where the source map has one)."""
    hidden = sum(d.more for d in diagnostics)
    if limit is None or len(diagnostics) <= limit:
        return locate(diagnostics, source), hidden
    order = getattr(source, "order", None)

    def key(d: Diagnostic) -> tuple:
        if d.line is not None:
            place = (d.line, d.column or 1)
        elif order is not None:
            place = order(d.path, d.at)
        else:
            place = source.position(d.path, d.at)
        return (*place, d.code, d.message)

    first = heapq.nsmallest(limit, diagnostics, key=key)
    return locate(first, source), hidden + len(diagnostics) - len(first)


def not_shown(count: int, errors_only: bool) -> str:
    """The line after the diagnostics shown: how many more there are, and how to see them."""
    noun = ("error" if errors_only else "diagnostic") + ("" if count == 1 else "s")
    return f"... and {count:,} more {noun} not shown (--max-diagnostics N)"


# --- the catalogue of codes ----------------------------------------------------------------------
# One entry per code any stage emits. docs/diagnostics.md is generated from it (with an example
# message per code taken from the corpus of bad intents under tests/corpus/), and a test checks
# that every code used in jcnrc/ is listed here.

@dataclass(frozen=True)
class CodeInfo:
    severity: Severity
    title: str
    meaning: str


CODES: dict[str, CodeInfo] = {
    # YAML (load.py)
    "JCN001": CodeInfo("error", "YAML syntax error", "The file is not valid YAML: a missing colon, an unclosed bracket or quote, bad indentation."),
    "JCN002": CodeInfo("error", "duplicate key", "A mapping holds the same key twice; YAML parsers disagree on which one wins, so jcnrc refuses both. The note names the first one."),
    "JCN003": CodeInfo("error", "tab indentation", "A line is indented with a tab; YAML allows only spaces."),
    "JCN004": CodeInfo("error", "not UTF-8", "The file is not UTF-8 text."),
    "JCN005": CodeInfo("error", "empty file", "The file holds nothing but whitespace and comments."),
    "JCN006": CodeInfo("error", "top level is not a mapping", "The document is a list or a scalar; an intent is a mapping that starts with `apiVersion`."),
    "JCN007": CodeInfo("error", "several documents", "The file holds more than one YAML document (`---`); an intent is one document."),
    "JCN008": CodeInfo("error", "resource limit", "The file is too large, nests too deeply, or expands (through aliases) to too many nodes or characters, or holds a key or value longer than 1 MiB."),
    "JCN009": CodeInfo("error", "control character", "The file contains a control character (such as NUL) that YAML does not allow."),
    "JCN010": CodeInfo("error", "unusable file name", "The intent's file name, as given on the command line, holds a line break or another control character (bidi controls included), a backquote, or bytes that are not UTF-8. The output repeats the name in shell and YAML comments and in Markdown code spans, where these would end or garble the text; rename the file. Spaces, quotes, `$` and other printable characters are fine."),
    # structure (structure.py, from the model)
    "JCN101": CodeInfo("error", "unknown key", "A key that the format does not have: misspelt (the help names the closest key) or at the wrong indentation."),
    "JCN102": CodeInfo("error", "missing required key", "A required key is absent. All missing keys of one mapping are reported together, at the mapping's key."),
    "JCN103": CodeInfo("error", "wrong type", "A value has the wrong type: text where a number is expected or the reverse (`vni: \"10002\"`, `address: 167772160`), a scalar where a mapping or list is expected."),
    "JCN104": CodeInfo("error", "not one of the allowed values", "A value must be one of a fixed set (`role`, `provider`, `mode`, ...)."),
    "JCN105": CodeInfo("error", "out of range", "A number is outside its range: VNI 1..16777215, ASN 1..4294967295, MTU, ports, an empty `vniRange`."),
    "JCN106": CodeInfo("error", "invalid text", "A text value does not have the required form: `kubeConfig` is an absolute path without `.`/`..`, a secret `file` stays inside the intent's folder, environment variable names and store keys hold no control characters."),
    "JCN107": CodeInfo("error", "invalid address", "An address, network or address/prefix is malformed, or a pool is written with host bits set."),
    "JCN109": CodeInfo("error", "exactly one of", "A mapping needs exactly one of two keys: `env` or `file` for a secret, `reach` or `isolate` for an expectation."),
    "JCN110": CodeInfo("error", "wrong number of items", "A list is empty or has the wrong length (`nodes`, `networks`, `reach`)."),
    "JCN111": CodeInfo("error", "kubeconfig not an allowed file", "`cluster.kubeConfig` names a file other than `/etc/kubernetes/kubelet.conf`, `/var/lib/kubelet/kubeconfig` and `/etc/cni/net.d/multus.d/multus.kubeconfig`. Node preparation runs as root and copies the node's credentials there, so the path is one of the files real deployments use, never a pod's volume, a static pod or a CNI network configuration."),
    # names and syntax
    "JCN201": CodeInfo("error", "invalid Kubernetes name", "Object names are DNS-1123 labels (lower-case letters, digits, '-', at most 63); node names are DNS-1123 subdomains of at most 243 characters (a node's configuration is the file and ConfigMap key `node-<name>.json`, and ConfigMap keys end at 253)."),
    "JCN202": CodeInfo("error", "invalid interface name", "A Linux interface name is 1 to 15 bytes, without '/' or whitespace."),
    "JCN203": CodeInfo("error", "invalid image reference", "An image reference is `[registry/]path[:tag][@sha256:digest]` with a lower-case path."),
    "JCN204": CodeInfo("error", "invalid route target", "A route target is `ASN2:N32`, `ASN4:N16` or `IPv4:N16`, optionally prefixed by `target:`; each part within its range."),
    "JCN205": CodeInfo("error", "invalid VRF name", "A VRF name is at most 31 lower-case letters, digits and '-', starting with a letter."),
    "JCN206": CodeInfo("error", "invalid MAC address", "A MAC is six hex pairs separated by ':' and must be unicast (even first octet) and not all zeros."),
    "JCN207": CodeInfo("error", "invalid ISO NET", "An ISO loopback is an ISO NET such as `49.0004.0102.4000.0004.00`."),
    # roles and references
    "JCN301": CodeInfo("error", "no master", "No node has `role: master`, so there is no BGP route reflector (the AKS walkthrough's `DESIRED 0`)."),
    "JCN302": CodeInfo("error", "no worker", "No node has `role: worker`, so no pod can attach to a VRF."),
    "JCN303": CodeInfo("error", "unknown node", "A pod names a node that is not in `nodes`; the help names the closest node."),
    "JCN304": CodeInfo("error", "pod on a master", "A pod is placed on a master; masters are route reflectors and carry no VRFs."),
    "JCN305": CodeInfo("error", "unknown VRF", "An attachment names a VRF that is not in `vrfs`; the help names the closest VRF."),
    "JCN306": CodeInfo("error", "unknown pod or VRF in expect", "An `expect` entry names something that is neither a pod nor a VRF."),
    # uniqueness
    "JCN401": CodeInfo("error", "duplicate node name", "Two nodes have the same name; the note names the first."),
    "JCN402": CodeInfo("error", "duplicate node address", "Two nodes have the same address."),
    "JCN403": CodeInfo("error", "duplicate VRF name", "Two VRFs have the same name."),
    "JCN404": CodeInfo("error", "duplicate VNI", "Two VRFs have the same VNI and the same route targets: they are one network written twice."),
    "JCN405": CodeInfo("error", "duplicate pod name", "Two pods have the same name."),
    "JCN406": CodeInfo("error", "duplicate interface name", "Two interfaces of one pod have the same name (explicit, or the default `netN`)."),
    "JCN407": CodeInfo("error", "duplicate MAC", "Two pod interfaces have the same MAC address."),
    "JCN408": CodeInfo("error", "duplicate route distinguisher", "Two VRFs have the same `routeDistinguisherId`."),
    "JCN409": CodeInfo("error", "duplicate fabric address", "Two nodes have the same `fabricAddress`, or a node's fabric address is another node's `address`."),
    # addresses
    "JCN501": CodeInfo("error", "node address outside nodeSubnet", "A node address is not a host address of `cluster.nodeSubnet`."),
    "JCN502": CodeInfo("error", "pod address outside pool", "A pod address is outside its VRF's pool of that family."),
    "JCN503": CodeInfo("error", "address family mismatch", "An IPv6 value is written where IPv4 is expected, or the reverse (`ipv4: abcd::2/126`)."),
    "JCN504": CodeInfo("error", "reserved link address", "A pod address is the network, gateway (first host) or broadcast address of its link subnet."),
    "JCN505": CodeInfo("error", "overlapping link subnets", "Two link subnets overlap in one VRF, or in VRFs whose routes meet in one table through their route targets."),
    "JCN506": CodeInfo("error", "pool overlaps a cluster range", "A VRF pool overlaps `nodeSubnet`, `podCidr` or `serviceCidr`, which breaks the node's own routing."),
    "JCN507": CodeInfo("error", "address without pool", "An attachment gives an address of a family for which its VRF has no pool."),
    "JCN508": CodeInfo("error", "exhausted", "Allocation ran out: a VRF pool has no free link subnet, `cluster.vniRange` no free VNI, or no route distinguisher number is left."),
    "JCN509": CodeInfo("error", "link subnet too small", "A pod address's prefix leaves no room for the gateway and the pod (/31, /32, /127, /128)."),
    "JCN510": CodeInfo("error", "SR index outside the SRGB", "A node's segment-routing index does not fit `cluster.segmentRouting.srgbRange`."),
    "JCN511": CodeInfo("error", "default route target does not fit", "With a 4-byte AS and a VNI above 65535 the default target `<asn>:<vni>` is invalid; write `routeTarget`."),
    "JCN512": CodeInfo("error", "duplicate node identity", "Two nodes end up with the same ISO system ID or IPv6 loopback."),
    "JCN513": CodeInfo("error", "special-purpose address", "A VRF pool, pod address, node address, `cluster.nodeSubnet` or IPv6 loopback lies in (or a pool overlaps) a range that is never routed as unicast: 0.0.0.0/8, loopback (127.0.0.0/8, ::1), link-local (169.254.0.0/16, fe80::/10), multicast (224.0.0.0/4, ff00::/8), reserved 240.0.0.0/4 and the broadcast 255.255.255.255, the IPv6 unspecified :: and IPv4-mapped ::ffff:0:0/96. Private, shared and other unicast ranges are accepted."),
    "JCN514": CodeInfo("error", "JCNR fabric missing", "Target jcnr without a fabric interface (`cluster.fabricInterface`, or one per node) or without a node's `fabricAddress`: JCNR's DPDK vRouter forwards VXLAN through the fabric interface, and each node's address there is its VTEP and BGP source."),
    "JCN515": CodeInfo("error", "service range overlaps", "`cluster.serviceCidr` overlaps `nodeSubnet` or `podCidr`: service addresses are virtual and never node or pod addresses."),
    "JCN516": CodeInfo("error", "reserved AS number", "`cluster.asn` is AS_TRANS 23456 (RFC 6793) or reserved 65535 / 4294967295 (RFC 7300)."),
    "JCN517": CodeInfo("error", "node loopback in the overlay", "A node's IPv6 loopback (written, or derived as `abcd::<node address>`) lies in a VRF's `ipv6Pool` or a pod's IPv6 link: a pod could hold the node's BGP next hop."),
    "JCN518": CodeInfo("error", "SR global block past the label space", "`srgbStart + srgbRange - 1` is above 1048575, the largest 20-bit MPLS label (RFC 3032)."),
    "JCN519": CodeInfo("error", "unusable JCNR fabric", "Target jcnr: a node's `fabricAddress` lies in `podCidr`, `serviceCidr` or a VRF pool, or the fabric interface is `lo`: the fabric address is the node's VTEP, BGP source and router ID, on a NIC the DPDK vRouter takes over."),
    # fleets
    "JCN451": CodeInfo("error", "bad cluster name", "Two clusters of a fleet have the same `name` (it names the cluster's output folder and its pods, `<cluster>/<pod>`), or a name cannot be a folder of the output: `gitops` (the fleet's GitOps folder) or a Windows device name."),
    "JCN452": CodeInfo("error", "overlapping node subnets", "The `nodeSubnet`s of two clusters of a fleet overlap: VXLAN and BGP run between node addresses across clusters, so the underlays must route to each other."),
    "JCN453": CodeInfo("error", "node identity repeated across clusters", "Two nodes of different clusters have the same router ID (node address), IPv6 loopback, ISO NET or SR index: route distinguishers, VXLAN tunnels and node SIDs name nodes by these values."),
    "JCN454": CodeInfo("error", "bad peering", "`interconnect.peerings` names a cluster the fleet does not have, joins a cluster with itself, or repeats a pair."),
    "JCN455": CodeInfo("error", "per-cluster VNI range", "A cluster of a fleet sets `cluster.vniRange`; VNIs are fleet-wide, set `vniRange` at the top of the fleet."),
    "JCN456": CodeInfo("error", "route target differs between clusters", "The clusters of a fleet have different ASNs and a VRF has no `routeTarget`: its default `<asn>:<vni>` would differ between clusters, so no route would cross."),
    "JCN457": CodeInfo("error", "cluster label too long", "`<fleet name>-<cluster name>` labels every object of a cluster (`app.kubernetes.io/part-of`) and must be a Kubernetes label value of at most 63 characters."),
    "JCN458": CodeInfo("error", "BGP ports that never meet", "The route reflectors of two peered clusters cannot open a session: neither side's `bgp.connectPort` is the other's `bgp.listenPort` (179 when left out)."),
    "JCN459": CodeInfo("error", "Flux interval out of range", "`gitops.interval` is shorter than 1s (Flux would reconcile without pause) or longer than Go's duration holds (about 2562047h)."),
    "JCN520": CodeInfo("warning", "unreadable lock file", "The allocation lock file next to the intent cannot be read and is ignored."),
    "JCN521": CodeInfo("error", "BGP ports that never meet", "`cluster.bgp.listenPort` and `connectPort` differ (179 when left out): route reflectors listen on one, workers connect to the other, and no session comes up."),
    "JCN522": CodeInfo("error", "the router's own namespace", "`metadata.namespace` is `kube-system` (the cluster's own pods, and Platter's CNI and cRPD DaemonSets) or, for target jcnr, `jcnr` (the chart's cRPD and vRouter): workloads would sit beside the pods `verify --live` executes in."),
    # MTU
    "JCN601": CodeInfo("error", "MTU does not fit the underlay", "An attachment MTU is larger than `cluster.underlayMtu` minus the 50 bytes VXLAN adds."),
    "JCN602": CodeInfo("error", "MTU too small for IPv6", "An interface with an IPv6 address has an MTU below 1280, written or the default `cluster.underlayMtu` minus 50 (then reported at `underlayMtu`, which must be at least 1330); Linux disables IPv6 on it."),
    # route targets and reachability
    "JCN701": CodeInfo("error", "same route targets, different VNIs", "Two VRFs import and export the same targets (they exchange all routes) but use different VNIs. Targets are compared as the build uses them: normalised (`target:64512:7` is `64512:7`), and a VRF without `routeTarget` takes `<asn>:<vni>`, with its allocated VNI when none is written."),
    "JCN702": CodeInfo("error", "same VNI, different route targets", "Two VRFs share a VNI, and so a VXLAN segment, but have different route targets."),
    "JCN703": CodeInfo("error", "expected reachability fails", "An `expect: reach` pair does not reach each other both ways with these route targets."),
    "JCN704": CodeInfo("error", "expected isolation fails", "An `expect: isolate` pair can reach each other in at least one direction."),
    # secrets
    "JCN801": CodeInfo("error", "inline secret", "A secret value is written in the intent; reference it with `env:` or `file:`."),
    "JCN802": CodeInfo("error", "external secrets without a store", "`secrets.mode: external-secrets` needs `secrets.store`."),
    "JCN803": CodeInfo("error", "secret value unavailable", "In `inline` or `sops` mode (or with `--with-secrets`) the environment variable is unset, or the file is unreadable or not UTF-8 text."),
    "JCN804": CodeInfo("error", "sops not found", "`secrets.mode: sops` needs the `sops` executable on the PATH."),
    "JCN805": CodeInfo("error", "secret value in the output", "A secret value (raw, escaped as a template filter writes it, or base64) appears in a file that is not the inline Secret; nothing is written."),
    "JCN806": CodeInfo("error", "sops failed", "`sops` could not encrypt the Secret (keys, `.sops.yaml`)."),
    "JCN807": CodeInfo("error", "secret file refused", "In `inline` or `sops` mode a secret file is a symbolic link (or below one), a folder, a FIFO, a device or a socket, or larger than 64 KiB; secret files are regular files in the intent's folder or below it, read without following links."),
    "JCN808": CodeInfo("error", "secret values not allowed", "The intent's `secrets.mode` (`inline` or `sops`) would put secret values into the output, and the command line did not allow it (`--secret-values`, or `--with-secrets`). The intent comes from pull requests: on its own it must not be able to send a CI secret into the output or a diff."),
    # rendering
    "JCN900": CodeInfo("error", "rendering failed", "A template (usually one given with `--templates`) failed to render."),
    # warnings
    "JCN910": CodeInfo("warning", "VRF without pods", "A VRF has no pod attachments; it produces a NetworkAttachmentDefinition nothing uses."),
    "JCN911": CodeInfo("warning", "worker without pods", "A worker runs none of the intent's pods."),
    "JCN912": CodeInfo("warning", "pool much larger than demand", "A VRF pool is more than 1024 times larger than its attachments need (and larger than a /16)."),
    "JCN913": CodeInfo("warning", "attachments without addresses", "A VRF has no pool, so its attachments without written addresses get none and advertise no route."),
    "JCN914": CodeInfo("warning", "field ignored by the target", "A field that only target platter reads is set while building for target jcnr."),
    "JCN915": CodeInfo("warning", "secret store ignored", "`secrets.store` is set but `secrets.mode` is not `external-secrets`."),
    "JCN916": CodeInfo("warning", "provider advice", "A setting works but costs something on this provider, e.g. a `cluster.kubeConfig` that differs from the kubelet's own."),
    "JCN917": CodeInfo("warning", "secret too short to scan", "A secret value is too short to search the output for it without false alarms."),
    "JCN918": CodeInfo("warning", "secret not checked for leaks", "Outside `inline` and `sops` mode a referenced value cannot be read at build time (variable unset, file missing or refused as in JCN807), so the output was not searched for it. One warning per build."),
    "JCN920": CodeInfo("warning", "VRF in one cluster only", "A VRF of a fleet has pods in one cluster only; its routes still reach every peered cluster's route reflectors."),
    "JCN921": CodeInfo("warning", "BGP peers above the licence", "A route reflector of a fleet has more BGP peers (its workers plus the route reflectors of the clusters it peers with) than the 16 a standard cRPD licence allows (Juniper's meshrr README)."),
    "JCN922": CodeInfo("warning", "a lone route reflector", "A cluster has one route reflector (master): losing it withdraws every route after the hold time. Graceful restart (on by default) covers a cRPD restart, not a lost node."),
    "JCN923": CodeInfo("warning", "JCNR pods keep MTU 1500", "Target jcnr cannot set a pod's MTU (the JCNR NAD and cni-args have no MTU key), and the overlay carries less than 1500 bytes (`cluster.underlayMtu` minus 50)."),
    "JCN924": CodeInfo("warning", "fabric interface is the primary NIC", "Target jcnr on AKS or EKS names `eth0` as the fabric interface: the DPDK vRouter takes it away from the kernel and the node loses its cluster network; attach a second NIC for the fabric."),
    "JCN925": CodeInfo("warning", "BGP port of a node service", "`cluster.bgp.listenPort` is a port a Kubernetes node's own service holds (sshd 22, etcd 2379/2380, kube-apiserver 6443, kubelet 10250, kube-proxy 10256, controller manager 10257, scheduler 10259); cRPD shares the node's network."),
    "JCN926": CodeInfo("warning", "GitOps objects name another folder", "A fleet's `gitops.path` differs from the folder the build writes (relative to the current folder, taken as the repository's top level), or the output folder lies outside the current folder and `gitops.path` is not set: Argo CD and Flux would sync a folder `build --check` does not compare."),
}
