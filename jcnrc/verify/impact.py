"""`jcnrc impact OLD NEW`: the blast radius of a change to an intent, before it is merged.

Both intents are compiled in memory (`pipeline.compile_intent`, nothing written) and compared on
what the compiler knows about the network, never on a live cluster:

- per node and VRF, the EVPN Type-5 routes that appear in or leave `<vrf>.evpn.0`, or keep their
  NLRI but change VNI, route targets or protocol next hop; and the BGP sessions added or removed
  (the expected state of `jcnrc.plan.expected`, as `jcnrc routes` prints it);
- reachability: every pair of VRFs (in a fleet, of VRFs in the clusters where they have pods) and
  every pair named by an `expect:` of either intent, decided on the route targets
  (`reach.verdicts`) and, in a fleet, on which clusters exchange routes;
- the `expect:` clauses of both intents, evaluated against both plans: one that held and fails now
  breaks the change, and so does one that held and names a pod or VRF NEW no longer has (vanished);
- the files the two renders differ in, and what the rendered manifests make Kubernetes do:
  workloads whose pod template changes roll, bare Pods whose spec changes must be re-created;
- a rollout order, route reflectors first, each stage followed by its `jcnrc verify` command.

Only the VRF pairs that can change are asked: those of a VRF whose targets changed (or that came or
went) with the VRFs it is linked to by a target, and in a fleet those across two clusters whose
exchange changed; never every pair. Route changes cost one comparison per VRF whose routes a table
imports, shared by every node that imports it, plus the routes that actually change on each node.

A new intent whose `expect:` fails does not compile (JCN703/JCN704). When every error of an intent
is inside `expect:`, it is planned again without its expectations, so the report still shows what
the change would do and which expectation it breaks; it then fails all the same.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jcnrc.diagnostics import Located, escaped, locate
from jcnrc.pipeline import LOCK_SIZE_FACTOR, Options, Result, compile_intent, lock_path_for
from jcnrc.plan import expected, reach
from jcnrc.render.escape import shell_word, to_json
from jcnrc.verify.manifests import manifest_objects

if TYPE_CHECKING:
    import networkx as nx

    from jcnrc.intent.load import Limits
    from jcnrc.plan.expected import Origin
    from jcnrc.plan.planner import Plan, PlannedNode

FORMAT = "jcnrc-impact/v1"  # the JSON's "format": bumped when a key changes meaning or goes away
GIT_PREFIX = "git:"
GIT_TIMEOUT = 60  # seconds for one git command: a local repository answers in far less; a hung one must not hang CI
NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
# jcnrc's pod-template checksums (`jcnrc.io/config-checksum`, `jcnrc.io/network-checksum`, ...):
# each changes with the configuration it stands for, which is what makes the controller roll.
CHECKSUM_ANNOTATION = re.compile(r"jcnrc\.io/[a-z0-9][a-z0-9.-]*-checksum")
HELM_VALUES = "helm/values.yaml"  # JCNR: the chart's values; `helm upgrade` rolls what the chart installs


class ImpactUsageError(Exception):
    """A usage problem (a bad REF, a file missing at REF, no git): the command exits 2."""


# --- reading OLD -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    path: Path  # the file to compile
    label: str  # how the report names it: the path given, or git:REF:<path in the repository>


@contextmanager
def old_source(old: str, new: Path, limits: Limits) -> Iterator[Source]:
    """OLD as a file to compile: the path itself, or for `git:REF` NEW's path at revision REF (and
    its lock file, when the revision has one) in a private temporary folder removed afterwards."""
    if not old.startswith(GIT_PREFIX):
        yield Source(Path(old), old)
        return
    ref = old[len(GIT_PREFIX):]
    folder = Path(tempfile.mkdtemp(prefix="jcnrc-impact-"))  # mode 0700: only this user reads what REF held
    try:
        yield _from_git(ref, new, folder, limits)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _valid_ref(ref: str) -> None:
    # A REF starting with `-` would be read by git as an option; `:` would make `REF:path` name
    # another path; git's own ref names never hold control characters or whitespace.
    if not ref:
        raise ImpactUsageError("git: needs a revision, e.g. git:HEAD or git:origin/main")
    if ref.startswith("-"):
        raise ImpactUsageError(f"git:{escaped(ref)}: a revision must not start with `-`")
    if ":" in ref or any(not c.isprintable() or c.isspace() for c in ref):
        raise ImpactUsageError(f"git:{escaped(ref)}: not a revision (no `:`, whitespace or control characters)")


# Options given to every git command. The repository is found once, from NEW's folder, and pinned
# with --git-dir afterwards; these make what git reads there a question, never a program to run:
# - safe.bareRepository=explicit: a folder holding plain files HEAD, objects/ and refs/ (a bare
#   repository a change can commit next to the intent) is never discovered as the repository
#   (git >= 2.38 honours it from the command line; _repository checks the same for older ones);
# - core.fsmonitor=false: no file-system monitor program, whatever a repository's config says
#   (the plumbing commands used here do not start one; this keeps it so);
# - --no-pager, --no-replace-objects: output as stored, no `refs/replace/` substituting a blob;
# - --literal-pathspecs: a path is a path, never a glob.
# Only plumbing commands run (rev-parse, ls-tree, cat-file): none of them reads textconv, diff,
# pager, alias, hook or credential settings of the repository's config.
GIT_OPTIONS = ("--no-pager", "--no-replace-objects", "--literal-pathspecs", "-c", "safe.bareRepository=explicit",
               "-c", "core.fsmonitor=false")
# Variables that would make git use another repository than the one holding NEW (a hook or a
# wrapper sets GIT_DIR, perhaps relative to another folder): the repository is discovered from
# NEW's folder alone.
GIT_REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                            "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_PREFIX")


def _git(arguments: list[str], cwd: Path, what: str, explain: str | None = None, git_dir: Path | None = None) -> bytes:
    """git's standard output; never through a shell, with a timeout; any failure is a usage error.
    With `git_dir`, that repository and no other (no discovery)."""
    program = shutil.which("git")
    if program is None:
        raise ImpactUsageError("git:REF needs git, which is not on PATH")
    # No pager, no prompt for credentials, no optional index lock: a read-only question.
    environ = {key: value for key, value in os.environ.items() if key not in GIT_REPOSITORY_VARIABLES}
    environ.update({"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "GIT_PAGER": "cat", "LC_ALL": "C"})
    pinned = [f"--git-dir={git_dir}"] if git_dir is not None else []
    try:
        done = subprocess.run([program, *GIT_OPTIONS, *pinned, *arguments], cwd=cwd, capture_output=True,
                              timeout=GIT_TIMEOUT, env=environ, check=False)
    except subprocess.TimeoutExpired:
        raise ImpactUsageError(f"{what}: git did not answer within {GIT_TIMEOUT} s") from None
    except OSError as exc:
        raise ImpactUsageError(f"{what}: cannot run git: {exc.strerror or exc}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        said = escaped(message[0]) if message else f"git exited with {done.returncode}"
        if explain is None and message and "bare repository" in message[0]:
            said += f"; {PLANTED_HINT}"
        raise ImpactUsageError(f"{what}: {explain or said}")
    return done.stdout


PLANTED_HINT = ("OLD is read only from the repository whose work tree holds NEW, with its git folder `.git` at the top "
                "of that work tree; a bare repository found on the way (plain files HEAD, objects/ and refs/, which a "
                "change can commit next to the intent) is never used")


@dataclass(frozen=True)
class _Repository:
    top: Path  # the work tree's top folder, resolved
    git_dir: Path  # its git folder, resolved: <top>/.git, or what the gitfile <top>/.git names

    def git(self, arguments: list[str], what: str, explain: str | None = None) -> bytes:
        """_git in this repository and no other."""
        return _git(arguments, self.top, what, explain, git_dir=self.git_dir)


def _repository(here: Path, ref: str) -> _Repository:
    """The repository whose work tree holds `here`, found by git from there and then checked: its
    git folder must be `<top>/.git` (a folder), or the one the gitfile `<top>/.git` names (a linked
    worktree, a submodule). A repository a change planted on the way up (HEAD, objects/, refs/ and
    a config with `core.worktree` committed as plain files) has its git folder elsewhere and is
    refused, also by a git too old to honour safe.bareRepository."""
    what = f"git:{escaped(ref)}"
    answer = _git(["rev-parse", "--show-toplevel", "--absolute-git-dir"], here, what).decode("utf-8", "replace")
    lines = answer.rstrip("\n").split("\n")
    if len(lines) != 2 or not all(lines):
        raise ImpactUsageError(f"{what}: git did not name a work tree and a git folder for {escaped(str(here))}")
    top, git_dir = Path(lines[0]).resolve(), Path(lines[1]).resolve()
    dot_git = top / ".git"
    named: Path | None = None
    if dot_git.is_dir():
        named = dot_git.resolve()
    elif dot_git.is_file():
        named = _gitfile_target(dot_git)
    if named != git_dir:
        raise ImpactUsageError(f"{what}: git found the repository {escaped(str(git_dir))} for {escaped(str(here))}, "
                               f"which is not the git folder {escaped(str(dot_git))} of the work tree {escaped(str(top))}; "
                               f"{PLANTED_HINT}")
    return _Repository(top, git_dir)


def _gitfile_target(gitfile: Path) -> Path | None:
    """The folder a gitfile (`gitdir: <path>`, relative to the file's folder) names, resolved."""
    try:
        with gitfile.open("rb") as handle:
            first = handle.read(4096).split(b"\n", 1)[0].strip()
    except OSError:
        return None
    if not first.startswith(b"gitdir: "):
        return None
    return (gitfile.parent / os.fsdecode(first[len(b"gitdir: "):])).resolve()


def _tree_entry(commit: str, path: str, repository: _Repository) -> tuple[str, str] | None:
    """(mode, blob id) of `path` at `commit`, or None when it is not there."""
    listed = repository.git(["ls-tree", "-z", "--full-tree", commit, "--", path], f"git ls-tree {path}")
    entry = listed.split(b"\0", 1)[0].decode("utf-8", "replace")
    if not entry:
        return None
    mode, _, rest = entry.partition(" ")
    kind, _, rest = rest.partition(" ")
    blob = rest.partition("\t")[0]
    return mode, (blob if kind == "blob" else "")


def _blob(commit: str, ref: str, path: str, repository: _Repository, limit: int) -> bytes | None:
    """The bytes of `path` at `commit` as `git show REF:<path>` prints them, None when absent.
    Only a regular file is read (a link at REF would make jcnrc read what it points to, as the
    working tree's intent is never read through a link), and none larger than `limit`."""
    entry = _tree_entry(commit, path, repository)
    if entry is None:
        return None
    mode, blob = entry
    if mode not in ("100644", "100755") or not blob:
        raise ImpactUsageError(f"git:{escaped(ref)}: {escaped(path)} is not a regular file at that revision")
    size = int(repository.git(["cat-file", "-s", blob], f"git cat-file {path}").strip() or b"0")
    if size > limit:
        raise ImpactUsageError(f"git:{escaped(ref)}: {escaped(path)} is {size} bytes at that revision; the limit is {limit} "
                               "(--max-bytes)")
    # `cat-file blob` prints the blob as stored: plumbing, with no text conversion, filter or pager.
    return repository.git(["cat-file", "blob", blob], f"git cat-file {ref}:{path}")


def _from_git(ref: str, new: Path, folder: Path, limits: Limits) -> Source:
    _valid_ref(ref)
    if not new.is_file():
        raise ImpactUsageError(f"{escaped(str(new))}: no such file")
    here = new.parent.resolve()
    repository = _repository(here, ref)
    try:
        relative = (here / new.name).relative_to(repository.top).as_posix()
    except ValueError:
        raise ImpactUsageError(f"{escaped(str(new))} is not inside the git repository {escaped(str(repository.top))}") from None
    commit = repository.git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
                            f"git:{escaped(ref)}", "no such revision in the repository").decode("ascii", "replace").strip()
    text = _blob(commit, ref, relative, repository, limits.max_bytes)
    if text is None:
        raise ImpactUsageError(f"git:{escaped(ref)}: {escaped(relative)} does not exist at that revision")
    intent = folder / new.name
    intent.write_bytes(text)
    lock_relative = Path(relative).with_name(lock_path_for(new).name).as_posix()
    lock = _blob(commit, ref, lock_relative, repository, LOCK_SIZE_FACTOR * limits.max_bytes)
    if lock is not None:
        lock_path_for(intent).write_bytes(lock)
    return Source(intent, f"git:{ref}:{relative}")


# --- compiling a side --------------------------------------------------------------------------------

Expectation = tuple[str, str, str]  # (reach | isolate, a, b) as written


@dataclass
class Side:
    """One intent, compiled; `files` is None when it could not be planned even without its `expect:`."""

    label: str
    result: Result  # as compiled with its expectations: its diagnostics are the intent's
    compiles: bool
    declared: list[Expectation]
    files: dict[str, str] | None = None
    clusters: list[tuple[str | None, Plan]] = field(default_factory=list)
    union: Plan | None = None
    exchanges: reach.Exchanges = None
    kind: str | None = None
    name: str | None = None
    _routes: nx.DiGraph | None = None

    @property
    def usable(self) -> bool:
        return self.files is not None and self.union is not None

    def routes(self) -> nx.DiGraph:
        assert self.union is not None  # asked only of a usable side
        if self._routes is None:
            self._routes = reach.route_graph(self.union)
        return self._routes

    def has(self, name: str) -> bool:
        return self.union is not None and (self.union.has_pod(name) or self.union.has_vrf(name))


def compile_side(source: Source, options: Options, display: str) -> Side:
    """Compile `source` under the name `display` (NEW's, for both sides: the files repeat the
    intent's name, and two names would make every such file differ)."""
    result = compile_intent(source.path, options, display)
    if result.ok and result.files is not None:
        side = Side(source.label, result, True, _declared(result))
        _fill(side, result)
        return side
    errors = [d for d in result.diagnostics if d.is_error]
    if not (errors and all(d.path[:1] == ("expect",) for d in errors)):
        return Side(source.label, result, False, [])
    planned, declared = _without_expectations(source.path, options, display)
    side = Side(source.label, result, False, declared)
    if planned.ok and planned.files is not None:
        _fill(side, planned)
    return side


def _fill(side: Side, result: Result) -> None:
    side.files = result.files
    if result.fleet is not None:
        side.kind, side.name = "Fleet", result.fleet.name
        side.clusters = [(c.name, c.plan) for c in result.fleet.clusters]
        side.union = result.fleet.union
        side.exchanges = result.fleet.exchanges
    elif result.plan is not None:
        side.kind, side.name = "Topology", result.plan.name
        side.clusters = [(None, result.plan)]
        side.union = result.plan


def _declared(result: Result) -> list[Expectation]:
    if result.fleet is not None:
        written: Iterable[Any] = result.fleet.fleet.expect
    else:
        assert result.plan is not None  # compiled
        written = result.plan.topology.expect
    found = []
    for e in written:
        kind, pair = ("reach", e.reach) if e.reach is not None else ("isolate", e.isolate)
        found.append((kind, str(pair[0]), str(pair[1])))
    return found


def _without_expectations(path: Path, options: Options, display: str) -> tuple[Result, list[Expectation]]:
    """The intent compiled as if it had no `expect:` (`Options.expectations`), and the expectations
    it writes, read from the file: the compiled intent no longer holds them."""
    from jcnrc.intent.load import load_file

    loaded = load_file(path, display, options.limits, fast=True)
    declared = _raw_expectations(loaded.data.get("expect")) if isinstance(loaded.data, dict) else []
    return compile_intent(path, replace(options, expectations=False), display), declared


def _raw_expectations(items: Any) -> list[Expectation]:
    """The well-formed entries of an `expect:` list as the file writes them (the others have their diagnostics)."""
    found: list[Expectation] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        (kind, pair), = item.items()
        if kind in ("reach", "isolate") and isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair):
            found.append((kind, pair[0], pair[1]))
    return found


# --- routes and sessions -----------------------------------------------------------------------------

def _qualified(cluster: str | None, name: str) -> str:
    # A cluster's own nodes and pods have plain names (DNS names hold no `/`); those it learns of
    # in a fleet are already `<cluster>/<name>`.
    return f"{cluster}/{name}" if cluster is not None and "/" not in name else name


@dataclass(frozen=True)
class _Route:
    text: str
    order: tuple
    prefix: str
    family: str
    vni: int
    targets: tuple[str, ...]
    next_hop: str
    node: str
    pod: str

    @property
    def attributes(self) -> tuple:
        """What a route carries besides its NLRI: a change re-advertises it under the same NLRI."""
        return (self.vni, self.targets, self.next_hop)

    def to_data(self) -> dict[str, Any]:
        return {"route": self.text, "prefix": self.prefix, "family": self.family, "vni": self.vni,
                "routeTargets": list(self.targets), "protocolNextHop": self.next_hop, "originNode": self.node,
                "pod": self.pod}


_Contribution = tuple[str, str]  # ("all" | "local", source VRF)


class _ClusterView:
    """The expected state of one cluster's nodes, computed per VRF once (expected.origins_by_vrf)."""

    def __init__(self, cluster: str | None, plan: Plan) -> None:
        self.cluster, self.plan = cluster, plan
        self.origins = expected.origins_by_vrf(plan)
        self.membership = expected.vrfs_on_node(plan)
        self._everywhere: dict[str, dict[str, _Route]] = {}

    def route(self, origin: Origin) -> _Route:
        source = self.plan.vrf(origin.vrf)
        return _Route(origin.text, origin.order, origin.prefix, origin.family, source.vni, source.exports,
                      origin.node_address, _qualified(self.cluster, origin.node), _qualified(self.cluster, origin.pod))

    def contributions(self, node: str, vrf: str) -> dict[str, str]:
        """Source VRF -> whether `<vrf>.evpn.0` on `node` holds all its routes or only those
        originated on the node (expected._vrf_table's rule)."""
        if vrf not in self.membership.get(node, ()):
            return {}
        imported = self.origins.sources(vrf)
        return {source: "all" if source in imported else "local" for source in self.origins.table_sources(vrf)}

    def routes(self, how: str, source: str, node: str) -> dict[str, _Route]:
        if how == "all":
            if source not in self._everywhere:
                self._everywhere[source] = {o.text: self.route(o) for o in self.origins.get(source, ())}
            return self._everywhere[source]
        return {o.text: self.route(o) for o in self.origins.on_node(source, node)}


_Diff = tuple[list[_Route], list[_Route], list[tuple[_Route, _Route]]]  # withdrawn, advertised, updated


def _diff(old: dict[str, _Route], new: dict[str, _Route]) -> _Diff:
    withdrawn = [r for text, r in old.items() if text not in new]
    advertised = [r for text, r in new.items() if text not in old]
    updated = [(r, new[text]) for text, r in old.items() if text in new and new[text].attributes != r.attributes]
    return withdrawn, advertised, updated


@dataclass(frozen=True)
class _NodeAt:
    view: _ClusterView
    local: str  # the node's name inside its cluster
    node: PlannedNode


def _nodes(side: Side) -> dict[str, _NodeAt]:
    views = [_ClusterView(cluster, plan) for cluster, plan in side.clusters] if side.usable else []
    found = {}
    for view in views:
        for n in view.plan.nodes:
            found[_qualified(view.cluster, n.name)] = _NodeAt(view, n.name, n)
    return found


def _session_data(cluster: str | None, s: expected.ExpectedSession) -> tuple:
    return (s.peer, _qualified(cluster, s.peer_node), s.asn, s.peer_role)


def _sessions(at: _NodeAt | None) -> set[tuple]:
    if at is None:
        return set()
    return {_session_data(at.view.cluster, s) for s in expected.sessions(at.view.plan, at.local)}


def node_changes(old: Side, new: Side) -> list[dict[str, Any]]:
    old_nodes, new_nodes = _nodes(old), _nodes(new)
    shared: dict[tuple[int, int, str], _Diff] = {}  # (old view, new view, source): one diff for every node importing it
    order = list(new_nodes) + [n for n in old_nodes if n not in new_nodes]
    found = []
    for name in order:
        before, after = old_nodes.get(name), new_nodes.get(name)
        vrfs = _table_changes(before, after, shared)
        old_sessions, new_sessions = _sessions(before), _sessions(after)
        identity = [None if at is None else {"role": at.node.role, "address": at.node.address} for at in (before, after)]
        if before is not None and after is not None and not vrfs and old_sessions == new_sessions \
                and identity[0] == identity[1]:
            continue
        change = "added" if before is None else "removed" if after is None else "changed"
        present = after or before
        assert present is not None  # the name comes from one side or the other
        cluster = present.view.cluster
        found.append({
            "node": name, "cluster": cluster, "change": change, "before": identity[0], "after": identity[1],
            "sessions": {"added": [_session_record(s) for s in sorted(new_sessions - old_sessions)],
                         "removed": [_session_record(s) for s in sorted(old_sessions - new_sessions)]},
            "vrfs": vrfs,
        })
    return found


def _session_record(s: tuple) -> dict[str, Any]:
    peer, node, asn, role = s
    return {"peer": peer, "peerNode": node, "asn": asn, "peerRole": role}


def _table_changes(before: _NodeAt | None, after: _NodeAt | None, shared: dict[tuple[int, int, str], _Diff]) -> list[dict]:
    old_vrfs = before.view.membership.get(before.local, set()) if before is not None else set()
    new_vrfs = after.view.membership.get(after.local, set()) if after is not None else set()
    tables = []
    for vrf in sorted(old_vrfs | new_vrfs):
        old_parts = before.view.contributions(before.local, vrf) if before is not None else {}
        new_parts = after.view.contributions(after.local, vrf) if after is not None else {}
        withdrawn: list[_Route] = []
        advertised: list[_Route] = []
        updated: list[tuple[_Route, _Route]] = []
        for source in sorted(set(old_parts) | set(new_parts)):
            how_old, how_new = old_parts.get(source), new_parts.get(source)
            if how_old == how_new == "all":
                assert before is not None and after is not None
                key = (id(before.view), id(after.view), source)
                if key not in shared:
                    shared[key] = _diff(before.view.routes("all", source, ""), after.view.routes("all", source, ""))
                part = shared[key]
            else:
                part = _diff(before.view.routes(how_old, source, before.local) if before is not None and how_old else {},
                             after.view.routes(how_new, source, after.local) if after is not None and how_new else {})
            withdrawn += part[0]
            advertised += part[1]
            updated += part[2]
        change = "added" if vrf not in old_vrfs else "removed" if vrf not in new_vrfs else "changed"
        if change == "changed" and not (withdrawn or advertised or updated):
            continue
        withdrawn.sort(key=lambda r: r.order)
        advertised.sort(key=lambda r: r.order)
        updated.sort(key=lambda pair: pair[1].order)
        tables.append({
            "vrf": vrf, "table": f"{vrf}.evpn.0", "change": change,
            "withdrawn": [r.to_data() for r in withdrawn],
            "advertised": [r.to_data() for r in advertised],
            # The route as it will be, and what it carried before.
            "updated": [{**a.to_data(), "before": {"vni": b.vni, "routeTargets": list(b.targets), "protocolNextHop": b.next_hop}}
                        for b, a in updated],
        })
    return tables


# --- reachability and expectations -------------------------------------------------------------------

_State = tuple[bool, bool, bool]  # (reachable both ways, a can send to b, b can send to a)


def _state_data(state: _State | None) -> dict[str, Any]:
    if state is None:
        return {"state": "absent", "aToB": False, "bToA": False}
    both, forward, backward = state
    word = "reachable" if both else "one-way" if forward or backward else "isolated"
    return {"state": word, "aToB": forward, "bToA": backward}


def _change(before: _State | None, after: _State | None) -> str | None:
    old, new = before or (False, False, False), after or (False, False, False)
    lost = any(o and not n for o, n in zip(old, new, strict=True))
    gained = any(n and not o for o, n in zip(old, new, strict=True))
    return "changed" if lost and gained else "lost" if lost else "gained" if gained else None


_End = tuple[str | None, str]  # (cluster, VRF): a VRF, per cluster in a fleet


class _Reach:
    """Reachability questions on one side, each VRF pair decided once on the route targets."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self._vrf_pairs: dict[tuple[str, str], tuple[bool, bool]] = {}

    def endpoints(self) -> set[_End]:
        """(cluster, VRF): every VRF of a Topology; in a fleet, each VRF in every cluster where it has pods
        (elsewhere no node carries its table)."""
        if not self.side.usable:
            return set()
        if self.side.kind != "Fleet":
            assert self.side.union is not None
            return {(None, v.name) for v in self.side.union.vrfs}
        return {(cluster, a.vrf) for cluster, plan in self.side.clusters for a in plan.attachments}

    def targets(self, vrf: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(imports, exports) of a VRF: all that a VRF pair's state depends on, with the clusters' exchanges."""
        assert self.side.union is not None
        planned = self.side.union.vrf(vrf)
        return planned.imports, planned.exports

    def exchange(self, sender: str | None, receiver: str | None) -> bool:
        """Whether routes of cluster `sender` reach cluster `receiver` (always, in a Topology)."""
        exchanges = self.side.exchanges
        return exchanges is None or sender is None or receiver is None or exchanges(sender, receiver)

    def neighbours(self, ends: set[_End]) -> Callable[[_End], set[_End]]:
        """For an endpoint, the endpoints it may reach or be reached by: those exporting a target it
        imports or importing one it exports (itself when it imports its own export). With any other,
        both directions are false on this side whatever the clusters exchange."""
        exporters: dict[str, list[_End]] = {}
        importers: dict[str, list[_End]] = {}
        for end in ends:
            imports, exports = self.targets(end[1])
            for target in imports:
                importers.setdefault(target, []).append(end)
            for target in exports:
                exporters.setdefault(target, []).append(end)

        def linked(end: _End) -> set[_End]:
            imports, exports = self.targets(end[1])
            found: set[_End] = set()
            for target in imports:
                found.update(exporters.get(target, ()))
            for target in exports:
                found.update(importers.get(target, ()))
            return found

        return linked

    def _vrfs(self, a: str, b: str) -> tuple[bool, bool]:
        # VRF a's table holds VRF b's routes when b exports a target a imports (reach.Direction.ok
        # for two VRFs: no pod, so nothing is local and everything advertises). Decided on the
        # targets alone, which is what lets reachability() skip the pairs whose targets stayed.
        if (a, b) not in self._vrf_pairs:
            assert self.side.union is not None
            union = self.side.union
            self._vrf_pairs[(a, b)] = (bool(union.shared_targets(b, a)), bool(union.shared_targets(a, b)))
        return self._vrf_pairs[(a, b)]

    def vrf_state(self, a: _End, b: _End) -> _State:
        forward, backward = self._vrfs(a[1], b[1])
        # a's table holds b's routes only when b's cluster passes them to a's.
        forward = forward and self.exchange(b[0], a[0])
        backward = backward and self.exchange(a[0], b[0])
        return (forward and backward, forward, backward)

    def named_state(self, a: str, b: str) -> _State | None:
        if not (self.side.usable and self.side.has(a) and self.side.has(b)):
            return None
        assert self.side.union is not None
        found = reach.verdicts(self.side.union, a, b, self.side.routes(), self.side.exchanges)
        return (any(v.reachable for v in found), any(v.forward.ok for v in found), any(v.backward.ok for v in found))


def _endpoint_data(endpoint: _End) -> dict[str, Any]:
    return {"cluster": endpoint[0], "vrf": endpoint[1]}


def _changed_pairs(before: _Reach, after: _Reach, old_ends: set[_End], new_ends: set[_End]) -> set[frozenset[_End]]:
    """The VRF pairs whose state may differ between the sides; every other pair keeps its state.

    A pair's state depends only on both VRFs' import and export targets, on whether both are there,
    and in a fleet on which of their two clusters exchange routes. So a pair can change only when
    one of its VRFs appears, goes or changes targets, or when the exchanges between its clusters
    change; and even then only when the two are linked by a target on one side or the other (else
    they are isolated, or absent, on both, which is no change). The work is proportional to the
    VRFs that change and what they are linked to, never to the square of all VRFs."""
    changed = old_ends ^ new_ends
    changed |= {end for end in old_ends & new_ends if before.targets(end[1]) != after.targets(end[1])}
    clusters = sorted({end[0] for end in old_ends & new_ends if end[0] is not None})
    regrouped = {frozenset((x, y)) for x in clusters for y in clusters
                 if before.exchange(x, y) != after.exchange(x, y)}
    pairs: set[frozenset[_End]] = set()
    for side, ends in ((before, old_ends), (after, new_ends)):
        if not ends or not (changed or regrouped):
            continue
        linked = side.neighbours(ends)
        for end in changed & ends:
            pairs.update(frozenset((end, other)) for other in linked(end))
        for group in regrouped:
            for end in ends:
                if end[0] in group:
                    pairs.update(frozenset((end, other)) for other in linked(end)
                                 if group == frozenset((end[0], other[0])))
    return pairs


def reachability(old: Side, new: Side) -> dict[str, list[dict[str, Any]]]:
    before, after = _Reach(old), _Reach(new)
    old_ends, new_ends = before.endpoints(), after.endpoints()
    ends = sorted(old_ends | new_ends, key=lambda e: (e[0] or "", e[1]))
    position = {end: i for i, end in enumerate(ends)}
    # Each pair once, in the order of `ends` (a before or equal to b), as a full scan would list them.
    candidates = sorted((min(position[e] for e in pair), max(position[e] for e in pair))
                        for pair in _changed_pairs(before, after, old_ends, new_ends))
    vrf_pairs = []
    for i, j in candidates:
        a, b = ends[i], ends[j]
        was = before.vrf_state(a, b) if a in old_ends and b in old_ends else None
        now = after.vrf_state(a, b) if a in new_ends and b in new_ends else None
        change = _change(was, now)
        if change is not None:
            vrf_pairs.append({"a": _endpoint_data(a), "b": _endpoint_data(b), "before": _state_data(was),
                              "after": _state_data(now), "change": change})
    named = sorted({(min(a, b), max(a, b)) for _, a, b in old.declared + new.declared})
    named_pairs = []
    for first, second in named:
        was, now = before.named_state(first, second), after.named_state(first, second)
        change = _change(was, now)
        if change is not None:
            named_pairs.append({"a": first, "b": second, "before": _state_data(was), "after": _state_data(now), "change": change})
    return {"vrfPairs": vrf_pairs, "namedPairs": named_pairs}


def _expectation_status(side: Side, kind: str, a: str, b: str) -> str | None:
    """holds, fails, or absent (it names a pod or VRF the intent does not have); None: not planned."""
    if not side.usable:
        return None
    if not (side.has(a) and side.has(b)):
        return "absent"
    assert side.union is not None
    found = reach.verdicts(side.union, a, b, side.routes(), side.exchanges)
    if kind == "reach":
        return "holds" if any(v.reachable for v in found) else "fails"
    return "holds" if all(v.isolated for v in found) else "fails"


def expectations(old: Side, new: Side) -> list[dict[str, Any]]:
    """Every `expect:` of either intent, evaluated against both plans: an expectation the change
    deletes still counts, since deleting it is how a change would hide what it breaks.

    One that held on OLD and names a pod or VRF NEW does not have `vanished`: NEW cannot be
    checked against it, and renaming an endpoint (deleting the clause with it) would otherwise
    hide whatever the change does to that traffic. It breaks the change like a failing one; a
    reviewer who means the rename or the removal merges anyway."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for where, side in (("new", new), ("old", old)):
        for kind, a, b in side.declared:
            key = (kind, min(a, b), max(a, b))
            entry = seen.setdefault(key, {"kind": kind, "a": a, "b": b, "declared": []})
            if where not in entry["declared"]:
                entry["declared"].append(where)
    found = []
    for entry in seen.values():
        was = _expectation_status(old, entry["kind"], entry["a"], entry["b"])
        now = _expectation_status(new, entry["kind"], entry["a"], entry["b"])
        if now == "fails" and was != "fails":
            change = "broken"
        elif was == "holds" and now == "absent":
            change = "vanished"
        else:
            change = "fixed" if was == "fails" and now == "holds" else "unchanged"
        # The names NEW lacks (renamed or removed): what a reviewer of a vanished clause looks for.
        missing = sorted({n for n in (entry["a"], entry["b"]) if not new.has(n)}) if now == "absent" else []
        found.append({**entry, "declared": sorted(entry["declared"], reverse=True), "before": was, "after": now,
                      "change": change, "missing": missing})
    return found


# --- files and workloads -----------------------------------------------------------------------------

def artifacts(old: dict[str, str], new: dict[str, str]) -> dict[str, Any]:
    changed = []
    for path in sorted(set(old) & set(new)):
        if old[path] != new[path]:
            # Lines counted as multisets: linear in the file, and exact for edits that move no line.
            was, now = Counter(old[path].splitlines()), Counter(new[path].splitlines())
            changed.append({"path": path, "linesAdded": sum((now - was).values()), "linesRemoved": sum((was - now).values())})
    return {"added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)), "changed": changed}


def _roots(side: Side) -> dict[str, tuple[str | None, Plan]]:
    """The kustomize roots of a build (the folder itself, or each cluster's folder of a fleet),
    each with its cluster and plan."""
    return {(f"{c}/" if c is not None else ""): (c, p) for c, p in side.clusters}


def _under(files: dict[str, str], root: str) -> dict[str, str]:
    return {path[len(root):]: text for path, text in files.items() if path.startswith(root)}


_Identity = tuple[str, str, str]


def _objects(files: dict[str, str]) -> dict[_Identity, tuple[dict, str]]:
    objects, sources = manifest_objects(files)
    found = {}
    for obj, source in zip(objects, sources, strict=True):
        if isinstance(obj, dict):
            meta = _mapping(obj.get("metadata"))
            found[(str(obj.get("kind", "")), str(meta.get("namespace") or "default"), str(meta.get("name", "")))] = (obj, source)
    return found


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _network_names(annotation: Any) -> set[str]:
    """The NADs a networks annotation names: the JSON list jcnrc writes, or Multus's `a,b` short form."""
    if not isinstance(annotation, str):
        return set()
    try:
        parsed = json.loads(annotation)
    except ValueError:
        return {part.strip().split("@")[0].split("/")[-1] for part in annotation.split(",") if part.strip()}
    if not isinstance(parsed, list):
        return set()
    return {str(item["name"]) for item in parsed if isinstance(item, dict) and "name" in item}


def _reason(part: str, name: str | None = None, before: str | None = None, after: str | None = None) -> dict[str, Any]:
    return {"part": part, "name": name, "before": before, "after": after}


def _hostnames(spec: dict) -> list[str]:
    names: set[str] = set()
    for term in _node_terms(spec):
        for key, values in term:
            if key == "kubernetes.io/hostname":
                names |= set(values)
    return sorted(names)


def _node_terms(spec: dict) -> list[list[tuple[str, list[str]]]]:
    """The `In` requirements of a pod spec's required node affinity (terms are alternatives) and nodeSelector."""
    affinity = _mapping(_mapping(_mapping(spec.get("affinity")).get("nodeAffinity"))
                        .get("requiredDuringSchedulingIgnoredDuringExecution"))
    terms = []
    for term in affinity.get("nodeSelectorTerms") or []:
        found = []
        for e in _mapping(term).get("matchExpressions") or []:
            e = _mapping(e)
            if e.get("operator") == "In" and isinstance(e.get("values"), list):
                found.append((str(e.get("key")), [str(v) for v in e["values"]]))
        terms.append(found)
    selector = [(str(k), [str(v)]) for k, v in _mapping(spec.get("nodeSelector")).items()]
    if selector:
        terms = [t + selector for t in terms] if terms else [selector]
    return terms


def _scheduled_on(spec: dict, cluster: str | None, plan: Plan) -> list[str]:
    """The intent's nodes a pod spec may run on: the hostname and `jcnrc.io/role` requirements
    jcnrc writes; other labels are the cluster's and are not modelled (all nodes pass them)."""
    terms = _node_terms(spec) or [[]]
    chosen = set()
    for term in terms:
        for n in plan.nodes:
            if all(n.name in values if key == "kubernetes.io/hostname" else n.role in values if key == "jcnrc.io/role"
                   else True for key, values in term):
                chosen.add(n.name)
    return [_qualified(cluster, n.name) for n in plan.nodes if n.name in chosen]


def _template_reasons(old_meta: dict, old_spec: dict, new_meta: dict, new_spec: dict, bare_pod: bool) -> list[dict[str, Any]]:
    """Which part of a pod (template) changed. On a bare Pod only the spec and the networks
    annotation count: other metadata is updated in place."""
    reasons = []
    old_notes, new_notes = _mapping(old_meta.get("annotations")), _mapping(new_meta.get("annotations"))
    for key in sorted(set(old_notes) | set(new_notes)):
        if old_notes.get(key) == new_notes.get(key):
            continue
        if key == NETWORKS_ANNOTATION:
            reasons.append(_reason("networks", key))
        elif CHECKSUM_ANNOTATION.fullmatch(key):
            reasons.append(_reason("checksum", key))
        elif not bare_pod:
            reasons.append(_reason("annotation", key))
    if not bare_pod and old_meta.get("labels") != new_meta.get("labels"):
        reasons.append(_reason("labels"))
    for group in ("initContainers", "containers"):
        old_c = {str(c.get("name")): c for c in old_spec.get(group) or [] if isinstance(c, dict)}
        new_c = {str(c.get("name")): c for c in new_spec.get(group) or [] if isinstance(c, dict)}
        for name in sorted(set(old_c) | set(new_c)):
            o, n = old_c.get(name), new_c.get(name)
            if o is None or n is None:
                reasons.append(_reason("container", name, None if o is None else "present", None if n is None else "present"))
                continue
            if o.get("image") != n.get("image"):
                reasons.append(_reason("image", name, str(o.get("image")), str(n.get("image"))))
            if (o.get("command"), o.get("args")) != (n.get("command"), n.get("args")):
                reasons.append(_reason("command", name, _command(o), _command(n)))
            other = sorted(k for k in set(o) | set(n) if k not in ("name", "image", "command", "args") and o.get(k) != n.get(k))
            if other:
                reasons.append(_reason("container", name, None, ", ".join(other)))
    old_hosts, new_hosts = _hostnames(old_spec), _hostnames(new_spec)
    for key in sorted(set(old_spec) | set(new_spec)):
        if key in ("containers", "initContainers") or old_spec.get(key) == new_spec.get(key):
            continue
        if key == "affinity" and old_hosts != new_hosts:
            reasons.append(_reason("node", None, ", ".join(old_hosts), ", ".join(new_hosts)))
        else:
            reasons.append(_reason("spec", f"spec.{key}"))
    return reasons


def _command(container: dict) -> str:
    return to_json([*(container.get("command") or []), *(container.get("args") or [])])


def _changed_nads(old: dict[_Identity, tuple[dict, str]], new: dict[_Identity, tuple[dict, str]]) -> set[tuple[str, str]]:
    """(namespace, name) of every NetworkAttachmentDefinition whose spec changed: Multus reads it
    only when a pod attaches, so running pods keep the old one until they are re-created."""
    return {identity[1:] for identity, (obj, _) in new.items()
            if identity[0] == "NetworkAttachmentDefinition" and identity in old
            and old[identity][0].get("spec") != obj.get("spec")}


def _pod_parts(obj: dict) -> tuple[dict, dict, bool] | None:
    """(metadata, spec, is a bare Pod) of a pod or of a workload's pod template; None for other objects."""
    if obj.get("kind") == "Pod":
        return _mapping(obj.get("metadata")), _mapping(obj.get("spec")), True
    template = _mapping(obj.get("spec")).get("template")
    if isinstance(template, dict):
        return _mapping(template.get("metadata")), _mapping(template.get("spec")), False
    return None


def workloads(old: Side, new: Side) -> list[dict[str, Any]]:
    assert old.files is not None and new.files is not None
    old_plans, new_plans = _roots(old), _roots(new)
    found = []
    for root in [*new_plans, *(r for r in old_plans if r not in new_plans)]:
        old_files, new_files = _under(old.files, root), _under(new.files, root)
        # Only the files that differ are parsed (a big build has thousands of manifests), unless an
        # attached NAD changed: then the unchanged pods on it are affected too.
        differing = {path for path in set(old_files) | set(new_files) if old_files.get(path) != new_files.get(path)}
        before = _objects({path: old_files[path] for path in differing if path in old_files})
        after = _objects({path: new_files[path] for path in differing if path in new_files})
        nads = _changed_nads(before, after)
        if nads:
            unchanged = _objects({path: text for path, text in new_files.items() if path not in differing})
            before, after = {**unchanged, **before}, {**unchanged, **after}
        for identity in sorted(set(before) | set(after)):
            entry = _workload(identity, before.get(identity), after.get(identity), nads,
                              new_plans.get(root) or old_plans[root], old_plans.get(root) or new_plans[root])
            if entry is not None:
                entry["file"] = root + entry["file"]
                found.append(entry)
        if old_files.get(HELM_VALUES, "") != new_files.get(HELM_VALUES, ""):
            cluster, plan = new_plans.get(root) or old_plans[root]
            found.append({"cluster": cluster, "kind": "HelmValues", "namespace": None, "name": HELM_VALUES,
                          "file": root + HELM_VALUES, "action": "upgrade", "automatic": False,
                          "reasons": [_reason("values", HELM_VALUES)],
                          "nodes": [_qualified(cluster, n.name) for n in plan.nodes]})
    return found


def _workload(identity: _Identity, before: tuple[dict, str] | None, after: tuple[dict, str] | None,
              nads: set[tuple[str, str]], new_plan: tuple[str | None, Plan],
              old_plan: tuple[str | None, Plan]) -> dict[str, Any] | None:
    kind, namespace, name = identity
    current = after or before
    assert current is not None
    parts = _pod_parts(current[0])
    if parts is None:
        return None
    cluster, plan = new_plan if after is not None else old_plan
    entry: dict[str, Any] = {"cluster": cluster, "kind": kind, "namespace": namespace, "name": name, "file": current[1],
                             "nodes": _scheduled_on(parts[1], cluster, plan)}
    if before is None or after is None:
        # `kubectl apply` creates; it deletes nothing (that is --prune, or Argo CD's and Flux's pruning).
        return {**entry, "action": "create" if before is None else "delete", "automatic": before is None, "reasons": []}
    old_parts = _pod_parts(before[0])
    if old_parts is None:
        return None
    meta, spec, bare = parts
    reasons = _template_reasons(old_parts[0], old_parts[1], meta, spec, bare)
    rolls = bool(reasons) and not bare
    for nad in sorted(_network_names(_mapping(meta.get("annotations")).get(NETWORKS_ANNOTATION))):
        if (namespace, nad) in nads:
            reasons.append(_reason("network-attachment", nad))
    if not reasons:
        return None
    if bare:
        # A pod's spec cannot be changed in place: `kubectl apply` is refused until it is deleted.
        return {**entry, "action": "recreate", "automatic": False, "reasons": reasons}
    strategy = _mapping(_mapping(current[0].get("spec")).get("updateStrategy")).get("type")
    return {**entry, "action": "restart", "automatic": rolls and strategy != "OnDelete", "reasons": reasons}


# --- rollout -----------------------------------------------------------------------------------------

def rollout(new: Side, nodes: list[dict[str, Any]], loads: list[dict[str, Any]], new_display: str, batch: int) -> dict[str, Any]:
    """Route reflectors one at a time (with two of them one always keeps the routes), then the
    workers `batch` at a time, cluster by cluster; every stage names the verification to run
    before the next one starts."""
    touched = {n["node"] for n in nodes if n["change"] != "removed"}
    for w in loads:
        if w["action"] != "delete":
            touched.update(w["nodes"])
    masters: list[tuple[str | None, list[str]]] = []
    workers: list[tuple[str | None, list[str]]] = []
    for cluster, plan in new.clusters:
        chosen = [n for n in plan.nodes if _qualified(cluster, n.name) in touched]
        masters += [(cluster, [_qualified(cluster, n.name)]) for n in chosen if n.is_master]
        names = [_qualified(cluster, n.name) for n in chosen if not n.is_master]
        workers += [(cluster, names[i:i + batch]) for i in range(0, len(names), batch)]
    stages: list[dict[str, Any]] = []
    for role, groups in (("route-reflector", masters), ("worker", workers)):
        for cluster, group in groups:
            stages.append({"stage": len(stages) + 1, "cluster": cluster, "role": role, "nodes": group,
                           "verify": [f"jcnrc verify {shell_word(new_display)} --node {shell_word(n)} CAPTURE..."
                                      for n in group]})
    return {"batchSize": batch, "stages": stages}


# --- the report --------------------------------------------------------------------------------------

def _diagnostics(side: Side, limit: int) -> tuple[list[dict[str, Any]], int]:
    errors = [d for d in side.result.diagnostics if d.is_error]
    located: list[Located] = locate(errors, side.result.source)
    shown = [{"file": side.label, "line": item.line, "column": item.column, "severity": item.diagnostic.severity,
              "code": item.diagnostic.code, "message": item.diagnostic.message} for item in located[:limit]]
    return shown, max(len(located) - limit, 0)


def _about(side: Side, limit: int) -> dict[str, Any]:
    shown, omitted = _diagnostics(side, limit)
    return {"source": side.label, "kind": side.kind, "name": side.name, "compiles": side.compiles,
            "planned": side.usable, "diagnostics": shown, "diagnosticsOmitted": omitted}


def impact(old: Side, new: Side, new_display: str, batch: int = 2, max_diagnostics: int = 100) -> dict[str, Any]:
    """The report as data: what `--format json` prints, and what the text and Markdown templates show."""
    compared = old.usable and new.usable
    nodes = node_changes(old, new) if compared else []
    pairs: dict[str, list[dict[str, Any]]] = reachability(old, new) if compared else {"vrfPairs": [], "namedPairs": []}
    expects = expectations(old, new) if compared else []
    nothing: dict[str, Any] = {"added": [], "removed": [], "changed": []}
    files = artifacts(old.files or {}, new.files or {}) if compared else nothing
    loads = workloads(old, new) if compared else []
    plan: dict[str, Any] = rollout(new, nodes, loads, new_display, batch) if compared else {"batchSize": batch, "stages": []}
    broken = [e for e in expects if e["change"] == "broken"]
    vanished = [e for e in expects if e["change"] == "vanished"]
    exit_code = 0 if compared and new.compiles and not broken and not vanished else 1
    tables = [t for n in nodes for t in n["vrfs"]]
    all_pairs = pairs["vrfPairs"] + pairs["namedPairs"]
    summary = {
        "nodesAdded": sum(n["change"] == "added" for n in nodes),
        "nodesRemoved": sum(n["change"] == "removed" for n in nodes),
        "nodesChanged": sum(n["change"] == "changed" for n in nodes),
        "routesAdvertised": sum(len(t["advertised"]) for t in tables),
        "routesWithdrawn": sum(len(t["withdrawn"]) for t in tables),
        "routesUpdated": sum(len(t["updated"]) for t in tables),
        "sessionsAdded": sum(len(n["sessions"]["added"]) for n in nodes),
        "sessionsRemoved": sum(len(n["sessions"]["removed"]) for n in nodes),
        "pairsGained": sum(p["change"] == "gained" for p in all_pairs),
        "pairsLost": sum(p["change"] == "lost" for p in all_pairs),
        "pairsChanged": sum(p["change"] == "changed" for p in all_pairs),
        "expectsBroken": len(broken),
        "expectsVanished": len(vanished),
        "expectsFixed": sum(e["change"] == "fixed" for e in expects),
        "expectsHolding": sum(e["after"] == "holds" for e in expects),
        "filesAdded": len(files["added"]),
        "filesRemoved": len(files["removed"]),
        "filesChanged": len(files["changed"]),
        "workloads": {action: sum(w["action"] == action for w in loads)
                      for action in ("create", "delete", "recreate", "restart", "upgrade")},
        "rolloutStages": len(plan["stages"]),
    }
    return {
        "format": FORMAT, "old": _about(old, max_diagnostics), "new": _about(new, max_diagnostics), "compared": compared,
        "breaking": exit_code != 0, "exitCode": exit_code, "summary": summary, "expects": expects, "nodes": nodes,
        "reachability": pairs, "artifacts": files, "workloads": loads, "rollout": plan,
    }


def analyse_change(old: Source, new: Path, new_display: str, options: Options, batch: int = 2,
                   max_diagnostics: int = 100) -> tuple[dict[str, Any], Side, Side]:
    """Compile both intents (under NEW's name) and compare them. An intent that cannot be read (a
    symbolic link, not a regular file, no permission) is a usage error naming that intent: the
    pipeline's error does not always carry a file name, and the two sides must not be confused."""
    sides = []
    for source in (old, Source(new, new_display)):
        try:
            sides.append(compile_side(source, options, new_display))
        except OSError as exc:
            raise ImpactUsageError(f"{escaped(source.label)}: {escaped(exc.strerror or str(exc))}") from None
    old_side, new_side = sides
    return impact(old_side, new_side, new_display, batch, max_diagnostics), old_side, new_side


# --- output ------------------------------------------------------------------------------------------

def markdown_code(value: Any, cell: bool = True) -> str:
    """`value` as a Markdown code span, shown verbatim: no emphasis, link, HTML or @mention inside
    one. A fence longer than any run of backquotes in the value; control characters and line
    breaks written as escapes; in a table cell `|` escaped, which GitHub reads inside code too."""
    text = escaped(str(value))
    if cell:
        text = text.replace("|", "\\|")
    if not text:
        return "` `"
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def to_text(report: dict[str, Any], fmt: str) -> str:
    """The report in `json`, `text` or `markdown`."""
    if fmt == "json":
        return to_json(report, indent=2) + "\n"
    from jcnrc.render.templates import Templates

    def term(value: Any) -> str:
        return escaped(str(value))

    def inline(value: Any) -> str:
        return markdown_code(value, cell=False)

    # The project's filters, plus the escapes of these outputs: a terminal's (jcnrc.diagnostics.escaped)
    # and Markdown's code spans, in a table cell (`md`) or in running text (`md_inline`).
    templates = Templates(None, extra_text_filters={"term": term, "md": markdown_code, "md_inline": inline})
    if fmt == "markdown":
        return templates.render("impact/report.md.j2", r=report, esc=markdown_code, md_inline_escape=inline)
    return templates.render("impact/report.txt.j2", r=report, esc=term)

