"""The safety net for secrets: read secret files safely, and find secret values in rendered files.

Secret files (`file:` references) are read by `read_secret_file()` only: a regular file in the
intent's folder or below it, opened without following a symbolic link in any component below
that folder, never a FIFO, a device or a folder, and at most `MAX_SECRET_FILE_BYTES` bytes. The
build (inline and sops modes) and the leak scan (every other mode) both read through it.

Outside ``secrets.mode: inline`` no secret value may appear in any output file. The pipeline
calls `scan()` after every render with whatever values it can read (`read_values()`) and aborts
the build on any finding. A value is found:

- raw, also when YAML or JSON re-indented or escaped a multi-line value;
- escaped as any template filter writes it (`jcnrc.render.FILTERS`: YAML single and double
  quotes, JSON, shell quoting, Junos strings, Mermaid and DOT labels), alone or inside a longer
  escaped string, and escaped twice (a JSON text quoted again as a YAML scalar). The escaped
  forms are not written by hand: each filter is called on the value between two marker words and
  what it wrote between them is searched for, so a new filter is covered when it is registered;
- base64-encoded (standard or URL-safe alphabet), also when the encoding is wrapped over lines
  (``base64`` wraps at 76 columns, PEM at 64) or indented inside a YAML block, and whether or not
  a trailing newline was encoded with it;
- base64-encoded as part of a longer text (an env file, a kubeconfig) that was encoded as a
  whole: the value's encoding then depends on its offset modulo 3, so all three are searched.

Values shorter than `MIN_SCANNED_LENGTH` characters cannot be told apart from ordinary text
(`abcd` is in every IPv6 loopback jcnrc writes); `unscannable()` lists them so the pipeline can
warn, and `read_values()` lists the values it could not read (`Unchecked`) for the same reason.
A finding never carries the value itself, only where it was found and how it was encoded.

``secrets.mode: sops`` encrypts the Secret manifest with the `sops` program (``sops.py``).
"""

from __future__ import annotations

import base64
import bisect
import errno
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from jcnrc.diagnostics import escaped

MIN_SCANNED_LENGTH = 6
# A base64 run this short could occur by chance in ordinary text; offset forms need more.
_MIN_EMBEDDED_BASE64 = 12
_WHITESPACE = re.compile(r"\s+")
# A licence is a few KB; anything far larger is not a secret value but a mistake (or /dev/zero).
MAX_SECRET_FILE_BYTES = 64 * 1024


@dataclass(frozen=True, order=True)
class Finding:
    path: str  # output file, relative to the output folder
    line: int  # 1-based
    column: int  # 1-based
    label: str  # which secret, e.g. `secrets.rootPassword`; never the value
    encoding: str  # "raw", "escaped" or "base64"
    via: str = field(default="", compare=False)  # for "escaped": the filters, e.g. "json | yaml"

    def message(self) -> str:
        if self.encoding == "raw":
            how = "as plain text"
        elif self.encoding == "escaped":
            how = f"escaped, as `{self.via}` writes it"
        else:
            how = "base64-encoded"
        return f"{self.path}:{self.line}:{self.column}: the value of {self.label} appears {how}"


def unscannable(values: Sequence[str], labels: Sequence[str] | None = None) -> list[str]:
    """Labels of the values too short to scan for without false alarms."""
    labels = _labels(values, labels)
    return [label for value, label in zip(values, labels, strict=True)
            if value.strip() and len(value.strip()) < MIN_SCANNED_LENGTH]


@dataclass(frozen=True)
class _Needle:
    label: str
    text: str  # what is searched for
    flat: str  # text with every whitespace run made one space
    encoding: str
    via: str = ""


def scan(files: Mapping[str, str], values: Sequence[str], labels: Sequence[str] | None = None) -> list[Finding]:
    """Every place where one of `values` appears in `files`, raw, escaped or base64-encoded; sorted."""
    needles, encoded = _needles(values, labels)
    # A file is searched needle by needle (and its positions mapped) only when one of a few
    # probes, each a piece of some needle that every occurrence of that needle contains, is in
    # it: most files hold no secret, and this answers for them at the cost of a plain search.
    text_probes = _text_probes([needle.flat for needle in needles])
    base64_probes = _base64_probes([needle for _, needle in encoded])
    ascii_probes = tuple(probe.encode("ascii") for probe in base64_probes)  # base64 is ASCII
    # Every probe, for the batch test: a text probe has no whitespace, so one in a file is in it
    # with its whitespace removed too, where the base64 probes are looked for.
    batch_probes = text_probes + base64_probes
    ascii_batch_probes = tuple(probe.encode("utf-8") for probe in text_probes) + ascii_probes
    findings: set[Finding] = set()
    for batch in _batches(files):
        # Most batches hold no probe at all: one test for the batch instead of one per file.
        if not _maybe_base64("\n".join(text for _, text in batch), batch_probes, ascii_batch_probes):
            continue
        for path, text in batch:
            if any(probe in text for probe in text_probes):
                findings.update(_find_text(path, text, needles))
            if base64_probes and _maybe_base64(text, base64_probes, ascii_probes):
                findings.update(_find_base64(path, text, encoded))
    return sorted(findings)


def _needles(values: Sequence[str], labels: Sequence[str] | None) -> tuple[list[_Needle], list[tuple[str, str]]]:
    """What `scan` looks for: each value's raw and escaped forms, and its base64 forms with its label."""
    labels = _labels(values, labels)
    needles = [_Needle(label, text, _WHITESPACE.sub(" ", text), encoding, via)
               for value, label in zip(values, labels, strict=True) for text, (encoding, via) in _text_forms(value).items()]
    encoded = [(label, needle) for value, label in zip(values, labels, strict=True) for needle in _all_base64_forms(value)]
    return needles, encoded


# Files are tested in batches of about this many characters, joined by line breaks: small enough to
# stay in the processor's cache between the copies and searches of one batch, large enough that the
# work per batch, not per file, is what counts.
_BATCH_CHARACTERS = 256 * 1024


def _batches(files: Mapping[str, str]) -> Iterator[list[tuple[str, str]]]:
    """The (path, text) pairs of `files` in order, in batches of about _BATCH_CHARACTERS.

    A probe that is in one file's text with its whitespace removed is in the batch's joined text
    with its whitespace removed (the line breaks between files are whitespace, and removing it
    joins the files' compact texts): a batch without any probe holds no file with one. The
    reverse does not hold (a probe may span two files), which only costs the file-by-file test."""
    batch: list[tuple[str, str]] = []
    size = 0
    for item in files.items():
        batch.append(item)
        size += len(item[1])
        if size >= _BATCH_CHARACTERS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


# Letters and digits: no filter escapes them, so a run of them in one escaped form of a value is
# in its other forms too (one probe serves many needles).
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
# A probe shorter than this would be found by chance in ordinary output, and each chance find
# costs the full search of that file: a text needle without such a run is its own probe.
_MIN_PROBE = 8
# Base64 needles are probed by their first characters (12 bytes of the value): the forms of one
# value at one offset differ only after their first escaped character, so they share them.
_BASE64_PROBE = 16


def _text_probes(needles: list[str]) -> tuple[str, ...]:
    """Few substrings without whitespace such that every needle (a `flat` form: whitespace runs
    made one space) contains one: a needle found in a file's text with its whitespace runs made
    one space has each of its whitespace-free pieces in the file's text as it is."""
    chosen: list[str] = []
    for needle in sorted(set(needles), key=len):  # short first: their probes often lie in longer needles
        if any(probe in needle for probe in chosen):
            continue
        pieces = needle.split(" ")
        longest = max((run for piece in pieces for run in _ALNUM_RUN.findall(piece)), key=len, default="")
        chosen.append(longest if len(longest) >= _MIN_PROBE else max(pieces, key=len))
    return tuple(chosen)


def _base64_probes(needles: list[str]) -> tuple[str, ...]:
    """Few substrings such that every base64 needle (no whitespace) contains one."""
    chosen: list[str] = []
    for needle in sorted(set(needles), key=len):
        if not any(probe in needle for probe in chosen):
            chosen.append(needle[:_BASE64_PROBE])
    return tuple(chosen)


# str.split() splits at these characters in ASCII text (the str.isspace() ones; \s in a pattern).
_ASCII_WHITESPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


def _maybe_base64(text: str, probes: tuple[str, ...], ascii_probes: tuple[bytes, ...]) -> bool:
    """Whether a probe is in `text` with its whitespace removed (where _find_base64 looks)."""
    if text.isascii():
        # bytes.translate deletes whitespace at C speed, without the list "".join(text.split()) builds.
        compact = text.encode("ascii").translate(None, _ASCII_WHITESPACE)
        return any(probe in compact for probe in ascii_probes)
    flat = "".join(text.split())
    return any(probe in flat for probe in probes)


def _labels(values: Sequence[str], labels: Sequence[str] | None) -> list[str]:
    if labels is None:
        return [f"secret value #{i + 1}" for i in range(len(values))]
    if len(labels) != len(values):
        raise ValueError("one label per value")
    return list(labels)


# --- raw and escaped ----------------------------------------------------------------------------

def _raw_forms(value: str) -> set[str]:
    """The value as it may be written: itself, and a multi-line value with its lines rejoined."""
    core = value.strip()
    if len(core) < MIN_SCANNED_LENGTH:
        return set()
    forms = {core}
    if "\n" in core:
        forms.add(json.dumps(core)[1:-1])  # a JSON or double-quoted YAML string: \n escapes
    return forms


# The filters are called on the value between these two words, which every escaping filter writes
# as they are (letters only): what stands between them in the result is the value as that filter
# writes it, also inside a longer string, since each of them escapes character by character.
_BEFORE, _AFTER = "jcnrcSecretBefore", "jcnrcSecretAfter"
# Text around the value that makes a filter choose each of its styles: none (plain YAML, YAML single
# quotes), a space (shell quotes), a line break (YAML double quotes or a literal block), a tab (YAML
# double quotes on one line).
_SURROUNDINGS = ("", " ", "\n", "\t")
# How filters are called: with the value alone, or with one more argument (yaml_block's indent).
_FILTER_ARGUMENTS = ((), (4,))
# Escaped twice at most: the templates quote a JSON text as a YAML scalar (`json | yaml`), a
# shell script or a JSON text as a YAML block; nothing is escaped three times.
_ESCAPING_DEPTH = 2


def _filters() -> Mapping[str, Callable]:
    from jcnrc.render.templates import FILTERS  # here: render imports jinja2 lazily, and the scan needs no more

    return FILTERS


def escaped_forms(text: str, filters: Mapping[str, Callable] | None = None) -> dict[str, str]:
    """{what a filter writes for `text` inside a string it escapes: the filter's name}, for each
    filter of `filters` (the template filters by default) that writes its input character by
    character. Filters that refuse the text (`junos_id`, `junos_str` with control characters) write
    nothing for it; `b64` mixes neighbouring bytes and is searched for on its own."""
    forms: dict[str, str] = {}
    for name, function in (filters if filters is not None else _filters()).items():
        for around in _SURROUNDINGS:
            written = _call_filter(function, around + _BEFORE + text + _AFTER + around)
            if written is None:
                continue
            start, end = written.find(_BEFORE), written.rfind(_AFTER)
            if start != -1 and end >= start + len(_BEFORE):
                forms.setdefault(written[start + len(_BEFORE):end], name)
    return forms


def _call_filter(function: Callable, text: str) -> str | None:
    for arguments in _FILTER_ARGUMENTS:
        try:
            written = function(text, *arguments)
        except TypeError:
            continue  # it needs another argument
        except ValueError:
            return None  # it refuses the text (escape.EscapeError): a template cannot write it this way
        return written if isinstance(written, str) else None
    return None


@lru_cache(maxsize=256)
def _escaped_levels(core: str) -> tuple[dict[str, str], ...]:
    """[{form: filters}] for `core` escaped once, then twice (each form of the level before, escaped
    again). Level one also holds json.dumps's ASCII-only form (\u00e9), as other tools write JSON."""
    levels = []
    level = {core: ""}
    for depth in range(_ESCAPING_DEPTH):
        following: dict[str, str] = {}
        for text, via in level.items():
            for form, name in escaped_forms(text).items():
                following.setdefault(form, f"{via} | {name}" if via else name)
        if depth == 0:
            following.setdefault(json.dumps(core)[1:-1], "json.dumps")
        levels.append(following)
        level = following
    return tuple(levels)


@lru_cache(maxsize=256)
def _text_forms(value: str) -> dict[str, tuple[str, str]]:
    """{needle: (encoding, filters)}: the raw forms, then every escaped form that is not the raw
    value with other whitespace (the raw search already compares whitespace runs as one space)."""
    raw = _raw_forms(value)
    if not raw:
        return {}
    forms: dict[str, tuple[str, str]] = dict.fromkeys(raw, ("raw", ""))
    seen = {_WHITESPACE.sub(" ", form) for form in raw}
    for level in _escaped_levels(value.strip()):
        for form, via in level.items():
            form = form.strip()
            flat = _WHITESPACE.sub(" ", form)
            if len(form) >= MIN_SCANNED_LENGTH and flat not in seen:
                seen.add(flat)
                forms[form] = ("escaped", via)
    return forms


def _find_text(path: str, text: str, needles: list[_Needle]) -> Iterable[Finding]:
    if not needles:
        return
    # Mapping positions back costs a Python loop over the file: do it only when the quick
    # C-level test says a needle is there at all. str.split() splits at the characters that
    # _WHITESPACE matches, in a third of the time of the regex; unlike _WHITESPACE.sub(" ", text)
    # it drops a leading and a trailing space, which no needle (stripped) can start or end with.
    # A needle found in `text` is found, whitespace runs made one space, in `single`: one test each.
    single = " ".join(text.split())
    if not any(needle.flat in single for needle in needles):
        return
    squeezed, positions = _squeeze(text, keep_single_spaces=True)
    for needle in needles:
        for start in _occurrences(text, needle.text):
            yield _finding(path, text, start, needle.label, needle.encoding, needle.via)
        if "\n" in needle.text or "  " in needle.text:
            # Re-indented in a YAML block: compare with every whitespace run made one space.
            for start in _occurrences(squeezed, needle.flat):
                yield _finding(path, text, positions[start], needle.label, needle.encoding, needle.via)


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


@lru_cache(maxsize=256)
def _all_base64_forms(value: str) -> frozenset[str]:
    """The base64 forms of the value and of each form one filter writes (an escaped text, or a YAML
    block, encoded whole). Twice-escaped forms are not encoded: no template does that, and every
    form costs a search of every file."""
    forms = _base64_forms(value)
    if len(value.strip()) >= MIN_SCANNED_LENGTH:
        for text in _escaped_levels(value.strip())[0]:
            forms |= _base64_forms(text)
    return frozenset(forms)


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


def _finding(path: str, text: str, offset: int, label: str, encoding: str, via: str = "") -> Finding:
    line_starts = _line_starts(text)
    line = bisect.bisect_right(line_starts, offset)
    return Finding(path, line, offset - line_starts[line - 1] + 1, label, encoding, via)


def _line_starts(text: str) -> list[int]:
    return [0] + [match.end() for match in re.finditer("\n", text)]


# --- secret files -------------------------------------------------------------------------------

class SecretFileError(Exception):
    """A secret file that is not read. `refused`: it breaks the rules for secret files (a link, not a
    regular file, too large); otherwise it could not be read (missing, no permission). The message
    names the file (escaped, as diagnostics quote it) but never holds any of its content."""

    def __init__(self, message: str, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_OPEN_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC
# O_NONBLOCK: opening a FIFO (should one be swapped in between the check and the open) returns at
# once instead of waiting for a writer; O_NOCTTY: a terminal never becomes the controlling one.
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | _CLOEXEC


def read_secret_file(base: Path, name: str, limit: int = MAX_SECRET_FILE_BYTES) -> bytes:
    """The bytes of the secret file `name` (as the intent writes it, relative to `base`, the intent's
    folder); raises SecretFileError.

    The file must be a regular file inside `base`: no component below `base` may be a symbolic
    link (each folder is opened with O_NOFOLLOW relative to the one before, so a link swapped in
    while it is walked is refused too), and FIFOs, devices, sockets and folders are refused before
    they are opened. At most `limit` bytes are read: a larger file is refused, also one that grows
    while it is read. `base` itself may be a link (the intent may live in a linked folder).
    """
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or name.startswith("/") or ".." in parts:
        raise SecretFileError(f"`{escaped(name)}` is not a path inside the intent's folder", refused=True)
    try:
        folder = os.open(base if str(base) else ".", _OPEN_FOLDER)
    except OSError as exc:
        raise SecretFileError(f"cannot open the intent's folder: {exc.strerror}", refused=False) from None
    try:
        for depth, part in enumerate(parts):
            here = "/".join(parts[:depth + 1])
            last = depth == len(parts) - 1
            info = _lstat(folder, part)
            if stat.S_ISLNK(info.st_mode):
                raise SecretFileError(f"`{escaped(here)}` is a symbolic link; secret files are read without "
                                      "following links", refused=True)
            if not last:
                if not stat.S_ISDIR(info.st_mode):
                    raise SecretFileError(f"`{escaped(here)}` is not a folder", refused=False)
                folder = _open_below(folder, part, _OPEN_FOLDER | os.O_NOFOLLOW, here)
                continue
            if not stat.S_ISREG(info.st_mode):
                raise SecretFileError(f"`{escaped(here)}` is {_kind(info.st_mode)}, not a regular file", refused=True)
            if info.st_size > limit:
                raise _too_large(here, limit)
            fd = _open_below(folder, part, _OPEN_FILE, here, keep_folder=True)
            try:
                opened = os.fstat(fd)
                if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
                    raise SecretFileError(f"`{escaped(here)}` was replaced while it was read", refused=True)
                data = _read_at_most(fd, limit + 1)
            finally:
                os.close(fd)
            if len(data) > limit:
                raise _too_large(here, limit)
            return data
    finally:
        os.close(folder)
    raise AssertionError("unreachable")


def _lstat(folder: int, part: str) -> os.stat_result:
    try:
        return os.stat(part, dir_fd=folder, follow_symlinks=False)
    except OSError as exc:
        raise SecretFileError(exc.strerror or str(exc), refused=False) from None


def _open_below(folder: int, part: str, flags: int, here: str, keep_folder: bool = False) -> int:
    """Open `part` in `folder`; closes `folder` unless keep_folder (the caller then owns both)."""
    try:
        opened = os.open(part, flags, dir_fd=folder)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # O_NOFOLLOW met a link swapped in since the lstat
            raise SecretFileError(f"`{escaped(here)}` is a symbolic link; secret files are read without "
                                  "following links", refused=True) from None
        raise SecretFileError(exc.strerror or str(exc), refused=False) from None
    if not keep_folder:
        os.close(folder)
    return opened


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _too_large(here: str, limit: int) -> SecretFileError:
    return SecretFileError(f"`{escaped(here)}` is larger than {limit:,} bytes, the limit for a secret file "
                           "(a licence is a few KB)", refused=True)


def _read_at_most(fd: int, count: int) -> bytes:
    chunks, remaining = [], count
    while remaining > 0:
        chunk = os.read(fd, min(remaining, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


# --- values -------------------------------------------------------------------------------------

SECRET_KEYS = ("rootPassword", "crpdLicense")


@dataclass(frozen=True)
class Unchecked:
    """A referenced value the scan cannot look for: it cannot be read here."""

    key: str  # "rootPassword" or "crpdLicense"
    source: str  # "env" or "file": the key under `secrets.<key>` that names it
    reason: str  # why, e.g. "CRPD_ROOT_PASSWORD is not set"; never the value


@dataclass(frozen=True)
class Values:
    values: list[str]
    labels: list[str]
    unchecked: list[Unchecked]


def read_values(secrets, base: Path, environ: Mapping[str, str]) -> Values:
    """The values of the secrets the intent references that can be read right now, their labels,
    and the references that cannot be read.

    Missing variables and unreadable or refused files are not errors here: the scan guards against
    leaks, it does not require the values (reference mode never needs them). An empty value is
    neither read nor unchecked: there is nothing to leak.
    """
    values, labels, unchecked = [], [], []
    for key in SECRET_KEYS:
        ref = getattr(secrets, key)
        if ref is None:
            continue  # external-secrets mode without a local source: the store holds it, nothing to compare
        if ref.env:
            value = environ.get(ref.env)
            if value is None:
                unchecked.append(Unchecked(key, "env", f"{ref.env} is not set"))
            elif not is_utf8(value):
                unchecked.append(Unchecked(key, "env", f"{ref.env} is not valid UTF-8"))
                value = None
        else:
            value, reason = _read_file_value(base, ref.file)
            if reason is not None:
                unchecked.append(Unchecked(key, "file", reason))
        if value:
            values.append(value)
            labels.append(f"`secrets.{key}`")
    return Values(values, labels, unchecked)


def is_utf8(text: str) -> bool:
    """False for text that Python decoded from bytes that are not UTF-8 (an environment variable
    holding such bytes arrives with lone surrogates, which nothing can encode)."""
    return not any("\ud800" <= char <= "\udfff" for char in text)


def available_values(secrets, base: Path, environ: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(values, labels) of `read_values()`."""
    found = read_values(secrets, base, environ)
    return found.values, found.labels


def _read_file_value(base: Path, name: str) -> tuple[str | None, str | None]:
    try:
        raw = read_secret_file(base, name)
    except SecretFileError as exc:
        return None, str(exc) if exc.refused else f"cannot read `{escaped(name)}`: {exc}"
    try:
        # Bytes, decoded: the value exactly as the Secret would carry it (read_text turns CR LF into LF).
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, f"`{escaped(name)}` is not UTF-8 text"
