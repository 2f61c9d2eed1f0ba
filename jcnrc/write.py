"""Stage 5, write: ``{relative path: text}`` -> an output folder, atomically.

The new tree is assembled in a staging folder next to the output folder and swapped in whole:
on Linux with one ``renameat2(RENAME_EXCHANGE)``, so there is no moment without an output
folder; elsewhere with two renames, and a leftover of an interruption between them
(``.<name>.old-<pid>``) is put back by the next run. An interrupted build (even ``kill -9``)
therefore leaves either the old tree or the new one, never a mix, and the next build removes
its staging leftovers.

Unchanged files are hard-linked from the old tree, so their mtimes stay put, and a build that
changes nothing touches nothing at all. jcnrc removes only files it wrote before (listed in
``.jcnrc-owned``); anything else in the folder is carried over untouched (hard links keep the
very same inode), and a build that would overwrite such a file stops instead. A lock file
(``.<name>.jcnrc-lock`` next to the output folder) keeps two builds from interleaving.

``JCNRC_TEST_SLOW_WRITE`` (seconds, test-only) pauses before each file is written, so that the
tests can kill a build in the middle of writing. It has no other use.
"""

from __future__ import annotations

import difflib
import errno
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

OWNED_LIST = ".jcnrc-owned"
SLOW_WRITE_ENV = "JCNRC_TEST_SLOW_WRITE"
_RESERVED_NAMES = {"", ".", ".."}
_MAX_LISTED = 10


class WriteError(Exception):
    """A problem with the output folder, said in words for the user."""


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # added, changed, removed


# --- what may be written ------------------------------------------------------------------------

def safe_relative_path(path: str) -> PurePosixPath:
    """Refuse any path that could leave the output folder or is not portable."""
    if not path or "\0" in path or "\\" in path or path.startswith("/"):
        raise WriteError(f"refusing to write {path!r}: not a plain relative path")
    # Split by hand: PurePosixPath would quietly turn "a//b", "a/./b" and "a/" into other names.
    if any(part in _RESERVED_NAMES or part.startswith("-") or len(part.encode()) > 255 for part in path.split("/")):
        raise WriteError(f"refusing to write {path!r}: a path component is empty, '.', '..', starts with '-' or is too long")
    if any(ord(ch) < 32 for ch in path):
        raise WriteError(f"refusing to write {path!r}: control characters in the name")
    if path.split("/")[0] == OWNED_LIST:
        raise WriteError(f"refusing to write {path!r}: {OWNED_LIST} is jcnrc's own list of the files it wrote")
    return PurePosixPath(path)


def check_paths(paths) -> None:
    """Every path is safe, and no two of them collide on a case-insensitive file system or as
    a file and a folder of the same name."""
    by_folded: dict[str, str] = {}
    files = set()
    for path in sorted(paths):
        safe_relative_path(path)
        folded = path.casefold()
        if folded in by_folded:
            raise WriteError(f"refusing to write both {by_folded[folded]!r} and {path!r}: "
                             "they are one file on case-insensitive file systems")
        by_folded[folded] = path
        files.add(path)
    for path in files:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in files:
                raise WriteError(f"refusing to write {path!r}: {folder!r} is also written as a file")


# --- what a build would change ------------------------------------------------------------------

def expected_tree(files: dict[str, str]) -> dict[str, str]:
    """The files as written, with the owned-files list that comes with them."""
    return {**files, OWNED_LIST: _owned_text(files)}


def plan_changes(files: dict[str, str], out_dir: Path) -> list[Change]:
    """What a build would change in out_dir: added, changed and removed (owned) files."""
    out_dir = Path(out_dir)
    changes = []
    for path, text in sorted(expected_tree(files).items()):
        target = out_dir / path
        if not os.path.lexists(target):
            changes.append(Change(path, "added"))
        elif _regular_file_bytes(target) != text.encode("utf-8"):
            changes.append(Change(path, "changed"))
    for path in sorted(_owned(out_dir) - set(files) - {OWNED_LIST}):
        if os.path.lexists(out_dir / path):
            changes.append(Change(path, "removed"))
    return changes


def unified_diff(files: dict[str, str], out_dir: Path, changes: list[Change] | None = None) -> str:
    out_dir = Path(out_dir)
    expected = expected_tree(files)
    changes = plan_changes(files, out_dir) if changes is None else changes
    chunks = []
    for change in changes:
        old = _old_lines(out_dir / change.path) if change.kind != "added" else []
        new = expected[change.path].splitlines(keepends=True) if change.kind != "removed" else []
        chunks.extend(difflib.unified_diff(old, new, fromfile=f"a/{change.path}", tofile=f"b/{change.path}"))
        if chunks and not chunks[-1].endswith("\n"):
            chunks.append("\n\\ No newline at end of file\n")
    return "".join(chunks)


def _old_lines(target: Path) -> list[str]:
    data = _regular_file_bytes(target)
    if data is None:
        return [f"<{target.name} is not a regular file>\n"]
    return data.decode("utf-8", errors="replace").splitlines(keepends=True)


def _regular_file_bytes(path: Path) -> bytes | None:
    """The bytes of a regular file; None for anything else (symbolic links are not followed)."""
    try:
        if not path.is_symlink() and path.is_file():
            return path.read_bytes()
    except OSError:
        pass
    return None


def _owned(folder: Path) -> set[str]:
    listing = Path(folder) / OWNED_LIST
    if listing.is_symlink() or not listing.is_file():
        return set()
    # The list comes from the repository, so a pull request controls it: entries that are not
    # plain relative paths are ignored, never read or removed.
    return {line for line in listing.read_text(encoding="utf-8", errors="replace").splitlines()
            if line and not line.startswith("#") and _is_safe(line)}


def _is_safe(path: str) -> bool:
    try:
        safe_relative_path(path)
    except WriteError:
        return False
    return True


def _owned_text(paths) -> str:
    return "# Files written by jcnrc; it removes them when it no longer produces them.\n" + "".join(f"{p}\n" for p in sorted(paths))


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


def write_tree(files: dict[str, str], out_dir: Path, allow_symlink: bool = False) -> list[Change]:
    """Make out_dir hold exactly `files` plus the files jcnrc does not own. Returns what changed.

    Raises WriteError, and then the output folder is as it was before.
    """
    check_paths(files)
    out_dir = _usable_target(Path(out_dir), allow_symlink)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        with build_lock(out_dir):
            _recover(out_dir)
            if out_dir.is_dir():
                _refuse_read_only(out_dir)
                _refuse_foreign_conflicts(files, out_dir)
            changes = plan_changes(files, out_dir)
            if not changes and out_dir.is_dir():
                return []
            _swap_in(files, out_dir)
            return changes
    except OSError as exc:
        raise WriteError(_os_message(exc, out_dir)) from exc


def _usable_target(out_dir: Path, allow_symlink: bool) -> Path:
    if out_dir.is_symlink():
        if not allow_symlink:
            raise WriteError(f"{out_dir} is a symbolic link; refusing to write through it (use --allow-symlink-output)")
        out_dir = out_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise WriteError(f"{out_dir} exists and is not a folder")
    absolute = Path(os.path.abspath(out_dir))
    here = Path.cwd().resolve()
    if absolute.parent == absolute or absolute.resolve() == here or absolute.resolve() in here.parents:
        raise WriteError(f"refusing to use {out_dir} as the output folder: it is the current folder, one above it "
                         "or the root; give jcnrc a folder of its own (e.g. out/<topology>)")
    return absolute


def _refuse_read_only(out_dir: Path) -> None:
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise WriteError(f"cannot write {out_dir}: the folder is read-only; the previous output is unchanged")


def _refuse_foreign_conflicts(files: dict[str, str], out_dir: Path) -> None:
    """Files jcnrc did not write are never overwritten; a build that would do so stops."""
    owned = _owned(out_dir)
    conflicts: list[str] = []
    checked_folders: set[str] = set()
    for path, text in sorted(files.items()):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in checked_folders:
                continue
            checked_folders.add(folder)
            node = out_dir / folder
            if os.path.lexists(node) and (node.is_symlink() or not node.is_dir()) and folder not in owned:
                conflicts.append(f"{folder} (jcnrc needs a folder there)")
        target = out_dir / path
        if not os.path.lexists(target) or path in owned:
            if target.is_dir() and not target.is_symlink():
                conflicts.append(f"{path} (a folder where jcnrc writes a file)")
            continue
        if _regular_file_bytes(target) != text.encode("utf-8"):
            conflicts.append(path)
    if conflicts:
        listed = ", ".join(conflicts[:_MAX_LISTED]) + (f" and {len(conflicts) - _MAX_LISTED} more" if len(conflicts) > _MAX_LISTED else "")
        raise WriteError(f"refusing to overwrite what jcnrc did not write in {out_dir}: {listed}; move it away "
                         f"(if it is the output of an earlier jcnrc build that lost {OWNED_LIST}, delete it); "
                         "the previous output is unchanged")


def _os_message(exc: OSError, out_dir: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device while writing {out_dir}; the previous output is unchanged"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"cannot write {out_dir}: {exc.strerror}{where}; the previous output is unchanged"
    return f"cannot write {out_dir}: {exc}; the previous output is unchanged"


def _recover(out_dir: Path) -> None:
    """Put back the output folder if a build died between its two renames; drop staging leftovers."""
    for leftover in sorted(out_dir.parent.glob(f".{out_dir.name}.old-*")):
        if not os.path.lexists(out_dir):
            os.rename(leftover, out_dir)
        else:
            shutil.rmtree(leftover, ignore_errors=True)
    for partial in out_dir.parent.glob(f".{out_dir.name}.new-*"):
        shutil.rmtree(partial, ignore_errors=True)


def _swap_in(files: dict[str, str], out_dir: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    pause = _slow_write_pause()
    try:
        if out_dir.is_dir():
            shutil.copymode(out_dir, staging)
        else:
            os.chmod(staging, 0o777 & ~_umask())
        old_owned = _owned(out_dir) if out_dir.is_dir() else set()
        # Folders first, once each: a mkdir per file is a third of the write time on big trees.
        for folder in sorted({os.path.dirname(path) for path in files} - {""}):
            os.makedirs(staging / folder, exist_ok=True)
        for path, text in sorted(files.items()):
            if pause:
                time.sleep(pause)
            _place(staging / path, out_dir / path, text.encode("utf-8"))
        _place(staging / OWNED_LIST, out_dir / OWNED_LIST, _owned_text(files).encode("utf-8"))
        if out_dir.is_dir():
            _carry_over_foreign_files(out_dir, staging, set(files) | old_owned | {OWNED_LIST})
        os.sync()  # one flush for the whole tree: per-file fsync costs seconds on big trees
        if out_dir.is_dir():
            old_tree = _exchange(staging, out_dir)
            shutil.rmtree(old_tree, ignore_errors=True)
        else:
            os.rename(staging, out_dir)
        _fsync_dir(out_dir.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
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


def _place(target: Path, previous: Path, data: bytes) -> None:
    if _regular_file_bytes(previous) == data:
        try:
            os.link(previous, target)
            return
        except OSError:
            pass  # another file system, or no hard links: write a copy
    _write_file(target, data)


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)


def _carry_over_foreign_files(old: Path, staging: Path, ours: set[str]) -> None:
    """Hard-link everything jcnrc does not own into the new tree: same inodes, same content and
    mtimes. Folders that only hold such files get their mode and times back at the end."""
    created: list[tuple[Path, Path]] = []
    for root, dirs, names in os.walk(old):
        root_path = Path(root)
        for name in list(dirs):
            source = root_path / name
            relative = source.relative_to(old).as_posix()
            if source.is_symlink():  # a link to a folder: carry the link, do not walk into it
                dirs.remove(name)
                if relative not in ours:
                    _link_into(source, staging / relative)
                continue
            target = staging / relative
            if not target.exists():
                target.mkdir(parents=True)
                created.append((source, target))
        for name in names:
            source = root_path / name
            relative = source.relative_to(old).as_posix()
            if relative not in ours:
                _link_into(source, staging / relative)
    for source, target in reversed(created):  # deepest first, after their content is in place
        shutil.copystat(source, target, follow_symlinks=False)


def _link_into(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target, follow_symlinks=False)


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


def _renameat2():
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None  # glibc before 2.28, or another libc without the wrapper
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


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
