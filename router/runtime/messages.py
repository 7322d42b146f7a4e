"""Actor messages: frozen dataclasses matched with ``match``, batched on the hot path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from router.connector import OutboundRequest
from router.envelope import Envelope
from router.errors import DeliveryError
from router.store.records import AppendResult, DeliveryState, OutcomeRecord


@dataclass(slots=True)
class Delivery:
    """One (message, route) delivery as its lane actor tracks it."""

    envelope: Envelope
    route: str
    state: DeliveryState
    request: OutboundRequest | None = None  # built once per attempt, same idempotency key
    in_flight: bool = False  # handed to the connector, outcome not yet processed


# journal actor
@dataclass(frozen=True, slots=True)
class Append:
    batch: list[Envelope]
    on_done: Callable[[list[AppendResult] | None, Exception | None], None]  # runs on the loop


@dataclass(frozen=True, slots=True)
class Record:
    outcomes: list[OutcomeRecord]
    release: int = 0  # credit units to free once these outcomes are durable


@dataclass(frozen=True, slots=True)
class FlushOutcomes:
    """Journal the outcomes still held (their linger is over)."""


@dataclass(frozen=True, slots=True)
class Sweep:
    now: float


@dataclass(frozen=True, slots=True)
class Replay:
    items: list[tuple[bytes, str]]  # (message id, route)
    on_done: Callable[[int | None, Exception | None], None]  # runs on the loop


@dataclass(frozen=True, slots=True)
class Purge:
    items: list[tuple[bytes, str]]
    on_done: Callable[[int | None, Exception | None], None]


# route actor
@dataclass(frozen=True, slots=True)
class NewDeliveries:
    deliveries: list[Delivery]


@dataclass(frozen=True, slots=True)
class Outcomes:
    results: list[tuple[Delivery, DeliveryError | None]]  # None means delivered


@dataclass(frozen=True, slots=True)
class RetryDue:
    key: str
    generation: int


# connector actor
@dataclass(frozen=True, slots=True)
class Send:
    deliveries: list[Delivery]
    reply_to: Any  # pykka ActorRef of the route actor


@dataclass(slots=True)
class PendingAck:
    envelope: Envelope
    future: asyncio.Future[AppendResult] = field(repr=False)
