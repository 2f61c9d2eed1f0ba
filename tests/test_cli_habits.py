"""Habits of kubectl/helm/terraform users the command line follows (issue 16, item 7, in part)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jcnrc import __version__


def jcnrc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jcnrc", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args", [["-h"], ["build", "-h"], ["check", "-h"], ["diff", "-h"]])
def test_dash_h_is_help(args):
    run = jcnrc(*args)
    assert run.returncode == 0 and run.stdout.startswith("Usage: "), run.stderr


def test_version_is_a_command_and_an_option():
    assert jcnrc("version").stdout == jcnrc("--version").stdout == f"jcnrc {__version__}\n"


def test_help_shows_readable_argument_names():
    usage = jcnrc("verify", "-h").stdout.splitlines()[0]
    assert "FILE" in usage and "CAPTURE..." in usage, usage


# --- issue 16, item 7: the rest ------------------------------------------------------------------

COMMANDS = ["build", "check", "diff", "routes", "explain", "impact", "verify", "graph", "schema", "init", "version"]
ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
AKS = str(ROOT / "examples" / "aks-evpn-type5.yaml")


def cli(*args: str, stdin: str | None = None):
    from typer.testing import CliRunner

    from jcnrc.cli import app

    return CliRunner().invoke(app, list(args), input=stdin)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_values_by_metavars_not_python_types(command):
    text = cli(command, "-h").output
    assert text.startswith("Usage: ")
    for python_type in ("<path>", "<str>", "<int>", "<list", "Path]"):
        assert python_type not in text, f"{command} -h shows {python_type}"


def test_shell_completion_is_offered():
    text = cli("-h").output
    assert "--install-completion" in text and "--show-completion" in text


def test_check_prints_one_line_on_success_and_reads_standard_input():
    run = cli("check", AKS)
    assert run.exit_code == 0 and run.stdout == f"{AKS}: ok, 1 warning (3 nodes, 2 pods, 1 VRF)\n"  # JCN922
    piped = cli("check", "-", stdin=(ROOT / "examples" / "aks-evpn-type5.yaml").read_text())
    assert piped.exit_code == 0 and piped.stdout.startswith("-: ok, 1 warning (3 nodes"), piped.output
    broken = cli("check", "-", stdin="apiVersion: jcnrc/v1\nkind: Topology\n")
    assert broken.exit_code == 1 and "<stdin>:" in broken.output


def test_routes_without_a_node_lists_the_nodes():
    run = cli("routes", AKS)
    assert run.exit_code == 0
    assert "aks-agentpool-23733201-vmss000000  master  10.240.0.4" in run.output
    listed = __import__("json").loads(cli("routes", AKS, "--format", "json").stdout)
    assert {"node": "aks-agentpool-23733201-vmss000001", "role": "worker", "address": "10.240.0.5"} in listed


def test_explain_has_json_and_fails_when_an_expectation_fails(tmp_path):
    import json

    import yaml

    run = cli("explain", AKS, "ubuntu-du11", "ubuntu-du22", "--format", "json")
    assert run.exit_code == 0
    data = json.loads(run.stdout)
    assert data["reachable"] and data["expectationsHold"] and data["pairs"][0]["forward"]["routeTargets"] == ["target:11:11"]
    intent = yaml.safe_load((ROOT / "examples" / "aks-evpn-type5.yaml").read_text())
    intent["expect"] = [{"isolate": ["ubuntu-du11", "ubuntu-du22"]}]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(intent))
    failing = cli("explain", str(path), "ubuntu-du11", "ubuntu-du22")
    assert failing.exit_code == 1
    assert "JCN704" in failing.output and "reachable both ways" in failing.output  # reported, and still explained


def test_the_commands_that_read_the_plan_take_the_builds_target():
    """`build --target jcnr` of a Platter intent peers over the fabric: routes, graph and verify follow it."""
    import json

    listed = json.loads(cli("routes", AKS, "--target", "jcnr", "--format", "json").stdout)
    assert {"node": "aks-agentpool-23733201-vmss000001", "role": "worker", "address": "10.240.0.5",
            "fabricAddress": "10.241.0.5"} in listed
    assert "fabric" not in cli("routes", AKS).output
    state = cli("routes", AKS, "--node", "aks-agentpool-23733201-vmss000002", "--target", "jcnr").stdout
    assert "  10.241.0.4      AS 64512  route-reflector" in state
    assert "fabric 10.241.0.4" in cli("graph", AKS, "--target", "jcnr").stdout
    for command in ("routes", "graph", "verify"):
        assert "--target" in cli(command, "-h").stdout


def test_diff_takes_quiet_like_build(tmp_path):
    """`diff -q` prints errors only, as `build -q` does: the bundled example's warnings stay out of the way."""
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for name in ("aks-evpn-type5.yaml", "aks-evpn-type5.lock.json"):
        shutil.copy(root / "examples" / name, tmp_path / name)
    intent, out = str(tmp_path / "aks-evpn-type5.yaml"), str(tmp_path / "out")
    assert jcnrc("build", intent, "-o", out, "-q").returncode == 0
    loud, quiet = jcnrc("diff", intent, "-o", out), jcnrc("diff", intent, "-o", out, "-q")
    assert loud.returncode == quiet.returncode == 0
    assert "warning[JCN922]" in loud.stderr and "warning[" not in quiet.stderr, quiet.stderr


def _build_in(folder, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jcnrc", "build", *args, "-q"], capture_output=True, text=True,
                          cwd=folder, timeout=300, input=stdin)


def _copies(folder, *names: str) -> None:
    """The AKS example (and its lock) as `folder`/<name>.yaml for each name ("site1/intent" makes a folder)."""
    import shutil

    root = __import__("pathlib").Path(__file__).resolve().parent.parent
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / "examples" / "aks-evpn-type5.yaml", folder / f"{name}.yaml")
        shutil.copy(root / "examples" / "aks-evpn-type5.lock.json", folder / f"{name}.lock.json")


def test_a_second_intent_with_the_same_name_does_not_replace_the_firsts_default_folder(tmp_path):
    """Two intents with one metadata.name share out/<name>: the second build would replace the first's
    output, and a GitOps tool would prune what the first deployed. The folder's owned-files list names
    its intent; another intent writes there only through `-o`."""
    from jcnrc.output import write

    _copies(tmp_path, "a", "b")
    out = tmp_path / "out" / "aks-evpn-type5"
    assert _build_in(tmp_path, "a.yaml").returncode == 0
    assert write.recorded_intent(out) == "a.yaml"
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    refused = _build_in(tmp_path, "b.yaml")
    assert refused.returncode == 2
    assert "holds the output of the intent a.yaml" in refused.stderr and "nothing was written" in refused.stderr
    assert "-o out/aks-evpn-type5" in refused.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    checked = _build_in(tmp_path, "b.yaml", "--check")
    assert checked.returncode == 2 and "not compared" in checked.stderr
    assert _build_in(tmp_path, "a.yaml", "--check").returncode == 0
    (tmp_path / "sub").mkdir()
    for same in ("./a.yaml", "sub/../a.yaml", str(tmp_path / "a.yaml")):  # the same intent, written otherwise
        run = _build_in(tmp_path, same, "--check")
        assert "holds the output of the intent" not in run.stderr, (same, run.stderr)
    # The operator names the folder: b takes it over, and afterwards builds and checks there as a did.
    assert _build_in(tmp_path, "b.yaml", "-o", "out/aks-evpn-type5").returncode == 0
    assert write.recorded_intent(out) == "b.yaml"
    assert _build_in(tmp_path, "b.yaml", "--check").returncode == 0
    assert _build_in(tmp_path, "b.yaml").returncode == 0


def test_intents_of_one_file_name_in_two_folders_are_told_apart(tmp_path):
    from jcnrc.output import write

    _copies(tmp_path, "site1/intent", "site2/intent")
    assert _build_in(tmp_path, "site1/intent.yaml").returncode == 0
    assert write.recorded_intent(tmp_path / "out" / "aks-evpn-type5") == "site1/intent.yaml"
    refused = _build_in(tmp_path, "site2/intent.yaml")
    assert refused.returncode == 2 and "site1/intent.yaml" in refused.stderr


def test_an_intent_the_folder_cannot_be_compared_with_is_refused_too(tmp_path):
    """Standard input, and a path jcnrc does not record, cannot show they are the folder's intent: refused, unless -o."""
    _copies(tmp_path, "a", "b:c")
    assert _build_in(tmp_path, "a.yaml").returncode == 0
    text = (tmp_path / "a.yaml").read_text()
    for args, stdin in ((["-"], text), (["b:c.yaml"], None)):
        refused = _build_in(tmp_path, *args, stdin=stdin)
        assert refused.returncode == 2 and "a name jcnrc does not record" in refused.stderr, args


def test_the_intent_line_is_never_read_through_a_linked_output_folder(tmp_path):
    """A planted link as the output folder: the build refuses the link, as before, without reading what it points to."""
    from jcnrc.output import write

    _copies(tmp_path, "a")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / write.OWNED_LIST).write_text("# Intent: secret-outside.yaml\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "aks-evpn-type5").symlink_to(elsewhere)
    assert write.recorded_intent(tmp_path / "out" / "aks-evpn-type5") is None
    refused = _build_in(tmp_path, "a.yaml")
    assert refused.returncode == 2 and "symbolic link" in refused.stderr and "secret-outside" not in refused.stderr


def test_only_a_plain_path_is_recorded_and_believed(tmp_path):
    """The owned-files list comes from the repository: a path with `..`, a line break or a leading
    dash is neither written nor read back; a folder without the line (jcnrc 0.2.1 and older) names
    no intent."""
    from jcnrc.output import write

    files = {"README.md": "x\n"}
    for name in ("../a.yaml", "/a.yaml", "a\nREADME.md", "-x.yaml", "a\u202eb.yaml", "b:c.yaml", ""):
        assert not write.recordable_intent(name), name
        assert write.expected_tree(files, name)[write.OWNED_LIST] == write.expected_tree(files)[write.OWNED_LIST]
    assert write.recordable_intent("site1/topology.yaml")
    out = tmp_path / "out"
    write.write_tree(files, out, intent="topology.yaml")
    assert write.recorded_intent(out) == "topology.yaml"
    listed = (out / write.OWNED_LIST).read_text()
    for planted in ("# Intent: ../topology.yaml\n", "# Intent: /etc/topology.yaml\n", ""):
        (out / write.OWNED_LIST).write_text(listed.replace("# Intent: topology.yaml\n", planted))
        assert write.recorded_intent(out) is None
