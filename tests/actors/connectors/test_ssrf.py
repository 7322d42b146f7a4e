"""SSRF guards: the address policy, the allowlist and the connect-time resolver check."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from actors.connectors._resolver import GuardedResolver
from actors.connectors._ssrf import (
    AddressPolicy,
    Allowlist,
    BlockedAddressError,
    HostPattern,
    is_loopback_host,
)
from router.errors import PermanentError

STRICT = AddressPolicy()
PRIVATE_OK = AddressPolicy(allow_private=True)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.1.1",
        "169.254.169.254",
        "fd00:ec2::254",
        "fc00::1",
        "fe80::1%eth0",
        "0.0.0.0",
        "::ffff:127.0.0.1",
        "64:ff9b::a00:1",
        "224.0.0.1",
    ],
)
def test_inward_addresses_are_refused_by_default(address: str) -> None:
    assert STRICT.refusal(address) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert STRICT.refusal(address) is None


def test_allowing_private_networks_still_refuses_metadata() -> None:
    assert PRIVATE_OK.refusal("10.0.0.1") is None
    assert PRIVATE_OK.refusal("127.0.0.1") is None
    assert PRIVATE_OK.refusal("169.254.169.254") == "a cloud metadata address"
    assert PRIVATE_OK.refusal("fd00:ec2::254") == "a cloud metadata address"
    assert AddressPolicy(allow_loopback=True).refusal("10.0.0.1") is not None


def test_host_patterns() -> None:
    assert HostPattern.parse("Hooks.Example.com:443") == HostPattern("hooks.example.com", 443)
    assert HostPattern.parse("[::1]:8080") == HostPattern("::1", 8080)
    wildcard = HostPattern.parse("*.example.com:443")
    assert wildcard.matches("a.example.com", 443)
    assert not wildcard.matches("example.com", 443)
    assert not wildcard.matches("a.example.com", 80)
    for bad in ["example.com", "example.com:0", "example.com:99999", "a:b:c"]:
        with pytest.raises(ValueError, match="host:port"):
            HostPattern.parse(bad)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://ok.example.com:443/", "scheme"),
        ("https://user:pw@ok.example.com/", "user info"),
        ("https://evil.example.com/", "not in allow_hosts"),
        ("https://ok.example.com:8443/", "not in allow_hosts"),
        ("http://169.254.169.254:80/latest/meta-data", "metadata"),
        ("http://10.0.0.5:80/", "private"),
    ],
)
def test_the_allowlist_refuses_before_any_io(url: str, why: str) -> None:
    allow = Allowlist(
        [
            HostPattern("ok.example.com", 443),
            HostPattern("169.254.169.254", 80),
            HostPattern("10.0.0.5", 80),
        ],
        STRICT,
    )
    allow.check(URL("https://ok.example.com/path"))
    with pytest.raises(PermanentError, match=why):
        allow.check(URL(url))


def test_loopback_hosts() -> None:
    assert is_loopback_host("localhost")
    assert is_loopback_host("127.0.0.2")
    assert is_loopback_host("[::1]")
    assert not is_loopback_host("example.com")


class FixedResolver(AbstractResolver):
    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        self.closed = True


async def test_the_resolver_refuses_a_name_when_any_address_is_inward() -> None:
    resolver = GuardedResolver(STRICT, FixedResolver("93.184.215.14", "169.254.169.254"))
    with pytest.raises(BlockedAddressError, match=r"169\.254\.169\.254, a cloud metadata address"):
        await resolver.resolve("rebind.example.com", 443)
    ok = GuardedResolver(STRICT, FixedResolver("93.184.215.14"))
    assert [r["host"] for r in await ok.resolve("example.com", 443)] == ["93.184.215.14"]
    inner = FixedResolver()
    await GuardedResolver(STRICT, inner).close()
    assert inner.closed
