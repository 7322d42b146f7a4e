"""Actor messages: frozen dataclasses matched with ``match``, batched on the hot path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from router.connector import OutboundRequest
from router.envelope import Envelope
from router.errors import DeliveryError
from router.store.records import AppendResult, Delivery, OutcomeRecord

Committed = Callable[[list[AppendResult] | None, Exception | None], None]
"""Runs on the loop with an Append's results (or why it failed)."""
Counted = Callable[[int | None, Exception | None], None]
"""Runs on the loop with how many items a Replay or Purge changed (or why it failed)."""


# journal actor (its own thread)
@dataclass(frozen=True, slots=True)
class Append:
    """A group commit: new messages, plus the outcomes that ride along in the same transaction."""

    batch: list[Envelope]
    outcomes: list[OutcomeRecord]
    release: int  # credit units to free once those outcomes are durable
    on_done: Committed


@dataclass(frozen=True, slots=True)
class Record:
    """Outcomes journaled on their own (no Append came to carry them in time)."""

    outcomes: list[OutcomeRecord]
    release: int = 0


@dataclass(frozen=True, slots=True)
class Sweep:
    now: float


@dataclass(frozen=True, slots=True)
class Replay:
    items: list[tuple[bytes, str]]  # (message id, route)
    on_done: Counted


@dataclass(frozen=True, slots=True)
class Purge:
    items: list[tuple[bytes, str]]
    on_done: Counted


# route actor (on the loop)
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


# connector actor (on the loop)
@dataclass(frozen=True, slots=True)
class Send:
    items: list[tuple[Delivery, OutboundRequest]]
    reply_to: object  # the route actor's ref, told the Outcomes
