"""The leak scan's quick test (issue 18): a file is searched needle by needle only when a probe is
in it, and the findings are exactly those of searching every file for every needle."""

from __future__ import annotations

import base64
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from jcnrc.output import secretscan
from jcnrc.render.templates import FILTERS


def reference_scan(files, values, labels=None):
    """secretscan.scan before issue 18: every file through _find_text and _find_base64."""
    needles, encoded = secretscan._needles(values, labels)
    findings = set()
    for path, text in files.items():
        findings.update(secretscan._find_text(path, text, needles))
        findings.update(secretscan._find_base64(path, text, encoded))
    return sorted(findings)


def test_python_splits_ascii_text_where_the_scan_removes_whitespace():
    ascii_space = "".join(chr(code) for code in range(128) if chr(code).isspace())
    assert sorted(secretscan._ASCII_WHITESPACE) == sorted(ascii_space.encode())


def _written(value: str, how: int, width: int, around: str) -> str:
    """`value` as a template could write it: raw, through a filter, base64 (wrapped, indented)."""
    names = sorted(FILTERS)
    if how < len(names):
        written = secretscan._call_filter(FILTERS[names[how]], value)
        return around + (written if written is not None else value) + around
    encoded = base64.b64encode((around + value).encode()).decode()
    if how == len(names):
        return encoded
    return textwrap.indent("\n".join(textwrap.wrap(encoded, width)), "    ")


values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=6, max_size=24) \
    | st.text(alphabet="ab1 \n\t'\"\\$#&<>:-", min_size=6, max_size=24)
noise = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40) | st.just("")


@settings(max_examples=400)
@given(values, st.lists(st.tuples(st.integers(0, len(FILTERS) + 1), st.integers(4, 80), noise, st.booleans()),
                        min_size=1, max_size=4), noise)
def test_the_scan_finds_what_searching_everything_finds(value, placements, filler):
    files = {}
    for index, (how, width, around, leak) in enumerate(placements):
        files[f"f{index}.yaml"] = filler + (_written(value, how, width, around) if leak else around) + filler
    assert secretscan.scan(files, [value, "other-value-x"]) == reference_scan(files, [value, "other-value-x"])


def test_every_needle_holds_a_probe():
    for value in ["S3cr3t-Passw0rd!", "LICENSE-KEY-0123\nsecond line here\n", "a b c d e f", "é" * 8, "x+/y" * 5]:
        flat = [secretscan._WHITESPACE.sub(" ", text) for text in secretscan._text_forms(value)]
        probes = secretscan._text_probes(flat)
        assert all(any(probe in needle for probe in probes) for needle in flat)
        assert not any(char.isspace() for probe in probes for char in probe)
        encoded = list(secretscan._all_base64_forms(value))
        assert all(any(probe in needle for probe in secretscan._base64_probes(encoded)) for needle in encoded)


def test_a_file_without_the_value_is_not_searched_needle_by_needle(monkeypatch):
    searched = []
    for name in ("_find_text", "_find_base64"):
        real = getattr(secretscan, name)
        monkeypatch.setattr(secretscan, name, lambda path, *rest, real=real: searched.append(path) or real(path, *rest))
    value = "Correct-Horse-Battery-9"
    files = {f"clean-{i}.yaml": f"name: pod-{i}\nimage: ubuntu:20.04\n" * 50 for i in range(100)}
    files["leak.yaml"] = "password: " + FILTERS["yaml"](value) + "\n"
    files["leak.b64"] = base64.b64encode(value.encode()).decode() + "\n"
    found = secretscan.scan(files, [value])
    assert {f.path for f in found} == {"leak.yaml", "leak.b64"}
    assert set(searched) == {"leak.yaml", "leak.b64"}
