"""The connect-time half of the SSRF guard: aiohttp's resolver, checked against the policy.

Apart from :mod:`actors.connectors._ssrf` (the policy itself, pure) because it subclasses an
aiohttp class: importing aiohttp costs about 140 ms, and ``interlock check`` (which imports every
connector package to validate its config) never opens a connection. The client imports this
module when it starts.
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from actors.connectors._ssrf import AddressPolicy, BlockedAddressError

__all__ = ["GuardedResolver"]


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing names that resolve to an address the policy does not allow."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            reason = self.policy.refusal(result["host"])
            if reason is not None:
                raise BlockedAddressError(
                    f"refused {host}: it resolves to {result['host']}, {reason}"
                )
        return results

    async def close(self) -> None:
        await self._inner.close()
