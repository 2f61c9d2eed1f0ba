"""What every test file shares, and the rules that keep the suite lean and deterministic.

* No test asserts on time, wall clock or CPU. A test that guards against a blow-up counts work
  instead: nodes composed, characters read, calls made (``call_count``), files written, peak
  memory. A busy machine then changes how long the suite takes, never whether it passes.
* ``HANG_GUARD``: the timeout of every child process, generous on purpose. It stops a hung child
  from hanging the suite; no test asserts on how fast a child finished.
* ``JCNRC``: the command line as users run it, ``python -m jcnrc`` with this interpreter.
* Concurrency is synchronised on events (a pipe, the build lock, a file that appears), never on
  sleeps (tests/test_write.py).
* hypothesis runs with the profile ``jcnrc``: no deadline and no "too slow" health check (both
  depend on the machine's speed), the same examples on every run (``derandomize``: a failure
  reproduces, nothing flakes) and no example database written into the repository.
  ``JCNRC_HYPOTHESIS=long`` switches to random examples, forty times as many where a test says
  so (tests/test_properties.py), for a search beyond CI's budget.
* Every skip says why, and what would make the test run.
* Jinja's compiled template code is shared by every build of the test process (``_share_compiled_
  templates``): jcnrc compiles its templates afresh for each build, which is half the CPU of a
  build; the suite builds thousands of times. ``JCNRC_TEST_TEMPLATE_CACHE=off`` turns it off.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
FLEET_EXAMPLES = sorted((ROOT / "examples" / "fleets").glob("*.yaml"))

# Skip reasons shared by several files: what is missing, and how to get it.
NO_KUBECTL = ("kubectl is not on PATH: this test feeds the output to kubectl itself (kustomize, patch --local); "
              "install kubectl to run it (.ci/run does not install it)")


def utf8_files(paths: list[Path]) -> list[Path]:
    """The files of `paths` that are UTF-8. The others (tests/corpus/yaml-not-utf8.yaml) are refused
    before any parser reads them (JCN004, tests/test_corpus.py), so parser comparisons leave them out."""
    def readable(path: Path) -> bool:
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return False
        return True

    return [path for path in paths if readable(path)]


HANG_GUARD = 300  # seconds: a child that runs this long is stuck; never a measure of speed
JCNRC = (sys.executable, "-m", "jcnrc")
LONG_HYPOTHESIS = os.environ.get("JCNRC_HYPOTHESIS") == "long"

settings.register_profile("jcnrc", deadline=None, derandomize=True, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", deadline=None, derandomize=False, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("long" if LONG_HYPOTHESIS else "jcnrc")


def _share_compiled_templates() -> None:
    """Every jinja2.Environment of this process gets one shared bytecode cache (Jinja's own
    extension point: BaseLoader.load asks it before compiling). It changes nothing a test can
    see: a template is compiled, as before, the first time it is met, and its code is reused
    only for the same source text (checksum), name and file, under an environment that compiles
    it the same way: the same delimiters and options, and the very same filter and test
    functions (the optimiser may call a filter on constants while compiling, and the code knows
    whether a filter takes the context). So a test that swaps a filter (tests/test_unoptimised.py)
    or gives a folder of its own templates gets code compiled for exactly that. Rendering runs
    the code afresh against the build's own environment. jcnrc could keep its compiled templates
    across builds itself; until it does, this keeps the suite from paying for it."""
    import jinja2
    from jinja2.bccache import BytecodeCache

    class SharedTemplateCode(BytecodeCache):
        def __init__(self) -> None:
            self.code: dict = {}

        @staticmethod
        def _key(bucket) -> tuple:
            env = bucket.environment
            return (bucket.key, bucket.checksum, env.block_start_string, env.block_end_string, env.variable_start_string,
                    env.variable_end_string, env.comment_start_string, env.comment_end_string, env.line_statement_prefix,
                    env.line_comment_prefix, env.trim_blocks, env.lstrip_blocks, env.newline_sequence,
                    env.keep_trailing_newline, env.optimized, env.autoescape, env.finalize, env.undefined, env.is_async,
                    tuple(sorted(env.extensions)), tuple(sorted(env.filters.items())), tuple(sorted(env.tests.items())))

        def load_bytecode(self, bucket) -> None:
            bucket.code = self.code.get(self._key(bucket))

        def dump_bytecode(self, bucket) -> None:
            self.code[self._key(bucket)] = bucket.code

    shared = SharedTemplateCode()
    real_init = jinja2.Environment.__init__

    def init(self, *args, **kwargs) -> None:
        real_init(self, *args, **kwargs)
        if self.bytecode_cache is None:
            self.bytecode_cache = shared

    jinja2.Environment.__init__ = init


if os.environ.get("JCNRC_TEST_TEMPLATE_CACHE", "on") != "off":
    _share_compiled_templates()


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def compile_example(path: Path, display_folder: str = "examples", **options):
    from jcnrc.pipeline import Options, compile_intent

    result = compile_intent(path, Options(**options), display_name=f"{display_folder}/{path.name}")
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    return result


@pytest.fixture(scope="session")
def compiled_fleets():
    """Every bundled fleet example compiled once: {example file name: Result}. Never mutate it."""
    return {path.name: compile_example(path, display_folder="examples/fleets") for path in FLEET_EXAMPLES}


def cluster_results(name: str, result) -> dict:
    """Each cluster of a compiled fleet as the Result of a Topology build: its plan, and its folder's
    files under their paths inside that folder. `tri-fleet.yaml#east`: {path: text} of out/tri/east/."""
    from dataclasses import replace

    found = {}
    for cluster in result.fleet.clusters:
        prefix = cluster.name + "/"
        files = {path[len(prefix):]: text for path, text in result.files.items() if path.startswith(prefix)}
        found[f"{name}#{cluster.name}"] = replace(result, plan=cluster.plan, fleet=None, files=files)
    return found


@pytest.fixture(scope="session")
def compiled_examples(compiled_fleets):
    """Every bundled example compiled once: {example file name: Result}, and every cluster of every
    bundled fleet as the Result of its own Topology build (see cluster_results). Never mutate it."""
    found = {path.name: compile_example(path) for path in EXAMPLES}
    for name, result in compiled_fleets.items():
        # The examples are Platter builds (JCNR builds: tests/test_jcnr.py); so are these clusters.
        found.update((key, cluster) for key, cluster in cluster_results(name, result).items()
                     if cluster.plan.target == "platter")
    return found


def call_count(function, *args, **kwargs):
    """(function's result, how many calls it made): Python functions and built-ins alike, as
    cProfile counts them. Deterministic, unlike a clock, so a scaling test can compare the work of
    two input sizes. It does not see a loop that makes no call in its body, or the length of one
    C-level operation (``x in some_list``)."""
    import _lsprof  # cProfile's engine; cProfile itself imports `profile`, a name benchmarks/ also uses

    profiler = _lsprof.Profiler()
    profiler.enable()
    try:
        result = function(*args, **kwargs)
    finally:
        profiler.disable()
    return result, sum(entry.callcount for entry in profiler.getstats())
