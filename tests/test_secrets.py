"""Secrets never reach the output outside inline mode; the scanner that guards it; sops."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml as pyyaml

from conftest import HANG_GUARD, JCNRC, ROOT
from jcnrc.output import secretscan
from jcnrc.output import sops as sops_program
from jcnrc.output.secretscan import Finding, scan
from jcnrc.output.sops import SopsFailed, SopsUnavailable
from jcnrc.pipeline import Options, compile_intent

AKS = ROOT / "examples" / "aks-evpn-type5.yaml"
ROOT_PASSWORD = "Pl4nted-R00t-Passw0rd!"
LICENSE = "JUNOS-CRPD-LICENSE E420588955 aeaqic aiagij cfaiaa ibaeaq\nqmaaaa gqbaaq qdaaaa aaaaaa aeaaab\n"
VALUES = [ROOT_PASSWORD, LICENSE]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def forms_of(value: str) -> list[str]:
    """What a leak would look like, written independently of the scanner under test."""
    stripped = value.strip()
    return [stripped, b64(value), b64(stripped), base64.encodebytes(value.encode()).decode().split("\n")[0]]


def assert_no_secret(files: dict[str, str]) -> None:
    for path, text in files.items():
        compact = "".join(text.split())
        for value in VALUES:
            for form in forms_of(value):
                assert form not in text and "".join(form.split()) not in compact, f"{path} holds a secret value"
    assert scan(files, VALUES) == []


def intent_copy(tmp_path: Path, mode: str, target: str = "platter") -> Path:
    data = pyyaml.safe_load(AKS.read_text())
    data["target"] = target
    data["secrets"]["mode"] = mode
    if mode == "external-secrets":
        data["secrets"]["store"] = {"name": "vault", "rootPasswordKey": "crpd/root", "crpdLicenseKey": "crpd/license"}
    intent = tmp_path / "intent" / AKS.name
    intent.parent.mkdir()
    intent.write_text(pyyaml.safe_dump(data, sort_keys=False))
    shutil.copy(AKS.with_name("aks-evpn-type5.lock.json"), intent.with_name("aks-evpn-type5.lock.json"))
    (intent.parent / "crpd-license.txt").write_text(LICENSE)
    return intent


FAKE_SOPS = '''\
import json, sys, time
argv = sys.argv[1:]
with open(__import__("os").environ["FAKE_SOPS_LOG"], "a") as log:
    log.write(json.dumps(argv) + "\\n")
text = sys.stdin.read()
if "--encrypt" in argv:
    # Not real encryption, but neither the value nor its base64: hex, plus a nonce like sops's IV.
    print("data: ENC[" + text.encode().hex() + "]")
    print("sops:")
    print("    nonce: '" + str(time.monotonic_ns()) + "'")
elif "--decrypt" in argv:
    line = next((l for l in text.splitlines() if l.startswith("data: ENC[")), None)
    if line is None or "no-key" in text:
        sys.stderr.write("Failed to get the data key required to decrypt the SOPS file.\\n")
        sys.exit(128)
    sys.stdout.write(bytes.fromhex(line[len("data: ENC["):-1]).decode())
'''


@pytest.fixture()
def fake_sops(tmp_path) -> dict[str, str]:
    folder = tmp_path / "sops-bin"
    folder.mkdir()
    sops = folder / "sops"
    sops.write_text(f"#!{sys.executable}\n" + FAKE_SOPS)
    sops.chmod(0o755)
    return {"PATH": f"{folder}:/usr/bin:/bin", "FAKE_SOPS_LOG": str(tmp_path / "sops.log")}


# --- compile_intent: no value in any mode but inline -------------------------------------------

@pytest.mark.parametrize("target", ["platter", "jcnr"])
@pytest.mark.parametrize("mode", ["reference", "external-secrets", "sops"])
@pytest.mark.parametrize("layout", ["tree", "single"])
def test_no_planted_value_reaches_the_output_outside_inline_mode(tmp_path, fake_sops, mode, target, layout):
    intent = intent_copy(tmp_path, mode, target)
    environ = {**fake_sops, "CRPD_ROOT_PASSWORD": ROOT_PASSWORD}
    result = compile_intent(intent, Options(environ=environ, layout=layout))
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    assert len(result.files) > 10
    assert_no_secret(result.files)
    for path, text in result.files.items():
        for doc in pyyaml.safe_load_all(text) if path.endswith(".yaml") else ():
            if isinstance(doc, dict) and doc.get("kind") == "Secret":
                assert "sops" in doc, f"{path}: an unencrypted Secret in mode {mode}"


def test_the_leak_detector_is_not_vacuous_inline_mode_is_caught(tmp_path):
    intent = intent_copy(tmp_path, "inline")
    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": ROOT_PASSWORD}))
    assert result.ok
    findings = scan(result.files, VALUES, ["`secrets.rootPassword`", "`secrets.crpdLicense`"])
    assert {(f.path, f.label, f.encoding) for f in findings} == {
        ("manifests/secret-platter-secrets.yaml", "`secrets.rootPassword`", "base64"),
        ("manifests/secret-platter-secrets.yaml", "`secrets.crpdLicense`", "base64"),
    }
    assert result.files[".gitignore"].splitlines()[-1] == "/manifests/secret-platter-secrets.yaml"


def test_inline_mode_git_ignores_every_file_with_a_value_in_the_single_layout(tmp_path):
    intent = intent_copy(tmp_path, "inline")
    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": ROOT_PASSWORD}, layout="single"))
    leaking = {f.path for f in scan(result.files, VALUES)}
    ignored = {line.lstrip("/") for line in result.files[".gitignore"].splitlines() if line and not line.startswith("#")}
    assert leaking and leaking <= ignored


def test_available_values_reads_what_the_intent_references_and_skips_the_rest(tmp_path):
    intent = intent_copy(tmp_path, "reference")
    secrets = compile_intent(intent, Options()).plan.topology.secrets
    values, labels = secretscan.available_values(secrets, intent.parent, {"CRPD_ROOT_PASSWORD": ROOT_PASSWORD})
    assert values == [ROOT_PASSWORD, LICENSE]
    assert labels == ["`secrets.rootPassword`", "`secrets.crpdLicense`"]
    (intent.parent / "crpd-license.txt").unlink()
    assert secretscan.available_values(secrets, intent.parent, {}) == ([], [])


# --- the scanner --------------------------------------------------------------------------------

def test_raw_value_is_found_with_its_position():
    files = {"a.yaml": "x: 1\nconfig: |\n  password " + ROOT_PASSWORD + "\n"}
    assert scan(files, [ROOT_PASSWORD], ["`secrets.rootPassword`"]) == [
        Finding("a.yaml", 3, 12, "`secrets.rootPassword`", "raw")]


@pytest.mark.parametrize("value", [ROOT_PASSWORD, LICENSE, LICENSE.rstrip("\n"), ROOT_PASSWORD + "\n"])
@pytest.mark.parametrize("encode", [
    pytest.param(lambda v: b64(v), id="standard"),
    pytest.param(lambda v: b64(v.rstrip("\n")), id="without-trailing-newline"),
    pytest.param(lambda v: b64(v.rstrip("\n") + "\n"), id="with-trailing-newline"),
    pytest.param(lambda v: base64.encodebytes(v.encode()).decode(), id="wrapped-76"),
    pytest.param(lambda v: "\n".join(b64(v)[i:i + 64] for i in range(0, len(b64(v)), 64)), id="wrapped-64"),
    pytest.param(lambda v: base64.urlsafe_b64encode(v.encode()).decode(), id="url-safe"),
])
def test_base64_forms_are_found(value, encode):
    encoded = encode(value)
    yaml_block = "data:\n  blob: |\n" + "".join(f"    {line}\n" for line in encoded.splitlines())
    for text in (f"key: {encoded.strip()}\n", yaml_block):
        findings = scan({"f": text}, [value])
        assert [f.encoding for f in findings] == ["base64"], text


@pytest.mark.parametrize("prefix", ["", "A", "AB", "PASSWORD=", "user: admin\npassword: "])
def test_a_value_inside_a_larger_encoded_text_is_found_at_every_offset(prefix):
    blob = base64.encodebytes((prefix + ROOT_PASSWORD + "\nnext: line\n").encode()).decode()
    findings = scan({"kubeconfig": "data: |\n" + "".join(f"  {line}\n" for line in blob.splitlines())}, [ROOT_PASSWORD])
    assert [f.encoding for f in findings] == ["base64"]


def test_a_multi_line_value_is_found_re_indented_or_json_escaped():
    block = "license: |\n" + "".join(f"      {line}\n" for line in LICENSE.splitlines())
    escaped = "license: " + json.dumps(LICENSE) + "\n"
    assert [f.encoding for f in scan({"block": block}, [LICENSE])] == ["raw"]
    assert [f.encoding for f in scan({"escaped": escaped}, [LICENSE])] == ["raw"]


def test_findings_never_contain_the_value():
    findings = scan({"f": f"a: {ROOT_PASSWORD}\nb: {b64(ROOT_PASSWORD)}\n"}, [ROOT_PASSWORD])
    assert len(findings) == 2
    for finding in findings:
        assert ROOT_PASSWORD not in finding.message() and b64(ROOT_PASSWORD) not in finding.message()
        assert finding.message().startswith("f:")


def test_short_values_are_reported_as_unscannable_instead_of_raising_false_alarms(compiled_examples):
    short = "abcd"  # in every IPv6 loopback jcnrc writes
    assert secretscan.unscannable([short, ROOT_PASSWORD, ""], ["a", "b", "c"]) == ["a"]
    for result in compiled_examples.values():
        assert scan(result.files, [short]) == []


def test_clean_example_output_has_no_finding_for_realistic_values(compiled_examples):
    for result in compiled_examples.values():
        assert scan(result.files, VALUES) == []


# --- sops ---------------------------------------------------------------------------------------

def test_sops_mode_without_the_sops_program_is_a_clear_error(tmp_path):
    with pytest.raises(SopsUnavailable) as raised:
        sops_program.find_sops({"PATH": str(tmp_path)})
    message = str(raised.value)
    assert "`secrets.mode: sops` needs the `sops` program, which is not on PATH" in message
    assert "external-secrets" in message and "https://github.com/getsops/sops" in message


SECRET = f"""\
apiVersion: v1
kind: Secret
metadata: {{name: platter-secrets, namespace: kube-system}}
data:
  root-password: {b64(ROOT_PASSWORD)}
"""


def test_sops_encrypts_data_only_and_the_result_holds_no_value(tmp_path, fake_sops):
    sops = sops_program.find_sops(fake_sops)
    encrypted = sops_program.sops_encrypt(SECRET, sops=sops, cwd=tmp_path, environ=fake_sops)
    assert encrypted.startswith("data: ENC[") and "sops:" in encrypted
    assert scan({"secret.yaml": encrypted}, [ROOT_PASSWORD]) == []
    (argv,) = [json.loads(line) for line in Path(fake_sops["FAKE_SOPS_LOG"]).read_text().splitlines()]
    assert argv == ["--encrypt", "--encrypted-regex", "^(data|stringData)$", "--input-type", "yaml",
                    "--output-type", "yaml", "/dev/stdin"]


def test_sops_keeps_the_previous_encryption_when_the_values_did_not_change(tmp_path, fake_sops):
    sops = sops_program.find_sops(fake_sops)
    first = sops_program.sops_encrypt(SECRET, sops=sops, cwd=tmp_path, environ=fake_sops)
    again = sops_program.sops_encrypt(SECRET, sops=sops, cwd=tmp_path, environ=fake_sops, previous=first)
    assert again == first  # otherwise every build would change the file and --check could never pass
    changed = SECRET.replace(b64(ROOT_PASSWORD), b64("another-password"))
    assert sops_program.sops_encrypt(changed, sops=sops, cwd=tmp_path, environ=fake_sops, previous=first) != first


def test_sops_encrypts_afresh_when_the_previous_file_cannot_be_decrypted_here(tmp_path, fake_sops):
    sops = sops_program.find_sops(fake_sops)
    previous = "data: ENC[00]\nsops: {no-key: true}\n"
    encrypted = sops_program.sops_encrypt(SECRET, sops=sops, cwd=tmp_path, environ=fake_sops, previous=previous)
    assert encrypted != previous and encrypted.startswith("data: ENC[")


def test_a_sops_failure_is_reported_with_its_message_and_without_the_plaintext(tmp_path):
    folder = tmp_path / "bin"
    folder.mkdir()
    failing = folder / "sops"
    failing.write_text("#!/bin/sh\ncat >/dev/null\necho 'config file not found, or has no creation rules' >&2\nexit 1\n")
    failing.chmod(0o755)
    with pytest.raises(SopsFailed) as raised:
        sops_program.sops_encrypt(SECRET, sops=str(failing), cwd=tmp_path, environ={"PATH": str(folder)})
    assert str(raised.value) == "sops failed encrypting the Secret: config file not found, or has no creation rules"


# --- the reference-mode script ------------------------------------------------------------------

FAKE_KUBECTL = """#!/bin/sh
printf '%s\\n' "$*" >> "$KUBECTL_LOG"
for arg in "$@"; do
    case "$arg" in
        --from-file=*) cp "${arg#--from-file=*=}" "$KUBECTL_LOG.$(echo "$arg" | sed 's/--from-file=\\([^=]*\\)=.*/\\1/')" ;;
    esac
done
cat > /dev/null
"""


def test_create_secrets_never_puts_a_value_on_the_command_line(tmp_path):
    intent = intent_copy(tmp_path, "reference")
    script = tmp_path / "create-secrets.sh"
    script.write_text(compile_intent(intent, Options()).files["scripts/create-secrets.sh"])
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(FAKE_KUBECTL)
    kubectl.chmod(0o755)
    log = tmp_path / "kubectl.log"
    run = subprocess.run(["/bin/sh", str(script)], cwd=intent.parent, capture_output=True, text=True, timeout=HANG_GUARD,
                         env={"PATH": "/usr/bin:/bin", "KUBECTL": str(kubectl), "KUBECTL_LOG": str(log),
                              "CRPD_ROOT_PASSWORD": ROOT_PASSWORD, "TMPDIR": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    calls = log.read_text()
    assert ROOT_PASSWORD not in calls
    assert "-n kube-system create secret generic platter-secrets" in calls and "apply -f -" in calls
    assert (tmp_path / "kubectl.log.root-password").read_text() == ROOT_PASSWORD
    assert (tmp_path / "kubectl.log.crpd-license").read_text() == LICENSE
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("tmp.")]  # the value file is gone


def test_create_secrets_stops_with_a_message_when_a_value_is_missing(tmp_path):
    intent = intent_copy(tmp_path, "reference")
    script = tmp_path / "create-secrets.sh"
    script.write_text(compile_intent(intent, Options()).files["scripts/create-secrets.sh"])
    run = subprocess.run(["/bin/sh", str(script)], cwd=intent.parent, capture_output=True, text=True, timeout=HANG_GUARD,
                         env={"PATH": "/usr/bin:/bin", "KUBECTL": "/bin/false"})
    assert run.returncode != 0
    assert "set CRPD_ROOT_PASSWORD to the root-password value" in run.stderr


def test_inline_secret_files_keep_their_bytes_and_line_ends(tmp_path):
    """CR LF, a lone CR and a missing final newline arrive in the Secret as the file holds them."""
    intent = intent_copy(tmp_path, "inline")
    licence = "line one\r\nline two\rline three"
    (intent.parent / "crpd-license.txt").write_bytes(licence.encode("utf-8"))
    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": ROOT_PASSWORD}))
    assert result.ok, [d.message for d in result.diagnostics]
    secret = pyyaml.safe_load(result.files["manifests/secret-platter-secrets.yaml"])
    assert base64.b64decode(secret["data"]["crpd-license"]) == licence.encode("utf-8")


@pytest.mark.parametrize("content", [b"\xff\xfeJ\x00U\x00N\x00", b"licence \xe9t\xe9\n"], ids=["utf-16", "latin-1"])
def test_a_secret_file_that_is_not_utf8_is_a_clear_error(tmp_path, content):
    intent = intent_copy(tmp_path, "inline")
    (intent.parent / "crpd-license.txt").write_bytes(content)
    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": ROOT_PASSWORD}))
    assert not result.ok and result.files is None
    [d] = [d for d in result.diagnostics if d.is_error]
    assert (d.code, d.path) == ("JCN803", ("secrets", "crpdLicense", "file"))
    assert "crpd-license.txt" in d.message and "not UTF-8" in d.message and "UTF-8" in d.help
    assert [item.line for item in result.located()] and all(item.line > 1 for item in result.located())


def test_the_leak_scan_reads_secret_files_with_their_line_ends(tmp_path):
    """The scan looks for the value the Secret would carry: a CR LF licence is searched with its CRs."""
    intent = intent_copy(tmp_path, "reference")
    licence = "licence line one\r\nlicence line two\r\n"
    (intent.parent / "crpd-license.txt").write_bytes(licence.encode("utf-8"))
    secrets = compile_intent(intent, Options(environ={})).plan.topology.secrets
    values, labels = secretscan.available_values(secrets, intent.parent, {})
    assert values == [licence] and labels == ["`secrets.crpdLicense`"]


@pytest.mark.parametrize("out", [[], ["-o", "elsewhere"]], ids=["default-output", "given-output"])
def test_a_sops_build_is_up_to_date_right_after_it_was_written(tmp_path, fake_sops, out):
    """The previous ciphertext is found in the output folder, also when the CLI picks out/<metadata.name>."""
    import os

    intent = intent_copy(tmp_path, "sops")
    environ = {**os.environ, **fake_sops, "CRPD_ROOT_PASSWORD": ROOT_PASSWORD, "NO_COLOR": "1"}
    for args in (["build", intent.name, *out, "--secret-values"], ["build", intent.name, *out, "--check", "--secret-values"]):
        run = subprocess.run([*JCNRC, *args], cwd=intent.parent, env=environ, capture_output=True, text=True, timeout=HANG_GUARD)
        assert run.returncode == 0, (args, run.stdout, run.stderr)
    assert "up to date" in run.stderr


def test_sops_config_names_the_operators_file_so_the_repository_cannot_pick_recipients(tmp_path, fake_sops):
    """Attack round 2, F3: with --sops-config every sops run gets `--config FILE` (sops then searches no
    `.sops.yaml` in the pull request's tree); a missing file is a usage error before anything runs."""
    import os

    intent = intent_copy(tmp_path, "sops")
    (intent.parent / ".sops.yaml").write_text("creation_rules: [{age: age1attacker}]\n")
    trusted = tmp_path / "trusted" / "sops.yaml"
    trusted.parent.mkdir()
    trusted.write_text("creation_rules: [{age: age1operator}]\n")
    environ = {**os.environ, **fake_sops, "CRPD_ROOT_PASSWORD": ROOT_PASSWORD, "NO_COLOR": "1"}
    for args in (["build", intent.name, "--secret-values", "--sops-config", str(trusted)],
                 ["build", intent.name, "--check", "--secret-values", "--sops-config", str(trusted)]):
        run = subprocess.run([*JCNRC, *args], cwd=intent.parent, env=environ, capture_output=True, text=True, timeout=HANG_GUARD)
        assert run.returncode == 0, (args, run.stdout, run.stderr)
    calls = [json.loads(line) for line in Path(fake_sops["FAKE_SOPS_LOG"]).read_text().splitlines()]
    assert len(calls) >= 2  # an encryption, then --check's decryption
    assert all(call[:2] == ["--config", str(trusted)] for call in calls), calls
    assert any("--decrypt" in call for call in calls) and any("--encrypt" in call for call in calls)

    missing = subprocess.run([*JCNRC, "build", intent.name, "--secret-values", "--sops-config", "nowhere.yaml"],
                             cwd=intent.parent, env=environ, capture_output=True, text=True, timeout=HANG_GUARD)
    assert missing.returncode == 2 and "--sops-config nowhere.yaml: not a file" in missing.stderr
    assert len(Path(fake_sops["FAKE_SOPS_LOG"]).read_text().splitlines()) == len(calls)  # sops never ran
