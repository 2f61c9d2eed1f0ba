"""The template set of a build: two Jinja environments and the filters that escape every value.

Every output format lives in ``templates/`` (users can override any file with ``--templates
DIR``). Templates whose name contains ``.tmpl.`` produce Go text/template files (the cRPD config
template), which are full of ``{{ }}``; those use ``<< >>`` and ``<% %>`` as Jinja delimiters.
Values reach a template's text only through the filters of ``FILTERS`` (``escape.py``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import marshal
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any

import orjson

from jcnrc import __version__, resources
from jcnrc.render import escape

if TYPE_CHECKING:
    import jinja2

# Where compiled templates are kept between runs (see CompiledTemplates): an absolute folder the
# operator chooses. Unset, empty or relative: none, and every run compiles its templates.
CACHE_ENV = "JCNRC_CACHE_DIR"
# The built-in templates as Jinja compiles them (Python source), shipped with jcnrc and written by
# `make compiled-templates` (`python -m jcnrc.render.templates`): a run compiles none of them without
# writing anything anywhere. None: not used (the tests that count compilations).
SHIPPED: Path | None = Path(__file__).with_name("compiled_templates.json")


class Templates:
    """Two Jinja environments over the same search path (user folder first, then built-in)."""

    def __init__(self, user_folder: Path | None, extra_text_filters: dict[str, Callable[..., Any]] | None = None) -> None:
        """`extra_text_filters`: filters of one output's own (jcnrc impact's terminal and Markdown
        escapes) for the text environment, given here so that the compiled-code keys cover them."""
        import jinja2  # here, not at the top: `jcnrc check` imports this module and renders nothing

        self.user_folder = user_folder
        search = [str(user_folder)] if user_folder else []
        search.append(str(resources.folder("templates")))
        loader = jinja2.FileSystemLoader(search)

        def environment(variable: tuple[str, str], block: tuple[str, str], comment: tuple[str, str],
                        extra: dict[str, Callable[..., Any]]) -> jinja2.Environment:
            # auto_reload=False: one build does not watch the template files change, so Jinja need not
            # stat each one again every time it is used (tens of thousands of times in a big build).
            options: dict[str, Any] = {
                "keep_trailing_newline": True, "trim_blocks": True, "lstrip_blocks": True, "autoescape": False,
                "extensions": ["jinja2.ext.do"], "variable_start_string": variable[0], "variable_end_string": variable[1],
                "block_start_string": block[0], "block_end_string": block[1],
                "comment_start_string": comment[0], "comment_end_string": comment[1]}
            env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, auto_reload=False, **options)
            env.filters.update(FILTERS)
            env.filters.update(extra)
            # Compiled code kept for later Templates() and runs, under everything it depends on.
            env.bytecode_cache = CompiledTemplates.for_environment(options, env)  # type: ignore[assignment]
            return env

        self.text = environment(("{{", "}}"), ("{%", "%}"), ("{#", "#}"), extra_text_filters or {})
        self.go_template = environment(("<<", ">>"), ("<%", "%>"), ("<#", "#>"), {})
        self._template_error = jinja2.TemplateError
        # name -> Template: Jinja's own cache is an LRU behind a lock, asked tens of thousands of times.
        self._loaded: dict[str, jinja2.Template] = {}

    def overrides(self, name: str) -> bool:
        """Whether the user's template folder has its own `name`."""
        return self.user_folder is not None and (self.user_folder / name).is_file()

    def render(self, name: str, **context) -> str:
        try:
            template = self._loaded.get(name)
            if template is None:
                env = self.go_template if ".tmpl." in name else self.text
                template = self._loaded[name] = env.get_template(name)
            # What Template.render(**context) does, without copying `context` twice more first. The
            # environment's globals are merged here, as a plain dict (shared=True: Jinja takes the dict
            # as it is), because Jinja would merge them from the template's ChainMap key by key.
            env = template.environment
            try:
                text = env.concat(template.root_render_func(template.new_context({**env.globals, **context}, shared=True)))
            except Exception:  # noqa: BLE001 - Jinja rewrites the traceback to point into the template, then raises
                env.handle_exception()
        except self._template_error as exc:
            raise TemplateProblem(name, exc) from exc
        return normalize(text)


class _Bucket:
    """What Jinja's loader asks of a bytecode cache's bucket: the code, or None to compile."""

    __slots__ = ("checksum", "code", "key")

    def __init__(self, key: str, checksum: str, code: CodeType | None) -> None:
        self.key = key
        self.checksum = checksum
        self.code = code


# Compiled templates of this process, by cache key: (source checksum, code). Every Templates()
# (one per cluster of a fleet, one per render in the tests) compiles each template once at most.
_COMPILED: dict[str, tuple[str, CodeType]] = {}
_MAGIC = b"jcnrc compiled Jinja template 1\n"
_DIGEST = 32  # sha256
# The folder is pruned to the newest _KEEP entries when it holds more than _MAX_FILES.
_MAX_FILES = 1000
_KEEP = 500


class CompiledTemplates:
    """Jinja's bytecode cache interface (``get_bucket``/``set_bucket``): compiled templates kept in
    this process and in a folder of the user's, so a run does not compile every template again.

    A cached entry is the marshalled code object of one template. Its key is a sha256 of the
    template's name and file name, and of everything the compiled code depends on besides the
    template's text: the environment's options (delimiters, whitespace control, extensions), its
    filters and tests (Jinja calls a filter on constant arguments while compiling and writes the
    result into the code, so each one is named with the text of the module that defines it, and
    with ruamel's resolver patterns and orjson's version, which the escaping filters consult),
    and the versions of jcnrc, Jinja and Python. The entry also holds a checksum of the template's
    text (Jinja's: sha1), checked at every load: a changed template or filter, a user template
    folder, another jcnrc or Python is a miss, and compiles as before.

    Loading a code object runs it, so the folder must be one only this user can write to: it is
    created 0700; it is used only when it is a real folder (not a link), owned by this user and
    writable by no one else. Each entry is opened without following a link and must be a regular
    file with one name, owned by this user and writable by no one else, start with jcnrc's magic
    line, name the key it was looked up under and the template's checksum, and hold the sha256 of
    the marshalled code, checked before marshal reads it. Anything else is a miss, never an error:
    without the folder (read-only home, ``JCNRC_CACHE_DIR=``) templates are compiled as before.
    Entries are written to a temporary file (O_EXCL, O_NOFOLLOW, 0600) and renamed into place.
    """

    def __init__(self, flavour: str, folder: str | None, shipped_flavour: str | None = None) -> None:
        self.flavour = flavour
        self.folder = folder
        self.shipped_flavour = shipped_flavour
        self._folder_ok: bool | None = None

    @classmethod
    def for_environment(cls, options: dict[str, Any], env: jinja2.Environment) -> CompiledTemplates | None:
        """The cache for `env`, built with `options`; None when a filter or test comes from no
        file whose text could be part of the key."""
        import jinja2

        filters, tests = _callables(env.filters), _callables(env.tests)
        if filters is None or tests is None:
            return None
        shipped = shipped_flavour(options, filters, tests, jinja2.__version__)
        # The folder's code is marshalled bytecode: Python's version matters too, and orjson's and jcnrc's.
        described = repr((shipped, orjson.__version__, __version__, sys.version, sys.implementation.cache_tag))
        return cls(hashlib.sha256(described.encode("utf-8")).hexdigest(), cache_folder(), shipped)

    # --- Jinja's interface -----------------------------------------------------------------------

    def get_bucket(self, environment: Any, name: str, filename: str | None, source: str) -> _Bucket:
        key = hashlib.sha256(f"{self.flavour}\0{name}\0{filename}".encode("utf-8", "surrogateescape")).hexdigest()
        checksum = hashlib.sha1(source.encode("utf-8")).hexdigest()
        known = _COMPILED.get(key)
        if known is not None and known[0] == checksum:
            return _Bucket(key, checksum, known[1])
        code = self._load_shipped(name, filename, checksum) or self._load(key, checksum)
        if code is not None:
            _COMPILED[key] = (checksum, code)
        return _Bucket(key, checksum, code)

    def set_bucket(self, bucket: _Bucket) -> None:
        if bucket.code is None:
            return
        _COMPILED[bucket.key] = (bucket.checksum, bucket.code)
        self._store(bucket.key, bucket.checksum, bucket.code)

    # --- the shipped table -----------------------------------------------------------------------

    def _load_shipped(self, name: str, filename: str | None, checksum: str) -> CodeType | None:
        """The shipped code of `name` when it was compiled from this very text (Jinja's checksum)
        under this flavour: the bytecode of this Python when the table holds it, else the source,
        which Python compiles in a fraction of Jinja's time (the expensive part, parsing the
        template and generating the code, was done by `make compiled-templates`)."""
        if self.shipped_flavour is None:
            return None
        source = _entry_text(shipped_table(), self.shipped_flavour, name, checksum)
        if source is None:
            return None
        code = _shipped_bytecode(self.shipped_flavour, name, checksum)
        if code is not None:
            # Compiled under the template's name: the file's, as compiling the source here would give it.
            return _renamed(code, filename or name)
        try:
            return compile(source, filename or name, "exec")
        except (SyntaxError, ValueError):  # not what `make compiled-templates` wrote: compile the template
            return None

    # --- the folder ------------------------------------------------------------------------------

    def _usable_folder(self) -> str | None:
        """The folder, once checked (created 0700 if missing), or None."""
        if self._folder_ok is None and self.folder is not None:
            self._folder_ok = _private_folder(self.folder)
        return self.folder if self._folder_ok else None

    def _load(self, key: str, checksum: str) -> CodeType | None:
        folder = self._usable_folder()
        if folder is None:
            return None
        try:
            fd = os.open(os.path.join(folder, key), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not _private_file(info):
                return None
            data = _read_all(fd, info.st_size)
        except OSError:
            return None
        finally:
            os.close(fd)
        header = _MAGIC + f"{key}\n{checksum}\n".encode("ascii")
        if not data.startswith(header) or len(data) < len(header) + _DIGEST:
            return None
        digest, payload = data[len(header):len(header) + _DIGEST], data[len(header) + _DIGEST:]
        if hashlib.sha256(payload).digest() != digest:
            return None
        try:
            code = marshal.loads(payload)
        except (EOFError, ValueError, TypeError):
            return None
        return code if isinstance(code, CodeType) else None

    def _store(self, key: str, checksum: str, code: CodeType) -> None:
        folder = self._usable_folder()
        if folder is None:
            return
        payload = marshal.dumps(code)
        data = _MAGIC + f"{key}\n{checksum}\n".encode("ascii") + hashlib.sha256(payload).digest() + payload
        temporary = os.path.join(folder, f".{key}.{os.getpid()}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC, 0o600)
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, os.path.join(folder, key))
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            return
        _prune(folder)


_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def shipped_flavour(options: dict[str, Any], filters: list, tests: list, jinja_version: str) -> str:
    """What the shipped code of an environment depends on besides each template's text: Jinja's
    options, the filters and tests (with the text of their modules: Jinja folds a filter call on
    constant arguments into the code), the resolver patterns the escaping filters consult, and
    Jinja's version. Not Python's, orjson's or jcnrc's own: the shipped code is source text, and a
    filter's module text already changes with any change of jcnrc that could matter."""
    described = repr((sorted(options.items()), filters, tests, escape.resolver_fingerprint(), jinja_version))
    return hashlib.sha256(described.encode("utf-8")).hexdigest()


_SHIPPED_TABLES: dict[Path, dict[str, Any]] = {}


def _shipped_body() -> dict[str, Any]:
    """SHIPPED as read, once per process; empty when SHIPPED is None or unreadable."""
    if SHIPPED is None:
        return {}
    body = _SHIPPED_TABLES.get(SHIPPED)
    if body is None:
        try:
            body = orjson.loads(SHIPPED.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            body = {}
        if not isinstance(body, dict):
            body = {}
        _SHIPPED_TABLES[SHIPPED] = body
    return body


def shipped_table() -> dict[str, dict[str, list[str]]]:
    """{flavour: {template name: [Jinja's checksum of its text, Python source]}}, read once per
    process; empty when SHIPPED is None or unreadable (every template is then compiled)."""
    flavours = _shipped_body().get("flavours")
    return flavours if isinstance(flavours, dict) else {}


def _entry_text(flavours: Any, flavour: str, name: str, checksum: str) -> str | None:
    """The text of the table entry `flavours[flavour][name]`, an [checksum, text] pair, when it was
    made from the template text of `checksum`; None for any other entry or shape."""
    entries = flavours.get(flavour) if isinstance(flavours, dict) else None
    entry = entries.get(name) if isinstance(entries, dict) else None
    if not isinstance(entry, list) or len(entry) != 2 or entry[0] != checksum or not isinstance(entry[1], str):
        return None
    return entry[1]


def _python_tag() -> str:
    """Whose bytecode the table may hold: Python's bytecode format (its magic number) and implementation."""
    return f"{sys.implementation.cache_tag} {importlib.util.MAGIC_NUMBER.hex()}"


def _renamed(code: CodeType, filename: str) -> CodeType:
    """`code` and the code of every function in it, as compiled from `filename`."""
    constants = tuple(_renamed(value, filename) if isinstance(value, CodeType) else value for value in code.co_consts)
    return code.replace(co_filename=filename, co_consts=constants)


def _shipped_bytecode(flavour: str, name: str, checksum: str) -> CodeType | None:
    """The marshalled code of the shipped source of `name`, when the table was made by this very
    Python (marshal's format is Python's own and changes between releases) from this template text;
    None otherwise, and the source is compiled instead. The table is part of jcnrc, as trusted as its
    modules: marshal reads nothing else."""
    bytecode = _shipped_body().get("bytecode")
    if not isinstance(bytecode, dict) or bytecode.get("python") != _python_tag():
        return None
    encoded = _entry_text(bytecode.get("flavours"), flavour, name, checksum)
    if encoded is None:
        return None
    try:
        code = marshal.loads(base64.b64decode(encoded, validate=True))
    except (ValueError, EOFError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None


def compile_shipped_table() -> str:
    """The text of SHIPPED for the built-in templates as this checkout and this Jinja compile them.
    A template that needs filters the base environments do not have (jcnrc impact adds its own) is
    left out and compiled when used."""
    import jinja2

    templates = Templates(None)
    root = resources.folder("templates")
    flavours: dict[str, dict[str, list[str]]] = {}
    bytecode: dict[str, dict[str, list[str]]] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(root).as_posix()
        env = templates.go_template if ".tmpl." in name else templates.text
        flavour = getattr(env.bytecode_cache, "shipped_flavour", None)  # a CompiledTemplates, unless no key could be made
        if flavour is None or env.loader is None:
            continue
        source, filename, _ = env.loader.get_source(env, name)
        try:
            code = env.compile(source, name, filename, raw=True)
        except jinja2.TemplateError:
            continue
        checksum = hashlib.sha1(source.encode("utf-8")).hexdigest()
        flavours.setdefault(flavour, {})[name] = [checksum, code]
        # Compiled under the template's name, not this checkout's path (_load_shipped puts the file name in).
        marshalled = marshal.dumps(compile(code, name, "exec"))
        bytecode.setdefault(flavour, {})[name] = [checksum, base64.b64encode(marshalled).decode("ascii")]
    body = {"comment": "The built-in templates compiled by Jinja (Python source), and that source compiled by the Python "
                       "named under bytecode: generated by `make compiled-templates`, used only while every key and "
                       "checksum matches (jcnrc/render/templates.py).",
            "jinja2": jinja2.__version__, "flavours": flavours,
            "bytecode": {"python": _python_tag(), "flavours": bytecode}}
    return orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode("utf-8") + "\n"


def _callables(functions: dict[str, Any]) -> list[tuple[str, str, str, str, str]] | None:
    """(name, module, qualified name, how Jinja passes it arguments, sha256 of its module's file)
    for each filter or test; None when one has no module file to read."""
    described = []
    for name, function in sorted(functions.items()):
        module = getattr(function, "__module__", None) or ""
        digest = _module_digest(module)
        if digest is None:
            return None
        described.append((name, module, getattr(function, "__qualname__", repr(function)),
                          repr(getattr(function, "jinja_pass_arg", None)), digest))
    return described


_MODULE_DIGESTS: dict[str, str | None] = {}


def _module_digest(module: str) -> str | None:
    if module in sys.builtin_module_names:  # abs, len, operator.eq: part of Python, whose version is in the key
        return "built in"
    if module not in _MODULE_DIGESTS:
        file = getattr(sys.modules.get(module), "__file__", None)
        _MODULE_DIGESTS[module] = None
        if isinstance(file, str):
            with contextlib.suppress(OSError), open(file, "rb") as handle:
                _MODULE_DIGESTS[module] = hashlib.sha256(handle.read()).hexdigest()
    return _MODULE_DIGESTS[module]


def cache_folder() -> str | None:
    """The folder of compiled templates: $JCNRC_CACHE_DIR when it is an absolute path, else none.

    Opt-in: a build writes nothing outside its output folder unless the operator asks (docs/security.md).
    Only an absolute path: a relative one would be inside whatever folder jcnrc runs in (a repository's
    checkout)."""
    configured = os.environ.get(CACHE_ENV)
    if configured and os.path.isabs(configured):
        return configured
    return None


def _private_folder(folder: str) -> bool:
    """The folder exists (created 0700 if it did not), is a folder and not a link, belongs to this
    user and no one else may write to it."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and _ours_alone(info)


def _private_file(info: os.stat_result) -> bool:
    # One name only: a hard link planted under an entry's name would be some other file of ours.
    return stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and _ours_alone(info)


def _ours_alone(info: os.stat_result) -> bool:
    geteuid = getattr(os, "geteuid", None)
    if geteuid is None:  # no owners to compare (Windows): no cache
        return False
    return info.st_uid == geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read_all(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, max(size, 1 << 16))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _prune(folder: str) -> None:
    """Keep the folder small: edited templates and other versions leave entries nobody asks for."""
    try:
        with os.scandir(folder) as entries:
            found = [(entry.stat(follow_symlinks=False).st_mtime, entry.name) for entry in entries]
        if len(found) <= _MAX_FILES:
            return
        for _, name in sorted(found, reverse=True)[_KEEP:]:
            os.unlink(os.path.join(folder, name))
    except OSError:
        return


class TemplateProblem(Exception):
    def __init__(self, name: str, cause: Exception) -> None:
        line = getattr(cause, "lineno", None)  # syntax errors know their line; other template errors do not
        where = f" line {line}" if line else ""
        super().__init__(f"template {name}{where}: {cause}")
        self.template = name


def normalize(text: str) -> str:
    """LF endings, exactly one final newline."""
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    if text.endswith("\n") and not text.endswith("\n\n"):
        return text  # already so: no copy of a text that can be megabytes
    return text.rstrip("\n") + "\n"


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def indented_json(value: Any) -> str:
    """``escape.to_json(value, indent=2)`` (json.dumps with indent=2, sorted keys, no ASCII
    escapes), byte for byte, by orjson: json.dumps runs its C encoder only without ``indent``.
    What orjson cannot write (integers beyond 64 bits, keys that are not strings) goes to
    json.dumps. Floats are outside what jcnrc writes (orjson spells 1e-06 as 1e-6).
    tests/test_unoptimised.py compares both on every file of a build."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        return escape.to_json(value, indent=2)


def _json(value: Any, indent: int | None = None) -> str:
    """escape.to_json, by orjson where it writes the same bytes (compact, or indented by 2)."""
    if indent is None:
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except (orjson.JSONEncodeError, TypeError):
            return escape.to_json(value)
    if indent == 2:
        return indented_json(value)
    return escape.to_json(value, indent)


FILTERS: dict[str, Callable] = {
    "b64": _base64,
    "yaml": escape.yaml_scalar,
    "yaml_string": escape.yaml_string,
    "yaml_block": escape.yaml_block,
    "json": _json,
    "sh": escape.shell_word,
    "junos_id": escape.junos_identifier,
    "junos_str": escape.junos_string,
    "mermaid_str": escape.mermaid_string,
    "dot_str": escape.dot_string,
}


if __name__ == "__main__":
    # `make compiled-templates`: write SHIPPED for this checkout, through the module as jcnrc imports it
    # (run as __main__, this file's filters would be named after __main__, and the flavours would differ).
    from jcnrc.render import templates as imported

    assert imported.SHIPPED is not None
    imported.SHIPPED.write_text(imported.compile_shipped_table(), encoding="utf-8", newline="\n")
