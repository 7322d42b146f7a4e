"""Actor messages: frozen dataclasses matched with ``match``, batched on the hot path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from router.connector import OutboundRequest
from router.envelope import Envelope
from router.errors import DeliveryError
from router.store.records import Adoption, AppendResult, Delivery, OutcomeRecord

Committed = Callable[[list[AppendResult] | None, Exception | None], None]
"""Runs on the loop with an Append's results (or why it failed)."""
Counted = Callable[[int | None, Exception | None], None]
"""Runs on the loop with how many items a Replay, Purge or Skip changed (or why it failed)."""
Found = Callable[[list[Delivery] | None, Exception | None], None]
"""Runs on the loop with the deliveries a Load found (or why it failed)."""
Adopted = Callable[[list[Delivery | None] | None, Exception | None], None]
"""Runs on the loop with the adopted deliveries (None: finished already), or why it failed."""


# journal actor (its own thread)
@dataclass(frozen=True, slots=True)
class Append:
    """A group commit: new messages, plus the outcomes that ride along in the same transaction."""

    batch: list[Envelope]
    outcomes: list[OutcomeRecord]
    release: int  # credit units to free once those outcomes are durable
    on_done: Committed
    # Cluster mode: deliveries taken from the backbone ride along too (one fsync for all).
    adoptions: list[Adoption] = field(default_factory=list)
    on_adopted: Adopted | None = None


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


@dataclass(frozen=True, slots=True)
class Skip:
    """Give up on dead letters (never delivered), with the operator's reason; releases the keys
    they hold."""

    items: list[tuple[bytes, str]]
    reason: str
    on_done: Counted


@dataclass(frozen=True, slots=True)
class Load:
    """Read back a released key's held deliveries (their credit is taken again)."""

    route: str
    ids: list[bytes]
    on_done: Found


@dataclass(frozen=True, slots=True)
class DropHolds:
    """At start: holds of routes that no longer hold their keys (removed, or now `continue`)."""

    holds: list[tuple[str, str]]  # (route, ordering key)


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


@dataclass(frozen=True, slots=True)
class Holds:
    """At recovery, before any delivery: the route's held keys, each with its dead letter's id
    and the ids of the pending deliveries held behind it (oldest first)."""

    holds: dict[str, tuple[bytes, list[bytes]]]


@dataclass(frozen=True, slots=True)
class Release:
    """Dead letter ``holder`` of ``key`` was replayed (``head``) or skipped: the key goes on."""

    key: str
    holder: bytes
    head: Delivery | None


@dataclass(frozen=True, slots=True)
class Loaded:
    """The held deliveries of a released key, read back (``error``: the read failed; retry)."""

    key: str
    ids: list[bytes]
    deliveries: list[Delivery]
    error: Exception | None = None


# connector actor (on the loop)
@dataclass(frozen=True, slots=True)
class Send:
    items: list[tuple[Delivery, OutboundRequest]]
    reply_to: object  # the route actor's ref, told the Outcomes
