"""Progress of a long build on a terminal: one line on stderr, redrawn in place, erased at the end.

The pipeline reports ``progress(stage, done, total)``; this module decides whether and how to show
it. Nothing is drawn unless stderr is a terminal, the run is not quiet and not in CI, and the build
has already taken a moment: the bundled example finishes before the first frame, so ordinary
builds print exactly what they printed before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TextIO

# A stage reports (done, total); total is None when the stage cannot know it in advance.
ProgressCallback = Callable[[str, int, int | None], None]

SHOW_AFTER_SECONDS = 0.5
REDRAW_EVERY_SECONDS = 0.1
BAR_WIDTH = 30
# Variables that CI systems set; a log file is no place for carriage returns.
CI_VARIABLES = ("CI", "BUILD_NUMBER", "GITHUB_ACTIONS", "GITLAB_CI", "TF_BUILD", "JENKINS_URL")


def wanted(stream: TextIO, quiet: bool, environ: Mapping[str, str]) -> bool:
    if quiet or environ.get("TERM") == "dumb":
        return False
    if any(environ.get(name, "").lower() not in ("", "0", "false") for name in CI_VARIABLES):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class TerminalProgress:
    """A ProgressCallback that draws `jcnrc: render [#####-----] 1200/2800` on a terminal."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.clock = clock
        self.started = clock()
        self.last_drawn: float | None = None
        self.last_stage = ""
        self.shown = False

    def __call__(self, stage: str, done: int = 0, total: int | None = None) -> None:
        now = self.clock()
        if now - self.started < SHOW_AFTER_SECONDS:
            return
        finished = total is not None and done >= total
        new_stage = stage != self.last_stage
        if not (new_stage or finished) and self.last_drawn is not None and now - self.last_drawn < REDRAW_EVERY_SECONDS:
            return
        self.last_drawn = now
        self.last_stage = stage
        self.stream.write("\r\x1b[K" + line(stage, done, total, now - self.started))
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        """Erase the line, so what the command prints next starts on a clean line."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def line(stage: str, done: int, total: int | None, elapsed: float) -> str:
    if total:
        filled = min(BAR_WIDTH, BAR_WIDTH * done // total)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        return f"jcnrc: {stage:<6} [{bar}] {done}/{total} {elapsed:4.1f}s"
    counted = f" {done}" if done else ""
    return f"jcnrc: {stage}{counted}... {elapsed:4.1f}s"
