"""Regression tests for the second attack round (fuzz/README.md, "Attack round 2").

F1: an intent that asked for `secrets.mode: inline` with `env: GITHUB_TOKEN` made `build --check`
print the CI token, base64-encoded, into the CI log. F2: an intent that is a symbolic link to a
credentials file had the file's lines quoted in diagnostics. F8: invisible and bidi characters in
the intent's file name, and the name unquoted in the README's commands. F9: text that is not
UTF-8 ended as an internal error.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from strategies import compile_data, example_intent, write_intent

TOKEN = "ghp_0123456789abcdefghijklmnopqrstuvwxyz"


def jcnrc(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {"PATH": os.environ.get("PATH", ""), "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "jcnrc", *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=300)


def _inline_token_intent(folder: Path) -> Path:
    data = example_intent()
    data["secrets"] = {"mode": "inline", "rootPassword": {"env": "CRPD_ROOT_PASSWORD"}, "crpdLicense": {"env": "GITHUB_TOKEN"}}
    return write_intent(data, folder)


def _leaks(text: str) -> bool:
    encoded = base64.b64encode(TOKEN.encode()).decode()
    return TOKEN in text or encoded[:20] in text


# ----------------------------------------------------------------------------- F1


def test_an_intent_alone_cannot_put_secret_values_into_the_output(tmp_path):
    intent = _inline_token_intent(tmp_path)
    env = {"GITHUB_TOKEN": TOKEN, "CRPD_ROOT_PASSWORD": "root-password-value"}
    for args in (["build", intent.name], ["build", intent.name, "--check"], ["diff", intent.name]):
        run = jcnrc(args, tmp_path, env)
        assert run.returncode == 1, (args, run.stderr)
        assert "error[JCN808]" in run.stderr and not _leaks(run.stdout + run.stderr)
    assert not (tmp_path / "out").exists()


def test_the_operator_allows_secret_values_and_a_diff_never_shows_them(tmp_path):
    intent = _inline_token_intent(tmp_path)
    env = {"GITHUB_TOKEN": TOKEN, "CRPD_ROOT_PASSWORD": "root-password-value"}
    assert jcnrc(["build", intent.name, "--secret-values", "-q"], tmp_path, env).returncode == 0
    secret = next((tmp_path / "out").rglob("secret-*.yaml")).read_text()
    assert base64.b64encode(TOKEN.encode()).decode() in secret  # inline mode writes it, git-ignored
    changed = {**env, "GITHUB_TOKEN": TOKEN[::-1]}
    for args in (["build", intent.name, "--check", "--secret-values"], ["diff", intent.name, "--secret-values"]):
        run = jcnrc(args, tmp_path, changed)
        assert "holds a secret value: its content is not shown" in run.stdout, run.stdout
        assert not _leaks(run.stdout + run.stderr)
        assert base64.b64encode(TOKEN[::-1].encode()).decode()[:20] not in run.stdout


def test_with_secrets_still_writes_an_inline_secret(tmp_path):
    data = example_intent()
    data["secrets"] = {"rootPassword": {"env": "CRPD_ROOT_PASSWORD"}, "crpdLicense": {"env": "LICENCE"}}
    intent = write_intent(data, tmp_path)
    run = jcnrc(["build", intent.name, "--with-secrets", "-q"], tmp_path,
                {"CRPD_ROOT_PASSWORD": "root-password-value", "LICENCE": "licence-value-0123"})
    assert run.returncode == 0, run.stderr


# ----------------------------------------------------------------------------- F2


def test_an_intent_that_is_a_link_is_refused_without_quoting_its_target(tmp_path):
    (tmp_path / "credentials").write_text("[default]\n\taws_secret_access_key = SECRETKEYVALUE\nkey: SECRETKEYVALUE\n")
    (tmp_path / "topology.yaml").symlink_to("credentials")
    for command in (["check"], ["build"], ["routes", "--node", "n"], ["graph"]):
        run = jcnrc([command[0], "topology.yaml", *command[1:]], tmp_path)
        assert run.returncode == 2, (command, run.stderr)
        assert "symbolic link" in run.stderr and "SECRETKEYVALUE" not in run.stdout + run.stderr, run.stderr


def test_an_intent_reached_through_a_linked_folder_inside_the_current_folder_is_refused(tmp_path):
    real = tmp_path / "real"
    write_intent(example_intent(), real)
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "linked").symlink_to(real)
    run = jcnrc(["check", "linked/topology.yaml"], tmp_path / "repo")
    assert run.returncode == 2 and "linked is a symbolic link" in run.stderr, run.stderr


def test_an_intent_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "topology.yaml")
    run = jcnrc(["check", "topology.yaml"], tmp_path)
    assert run.returncode == 2, run.stderr


# ----------------------------------------------------------------------------- F8, F9


@pytest.mark.parametrize("char", ["\u200b", "\u200e", "\u200f", "\u061c", "\u00ad", "\u2063", "\ufeff"])
def test_invisible_and_bidi_characters_in_the_intent_file_name_are_refused(char, tmp_path):
    intent = write_intent(example_intent(), tmp_path, name=f"topo{char}logy.yaml")
    from jcnrc.pipeline import Options, compile_intent

    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": "x" * 16}), display_name=intent.name)
    assert [d.code for d in result.diagnostics if d.is_error] == ["JCN010"]


def test_the_readme_quotes_the_intent_file_name_in_commands_to_copy(tmp_path):
    intent = write_intent(example_intent(), tmp_path, name="a;id|sh;.yaml")
    from jcnrc.pipeline import Options, compile_intent

    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": "x" * 16}), display_name=intent.name)
    readme = result.files["README.md"]
    assert "`jcnrc build 'a;id|sh;.yaml'` again" in readme and "jcnrc build a;id" not in readme


def test_a_store_key_with_a_lone_surrogate_is_a_diagnostic_not_an_internal_error(tmp_path):
    data = example_intent()
    data["secrets"] = {"mode": "external-secrets", "rootPassword": {"env": "X_ROOT"}, "crpdLicense": {"env": "X_LIC"},
                       "store": {"name": "vault", "rootPasswordKey": "a\ud800", "crpdLicenseKey": "b"}}
    intent = tmp_path / "topology.yaml"
    import json

    intent.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML; "\ud800" stays an escape
    run = jcnrc(["check", intent.name], tmp_path)
    assert run.returncode == 1 and "error[JCN" in run.stderr and "internal error" not in run.stderr, run.stderr


def test_an_environment_value_that_is_not_utf8_is_reported_not_an_internal_error(tmp_path):
    data = example_intent()
    data["secrets"] = {"rootPassword": {"env": "BAD_VALUE"}, "crpdLicense": {"env": "BAD_VALUE"}}
    intent = write_intent(data, tmp_path)
    environment = {"PATH": os.environ.get("PATH", ""), "NO_COLOR": "1"}
    environ_bytes = {k.encode(): v.encode() for k, v in environment.items()} | {b"BAD_VALUE": b"caf\xe9-0123456789"}
    for extra in ([], ["--secret-values"]):
        run = subprocess.run([sys.executable, "-m", "jcnrc", "build", intent.name, "-q", *extra], cwd=tmp_path,
                             env=environ_bytes, capture_output=True, text=True, timeout=300)
        assert run.returncode in (0, 1) and "internal error" not in run.stderr, run.stderr
    data["secrets"]["mode"] = "inline"
    result = compile_data(data, tmp_path / "inline", environ={"BAD_VALUE": "caf\udce9-0123456789"})
    assert [d.code for d in result.diagnostics if d.is_error] == ["JCN803", "JCN803"]


# ----------------------------------------------------------------------------- F5, F6, F7, F11


def test_diff_and_check_never_read_through_a_linked_output_folder(tmp_path):
    intent = write_intent(example_intent(), tmp_path)
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    (elsewhere / "README.md").write_text("PRIVATE-CONTENT\n")
    (tmp_path / "lnk").symlink_to(elsewhere)
    env = {"CRPD_ROOT_PASSWORD": "x" * 16}
    for args in (["diff", intent.name, "-o", "lnk"], ["build", intent.name, "--check", "-o", "lnk"]):
        run = jcnrc(args, tmp_path, env)
        assert run.returncode == 2 and "PRIVATE-CONTENT" not in run.stdout + run.stderr, (args, run.stdout, run.stderr)


def test_graph_and_init_replace_a_planted_link_instead_of_writing_through_it(tmp_path):
    intent = write_intent(example_intent(), tmp_path)
    victim = tmp_path.parent / f"{tmp_path.name}-victim"
    victim.write_text("victim\n")
    (tmp_path / "topology.mmd").symlink_to(victim)
    assert jcnrc(["graph", intent.name, "-o", "topology.mmd"], tmp_path).returncode == 0
    assert victim.read_text() == "victim\n" and not (tmp_path / "topology.mmd").is_symlink()
    init = tmp_path / "init"
    init.mkdir()
    (init / "topology.schema.json").symlink_to(victim)
    assert jcnrc(["init", "init"], tmp_path).returncode == 0
    assert victim.read_text() == "victim\n" and not (init / "topology.schema.json").is_symlink()


def test_command_line_text_is_escaped_in_error_messages(tmp_path):
    hostile = "no\x1b]0;pwn\x07such\u202efile.yaml"
    run = jcnrc(["check", hostile], tmp_path)
    assert run.returncode == 2 and "\x1b" not in run.stderr and "\u202e" not in run.stderr, run.stderr


def test_a_lock_file_that_cannot_be_written_stops_the_build_before_anything_is_written(tmp_path):
    intent = write_intent(example_intent(), tmp_path)
    (tmp_path / "topology.lock.json").mkdir()
    run = jcnrc(["build", intent.name], tmp_path, {"CRPD_ROOT_PASSWORD": "x" * 16})
    assert run.returncode == 2 and "nothing was written" in run.stderr, run.stderr
    assert not (tmp_path / "out").exists()


def test_an_output_path_the_file_system_refuses_is_a_usage_error_not_an_internal_error(tmp_path):
    intent = write_intent(example_intent(), tmp_path)
    run = jcnrc(["build", intent.name, "-o", "out/" + "a" * 300], tmp_path, {"CRPD_ROOT_PASSWORD": "x" * 16})
    assert run.returncode == 2 and "internal error" not in run.stderr, run.stderr


def test_verify_shows_escape_sequences_of_a_capture_instead_of_sending_them(tmp_path):
    root = Path(__file__).resolve().parent.parent
    capture = (root / "tests/fixtures/captures/vmss000002-show-route-blue-evpn-extensive.txt").read_text()
    hostile = capture.replace("target:11:11", "target:11:11\x1b]0;pwn\x07\u202e", 1)
    assert hostile != capture
    (tmp_path / "capture.txt").write_text(hostile)
    run = jcnrc(["verify", str(root / "examples/aks-evpn-type5.yaml"), "--node", "aks-agentpool-23733201-vmss000002",
                 "capture.txt"], tmp_path)
    assert run.returncode in (0, 1) and "internal error" not in run.stderr, run.stderr
    assert "\x1b" not in run.stdout + run.stderr and "\u202e" not in run.stdout + run.stderr
