"""The corpus of bad intents: one mistake per file, each stating the code and line:col it must produce.

Every file in tests/corpus/ starts with `# expect: JCNxxx LINE:COL`. The run must produce that code
at exactly that position, never raise, and `jcnrc build` must exit 1 and write nothing. The files
in tests/corpus/good/ (`# expect: clean`) must check without a single diagnostic.

docs/diagnostics.md is generated from the catalogue of codes and this corpus (one real example
message per code); regenerate it with `.venv/bin/python tests/test_corpus.py --write-docs`.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jcnrc.diagnostics import CODES, format_text  # noqa: E402
from jcnrc.pipeline import Options, analyse, compile_intent  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"
BAD = sorted(CORPUS.glob("*.yaml"))
GOOD = sorted((CORPUS / "good").glob("*.yaml"))
DOCS = ROOT / "docs" / "diagnostics.md"
HEADER = re.compile(r"^# expect: (JCN\d{3}) (\d+):(\d+)$")
# Raised only by a broken `--templates` folder or a failing `sops`, never by an intent on its own, or
# (JCN926) by a fleet's `gitops.path` against the `-o` of the command line (tests/test_fleet.py).
NOT_FROM_AN_INTENT = {"JCN806", "JCN900", "JCN926"}


def expectation(path: Path) -> tuple[str, int, int]:
    first = path.read_bytes().split(b"\n", 1)[0].decode("ascii")
    found = HEADER.match(first)
    assert found, f"{path.name}: the first line must be `# expect: JCNxxx LINE:COL`, found {first!r}"
    return found.group(1), int(found.group(2)), int(found.group(3))


# Files checked with the command line's defaults; the others as if the operator allowed secret
# values (`--secret-values`), so that what comes after that consent (JCN803, JCN804, JCN807) is
# reachable from a corpus file too.
WITHOUT_SECRET_VALUES = {"secret-values-not-allowed.yaml"}


def run(path: Path):
    """What `jcnrc build` computes before writing: every stage, with no environment variables set."""
    options = Options(environ={}, allow_secret_values=path.name not in WITHOUT_SECRET_VALUES)
    return compile_intent(path, options, display_name=f"tests/corpus/{path.name}")


def cli(args: list[str]):
    from typer.testing import CliRunner

    from jcnrc.cli import app

    return CliRunner().invoke(app, args)


# --- the corpus itself ------------------------------------------------------------------------

def test_the_corpus_has_at_least_forty_files_with_one_header_each():
    assert len(BAD) >= 40
    for path in BAD:
        expectation(path)
        text = path.read_bytes()
        assert text.count(b"# expect:") == 1, path.name


def test_every_code_an_intent_can_trigger_has_a_corpus_file():
    covered = {expectation(path)[0] for path in BAD}
    missing = sorted(set(CODES) - covered - NOT_FROM_AN_INTENT)
    assert not missing, f"no corpus file produces {missing}"


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_corpus_file_produces_its_code_at_its_position(path):
    code, line, column = expectation(path)
    result = run(path)
    found = [(i.diagnostic.code, i.line, i.column) for i in result.located()]
    assert (code, line, column) in found, f"{path.name}: expected {code} at {line}:{column}, got {found}"
    if CODES[code].severity == "error":
        assert result.files is None  # nothing to write; warnings fail the build only with --warnings-as-errors


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_build_of_a_corpus_file_exits_1_and_writes_nothing(path, tmp_path):
    before = sorted(p.name for p in CORPUS.iterdir())
    out = tmp_path / "out"
    result = cli(["build", str(path), "-o", str(out), "--warnings-as-errors"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert not out.exists()
    assert sorted(p.name for p in CORPUS.iterdir()) == before  # not even a lock file


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_files_check_without_any_diagnostic(path):
    assert path.read_text(encoding="utf-8").startswith("# expect: clean\n")
    result = analyse(path, display_name=path.name)
    assert result.diagnostics == [] and result.plan is not None


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_files_build(path, tmp_path):
    intent = tmp_path / path.name
    shutil.copy(path, intent)  # the lock file is written next to the intent
    result = cli(["build", str(intent), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out").is_dir() and intent.with_name(intent.stem + ".lock.json").is_file()


# --- the catalogue and docs/diagnostics.md ----------------------------------------------------

def codes_in_source() -> set[str]:
    found = set()
    for source in (ROOT / "jcnrc").glob("*.py"):
        found |= set(re.findall(r"[\"'](JCN\d{3})[\"']", source.read_text(encoding="utf-8")))
    return found


def test_every_code_used_in_the_source_is_catalogued_and_none_is_stale():
    used = codes_in_source()
    assert used - set(CODES) == set(), "add these codes to jcnrc.diagnostics.CODES"
    assert set(CODES) - used == set(), "these catalogued codes are no longer emitted"


def example_for(code: str) -> str | None:
    """The full text output of the first corpus file that expects `code`."""
    for path in BAD:
        expected, line, column = expectation(path)
        if expected != code:
            continue
        for item in run(path).located():
            if (item.diagnostic.code, item.line, item.column) == (code, line, column):
                return format_text(item)
    return None


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_docs() -> str:
    examples = {code: example_for(code) for code in CODES}
    lines = [
        "# Diagnostics",
        "",
        "<!-- Generated by `.venv/bin/python tests/test_corpus.py --write-docs` from jcnrc.diagnostics.CODES",
        "     and the corpus in tests/corpus/; tests/test_corpus.py fails when this file is stale. -->",
        "",
        "`jcnrc check FILE...` and `jcnrc build FILE` report every problem of an intent in one run, sorted by",
        "position, in the form",
        "",
        "```",
        "FILE:LINE:COL: error[JCNxxx]: message",
        "   |",
        "NN | the source line",
        "   |      ^^^^^ under the offending key or value",
        "note: another place involved at FILE:LINE:COL",
        "help: what is valid, or a did-you-mean",
        "```",
        "",
        "`--format json` prints the same diagnostics as JSON (`file`, `line`, `column`, `severity`, `code`,",
        "`message`, `path`, `help`, `related`). Exit codes: 0 clean, 1 errors (or warnings with",
        "`--warnings-as-errors`), 2 usage errors (missing file, bad option). `jcnrc build` writes nothing",
        "while any error remains.",
        "",
        "Codes by range: JCN0xx YAML, JCN1xx structure, JCN2xx names and syntax, JCN3xx roles and references,",
        "JCN4xx uniqueness, JCN5xx addresses and allocation, JCN6xx MTU, JCN7xx route targets and reachability,",
        "JCN8xx secrets, JCN9xx rendering and warnings.",
        "",
        "| Code | Severity | Problem | What it means | Example message |",
        "|------|----------|---------|---------------|-----------------|",
    ]
    for code, info in CODES.items():
        example = examples[code]
        message = example.split("\n", 1)[0].split(f"[{code}]: ", 1)[1] if example else "(not produced by an intent alone)"
        lines.append(f"| {code} | {info.severity} | {_cell(info.title)} | {_cell(info.meaning)} | {_cell(message)} |")
    lines += ["", "## Examples", "",
              "Each example is the output for a file in `tests/corpus/`, which holds one mistake per file.", ""]
    for code, info in CODES.items():
        if examples[code] is None:
            continue
        lines += [f"### {code}: {info.title}", "", "```", examples[code], "```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def test_docs_list_every_code_with_a_real_example():
    assert DOCS.is_file(), "run `.venv/bin/python tests/test_corpus.py --write-docs`"
    assert DOCS.read_text(encoding="utf-8") == render_docs(), (
        "docs/diagnostics.md is stale: run `.venv/bin/python tests/test_corpus.py --write-docs`")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-docs"]:
        DOCS.parent.mkdir(exist_ok=True)
        DOCS.write_text(render_docs(), encoding="utf-8")
        print(f"wrote {DOCS.relative_to(ROOT)}")
    else:
        print(__doc__)
