"""Route-target syntax and ranges (RFC 4360 types 0, 1 and 2; RFC 5668 for 4-byte AS)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class RouteTarget:
    administrator: str  # "11", "4200000000", "10.0.0.1"
    assigned: int
    four_byte: bool = False

    @property
    def junos(self) -> str:
        """As Junos writes it in `vrf-target` and prints it in communities: target:11:11."""
        return f"target:{self.value}"

    @property
    def value(self) -> str:
        """As Platter's NAD `vrfTarget` takes it: 11:11 (no 'target:' prefix)."""
        suffix = "L" if self.four_byte and int(self.administrator) <= 65535 else ""
        return f"{self.administrator}{suffix}:{self.assigned}"


class RouteTargetError(ValueError):
    pass


def parse(text: str) -> RouteTarget:
    body = text.removeprefix("target:")
    admin, sep, number = body.rpartition(":")
    if not sep or not admin or not number.isdigit():
        raise RouteTargetError(f"{text!r} is not of the form ADMIN:NUMBER")
    assigned = int(number)
    if "." in admin:
        try:
            address = ipaddress.IPv4Address(admin)
        except ValueError:
            raise RouteTargetError(f"{admin!r} is not an IPv4 address") from None
        if address.is_unspecified or address.is_multicast or address == ipaddress.IPv4Address("255.255.255.255"):
            raise RouteTargetError(f"{admin} cannot administer a route target: use a unicast address of the network, "
                                   "such as the router ID")
        if assigned > 0xFFFF:
            raise RouteTargetError(f"with an IPv4 administrator the number is at most 65535, found {assigned}")
        return RouteTarget(admin, assigned)
    forced_four = admin.endswith("L")
    asn_text = admin.removesuffix("L")
    if not asn_text.isdigit():
        raise RouteTargetError(f"{admin!r} is not an AS number")
    asn = int(asn_text)
    if asn == 0 or asn > 0xFFFFFFFF:
        raise RouteTargetError(f"AS {asn} is out of range (1 to 4294967295)")
    if forced_four or asn > 0xFFFF:
        if assigned > 0xFFFF:
            raise RouteTargetError(f"with a 4-byte AS the number is at most 65535, found {assigned}")
        return RouteTarget(str(asn), assigned, four_byte=True)
    if assigned > 0xFFFFFFFF:
        raise RouteTargetError(f"with a 2-byte AS the number is at most 4294967295, found {assigned}")
    return RouteTarget(str(asn), assigned)


def default(asn: int, vni: int) -> RouteTarget:
    """The target of a VRF without `routeTarget`: `<asn>:<vni>` both ways (allocate.route_target_texts).
    Raises RouteTargetError when it does not fit (a 4-byte AS with a VNI above 65535: JCN511)."""
    return parse(f"{asn}:{vni}")
