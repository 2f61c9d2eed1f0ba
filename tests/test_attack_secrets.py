"""Regression tests for the outside review (issue 13, classes 3 and 4; issue 16 item 6).

3. Secret files were read through links, without a size limit, and FIFOs were opened: a licence
   linked to a host file went into the inline Secret, a link to /dev/zero read until memory ran
   out, a FIFO blocked the build for ever. Secret files are now regular files in the intent's
   folder, reached without following links, of at most 64 KiB (JCN807), in every mode.
4. The leak scan searched for the raw value and its base64 only, so a value escaped by a template
   filter (`Pa'ss` written as `'... Pa''ss'`, a tab written as `\\t`) got through. It now searches
   every form the registered template filters write.
6. In reference mode a value that cannot be read was silently not searched for (JCN918).

The cases that would hang or exhaust memory on a broken reader run in a child process with an
address-space limit and a timeout: the tests below make no timing assertion, the timeout only keeps
a regression from blocking the test run.
"""

from __future__ import annotations

import base64
import contextlib
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml as pyyaml

from conftest import ROOT
from jcnrc.output import secretscan
from jcnrc.output.secretscan import scan
from jcnrc.pipeline import Options, compile_intent
from jcnrc.render.escape import EscapeError

AKS = ROOT / "examples" / "aks-evpn-type5.yaml"
ROOT_PASSWORD = "Pl4nted-R00t-Passw0rd!"
LICENSE = "JUNOS-CRPD-LICENSE E420588955 aeaqic aiagij cfaiaa ibaeaq\nqmaaaa gqbaaq qdaaaa aaaaaa aeaaab\n"
LIMIT = 64 * 1024  # secretscan.MAX_SECRET_FILE_BYTES
HOST_SECRET = "host-only-secret-7f3a9c1e: root:$6$saltsalt$hashhashhash"


def intent_copy(tmp_path: Path, mode: str, command: list[str] | None = None, licence: str | None = LICENSE) -> Path:
    data = pyyaml.safe_load(AKS.read_text())
    # A second route reflector: these tests count every diagnostic, and the walkthrough's lone one warns (JCN922).
    data["nodes"].append({"name": "aks-agentpool-23733201-vmss000009", "address": "10.240.0.13", "role": "master"})
    data["secrets"]["mode"] = mode
    if mode == "external-secrets":
        data["secrets"]["store"] = {"name": "vault", "rootPasswordKey": "crpd/root", "crpdLicenseKey": "crpd/license"}
    if command is not None:
        data["pods"][0]["command"] = command
    intent = tmp_path / "intent" / AKS.name
    intent.parent.mkdir()
    intent.write_text(pyyaml.safe_dump(data, sort_keys=False))
    shutil.copy(AKS.with_name("aks-evpn-type5.lock.json"), intent.with_name("aks-evpn-type5.lock.json"))
    if licence is not None:
        (intent.parent / "crpd-license.txt").write_text(licence)
    return intent


def licence_position(intent: Path) -> tuple[int, int]:
    """Line and column of the `file:` value of `secrets.crpdLicense`."""
    [(number, line)] = [(n, line) for n, line in enumerate(intent.read_text().splitlines(), start=1)
                        if "crpd-license.txt" in line]
    return number, line.index("crpd-license.txt") + 1


def host_file(tmp_path: Path) -> Path:
    outside = tmp_path / "host" / "shadow"
    outside.parent.mkdir()
    outside.write_text(HOST_SECRET)
    return outside


def dummy_sops(tmp_path: Path) -> dict[str, str]:
    """A `sops` on the PATH that must never run: the build stops at the secret file before."""
    folder = tmp_path / "sops-bin"
    folder.mkdir()
    (folder / "sops").write_text("#!/bin/sh\necho 'sops must not run' >&2\nexit 3\n")
    (folder / "sops").chmod(0o755)
    return {"PATH": f"{folder}:/usr/bin:/bin"}


def codes(result) -> list[str]:
    return [item.diagnostic.code for item in result.located()]


def everything_in(result) -> str:
    """Every file and every diagnostic text of a build, to search for a value that must not be there."""
    texts = [*(result.files or {}).values()]
    for item in result.located():
        d = item.diagnostic
        texts += [d.message, d.help or "", *(r.message for r in d.related)]
    return "\n".join(texts)


# --- 3. secret files: links, size, FIFOs, devices -------------------------------------------------

@pytest.mark.parametrize("mode", ["inline", "sops"])
def test_a_licence_linked_to_a_host_file_is_refused_where_it_is_read(tmp_path, mode):
    """The review's reproducer: inline mode put the host file, base64-encoded, into the Secret."""
    intent = intent_copy(tmp_path, mode, licence=None)
    (intent.parent / "crpd-license.txt").symlink_to(host_file(tmp_path))
    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": ROOT_PASSWORD, **dummy_sops(tmp_path)}))
    assert not result.ok and result.files is None
    [refused] = [item for item in result.located() if item.diagnostic.is_error]
    assert refused.diagnostic.code == "JCN807"
    assert refused.diagnostic.path == ("secrets", "crpdLicense", "file")
    assert (refused.line, refused.column) == licence_position(intent)
    assert "symbolic link" in refused.diagnostic.message
    text = everything_in(result)
    assert HOST_SECRET not in text and base64.b64encode(HOST_SECRET.encode()).decode()[:20] not in text


def test_a_linked_folder_below_the_intent_folder_is_refused(tmp_path):
    intent = intent_copy(tmp_path, "inline", licence=None)
    data = pyyaml.safe_load(intent.read_text())
    data["secrets"]["crpdLicense"] = {"file": "keys/crpd-license.txt"}
    intent.write_text(pyyaml.safe_dump(data, sort_keys=False))
    elsewhere = host_file(tmp_path).parent
    (elsewhere / "crpd-license.txt").write_text(HOST_SECRET)
    (intent.parent / "keys").symlink_to(elsewhere, target_is_directory=True)
    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": ROOT_PASSWORD}))
    assert result.files is None and codes(result) == ["JCN807"]
    assert "`keys` is a symbolic link" in result.diagnostics[0].message
    assert HOST_SECRET not in everything_in(result)


def test_a_real_subfolder_below_the_intent_folder_is_fine(tmp_path):
    intent = intent_copy(tmp_path, "inline", licence=None)
    data = pyyaml.safe_load(intent.read_text())
    data["secrets"]["crpdLicense"] = {"file": "keys/./crpd-license.txt"}
    intent.write_text(pyyaml.safe_dump(data, sort_keys=False))
    (intent.parent / "keys").mkdir()
    (intent.parent / "keys" / "crpd-license.txt").write_text(LICENSE)
    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": ROOT_PASSWORD}))
    assert result.ok, [d.message for d in result.diagnostics]
    secret = pyyaml.safe_load(result.files["manifests/secret-platter-secrets.yaml"])
    assert base64.b64decode(secret["data"]["crpd-license"]).decode() == LICENSE


def test_the_intent_folder_itself_may_be_a_link(tmp_path):
    """Only the components below the intent's folder must not be links."""
    intent = intent_copy(tmp_path, "inline")
    linked = tmp_path / "linked-intent-folder"
    linked.symlink_to(intent.parent, target_is_directory=True)
    result = compile_intent(linked / intent.name, Options(environ={"CRPD_ROOT_PASSWORD": ROOT_PASSWORD}))
    assert result.ok, [d.message for d in result.diagnostics]


@pytest.mark.parametrize("size,accepted", [(LIMIT, True), (LIMIT + 1, False)])
def test_secret_files_are_capped_at_64_kib(tmp_path, size, accepted):
    intent = intent_copy(tmp_path, "inline", licence=None)
    (intent.parent / "crpd-license.txt").write_bytes(b"L" * size)
    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": ROOT_PASSWORD}))
    if accepted:
        assert result.ok, [d.message for d in result.diagnostics]
    else:
        assert result.files is None and codes(result) == ["JCN807"]
        assert "larger than 65,536 bytes" in result.diagnostics[0].message


def test_the_reader_reads_at_most_one_byte_over_the_limit(tmp_path):
    assert secretscan.MAX_SECRET_FILE_BYTES == LIMIT
    (tmp_path / "big").write_bytes(b"x" * 1000)
    with pytest.raises(secretscan.SecretFileError) as raised:
        secretscan.read_secret_file(tmp_path, "big", limit=10)
    assert raised.value.refused and "larger than 10 bytes" in str(raised.value)
    assert secretscan.read_secret_file(tmp_path, "big", limit=1000) == b"x" * 1000


@pytest.mark.parametrize("name", ["../outside", "/etc/passwd", "", "a/../../b"])
def test_the_reader_refuses_paths_that_leave_the_folder(tmp_path, name):
    with pytest.raises(secretscan.SecretFileError) as raised:
        secretscan.read_secret_file(tmp_path / "in", name)
    assert raised.value.refused


def test_the_leak_scan_does_not_read_through_a_link_either(tmp_path):
    """Reference mode: the value is read only to scan for it; a linked file is not read, and the
    build says that the output was not checked for it."""
    intent = intent_copy(tmp_path, "reference", licence=None)
    (intent.parent / "crpd-license.txt").symlink_to(host_file(tmp_path))
    secrets = compile_intent(intent, Options(environ={})).plan.topology.secrets
    found = secretscan.read_values(secrets, intent.parent, {"CRPD_ROOT_PASSWORD": ROOT_PASSWORD})
    assert found.values == [ROOT_PASSWORD]
    [unchecked] = found.unchecked
    assert (unchecked.key, unchecked.source) == ("crpdLicense", "file") and "symbolic link" in unchecked.reason
    assert secretscan.available_values(secrets, intent.parent, {"CRPD_ROOT_PASSWORD": ROOT_PASSWORD}) == (
        [ROOT_PASSWORD], ["`secrets.rootPassword`"])


CHILD = r"""
import json, resource, sys
from pathlib import Path
# A reader that reads /dev/zero stops at MemoryError here instead of taking the machine's memory.
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from jcnrc.pipeline import Options, compile_intent
result = compile_intent(Path(sys.argv[1]), Options(environ=json.loads(sys.argv[2])))
print(json.dumps({"written": result.files is not None,
                  "diagnostics": [[i.diagnostic.code, i.line, i.column, i.diagnostic.message] for i in result.located()]}))
"""


def compile_in_child(intent: Path, environ: dict[str, str]) -> dict:
    run = subprocess.run([sys.executable, "-c", CHILD, str(intent), json.dumps(environ)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300,  # a guard against a hang, not a measurement
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


@pytest.fixture(params=["fifo", "dev-zero-link", "folder"])
def special_licence(request, tmp_path):
    """crpd-license.txt as something that is not a regular file."""
    def make(intent: Path) -> str:
        path = intent.parent / "crpd-license.txt"
        path.unlink(missing_ok=True)
        if request.param == "fifo":
            os.mkfifo(path)
            return "FIFO"
        if request.param == "dev-zero-link":
            path.symlink_to("/dev/zero")
            return "symbolic link"
        path.mkdir()
        return "folder"
    return make


@pytest.mark.parametrize("mode", ["inline", "sops"])
def test_a_fifo_or_a_device_is_refused_without_blocking_or_reading_it(tmp_path, special_licence, mode):
    intent = intent_copy(tmp_path, mode)
    what = special_licence(intent)
    outcome = compile_in_child(intent, {"CRPD_ROOT_PASSWORD": ROOT_PASSWORD, **dummy_sops(tmp_path)})
    assert not outcome["written"]
    [[code, line, column, message]] = outcome["diagnostics"]
    assert code == "JCN807" and (line, column) == licence_position(intent) and what in message


@pytest.mark.parametrize("mode", ["reference", "external-secrets"])
def test_the_leak_scan_neither_blocks_on_a_fifo_nor_reads_a_device(tmp_path, special_licence, mode):
    intent = intent_copy(tmp_path, mode)
    what = special_licence(intent)
    outcome = compile_in_child(intent, {"CRPD_ROOT_PASSWORD": ROOT_PASSWORD})
    assert outcome["written"]
    [[code, line, column, message]] = outcome["diagnostics"]
    assert code == "JCN918" and (line, column) == licence_position(intent) and what in message


# --- 4. the leak scan finds escaped forms ---------------------------------------------------------

@pytest.mark.parametrize("password", ["Pa'ss-w0rd-Zq9", "Pa\tss-w0rd-Zq9", "Pa\u2028ss-w0rd-Zq9"],
                         ids=["single-quote", "tab", "line-separator"])
def test_a_password_escaped_in_a_pod_command_is_refused(tmp_path, password):
    """The review's reproducer: `'login root Pa''ss-w0rd-Zq9'` was written; the value without the
    quote was refused (JCN805), the value with it was not."""
    intent = intent_copy(tmp_path, "reference", command=["sh", "-c", f"login root {password}"])
    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": password}))
    assert result.files is None
    leaks = [item.diagnostic for item in result.located() if item.diagnostic.code == "JCN805"]
    assert leaks and all(d.path == ("secrets", "rootPassword") for d in leaks)
    assert any("manifests/deployment-" in d.message and "escaped" in d.message for d in leaks)
    assert all(password not in d.message for d in leaks)


def test_the_same_command_without_the_password_builds(tmp_path):
    intent = intent_copy(tmp_path, "reference", command=["sh", "-c", "login root Pa'ss-w0rd-Zq9"])
    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": "An0ther'Passw0rd"}))
    assert result.ok and result.files, [d.message for d in result.diagnostics]


HOSTILE = [
    "Pa'ss-w0rd-Zq9",
    "Pa\tss-w0rd-Zq9",
    'q"u\\o\'te$ `x yé€😀 {{ }}',
    "Pl4nted-R00t-Passw0rd!",
    "Id3ntifier:Passw0rd/x*",  # one that junos_id writes
    "pass word with spaces",
    "<&>#;{}[]|=,%",
    "sep\u2028ara\u0085tor\u202e",
    LICENSE,
    "licence\r\nwith CR LF\r\n",
]
# The value alone, at the start, inside, at the end of a longer string, on a line of its own.
AROUND = [("", ""), ("login root ", ""), ("x=", " tail"), ("", "; next"), ("a\n", "\nb")]


def registered_filters() -> dict[str, object]:
    """Every filter jcnrc registers in the template environments, beyond Jinja's own."""
    import jinja2

    from jcnrc.render.templates import Templates

    templates = Templates(None)
    builtin = set(jinja2.Environment().filters)
    found: dict[str, object] = {}
    for env in (templates.text, templates.go_template):
        found.update({name: function for name, function in env.filters.items() if name not in builtin})
    return found


def calls(function) -> list[tuple]:
    """The argument lists the templates call a filter with: the value alone, and with one more
    positional argument (`yaml_block(4)`, `json(2)`) when it takes one."""
    parameters = [p for p in inspect.signature(function).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in parameters if p.default is p.empty]
    extra = [(4,)] if len(parameters) > 1 else []
    return extra if len(required) > 1 else [(), *extra]


def written_by(function, text: str) -> list[str]:
    out = []
    for arguments in calls(function):
        with contextlib.suppress(EscapeError):  # the filter refuses the text: no template can write it
            out.append(function(text, *arguments))
    return out


def test_the_scan_derives_its_forms_from_exactly_the_registered_filters():
    from jcnrc.render.templates import FILTERS

    assert registered_filters() == dict(FILTERS)
    assert secretscan._filters() is FILTERS


@pytest.mark.parametrize("name", sorted(registered_filters()))
def test_a_value_through_any_registered_filter_is_caught(name):
    function = registered_filters()[name]
    caught = 0
    for value in HOSTILE:
        for before, after in AROUND:
            for written in written_by(function, before + value + after):
                files = {"out.yaml": f"key: {written}\n", "out.sh": f"echo {written}\n"}
                assert scan(files, [value], ["`secrets.rootPassword`"]), (name, value, before, after, written)
                caught += 1
    assert caught, f"the filter {name} wrote none of the values: test it with others"


@pytest.mark.parametrize("first", sorted(registered_filters()))
def test_a_value_through_any_two_registered_filters_is_caught(first):
    """`json | yaml` is what the templates do (NAD configs); every other pair is covered too."""
    filters = registered_filters()
    for second_name, second in sorted(filters.items()):
        if first == second_name == "b64":
            continue  # a value base64-encoded twice is not searched for: nothing encodes twice
        for value in HOSTILE:
            for before, after in AROUND[:3]:
                for once in written_by(filters[first], before + value + after):
                    for twice in written_by(second, "pre " + once):
                        assert scan({"f": f"k: {twice}\n"}, [value]), (first, second_name, value, before, twice)


def test_escaped_findings_name_the_filter_and_never_the_value():
    value = "Pa'ss-w0rd-Zq9"
    [finding] = scan({"pod.yaml": "command: [sh, -c, 'login root Pa''ss-w0rd-Zq9']\n"}, [value], ["`secrets.rootPassword`"])
    assert (finding.line, finding.column, finding.encoding, finding.via) == (1, 31, "escaped", "yaml")
    assert value not in finding.message() and "Pa''ss" not in finding.message()
    assert finding.message() == ("pod.yaml:1:31: the value of `secrets.rootPassword` appears escaped, as `yaml` writes it")


def test_a_value_without_special_characters_is_searched_for_as_before():
    """Escaping changes nothing in a plain value: no extra form, no extra cost."""
    assert list(secretscan._text_forms("PlainPassw0rd")) == ["PlainPassw0rd"]


def test_escaped_forms_raise_no_false_alarm_on_the_examples(compiled_examples):
    for result in compiled_examples.values():
        assert scan(result.files, HOSTILE) == []


# --- 6. values the scan cannot look for --------------------------------------------------------------

@pytest.mark.parametrize("mode", ["reference", "external-secrets"])
def test_a_value_that_cannot_be_read_is_reported_as_not_checked(tmp_path, mode):
    intent = intent_copy(tmp_path, mode, licence=None)
    result = compile_intent(intent, Options(environ={}))
    assert result.ok and result.files  # a warning: these modes do not need the values
    [item] = [i for i in result.located() if i.diagnostic.code == "JCN918"]
    d = item.diagnostic
    assert d.severity == "warning" and d.path == ("secrets", "rootPassword", "env")
    assert "CRPD_ROOT_PASSWORD is not set" in d.message and "crpd-license.txt" in d.message
    assert [r.path for r in d.related] == [("secrets", "crpdLicense", "file")]


def test_one_missing_value_names_only_that_one(tmp_path):
    intent = intent_copy(tmp_path, "reference")
    result = compile_intent(intent, Options(environ={}))
    [d] = [d for d in result.diagnostics if d.code == "JCN918"]
    assert d.message == "the output was not checked for the value of `secrets.rootPassword`: CRPD_ROOT_PASSWORD is not set"
    assert d.related == ()


def test_no_warning_when_every_value_was_checked(tmp_path):
    intent = intent_copy(tmp_path, "reference")
    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": ROOT_PASSWORD}))
    assert result.ok and result.diagnostics == []


def test_inline_mode_reads_what_it_needs_and_says_nothing_about_the_scan(tmp_path):
    intent = intent_copy(tmp_path, "inline")
    result = compile_intent(intent, Options(environ={"CRPD_ROOT_PASSWORD": ROOT_PASSWORD}))
    assert result.ok and result.diagnostics == []


def test_the_address_space_limit_of_the_child_is_not_what_fails(tmp_path):
    """The child's limit leaves room for an ordinary build: a failure above is the reader's."""
    intent = intent_copy(tmp_path, "inline")
    outcome = compile_in_child(intent, {"CRPD_ROOT_PASSWORD": ROOT_PASSWORD})
    assert outcome == {"written": True, "diagnostics": []}
