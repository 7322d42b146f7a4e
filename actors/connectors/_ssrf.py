"""SSRF guards: which hosts a connector may call, and which addresses it may connect to.

Two independent checks, both always on:

1. **The allowlist**, before any I/O: the URL's scheme is http(s), it has no user info, and its
   ``host:port`` is the ``base_url``'s or one of ``allow_hosts`` (``*.example.com:443`` matches
   subdomains). An IP-literal host is checked against the address policy here too, because aiohttp
   does not resolve literals.
2. **The address policy, at connect time**: ``GuardedResolver`` (in
   :mod:`actors.connectors._resolver`, which alone imports aiohttp) wraps aiohttp's resolver and
   refuses a name when *any* of its addresses is loopback, link-local, private (RFC 1918, ULA),
   CGNAT, reserved, multicast or unspecified — so DNS that points an allowed name inward is caught
   on every new connection, not just when the config was read.

Cloud metadata addresses (``169.254.169.254``, ``fd00:ec2::254``) are refused even when private
networks are allowed. Refusals are permanent errors: retrying cannot make the address acceptable.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from yarl import URL

from router.plugin import PermanentError

__all__ = [
    "AddressPolicy",
    "Allowlist",
    "BlockedAddressError",
    "HostPattern",
    "is_loopback_host",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_PATTERN = re.compile(r"^(?P<host>\*\.[^:\[\]]+|\[[0-9a-fA-F:.]+\]|[^:\[\]]+):(?P<port>\d{1,5})$")


class BlockedAddressError(OSError):
    """A resolved address is not allowed; aiohttp wraps it in a ClientConnectorError."""


def _unwrap(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (the simulators and tests)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which kinds of address a connection may go to; public unicast is always fine."""

    allow_loopback: bool = False
    allow_private: bool = False  # implies loopback

    def refusal(self, address: str | IPAddress) -> str | None:  # noqa: PLR0911 - one per range
        """Why ``address`` is refused, or None when it is allowed."""
        if isinstance(address, str):
            address = ipaddress.ip_address(address.split("%", 1)[0])
        ip = _unwrap(address)
        if ip in METADATA:
            return "a cloud metadata address"
        if ip.is_unspecified or ip.is_multicast:
            return "an unspecified or multicast address"
        if ip.is_loopback:
            return None if self.allow_loopback or self.allow_private else "a loopback address"
        if ip.is_global:
            return None
        if self.allow_private:
            return None
        if ip.is_link_local:
            return "a link-local address"
        if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
            return "a carrier-grade NAT address"
        return "a private or reserved address"


@dataclass(frozen=True, slots=True)
class HostPattern:
    """One ``host:port`` entry; ``*.example.com`` matches any subdomain (not the apex)."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        match = _PATTERN.match(text.strip())
        port = int(match.group("port")) if match else 0
        if match is None or not 0 < port < 65536:
            raise ValueError(f"{text!r} is not host:port (e.g. hooks.example.com:443)")
        return cls(match.group("host").strip("[]").lower().rstrip("."), port)

    @classmethod
    def of(cls, url: URL) -> HostPattern:
        if url.host is None or url.port is None:
            raise ValueError(f"{url} has no host")
        return cls(url.host.lower().rstrip("."), url.port)

    def matches(self, host: str, port: int) -> bool:
        if port != self.port:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


class Allowlist:
    """The hosts a connector may call and the address policy for literal IPs."""

    def __init__(self, patterns: Iterable[HostPattern], policy: AddressPolicy) -> None:
        self.patterns = tuple(patterns)
        self.policy = policy

    def check(self, url: URL) -> None:
        """Raise PermanentError unless ``url`` may be called."""
        if url.scheme not in {"http", "https"}:
            raise PermanentError(f"refused URL scheme {url.scheme!r}: only http and https")
        if url.user is not None or url.password is not None:
            raise PermanentError("refused URL with user info")
        if not url.host or url.port is None:
            raise PermanentError("refused URL without a host")
        host = url.host.lower().rstrip(".")
        if not any(p.matches(host, url.port) for p in self.patterns):
            raise PermanentError(f"refused host {host}:{url.port}: not in allow_hosts")
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None and (reason := self.policy.refusal(literal)):
            raise PermanentError(f"refused address {literal}: {reason}")
