"""Where a webhook may be sent: public addresses only (no SSRF into the platform's network).

A target's host is resolved and refused when any of its addresses is loopback, private,
link-local, multicast, reserved or unspecified (IPv4, IPv6, and IPv4 mapped into IPv6): at
registration, and again before every delivery (a name may resolve elsewhere later, DNS
rebinding). `allow_private` (development and tests only) lifts the rule.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from catalog.errors import InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class PrivateTarget(InvalidInput):
    """A webhook host resolves to an address the service must not call."""

    code = "webhook_target_refused"


def is_public(address: Address) -> bool:
    """Whether `address` is a global unicast address (an IPv4-mapped IPv6 judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        not (
            address.is_loopback
            or address.is_private
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
        )
        and address.is_global
    )


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (an IP literal is itself); InvalidInput when none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise PrivateTarget("the webhook host does not resolve") from error
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check_target(url: str, allow_private: bool = False) -> list[Address]:
    """The URL's addresses, refused unless every one is public (or `allow_private`)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise InvalidInput("a webhook URL is an absolute https:// URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(parts.hostname, port)
    if not allow_private and not all(is_public(a) for a in addresses):
        raise PrivateTarget(
            "webhook targets must resolve to public addresses only (not loopback, private, "
            "link-local, multicast or reserved)"
        )
    return addresses
