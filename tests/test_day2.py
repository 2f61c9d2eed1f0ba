"""Day 2 through Git (issue 16): honest hints, staleness that ignores comments, options a folder
remembers, secrets without local sources, and a README that cites only files of the repository."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from jcnrc.cli import app
from jcnrc.pipeline import Options, compile_intent

ROOT = Path(__file__).resolve().parent.parent
AKS = ROOT / "examples" / "aks-evpn-type5.yaml"


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def copy_intent(tmp_path: Path, edit=None, text: str | None = None) -> Path:
    path = tmp_path / "aks.yaml"
    data = yaml.safe_load(AKS.read_text())
    if edit is not None:
        edit(data)
    path.write_text(text if text is not None else yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_stale_hint_and_the_readme_repeat_every_option_that_made_the_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    intent = copy_intent(tmp_path)
    assert cli("build", intent.name, "-o", "deploy/x", "--target", "jcnr", "--layout", "single", "-q").exit_code == 0
    readme = (tmp_path / "deploy/x/README.md").read_text()
    assert "run `jcnrc build aks.yaml -o deploy/x --target jcnr --layout single` again" in readme
    (tmp_path / "deploy/x/manifests/manifest.yaml").write_text("tampered\n")
    run = cli("build", intent.name, "-o", "deploy/x", "--check", "--target", "jcnr")  # no --layout: the folder's own
    assert run.exit_code == 1
    assert "1 file(s) differ; run `jcnrc build aks.yaml -o deploy/x --target jcnr --layout single`" in run.output


def test_check_never_takes_the_router_target_from_the_folder(tmp_path, monkeypatch):
    """Attack round 4, F12: `.jcnrc-owned` is the repository's file; a pull request must not switch the
    deployed router generation by it while the intent still says platter and CI's --check stays green."""
    monkeypatch.chdir(tmp_path)
    intent = copy_intent(tmp_path)
    assert cli("build", intent.name, "-o", "deploy/x", "--target", "jcnr", "-q").exit_code == 0
    run = cli("build", intent.name, "-o", "deploy/x", "--check")
    assert run.exit_code == 1 and "is up to date" not in run.output
    assert ("deploy/x was built with `--target jcnr`, which the intent does not say" in run.output
            and "check with `jcnrc build aks.yaml -o deploy/x --target jcnr --check`" in run.output)
    assert cli("build", intent.name, "-o", "deploy/x", "--check", "--target", "jcnr").exit_code == 0
    assert "+++" not in cli("diff", intent.name, "-o", "deploy/x").output  # diff shows the folder as it was built


def test_diff_and_check_use_the_layout_the_folder_was_built_with(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    intent = copy_intent(tmp_path)
    assert cli("build", intent.name, "--layout", "single", "-q").exit_code == 0
    check = cli("build", intent.name, "--check")
    assert check.exit_code == 0 and "is up to date" in check.output
    assert "+++" not in cli("diff", intent.name).output
    assert "+++" in cli("diff", intent.name, "--layout", "tree").output  # said explicitly: compared as asked


def test_a_comment_or_a_reformatting_leaves_the_output_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    intent = copy_intent(tmp_path, text=AKS.read_text())
    assert cli("build", intent.name, "-q").exit_code == 0
    data = yaml.safe_load(AKS.read_text())
    intent.write_text("# a new comment\n" + yaml.safe_dump(data, sort_keys=True, default_flow_style=True))
    run = cli("build", intent.name, "--check")
    assert run.exit_code == 0, run.output
    intent.write_text(AKS.read_text().replace("ubuntu:20.04", "ubuntu:22.04", 1))
    assert cli("build", intent.name, "--check").exit_code == 1


def test_external_secrets_needs_no_local_source_and_other_modes_do(tmp_path):
    def store_only(data):
        data["secrets"] = {"mode": "external-secrets", "store": {"kind": "ClusterSecretStore", "name": "vault",
                                                                  "rootPasswordKey": "jcnr/root", "crpdLicenseKey": "jcnr/lic"}}

    result = compile_intent(copy_intent(tmp_path, store_only), Options(environ={}))
    assert result.ok and not [d for d in result.diagnostics if d.code == "JCN918"], result.diagnostics
    assert "externalsecret-platter-secrets.yaml" in "".join(result.files)

    def no_sources(data):
        data["secrets"] = {"mode": "reference"}

    refused = compile_intent(copy_intent(tmp_path, no_sources), Options(environ={}))
    [missing] = [d for d in refused.diagnostics if d.is_error]
    assert missing.code == "JCN102" and "`rootPassword` and `crpdLicense`" in missing.message


def test_the_readme_and_the_docs_cite_only_files_of_the_repository():
    cited = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target:
                cited.append((page, target))
    assert cited
    missing = [f"{page.name}: {target}" for page, target in cited if not (page.parent / target).exists()]
    assert missing == []
    assert "shared/reference" not in (ROOT / "README.md").read_text()
