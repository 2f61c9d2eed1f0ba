"""Intents for the hardening tests: hostile values, generated valid intents, mutations, and readers.

* ``HOSTILE``: strings that would break out of YAML, JSON, shell, Junos or a file path if any
  output were assembled by hand. The injection matrix puts each one into every string field.
* ``valid_intents()``: hypothesis strategy for intents that must compile (nodes, VRFs and pods
  with valid names, some explicit addresses, MACs and VNIs, the rest left to the allocator).
* ``mutated_intents()``: a valid intent with one structural mutation (a key deleted, a type
  changed, garbage text inserted, two values swapped, a list item duplicated). Whatever it
  produces, jcnrc must answer with diagnostics or output, never a traceback.
* ``read_outputs()``: every output file parsed back the way its consumer reads it (YAML with a
  1.1 and a 1.2 reader, JSON, shell words, Junos statements, Markdown with its command lines as
  shell words), so that tests compare meaning, not text.

Intents are plain data (ruamel "safe" types) written to a file with ``write_intent``; the
compiler then reads them through its real loader, positions included.
"""

from __future__ import annotations

import copy
import io
import json
import re
from collections.abc import Iterator
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from ruamel.yaml import YAML

from junos_syntax import flatten_to_set, parse_curly, parse_set_lines, render_go_branches

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "aks-evpn-type5.yaml"
INTENT_NAME = "topology.yaml"

# ----------------------------------------------------------------------------- hostile text

# Each value targets one way out of one output language. Keys name the attack in test ids.
HOSTILE: dict[str, str] = {
    "newline-key": "\nkind: ClusterRoleBinding",
    "crlf": "\r\nx: y",
    "yaml-doc-start": "\n---\napiVersion: v1\nkind: Secret",
    "yaml-doc-end": "\n...\n",
    "double-quote": '"',
    "single-quote": "'",
    "jinja-expression": "{{ 7*7 }}",
    "jinja-statement": "{% if true %}x{% endif %}",
    "go-template": "{{.NodeIP}}",
    "alt-delimiters": "<< plan.name >><% if 1 %>",
    "shell-parameter": "${HOME}",
    "shell-command": "$(touch /tmp/jcnrc-pwned)",
    "backticks": "`id`",
    "semicolon": "; rm -rf /",
    "hash-comment": " #comment",
    "shell-operators": "&& x | y > z < w",
    "glob": "*?[a]~",
    "junos-statement": "; } system { root-authentication { plain-text-password; } }",
    "junos-quote": '" ; }',
    "json-break": '","x":"',
    "yaml-flow": "{a: [b, c]}",
    "yaml-indicators": "&a *a !tag %x @ | >",
    "colon-space": ": x",
    "nul": "\x00",
    "escape": "\x1b[31m",
    "tab": "\t",
    "unicode-line-breaks": "\u2028\u2029\x85",
    "bidi-override": "\u202e",
    "non-ascii": "é中文😀",
    "bom": "\ufeff",
    "backslashes": "\\n\\",
    "path-traversal": "/../../etc/passwd",
    "spaces": " x y ",
    # A flag emoji's tag characters: outside the BMP and not printable, so they are escaped.
    "astral-format": "\U0001F3F4\U000E0067\U000E0062\U000E007F",
    # A printable character outside the BMP in a value that must be quoted for its line break.
    "emoji-line-break": "\U0001F600\n#",
}


def hostile_text() -> st.SearchStrategy[str]:
    """A hostile value, or arbitrary text (no surrogates: those cannot be written as UTF-8)."""
    return st.one_of(
        st.sampled_from(sorted(HOSTILE.values())),
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=24),
    )


# ----------------------------------------------------------------------------- intent files

def _dumper(allow_unicode: bool) -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.allow_unicode = allow_unicode
    yaml.width = 4096
    return yaml


def example_intent() -> dict:
    """The AKS walkthrough intent as plain data (a fresh copy each call; the file is read once)."""
    return copy.deepcopy(_example_data())


@lru_cache(maxsize=1)
def _example_data() -> dict:
    return _dumper(True).load(EXAMPLE.read_text(encoding="utf-8"))


def dump_intent(data: Any) -> str:
    """YAML text that reads back as exactly `data`.

    Raw UTF-8 first, as people write intents. ruamel writes U+2028, U+2029 and U+0085 raw into
    single-quoted scalars, where every reader folds them into a line break; when that happens
    the text is written again with every non-ASCII character escaped.
    """
    for allow_unicode in (True, False):
        buffer = io.StringIO()
        _dumper(allow_unicode).dump(data, buffer)
        text = buffer.getvalue()
        if _dumper(allow_unicode).load(text) == data:
            return text
    raise ValueError("the intent cannot be written as YAML that reads back the same")


def write_intent(data: Any, folder: Path, name: str = INTENT_NAME) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(dump_intent(data), encoding="utf-8")
    return path


@cache
def _benchmark_generator():
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("jcnrc_bench_generate", ROOT / "benchmarks" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def benchmark_intent(**shape) -> str:
    """The text `benchmarks/generate.py` writes for `shape` (nodes=, vrfs=, pods_per_node=, ...),
    generated in this process: no interpreter to start."""
    return _benchmark_generator().generate(**shape)


def compile_data(data: Any, folder: Path, **options):
    """Write `data` as an intent into `folder` and compile it (nothing is written but the intent)."""
    from jcnrc.pipeline import Options, compile_intent

    path = write_intent(data, folder)
    return compile_intent(path, Options(**options), display_name=INTENT_NAME)


def yaml_double_quoted(value: str) -> str:
    """`value` as a YAML double-quoted scalar that every YAML 1.2 reader reads back exactly:
    printable characters as they are, everything else (controls, line and paragraph separators,
    format characters, surrogates) as an escape, and no raw character a reader could fold."""
    out = ['"']
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable() and char != "\ufeff":
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def set_at(data: Any, path: tuple, value: Any) -> None:
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def get_at(data: Any, path: tuple) -> Any:
    node = data
    for part in path:
        node = node[part]
    return node


def leaf_paths(data: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path in plain data, containers and scalars alike (the root excluded)."""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        path = (*prefix, key)
        yield path
        yield from leaf_paths(value, path)


# ----------------------------------------------------------------------------- valid intents

_LABEL = r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,6})?"


def _names(count: int) -> st.SearchStrategy[list[str]]:
    """Distinct names that are valid as node, VRF and pod names alike (DNS-1123, start with a letter)."""
    return st.lists(_label(), min_size=count, max_size=count, unique=True)


def _label() -> st.SearchStrategy[str]:
    """A DNS-1123 label that is not a Windows device name (those are refused: they become file names)."""
    from jcnrc.intent.names import windows_device_problem

    return st.from_regex(_LABEL, fullmatch=True).filter(lambda name: windows_device_problem(name) is None)


@st.composite
def valid_intents(draw) -> dict:
    """An intent that must compile: every value in range, every reference defined."""
    masters = draw(st.integers(1, 2))
    workers = draw(st.integers(1, 3))
    vrf_count = draw(st.integers(1, 3))
    pod_count = draw(st.integers(0, 4))
    names = draw(_names(masters + workers + vrf_count + pod_count))
    node_names = names[: masters + workers]
    # Node names may be DNS subdomains: give some a domain to cover the dots.
    node_names = [n + ".internal" if draw(st.booleans()) and i % 2 else n for i, n in enumerate(node_names)]
    vrf_names = names[masters + workers : masters + workers + vrf_count]
    pod_names = names[masters + workers + vrf_count :]
    provider = draw(st.sampled_from(["aks", "eks", "kubeadm"]))
    intent: dict[str, Any] = {
        "apiVersion": "jcnrc/v1",
        "kind": "Topology",
        "metadata": {"name": draw(_label())},
        "target": draw(st.sampled_from(["platter", "jcnr"])),
        "cluster": {
            "provider": provider,
            "asn": draw(st.sampled_from([64512, 65000, 4200000000])),
            "nodeSubnet": "10.240.0.0/16",
            "podCidr": "10.244.0.0/16",
            "serviceCidr": "10.0.0.0/16",
            "fabricInterface": "eth1",  # JCNR's data path; target platter ignores it
        },
        "images": {"platter": "platter.azurecr.io/platter:latest", "crpd": "platter.azurecr.io/crpd:23.2R1"},
        "nodes": [
            {"name": name, "address": f"10.240.0.{4 + i}", "fabricAddress": f"10.241.0.{4 + i}",
             "role": "master" if i < masters else "worker"}
            for i, name in enumerate(node_names)
        ],
        "secrets": _secrets(draw),
    }
    if draw(st.booleans()):
        intent["metadata"]["namespace"] = draw(st.sampled_from(["default", "ran", "apps"]))
    if draw(st.booleans()):
        intent["cluster"]["kubeConfig"] = draw(
            st.sampled_from(["/etc/kubernetes/kubelet.conf", "/etc/cni/net.d/multus.d/multus.kubeconfig"]))
    if draw(st.booleans()):
        intent["cluster"]["bgp"] = {"listenPort": 178, "connectPort": 178}
    for node in intent["nodes"]:
        if draw(st.integers(0, 3)) == 0:
            octets = node["address"].split(".")
            node["ipv6Loopback"] = f"abcd::{octets[2]}.{octets[3]}.0.1"
    intent["vrfs"] = [_vrf(draw, k, name) for k, name in enumerate(vrf_names)]
    worker_names = node_names[masters:]
    intent["pods"] = [_pod(draw, j, name, worker_names, intent["vrfs"]) for j, name in enumerate(pod_names)]
    intent["expect"] = _reach_pairs(draw, intent["pods"])
    return intent


def _secrets(draw) -> dict:
    secrets: dict[str, Any] = {
        "rootPassword": {"env": draw(st.sampled_from(["CRPD_ROOT_PASSWORD", "ROOT_PW_2"]))},
        "crpdLicense": {"file": draw(st.sampled_from(["crpd-license.txt", "keys/licence file.txt"]))},
    }
    if draw(st.booleans()):
        secrets["mode"] = "external-secrets"
        secrets["store"] = {
            "name": "vault",
            # Any printable text: control characters and line breaks are refused in store keys
            # (JCN106), and this strategy produces valid intents only.
            "rootPasswordKey": draw(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1,
                                            max_size=24)),
            "crpdLicenseKey": "jcnr/crpd-license",
        }
    return secrets


def _vrf(draw, k: int, name: str) -> dict:
    vrf: dict[str, Any] = {"name": name, "ipv4Pool": f"1.{k + 1}.0.0/16"}
    if draw(st.booleans()):
        vrf["vni"] = 10100 + k
    if draw(st.booleans()):
        vrf["ipv6Pool"] = f"abcd::{k + 1}:0/112"
    shape = draw(st.sampled_from(["default", "text", "policy"]))
    if shape == "text":
        vrf["routeTarget"] = draw(st.sampled_from([f"11:{k + 1}", f"target:64512:{k + 1}", f"10.0.0.1:{k + 1}"]))
    elif shape == "policy":
        vrf["routeTarget"] = {"import": [f"65000:{k + 1}"], "export": [f"65000:{k + 1}"]}
    if draw(st.booleans()):
        vrf["routeDistinguisherId"] = 100 + k
    return vrf


def _pod(draw, j: int, name: str, workers: list[str], vrfs: list[dict]) -> dict:
    chosen = draw(st.lists(st.integers(0, len(vrfs) - 1), min_size=1, max_size=min(2, len(vrfs)), unique=True))
    networks = []
    for position, k in enumerate(chosen):
        attachment: dict[str, Any] = {"vrf": vrfs[k]["name"]}
        if draw(st.booleans()):
            attachment["interface"] = f"eth{position + 1}"
        if draw(st.booleans()):
            attachment["ipv4"] = f"1.{k + 1}.{100 + j}.2/30"
        if "ipv6Pool" in vrfs[k] and draw(st.booleans()):
            attachment["ipv6"] = f"abcd::{k + 1}:{(64 + j) * 4 + 2:x}/126"
        if draw(st.booleans()):
            attachment["mac"] = f"02:00:00:00:{j:02x}:{k:02x}"
        if draw(st.booleans()):
            attachment["mtu"] = draw(st.sampled_from([1280, 1400, 1450]))
        networks.append(attachment)
    pod: dict[str, Any] = {"name": name, "node": draw(st.sampled_from(workers)), "image": "docker.io/library/ubuntu:22.04",
                           "networks": networks}
    if draw(st.booleans()):
        pod["command"] = draw(st.lists(hostile_text(), min_size=1, max_size=4))
    return pod


def _reach_pairs(draw, pods: list[dict]) -> list[dict]:
    """`reach` between pods that share a VRF: both advertise, so the assertion must hold."""
    pairs = []
    for a in range(len(pods)):
        for b in range(a + 1, len(pods)):
            shared = {n["vrf"] for n in pods[a]["networks"]} & {n["vrf"] for n in pods[b]["networks"]}
            if shared and draw(st.booleans()):
                pairs.append({"reach": [pods[a]["name"], pods[b]["name"]]})
    return pairs


# ----------------------------------------------------------------------------- mutations

# Replacement values of another type than most leaves have, and text that is valid for no field.
_OTHER_TYPES: list[Any] = [0, -1, 2**70, 1.5, True, None, "", [], {}, ["x"], {"x": 1}, "10.240.0.4"]


@st.composite
def mutated_intents(draw, base: st.SearchStrategy[dict] | None = None) -> tuple[dict, str, tuple]:
    """(intent, what was done, the path it was done at)."""
    intent = copy.deepcopy(draw(base if base is not None else st.just(example_intent())))
    paths = list(leaf_paths(intent))
    path = draw(st.sampled_from(paths))
    kind = draw(st.sampled_from(["delete", "retype", "garbage", "swap", "duplicate", "rename-key"]))
    parent = get_at(intent, path[:-1])
    key = path[-1]
    if kind == "delete":
        del parent[key]
    elif kind == "retype":
        current = parent[key]
        parent[key] = draw(st.sampled_from([v for v in _OTHER_TYPES if type(v) is not type(current)]))
        if parent[key] is None:
            kind = "null"  # null is a valid "not given" for optional fields: not a wrong type there
    elif kind == "garbage":
        parent[key] = draw(hostile_text())
    elif kind == "swap":
        other = draw(st.sampled_from(paths))
        try:
            first, second = copy.deepcopy(get_at(intent, path)), copy.deepcopy(get_at(intent, other))
            set_at(intent, other, first)
            set_at(intent, path, second)
        except (KeyError, IndexError, TypeError):
            kind = "swap-skipped"  # one path vanished inside the other; the intent is unchanged
    elif kind == "duplicate":
        container = parent if isinstance(parent, list) else None
        if container is None:
            parent[key] = [parent[key], copy.deepcopy(parent[key])]
        else:
            container.insert(key, copy.deepcopy(container[key]))
    elif kind == "rename-key":
        if isinstance(parent, dict):
            parent[draw(hostile_text().filter(lambda text: text not in parent))] = parent.pop(key)
        else:
            parent[key] = {draw(hostile_text()): parent[key]}
    return intent, kind, path


# ----------------------------------------------------------------------------- reading outputs back


class OutputProblem(AssertionError):
    """An output file its consumer could not read, or read differently than another consumer."""


SENTINEL = "\u27e6VALUE\u27e7"
_DIGEST = re.compile(r"[0-9a-f]{64}")
_JUNOS_CONDITIONS = ("LicenseKey", "ISOLoopbackAddr", "IPv4LoopbackAddr", "IPv4DefaultGw")


def read_outputs(files: dict[str, str]) -> dict[str, Any]:
    """{path: parsed content}. Raises OutputProblem naming the file when a reader fails."""
    return {path: read_output(path, text) for path, text in files.items()}


@lru_cache(maxsize=4096)
def read_output(path: str, text: str) -> Any:
    """One file read back. Cached: most files of two builds are identical. Never mutate the result."""
    try:
        if path.endswith((".yaml", ".yml")):
            return ("yaml", [_embedded(doc) for doc in read_yaml(text)])
        if path.endswith(".json"):
            return ("json", json.loads(text))
        if path.endswith((".sh", ".env")):
            return shell_words(text)
        if path.endswith(".set"):
            return ("junos-set", parse_set_lines(text))
        if path.endswith(".md"):
            return ("markdown", markdown_parts(text))
        return ("text", text)
    except OutputProblem as exc:
        raise OutputProblem(f"{path}: {exc}") from exc
    except Exception as exc:  # every reader's own error type: report which file failed and how
        raise OutputProblem(f"{path}: {type(exc).__name__}: {exc}") from exc


_CODE_SPAN = re.compile(r"`([^`\n]*)`")
_COMMANDS = ("jcnrc ", "sh ", "kubectl ")


def markdown_parts(text: str) -> tuple:
    """Markdown as its readers take it: text, inline code, and the command lines in code spans
    (`jcnrc build 'my intent.yaml'`) as a shell reads them when they are pasted into one."""
    parts: list[tuple] = []
    last = 0
    for span in _CODE_SPAN.finditer(text):
        parts.append(("text", text[last:span.start()]))
        code = span.group(1)
        parts.append(shell_words(code) if code.startswith(_COMMANDS) else ("code", code))
        last = span.end()
    parts.append(("text", text[last:]))
    return tuple(parts)


def read_yaml(text: str) -> list[Any]:
    """All documents, read by PyYAML (YAML 1.1) and ruamel (YAML 1.2); both must agree."""
    import yaml as pyyaml

    # libyaml's parser where PyYAML has it (the YAML 1.1 reader most tools embed), else PyYAML's own.
    old = list(pyyaml.load_all(text, Loader=getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)))
    new = list(YAML(typ="safe", pure=True).load_all(text))
    if old != new:
        raise OutputProblem("PyYAML and ruamel read different objects")
    return new


def shell_words(text: str) -> tuple:
    """A script as the shell splits it: words, operators and line ends, comments dropped.

    Each word is a tuple of segments, ("text", ...) for what the shell takes literally (quoted or
    not) and ("expansion", ...) for `$x`, `${...}`, `$(...)` and backticks outside single quotes.
    So `"in zq`id`.yaml"` is not the same word as `"in zq.yaml"` with one value swapped: a value
    that brings an expansion with it changes the structure, not only the text.
    """
    return ("sh", tuple(_ShellLexer(text).tokens()))


class ShellSyntaxError(ValueError):
    pass


class _ShellLexer:
    """Enough of the POSIX shell grammar for generated scripts (no here-documents)."""

    OPERATORS = ("&&", "||", ";;", ";", "&", "|", "<", ">", "(", ")")

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def tokens(self) -> Iterator[Any]:
        word: list[tuple[str, str]] | None = None
        while self.at < len(self.text):
            char = self.text[self.at]
            if self.text.startswith("\\\n", self.at):  # line continuation: as if it were not there
                self.at += 2
                continue
            if char in " \t\n" or self._operator():
                if word is not None:
                    yield _merged(word)
                    word = None
                if char == "\n":
                    yield ("newline",)
                    self.at += 1
                elif char in " \t":
                    self.at += 1
                else:
                    operator = self._operator()
                    yield ("operator", operator)
                    self.at += len(operator)
                continue
            if char == "#" and word is None:
                end = self.text.find("\n", self.at)
                self.at = len(self.text) if end < 0 else end
                continue
            word = word if word is not None else []
            if char == "'":
                end = self.text.find("'", self.at + 1)
                if end < 0:
                    raise ShellSyntaxError(f"unterminated single quote at {self.at}")
                word.append(("text", self.text[self.at + 1 : end]))
                self.at = end + 1
            elif char == '"':
                self.at += 1
                word.extend(self._double_quoted())
            elif char == "\\":
                word.append(("text", self.text[self.at + 1 : self.at + 2]))
                self.at += 2
            elif char in "$`":
                word.append(("expansion", self._expansion()))
            else:
                word.append(("text", char))
                self.at += 1
        if word is not None:
            yield _merged(word)

    def _operator(self) -> str | None:
        for operator in self.OPERATORS:
            if self.text.startswith(operator, self.at):
                return operator
        return None

    def _double_quoted(self) -> list[tuple[str, str]]:
        segments = []
        while True:
            if self.at >= len(self.text):
                raise ShellSyntaxError("unterminated double quote")
            char = self.text[self.at]
            if char == '"':
                self.at += 1
                return segments
            if char == "\\" and self.text[self.at + 1 : self.at + 2] in ('$', '`', '"', "\\", "\n"):
                if self.text[self.at + 1] != "\n":
                    segments.append(("text", self.text[self.at + 1]))
                self.at += 2
            elif char in "$`":
                segments.append(("expansion", self._expansion()))
            else:
                segments.append(("text", char))
                self.at += 1

    def _expansion(self) -> str:
        """`$name`, `$1`, `$$`, `${...}`, `$(...)`, `$((...))` or a backtick command, as written."""
        start = self.at
        if self.text[self.at] == "`":
            end = self.text.find("`", self.at + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated backtick")
            self.at = end + 1
            return self.text[start : self.at]
        following = self.text[self.at + 1 : self.at + 2]
        if following in ("{", "("):
            closing = "}" if following == "{" else ")"
            depth = 0
            while self.at < len(self.text):
                char = self.text[self.at]
                if char == following:
                    depth += 1
                elif char == closing:
                    depth -= 1
                    if depth == 0:
                        self.at += 1
                        return self.text[start : self.at]
                elif char in "'\"" and following == "(":
                    quote_end = self.text.find(char, self.at + 1)
                    self.at = quote_end if quote_end > 0 else self.at
                self.at += 1
            raise ShellSyntaxError(f"unterminated {following}")
        match = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])", self.text[self.at :])
        if not match:
            self.at += 1
            return "$"  # a lone dollar sign is taken literally by the shell, but mark it anyway
        self.at += match.end()
        return match.group(0)


def _merged(segments: list[tuple[str, str]]) -> tuple:
    """Adjacent literal pieces are one piece: 'a'"b"c is the word abc."""
    merged: list[list[str]] = []
    for kind, text in segments:
        if merged and merged[-1][0] == kind == "text":
            merged[-1][1] += text
        else:
            merged.append([kind, text])
    return ("word", tuple((kind, text) for kind, text in merged))


def junos_branches(template: str) -> dict[str, list[str]]:
    """`set` lines of the cRPD Go template for a master and a worker, all optional parts present."""
    conditions = dict.fromkeys(_JUNOS_CONDITIONS, True)
    return {
        role: flatten_to_set(parse_curly(render_go_branches(template, IsMasterNode=role == "master", **conditions)))
        for role in ("master", "worker")
    }


def _embedded(document: Any) -> Any:
    """Parse the languages nested in Kubernetes objects: JSON, shell and Junos inside strings."""
    if not isinstance(document, dict):
        return document
    kind = document.get("kind")
    document = copy.deepcopy(document)
    if kind == "ConfigMap":
        for key, value in (document.get("data") or {}).items():
            document["data"][key] = _by_extension(key, value)
    if kind == "NetworkAttachmentDefinition":
        document["spec"]["config"] = ("json", json.loads(document["spec"]["config"]))
    if kind == "Configlet":
        document["spec"]["config"] = ("junos-set", parse_set_lines(document["spec"]["config"]))
    annotations = (document.get("metadata") or {}).get("annotations") or {}
    if "k8s.v1.cni.cncf.io/networks" in annotations:
        annotations["k8s.v1.cni.cncf.io/networks"] = ("json", json.loads(annotations["k8s.v1.cni.cncf.io/networks"]))
    return document


def _by_extension(key: str, value: str) -> Any:
    if key.endswith(".json"):
        return ("json", json.loads(value))
    if key.endswith(".sh"):
        return shell_words(value)
    if key.endswith(".tmpl"):
        return ("junos", junos_branches(value))
    return value


def replace_value(parsed: Any, value: str) -> tuple[Any, int]:
    """Every occurrence of `value` in every string (keys too) replaced by SENTINEL, digests masked.

    Returns the new structure and how many occurrences were replaced. Two builds that differ
    only in one field's value read the same after this, with the same count, exactly when the
    value landed where the other build had its own value and nowhere else.
    """
    count = 0

    def walk(node: Any) -> Any:
        nonlocal count
        if isinstance(node, str):
            count += node.count(value)
            return _DIGEST.sub("<sha256>", node.replace(value, SENTINEL))
        if isinstance(node, dict):
            return {walk(k): walk(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return type(node)(walk(item) for item in node)
        return node

    return walk(parsed), count


def first_difference(left: Any, right: Any, where: str = "") -> str | None:
    """Where two parsed outputs first differ, for a readable failure message."""
    if type(left) is not type(right):
        return f"{where or '/'}: {left!r:.200} != {right!r:.200}"
    if isinstance(left, dict):
        for key in sorted(set(left) | set(right), key=repr):
            if key not in left or key not in right:
                return f"{where}/{key!r}: only in {'the first' if key in left else 'the second'}"
            found = first_difference(left[key], right[key], f"{where}/{key}")
            if found:
                return found
        return None
    if isinstance(left, (list, tuple)):
        if len(left) != len(right):
            return f"{where or '/'}: {len(left)} items != {len(right)} items"
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            found = first_difference(a, b, f"{where}[{index}]")
            if found:
                return found
        return None
    return None if left == right else f"{where or '/'}: {left!r:.200} != {right!r:.200}"
