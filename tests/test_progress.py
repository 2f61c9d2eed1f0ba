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


def _run_on_a_terminal(args: list[str], cwd, environ: dict[str, str]) -> tuple[int, str, float]:
    """Run the jcnrc command with stdout and stderr on a pseudo-terminal; (exit code, what it showed, seconds)."""
    import os
    import pty
    import subprocess
    import sys
    import time
    from pathlib import Path

    main, secondary = pty.openpty()
    started = time.monotonic()
    child = subprocess.Popen([str(Path(sys.executable).with_name("jcnrc")), *args], cwd=cwd, env=environ,
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
    code = child.wait(timeout=120)
    os.close(main)
    return code, shown.decode("utf-8"), time.monotonic() - started


@pytest.fixture(scope="module")
def big_intent(tmp_path_factory):
    import subprocess
    import sys

    from conftest import ROOT

    folder = tmp_path_factory.mktemp("big")
    path = folder / "big.yaml"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--nodes", "800", "--vrfs", "4",
                    "--pods-per-node", "4", "-o", str(path)], check=True, capture_output=True)
    return path


def _skip_when_too_short(seconds: float) -> None:
    """A build that ends before the first frame proves nothing about the progress line, either way."""
    if seconds < progress.SHOW_AFTER_SECONDS + 0.3:
        pytest.skip(f"the build took {seconds:.1f} s: too short for a progress line")


def _terminal_environ() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key not in progress.CI_VARIABLES} | {"TERM": "xterm"}


def test_a_long_build_on_a_terminal_shows_progress_and_erases_it(big_intent):
    code, shown, seconds = _run_on_a_terminal(["build", big_intent.name, "-o", "out"], big_intent.parent, _terminal_environ())
    assert code == 0, shown
    _skip_when_too_short(seconds)
    assert "jcnrc: write  [" in shown and "\r\x1b[K" in shown
    last_erase = shown.rindex("\r\x1b[K")
    assert shown[last_erase:].removeprefix("\r\x1b[K").startswith("jcnrc: wrote out (")
    assert "Traceback" not in shown


@pytest.mark.parametrize("option", ["--quiet", "--format=json"])
def test_quiet_and_json_builds_show_no_progress(big_intent, option):
    code, shown, seconds = _run_on_a_terminal(["build", big_intent.name, "-o", "out", option], big_intent.parent,
                                              _terminal_environ())
    _skip_when_too_short(seconds)
    assert code == 0 and "\x1b[K" not in shown and "jcnrc: write" not in shown, shown


def test_ci_builds_show_no_progress(big_intent):
    code, shown, seconds = _run_on_a_terminal(["build", big_intent.name, "-o", "out"], big_intent.parent,
                                              _terminal_environ() | {"CI": "true"})
    _skip_when_too_short(seconds)
    assert code == 0 and "\x1b[K" not in shown, shown
