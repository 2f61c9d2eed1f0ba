"""Syntax of every name that jcnrc turns into a file name, a Kubernetes name or Junos text.

These patterns are deliberately narrow: a name that passes them is safe as a path component,
a YAML plain scalar, a JSON string and a Junos identifier without any escaping, which is
what makes injection through names impossible by construction. Values that are not names
(commands, images) are escaped by the render filters instead.
"""

import re

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Junos routing-instance names allow more, but the VRF name also becomes the NAD name
# `<vrf>-net` (DNS-1123) and a kernel VRF device; lower-case keeps all three valid.
VRF_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
VRF_NAME_MAX = 31
LINUX_IFNAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$"
MAC_ADDRESS = r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$"
ISO_NET = r"^49(\.[0-9a-fA-F]{4}){1,4}(\.[0-9a-fA-F]{4}){3}\.00$"
# registry/path:tag@digest, as the distribution reference grammar allows (simplified: no
# uppercase in the path, optional host with port, optional tag, optional digest).
IMAGE_REFERENCE = (
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
IMAGE_REFERENCE_MAX = 255
# Route targets: ASN2:N32, ASN4:N16 (optionally with the Junos 'L' suffix), IPv4:N16,
# each with or without the 'target:' prefix. Ranges are checked in check.py.
ROUTE_TARGET = r"^(target:)?([0-9]{1,10}L?|[0-9]{1,3}(\.[0-9]{1,3}){3}):[0-9]{1,10}$"

_dns_label = re.compile(DNS1123_LABEL)
_dns_subdomain = re.compile(DNS1123_SUBDOMAIN)


def is_dns1123_label(text: str) -> bool:
    return len(text) <= 63 and bool(_dns_label.match(text))


def is_dns1123_subdomain(text: str) -> bool:
    return len(text) <= 253 and bool(_dns_subdomain.match(text)) and all(len(p) <= 63 for p in text.split("."))
