"""The journal on real LMDB in tmp_path: idempotency, delivery states, indexes, sweep, full maps."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.envelope import Envelope
from router.errors import StorageError, StorageFullError, StorageOpenError, UnavailableError
from router.ids import new_id_bytes
from router.store.journal import Journal
from router.store.lmdb_env import MB
from router.store.records import AppendOutcome, AppendResult, DeliveryState, OutcomeRecord
from router.store.statuses import Status

DEAD_RETENTION = 30 * 86400.0
RETENTION = 3600.0
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def envelope(
    key: str,
    body: bytes = b'{"id": 1}',
    *,
    routes: list[tuple[str, str]] | None = None,
    source: str = "shop",
) -> Envelope:
    return Envelope(
        id=new_id_bytes(),
        source=source,
        type="order.created",
        idempotency_key=key,
        correlation_id=f"corr-{key}",
        traceparent=TRACEPARENT,
        received_at=time.time(),
        body=body,
        routes=[("orders", "c1")] if routes is None else routes,
        headers={"X-Shop": "demo"},
    )


def outcome(
    env: Envelope,
    route: str,
    status: Status,
    event: str,
    *,
    attempts: int = 0,
    next_at: float = 0.0,
) -> OutcomeRecord:
    delivery = DeliveryState(
        status=status, attempts=attempts, next_at=next_at, updated_at=time.time()
    )
    return OutcomeRecord(env.id, route, delivery, event, detail=f"{event} detail", trace_id="t-1")


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "journal", map_size_mb=4, sync=False)
    yield opened
    opened.close()


def pending_keys(journal: Journal) -> list[tuple[bytes, str]]:
    return [(p.envelope.id, p.route) for p in journal.pending()]


# -- append and idempotency --------------------------------------------------------------------


def test_append_stores_the_envelope_and_its_pending_deliveries(journal: Journal) -> None:
    env = envelope("k1", routes=[("orders", "c1"), ("audit", "c1")])
    assert journal.append([env]) == [AppendResult(AppendOutcome.ACCEPTED, env.id)]

    assert journal.message(env.id) == env
    states = journal.deliveries(env.id)
    assert sorted(states) == ["audit", "orders"]
    assert states["orders"].status is Status.PENDING
    assert states["orders"].ordering_key == "c1"
    assert states["orders"].attempts == 0
    assert sorted(pending_keys(journal)) == [(env.id, "audit"), (env.id, "orders")]
    counts = journal.counts()
    # A new delivery's state is derived from the message record: no `dlv` write on the hot path.
    assert (counts["msg"], counts["idem"], counts["dlv"], counts["pending"]) == (1, 1, 0, 2)
    assert journal.unrouted() == []


def test_same_key_same_body_is_a_duplicate_of_the_first_id(journal: Journal) -> None:
    first, again = envelope("k1"), envelope("k1")
    journal.append([first])
    assert journal.append([again]) == [AppendResult(AppendOutcome.DUPLICATE, first.id)]
    assert journal.message(again.id) is None
    assert journal.counts()["msg"] == 1
    assert pending_keys(journal) == [(first.id, "orders")]


def test_same_key_different_body_is_a_conflict_noted_on_the_first(journal: Journal) -> None:
    first, other = envelope("k1", b'{"amount": 1}'), envelope("k1", b'{"amount": 2}')
    journal.append([first])
    assert journal.append([other]) == [AppendResult(AppendOutcome.CONFLICT, first.id)]
    assert journal.message(other.id) is None
    assert journal.message(first.id) == first
    assert [e.kind for e in journal.timeline(first.id)] == ["received", "routed", "conflict"]


def test_duplicates_within_one_batch_are_checked_in_the_same_transaction(
    journal: Journal,
) -> None:
    a = envelope("a", b"1")
    a_again = envelope("a", b"1")
    a_changed = envelope("a", b"2")
    b = envelope("b", b"1")
    results = journal.append([a, a_again, a_changed, b])
    assert results == [
        AppendResult(AppendOutcome.ACCEPTED, a.id),
        AppendResult(AppendOutcome.DUPLICATE, a.id),
        AppendResult(AppendOutcome.CONFLICT, a.id),
        AppendResult(AppendOutcome.ACCEPTED, b.id),
    ]
    assert journal.counts()["msg"] == 2


def test_idempotency_keys_are_scoped_by_source(journal: Journal) -> None:
    shop, crm = envelope("k1", source="shop"), envelope("k1", source="crm")
    results = journal.append([shop, crm])
    assert [r.outcome for r in results] == [AppendOutcome.ACCEPTED, AppendOutcome.ACCEPTED]


def test_long_idempotency_keys_still_deduplicate(journal: Journal) -> None:
    long_a, long_b = "x" * 1000 + "a", "x" * 1000 + "b"
    first = envelope(long_a)
    results = journal.append([first, envelope(long_a), envelope(long_b)])
    assert [r.outcome for r in results] == [
        AppendOutcome.ACCEPTED,
        AppendOutcome.DUPLICATE,
        AppendOutcome.ACCEPTED,
    ]
    assert results[1].message_id == first.id


# -- delivery states, dead letters, unrouted, timeline ------------------------------------------


def test_delivery_states_and_the_pending_index(journal: Journal) -> None:
    env = envelope("k1", routes=[("orders", "c1"), ("audit", "c1")])
    journal.append([env])

    journal.record(
        [outcome(env, "orders", Status.RETRY, "retry_scheduled", attempts=1, next_at=123.5)]
    )
    assert sorted(pending_keys(journal)) == [(env.id, "audit"), (env.id, "orders")]
    [retrying] = [p for p in journal.pending() if p.route == "orders"]
    assert (retrying.state.status, retrying.state.attempts, retrying.state.next_at) == (
        Status.RETRY,
        1,
        123.5,
    )
    assert retrying.envelope == env

    journal.record([outcome(env, "orders", Status.DELIVERED, "delivered", attempts=2)])
    assert pending_keys(journal) == [(env.id, "audit")]

    journal.record([outcome(env, "audit", Status.DEAD, "dead_lettered", attempts=1)])
    assert pending_keys(journal) == []
    states = journal.deliveries(env.id)
    assert states["orders"].status is Status.DELIVERED
    assert states["orders"].attempts == 2
    assert states["audit"].status is Status.DEAD
    assert journal.counts()["pending"] == 0


def test_a_dead_letter_keeps_route_reason_attempts_error_and_trace(journal: Journal) -> None:
    env = envelope("k1")
    journal.append([env])
    dead = DeliveryState(status=Status.DEAD, attempts=4, last_error="HTTP 502", updated_at=42.0)
    journal.record(
        [OutcomeRecord(env.id, "orders", dead, "dead_lettered", "gave up after 4 attempts", "tr")]
    )
    assert journal.dead_letters() == [
        (
            env.id,
            {
                "route": "orders",
                "reason": "gave up after 4 attempts",
                "attempts": 4,
                "last_error": "HTTP 502",
                "trace_id": "tr",
                "at": 42.0,
            },
        )
    ]
    assert journal.deliveries(env.id)["orders"].last_error == "HTTP 502"


def test_a_message_with_no_route_is_indexed_as_unrouted(journal: Journal) -> None:
    routed, unrouted = envelope("k1"), envelope("k2", routes=[])
    journal.append([routed, unrouted])
    assert journal.unrouted() == [unrouted.id]
    assert [e.kind for e in journal.timeline(unrouted.id)] == ["received", "unrouted"]
    assert journal.deliveries(unrouted.id) == {}
    assert unrouted.id not in {p.envelope.id for p in journal.pending()}


def test_timeline_events_are_in_order(journal: Journal) -> None:
    env = envelope("k1", routes=[("orders", "c1"), ("audit", "c9")])
    journal.append([env])
    journal.record([outcome(env, "orders", Status.RETRY, "retry_scheduled", attempts=1)])
    journal.record([outcome(env, "orders", Status.DELIVERED, "delivered", attempts=2)])
    journal.record([outcome(env, "audit", Status.DEAD, "dead_lettered", attempts=1)])

    events = journal.timeline(env.id)
    assert [(e.kind, e.route, e.attempt) for e in events] == [
        ("received", "", 0),
        ("routed", "orders", 0),
        ("routed", "audit", 0),
        ("retry_scheduled", "orders", 1),
        ("delivered", "orders", 2),
        ("dead_lettered", "audit", 1),
    ]
    assert events[0].detail == "shop order.created"
    assert events[2].detail == "key=c9"
    assert events[4].detail == "attempt 2"  # derived from the delivered state
    stamps = [e.at for e in events]
    assert stamps == sorted(stamps)
    assert journal.timeline(new_id_bytes()) == []


def test_pending_is_in_message_id_order_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    journal = Journal(path, map_size_mb=4)
    batch = [envelope(f"k{i}", routes=[("b", "x"), ("a", "x")]) for i in range(5)]
    journal.append(batch[:2])
    journal.append(batch[2:])
    journal.record([outcome(batch[1], "a", Status.DELIVERED, "delivered")])
    expected = [
        (env.id, route)
        for env in batch
        for route in ("a", "b")
        if (env.id, route) != (batch[1].id, "a")
    ]
    assert pending_keys(journal) == expected
    journal.close()

    reopened = Journal(path, map_size_mb=4)
    try:
        assert pending_keys(reopened) == expected
        assert [p.envelope for p in reopened.pending() if p.route == "b"] == batch
    finally:
        reopened.close()


# -- sweep -------------------------------------------------------------------------------------


def test_sweep_keeps_unexpired_keys(journal: Journal) -> None:
    env = envelope("k1")
    journal.append([env])
    assert journal.sweep(time.time(), RETENTION, DEAD_RETENTION).removed == 0
    assert journal.append([envelope("k1")])[0] == AppendResult(AppendOutcome.DUPLICATE, env.id)


def test_sweep_removes_expired_keys_and_finished_messages(journal: Journal) -> None:
    delivered = envelope("delivered")
    unrouted = envelope("unrouted", routes=[])
    pending = envelope("pending")
    dead = envelope("dead")
    journal.append([delivered, unrouted, pending, dead])
    journal.record(
        [
            outcome(delivered, "orders", Status.DELIVERED, "delivered", attempts=1),
            outcome(dead, "orders", Status.DEAD, "dead_lettered", attempts=3),
        ]
    )

    swept = journal.sweep(time.time() + 600, retention_s=60, dead_retention_s=DEAD_RETENTION)

    assert swept.removed == 4 + 2  # four idempotency keys, two finished messages
    assert (swept.next, swept.dead) == (b"", [])  # it reached the horizon; no dead letter is old
    for gone in (delivered, unrouted):
        assert journal.message(gone.id) is None
        assert journal.timeline(gone.id) == []
        assert journal.deliveries(gone.id) == {}
    assert journal.unrouted() == []
    assert journal.message(pending.id) == pending
    assert journal.message(dead.id) == dead
    assert pending_keys(journal) == [(pending.id, "orders")]
    assert [message_id for message_id, _ in journal.dead_letters()] == [dead.id]
    assert journal.counts()["idem"] == 0

    # The expired key is free again: the same key and body are a new message.
    again = envelope("delivered")
    assert journal.append([again]) == [AppendResult(AppendOutcome.ACCEPTED, again.id)]


def test_sweep_honours_its_limit_and_resumes_where_it_stopped(journal: Journal) -> None:
    journal.append([envelope(f"k{i}", routes=[]) for i in range(5)])
    later = time.time() + 600
    # Three messages examined: each frees its key and itself; the next pass starts after them.
    first = journal.sweep(later, retention_s=60, dead_retention_s=DEAD_RETENTION, limit=3)
    assert first.removed == 6 and first.next != b""
    assert journal.counts()["idem"] == journal.counts()["msg"] == 2
    second = journal.sweep(later, 60, DEAD_RETENTION, start=first.next, limit=3)
    assert (second.removed, second.next) == (4, b"")
    assert journal.counts()["msg"] == 0


def test_old_dead_letters_do_not_stop_the_sweeper(journal: Journal) -> None:
    """Kept messages (dead letters) older than the retention used to be re-read by every pass,
    which then expired nothing after them: the journal grew until the map was full."""
    dead = [envelope(f"dead-{i}") for i in range(5)]
    journal.append(dead)
    journal.record([outcome(e, "orders", Status.DEAD, "dead_lettered", attempts=1) for e in dead])
    fresh = [envelope(f"fresh-{i}", routes=[]) for i in range(4)]
    journal.append(fresh)
    later, start, passes = time.time() + 600, b"", 0
    while True:  # what the journal actor does, pass after pass
        swept = journal.sweep(later, 60, DEAD_RETENTION, start=start, limit=3)
        passes, start = passes + 1, swept.next
        if not start:
            break
    assert passes == 3  # 3 + 3 + 3 of 9 old messages: each pass made progress
    assert journal.counts()["msg"] == 5  # the dead letters, kept; every finished one gone
    assert journal.counts()["idem"] == 0  # and every key free again
    for env in fresh:
        assert journal.append([envelope(env.idempotency_key, routes=[])])[0].outcome is (
            AppendOutcome.ACCEPTED
        )


def test_dead_letters_past_their_retention_are_named_then_expired(journal: Journal) -> None:
    dead = envelope("dead")
    journal.append([dead])
    journal.record([outcome(dead, "orders", Status.DEAD, "dead_lettered", attempts=2)])
    swept = journal.sweep(time.time() + 600, retention_s=60, dead_retention_s=300)
    ((key, message, records),) = swept.dead
    assert key == dead.id and message["idempotency_key"] == "dead"
    assert records[0]["route"] == "orders"
    assert journal.dead_letters() != []  # named, not removed: the caller archives first
    assert journal.expire_dead([key]) == 1
    assert journal.dead_letters() == [] and journal.message(dead.id) is None
    assert journal.timeline(dead.id) == []
    assert journal.expire_dead([key]) == 0  # twice is harmless


# -- a full map --------------------------------------------------------------------------------


def big_batch(count: int, size: int) -> list[Envelope]:
    return [envelope(f"big-{i}", b"x" * size, routes=[]) for i in range(count)]


def test_a_full_map_at_its_maximum_raises_storage_full_and_stays_usable(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal", map_size_mb=1, sync=False)
    try:
        batch = big_batch(8, 200_000)
        with pytest.raises(StorageFullError) as caught:
            journal.append(batch)
        assert isinstance(caught.value, UnavailableError)
        assert caught.value.retry_after > 0
        # The failed batch was all-or-nothing, and the journal still takes small writes.
        assert journal.counts()["msg"] == 0
        small = envelope("small")
        assert journal.append([small]) == [AppendResult(AppendOutcome.ACCEPTED, small.id)]
        assert journal.message(small.id) == small
        assert journal.env.info()["map_size"] == 1 * MB
    finally:
        journal.close()


def test_writes_do_not_disturb_a_reader_in_progress(tmp_path: Path) -> None:
    # Engine recovery iterates pending() while route actors already record outcomes; writes
    # meanwhile (the map is never resized while open) must not invalidate that iteration.
    journal = Journal(tmp_path / "journal", map_size_mb=8, sync=False)
    try:
        small = [envelope(f"k{i}") for i in range(3)]
        journal.append(small)
        reader = journal.pending()
        first = next(reader)
        journal.append(big_batch(6, 200_000))
        rest = list(reader)
        assert [p.envelope.id for p in [first, *rest]] == [env.id for env in small]
    finally:
        journal.close()


def test_a_full_map_is_also_a_storage_error(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal", map_size_mb=1, sync=False)
    try:
        with pytest.raises(StorageError, match="journal storage is full"):
            journal.append(big_batch(8, 200_000))
    finally:
        journal.close()


def test_opening_a_folder_that_is_not_a_journal_read_only_is_a_storage_open_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(StorageOpenError, match="no journal here"):
        Journal(tmp_path / "nothing", readonly=True)
    assert not (tmp_path / "nothing").exists()  # a read-only open creates nothing


def test_a_file_where_the_journal_folder_should_be_is_a_storage_open_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "journal").write_text("not a folder")
    with pytest.raises(StorageOpenError, match="cannot open the journal"):
        Journal(tmp_path / "journal")


def test_an_lmdb_error_while_reading_leaves_as_a_storage_error(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal", sync=False)
    env = envelope("k")
    journal.append([env])
    journal.close()  # lmdb refuses every call on a closed environment with its own lmdb.Error
    with pytest.raises(StorageError, match=r"journal storage failed: .*closed"):
        journal.message(env.id)
    with pytest.raises(StorageError):
        journal.append([envelope("k2")])


# -- readers in another process ----------------------------------------------------------------

READER = """
import json, sys
from pathlib import Path
from router.store.journal import Journal

journal = Journal(Path(sys.argv[1]), readonly=True)
message = journal.message(bytes.fromhex(sys.argv[2]))
print(json.dumps({
    "key": message.idempotency_key if message else None,
    "pending": [p.route for p in journal.pending()],
    "timeline": [e.kind for e in journal.timeline(bytes.fromhex(sys.argv[2]))],
}))
journal.close()
"""


def test_a_readonly_journal_reads_while_the_writer_is_open(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    writer = Journal(path, map_size_mb=4)
    try:
        env = envelope("k1", routes=[("orders", "c1")])
        writer.append([env])
        reader = subprocess.run(
            [sys.executable, "-c", READER, str(path), env.id.hex()],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert reader.returncode == 0, reader.stderr
        assert json.loads(reader.stdout) == {
            "key": "k1",
            "pending": ["orders"],
            "timeline": ["received", "routed"],
        }
        # The writer is unaffected and keeps writing.
        later = envelope("k2")
        assert writer.append([later])[0].outcome is AppendOutcome.ACCEPTED
    finally:
        writer.close()
