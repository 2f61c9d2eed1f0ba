"""Syntax of every name that jcnrc turns into a file name, a Kubernetes name or Junos text.

Every pattern here is written for JSON Schema (ECMAScript, where `$` ends the text) and is
matched in Python only through ``full_match``: Python's `$` also matches before a final line
break, so `re.match("^[a-z]+$", "x\\n")` succeeds, and a value ending in a line break would pass
a check that was meant to refuse it.

These patterns are deliberately narrow: a name that passes them is safe as a path component,
a YAML plain scalar, a JSON string and a Junos identifier without any escaping, which is
what makes injection through names impossible by construction. Values that are not names
(commands, images) are escaped by the render filters instead.

The ``*_problem`` functions say in words *why* a text fails its pattern, so that a diagnostic
reads "contains upper-case letters" instead of echoing a regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
# A fleet names a pod as `<cluster>/<pod>`; a VRF (fleet-wide) by its name alone.
FLEET_ENDPOINT = r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
# GitOps: the repository an Argo CD ApplicationSet reads (https:// or ssh:// URL, or scp-like git@host:path),
# a branch, tag or commit, a folder of the repository (relative, no `..`), and a Flux duration.
# No credentials in the URL (`https://user:token@...`) and no host starting with '-' (an option to ssh).
GIT_URL = (r"^(?:https://(?!-)[A-Za-z0-9._~:/%+-]+"
           r"|ssh://(?:[A-Za-z0-9._-]+@)?(?!-)[A-Za-z0-9._~:/%+-]+"
           r"|git@(?!-)[A-Za-z0-9._~:/%+-]+)$")
# git check-ref-format: no `..`, `//`, `@{`, a final `.` or `/`, a component starting with `.` or ending `.lock`.
GIT_REVISION = r"^(?!.*\.\.)(?!.*//)(?!.*@\{)(?!.*\.lock(?:/|$))(?!.*/\.)(?!.*[./]$)[A-Za-z0-9][A-Za-z0-9._/@-]{0,243}$"
REPO_PATH = r"^(?!/)(?!.*//)(?!(?:.*/)?\.\.?(?:/|$))[A-Za-z0-9._/-]{1,255}$"
# Flux durations (Go's time.ParseDuration units used by Flux); never zero: Flux would reconcile in a loop.
FLUX_DURATION = r"^(?![0.]*(?:ms|s|m|h)(?:[0.]*(?:ms|s|m|h))*$)([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
# Each dot-separated label is itself at most 63 characters (the whole name at most 253).
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
DNS1123_SUBDOMAIN_MAX = 253
# Kubernetes allows node names of 253 characters, but a node's Platter configuration is the
# ConfigMap key and the file `node-<name>.json` (also `nodes/<name>/node-<name>.json` in the
# output): ConfigMap keys are at most 253 characters and file names at most 255 bytes.
NODE_FILE_AFFIXES = len("node-.json")
NODE_NAME_MAX = DNS1123_SUBDOMAIN_MAX - NODE_FILE_AFFIXES  # 243
# Junos routing-instance names allow 128 characters, but the VRF name also becomes the NAD name
# `<vrf>-net` (a DNS-1123 label); lower-case keeps both valid. It never names a kernel device:
# cRPD names its kernel VRFs `__crpd-vrf<N>` (reference/jcnr-formats.md 2.7), so IFNAMSIZ does not bound it.
VRF_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
VRF_NAME_MAX = 31
# Linux refuses names longer than IFNAMSIZ-1 = 15 bytes, containing '/', ':' or whitespace,
# and the names '.' and '..'. jcnrc is narrower still: the name also lands in Junos and JSON.
LINUX_IFNAME = r"^(?!(?:all|default)$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$"
LINUX_IFNAME_MAX = 15
# Names the kernel refuses although they look like names: '.' and '..' (dev_valid_name), and `all` and
# `default`, which are the directories of /proc/sys/net/ipv{4,6}/conf that every device gets one beside
# (registering them fails with EINVAL: `ip link add all type veth peer name p` refuses).
LINUX_RESERVED_IFNAMES = {
    ".": "is reserved by Linux", "..": "is reserved by Linux",
    "all": "is reserved by Linux (the /proc/sys/net/*/conf/all settings)",
    "default": "is reserved by Linux (the /proc/sys/net/*/conf/default settings)",
}
MAC_ADDRESS = r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$"
ISO_NET = r"^49(\.[0-9a-fA-F]{4}){1,4}(\.[0-9a-fA-F]{4}){3}\.00$"
# A TCP port, 1 to 65535, as a full match of its digits.
_PORT = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
# registry/path:tag@digest, as the distribution reference grammar allows (simplified: no
# uppercase in the path, optional host with port, optional tag, optional digest).
IMAGE_REFERENCE = (
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::" + _PORT + ")?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
IMAGE_REFERENCE_MAX = 255
# Route targets: ASN2:N32, ASN4:N16 (optionally with the Junos 'L' suffix), IPv4:N16,
# each with or without the 'target:' prefix. Ranges are checked by routetarget.parse.
ROUTE_TARGET = r"^(target:)?([0-9]{1,10}L?|[0-9]{1,3}(\.[0-9]{1,3}){3}):[0-9]{1,10}$"
ENV_VARIABLE = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Characters no path or file name of an intent may hold: C0 and C1 controls, DEL, Unicode line and
# paragraph separators, bidi controls and marks (U+061C, U+200E/F, U+202A-E, U+2066-9) that make a
# terminal show something else than the file holds, invisible format characters (soft hyphen,
# zero-width characters, word joiners, BOM, interlinear annotations), and lone surrogates (text
# decoded from bytes that are not UTF-8, which nothing can encode).
_UNSAFE = ("\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2060-\\u2064"
           "\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb\\ud800-\\udfff")
# A path relative to the intent file that stays inside its folder (no leading '/', no '..'
# component): inline mode copies the file into a Secret, so it must not reach outside. No
# quotes, '$', backquotes or backslashes: it is written into shell scripts (quoted) and must
# not need escaping to be read.
SECRET_FILE = r"^(?!/)(?!(?:.*/)?\.\.(?:/|$))[^" + _UNSAFE + r"'\"`$\\]+$"
# An absolute path on the node, without whitespace, shell metacharacters or `.`/`..` components:
# node preparation copies the kubeconfig there, and the NADs name the same path.
NODE_PATH = r"^(?!(?:.*/)?\.\.?(?:/|$))/[^\s;'\"`$\\" + _UNSAFE + r"]*$"
# Where node preparation writes the CNI's own kubeconfig (`cluster.cniCredentials: service-account`).
CNI_KUBECONFIG = "/etc/cni/net.d/jcnrc.d/jcnrc.kubeconfig"
# Where `cluster.kubeConfig` may point: an allow-list of exact files. Node preparation runs as root
# and copies the node's credentials to that path (unless it is the kubelet's own), so a folder
# rule is not enough: under /var/lib/kubelet/pods/ lie the volumes of every pod (an emptyDir a pod
# could read the copy from), under /etc/kubernetes/manifests/ the static pods the kubelet runs, in
# /etc/cni/net.d/ the networks the container runtime reads. These are the files real deployments
# name: kubeadm's and kubespray's (the walkthrough copied an admin kubeconfig there), the kubelet's
# own on AKS and EKS, Multus's, whose ServiceAccount kubeconfig a CNI may share, and jcnrc's own.
KUBECONFIG_FILES = {
    "/etc/kubernetes/kubelet.conf": "kubeadm and kubespray; the walkthrough's path",
    "/var/lib/kubelet/kubeconfig": "the kubelet's own on AKS and EKS",
    "/etc/cni/net.d/multus.d/multus.kubeconfig": "Multus's own, from its ServiceAccount",
    CNI_KUBECONFIG: "jcnrc's own, for the CNI's ServiceAccount (the default)",
}
# Places a path outside the list most often points at, and why each is dangerous.
_POD_VOLUMES = "/var/lib/kubelet/pods/"
_READ_AS_CONFIGURATION = {
    "/etc/kubernetes/manifests/": "whose every file the kubelet runs as a static pod",
    "/etc/cni/net.d/": "whose files the container runtime reads as CNI network configurations",
}
# The same rule for editors (the JSON schema); `node_path_problem` and `kubeconfig_file_problem`
# say in words what is wrong.
KUBECONFIG_PATH = "^(?:" + "|".join(re.escape(path) for path in KUBECONFIG_FILES) + ")$"
# Remote keys of an external secret store: any printable text.
STORE_KEY = r"^[^" + _UNSAFE + r"]+$"



@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def full_match(pattern: str, text: str) -> bool:
    """Whether the whole of `text` matches `pattern`: the one way jcnrc matches a syntax pattern.

    `re.fullmatch` cannot end early before a line break the way `$` can, so "blue\\n" fails
    `^[a-z]+$` here whatever the pattern's anchors say."""
    return _compiled(pattern).fullmatch(text) is not None


def full_matcher(pattern: str) -> Callable[[str], re.Match[str] | None]:
    """`full_match` with the pattern bound: a match of the whole text, or None. The model's validators
    call it for every name of an intent, so the pattern is looked up once, not per value."""
    return _compiled(pattern).fullmatch


# Names Windows reserves for devices, with or without an extension ("nul.json", "aux.internal"):
# a git checkout of the output on Windows cannot create a file or folder with such a name.
# jcnrc.output.write refuses such paths too; this lets the checks point at the name in the intent.
WINDOWS_DEVICE_NAMES = frozenset({"con", "prn", "aux", "nul", "conin$", "conout$"}
                                 | {f"{port}{n}" for port in ("com", "lpt") for n in "0123456789\u00b9\u00b2\u00b3"})


def windows_device_problem(text: str) -> str | None:
    """Why `text`, used as a file or folder name, cannot be checked out on Windows, or None."""
    stem = text.split(".", 1)[0].rstrip(" ").lower()
    if stem not in WINDOWS_DEVICE_NAMES:
        return None
    which = "is a device name on Windows" if stem == text.lower() else \
        f"starts with `{stem}.`, which Windows reads as the device `{stem}` whatever follows the dot"
    return f"{which}: the output names a file or folder after it, and a checkout on Windows cannot create that"


def is_dns1123_subdomain(text: str) -> bool:
    return len(text) <= DNS1123_SUBDOMAIN_MAX and full_match(DNS1123_SUBDOMAIN, text)


def _shown(chars: set[str]) -> str:
    return ", ".join(repr(c) for c in sorted(chars)[:5])


# Each *_problem function completes the sentence `"<text>" ...`: it returns a predicate such as
# "contains upper-case letters", or None when the text is valid.

def label_problem(text: str, max_length: int = 63) -> str | None:
    """Why `text` is not a DNS-1123 label (Kubernetes object names), or None when it is one."""
    if not text:
        return "is empty"
    if len(text) > max_length:
        return f"is {len(text)} characters long; the limit is {max_length}"
    if any(c.isupper() for c in text):
        return "contains upper-case letters"
    bad = {c for c in text if not (c.isascii() and (c.islower() or c.isdigit() or c == "-"))}
    if bad:
        return f"contains {_shown(bad)}"
    if text[0] == "-" or text[-1] == "-":
        return "starts or ends with '-'"
    return None


def subdomain_problem(text: str) -> str | None:
    """Why `text` is not a DNS-1123 subdomain (Kubernetes node names), or None."""
    if not text:
        return "is empty"
    if len(text) > DNS1123_SUBDOMAIN_MAX:
        return f"is {len(text)} characters long; the limit is {DNS1123_SUBDOMAIN_MAX}"
    for label in text.split("."):
        if not label:
            return "has an empty label (two dots in a row, or a dot at either end)"
        if len(label) > 63:
            return f"has a label of {len(label)} characters; each dot-separated label is at most 63"
        problem = label_problem(label)
        if problem:
            return problem
    return None


def node_name_problem(text: str) -> str | None:
    """Why `text` cannot name a node, or None: a DNS-1123 subdomain short enough for its files."""
    if len(text) > NODE_NAME_MAX:
        return (f"is {len(text)} characters long; the limit is {NODE_NAME_MAX}: the node's configuration is the "
                f"ConfigMap key and file `node-<name>.json`, and ConfigMap keys are at most {DNS1123_SUBDOMAIN_MAX} "
                "characters")
    return subdomain_problem(text)


def vrf_problem(text: str) -> str | None:
    """Why `text` cannot name a VRF, or None."""
    problem = label_problem(text, max_length=VRF_NAME_MAX)
    if problem:
        return problem
    if not text[0].isalpha():
        return "starts with a digit; a VRF name starts with a letter"
    return None if full_match(VRF_NAME, text) else "is not a lower-case name starting with a letter"


def interface_problem(text: str) -> str | None:
    """Why `text` is not a usable Linux interface name, or None."""
    size = len(text.encode("utf-8"))
    if not text:
        return "is empty"
    if size > LINUX_IFNAME_MAX:
        return f"is {size} bytes long; Linux allows at most {LINUX_IFNAME_MAX}"
    if "/" in text:
        return "contains '/', which Linux refuses in interface names"
    if any(c.isspace() for c in text):
        return "contains whitespace, which Linux refuses in interface names"
    if text in LINUX_RESERVED_IFNAMES:
        return LINUX_RESERVED_IFNAMES[text]
    bad = {c for c in text if not (c.isascii() and (c.isalnum() or c in "_.-"))}
    if bad:
        return f"contains {_shown(bad)}"
    return None if full_match(LINUX_IFNAME, text) else "starts with '.' or '-'"


def image_problem(text: str) -> str | None:
    """Why `text` is not a container image reference, or None."""
    if not text:
        return "is empty"
    if len(text) > IMAGE_REFERENCE_MAX:
        return f"is {len(text)} characters long; the limit is {IMAGE_REFERENCE_MAX}"
    if any(c.isspace() for c in text):
        return "contains whitespace"
    if "://" in text:
        return "has a URL scheme; an image reference has none"
    if any(c.isupper() for c in _repository_part(text)):
        return "has upper-case letters in the repository path; only the registry host and the tag may"
    if text.endswith((":", "@")):
        return "ends with an empty tag or digest"
    port = re.match(r"[^/]*:([0-9]+)/", text)
    if port is not None and not full_match(_PORT, port.group(1)):
        return f"has registry port {port.group(1)}; a port is 1 to 65535"
    if "@" in text and not re.search(r"@sha256:[0-9a-f]{64}\Z", text):
        return "has a malformed digest; it is `@sha256:` and 64 lower-case hex digits"
    return None if full_match(IMAGE_REFERENCE, text) else "is not of the form [registry/]path[:tag][@sha256:digest]"


def _unsafe_characters(text: str) -> str | None:
    bad = sorted({c for c in text if not c.isprintable() or c in "\u2028\u2029"})
    if not bad:
        return None
    return "contains the control character " + ", ".join(f"U+{ord(c):04X}" for c in bad[:3])


def _dot_components(text: str) -> bool:
    return any(part in (".", "..") for part in text.split("/"))


def node_path_problem(text: str) -> str | None:
    """Why `text` is not a usable absolute path on a node, or None."""
    if not text.startswith("/"):
        return "is not an absolute path (it must start with '/')"
    unsafe = _unsafe_characters(text)
    if unsafe:
        return unsafe
    if _dot_components(text):
        return "has a '.' or '..' component; write the path without them"
    bad = {c for c in text if c in " \t;'\"`$\\"}
    if bad:
        return f"contains {_shown(bad)}"
    return None


def kubeconfig_file_problem(text: str) -> str | None:
    """Why `text` (a valid node path) is not a place for a kubeconfig copy, or None."""
    if text in KUBECONFIG_FILES:
        return None
    if text.startswith(_POD_VOLUMES):
        return f"is under {_POD_VOLUMES}, where the volumes of pods lie: a pod could read the node's credentials"
    folder = text.rsplit("/", 1)[0] + "/"
    if folder in _READ_AS_CONFIGURATION:
        return f"is directly in {folder}, {_READ_AS_CONFIGURATION[folder]}"
    return "is not one of the kubeconfig files node preparation may write"


def secret_file_problem(text: str) -> str | None:
    """Why `text` cannot name a secret file next to the intent, or None."""
    if not text:
        return "is empty"
    if text.startswith("/"):
        return "is an absolute path; secret files are named relative to the intent file and stay in its folder"
    if ".." in text.split("/"):
        return "climbs out of the intent's folder with '..'"
    unsafe = _unsafe_characters(text)
    if unsafe:
        return unsafe
    bad = {c for c in text if c in "'\"`$\\"}
    if bad:
        return f"contains {_shown(bad)}"
    return None


# The intent's file name, as given on the command line, is repeated in shell and YAML comments,
# in double-quoted shell strings (through the `sh` filter) and in Markdown code spans of the
# READMEs. A comment ends at a line break (YAML 1.1 readers also break at U+0085, U+2028 and
# U+2029), a code span at a backquote; control and bidi characters would make a terminal or an
# editor show something else than the file holds. Everything else is printed exactly.
_FILE_NAME_UNSAFE = re.compile("[" + _UNSAFE + "\ud800-\udfff]")


def intent_file_problem(text: str) -> str | None:
    """Why `text` cannot be repeated in generated comments, scripts and READMEs, or None."""
    unsafe = sorted(set(_FILE_NAME_UNSAFE.findall(text)))
    if any("\ud800" <= c <= "\udfff" for c in unsafe):
        return "is not valid UTF-8 (the operating system passed bytes that do not decode)"
    if unsafe:
        shown = ", ".join(f"U+{ord(c):04X}" for c in unsafe[:3])
        return (f"contains the control character {shown}: generated shell scripts and YAML files repeat the name in "
                "comments, which a line break or a control character would end or garble")
    if "`" in text:
        return "contains a backquote: the generated READMEs repeat the name in Markdown code spans, which it would end"
    return None


def _repository_part(text: str) -> str:
    """The path part of an image reference: without registry host, tag and digest."""
    body = text.split("@", 1)[0]
    first, slash, rest = body.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        body = rest
    path, colon, tag = body.rpartition(":")
    return path if colon and "/" not in tag else body
