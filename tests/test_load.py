"""Stage 1: bytes -> plain data and a source map, or YAML diagnostics (JCN001-JCN009) with positions."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from jcnrc.diagnostics import format_text, locate
from jcnrc.intent.load import Limits, load_bytes, load_file, to_plain

EXAMPLE = ROOT / "examples" / "aks-evpn-type5.yaml"


def only(loaded):
    assert len(loaded.diagnostics) == 1, loaded.diagnostics
    return loaded.diagnostics[0]


def located(loaded):
    return locate(loaded.diagnostics, loaded.source)


# --- a good file ------------------------------------------------------------------------------

def test_example_loads_as_plain_data_with_positions():
    loaded = load_file(EXAMPLE)
    assert loaded.ok and loaded.diagnostics == []
    assert loaded.data["vrfs"][0]["routeTarget"] == "11:11"
    assert type(loaded.data["nodes"]) is list and type(loaded.data["nodes"][0]) is dict
    # line 23: `  - {name: aks-agentpool-23733201-vmss000001, address: 10.240.0.5, fabricAddress: 10.241.0.5, role: worker}`
    assert loaded.source.position(("nodes", 1, "name")) == (23, 12)
    assert loaded.source.position(("nodes", 1, "address"), at="value") == (23, 56)
    assert loaded.source.position(("cluster", "asn"), at="key") == (12, 3)
    assert loaded.source.position(("cluster", "asn")) == (12, 8)


def test_yaml_1_2_keeps_words_and_route_targets_as_text():
    loaded = load_bytes(b"a: on\nb: yes\nc: 11:11\nd: 0o17\ne: 010\n", "t.yaml")
    assert loaded.data == {"a": "on", "b": "yes", "c": "11:11", "d": 15, "e": 10}


def test_missing_key_points_at_the_mapping_that_should_hold_it():
    loaded = load_bytes(b"cluster:\n  asn: 1\n", "t.yaml")
    assert loaded.source.position(("cluster", "nodeSubnet")) == (2, 3)


def test_keys_merged_from_an_anchor_point_at_the_anchor():
    text = b"base: &b {x: 1, y: 2}\nitem:\n  <<: *b\n  z: 3\n"
    loaded = load_bytes(text, "t.yaml")
    assert loaded.data["item"] == {"z": 3, "x": 1, "y": 2}
    assert loaded.source.position(("item", "y"), at="key") == (1, 17)
    assert loaded.source.position(("item", "z"), at="key") == (4, 3)


def test_keys_that_are_not_text_become_text_and_keep_their_position():
    loaded = load_bytes(b"a: 1\n7: x\ntrue: y\n", "t.yaml")
    assert loaded.data == {"a": 1, "7": "x", "true": "y"}
    assert loaded.source.position(("7",), at="key") == (2, 1)
    assert loaded.source.position(("true",), at="key") == (3, 1)


def test_byte_order_mark_and_crlf_line_ends_are_accepted():
    loaded = load_bytes("\ufeffa: 1\r\nb:\r\n  c: 2\r\n".encode("utf-8"), "t.yaml")
    assert loaded.ok and loaded.data == {"a": 1, "b": {"c": 2}}
    assert loaded.source.position(("b", "c")) == (3, 6)
    assert loaded.source.source_line(3) == "  c: 2"


def test_lone_carriage_returns_count_as_line_breaks_like_the_parser_does():
    loaded = load_bytes(b"a: 1\rb: 2\rc: [\r", "t.yaml")
    assert only(loaded).code == "JCN001"
    assert loaded.source.source_line(3) == "c: ["


def test_to_plain_returns_builtin_types_only():
    loaded = load_bytes(b"a: [1, 2.5, x, null, true]\nb: {c: d}\n", "t.yaml")
    plain = to_plain(loaded.source.root)
    assert plain == {"a": [1, 2.5, "x", None, True], "b": {"c": "d"}}
    assert type(plain) is dict and type(plain["a"]) is list and type(plain["b"]) is dict


# --- JCN001 syntax ----------------------------------------------------------------------------

def test_unclosed_flow_mapping_points_at_its_opening_brace():
    loaded = load_bytes(b"nodes:\n  - {name: a, role: master\n  - {name: b}\n", "t.yaml")
    d = only(loaded)
    assert (d.code, d.line, d.column) == ("JCN001", 2, 5)
    assert "never closed" in d.help and "line 3, column 5" in d.help


def test_key_without_colon_points_at_the_key():
    d = only(load_bytes(b"cluster:\n  asn 64512\n  podCidr: 10.0.0.0/8\n", "t.yaml"))
    assert (d.code, d.line, d.column) == ("JCN001", 2, 3)
    assert "colon" in d.help


def test_unclosed_quote_points_at_the_quote():
    d = only(load_bytes(b'a: 1\nb: "11:11\nc: 2\n', "t.yaml"))
    assert (d.code, d.line, d.column) == ("JCN001", 2, 4)
    assert d.help.startswith("this quote is never closed")


def test_bad_indentation_points_at_the_line():
    d = only(load_bytes(b"a:\n  b: 1\n c: 2\n", "t.yaml"))
    assert (d.code, d.line) == ("JCN001", 3)
    assert "indentation" in d.help


def test_undefined_alias():
    d = only(load_bytes(b"a: *nowhere\n", "t.yaml"))
    assert (d.code, d.line, d.column) == ("JCN001", 1, 4)
    assert "anchor" in d.help


# --- JCN002-JCN009 ----------------------------------------------------------------------------

def test_duplicate_key_names_the_first_definition():
    loaded = load_bytes(b"vrfs:\n  - name: blue\n    vni: 1\n    vni: 2\n", "t.yaml")
    d = only(loaded)
    assert (d.code, d.line, d.column, d.message) == ("JCN002", 4, 5, "duplicate key `vni`")
    [(related, line, column)] = located(loaded)[0].related
    assert (related.message, line, column) == ("first defined", 3, 5)


def test_duplicate_key_in_a_flow_mapping():
    loaded = load_bytes(b"a: {b: 1, c: 2, b: 3}\n", "t.yaml")
    item = located(loaded)[0]
    assert (item.diagnostic.code, item.line, item.column) == ("JCN002", 1, 17)
    assert [(line, column) for _, line, column in item.related] == [(1, 5)]


def test_tab_indentation_is_reported_on_every_line():
    loaded = load_bytes(b"a:\n\tb: 1\n\tc: 2\n", "t.yaml")
    assert [(d.code, d.line, d.column) for d in loaded.diagnostics] == [("JCN003", 2, 1), ("JCN003", 3, 1)]


def test_non_utf8_byte_is_located_and_the_line_still_shown():
    loaded = load_bytes(b"a: 1\nb: caf\xe9\n", "t.yaml")
    d = only(loaded)
    assert (d.code, d.line, d.column) == ("JCN004", 2, 7)
    assert "0xe9" in d.message
    assert "caf" in format_text(located(loaded)[0])


@pytest.mark.parametrize("text", [b"", b"   \n\n", b"# only a comment\n# and another\n"])
def test_empty_file(text):
    d = only(load_bytes(text, "t.yaml"))
    assert d.code == "JCN005" and "jcnrc init" in d.help


@pytest.mark.parametrize("text, found, position", [
    (b"- a\n- b\n", "a list", (1, 1)),
    (b"# comment\n  hello\n", "a string", (2, 3)),
    (b"42\n", "a number", (1, 1)),
])
def test_top_level_must_be_a_mapping(text, found, position):
    d = only(load_bytes(text, "t.yaml"))
    assert d.code == "JCN006" and d.message.endswith(found)
    assert (d.line, d.column) == position


def test_several_documents_point_at_the_second_separator():
    d = only(load_bytes(b"a: 1\n---\nb: 2\n", "t.yaml"))
    assert (d.code, d.line, d.column) == ("JCN007", 2, 1)


def test_empty_documents_around_one_intent_are_fine():
    loaded = load_bytes(b"---\n---\na: 1\n", "t.yaml")
    assert loaded.ok and loaded.data == {"a": 1}


def test_nesting_limit_points_at_the_too_deep_node():
    loaded = load_bytes(b"a: " + b"[" * 10 + b"]" * 10 + b"\n", "t.yaml", Limits(max_depth=5))
    d = only(loaded)
    assert (d.code, d.line, d.column) == ("JCN008", 1, 9)


def test_alias_expansion_limit_stops_billion_laughs():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    d = only(load_bytes("\n".join(lines).encode(), "t.yaml"))
    assert d.code == "JCN008" and "aliases" in d.message


def test_nesting_through_an_alias_counts_the_levels_of_what_it_names():
    text = b"a: &a [x, [y, [z]]]\nb: [[[[*a]]]]\n"  # `z` ends up 8 levels below the top
    assert load_bytes(text, "t.yaml", Limits(max_depth=8)).ok
    d = only(load_bytes(text, "t.yaml", Limits(max_depth=7)))
    assert (d.code, d.line, d.column) == ("JCN008", 2, 8)


def test_an_alias_inside_the_node_it_names_is_refused():
    d = only(load_bytes(b"a: &a [x, *a]\n", "t.yaml"))
    assert (d.code, d.line, d.column) == ("JCN008", 1, 11) and "nests deeper" in d.message


def test_the_node_limit_counts_keys_values_and_expanded_aliases():
    text = b"a: &a [1, 2, 3]\nb: *a\n"  # mapping, 2 keys, the list and its 3 items, the alias's 4
    assert load_bytes(text, "t.yaml", Limits(max_nodes=11)).ok
    d = only(load_bytes(text, "t.yaml", Limits(max_nodes=10)))
    assert d.code == "JCN008" and "more than 10 nodes" in d.message and "aliases" in d.message
    d = only(load_bytes(b"a: [1, 2, 3]\n", "t.yaml", Limits(max_nodes=5)))
    assert d.code == "JCN008" and d.message == "the document has more than 5 nodes"


def test_a_text_over_the_node_limit_is_counted_before_ruamel_composes_it(monkeypatch):
    import jcnrc.intent.load

    def composed(*args):
        raise AssertionError("ruamel composed a document that rapidyaml had counted over the limit")

    monkeypatch.setattr(jcnrc.intent.load._LimitedComposer, "compose_node", composed)
    text = b"a: [" + b"x, " * 2000 + b"]\n"
    d = only(load_bytes(text, "t.yaml", Limits(max_nodes=1000)))
    assert (d.code, d.message, d.line, d.column) == ("JCN008", "the document has more than 1000 nodes", 1, 1)


def test_size_limit():
    d = only(load_bytes(b"a: 1\n" * 100, "t.yaml", Limits(max_bytes=50)))
    assert d.code == "JCN008" and "limit is 50" in d.message


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x0c", "\x7f", "\ufffe"])
def test_control_characters_are_located(char):
    loaded = load_bytes(f"a: 1\nb: x{char}y\n".encode(), "t.yaml")
    d = only(loaded)
    assert (d.code, d.line, d.column) == ("JCN009", 2, 5)
    assert f"U+{ord(char):04X}" in d.message
    shown = format_text(located(loaded)[0])
    assert char not in shown  # never echoed to the terminal


# --- never a traceback ------------------------------------------------------------------------

YAMLISH = st.text(alphabet=string.printable + "ü€\u2028\x00\x1b", max_size=400)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAMLISH)
def test_any_text_gives_data_or_diagnostics(text):
    loaded = load_bytes(text.encode("utf-8"), "t.yaml")
    assert (loaded.data is not None) == (not loaded.diagnostics)
    for item in located(loaded):
        assert item.line >= 1 and item.column >= 1
        format_text(item)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_data_or_diagnostics(raw):
    loaded = load_bytes(raw, "t.yaml")
    assert (loaded.data is not None) == (not loaded.diagnostics)
    for item in located(loaded):
        format_text(item)


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=2000), st.sampled_from(list(" :-[]{}\t\n\"'#&*!|>%@`,?")))
def test_one_character_damage_to_the_example_never_raises(offset, char):
    text = EXAMPLE.read_text(encoding="utf-8")
    offset %= len(text)
    damaged = text[:offset] + char + text[offset:]
    loaded = load_bytes(damaged.encode("utf-8"), "t.yaml")
    for item in located(loaded):
        assert 1 <= item.line <= damaged.count("\n") + 2


# --- the scanner -----------------------------------------------------------------------------

def _events(text: str, scanner) -> list:
    """Every event of ruamel's round-trip parser with `scanner`, or the error it ends with."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="rt")
    yaml.Scanner = scanner
    events = []
    try:
        for event in yaml.parse(text):
            events.append((type(event).__name__, getattr(event, "value", None), getattr(event, "anchor", None),
                           getattr(event, "tag", None), event.start_mark.index, event.end_mark.index))
    except YAMLError as exc:
        events.append(("error", str(exc)))
    return events


YAML_SYNTAX = st.text(alphabet="[]{},:-?#'\"&*!|> \nab1", max_size=300)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAML_SYNTAX)
def test_the_linear_scanner_reads_what_ruamels_scanner_reads(text):
    """jcnrc.intent.load._LinearScanner replaces two of ruamel's methods with constant-time ones."""
    from ruamel.yaml.scanner import RoundTripScanner

    from jcnrc.intent.load import _LinearScanner

    assert _events(text, _LinearScanner) == _events(text, RoundTripScanner)


@pytest.mark.parametrize("text", [
    "a: " + "[" * 300 + "]" * 300 + "\n",                  # many open flow levels
    "a: [" + ", ".join(["{b: c}"] * 200) + "]\n",           # a line longer than 1,024 characters
    "a: {" + "x" * 1100 + ": 1}\n",                         # a key too long to be a simple key
    "- " + "x" * 1100 + "\n- : b\n",
    "[a,\n b, {c: [d,\n e]}]\n",                           # flow over several lines
])
def test_the_linear_scanner_reads_long_and_deep_lines_like_ruamel(text):
    from ruamel.yaml.scanner import RoundTripScanner

    from jcnrc.intent.load import _LinearScanner

    assert _events(text, _LinearScanner) == _events(text, RoundTripScanner)
