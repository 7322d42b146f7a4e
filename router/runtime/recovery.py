"""Start-up recovery: every delivery not yet delivered or dead goes back to its route actor.

It runs before ``/readyz`` turns green, in arrival order, in chunks (one actor message per chunk,
not per delivery). Deliveries for routes no longer configured are dead-lettered with that reason
through the journal actor, the single writer, rather than silently dropped.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from router.logs import get_logger
from router.runtime.credit import Credit
from router.runtime.messages import NewDeliveries, Record
from router.runtime.supervision import tell_safely
from router.store.journal import Journal
from router.store.records import Delivery, OutcomeRecord
from router.store.statuses import Status

log = get_logger("interlock.engine")
RECOVERY_CHUNK = 1000


def recover_deliveries(
    journal: Journal, route_refs: dict[str, Any], credit: Credit, journal_ref: Any
) -> int:
    """Reload pending deliveries into their route actors; returns how many were reloaded."""
    batches: dict[str, list[Delivery]] = defaultdict(list)
    count = 0
    orphans: list[Delivery] = []
    for pending in journal.pending():
        if pending.route not in route_refs:
            orphans.append(pending)
            continue
        batches[pending.route].append(pending)
        count += 1
        if len(batches[pending.route]) >= RECOVERY_CHUNK:
            credit.force_acquire(RECOVERY_CHUNK)
            tell_safely(route_refs[pending.route], NewDeliveries(batches.pop(pending.route)))
    for route, deliveries in batches.items():
        credit.force_acquire(len(deliveries))
        tell_safely(route_refs[route], NewDeliveries(deliveries))
    if orphans:
        _dead_letter_orphans(orphans, journal_ref)
    return count


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
