"""The compiler driver: runs load -> check -> plan -> render for one intent file.

This is where the pipeline touches the file system for *input* (the intent, its lock file,
secret values in inline mode); writing output is ``write.py``'s job and the CLI's decision.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from jcnrc import __version__
from jcnrc.allocate import Lock
from jcnrc.check import check
from jcnrc.diagnostics import Diagnostic, Located, error, locate, warning
from jcnrc.load import DEFAULT_LIMITS, Limits, SourceMap, load_file
from jcnrc.plan import Plan, plan
from jcnrc.render import RenderOptions, SecretValues, TemplateProblem, render


@dataclass
class Options:
    templates: Path | None = None
    layout: str = "tree"
    target: str | None = None  # overrides `target:` in the intent
    with_secrets: bool = False
    limits: Limits = DEFAULT_LIMITS
    environ: dict[str, str] | None = None


@dataclass
class Result:
    source: SourceMap
    diagnostics: list[Diagnostic] = field(default_factory=list)
    plan: Plan | None = None
    files: dict[str, str] | None = None
    lock: Lock | None = None
    lock_path: Path | None = None
    lock_changed: bool = False
    source_digest: str = ""

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    def located(self) -> list[Located]:
        return locate(self.diagnostics, self.source)


def lock_path_for(intent: Path) -> Path:
    return intent.with_name(intent.stem + ".lock.json")


def read_lock(path: Path) -> tuple[Lock | None, list[Diagnostic]]:
    if not path.is_file():
        return None, []
    try:
        return Lock.from_json(path.read_text(encoding="utf-8")), []
    except (ValueError, OSError) as exc:
        return None, [warning("JCN520", f"the lock file {path.name} cannot be read ({exc}); it is ignored",
                            help="delete it to start fresh: explicit addresses are kept, allocated ones may move")]


def analyse(intent: Path, options: Options | None = None, display_name: str | None = None) -> Result:
    """load -> check -> plan. Raises OSError only when the intent file cannot be read."""
    options = options or Options()
    loaded = load_file(intent, display_name, options.limits)
    result = Result(loaded.source, list(loaded.diagnostics))
    if not loaded.ok:
        return result
    data = loaded.data
    if options.target:
        data = {**data, "target": options.target}
    if options.with_secrets and isinstance(data.get("secrets"), dict):
        data = {**data, "secrets": {**data["secrets"], "mode": "inline"}}
    checked = check(data)
    result.diagnostics += checked.diagnostics
    if not checked.ok:
        return result
    result.lock_path = lock_path_for(intent)
    previous, lock_problems = read_lock(result.lock_path)
    result.diagnostics += lock_problems
    planned = plan(checked.topology, previous)
    result.diagnostics += planned.diagnostics
    if planned.plan is None:
        return result
    result.plan = planned.plan
    result.lock = planned.plan.lock
    result.lock_changed = previous is None or previous.to_json() != result.lock.to_json()
    result.source_digest = loaded.digest
    return result


def compile_intent(intent: Path, options: Options | None = None, display_name: str | None = None) -> Result:
    """analyse, then render the output files (not written)."""
    options = options or Options()
    result = analyse(intent, options, display_name)
    if result.plan is None or not result.ok:
        return result
    secret_values, problems = read_secret_values(result.plan, intent.parent, options)
    result.diagnostics += problems
    if problems:
        return result
    render_options = RenderOptions(
        templates=options.templates,
        secret_values=secret_values,
        layout=options.layout,
        intent_file=display_name or intent.name,
        intent_digest=result.source_digest,
        version=__version__,
    )
    try:
        result.files = render(result.plan, render_options)
    except TemplateProblem as exc:
        result.diagnostics.append(error("JCN900", f"rendering failed: {exc}",
                                        help="check the template folder given with --templates"))
    return result


def read_secret_values(plan: Plan, base: Path, options: Options) -> tuple[SecretValues | None, list[Diagnostic]]:
    """Only `inline` mode (or --with-secrets) reads values; every other mode never touches them."""
    secrets = plan.topology.secrets
    if secrets.mode != "inline" and not options.with_secrets:
        return None, []
    environ = options.environ if options.environ is not None else dict(os.environ)
    values = []
    problems = []
    for key, ref in (("rootPassword", secrets.rootPassword), ("crpdLicense", secrets.crpdLicense)):
        if ref.env:
            value = environ.get(ref.env)
            if value is None:
                problems.append(error("JCN803", f"environment variable {ref.env} is not set (needed for `secrets.{key}`)",
                                      ("secrets", key, "env"), help=f"export {ref.env}=... before the build"))
            values.append(value or "")
        else:
            path = base / ref.file
            try:
                values.append(path.read_text(encoding="utf-8"))
            except OSError as exc:
                problems.append(error("JCN803", f"cannot read {ref.file} for `secrets.{key}`: {exc.strerror}",
                                      ("secrets", key, "file")))
                values.append("")
    return SecretValues(*values), problems
