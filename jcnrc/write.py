"""Stage 5, write: ``{relative path: text}`` -> an output folder, atomically.

The new tree is assembled in a temporary sibling folder and swapped in with renames, so an
interrupted build (even ``kill -9``) leaves either the old tree or the new one, never a mix;
a leftover from an interruption is restored on the next run. Unchanged files are hard-linked
from the old tree, so their mtimes stay put, and an unchanged build touches nothing at all.
jcnrc removes only files it wrote before (listed in ``.jcnrc-owned``); anything else in the
folder is carried over untouched. A lock file keeps two builds from interleaving.
"""

from __future__ import annotations

import difflib
import errno
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

OWNED_LIST = ".jcnrc-owned"
_RESERVED_NAMES = {"", ".", ".."}


class WriteError(Exception):
    """A problem with the output folder, said in words for the user."""


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # added, changed, removed


def safe_relative_path(path: str) -> PurePosixPath:
    """Refuse any path that could leave the output folder or is not portable."""
    if not path or "\0" in path or "\\" in path or path.startswith("/"):
        raise WriteError(f"refusing to write {path!r}: not a plain relative path")
    pure = PurePosixPath(path)
    if any(part in _RESERVED_NAMES or part.startswith("-") or len(part.encode()) > 255 for part in pure.parts):
        raise WriteError(f"refusing to write {path!r}: a path component is empty, '.', '..', starts with '-' or is too long")
    if any(ord(ch) < 32 for ch in path):
        raise WriteError(f"refusing to write {path!r}: control characters in the name")
    return pure


def _owned(folder: Path) -> set[str]:
    listing = folder / OWNED_LIST
    if not listing.is_file():
        return set()
    return {line for line in listing.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")}


def _owned_text(paths) -> str:
    return "# Files written by jcnrc; it removes them when it no longer produces them.\n" + "".join(f"{p}\n" for p in sorted(paths))


def plan_changes(files: dict[str, str], out_dir: Path) -> list[Change]:
    """What a build would change in out_dir: added, changed and removed (owned) files."""
    changes = []
    for path, text in sorted(files.items()):
        target = out_dir / path
        if not target.is_file():
            changes.append(Change(path, "added"))
        elif target.read_bytes() != text.encode("utf-8"):
            changes.append(Change(path, "changed"))
    for path in sorted(_owned(out_dir) - set(files) - {OWNED_LIST}):
        if (out_dir / path).exists():
            changes.append(Change(path, "removed"))
    return changes


def unified_diff(files: dict[str, str], out_dir: Path, changes: list[Change] | None = None) -> str:
    changes = plan_changes(files, out_dir) if changes is None else changes
    chunks = []
    for change in changes:
        target = out_dir / change.path
        old = target.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True) if change.kind != "added" else []
        new = files[change.path].splitlines(keepends=True) if change.kind != "removed" else []
        chunks.extend(difflib.unified_diff(old, new, fromfile=f"a/{change.path}", tofile=f"b/{change.path}"))
    return "".join(chunks)


@contextmanager
def build_lock(out_dir: Path):
    import fcntl

    lock_path = out_dir.parent / f".{out_dir.name}.jcnrc-lock"
    handle = open(lock_path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WriteError(f"another jcnrc build is writing {out_dir}; wait for it to finish") from None
        yield
    finally:
        handle.close()


def write_tree(files: dict[str, str], out_dir: Path, allow_symlink: bool = False) -> list[Change]:
    """Make out_dir hold exactly `files` plus the files jcnrc does not own. Returns what changed."""
    for path in files:
        safe_relative_path(path)
    out_dir = Path(out_dir)
    if out_dir.is_symlink() and not allow_symlink:
        raise WriteError(f"{out_dir} is a symbolic link; refusing to write through it (use --allow-symlink-output)")
    if out_dir.exists() and not out_dir.is_dir():
        raise WriteError(f"{out_dir} exists and is not a folder")
    if allow_symlink and out_dir.is_symlink():
        out_dir = out_dir.resolve()
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with build_lock(out_dir):
            _recover(out_dir)
            changes = plan_changes(files, out_dir)
            owned_now = set(files) | {OWNED_LIST}
            if not changes and out_dir.is_dir() and _owned(out_dir) | {OWNED_LIST} == owned_now:
                return []
            _swap_in(files, out_dir)
            return changes
    except OSError as exc:
        raise WriteError(_os_message(exc, out_dir)) from exc


def _os_message(exc: OSError, out_dir: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device while writing {out_dir}; the previous output is unchanged"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {out_dir}: {exc.strerror}; the previous output is unchanged"
    return f"cannot write {out_dir}: {exc}; the previous output is unchanged"


def _recover(out_dir: Path) -> None:
    """An interrupted swap leaves `.name.old-*`: put it back if the output folder is gone."""
    leftovers = sorted(out_dir.parent.glob(f".{out_dir.name}.old-*"))
    for leftover in leftovers:
        if not out_dir.exists():
            os.rename(leftover, out_dir)
        else:
            shutil.rmtree(leftover, ignore_errors=True)
    for partial in out_dir.parent.glob(f".{out_dir.name}.new-*"):
        shutil.rmtree(partial, ignore_errors=True)


def _swap_in(files: dict[str, str], out_dir: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    try:
        os.chmod(staging, 0o777 & ~_umask())
        old_owned = _owned(out_dir) if out_dir.is_dir() else set()
        for path, text in files.items():
            _place(staging / path, out_dir / path, text.encode("utf-8"))
        (staging / OWNED_LIST).write_text(_owned_text(files), encoding="utf-8")
        if out_dir.is_dir():
            _carry_over_foreign_files(out_dir, staging, set(files) | old_owned | {OWNED_LIST})
        os.sync()  # one flush for the whole tree: per-file fsync costs seconds on big trees
        if out_dir.is_dir():
            backup = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            os.rename(out_dir, backup)
            os.rename(staging, out_dir)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.rename(staging, out_dir)
        _fsync_dir(out_dir.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _place(target: Path, previous: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if previous.is_file() and not previous.is_symlink() and previous.stat().st_size == len(data) and previous.read_bytes() == data:
        try:
            os.link(previous, target)
            return
        except OSError:
            pass
    with open(target, "wb") as handle:
        handle.write(data)


def _carry_over_foreign_files(old: Path, staging: Path, ours: set[str]) -> None:
    for root, dirs, names in os.walk(old):
        for name in names:
            source = Path(root) / name
            relative = source.relative_to(old).as_posix()
            if relative in ours:
                continue
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target, follow_symlinks=False)
            except OSError:
                shutil.copy2(source, target, follow_symlinks=False)


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
