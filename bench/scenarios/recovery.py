"""Recovery: how long ``interlock run`` takes from process start to ready with a large journal.

The journal is built directly, without HTTP: :class:`router.store.journal.Journal` and
:class:`router.envelope.Envelope`, ``BATCH`` messages per append transaction (then one
transaction recording the delivered ones), opened with ``sync=False`` while building (only the
build is unsynced; it is closed, so flushed, before the router opens it). Every message routes to
``bench/routes_http``'s route (``bench-orders``, ordering key ``/customer``); one in ten is left
pending, the others are recorded as delivered. Then ``interlock run`` starts on that data dir and
the time from ``Popen`` to the first ``/readyz`` 200 is measured: the engine reloads every pending
delivery before it turns ready.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from bench import _body, servers
from bench.scenarios import ingest

ROUTE = "bench-orders"  # bench/routes_http/bench-orders.yaml
BATCH = 10_000
PENDING_EVERY = 10  # message i is left pending when i % 10 == 0: 10 %
POLL_S = 0.02


@dataclasses.dataclass(frozen=True, slots=True)
class RecoveryPlan:
    messages: int = 200_000
    ready_timeout_s: float = 600.0
    compare_empty: bool = True  # also time a start on an empty journal (imports, set-up)


FULL_PLAN = RecoveryPlan(messages=1_000_000, ready_timeout_s=1800.0)
SMOKE_PLAN = RecoveryPlan(messages=2_000, ready_timeout_s=60.0, compare_empty=False)


def build(journal_dir: Path, messages: int) -> dict[str, Any]:
    """Write ``messages`` messages (10 % pending) into a new journal at ``journal_dir``."""
    from router.envelope import Envelope
    from router.ids import encode_id, new_id_bytes, new_traceparent
    from router.store.journal import Journal
    from router.store.records import DeliveryState, OutcomeRecord
    from router.store.statuses import Status

    started = time.monotonic()
    journal = Journal(journal_dir, sync=False)
    pending = 0
    try:
        for first in range(0, messages, BATCH):
            batch: list[Envelope] = []
            delivered: list[OutcomeRecord] = []
            now = time.time()
            for i in range(first, min(first + BATCH, messages)):
                message_id = new_id_bytes()
                key = f"cust-{i % _body.CUSTOMERS:04d}"
                batch.append(
                    Envelope(
                        id=message_id,
                        source=_body.SOURCE,
                        type="order.created",
                        idempotency_key=f"rec-{i:012d}",
                        correlation_id=encode_id(message_id),
                        traceparent=new_traceparent(),
                        received_at=now,
                        body=_body.body(i, "rec"),
                        routes=[(ROUTE, key)],
                    )
                )
                if i % PENDING_EVERY == 0:
                    pending += 1
                    continue
                state = DeliveryState(
                    status=Status.DELIVERED,
                    attempts=1,
                    ordering_key=key,
                    first_attempt_at=now,
                    updated_at=now,
                )
                delivered.append(OutcomeRecord(message_id, ROUTE, state, "delivered"))
            journal.append(batch)
            journal.record(delivered)
        counts = journal.counts()
    finally:
        journal.close()
    return {
        "build_s": round(time.monotonic() - started, 2),
        "build_sync": False,
        "messages": counts["msg"],
        "pending": counts["pending"],
        "expected_pending": pending,
        "journal_file_bytes": (journal_dir / "data.mdb").stat().st_size,
    }


def _ready(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1.0) as response:
            if response.status == 200:
                found: dict[str, Any] = orjson.loads(response.read())
                return found
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return None


def time_to_ready(server: servers.Server, started: float, timeout: float) -> tuple[float, Any]:
    """Seconds from ``started`` to ``/readyz`` 200 (polled every 20 ms), and its body."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"interlock exited with {server.proc.returncode}: {server.tail()}")
        body = _ready(server.port)
        if body is not None:
            return time.monotonic() - started, body
        time.sleep(POLL_S)
    raise RuntimeError(f"interlock not ready after {timeout:.0f} s: {server.tail()}")


def _start_timed(
    workdir: Path, plan: RecoveryPlan, result: dict[str, Any] | None = None
) -> tuple[float, Any]:
    started = time.monotonic()
    server = servers.start_interlock(workdir, ingest.ROUTES_HTTP)
    try:
        return time_to_ready(server, started, plan.ready_timeout_s)
    finally:
        code = server.stop()
        if result is not None:
            result["exit_code"] = code
            if code != 0:
                result["log_tail"] = server.tail(10)


def run(plan: RecoveryPlan) -> dict[str, Any]:
    """Build the journal, start ``interlock run`` on it, time start to ready."""
    result: dict[str, Any] = {"plan": dataclasses.asdict(plan), "batch": BATCH}
    with tempfile.TemporaryDirectory(prefix="interlock-bench-recovery-") as tmp:
        workdir = Path(tmp)
        journal_dir = workdir / "interlock-data" / "journal"  # start_interlock's data dir
        print(f"  building a journal of {plan.messages:,} messages ...", flush=True)
        result.update(build(journal_dir, plan.messages))
        print(
            f"  built in {result['build_s']:.1f} s, "
            f"{result['journal_file_bytes'] / 2**20:,.0f} MiB",
            flush=True,
        )
        if plan.compare_empty:
            empty = workdir / "empty"
            empty.mkdir()
            result["empty_start_to_ready_s"] = round(_start_timed(empty, plan)[0], 3)
        seconds, body = _start_timed(workdir, plan, result)
    result["start_to_ready_s"] = round(seconds, 3)
    result["recovered"] = body.get("recovered") if isinstance(body, dict) else None
    print(f"  start to ready {seconds:.2f} s, recovered {result['recovered']}", flush=True)
    return result
