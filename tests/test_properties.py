"""Property tests: generated valid intents build cleanly, mutated intents get positioned diagnostics.

* Valid intents (``strategies.valid_intents``): ``compile_intent`` succeeds, every output parses
  (YAML with a 1.1 and a 1.2 reader alike, JSON, shell, Junos), the manifests pass the strict
  Kubernetes validation, two builds are equal, and a rebuild with the written lock file is
  byte-identical on disk (``write_tree`` then changes nothing).
* Mutated intents (``strategies.mutated_intents``): whatever the mutation, jcnrc answers with
  output or with error diagnostics, each with a code and a position inside the file, and never
  with a traceback. A value of the wrong type is reported at (or around) the place it was put.
* Inputs the fuzzer (fuzz/fuzz_loader.py) found to crash jcnrc, minimised, as regression tests.

The default budget keeps this file well under a minute and replays the same examples every run
(``derandomize``). ``JCNRC_HYPOTHESIS=long`` runs forty times as many random examples:

    JCNRC_HYPOTHESIS=long .venv/bin/python -m pytest tests/test_properties.py -q
"""

from __future__ import annotations

import re
import subprocess
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import LONG_HYPOTHESIS
from jcnrc.output.write import check_paths, write_tree
from jcnrc.verify import kubeschema
from jcnrc.verify.manifests import manifest_objects
from strategies import (
    INTENT_NAME,
    OutputProblem,
    compile_data,
    dump_intent,
    example_intent,
    mutated_intents,
    read_outputs,
    read_yaml,
    valid_intents,
)

LONG = LONG_HYPOTHESIS
ASSUMED = [("Secret", "kube-system", "platter-secrets"), ("Secret", "jcnr", "jcnr-secrets")]
ENVIRON = {"CRPD_ROOT_PASSWORD": "pw", "ROOT_PW_2": "pw"}
CODE = re.compile(r"^JCN\d{3}$")


def budget(examples: int) -> settings:
    # The fast run reports the failing example as found: shrinking a two-second example can take
    # minutes. The long run shrinks, for the smallest reproducer.
    return settings(
        max_examples=examples * 40 if LONG else examples,
        derandomize=not LONG,
        phases=list(Phase) if LONG else [Phase.explicit, Phase.reuse, Phase.generate],
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def errors_of(result) -> list[str]:
    return [f"{d.code} {list(d.path)}: {d.message}" for d in result.diagnostics if d.is_error]


# ----------------------------------------------------------------------------- valid intents


@budget(25)
@given(intent=valid_intents())
def test_valid_intents_build_validate_and_rebuild_byte_identically(intent, tmp_path_factory):
    folder = tmp_path_factory.mktemp("valid")
    first = compile_data(intent, folder, environ=ENVIRON)
    assert first.ok and first.files, f"{errors_of(first)}\n{dump_intent(intent)}"
    check_paths(first.files)
    try:
        read_outputs(first.files)
    except OutputProblem as exc:
        raise AssertionError(f"{exc}\n{dump_intent(intent)}") from exc
    assert_scripts_parse(first.files)
    objects, sources = manifest_objects(first.files)
    problems = kubeschema.validate_objects(objects, sources=sources, assume_present=ASSUMED)
    assert problems == [], problems[:5]

    again = compile_data(intent, folder, environ=ENVIRON)
    assert again.files == first.files, "two builds of one intent differ"

    first.lock_path.write_text(first.lock.to_json(), encoding="utf-8")
    locked = compile_data(intent, folder, environ=ENVIRON)
    assert locked.files == first.files, "the build with its own lock file differs"
    assert not locked.lock_changed

    out = folder / "out"
    write_tree(first.files, out)
    assert write_tree(locked.files, out) == [], "a rebuild with the lock changed the output folder"
    for path, text in locked.files.items():
        assert (out / path).read_bytes() == text.encode("utf-8"), path


def assert_scripts_parse(files: dict[str, str]) -> None:
    scripts = {path: text for path, text in files.items() if path.endswith(".sh")}
    for path, text in files.items():
        if path.startswith("manifests/configmap-"):
            for document in read_yaml(text):
                for key, value in ((document or {}).get("data") or {}).items():
                    if key.endswith(".sh"):
                        scripts[f"{path}:{key}"] = value
    for label, text in scripts.items():
        run = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True)
        assert run.returncode == 0, f"{label}: {run.stderr}"


# ----------------------------------------------------------------------------- mutated intents


@budget(100)
@given(mutation=mutated_intents(base=st.one_of(st.just(example_intent()), valid_intents())))
def test_mutated_intents_get_positioned_diagnostics_never_a_traceback(mutation, tmp_path_factory):
    intent, kind, path = mutation
    folder = tmp_path_factory.mktemp("mutated")
    try:
        result = compile_data(intent, folder, environ=ENVIRON)
        located = result.located()
    except Exception:  # noqa: BLE001  (the property under test: report the traceback with the intent that caused it)
        raise AssertionError(f"{kind} at {list(path)} raised:\n{traceback.format_exc()}\n{dump_intent(intent)}") from None
    lines = (folder / INTENT_NAME).read_text(encoding="utf-8").count("\n")
    for item in located:
        assert CODE.match(item.diagnostic.code), item.diagnostic
        assert 1 <= item.line <= lines + 1 and item.column >= 1, (item, kind, path)
    if result.ok:
        assert result.files
        read_outputs(result.files)
        return
    errors = [d for d in result.diagnostics if d.is_error]
    assert errors, "not ok, but no error"
    # A value of another type (not null) is wrong wherever it stands, so it must be reported there.
    # (Garbage text may happen to be valid, e.g. a node renamed to `0`: then only its users are
    # wrong; and null is "not given" for optional fields.)
    if kind == "retype":
        near = [d for d in errors if _related(d.path, path)]
        assert near, f"{kind} at {list(path)}: no error there, only {errors_of(result)}\n{dump_intent(intent)}"


def _related(found: tuple, changed: tuple) -> bool:
    """The diagnostic is at the changed value, inside it, or at a mapping or list that holds it."""
    shorter = min(len(found), len(changed))
    return tuple(found[:shorter]) == tuple(changed[:shorter]) and len(found) > 0


def test_mutations_cover_every_kind():
    """The strategy must really produce each kind of mutation, or the property above tests less than it says."""
    seen = set()

    @settings(max_examples=100)  # every kind shows within the first 50 (derandomized: the same 100 every run)
    @given(mutation=mutated_intents())
    def collect(mutation):
        seen.add(mutation[1])

    collect()
    assert {"delete", "retype", "null", "garbage", "swap", "duplicate", "rename-key"} <= seen, seen


def test_related_paths():
    assert _related(("pods", 0, "name"), ("pods", 0, "name"))
    assert _related(("pods", 0), ("pods", 0, "name"))
    assert _related(("pods", 0, "name", 1), ("pods", 0, "name"))
    assert not _related(("pods", 1, "name"), ("pods", 0, "name"))
    assert not _related((), ("pods", 0, "name"))


def test_the_example_intent_round_trips_through_the_strategies_writer(tmp_path):
    """The generators write intents with dump_intent; that text must load as the same data."""
    from ruamel.yaml import YAML

    data = example_intent()
    text = dump_intent(data)
    assert YAML(typ="safe", pure=True).load(text) == data
    result = compile_data(data, tmp_path)
    assert result.ok, errors_of(result)
    assert Path(result.lock_path).name == "topology.lock.json"


# ----------------------------------------------------------------------------- regressions found by fuzzing

# Minimised from fuzz/fuzz_loader.py finds. Each must give diagnostics with positions, not a traceback.
FUZZ_REGRESSIONS = {
    "merge key twice": b"b: &b {x: 1}\nnodes:\n  - <<: *b\n  - <<: *b\n",
}


@pytest.mark.parametrize("raw", list(FUZZ_REGRESSIONS.values()), ids=list(FUZZ_REGRESSIONS))
def test_inputs_the_fuzzer_found_get_diagnostics(raw, tmp_path):
    from jcnrc.pipeline import compile_intent

    intent = tmp_path / INTENT_NAME
    intent.write_bytes(raw)
    result = compile_intent(intent)
    located = result.located()
    assert not result.ok and located
    lines = raw.count(b"\n") + 1
    for item in located:
        assert CODE.match(item.diagnostic.code) and 1 <= item.line <= lines and item.column >= 1, item


# Inputs the fast loader read differently from the exact loader (fuzz/README.md): it must decline them.
FAST_LOADER_REGRESSIONS = {
    "tab after colon in a flow mapping": b"v: {b:\t 7}\n",
    "tab after colon in a flow sequence": b"v: [a:\t7]\n",
    "multi-line plain key in a flow mapping": b'v: [{r: {imp\n  - name:ort: ["1:1"]}}]\n',
    "tab after a key": b"metadata: \t\n",
    "empty key": b"metadata:\n  name: x\n  : y\n",
    # fuzz run 7: read differently
    "colon before a closing brace": b"v: {f:}\n",
    # fuzz run 7: accepted although the exact loader refuses it
    "bare alias indicator": b"a: *",
    "bare anchor indicator": b"n: &",
    "merge key without a mapping": b"<<:",
    "backquote": b"n: `",
    "percent sign in a flow mapping": b"{%}",
    "comment in a flow mapping": b"{s #}",
    "closing brace as a value": b"1{: }",
    "text after a flow collection": b"s:\n- {} -",
    # fuzz run 9 (--loaders): read differently
    "equals sign, YAML 1.1's value tag": b"k: =",
    "byte order mark inside the text": b"\n\xef\xbb\xbfq:",
    "explicit key in a flow mapping": b"{?a}",
    # fuzz run 9 (--loaders): accepted although the exact loader refuses it
    "block scalar header with a stray character": b"k: |1s",
    "scalar after a comment, then a blank line": b"k: #\n u\n\n",
    "directive without a document marker": b"%\nk:",
    "explicit keys without values": b"? t\n?a",
    "question mark in a flow mapping": b"{:?}",
    # fuzz run 10 (--loaders): read differently
    "colon at the start of a flow key": b"{:1}",
    # fuzz run 11 (--loaders): accepted although the exact loader refuses it
    "scalar after a comment and a blank line": b"k: #\n\n r\n\n",
    "dash scalar after a comment": b"k: #\n -c\n\n",
    "indented document end marker": b"k:\n  -\n  ...",
    # fuzz run 12 (--loaders): accepted although the exact loader refuses it
    "scalar after a comment and a CR LF blank line": b"k: #\n\r\n m\n\n",
}


@pytest.mark.parametrize("raw", list(FAST_LOADER_REGRESSIONS.values()), ids=list(FAST_LOADER_REGRESSIONS))
def test_the_fast_loader_reads_what_the_exact_loader_reads(raw):
    """Found by fuzz/fuzz_loader.py, which reads every input with both loaders."""
    from jcnrc.intent import fastyaml
    from jcnrc.intent.load import load_bytes

    fast = fastyaml.parse(raw.decode("utf-8"), 64)
    exact = load_bytes(raw, "x.yaml")
    assert fast is None or (exact.ok and fast == exact.data), (fast, exact.data, [d.code for d in exact.diagnostics])
