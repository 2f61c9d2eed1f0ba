"""Issue 13, findings 2, 7 and 8: what a repository can plant around the intent and the output
folder must not make a build write, read or delete anything outside them.

* 2: the lock file is written atomically (temporary file, rename) and never through a link planted
  under its name; a planted link is not read either (JCN520) and is replaced by the build itself.
* 7: a lock file of any content ends in a JCN520 warning, never in an internal error or a
  diagnostic blamed on the intent; a value from the lock that is not exactly valid never reaches
  the output.
* 8: the output path holds no link inside the current folder; a mount point inside the output
  folder is never entered nor emptied; a folder that holds anything jcnrc did not write (a .git,
  the intent) is refused; sops reads the previous Secret without following links, byte for byte.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HANG_GUARD, JCNRC, ROOT
from jcnrc.intent.load import Limits
from jcnrc.output import write
from jcnrc.output.write import OWNED_LIST, WriteError, plan_changes, unified_diff, write_tree
from jcnrc.pipeline import Options, analyse, compile_intent, read_lock
from jcnrc.plan.allocate import Lock, allocate

ALLOCATED = ROOT / "examples" / "allocated.yaml"
FILES = {"README.md": "# demo\n", "manifests/pod-a.yaml": "kind: Pod\n", "nodes/n1/node-n1.json": "{}\n"}


def snapshot(folder: Path) -> dict[str, tuple]:
    state = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        info = path.lstat()
        if path.is_symlink():
            state[relative] = ("link", os.readlink(path))
        elif path.is_dir():
            state[relative] = ("dir", info.st_ino)
        else:
            state[relative] = ("file", path.read_bytes(), info.st_ino)
    return state


def intent_copy(folder: Path, source: Path = ALLOCATED, with_lock: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    intent = folder / source.name
    shutil.copy(source, intent)
    if with_lock:
        shutil.copy(source.with_name(source.stem + ".lock.json"), folder / (source.stem + ".lock.json"))
    return intent


def jcnrc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "CRPD_ROOT_PASSWORD": "root-password-1", "CRPD_LICENSE": "licence-text-1"}
    return subprocess.run([*JCNRC, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=HANG_GUARD)


def assert_one_line_error(run: subprocess.CompletedProcess, *fragments: str) -> None:
    assert run.returncode == 2, (run.stdout, run.stderr)
    lines = [line for line in run.stderr.splitlines() if line.startswith("jcnrc:")]
    assert len(lines) == 1 and lines[0].startswith("jcnrc: error: "), run.stderr
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    for fragment in fragments:
        assert fragment in lines[0], run.stderr


def lock_text(**sections) -> str:
    return json.dumps({"apiVersion": "jcnrc/v1", "kind": "AllocationLock", **sections})


def warnings_of(result, code: str) -> list[str]:
    return [d.message for d in result.diagnostics if d.code == code]


# --- finding 2: the lock file is written and read without following a link ---------------------

def test_a_lock_file_planted_as_a_link_is_neither_read_nor_written_through(tmp_path):
    repo = tmp_path / "repo"
    intent = intent_copy(repo, with_lock=False)
    victim = tmp_path / "victim.json"
    # A valid lock with other values: followed, it would move red's route distinguisher to 7.
    planted = json.loads(ALLOCATED.with_name("allocated.lock.json").read_text())
    planted["routeDistinguishers"]["red"] = 7
    victim.write_text(json.dumps(planted))
    before = victim.read_bytes()
    lock = repo / "allocated.lock.json"
    lock.symlink_to(victim)
    run = jcnrc("build", intent.name, "-o", "out/allocated", cwd=repo)
    assert run.returncode == 0, run.stderr
    assert "JCN520" in run.stderr and "symbolic link" in run.stderr
    assert victim.read_bytes() == before  # the target is untouched
    assert not lock.is_symlink() and lock.is_file()  # the link itself was replaced
    written = Lock.from_json(lock.read_text())
    assert written.route_distinguishers["red"] == 1
    assert written == Lock.from_json(ALLOCATED.with_name("allocated.lock.json").read_text())
    assert "JCN520" not in jcnrc("build", intent.name, "-o", "out/allocated", cwd=repo).stderr


def test_the_lock_file_is_replaced_by_a_rename_so_a_reader_sees_the_old_or_the_new_file(tmp_path):
    repo = tmp_path / "repo"
    intent = intent_copy(repo)
    lock = repo / "allocated.lock.json"
    before = lock.read_bytes()
    before_inode = lock.stat().st_ino
    # Another pod without addresses: the lock gains a subnet and a MAC.
    pod = "  - name: cu-2\n    node: ip-192-168-1-11.ec2.internal\n"
    assert pod in intent.read_text()
    intent.write_text(intent.read_text().replace(pod, pod.replace("cu-2", "cu-3") + "    image: docker.io/library/alpine:3.20\n"
                                                 "    networks:\n      - {vrf: blue}\n" + pod))
    with open(lock, "rb") as reader:
        run = jcnrc("build", intent.name, "-o", "out/allocated", cwd=repo)
        assert run.returncode == 0, run.stderr
        assert reader.read() == before  # the old file, whole: it was not truncated and rewritten
    assert lock.stat().st_ino != before_inode and "cu-3/net1" in lock.read_text()
    assert sorted(p.name for p in repo.iterdir() if "allocated.lock" in p.name) == ["allocated.lock.json"]


def test_a_lock_write_that_fails_leaves_the_old_lock_whole_and_no_temporary_file(tmp_path, monkeypatch):
    lock = tmp_path / "t.lock.json"
    lock.write_text("old\n")

    def failing_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(WriteError, match=r"cannot write .*t\.lock\.json: Input/output error; it is unchanged"):
        write.replace_file(lock, b"new\n")
    assert lock.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["t.lock.json"]


def test_replace_file_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    lock = tmp_path / "t.lock.json"
    lock.write_text("old\n")
    lock.chmod(0o600)
    write.replace_file(lock, b"new\n")
    assert lock.read_text() == "new\n" and lock.stat().st_mode & 0o777 == 0o600


def test_a_lock_path_that_cannot_be_written_is_a_one_line_error_not_an_internal_error(tmp_path):
    repo = tmp_path / "repo"
    intent = intent_copy(repo, with_lock=False)
    (repo / "allocated.lock.json").mkdir()
    run = jcnrc("build", intent.name, "-o", "out/allocated", cwd=repo)
    assert_one_line_error(run, "allocated.lock.json")
    assert "JCN520" in run.stderr


# --- finding 7: hostile lock content ------------------------------------------------------------

HOSTILE_LOCKS = {
    "subnets-a-list": '{"kind":"AllocationLock","subnets":[1]}',
    "nested-100k": '{"kind":"AllocationLock","nodes":' + '{"a":' * 100_000 + "1" + "}" * 100_000 + "}",
    "list-nested-100k": "[" * 100_000 + "]" * 100_000,
    "node-index-1e40": lock_text(nodes={"ip-192-168-1-10.ec2.internal": 10**40}),
    "node-index-negative": lock_text(nodes={"ip-192-168-1-10.ec2.internal": -1}),
    "node-index-bool": lock_text(nodes={"ip-192-168-1-10.ec2.internal": True}),
    "node-index-float": lock_text(nodes={"ip-192-168-1-10.ec2.internal": 1.0}),
    "vni-a-string": lock_text(vnis={"red": "10000"}),
    "vni-beyond-24-bits": lock_text(vnis={"red": 1 << 24}),
    "rd-beyond-16-bits": lock_text(routeDistinguishers={"red": 70000}),
    "mac-trailing-newline": lock_text(macs={"cu-1/net1": "02:00:00:00:01:01\n"}),
    "mac-not-a-mac": lock_text(macs={"cu-1/net1": "02:00:00:00:01"}),
    "subnet-trailing-newline": lock_text(subnets={"cu-1/net1": {"ipv4": "10.20.0.8/30\n"}}),
    "subnet-host-bits": lock_text(subnets={"cu-1/net1": {"ipv4": "10.20.0.9/30"}}),
    "subnet-wrong-family": lock_text(subnets={"cu-1/net1": {"ipv4": "fd00:10::8/126"}}),
    "subnet-unknown-family": lock_text(subnets={"cu-1/net1": {"ipv5": "10.20.0.8/30"}}),
    "a-number-of-5000-digits": '{"kind":"AllocationLock","nodes":{"a":' + "1" * 5000 + "}}",
    "not-utf8": '{"kind":"AllocationLock","comment":"\xff"}',
    "unknown-section": lock_text(extra={}),
}


@pytest.mark.parametrize("content", HOSTILE_LOCKS.values(), ids=HOSTILE_LOCKS.keys())
def test_a_hostile_lock_is_ignored_with_jcn520_and_the_build_goes_on(content, tmp_path):
    intent = intent_copy(tmp_path / "repo")
    lock = tmp_path / "repo" / "allocated.lock.json"
    lock.write_bytes(content.encode("latin-1") if "\xff" in content else content.encode())
    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": "root-password-1", "CRPD_LICENSE": "licence-1"}))
    assert [d.code for d in result.diagnostics if d.is_error] == []
    [message] = warnings_of(result, "JCN520")
    assert "cannot be read" in message and "\n" not in message
    # As if there were no lock: the values are allocated afresh, here the same as the committed lock's.
    assert result.lock == Lock.from_json(ALLOCATED.with_name("allocated.lock.json").read_text())
    for text in result.files.values():
        assert "02:00:00:00:01:01" not in text and "10.20.0.8/30\n" not in text and "10.20.0.9" not in text


@pytest.mark.parametrize("name", ["subnets-a-list", "nested-100k", "node-index-1e40"])
def test_the_command_warns_about_a_hostile_lock_instead_of_failing_internally(name, tmp_path):
    repo = tmp_path / "repo"
    intent = intent_copy(repo)
    (repo / "allocated.lock.json").write_text(HOSTILE_LOCKS[name])
    run = jcnrc("check", intent.name, cwd=repo)
    assert run.returncode == 0, run.stderr
    assert "warning[JCN520]" in run.stderr and "internal error" not in run.stderr and "JCN510" not in run.stderr


def test_a_locked_mac_with_a_trailing_line_break_never_reaches_the_allocation():
    from jcnrc.intent.check import check
    from jcnrc.intent.load import load_file

    loaded = load_file(ALLOCATED, "allocated.yaml")
    topology = check(loaded.data).topology
    result = allocate(topology, Lock(macs={"cu-1/net1": "02:00:00:00:01:01\n"}))
    assert result.mac["cu-1/net1"] != "02:00:00:00:01:01\n" and not result.mac["cu-1/net1"].endswith("\n")
    assert result.mac["cu-1/net1"] == Lock.from_json(ALLOCATED.with_name("allocated.lock.json").read_text()).macs["cu-1/net1"]


def test_a_locked_node_index_outside_the_srgb_is_replaced_not_blamed_on_the_intent(tmp_path):
    intent = intent_copy(tmp_path / "repo")
    lock = tmp_path / "repo" / "allocated.lock.json"
    body = json.loads(lock.read_text())
    body["nodes"]["ip-192-168-1-12.ec2.internal"] = 500_000  # within the schema's bound, beyond this SRGB
    lock.write_text(json.dumps(body))
    result = analyse(intent)
    assert result.ok and [d.code for d in result.diagnostics if d.code != "JCN922"] == [], [d.message for d in result.diagnostics]
    assert result.plan.nodes[2].index == 2  # the lowest index free again, not 500000


def test_a_lock_larger_than_its_limit_is_not_read_past_it(tmp_path, monkeypatch):
    lock = tmp_path / "t.lock.json"
    with open(lock, "wb") as handle:
        handle.truncate(1 << 30)  # a sparse GiB
    read = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, size: read.append(real_read(fd, size)) or read[-1])
    previous, problems = read_lock(lock, Limits(max_bytes=1000))
    monkeypatch.undo()
    assert previous is None and sum(map(len, read)) <= 4 * 1000 + 1
    [problem] = problems
    assert problem.code == "JCN520" and "larger than 4,000 bytes" in problem.message


def test_a_lock_that_is_a_pipe_is_not_opened_for_reading(tmp_path):
    lock = tmp_path / "t.lock.json"
    os.mkfifo(lock)
    previous, [problem] = read_lock(lock)  # opening a FIFO for reading would wait for a writer
    assert previous is None and "not a regular file" in problem.message


# --- finding 8: the output path has no link inside the current folder -----------------------------

def test_an_output_path_through_a_planted_folder_link_is_refused_and_nothing_is_written(tmp_path):
    repo = tmp_path / "repo"
    intent = intent_copy(repo)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (repo / "out").symlink_to(elsewhere, target_is_directory=True)
    run = jcnrc("build", intent.name, "-o", "out/t", cwd=repo)
    assert_one_line_error(run, "out is a symbolic link inside the current folder")
    assert list(elsewhere.iterdir()) == []


def test_a_link_anywhere_inside_the_current_folder_is_named(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / "real" / "deeper").mkdir(parents=True)
    (repo / "a").mkdir()
    (repo / "a" / "b").symlink_to(repo / "real", target_is_directory=True)
    monkeypatch.chdir(repo)
    for given in ("a/b/deeper/t", str(repo / "a/b/deeper/t"), "a/b/../b/deeper/t"):
        with pytest.raises(WriteError, match=r"a/b is a symbolic link inside the current folder"):
            write_tree(FILES, Path(given))
    assert snapshot(repo / "real") == {"deeper": ("dir", (repo / "real" / "deeper").stat().st_ino)}


def test_links_above_the_current_folder_are_the_users_and_are_followed(tmp_path, monkeypatch):
    real = tmp_path / "real"
    (real / "repo").mkdir(parents=True)
    (tmp_path / "user-link").symlink_to(real, target_is_directory=True)  # like /tmp -> /private/tmp on macOS
    monkeypatch.chdir(tmp_path / "user-link" / "repo")
    write_tree(FILES, Path("out/t"))
    write_tree(FILES, tmp_path / "user-link" / "repo" / "out" / "u")
    assert (real / "repo/out/t/README.md").read_text() == (real / "repo/out/u/README.md").read_text() == "# demo\n"


def test_plan_and_diff_never_read_through_a_planted_folder_link(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    elsewhere = tmp_path / "elsewhere"
    write_tree({"README.md": "TOP-SECRET\n"}, elsewhere / "t")
    (repo / "out").symlink_to(elsewhere, target_is_directory=True)
    monkeypatch.chdir(repo)
    changes = plan_changes(FILES, Path("out/t"))
    assert {c.kind for c in changes} == {"added"}
    assert "TOP-SECRET" not in unified_diff(FILES, Path("out/t"))


# --- finding 8: mount points inside the output folder ---------------------------------------------

def _other_device(monkeypatch, *paths: Path) -> None:
    """os.lstat reports another st_dev for these paths: what a mount point looks like."""
    real_lstat = os.lstat
    marked = {os.fspath(p) for p in paths}

    def lstat(path, *args, **kwargs):
        info = real_lstat(path, *args, **kwargs)
        if os.fspath(path) in marked:
            fields = list(info[:10])
            fields[2] = info.st_dev + 1
            return os.stat_result(fields)
        return info

    monkeypatch.setattr(os, "lstat", lstat)


@pytest.mark.parametrize("where", ["data", "manifests", "nodes/n1"], ids=["foreign", "owned-folder", "deeper"])
def test_a_mount_point_in_the_output_folder_stops_the_build(tmp_path, monkeypatch, where):
    out = tmp_path / "out" / "t"
    write_tree(FILES, out)
    (out / where).mkdir(exist_ok=True)
    (out / where / "on-the-mount.txt").write_text("keep\n")
    before = snapshot(out)
    _other_device(monkeypatch, out / where)
    with pytest.raises(WriteError, match=f"{where} is a mount point .*never writes, moves or deletes across"):
        write_tree({**FILES, "README.md": "# new\n"}, out)
    monkeypatch.undo()
    assert snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == [".t.jcnrc-lock", "t"]


def test_removing_a_leftover_never_crosses_a_mount_point(tmp_path, monkeypatch):
    out = tmp_path / "out" / "t"
    leftover = out.parent / ".t.new-abc12345"
    (leftover / "mounted").mkdir(parents=True)
    (leftover / "mounted" / "data.txt").write_text("keep\n")
    (leftover / "plain").mkdir()
    (leftover / "plain" / "x.txt").write_text("x\n")
    _other_device(monkeypatch, leftover / "mounted")
    write_tree(FILES, out)  # removes the leftover of an interrupted build
    monkeypatch.undo()
    assert (leftover / "mounted" / "data.txt").read_text() == "keep\n"
    assert not (leftover / "plain").exists()


def test_removing_a_deep_leftover_needs_no_recursion(tmp_path):
    leftover = tmp_path / ".t.new-deep"
    leftover.mkdir()
    depth = 1500  # deeper than Python's recursion limit
    fd = os.open(leftover, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    try:
        write._remove_tree(os.fspath(leftover))
        assert not leftover.exists()
    finally:
        # pytest's own clean-up of old temporary folders recurses, and would fail on what is left.
        for level in range(depth, -1, -1):
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(leftover, *["d"] * level))


@pytest.fixture()
def tmpfs(tmp_path):
    """A real tmpfs mounted inside an output folder, when this machine lets the tests mount."""
    out = tmp_path / "out" / "t"
    write_tree(FILES, out)
    mount_point = out / "manifests" / "mnt"
    mount_point.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8); the st_dev logic is tested with a patched lstat")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "jcnrc-test", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the st_dev logic is tested with a patched lstat")
    try:
        yield out, mount_point
    finally:
        # Wherever a build may have moved it (the bug this guards against left it under .t.new-*).
        with open("/proc/self/mounts") as mounts:
            points = [line.split()[1] for line in mounts if line.startswith("jcnrc-test ")]
        for point in points:
            if point.startswith(f"{tmp_path}/"):
                subprocess.run(["umount", "-l", point], capture_output=True)


def test_a_real_mount_point_in_the_output_folder_is_neither_emptied_nor_moved(tmpfs):
    out, mount_point = tmpfs
    (mount_point / "data.txt").write_text("on the mount\n")
    with pytest.raises(WriteError, match="manifests/mnt is a mount point"):
        write_tree({**FILES, "README.md": "# new\n"}, out)
    assert (mount_point / "data.txt").read_text() == "on the mount\n"
    assert os.path.ismount(mount_point)
    assert sorted(p.name for p in out.parent.iterdir()) == [".t.jcnrc-lock", "t"]


# --- finding 8: a folder that holds what jcnrc did not write --------------------------------------

def test_the_intents_own_folder_is_refused_as_output_and_left_as_it_was(tmp_path):
    repo = tmp_path / "repo"
    intent = intent_copy(repo)
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    before, inode = snapshot(repo), repo.stat().st_ino
    run = jcnrc("build", "repo/allocated.yaml", "-o", "repo", cwd=tmp_path)
    assert_one_line_error(run, "as the output folder: it holds repo/allocated.yaml, an input of this build")
    assert snapshot(repo) == before and repo.stat().st_ino == inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo"]
    assert intent.is_file()


def test_a_repository_root_is_refused_as_output_even_when_it_plants_an_owned_list(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git" / "objects").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / "src.py").write_text("print()\n")
    (repo / OWNED_LIST).write_text("src.py\n.git\n.git/HEAD\n")  # .git can never be listed as jcnrc's
    intent = intent_copy(tmp_path / "elsewhere")
    before, inode = snapshot(repo), repo.stat().st_ino
    run = jcnrc("build", str(intent), "-o", "repo", cwd=tmp_path)
    assert_one_line_error(run, "it holds .git, which jcnrc did not write", "give it an empty folder or one it wrote")
    assert snapshot(repo) == before and repo.stat().st_ino == inode


def test_an_empty_or_missing_folder_is_fine_and_a_rebuild_changes_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    for name in ("empty", "missing"):
        write_tree(FILES, tmp_path / name)
        before = snapshot(tmp_path / name)
        assert write_tree(FILES, tmp_path / name) == [] and snapshot(tmp_path / name) == before


def test_a_foreign_name_is_shown_on_one_line(tmp_path):
    out = tmp_path / "out" / "t"
    write_tree(FILES, out)
    (out / "evil\nname").write_text("x")
    with pytest.raises(WriteError) as raised:
        write_tree({**FILES, "README.md": "# new\n"}, out)
    assert "\n" not in str(raised.value) and "evil\\nname" in str(raised.value)


# --- finding 8: sops reads the previous Secret without following links ----------------------------

FAKE_SOPS = '''\
import sys
argv = sys.argv[1:]
with open(__import__("os").environ["FAKE_SOPS_LOG"], "a") as log:
    log.write(" ".join(argv) + "\\n")
text = sys.stdin.read()
if "--encrypt" in argv:
    sys.stdout.write("data: ENC[" + text.encode().hex() + "]\\nsops:\\n    nonce: '1'\\n")
else:
    line = next((l for l in text.splitlines() if l.startswith("data: ENC[")), None)
    if line is None:
        sys.exit(128)
    sys.stdout.write(bytes.fromhex(line[len("data: ENC["):-1]).decode())
'''
SECRET_FILE = "manifests/secret-platter-secrets.yaml"


@pytest.fixture()
def sops_intent(tmp_path):
    import yaml

    folder = tmp_path / "sops-bin"
    folder.mkdir()
    (folder / "sops").write_text(f"#!{sys.executable}\n" + FAKE_SOPS)
    (folder / "sops").chmod(0o755)
    intent = intent_copy(tmp_path / "repo")
    data = yaml.safe_load(intent.read_text())
    data["secrets"]["mode"] = "sops"
    intent.write_text(yaml.safe_dump(data, sort_keys=False))
    environ = {"PATH": f"{folder}:/usr/bin:/bin", "FAKE_SOPS_LOG": str(tmp_path / "sops.log"),
               "CRPD_ROOT_PASSWORD": "root-password-1", "CRPD_LICENSE": "licence-text-1"}
    first = compile_intent(intent, Options(environ=environ))
    assert first.ok, [d.message for d in first.diagnostics]
    (tmp_path / "sops.log").unlink()
    return intent, environ, first.files[SECRET_FILE]


@pytest.mark.parametrize("plant", ["file-link", "folder-link", "output-link"])
def test_sops_never_reads_the_previous_secret_through_a_link(sops_intent, tmp_path, monkeypatch, plant):
    intent, environ, ciphertext = sops_intent
    victim = tmp_path / "victim"
    (victim / "manifests").mkdir(parents=True)
    (victim / SECRET_FILE).write_text(ciphertext + "# the victim's file\n")  # decrypts to the same values
    monkeypatch.chdir(tmp_path / "repo")
    out = Path("out/t")
    if plant == "file-link":
        (out / "manifests").mkdir(parents=True)
        (out / SECRET_FILE).symlink_to(victim / SECRET_FILE)
    elif plant == "folder-link":
        out.mkdir(parents=True)
        (out / "manifests").symlink_to(victim / "manifests", target_is_directory=True)
    else:
        out.parent.mkdir()
        out.symlink_to(victim, target_is_directory=True)
    result = compile_intent(intent, Options(environ=environ, output=out))
    assert result.ok
    assert "victim" not in result.files[SECRET_FILE]
    assert "--decrypt" not in (tmp_path / "sops.log").read_text()


def test_sops_reuses_the_previous_secret_byte_for_byte(sops_intent, tmp_path):
    intent, environ, ciphertext = sops_intent
    out = tmp_path / "out"
    (out / "manifests").mkdir(parents=True)
    previous = ciphertext.replace("\n", "\r\n").encode()  # CR LF, as a Windows checkout may leave it
    (out / SECRET_FILE).write_bytes(previous)
    result = compile_intent(intent, Options(environ=environ, output=out))
    assert result.ok and result.files[SECRET_FILE].encode() == previous
    assert "--decrypt" in (tmp_path / "sops.log").read_text()
