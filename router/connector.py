"""The contract of an outbound connector, and the request it is handed.

A connector kind registers ``(kind, config model, factory)`` with :mod:`router.registry`; the
factory is called as ``factory(name, config)`` and returns a :class:`Connector`. Its coroutines run
on the engine's event loop (one keep-alive aiohttp ``ClientSession`` per connector). ``send`` raises
:class:`~router.errors.TransientError` or :class:`~router.errors.PermanentError`; anything else it
raises is treated as transient, so a connector bug can delay a message but never lose it.

Batch reads: an operation the kind registers in ``lists`` reads records page by page, through
the same ``send`` (so the connector's auth, rate limit, breaker and deadline apply to every
page). Its request body is :func:`page_request` (the reconciliation's ``params`` and the cursor
of the page wanted, ``None`` for the first); it answers :meth:`Page.encode`: the page's records
and the cursor of the next page, ``None`` after the last. The cursor is whatever the vendor pages
by (Stripe's ``starting_after`` id, a NetSuite offset, Salesforce's ``nextRecordsUrl``), kept
durably by the caller between pages so a crash resumes from the last page read.

Key windows: a target deduplicates an ``Idempotency-Key`` only for so long (Stripe: 24 h). A
connector says, per request, how long a resend with the same key stays safe
(:meth:`KeyWindowed.key_window`): seconds, or ``None`` when it is safe at any age (a natural upsert
by external id, an operation that first looks its record up, a target that keeps keys for good).
The engine refuses a retry or replay whose key was first sent longer ago than that
(:mod:`router.runtime.key_window`), with the reason on the dead letter and in the timeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import orjson


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


@runtime_checkable
class KeyWindowed(Protocol):
    """A connector whose target forgets idempotency keys after a while (optional to implement)."""

    def key_window(self, request: OutboundRequest) -> float | None:
        """Seconds a resend of ``request`` with the same key is deduplicated by the target;
        ``None``: safe to resend at any age (upsert by external id, look-up first, keys kept)."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a batch read: its records, and the cursor of the next page (None: the last)."""

    records: list[Any]
    next: Any = None

    def encode(self) -> bytes:
        return orjson.dumps({"records": self.records, "next": self.next})

    @classmethod
    def decode(cls, body: bytes | None) -> Page:
        """A list operation's answer; ValueError when it is not a page."""
        try:
            document = orjson.loads(body or b"")
        except orjson.JSONDecodeError:
            raise ValueError("a list operation answered something that is not JSON") from None
        if not isinstance(document, dict) or not isinstance(document.get("records"), list):
            raise ValueError("a list operation answered no `records` list")  # noqa: TRY004 - bad data
        return cls(document["records"], document.get("next"))


def page_request(params: Mapping[str, Any], cursor: Any) -> bytes:
    """The body of a list operation's request: what to list, and which page."""
    return orjson.dumps({"params": dict(params), "cursor": cursor})
