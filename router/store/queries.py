"""Read-only queries over the journal, for the admin API and for the CLI on a stopped router.

Nothing here writes. Each call opens one short read transaction (several for a detail view) and
scans at most :data:`SCAN_BUDGET` records, so a selective filter over a large journal returns a
short page with a cursor instead of holding a reader open. Message ids are time-ordered, so a time
range is a seek to the id prefix of its first millisecond, and pages follow id order.

The result models are frozen pydantic models: they are also the admin API's OpenAPI schemas.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import orjson

from router.envelope import Envelope
from router.ids import decode_id, encode_id
from router.store.journal import Journal
from router.store.query_models import (
    DeadLetter,
    DeliveryInfo,
    DeliveryStatus,
    MessageDetail,
    MessageStatus,
    MessageSummary,
    TimelineEntry,
)
from router.store.reads import JournalReader
from router.store.records import DeliveryState
from router.store.statuses import Status

SCAN_BUDGET = 20_000
_Item = TypeVar("_Item")
_Record = TypeVar("_Record")
MAX_MS = (1 << 48) - 1
__all__ = [
    "DeadLetter",
    "DeliveryInfo",
    "MessageDetail",
    "MessageSummary",
    "TimelineEntry",
    "dead_letters_of",
    "list_dead_letters",
    "message_detail",
    "pending_by_route",
    "search_messages",
]


def _ms_key(seconds: float) -> bytes:
    ms = int(seconds * 1000)
    if not 0 <= ms <= MAX_MS:
        raise ValueError("time out of range")
    return ms.to_bytes(6, "big")


def _until_ms(until: float | None) -> int:
    return MAX_MS if until is None else int.from_bytes(_ms_key(until), "big")


def _start(since: float | None, cursor_key: bytes | None) -> bytes:
    start = _ms_key(since) + bytes(10) if since is not None else b""
    return max(start, cursor_key) if cursor_key is not None else start


def _statuses(reader: JournalReader, env: Envelope) -> dict[str, DeliveryStatus]:
    """Each route's status, derived as everywhere else (:func:`delivery_state`)."""
    return {route: state.status.value for route, state in reader.deliveries(env).items()}


def search_messages(
    journal: Journal,
    *,
    status: MessageStatus | None = None,
    route: str | None = None,
    source: str | None = None,
    since: float | None = None,
    until: float | None = None,
    correlation_id: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[MessageSummary], str | None]:
    """Messages in arrival order that match every given filter, and the next page's cursor.

    ``since``/``until`` are Unix seconds, inclusive, at millisecond precision. ``status`` matches a
    message with at least one delivery (on ``route``, when given) in that state, or ``unrouted``.
    The cursor is the last id returned (or scanned, when the scan budget ran out); None at the end.
    """

    def scan(reader: JournalReader, start: bytes) -> Iterator[tuple[bytes, Envelope]]:
        return ((env.id, env) for env in reader.messages_from(start))

    def pick(reader: JournalReader, env: Envelope) -> MessageSummary | None:
        unrouted = not env.routes
        if not _matches(env, unrouted, status, route, source, correlation_id, reader):
            return None
        return _summary(env, _statuses(reader, env), unrouted)

    after = decode_id(cursor) if cursor is not None else None
    return _page(journal, scan, since, until, after, limit, pick, encode_id)


def _page(
    journal: Journal,
    scan: Callable[[JournalReader, bytes], Iterator[tuple[bytes, _Record]]],
    since: float | None,
    until: float | None,
    after: bytes | None,
    limit: int,
    pick: Callable[[JournalReader, _Record], _Item | None],
    cursor_of: Callable[[bytes], str],
) -> tuple[list[_Item], str | None]:
    """One page of a time-ordered scan (keys start with a message id) within the scan budget."""
    until_ms = _until_ms(until)
    items: list[_Item] = []
    with journal.reader() as reader:
        scanned = 0
        for key, record in scan(reader, _start(since, after)):
            if int.from_bytes(key[:6], "big") > until_ms:
                return items, None
            if key == after:
                continue
            scanned += 1
            item = pick(reader, record)
            if item is not None:
                items.append(item)
                if len(items) >= limit:
                    return items, cursor_of(key)
            if scanned >= SCAN_BUDGET:
                return items, cursor_of(key)
    return items, None


def _matches(
    env: Envelope,
    unrouted: bool,
    status: MessageStatus | None,
    route: str | None,
    source: str | None,
    correlation_id: str | None,
    reader: JournalReader,
) -> bool:
    if source is not None and env.source != source:
        return False
    if correlation_id is not None and env.correlation_id != correlation_id:
        return False
    if route is not None and all(r != route for r, _ in env.routes):
        return False
    if status == "unrouted":
        return unrouted
    if status is not None:
        routes = _statuses(reader, env)
        return status in ([routes[route]] if route is not None else routes.values())
    return True


def _summary(env: Envelope, routes: dict[str, DeliveryStatus], unrouted: bool) -> MessageSummary:
    return MessageSummary(
        id=encode_id(env.id),
        source=env.source,
        type=env.type,
        received_at=env.received_at,
        correlation_id=env.correlation_id,
        trace_id=env.trace_id,
        unrouted=unrouted,
        routes=routes,
    )


def message_detail(journal: Journal, message_id: bytes) -> MessageDetail | None:
    """The message's metadata, kept headers, body, deliveries and timeline; None when unknown."""
    with journal.reader() as reader:
        env = reader.message(message_id)
        if env is None:
            return None
        states = reader.deliveries(env)
        events = reader.timeline(message_id)
        dead = {route for route in states if reader.is_dead_letter(message_id, route)}
        held = {
            route: holder
            for route, state in states.items()
            if state.status in (Status.PENDING, Status.RETRY)
            and (holder := reader.holder(route, state.ordering_key)) not in (None, message_id)
        }
    try:
        body: Any = orjson.loads(env.body)
        is_json = True
    except orjson.JSONDecodeError:
        body, is_json = None, False
    return MessageDetail(
        id=encode_id(message_id),
        source=env.source,
        type=env.type,
        idempotency_key=env.idempotency_key,
        correlation_id=env.correlation_id,
        traceparent=env.traceparent,
        trace_id=env.trace_id,
        received_at=env.received_at,
        headers=env.headers,
        body_size=len(env.body),
        body_is_json=is_json,
        body=body,
        unrouted=not env.routes,
        deliveries=[
            _delivery(route, s, route in dead, held.get(route)) for route, s in states.items()
        ],
        timeline=[
            TimelineEntry(at=e.at, kind=e.kind, route=e.route, detail=e.detail, attempt=e.attempt)
            for e in events
        ],
    )


def _delivery(
    route: str, state: DeliveryState, dead_letter: bool, held_by: bytes | None
) -> DeliveryInfo:
    return DeliveryInfo(
        route=route,
        status=state.status.value,
        attempts=state.attempts,
        ordering_key=state.ordering_key,
        last_error=state.last_error,
        next_at=state.next_at or None,
        first_attempt_at=state.first_attempt_at or None,
        updated_at=state.updated_at,
        dead_letter=dead_letter,
        held_by=None if held_by is None else encode_id(held_by),
    )


def dead_letter_item(
    message_id: bytes, record: dict[str, Any], env: Envelope | None, holds_key: bool
) -> DeadLetter:
    return DeadLetter(
        id=encode_id(message_id),
        route=record["route"],
        reason=record["reason"],
        attempts=record["attempts"],
        last_error=record["last_error"],
        trace_id=record["trace_id"],
        at=record["at"],
        source=env.source if env else "",
        type=env.type if env else "",
        correlation_id=env.correlation_id if env else "",
        received_at=env.received_at if env else 0.0,
        holds_key=holds_key,
    )


def parse_dead_letter_cursor(cursor: str) -> bytes:
    """``ID:route`` (as returned in ``next_cursor``) -> the dead-letter key; ValueError if not."""
    text, sep, route = cursor.partition(":")
    if not sep or not route:
        raise ValueError("a dead-letter cursor is 'ID:route'")
    return decode_id(text) + route.encode()


def list_dead_letters(
    journal: Journal,
    *,
    route: str | None = None,
    source: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[DeadLetter], str | None]:
    """Dead letters in message arrival order (``since``/``until`` bound the message's receipt)."""

    def scan(
        reader: JournalReader, start: bytes
    ) -> Iterator[tuple[bytes, tuple[bytes, dict[str, Any]]]]:
        return ((key, (key, record)) for key, record in reader.dead_letters_from(start))

    def pick(reader: JournalReader, item: tuple[bytes, dict[str, Any]]) -> DeadLetter | None:
        key, record = item
        if route is not None and record["route"] != route:
            return None
        env = reader.message(key[:16])
        if source is not None and (env is None or env.source != source):
            return None
        return dead_letter_item(key[:16], record, env, reader.holding(key[:16], record["route"]))

    def cursor_of(key: bytes) -> str:
        return f"{encode_id(key[:16])}:{key[16:].decode()}"

    after = parse_dead_letter_cursor(cursor) if cursor is not None else None
    return _page(journal, scan, since, until, after, limit, pick, cursor_of)


def dead_letters_of(journal: Journal, message_id: bytes) -> list[DeadLetter]:
    """Every dead-lettered delivery of one message (empty when it has none)."""
    with journal.reader() as reader:
        env = reader.message(message_id)
        return [
            dead_letter_item(message_id, r, env, reader.holding(message_id, r["route"]))
            for r in reader.dead_letters_of(message_id)
        ]


def pending_by_route(journal: Journal) -> dict[str, int]:
    """Deliveries not yet terminal (pending or waiting for a retry), per route."""
    counts: dict[str, int] = {}
    with journal.reader() as reader:
        for _message_id, route in reader.pending_keys():
            counts[route] = counts.get(route, 0) + 1
    return counts
