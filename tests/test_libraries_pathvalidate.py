"""write.py's path check moved its portable file-name rules to pathvalidate: nothing got through.

`reference_check` below is safe_relative_path's check as it was before, written by hand (kept
here verbatim as the reference). Every path of a corpus of hostile names, enumerated and
generated, that the reference refused, the new check refuses too. The new one refuses a little
more (pathvalidate's rules): a component starting with a space or of white space only (U+00A0,
U+3000...), and CLOCK$ as a device name.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jcnrc.output import write
from jcnrc.output.write import WriteError

# --- the reference: the hand-made check as it was -----------------------------------------------

_OWNED_LIST = ".jcnrc-owned"
_CONTROL_ASCII = re.compile(r"[\x00-\x1f\x7f]")
_WINDOWS_ASCII = re.compile(r'[<>:"|?*]')
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_BAD_COMPONENT = re.compile(r"(?:^|/)(?:(?=/|$)|-)|[. ](?=/|$)")
_WINDOWS_DEVICE = re.compile(r"(?:^|/)((?:con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3]"
                             r"|conin\$|conout\$) *(?:\.[^/]*)?)(?=/|$)", re.IGNORECASE)
_GIT_FOLDER = re.compile(r"(?:^|/)(\.git|git~1)(?=/|$)", re.IGNORECASE)
_MAX_NAME_BYTES = 255
_SUSPECT = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\]|[. ](?:/|$)|(?:^|/)(?:[-/]|$|\.jcnrc-owned|[cC][oO][nNmM]|[pP][rR][nN]'
                      r"|[aA][uU][xX]|[nN][uU][lL]|[lL][pP][tT]|\.[gG][iI][tT]|[gG][iI][tT]~)")


def _reference_check_path(path: str) -> None:
    if path.isascii() and len(path) <= _MAX_NAME_BYTES and not _SUSPECT.search(path):
        return
    _reference_check_path_closely(path)


def _reference_check_path_closely(path: str) -> None:
    if not path or "\0" in path or "\\" in path or path[0] == "/":
        raise WriteError(f"refusing to write {path!r}: not a plain relative path")
    if _CONTROL_ASCII.search(path):
        raise WriteError(f"refusing to write {path!r}: control characters in the name")
    if not path.isascii():
        for char in path:
            if char >= "\x80" and unicodedata.category(char) in _UNSAFE_CATEGORIES:
                if unicodedata.category(char) == "Cc":
                    raise WriteError(f"refusing to write {path!r}: control characters in the name")
                raise WriteError(f"refusing to write {path!r}: U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')}) "
                                 "is invisible or changes how the name is shown")
    if _WINDOWS_ASCII.search(path):
        raise WriteError(f"refusing to write {path!r}: Windows does not allow < > : \" | ? * in file names")
    if _BAD_COMPONENT.search(path) or _reference_too_long(path):
        raise WriteError(f"refusing to write {path!r}: a path component is empty, '.', '..', starts with '-', "
                         "ends with '.' or ' ', or is too long")
    device = _WINDOWS_DEVICE.search(path)
    if device:
        raise WriteError(f"refusing to write {path!r}: {device.group(1)!r} is a device name on Windows, "
                         "where the file cannot be checked out")
    git = _GIT_FOLDER.search(path)
    if git:
        raise WriteError(f"refusing to write {path!r}: {git.group(1)!r} is git's own folder")
    if path == _OWNED_LIST or path.startswith(_OWNED_LIST + "/"):
        raise WriteError(f"refusing to write {path!r}: {_OWNED_LIST} is jcnrc's own list of the files it wrote")


def _reference_too_long(path: str) -> bool:
    if len(path) <= _MAX_NAME_BYTES // 4 or (len(path) <= _MAX_NAME_BYTES and path.isascii()):
        return False  # at most 4 bytes a character
    return any(len(part.encode("utf-8")) > _MAX_NAME_BYTES for part in path.split("/"))


# --- comparing ----------------------------------------------------------------------------------

def _refused(check, path: str) -> str | None:
    try:
        check(path)
    except WriteError as exc:
        return str(exc)
    return None


def _only_newly_refused_for_a_known_reason(path: str) -> bool:
    """What the new check may refuse beyond the reference: pathvalidate's own extra rules."""
    return any(part.startswith(" ") or (part and not part.strip()) or part.split(".")[0].upper() == "CLOCK$"
               for part in path.split("/"))


def _compare(path: str) -> None:
    old = _refused(_reference_check_path, path)
    new = _refused(write._check_path, path)
    closely = _refused(write._check_path_closely, path)
    if old is not None:
        assert new is not None, f"{path!r}: the reference refused it ({old}), the new check lets it through"
    elif new is not None:
        assert _only_newly_refused_for_a_known_reason(path), f"{path!r}: newly refused: {new}"
    assert (new is None) == (closely is None), f"{path!r}: the quick check and the close one disagree"


# --- an enumerated corpus -----------------------------------------------------------------------

DEVICES = ["con", "prn", "aux", "nul", "clock$", "conin$", "conout$", "conin", "conout", "null", "console"]
DEVICES += [f"{stem}{digit}" for stem in ("com", "lpt") for digit in "0123456789\u00b9\u00b2\u00b3x"] + ["com10", "lpt"]
LOOKALIKE_LETTERS = {"i": ["\u0131", "\u0130"], "c": ["\uff43"], "o": ["\u00f6"], "n": ["\u0144"], "k": ["\u212a"]}


def _case_variants(name: str) -> list[str]:
    variants = {name, name.upper(), name.capitalize(), name.swapcase()}
    for letter, others in LOOKALIKE_LETTERS.items():
        for other in others:
            variants.add(name.replace(letter, other))
    return sorted(variants)


def _device_names() -> list[str]:
    names = []
    for device in DEVICES:
        for variant in _case_variants(device):
            for suffix in ["", ".json", ".tar.gz", " .json", "  .x", ".", " ", "..txt", "-1", "_1", "x", ".example.com"]:
                names.append(variant + suffix)
    return names


SPECIAL_CHARACTERS = ([chr(c) for c in range(0x20)] + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]
                      + list('<>:"|?*\\/') + [" ", ".", "-", "~", "$"]
                      + ["\u00ad", "\u061c", "\u200b", "\u200d", "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069",
                         "\ufeff", "\u2028", "\u2029", "\U000e0041", "\ud800", "\udcff", "\u00a0", "\u3000", "\u2000",
                         "\uff0e", "\u2024", "\uff1a", "\u00e9", "\u4e2d", "\U0001f600"])


def _character_names() -> list[str]:
    names = []
    for char in SPECIAL_CHARACTERS:
        names += [char, f"a{char}b", f"{char}a", f"a{char}", f"x/{char}", f"{char}/x", f"a{char}.json", char * 3]
    return names


def _component_names() -> list[str]:
    names = ["", ".", "..", "...", "-", "-x", "x-", "a//b", "a/", "/a", "./a", "a/./b", "a/../b", "../a", ". ", ".. ",
             " .", " ..", " a", "a ", " ", "  ", "a. ", "a .", ".git", ".GIT", ".Git", "git~1", "GIT~1", ".git ", ".git.",
             "x/.git/y", ".gitignore", ".github", "git~2", "git~1x", _OWNED_LIST, _OWNED_LIST + "/x", "x/" + _OWNED_LIST,
             _OWNED_LIST + "x", ".jcnrc-OWNED"]
    for char, width in (("x", 1), ("\u00e9", 2), ("\u4e2d", 3), ("\U0001f600", 4)):
        for total in (_MAX_NAME_BYTES - 2, _MAX_NAME_BYTES - 1, _MAX_NAME_BYTES, _MAX_NAME_BYTES + 1, _MAX_NAME_BYTES + 4):
            count, rest = divmod(total, width)
            name = char * count + "a" * rest
            names += [name, f"dir/{name}", f"{name}/file", f"{name[:-1]}."]
    return names


ENUMERATED = _device_names() + _character_names() + _component_names()
ENUMERATED += [f"{prefix}/{name}" for prefix in ("nodes", "a.b") for name in _device_names()[::7]]


def test_the_corpus_is_hostile_enough():
    refused = sum(_refused(_reference_check_path, path) is not None for path in ENUMERATED)
    assert len(ENUMERATED) > 3000 and refused > len(ENUMERATED) // 2


def test_every_enumerated_name_the_reference_refused_is_still_refused():
    failures = []
    for path in ENUMERATED:
        try:
            _compare(path)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, failures[:20]


@pytest.mark.parametrize("path", [" a", "x/ a", "clock$", "CLOCK$.txt", "x/Clock$/y", "\u00a0", "x/\u3000\u3000"], ids=repr)
def test_what_pathvalidate_refuses_beyond_the_reference(path):
    assert _refused(_reference_check_path, path) is None
    assert _refused(write._check_path, path) is not None


@pytest.mark.parametrize("path, words", [
    ("a\x01b", "control characters"),
    ("a\x7f", "control characters"),
    ("a:b", "Windows does not allow"),
    ("a.", "path component"),
    ("x" * 256, "too long"),
    ("NUL.json", "'NUL.json' is a device name on Windows"),
    ("nul .json", "'nul .json' is a device name on Windows"),
    ("conout$.log", "'conout$.log' is a device name on Windows"),
    ("x/.Git/y", "'.Git' is git's own folder"),
    ("x/\u00a0", "blank"),
], ids=repr)
def test_refusals_keep_their_wording(path, words):
    message = _refused(write._check_path, path)
    assert message is not None and words in message, message


# --- a generated corpus -------------------------------------------------------------------------

ALPHABET = list("/.- ~$acegiklmnoprstuxCGIKLMNOPTUX0139:\\<>|?*\"\x00\x1f\x7f\x85\u00b9\u00b2\u00e9\u0131\u202e\u200b"
                "\u2028\ud800\u4e2d")


@settings(max_examples=1000)  # derandomized (tests/conftest.py): the same thousand names every run
@given(path=st.text(st.sampled_from(ALPHABET), max_size=16)
       | st.lists(st.sampled_from([*DEVICES, ".git", "git~1", ".", "..", "", "-", " "]), min_size=1, max_size=3).flatmap(
           lambda parts: st.tuples(*[st.sampled_from(_case_variants(p)) for p in parts],
                                   *[st.sampled_from(["", ".x", " .x", " ", ".", "..y", "~1"]) for _ in parts])
           .map(lambda got: "/".join(a + b for a, b in zip(got[:len(got) // 2], got[len(got) // 2:], strict=True))))
       | st.text(max_size=12))
def test_every_generated_name_the_reference_refused_is_still_refused(path):
    _compare(path)


def test_long_names_in_every_width():
    for width_char, extra in itertools.product(["a", "\u00e9", "\u4e2d", "\U0001f600"], range(5)):
        count = _MAX_NAME_BYTES // len(width_char.encode()) + extra - 2
        _compare(width_char * count)
        _compare("d/" + width_char * count + "/f")
