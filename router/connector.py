"""The contract of an outbound connector, and the request it is handed.

A connector kind registers ``(kind, config model, factory)`` with :mod:`router.registry`; the
factory is called as ``factory(name, config)`` and returns a :class:`Connector`. Its coroutines run
on the engine's event loop (one keep-alive aiohttp ``ClientSession`` per connector). ``send`` raises
:class:`~router.errors.TransientError` or :class:`~router.errors.PermanentError`; anything else it
raises is treated as transient, so a connector bug can delay a message but never lose it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    message_id: str
    route: str
    method: str
    path: str
    body: bytes
    idempotency_key: str
    correlation_id: str
    traceparent: str
    attempt: int
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    operation: str | None = None  # a vendor connector's operation, when the route names one
    event: Mapping[str, Any] | None = None  # the inbound event's source, type and key


class Connector(Protocol):
    timeout_s: float
    concurrency: int

    async def start(self) -> None:
        """Open pools; called once on the event loop before the first send."""

    async def send(self, request: OutboundRequest) -> bytes | None:
        """Deliver one request; return the response body (or None) on success, raise a
        DeliveryError otherwise. Request/reply routes answer their caller with that body."""

    async def close(self) -> None:
        """Release pools; called once on shutdown."""
