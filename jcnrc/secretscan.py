"""The safety net for secrets: find secret values in rendered files, and run `sops`.

Outside ``secrets.mode: inline`` no secret value may appear in any output file. The pipeline
calls `scan()` after every render with whatever values it can read (`available_values()`) and
aborts the build on any finding. A value is found:

- raw, also when YAML or JSON re-indented or escaped a multi-line value;
- base64-encoded (standard or URL-safe alphabet), also when the encoding is wrapped over lines
  (``base64`` wraps at 76 columns, PEM at 64) or indented inside a YAML block, and whether or not
  a trailing newline was encoded with it;
- base64-encoded as part of a longer text (an env file, a kubeconfig) that was encoded as a
  whole: the value's encoding then depends on its offset modulo 3, so all three are searched.

Values shorter than `MIN_SCANNED_LENGTH` characters cannot be told apart from ordinary text
(`abcd` is in every IPv6 loopback jcnrc writes); `unscannable()` lists them so the pipeline can
warn. A finding never carries the value itself, only where it was found and how it was encoded.

``secrets.mode: sops`` encrypts the Secret manifest with the `sops` program (`find_sops()`,
`sops_encrypt()`); without the program the build stops with `SopsUnavailable`.
"""

from __future__ import annotations

import base64
import bisect
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

MIN_SCANNED_LENGTH = 6
# A base64 run this short could occur by chance in ordinary text; offset forms need more.
_MIN_EMBEDDED_BASE64 = 12
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, order=True)
class Finding:
    path: str  # output file, relative to the output folder
    line: int  # 1-based
    column: int  # 1-based
    label: str  # which secret, e.g. `secrets.rootPassword`; never the value
    encoding: str  # "raw" or "base64"

    def message(self) -> str:
        how = "as plain text" if self.encoding == "raw" else "base64-encoded"
        return f"{self.path}:{self.line}:{self.column}: the value of {self.label} appears {how}"


def unscannable(values: Sequence[str], labels: Sequence[str] | None = None) -> list[str]:
    """Labels of the values too short to scan for without false alarms."""
    labels = _labels(values, labels)
    return [label for value, label in zip(values, labels) if value.strip() and len(value.strip()) < MIN_SCANNED_LENGTH]


def scan(files: Mapping[str, str], values: Sequence[str], labels: Sequence[str] | None = None) -> list[Finding]:
    """Every place where one of `values` appears in `files`, raw or base64-encoded; sorted."""
    labels = _labels(values, labels)
    needles = [(label, needle) for value, label in zip(values, labels) for needle in _raw_forms(value)]
    encoded = [(label, needle) for value, label in zip(values, labels) for needle in _base64_forms(value)]
    findings: set[Finding] = set()
    for path, text in files.items():
        findings.update(_find_raw(path, text, needles))
        findings.update(_find_base64(path, text, encoded))
    return sorted(findings)


def _labels(values: Sequence[str], labels: Sequence[str] | None) -> list[str]:
    if labels is None:
        return [f"secret value #{i + 1}" for i in range(len(values))]
    if len(labels) != len(values):
        raise ValueError("one label per value")
    return list(labels)


# --- raw ----------------------------------------------------------------------------------------

def _raw_forms(value: str) -> set[str]:
    """The value as it may be written: itself, and a multi-line value with its lines rejoined."""
    core = value.strip()
    if len(core) < MIN_SCANNED_LENGTH:
        return set()
    forms = {core}
    if "\n" in core:
        forms.add(json.dumps(core)[1:-1])  # a JSON or double-quoted YAML string: \n escapes
    return forms


def _find_raw(path: str, text: str, needles: list[tuple[str, str]]) -> Iterable[Finding]:
    if not needles:
        return
    # Mapping positions back costs a Python loop over the file: do it only when the quick
    # C-level test says a needle is there at all. str.split() splits at the characters that
    # _WHITESPACE matches, in a third of the time of the regex; unlike _WHITESPACE.sub(" ", text)
    # it drops a leading and a trailing space, which no needle (stripped) can start or end with.
    single = " ".join(text.split())
    if not any(_WHITESPACE.sub(" ", needle) in single or needle in text for _, needle in needles):
        return
    squeezed, positions = _squeeze(text, keep_single_spaces=True)
    for label, needle in needles:
        for start in _occurrences(text, needle):
            yield _finding(path, text, start, label, "raw")
        if "\n" in needle or "  " in needle:
            # Re-indented in a YAML block: compare with every whitespace run made one space.
            flat, _ = _squeeze(needle, keep_single_spaces=True)
            for start in _occurrences(squeezed, flat):
                yield _finding(path, text, positions[start], label, "raw")


# --- base64 -------------------------------------------------------------------------------------

def _base64_forms(value: str) -> set[str]:
    """Encodings of the value that do not depend on the bytes around it (see the module doc)."""
    forms: set[str] = set()
    core = value.strip()
    if len(core) < MIN_SCANNED_LENGTH:
        return forms
    for variant in {core, value, value.rstrip("\n")}:
        data = variant.encode("utf-8")
        for offset in range(3):
            stable = _stable_base64(data, offset)
            if offset == 0 or len(stable) >= _MIN_EMBEDDED_BASE64:
                forms.add(stable)
                forms.add(stable.replace("+", "-").replace("/", "_"))  # URL-safe alphabet
    return {form for form in forms if form}


def _stable_base64(data: bytes, offset: int) -> str:
    """The base64 characters of `data` placed `offset` bytes into a longer encoded text that
    depend on `data` alone: characters shared with neighbouring bytes are dropped."""
    encoded = base64.b64encode(b"\0" * offset + data).decode("ascii").rstrip("=")
    leading = {0: 0, 1: 2, 2: 3}[offset]
    total = offset + len(data)
    trailing = 0 if total % 3 == 0 else 1
    return encoded[leading:len(encoded) - trailing]


def _find_base64(path: str, text: str, needles: list[tuple[str, str]]) -> Iterable[Finding]:
    # Wrapped or indented encodings are one run of characters once whitespace is gone
    # ("".join(text.split()) is _WHITESPACE.sub("", text), faster).
    if not needles or not _any_needle_in("".join(text.split()), needles):
        return
    compact, positions = _squeeze(text, keep_single_spaces=False)
    for label, needle in needles:
        for start in _occurrences(compact, needle):
            yield _finding(path, text, positions[start], label, "base64")


def _any_needle_in(compact: str, needles: list[tuple[str, str]]) -> bool:
    return any(needle in compact for _, needle in needles)


# --- helpers ------------------------------------------------------------------------------------

def _squeeze(text: str, keep_single_spaces: bool) -> tuple[str, list[int]]:
    """`text` with whitespace runs removed (or made one space), and each kept character's offset."""
    kept: list[str] = []
    positions: list[int] = []
    last = 0
    for match in _WHITESPACE.finditer(text):
        kept.append(text[last:match.start()])
        positions.extend(range(last, match.start()))
        if keep_single_spaces:
            kept.append(" ")
            positions.append(match.start())
        last = match.end()
    kept.append(text[last:])
    positions.extend(range(last, len(text)))
    return "".join(kept), positions


def _occurrences(haystack: str, needle: str) -> Iterable[int]:
    start = haystack.find(needle)
    while start != -1:
        yield start
        start = haystack.find(needle, start + 1)


def _finding(path: str, text: str, offset: int, label: str, encoding: str) -> Finding:
    line_starts = _line_starts(text)
    line = bisect.bisect_right(line_starts, offset)
    return Finding(path, line, offset - line_starts[line - 1] + 1, label, encoding)


def _line_starts(text: str) -> list[int]:
    return [0] + [match.end() for match in re.finditer("\n", text)]


# --- values -------------------------------------------------------------------------------------

def available_values(secrets, base: Path, environ: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(values, labels) of the secrets the intent references that can be read right now.

    Missing variables and unreadable files are skipped: the scan guards against leaks, it does
    not require the values (reference mode never needs them).
    """
    values, labels = [], []
    for key in ("rootPassword", "crpdLicense"):
        ref = getattr(secrets, key)
        value = _read_reference(ref, base, environ)
        if value:
            values.append(value)
            labels.append(f"`secrets.{key}`")
    return values, labels


def _read_reference(ref, base: Path, environ: Mapping[str, str]) -> str | None:
    if ref.env:
        return environ.get(ref.env)
    try:
        # Bytes, decoded: the value exactly as the Secret would carry it (read_text turns CR LF into LF).
        return (base / ref.file).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


# --- sops ---------------------------------------------------------------------------------------

SOPS_ENCRYPTED_REGEX = "^(data|stringData)$"  # Flux: metadata, kind and apiVersion stay readable


class SopsUnavailable(Exception):
    """`secrets.mode: sops` without the `sops` program."""

    def __init__(self, path_value: str) -> None:
        super().__init__(
            "`secrets.mode: sops` needs the `sops` program, which is not on PATH"
            + (f" ({path_value})" if path_value else "")
            + "; install it (https://github.com/getsops/sops) with a .sops.yaml that names your keys, "
            "or use `mode: external-secrets` or `mode: reference`"
        )


class SopsFailed(Exception):
    """`sops` ran and failed; its message, which never holds the plaintext, is kept."""


def find_sops(environ: Mapping[str, str]) -> str:
    """The `sops` executable on the PATH of `environ`; raises SopsUnavailable."""
    path_value = environ.get("PATH", "")
    found = shutil.which("sops", path=path_value)
    if found is None:
        raise SopsUnavailable(path_value)
    return found


def sops_encrypt(plaintext: str, *, sops: str, cwd: Path, environ: Mapping[str, str],
                 previous: str | None = None) -> str:
    """Encrypt a Secret manifest with sops, reusing `previous` when it holds the same plaintext.

    sops encrypts with a fresh data key, IV and timestamp every time, so re-encrypting unchanged
    values would change the file on every build and `--check` could never pass. When the previous
    encrypted file decrypts (with the builder's key) to the same text, it is returned unchanged.
    `cwd` is where sops looks for `.sops.yaml` (the folder of the intent).
    """
    if previous is not None and _sops_decrypt(previous, sops, cwd, environ) == plaintext:
        return previous
    return _run_sops(
        [sops, "--encrypt", "--encrypted-regex", SOPS_ENCRYPTED_REGEX,
         "--input-type", "yaml", "--output-type", "yaml", "/dev/stdin"],
        plaintext, cwd, environ, "encrypting the Secret")


def _sops_decrypt(encrypted: str, sops: str, cwd: Path, environ: Mapping[str, str]) -> str | None:
    try:
        return _run_sops([sops, "--decrypt", "--input-type", "yaml", "--output-type", "yaml", "/dev/stdin"],
                         encrypted, cwd, environ, "decrypting the previous Secret")
    except SopsFailed:
        return None  # no key to decrypt with here: encrypt afresh


def _run_sops(argv: list[str], stdin: str, cwd: Path, environ: Mapping[str, str], what: str) -> str:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, cwd=cwd,
                              env=dict(environ), timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SopsFailed(f"sops failed {what}: {exc}") from None
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit status {done.returncode}"
        raise SopsFailed(f"sops failed {what}: {detail}")
    return done.stdout
