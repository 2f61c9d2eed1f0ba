"""Safe writes: the output folder holds the old tree or the new one, never a mix, and jcnrc
touches nothing it did not write."""

from __future__ import annotations

import errno
import hashlib
import os
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HANG_GUARD, JCNRC, ROOT
from jcnrc.output import write
from jcnrc.output.write import OWNED_LIST, SLOW_WRITE_ENV, WriteError, build_lock, write_tree

AKS = ROOT / "examples" / "aks-evpn-type5.yaml"

FILES = {
    "README.md": "# demo\n",
    "kustomization.yaml": "resources:\n  - manifests\n",
    "manifests/configmap-a.yaml": "kind: ConfigMap\n",
    "manifests/pod-b.yaml": "kind: Pod\n",
    "nodes/n1/node-n1.json": "{}\n",
}


def snapshot(folder: Path) -> dict[str, tuple]:
    """Everything about a tree that a rewrite would change: content, inode, mode, mtime, link target."""
    state = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():
            state[relative] = ("link", os.readlink(path))
        elif path.is_dir():
            state[relative] = ("dir", info.st_mode)
        else:
            state[relative] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(), info.st_ino, info.st_mode, info.st_mtime_ns)
    return state


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir()
                  if p.name.startswith(f".{out.name}.") and not p.name.endswith("jcnrc-lock"))


def tree_files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}


@pytest.fixture()
def out(tmp_path) -> Path:
    return tmp_path / "out" / "demo"


# --- writing and rewriting ----------------------------------------------------------------------

def test_first_build_writes_every_file_and_the_owned_list(out):
    changes = write_tree(FILES, out)
    assert {c.path for c in changes if c.kind == "added"} == set(FILES) | {OWNED_LIST}
    assert tree_files(out) == {**FILES, OWNED_LIST: write._owned_text(FILES)}
    assert leftovers(out) == []


def test_an_unchanged_rebuild_rewrites_no_file(out):
    write_tree(FILES, out)
    for path in (out, *out.rglob("*")):  # a long-ago time stamp: any rewrite would give it today's
        os.utime(path, ns=(1_000_000_000, 1_000_000_000), follow_symlinks=False)
    before = snapshot(out)
    folder_before = out.stat()
    assert write_tree(FILES, out) == []
    assert snapshot(out) == before
    assert (out.stat().st_ino, out.stat().st_mtime_ns) == (folder_before.st_ino, folder_before.st_mtime_ns)


def test_a_rebuild_replaces_changed_files_and_keeps_unchanged_ones_as_they_were(out):
    write_tree(FILES, out)
    before = snapshot(out)
    changes = write_tree({**FILES, "manifests/pod-b.yaml": "kind: Pod\nspec: {}\n"}, out)
    assert [(c.path, c.kind) for c in changes] == [("manifests/pod-b.yaml", "changed")]
    after = snapshot(out)
    for path in ("README.md", "manifests/configmap-a.yaml", "nodes/n1/node-n1.json", OWNED_LIST):
        assert after[path] == before[path], path  # the same inode: hard-linked, not rewritten
    assert after["manifests/pod-b.yaml"][1] != before["manifests/pod-b.yaml"][1]


def test_an_edit_that_keeps_the_size_or_grows_the_file_is_seen_and_undone(out):
    write_tree(FILES, out)
    (out / "README.md").write_text("# DEMO\n")  # same size
    (out / "manifests/pod-b.yaml").write_text(FILES["manifests/pod-b.yaml"] + "x")  # grown by one byte
    (out / "nodes/n1/node-n1.json").write_text("")  # emptied
    changes = write_tree(FILES, out)
    assert sorted(c.path for c in changes) == ["README.md", "manifests/pod-b.yaml", "nodes/n1/node-n1.json"]
    assert all(c.kind == "changed" for c in changes)
    assert tree_files(out) == {**FILES, OWNED_LIST: write._owned_text(FILES)}
    assert write_tree(FILES, out) == []


def test_a_rebuild_with_foreign_folders_is_refused_and_changes_nothing(out):
    """The output folder is swapped out whole, so it may hold only what jcnrc wrote (this used to
    carry foreign folders over into the new tree; issue 13 made the rule strict)."""
    write_tree(FILES, out)
    (out / "mine/deeper/deepest").mkdir(parents=True)
    (out / "mine/deeper/deepest/f.txt").write_text("f\n")
    (out / "mine/deeper").chmod(0o750)
    (out / "manifests/extra").mkdir()
    (out / "manifests/extra/x.yaml").write_text("x\n")
    os.utime(out / "mine/deeper/deepest", ns=(1_000_000_000, 1_000_000_000))
    before = snapshot(out)
    with pytest.raises(WriteError, match=r"it holds mine \(and 1 more\), which jcnrc did not write .*give it an empty "
                                         r"folder or one it wrote"):
        write_tree({**FILES, "README.md": "# new\n"}, out)
    assert snapshot(out) == before and leftovers(out) == []
    assert (out / "mine/deeper/deepest").stat().st_mtime_ns == 1_000_000_000


def test_stale_owned_files_go(out):
    write_tree(FILES, out)
    smaller = {k: v for k, v in FILES.items() if not k.startswith("nodes/")}
    changes = write_tree(smaller, out)
    assert ("nodes/n1/node-n1.json", "removed") in [(c.path, c.kind) for c in changes]
    assert not (out / "nodes").exists()
    assert tree_files(out) == {**smaller, OWNED_LIST: write._owned_text(smaller)}
    assert write._owned(out) == set(smaller)


@pytest.mark.parametrize("planted", ["notes.txt", "nodes/n1/local.conf", "empty", "private", "to-etc", "to-notes"])
def test_files_jcnrc_did_not_write_make_the_build_stop_and_stay_untouched(out, planted):
    """Before issue 13 these were carried over untouched; now the build names one and stops."""
    write_tree(FILES, out)
    (out / "notes.txt").write_text("mine\n")
    (out / "nodes/n1/local.conf").write_text("also mine\n")  # inside a folder jcnrc writes to
    (out / "empty").mkdir()
    (out / "private").mkdir(mode=0o700)
    (out / "private/key").write_text("k")
    (out / "to-etc").symlink_to("/etc")
    (out / "to-notes").symlink_to("notes.txt")
    for other in ("notes.txt", "nodes/n1/local.conf", "empty", "private/key", "private", "to-etc", "to-notes"):
        if other != planted and not (planted == "private" and other == "private/key"):
            path = out / other
            path.unlink() if path.is_symlink() or path.is_file() else path.rmdir()
    before = snapshot(out)
    smaller = {k: v for k, v in FILES.items() if not k.startswith("nodes/")}
    with pytest.raises(WriteError, match=f"it holds {planted}, which jcnrc did not write"):
        write_tree(smaller, out)
    assert snapshot(out) == before and leftovers(out) == []
    assert write._owned(out) == set(FILES)


def test_a_file_jcnrc_did_not_write_is_never_overwritten(out):
    write_tree(FILES, out)
    (out / "extra.yaml").write_text("kind: Mine\n")
    before = snapshot(out)
    with pytest.raises(WriteError, match=r"refusing to overwrite what jcnrc did not write in .*: extra\.yaml"):
        write_tree({**FILES, "extra.yaml": "kind: Generated\n"}, out)
    assert snapshot(out) == before and leftovers(out) == []


def test_a_foreign_file_with_exactly_the_generated_content_is_adopted(out):
    out.mkdir(parents=True)
    (out / "README.md").write_text(FILES["README.md"])
    write_tree(FILES, out)
    assert "README.md" in write._owned(out)


def test_a_foreign_folder_or_link_where_jcnrc_writes_is_refused(out, tmp_path):
    write_tree(FILES, out)
    shutil.rmtree(out / "nodes")
    (tmp_path / "elsewhere").mkdir()
    (out / "nodes").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(WriteError, match=r"nodes \(jcnrc needs a folder there\)"):
        write_tree(FILES, out)
    assert list((tmp_path / "elsewhere").iterdir()) == []


# --- failures leave the previous output -----------------------------------------------------------

def test_a_failure_while_writing_leaves_the_previous_output_and_no_staging_folder(out, monkeypatch):
    write_tree(FILES, out)
    before = snapshot(out)
    real_write_file = write._write_file
    calls = []

    def failing_write_file(path, data):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(errno.EIO, "Input/output error", str(path))
        real_write_file(path, data)

    monkeypatch.setattr(write, "_write_file", failing_write_file)
    with pytest.raises(WriteError, match="the previous output is unchanged"):
        write_tree({k: v + "changed\n" for k, v in FILES.items()}, out)
    assert snapshot(out) == before and leftovers(out) == []


def test_a_full_disk_leaves_the_previous_output_with_a_clear_error(out, monkeypatch):
    write_tree(FILES, out)
    before = snapshot(out)

    def no_space(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", no_space)
    with pytest.raises(WriteError) as raised:
        write_tree({**FILES, "manifests/pod-b.yaml": "kind: Pod\nspec: {}\n"}, out)
    monkeypatch.undo()
    assert str(raised.value) == f"no space left on the device while writing {out}; the previous output is unchanged"
    assert snapshot(out) == before and leftovers(out) == []


def test_a_read_only_output_folder_is_refused_and_left_as_it_was(out, monkeypatch):
    write_tree(FILES, out)
    before = snapshot(out)
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != out)
    with pytest.raises(WriteError, match=r"the folder is read-only; the previous output is unchanged"):
        write_tree({**FILES, "README.md": "# new\n"}, out)
    assert snapshot(out) == before


@pytest.mark.skipif(os.geteuid() == 0, reason=(
    "running as root, which writes through read-only permissions, so the refusal cannot be provoked for real; the "
    "test above proves it with a patched os.access; run the suite as another user to run this one"))
def test_a_read_only_output_folder_is_refused_for_real(out):
    write_tree(FILES, out)
    before = snapshot(out)
    out.chmod(0o555)
    try:
        with pytest.raises(WriteError, match="read-only"):
            write_tree({**FILES, "README.md": "# new\n"}, out)
    finally:
        out.chmod(0o755)
    assert snapshot(out) == before


def test_a_folder_that_cannot_be_written_next_to_gives_a_clear_error(out, monkeypatch):
    write_tree(FILES, out)
    before = snapshot(out)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(out.parent))

    monkeypatch.setattr(write.tempfile, "mkdtemp", denied)
    with pytest.raises(WriteError) as raised:
        write_tree({**FILES, "README.md": "# new\n"}, out)
    assert str(raised.value) == f"cannot write {out}: Permission denied ({out.parent}); the previous output is unchanged"
    assert snapshot(out) == before


def test_a_build_killed_between_its_two_renames_is_put_back_by_the_next_one(out, monkeypatch):
    """Where renameat2 exchange is missing, the swap is two renames; die between them."""
    write_tree(FILES, out)
    before = dict(tree_files(out))
    monkeypatch.setattr(write, "_rename_exchange", lambda a, b: False)
    real_rename = os.rename

    def die_on_second_rename(source, target):
        if Path(target) == out:
            raise KeyboardInterrupt  # the process dies here; the staging cleanup runs, nothing else
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", die_on_second_rename)
    with pytest.raises(KeyboardInterrupt):
        write_tree({**FILES, "README.md": "# new\n"}, out)
    monkeypatch.undo()
    assert not out.exists() and [name for name in leftovers(out) if ".old-" in name]
    assert write_tree(FILES, out) == []  # recovered: the previous tree is back, and it is current
    assert tree_files(out) == before and leftovers(out) == []


def test_the_swap_is_one_atomic_exchange_on_linux(out, monkeypatch):
    if write._renameat2() is None:
        pytest.skip("renameat2 is missing (not Linux, or a C library without it): the writer falls back to two renames, "
                    "which test_a_build_killed_between_its_two_renames_is_put_back_by_the_next_one covers")
    write_tree(FILES, out)
    exchanges = []
    real_exchange = write._rename_exchange
    monkeypatch.setattr(write, "_rename_exchange", lambda a, b: exchanges.append((a, b)) or real_exchange(a, b))
    monkeypatch.setattr(os, "rename", lambda *a: pytest.fail("the output folder was renamed away"))
    write_tree({**FILES, "README.md": "# new\n"}, out)
    assert len(exchanges) == 1 and exchanges[0][1] == out
    assert (out / "README.md").read_text() == "# new\n" and leftovers(out) == []


# --- locking ------------------------------------------------------------------------------------

def test_a_second_build_into_the_same_folder_is_refused_while_one_runs(out):
    write_tree(FILES, out)
    before = snapshot(out)
    with build_lock(out), pytest.raises(WriteError, match=r"another jcnrc build is writing .*; wait for it to finish"):
        write_tree({**FILES, "README.md": "# new\n"}, out)
    assert snapshot(out) == before
    write_tree({**FILES, "README.md": "# new\n"}, out)  # the lock is free again


# --- paths and targets --------------------------------------------------------------------------

@pytest.mark.parametrize("path, reason", [
    ("../escape.yaml", "path component"),
    ("manifests/../../escape.yaml", "path component"),
    ("/etc/passwd", "not a plain relative path"),
    ("nul\0byte.yaml", "not a plain relative path"),
    ("back\\slash.yaml", "not a plain relative path"),
    ("line\nbreak.yaml", "control characters"),
    ("manifests//double.yaml", "path component"),
    ("manifests/./dot.yaml", "path component"),
    ("manifests/", "path component"),
    ("-rf.yaml", "path component"),
    (OWNED_LIST, "jcnrc's own list"),
])
def test_unsafe_paths_are_refused_before_anything_is_written(out, path, reason):
    with pytest.raises(WriteError, match=reason):
        write_tree({**FILES, path: "x\n"}, out)
    assert not out.exists()


def test_paths_that_collide_are_refused(out):
    with pytest.raises(WriteError, match="case-insensitive"):
        write_tree({**FILES, "readme.md": "x\n"}, out)
    with pytest.raises(WriteError, match=r"'README.md' is also written as a file"):
        write_tree({**FILES, "README.md/inner": "x\n"}, out)
    assert not out.exists()


def test_an_output_folder_that_is_a_symlink_is_refused_unless_allowed(tmp_path):
    real = tmp_path / "real"
    write_tree(FILES, real)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(WriteError, match="is a symbolic link; refusing to write through it"):
        write_tree({**FILES, "README.md": "# new\n"}, link)
    assert (real / "README.md").read_text() == FILES["README.md"]
    write_tree({**FILES, "README.md": "# new\n"}, link, allow_symlink=True)
    assert link.is_symlink() and (link / "README.md").read_text() == "# new\n"


def test_the_current_folder_and_its_parents_are_refused_as_output(tmp_path, monkeypatch):
    work = tmp_path / "repo" / "sub"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    for target in (Path("."), Path(".."), work, Path("/")):
        with pytest.raises(WriteError, match="give jcnrc a folder of its own"):
            write_tree(FILES, target)
    assert list(work.iterdir()) == []


def test_a_file_in_place_of_the_output_folder_is_refused(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(WriteError, match="exists and is not a folder"):
        write_tree(FILES, tmp_path / "out")


# --- the real command, killed or stopped mid-write -------------------------------------------------

# `python -m jcnrc ARGS` with the writer's test hook turned from a pause into an event. The hook
# (JCNRC_TEST_SLOW_WRITE) calls the writer's `time.sleep` before each file of the new tree; here
# that call counts files instead, and before file number STOP_AT the build either kills itself
# with SIGKILL ("kill") or writes "paused" to the file descriptor REPORT and waits for a line on
# its stdin ("pause"). So a test knows exactly where the build is, on any machine, with no sleep.
_STOPPING_BUILD = r"""
import os, runpy, signal, sys, time
from jcnrc.output import write

action, stop_at, report = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seen = 0


class WriterClock:
    def __getattr__(self, name):
        return getattr(time, name)

    def sleep(self, seconds):
        global seen
        seen += 1
        if seen != stop_at:
            return
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        os.write(report, b"paused\n")
        os.close(report)
        sys.stdin.readline()


write.time = WriterClock()
sys.argv = ["jcnrc", *sys.argv[4:]]
runpy.run_module("jcnrc", run_name="__main__", alter_sys=True)
"""


def _intent(tmp_path: Path) -> Path:
    folder = tmp_path / "intent"
    folder.mkdir()
    intent = folder / AKS.name
    shutil.copy(AKS, intent)
    shutil.copy(AKS.with_name("aks-evpn-type5.lock.json"), intent.with_name("aks-evpn-type5.lock.json"))
    return intent


def _build_in_process(intent: Path, out: Path) -> None:
    """The output a previous `jcnrc build INTENT -o OUT` left, made by the library: the setup of a
    test about what the command does next."""
    from jcnrc.pipeline import Options, compile_intent

    result = compile_intent(intent, Options(output=out), display_name=str(intent))
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    write_tree(result.files, out, inputs=(intent,))


def _jcnrc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*JCNRC, *args], capture_output=True, text=True, timeout=HANG_GUARD)


class StoppedBuild:
    """`jcnrc build` run by _STOPPING_BUILD; as a context manager it never outlives the test."""

    def __init__(self, action: str, stop_at: int, *args: str) -> None:
        self.report, report_end = os.pipe()
        self.process = subprocess.Popen([sys.executable, "-c", _STOPPING_BUILD, action, str(stop_at), str(report_end), *args],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        pass_fds=(report_end,), env={**os.environ, SLOW_WRITE_ENV: "1"})
        os.close(report_end)

    def wait_until_paused(self) -> None:
        """Block until the build stands before its file; fail if it ended instead."""
        ready, _, _ = select.select([self.report], [], [], HANG_GUARD)
        said = os.read(self.report, 64) if ready else b""
        if said != b"paused\n":
            self.process.kill()
            pytest.fail(f"the build never reached its pause: {self.process.communicate(timeout=HANG_GUARD)}")

    def go_on(self) -> tuple[int, str]:
        _, stderr = self.process.communicate("go\n", timeout=HANG_GUARD)
        return self.process.returncode, stderr

    def wait(self) -> int:
        self.process.communicate(timeout=HANG_GUARD)
        return self.process.returncode

    def __enter__(self) -> StoppedBuild:
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        os.close(self.report)


def _hold_the_build_lock(out: Path):
    """The build lock of `out`, taken as the writer takes it (an exclusive flock on
    `.<name>.jcnrc-lock` next to the folder), by hand so that the file's name and the kind of
    lock are pinned here too. Raises BlockingIOError while a build holds it."""
    import fcntl

    fd = os.open(out.parent / f".{out.name}.jcnrc-lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def test_a_build_killed_mid_write_leaves_the_old_output_exactly_and_the_next_build_recovers(tmp_path):
    intent = _intent(tmp_path)
    out = tmp_path / "out" / "aks"
    _build_in_process(intent, out)
    before = snapshot(out)
    intent.write_text(intent.read_text().replace("image: ubuntu:20.04", "image: ubuntu:22.04"))
    with StoppedBuild("kill", 4, "build", str(intent), "-o", str(out)) as killed:  # killed before its 4th file
        assert killed.wait() == -signal.SIGKILL
    [staging] = out.parent.glob(f".{out.name}.new-*")  # killed mid-write: the half-written tree is left beside the output
    assert sum(1 for p in staging.rglob("*") if p.is_file()) == 3
    assert snapshot(out) == before
    again = _jcnrc("build", str(intent), "-o", str(out))
    assert again.returncode == 0, again.stderr
    assert leftovers(out) == []
    assert "image: ubuntu:22.04" in (out / "manifests/deployment-ubuntu-du11.yaml").read_text()
    assert snapshot(out)["manifests/clusterrole-crpd.yaml"] == before["manifests/clusterrole-crpd.yaml"]  # unchanged: kept


def test_two_commands_building_into_one_folder_cannot_interleave(tmp_path):
    """A build holds the lock while it writes; a second build meanwhile stops with exit 2 and writes nothing."""
    intent = _intent(tmp_path)
    out = tmp_path / "out" / "aks"
    with StoppedBuild("pause", 4, "build", str(intent), "-o", str(out)) as first:
        first.wait_until_paused()
        with pytest.raises(BlockingIOError):
            os.close(_hold_the_build_lock(out))
        second = _jcnrc("build", str(intent), "-o", str(out))
        assert second.returncode == 2, second.stderr
        assert f"jcnrc: error: another jcnrc build is writing {out}" in second.stderr
        assert not out.exists()
        code, stderr = first.go_on()
        assert code == 0, stderr
    assert leftovers(out) == [] and (out / "README.md").is_file()


def test_a_build_refuses_a_folder_whose_lock_is_held_and_writes_nothing(tmp_path):
    intent = _intent(tmp_path)
    out = tmp_path / "out" / "aks"
    out.parent.mkdir(parents=True)
    held = _hold_the_build_lock(out)
    try:
        refused = _jcnrc("build", str(intent), "-o", str(out))
    finally:
        os.close(held)
    assert refused.returncode == 2, refused.stderr
    assert f"jcnrc: error: another jcnrc build is writing {out}; wait for it to finish" in refused.stderr
    assert not out.exists() and leftovers(out) == []
    assert _jcnrc("build", str(intent), "-o", str(out)).returncode == 0  # released: the next build runs


def test_a_failed_build_writes_nothing(tmp_path):
    intent = _intent(tmp_path)
    out = tmp_path / "out" / "aks"
    _build_in_process(intent, out)
    before = snapshot(out)
    intent.write_text(intent.read_text().replace("role: master", "role: chief"))
    failed = _jcnrc("build", str(intent), "-o", str(out))
    assert failed.returncode == 1
    assert "role" in failed.stderr
    assert snapshot(out) == before and leftovers(out) == []
    fresh = tmp_path / "out" / "never"
    assert _jcnrc("build", str(intent), "-o", str(fresh)).returncode == 1
    assert not fresh.exists()
