"""The Junos well-formedness checker the test suite uses on generated configuration."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from junos_syntax import (
    JunosSyntaxError,
    Node,
    TemplateError,
    flatten_to_set,
    parse_curly,
    parse_set_lines,
    render_go_branches,
)

# The per-VRF stanza Platter renders into cRPD (jcnr-formats.md §2.7, from
# mwiget/crpd-evpn-vxlan-type5:r1/juniper.conf), in the reference's condensed layout.
PLATTER_POD_VRF = """\
groups { platter-pods { routing-instances { blue {
    apply-groups evpn-type5; instance-type vrf;
    routing-options { rib blue.inet6.0 { static { route abcd::1.1.1.2/128 next-hop abcd::1.1.1.2; } }
                      static { route 1.1.1.2/32 next-hop 1.1.1.2; } }
    protocols { evpn { ip-prefix-routes { encapsulation vxlan; vni 10002; } } }
    interface net3; vrf-target target:11:11; } } } }
"""

# The apply-group the Platter worker template defines (jcnr-formats.md §2.1).
EVPN_TYPE5_GROUP = """\
groups { evpn-type5 { routing-instances { <*> { vrf-table-label;
         protocols { evpn { ip-prefix-routes { advertise direct-nexthop; } } } } } } }
"""

# A crpd-config.tmpl in Platter's style (jcnr-formats.md §2.1): Go actions inside
# statements and on lines of their own, a master (route reflector) and a worker branch.
PLATTER_STYLE_TEMPLATE = """\
system {
    root-authentication {
        encrypted-password "{{.EncryptedPassword}}"; ## SECRET-DATA
    }
}
routing-options {
    {{if .IPv4LoopbackAddr}}
    router-id {{.IPv4LoopbackAddr}};
    route-distinguisher-id {{.IPv4LoopbackAddr}};
    {{else}}
    router-id {{.NodeIP}};
    route-distinguisher-id {{.NodeIP}};
    {{end}}
}
{{if .IsMasterNode}}
protocols {
    bgp {
        group CNI {
            type internal;
            local-address {{.NodeIP}};
            cluster {{.NodeIP}};
            local-as {{.LocalAS}};
            allow 0.0.0.0/0;
            family evpn {
                signaling;
            }
        }
    }
}
{{else}}
policy-options {
    policy-statement DIRECT {
        from {
            family inet;
            protocol direct;
        }
        then accept;
    }
}
protocols {
    bgp {
        group CNI {
            type internal;
            local-address {{.NodeIP}};
            inactive: export DIRECT;
            local-as {{.LocalAS}};
            neighbor 10.240.0.4;
            family evpn {
                signaling;
            }
        }
    }
}
{{end}}
"""


# ------------------------------------------------------------------ set lines


def test_set_lines_from_the_jcnr_cni_output():
    text = """\
# rendered by the JCNR CNI (jcnr-formats.md §3.7)
set groups cni routing-instances vrf1 instance-type vrf
set groups cni routing-instances vrf1 interface jvknet1-e5a495e

set groups cni routing-instances vrf1 vrf-target target:64512:1
set routing-instances vrf1 protocols evpn ip-prefix-routes vni 1000
delete protocols bgp group CNI export
"""
    assert parse_set_lines(text) == [
        ("set", "groups", "cni", "routing-instances", "vrf1", "instance-type", "vrf"),
        ("set", "groups", "cni", "routing-instances", "vrf1", "interface", "jvknet1-e5a495e"),
        ("set", "groups", "cni", "routing-instances", "vrf1", "vrf-target", "target:64512:1"),
        ("set", "routing-instances", "vrf1", "protocols", "evpn", "ip-prefix-routes", "vni", "1000"),
        ("delete", "protocols", "bgp", "group", "CNI", "export"),
    ]


def test_quoted_strings_are_one_token_with_escapes_resolved():
    [command] = parse_set_lines(r'set system login message "a \"quoted\" {word}; \\ here"')

    assert command == ("set", "system", "login", "message", 'a "quoted" {word}; \\ here')


def test_value_lists_and_crlf_and_tabs():
    commands = parse_set_lines("set policy-options community RT members [ target:11:11 target:55:55 ]\r\n"
                               "\tset apply-groups platter-pods\r\n")

    assert commands == [
        ("set", "policy-options", "community", "RT", "members", "[", "target:11:11", "target:55:55", "]"),
        ("set", "apply-groups", "platter-pods"),
    ]


def test_template_actions_are_accepted_only_when_asked_for():
    text = 'set routing-options router-id {{.NodeIP}}\nset system root-authentication encrypted-password "{{.EncryptedPassword}}"'

    assert parse_set_lines(text, template_actions=True)[0][-1] == "{{.NodeIP}}"
    with pytest.raises(JunosSyntaxError):
        parse_set_lines(text)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("show route", 1, "expected one of"),
        ('"set" system host-name r1', 1, "expected one of"),
        ("set", 1, "without a configuration path"),
        ("set\nset vlans v100 vlan-id 100", 1, "without a configuration path"),
        ("set system host-name r1\nset routing-instance blue instance-type vrf", 2, "routing-instance"),
        ("set groups cni routing-instance blue", 1, "unknown hierarchy"),
        ("set groups cni groups x", 1, "unknown hierarchy"),
        ('set system host-name "r1', 1, "unterminated"),
        ("set system host-name r1;", 1, "';'"),
        ("set protocols bgp { group CNI }", 1, "'{'"),
        ("set protocols bgp group CNI }", 1, "'}'"),
        ("set system host-name r\x071", 1, "control character"),
        ("\n\nset system host-name r\rx", 3, "control character"),
        ('set system host-name r"1"', 1, "quote inside a word"),
        ("set policy-options community RT members [ target:11:11", 1, "'[' without ']'"),
        ("set policy-options community RT members target:11:11 ]", 1, "']' without '['"),
        ("set policy-options community RT members [ ]", 1, "empty"),
        ("set policy-options community RT members [ [ a ] ]", 1, "nested"),
    ],
)
def test_bad_set_lines(text, line, words):
    with pytest.raises(JunosSyntaxError) as error:
        parse_set_lines(text)

    assert error.value.line == line
    assert words in error.value.message


# --------------------------------------------------------------- curly braces


def test_platter_pod_vrf_from_the_reference_parses_and_flattens():
    tree = parse_curly(PLATTER_POD_VRF)
    prefix = "set groups platter-pods routing-instances blue"

    assert flatten_to_set(tree) == [
        f"{prefix} apply-groups evpn-type5",
        f"{prefix} instance-type vrf",
        f"{prefix} routing-options rib blue.inet6.0 static route abcd::1.1.1.2/128 next-hop abcd::1.1.1.2",
        f"{prefix} routing-options static route 1.1.1.2/32 next-hop 1.1.1.2",
        f"{prefix} protocols evpn ip-prefix-routes encapsulation vxlan",
        f"{prefix} protocols evpn ip-prefix-routes vni 10002",
        f"{prefix} interface net3",
        f"{prefix} vrf-target target:11:11",
    ]
    assert len(parse_set_lines("\n".join(flatten_to_set(tree)))) == 8


def test_tree_structure_is_statement_tokens_with_children():
    tree = parse_curly(EVPN_TYPE5_GROUP)

    [groups] = tree
    assert groups.tokens == ("groups",)
    [[_, [wildcard]]] = groups.children[0].children
    assert wildcard == Node(
        ("<*>",),
        [
            Node(("vrf-table-label",), None),
            Node(("protocols",), [Node(("evpn",), [Node(("ip-prefix-routes",), [Node(("advertise", "direct-nexthop"), None)])])]),
        ],
    )


def test_comments_strings_inactive_and_empty_blocks():
    text = """\
/* managed by jcnrc
   do not edit */
system {
    host-name "worker 1"; # a comment
    services { }
}
protocols {
    inactive: ospf {
        area 0.0.0.0;
    }
    bgp {
        inactive: export DIRECT;
        group CNI { neighbor 10.240.0.4; }
    }
}
"""
    assert flatten_to_set(parse_curly(text)) == [
        'set system host-name "worker 1"',
        "set system services",
        "set protocols ospf area 0.0.0.0",
        "deactivate protocols ospf",
        "set protocols bgp export DIRECT",
        "deactivate protocols bgp export DIRECT",
        "set protocols bgp group CNI neighbor 10.240.0.4",
    ]


def test_inline_go_actions_are_opaque_tokens():
    tree = parse_curly('routing-options {\n    router-id {{.NodeIP}};\n'
                       '    static { route 0.0.0.0/0 next-hop {{ .IPv4DefaultGw }}; }\n}\n'
                       'system { license { keys { key "{{.LicenseKey}}"; } } }')

    assert flatten_to_set(tree) == [
        "set routing-options router-id {{.NodeIP}}",
        "set routing-options static route 0.0.0.0/0 next-hop {{ .IPv4DefaultGw }}",
        "set system license keys key {{.LicenseKey}}",
    ]


def test_template_control_lines_are_left_out_of_the_tree():
    flat = flatten_to_set(parse_curly(PLATTER_STYLE_TEMPLATE))

    assert "set routing-options router-id {{.IPv4LoopbackAddr}}" in flat
    assert "set routing-options router-id {{.NodeIP}}" in flat
    assert not any("{{if" in line or "{{end" in line or "{{else" in line for line in flat)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("system {\n    host-name r1\n}\n", 2, "does not end with ';'"),
        ("system {\n    host-name r1\n    services;\n}\n", 2, "does not end with ';'"),
        ("system {\n    host-name r1;\n", 1, "never closed"),
        ("system {\n    host-name r1;\n}\n}\n", 4, "without a matching"),
        ("system {\n    ;\n}\n", 2, "without a statement"),
        ("system {\n    host-name r1;\n};\n", 3, "without a statement"),
        ("{ host-name r1; }", 1, "without a statement"),
        ('system {\n    host-name "r1;\n}\n', 2, "unterminated quoted string"),
        ("/* never closed\nsystem { }\n", 1, "unterminated /* comment"),
        ("system {\n    host-name\n    r1;\n}\n", 2, "does not end with ';'"),
        ("protocols {\n    bgp inactive: export DIRECT;\n}\n", 2, "must prefix"),
        ("protocols {\n    inactive:;\n}\n", 2, "must prefix"),
        ("policy-options { community RT members [ target:11:11; }\n", 1, "'[' without ']'"),
        ("policy-options { community RT [ a ] { } }\n", 1, "cannot open a block"),
        ("system {\n    host-name r\x001;\n}\n", 2, "control character"),
        ("routing-options {\n    router-id {{.NodeIP};\n}\n", 2, "unterminated template action"),
    ],
)
def test_bad_curly(text, line, words):
    with pytest.raises(JunosSyntaxError) as error:
        parse_curly(text)

    assert error.value.line == line
    assert words in error.value.message


def test_forgotten_semicolon_before_a_template_line_is_caught():
    # A statement without ';' followed by an {{else}}/{{end}} line: Junos could
    # join it with whatever the template renders next.
    template = """\
routing-options {
    {{if .IPv4LoopbackAddr}}
    router-id {{.IPv4LoopbackAddr}}
    route-distinguisher-id {{.IPv4LoopbackAddr}};
    {{end}}
}
"""
    with pytest.raises(JunosSyntaxError) as error:
        parse_curly(template)

    assert error.value.line == 3


# ----------------------------------------------------------- Go template branches


def test_master_and_worker_branches_of_the_template_each_parse():
    conditions = {"IPv4LoopbackAddr": False}
    master = flatten_to_set(parse_curly(render_go_branches(PLATTER_STYLE_TEMPLATE, IsMasterNode=True, **conditions)))
    worker = flatten_to_set(parse_curly(render_go_branches(PLATTER_STYLE_TEMPLATE, IsMasterNode=False, **conditions)))

    assert "set protocols bgp group CNI cluster __NodeIP__" in master
    assert "set protocols bgp group CNI allow 0.0.0.0/0" in master
    assert not any("neighbor" in line or "policy-options" in line for line in master)
    assert "set protocols bgp group CNI neighbor 10.240.0.4" in worker
    assert "deactivate protocols bgp group CNI export DIRECT" in worker
    assert not any(" cluster " in line for line in worker)
    assert "set routing-options router-id __NodeIP__" in master + worker
    assert 'set system root-authentication encrypted-password __EncryptedPassword__' in worker
    for commands in (master, worker):
        parse_set_lines("\n".join(commands))


def test_branches_that_open_blocks_differently_only_parse_once_rendered():
    template = """\
protocols {
{{if .IsMasterNode}}
    bgp {
        group CNI {
            cluster {{.NodeIP}};
{{else}}
    bgp {
        group CNI {
            neighbor {{.MasterIP}};
{{end}}
            type internal;
        }
    }
}
"""
    with pytest.raises(JunosSyntaxError):
        parse_curly(template)
    for is_master in (True, False):
        tree = parse_curly(render_go_branches(template, IsMasterNode=is_master))
        assert "set protocols bgp group CNI type internal" in flatten_to_set(tree)


def test_rendering_keeps_template_line_numbers():
    template = "system {\n{{if .X}}\n    a;\n    b;\n{{end}}\n    host-name r1\n}\n"

    with pytest.raises(JunosSyntaxError) as error:
        parse_curly(render_go_branches(template, X=False))

    assert error.value.line == 6


def test_nested_if_not_else_if_and_comments():
    template = "{{/* roles */}}{{if .A}}{{if not .B}}a-not-b{{else}}a-b{{end}}{{else if .B}}b{{else}}none{{end}}"

    results = {(a, b): render_go_branches(template, A=a, B=b) for a in (True, False) for b in (True, False)}

    assert results == {(True, False): "a-not-b", (True, True): "a-b", (False, True): "b", (False, False): "none"}


def test_trim_markers_remove_surrounding_whitespace():
    template = "system {\n    {{- if .X }}\n    host-name r1;\n    {{- end }}\n}\n"

    assert render_go_branches(template, X=True) == "system {\n    host-name r1;\n}\n"
    assert render_go_branches("a  {{- .V -}}  b", placeholder="<{name}>") == "a<V>b"


def test_untaken_branches_need_no_values():
    assert render_go_branches("{{if .A}}{{if .Unknown}}x{{end}}{{end}}y", A=False) == "y"


@pytest.mark.parametrize(
    ("template", "line", "words"),
    [
        ("a\n{{if .Missing}}x{{end}}", 2, "no value given for .Missing"),
        ("{{if .A}}\nx\n", 1, "without {{end}}"),
        ("x\n{{end}}", 2, "{{end}} without {{if}}"),
        ("{{else}}", 1, "{{else}} without {{if}}"),
        ("{{if .A}}a{{else}}b{{else}}c{{end}}", 1, "{{else}} after {{else}}"),
        ("{{range .Vrfs}}x{{end}}", 1, "unsupported template action"),
        ("{{if eq .A 1}}x{{end}}", 1, "unsupported condition"),
        ("{{if .A}}x\n{{.B", 2, "unterminated"),
    ],
)
def test_bad_templates(template, line, words):
    with pytest.raises(TemplateError) as error:
        render_go_branches(template, A=True)

    assert error.value.line == line
    assert words in error.value.message


# ------------------------------------------------------------ property: round trip

words = st.from_regex(r"\A[a-z0-9<][a-z0-9./:*<>_-]{0,12}\Z")
values = st.one_of(words, st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=12))
# A value "[" would read back as list punctuation, and "{{" as a Go action:
# known limits of plain token tuples.
statements = st.builds(
    lambda inactive, tokens: ("inactive:",) * inactive + tokens,
    st.booleans(),
    st.lists(values.filter(lambda v: "{{" not in v), min_size=1, max_size=4)
    .map(tuple)
    .filter(lambda t: not {"inactive:", "[", "]"} & set(t)),
)
trees = st.recursive(
    st.lists(st.builds(Node, statements, st.none()), max_size=3),
    lambda children: st.lists(st.builds(Node, statements, st.one_of(st.none(), children)), min_size=1, max_size=3),
    max_leaves=12,
)


def format_curly(tree, indent=""):
    lines = []
    for tokens, children in tree:
        head = " ".join(_junos_quote(t) for t in tokens)
        if children is None:
            lines.append(f"{indent}{head};")
        else:
            lines.append(f"{indent}{head} {{")
            lines.extend(format_curly(children, indent + "    "))
            lines.append(f"{indent}}}")
    return lines


def _junos_quote(token):
    if token == "inactive:" or re.fullmatch(r"[a-z0-9<][a-z0-9./:*<>_-]*", token):
        return token
    return '"' + token.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(trees)
def test_formatted_trees_parse_back_to_the_same_tree(tree):
    assert parse_curly("\n".join(format_curly(tree)), template_actions=False) == tree


@given(trees)
def test_flattened_trees_are_valid_set_lines(tree):
    rooted = [Node(("system",), tree)]

    commands = parse_set_lines("\n".join(flatten_to_set(rooted)))

    assert all(command[:2] in (("set", "system"), ("deactivate", "system")) for command in commands)


@given(st.text(max_size=200))
def test_random_text_raises_nothing_but_junos_syntax_error(text):
    for check in (parse_curly, parse_set_lines, lambda t: render_go_branches(t, X=True)):
        try:
            check(text)
        except JunosSyntaxError as error:
            assert error.line >= 1
