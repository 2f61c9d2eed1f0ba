"""The command line: the outer edge where files are read and written and exit codes decided.

Exit codes: 0 success, 1 problems in the intent (or a difference found by --check/verify),
2 usage errors (missing file, bad option, unwritable output). Never a traceback.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer
import typer.core

from jcnrc import __version__

if TYPE_CHECKING:
    from jcnrc.diagnostics import Diagnostic
    from jcnrc.intent.load import Limits
    from jcnrc.output.progress import TerminalProgress
    from jcnrc.pipeline import Options, Result
    from jcnrc.plan.planner import Plan

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 70

# Help shows each argument as its metavar (`FILE`), as kubectl and helm do, not with typer's type
# suffix (`FILE <path>`, `FILE... <list[Path]>`); options name their value with a metavar.
typer.core.TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]

app = typer.Typer(
    name="jcnrc",
    help="Compile one YAML intent into a complete Juniper cloud-native router (Platter / JCNR) deployment.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    text = "text"
    json = "json"


class Layout(str, Enum):
    tree = "tree"
    single = "single"


class Target(str, Enum):
    platter = "platter"
    jcnr = "jcnr"


class Kind(str, Enum):
    topology = "topology"
    fleet = "fleet"


_SIZE_SUFFIXES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def parse_size(text: str) -> int:
    """`4194304`, `4096K`, `16M` or `1G` (binary units) -> bytes."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if match is None or int(match.group(1)) == 0:
        raise typer.BadParameter(f"{text!r} is not a size: write a positive number of bytes, or one with K, M or G (16M)")
    return int(match.group(1)) * _SIZE_SUFFIXES[match.group(2).upper()]


def _positive(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise typer.BadParameter("must be at least 1")
    return value


# The loader's resource limits (jcnrc.intent.load.Limits), on every command that reads an intent.
MaxBytes = Annotated[int | None, typer.Option(
    "--max-bytes", parser=parse_size, metavar="SIZE",
    help="Largest intent file read (bytes, or 16M); default: the loader's limit.")]
MaxDepth = Annotated[int | None, typer.Option(
    "--max-depth", callback=_positive, metavar="N", help="Deepest nesting of mappings and lists accepted.")]
MaxNodes = Annotated[int | None, typer.Option(
    "--max-nodes", callback=_positive, metavar="N",
    help="Most YAML nodes (mappings, lists, scalars, keys included; aliases counted as expanded).")]
# The intent comes from pull requests: only the operator lets a build put secret values into its
# output (`secrets.mode: inline` or `sops`), see docs/security.md.
SecretValues = Annotated[bool, typer.Option(
    "--secret-values",
    help="Let the intent's `secrets.mode: inline` or `sops` read secret values into the output; the intent alone cannot.")]
# sops mode: the operator's own configuration, so a pull request's `.sops.yaml` cannot pick the recipients.
SopsConfig = Annotated[Path | None, typer.Option(
    "--sops-config", metavar="FILE",
    help="The sops configuration to encrypt with (sops --config); default: the .sops.yaml sops finds from the intent's folder.")]
# The commands that read the plan: the router generation the build used (`build --target`), whose
# addresses differ (JCNR peers over the fabric).
PlanTarget = Annotated[Target | None, typer.Option(
    "--target", help="Router generation, as given to `build --target`; default: `target:` in the intent.")]
# On the commands that print diagnostics: the first N by position are shown, the rest counted.
MaxDiagnostics = Annotated[int, typer.Option(
    "--max-diagnostics", callback=_positive, metavar="N",
    help="Print at most N diagnostics, the first by position; the rest are counted.")]


def _limits(max_bytes: int | None, max_depth: int | None, max_nodes: int | None) -> Limits:
    from dataclasses import replace

    from jcnrc.intent.load import DEFAULT_LIMITS

    given = {"max_bytes": max_bytes, "max_depth": max_depth, "max_nodes": max_nodes}
    return replace(DEFAULT_LIMITS, **{name: value for name, value in given.items() if value is not None})


def _err(message: str) -> None:
    """A message on stderr. Messages repeat paths and names from the command line and captures,
    so every line is escaped: no escape sequence, bidi control or stray line break reaches the
    terminal or a CI log (the line breaks the message itself puts between lines are kept)."""
    from jcnrc.diagnostics import escaped

    typer.echo("\n".join(escaped(line) for line in message.split("\n")), err=True)


def _use_color(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


STDIN = "-"
_stdin_copy: Path | None = None


def _stdin_intent(max_bytes: int) -> Path:
    """`-` as FILE: the intent read from standard input (at most `max_bytes` and one byte, so the
    loader reports an oversized intent as for a file) into a private folder removed at exit. Secret
    `file:` references resolve from the current folder's point of view of that copy: use `env:`."""
    global _stdin_copy
    if _stdin_copy is None:
        import atexit
        import shutil
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="jcnrc-stdin-"))
        atexit.register(shutil.rmtree, folder, True)
        _stdin_copy = folder / "stdin.yaml"
        _stdin_copy.write_bytes(sys.stdin.buffer.read(max_bytes + 1))
    return _stdin_copy


def _require_file(path: Path) -> None:
    if not path.exists():
        _err(f"jcnrc: error: {path}: no such file")
        raise typer.Exit(EXIT_USAGE)
    if not path.is_file():
        _err(f"jcnrc: error: {path}: not a file")
        raise typer.Exit(EXIT_USAGE)


def _failing(diagnostics: Iterable[Diagnostic], warnings_as_errors: bool) -> bool:
    return any(d.is_error or warnings_as_errors for d in diagnostics)


def report(result: Result, fmt: Format, warnings_as_errors: bool, quiet: bool = False,
           max_diagnostics: int | None = None) -> bool:
    """Print the first `max_diagnostics` diagnostics by position and count the rest; True when the run must fail."""
    from jcnrc import diagnostics as diag

    limit = max_diagnostics or diag.MAX_DIAGNOSTICS
    failing = _failing(result.diagnostics, warnings_as_errors)
    if fmt == Format.json:
        located, omitted = diag.locate_first(result.diagnostics, result.source, limit)
        typer.echo(diag.to_json(located, omitted), nl=False)
        return failing
    shown = [d for d in result.diagnostics if d.is_error] if quiet else result.diagnostics
    located, hidden = diag.locate_first(shown, result.source, limit)
    color = _use_color(sys.stderr)
    for item in located:
        _err(diag.format_text(item, color=color))
        _err("")
    if hidden:
        _err(diag.not_shown(hidden, all(d.is_error for d in shown)))
    if result.diagnostics and not quiet:
        _err(f"{result.source.file}: {diag.summary(result.diagnostics)}")
    return failing


def _options(templates: Path | None, layout: Layout | None, target: Target | None, with_secrets: bool, out: Path | None,
             limits: Limits, progress: TerminalProgress | None = None, secret_values: bool = False,
             sops_config: Path | None = None) -> Options:
    from jcnrc.pipeline import Options

    if templates is not None and not templates.is_dir():
        _err(f"jcnrc: error: --templates {templates}: not a folder")
        raise typer.Exit(EXIT_USAGE)
    if sops_config is not None and not sops_config.is_file():
        _err(f"jcnrc: error: --sops-config {sops_config}: not a file")
        raise typer.Exit(EXIT_USAGE)
    return Options(templates=templates, layout=(layout or Layout.tree).value, target=target.value if target else None,
                   with_secrets=with_secrets, allow_secret_values=secret_values or with_secrets, output=out, limits=limits,
                   progress=progress, output_flag=str(out) if out is not None else None,
                   sops_config=sops_config.resolve() if sops_config is not None else None)


def _recorded(result: Result, out: Path | None, target: Target | None,
              layout: Layout | None) -> tuple[Layout | None, str | None]:
    """`diff` and `build --check` compare with the layout that wrote the folder (its list of owned files
    records it) wherever the command line does not say: a folder built with `--layout single` is not
    reported as entirely different. The second value is the target the folder records when it is neither
    the intent's nor one the command line gave: `diff` shows the folder as built with it, `build --check`
    refuses it (the folder is the repository's, and only the intent or the command line chooses what
    router is deployed). `result`: the intent analysed with the command line's options."""
    from jcnrc.output import write as writer

    if not result.planned or (layout is not None and (target is not None or out is None)):
        return layout, None  # an intent with problems: the run reports them
    recorded_layout, recorded_target = writer.recorded_build(out or default_out_dir(result, target))
    if layout is None and recorded_layout is not None:
        layout = Layout(recorded_layout)
    if target is None and out is not None and recorded_target not in (None, result.written_target):
        return layout, recorded_target
    return layout, None


def _refuse_linked_output(out_dir: Path, allow_last: bool) -> None:
    """A diff prints what the output folder holds: never through a link the repository planted."""
    from jcnrc.output import write as writer

    link = writer.link_inside_current_folder(out_dir, allow_last=allow_last)
    if link is not None:
        _err(f"jcnrc: error: {link} is a symbolic link inside the current folder; jcnrc does not read the output "
             "folder through links the repository could have planted")
        raise typer.Exit(EXIT_USAGE)


def recorded_name(intent: Path) -> str | None:
    """The intent as the output folder's list of owned files records it: its path from the current
    folder, where the default output folder is too (the file name alone when it lies elsewhere); None
    for standard input and for a path that is not a plain, portable one."""
    from jcnrc.output import write as writer

    if str(intent) == "-":
        return None
    relative = Path(os.path.relpath(os.path.abspath(intent))).as_posix()
    name = relative if not relative.startswith("../") else intent.name
    return name if writer.recordable_intent(name) else None


def _refuse_another_intents_folder(out_dir: Path, intent: str | None, file: Path, outcome: str) -> None:
    """Two intents with one metadata.name have one default folder: the second build would replace the
    first's output (and a GitOps tool would prune what the first deployed). A folder whose owned-files
    list names another intent is left alone unless -o names it; so is one whose intent this build
    cannot compare with (standard input, a path that cannot be recorded)."""
    from jcnrc.output import write as writer

    recorded = writer.recorded_intent(out_dir)
    if recorded is None or recorded == intent:
        return
    this = file if intent is not None else f"{file} (a name jcnrc does not record: standard input or not a portable path)"
    _err(f"jcnrc: error: {out_dir} holds the output of the intent {recorded} (its {writer.OWNED_LIST} says so), "
         f"and {this} builds into the same folder; {outcome}")
    _err(f"help: give this intent a folder of its own with `-o`, or, if it replaces {recorded}, "
         f"build it with `-o {out_dir}` once")
    raise typer.Exit(EXIT_USAGE)


OUT_HELP = "Output folder. Default: out/<metadata.name>; out/<metadata.name>-<target> with a --target the intent does not name."


def default_out_dir(result: Result, target: Target | None) -> Path:
    """out/<name>; out/<name>-<target> when --target overrides the intent, so both generations can sit side by side."""
    from jcnrc.pipeline import default_output

    # result.name is asked only once the intent is planned.
    return default_output(result.name, target.value if target is not None else None, result.written_target)


def _progress_bar(quiet: bool) -> TerminalProgress | None:
    """A progress line on stderr when it is an interactive terminal (see jcnrc/output/progress.py), else None."""
    from jcnrc.output import progress

    return progress.TerminalProgress(sys.stderr) if progress.wanted(sys.stderr, quiet, os.environ) else None


@contextmanager
def _erased_after(bar: TerminalProgress | None) -> Iterator[None]:
    """Whatever the block prints next (diagnostics, errors) starts on a clean line."""
    try:
        yield
    finally:
        if bar is not None:
            bar.close()


def _run(file: Path, options: Options, render: bool, target: Target | None = None,
         analysed: Result | None = None) -> Result:
    """analyse (or, with render, compile) the intent file named on the command line; a file that
    is missing or cannot be read is a usage error. Without `options.output`, rendering is told the
    default output folder, known once the plan names it. `analysed`: what `_run(file, ...,
    render=False)` gave with options that analyse alike (they differ in rendering only)."""
    from dataclasses import replace

    from jcnrc.pipeline import analyse, render_analysed

    display = str(file)
    if display == STDIN:
        file, display = _stdin_intent(options.limits.max_bytes), "<stdin>"
    _require_file(file)
    try:
        result = analysed
        if result is None:
            result = analyse(file, options, display_name=display)
            if display == "<stdin>":
                result.lock_path = None  # no lock for an intent without a file: allocated values are not kept
                result.lock_changed = False
        if not render or not result.planned:
            return result
        output = options.output or default_out_dir(result, target)
        return render_analysed(file, result, replace(options, output=output), display_name=display)
    except OSError as exc:
        _err(f"jcnrc: error: {file}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_USAGE) from None


@app.command()
def build(
    file: Path = typer.Argument(..., metavar="FILE", help="The intent file (YAML)."),
    out: Path | None = typer.Option(None, "-o", "--out", metavar="DIR", help=OUT_HELP),
    templates: Path | None = typer.Option(None, "--templates", metavar="DIR",
                                          help="A folder of templates that override the built-in ones."),
    target: Target | None = typer.Option(None, "--target", help="Router generation; overrides `target:` in the intent."),
    layout: Layout | None = typer.Option(
        None, "--layout", help="tree (default): one object per file; single: one manifest.yaml. With --check: the folder's own."),
    with_secrets: bool = typer.Option(False, "--with-secrets", help="Write a Secret with real values (and a .gitignore for it)."),
    secret_values: SecretValues = False,
    sops_config: SopsConfig = None,
    check_only: bool = typer.Option(False, "--check", help="Write nothing; exit 1 with a diff when the output folder is stale."),
    locked: bool = typer.Option(False, "--locked", help="Fail instead of updating the allocation lock file."),
    validate: bool = typer.Option(False, "--validate", help="Validate every object against Kubernetes' schemas."),
    kube_version: str = typer.Option("1.32", "--kube-version", metavar="VERSION", help="Kubernetes version for --validate."),
    allow_symlink_output: bool = typer.Option(
        False, "--allow-symlink-output", help="Write through an output folder that is a symlink."),
    fmt: Format = typer.Option(Format.text, "--format", help="Diagnostics format."),
    warnings_as_errors: bool = typer.Option(False, "--warnings-as-errors", help="Fail on warnings too."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print errors only."),
    max_bytes: MaxBytes = None,
    max_depth: MaxDepth = None,
    max_nodes: MaxNodes = None,
    max_diagnostics: MaxDiagnostics = 100,
) -> None:
    """Check the intent and compile it into every artifact, written atomically."""
    from dataclasses import replace

    from jcnrc.output import write as writer
    from jcnrc.pipeline import rebuild_command

    bar = _progress_bar(quiet or fmt == Format.json)
    options = _options(templates, layout, target, with_secrets, out, _limits(max_bytes, max_depth, max_nodes), bar,
                       secret_values, sops_config)
    other_target = None
    with _erased_after(bar):
        result = _run(file, options, render=False)
        if check_only:
            layout, other_target = _recorded(result, out, target, layout)
            options = replace(options, layout=(layout or Layout.tree).value)
        if other_target is None:
            result = _run(file, options, render=True, target=target, analysed=result)
    if other_target is not None:
        check = rebuild_command(str(file), replace(options, target=other_target, with_secrets=False),
                                default_out_dir(result, Target(other_target)))
        _err(f"jcnrc: {out} was built with `--target {other_target}`, which the intent does not say: `--check` "
             "takes the target from the intent or the command line, never from the folder (the repository "
             f"controls it); if {other_target} is what you deploy, check with `{check} --check`")
        raise typer.Exit(EXIT_PROBLEMS)
    if report(result, fmt, warnings_as_errors, quiet, max_diagnostics) or result.files is None:
        raise typer.Exit(EXIT_PROBLEMS)
    out_dir = out or default_out_dir(result, target)
    intent = recorded_name(file)
    if out is None:
        _refuse_another_intents_folder(out_dir, intent, file, "not compared" if check_only else "nothing was written")
    folders = tuple(c.name for c in result.fleet.clusters) if result.fleet is not None else ("",)
    if validate and not _validate_manifests(result.files, kube_version, folders):
        raise typer.Exit(EXIT_PROBLEMS)
    if check_only:
        _refuse_linked_output(out_dir, allow_last=allow_symlink_output)
        changes = writer.plan_changes(result.files, out_dir, intent)
        stale_lock = result.lock_changed
        if changes or stale_lock:
            typer.echo(writer.unified_diff(result.files, out_dir, changes, holds_secret=result.holds_secret, intent=intent),
                       nl=False)
            if stale_lock:
                _err(f"jcnrc: the lock file {result.lock_path} is out of date")
            again = rebuild_command(str(file), options, default_out_dir(result, target))
            _err(f"jcnrc: {out_dir} is stale: {len(changes)} file(s) differ; run `{again}`")
            raise typer.Exit(EXIT_PROBLEMS)
        if not quiet:
            _err(f"jcnrc: {out_dir} is up to date")
        return
    if locked and result.lock_changed:
        _err(f"jcnrc: error: the lock file {result.lock_path} would change and --locked was given")
        raise typer.Exit(EXIT_PROBLEMS)
    problem = writer.replace_problem(result.lock_path) if result.lock_changed and result.lock_path else None
    if problem is not None:
        _err(f"jcnrc: error: {problem}; nothing was written")
        raise typer.Exit(EXIT_USAGE)
    try:
        with _erased_after(bar):
            changes = writer.write_tree(result.files, out_dir, allow_symlink=allow_symlink_output, progress=bar,
                                        inputs=(file, result.lock_path), intent=intent)
    except writer.WriteError as exc:
        _err(f"jcnrc: error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    if result.lock_changed:
        # Atomic, and never through a link planted under the lock's name: the link itself is replaced.
        assert result.lock_path is not None and result.lock is not None  # a plan always has them
        try:
            writer.replace_file(result.lock_path, result.lock.to_json().encode("utf-8"))
        except writer.WriteError as exc:
            _err(f"jcnrc: error: {exc}; the output folder {out_dir} was written")
            raise typer.Exit(EXIT_USAGE) from None
    if not quiet:
        changed = [c for c in changes if c.path != writer.OWNED_LIST]
        _err(f"jcnrc: wrote {out_dir} ({len(result.files)} files, {len(changed)} changed)")


def _validate_manifests(files: dict[str, str], kube_version: str, folders: tuple[str, ...] = ("",)) -> bool:
    from jcnrc.verify import manifests as validate_output

    try:
        problems = validate_output.validate_files(files, kube_version, folders)
    except validate_output.ValidationUnavailable as exc:
        _err(f"jcnrc: error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    for problem in problems:
        _err(f"{problem.source}: {problem.path or '<object>'}: {problem.message}")
    return not problems


@app.command(name="check")
def check_command(
    files: list[Path] = typer.Argument(..., metavar="FILE", help="Intent files; - reads one from standard input."),
    target: Target | None = typer.Option(None, "--target", help="Check for this router generation."),
    fmt: Format = typer.Option(Format.text, "--format", help="Diagnostics format."),
    warnings_as_errors: bool = typer.Option(False, "--warnings-as-errors", help="Fail on warnings too."),
    max_bytes: MaxBytes = None,
    max_depth: MaxDepth = None,
    max_nodes: MaxNodes = None,
    max_diagnostics: MaxDiagnostics = 100,
) -> None:
    """Check intents without writing anything."""
    from jcnrc import diagnostics as diag
    from jcnrc.pipeline import Options

    options = Options(target=target.value if target else None, limits=_limits(max_bytes, max_depth, max_nodes))
    failing = False
    all_located = []
    omitted = 0
    for file in files:
        result = _run(file, options, render=False)
        if fmt == Format.json:
            located, hidden = diag.locate_first(result.diagnostics, result.source, max_diagnostics)
            all_located += located
            omitted += hidden
            failing |= _failing(result.diagnostics, warnings_as_errors)
        else:
            failing |= report(result, fmt, warnings_as_errors, max_diagnostics=max_diagnostics)
            if result.ok and result.planned:
                from jcnrc.diagnostics import summary

                warned = f", {summary(result.diagnostics)}" if result.diagnostics else ""
                typer.echo(f"{file}: ok{warned} ({_inventory(result)})")
    if fmt == Format.json:
        typer.echo(diag.to_json(all_located, omitted), nl=False)
    raise typer.Exit(EXIT_PROBLEMS if failing else EXIT_OK)


def _inventory(result: Result) -> str:
    """`3 nodes, 2 pods, 1 VRF` (a fleet: and its clusters), for the one line `check` prints on success."""
    def count(n: int, noun: str) -> str:
        return f"{n} {noun}{'' if n == 1 else 's'}"

    plans = [c.plan for c in result.fleet.clusters] if result.fleet is not None else [result.plan] if result.plan else []
    parts = [count(len(result.fleet.clusters), "cluster")] if result.fleet is not None else []
    parts += [count(sum(len(p.nodes) for p in plans), "node"), count(sum(len(p.pods) for p in plans), "pod"),
              count(len(plans[0].vrfs) if plans else 0, "VRF")]
    return ", ".join(parts)


@app.command()
def diff(
    file: Path = typer.Argument(..., metavar="FILE", help="The intent file."),
    out: Path | None = typer.Option(None, "-o", "--out", metavar="DIR", help=OUT_HELP),
    templates: Path | None = typer.Option(None, "--templates", metavar="DIR", help="Template override folder."),
    target: Target | None = typer.Option(None, "--target", help="Router generation."),
    layout: Layout | None = typer.Option(None, "--layout", help="Output layout. Default: the one the folder was built with."),
    secret_values: SecretValues = False,
    sops_config: SopsConfig = None,
    max_bytes: MaxBytes = None,
    max_depth: MaxDepth = None,
    max_nodes: MaxNodes = None,
    max_diagnostics: MaxDiagnostics = 100,
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print errors only (and the diff)."),
) -> None:
    """Show how the output folder differs from what the intent compiles to (never fails on a difference)."""
    from dataclasses import replace

    from jcnrc.output import write as writer

    options = _options(templates, layout, target, False, out, _limits(max_bytes, max_depth, max_nodes),
                       secret_values=secret_values, sops_config=sops_config)
    analysed = _run(file, options, render=False)
    layout, other_target = _recorded(analysed, out, target, layout)
    if other_target is not None:
        target = Target(other_target)  # diff shows the folder as it was built; it never fails on a difference
    options = replace(options, layout=(layout or Layout.tree).value, target=target.value if target else None)
    # Planned again only for the folder's own target.
    result = _run(file, options, render=True, target=target, analysed=None if other_target else analysed)
    if report(result, Format.text, False, quiet=quiet, max_diagnostics=max_diagnostics) or result.files is None:
        raise typer.Exit(EXIT_PROBLEMS)
    out_dir = out or default_out_dir(result, target)
    _refuse_linked_output(out_dir, allow_last=False)
    typer.echo(writer.unified_diff(result.files, out_dir, holds_secret=result.holds_secret, intent=recorded_name(file)),
               nl=False)


@app.command()
def schema(kind: Kind = typer.Option(Kind.topology, "--kind", help="topology (one cluster) or fleet (many clusters).")) -> None:
    """Print the JSON Schema of the intent format."""
    from jcnrc.intent.schema import schema_text

    typer.echo(schema_text("Fleet" if kind == Kind.fleet else "Topology"), nl=False)


@app.command()
def routes(
    file: Path = typer.Argument(..., metavar="FILE", help="The intent file."),
    node: str | None = typer.Option(None, "--node", metavar="NODE", help="Kubernetes node name (`<cluster>/<node>` in a fleet); "
                                                        "without it, the nodes are listed."),
    vrf: str | None = typer.Option(None, "--vrf", metavar="VRF", help="Only this VRF."),
    fmt: Format = typer.Option(Format.text, "--format", help="text or json."),
    target: PlanTarget = None,
    max_bytes: MaxBytes = None,
    max_depth: MaxDepth = None,
    max_nodes: MaxNodes = None,
) -> None:
    """Print the routing state NODE must show: BGP sessions, EVPN Type-5 routes, kernel VRF routes."""
    from jcnrc.plan import expected as expected
    from jcnrc.render import escape
    from jcnrc.render.templates import Templates

    result = _planned(file, _limits(max_bytes, max_depth, max_nodes), target)
    if node is None:
        _list_nodes(result, fmt)
        return
    plan, node = _node_of(result, node)
    if vrf is not None:
        _require_name(vrf, [v.name for v in plan.vrfs], "VRF")
    state = expected.node_state(plan, node, vrf)
    if fmt == Format.json:
        typer.echo(escape.to_json(expected.to_data(state), indent=2))
    else:
        prefix = f"{plan.fleet.cluster}/" if plan.fleet is not None else ""
        typer.echo(Templates(None).render("common/node-state.txt.j2", state=state, target=plan.target,
                                          node_prefix=prefix), nl=False)


def _list_nodes(result: Result, fmt: Format) -> None:
    """`jcnrc routes FILE` without --node: the nodes it can show, with their role and address."""
    plans = [(f"{c.name}/", c.plan) for c in result.fleet.clusters] if result.fleet is not None else [("", result.plan)]
    rows = [(prefix + n.name, n.role, n.address, n.fabric_address) for prefix, plan in plans if plan is not None
            for n in plan.nodes]
    if fmt == Format.json:
        typer.echo(json.dumps([{"node": name, "role": role, "address": address, **({"fabricAddress": fabric} if fabric else {})}
                               for name, role, address, fabric in rows], indent=2))
        return
    width = max(len(name) for name, _, _, _ in rows)
    for name, role, address, fabric in rows:
        typer.echo(f"{name:<{width}}  {role:<6}  {address}" + (f"  fabric {fabric}" if fabric else ""))
    _err(f"jcnrc: {len(rows)} node(s); show one with `jcnrc routes FILE --node NAME`")


def _planned(file: Path, limits: Limits, target: Target | None = None) -> Result:
    """The planned intent (a Topology's plan or a fleet's), for the commands that read it; the
    intent's errors end the command. `target` overrides the intent's, as `build --target` does."""
    from jcnrc.pipeline import Options

    result = _run(file, Options(limits=limits, target=target.value if target else None), render=False)
    if report(result, Format.text, False, quiet=True) or not result.planned:
        raise typer.Exit(EXIT_PROBLEMS)
    return result


def _node_of(result: Result, node: str) -> tuple[Plan, str]:
    """The plan that holds `node` and the node's name in it: a fleet names it `<cluster>/<node>`."""
    if result.fleet is not None:
        found = result.fleet.resolve_node(node)
        if found is None:
            _require_name(node, result.fleet.node_references(), "node (`<cluster>/<node>` in a fleet)")
        assert found is not None  # _require_name ended the command otherwise
        return found[0].plan, found[1]
    assert result.plan is not None  # result.planned
    _require_name(node, [n.name for n in result.plan.nodes], "node")
    return result.plan, node


def _require_name(name: str, valid: list[str], what: str) -> None:
    from jcnrc.diagnostics import did_you_mean

    if name not in valid:
        hint = did_you_mean(name, valid)
        _err(f"jcnrc: error: no {what} named `{name}`" + (f"; {hint}" if hint else ""))
        raise typer.Exit(EXIT_USAGE)


@app.command()
def explain(
    file: Path = typer.Argument(..., metavar="FILE", help="The intent file."),
    a: str = typer.Argument(..., metavar="A", help="A pod or VRF."),
    b: str = typer.Argument(..., metavar="B", help="Another pod or VRF."),
    fmt: Format = typer.Option(Format.text, "--format", help="text or json (keys: a, b, reachable, pairs)."),
    target: PlanTarget = None,
    max_bytes: MaxBytes = None,
    max_depth: MaxDepth = None,
    max_nodes: MaxNodes = None,
) -> None:
    """Explain in words whether A reaches B and why (route targets both ways). Works also when an `expect:`
    of the intent fails, which it then reports: exit 1 when an `expect:` fails, else 0."""
    from dataclasses import replace

    from jcnrc.pipeline import Options
    from jcnrc.plan import reach

    options = Options(limits=_limits(max_bytes, max_depth, max_nodes), target=target.value if target else None)
    result = _run(file, options, render=False)
    errors = [d for d in result.diagnostics if d.is_error]
    broken = bool(errors) and all(d.code in ("JCN703", "JCN704") for d in errors)
    if broken:  # explain what the failing expectation is about, then fail
        report(result, Format.text, False, quiet=True)
        result = _run(file, replace(options, expectations=False), render=False)
    if report(result, Format.text, False, quiet=True) or not result.planned:
        raise typer.Exit(EXIT_PROBLEMS)
    plan = result.fleet.union if result.fleet is not None else result.plan
    assert plan is not None  # result.planned
    names = [p.name for p in plan.pods] + [v.name for v in plan.vrfs]
    what = "pod (`<cluster>/<pod>` in a fleet) or VRF" if result.fleet is not None else "pod or VRF"
    _require_name(a, names, what)
    _require_name(b, names, what)
    if fmt == Format.json:
        typer.echo(json.dumps({**reach.explain_data(plan, a, b, fleet_plan=result.fleet), "expectationsHold": not broken},
                              indent=2, sort_keys=True))
    else:
        typer.echo(reach.explain(plan, a, b, fleet_plan=result.fleet), nl=False)
    raise typer.Exit(EXIT_PROBLEMS if broken else EXIT_OK)


class VerifyFormat(str, Enum):
    text = "text"
    json = "json"
    junit = "junit"


@app.command()
def verify(
    file: Path = typer.Argument(..., metavar="FILE", help="The intent file."),
    captures: list[Path] | None = typer.Argument(
        None, metavar="CAPTURE...", help="Captured output of show route / show bgp summary / ip route (not with --live)."),
    node: list[str] | None = typer.Option(
        None, "--node", metavar="N", help="The node the captures come from; with --live, a node to verify "
        "(repeatable; default: every node of the intent). `<cluster>/<node>` in a fleet."),
    live: bool = typer.Option(False, "--live", help="Ask the cluster instead of reading captures: find each node's "
                              "cRPD pod and run the show commands in it with kubectl (docs/verify.md)."),
    context: list[str] | None = typer.Option(
        None, "--context", metavar="[CLUSTER=]CONTEXT", help="The kubectl context of --live (default: the current "
        "one). A fleet takes CLUSTER=CONTEXT once per cluster, and a bare CONTEXT for the other clusters."),
    timeout: float = typer.Option(30.0, "--timeout", metavar="SECONDS", min=1.0,
                                  help="With --live: how long each kubectl call may take."),
    max_output: int | None = typer.Option(
        None, "--max-output", metavar="BYTES", min=1, help="With --live: how many bytes each kubectl call may print "
        "before it is stopped and reported (default 67108864, 64 MiB)."),
    fmt: VerifyFormat = typer.Option(VerifyFormat.text, "--format", help="text; json (with captures: the findings, "
                                     "with --live: the report, docs/verify.md); junit (JUnit XML, one testsuite per node)."),
    output: Path | None = typer.Option(None, "--output", metavar="FILE", help="Write the report to FILE (replaced "
                                       "atomically); standard output then shows it as text."),
    target: PlanTarget = None,
    max_bytes: MaxBytes = None,
    max_depth: MaxDepth = None,
    max_nodes: MaxNodes = None,
) -> None:
    """Compare the routing state of nodes with the intent: captured output of one node (--node N CAPTURE...),
    or every node asked live through kubectl (--live). Exit 0 when all match, 1 on any difference, 2 on usage errors
    (a missing kubectl or an unreachable cluster too)."""
    from jcnrc.output.write import WriteError, replace_file
    from jcnrc.verify import report as verify_report

    nodes = node or []
    limits = _limits(max_bytes, max_depth, max_nodes)
    if live:
        from jcnrc.verify import live as live_mode

        if captures:
            _err("jcnrc: error: --live asks the cluster itself: give no CAPTURE with it")
            raise typer.Exit(EXIT_USAGE)
        result = _planned(file, limits, target)
        try:
            built = live_mode.run(str(file), result.plan, result.fleet, nodes, context or [], timeout=timeout,
                                  max_output=max_output or live_mode.KUBECTL_MAX_OUTPUT)
        except live_mode.LiveError as exc:
            _err(f"jcnrc: error: {exc}")
            raise typer.Exit(EXIT_USAGE) from None
        text = verify_report.render(built, fmt.value)
    else:
        if context or max_output is not None:
            _err(f"jcnrc: error: {'--context' if context else '--max-output'} is an option of --live")
            raise typer.Exit(EXIT_USAGE)
        if len(nodes) != 1 or not captures:
            _err("jcnrc: error: give one --node N and the CAPTURE files of that node, or --live")
            raise typer.Exit(EXIT_USAGE)
        plan, node_name = _node_of(_planned(file, limits, target), nodes[0])
        texts = {}
        for capture in captures:
            _require_file(capture)
            try:
                texts[str(capture)] = capture.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                _err(f"jcnrc: error: {capture}: {exc.strerror or exc}")
                raise typer.Exit(EXIT_USAGE) from None
        cluster = plan.fleet.cluster if plan.fleet is not None else None
        one = verify_report.verify_node(plan, node_name, texts, label=nodes[0], cluster=cluster)
        built = verify_report.Report(str(file), (one,))
        if fmt == VerifyFormat.json:
            # With captures, json is the findings list it has always been (docs/verify.md).
            text = json.dumps([f.to_data() for f in one.findings], indent=2, sort_keys=True) + "\n"
        else:
            text = verify_report.render(built, fmt.value)
    if output is not None:
        try:
            replace_file(output, text.encode("utf-8"))
        except WriteError as exc:
            _err(f"jcnrc: error: {exc}")
            raise typer.Exit(EXIT_USAGE) from None
        text = verify_report.to_text(built)  # what failed, in the CI log, as pytest does beside --junitxml
    typer.echo(text, nl=False)
    raise typer.Exit(EXIT_OK if built.ok else EXIT_PROBLEMS)


class ImpactFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


@app.command()
def impact(
    old: str = typer.Argument(..., metavar="OLD",
                              help="The intent before the change: a file, or git:REF for NEW's path at git revision REF."),
    new: Path = typer.Argument(..., metavar="NEW", help="The intent after the change."),
    fmt: ImpactFormat = typer.Option(ImpactFormat.text, "--format", help="text, json (stable keys, docs/impact.md) or markdown."),
    batch: int = typer.Option(2, "--batch", callback=_positive, metavar="N", help="Workers per rollout stage."),
    secret_values: SecretValues = False,
    max_bytes: MaxBytes = None,
    max_depth: MaxDepth = None,
    max_nodes: MaxNodes = None,
    max_diagnostics: MaxDiagnostics = 100,
) -> None:
    """Show the blast radius of changing intent OLD into NEW before it is merged: EVPN Type-5 routes and BGP
    sessions per node, reachability gained and lost, the `expect:` clauses that flip, the files that change,
    the workloads that restart and why, and a rollout order with its `jcnrc verify` steps.

    OLD is a file or git:REF (NEW's path at revision REF, with its lock file). Exit 0 when nothing breaks an
    `expect:`, 1 when one breaks or NEW does not compile, 2 on usage errors."""
    from jcnrc.pipeline import Options
    from jcnrc.verify import impact as impact_report

    limits = _limits(max_bytes, max_depth, max_nodes)
    for path, what in ((new, "NEW"), (None if old.startswith(impact_report.GIT_PREFIX) else Path(old), "OLD")):
        if path is not None and not path.is_file():
            _err(f"jcnrc: error: {what} {path}: {'no such file' if not path.exists() else 'not a file'}")
            raise typer.Exit(EXIT_USAGE)
    # Without --secret-values no variable of this environment (a CI's secrets) is read: the report
    # names files and objects, and the renders need no value to be compared.
    options = Options(environ=dict(os.environ) if secret_values else {}, allow_secret_values=secret_values, limits=limits)
    try:
        with impact_report.old_source(old, new, limits) as source:
            report, _, _ = impact_report.analyse_change(source, new, str(new), options, batch, max_diagnostics)
    except impact_report.ImpactUsageError as exc:
        _err(f"jcnrc: error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as exc:
        _err(f"jcnrc: error: {exc.filename or new}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_USAGE) from None
    typer.echo(impact_report.to_text(report, fmt.value), nl=False)
    raise typer.Exit(report["exitCode"])


class GraphFormat(str, Enum):
    mermaid = "mermaid"
    dot = "dot"
    svg = "svg"
    png = "png"


@app.command()
def graph(
    file: Path = typer.Argument(..., metavar="FILE", help="The intent file."),
    fmt: GraphFormat = typer.Option(GraphFormat.mermaid, "--format", help="mermaid and dot are text; svg and png need Graphviz."),
    output: Path | None = typer.Option(None, "-o", "--output", metavar="FILE",
                                       help="Write to this file instead of standard output."),
    vrf: str | None = typer.Option(None, "--vrf", metavar="VRF", help="Only this VRF."),
    node: str | None = typer.Option(None, "--node", metavar="NODE", help="Only this node (`<cluster>/<node>` in a fleet)."),
    cluster: str | None = typer.Option(None, "--cluster", metavar="NAME",
                                       help="A fleet: only this cluster, drawn as a topology."),
    target: PlanTarget = None,
    max_bytes: MaxBytes = None,
    max_depth: MaxDepth = None,
    max_nodes: MaxNodes = None,
) -> None:
    """Draw the topology: nodes by role, pods, VRF attachments, route-target import/export, BGP sessions.
    A fleet draws its clusters with their route reflector mesh, or one cluster with --cluster or --node."""
    from jcnrc.output import write as writer
    from jcnrc.render import diagram

    result = _planned(file, _limits(max_bytes, max_depth, max_nodes), target)
    plan = result.plan
    if result.fleet is not None:
        if node is not None:
            plan, node = _node_of(result, node)
        elif cluster is not None:
            _require_name(cluster, [c.name for c in result.fleet.clusters], "cluster")
            plan = result.fleet.cluster(cluster).plan
    elif cluster is not None:
        _err("jcnrc: error: --cluster needs a fleet intent (`kind: Fleet`)")
        raise typer.Exit(EXIT_USAGE)
    elif node is not None and plan is not None:
        _require_name(node, [n.name for n in plan.nodes], "node")
    if vrf is not None and result.fleet is not None and plan is None:
        _err("jcnrc: error: --vrf draws one cluster of a fleet: add --cluster NAME")
        raise typer.Exit(EXIT_USAGE)
    if vrf is not None and plan is not None:
        _require_name(vrf, [v.name for v in plan.vrfs], "VRF")
    try:
        if plan is None:
            from jcnrc.render.fleet import render_drawing

            assert result.fleet is not None  # result.planned
            drawing = render_drawing(result.fleet, fmt.value)
        else:
            drawing = diagram.render(plan, fmt.value, vrf=vrf, node=node)
    except diagram.GraphvizError as exc:
        _err(f"jcnrc: error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    if output is None:
        if isinstance(drawing, bytes):
            sys.stdout.buffer.write(drawing)
        else:
            typer.echo(drawing, nl=False)
        return
    try:
        writer.replace_file(output, drawing if isinstance(drawing, bytes) else drawing.encode("utf-8"))
    except writer.WriteError as exc:
        _err(f"jcnrc: error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    _err(f"jcnrc: wrote {output}")


@app.command()
def init(
    folder: Path = typer.Argument(Path("."), metavar="[DIR]", help="Where to write topology.yaml."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing topology.yaml."),
) -> None:
    """Write a commented starter intent with the editor schema modeline."""
    from jcnrc.output import write as writer
    from jcnrc.render.templates import Templates

    target = folder / "topology.yaml"
    if target.exists() and not force:
        _err(f"jcnrc: error: {target} exists; use --force to overwrite")
        raise typer.Exit(EXIT_USAGE)
    from jcnrc.intent.schema import schema_text

    folder.mkdir(parents=True, exist_ok=True)
    # The schema goes next to the intent, so the editor modeline resolves offline.
    # Never through a link planted under either name: replace_file replaces the link itself.
    starter = Templates(None).render("init/topology.yaml.j2", schema_url="topology.schema.json")
    try:
        writer.replace_file(folder / "topology.schema.json", schema_text().encode("utf-8"))
        writer.replace_file(target, starter.encode("utf-8"))
    except writer.WriteError as exc:
        _err(f"jcnrc: error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    _err(f"jcnrc: wrote {target} and topology.schema.json; edit it, then run `jcnrc check {target}`")


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"jcnrc {__version__}")
        raise typer.Exit()


@app.command("version")
def version_command() -> None:
    """Print jcnrc's version."""
    typer.echo(f"jcnrc {__version__}")


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True, help="Print the version."),
) -> None:
    """jcnrc: a declarative topology compiler for Juniper's cloud-native router."""
    global _stdin_copy
    _stdin_copy = None  # standard input is read once per command (a test runs many in one process)


def main() -> None:
    # One command, then the process exits: the cyclic garbage collector only walks a growing heap
    # (a second of a 2,000-node build, super-linearly more for bigger ones) to free little.
    gc.disable()
    try:
        app()
    except KeyboardInterrupt:
        _err("jcnrc: interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except MemoryError:
        _err("jcnrc: error: out of memory; the topology is too large for this machine's memory")
        sys.exit(EXIT_USAGE)
    except OSError as exc:
        # The file system refused something (a name too long, a folder gone, no permission): a
        # problem with the paths given, reported as such, not a bug; nothing was written.
        shown = f"{exc.filename}: " if exc.filename else ""
        _err(f"jcnrc: error: {shown}{exc.strerror or exc}")
        sys.exit(EXIT_USAGE)
    except Exception as exc:  # noqa: BLE001 - the promise is "never a traceback"
        _err(f"jcnrc: internal error: {type(exc).__name__}: {exc}")
        _err("this is a bug in jcnrc; please report it with the intent file that caused it")
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
