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
