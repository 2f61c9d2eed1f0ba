"""Stage 5, write: ``{relative path: text}`` -> an output folder, atomically.

The new tree is assembled in a staging folder next to the output folder and swapped in whole:
on Linux with one ``renameat2(RENAME_EXCHANGE)``, so there is no moment without an output
folder; elsewhere with two renames, and a leftover of an interruption between them
(``.<name>.old-<pid>``) is put back by the next run. An interrupted build (even ``kill -9``)
therefore leaves either the old tree or the new one, never a mix, and the next build removes
its staging leftovers. Only a real folder named exactly so is put back; a link or a file under
one of these names (the repository controls what lies next to the output folder) is removed,
never followed.

The old tree is looked at with lstat, once per file, and never through a link: a file below a
link planted in the output folder counts as absent, so neither the plan, nor the diff, nor the
hard links of unchanged files reach what the link points to.

The output folder is jcnrc's alone, because it is swapped out whole. A build refuses a folder
that holds anything jcnrc did not write: an entry that is neither listed in ``.jcnrc-owned``
nor a file holding exactly what this build writes there (a ``.git``, the intent, a file of the
user's). An empty or missing folder is fine. It also refuses an output path with a symbolic link
in a component inside the current folder (the repository's tree), an output folder that holds
an input of the build (the intent or its lock file), and one with a mount point inside: jcnrc
never writes, moves or deletes across a mount point (entries are compared by st_dev).

Unchanged files are hard-linked from the old tree, so their mtimes stay put, and a build that
changes nothing touches nothing at all. jcnrc removes only files it wrote before (listed in
``.jcnrc-owned``), and a build that would overwrite a file it did not write stops instead. A
lock file (``.<name>.jcnrc-lock`` next to the output folder) keeps two builds from interleaving.

Single files next to the intent (its allocation lock) are written with ``replace_file``: a
temporary file in the same folder (O_EXCL, O_NOFOLLOW), flushed, then renamed over the name, so
a link planted under that name is replaced, never written through, and a reader sees the old
file or the new one. ``read_file_no_follow`` reads such a file without following a link.

``JCNRC_TEST_SLOW_WRITE`` (seconds, test-only) pauses before each file is written, so that the
tests can kill a build in the middle of writing. It has no other use.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Container, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from jcnrc.output.progress import ProgressCallback

if TYPE_CHECKING:
    import ctypes

OWNED_LIST = ".jcnrc-owned"
SLOW_WRITE_ENV = "JCNRC_TEST_SLOW_WRITE"
_MAX_LISTED = 10


class WriteError(Exception):
    """A problem with the output folder, said in words for the user."""


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # added, changed, removed


# --- what may be written ------------------------------------------------------------------------

# The portable file-name rules are pathvalidate's (``validate_filename``, platform "universal"):
# C0 controls and DEL, the characters Windows does not allow (``< > : " | ? * \\``), a name that
# ends with "." or " " or starts with " " (Windows drops trailing dots and spaces, so "a." and "a"
# would be one file there), blank names, names longer than 255 bytes of UTF-8, and Windows device
# names (CON, PRN, AUX, NUL, CLOCK$, COM0-9, LPT0-9, COM and LPT with a superscript digit), alone
# or before an extension, in any case. What it does not cover is checked here, below.
_MAX_NAME_BYTES = 255
# Control (Cc: C1; C0 is pathvalidate's), format (Cf: bidi overrides and isolates, zero-width
# characters, soft hyphen, BOM, tags), surrogate (Cs: not encodable as UTF-8), line and paragraph
# separator (Zl, Zp): pathvalidate looks at ASCII only.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_CONTROL_ASCII = re.compile(r"[\x00-\x1f\x7f]")  # to word pathvalidate's refusal
_WINDOWS_ASCII = re.compile(r'[<>:"|?*]')  # likewise
# Device names pathvalidate lets through: CONIN$ and CONOUT$, and any device name with spaces
# before its extension ("nul .json"), which Windows still opens as the device.
_WINDOWS_DEVICE_MORE = re.compile(r"(?:(?:con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3]) +"
                                  r"|(?:conin|conout)\$ *)(?:\.[^/]*)?", re.IGNORECASE)
# git's own folder (also as its Windows short name): git refuses to commit such a path.
_GIT_FOLDER = re.compile(r"\.git|git~1", re.IGNORECASE)
# One search that finds something in every ASCII path the checks below would refuse, and in few
# others: a path it finds nothing in is safe without them (the writer checks every path it writes).
# A device name counts only before a space, a dot or the component's end: "compute-1" is fine.
_SUSPECT = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\]|[. ](?:/|$)|(?:^|/)(?:[-/ ]|$|\.jcnrc-owned|(?:\.git|git~1)(?:/|$)'
                      r"|(?:con|prn|aux|nul|com[0-9]|lpt[0-9]|clock\$|conin\$|conout\$)(?:[ ./]|$))", re.IGNORECASE)
_COMPONENT_PROBLEM = ("a path component is empty, '.', '..', starts with '-' or ' ', ends with '.' or ' ', "
                      "or is too long")


def safe_relative_path(path: str) -> PurePosixPath:
    """Refuse any path that could leave the output folder or is not portable.

    Refused: empty or absolute paths, NUL and backslashes; components that are empty, blank,
    ``.``, ``..``, start with ``-`` or a space, end with ``.`` or a space, or are longer than 255 bytes
    (UTF-8); control characters (C0, DEL and C1); the characters Windows does not allow in file
    names (``< > : " | ? *``); Unicode format characters (category Cf: bidi overrides and isolates,
    zero-width characters, soft hyphen, BOM), which make a name look like another one;
    line and paragraph separators (U+2028, U+2029) and unpaired surrogates; Windows device
    names as a component (CON, PRN, AUX, NUL, CLOCK$, COM0-9, LPT0-9, COM and LPT with a
    superscript digit, CONIN$, CONOUT$), in any case and with any extension (``nul.json``,
    ``con.example.com``, ``nul .json``); ``.git`` components; and ``.jcnrc-owned`` at the top,
    jcnrc's own list. Other non-ASCII letters are allowed (``é/中文.txt``).

    The per-name portable rules are pathvalidate's ``validate_filename(platform="universal")``;
    the rest (Unicode beyond ASCII, ``.``/``..``, ``-``, ``.git``, the device names it misses,
    and, in `check_paths`, case and normalization collisions) are jcnrc's.
    """
    _check_path(path)
    return PurePosixPath(path)


def _check_path(path: str) -> None:
    """safe_relative_path without building the PurePosixPath (the writer checks every path)."""
    if path.isascii() and len(path) <= _MAX_NAME_BYTES and not _SUSPECT.search(path):
        return
    _check_path_closely(path)


def _check_path_closely(path: str) -> None:
    if not path or "\0" in path or "\\" in path or path[0] == "/":
        raise WriteError(f"refusing to write {path!r}: not a plain relative path")
    if not path.isascii():
        for char in path:
            if char >= "\x80" and unicodedata.category(char) in _UNSAFE_CATEGORIES:
                if unicodedata.category(char) == "Cc":
                    raise WriteError(f"refusing to write {path!r}: control characters in the name")
                raise WriteError(f"refusing to write {path!r}: U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')}) "
                                 "is invisible or changes how the name is shown")
    # By hand, not with PurePosixPath, which would quietly turn "a//b", "a/./b" and "a/" into other names.
    for component in path.split("/"):
        if component in ("", ".", "..") or component[0] == "-":
            raise WriteError(f"refusing to write {path!r}: {_COMPONENT_PROBLEM}")
        problem = _portable_name_problem(component)
        if problem:
            raise WriteError(f"refusing to write {path!r}: {problem}")
        if _WINDOWS_DEVICE_MORE.fullmatch(component):
            raise WriteError(f"refusing to write {path!r}: {_device_problem(component)}")
        if _GIT_FOLDER.fullmatch(component):
            raise WriteError(f"refusing to write {path!r}: {component!r} is git's own folder")
    if path == OWNED_LIST or path.startswith(OWNED_LIST + "/"):
        raise WriteError(f"refusing to write {path!r}: {OWNED_LIST} is jcnrc's own list of the files it wrote")


def _portable_name_problem(component: str) -> str | None:
    """Why pathvalidate refuses one path component as a file name on any platform, in jcnrc's
    words; None when it does not. The component has no "/" and no surrogate."""
    from pathvalidate import ErrorReason, ValidationError, validate_filename

    try:
        validate_filename(component, platform="universal", max_len=_MAX_NAME_BYTES, fs_encoding="utf-8")
    except ValidationError as exc:
        if exc.reason == ErrorReason.RESERVED_NAME:
            return _device_problem(component)
        if exc.reason == ErrorReason.INVALID_CHARACTER and _CONTROL_ASCII.search(component):
            return "control characters in the name"
        if exc.reason == ErrorReason.INVALID_CHARACTER and _WINDOWS_ASCII.search(component):
            return "Windows does not allow < > : \" | ? * in file names"
        if exc.reason == ErrorReason.NULL_NAME:
            return "a path component is blank (white space only)"
        if exc.reason in (ErrorReason.INVALID_CHARACTER, ErrorReason.INVALID_LENGTH):
            return _COMPONENT_PROBLEM  # a leading space, a trailing space or dot, too long
        return f"{component!r} is not a portable file name ({exc.reason.description})"
    return None


def _device_problem(component: str) -> str:
    return f"{component!r} is a device name on Windows, where the file cannot be checked out"


def _fold(path: str) -> str:
    """The name as case-insensitive (Windows, macOS) and normalization-insensitive (macOS)
    file systems see it."""
    if path.isascii():
        return path.lower()
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", path).casefold())


def check_paths(paths: Iterable[str]) -> None:
    """Every path is safe, and no two of them collide on a case- or normalization-insensitive
    file system or as a file and a folder of the same name."""
    by_folded: dict[str, str] = {}
    for path in sorted(paths):
        _check_path(path)
        folded = _fold(path)
        if folded in by_folded:
            raise WriteError(f"refusing to write both {by_folded[folded]!r} and {path!r}: "
                             "they are one file on case-insensitive file systems")
        by_folded[folded] = path
    for folded, path in sorted(by_folded.items(), key=lambda item: item[1]):
        slash = folded.find("/")
        while slash != -1:
            folder = by_folded.get(folded[:slash])
            if folder is not None:
                raise WriteError(f"refusing to write {path!r}: {folder!r} is also written as a file")
            slash = folded.find("/", slash + 1)


def _folders_of(paths: Iterable[str]) -> list[str]:
    """Every folder the paths need, parents before their children."""
    folders: set[str] = set()
    for path in paths:
        slash = path.rfind("/")
        while slash != -1:
            folder = path[:slash]
            if folder in folders:
                break
            folders.add(folder)
            slash = path.rfind("/", 0, slash)
    return sorted(folders)


# --- the output path ----------------------------------------------------------------------------

def _shown(name: str) -> str:
    """A name from the disk as one printable line (the repository chooses these names)."""
    return name if name.isprintable() else repr(name)[1:-1]


def _inside(path: str, folder: str) -> bool:
    """path lies below folder (both absolute, without links)."""
    return path.startswith(folder.rstrip("/") + "/")


def _current_folder() -> str:
    try:
        return os.path.realpath(os.getcwd())
    except OSError:
        return "/"  # the current folder is gone: count everything as the repository's


def link_inside_current_folder(out_dir: Path | str, allow_last: bool = False) -> str | None:
    """The first component of out_dir, as given, that is a symbolic link lying inside the current
    folder (the tree a repository controls); None when there is none.

    Components above the current folder are the user's (``/tmp`` is a link on macOS) and are
    followed. The path is walked as the kernel walks it: a ``..`` after a followed link goes up
    from the link's target, not lexically. With allow_last, the last component may be a link
    (``--allow-symlink-output``)."""
    here = _current_folder()
    given = os.fspath(out_dir)
    parts = given.split("/")
    real = "/" if given.startswith("/") else here
    last = max((i for i, part in enumerate(parts) if part not in ("", ".")), default=-1)
    for index, part in enumerate(parts):
        if part in ("", "."):
            continue
        if part == "..":
            real = os.path.dirname(real)
            continue
        candidate = os.path.join(real, part)
        if not os.path.islink(candidate):
            real = candidate
            continue
        if _inside(candidate, here) and not (allow_last and index == last):
            return "/".join(parts[:index + 1]) or "/"
        real = os.path.realpath(candidate)
    return None


def _refuse_links_in_path(out_dir: Path) -> None:
    component = link_inside_current_folder(out_dir, allow_last=True)
    if component is not None:
        raise WriteError(f"refusing to write {out_dir}: {_shown(component)} is a symbolic link inside the current folder; "
                         "jcnrc does not write through links the repository could have planted; give an output path "
                         "without links (nothing was written)")


def _refuse_inputs_inside(out_dir: Path, inputs: Iterable[str | os.PathLike[str] | None]) -> None:
    """The intent and its lock file must not lie in the output folder, which is swapped out whole.
    None stands for an input the build did not have (no lock file)."""
    folder = os.path.realpath(out_dir)
    for given in inputs:
        if given is None:
            continue
        real = os.path.realpath(given)
        if real == folder or _inside(real, folder):
            raise WriteError(f"refusing to use {out_dir} as the output folder: it holds {given}, an input of this build; "
                             "give jcnrc an empty folder or one it wrote (e.g. out/<topology>)")


# --- what is in the output folder now -----------------------------------------------------------

# What an old entry is. Entries are looked at with lstat, never through a link: an entry below a
# link (or below a file) is not in the output folder at all, so it is _ABSENT.
_ABSENT, _SAME, _DIFFERENT, _FOLDER, _OTHER = range(5)
_OPEN_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class _OldTree:
    """The output folder as it is, looked at without following any link inside it."""

    def __init__(self, root: Path | str, known_safe: Container[str] = frozenset()) -> None:
        self.root = os.fspath(root)
        # Behind a link planted inside the current folder (out -> /elsewhere) nothing is looked at:
        # the build refuses such a path, and the plan and the diff never read through it.
        readable = os.path.isdir(self.root) and link_inside_current_folder(self.root, allow_last=True) is None
        self._folders: dict[str, int] = {"": _FOLDER if readable else _ABSENT}
        self.owned = _parse_owned(_read_regular(self.root, OWNED_LIST) if self.exists else None, known_safe)

    @property
    def exists(self) -> bool:
        return self._folders[""] == _FOLDER

    def folder(self, folder: str) -> int:
        """_FOLDER, _ABSENT, or _OTHER (a link, a file...) for a folder path."""
        kind = self._folders.get(folder)
        if kind is None:
            parent = folder.rpartition("/")[0]
            kind = self._lstat(folder) if self.folder(parent) == _FOLDER else _ABSENT
            self._folders[folder] = kind
        return kind

    def entry(self, path: str, expected: bytes | None = None) -> int:
        """What is at path; _SAME when it is a regular file holding exactly `expected`."""
        if self.folder(path.rpartition("/")[0]) != _FOLDER:
            return _ABSENT
        full = f"{self.root}/{path}"
        try:
            info = os.lstat(full)
        except OSError:
            return _ABSENT
        if not stat.S_ISREG(info.st_mode):
            return _FOLDER if stat.S_ISDIR(info.st_mode) else _OTHER
        if expected is None or info.st_size != len(expected):
            return _DIFFERENT
        try:
            fd = os.open(full, _OPEN_READ)
        except OSError:
            return _DIFFERENT
        try:
            # One read: a regular file returns all it has; more than expected means it grew.
            return _SAME if os.read(fd, len(expected) + 1) == expected else _DIFFERENT
        except OSError:
            return _DIFFERENT
        finally:
            os.close(fd)

    def _lstat(self, path: str) -> int:
        try:
            mode = os.lstat(f"{self.root}/{path}").st_mode
        except OSError:
            return _ABSENT
        return _FOLDER if stat.S_ISDIR(mode) else _OTHER

    def survey(self, tree: dict[str, str]) -> dict[str, int]:
        """What is at each path of tree (an expected_tree) now."""
        if not self.exists:
            return dict.fromkeys(tree, _ABSENT)
        entry = self.entry
        return {path: entry(path, text.encode("utf-8")) for path, text in tree.items()}


def _read_regular(root: str, relative: str) -> bytes | None:
    """The bytes of the regular file root/relative; None for anything else. No link is followed
    on the way, neither the file nor any folder below root."""
    flags = getattr(os, "O_CLOEXEC", 0)
    try:
        folder_fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | flags)
    except OSError:
        return None
    try:
        *folders, name = relative.split("/")
        for part in folders:
            inner = os.open(part, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW | flags, dir_fd=folder_fd)
            os.close(folder_fd)
            folder_fd = inner
        if not stat.S_ISREG(os.stat(name, dir_fd=folder_fd, follow_symlinks=False).st_mode):
            return None
        fd = os.open(name, _OPEN_READ, dir_fd=folder_fd)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    except OSError:
        return None
    finally:
        os.close(folder_fd)


def read_output_file(out_dir: Path | str, relative: str) -> bytes | None:
    """The exact bytes of a file of a previous build (sops reuses the ciphertext it finds), or
    None. Nothing is read through a link: not the file, not a folder below out_dir, not out_dir
    itself, and not a link in a component of out_dir inside the current folder."""
    if not _is_safe(relative) or os.path.islink(out_dir) or link_inside_current_folder(out_dir) is not None:
        return None
    return _read_regular(os.fspath(out_dir), relative)


# --- single files next to the intent ------------------------------------------------------------

class NotARegularFile(Exception):
    """read_file_no_follow found a link, a folder, a device... or more than it may read; the
    message says which, in words."""


def read_file_no_follow(path: Path | str, limit: int) -> bytes | None:
    """The bytes of the regular file path; None when nothing is there. A symbolic link (as the
    last component) is not followed, and a link, a folder, a pipe or a file longer than `limit`
    bytes raise NotARegularFile. At most limit + 1 bytes are read."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise NotARegularFile("it is a symbolic link, which jcnrc does not follow")
    if not stat.S_ISREG(info.st_mode):
        raise NotARegularFile("it is not a regular file")
    fd = os.open(path, _OPEN_READ)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotARegularFile("it is not a regular file")
        chunks = []
        left = limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise NotARegularFile(f"it is larger than {limit:,} bytes")
    return data


def replace_problem(path: Path | str) -> str | None:
    """Why replace_file(path) would fail before it writes anything, or None: checked before a
    build writes its output folder, so that a lock file that cannot be written stops the build
    while nothing is written yet."""
    path = os.fspath(path)
    folder, name = os.path.split(path)
    if len(f".{name}.jcnrc-new-{os.getpid()}-00000000".encode()) > 255:
        return f"cannot write {path}: the name is too long for a file next to it"
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            return f"cannot write {path}: it is a folder"
    except FileNotFoundError:
        pass
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror}"
    if not os.access(folder or ".", os.W_OK | os.X_OK):
        return f"cannot write {path}: its folder is not writable"
    return None


def replace_file(path: Path | str, data: bytes) -> None:
    """Write path atomically: a new file in the same folder (O_EXCL, O_NOFOLLOW), flushed to
    disk, then renamed over path. A symbolic link at path is replaced itself, never written
    through; a reader sees the old content or the new one. A regular file keeps its mode.
    Raises WriteError."""
    path = os.fspath(path)
    folder, name = os.path.split(path)
    folder = folder or "."
    try:
        mode = os.lstat(path)
        keep_mode = stat.S_IMODE(mode.st_mode) if stat.S_ISREG(mode.st_mode) else None
    except FileNotFoundError:
        keep_mode = None
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror}") from exc
    temporary = None
    try:
        fd, temporary = _create_beside(folder, name)
        try:
            if keep_mode is not None:
                os.fchmod(fd, keep_mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temporary, path)
        temporary = None
    except OSError as exc:
        reason = "no space left on the device" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise WriteError(f"cannot write {path}: {reason}; it is unchanged") from exc
    finally:
        if temporary is not None:
            _ignoring_errors(os.unlink, temporary)
    _fsync_dir(Path(folder))


def _create_beside(folder: str, name: str) -> tuple[int, str]:
    """A new, empty file in folder for the next content of `name` (O_EXCL, O_NOFOLLOW): its
    descriptor and its path. Raises OSError."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        candidate = os.path.join(folder, f".{name}.jcnrc-new-{os.getpid()}-{os.urandom(4).hex()}")
        try:
            return os.open(candidate, flags, 0o666), candidate
        except FileExistsError:
            continue  # someone else's file (or link) under that name: never touched
    raise FileExistsError(errno.EEXIST, "no free temporary name", folder)


# --- what a build would change ------------------------------------------------------------------

def expected_tree(files: dict[str, str], intent: str | None = None) -> dict[str, str]:
    """The files as written, with the owned-files list that comes with them (naming `intent`, the
    path of the intent they were built from, when given)."""
    return {**files, OWNED_LIST: _owned_text(files, intent)}


def plan_changes(files: dict[str, str], out_dir: Path, intent: str | None = None) -> list[Change]:
    """What a build would change in out_dir: added, changed and removed (owned) files."""
    old = _OldTree(out_dir)
    return _changes(files, old, old.survey(expected_tree(files, intent)))


def _changes(files: dict[str, str], old: _OldTree, states: dict[str, int]) -> list[Change]:
    changes = []
    for path in sorted(states):
        state = states[path]
        if state == _ABSENT:
            changes.append(Change(path, "added"))
        elif state != _SAME:
            changes.append(Change(path, "changed"))
    for path in sorted(old.owned - set(files) - {OWNED_LIST}):
        if old.entry(path) != _ABSENT:
            changes.append(Change(path, "removed"))
    return changes


def unified_diff(files: dict[str, str], out_dir: Path, changes: list[Change] | None = None,
                 holds_secret: Callable[[str], bool] | None = None, intent: str | None = None) -> str:
    """The changes as a unified diff. A file whose old or new text `holds_secret` is named, never
    shown: a diff goes to terminals and CI logs."""
    expected = expected_tree(files, intent)
    changes = plan_changes(files, out_dir, intent) if changes is None else changes
    chunks: list[str] = []
    for change in changes:
        old = _old_lines(os.fspath(out_dir), change.path) if change.kind != "added" else []
        new = expected[change.path].splitlines(keepends=True) if change.kind != "removed" else []
        if holds_secret is not None and (holds_secret("".join(old)) or holds_secret("".join(new))):
            hidden = f"<{change.path.rpartition('/')[2]} holds a secret value: its content is not shown>\n"
            old, new = ([hidden] if old else []), ([hidden.replace("<", "<new: ", 1)] if new else [])
        chunks.extend(difflib.unified_diff(old, new, fromfile=f"a/{change.path}", tofile=f"b/{change.path}"))
        if chunks and not chunks[-1].endswith("\n"):
            chunks.append("\n\\ No newline at end of file\n")
    return "".join(chunks)


def _old_lines(root: str, path: str) -> list[str]:
    data = _read_regular(root, path)
    if data is None:
        return [f"<{path.rpartition('/')[2]} is not a regular file>\n"]
    return data.decode("utf-8", errors="replace").splitlines(keepends=True)


def _owned(folder: Path) -> set[str]:
    return _OldTree(folder).owned


def recorded_build(folder: Path) -> tuple[str | None, str | None]:
    """(layout, target) of the build that wrote `folder`, read from its list of owned files: a
    `manifests/manifest.yaml` means the single layout, a `helm/values.yaml` target jcnr (in a fleet,
    `<cluster>/...`; a fleet whose clusters differ records no single target). (None, None) for a
    folder jcnrc did not write; `diff` and `build --check` compare with the options that made it."""
    try:
        owned = _owned(folder) if folder.is_dir() else set()
    except (OSError, WriteError):
        return None, None
    if not owned:
        return None, None
    roots = {path.split("/", 1)[0] + "/" for path in owned if path.endswith("/kustomization.yaml")
             and path.count("/") == 1 and not path.startswith("manifests/")}
    roots = roots or {""}
    layout = "single" if any(f"{root}manifests/manifest.yaml" in owned for root in roots) else "tree"
    targets = {"jcnr" if f"{root}helm/values.yaml" in owned else "platter" for root in roots}
    return layout, (targets.pop() if len(targets) == 1 else None)


def _parse_owned(data: bytes | None, known_safe: Container[str] = frozenset()) -> set[str]:
    # The list comes from the repository, so a pull request controls it: entries that are not
    # plain relative paths are ignored, never read or removed.
    if data is None:
        return set()
    return {line for line in data.decode("utf-8", errors="replace").splitlines()
            if line and not line.startswith("#") and (line in known_safe or _is_safe(line))}


def _is_safe(path: str) -> bool:
    try:
        _check_path(path)
    except WriteError:
        return False
    return True


def _owned_text(paths: Iterable[str], intent: str | None = None) -> str:
    named = f"{_INTENT_LINE}{intent}\n" if intent is not None and recordable_intent(intent) else ""
    return ("# Files written by jcnrc; it removes them when it no longer produces them.\n" + named
            + "".join(f"{p}\n" for p in sorted(paths)))


# The owned-files list names the intent a folder was built from (its path from the folder jcnrc ran in)
# on a line of its own.
_INTENT_LINE = "# Intent: "


def recordable_intent(name: str) -> bool:
    """Whether `name` can be the intent line of the owned-files list: a plain, portable relative path
    (the list is read back line by line; a line break, `..` or an absolute path is never written)."""
    return _is_safe(name)


def recorded_intent(folder: Path) -> str | None:
    """The intent the output in `folder` was built from (its path from the folder jcnrc ran in), as
    its owned-files list names it; None for a folder without one (not jcnrc's, or written by jcnrc
    0.2.1 or older), and for a folder that is a link, which is never read through here."""
    root = os.fspath(folder)
    if os.path.islink(root) or not os.path.isdir(root) or link_inside_current_folder(root, allow_last=True) is not None:
        return None
    data = _read_regular(root, OWNED_LIST)
    for line in (data or b"").decode("utf-8", errors="replace").splitlines():
        if line.startswith(_INTENT_LINE) and recordable_intent(line[len(_INTENT_LINE):]):
            return line[len(_INTENT_LINE):]
    return None


# --- the build ----------------------------------------------------------------------------------

@contextmanager
def build_lock(out_dir: Path) -> Iterator[None]:
    import fcntl

    lock_path = out_dir.parent / f".{out_dir.name}.jcnrc-lock"
    # O_NOFOLLOW: a planted symlink in the repository must not make the build create files elsewhere.
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        raise WriteError(f"cannot create the build lock {lock_path}: {exc.strerror}") from exc
    handle = os.fdopen(fd, "r+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WriteError(f"another jcnrc build is writing {out_dir}; wait for it to finish "
                             "(nothing was written)") from None
        yield
    finally:
        handle.close()


def write_tree(files: dict[str, str], out_dir: Path, allow_symlink: bool = False,
               progress: ProgressCallback | None = None,
               inputs: Iterable[str | os.PathLike[str] | None] = (), intent: str | None = None) -> list[Change]:
    """Make out_dir hold exactly `files`. Returns what changed.

    Raises WriteError, and then the output folder is as it was before. `progress` hears
    ("write", files done, files in all) while the new tree is assembled, then ("sync", 0, None).
    `inputs` are the files the build read (the intent, its lock file; None for one it did not
    have): the output folder must not hold them. `intent`: the intent's path, which the
    owned-files list records.
    """
    check_paths(files)
    out_dir = _usable_target(Path(out_dir), allow_symlink)
    _refuse_inputs_inside(out_dir, inputs)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        with build_lock(out_dir):
            _recover(out_dir)
            old = _OldTree(out_dir, known_safe=files)
            if old.exists:
                _refuse_read_only(out_dir)
            # Every old file is looked at once: for the conflicts, the changes, and which files to keep.
            states = old.survey(expected_tree(files, intent))
            if old.exists:
                _refuse_foreign_conflicts(files, old, states)
                _refuse_foreign_entries(files, old, states)
            changes = _changes(files, old, states)
            if not changes and old.exists:
                return []
            _swap_in(files, out_dir, old, {path for path, state in states.items() if state == _SAME}, progress, intent)
            return changes
    except OSError as exc:
        raise WriteError(_os_message(exc, out_dir)) from exc


def _usable_target(out_dir: Path, allow_symlink: bool) -> Path:
    _refuse_links_in_path(out_dir)
    if out_dir.is_symlink():
        if not allow_symlink:
            raise WriteError(f"{out_dir} is a symbolic link; refusing to write through it (use --allow-symlink-output)")
        out_dir = out_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise WriteError(f"{out_dir} exists and is not a folder")
    absolute = Path(os.path.abspath(out_dir))
    _refuse_links_in_path(absolute)  # the path written to, ".." taken lexically
    resolved, here = absolute.resolve(), Path(_current_folder())
    if absolute.parent == absolute or resolved == here or resolved in here.parents:
        raise WriteError(f"refusing to use {out_dir} as the output folder: it is the current folder, one above it "
                         "or the root; give jcnrc a folder of its own (e.g. out/<topology>)")
    return absolute


def _refuse_read_only(out_dir: Path) -> None:
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise WriteError(f"cannot write {out_dir}: the folder is read-only; the previous output is unchanged")


def _refuse_foreign_conflicts(files: dict[str, str], old: _OldTree, states: dict[str, int]) -> None:
    """Files jcnrc did not write are never overwritten; a build that would do so stops."""
    owned = old.owned
    conflicts = [f"{folder} (jcnrc needs a folder there)" for folder in _folders_of(files)
                 if old.folder(folder) == _OTHER and folder not in owned]
    for path in sorted(files):
        state = states[path]
        if state == _FOLDER:
            conflicts.append(f"{path} (a folder where jcnrc writes a file)")
        elif state in (_DIFFERENT, _OTHER) and path not in owned:
            conflicts.append(path)
    if conflicts:
        more = len(conflicts) - _MAX_LISTED
        listed = ", ".join(conflicts[:_MAX_LISTED]) + (f" and {more} more" if more > 0 else "")
        raise WriteError(f"refusing to overwrite what jcnrc did not write in {old.root}: {listed}; move it away "
                         f"(if it is the output of an earlier jcnrc build that lost {OWNED_LIST}, delete it); "
                         "the previous output is unchanged")


def _refuse_foreign_entries(files: dict[str, str], old: _OldTree, states: dict[str, int]) -> None:
    """The output folder is swapped out whole: it may hold only what jcnrc wrote (listed in the
    owned list, or holding exactly what this build writes there) and the folders that lead to
    those, all on the output folder's own file system. Anything else (a .git, the intent, a
    file of the user's, a mount point) stops the build before anything is changed."""
    ours = old.owned | {path for path in files if states.get(path) == _SAME} | {OWNED_LIST}
    folders = set(_folders_of(ours))
    device = os.lstat(old.root).st_dev
    foreign: list[str] = []
    pending = [""]
    while pending:
        folder = pending.pop()
        with os.scandir(f"{old.root}/{folder}" if folder else old.root) as entries:
            names = [entry.name for entry in entries]
        for name in names:
            relative = f"{folder}/{name}" if folder else name
            try:
                info = os.lstat(f"{old.root}/{relative}")
            except FileNotFoundError:
                continue
            if info.st_dev != device:
                raise WriteError(f"refusing to write {old.root}: {_shown(relative)} is a mount point (another file "
                                 "system); jcnrc never writes, moves or deletes across a mount point: unmount it or "
                                 "give jcnrc another output folder (nothing was written)")
            if stat.S_ISDIR(info.st_mode) and (relative in folders or relative in ours):
                pending.append(relative)
            elif relative not in ours:
                foreign.append(relative)
    if foreign:
        first = min(foreign, key=lambda path: (path.rpartition("/")[2] != ".git", path.count("/"), path))
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise WriteError(f"refusing to use {old.root} as the output folder: it holds {_shown(first)}{more}, which jcnrc "
                         f"did not write (it is not in {OWNED_LIST}); jcnrc replaces its output folder whole, so give it "
                         "an empty folder or one it wrote (e.g. out/<topology>); nothing was written")


def _os_message(exc: OSError, out_dir: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device while writing {out_dir}; the previous output is unchanged"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"cannot write {out_dir}: {exc.strerror}{where}; the previous output is unchanged"
    return f"cannot write {out_dir}: {exc}; the previous output is unchanged"


def _recover(out_dir: Path) -> None:
    """Put back the output folder if a build died between its two renames; drop staging leftovers.

    Only a real folder (lstat: not a link) named exactly as _exchange names it is put back. Any
    other entry under jcnrc's names (a link or a file someone placed there) is removed, never
    followed: its target stays as it is.
    """
    parent, name = os.path.split(os.fspath(out_dir))
    backup = re.compile(re.escape(f".{name}.old-") + r"[0-9]+\Z")
    staging = f".{name}.new-"
    with os.scandir(parent) as entries:
        ours = sorted((entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries
                      if backup.match(entry.name) or entry.name.startswith(staging))
    for leftover, is_folder in ours:
        path = os.path.join(parent, leftover)
        if not is_folder:
            os.unlink(path)
        elif backup.match(leftover) and not os.path.lexists(out_dir):
            os.rename(path, out_dir)
        else:
            _remove_tree(path)


def _swap_in(files: dict[str, str], out_dir: Path, old: _OldTree, same: set[str],
             progress: ProgressCallback | None = None, intent: str | None = None) -> None:
    """Build the new tree beside out_dir and swap it in. Files in `same` hold exactly what they
    should already: they are hard-linked from the old tree, not written again."""
    staging = tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent)
    pause = _slow_write_pause()
    root = os.fspath(out_dir)
    try:
        if old.exists:
            shutil.copymode(root, staging)
        else:
            os.chmod(staging, 0o777 & ~_umask())
        # Folders first, once each, parents first: a mkdir per file is a third of the write time on big trees.
        for folder in _folders_of(files):
            os.mkdir(f"{staging}/{folder}")
        total = len(files)
        for done, (path, text) in enumerate(sorted(files.items()), 1):
            if pause:
                time.sleep(pause)
            if path not in same or not _link(f"{root}/{path}", f"{staging}/{path}"):
                _write_file(f"{staging}/{path}", text.encode("utf-8"))
            if progress is not None:
                progress("write", done, total)
        if OWNED_LIST not in same or not _link(f"{root}/{OWNED_LIST}", f"{staging}/{OWNED_LIST}"):
            _write_file(f"{staging}/{OWNED_LIST}", _owned_text(files, intent).encode("utf-8"))
        if progress is not None:
            progress("sync", 0, None)
        _sync(staging)  # one flush for the whole tree: per-file fsync costs seconds on big trees
        if old.exists:
            old_tree = _exchange(Path(staging), out_dir)
            _remove_tree(os.fspath(old_tree))
        else:
            os.rename(staging, out_dir)
        _fsync_dir(out_dir.parent)
    except BaseException:
        _remove_tree(staging)
        raise


def _slow_write_pause() -> float:
    try:
        return max(0.0, float(os.environ.get(SLOW_WRITE_ENV, "0")))
    except ValueError:
        return 0.0


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _link(source: str, target: str) -> bool:
    """Hard-link an unchanged file into the new tree; False when that cannot be done (another
    file system, no hard links) and the file must be written again."""
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        return False
    return True


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _write_file(path: str, data: bytes) -> None:
    fd = os.open(path, _CREATE, 0o666)
    try:
        # One write takes a regular file's whole content; a short one goes on from where it stopped.
        written = os.write(fd, data)
        if written < len(data):
            view = memoryview(data)[written:]
            while view:
                view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _remove_tree(top: str) -> None:
    """Delete the folder top and what it holds, as far as it can (errors are ignored), like
    shutil.rmtree; but it never follows a link and never crosses into another file system: a
    mount point below top is neither entered nor removed, and the folders that lead to it stay.
    It walks with a list, not recursion, so no depth makes it fail."""
    try:
        info = os.lstat(top)
    except OSError:
        return
    if not stat.S_ISDIR(info.st_mode):
        _ignoring_errors(os.unlink, top)
        return
    device = info.st_dev
    folders = []
    pending = [top]
    while pending:
        folder = pending.pop()
        folders.append(folder)
        try:
            with os.scandir(folder) as entries:
                names = [entry.name for entry in entries]
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                entry = os.lstat(path)
            except OSError:
                continue
            if entry.st_dev != device:
                continue  # a mount point: left alone, with everything on it
            if stat.S_ISDIR(entry.st_mode):
                pending.append(path)
            else:
                _ignoring_errors(os.unlink, path)
    for folder in reversed(folders):  # children were found after their parents
        _ignoring_errors(os.rmdir, folder)


def _ignoring_errors(function: Callable[[str], object], path: str) -> None:
    with contextlib.suppress(OSError):
        function(path)


def _exchange(new_tree: Path, out_dir: Path) -> Path:
    """Swap the new tree in; returns the path that now holds the old tree."""
    if _rename_exchange(new_tree, out_dir):
        return new_tree
    backup = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    os.rename(out_dir, backup)
    os.rename(new_tree, out_dir)  # a kill between the two renames is undone by _recover()
    return backup


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _rename_exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths (Linux renameat2). False when this system cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    import ctypes

    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False  # an old kernel or a file system without exchange: two renames instead
    raise OSError(code, os.strerror(code), str(second))


def _renameat2() -> _LibcFunction | None:
    import ctypes

    # None with glibc before 2.28, or another libc without the wrapper.
    return _libc_function("renameat2", [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint])


# A C library function as ctypes calls it: its arguments are converted by its argtypes.
_LibcFunction = Callable[..., int]


def _libc_function(name: str, argtypes: list[type[ctypes._SimpleCData[Any]]]) -> _LibcFunction | None:
    """The C library's `name` (returning int, setting errno), or None off Linux or where it is missing."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = argtypes
    function.restype = ctypes.c_int
    return function


def _sync(folder: str) -> None:
    """Flush the file system that holds folder (Linux syncfs), or all of them."""
    syncfs = _syncfs()
    if syncfs is not None:
        try:
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            fd = None
        if fd is not None:
            try:
                if syncfs(fd) == 0:
                    return
            finally:
                os.close(fd)
    os.sync()


def _syncfs() -> _LibcFunction | None:
    import ctypes

    return _libc_function("syncfs", [ctypes.c_int])


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
