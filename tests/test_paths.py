"""File names: nothing in an intent, and nothing planted in the output folder, leads a build outside it.

* Every path jcnrc renders is a plain relative path (``jcnrc.output.write.safe_relative_path``), for the
  bundled examples, for generated intents and for the longest names the checks allow.
* Names that flow into paths (topology, namespace, node, VRF, pod) cannot carry ``..``, ``/``,
  NUL, absolute paths or reserved names: the checks refuse them with a diagnostic at the field.
* ``write_tree`` refuses bad paths before it touches anything, refuses an output folder that is
  a symbolic link unless asked, and never writes, reads or copies through links planted inside
  or next to the output folder (a pull request controls those files too).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import EXAMPLES
from jcnrc.output import write
from jcnrc.output.write import WriteError, check_paths, plan_changes, safe_relative_path, unified_diff, write_tree
from strategies import compile_data, example_intent, set_at, valid_intents

# ----------------------------------------------------------------------------- safe_relative_path

BAD_PATHS = [
    "",
    "/etc/passwd",
    "..",
    ".",
    "../x",
    "a/../../x",
    "a/..",
    "./a",
    "a/./b",
    "a//b",
    "a/",
    "a\\b",
    "C:\\Windows\\x",
    "a\0b",
    "a\nb",
    "a\x1bb",
    "-rf",
    "a/-x",
    "x" * 256,
    ".jcnrc-owned",
]


@pytest.mark.parametrize("path", BAD_PATHS, ids=repr)
def test_safe_relative_path_refuses(path):
    with pytest.raises(WriteError, match="refusing to write"):
        safe_relative_path(path)


@pytest.mark.parametrize("path", ["README.md", "manifests/pod-a.yaml", "nodes/n1.example.com/node-n1.example.com.json",
                                  "a" * 255, "x/.gitignore", "é/中文.txt"])
def test_safe_relative_path_accepts_plain_relative_paths(path):
    assert safe_relative_path(path) == PurePosixPath(path)


@pytest.mark.parametrize("path", ["a\x7fb", "a\x85b", "a\x9bb", "x/\x80", "\x9f.yaml"], ids=repr)
def test_safe_relative_path_refuses_del_and_c1_controls(path):
    with pytest.raises(WriteError, match="control characters"):
        safe_relative_path(path)


@pytest.mark.parametrize("path", [
    "a\u2028b", "a\u2029b",                                   # line and paragraph separators
    "pod-\u202egnp.yaml", "a\u202ab", "a\u2066b", "a\u2069b",  # bidi overrides and isolates
    "a\u200eb", "a\u200fb", "a\u061cb",                        # bidi marks
    "a\u200bb", "a\u200db", "a\ufeffb", "a\u00adb",            # zero-width characters, BOM, soft hyphen
    "a\U000e0041b",                                            # tag characters
    "a\ud800b", "x/\udcff.json",                              # unpaired surrogates: no UTF-8 for them
], ids=repr)
def test_safe_relative_path_refuses_invisible_and_layout_characters(path):
    with pytest.raises(WriteError, match="refusing to write"):
        safe_relative_path(path)


@pytest.mark.parametrize("path", ["a<b", "a>b", "a:b", 'a"b', "a|b", "a?b", "a*b", "x/y:z.json",
                                  "a.", "a ", "x/a./b", "x/ a /b", "...", "x/.. "], ids=repr)
def test_safe_relative_path_refuses_what_windows_cannot_check_out(path):
    with pytest.raises(WriteError, match="refusing to write"):
        safe_relative_path(path)


@pytest.mark.parametrize("path", [".git", "x/.git/config", ".GIT/hooks/pre-commit", "x/Git~1/x"], ids=repr)
def test_safe_relative_path_refuses_git_folders(path):
    with pytest.raises(WriteError, match="git's own folder"):
        safe_relative_path(path)


@pytest.mark.parametrize("path", ["é" * 128, "x/" + "中" * 85 + ".y"], ids=lambda p: f"{len(p.encode())}B")
def test_safe_relative_path_counts_the_length_of_a_component_in_bytes(path):
    assert len(path) < 255
    with pytest.raises(WriteError, match="too long"):
        safe_relative_path(path)
    safe_relative_path("é" * 127)  # 254 bytes


@pytest.mark.parametrize("path", [
    "state/nul.json", "nodes/con/node-con.json", "aux", "com1.txt", "x/LPT1",
    "PRN", "Nul", "nUl.tar.gz", "con.example.com/x", "nul .json", "com9", "lpt0.log", "COM\u00b9", "lpt\u00b3.txt",
    "conin$", "CONOUT$.x", "x/aux/y", "nul.", "con ",
], ids=repr)
def test_safe_relative_path_refuses_windows_device_names(path):
    with pytest.raises(WriteError):
        safe_relative_path(path)


@pytest.mark.parametrize("path", ["console.json", "nodes/connie/x", "auxiliary", "com10", "lpt", "x/nul-1.json",
                                  "comx", "a.con", "null", "conin", "x/prn_1"], ids=repr)
def test_names_that_only_look_like_windows_device_names_are_fine(path):
    assert safe_relative_path(path) == PurePosixPath(path)


@settings(max_examples=1000)  # derandomized: the same thousand paths every run
@given(path=st.text(st.sampled_from(list("/.- ~aceglmnoprstuxCGLNOPTUX19:\\<\x7f\x1f$")), max_size=14)
            | st.text(st.characters(max_codepoint=127), max_size=20))
def test_the_quick_path_check_lets_through_only_what_the_close_one_accepts(path):
    """safe_relative_path skips its close checks for ASCII paths in which one search finds nothing."""
    if write._SUSPECT.search(path):
        return
    write._check_path_closely(path)  # must not raise


def test_check_paths_refuses_case_and_file_folder_collisions():
    with pytest.raises(WriteError, match="case-insensitive"):
        check_paths(["a/README.md", "a/readme.md"])
    with pytest.raises(WriteError, match="also written as a file"):
        check_paths(["nodes", "nodes/x.json"])
    check_paths(["nodes/a.json", "nodes/b.json", "state/a.json"])
    with pytest.raises(WriteError, match="'Nodes' is also written as a file"):
        check_paths(["Nodes", "nodes/x.json"])  # one file and one folder on case-insensitive file systems
    with pytest.raises(WriteError, match="case-insensitive"):
        check_paths(["caf\u00e9.yaml", "cafe\u0301.yaml"])  # NFC and NFD: one name on macOS


# ----------------------------------------------------------------------------- rendered paths


def assert_paths_stay_inside(files: dict[str, str], out_dir: Path) -> None:
    check_paths(files)
    root = os.path.normpath(out_dir)
    for path in files:
        resolved = os.path.normpath(os.path.join(root, path))
        assert resolved.startswith(root + os.sep), path


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("target", ["platter", "jcnr"])
def test_every_rendered_path_of_the_examples_is_safe(example, target, tmp_path):
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load(example.read_text(encoding="utf-8"))
    data["target"] = target
    if target == "jcnr":  # JCNR's data path, which only the walkthrough example writes
        data["cluster"].setdefault("fabricInterface", "eth1")
        for i, node in enumerate(data["nodes"]):
            node.setdefault("fabricAddress", f"10.250.0.{10 + i}")
    result = compile_data(data, tmp_path / "intent")
    assert result.ok and result.files
    assert_paths_stay_inside(result.files, tmp_path / "out")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(intent=valid_intents())
def test_every_rendered_path_of_generated_intents_is_safe(intent, tmp_path_factory):
    result = compile_data(intent, tmp_path_factory.mktemp("intent"))
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    assert_paths_stay_inside(result.files, Path("/out"))


def _longest_node_name() -> str:
    """A DNS-1123 subdomain of the full 253 characters: three 63-character labels and one of 61."""
    return ".".join(["a" * 63] * 3 + ["b" * 61])


def test_the_longest_valid_node_name_still_gives_writable_paths(tmp_path):
    name = _longest_node_name()
    assert len(name) == 253
    data = example_intent()
    set_at(data, ("nodes", 1, "name"), name)
    set_at(data, ("pods", 0, "node"), name)
    result = compile_data(data, tmp_path / "intent")
    if not result.ok:  # refusing the name is as good as writing it: the diagnostic must point at it
        assert any(d.path[:3] == ("nodes", 1, "name") for d in result.diagnostics if d.is_error)
        return
    assert_paths_stay_inside(result.files, tmp_path / "out")


# Names that flow into file names, each with the places that must repeat it.
PATH_NAMES = {
    "metadata.name": [("metadata", "name")],
    "metadata.namespace": [("metadata", "namespace")],
    "node name": [("nodes", 1, "name"), ("pods", 0, "node")],
    "VRF name": [("vrfs", 0, "name"), ("pods", 0, "networks", 0, "vrf"), ("pods", 1, "networks", 0, "vrf")],
    "pod name": [("pods", 0, "name"), ("expect", 0, "reach", 0)],
}
PATH_ATTACKS = ["..", ".", "../../etc", "a/b", "/abs", "a\0b", "-rf", ".hidden", "a\\b", "x" * 300, "a\nb", "~root"]


@pytest.mark.parametrize("attack", PATH_ATTACKS, ids=repr)
@pytest.mark.parametrize("field", sorted(PATH_NAMES))
def test_names_that_become_file_names_cannot_leave_the_output_folder(field, attack, tmp_path):
    data = example_intent()
    for path in PATH_NAMES[field]:
        set_at(data, path, attack)
    result = compile_data(data, tmp_path / "intent")
    if result.ok:
        assert_paths_stay_inside(result.files, tmp_path / "out")
        return
    at_field = [d for d in result.diagnostics if d.is_error and any(d.path[: len(p)] == p for p in PATH_NAMES[field])]
    assert at_field, [(d.code, d.path, d.message) for d in result.diagnostics if d.is_error]
    assert all(d.code.startswith("JCN") for d in at_field)


# ----------------------------------------------------------------------------- write_tree


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under `folder` (links by target, files by content), without following links."""
    found: dict[str, bytes | str] = {}
    if not os.path.lexists(folder):
        return found
    for root, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = Path(root) / name
            key = path.relative_to(folder).as_posix()
            if path.is_symlink():
                found[key] = "-> " + os.readlink(path)
            elif path.is_file():
                found[key] = path.read_bytes()
            else:
                found[key] = "<dir>"
    return found


@pytest.mark.parametrize("bad", ["../escape.txt", "/tmp/jcnrc-abs.txt", "a/../../escape.txt", "ok/\0.txt", ".jcnrc-owned"],
                         ids=repr)
def test_write_tree_refuses_a_bad_path_before_touching_anything(bad, tmp_path):
    out = tmp_path / "repo" / "out" / "topo"
    write_tree({"README.md": "old\n"}, out)
    before = snapshot(tmp_path)
    with pytest.raises(WriteError, match="refusing"):
        write_tree({"README.md": "new\n", bad: "evil\n"}, out)
    assert snapshot(tmp_path) == before
    assert not Path("/tmp/jcnrc-abs.txt").exists()


def test_write_tree_creates_nothing_when_a_path_is_bad(tmp_path):
    out = tmp_path / "fresh" / "topo"
    with pytest.raises(WriteError):
        write_tree({"../x": "x\n"}, out)
    assert not (tmp_path / "fresh").exists()


def test_an_output_folder_that_is_a_symlink_is_refused_unless_allowed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep\n")
    link = tmp_path / "out"
    link.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(WriteError, match="symbolic link"):
        write_tree({"README.md": "x\n"}, link)
    assert snapshot(elsewhere) == {"keep.txt": b"keep\n"}

    # Allowed, the link leads to a folder that must still be jcnrc's alone: keep.txt is not (issue 13;
    # it used to be carried over).
    with pytest.raises(WriteError, match=r"it holds keep.txt, which jcnrc did not write"):
        write_tree({"README.md": "x\n"}, link, allow_symlink=True)
    assert snapshot(elsewhere) == {"keep.txt": b"keep\n"}
    (elsewhere / "keep.txt").unlink()
    write_tree({"README.md": "x\n"}, link, allow_symlink=True)
    assert link.is_symlink() and (elsewhere / "README.md").read_text() == "x\n"


@pytest.mark.parametrize("out", ["/", "."])
def test_the_root_or_the_current_folder_is_never_the_output_folder(out, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "precious.txt").write_text("precious\n")
    with pytest.raises(WriteError, match="refusing to use"):
        write_tree({"README.md": "x\n"}, Path(out))
    assert snapshot(tmp_path) == {"precious.txt": b"precious\n"}


def test_a_folder_planted_as_a_symlink_inside_the_output_is_not_written_through(tmp_path):
    out = tmp_path / "repo" / "out" / "topo"
    write_tree({"README.md": "a\n"}, out)
    outside = tmp_path / "outside"
    outside.mkdir()
    (out / "manifests").symlink_to(outside, target_is_directory=True)
    with pytest.raises(WriteError, match="refusing to overwrite"):
        write_tree({"README.md": "a\n", "manifests/pod.yaml": "kind: Pod\n"}, out)
    assert snapshot(outside) == {}


def test_a_file_replaced_by_a_symlink_is_replaced_again_not_written_through(tmp_path):
    out = tmp_path / "repo" / "out" / "topo"
    write_tree({"README.md": "a\n"}, out)
    victim = tmp_path / "victim.txt"
    victim.write_text("victim\n")
    (out / "README.md").unlink()
    (out / "README.md").symlink_to(victim)
    write_tree({"README.md": "b\n"}, out)
    assert victim.read_text() == "victim\n"
    assert not (out / "README.md").is_symlink() and (out / "README.md").read_text() == "b\n"


def test_a_planted_owned_list_cannot_make_diff_read_files_outside(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET\n")
    out = tmp_path / "repo" / "out" / "topo"
    write_tree({"README.md": "a\n"}, out)
    (out / ".jcnrc-owned").write_text(f"README.md\n../../../secret.txt\n{secret}\n")
    changes = plan_changes({"README.md": "a\n"}, out)
    assert [c.path for c in changes if c.kind == "removed"] == []
    assert "TOP-SECRET" not in unified_diff({"README.md": "a\n"}, out)


def test_a_planted_leftover_link_does_not_pull_outside_files_into_the_output(tmp_path):
    outside = tmp_path / "home" / ".ssh"
    outside.mkdir(parents=True)
    (outside / "id_rsa").write_text("PRIVATE KEY\n")
    out = tmp_path / "repo" / "out" / "topo"
    out.parent.mkdir(parents=True)
    (out.parent / ".topo.old-1").symlink_to(outside, target_is_directory=True)
    write_tree({"README.md": "a\n"}, out)
    assert sorted(snapshot(out)) == [".jcnrc-owned", "README.md"]
    assert not any(p.is_symlink() for p in out.parent.iterdir()), sorted(p.name for p in out.parent.iterdir())


@pytest.mark.parametrize("name", [".topo.old-1", ".topo.old-99999", ".topo.new-abc12345"])
@pytest.mark.parametrize("existing", [False, True], ids=["no-output", "output-exists"])
def test_a_planted_leftover_link_is_removed_and_never_followed(name, existing, tmp_path):
    outside = tmp_path / "home" / "folder"
    outside.mkdir(parents=True)
    (outside / "id_rsa").write_text("PRIVATE KEY\n")
    (outside / ".jcnrc-owned").write_text("id_rsa\n")  # looking like jcnrc's output does not help
    out = tmp_path / "repo" / "out" / "topo"
    if existing:
        write_tree({"README.md": "a\n"}, out)
    else:
        out.parent.mkdir(parents=True)
    before = snapshot(outside)
    (out.parent / name).symlink_to(outside, target_is_directory=True)
    write_tree({"README.md": "b\n"}, out)
    assert sorted(snapshot(out)) == [".jcnrc-owned", "README.md"] and not out.is_symlink()
    assert snapshot(outside) == before  # neither moved, emptied nor written through
    assert sorted(p.name for p in out.parent.iterdir()) == [".topo.jcnrc-lock", "topo"]


@pytest.mark.parametrize("name", [".topo.old-1", ".topo.new-abc12345"])
def test_a_planted_leftover_file_is_not_put_in_place_of_the_output(name, tmp_path):
    out = tmp_path / "repo" / "out" / "topo"
    out.parent.mkdir(parents=True)
    (out.parent / name).write_text("planted\n")
    write_tree({"README.md": "a\n"}, out)
    assert out.is_dir() and sorted(snapshot(out)) == [".jcnrc-owned", "README.md"]
    assert sorted(p.name for p in out.parent.iterdir()) == [".topo.jcnrc-lock", "topo"]


def test_only_leftovers_named_exactly_as_jcnrc_names_them_are_touched(tmp_path):
    out = tmp_path / "repo" / "out" / "topo"
    out.parent.mkdir(parents=True)
    for name in (".topo.old-x", ".topo.old-1.bak", ".top.old-1", ".topo.old-"):
        (out.parent / name).mkdir()
        (out.parent / name / "keep.txt").write_text("keep\n")
    write_tree({"README.md": "a\n"}, out)
    assert sorted(snapshot(out)) == [".jcnrc-owned", "README.md"]
    for name in (".topo.old-x", ".topo.old-1.bak", ".top.old-1", ".topo.old-"):
        assert (out.parent / name / "keep.txt").read_text() == "keep\n"


def test_a_folder_planted_as_a_link_is_not_read_through_by_diff(tmp_path):
    """A planted folder link with a planted owned list naming files behind it: neither the plan
    nor the diff reads them (`jcnrc diff` and `build --check` print diffs into CI logs)."""
    outside = tmp_path / "home" / ".ssh"
    outside.mkdir(parents=True)
    (outside / "id_rsa").write_text("TOP-SECRET\n")
    out = tmp_path / "repo" / "out" / "topo"
    write_tree({"README.md": "a\n"}, out)
    (out / "keys").symlink_to(outside, target_is_directory=True)
    (out / ".jcnrc-owned").write_text("README.md\nkeys\nkeys/id_rsa\n")
    for files in ({"README.md": "a\n"}, {"README.md": "a\n", "keys/id_rsa": "x\n"}):
        changes = plan_changes(files, out)
        assert ("keys/id_rsa", "removed") not in [(c.path, c.kind) for c in changes]
        assert ("keys/id_rsa", "changed") not in [(c.path, c.kind) for c in changes]
        assert "TOP-SECRET" not in unified_diff(files, out)
    write_tree({"README.md": "a\n", "keys/id_rsa": "x\n"}, out)  # "keys" was listed as owned: replaced
    assert not (out / "keys").is_symlink() and (out / "keys/id_rsa").read_text() == "x\n"
    assert (outside / "id_rsa").read_text() == "TOP-SECRET\n" and (outside / "id_rsa").stat().st_nlink == 1


def test_a_planted_lock_link_creates_nothing_outside(tmp_path):
    victim = tmp_path / "etc" / "nologin"
    victim.parent.mkdir()
    out = tmp_path / "repo" / "out" / "topo"
    out.parent.mkdir(parents=True)
    (out.parent / ".topo.jcnrc-lock").symlink_to(victim)
    with contextlib.suppress(WriteError):  # refusing the build is fine; creating the file is not
        write_tree({"README.md": "a\n"}, out)
    assert not victim.exists()
