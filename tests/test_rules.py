"""Semantic rules: one code per check, pointing at the offending item, with related places and hints."""

from __future__ import annotations

import copy
from ipaddress import ip_network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, call_count
from jcnrc.diagnostics import format_text, locate
from jcnrc.intent.check import check
from jcnrc.intent.load import load_bytes, load_file
from jcnrc.intent.model import Vrf
from jcnrc.intent.rules import overlapping, route_tables, targets_of
from jcnrc.plan.planner import plan

EXAMPLE_FILE = ROOT / "examples" / "aks-evpn-type5.yaml"
EXAMPLE = load_file(EXAMPLE_FILE).data
W1, W2 = "aks-agentpool-23733201-vmss000001", "aks-agentpool-23733201-vmss000002"


# The walkthrough has one route reflector, which every check warns about (JCN922: its own tests
# are test_a_lone_route_reflector_is_a_warning and the corpus): left out of the other tests' lists.
LONE_RR = "JCN922"


def diagnostics_after(edit) -> list:
    data = copy.deepcopy(EXAMPLE)
    edit(data)
    return [d for d in check(data).diagnostics if d.code != LONE_RR]


def only(edit, code: str):
    found = diagnostics_after(edit)
    assert [d.code for d in found] == [code], [(d.code, d.path, d.message) for d in found]
    return found[0]


def red(**extra) -> dict:
    return {"name": "red", "routeTarget": "12:12", "vni": 10003, "ipv4Pool": "2.2.0.0/16", **extra}


def move_pod_b_to(vrf: str, ipv4: str):
    def edit(data):
        data["pods"][1]["networks"][0] = {"vrf": vrf, "interface": "net1", "ipv4": ipv4}
        data["expect"] = []
    return edit


def test_the_example_checks_clean():
    checked = check(copy.deepcopy(EXAMPLE))
    assert checked.ok and [d.code for d in checked.diagnostics] == [LONE_RR]


def test_a_lone_route_reflector_is_a_warning_and_a_second_one_ends_it():
    [lone] = [d for d in check(copy.deepcopy(EXAMPLE)).diagnostics if d.code == LONE_RR]
    assert lone.severity == "warning" and lone.path == ("nodes", 0, "role")
    assert "graceful restart keeps the routes while its cRPD restarts" in lone.message
    data = copy.deepcopy(EXAMPLE)
    data["nodes"].append({"name": "rr-2", "address": "10.240.0.13", "role": "master"})
    assert check(data).diagnostics == []


# --- roles ------------------------------------------------------------------------------------

def test_no_master():
    d = only(lambda data: data["nodes"][0].update(role="worker"), "JCN301")
    assert (d.path, d.at) == (("nodes",), "key") and "DESIRED 0" in d.help


def test_no_worker():
    def edit(data):
        for node in data["nodes"]:
            node["role"] = "master"
        data["pods"], data["expect"], data["vrfs"] = [], [], []
    assert only(edit, "JCN302").path == ("nodes",)


def test_roles_are_not_judged_while_a_node_entry_is_broken():
    found = diagnostics_after(lambda data: data["nodes"][0].update(role="Master"))
    assert [d.code for d in found] == ["JCN104"]


def test_unknown_node_gets_a_did_you_mean():
    d = only(lambda data: data["pods"][0].update(node="aks-agentpool-23733201-vmss00001"), "JCN303")
    assert d.path == ("pods", 0, "node") and d.help == f"did you mean `{W1}`?"


def test_unknown_node_without_anything_close_lists_the_nodes():
    d = only(lambda data: data["pods"][0].update(node="elsewhere"), "JCN303")
    assert d.help.startswith("defined nodes: `aks-agentpool-23733201-vmss000000`")


def test_pod_on_a_node_whose_entry_is_broken_is_not_reported_again():
    found = diagnostics_after(lambda data: data["nodes"][1].update(address="10.240.0.999"))
    assert [d.code for d in found] == ["JCN107"]


def test_pod_on_a_master_names_the_role():
    d = only(lambda data: data["pods"][1].update(node="aks-agentpool-23733201-vmss000000"), "JCN304")
    assert d.path == ("pods", 1, "node")
    assert [(r.message, r.path) for r in d.related] == [("the node's role is set", ("nodes", 0, "role"))]


def test_unknown_vrf_gets_a_did_you_mean_even_when_the_vrf_entry_is_broken():
    def edit(data):
        data["vrfs"][0]["vni"] = "10002"  # the VRF entry fails structure checking...
        data["pods"][1]["networks"][0]["vrf"] = "bleu"  # ...but its name is still a candidate
    found = diagnostics_after(edit)
    assert [(d.code, d.help) for d in found if d.code == "JCN305"] == [("JCN305", "did you mean `blue`?")]


def test_expectation_naming_nothing():
    d = only(lambda data: data["expect"][0].update(reach=["ubuntu-du11", "ubuntu-du33"]), "JCN306")
    assert d.path == ("expect", 0, "reach", 1) and d.help == "did you mean `ubuntu-du11`?"


# --- uniqueness -------------------------------------------------------------------------------

def test_duplicate_node_name_points_at_the_second_and_names_the_first():
    d = only(lambda data: data["nodes"].append({"name": W1, "address": "10.240.0.9", "role": "worker"}), "JCN401")
    assert d.path == ("nodes", 3, "name")
    assert [(r.message, r.path) for r in d.related] == [("first defined", ("nodes", 1, "name"))]


def test_duplicate_node_address():
    d = only(lambda data: data["nodes"][2].update(address="10.240.0.5"), "JCN402")
    assert d.path == ("nodes", 2, "address") and d.related[0].path == ("nodes", 1, "address")


def test_duplicate_vrf_name_keeps_the_first_definition_for_references():
    d = only(lambda data: data["vrfs"].append(red(name="blue")), "JCN403")
    assert d.path == ("vrfs", 1, "name")


def test_duplicate_vni_with_the_same_targets():
    def edit(data):
        data["vrfs"].append(red(routeTarget="11:11", vni=10002))
        move_pod_b_to("red", "2.2.22.2/30")(data)
    d = only(edit, "JCN404")
    assert d.path == ("vrfs", 1, "vni") and d.related[0].path == ("vrfs", 0, "vni")


def test_duplicate_vni_with_derived_targets_is_one_network():
    def edit(data):
        del data["vrfs"][0]["routeTarget"]
        data["vrfs"].append(red(vni=10002))
        del data["vrfs"][1]["routeTarget"]
        move_pod_b_to("red", "2.2.22.2/30")(data)
    assert only(edit, "JCN404").path == ("vrfs", 1, "vni")


def test_duplicate_pod_name():
    def edit(data):
        data["pods"][1]["name"] = "ubuntu-du11"
        data["expect"] = []
    assert only(edit, "JCN405").path == ("pods", 1, "name")


def test_duplicate_interface_counts_default_names():
    d = only(lambda data: data["pods"][0]["networks"].append({"vrf": "blue"}) or
             data["pods"][0]["networks"][0].update(interface="net2"), "JCN406")
    assert d.path == ("pods", 0, "networks", 1, "interface")
    assert d.message == "duplicate interface name `net2` in pod `ubuntu-du11`"


def test_duplicate_mac_is_case_insensitive():
    def edit(data):
        data["pods"][0]["networks"][0]["mac"] = "02:AA:00:00:00:01"
        data["pods"][1]["networks"][0]["mac"] = "02:aa:00:00:00:01"
    assert only(edit, "JCN407").path == ("pods", 1, "networks", 0, "mac")


def test_multicast_mac():
    d = only(lambda data: data["pods"][0]["networks"][0].update(mac="01:00:5e:00:00:01"), "JCN206")
    assert "multicast" in d.message


def test_duplicate_route_distinguisher():
    def edit(data):
        data["vrfs"][0]["routeDistinguisherId"] = 7
        data["vrfs"].append(red(routeDistinguisherId=7))
        move_pod_b_to("red", "2.2.22.2/30")(data)
    assert only(edit, "JCN408").path == ("vrfs", 1, "routeDistinguisherId")


# --- addresses --------------------------------------------------------------------------------

def test_node_outside_node_subnet():
    d = only(lambda data: data["nodes"][2].update(address="10.241.0.6"), "JCN501")
    assert d.path == ("nodes", 2, "address") and "10.240.0.0/16" in d.message


def test_node_on_the_network_address():
    assert only(lambda data: data["nodes"][2].update(address="10.240.0.0"), "JCN501").path == ("nodes", 2, "address")


def test_pod_outside_pool_names_the_pool():
    d = only(lambda data: data["pods"][1]["networks"][0].update(ipv4="1.2.22.2/30"), "JCN502")
    assert d.related[0].path == ("vrfs", 0, "ipv4Pool")


def test_reserved_link_addresses():
    for address, what in (("1.1.22.0/30", "the network address"), ("1.1.22.1/30", "the gateway"),
                          ("1.1.22.3/30", "the broadcast")):
        d = only(lambda data, a=address: data["pods"][1]["networks"][0].update(ipv4=a), "JCN504")
        assert what in d.message and d.help.endswith("give the pod 1.1.22.2/30")


def test_ipv6_link_has_no_broadcast_but_a_gateway():
    d = only(lambda data: data["pods"][1]["networks"][0].update(ipv6="abcd::1.1.22.1/126"), "JCN504")
    assert "gateway" in d.message
    assert diagnostics_after(lambda data: data["pods"][1]["networks"][0].update(ipv6="abcd::1.1.22.3/126")) == []


def test_overlap_inside_one_vrf_reports_the_later_one():
    d = only(lambda data: data["pods"][1]["networks"][0].update(ipv4="1.1.11.6/29"), "JCN505")
    assert d.path == ("pods", 1, "networks", 0, "ipv4")
    assert d.related[0].path == ("pods", 0, "networks", 0, "ipv4")
    assert "in VRF `blue`" in d.message


def test_overlap_across_a_vrf_that_imports_the_other():
    def edit(data):
        data["vrfs"].append(red(routeTarget={"import": ["11:11"], "export": ["12:12"]}, ipv4Pool="1.1.0.0/16"))
        move_pod_b_to("red", "1.1.11.2/30")(data)
    d = only(edit, "JCN505")
    assert "whose routes VRF `red` installs" in d.message


def test_overlap_in_a_third_vrfs_table():
    def edit(data):
        data["vrfs"] = [
            {"name": "hub", "routeTarget": {"import": ["1:1", "1:2"], "export": ["1:0"]}, "ipv4Pool": "9.0.0.0/24"},
            {"name": "a", "routeTarget": {"import": ["1:0"], "export": ["1:1"]}, "ipv4Pool": "9.1.0.0/24"},
            {"name": "b", "routeTarget": {"import": ["1:0"], "export": ["1:2"]}, "ipv4Pool": "9.1.0.0/24"},
        ]
        data["pods"][0]["networks"] = [{"vrf": "a", "ipv4": "9.1.0.2/30"}]
        data["pods"][1]["networks"] = [{"vrf": "b", "ipv4": "9.1.0.2/30"}]
        data["expect"] = []
    d = only(lambda data: edit(data) or data["pods"].append(
        {"name": "svc", "node": W1, "image": "nginx", "networks": [{"vrf": "hub"}]}), "JCN505")
    assert "both are installed in VRF `hub`'s table" in d.message


def test_isolated_vrfs_may_reuse_addresses():
    def edit(data):
        data["vrfs"].append(red(ipv4Pool="1.1.0.0/16"))
        move_pod_b_to("red", "1.1.11.2/30")(data)
    assert diagnostics_after(edit) == []


def test_pool_overlapping_a_cluster_range():
    for key, pool in (("nodeSubnet", "10.240.128.0/17"), ("podCidr", "10.244.0.0/24"), ("serviceCidr", "10.0.0.0/8")):
        def edit(data, pool=pool):
            data["vrfs"][0]["ipv4Pool"] = pool
            for pod in data["pods"]:
                del pod["networks"][0]["ipv4"]
        found = [d for d in diagnostics_after(edit) if d.code == "JCN506"]
        assert any(d.related[0].path == ("cluster", key) for d in found), (key, found)
        assert all(d.path == ("vrfs", 0, "ipv4Pool") for d in found)


def test_address_of_a_family_without_pool():
    d = only(lambda data: data["vrfs"][0].pop("ipv6Pool") and data["pods"][1]["networks"][0].pop("ipv6") and None, "JCN507")
    assert d.path == ("pods", 0, "networks", 0, "ipv6")


def test_link_subnet_too_small():
    d = only(lambda data: data["pods"][1]["networks"][0].update(ipv4="1.1.22.2/31"), "JCN509")
    assert "1.1.22.2/30" in d.help


# --- MTU --------------------------------------------------------------------------------------

def test_mtu_above_underlay_minus_vxlan():
    d = only(lambda data: data["pods"][0]["networks"][0].update(mtu=1451), "JCN601")
    assert "1450" in d.message and d.related[0].path == ("cluster", "underlayMtu")
    assert diagnostics_after(lambda data: data["pods"][0]["networks"][0].update(mtu=1450)) == []


def test_mtu_below_the_ipv6_minimum():
    assert only(lambda data: data["pods"][0]["networks"][0].update(mtu=1279), "JCN602").path[-1] == "mtu"


# --- route targets ----------------------------------------------------------------------------

def test_route_target_ranges():
    d = only(lambda data: data["vrfs"][0].update(routeTarget="4200000000:70000"), "JCN204")
    assert "at most 65535" in d.message
    d = only(lambda data: data["vrfs"][0].update(routeTarget={"import": ["11:11"], "export": ["0:5"]}), "JCN204")
    assert d.path == ("vrfs", 0, "routeTarget", "export", 0)


def test_same_targets_different_vnis():
    def edit(data):
        data["vrfs"].append(red(routeTarget="target:11:11"))
        move_pod_b_to("red", "2.2.22.2/30")(data)
    d = only(edit, "JCN701")
    assert d.path == ("vrfs", 1, "routeTarget") and "VNI 10003 instead of VNI 10002" in d.message


def test_same_targets_and_an_allocated_vni():
    def edit(data):
        data["vrfs"].append(red(routeTarget="11:11"))
        del data["vrfs"][1]["vni"]
        move_pod_b_to("red", "2.2.22.2/30")(data)
    assert "an allocated VNI" in only(edit, "JCN701").message


def test_same_vni_different_targets():
    def edit(data):
        data["vrfs"].append(red(vni=10002))
        move_pod_b_to("red", "2.2.22.2/30")(data)
    d = only(edit, "JCN702")
    assert d.path == ("vrfs", 1, "vni") and d.related[0].path == ("vrfs", 0, "vni")


def test_targets_of_canonicalises_and_derives():
    vrf = Vrf.model_validate({"name": "a", "routeTarget": "target:11:11"})
    assert targets_of(vrf) == (frozenset({"target:11:11"}), frozenset({"target:11:11"}))
    derived = Vrf.model_validate({"name": "a", "vni": 7})
    assert targets_of(derived) is None
    from jcnrc.intent.model import Cluster
    cluster = Cluster.model_validate({"provider": "aks", "asn": 64512, "nodeSubnet": "10.0.0.0/8",
                                      "podCidr": "172.16.0.0/16", "serviceCidr": "172.17.0.0/16"})
    assert targets_of(derived, cluster) == (frozenset({"target:64512:7"}),) * 2


def test_route_tables_follow_exports_to_importers():
    vrfs = [Vrf.model_validate(v) for v in (
        {"name": "hub", "routeTarget": {"import": ["1:1"], "export": ["1:0"]}},
        {"name": "spoke", "routeTarget": {"import": ["1:0"], "export": ["1:1"]}},
        {"name": "alone", "routeTarget": "9:9"},
    )]
    tables = route_tables(list(enumerate(vrfs)))
    assert tables == {"hub": frozenset({"hub", "spoke"}), "spoke": frozenset({"spoke", "hub"}), "alone": frozenset({"alone"})}


def test_overlapping_sweep_finds_nested_and_skips_unrelated():
    entries = [(ip_network("10.0.0.0/24"), "a", (0,)), (ip_network("10.0.0.8/30"), "a", (1,)),
               (ip_network("10.0.0.4/30"), "b", (2,)), (ip_network("10.0.1.0/30"), "a", (3,))]
    pairs = list(overlapping(entries, lambda x, y: x == y))
    assert [(e[2], o[2]) for e, o in pairs] == [((1,), (0,))]


# --- secrets and warnings ---------------------------------------------------------------------

def test_external_secrets_needs_a_store():
    assert only(lambda data: data["secrets"].update(mode="external-secrets"), "JCN802").path == ("secrets", "mode")


def test_store_without_external_secrets_is_a_warning():
    d = only(lambda data: data["secrets"].update(store={"name": "vault", "rootPasswordKey": "a", "crpdLicenseKey": "b"}),
             "JCN915")
    assert d.severity == "warning" and d.at == "key"


def test_vrf_without_pods_is_a_warning():
    d = only(lambda data: data["vrfs"].append(red()), "JCN910")
    assert d.severity == "warning" and d.path == ("vrfs", 1, "name")


def test_worker_without_pods_is_a_warning():
    d = only(lambda data: data["nodes"].append({"name": "spare", "address": "10.240.0.7", "role": "worker"}), "JCN911")
    assert d.severity == "warning" and d.path == ("nodes", 3, "name")


def test_oversized_pool_is_a_warning_with_a_size_that_fits():
    def edit(data):
        data["vrfs"][0]["ipv4Pool"] = "1.0.0.0/8"
    d = only(edit, "JCN912")
    assert d.severity == "warning" and "a /27 holds them" in d.help


def test_idle_worker_is_not_reported_when_the_pod_was_misplaced():
    found = diagnostics_after(lambda data: data["pods"][1].update(node="aks-agentpool-23733201-vmss000000"))
    assert [d.code for d in found] == ["JCN304"]


def test_usage_warnings_wait_until_the_items_are_valid():
    found = diagnostics_after(lambda data: data["pods"][1].update(image="Ubuntu"))
    assert [d.code for d in found] == ["JCN203"]


# --- all errors in one run, never a traceback, linear -----------------------------------------

def test_every_problem_is_reported_in_one_run_sorted_by_position():
    def edit(data):
        data["nodes"][2]["address"] = "10.241.0.6"
        data["pods"][0]["node"] = "nowhere"
        data["pods"][1]["networks"][0]["ipv4"] = "1.1.22.1/30"
        data["vrfs"][0]["routeTarget"] = "0:1"
    text = EXAMPLE_FILE.read_text(encoding="utf-8")
    loaded = load_bytes(text.encode(), "t.yaml")
    data = copy.deepcopy(loaded.data)
    edit(data)
    found = [d for d in check(data).diagnostics if d.code != LONE_RR]
    assert sorted(d.code for d in found) == ["JCN204", "JCN303", "JCN501", "JCN504"]
    lines = [item.line for item in locate(found, loaded.source)]
    assert lines == sorted(lines) == [24, 27, 33, 41]


JUNK = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**40), st.floats(allow_nan=False), st.text(max_size=12),
                 st.sampled_from(["10.0.0.1", "1.1.0.0/16", "abcd::1/126", "11:11", "master", "blue", "net1", W1]),
                 st.lists(st.text(max_size=4), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


ALL_PATHS = [p for p in _paths(EXAMPLE) if p]


@settings(max_examples=150)  # derandomized: the same 150 mutations every run
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), st.sampled_from(["set", "delete", "rename"]), JUNK),
                min_size=1, max_size=4))
def test_mutated_example_gives_only_diagnostics(mutations):
    data = copy.deepcopy(EXAMPLE)
    for path, action, value in mutations:
        parent = data
        try:
            for part in path[:-1]:
                parent = parent[part]
            if action == "set":
                parent[path[-1]] = value
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[str(path[-1]) + "x"] = parent.pop(path[-1])
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the place
    source = load_file(EXAMPLE_FILE).source
    checked = check(data)
    found = list(checked.diagnostics)
    if checked.ok:
        found += plan(checked.topology, None).diagnostics
    for item in locate(found, source):
        assert item.diagnostic.code.startswith("JCN") and item.line >= 1 and item.column >= 1
        format_text(item)


def big_intent(workers: int, pods: int) -> dict:
    nodes = [{"name": "master-0", "address": "10.0.0.1", "role": "master"}]
    nodes += [{"name": f"worker-{i}", "address": f"10.{1 + i // 250}.{i % 250}.10", "role": "worker"} for i in range(workers)]
    vrfs = [{"name": f"vrf-{v}", "routeTarget": f"64512:{v + 1}", "vni": 10000 + v, "ipv4Pool": f"100.{64 + v}.0.0/16"}
            for v in range(8)]
    pod_items = []
    for p in range(pods):
        v = p % 8
        index = p // 8
        third, fourth = divmod(index * 4, 256)
        pod_items.append({"name": f"pod-{p}", "node": f"worker-{p % workers}", "image": "ubuntu:20.04",
                          "networks": [{"vrf": f"vrf-{v}", "ipv4": f"100.{64 + v}.{third}.{fourth + 2}/30"}]})
    return {"apiVersion": "jcnrc/v1", "kind": "Topology", "metadata": {"name": "big"},
            "cluster": {"provider": "kubeadm", "asn": 64512, "nodeSubnet": "10.0.0.0/8", "podCidr": "172.16.0.0/16",
                        "serviceCidr": "172.17.0.0/16"},
            "images": {"platter": "r/platter:1", "crpd": "r/crpd:1"}, "nodes": nodes, "vrfs": vrfs, "pods": pod_items,
            "secrets": {"rootPassword": {"env": "A"}, "crpdLicense": {"env": "B"}}}


def test_rules_scale_linearly_in_nodes_and_pods():
    """Ten times the nodes and pods cost ten times the calls (all-pairs checks: a hundred times).
    Counted, not timed: the same answer on any machine."""
    small, small_calls = call_count(check, big_intent(25, 250))
    large, large_calls = call_count(check, big_intent(250, 2500))
    assert [d.code for d in small.diagnostics] == [d.code for d in large.diagnostics] == [LONE_RR]
    assert large_calls < 11 * small_calls, (small_calls, large_calls)  # 9.6 measured


# --- limits that come from file names ----------------------------------------------------------

def test_the_longest_allowed_node_name_builds_and_its_files_are_written(tmp_path):
    """243 characters: `node-<name>.json` is then 253, the longest ConfigMap key (and a file name under 255 bytes)."""
    from jcnrc.intent import names
    from jcnrc.output.write import write_tree
    from strategies import compile_data, set_at

    name = ".".join(["a" * 63] * 3 + ["b" * 51])
    assert len(name) == names.NODE_NAME_MAX == 243
    data = copy.deepcopy(EXAMPLE)
    set_at(data, ("nodes", 1, "name"), name)
    set_at(data, ("pods", 0, "node"), name)
    for target in ("platter", "jcnr"):
        data["target"] = target
        result = compile_data(data, tmp_path / target / "intent")
        assert result.ok, [d.message for d in result.diagnostics if d.is_error]
        write_tree(result.files, tmp_path / target / "out")
    assert (tmp_path / "platter" / "out" / "nodes" / name / f"node-{name}.json").is_file()
    assert len(f"node-{name}.json") == 253


def test_a_longer_node_name_is_refused_with_the_limit_and_why():
    name = ".".join(["a" * 63] * 3 + ["b" * 52])
    found = diagnostics_after(lambda data: data["nodes"][1].update(name=name))
    [d] = [d for d in found if d.path == ("nodes", 1, "name")]
    assert d.code == "JCN201"
    assert "is 244 characters long; the limit is 243" in d.message and "`node-<name>.json`" in d.message


# --- cluster.kubeConfig: node preparation copies the node's credentials there as root ---------

def test_a_kubeconfig_outside_the_kubeconfig_folders_is_refused_with_what_is_valid():
    found = diagnostics_after(lambda data: data["cluster"].update(kubeConfig="/root/.ssh/authorized_keys"))
    assert [(d.code, d.path) for d in found] == [("JCN111", ("cluster", "kubeConfig"))]  # and no JCN916 advice
    [d] = found
    assert "/root/.ssh/authorized_keys is not one of the kubeconfig files node preparation may write" in d.message
    assert all(path in d.help for path in ("/etc/kubernetes/kubelet.conf", "/var/lib/kubelet/kubeconfig",
                                           "/etc/cni/net.d/multus.d/multus.kubeconfig"))


def test_a_kubeconfig_in_a_pod_volume_is_refused():
    """The outside review bypassed the folder rule with a pod's emptyDir under /var/lib/kubelet/pods/."""
    path = "/var/lib/kubelet/pods/0c1d/volumes/kubernetes.io~empty-dir/loot/kubeconfig"
    found = diagnostics_after(lambda data: data["cluster"].update(kubeConfig=path))
    assert [d.code for d in found] == ["JCN111"] and "a pod could read the node's credentials" in found[0].message


def test_a_kubeconfig_directly_in_a_folder_read_as_configuration_is_refused():
    for path, why in (("/etc/kubernetes/manifests/kubelet.conf", "static pod"),
                      ("/etc/cni/net.d/00-kubeconfig.conf", "CNI network configurations")):
        found = diagnostics_after(lambda data, path=path: data["cluster"].update(kubeConfig=path))
        assert [d.code for d in found] == ["JCN111"] and why in found[0].message


def test_kubeconfig_paths_of_real_deployments_pass():
    for path in ("/etc/kubernetes/kubelet.conf", "/var/lib/kubelet/kubeconfig", "/etc/cni/net.d/multus.d/multus.kubeconfig"):
        found = diagnostics_after(lambda data, path=path: data["cluster"].update(kubeConfig=path))
        assert [d.code for d in found if d.is_error] == [], path


# --- names that become file names -------------------------------------------------------------

@pytest.mark.parametrize(("edit", "code", "path"), [
    (lambda data: data["metadata"].update(name="con"), "JCN201", ("metadata", "name")),
    (lambda data: data["vrfs"][0].update(name="nul"), "JCN205", ("vrfs", 0, "name")),
])
def test_windows_device_names_are_refused_where_they_become_file_names(edit, code, path):
    def rename_everywhere(data):
        before = data["vrfs"][0]["name"]
        edit(data)
        after = data["vrfs"][0]["name"]
        for pod in data["pods"]:
            for attachment in pod["networks"]:
                attachment["vrf"] = after if attachment["vrf"] == before else attachment["vrf"]
    found = [d for d in diagnostics_after(rename_everywhere) if d.is_error]
    assert [(d.code, d.path) for d in found] == [(code, path)]
    assert "device name on Windows" in found[0].message


def test_a_node_name_whose_first_label_is_a_device_name_is_refused():
    def rename(data):
        old = data["nodes"][1]["name"]
        data["nodes"][1]["name"] = "lpt1.example.com"
        for pod in data["pods"]:
            pod["node"] = "lpt1.example.com" if pod["node"] == old else pod["node"]
    found = [d for d in diagnostics_after(rename) if d.is_error]
    assert [(d.code, d.path) for d in found] == [("JCN201", ("nodes", 1, "name"))]
    assert "`lpt1.`" in found[0].message and "lpt1-1.example.com" in found[0].help


@pytest.mark.parametrize("name", ["console", "com10", "null", "auxiliary", "nul-1", "lpt"])
def test_names_that_only_resemble_device_names_pass(name):
    from jcnrc.intent.names import windows_device_problem

    assert windows_device_problem(name) is None


# --- semantic misses of the second attack round (fuzz/README.md, F12) ----------------------------------

def test_an_attachment_cannot_take_the_pods_own_interface_names():
    for name, what in (("eth0", "primary interface"), ("lo", "loopback")):
        def edit(data, name=name):
            data["pods"][0]["networks"][0]["interface"] = name

        found = only(edit, "JCN202")
        assert found.path == ("pods", 0, "networks", 0, "interface") and what in found.message


def test_a_vrf_cannot_take_a_name_junos_keeps_for_its_main_instance():
    for name in ("master", "default"):
        def edit(data, name=name):
            data["vrfs"][0]["name"] = name
            for pod in data["pods"]:
                pod["networks"][0]["vrf"] = name

        found = only(edit, "JCN205")
        assert found.path == ("vrfs", 0, "name") and "main routing instance" in found.message


def test_a_route_target_administered_by_no_usable_address_is_refused():
    def edit(data):
        data["vrfs"][0]["routeTarget"] = "0.0.0.0:5"

    found = only(edit, "JCN204")
    assert "0.0.0.0 cannot administer a route target" in found.message


def test_reserved_as_numbers_and_a_service_range_over_pods_are_refused():
    for asn in (23456, 65535, 4294967295):
        def edit(data, asn=asn):
            data["cluster"]["asn"] = asn
            data["vrfs"][0]["routeTarget"] = "11:11"

        assert only(edit, "JCN516").path == ("cluster", "asn")

    def overlap(data):
        data["cluster"]["serviceCidr"] = "10.240.128.0/17"

    found = only(overlap, "JCN515")
    assert found.path == ("cluster", "serviceCidr") and "nodeSubnet" in found.message


def test_a_node_loopback_inside_the_overlay_is_refused_written_or_derived():
    def written(data):
        data["nodes"][1]["ipv6Loopback"] = "abcd::1.1.0.9"  # inside blue's ipv6Pool abcd::1.1.0.0/112

    found = only(written, "JCN517")
    assert found.path == ("nodes", 1, "ipv6Loopback") and "ipv6Pool" in found.message

    def derived(data):  # abcd::<node address> falls in a pool wide enough to hold it
        data["vrfs"][0]["ipv6Pool"] = "abcd::/96"

    found = [d for d in diagnostics_after(derived) if d.severity == "error"]
    assert {d.code for d in found} == {"JCN517"} and len(found) == len(EXAMPLE["nodes"])
    assert all(d.path[-1] == "address" and "derived" in d.message for d in found)


def test_an_sr_global_block_past_the_20_bit_label_space_is_refused():
    def edit(data):
        data["cluster"]["segmentRouting"] = {"srgbStart": 1048000, "srgbRange": 1000}

    found = only(edit, "JCN518")
    assert found.path == ("cluster", "segmentRouting", "srgbRange") and "srgbRange: 576" in found.help


@pytest.mark.parametrize("image, port", [("registry.example.com:65536/crpd:21.2R1", "65536"),
                                         ("registry.example.com:0/crpd:21.2R1", "0")])
def test_an_image_registry_port_outside_the_tcp_range_is_refused(image, port):
    def edit(data):
        data["images"]["crpd"] = image

    found = diagnostics_after(edit)
    assert [d.path for d in found] == [("images", "crpd")] and f"port {port}" in found[0].message


def test_the_largest_registry_port_is_an_image_reference():
    from jcnrc.intent.names import image_problem

    assert image_problem("registry.example.com:65535/crpd:21.2R1") is None


def test_two_vrfs_with_the_same_targets_and_allocated_vnis_are_named_plainly():
    def edit(data):
        del data["vrfs"][0]["vni"]
        data["vrfs"].append({"name": "red", "routeTarget": data["vrfs"][0]["routeTarget"], "ipv4Pool": "2.2.0.0/16"})

    found = [d for d in diagnostics_after(edit) if d.is_error]
    assert [d.code for d in found] == ["JCN701"]
    assert "but each gets a VNI of its own (both are allocated)" in found[0].message, found[0].message


# --- attack round 4: intents that build a network that cannot work ----------------------------------

def only_error(edit, code: str):
    """The one error of an edit that also switches to target jcnr (whose warnings about Platter's images
    and the pods' MTU every such edit gets)."""
    found = [d for d in diagnostics_after(edit) if d.is_error]
    assert [d.code for d in found] == [code], [(d.code, d.path, d.message) for d in found]
    return found[0]


def test_bgp_ports_that_never_meet_in_one_cluster_are_refused():
    for bgp, key in (({"listenPort": 178, "connectPort": 179}, "connectPort"), ({"listenPort": 178}, "listenPort"),
                     ({"connectPort": 178}, "connectPort")):
        def edit(data, bgp=bgp):
            data["cluster"]["bgp"] = bgp

        found = only(edit, "JCN521")
        assert found.path == ("cluster", "bgp", key) and "no session of the cluster can come up" in found.message


def test_a_bgp_port_a_node_service_holds_is_a_warning():
    for port in (22, 6443, 10250):
        def edit(data, port=port):
            data["cluster"]["bgp"] = {"listenPort": port, "connectPort": port}

        found = only(edit, "JCN925")
        assert found.severity == "warning" and found.path == ("cluster", "bgp", "listenPort")


@pytest.mark.parametrize("namespace, target", [("kube-system", "platter"), ("kube-system", "jcnr"), ("jcnr", "jcnr")])
def test_workloads_cannot_share_the_routers_namespace(namespace, target):
    def edit(data):
        data["metadata"]["namespace"] = namespace
        data["target"] = target

    found = only_error(edit, "JCN522")
    assert found.path == ("metadata", "namespace") and namespace in found.message


def test_a_jcnr_fabric_inside_the_clusters_own_ranges_is_refused():
    for address, where in (("10.244.0.9", "podCidr"), ("10.0.0.9", "serviceCidr"), ("1.1.200.9", "ipv4Pool")):
        def edit(data, address=address):
            data["target"] = "jcnr"
            data["nodes"][0]["fabricAddress"] = address

        found = only_error(edit, "JCN519")
        assert found.path == ("nodes", 0, "fabricAddress") and where in found.message, found.message


def test_a_jcnr_fabric_interface_must_be_a_nic_the_node_can_spare():
    def loopback(data):
        data["target"] = "jcnr"
        data["cluster"]["fabricInterface"] = "lo"

    assert only_error(loopback, "JCN519").path == ("cluster", "fabricInterface")

    def primary(data):
        data["target"] = "jcnr"
        data["nodes"][1]["fabricInterface"] = "eth0"

    found = next(d for d in diagnostics_after(primary) if d.code == "JCN924")
    assert (not [d for d in diagnostics_after(primary) if d.is_error] and found.severity == "warning"
            and found.path == ("nodes", 1, "fabricInterface") and "aks" in found.message)


@pytest.mark.parametrize("name", ["all", "default"])
def test_interface_names_linux_keeps_for_its_settings_are_refused(name):
    def attachment(data):
        data["pods"][0]["networks"][0]["interface"] = name

    found = only(attachment, "JCN202")
    assert found.path == ("pods", 0, "networks", 0, "interface") and "reserved by Linux" in found.message

    def fabric(data):
        data["target"] = "jcnr"
        data["cluster"]["fabricInterface"] = name

    assert only_error(fabric, "JCN202").path == ("cluster", "fabricInterface")


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 2**16 - 1), st.integers(96, 128)), max_size=12),
       st.lists(st.integers(0, 2**16 - 1), min_size=1, max_size=8))
def test_the_loopback_range_index_finds_what_a_scan_of_every_range_finds(ranges, addresses):
    """JCN517 looks loopbacks up per prefix length instead of testing every pod link: same first hit."""
    from ipaddress import IPv6Address, IPv6Network

    from jcnrc.intent.rules import _RangeIndex

    base = int(IPv6Address("abcd::"))
    named = [(f"range {i}", IPv6Network((base + (low << 8), length), strict=False), ("r", i))
             for i, (low, length) in enumerate(ranges)]
    index = _RangeIndex(named)
    for low in addresses:
        address = IPv6Address(base + (low << 8) + 1)
        assert index.first_holding(address) == next((entry for entry in named if address in entry[1]), None)


@settings(max_examples=300)
@given(st.one_of(st.tuples(st.just(4), st.integers(0, 2**32 - 1), st.integers(0, 32)),
                 st.tuples(st.just(6), st.integers(0, 2**128 - 1), st.integers(0, 128))))
def test_special_range_by_integers_is_what_ipaddress_says(drawn):
    """special_range compares integer bounds (it runs once per pod link); ipaddress is the reference."""
    from ipaddress import IPv4Network, IPv6Network

    from jcnrc.intent.rules import SPECIAL_RANGES, special_range

    version, value, length = drawn
    net = (IPv4Network if version == 4 else IPv6Network)((value, length), strict=False)
    overlapped = [r for r in SPECIAL_RANGES if r.network.version == version and net.overlaps(r.network)]
    inside = [r for r in overlapped if net.subnet_of(r.network)]  # type: ignore[arg-type]
    expected = max(inside, key=lambda r: r.network.prefixlen) if inside else (overlapped[0] if overlapped else None)
    assert special_range(net) == expected



# --- the integer fast paths of the check stage against the ipaddress code they stand in for ---------

_BITS = {4: 32, 6: 128}


def _edges(version: int) -> list[int]:
    """Where ranges start and end: the special ranges' first and last addresses, 0 and all ones."""
    from jcnrc.intent.rules import SPECIAL_RANGES

    ranges = [r.network for r in SPECIAL_RANGES if r.network.version == version]
    bounds = {int(n.network_address) for n in ranges} | {int(n.broadcast_address) for n in ranges}
    return sorted({0, 2 ** _BITS[version] - 1} | bounds)


def _addresses(version: int):
    """Any address, often a range edge or an IPv6 address with runs of zero groups."""
    bits = _BITS[version]
    zero_runs = [st.integers(0, 2**16 - 1).map(lambda low: low << 48), st.integers(0, 7).map(lambda k: 1 << (16 * k)),
                 st.integers(0, 2**32 - 1).map(lambda low: (0xABCD << 112) | low)] if version == 6 else []
    return st.one_of(st.sampled_from(_edges(version)), st.integers(0, 2**bits - 1), *zero_runs)


def _prefix_lengths(bits: int):
    """Any prefix length, often the edges: /0, /1, and the last four (/29 to /32, /125 to /128)."""
    return st.one_of(st.sampled_from((0, 1, bits - 3, bits - 2, bits - 1, bits)), st.integers(0, bits))


@st.composite
def _link_in_pool(draw):
    """(version, link address, link prefix length, pool or None): the link often inside the pool, its
    address often the network, gateway, broadcast or last address of its subnet, the pool often special."""
    from ipaddress import IPv4Network, IPv6Network

    version = draw(st.sampled_from((4, 6)))
    bits = _BITS[version]
    pool_length = draw(_prefix_lengths(bits))
    pool_start = draw(_addresses(version)) >> (bits - pool_length) << (bits - pool_length)
    if draw(st.booleans()):
        address = pool_start + draw(st.integers(0, 2 ** (bits - pool_length) - 1))
    else:
        address = draw(_addresses(version))
    # Mostly inside the pool's length; often a little shorter (a link larger than its pool, sharing its start).
    length = draw(st.one_of(st.integers(pool_length, bits), st.integers(max(pool_length - 3, 0), pool_length),
                            _prefix_lengths(bits)))
    host_bits = bits - length
    first = address >> host_bits << host_bits
    last = first | ((1 << host_bits) - 1)
    address = min(max(draw(st.sampled_from((address, first, first + 1, first + 2, last, last - 1))), 0), 2**bits - 1)
    pool = None if draw(st.integers(0, 9)) == 0 else (IPv4Network if version == 4 else IPv6Network)((pool_start, pool_length))
    return version, address, length, pool


@settings(max_examples=1500)
@given(_link_in_pool())
def test_a_link_fits_by_integers_exactly_when_the_address_rules_say_nothing(drawn):
    """_pod_rules sends an attachment through _address_rules (ipaddress objects, messages) only when
    _link_fits says no: the two must agree on every link and pool, both families, every edge."""
    from ipaddress import IPv4Interface, IPv6Interface

    from jcnrc.intent.model import Attachment
    from jcnrc.intent.rules import _address_rules, _bounds, _link_fits

    version, address, length, pool = drawn
    family = f"ipv{version}"
    iface = (IPv4Interface if version == 4 else IPv6Interface)((address, length))
    attachment = Attachment.model_validate({"vrf": "blue", family: str(iface)})
    vrf = Vrf.model_validate({"name": "blue", f"{family}Pool": str(pool)} if pool is not None else {"name": "blue"})
    bounds = _bounds(pool) if pool is not None else None
    said = list(_address_rules(("pods", 0, "networks", 0), attachment, vrf, 0))
    assert _link_fits(getattr(attachment, family), bounds) == (not said), said
    assert _link_fits(None, bounds)


@settings(max_examples=500)
@given(st.sampled_from((4, 6)).flatmap(lambda version: st.tuples(st.just(version), _addresses(version))))
def test_a_single_address_is_special_by_integers_as_special_range_says(drawn):
    """Node addresses and IPv6 loopbacks are looked up by integer (_special_address); special_range of
    the address's /32 or /128 is the reference."""
    from ipaddress import IPv4Network, IPv6Network

    from jcnrc.intent.rules import _special_address, special_range

    version, value = drawn
    network = IPv4Network if version == 4 else IPv6Network
    for near in (value - 1, value, value + 1):
        if 0 <= near < 2 ** _BITS[version]:
            assert _special_address(near, version) == (special_range(network((near, _BITS[version]))) is not None)


@given(st.integers(0, 2**32 - 1))
def test_the_derived_loopback_by_integers_is_the_text_the_planner_writes(value):
    """`abcd::<node address>`, built from integers in _node_loopbacks, is what ipaddress reads from the text."""
    from ipaddress import IPv4Address, IPv6Address

    from jcnrc.intent.rules import DERIVED_LOOPBACK_BASE

    address = IPv4Address(value)
    assert IPv6Address(DERIVED_LOOPBACK_BASE | int(address)) == IPv6Address(f"abcd::{address}")


@settings(max_examples=300)
@given(_prefix_lengths(32), _addresses(4), st.lists(st.integers(-3, 3), min_size=1, max_size=6), _addresses(4))
def test_node_addresses_judged_by_integers_give_what_every_node_through_the_slow_path_gives(length, start, offsets, stray):
    """_node_rules sends a node through _node_address only when integer bounds say something is wrong:
    the subnet's network, broadcast and outside addresses, special ones, /31 and /32 subnets."""
    from ipaddress import IPv4Address, IPv4Network

    from jcnrc.intent.model import Cluster, Node
    from jcnrc.intent.rules import Intent, _node_address, _node_rules

    subnet = IPv4Network((start >> (32 - length) << (32 - length), length))
    first, last = int(subnet.network_address), int(subnet.broadcast_address)
    values = [min(max((first if k % 2 else last) + offset, 0), 2**32 - 1) for k, offset in enumerate(offsets)] + [stray]
    nodes = [(i, Node.model_validate({"name": f"n{i}", "address": str(IPv4Address(v)), "role": "worker"}))
             for i, v in enumerate(values)]
    for cluster in (Cluster.model_construct(nodeSubnet=subnet), None):
        intent = Intent(cluster=cluster, target="platter", nodes=nodes, vrfs=[], pods=[], expect=[], secrets=None)
        said = list(_node_rules(intent))
        found = [d for d in said if d.code in ("JCN501", "JCN513") and d.path[0] == "nodes"]
        if any(d.path == ("cluster", "nodeSubnet") for d in said):
            assert found == []  # the subnet is the mistake: its nodes are not judged against it
        else:
            assert found == [d for i, node in nodes for d in _node_address(i, node, subnet if cluster is not None else None)]


def _overlapping_reference(entries, related):
    """rules.overlapping as it was, on ipaddress objects: the reference for its integer bounds."""
    ordered = sorted(entries, key=lambda e: (e[0].version, int(e[0].network_address), -e[0].prefixlen, e[2]))
    open_entries: list = []
    for entry in ordered:
        net = entry[0]
        start = int(net.network_address)
        open_entries = [o for o in open_entries if o[0].version == net.version and int(o[0].broadcast_address) >= start]
        for other in open_entries:
            if related(entry[1], other[1]):
                yield entry, other
                break
        open_entries.append(entry)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from((4, 6)), st.integers(0, 63), st.integers(0, 6), st.sampled_from("abc"),
                          st.integers(0, 3)), max_size=25))
def test_overlapping_by_integer_bounds_finds_what_ipaddress_finds(drawn):
    """Link subnets packed into a few addresses of both families, equal ones among them, some with
    equal paths too (the sort then keeps the order given), so that overlaps, ties and nesting are common."""
    from ipaddress import IPv4Network, IPv6Network

    entries = []
    for version, start, host_bits, tag, pod in drawn:
        network = (IPv4Network if version == 4 else IPv6Network)((start >> host_bits << host_bits, _BITS[version] - host_bits))
        entries.append((network, tag, ("pods", pod, "networks", 0)))

    def related(a: str, b: str) -> bool:
        return a == b or "c" in (a, b)

    assert list(overlapping(entries, related)) == list(_overlapping_reference(entries, related))


@st.composite
def _interface_texts(draw):
    """(version, address, prefix length as written, text): the address written compressed, exploded,
    upper-case, each IPv6 group with or without its leading zeros, `::` for any run of zero groups (not
    only the longest), for none, or between eight groups; IPv4 octets with leading zeros, too few octets, an integer; IPv6 with an
    embedded IPv4 address (ipaddress reads it); prefix lengths with leading zeros or out of range."""
    from ipaddress import IPv4Address, IPv6Address

    version = draw(st.sampled_from((4, 6)))
    value = draw(_addresses(version))
    bits = _BITS[version]
    length = draw(st.one_of(_prefix_lengths(bits).map(str), st.sampled_from(("00", "030", "0126", "129", "33", "-1", "", "1a"))))
    if version == 4:
        octets = IPv4Address(value).packed
        spellings = [str(IPv4Address(value)), ".".join(f"{o:03d}" for o in octets), ".".join(f"0{o}" for o in octets),
                     str(value), ".".join(str(o) for o in octets[:3])]
    else:
        address = IPv6Address(value)
        groups = [(value >> (16 * (7 - k))) & 0xFFFF for k in range(8)]
        shown = [draw(st.sampled_from((f"{g:x}", f"{g:04x}", f"{g:X}", f"{g:04X}"))) for g in groups]
        runs = [(a, b) for a in range(8) for b in range(a + 1, 9) if not any(groups[a:b])]
        run = draw(st.sampled_from([None, *runs]))
        written = ":".join(shown) if run is None else ":".join(shown[:run[0]]) + "::" + ":".join(shown[run[1]:])
        embedded = ":".join(shown[:6]) + ":" + ".".join(str(o) for o in address.packed[12:])
        between = draw(st.integers(1, 7))  # `::` standing for no group at all, which ipaddress refuses
        spellings = [written, written[:-1], written + ":", str(address), address.exploded, embedded,
                     ":".join(shown[:between]) + "::" + ":".join(shown[between:])]
    return version, value, length, f"{draw(st.sampled_from(spellings))}/{length}"


@settings(max_examples=2000)
@given(_interface_texts())
def test_usual_interface_spellings_are_read_as_ipaddress_reads_them(drawn):
    """model.usual_ipv4_interface/usual_ipv6_interface build an attachment's interface from integers;
    when they answer, ipaddress reads the same text as the same interface (address, network, text);
    when they do not, the text goes to ipaddress through pydantic as before. The spelling the
    planner and the examples write (ipaddress's own str) always takes the integer path."""
    from ipaddress import IPv4Interface, IPv6Interface

    from jcnrc.intent.model import usual_ipv4_interface, usual_ipv6_interface

    version, value, length, text = drawn
    kind, usual = (IPv4Interface, usual_ipv4_interface) if version == 4 else (IPv6Interface, usual_ipv6_interface)
    found = usual(text)
    try:
        expected = kind(text)
    except ValueError:
        assert found is None, text
    else:
        if found is not None:
            assert (found, found.network, str(found), found.with_prefixlen) == (
                expected, expected.network, str(expected), expected.with_prefixlen), text
    if length.isdigit() and int(length) <= _BITS[version]:
        canonical = str(kind((value, int(length))))
        assert usual(canonical) == kind(canonical), canonical


@settings(max_examples=1000)
@given(st.text(alphabet="0123456789abcdefABCDEF:./%x_ -\n", max_size=48))
def test_usual_interface_readers_accept_no_text_ipaddress_refuses_or_reads_otherwise(text):
    from ipaddress import IPv4Interface, IPv6Interface

    from jcnrc.intent.model import usual_ipv4_interface, usual_ipv6_interface

    for kind, usual in ((IPv4Interface, usual_ipv4_interface), (IPv6Interface, usual_ipv6_interface)):
        found = usual(text)
        if found is not None:
            expected = kind(text)
            assert (found, found.network, str(found)) == (expected, expected.network, str(expected)), text
