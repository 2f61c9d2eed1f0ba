"""The intent model: the single source of truth for the topology file format.

The JSON Schema in ``schemas/topology.schema.json`` and ``docs/intent.md`` are generated
from these classes. Field descriptions here are what editors show on hover, so they are
written for the network engineer, not for the Python reader.

Only structure, types and per-field syntax are checked here. Everything that needs to look
at more than one field (roles, uniqueness, overlaps, reachability) lives in ``check.py``,
so that all such errors are reported together, each with its own code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network, ip_interface
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from jcnrc.intent import names


def _require_text(value: Any) -> Any:
    """Refuse numbers where an address is expected: pydantic would read 167772160 as 10.0.0.0."""
    if isinstance(value, (IPv4Address, IPv4Network, IPv4Interface, IPv6Network, IPv6Interface)):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("address_type", "expected an address written as text, e.g. 10.240.0.4")
    return value


def _strict_network(value: Any) -> Any:
    """A pool or subnet must be written as its network address: 1.1.0.0/16, not 1.1.3.7/16."""
    value = _require_text(value)
    if isinstance(value, str) and "/" in value:
        try:
            iface = ip_interface(value)
        except ValueError:
            return value
        if iface.ip != iface.network.network_address:
            raise PydanticCustomError("host_bits", "host bits are set; the network is {network}", {"network": str(iface.network)})
    return value


def _no_zone_id(value: Any) -> Any:
    """Python accepts RFC 4007 zone ids (`abcd::1%eth0`); an intent's addresses are global, and the
    text after '%' would be dropped or copied into the output unchecked."""
    value = _require_text(value)
    if isinstance(value, str) and "%" in value:
        raise PydanticCustomError("ip_zone_id", "an IPv6 zone id (`%...`) has no place in an intent address")
    return value


def _ipv6_text(value: str) -> str:
    """Keep the text as written (it is copied into node-config verbatim) but insist it is IPv6."""
    _no_zone_id(value)
    try:
        IPv6Address(value)
    except ValueError:
        raise PydanticCustomError("ip_v6_address", "value is not a valid IPv6 address") from None
    return value


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(\.{_OCTET}){{3}}"
_IPV6 = r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*"
_IPV4_PREFIX = r"/(3[0-2]|[12]?[0-9])"
_IPV6_PREFIX = r"/(12[0-8]|1[01][0-9]|[1-9]?[0-9])"


# A link address written the way intents write it (IPv4: four decimal octets without leading zeros;
# IPv6: hex groups, `::` at most once, no embedded IPv4; a prefix length without leading zeros) is
# turned into its integer here, and the interface built from (integer, prefix length): IPv4Interface(text)
# parses the address twice (for itself and for its network), and a big intent has a link per pod.
# tests/test_rules.py compares the two with ipaddress on random spellings. Any other text, and every
# mistake, goes to ipaddress through pydantic as before, so the errors are pydantic's own.
_USUAL_IPV4_INTERFACE = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}{_IPV4_PREFIX}")
_USUAL_IPV6_INTERFACE = re.compile(rf"([0-9A-Fa-f:]+){_IPV6_PREFIX}")
_HEXTETS = re.compile(r"[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*")


def usual_ipv4_interface(text: str) -> IPv4Interface | None:
    """The IPv4Interface `text` names when written as four octets and a prefix length, else None."""
    found = _USUAL_IPV4_INTERFACE.fullmatch(text)
    if found is None:
        return None
    a, b, c, d, length = found.groups()
    return IPv4Interface(((int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d), int(length)))


def usual_ipv6_interface(text: str) -> IPv6Interface | None:
    """The IPv6Interface `text` names when written as hex groups (`::` at most once) and a prefix length, else None."""
    found = _USUAL_IPV6_INTERFACE.fullmatch(text)
    if found is None:
        return None
    address, length = found.groups()
    head, double_colon, tail = address.partition("::")
    if (head and _HEXTETS.fullmatch(head) is None) or (tail and _HEXTETS.fullmatch(tail) is None):
        return None  # a stray or third colon, a group of five digits, a second `::`
    before = head.split(":") if head else []
    after = tail.split(":") if tail else []
    written = len(before) + len(after)
    if written > 7 if double_colon else written != 8:
        return None
    value = 0
    for group in before:
        value = value << 16 | int(group, 16)
    value <<= 16 * (8 - written)
    for group in after:
        value = value << 16 | int(group, 16)
    return IPv6Interface((value, int(length)))


def _ipv4_interface(value: Any) -> Any:
    """`_require_text`, and the interface itself when the text is written the usual way."""
    found = usual_ipv4_interface(value) if isinstance(value, str) else None
    return found if found is not None else _require_text(value)


def _ipv6_interface(value: Any) -> Any:
    """`_no_zone_id`, and the interface itself when the text is written the usual way."""
    found = usual_ipv6_interface(value) if isinstance(value, str) else None
    return found if found is not None else _no_zone_id(value)


def _text_schema(fmt: str, pattern: str, message: str) -> WithJsonSchema:
    """Editors do not know pydantic's address formats; a pattern lets them flag typos while typing."""
    return WithJsonSchema({"type": "string", "format": fmt, "pattern": f"^{pattern}$", "patternErrorMessage": message})


Ipv4Addr = Annotated[
    IPv4Address,
    BeforeValidator(_require_text),
    _text_schema("ipv4", _IPV4, "an IPv4 address such as 10.240.0.4"),
]
Ipv4Net = Annotated[
    IPv4Network,
    BeforeValidator(_strict_network),
    _text_schema("ipv4network", _IPV4 + _IPV4_PREFIX, "an IPv4 network with its prefix length, such as 10.240.0.0/16"),
]
Ipv6Net = Annotated[
    IPv6Network,
    BeforeValidator(_strict_network),
    BeforeValidator(_no_zone_id),
    _text_schema("ipv6network", _IPV6 + _IPV6_PREFIX, "an IPv6 network with its prefix length, such as abcd::1.1.0.0/112"),
]
Ipv4Iface = Annotated[
    IPv4Interface,
    BeforeValidator(_ipv4_interface),
    _text_schema("ipv4interface", _IPV4 + _IPV4_PREFIX,
                 "an IPv4 address with the prefix length of its link subnet, such as 1.1.11.2/30"),
]
Ipv6Iface = Annotated[
    IPv6Interface,
    BeforeValidator(_ipv6_interface),
    _text_schema("ipv6interface", _IPV6 + _IPV6_PREFIX,
                 "an IPv6 address with the prefix length of its link subnet, such as abcd::1.1.11.2/126"),
]
Ipv6Text = Annotated[
    StrictStr,
    AfterValidator(_ipv6_text),
    _text_schema("ipv6", _IPV6, "an IPv6 address such as abcd::10.240.0.4"),
]


_MATCHED_MAX = 10_000


@dataclass(frozen=True)
class FullMatch:
    """A text field's syntax: the whole value must match `pattern`.

    pydantic's own `pattern=` constraint searches with `re.match`, where `$` also matches before
    a final line break, so `"t1\\n"` would pass `^[a-z0-9]+$`. Every pattern of the model goes
    through this instead; the JSON Schema keeps the pattern as written, since `$` in ECMAScript
    (editors) ends the text. The error has pydantic's own type, so diagnostics treat it alike."""

    pattern: str

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        pattern = self.pattern
        full_match = names.full_matcher(pattern)
        # Texts that matched: a big intent names the same node, VRF and image in thousands of pods.
        # Only exact str (no subclass's own __eq__ or __hash__), and at most _MATCHED_MAX of them.
        matched: set[str] = set()

        def check(value: Any) -> Any:
            if type(value) is str and value in matched:
                return value
            if isinstance(value, str):
                if full_match(value) is None:
                    raise PydanticCustomError("string_pattern_mismatch", "String should match pattern '{pattern}'",
                                              {"pattern": pattern})
                if type(value) is str and len(matched) < _MATCHED_MAX:
                    matched.add(value)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        message = json_schema.pop("patternErrorMessage", None)  # kept next to, and after, its pattern
        json_schema["pattern"] = self.pattern
        if message is not None:
            json_schema["patternErrorMessage"] = message
        return json_schema


def _words(message: str, max_length: int | None = None) -> FieldInfo:
    """A text type's length limit and the words editors show instead of its regex.

    It goes before the type's `FullMatch(pattern)`: the length limit applies to the string itself
    and keeps pydantic's string_too_long."""
    return Field(max_length=max_length, json_schema_extra={"patternErrorMessage": message})


KubeName = Annotated[
    StrictStr,
    _words("a Kubernetes name: at most 63 lower-case letters, digits and '-', "
           "starting and ending with a letter or digit (DNS-1123 label)", max_length=63),
    FullMatch(names.DNS1123_LABEL),
]
NodeName = Annotated[
    StrictStr,
    _words("a Kubernetes node name: lower-case DNS labels (letters, digits, '-') separated by dots "
           "(DNS-1123 subdomain)", max_length=names.NODE_NAME_MAX),
    FullMatch(names.DNS1123_SUBDOMAIN),
]
VrfName = Annotated[
    StrictStr,
    _words("at most 31 lower-case letters, digits and '-', starting with a letter "
           "(it becomes a Junos routing-instance and a NAD name)", max_length=names.VRF_NAME_MAX),
    FullMatch(names.VRF_NAME),
]
InterfaceName = Annotated[
    StrictStr,
    _words("a Linux interface name: at most 15 letters, digits, '-', '_' or '.'; no '/' and no spaces",
           max_length=names.LINUX_IFNAME_MAX),
    FullMatch(names.LINUX_IFNAME),
]
ImageRef = Annotated[
    StrictStr,
    _words("a container image reference such as registry.example.com/crpd:23.2R1 (lower-case repository path)",
           max_length=names.IMAGE_REFERENCE_MAX),
    FullMatch(names.IMAGE_REFERENCE),
]
RouteTargetText = Annotated[
    StrictStr,
    _words("a route target: ASN:N, IPv4:N or 4-byte ASN, optionally prefixed by 'target:' (e.g. \"11:11\")"),
    FullMatch(names.ROUTE_TARGET),
]
# An expectation names a pod or a VRF: both are DNS-1123 labels.
PodOrVrfName = Annotated[StrictStr, _words("the name of a pod or a VRF", max_length=63), FullMatch(names.DNS1123_LABEL)]


class _FreeTextMarker:
    """Marks a text type whose value may hold any character, line breaks included (a pod's command
    is often a multi-line script): every output escapes it instead. Every other text field of the
    model has a syntax matched whole; tests/test_injection.py enumerates the model to prove both."""


FREE_TEXT = _FreeTextMarker()
FreeText = Annotated[StrictStr, FREE_TEXT]
MacAddress = Annotated[StrictStr, _words("a MAC address such as 02:00:00:00:01:01"), FullMatch(names.MAC_ADDRESS)]
# Remote keys of an external secret store.
StoreKey = Annotated[StrictStr, _words("a remote key without control characters or line breaks"), FullMatch(names.STORE_KEY)]


def _key_as_title(name: str, info: Any) -> str:
    """Editors show the title on hover: the key as written in the file (`routeTarget`), not `Routetarget`."""
    return info.alias or name


def field_for_key(model: type[BaseModel], key: str) -> FieldInfo | None:
    """The field of `model` that `key` names as the file writes it (`import`, not `import_`), or None."""
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info
    return None


class IntentModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        use_attribute_docstrings=False,
        field_title_generator=_key_as_title,
    )


class Metadata(IntentModel):
    """Names the topology."""

    model_config = ConfigDict(title="metadata")

    name: KubeName = Field(
        description="Name of the topology. It names the output folder and the `app.kubernetes.io/part-of` label.",
        examples=["aks-evpn-type5"],
    )
    namespace: KubeName = Field(
        "default",
        description="Namespace of the NetworkAttachmentDefinitions and application pods. "
        "Platform objects (cRPD DaemonSets, ConfigMaps, Secret) go to `kube-system` (Platter) or `jcnr` (JCNR).",
        examples=["default"],
    )


class Bgp(IntentModel):
    """BGP transport settings shared by all cRPD instances."""

    model_config = ConfigDict(title="bgp")

    listenPort: StrictInt | None = Field(
        None,
        ge=1,
        le=65535,
        description="TCP port cRPD listens on for BGP. Set it (e.g. 178) when the primary CNI (Calico) already uses 179.",
        examples=[178],
    )
    connectPort: StrictInt | None = Field(
        None, ge=1, le=65535, description="TCP port cRPD connects to on its peers.", examples=[178]
    )
    gracefulRestart: StrictBool = Field(
        True,
        description="BGP graceful restart (`routing-options graceful-restart`): when a route reflector's cRPD restarts, "
        "its clients keep forwarding on the routes it sent instead of withdrawing them after the hold time. Safe on by "
        "default: it only delays the withdrawal of routes whose next hops stay up.",
        examples=[True],
    )
    bfd: Bfd | None = Field(
        None,
        description="BFD on the sessions to the route reflectors, to notice a dead peer in about a second instead of the "
        "90-second hold time. Off by default: on a shared cloud network a short interval flaps sessions under load.",
        examples=[{"minimumInterval": 300, "multiplier": 3}],
    )


class Bfd(IntentModel):
    """BFD liveness detection on the BGP sessions (`bfd-liveness-detection`)."""

    model_config = ConfigDict(title="bfd")

    minimumInterval: StrictInt = Field(
        300, ge=50, le=255000, description="Milliseconds between BFD packets, sent and expected.", examples=[300])
    multiplier: StrictInt = Field(3, ge=1, le=255, description="Packets missed before the session is declared down.",
                                  examples=[3])


class Underlay(IntentModel):
    """What cRPD runs on the node network besides BGP."""

    model_config = ConfigDict(title="underlay")

    igp: Literal["none", "isis", "ospf"] = Field(
        "none",
        description="Interior routing on the node network: `none` (the EVPN Type-5 overlay needs only BGP between node "
        "addresses the cloud already routes), `isis` (IS-IS with segment routing, LDP and MPLS, as the upstream Platter "
        "template did), or `ospf` (OSPF area 0). An IGP on `interface all` forms adjacencies on a shared L2 segment and "
        "installs routes into the host's routing table: only where the underlay is yours.",
        examples=["none"],
    )


class SegmentRouting(IntentModel):
    """Segment-routing node indexes written to each node's `node-<name>.json`."""

    model_config = ConfigDict(title="segmentRouting")

    srgbStart: StrictInt = Field(400000, ge=16, le=1048575, description="First label of the SR global block.", examples=[400000])
    srgbRange: StrictInt = Field(
        4000, ge=1, le=1048575, description="Size of the SR global block (`index-range`).", examples=[4000]
    )
    ipv4IndexBase: StrictInt = Field(
        2000, ge=0, description="`srIPv4NodeIndex` of the first node; later nodes count up.", examples=[2000]
    )
    ipv6IndexBase: StrictInt = Field(
        3000, ge=0, description="`srIPv6NodeIndex` of the first node; later nodes count up.", examples=[3000]
    )


class VniRange(IntentModel):
    """Range from which VNIs are allocated to VRFs that do not give one."""

    model_config = ConfigDict(title="vniRange")

    first: StrictInt = Field(10000, ge=1, le=16777215, description="First VNI handed out.", examples=[10000])
    last: StrictInt = Field(19999, ge=1, le=16777215, description="Last VNI handed out.", examples=[19999])


# Bytes VXLAN adds to every overlay packet: attachment MTUs default to, and must fit in,
# `cluster.underlayMtu` minus this.
VXLAN_OVERHEAD = 50

_KUBECONFIG_MESSAGE = "one of " + ", ".join(names.KUBECONFIG_FILES)
# Validated as a node path (JCN106); which files are allowed is a rule of its own (JCN111,
# rules.py), which editors learn from the schema's pattern.
KubeConfigPath = Annotated[
    StrictStr,
    FullMatch(names.NODE_PATH),
    WithJsonSchema({"type": "string", "pattern": names.KUBECONFIG_PATH, "patternErrorMessage": _KUBECONFIG_MESSAGE}),
]


# JCNR Helm chart values (jcnr-formats.md §3.3): the chart builds each image as
# `<global.registry><repository><image name>:<tag>`, so registry and repository end with '/'.
_REGISTRY = (r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?"
             r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*/?$")
_REPOSITORY = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*/?$"
_IMAGE_TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
# DPDK forwarding cores as the chart's `cpu_core_mask` takes them: "2,3", "2-5", "0,2-3".
_CPU_LIST = r"^[0-9]{1,4}(-[0-9]{1,4})?(,[0-9]{1,4}(-[0-9]{1,4})?){0,255}$"

RegistryText = Annotated[
    StrictStr,
    _words("a registry host with an optional port and path, such as registry.example.com/ or "
           "123456789012.dkr.ecr.us-east-1.amazonaws.com", max_length=255),
    FullMatch(_REGISTRY),
]
RepositoryText = Annotated[
    StrictStr,
    _words("a lower-case repository path such as juniper-networks/ (no registry host)", max_length=255),
    FullMatch(_REPOSITORY),
]
ImageTag = Annotated[
    StrictStr,
    _words("an image tag: letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-'", max_length=128),
    FullMatch(_IMAGE_TAG),
]
CpuList = Annotated[
    StrictStr,
    _words("CPU cores as a list of numbers and ranges, such as \"2,3\" or \"2-5,8\"", max_length=1024),
    FullMatch(_CPU_LIST),
]
StorageClassName = Annotated[
    StrictStr,
    _words("a storage class name (DNS-1123 subdomain), such as gp2", max_length=253),
    FullMatch(names.DNS1123_SUBDOMAIN),
]


class JcnrChart(IntentModel):
    """Values of Juniper's JCNR Helm chart that depend on the site (target `jcnr` only). Every key is
    optional: a key left out is left out of `helm/values.yaml` too, so the chart's own default applies."""

    model_config = ConfigDict(title="jcnr")

    registry: RegistryText | None = Field(
        None,
        description="Registry of every JCNR image (Helm `global.registry`). Default: the chart's "
        "(`enterprise-hub.juniper.net/`). jcnrc adds the final `/` the chart expects.",
        examples=["123456789012.dkr.ecr.us-east-1.amazonaws.com"],
    )
    repository: RepositoryText | None = Field(
        None,
        description="Path of every JCNR image inside the registry (Helm `global.repository`, which takes precedence "
        "over the chart's per-image paths). Default: the chart's per-image paths.",
        examples=["juniper-networks/"],
    )
    crpdTag: ImageTag | None = Field(
        None, description="Tag of the chart's cRPD image (Helm `global.common.crpd.tag`). Default: the chart's.",
        examples=["23.2R1.14"],
    )
    vrouterTag: ImageTag | None = Field(
        None, description="Tag of the chart's DPDK vRouter image (Helm `global.common.vrouter.tag`). Default: the chart's.",
        examples=["R23.2-156"],
    )
    cniTag: ImageTag | None = Field(
        None, description="Tag of the chart's JCNR CNI image (Helm `global.common.jcnrcni.tag`). Default: the chart's.",
        examples=["23.2-20230628-8cf4350"],
    )
    cpuCoreMask: CpuList | None = Field(
        None,
        description="CPU cores of the vRouter's DPDK forwarding threads (Helm `jcnr-vrouter.cpu_core_mask`). "
        "Default: the chart's.",
        examples=["2,3"],
    )
    uioDriver: Literal["vfio-pci", "uio_pci_generic"] | None = Field(
        None,
        description="Driver that binds the fabric interfaces to DPDK (Helm `jcnr-vrouter.vrouter_dpdk_uio_driver`). "
        "Default: the chart's (`vfio-pci`).",
        examples=["vfio-pci"],
    )
    storageClass: StorageClassName | None = Field(
        None,
        description="Storage class of the cRPD volumes (Helm `global.storageClass`). Default: `gp2` on EKS, "
        "otherwise the cluster's default class.",
        examples=["gp2"],
    )


class Cluster(IntentModel):
    """The Kubernetes cluster and its underlay."""

    model_config = ConfigDict(title="cluster")

    provider: Literal["aks", "eks", "kubeadm"] = Field(
        description="Where the cluster runs. Drives provider defaults such as the kubeconfig path the CNI uses "
        "and how pod subnets are exempted from NAT.",
        examples=["aks"],
        json_schema_extra={
            "markdownEnumDescriptions": [
                "Azure Kubernetes Service: iptables NAT exemptions, kubeconfig: the kubelet's own `/var/lib/kubelet/kubeconfig`",
                (
                    "Amazon EKS: aws-node `AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS` instead of iptables, "
                    "kubeconfig `/var/lib/kubelet/kubeconfig`"
                ),
                "kubeadm or kubespray: iptables NAT exemptions, kubeconfig `/etc/kubernetes/kubelet.conf`",
            ]
        },
    )
    asn: StrictInt = Field(
        ge=1, le=4294967295, description="iBGP autonomous system of every cRPD instance (`local-as`), 1 to 4294967295.",
        examples=[64512],
    )
    nodeSubnet: Ipv4Net = Field(
        description="Underlay subnet holding every node address. The route reflector accepts BGP sessions from it.",
        examples=["10.240.0.0/16"],
    )
    podCidr: Ipv4Net = Field(
        description="Pod range of the primary CNI. VRF pools must not overlap it.", examples=["10.244.0.0/16"]
    )
    serviceCidr: Ipv4Net = Field(
        description="Service range of the cluster. VRF pools must not overlap it.", examples=["10.0.0.0/16"]
    )
    underlayMtu: StrictInt = Field(
        1500,
        ge=1280,
        le=9216,
        description="MTU of the node network. Overlay attachments default to this minus the 50 bytes VXLAN adds.",
        examples=[1500],
    )
    kubeConfig: KubeConfigPath | None = Field(
        None,
        description="Path on every node of the kubeconfig the Platter CNI reads. Default from the provider profile "
        "(the kubelet's own kubeconfig). Otherwise one of `/etc/kubernetes/kubelet.conf`, `/var/lib/kubelet/kubeconfig` "
        "or `/etc/cni/net.d/multus.d/multus.kubeconfig`: node preparation keeps a copy of the kubelet's kubeconfig "
        "there, and never replaces a file it did not write.",
        examples=["/etc/kubernetes/kubelet.conf"],
        json_schema_extra={"patternErrorMessage": _KUBECONFIG_MESSAGE},
    )
    cniCredentials: Literal["service-account", "kubelet"] = Field(
        "service-account",
        description="Whose credentials the Platter/JCNR CNI uses to read pods and NADs. `service-account`: node "
        "preparation writes a kubeconfig for the `jcnrc-cni` ServiceAccount (least RBAC: get pods, get and list NADs) "
        "from a token the kubelet projects and refreshes, as Multus does; `kubelet`: the kubelet's own kubeconfig, a "
        "`system:node` identity (what the walkthrough and robric copied, there an admin kubeconfig).",
        examples=["service-account"],
    )
    asymmetricRouteTargets: Literal["policies", "nad-vrf-target"] = Field(
        "policies",
        description="How a VRF whose import and export targets differ gets them. `policies`: only jcnrc's "
        "`vrf-import`/`vrf-export` policies, and its NAD carries no `vrfTarget`, so no `vrf-target` written by the "
        "CNI competes with them (unambiguous: the instance has one source of targets). `nad-vrf-target`: the NAD "
        "also carries the first export target, as every public Platter/JCNR NAD does; the CNI then writes a "
        "`vrf-target` next to the policies, and which one decides what the VRF imports is not documented.",
        examples=["policies"],
    )
    bgp: Bgp = Field(
        default_factory=Bgp, description="BGP transport settings.", examples=[{"listenPort": 178, "connectPort": 178}]
    )
    segmentRouting: SegmentRouting = Field(
        default_factory=SegmentRouting, description="SR node indexes (used with `underlay.igp: isis`).",
        examples=[{"srgbStart": 400000, "srgbRange": 4000}]
    )
    underlay: Underlay = Field(default_factory=Underlay, description="Routing on the node network besides BGP.",
                               examples=[{"igp": "none"}])
    vniRange: VniRange = Field(
        default_factory=VniRange, description="Range for VNIs that jcnrc allocates.", examples=[{"first": 10000, "last": 19999}]
    )
    fabricInterface: InterfaceName | None = Field(
        None,
        description="Target jcnr: the node interface the DPDK vRouter takes over (Helm `global.fabricInterface`); "
        "VXLAN and BGP run over it from each node's `fabricAddress`. Required for target jcnr unless every node "
        "sets its own `fabricInterface`. Target platter ignores it.",
        examples=["eth1"],
    )
    jcnr: JcnrChart | None = Field(
        None,
        description="Target jcnr: the site's values of the JCNR Helm chart (images, CPU cores, UIO driver, storage "
        "class). Every key left out takes the chart's default. Target platter ignores it.",
        examples=[{"registry": "123456789012.dkr.ecr.us-east-1.amazonaws.com", "repository": "juniper-networks/",
                   "crpdTag": "23.2R1.14", "vrouterTag": "R23.2-156", "cniTag": "23.2-20230628-8cf4350",
                   "cpuCoreMask": "2,3"}],
    )


class Images(IntentModel):
    """Container images."""

    model_config = ConfigDict(title="images")

    platter: ImageRef | None = Field(
        None,
        description="Platter CNI image (the `install-cni` init container). Required for target `platter`; "
        "target `jcnr` installs its CNI from the Helm chart.",
        examples=["platter.azurecr.io/platter:latest"],
    )
    crpd: ImageRef | None = Field(
        None,
        description="cRPD image of the Platter DaemonSets. Required for target `platter`; target `jcnr` runs the cRPD "
        "of its Helm chart (`cluster.jcnr`).",
        examples=["platter.azurecr.io/crpd:latest"],
    )
    nodePrep: ImageRef = Field(
        "docker.io/library/alpine:3.20",
        description="Image of the node-preparation DaemonSet (needs a shell; iptables is installed from it when missing).",
        examples=["docker.io/library/alpine:3.20"],
    )


class Node(IntentModel):
    """A Kubernetes node that runs cRPD."""

    model_config = ConfigDict(title="node")

    name: NodeName = Field(
        description="Kubernetes node name, exactly as `kubectl get nodes` prints it; at most 243 characters, as the "
        "node's configuration is the file and ConfigMap key `node-<name>.json`.",
        examples=["aks-agentpool-23733201-vmss000000"],
    )
    address: Ipv4Addr = Field(description="The node's InternalIP in `cluster.nodeSubnet`.", examples=["10.240.0.4"])
    fabricAddress: Ipv4Addr | None = Field(
        None,
        description="Target jcnr: the node's IPv4 address on its fabric interface, through which the DPDK vRouter "
        "forwards VXLAN: the node's VTEP, BGP local address, router ID and route-distinguisher administrator; "
        "the other nodes reach it there. Required for target jcnr; target platter ignores it (Platter runs VXLAN "
        "and BGP from `address`).",
        examples=["10.241.0.4"],
    )
    fabricInterface: InterfaceName | None = Field(
        None,
        description="Target jcnr: this node's fabric interface, when its name differs from `cluster.fabricInterface`.",
        examples=["ens5"],
    )
    role: Literal["master", "worker"] = Field(
        description="`master`: BGP route reflector, carries no pods. "
        "`worker`: runs application pods and peers with every master.",
        examples=["worker"],
        json_schema_extra={
            "markdownEnumDescriptions": [
                "BGP route reflector; carries no application pods",
                "runs application pods and peers with every master",
            ]
        },
    )
    isoLoopback: Annotated[StrictStr, FullMatch(names.ISO_NET)] | None = Field(
        None,
        description="ISO NET of the node (`isoLoopbackAddr`). Default: derived from the node address.",
        examples=["49.0004.0102.4000.0004.00"],
        json_schema_extra={
            "patternErrorMessage": "an ISO NET: 49, an area, a 3-group system ID and .00, e.g. 49.0004.0102.4000.0004.00"
        },
    )
    ipv6Loopback: Ipv6Text | None = Field(
        None, description="IPv6 loopback (`ipv6LoopbackAddr`). Default: `abcd::<node address>`.", examples=["abcd::10.240.0.4"]
    )


class RouteTargetPolicy(IntentModel):
    """Asymmetric route targets, for hub and spoke or shared services."""

    model_config = ConfigDict(title="routeTargetPolicy", populate_by_name=True)

    import_: list[RouteTargetText] = Field(
        alias="import", min_length=1, description="Targets whose routes this VRF installs.", examples=[["65000:1"]]
    )
    export: list[RouteTargetText] = Field(
        min_length=1, description="Targets this VRF attaches to its routes.", examples=[["65000:2"]]
    )


def _route_target_shape(value: Any) -> str:
    return "policy" if isinstance(value, dict) else "text"


RouteTarget = Annotated[
    Annotated[RouteTargetText, Tag("text")] | Annotated[RouteTargetPolicy, Tag("policy")],
    Discriminator(_route_target_shape),
]


class Vrf(IntentModel):
    """A routing instance stretched over the cluster with EVPN Type-5 over VXLAN."""

    model_config = ConfigDict(title="vrf")

    name: VrfName = Field(
        description="VRF name: the Junos routing-instance and the NetworkAttachmentDefinition `<name>-net`.", examples=["blue"]
    )
    routeTarget: RouteTarget | None = Field(
        None,
        description="Route target for import and export, or `{import: [...], export: [...]}`. Default: `<asn>:<vni>`. "
        "Forms: `ASN2:N32` (`11:11`), `ASN4:N16` (`4200000000:7`), `IPv4:N16` (`10.0.0.1:5`), each optionally "
        "prefixed by `target:`. Quote it: YAML reads some unquoted forms as numbers.",
        examples=["11:11", "target:64512:10002", {"import": ["65000:1"], "export": ["65000:2"]}],
    )
    vni: StrictInt | None = Field(
        None, ge=1, le=16777215,
        description="VXLAN network identifier, 1 to 16777215. Default: allocated from `cluster.vniRange`.",
        examples=[10002],
    )
    ipv4Pool: Ipv4Net | None = Field(None, description="IPv4 range of the VRF's pod link subnets.", examples=["1.1.0.0/16"])
    ipv6Pool: Ipv6Net | None = Field(
        None, description="IPv6 range of the VRF's pod link subnets.", examples=["abcd::1.1.0.0/112"]
    )
    ipv4LinkPrefix: StrictInt = Field(
        30, ge=8, le=30, description="Prefix length of allocated IPv4 link subnets (gateway, pod, and for /30 the broadcast).",
        examples=[30],
    )
    ipv6LinkPrefix: StrictInt = Field(
        126, ge=64, le=126, description="Prefix length of allocated IPv6 link subnets.", examples=[126]
    )
    routeDistinguisherId: StrictInt | None = Field(
        None, ge=1, le=65535,
        description="`<n>` of the route distinguisher `<node address>:<n>`. Default: allocated, first VRF 1.",
        examples=[1],
    )


class Attachment(IntentModel):
    """One pod interface in a VRF."""

    model_config = ConfigDict(title="attachment")

    vrf: VrfName = Field(description="The VRF this interface joins (a `name` from `vrfs`).", examples=["blue"])
    interface: InterfaceName | None = Field(
        None, description="Interface name inside the pod. Default: `net1`, `net2`, ...", examples=["net1"]
    )
    ipv4: Ipv4Iface | None = Field(
        None,
        description="Pod address with the prefix length of its link subnet, inside the VRF's `ipv4Pool`. "
        "The gateway is the subnet's first host. Default: allocated.",
        examples=["1.1.11.2/30"],
    )
    ipv6: Ipv6Iface | None = Field(
        None, description="IPv6 pod address with its link prefix length, inside the VRF's `ipv6Pool`. Default: allocated.",
        examples=["abcd::1.1.11.2/126"],
    )
    mac: MacAddress | None = Field(
        None, description="MAC of the pod interface (unicast). Default: a stable locally administered unicast MAC.",
        examples=["02:00:00:00:01:01"],
    )
    mtu: StrictInt | None = Field(
        None, ge=576, le=9216,
        description="Interface MTU; at most `cluster.underlayMtu` minus 50. Default: `cluster.underlayMtu` minus 50.",
        examples=[1450],
    )


def interface_name(attachment: Attachment, position: int) -> str:
    """The attachment's interface name in its pod: as written, else `net<n>` by its place in `networks`."""
    return attachment.interface or f"net{position + 1}"


class Pod(IntentModel):
    """An application pod with interfaces in VRFs."""

    model_config = ConfigDict(title="pod")

    name: KubeName = Field(description="Pod name.", examples=["ubuntu-du11"])
    node: NodeName = Field(
        description="Worker node the pod is pinned to (a `name` from `nodes`).", examples=["aks-agentpool-23733201-vmss000001"]
    )
    image: ImageRef = Field(description="Container image.", examples=["ubuntu:20.04"])
    command: list[FreeText] = Field(
        default_factory=lambda: ["sleep", "infinity"],
        description="Container command. Default keeps the pod running for tests.",
        examples=[["sleep", "infinity"]],
    )
    networks: list[Attachment] = Field(
        min_length=1, description="Interfaces of the pod in VRFs.", examples=[[{"vrf": "blue", "ipv4": "1.1.11.2/30"}]]
    )
    workload: Literal["deployment", "pod"] = Field(
        "deployment",
        description="`deployment`: a single-replica Deployment (`strategy: Recreate`) that GitOps can change and that "
        "restarts when the pod's network changes; `pod`: a bare Pod (its spec cannot be changed in place).",
        examples=["deployment"],
    )


class SecretSource(IntentModel):
    """Where a secret value comes from at build time: exactly one of `env` or `file`."""

    model_config = ConfigDict(title="secretSource")

    env: Annotated[StrictStr, FullMatch(names.ENV_VARIABLE)] | None = Field(
        None,
        description="Environment variable holding the value.",
        examples=["CRPD_ROOT_PASSWORD"],
        json_schema_extra={
            "patternErrorMessage": "an environment variable name: letters, digits and '_', not starting with a digit"
        },
    )
    file: Annotated[StrictStr, FullMatch(names.SECRET_FILE)] | None = Field(
        None,
        description="File holding the value, relative to the intent file.",
        examples=["crpd-license.txt"],
        json_schema_extra={
            "patternErrorMessage": "a path relative to the intent file, inside its folder (no leading '/', no '..'), "
            "without quotes, '$', backquotes, backslashes or control characters"
        },
    )

    @model_validator(mode="after")
    def _exactly_one_source(self) -> SecretSource:
        if (self.env is None) == (self.file is None):
            raise PydanticCustomError("secret_source", "give exactly one of `env` or `file`")
        return self


def _refuse_inline_secret(value: Any) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        raise PydanticCustomError(
            "inline_secret",
            "a secret value must not be written in the intent; reference it with `env:` or `file:`",
        )
    return value


SecretRef = Annotated[SecretSource, BeforeValidator(_refuse_inline_secret)]


class ExternalSecretStore(IntentModel):
    """Where External Secrets Operator reads the values from."""

    model_config = ConfigDict(title="externalSecretStore")

    kind: Literal["SecretStore", "ClusterSecretStore"] = Field(
        "ClusterSecretStore", description="Kind of the store.", examples=["ClusterSecretStore"]
    )
    name: KubeName = Field(description="Name of the store.", examples=["vault"])
    rootPasswordKey: StoreKey = Field(description="Remote key of the root password.", examples=["jcnr/root-password"])
    crpdLicenseKey: StoreKey = Field(description="Remote key of the cRPD licence.", examples=["jcnr/crpd-license"])


class Secrets(IntentModel):
    """Credentials of cRPD. Values never appear in the intent itself."""

    model_config = ConfigDict(title="secrets")

    mode: Literal["reference", "external-secrets", "sops", "inline"] = Field(
        "reference",
        description="`reference`: no value in the output, create the Secret out of band. "
        "`external-secrets`: an ExternalSecret. `sops`: an encrypted Secret (needs `sops`). "
        "`inline`: values written, git-ignored.",
        examples=["reference"],
        json_schema_extra={
            "markdownEnumDescriptions": [
                "no value in the output; create the Secret out of band (`create-secrets.sh`)",
                "an ExternalSecret that External Secrets Operator fills from `store`",
                "a Secret encrypted with `sops`",
                "values read from `env`/`file` at build time and written to a git-ignored Secret",
            ]
        },
    )
    rootPassword: SecretRef | None = Field(
        None, description="Root password of cRPD. Required, except with `mode: external-secrets`, where the store holds "
        "it; given there, it is read only to check that no value reaches the output.",
        examples=[{"env": "CRPD_ROOT_PASSWORD"}])
    crpdLicense: SecretRef | None = Field(
        None, description="cRPD licence. Required, except with `mode: external-secrets`, where the store holds it; given "
        "there, it is read only to check that no value reaches the output.",
        examples=[{"file": "crpd-license.txt"}])
    store: ExternalSecretStore | None = Field(
        None,
        description="Store for `mode: external-secrets`.",
        examples=[{"name": "vault", "rootPasswordKey": "jcnr/root-password", "crpdLicenseKey": "jcnr/crpd-license"}],
    )


class Expectation(IntentModel):
    """A reachability assertion: exactly one of `reach` or `isolate`."""

    model_config = ConfigDict(title="expectation")

    reach: list[PodOrVrfName] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="Two pods (or VRFs) that must reach each other, both ways.",
        examples=[["ubuntu-du11", "ubuntu-du22"]],
    )
    isolate: list[PodOrVrfName] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="Two pods (or VRFs) that must not reach each other in either direction.",
        examples=[["red-pod", "blue-pod"]],
    )

    @model_validator(mode="after")
    def _exactly_one_assertion(self) -> Expectation:
        if (self.reach is None) == (self.isolate is None):
            raise PydanticCustomError("expectation_kind", "give exactly one of `reach` or `isolate`")
        return self


class Topology(IntentModel):
    """A jcnrc intent: one cluster, its cRPD nodes, VRFs and pods."""

    model_config = ConfigDict(title="jcnrc topology")

    apiVersion: Literal["jcnrc/v1"] = Field(description="Format version of this file.", examples=["jcnrc/v1"])
    kind: Literal["Topology"] = Field(description="Always `Topology`.", examples=["Topology"])
    metadata: Metadata = Field(description="Name and namespace.", examples=[{"name": "aks-evpn-type5", "namespace": "default"}])
    target: Literal["platter", "jcnr"] = Field(
        "platter",
        description="Router generation to emit: `platter` (2021 kernel data plane) or `jcnr` (23.x/24.x Helm chart).",
        examples=["platter"],
    )
    cluster: Cluster = Field(
        description="The cluster and its underlay.",
        examples=[{
            "provider": "aks", "asn": 64512,
            "nodeSubnet": "10.240.0.0/16", "podCidr": "10.244.0.0/16", "serviceCidr": "10.0.0.0/16",
        }],
    )
    images: Images = Field(
        description="Images of the Platter CNI, cRPD and the node-preparation DaemonSet.",
        examples=[{"platter": "platter.azurecr.io/platter:latest", "crpd": "platter.azurecr.io/crpd:latest"}],
    )
    nodes: list[Node] = Field(
        min_length=1,
        description="Nodes that run cRPD: at least one `master` (route reflector) and one `worker`.",
        examples=[[
            {"name": "node-0", "address": "10.240.0.4", "role": "master"},
            {"name": "node-1", "address": "10.240.0.5", "role": "worker"},
        ]],
    )
    vrfs: list[Vrf] = Field(
        default_factory=list,
        description="VRFs.",
        examples=[[{"name": "blue", "routeTarget": "11:11", "vni": 10002, "ipv4Pool": "1.1.0.0/16"}]],
    )
    pods: list[Pod] = Field(
        default_factory=list,
        description="Application pods.",
        examples=[[{"name": "pod-1", "node": "node-1", "image": "ubuntu:20.04", "networks": [{"vrf": "blue"}]}]],
    )
    secrets: Secrets = Field(
        description="cRPD credentials, by reference.",
        examples=[{"rootPassword": {"env": "CRPD_ROOT_PASSWORD"}, "crpdLicense": {"file": "crpd-license.txt"}}],
    )
    expect: list[Expectation] = Field(
        default_factory=list, description="Reachability the build must prove.", examples=[[{"reach": ["pod-1", "pod-2"]}]]
    )


# --- fleets: one intent for many clusters ------------------------------------------------------

FleetEndpoint = Annotated[
    StrictStr,
    _words("`<cluster>/<pod>` (a pod of one cluster) or the name of a VRF", max_length=127),
    FullMatch(names.FLEET_ENDPOINT),
]


class ImageOverrides(IntentModel):
    """Images one cluster of a fleet uses instead of the fleet's: each key replaces the fleet's key."""

    model_config = ConfigDict(title="images (cluster override)")

    platter: ImageRef | None = Field(None, description="Platter CNI image of this cluster.",
                                     examples=["123456789012.dkr.ecr.us-east-1.amazonaws.com/platter:latest"])
    crpd: ImageRef | None = Field(None, description="cRPD image of this cluster.",
                                  examples=["123456789012.dkr.ecr.us-east-1.amazonaws.com/crpd:23.2R1"])
    nodePrep: ImageRef | None = Field(None, description="Node-preparation image of this cluster.",
                                      examples=["docker.io/library/alpine:3.20"])


class FleetCluster(IntentModel):
    """One cluster of a fleet: what a `Topology` says of its cluster, nodes and pods. VRFs are the
    fleet's; images, secrets and target are the fleet's unless the cluster overrides them."""

    model_config = ConfigDict(title="fleet cluster")

    name: KubeName = Field(description="The cluster's name: names its output folder and its pods in `expect` "
                                       "(`<cluster>/<pod>`).", examples=["east"])
    target: Literal["platter", "jcnr"] | None = Field(
        None, description="Router generation of this cluster; default: the fleet's `target`.", examples=["platter"])
    cluster: Cluster = Field(
        description="The cluster and its underlay (as in a Topology). `vniRange` is fleet-wide: set it at the top level.",
        examples=[{"provider": "eks", "asn": 64512, "nodeSubnet": "10.10.0.0/16", "podCidr": "10.11.0.0/16",
                   "serviceCidr": "172.20.0.0/16"}])
    images: ImageOverrides | None = Field(
        None, description="Images that replace the fleet's in this cluster, key by key.",
        examples=[{"crpd": "123456789012.dkr.ecr.us-west-2.amazonaws.com/crpd:23.2R1"}])
    nodes: list[Node] = Field(
        min_length=1, description="Nodes of this cluster that run cRPD: at least one `master` and one `worker`.",
        examples=[[{"name": "ip-10-10-1-10.ec2.internal", "address": "10.10.1.10", "role": "master"}]])
    pods: list[Pod] = Field(default_factory=list, description="Application pods of this cluster; their VRFs are the fleet's.",
                            examples=[[{"name": "du-east-1", "node": "ip-10-10-1-11.ec2.internal", "image": "ubuntu:20.04",
                                        "networks": [{"vrf": "blue"}]}]])
    secrets: Secrets | None = Field(
        None, description="cRPD credentials of this cluster; default: the fleet's `secrets`.",
        examples=[{"rootPassword": {"env": "EAST_ROOT_PASSWORD"}, "crpdLicense": {"file": "east-license.txt"}}])


class Peering(IntentModel):
    """Two clusters whose route reflectors peer."""

    model_config = ConfigDict(title="peering")

    clusters: list[KubeName] = Field(min_length=2, max_length=2, description="The two clusters, by `name`.",
                                     examples=[["east", "west"]])


class Interconnect(IntentModel):
    """How the clusters' route reflectors peer. Without `peerings`, every cluster's route reflectors
    peer with every other cluster's (a full mesh)."""

    model_config = ConfigDict(title="interconnect")

    peerings: list[Peering] | None = Field(
        None, description="Only these cluster pairs peer. iBGP (equal ASNs) does not pass a route on from one "
                          "peer cluster to the next: with equal ASNs, two clusters exchange routes only when they "
                          "peer directly.",
        examples=[[{"clusters": ["east", "west"]}]])
    multihopTtl: StrictInt = Field(
        64, ge=2, le=255, description="TTL of the eBGP multihop sessions between clusters of different ASNs.",
        examples=[64])


class FleetExpectation(IntentModel):
    """A reachability assertion across the fleet: pods as `<cluster>/<pod>`, VRFs by name."""

    model_config = ConfigDict(title="fleet expectation")

    reach: list[FleetEndpoint] | None = Field(
        None, min_length=2, max_length=2, description="Two pods (or VRFs) that must reach each other, both ways.",
        examples=[["east/du-east-1", "west/du-west-1"]])
    isolate: list[FleetEndpoint] | None = Field(
        None, min_length=2, max_length=2, description="Two pods (or VRFs) that must not reach each other.",
        examples=[["east/red-1", "west/blue-1"]])

    @model_validator(mode="after")
    def _exactly_one_assertion(self) -> FleetExpectation:
        if (self.reach is None) == (self.isolate is None):
            raise PydanticCustomError("expectation_kind", "give exactly one of `reach` or `isolate`")
        return self


class Gitops(IntentModel):
    """Where the fleet's output lives in Git, for the Argo CD ApplicationSet and the Flux Kustomizations."""

    model_config = ConfigDict(title="gitops")

    repoURL: Annotated[StrictStr, _words("a Git URL: https://..., ssh://... or git@host:path", max_length=512),
                       FullMatch(names.GIT_URL)] | None = Field(
        None, description="The repository Argo CD reads; without it no ApplicationSet is written (Flux reads the "
                          "GitRepository of each cluster's own Flux).",
        examples=["https://github.com/example/network.git"])
    revision: Annotated[StrictStr, _words("a branch, tag or commit", max_length=244), FullMatch(names.GIT_REVISION)] = Field(
        "HEAD", description="Branch, tag or commit Argo CD follows.", examples=["main"])
    path: Annotated[StrictStr, _words("a folder of the repository: relative, without `..`", max_length=255),
                    FullMatch(names.REPO_PATH)] | None = Field(
        None, description="Folder of the repository that holds this output; default: the folder the build writes, "
        "relative to the current folder (`out/<metadata.name>` without `-o`). JCN926 when the two differ.",
        examples=["out/tri"])
    argocdNamespace: KubeName = Field("argocd", description="Namespace of Argo CD.", examples=["argocd"])
    argocdProject: KubeName = Field("default", description="Argo CD project of the Applications.", examples=["default"])
    fluxNamespace: KubeName = Field("flux-system", description="Namespace of Flux.", examples=["flux-system"])
    fluxSource: KubeName = Field("flux-system", description="The Flux GitRepository each cluster syncs from.",
                                 examples=["flux-system"])
    interval: Annotated[StrictStr, _words("a Flux duration such as 10m or 1h30m", max_length=32),
                        FullMatch(names.FLUX_DURATION)] = Field(
        "10m", description="How often Flux reconciles each cluster.", examples=["10m"])


class Fleet(IntentModel):
    """A jcnrc fleet: many clusters with the same VRFs, their route reflectors peering across clusters."""

    model_config = ConfigDict(title="jcnrc fleet")

    apiVersion: Literal["jcnrc/v1"] = Field(description="Format version of this file.", examples=["jcnrc/v1"])
    kind: Literal["Fleet"] = Field(description="Always `Fleet`.", examples=["Fleet"])
    metadata: Metadata = Field(description="The fleet's name (its output folder) and the namespace of every cluster.",
                               examples=[{"name": "tri", "namespace": "ran"}])
    target: Literal["platter", "jcnr"] = Field("platter", description="Router generation; a cluster may override it.",
                                               examples=["platter"])
    images: Images = Field(description="Images of every cluster; a cluster may override each key.",
                           examples=[{"platter": "platter.azurecr.io/platter:latest", "crpd": "platter.azurecr.io/crpd:latest"}])
    vniRange: VniRange = Field(default_factory=VniRange, description="Range from which VRFs without `vni` get one, fleet-wide.",
                               examples=[{"first": 10000, "last": 19999}])
    vrfs: list[Vrf] = Field(default_factory=list, description="VRFs, the same in every cluster: route targets, VNIs and pools.",
                            examples=[[{"name": "blue", "routeTarget": "11:11", "vni": 10002, "ipv4Pool": "1.1.0.0/16"}]])
    secrets: Secrets = Field(
        description="cRPD credentials, by reference; a cluster may override them.",
        examples=[{"rootPassword": {"env": "CRPD_ROOT_PASSWORD"}, "crpdLicense": {"file": "crpd-license.txt"}}])
    clusters: list[FleetCluster] = Field(min_length=1, description="The clusters.",
                                         examples=[[{"name": "east", "cluster": {"provider": "eks", "asn": 64512,
                                                     "nodeSubnet": "10.10.0.0/16"}, "nodes": []}]])
    interconnect: Interconnect = Field(default_factory=Interconnect,
                                       description="How route reflectors peer across clusters; default: a full mesh.",
                                       examples=[{"multihopTtl": 64}])
    gitops: Gitops = Field(default_factory=Gitops, description="Where the output lives in Git (Argo CD, Flux).",
                           examples=[{"repoURL": "https://github.com/example/network.git", "revision": "main"}])
    expect: list[FleetExpectation] = Field(
        default_factory=list, description="Reachability the build must prove, across clusters.",
        examples=[[{"reach": ["east/du-east-1", "west/du-west-1"]}]])
