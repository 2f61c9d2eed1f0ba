"""One child process, measured: CPU seconds (user + system) and peak RSS of exactly that child,
from `os.wait4`, so that other processes on a shared machine do not count. Shared by floor.py,
netlab.py, paired.py and errors.py."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Sample:
    cpu: float
    user: float
    system: float
    wall: float
    peak_mb: float
    returncode: int
    files: int = 0  # what the run wrote, when the caller counts it


def measure(command: Sequence[str], cwd: Path, env: dict[str, str] | None = None, accept: Sequence[int] = (0,),
            who: str = "benchmark") -> Sample:
    """Run `command`; an exit code outside `accept` ends the benchmark with the child's stderr."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in accept:
        raise SystemExit(f"{who}: {' '.join(command)} failed ({code}):\n{stderr[-3000:]}")
    return Sample(usage.ru_utime + usage.ru_stime, usage.ru_utime, usage.ru_stime, wall, usage.ru_maxrss / 1024, code)
