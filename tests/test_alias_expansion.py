"""Attack round, finding F4: output amplification through aliases.

The node limit counts an alias as the nodes it names, but not their size: a 1 MB anchored
string `&b`, a list `&c [*b, *b, ...]` of 100 aliases and 12 pods with `command: *c` made a
1.1 MB intent render 1.26 GB of output in 38 s at 2.6 GB. The exact loader's composer now also
counts the characters of keys and values as expanded (`Limits.max_expanded`, by default 4 times
`max_bytes`) and refuses with JCN008 at the first alias past the bound, before the rest of the
document is read. The fast loader declines every file with an alias, so the composer is the one
place that counts.

Nothing here measures wall-clock time: the work is measured as the nodes and aliases the composer
read and the characters it counted.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conftest import EXAMPLES, ROOT
from jcnrc.intent import load
from jcnrc.intent.load import DEFAULT_LIMITS, EXPANDED_PER_BYTE, Limits, expanded_budget, load_bytes
from jcnrc.pipeline import Options, analyse, compile_intent

EXAMPLE = ROOT / "examples" / "aks-evpn-type5.yaml"
CORPUS = sorted((ROOT / "tests" / "corpus").rglob("*.yaml"))
ENVIRON = {"CRPD_ROOT_PASSWORD": "Correct-Horse-Battery-9"}

KIB64 = 64 * 1024
BOUND = expanded_budget(DEFAULT_LIMITS)


@pytest.fixture
def composers(monkeypatch: pytest.MonkeyPatch) -> list[load._LimitedComposer]:
    """Every composer the loader builds, to read what it counted once the load is over."""
    made: list[load._LimitedComposer] = []
    original = load._LimitedComposer.__init__

    def recording(self: load._LimitedComposer, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(load._LimitedComposer, "__init__", recording)
    # Not the answer a fast load of the same bytes left for the pipeline's second read.
    monkeypatch.setattr(load, "_READ", {})
    return made


def reproducer(pods: int = 12, aliases: int = 100, size: int = KIB64) -> str:
    """F4 at a small scale: a `size`-character anchored string, a list of `aliases` items that
    are all that string, and `pods` pods whose command is that list."""
    items = ", ".join(["*b"] * (aliases - 1))
    lines = ["apiVersion: jcnrc/v1", "kind: Topology", "pods:",
             "  - name: pod-0", f"    command: &c [&b '{'x' * size}', {items}]"]
    for index in range(1, pods):
        lines += [f"  - name: pod-{index}", "    command: *c"]
    return "\n".join(lines) + "\n"


def only_message(loaded: load.Loaded) -> str:
    assert [d.code for d in loaded.diagnostics] == ["JCN008"], [d.message for d in loaded.diagnostics]
    return loaded.diagnostics[0].message


# ----------------------------------------------------------------------------- the bound


def test_the_bound_is_what_the_docstring_says() -> None:
    assert DEFAULT_LIMITS.max_expanded is None
    assert EXPANDED_PER_BYTE == 4
    assert BOUND == 4 * DEFAULT_LIMITS.max_bytes == 33_554_432
    doc = Limits.__doc__ or ""
    assert "`max_expanded`" in doc and "`EXPANDED_PER_BYTE` (4) times `max_bytes`" in doc
    assert f"{BOUND:,}" in doc


def test_the_bound_follows_max_bytes_unless_given() -> None:
    # The command line's --max-bytes replaces max_bytes on the defaults (cli._limits).
    assert expanded_budget(replace(DEFAULT_LIMITS, max_bytes=1000)) == 4000
    assert expanded_budget(Limits(max_bytes=1000, max_expanded=123)) == 123


def test_keys_values_and_what_each_alias_names_are_counted() -> None:
    # a(1) + key(3) + vv(2) + b(1) + *x, which names key and vv (5): 12 characters.
    text = b"a: &x {key: vv}\nb: *x\n"
    assert load_bytes(text, "t.yaml", Limits(max_expanded=12)).ok
    refused = load_bytes(text, "t.yaml", Limits(max_expanded=11))
    assert only_message(refused) == "the document expands to more than 11 characters (YAML aliases?)"
    assert (refused.diagnostics[0].line, refused.diagnostics[0].column) == (1, 1)


def test_aliases_of_aliases_multiply() -> None:
    # s(1) + 10 + l(1) + 2 * 10 + top(3) + 2 * 20 = 75
    text = b"s: &a xxxxxxxxxx\nl: &b [*a, *a]\ntop: [*b, *b]\n"
    assert load_bytes(text, "t.yaml", Limits(max_expanded=75)).ok
    only_message(load_bytes(text, "t.yaml", Limits(max_expanded=74)))


def test_without_aliases_the_message_says_so() -> None:
    refused = load_bytes(b"a: bb\n", "t.yaml", Limits(max_expanded=2))
    assert only_message(refused) == "the document has more than 2 characters of keys and values"


# A document without aliases never has more characters in its keys and values than in its text,
# so only aliases reach the bound: quoting, escapes, folding, block scalars, CR LF, NEL.
TRICKY = [
    'a: "\\x41\\u00e9\\U0001F600\\n\\t\\\\"\n',
    "a: |+\n  one\n\n  two\n\n\nb: x\n",
    "a: >-\n  folded\n  text\n\n  para\n",
    "a: plain\n  continued\n\n  again\n",
    "'quoted key': 'it''s'\n",
    "a: \"line \\\n  continued\"\n",
    "a: x\r\nb: |\r\n  y\r\n  z\r\n",
    "a: x\x85y\nb: \u2028\n",
    "? [a, b]\n: c\n",
    "a:\nb: ~\nc: ''\n",
]


@pytest.mark.parametrize("text", TRICKY, ids=repr)
def test_a_document_without_aliases_stays_within_its_own_size(text: str, composers: list[load._LimitedComposer]) -> None:
    load_bytes(text.encode(), "t.yaml")
    [composer] = composers
    assert not composer.aliases
    assert 0 < composer.characters <= len(text)


def test_no_example_or_corpus_file_without_aliases_exceeds_its_own_size(composers: list[load._LimitedComposer]) -> None:
    checked = 0
    for path in [*EXAMPLES, *CORPUS]:
        raw = path.read_bytes()
        composers.clear()
        load_bytes(raw, path.name)
        if composers and not composers[0].aliases:
            assert composers[0].characters <= len(raw), path.name
            checked += 1
    assert checked >= len(EXAMPLES)


# ----------------------------------------------------------------------------- the reproducer


def test_the_reproducer_is_refused_at_the_first_alias_past_the_bound(composers: list[load._LimitedComposer]) -> None:
    text = reproducer()
    assert len(text) < 70_000  # the file is small; what it expands to is not
    loaded = load_bytes(text.encode(), "f4.yaml")
    assert only_message(loaded) == f"the document expands to more than {BOUND:,} characters (YAML aliases?)"
    assert "4 times --max-bytes" in (loaded.diagnostics[0].help or "")
    [composer] = composers
    command = 100 * KIB64
    # Five pods' commands fit (5 * 6,553,600 and a few keys); the sixth pod's `*c` is refused.
    assert composer.characters > BOUND >= composer.characters - command
    # It read the first pod (its map, name, command key, list and 100 items: 105 nodes and
    # aliases), five more pods (map, name, command key, alias: 5 each) and the seven nodes
    # before them; pods 6 to 11 were never read.
    assert composer.read == 7 + 105 + 5 * 5


def test_the_reproducer_loads_only_with_the_bound_raised(composers: list[load._LimitedComposer]) -> None:
    text = reproducer().encode()
    raised = load_bytes(text, "f4.yaml", replace(DEFAULT_LIMITS, max_bytes=4 * DEFAULT_LIMITS.max_bytes))
    assert raised.ok and raised.data is not None
    assert len(raised.data["pods"]) == 12
    full = composers[-1]
    assert full.read == 7 + 105 + 11 * 5
    assert full.characters == 12 * 100 * KIB64 + sum(len(f"pod-{i}") for i in range(12)) + 12 * len("namecommand") + 34


def test_the_reproducer_through_the_pipeline_is_refused_and_renders_nothing(tmp_path: Path) -> None:
    items = ", ".join(["*b"] * 299)
    text = EXAMPLE.read_text(encoding="utf-8")
    # Both pods run a command of 300 aliases of a 64 KiB string: 39 million characters.
    anchored = f"    command: &c [&b '{'x' * KIB64}', {items}]\n"
    text = text.replace("    image: ubuntu:20.04\n", f"    image: ubuntu:20.04\n{anchored}", 1)
    text = text.replace("    image: ubuntu:20.04\n    networks", "    image: ubuntu:20.04\n    command: *c\n    networks", 1)
    path = tmp_path / "f4.yaml"
    path.write_text(text, encoding="utf-8")
    result = compile_intent(path, Options(environ=ENVIRON))
    assert [d.code for d in result.diagnostics] == ["JCN008"]
    assert "(YAML aliases?)" in result.diagnostics[0].message
    assert result.plan is None and result.files is None


# ----------------------------------------------------------------------------- harmless aliases


def test_a_shared_command_list_still_builds(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("    image: ubuntu:20.04\n", "    image: ubuntu:20.04\n    command: &cmd [sleep, infinity]\n", 1)
    text = text.replace("    image: ubuntu:20.04\n    networks", "    image: ubuntu:20.04\n    command: *cmd\n    networks", 1)
    assert text.count("*cmd") == 1
    path = tmp_path / "shared.yaml"
    path.write_text(text, encoding="utf-8")
    result = compile_intent(path, Options(environ=ENVIRON))
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    assert result.files is not None
    for pod in ("ubuntu-du11", "ubuntu-du22"):
        assert "infinity" in result.files[f"manifests/deployment-{pod}.yaml"]


def test_anchors_and_merge_keys_still_build() -> None:
    path = ROOT / "tests" / "corpus" / "good" / "anchors-and-merge-keys.yaml"
    result = analyse(path, Options(environ=ENVIRON))
    assert result.ok and result.plan is not None, [d.message for d in result.diagnostics if d.is_error]
