"""The plan stage's and the leak scan's shortcuts give what the plain way gives.

- The lock: from_json keeps the subnets written as jcnrc writes them (`canonical_network`), and the
  allocation reuses their text; other spellings are parsed by ipaddress and written again.
- The node identity check writes a derived IPv6 loopback (abcd::<node address>) from its number.
- The leak scan tests files in batches joined by line breaks, and file by file only in a batch
  that holds a probe.
"""

from __future__ import annotations

import base64
import copy
import json
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jcnrc.intent.model import Topology
from jcnrc.output import secretscan
from jcnrc.plan import allocate
from jcnrc.plan.allocate import Lock
from jcnrc.plan.planner import _DERIVED_IPV6_LOOPBACK, _normal_ipv6, plan
from test_allocate import BASE as ALLOCATE_BASE

# test_allocate's small cluster, with a node whose IPv6 loopback is spelled out.
BASE = {
    **{key: ALLOCATE_BASE[key] for key in ("apiVersion", "kind", "metadata", "cluster", "images")},
    "nodes": [
        {"name": "m1", "address": "10.0.0.1", "role": "master"},
        {"name": "w1", "address": "10.0.0.2", "role": "worker"},
        {"name": "w2", "address": "10.0.0.3", "role": "worker", "ipv6Loopback": "abcd:0::0a00:3"},
    ],
    "vrfs": [{"name": "blue", "ipv4Pool": "1.1.0.0/24", "ipv6Pool": "fd00:1::/120"}],
    "pods": [{"name": f"p{i}", "node": "w1", "image": "alpine:3", "networks": [{"vrf": "blue"}]} for i in range(4)],
    "secrets": {"rootPassword": {"env": "A"}, "crpdLicense": {"env": "B"}},
}

# The lock of BASE's pods: canonical text, and the same networks spelled otherwise (ipaddress reads them).
CANONICAL = {"p0/net1": {"ipv4": "1.1.0.8/30", "ipv6": "fd00:1::8/126"},
             "p1/net1": {"ipv4": "1.1.0.4/30", "ipv6": "fd00:1::4/126"}}
OTHER_SPELLINGS = {"p0/net1": {"ipv4": "1.1.0.8/030", "ipv6": "FD00:1:0::8/126"},
                   "p1/net1": {"ipv4": "1.1.0.4/30", "ipv6": "fd00:0001::4/126"}}


def _lock_text(subnets: dict) -> str:
    return json.dumps({"kind": "AllocationLock", "subnets": subnets})


def _links(lock: Lock) -> dict:
    found = allocate.allocate(Topology.model_validate(copy.deepcopy(BASE)), lock)
    assert not [d for d in found.diagnostics if d.is_error]
    return {key: {f: (link.start, link.prefixlen, link.subnet_text, link.gateway, link.address)
                  for f, link in families.items()} for key, families in found.links.items()}, found.lock


@pytest.mark.parametrize("subnets", [CANONICAL, OTHER_SPELLINGS], ids=["canonical", "other-spellings"])
def test_locked_subnets_are_allocated_as_ipaddress_reads_them(subnets, monkeypatch):
    fast = _links(Lock.from_json(_lock_text(subnets)))
    with monkeypatch.context() as patch:
        patch.setattr(allocate, "canonical_network", lambda version, text: None)  # every subnet read by ipaddress
        plain = _links(Lock.from_json(_lock_text(subnets)))
    assert fast == plain
    links, lock = fast
    assert links["p0/net1"]["ipv4"][2:] == ("1.1.0.8/30", "1.1.0.9", "1.1.0.10")  # kept, written as jcnrc writes it
    assert lock.subnets["p0/net1"] == CANONICAL["p0/net1"] and lock.subnets["p1/net1"] == CANONICAL["p1/net1"]


def test_only_canonical_subnets_are_remembered_as_parsed():
    lock = Lock.from_json(_lock_text(OTHER_SPELLINGS))
    assert lock.networks == {"1.1.0.4/30": (int(IPv4Address("1.1.0.4")), 30)}


@settings(max_examples=300)
@given(st.integers(0, 2**32 - 1))
def test_a_derived_ipv6_loopback_is_written_as_ipaddress_writes_it(number):
    derived = f"abcd::{IPv4Address(number)}"  # as _plan_nodes writes it
    assert allocate.address_text(6, _DERIVED_IPV6_LOOPBACK | number) == _normal_ipv6(derived) == IPv6Address(derived).compressed


def test_derived_and_written_loopbacks_still_collide():
    data = copy.deepcopy(BASE)
    data["nodes"][2]["ipv6Loopback"] = "ABCD:0::A00:2"  # w1's derived abcd::10.0.0.2, spelled otherwise
    planned = plan(Topology.model_validate(data))
    assert [(d.code, d.message) for d in planned.diagnostics if d.code == "JCN512"] == [
        ("JCN512", "node `w2` has the same IPv6 loopback abcd::a00:2 as node `w1`")]


# --- the leak scan's batches ----------------------------------------------------------------------

def file_by_file(files, values, labels=None):
    """secretscan.scan testing every file on its own, as before the batches."""
    needles, encoded = secretscan._needles(values, labels)
    text_probes = secretscan._text_probes([needle.flat for needle in needles])
    base64_probes = secretscan._base64_probes([needle for _, needle in encoded])
    ascii_probes = tuple(probe.encode("ascii") for probe in base64_probes)
    findings = set()
    for path, text in files.items():
        if any(probe in text for probe in text_probes):
            findings.update(secretscan._find_text(path, text, needles))
        if base64_probes and secretscan._maybe_base64(text, base64_probes, ascii_probes):
            findings.update(secretscan._find_base64(path, text, encoded))
    return sorted(findings)


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30) \
    | st.text(alphabet="aA1+/= \n\t\x0b\x1c\u2028\u00a0é", max_size=30)


@settings(max_examples=300)
@given(st.lists(texts, max_size=6), st.text(alphabet="aA1+/=é\u00a0 \n", min_size=1, max_size=8))
def test_a_probe_in_one_compact_file_is_in_the_compact_batch(parts, probe):
    probe = "".join(probe.split()) or "a"  # probes hold no whitespace
    batch = "\n".join(parts)
    ascii_probe = (probe.encode("utf-8"),)
    if any(secretscan._maybe_base64(part, (probe,), ascii_probe) for part in parts):
        assert secretscan._maybe_base64(batch, (probe,), ascii_probe)


@settings(max_examples=200)
@given(st.data())
def test_the_batched_scan_finds_what_the_file_by_file_scan_finds(data):
    value = data.draw(st.sampled_from(["S3cr3t-Passw0rd!", "LICENSE-KEY-0123\nsecond line here\n", "pässwörd-éé-1"]))
    forms = [value, json.dumps(value), base64.b64encode(value.encode()).decode(),
             "\n  ".join(base64.b64encode(b"x" + value.encode()).decode()[i:i + 5] for i in range(0, 40, 5))]
    pieces = data.draw(st.lists(st.sampled_from(forms) | texts, max_size=30))
    files = {f"f{i}": piece for i, piece in enumerate(pieces)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(secretscan, "_BATCH_CHARACTERS", data.draw(st.integers(1, 200)))  # many batches
        assert secretscan.scan(files, [value, "other-value-x"]) == file_by_file(files, [value, "other-value-x"])


def test_only_the_files_of_a_batch_holding_a_probe_are_tested_one_by_one(monkeypatch):
    """Counted, not timed: of 100 clean files and one leak, only the leak's batch is tested file by file."""
    tested = []
    real = secretscan._maybe_base64
    monkeypatch.setattr(secretscan, "_maybe_base64", lambda text, *rest: tested.append(text) or real(text, *rest))
    value = "Correct-Horse-Battery-9"
    files = {f"clean-{i}.yaml": f"name: pod-{i}\nimage: ubuntu:20.04\n" * 500 for i in range(100)}
    files["leak.b64"] = base64.b64encode(value.encode()).decode() + "\n"
    assert {f.path for f in secretscan.scan(files, [value])} == {"leak.b64"}
    batches = list(secretscan._batches(files))
    [holding] = [batch for batch in batches if any(path == "leak.b64" for path, _ in batch)]
    assert len(batches) > 5 and len(holding) < 10
    one_by_one = [path for text in tested for path, content in files.items() if text is content]
    assert sorted(one_by_one) == sorted(path for path, _ in holding)
