"""Compiled templates kept between runs (render/templates.py, CompiledTemplates; issue 18).

A build compiles a template only when neither this process nor the cache folder holds its code
for the same text, name, file and compile settings; what it renders is the same either way. The
folder is trusted only when it is this user's alone: anything else there (a folder others may
write to, a link, an entry with other permissions, several names or a broken digest) is not
read, and the template is compiled as before. The tests count compilations, never time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import marshal
import os
import stat
from pathlib import Path

import jinja2
import pytest

from conftest import EXAMPLES

EXAMPLE = next(path for path in EXAMPLES if path.name == "aks-evpn-type5.yaml")


def _counted_compilations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the templates Jinja compiles from here on, in a process that has compiled none."""
    from jcnrc.render import templates

    compiled: list[str] = []
    real = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, raw=False, defer_init=False):
        compiled.append(name)
        return real(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    monkeypatch.setattr(templates, "_COMPILED", {})
    return compiled


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Compilations without the shipped table: these tests are about compiling and the cache folder."""
    from jcnrc.render import templates

    monkeypatch.setattr(templates, "SHIPPED", None)
    return _counted_compilations(monkeypatch)


def build() -> dict[str, str]:
    from jcnrc.pipeline import Options, compile_intent

    result = compile_intent(EXAMPLE, Options(), display_name=f"examples/{EXAMPLE.name}")
    assert result.ok and result.files is not None
    return result.files


def forget_this_process() -> None:
    """As a new process: nothing compiled in memory."""
    from jcnrc.render import templates

    templates._COMPILED.clear()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from jcnrc.render import templates

    folder = tmp_path / "cache" / "jcnrc" / "templates"
    monkeypatch.setenv(templates.CACHE_ENV, str(folder))
    return folder


def test_a_second_run_compiles_nothing_and_renders_the_same(cache, compiles):
    cold = build()
    first = len(compiles)
    assert first > 10 and cache.is_dir()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    entries = list(cache.iterdir())
    assert len(entries) == len(set(compiles)) and all(stat.S_IMODE(e.stat().st_mode) == 0o600 for e in entries)
    forget_this_process()
    warm = build()
    assert len(compiles) == first, "a template was compiled again although the cache folder held its code"
    assert warm == cold


def test_this_process_compiles_each_template_once_without_a_folder(monkeypatch, compiles):
    from jcnrc.render import templates

    monkeypatch.setenv(templates.CACHE_ENV, "")
    first = build()
    count = len(compiles)
    assert build() == first and len(compiles) == count  # a fleet renders one Templates() per cluster


@pytest.mark.parametrize("setting", [None, "", "relative/folder"])
def test_no_folder_unless_the_operator_names_one(tmp_path, monkeypatch, compiles, setting):
    """A build writes nothing outside its output folder unless asked: no cache by default."""
    from jcnrc.render import templates

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if setting is None:
        monkeypatch.delenv(templates.CACHE_ENV, raising=False)
    else:
        monkeypatch.setenv(templates.CACHE_ENV, setting)
    assert templates.cache_folder() is None
    files = build()
    forget_this_process()
    assert build() == files
    assert len(compiles) == 2 * len(set(compiles))  # compiled again: nothing was kept
    assert list(tmp_path.iterdir()) == []


def _warm(cache: Path) -> dict[str, bytes]:
    """Fill the cache folder; its entries by name."""
    build()
    forget_this_process()
    return {entry.name: entry.read_bytes() for entry in cache.iterdir()}


def _recompiled(compiles: list[str]) -> int:
    before = len(compiles)
    forget_this_process()
    build()
    return len(compiles) - before


def test_a_folder_others_may_write_to_is_neither_read_nor_written(cache, compiles):
    entries = _warm(cache)
    os.chmod(cache, 0o777)
    assert _recompiled(compiles) == len(entries)
    os.chmod(cache, 0o770)
    assert _recompiled(compiles) == len(entries)
    os.chmod(cache, 0o700)
    assert _recompiled(compiles) == 0


def test_a_folder_that_is_a_link_is_not_used(tmp_path, monkeypatch, compiles):
    from jcnrc.render import templates

    real = tmp_path / "real"
    monkeypatch.setenv(templates.CACHE_ENV, str(real))
    entries = _warm(real)
    link = tmp_path / "link"
    link.symlink_to(real)
    monkeypatch.setenv(templates.CACHE_ENV, str(link))
    assert _recompiled(compiles) == len(entries)


def test_entries_with_other_permissions_links_or_broken_content_are_compiled_again(cache, compiles):
    entries = _warm(cache)
    names = sorted(entries)
    writable, linked, hard, flipped, truncated, foreign = names[:6]
    os.chmod(cache / writable, 0o622)
    (cache / linked).unlink()
    (cache / linked).symlink_to(cache / names[6])
    os.link(cache / hard, cache.parent / "elsewhere")
    data = bytearray(entries[flipped])
    data[-3] ^= 0x01
    (cache / flipped).write_bytes(bytes(data))
    (cache / truncated).write_bytes(entries[truncated][:-10])
    (cache / foreign).write_bytes(entries[names[7]])  # another template's entry under this name
    assert _recompiled(compiles) == 6
    for name in (flipped, truncated, foreign):  # rewritten with the right content
        assert (cache / name).read_bytes() == entries[name]


def test_planted_code_in_an_unsafe_folder_never_runs(cache, compiles):
    """An entry of the right form whose code writes something else: only a folder of this user's
    alone is read, and there only with the digest of what it holds."""

    files = build()
    forget_this_process()
    name = "common/secrets.example.env.j2"
    [entry] = [e for e in cache.iterdir() if _entry_template(e) == name]
    header, payload = _split(entry.read_bytes())
    planted = jinja2.Environment().compile("PLANTED\n", name, "planted")
    forged = marshal.dumps(planted)
    (cache / entry.name).write_bytes(header + hashlib.sha256(forged).digest() + forged)
    os.chmod(cache, 0o777)
    assert "PLANTED" not in "".join(build().values())
    forget_this_process()
    os.chmod(cache, 0o700)
    (cache / entry.name).write_bytes(header + hashlib.sha256(payload).digest() + forged)  # digest of other bytes
    assert build() == files


def _split(data: bytes) -> tuple[bytes, bytes]:
    """(magic line, key line and checksum line; the marshalled code) of an entry."""
    from jcnrc.render import templates

    end = data.index(b"\n", data.index(b"\n", len(templates._MAGIC)) + 1) + 1
    return data[:end], data[end + templates._DIGEST:]


def _entry_template(entry: Path) -> str:
    return marshal.loads(_split(entry.read_bytes())[1]).co_filename.split("templates/", 1)[-1]


def test_a_changed_template_or_filter_is_compiled_again(tmp_path, cache, compiles, monkeypatch):
    from jcnrc.pipeline import Options, compile_intent
    from jcnrc.render import escape, templates

    _warm(cache)
    user = tmp_path / "mine" / "common"
    user.mkdir(parents=True)
    original = (Path(templates.resources.folder("templates")) / "common" / "secrets.example.env.j2").read_text()
    (user / "secrets.example.env.j2").write_text(original + "# edited\n")
    forget_this_process()
    before = len(compiles)
    result = compile_intent(EXAMPLE, Options(templates=tmp_path / "mine"), display_name=f"examples/{EXAMPLE.name}")
    assert result.files["secrets.example.env"].endswith("# edited\n")
    assert compiles[before:] == ["common/secrets.example.env.j2"]  # the user's file; the others are kept
    before = len(compiles)
    forget_this_process()
    monkeypatch.setitem(templates.FILTERS, "yaml", lambda value: escape.yaml_scalar(value))
    build()
    assert len(compiles) - before > 10, "compiled code was reused under another `yaml` filter"


# --- the shipped table (jcnrc/render/compiled_templates.json) --------------------------------------

@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Compilations with the shipped table in use, read afresh, and no cache folder."""
    from jcnrc.render import templates

    monkeypatch.setattr(templates, "_SHIPPED_TABLES", {})
    monkeypatch.delenv(templates.CACHE_ENV, raising=False)
    return _counted_compilations(monkeypatch)


def test_the_shipped_table_is_what_this_checkout_compiles():
    """Stale after a change of a template or a filter: `make compiled-templates` writes it again. Made
    with one Jinja release; with another installed its entries are not used (the flavour names Jinja's
    version), which the next test shows, and the text cannot be compared."""
    import orjson

    from jcnrc.render import templates

    assert templates.SHIPPED is not None
    committed = orjson.loads(templates.SHIPPED.read_bytes())
    if committed["jinja2"] != jinja2.__version__:
        pytest.skip(f"the table was made with Jinja {committed['jinja2']}, Jinja {jinja2.__version__} is installed")
    made_here = orjson.loads(templates.compile_shipped_table())
    if committed["bytecode"]["python"] == templates._python_tag():
        # marshal's bytes depend on what else the process holds (it marks objects referenced more than
        # once): the code they load must be the same.
        for body in (committed, made_here):
            body["bytecode"]["flavours"] = {
                flavour: {name: [checksum, marshal.loads(base64.b64decode(code))] for name, (checksum, code) in entries.items()}
                for flavour, entries in body["bytecode"]["flavours"].items()}
    else:  # another Python's bytecode is not used here (next tests) and cannot be made here
        committed.pop("bytecode")
        made_here.pop("bytecode")
    assert committed == made_here, \
        "jcnrc/render/compiled_templates.json is stale: run `make compiled-templates`"


def test_a_build_with_the_shipped_table_compiles_nothing_and_renders_the_same(shipped, monkeypatch):
    from jcnrc.render import templates

    with_table = build()
    if orjson_jinja() == jinja2.__version__:
        assert shipped == []
    else:  # another Jinja: every entry is ignored, and compiling is what keeps the output right
        assert len(shipped) > 10
    monkeypatch.setattr(templates, "SHIPPED", None)
    forget_this_process()
    assert build() == with_table
    assert len(shipped) > 10  # compiled this time, to the same files


def test_a_template_of_other_text_or_another_filter_is_compiled_not_taken_from_the_table(tmp_path, shipped, monkeypatch):
    from jcnrc.pipeline import Options, compile_intent
    from jcnrc.render import escape, templates

    if orjson_jinja() != jinja2.__version__:
        pytest.skip("the table was made with another Jinja release")
    user = tmp_path / "mine" / "common"
    user.mkdir(parents=True)
    original = (Path(templates.resources.folder("templates")) / "common" / "secrets.example.env.j2").read_text()
    (user / "secrets.example.env.j2").write_text(original + "# edited\n")
    result = compile_intent(EXAMPLE, Options(templates=tmp_path / "mine"), display_name=f"examples/{EXAMPLE.name}")
    assert result.files["secrets.example.env"].endswith("# edited\n")
    assert shipped == ["common/secrets.example.env.j2"]  # the user's file; the others from the table
    (user / "secrets.example.env.j2").write_text(original)  # the same text under the user's folder: the table's code fits
    forget_this_process()
    compile_intent(EXAMPLE, Options(templates=tmp_path / "mine"), display_name=f"examples/{EXAMPLE.name}")
    assert shipped == ["common/secrets.example.env.j2"]
    forget_this_process()
    monkeypatch.setitem(templates.FILTERS, "yaml", lambda value: escape.yaml_scalar(value))
    build()
    assert len(shipped) > 10, "shipped code was used under another `yaml` filter"


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b'{"flavours": 7}', b"\xff\xfe", b"flavours"])
def test_a_missing_or_broken_table_means_compiling(tmp_path, shipped, monkeypatch, content):
    from jcnrc.render import templates

    broken = tmp_path / "compiled_templates.json"
    if content == b"flavours":  # the right flavours, entries of every wrong shape
        table = {flavour: {name: [7, 8] for name in names} | {"common/pod.yaml.j2": 5, "common/README.md.j2": ["x"]}
                 for flavour, names in templates.shipped_table().items()}
        table = {flavour: entries | {"platter/crpd-config.tmpl.j2": [templates.shipped_table()[flavour].get(
                     "platter/crpd-config.tmpl.j2", ["", ""])[0], "def root(:\n"]} for flavour, entries in table.items()}
        content = json.dumps({"flavours": table}).encode()
    broken.write_bytes(content)
    monkeypatch.setattr(templates, "SHIPPED", broken)
    files = build()
    assert len(shipped) > 10
    monkeypatch.setattr(templates, "SHIPPED", tmp_path / "missing.json")
    forget_this_process()
    assert build() == files


def _sources_compiled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The file names Python compiles shipped template source under, from here on."""
    import builtins

    from jcnrc.render import templates

    compiled: list[str] = []
    real = builtins.compile

    def counting(source, filename, *args, **kwargs):
        compiled.append(str(filename))
        return real(source, filename, *args, **kwargs)

    monkeypatch.setattr(templates, "compile", counting, raising=False)  # the module's name `compile`, not Python's
    return compiled


def _with_python_tag(tmp_path: Path, tag: str | None, entry=None) -> Path:
    """A copy of the shipped table made (as it says) by the Python of `tag`; `entry`, when given,
    replaces every bytecode entry."""
    from jcnrc.render import templates

    assert templates.SHIPPED is not None
    body = json.loads(templates.SHIPPED.read_text(encoding="utf-8"))
    if tag is not None:
        body["bytecode"]["python"] = tag
    if entry is not None:
        body["bytecode"]["flavours"] = {flavour: dict.fromkeys(names, entry)
                                        for flavour, names in body["bytecode"]["flavours"].items()}
    copy = tmp_path / "compiled_templates.json"
    copy.write_text(json.dumps(body), encoding="utf-8")
    return copy


def test_this_pythons_bytecode_is_loaded_and_another_pythons_is_not(tmp_path, shipped, monkeypatch):
    """The table's bytecode is used only by the Python that made it (marshal's format is Python's
    own); another Python compiles the shipped source, and neither compiles a template."""
    from jcnrc.render import templates

    if orjson_jinja() != jinja2.__version__:
        pytest.skip("the table was made with another Jinja release")
    compiled = _sources_compiled(monkeypatch)
    here = _with_python_tag(tmp_path, templates._python_tag())
    monkeypatch.setattr(templates, "SHIPPED", here)
    files = build()
    assert shipped == [] and compiled == []
    loaded = templates.Templates(None).text.get_template("common/pod.yaml.j2")
    path = str(Path(templates.resources.folder("templates")) / "common" / "pod.yaml.j2")
    assert loaded.filename == path and loaded.root_render_func.__code__.co_filename == path
    for tag in ("cpython-99 0d0d0d0a", "pypy311 0d0d0d0a"):
        monkeypatch.setattr(templates, "_SHIPPED_TABLES", {})
        monkeypatch.setattr(templates, "SHIPPED", _with_python_tag(tmp_path, tag))
        forget_this_process()
        assert build() == files
        assert shipped == [] and len(compiled) > 10
        compiled.clear()


@pytest.mark.parametrize("entry", [7, ["x", "AAAA"], None, "bytes", [None, "!!not base64!!"]])
def test_broken_bytecode_entries_mean_compiling_the_source(tmp_path, shipped, monkeypatch, entry):
    from jcnrc.render import templates

    if orjson_jinja() != jinja2.__version__:
        pytest.skip("the table was made with another Jinja release")
    files = build()
    compiled = _sources_compiled(monkeypatch)
    monkeypatch.setattr(templates, "SHIPPED", _with_python_tag(tmp_path, None, entry if entry is not None else ["", ""]))
    monkeypatch.setattr(templates, "_SHIPPED_TABLES", {})
    forget_this_process()
    assert build() == files
    assert shipped == [] and len(compiled) > 10


def test_bytecode_that_is_not_a_code_object_is_not_used(tmp_path, shipped, monkeypatch):
    import base64
    import marshal

    from jcnrc.render import templates

    if orjson_jinja() != jinja2.__version__:
        pytest.skip("the table was made with another Jinja release")
    files = build()
    body = json.loads(templates.SHIPPED.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    for entries in body["bytecode"]["flavours"].values():
        for name, (checksum, _) in entries.items():
            entries[name] = [checksum, base64.b64encode(marshal.dumps(["not", "code"])).decode()]
    table = tmp_path / "compiled_templates.json"
    table.write_text(json.dumps(body), encoding="utf-8")
    compiled = _sources_compiled(monkeypatch)
    monkeypatch.setattr(templates, "SHIPPED", table)
    monkeypatch.setattr(templates, "_SHIPPED_TABLES", {})
    forget_this_process()
    assert build() == files
    assert shipped == [] and len(compiled) > 10


def orjson_jinja() -> str:
    import orjson

    from jcnrc.render import templates

    assert templates.SHIPPED is not None
    return orjson.loads(templates.SHIPPED.read_bytes())["jinja2"]


def test_filters_an_output_adds_are_part_of_the_compiled_code_keys():
    """jcnrc impact renders with filters of its own; compiled code is kept under keys that name them,
    so code compiled with one `md` filter is not reused with another."""
    from jcnrc.render import templates

    def one(value):
        return str(value)

    def other(value):
        return repr(value)

    def keys(extra):
        cache = templates.Templates(None, extra_text_filters=extra).text.bytecode_cache
        return cache.flavour, cache.shipped_flavour

    assert keys({"md": one}) == keys({"md": one})
    assert keys({"md": one}) != keys({"md": other}) != keys(None)
