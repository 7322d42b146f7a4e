"""Start-up recovery: every delivery not yet delivered or dead goes back to its route actor.

It runs before ``/readyz`` turns green, in arrival order, in chunks (one actor message per chunk,
not per delivery). Deliveries for routes no longer configured are dead-lettered with that reason
through the journal actor, the single writer, rather than silently dropped.

Held keys (``on_dead_letter: hold``) are rebuilt from the journal's holds and the pending index:
a pending delivery of a held key is not reloaded (it takes no credit); its route actor learns the
key's dead letter and the ids held behind it (:class:`~router.runtime.messages.Holds`), as before
the restart. A hold whose route no longer holds its keys (removed, now ``continue`` or without a
``key``) is dropped, and what it held is reloaded like any pending delivery.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection
from typing import Any

from router.logs import get_logger
from router.runtime.credit import Credit
from router.runtime.messages import DropHolds, Holds, NewDeliveries, Record
from router.runtime.supervision import tell_safely
from router.store.journal import Journal
from router.store.records import Delivery, OutcomeRecord
from router.store.statuses import Status

log = get_logger("interlock.engine")
RECOVERY_CHUNK = 1000


def recover_deliveries(
    journal: Journal,
    route_refs: dict[str, Any],
    credit: Credit,
    journal_ref: Any,
    holding: Collection[str] = (),
) -> int:
    """Reload pending deliveries into their route actors; returns how many were reloaded.

    ``holding``: the routes whose dead letters hold their keys now.
    """
    holds = _holds(journal, route_refs, journal_ref, holding)
    held: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    batches: dict[str, list[Delivery]] = defaultdict(list)
    count = 0
    orphans: list[Delivery] = []
    for pending in journal.pending():
        if pending.route not in route_refs:
            orphans.append(pending)
            continue
        if holds and (pending.route, pending.state.ordering_key) in holds:
            held[pending.route, pending.state.ordering_key].append(pending.envelope.id)
            continue
        batches[pending.route].append(pending)
        count += 1
        if len(batches[pending.route]) >= RECOVERY_CHUNK:
            credit.force_acquire(RECOVERY_CHUNK)
            tell_safely(route_refs[pending.route], NewDeliveries(batches.pop(pending.route)))
    for route, deliveries in batches.items():
        credit.force_acquire(len(deliveries))
        tell_safely(route_refs[route], NewDeliveries(deliveries))
    if holds:
        _restore(holds, held, route_refs)
    if orphans:
        _dead_letter_orphans(orphans, journal_ref)
    return count


def _holds(
    journal: Journal, route_refs: dict[str, Any], journal_ref: Any, holding: Collection[str]
) -> dict[tuple[str, str], bytes]:
    """The held keys, ``(route, key) -> dead letter's id``; holds of routes that no longer hold
    their keys are dropped (through the journal actor, the single writer)."""
    holds: dict[tuple[str, str], bytes] = {}
    stale: list[tuple[str, str]] = []
    with journal.reader() as reader:
        for route, key, holder in reader.holds():
            if route in holding and route in route_refs:
                holds[route, key] = holder
            else:
                stale.append((route, key))
    if stale:
        tell_safely(journal_ref, DropHolds(stale))
        log.info("holds_dropped_at_start", count=len(stale))
    return holds


def _restore(
    holds: dict[tuple[str, str], bytes],
    held: dict[tuple[str, str], list[bytes]],
    route_refs: dict[str, Any],
) -> None:
    """Tell each route actor its held keys, and the ids held behind each."""
    per_route: dict[str, dict[str, tuple[bytes, list[bytes]]]] = defaultdict(dict)
    for (route, key), holder in holds.items():
        per_route[route][key] = (holder, held.get((route, key), []))
    for route, restored in per_route.items():
        tell_safely(route_refs[route], Holds(restored))
    waiting = sum(len(ids) for ids in held.values())
    log.info("held_keys_recovered", keys=len(holds), held=waiting)


def _dead_letter_orphans(orphans: list[Delivery], journal_ref: Any) -> None:
    now = time.time()
    records = []
    for p in orphans:
        state = p.state
        state.status, state.updated_at = Status.DEAD, now
        records.append(
            OutcomeRecord(
                p.envelope.id,
                p.route,
                state,
                "dead_lettered",
                "route removed from config",
                p.envelope.trace_id,
            )
        )
    tell_safely(journal_ref, Record(records))
    log.warning("orphan_deliveries_dead_lettered", count=len(records))
