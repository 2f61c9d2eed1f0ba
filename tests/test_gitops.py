"""The output as a GitOps repository sees it: layout, labels, rollouts, provenance, --check and
--diff, the pre-commit hook, kustomize, and built-in validation."""

from __future__ import annotations

import copy
import hashlib
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml as pyyaml

from conftest import EXAMPLES, HANG_GUARD, JCNRC, NO_KUBECTL, ROOT
from jcnrc import __version__
from jcnrc.output.write import OWNED_LIST, write_tree
from jcnrc.pipeline import Options, compile_intent
from jcnrc.verify import manifests as validate_output
from jcnrc.verify.manifests import manifest_objects

AKS = ROOT / "examples" / "aks-evpn-type5.yaml"
CHECKSUM = "jcnrc.io/config-checksum"
NON_MANIFEST_SUFFIXES = (".json", ".sh", ".txt", ".md", ".env")


def objects_in(files: dict[str, str]) -> list[tuple[str, dict]]:
    return [(path, obj) for path, text in sorted(files.items()) if path.startswith("manifests/")
            and not path.endswith("kustomization.yaml") for obj in pyyaml.safe_load_all(text) if obj]


def intent_copy(tmp_path: Path, edit=None, source: Path = AKS) -> Path:
    data = pyyaml.safe_load(source.read_text())
    if edit:
        edit(data)
    folder = tmp_path / "intent"
    folder.mkdir(parents=True, exist_ok=True)
    intent = folder / source.name
    intent.write_text(pyyaml.safe_dump(data, sort_keys=False))
    lock = source.with_name(source.stem + ".lock.json")
    if lock.exists():
        shutil.copy(lock, folder / lock.name)
    return intent


def compiled(tmp_path: Path, edit=None, **options) -> dict[str, str]:
    result = compile_intent(intent_copy(tmp_path, edit), Options(**options))
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    return result.files


# --- layout -------------------------------------------------------------------------------------

def test_manifests_hold_one_object_per_file_named_after_it(compiled_examples):
    for name, result in compiled_examples.items():
        for path, text in result.files.items():
            if not path.startswith("manifests/") or path == "manifests/kustomization.yaml":
                continue
            docs = [doc for doc in pyyaml.safe_load_all(text) if doc]
            assert len(docs) == 1, f"{name}: {path} holds {len(docs)} objects"
            (obj,) = docs
            assert path == f"manifests/{obj['kind'].lower()}-{obj['metadata']['name']}.yaml", f"{name}: {path}"


def test_everything_that_is_not_a_manifest_lives_outside_manifests(compiled_examples):
    for name, result in compiled_examples.items():
        inside = [p for p in result.files if p.startswith("manifests/")]
        assert inside and all(p.endswith(".yaml") for p in inside), name
        outside = [p for p in result.files if not p.startswith("manifests/")]
        assert any(p.endswith(".json") for p in outside) and any(p.endswith(".sh") for p in outside), name
        assert pyyaml.safe_load(result.files["kustomization.yaml"])["resources"] == ["manifests"]
        for path in outside:
            if path.endswith((".yaml", ".yml")) and path != "kustomization.yaml":
                # Argo CD directory apps and Flux read every YAML file under the path they are given.
                assert not path.startswith(("nodes/", "state/")), f"{name}: {path}"


def test_manifests_kustomization_lists_each_object_file_once_in_apply_order(compiled_examples):
    rank = ["namespace", "serviceaccount", "clusterrole", "clusterrolebinding", "configmap", "secret", "externalsecret",
            "networkattachmentdefinition", "daemonset", "deployment", "pod"]
    for name, result in compiled_examples.items():
        listed = pyyaml.safe_load(result.files["manifests/kustomization.yaml"])["resources"]
        files = sorted(p.removeprefix("manifests/") for p in result.files
                       if p.startswith("manifests/") and p != "manifests/kustomization.yaml")
        assert sorted(listed) == files and len(set(listed)) == len(listed), name
        kinds = [entry.split("-", 1)[0] for entry in listed]
        if result.plan.target == "platter":
            positions = [rank.index(kind) for kind in kinds]
            assert positions == sorted(positions), f"{name}: {kinds}"
        nad, pods = kinds.index("networkattachmentdefinition"), [i for i, k in enumerate(kinds) if k in ("pod", "deployment")]
        assert all(nad < i for i in pods), f"{name}: a pod comes before the NAD it names"


def test_single_layout_writes_the_same_objects_in_the_same_order_into_one_manifest(tmp_path):
    tree = compiled(tmp_path / "tree")
    single = compiled(tmp_path / "single", layout="single")
    assert [p for p in single if p.startswith("manifests/")] == ["manifests/kustomization.yaml", "manifests/manifest.yaml"]
    assert pyyaml.safe_load(single["manifests/kustomization.yaml"])["resources"] == ["manifest.yaml"]
    order = pyyaml.safe_load(tree["manifests/kustomization.yaml"])["resources"]
    assert [d for d in pyyaml.safe_load_all(single["manifests/manifest.yaml"]) if d] == \
        [pyyaml.safe_load(tree[f"manifests/{path}"]) for path in order]
    # Beside manifests/ the same files, but for the Flux halves, which name files only the tree has.
    assert {p: t for p, t in single.items() if not p.startswith(("manifests/", "flux/")) and p != "README.md"} == \
        {p: t for p, t in tree.items() if not p.startswith(("manifests/", "flux/")) and p != "README.md"}
    assert not any(p.startswith("flux/") for p in single) and "flux/workloads/kustomization.yaml" in tree


# --- labels -------------------------------------------------------------------------------------

def test_every_object_is_labelled_managed_by_jcnrc_and_part_of_the_topology(compiled_examples):
    for name, result in compiled_examples.items():
        for path, obj in objects_in(result.files):
            labels = obj["metadata"]["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "jcnrc", f"{name}: {path}"
            assert labels["app.kubernetes.io/part-of"] == result.plan.name, f"{name}: {path}"


@pytest.mark.parametrize("layout", ["tree", "single"])
@pytest.mark.parametrize("target", ["platter", "jcnr"])
def test_no_file_sets_app_kubernetes_io_instance(tmp_path, compiled_examples, layout, target):
    """Argo CD's label tracking owns that label; any other writer confuses it."""
    outputs = [compiled(tmp_path, layout=layout, target=target)] + [r.files for r in compiled_examples.values()]
    for files in outputs:
        for path, text in files.items():
            assert "app.kubernetes.io/instance" not in text, path


# --- rollouts -----------------------------------------------------------------------------------

def _checksums(files: dict[str, str]) -> dict[str, str]:
    return {obj["metadata"]["name"]: obj["spec"]["template"]["metadata"]["annotations"][CHECKSUM]
            for _, obj in objects_in(files) if obj["kind"] == "DaemonSet"}


def test_daemonsets_roll_when_platter_config_changes(tmp_path):
    before = compiled(tmp_path / "a")
    after = compiled(tmp_path / "b", lambda d: d["cluster"].update(asn=64600))
    assert before["manifests/configmap-platter-config.yaml"] != after["manifests/configmap-platter-config.yaml"]
    old, new = _checksums(before), _checksums(after)
    assert set(old) == {"kube-crpd-master-ds", "kube-crpd-worker-ds", "jcnrc-node-prep"}
    assert old["kube-crpd-master-ds"] != new["kube-crpd-master-ds"]
    assert old["kube-crpd-worker-ds"] != new["kube-crpd-worker-ds"]


def test_daemonsets_roll_when_node_config_changes(tmp_path):
    def new_loopback(data):
        data["nodes"][1]["isoLoopback"] = "49.0004.0102.4000.0099.00"

    before = compiled(tmp_path / "a")
    after = compiled(tmp_path / "b", new_loopback)
    assert before["manifests/configmap-platter-node-config.yaml"] != after["manifests/configmap-platter-node-config.yaml"]
    assert before["manifests/configmap-platter-config.yaml"] == after["manifests/configmap-platter-config.yaml"]
    old, new = _checksums(before), _checksums(after)
    assert all(old[name] != new[name] for name in old), (old, new)


def test_daemonsets_do_not_roll_for_changes_that_do_not_concern_them(tmp_path):
    def new_image(data):
        data["pods"][0]["image"] = "ubuntu:22.04"

    before = compiled(tmp_path / "a")
    after = compiled(tmp_path / "b", new_image)
    assert before["manifests/deployment-ubuntu-du11.yaml"] != after["manifests/deployment-ubuntu-du11.yaml"]
    assert _checksums(before) == _checksums(after)


# --- provenance ---------------------------------------------------------------------------------

def test_the_readme_says_what_produced_it_and_nothing_that_changes_by_itself(tmp_path):
    intent = intent_copy(tmp_path)
    result = compile_intent(intent, Options(), display_name="topology/aks.yaml")
    readme = result.files["README.md"]
    from jcnrc.intent.load import load_file
    from jcnrc.pipeline import data_digest

    digest = data_digest(load_file(intent, "x").data, "")
    assert digest != hashlib.sha256(intent.read_bytes()).hexdigest()  # the parsed data, not the bytes
    assert f"Generated by jcnrc {__version__} from `topology/aks.yaml` (sha256 of its parsed data `{digest}`:" in readme
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b|(?<![:\w])\d{1,2}:\d{2}:\d{2}(?![:\w])", readme), "a date or a time"
    assert str(tmp_path) not in "".join(result.files.values())  # no absolute paths of the build machine
    order = pyyaml.safe_load(result.files["manifests/kustomization.yaml"])["resources"]
    positions = [readme.index(f"`{path}`") for path in order]
    assert positions == sorted(positions), "the README lists the apply order"
    assert compile_intent(intent, Options(), display_name="topology/aks.yaml").files == result.files  # and a rebuild is equal


# --- --check, diff, pre-commit ------------------------------------------------------------------

def jcnrc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*JCNRC, *args], capture_output=True, text=True, timeout=HANG_GUARD, cwd=cwd)


class Built(NamedTuple):
    """A repository folder holding an intent and its build, as the command wrote it. Commands run
    in the folder with relative paths (the output names the intent as given), so a copy of the
    folder anywhere is as current as the original."""

    intent: Path
    out: Path

    INTENT = "intent/aks-evpn-type5.yaml"
    OUT = "gitops/aks"

    @property
    def repo(self) -> Path:
        return self.intent.parent.parent

    def run(self, command: str, *extra: str) -> subprocess.CompletedProcess:
        return jcnrc(command, self.INTENT, "-o", self.OUT, *extra, cwd=self.repo)


@pytest.fixture(scope="module")
def built_once(tmp_path_factory) -> Path:
    """The built repository, made once by the command."""
    repo = tmp_path_factory.mktemp("repo")
    intent_copy(repo)
    run = jcnrc("build", Built.INTENT, "-o", Built.OUT, cwd=repo)
    assert run.returncode == 0, run.stderr
    return repo


@pytest.fixture()
def built(built_once, tmp_path) -> Built:
    """A fresh copy of the built repository, this test's own."""
    repo = tmp_path / "repo"
    shutil.copytree(built_once, repo, symlinks=True)
    return Built(repo / Built.INTENT, repo / Built.OUT)


def test_check_passes_on_a_fresh_build(built):
    _intent, _out = built
    run = built.run("build", "--check")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "" and "is up to date" in run.stderr


def test_check_fails_with_a_unified_diff_on_a_hand_edit_and_passes_after_a_rebuild(built):
    _intent, out = built
    target = out / "manifests/deployment-ubuntu-du11.yaml"
    original = target.read_text()
    target.write_text(original.replace("image: ubuntu:20.04", "image: ubuntu:latest"))
    before = target.read_text()
    run = built.run("build", "--check")
    assert run.returncode == 1
    assert "--- a/manifests/deployment-ubuntu-du11.yaml\n+++ b/manifests/deployment-ubuntu-du11.yaml\n" in run.stdout
    assert "-          image: ubuntu:latest\n+          image: ubuntu:20.04\n" in run.stdout
    assert "1 file(s) differ" in run.stderr
    assert target.read_text() == before  # --check writes nothing
    diff = built.run("diff")
    assert diff.returncode == 0 and diff.stdout == run.stdout
    assert built.run("build").returncode == 0
    assert target.read_text() == original
    assert built.run("build", "--check").returncode == 0
    assert built.run("diff").stdout == ""


def test_check_fails_on_a_deleted_file_and_a_stale_owned_list_but_not_on_a_foreign_file(built):
    _intent, out = built
    (out / "notes.md").write_text("my notes\n")
    assert built.run("build", "--check").returncode == 0  # nothing jcnrc writes is stale
    # ...but the folder is swapped out whole, so a build refuses it while it holds a file jcnrc did not write.
    refused = built.run("build")
    assert refused.returncode == 2 and "it holds notes.md, which jcnrc did not write" in refused.stderr
    (out / "notes.md").unlink()
    (out / "state" / "aks-agentpool-23733201-vmss000001.txt").unlink()
    run = built.run("build", "--check")
    assert run.returncode == 1 and "+++ b/state/aks-agentpool-23733201-vmss000001.txt" in run.stdout
    assert built.run("build").returncode == 0
    owned = out / OWNED_LIST
    owned.write_text(owned.read_text() + "manifests/pod-gone.yaml\n")
    run = built.run("build", "--check")
    assert run.returncode == 1 and "-manifests/pod-gone.yaml" in run.stdout


def test_check_fails_when_the_intent_changed_since_the_build(built):
    intent, _out = built
    intent.write_text(intent.read_text().replace("image: ubuntu:20.04", "image: ubuntu:22.04", 1))
    run = built.run("build", "--check")
    assert run.returncode == 1 and "+          image: ubuntu:22.04" in run.stdout


def test_the_pre_commit_hook_runs_the_check(built):
    _intent, out = built
    (hook,) = pyyaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "jcnrc-check" and hook["language"] == "python"
    assert hook["pass_filenames"] is False and hook["always_run"] is True
    entry = shlex.split(hook["entry"])
    assert entry[:3] == ["jcnrc", "build", "--check"]
    # As pre-commit runs it: the entry, then the `args:` the user's .pre-commit-config.yaml gives.
    command = [*JCNRC, *entry[1:], Built.INTENT, "--out", Built.OUT]
    assert subprocess.run(command, capture_output=True, timeout=HANG_GUARD, cwd=built.repo).returncode == 0
    (out / "README.md").write_text("edited\n")
    failed = subprocess.run(command, capture_output=True, text=True, timeout=HANG_GUARD, cwd=built.repo)
    assert failed.returncode == 1 and "+++ b/README.md" in failed.stdout


def test_the_ci_snippet_in_the_docs_runs_the_check():
    docs = (ROOT / "docs" / "gitops.md").read_text()
    assert "jcnrc build --check" in docs and "id: jcnrc-check" in docs
    assert "JCNRC_TEST_SLOW_WRITE" in docs  # the test-only switch is documented as such


# --- kustomize and validation -------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("kubectl") is None, reason=NO_KUBECTL)
@pytest.mark.parametrize("layout", ["tree", "single"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_kubectl_kustomize_renders_the_output_of_every_example(tmp_path, example, layout, compiled_examples):
    """kustomize emits exactly jcnrc's objects, unchanged; from the tree layout, kind by kind in
    jcnrc's apply order (within a kind kustomize sorts by name, which is harmless)."""
    if layout == "tree":
        result = compiled_examples[example.name]
    else:
        result = compile_intent(intent_copy(tmp_path, source=example), Options(layout=layout))
    assert result.ok
    out = tmp_path / "out"
    write_tree(result.files, out)
    run = subprocess.run(["kubectl", "kustomize", str(out)], capture_output=True, text=True, timeout=HANG_GUARD)
    assert run.returncode == 0, run.stderr
    rendered = [doc for doc in pyyaml.safe_load_all(run.stdout) if doc]
    expected = [obj for _, obj in objects_in(result.files)]
    key = lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])  # noqa: E731
    assert sorted(map(key, rendered)) == sorted(map(key, expected))
    assert sorted(rendered, key=key) == sorted(expected, key=key)  # kustomize changes nothing in them
    # No sortOptions (kubectl apply -k would warn): kustomize's kind order, namespaces first.
    kinds = [doc["kind"] for doc in rendered]
    assert kinds[: kinds.count("Namespace")] == ["Namespace"] * kinds.count("Namespace")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_apply_k_prints_no_sorting_warning(tmp_path, compiled_examples):
    """kubectl >= 1.27 warns on every `apply -k` when the kustomization sets sortOptions; the dry
    run fails for want of a cluster after kustomize has run, which is where the warning comes from."""
    out = tmp_path / "out"
    write_tree(compiled_examples["aks-evpn-type5.yaml"].files, out)
    run = subprocess.run(["kubectl", "apply", "-k", str(out), "--dry-run=client", "--validate=false",
                          "--server=http://127.0.0.1:9"], capture_output=True, text=True, timeout=HANG_GUARD)
    assert "Sorting order" not in run.stderr and "Warning" not in run.stderr, run.stderr
    assert "sortOptions" not in pyyaml.safe_load(compiled_examples["aks-evpn-type5.yaml"].files["manifests/kustomization.yaml"])


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_validate_accepts_every_example(example, compiled_examples):
    assert validate_output.validate_files(compiled_examples[example.name].files, "1.32") == []


def test_validate_reports_a_volume_naming_a_missing_configmap_and_a_pod_naming_a_missing_nad(compiled_examples):
    files = dict(compiled_examples[AKS.name].files)
    del files["manifests/configmap-platter-config.yaml"]
    del files["manifests/networkattachmentdefinition-blue-net.yaml"]
    problems = validate_output.validate_files(files, "1.32")
    messages = {(p.source, p.message) for p in problems}
    assert ("manifests/daemonset-kube-crpd-master-ds.yaml",
            "ConfigMap kube-system/platter-config is not in the object set") in messages
    assert ("manifests/deployment-ubuntu-du11.yaml",
            "NetworkAttachmentDefinition default/blue-net is not in the object set") in messages


def test_validate_assumes_the_out_of_band_secret_only_in_reference_mode(tmp_path):
    external = compiled(tmp_path, lambda d: d["secrets"].update(
        mode="external-secrets", store={"name": "vault", "rootPasswordKey": "a", "crpdLicenseKey": "b"}))
    assert validate_output.validate_files(external, "1.32") == []
    del external["manifests/externalsecret-platter-secrets.yaml"]
    problems = validate_output.validate_files(external, "1.32")
    assert {p.message for p in problems} == {"Secret kube-system/platter-secrets is not in the object set"}


def test_validate_does_not_schema_check_a_sops_encrypted_secret_but_counts_it_present(compiled_examples):
    files = dict(compiled_examples[AKS.name].files)
    del files["scripts/create-secrets.sh"]  # not reference mode: the Secret must be in the set
    assert validate_output.validate_files(files, "1.32") != []
    files["manifests/secret-platter-secrets.yaml"] = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: platter-secrets, namespace: kube-system}\n"
        "data: {root-password: 'ENC[AES256_GCM,data:xyz,iv:abc,tag:def,type:str]'}\n"
        "sops: {version: 3.9.0, mac: 'ENC[AES256_GCM,data:m]'}\n")
    assert validate_output.validate_files(files, "1.32") == []


def _many_pods(data: dict, count: int) -> None:
    template = data["pods"][0]
    workers = [n["name"] for n in data["nodes"] if n["role"] == "worker"]
    data["pods"] = []
    for index in range(count):
        pod = copy.deepcopy(template)
        pod["name"] = f"app-{index:04d}"
        pod["node"] = workers[index % len(workers)]
        pod["networks"] = [{"vrf": "blue"}]
        data["pods"].append(pod)
    data["expect"] = []


def test_hundreds_of_objects_validate_clean(tmp_path):
    # Speed is measured by benchmarks/bench_kubeschema.py; that the work grows linearly with the
    # objects, by tests/test_kubeschema.py. Here: a real build of many pods validates clean.
    files = compiled(tmp_path, lambda d: _many_pods(d, 240))
    assert len(manifest_objects(files)[0]) >= 250
    assert validate_output.validate_files(files, "1.32") == []


def test_validate_option_of_the_command_fails_on_a_broken_template(tmp_path):
    templates = tmp_path / "templates" / "platter"
    templates.mkdir(parents=True)
    broken = (ROOT / "templates/platter/serviceaccount.yaml.j2").read_text() + "automountServiceAccountToken: maybe\n"
    (templates / "serviceaccount.yaml.j2").write_text(broken)
    intent = intent_copy(tmp_path)
    run = jcnrc("build", str(intent), "-o", str(tmp_path / "out"), "--validate", "--templates", str(tmp_path / "templates"))
    assert run.returncode == 1
    assert "manifests/serviceaccount-crpd.yaml: automountServiceAccountToken:" in run.stderr
    assert not (tmp_path / "out").exists()
    assert jcnrc("build", str(intent), "-o", str(tmp_path / "out"), "--validate").returncode == 0


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_flux_halves_render_the_platform_then_the_workloads(tmp_path, compiled_examples):
    """flux/platform and flux/workloads name the files of manifests/ (Flux's kustomize-controller
    loads files outside the Kustomization's path; kubectl needs LoadRestrictionsNone): together
    exactly the objects of manifests/, the workloads alone in the second."""
    for name in ("aks-evpn-type5.yaml", "multi-vrf.yaml"):
        result = compiled_examples[name]
        out = tmp_path / name
        write_tree(result.files, out)
        halves = {}
        for part in ("platform", "workloads"):
            run = subprocess.run(["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(out / "flux" / part)],
                                 capture_output=True, text=True, timeout=HANG_GUARD)
            assert run.returncode == 0, run.stderr
            halves[part] = [(d["kind"], d["metadata"]["name"]) for d in pyyaml.safe_load_all(run.stdout) if d]
        assert {kind for kind, _ in halves["workloads"]} == {"Deployment"}
        assert "Deployment" not in {kind for kind, _ in halves["platform"]}
        everything = sorted((o["kind"], o["metadata"]["name"]) for _, o in objects_in(result.files))
        assert sorted(halves["platform"] + halves["workloads"]) == everything
