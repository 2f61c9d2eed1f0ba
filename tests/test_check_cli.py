"""`jcnrc check`, `jcnrc build` on bad intents, `jcnrc schema` and `jcnrc init`, run as a user runs them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import HANG_GUARD, JCNRC, ROOT

CORPUS = ROOT / "tests" / "corpus"
EXAMPLE = ROOT / "examples" / "aks-evpn-type5.yaml"
FIRST_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): "
                        r"(?P<severity>error|warning)\[(?P<code>JCN\d{3})\]: (?P<message>.+)$")


def jcnrc(*args, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JCNRC_")} | {"NO_COLOR": "1"}
    return subprocess.run([*JCNRC, *map(str, args)], cwd=cwd, capture_output=True, text=True, env=env, timeout=HANG_GUARD)


def header(path: Path) -> tuple[str, int, int]:
    code, position = path.read_text(encoding="utf-8").split("\n", 1)[0].removeprefix("# expect: ").split()
    line, column = position.split(":")
    return code, int(line), int(column)


def test_clean_example_exits_0_with_one_line():
    result = jcnrc("check", "examples/allocated.yaml")
    assert result.returncode == 0 and result.stdout.startswith("examples/allocated.yaml: ok")
    assert result.stdout.count("\n") == 1


# Corpus files checked in one run: `jcnrc check A B ...` prints what `jcnrc check A`, `jcnrc check B`...
# print, one after the other (test_a_run_of_several_files_prints_each_files_own_output proves it),
# so the tests below read each file's part of one run instead of starting one command per file.
CHECKED_TOGETHER = ["ref-unknown-node", "key-misspelt", "addr-overlap-same-vrf", "yaml-duplicate-key", "type-vni-quoted",
                    "dup-node-name", "ref-unknown-vrf"]


@pytest.fixture(scope="module")
def checked_together() -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """The run, and {corpus name: the stderr of that file}."""
    paths = {name: f"tests/corpus/{name}.yaml" for name in CHECKED_TOGETHER}
    result = jcnrc("check", *paths.values())
    parts, current = {}, []
    for line in result.stderr.splitlines(keepends=True):
        current.append(line)
        for name, path in paths.items():
            if re.fullmatch(rf"{re.escape(path)}: \d+ errors?(, \d+ warnings?)?\n?", line):
                parts[name], current = "".join(current), []
    assert set(parts) == set(paths) and not current, result.stderr
    return result, parts


def test_a_run_of_several_files_prints_each_files_own_output(checked_together):
    result, parts = checked_together
    assert result.returncode == 1 and result.stdout == ""
    alone = jcnrc("check", "tests/corpus/dup-node-name.yaml")
    assert (alone.returncode, alone.stdout, alone.stderr) == (1, "", parts["dup-node-name"])


@pytest.mark.parametrize("name", ["ref-unknown-node", "key-misspelt", "addr-overlap-same-vrf", "yaml-duplicate-key",
                                  "type-vni-quoted", "dup-node-name"])
def test_error_output_is_file_line_col_code_message_then_source_caret_and_help(name, checked_together):
    path = f"tests/corpus/{name}.yaml"
    code, line, column = header(ROOT / path)
    lines = checked_together[1][name].splitlines()
    first = FIRST_LINE.match(lines[0])
    assert first and (first["file"], int(first["line"]), int(first["column"]), first["code"]) == (path, line, column, code)
    source = (ROOT / path).read_text(encoding="utf-8").splitlines()[line - 1]
    gutter = f"{line} | "
    assert lines[1].strip() == "|"
    assert lines[2] == gutter + source
    caret = lines[3]
    assert caret.index("^") == len(gutter) + column - 1
    assert any(text.startswith("help: ") for text in lines[4:])
    assert lines[-1] == f"{path}: 1 error"


def test_related_place_is_a_note_with_its_position(checked_together):
    assert "note: first defined at tests/corpus/dup-node-name.yaml:21:12" in checked_together[1]["dup-node-name"]


def test_misspelt_names_get_a_did_you_mean(checked_together):
    for name, hint in (("key-misspelt", "did you mean `nodeSubnet`?"), ("ref-unknown-node", "did you mean `worker-2`?"),
                       ("ref-unknown-vrf", "did you mean `blue`?")):
        assert f"help: {hint}" in checked_together[1][name]


def test_all_errors_of_a_file_in_one_run_sorted_by_position(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("asn: 64512", "asn: 0").replace("role: worker}\n  - {name: aks-agentpool-23733201-vmss000002",
                                                           "role: wrker}\n  - {name: aks-agentpool-23733201-vmss000002")
    text = text.replace("ipv4: 1.1.22.2/30", "ipv4: 1.1.22.1/30")
    intent = tmp_path / "broken.yaml"
    intent.write_text(text, encoding="utf-8")
    result = jcnrc("check", intent)
    firsts = [FIRST_LINE.match(line) for line in result.stderr.splitlines() if FIRST_LINE.match(line)]
    # The cluster and a node are broken, yet the well-formed pod is still checked against its VRF.
    assert [(m["code"], int(m["line"])) for m in firsts] == [("JCN105", 12), ("JCN104", 23), ("JCN504", 41)]
    assert result.stderr.splitlines()[-1].endswith(": 3 errors")


def test_json_format_for_ci_and_editors():
    result = jcnrc("check", "--format", "json", "tests/corpus/dup-node-name.yaml", "examples/multi-vrf.yaml")
    assert result.returncode == 1
    [record] = json.loads(result.stdout)["diagnostics"]
    assert record == {
        "file": "tests/corpus/dup-node-name.yaml", "line": 23, "column": 12, "severity": "error", "code": "JCN401",
        "message": "duplicate node name `worker-1`", "path": ["nodes", 3, "name"], "help": "every node name must be unique",
        "related": [{"message": "first defined", "line": 21, "column": 12, "path": ["nodes", 1, "name"]}],
    }


def test_warnings_pass_unless_they_are_errors():
    path = "tests/corpus/warn-worker-without-pods.yaml"
    relaxed = jcnrc("check", path)
    assert relaxed.returncode == 0 and "warning[JCN911]" in relaxed.stderr
    strict = jcnrc("check", "--warnings-as-errors", path)
    assert strict.returncode == 1


def test_several_files_are_all_checked(checked_together):
    result, parts = checked_together
    assert result.returncode == 1
    assert "error[JCN303]" in parts["ref-unknown-node"] and "error[JCN305]" in parts["ref-unknown-vrf"]


@pytest.mark.parametrize("args", [["check", "no-such-file.yaml"], ["check", "--bogus", "examples/aks-evpn-type5.yaml"],
                                  ["check", "--format", "xml", "examples/aks-evpn-type5.yaml"], ["check", "examples"]])
def test_usage_errors_exit_2(args):
    result = jcnrc(*args)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_garbage_input_is_a_diagnostic_not_a_traceback(tmp_path):
    garbage = tmp_path / "garbage.yaml"
    garbage.write_bytes(bytes(range(256)) * 4)
    result = jcnrc("check", garbage)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert FIRST_LINE.match(result.stderr.splitlines()[0])


@pytest.mark.parametrize("name", ["role-no-master", "yaml-tab-indentation", "addr-pool-in-service-range"])
def test_build_refuses_and_writes_nothing(name, tmp_path):
    intent = tmp_path / f"{name}.yaml"
    shutil.copy(CORPUS / f"{name}.yaml", intent)
    out = tmp_path / "out"
    result = jcnrc("build", intent, "-o", out)
    assert result.returncode == 1
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [intent.name]
    assert f"error[{header(intent)[0]}]" in result.stderr


def test_schema_command_prints_the_committed_schema():
    result = jcnrc("schema")
    assert result.returncode == 0
    assert result.stdout == (ROOT / "schemas" / "topology.schema.json").read_text(encoding="utf-8")


def test_init_writes_a_commented_starter_with_the_modeline_that_checks_clean(tmp_path):
    result = jcnrc("init", tmp_path / "new")
    assert result.returncode == 0
    intent = tmp_path / "new" / "topology.yaml"
    text = intent.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=")
    assert text.count("\n#") + text.count("  # ") > 10  # commented for a first-time reader
    checked = jcnrc("check", "--warnings-as-errors", intent)
    assert (checked.returncode, checked.stderr) == (0, "")
    built = jcnrc("build", intent, "-o", tmp_path / "out")
    assert built.returncode == 0 and (tmp_path / "out").is_dir()


def test_init_refuses_to_overwrite(tmp_path):
    assert jcnrc("init", tmp_path).returncode == 0
    again = jcnrc("init", tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr


# ----------------------------------------------------------------------------- resource limits on the command line


@pytest.mark.parametrize("command", ["check", "build", "diff", "routes", "explain", "verify", "graph"])
def test_every_command_that_reads_an_intent_takes_the_limit_options(command):
    from typer.testing import CliRunner

    from jcnrc.cli import app

    help_text = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
    assert all(option in help_text for option in ("--max-bytes", "--max-depth", "--max-nodes")), help_text


def test_max_bytes_refuses_a_larger_intent_with_jcn008_and_accepts_a_size_suffix():
    size = EXAMPLE.stat().st_size
    refused = jcnrc("check", EXAMPLE, "--max-bytes", size - 1)
    assert refused.returncode == 1
    assert FIRST_LINE.match(refused.stderr.splitlines()[0])["code"] == "JCN008"
    assert f"the limit is {size - 1}" in refused.stderr
    assert jcnrc("check", EXAMPLE, "--max-bytes", "1M").returncode == 0


def test_max_depth_and_max_nodes_reach_the_loader():
    assert "JCN008" in jcnrc("check", EXAMPLE, "--max-depth", "3").stderr
    assert "JCN008" in jcnrc("routes", EXAMPLE, "--node", "aks-agentpool-23733201-vmss000000", "--max-nodes", "20").stderr


@pytest.mark.parametrize("args", [("--max-bytes", "12X"), ("--max-bytes", "0"), ("--max-depth", "0"), ("--max-nodes", "-5")])
def test_a_bad_limit_is_a_usage_error(args):
    result = jcnrc("check", EXAMPLE, *args)
    assert result.returncode == 2 and "Invalid value" in result.stderr and "Traceback" not in result.stderr


def test_parse_size_reads_binary_units():
    from jcnrc.cli import parse_size

    assert [parse_size(text) for text in ("4096", "4K", "16M", "1G", "2MiB")] == [4096, 4096, 16 * 2**20, 2**30, 2 * 2**20]
