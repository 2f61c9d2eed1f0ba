"""jcnrc/intent/load.py subclasses ruamel.yaml's scanner and composer: this fails when they change.

`_LinearScanner` replaces `Scanner.next_possible_simple_key` and `stale_possible_simple_keys`
(their quadratic loop over open flow levels) and relies on how `save_possible_simple_key`,
`remove_possible_simple_key` and `fetch_value` keep `possible_simple_keys` (one SimpleKey per
flow level, in the order they were saved). `_LimitedComposer` wraps `Composer.compose_node` and
`compose_document`, reads `parser` and `anchors`, and rebuilds marks with `StreamMark(name,
index, line, column)`. None of this is ruamel's documented API, so pyproject pins ruamel.yaml
below its next minor and this test records the signature and a hash of the source of every
ruamel method involved, as in the releases the overrides were checked against.

When a hash or a signature differs: read the new ruamel source of that method, check that
the overrides in load.py still hold (same answers, same invariants), run tests/test_load.py,
tests/test_fastyaml.py and tests/test_attack_limits.py, then add the new value to KNOWN below.
"""

from __future__ import annotations

import hashlib
import inspect
import tomllib

import pytest
import ruamel.yaml
from packaging.requirements import Requirement
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import StreamMark
from ruamel.yaml.main import YAML
from ruamel.yaml.scanner import RoundTripScanner, Scanner, SimpleKey

from jcnrc.intent import load

INSTALLED = ruamel.yaml.__version__
RECHECK = ("re-check _LinearScanner and _LimitedComposer in jcnrc/intent/load.py against this ruamel.yaml "
           "release (see this test's docstring), then record the new value in tests/test_libraries_ruamel.py")

# (signature, first 16 hex digits of the SHA-256 of inspect.getsource) of each ruamel method the
# overrides replace, call or depend on; one entry per version of the method that was checked.
# Checked: ruamel.yaml 0.18.17 and 0.19.1.
KNOWN: dict[tuple[type, str], set[tuple[str, str]]] = {
    (Scanner, "next_possible_simple_key"): {("(self) -> 'Any'", "9c79c1103741d41b")},
    (Scanner, "stale_possible_simple_keys"): {("(self) -> 'None'", "2f40ba414ce17cd9")},
    (Scanner, "save_possible_simple_key"): {("(self) -> 'None'", "bfacaa22d071ec7f")},
    (Scanner, "remove_possible_simple_key"): {("(self) -> 'None'", "3fa06215a165912b")},
    (Scanner, "fetch_value"): {("(self) -> 'None'", "db531313c991e92e")},
    (Scanner, "need_more_tokens"): {("(self) -> 'bool'", "28809c31a48d57f3")},
    (Scanner, "fetch_more_tokens"): {("(self) -> 'Any'", "10a4893cbdd5a945")},
    (SimpleKey, "__init__"): {(
        "(self, token_number: 'Any', required: 'Any', index: 'int', line: 'int', column: 'int', mark: 'Any') -> 'None'",
        "aa167cc9109d4d83")},
    (Composer, "__init__"): {("(self, loader: 'Any' = None) -> 'None'", "dc4e5adcdc4bfbc7"),    # 0.18.17
                             ("(self, loader: 'Any' = None) -> 'None'", "5df0c83a4e27fd2a")},   # 0.19.1: depth
    (Composer, "parser"): {("(self) -> 'Any'", "ff5a91a5c4859a6b")},
    (Composer, "compose_document"): {("(self: 'Any') -> 'Any'", "10fd4ec2c1dd01af")},
    (Composer, "compose_node"): {("(self, parent: 'Any', index: 'Any') -> 'Any'", "b42d1c26896ea0c5"),   # 0.18.17
                                 ("(self, parent: 'Any', index: 'Any') -> 'Any'", "b66288f97d752b8f")},  # 0.19.1
    (Composer, "compose_sequence_node"): {("(self, anchor: 'Any') -> 'Any'", "e01530705d9145ba")},
    (Composer, "compose_mapping_node"): {("(self, anchor: 'Any') -> 'Any'", "7ad60775607fb7a4")},
    (StreamMark, "__init__"): {("(self, name: 'Any', index: 'int', line: 'int', column: 'int') -> 'None'",
                                "cc77bb5944f015d5")},
    (YAML, "scanner"): {("(self) -> 'Any'", "a00c7d5c8de2e46d")},  # builds self.Scanner(loader=self)
    (YAML, "composer"): {("(self) -> 'Any'", "09d5427251fda79d")},  # builds self.Composer(loader=self)
}


def _fingerprint(cls: type, name: str) -> tuple[str, str]:
    member = inspect.getattr_static(cls, name)
    function = member.fget if isinstance(member, property) else member
    source = inspect.getsource(function)
    return str(inspect.signature(function)), hashlib.sha256(source.encode()).hexdigest()[:16]


@pytest.mark.parametrize("cls, name", sorted(KNOWN, key=lambda key: (key[0].__name__, key[1])),
                         ids=lambda value: value if isinstance(value, str) else value.__name__)
def test_the_ruamel_methods_the_overrides_rely_on_are_unchanged(cls, name):
    found = _fingerprint(cls, name)
    assert found in KNOWN[(cls, name)], (
        f"ruamel.yaml {INSTALLED}: {cls.__module__}.{cls.__qualname__}.{name} changed "
        f"(signature {found[0]}, source hash {found[1]}); {RECHECK}")


def test_the_overrides_are_still_the_ones_recorded():
    """load.py overrides exactly these; a new override needs its ruamel method recorded above."""
    def overridden(cls, base):
        return {name for name, value in vars(cls).items() if callable(value) and hasattr(base, name)}

    assert overridden(load._LinearScanner, RoundTripScanner) == {"next_possible_simple_key", "stale_possible_simple_keys"}
    assert overridden(load._LimitedComposer, Composer) == {"__init__", "compose_document", "compose_node"}
    assert issubclass(load._LinearScanner, RoundTripScanner) and issubclass(load._LimitedComposer, Composer)
    # RoundTripScanner must not replace what _LinearScanner replaces (it would be skipped).
    for name in ("next_possible_simple_key", "stale_possible_simple_keys"):
        assert name not in vars(RoundTripScanner), f"ruamel.yaml {INSTALLED}: RoundTripScanner.{name}; {RECHECK}"


def test_the_pin_admits_the_installed_release_and_has_an_upper_bound():
    from conftest import ROOT

    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [requirement] = [Requirement(text) for text in dependencies if Requirement(text).name == "ruamel.yaml"]
    assert requirement.specifier.contains(INSTALLED), f"ruamel.yaml {INSTALLED} is outside pyproject's {requirement}"
    assert any(spec.operator == "<" for spec in requirement.specifier), (
        f"{requirement}: load.py overrides ruamel internals, so the pin needs an upper bound")


# --- the linear scanner gives ruamel's own answers ------------------------------------------------

TEXTS = [
    "a: 1\nb: [1, 2, {c: d}]\n",
    "{a: [b, {c: [d, e]}], f: g}\n",
    "- [a, b]\n- {c: d, e: [f, {g: h}]}\n",
    "[[[[[a]]]]]\n",
    "{" * 40 + "a: b" + "}" * 40 + "\n",
    "[a, b: c, {d: e}: f]\n",
    "key: &x [1, 2]\nother: *x\n",
    "? complex\n: value\n",
    "a: 'quoted: not a key'\nb: \"x\"\n",
    "a:\n  b:\n    - c: d\n      e: f\n",
    "a: [" + ", ".join(f"k{i}: v{i}" for i in range(50)) + "]\n",
    "x" * 1100 + ": too long for a simple key\n",
    "[" + "x" * 1100 + ": v]\n",
    "a: [b, c\nd: e\n",          # unclosed flow sequence
    "a b c\nd: e\n",            # a simple key that cannot be one
    "{a: b\n  c: d}\n",
    "[a,\n b,\n c]\n",
    "a: {b: [c,\n  d], e: f}\n",
    "-\n  - a\n  -\n   b: c\n",
]


def _scan(text: str, scanner: type) -> tuple[list[tuple], str | None]:
    yaml = YAML(typ="rt")
    yaml.Scanner = scanner
    tokens = []
    try:
        for token in yaml.scan(text):
            tokens.append((type(token).__name__, getattr(token, "value", None), token.start_mark.line,
                           token.start_mark.column, token.end_mark.line, token.end_mark.column))
    except ruamel.yaml.YAMLError as exc:
        return tokens, f"{type(exc).__name__}: {exc}"
    return tokens, None


@pytest.mark.parametrize("text", TEXTS, ids=lambda text: repr(text[:30]))
def test_the_linear_scanner_scans_exactly_like_ruamels(text):
    assert _scan(text, load._LinearScanner) == _scan(text, RoundTripScanner), f"ruamel.yaml {INSTALLED}; {RECHECK}"
