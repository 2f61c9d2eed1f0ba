"""The template set of a build: two Jinja environments and the filters that escape every value.

Every output format lives in ``templates/`` (users can override any file with ``--templates
DIR``). Templates whose name contains ``.tmpl.`` produce Go text/template files (the cRPD config
template), which are full of ``{{ }}``; those use ``<< >>`` and ``<% %>`` as Jinja delimiters.
Values reach a template's text only through the filters of ``FILTERS`` (``escape.py``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from jcnrc import resources
from jcnrc.render import escape


class Templates:
    """Two Jinja environments over the same search path (user folder first, then built-in)."""

    def __init__(self, user_folder: Path | None) -> None:
        import jinja2  # here, not at the top: `jcnrc check` imports this module and renders nothing

        search = [str(user_folder)] if user_folder else []
        search.append(str(resources.folder("templates")))
        loader = jinja2.FileSystemLoader(search)
        # auto_reload=False: one build does not watch the template files change, so Jinja need not
        # stat each one again every time it is used (tens of thousands of times in a big build).
        def environment(variable: tuple[str, str], block: tuple[str, str], comment: tuple[str, str]) -> jinja2.Environment:
            return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                      trim_blocks=True, lstrip_blocks=True, autoescape=False,
                                      extensions=["jinja2.ext.do"], auto_reload=False,
                                      variable_start_string=variable[0], variable_end_string=variable[1],
                                      block_start_string=block[0], block_end_string=block[1],
                                      comment_start_string=comment[0], comment_end_string=comment[1])

        self.text = environment(("{{", "}}"), ("{%", "%}"), ("{#", "#}"))
        self.go_template = environment(("<<", ">>"), ("<%", "%>"), ("<#", "#>"))
        for env in (self.text, self.go_template):
            env.filters.update(FILTERS)
        self._template_error = jinja2.TemplateError

    def render(self, name: str, **context) -> str:
        env = self.go_template if ".tmpl." in name else self.text
        try:
            text = env.get_template(name).render(**context)
        except self._template_error as exc:
            raise TemplateProblem(name, exc) from exc
        return normalize(text)


class TemplateProblem(Exception):
    def __init__(self, name: str, cause: Exception) -> None:
        line = getattr(cause, "lineno", None)  # syntax errors know their line; other template errors do not
        where = f" line {line}" if line else ""
        super().__init__(f"template {name}{where}: {cause}")
        self.template = name


def normalize(text: str) -> str:
    """LF endings, exactly one final newline."""
    text = text.replace("\r\n", "\n")
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
