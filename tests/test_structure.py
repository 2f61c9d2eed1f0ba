"""Structure: pydantic errors become coded diagnostics that say what was expected, with hints."""

from __future__ import annotations

import copy

import pytest

from conftest import ROOT
from jcnrc.intent import names
from jcnrc.intent.load import load_file
from jcnrc.intent.structure import describe, flow_yaml, validate_structure

EXAMPLE = load_file(ROOT / "examples" / "aks-evpn-type5.yaml").data


def errors_after(edit) -> list:
    data = copy.deepcopy(EXAMPLE)
    edit(data)
    topology, diagnostics = validate_structure(data)
    assert topology is None
    return diagnostics


def one(edit):
    diagnostics = errors_after(edit)
    assert len(diagnostics) == 1, [(d.code, d.path, d.message) for d in diagnostics]
    return diagnostics[0]


def test_the_example_is_structurally_valid():
    topology, diagnostics = validate_structure(copy.deepcopy(EXAMPLE))
    assert diagnostics == [] and topology.metadata.name == "aks-evpn-type5"


# --- JCN101 / JCN102: keys ----------------------------------------------------------------------

def test_misspelt_key_gets_a_did_you_mean_and_is_not_also_missing():
    def edit(data):
        data["cluster"]["nodeSubnett"] = data["cluster"].pop("nodeSubnet")
    d = one(edit)
    assert (d.code, d.path, d.at) == ("JCN101", ("cluster", "nodeSubnett"), "key")
    assert d.message == "unknown key `nodeSubnett` in `cluster`"
    assert d.help == "did you mean `nodeSubnet`? (it is required)"


def test_misspelt_optional_key_gets_a_did_you_mean():
    d = one(lambda data: data["vrfs"][0].update(ipv4pool="1.2.0.0/16"))
    assert d.code == "JCN101" and d.help == "did you mean `ipv4Pool`?"


def test_key_at_the_wrong_level_names_where_it_belongs():
    def edit(data):
        data["underlayMtu"] = data["cluster"].pop("underlayMtu")
    d = one(edit)
    assert d.path == ("underlayMtu",)
    assert d.help == "`underlayMtu` belongs at `cluster`; check the indentation of this line"


def test_missing_required_key_points_at_the_mapping_key():
    d = one(lambda data: data["nodes"][1].pop("role"))
    assert (d.code, d.path, d.at) == ("JCN102", ("nodes", 1), "key")
    assert d.message == "missing required key `role` in `nodes[1]`"
    assert d.help == "for example `role: worker`"


def test_several_missing_keys_of_one_mapping_are_one_diagnostic():
    def edit(data):
        del data["cluster"]["podCidr"], data["cluster"]["serviceCidr"]
    d = one(edit)
    assert d.code == "JCN102" and d.path == ("cluster",)
    assert d.message == "`cluster` lacks the required keys `podCidr`, `serviceCidr`"
    assert d.help == "for example `podCidr: 10.244.0.0/16`, `serviceCidr: 10.0.0.0/16`"


def test_missing_mapping_example_is_written_as_yaml_flow():
    d = one(lambda data: data.pop("secrets"))
    assert d.help == "for example `secrets: {rootPassword: {env: CRPD_ROOT_PASSWORD}, crpdLicense: {file: crpd-license.txt}}`"


# --- JCN103: types, integers and strings not interchangeable ----------------------------------

def test_quoted_number_is_refused_with_a_hint():
    d = one(lambda data: data["vrfs"][0].update(vni="10002"))
    assert (d.code, d.path) == ("JCN103", ("vrfs", 0, "vni"))
    assert d.message == '`vrfs[0].vni` must be an integer, found the string "10002"'
    assert d.help == "remove the quotes: numbers are written without them"


def test_number_where_text_is_expected_is_refused():
    d = one(lambda data: data["pods"][0].update(command=["sleep", 3600]))
    assert (d.code, d.path) == ("JCN103", ("pods", 0, "command", 1))
    assert d.help == "put the value in quotes to make it a string"


def test_boolean_is_not_a_number():
    d = one(lambda data: data["cluster"].update(asn=True))
    assert d.code == "JCN103" and "the boolean `true`" in d.message


def test_float_is_not_an_integer():
    d = one(lambda data: data["cluster"].update(underlayMtu=1500.5))
    assert d.code == "JCN103" and d.help == "write a whole number"


def test_address_written_as_integer_is_refused():
    d = one(lambda data: data["nodes"][0].update(address=183500804))
    assert d.code == "JCN103"
    assert d.message == "`nodes[0].address` must be an address written as text, found the integer `183500804`"


def test_route_target_written_as_a_number_asks_for_quotes():
    d = one(lambda data: data["vrfs"][0].update(routeTarget=1111))
    assert (d.code, d.path) == ("JCN103", ("vrfs", 0, "routeTarget"))
    assert "route target written as text" in d.message and d.help.startswith("quote it")


def test_mapping_where_a_list_is_expected_describes_the_items():
    d = one(lambda data: data["pods"][0].update(networks={"vrf": "blue"}))
    assert d.code == "JCN103" and d.message.startswith("`pods[0].networks` must be a list of mappings with keys")
    assert d.help == "start each item with `- `"


# --- JCN104 / JCN105 / JCN106 -----------------------------------------------------------------

def test_wrong_case_of_an_allowed_value_gets_a_did_you_mean():
    d = one(lambda data: data["nodes"][1].update(role="Worker"))
    assert d.code == "JCN104" and d.help == "did you mean `worker`?"
    assert "expected `master`, `worker`" in d.message


@pytest.mark.parametrize("key, value, expected", [
    ("asn", 0, "it must be 1 to 4294967295"),
    ("asn", 4294967296, "it must be 1 to 4294967295"),
    ("underlayMtu", 1000, "it must be 1280 to 9216"),
])
def test_out_of_range_says_the_range(key, value, expected):
    d = one(lambda data: data["cluster"].update({key: value}))
    assert d.code == "JCN105" and d.message.endswith(expected)


def test_vni_range():
    d = one(lambda data: data["vrfs"][0].update(vni=16777216))
    assert d.code == "JCN105" and "1 to 16777215" in d.message and "24 bits" in d.help


def test_other_patterns_explain_what_is_expected():
    d = one(lambda data: data["cluster"].update(kubeConfig="etc/kubelet.conf"))
    assert d.code == "JCN106" and d.help.startswith("expected one of /etc/kubernetes/kubelet.conf")


# --- JCN107 / JCN503: addresses ---------------------------------------------------------------

def test_malformed_address():
    d = one(lambda data: data["nodes"][0].update(address="10.240.0.256"))
    assert d.code == "JCN107" and d.help == "write it like `10.240.0.4`"


def test_pool_with_host_bits_names_the_network():
    d = one(lambda data: data["vrfs"][0].update(ipv4Pool="1.1.3.0/16"))
    assert d.code == "JCN107" and d.help == "write `1.1.0.0/16`"


def test_ipv6_address_under_ipv4_is_a_family_mismatch():
    d = one(lambda data: data["pods"][0]["networks"][0].update(ipv4="abcd::1.1.11.2/126"))
    assert (d.code, d.path) == ("JCN503", ("pods", 0, "networks", 0, "ipv4"))
    assert d.help == "move it to `ipv6`"


def test_ipv4_network_under_ipv6_pool_is_a_family_mismatch():
    d = one(lambda data: data["vrfs"][0].update(ipv6Pool="1.1.0.0/16"))
    assert d.code == "JCN503" and d.help == "move it to `ipv4Pool`"


def test_ipv6_loopback_must_be_ipv6():
    d = one(lambda data: data["nodes"][0].update(ipv6Loopback="10.240.0.4"))
    assert d.code == "JCN503"


# --- JCN109 / JCN110 / JCN801 -----------------------------------------------------------------

def test_secret_needs_exactly_one_source():
    d = one(lambda data: data["secrets"].update(rootPassword={"env": "A", "file": "b"}))
    assert (d.code, d.path) == ("JCN109", ("secrets", "rootPassword"))


def test_expectation_needs_two_names():
    d = one(lambda data: data["expect"][0].update(reach=["ubuntu-du11"]))
    assert d.code == "JCN110" and d.message == "`expect[0].reach` has 1 item; it needs exactly 2 items"


def test_empty_node_list():
    d = one(lambda data: data.update(nodes=[]))
    assert d.code == "JCN110" and "at least 1" in d.message


@pytest.mark.parametrize("value", ["hunter2", 1234, 12.5])
def test_inline_secret_value_is_refused(value):
    d = one(lambda data: data["secrets"].update(rootPassword=value))
    assert (d.code, d.path) == ("JCN801", ("secrets", "rootPassword"))
    assert "`env:`" in d.help or "{env: VARIABLE}" in d.help


# --- JCN2xx: names ------------------------------------------------------------------------------

@pytest.mark.parametrize("path, value, code, reason", [
    (("metadata", "name"), "Corpus", "JCN201", '"Corpus" contains upper-case letters'),
    (("metadata", "name"), "my_topology", "JCN201", "\"my_topology\" contains '_'"),
    (("metadata", "name"), "-x", "JCN201", "starts or ends with '-'"),
    (("nodes", 0, "name"), "node." + "a" * 64, "JCN201", "has a label of 64 characters"),
    (("pods", 0, "node"), "a..b", "JCN201", "has an empty label"),
    # 244 characters: `node-<name>.json` would be 254, longer than a ConfigMap key may be.
    (("nodes", 0, "name"), ".".join(["a" * 63] * 3 + ["b" * 52]), "JCN201",
     "is 244 characters long; the limit is 243: the node's configuration is the ConfigMap key and file `node-<name>.json`"),
    (("pods", 0, "node"), ".".join(["a" * 63] * 3 + ["b" * 61]), "JCN201", "is 253 characters long; the limit is 243"),
    (("pods", 0, "networks", 0, "interface"), "net1-to-blue-vrf", "JCN202", "is 16 bytes long; Linux allows at most 15"),
    (("pods", 0, "networks", 0, "interface"), "éééééééé", "JCN202", "is 16 bytes long"),
    (("pods", 0, "networks", 0, "interface"), "eth0/1", "JCN202", "contains '/'"),
    (("pods", 0, "networks", 0, "interface"), "net 1", "JCN202", "contains whitespace"),
    (("pods", 0, "image"), "Ubuntu:20.04", "JCN203", "upper-case letters in the repository path"),
    (("images", "crpd"), "https://registry/crpd:1", "JCN203", "has a URL scheme"),
    (("images", "crpd"), "crpd@sha256:abc", "JCN203", "malformed digest"),
    (("vrfs", 0, "routeTarget"), "blue:11", "JCN204", ""),
    (("vrfs", 0, "name"), "1blue", "JCN205", "starts with a digit"),
    (("vrfs", 0, "name"), "b" * 32, "JCN205", "is 32 characters long; the limit is 31"),
    (("pods", 0, "networks", 0, "mac"), "02:00:00:00:01", "JCN206", ""),
    (("nodes", 0, "isoLoopback"), "49.0004.0102.4000.0004", "JCN207", ""),
])
def test_name_syntax_has_its_own_code_and_reason(path, value, code, reason):
    def edit(data):
        node = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    diagnostics = [d for d in errors_after(edit) if d.path == path]
    assert len(diagnostics) == 1
    assert diagnostics[0].code == code
    assert reason in diagnostics[0].message
    assert diagnostics[0].help


@pytest.mark.parametrize("reference", [
    "ubuntu", "ubuntu:20.04", "docker.io/library/alpine:3.20", "registry.example.com:5000/team/crpd:23.2R1",
    "Registry.Example.com/crpd:Latest", "crpd@sha256:" + "a" * 64, "localhost/x_y__z-w:1",
])
def test_valid_image_references(reference):
    assert names.image_problem(reference) is None


@pytest.mark.parametrize("text", ["net1", "eth0.100", "data_0", "a" * 15])
def test_valid_interface_names(text):
    assert names.interface_problem(text) is None


def test_node_names_are_subdomains():
    assert names.subdomain_problem("ip-10-0-1-10.ec2.internal") is None
    assert names.node_name_problem("ip-10-0-1-10.ec2.internal") is None
    assert names.node_name_problem(".".join(["a" * 63] * 3 + ["b" * 51])) is None  # 243: the longest
    assert names.is_dns1123_subdomain("a." * 100 + "b")
    assert not names.is_dns1123_subdomain("a" * 64 + ".b")


# --- all errors, helpers ------------------------------------------------------------------------

def test_all_structure_errors_come_in_one_run():
    def edit(data):
        data["vrfs"][0]["vni"] = "10002"
        data["nodes"][1]["role"] = "wrker"
        data["pods"][1]["networks"][0]["interface"] = "x" * 20
        data["kind"] = "Topo"
    codes = sorted(d.code for d in errors_after(edit))
    assert codes == ["JCN103", "JCN104", "JCN104", "JCN202"]


def test_describe_and_flow_yaml():
    assert describe("11:11") == 'the string "11:11"'
    assert describe(None) == "nothing (null)"
    assert describe([1]) == "a list"
    assert flow_yaml({"name": "blue", "routeTarget": "11:11", "on": True}) == '{name: blue, routeTarget: "11:11", on: true}'
