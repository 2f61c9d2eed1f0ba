"""The compiler driver: runs load -> check -> plan -> render for one intent file.

This is where the pipeline touches the file system for *input* (the intent, its lock file,
secret values in inline mode); writing output is ``write.py``'s job and the CLI's decision.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jcnrc import __version__
from jcnrc.diagnostics import Diagnostic, Located, Related, error, escaped, locate, once, warning
from jcnrc.intent import names
from jcnrc.intent.check import Checked, check
from jcnrc.intent.load import DEFAULT_LIMITS, Limits, SourceMap, load_file
from jcnrc.output import secretscan
from jcnrc.plan.allocate import Lock
from jcnrc.plan.planner import Plan, plan
from jcnrc.render import render
from jcnrc.render.common import MANIFESTS, RenderOptions, SecretValues
from jcnrc.render.templates import TemplateProblem

if TYPE_CHECKING:
    # A Topology build imports no fleet module, and sops only in its mode: each costs start-up time.
    from jcnrc.intent.fleet import CheckedFleet
    from jcnrc.output.progress import ProgressCallback
    from jcnrc.plan.fleet import FleetPlan


@dataclass
class Options:
    templates: Path | None = None
    layout: str = "tree"
    target: str | None = None  # overrides `target:` in the intent
    with_secrets: bool = False
    # Whether this build may put secret values into its output (modes inline and sops). The command
    # line allows it only with --with-secrets or --secret-values: the intent comes from pull
    # requests, and on its own it must not be able to send a CI secret into the output or a diff.
    allow_secret_values: bool = True
    limits: Limits = DEFAULT_LIMITS
    environ: dict[str, str] | None = None
    output: Path | None = None  # the output folder: sops reuses its ciphertext when values are unchanged
    # The operator's sops configuration (`--sops-config`): without it sops takes `.sops.yaml` from the
    # intent's repository, which then chooses who can decrypt the Secret.
    sops_config: Path | None = None
    output_flag: str | None = None  # `-o DIR` as given on the command line, repeated in "run X again" hints
    progress: ProgressCallback | None = None  # told each stage as it starts (the CLI draws it on a terminal)
    # False: plan as if the intent had no `expect:` (explain and impact show what a failing one is about)
    expectations: bool = True

    def stage(self, name: str) -> None:
        if self.progress is not None:
            self.progress(name, 0, None)


@dataclass
class Result:
    source: SourceMap
    diagnostics: list[Diagnostic] = field(default_factory=list)
    plan: Plan | None = None
    fleet: FleetPlan | None = None  # a `kind: Fleet` intent: one plan per cluster
    files: dict[str, str] | None = None
    lock: Lock | None = None
    lock_path: Path | None = None
    lock_changed: bool = False
    source_digest: str = ""
    written_target: str = "platter"  # `target:` as the intent says it, before any --target override
    # Whether a text holds one of the secret values this build could read (raw, escaped or base64):
    # diffs never print such a text.
    holds_secret: Callable[[str], bool] = field(default=lambda text: False, repr=False)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def planned(self) -> bool:
        return self.plan is not None or self.fleet is not None

    @property
    def name(self) -> str:
        """`metadata.name` of the planned intent (names the default output folder)."""
        if self.fleet is not None:
            return self.fleet.name
        assert self.plan is not None  # asked only once planned
        return self.plan.name

    def located(self) -> list[Located]:
        return locate(self.diagnostics, self.source)


def _load_and_check(intent: Path, options: Options, display_name: str | None, fast: bool):
    # Diagnostics are shown under the name given on the command line: text from the input like any
    # other, so it is escaped (a line break in a file name must not start a new line of a CI log).
    options.stage("load")
    loaded = load_file(intent, escaped(display_name or str(intent)), options.limits, fast=fast)
    result = Result(loaded.source, list(loaded.diagnostics), source_digest=data_digest(loaded.data, loaded.digest))
    if not loaded.ok:
        return result, None
    data = loaded.data
    assert data is not None  # loaded.ok
    result.written_target = _written_target(data)
    if options.target:
        data = {**data, "target": options.target}
    if not options.expectations:
        data = {key: value for key, value in data.items() if key != "expect"}
    if options.with_secrets and isinstance(data.get("secrets"), dict):
        data = {**data, "secrets": {**data["secrets"], "mode": "inline"}}
    options.stage("check")
    checked: Checked | CheckedFleet
    if data.get("kind") == "Fleet":
        from jcnrc.intent.fleet import check_fleet

        checked = check_fleet(_fleet_overrides(data, options))
    else:
        checked = check(data)
    result.diagnostics += checked.diagnostics
    return result, checked


def data_digest(data: object, fallback: str) -> str:
    """sha256 of the intent's parsed data, keys sorted: a comment or a change of layout (flow or block
    style, quoting, key order) leaves the output, whose README records it, unchanged. `fallback` (the
    bytes' digest) when the file did not load."""
    import hashlib

    import orjson

    if data is None:
        return fallback
    try:
        canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        import json

        canonical = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return hashlib.sha256(canonical).hexdigest()


def _written_target(data: dict) -> str:
    """`target:` as the intent says it, before any --target override: for a fleet whose clusters
    differ, "mixed" (any override then changes some cluster, and the output goes to its own folder)."""
    written = data.get("target")
    target = written if isinstance(written, str) and written in ("platter", "jcnr") else "platter"
    clusters = data.get("clusters") if data.get("kind") == "Fleet" else None
    if isinstance(clusters, list):
        own = {entry.get("target") for entry in clusters if isinstance(entry, dict) and entry.get("target") is not None}
        if own - {target}:
            return "mixed"
    return target


def _fleet_overrides(data: dict, options: Options) -> dict:
    """--target and --with-secrets apply to every cluster of a fleet, overrides included."""
    clusters = data.get("clusters")
    if not isinstance(clusters, list):
        return data
    entries = [dict(entry) if isinstance(entry, dict) else entry for entry in clusters]
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if options.target and entry.get("target") is not None:
            entry["target"] = options.target
        if options.with_secrets and isinstance(entry.get("secrets"), dict):
            entry["secrets"] = {**entry["secrets"], "mode": "inline"}
    return {**data, "clusters": entries}


class UnsafeIntentPath(OSError):
    """The intent is a symbolic link the repository could have planted, or not a regular file."""


def refuse_linked_intent(intent: Path) -> None:
    """The intent is read only as a regular file reached without a symbolic link inside the current
    folder (the repository's tree): a planted `topology.yaml -> ~/.aws/credentials` would otherwise
    have its lines quoted in diagnostics. Links above the current folder are the user's."""
    from jcnrc.output.write import link_inside_current_folder

    link = link_inside_current_folder(intent)
    if link is not None:
        raise UnsafeIntentPath(f"{escaped(link)} is a symbolic link inside the current folder; jcnrc reads intents "
                               "only as regular files, never through links the repository could have planted")
    mode = intent.stat().st_mode
    if not stat.S_ISREG(mode):
        raise UnsafeIntentPath("not a regular file; jcnrc reads intents only from regular files")


def intent_file_name(intent: Path, display_name: str | None) -> str:
    """The intent's name as the output repeats it (`intent_file` in the templates)."""
    return display_name or intent.name


def _file_name_problem(name: str) -> Diagnostic | None:
    """The output repeats the intent's file name in comments, shell strings and Markdown: a name
    that cannot be printed exactly in all of them is refused, against the file itself (1:1)."""
    problem = names.intent_file_problem(name)
    if problem is None:
        return None
    return error("JCN010", f"the file name \"{escaped(name)}\" {problem}", line=1, column=1, span=1,
                 help="rename the file (or pass it by another path); any other printable name works, spaces and "
                      "quotes included")


def lock_path_for(intent: Path) -> Path:
    return intent.with_name(intent.stem + ".lock.json")


LOCK_SIZE_FACTOR = 4  # a lock holds a few short entries per attachment: about twice its intent's size


def read_lock(path: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[Lock | None, list[Diagnostic]]:
    """The allocation lock next to the intent, or None. The lock comes from the repository like
    the intent: a link is not followed, a file larger than LOCK_SIZE_FACTOR times the intent's
    byte limit is not read past that, and anything that is not a valid lock (JSON, nesting,
    types, ranges, formats) is ignored with JCN520, as if there were no lock."""
    from jcnrc.output.write import NotARegularFile, read_file_no_follow

    try:
        data = read_file_no_follow(path, LOCK_SIZE_FACTOR * limits.max_bytes)
        if data is None:
            return None, []
        return Lock.from_json(data.decode("utf-8")), []
    except (ValueError, OSError, NotARegularFile) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        link = isinstance(exc, NotARegularFile) and os.path.islink(path)
        return None, [warning("JCN520", f"the lock file {escaped(path.name)} cannot be read ({escaped(reason)}); it is "
                                        "ignored" + ("; `jcnrc build` replaces the link itself, never what it points to"
                                                     if link else ""),
                              help="commit the lock file itself, not a link to it" if link else
                                   "delete it to start fresh: explicit addresses are kept, allocated ones may move")]


def analyse(intent: Path, options: Options | None = None, display_name: str | None = None) -> Result:
    """load -> check -> plan. Raises OSError only when the intent file cannot be read."""
    options = options or Options()
    refuse_linked_intent(intent)
    # One read: the fast loader's source map finds positions on rapidyaml's tree when a diagnostic
    # asks for one, and falls back to ruamel's where that is not certain (load.SourceMap), so a
    # warning or an error costs no second parse and no second check.
    result, checked = _load_and_check(intent, options, display_name, fast=True)
    name_problem = _file_name_problem(intent_file_name(intent, display_name))
    if name_problem is not None:
        result.diagnostics.insert(0, name_problem)
    if checked is None or not checked.ok or name_problem is not None:
        return result
    result.lock_path = lock_path_for(intent)
    previous, lock_problems = read_lock(result.lock_path, options.limits)
    result.diagnostics += lock_problems
    options.stage("plan")
    if not isinstance(checked, Checked):
        from jcnrc.plan.fleet import plan_fleet

        planned_fleet = plan_fleet(checked, previous)
        result.diagnostics += planned_fleet.diagnostics
        if planned_fleet.plan is None:
            return result
        result.fleet = planned_fleet.plan
        result.lock = planned_fleet.plan.lock
    else:
        assert checked.topology is not None  # checked.ok
        planned = plan(checked.topology, previous)
        result.diagnostics += planned.diagnostics
        if planned.plan is None:
            return result
        result.plan = planned.plan
        result.lock = planned.plan.lock
    # The lock's fields are str-keyed dicts of str and int, exactly what its JSON holds, so equal fields
    # are an equal file (Lock.to_json is a function of them alone) without serialising both.
    result.lock_changed = previous is None or previous != result.lock
    return result


def compile_intent(intent: Path, options: Options | None = None, display_name: str | None = None) -> Result:
    """analyse, then render the output files (not written); secrets are encrypted or scanned for."""
    options = options or Options()
    return render_analysed(intent, analyse(intent, options, display_name), options, display_name)


def render_analysed(intent: Path, result: Result, options: Options, display_name: str | None = None) -> Result:
    """The second half of compile_intent, for callers that choose `options.output` from the plan
    (the CLI's default out/<metadata.name>: sops reuses the ciphertext it finds there)."""
    if not result.planned or not result.ok:
        return result
    environ = options.environ if options.environ is not None else dict(os.environ)
    if result.plan is not None:
        rendered = _render_plan(intent, result.plan, result, options, environ, display_name, lambda path: path)
        if rendered is None:
            return result
        files, found, inline = rendered
        result.holds_secret = _secret_detector(found.values, found.labels)
        if not inline:
            options.stage("scan")
            files = _refuse_leaks(files, result, found)
        result.files = files
        return result
    return _render_fleet(intent, result, options, environ, display_name)


def _render_fleet(intent: Path, result: Result, options: Options, environ: dict, display_name: str | None) -> Result:
    """Every cluster into `<cluster>/` exactly as a Topology build of it (its leak scan with its own
    secrets, its problems where the fleet file says them), then the fleet's own files, scanned for
    every value any cluster could read."""
    from dataclasses import replace

    from jcnrc.plan.fleet import qualified
    from jcnrc.render.fleet import render_fleet

    fleet = result.fleet
    assert fleet is not None  # result.planned
    files: dict[str, str] = {}
    values: list[str] = []
    labels: list[str] = []
    problems: list[Diagnostic] = []
    for cluster in fleet.clusters:
        output = options.output / cluster.name if options.output is not None else None
        where = cluster.member.fleet_path
        rendered = _render_plan(intent, cluster.plan, result, replace(options, output=output), environ, display_name, where)
        if rendered is None:
            continue
        cluster_files, found, inline = rendered
        written = {qualified(cluster.name, path): text for path, text in cluster_files.items()}
        files.update(written)
        for value, label in zip(found.values, found.labels, strict=True):
            if value not in values:
                values.append(value)
                labels.append(label)
        if not inline:
            options.stage("scan")
            problems += [replace(d, path=where(d.path), related=tuple(replace(r, path=where(r.path)) for r in d.related))
                         for d in _leak_problems(written, found)]
    result.diagnostics[:] = once(result.diagnostics)  # one fleet-wide mistake, found in every cluster
    if not result.ok:
        return result
    written_at = repository_path(options.output)
    result.diagnostics += _gitops_path_problems(fleet.fleet.gitops.path, written_at, options.output)
    try:
        suffix = f"-{options.target}" if options.target and options.target != result.written_target else ""
        fleet_files = render_fleet(fleet, replace(_render_options(intent, result, options, display_name, None),
                                                  output_name=fleet.name + suffix, repository_path=written_at or ""))
    except TemplateProblem as exc:
        result.diagnostics.append(error("JCN900", f"rendering failed: {exc}",
                                        help="check the template folder given with --templates"))
        return result
    problems = once(problems + _leak_problems(fleet_files, secretscan.Values(values, labels, [])))
    result.diagnostics += problems
    result.holds_secret = _secret_detector(values, labels)
    if any(d.is_error for d in problems):
        return result
    files.update(fleet_files)
    result.files = dict(sorted(files.items()))
    return result


def repository_path(output: Path | None) -> str | None:
    """The output folder as a path of the repository, for the GitOps objects that point Argo CD and Flux
    at it: relative to the current folder, which jcnrc takes for the checkout's top level (as the default
    `out/<name>` does). None without an output folder, or when it lies outside the current folder."""
    if output is None:
        return None
    here = os.getcwd()
    relative = os.path.relpath(os.path.normpath(os.path.join(here, output)), here)
    if relative == os.curdir or relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return None
    return Path(relative).as_posix()


def _gitops_path_problems(declared: str | None, written_at: str | None, output: Path | None) -> list[Diagnostic]:
    """Argo CD and Flux sync the folder the GitOps objects name; `build --check` compares the folder the
    build writes. When the two differ, what CI checks is not what the clusters apply."""
    if declared is not None and written_at is not None and declared.rstrip("/") != written_at:
        return [warning("JCN926", f"`gitops.path` is {declared}, but this build writes {written_at}: Argo CD and Flux "
                                  f"would sync {declared}, a folder `build --check` of this output never compares",
                        ("gitops", "path"),
                        help=f"write `path: {written_at}`, or build with `-o {declared}` from the repository's top level")]
    if declared is None and written_at is None and output is not None:
        return [warning("JCN926", f"the output folder {output} is outside the current folder, so its path in the "
                                  "repository is unknown: the GitOps objects name out/<name>", ("gitops",), at="key",
                        help="run jcnrc from the repository's top level with a relative `-o`, or set `gitops.path`")]
    return []


def _render_options(intent: Path, result: Result, options: Options, display_name: str | None,
                    secret_values: SecretValues | None) -> RenderOptions:
    intent_file = intent_file_name(intent, display_name)
    return RenderOptions(
        templates=options.templates,
        secret_values=secret_values,
        layout=options.layout,
        intent_file=intent_file,
        intent_digest=result.source_digest,
        version=__version__,
        rebuild_command=rebuild_command(intent_file, options,
                                        default_output(result.name, options.target, result.written_target)),
    )


def default_output(name: str, target: str | None, written_target: str | None) -> Path:
    """out/<name>; out/<name>-<target> when --target overrides the intent, so both generations can sit side by side."""
    return Path("out") / (f"{name}-{target}" if target is not None and target != written_target else name)


def _same_folder(given: str, default: Path) -> bool:
    here = os.getcwd()
    return os.path.normpath(os.path.join(here, given)) == os.path.normpath(os.path.join(here, default))


def rebuild_command(intent_file: str, options: Options, default: Path | None = None) -> str:
    """The `jcnrc build` command line that writes this output again, with every option that shaped
    it: what the README and `build --check` tell the user to run. A `-o` that names the `default`
    folder is left out: `build x.yaml -o out/x` and `build x.yaml` write the same files."""
    from jcnrc.render.escape import shell_word

    words = ["jcnrc", "build", shell_word(intent_file)]
    if options.output_flag is not None and not (default is not None and _same_folder(options.output_flag, default)):
        # A folder named like an option reads as one to a person; `./` says it is a path.
        folder = f"./{options.output_flag}" if options.output_flag.startswith("-") else options.output_flag
        words += ["-o", shell_word(folder)]
    if options.target:
        words += ["--target", options.target]
    if options.layout != "tree":
        words += ["--layout", options.layout]
    if options.with_secrets:
        words.append("--with-secrets")
    return " ".join(words)


def _render_plan(intent: Path, plan: Plan, result: Result, options: Options, environ: dict, display_name: str | None,
                 where: Callable[[tuple], tuple]) -> tuple[dict[str, str], secretscan.Values, bool] | None:
    """One cluster's files (secrets read, rendered, sops-encrypted), the secret values it could
    read for the leak scan, and whether its files hold values on purpose (inline mode); None after
    a problem, added to `result` at the path `where` gives (a fleet's cluster writes its own)."""
    from dataclasses import replace

    def report(diagnostic: Diagnostic) -> None:
        result.diagnostics.append(replace(diagnostic, path=where(diagnostic.path)))

    mode = plan.topology.secrets.mode
    if mode in ("inline", "sops") and not (options.allow_secret_values or options.with_secrets):
        report(error(
            "JCN808", f"`secrets.mode: {mode}` puts secret values into the output, and the intent alone cannot ask for that",
            ("secrets", "mode"),
            help="the operator allows it with `--secret-values` (or `--with-secrets` for an inline Secret): a pull request "
                 "must not be able to send a CI secret into the output; see docs/security.md"))
        return None
    sops = None
    if mode == "sops":
        from jcnrc.output import sops as sops_program

        try:
            sops = sops_program.find_sops(environ)
        except sops_program.SopsUnavailable as exc:
            report(error("JCN804", str(exc), ("secrets", "mode")))
            return None
    secret_values, problems = read_secret_values(plan, intent.parent, environ)
    for problem in problems:
        report(problem)
    if problems:
        return None
    options.stage("render")
    try:
        files = render(plan, _render_options(intent, result, options, display_name, secret_values))
    except TemplateProblem as exc:
        result.diagnostics.append(error("JCN900", f"rendering failed: {exc}",
                                        help="check the template folder given with --templates"))
        return None
    if sops is not None:
        from jcnrc.output import sops as sops_program

        options.stage("encrypt")
        try:
            files = sops_program.encrypt_secrets(files, manifests=MANIFESTS, sops=sops, cwd=intent.parent,
                                                 environ=environ, output=options.output, config=options.sops_config)
        except sops_program.SopsFailed as exc:
            report(error("JCN806", f"sops failed: {exc}", ("secrets", "mode")))
            return None
    # Modes that embed values read them above (each one required); the others read what they can
    # now, for the leak scan and the diff's secret detector. Either way each file is read once.
    found = (_values_of(secret_values) if secret_values is not None
             else secretscan.read_values(plan.topology.secrets, intent.parent, environ))
    return files, found, mode == "inline"


def _values_of(secret_values: SecretValues) -> secretscan.Values:
    pairs = (("rootPassword", secret_values.root_password), ("crpdLicense", secret_values.crpd_license))
    return secretscan.Values([value for _, value in pairs if value],
                             [f"`secrets.{key}`" for key, value in pairs if value], [])


def _secret_detector(values: list[str], labels: list[str]) -> Callable[[str], bool]:
    def holds_secret(text: str) -> bool:
        return bool(secretscan.scan({"-": text}, values, labels))

    return holds_secret


def _refuse_leaks(files: dict[str, str], result: Result, found: secretscan.Values):
    """The last line of defence: no secret value, raw, escaped or base64, in any file outside inline mode."""
    problems = _leak_problems(files, found)
    result.diagnostics += problems
    return None if any(d.is_error for d in problems) else files


def _leak_problems(files: dict[str, str], found: secretscan.Values) -> list[Diagnostic]:
    """JCN805 for every leak, JCN917 for values too short to scan for, JCN918 for values not at hand."""
    values, labels = found.values, found.labels
    problems = [error("JCN805", f"refusing to write a secret value: {finding.message()}", _secret_path(finding.label),
                      help="a template or intent value carries the secret; nothing was written")
                for finding in secretscan.scan(files, values, labels)]
    problems += [warning("JCN917", f"the value of {label} is too short to check the output for leaks",
                         _secret_path(label), help="use a longer value, at least 6 characters")
                 for label in secretscan.unscannable(values, labels)]
    if found.unchecked:
        problems.append(_unchecked_warning(found.unchecked))
    return problems


def _unchecked_warning(unchecked: list[secretscan.Unchecked]) -> Diagnostic:
    """One warning for every value the scan could not look for (a build without the values is the
    usual case in reference mode: one warning, not one per value), at the first reference; the
    others are notes."""
    first, *others = unchecked
    if others:
        listed = " and ".join(f"`secrets.{u.key}` ({u.reason})" for u in unchecked)
        message = f"the output was not checked for the values of {listed}"
    else:
        message = f"the output was not checked for the value of `secrets.{first.key}`: {first.reason}"
    return warning("JCN918", message, ("secrets", first.key, first.source),
                   related=tuple(Related(f"`secrets.{u.key}`, not checked either", ("secrets", u.key, u.source))
                                 for u in others),
                   help="this mode does not need the values, but the leak scan can only look for the values it can "
                        "read: make them available to the build (an exported variable, a regular file of at most "
                        f"{secretscan.MAX_SECRET_FILE_BYTES // 1024} KiB beside the intent) to have every one checked")


def _secret_path(label: str) -> tuple[str, ...]:
    """`secrets.rootPassword` (the scan's label) -> ("secrets", "rootPassword"), the key it points at."""
    return tuple(label.strip("`").split("."))


def read_secret_values(plan: Plan, base: Path, environ: dict) -> tuple[SecretValues | None, list[Diagnostic]]:
    """Only the modes that write a Secret (inline, sops) read values to put in it."""
    secrets = plan.topology.secrets
    if secrets.mode not in ("inline", "sops"):
        return None, []
    values = []
    problems = []
    for key, ref in (("rootPassword", secrets.rootPassword), ("crpdLicense", secrets.crpdLicense)):
        assert ref is not None  # required outside external-secrets mode (rules._secret_rules)
        if ref.env:
            value = environ.get(ref.env)
            if value is None:
                problems.append(error("JCN803", f"environment variable {ref.env} is not set (needed for `secrets.{key}`)",
                                      ("secrets", key, "env"), help=f"export {ref.env}=... before the build"))
            elif not secretscan.is_utf8(value):
                problems.append(error("JCN803", f"environment variable {ref.env} is not valid UTF-8 (needed for `secrets.{key}`)",
                                      ("secrets", key, "env"), help=f"set {ref.env} to UTF-8 text"))
                value = None
            values.append(value or "")
        else:
            assert ref.file is not None  # a source is exactly one of env or file (the model)
            value, problem = _read_secret_file(base, ref.file, key)
            values.append(value)
            problems += [problem] if problem else []
    return SecretValues(*values), problems


def _read_secret_file(base: Path, name: str, key: str) -> tuple[str, Diagnostic | None]:
    """The file's text exactly as stored: bytes decoded as UTF-8, so CR LF line ends and a final
    newline stay what they are (Path.read_text would turn CR LF into LF). Only a regular file in the
    intent's folder, reached without following links, of at most 64 KiB (secretscan.read_secret_file)."""
    where = ("secrets", key, "file")
    try:
        raw = secretscan.read_secret_file(base, name)
    except secretscan.SecretFileError as exc:
        if exc.refused:
            return "", error("JCN807", f"refusing to read {escaped(name)} for `secrets.{key}`: {exc}", where,
                             help="a secret file must be a regular file of at most "
                                  f"{secretscan.MAX_SECRET_FILE_BYTES // 1024} KiB in the intent's folder or below it, "
                                  "not a link; copy it there, or pass the value in an environment variable (`env:`)")
        return "", error("JCN803", f"cannot read {escaped(name)} for `secrets.{key}`: {exc}", where)
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return "", error("JCN803", f"{escaped(name)} (the value of `secrets.{key}`) is not UTF-8 text: byte "
                                   f"0x{raw[exc.start]:02x} at offset {exc.start}", where,
                         help="the value is copied into the Secret as text: save the file as UTF-8")
