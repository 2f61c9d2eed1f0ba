"""The progress line of long builds: when it shows, what it draws, and that it leaves no trace."""

from __future__ import annotations

import io

import pytest

from jcnrc.output import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("stream", "quiet", "environ", "expected"), [
    (Terminal(), False, {}, True),
    (Terminal(), True, {}, False),
    (Terminal(), False, {"CI": "true"}, False),
    (Terminal(), False, {"GITHUB_ACTIONS": "true"}, False),
    (Terminal(), False, {"CI": "false"}, True),
    (Terminal(), False, {"TERM": "dumb"}, False),
    (io.StringIO(), False, {}, False),
])
def test_progress_is_wanted_only_on_an_interactive_terminal(stream, quiet, environ, expected):
    assert progress.wanted(stream, quiet, environ) is expected


def test_a_short_build_draws_nothing():
    stream, clock = Terminal(), Clock()
    bar = progress.TerminalProgress(stream, clock)
    clock.now += progress.SHOW_AFTER_SECONDS / 2
    bar("render", 10, 100)
    bar.close()
    assert stream.getvalue() == ""


def test_a_long_build_draws_one_line_in_place_and_erases_it():
    stream, clock = Terminal(), Clock()
    bar = progress.TerminalProgress(stream, clock)
    clock.now += 1
    bar("render", 50, 100)
    clock.now += progress.REDRAW_EVERY_SECONDS / 10
    bar("render", 51, 100)  # too soon: not redrawn
    clock.now += progress.REDRAW_EVERY_SECONDS
    bar("render", 75, 100)
    bar.close()
    frames = stream.getvalue().split("\r\x1b[K")
    assert frames[0] == "" and frames[-1] == ""
    drawn = frames[1:-1]
    assert len(drawn) == 2 and "\n" not in "".join(drawn)
    assert drawn[0].startswith("jcnrc: render [" + "#" * 15 + "-" * 15 + "] 50/100")
    assert "75/100" in drawn[1]


def test_a_new_stage_and_the_last_item_are_always_drawn():
    stream, clock = Terminal(), Clock()
    bar = progress.TerminalProgress(stream, clock)
    clock.now += 1
    bar("render", 1, 3)
    bar("render", 3, 3)
    bar("write", 0, 3)
    text = stream.getvalue()
    assert "3/3" in text and "write" in text


def test_a_stage_without_a_total_shows_a_count():
    assert progress.line("plan", 0, None, 1.25) == "jcnrc: plan...  1.2s"
    assert progress.line("load", 7, None, 2.0) == "jcnrc: load 7...  2.0s"


def test_the_bar_never_overflows():
    assert progress.line("write", 12, 10, 0).count("#") == progress.BAR_WIDTH


# ----------------------------------------------------------------------------- what the pipeline reports


def test_the_pipeline_reports_each_stage_in_order(tmp_path):
    from conftest import ROOT
    from jcnrc.pipeline import Options, compile_intent

    reported: list[tuple[str, int, int | None]] = []
    result = compile_intent(ROOT / "examples" / "aks-evpn-type5.yaml",
                            Options(progress=lambda *args: reported.append(args), environ={}))
    assert result.ok
    stages = [stage for stage, _, _ in reported]
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == ["load", "check", "plan", "render", "scan"]
    assert all(done <= total for _, done, total in reported if total is not None)


def test_the_writer_reports_every_file_then_the_flush(tmp_path):
    from jcnrc.output.write import write_tree

    reported: list[tuple[str, int, int | None]] = []
    files = {f"nodes/n{i}/node-n{i}.json": "{}\n" for i in range(5)}
    write_tree(files, tmp_path / "out", progress=lambda *args: reported.append(args))
    assert reported == [("write", i, 5) for i in range(1, 6)] + [("sync", 0, None)]


# ----------------------------------------------------------------------------- on a real terminal


# `python -m jcnrc ARGS` with the progress line's delay set to zero: every stage draws a frame at
# once, so a small build shows what a long one shows, whatever the machine's speed. The delay
# itself is tested with a fake clock above.
_WITHOUT_DELAY = """
import runpy, sys
from jcnrc.output import progress
progress.SHOW_AFTER_SECONDS = 0
sys.argv = ["jcnrc", *sys.argv[1:]]
runpy.run_module("jcnrc", run_name="__main__", alter_sys=True)
"""


def _run_on_a_terminal(args: list[str], cwd, environ: dict[str, str]) -> tuple[int, str]:
    """Run the jcnrc command with stdout and stderr on a pseudo-terminal; (exit code, what it showed)."""
    import os
    import pty
    import subprocess
    import sys

    from conftest import HANG_GUARD

    main, secondary = pty.openpty()
    child = subprocess.Popen([sys.executable, "-c", _WITHOUT_DELAY, *args], cwd=cwd, env=environ,
                             stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary)
    os.close(secondary)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    code = child.wait(timeout=HANG_GUARD)
    os.close(main)
    return code, shown.decode("utf-8")


@pytest.fixture()
def intent(tmp_path):
    import shutil

    from conftest import ROOT

    example = ROOT / "examples" / "aks-evpn-type5.yaml"
    for source in (example, example.with_name("aks-evpn-type5.lock.json")):
        shutil.copy(source, tmp_path / source.name)
    return tmp_path / example.name


def _terminal_environ() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key not in progress.CI_VARIABLES} | {"TERM": "xterm"}


def test_a_build_on_a_terminal_shows_progress_and_erases_it(intent):
    code, shown = _run_on_a_terminal(["build", intent.name, "-o", "out"], intent.parent, _terminal_environ())
    assert code == 0, shown
    assert "jcnrc: write  [" in shown and "\r\x1b[K" in shown
    last_erase = shown.rindex("\r\x1b[K")
    assert shown[last_erase:].removeprefix("\r\x1b[K").startswith("jcnrc: wrote out (")
    assert "Traceback" not in shown


@pytest.mark.parametrize("option", ["--quiet", "--format=json"])
def test_quiet_and_json_builds_show_no_progress(intent, option):
    code, shown = _run_on_a_terminal(["build", intent.name, "-o", "out", option], intent.parent, _terminal_environ())
    assert code == 0 and "\x1b[K" not in shown and "jcnrc: write" not in shown, shown


def test_ci_builds_show_no_progress(intent):
    code, shown = _run_on_a_terminal(["build", intent.name, "-o", "out"], intent.parent, _terminal_environ() | {"CI": "true"})
    assert code == 0 and "\x1b[K" not in shown, shown
