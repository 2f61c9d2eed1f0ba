"""Loading small intents (issue 18): the fast loader reads files of every size, ruamel.yaml is
imported only when the exact loader runs, and the check for characters YAML does not allow is
the same pattern written as what it refuses."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import EXAMPLES, HANG_GUARD, utf8_files
from jcnrc.intent import load

ORIGINAL_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def test_the_refused_characters_are_the_complement_of_yamls_printable_set():
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    assert [m.start() for m in load._NOT_PRINTABLE.finditer(every)] == [m.start() for m in ORIGINAL_NOT_PRINTABLE.finditer(every)]


@pytest.mark.parametrize("path", utf8_files(EXAMPLES), ids=lambda path: path.name)
def test_small_intents_read_fast_give_the_exact_loaders_data(path):
    raw = path.read_bytes()
    load._READ.clear()
    fast = load.load_bytes(raw, path.name, fast=True)
    load._READ.clear()
    exact = load.load_bytes(raw, path.name)
    assert fast.ok and fast.data == exact.data
    if path.name == "aks-evpn-type5.yaml":  # 2 KB, below the old 64 KB threshold: read by rapidyaml now
        assert not fast.exact


def test_importing_the_loader_or_reading_fast_defines_no_ruamel_subclass():
    """ruamel.yaml is imported by the exact loader (and by the resolver the fast loader asks about
    strings that start like a number), not by importing jcnrc.intent.load."""
    example = next(path for path in EXAMPLES if path.name == "aks-evpn-type5.yaml")
    code = ("import sys, pathlib\n"
            "from jcnrc.intent import load\n"
            "assert not [m for m in sys.modules if m.startswith('ruamel')], 'imported with the module'\n"
            f"loaded = load.load_file(pathlib.Path({str(example)!r}), fast=True)\n"
            "assert loaded.ok and not loaded.exact\n"
            "assert load._ruamel_classes.cache_info().currsize == 0\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_GUARD)
    assert done.returncode == 0, done.stderr


def test_too_deep_flow_nesting_goes_to_the_exact_loader_without_rapidyaml(monkeypatch):
    from jcnrc.intent import fastyaml

    parsed = []
    monkeypatch.setattr(fastyaml, "parse", lambda *args, **kwargs: parsed.append(1))
    text = "a: " + "[" * 65 + "]" * 65 + "\n"
    loaded = load.load_bytes(text.encode(), "deep.yaml", fast=True)
    assert parsed == [] and [d.code for d in loaded.diagnostics] == ["JCN008"]


def test_the_one_pass_check_answers_as_the_recursive_walk():
    """fastyaml._check_document (distinct strings checked once, nodes counted on the way) against
    fastyaml._check and _yaml_nodes: the same decline, the same too-long scalar at the same path."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from jcnrc.intent import fastyaml

    def outcome(walk, data, max_depth, max_scalar):
        try:
            return ("ok", walk(data, max_depth, max_scalar))
        except fastyaml._Decline:
            return ("declined",)
        except fastyaml.ScalarTooLong as long:
            return ("too long", long.length, long.key, tuple(long.path))

    def recursive(data, max_depth, max_scalar):
        fastyaml._check(data, 0, max_depth, max_scalar)
        return fastyaml._yaml_nodes(data)

    strings = st.sampled_from(["", "a", "name", "10.0.0.1", "0x1F", "true", "- x", "a #b", " pad", "x" * 12, "#"])
    scalars = st.none() | st.booleans() | st.integers(-3, 3) | strings | st.just(1.5)
    documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(strings, inner, max_size=3),
                             max_leaves=25)

    @settings(max_examples=1500)
    @given(st.dictionaries(strings, documents, max_size=4), st.integers(0, 5), st.sampled_from([4, 10, 100]))
    def same(data, max_depth, max_scalar):
        assert outcome(fastyaml._check_document, data, max_depth, max_scalar) == outcome(recursive, data, max_depth, max_scalar)

    same()
