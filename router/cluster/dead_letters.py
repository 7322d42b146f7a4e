"""Cluster mode: the cluster's dead letters, as the admin API and the CLI show them.

In cluster mode a dead letter is written by its partition's owner to the backbone's dead-letter
bucket before the message is acknowledged, with the message record, so any instance can list it
and replay it (a replay is published to the partition again; the owner of the day delivers it).
These are the same :class:`~router.store.query_models.DeadLetter` items and pages as the journal's.
"""

from __future__ import annotations

from typing import Any

from router.envelope import Envelope
from router.ids import encode_id
from router.store.queries import dead_letter_item, parse_dead_letter_cursor
from router.store.query_models import DeadLetter


def to_model(raw: dict[str, Any]) -> DeadLetter:
    """One bucket entry (see ``ClusterNode._dead_then_ack``) as the admin API's item."""
    message_id = bytes(raw["id"])
    envelope = Envelope.from_record(message_id, bytes(raw["record"]))
    return dead_letter_item(message_id, raw, envelope, holds_key=False)


def page(
    raw: list[dict[str, Any]],
    *,
    route: str | None = None,
    source: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[DeadLetter], str | None]:
    """A page in message arrival order, filtered like the journal's ``list_dead_letters``."""
    after = parse_dead_letter_cursor(cursor) if cursor is not None else b""
    keyed = sorted(
        ((bytes(r["id"]) + str(r["route"]).encode(), r) for r in raw), key=lambda kr: kr[0]
    )
    items: list[DeadLetter] = []
    for key, record in keyed:
        if key <= after:
            continue
        item = to_model(record)
        if route is not None and item.route != route:
            continue
        if source is not None and item.source != source:
            continue
        if since is not None and item.received_at < since:
            continue
        if until is not None and item.received_at > until:
            continue
        items.append(item)
        if len(items) >= limit:
            return items, f"{encode_id(key[:16])}:{key[16:].decode()}"
    return items, None
