"""kill -9 during a reconciliation run: the run resumes from its checkpoint and repairs once.

A real ``interlock run`` serves the shipped routes against the simulators (in this process). The
payments-daily job (routes/stripe-payments-vs-netsuite.yaml) is started through the admin API
over seeded Payments with a known drift, and the router is SIGKILLed and restarted:

1. during the read phase (Stripe answers invoice pages slowly): the same run resumes at the page
   after the last one committed (Stripe's cursor is checkpointed with each page's index), so
   Stripe is asked for at most one page twice and for the first page once; its counts are the
   data set's drift, and each repair reaches NetSuite exactly once (all of them after the crash).
2. during the act phase (repairs being emitted, throttled by a small credit while NetSuite
   answers slowly): the run resumes at its act checkpoint and emits every repair again under the
   same idempotency key, so the ones journaled before the kill are journal duplicates
   (``already_repaired``). A NetSuite upsert in flight at the kill is re-sent by the journal after
   the restart (at-least-once delivery), which the upsert by external id makes harmless: each
   payment exists once, with the amount Stripe charged.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from router.store.jobs import JobStore
from simulators.datasets import Payments
from simulators.runner import SimulatorThread
from tests.support import scenarios as sc
from tests.support.process import RouterProcess

pytestmark = pytest.mark.slow

JOB = "payments-daily"
RECON = "stripe-payments-vs-netsuite"
PAGE = 100  # Stripe invoices per page (the connector's default, Stripe's maximum)
INVOICES = "/v1/invoices"
PAYMENT_PUT = "/services/rest/record/v1/customerPayment/eid:"
DEADLINE_S = 120.0  # generous: a loaded 2-core machine; nothing here asserts on timing


@pytest.fixture
def sims() -> Iterator[SimulatorThread]:
    with SimulatorThread() as running:
        yield running


def seed(sims: SimulatorThread, data: Payments) -> None:
    stripe, netsuite = sims.set.simulator("stripe"), sims.set.simulator("netsuite")
    sims.call(lambda: stripe.seed_many("invoice", data.invoices()), timeout=60)
    sims.call(lambda: netsuite.seed_many("customerPayment", data.payments()), timeout=60)


def invoice_reads(sims: SimulatorThread) -> list[dict[str, list[str]]]:
    """The query of every invoice page Stripe was asked for, in order."""
    stripe = sims.set.simulator("stripe")
    entries = sims.call(stripe.log.entries)
    return [
        urllib.parse.parse_qs(e.query) for e in entries if e.method == "GET" and e.path == INVOICES
    ]


def payment_puts(sims: SimulatorThread) -> list[str]:
    """The external id of every customer-payment upsert NetSuite received, in order."""
    netsuite = sims.set.simulator("netsuite")
    entries = sims.call(netsuite.log.entries)
    return [
        urllib.parse.unquote(e.path.removeprefix(PAYMENT_PUT))
        for e in entries
        if e.method == "PUT" and e.path.startswith(PAYMENT_PUT)
    ]


def payments(sims: SimulatorThread) -> dict[str, dict[str, Any]]:
    netsuite = sims.set.simulator("netsuite")
    return sims.call(
        lambda: {str(r.external_id): r.data for r in netsuite.store.all("customerPayment")}
    )


def stored_run(data_dir: Path, run: str) -> dict[str, Any]:
    """The run as the (stopped) router's job store holds it."""
    store = JobStore(data_dir / "jobs", readonly=True)
    try:
        found = store.run(run)
    finally:
        store.close()
    assert found is not None, run
    return found


class Admin:
    """The router's admin API; connection errors and 503s (starting, killed) are retried."""

    def __init__(self, session: aiohttp.ClientSession, router: RouterProcess) -> None:
        self.session, self.router = session, router
        self.base = f"http://127.0.0.1:{router.admin_port}"

    def _headers(self) -> dict[str, str]:
        token = (self.router.data_dir / "admin.token").read_text().strip()
        return {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            try:
                async with self.session.request(
                    method, self.base + path, headers=self._headers()
                ) as response:
                    if response.status == 200:
                        body: dict[str, Any] = await response.json()
                        return body
                    text = await response.text()
                    assert response.status == 503, f"{method} {path}: {response.status} {text}"
            except (TimeoutError, aiohttp.ClientError, FileNotFoundError):
                pass
            assert time.monotonic() < deadline, f"{method} {path}: no answer in {DEADLINE_S}s"
            await asyncio.sleep(0.05)

    async def start(self) -> str:
        run = await self.call("POST", f"/jobs/{JOB}/run")
        assert run["trigger"] == "manual" and run["state"] == "running", run
        return str(run["id"])

    async def run(self, run: str) -> dict[str, Any]:
        return await self.call("GET", f"/runs/{run}")

    async def until(self, run: str, done: Any, what: str) -> dict[str, Any]:
        """Poll the run until ``done(run detail)``; fails after the deadline."""
        deadline = time.monotonic() + DEADLINE_S
        while True:
            found = await self.run(run)
            if done(found):
                return found
            assert found["state"] == "running", found
            assert time.monotonic() < deadline, f"{what}: not after {DEADLINE_S}s: {found}"
            await asyncio.sleep(0.02)

    async def report(self, run: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            page = await self.call("GET", f"/runs/{run}/report?offset={offset}&limit=1000")
            rows += page["rows"]
            offset = page["next_offset"]
        return rows


async def settled(
    admin: Admin, sims: SimulatorThread, data: Payments
) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """NetSuite's payments and the journal's record counts, once the router is idle (no delivery
    pending or in flight) and every repaired payment carries the amount Stripe charged."""
    repaired = data.drift.missing_right | data.drift.mismatched
    deadline = time.monotonic() + DEADLINE_S
    while True:
        ready = await admin.call("GET", "/readiness")
        routes = (await admin.call("GET", "/routes"))["routes"]
        pending = {r["id"]: r["pending"] for r in routes if r["pending"]}
        found = payments(sims)
        wrong = [k for k in repaired if k not in found or not paid(found[k], k, data)]
        if ready["credit_in_use"] == 0 and not pending and not wrong:
            return found, ready["records"]
        assert time.monotonic() < deadline, (ready["credit_in_use"], pending, wrong[:5])
        await asyncio.sleep(0.05)


def paid(payment: dict[str, Any], key: str, data: Payments) -> bool:
    return bool(round(payment["payment"] * 100) == amount_of(key, data))


def progress(run: dict[str, Any]) -> dict[str, Any]:
    recons = {r["reconciliation"]: r for r in run["reconciliations"]}
    state: dict[str, Any] = recons.get(RECON) or {"phase": "read", "sides": {}}
    return state


def left_pages(run: dict[str, Any]) -> int:
    left = progress(run)["sides"].get("left")
    return int(left["pages"]) if left else 0


def succeeded(run: dict[str, Any]) -> bool:
    return bool(run["state"] == "succeeded")


def cursor_index(query: dict[str, list[str]]) -> int | None:
    """The invoice number a page request continues after; None for the first page."""
    after = query.get("starting_after")
    return None if after is None else int(after[0].removeprefix("in_recon"))


def resumed_once_with_the_drift(final: dict[str, Any], run: str, data: Payments) -> dict[str, Any]:
    """The run that was killed, resumed once, done, with the seeded drift's counts."""
    assert final["id"] == run and final["resumed"] == 1 and final["reason"] is None
    state = progress(final)
    assert state["phase"] == "done"
    matched = data.n - data.missing - data.mismatched
    assert state["counts"] == {"matched": matched, **data.drift.counts()}
    return state


def amount_of(key: str, data: Payments) -> int:
    invoice = key.removeprefix("stripe-").removesuffix("-payment")
    return data.amount(int(invoice.removeprefix("in_recon")))


@pytest.mark.timeout(300)
async def test_sigkill_while_reading_resumes_at_the_checkpoint_and_repairs_once(
    tmp_path: Path, sims: SimulatorThread
) -> None:
    data = Payments(n=3000, missing=30, mismatched=20, extra=10, seed=11)
    pages = -(-data.n // PAGE)
    seed(sims, data)
    sims.set_faults("stripe", latency=0.15, match=INVOICES)  # the read takes a few seconds
    data_dir = tmp_path / "data"
    router = RouterProcess(sc.ROOT / "routes", data_dir, env=sc.simulator_env(sims))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, router.start)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            admin = Admin(session, router)
            run = await admin.start()
            seen = await admin.until(
                run,
                lambda r: left_pages(r) >= 5 or progress(r)["phase"] != "read",
                "five Stripe pages read",
            )
            await loop.run_in_executor(None, router.kill)
            at_kill = stored_run(data_dir, run)["recons"][RECON]
            reads_before = len(invoice_reads(sims))
            assert progress(seen)["phase"] == "read", seen  # the kill landed in the read phase
            assert at_kill["phase"] == "read" and not at_kill["sides"]["left"]["done"], at_kill
            committed = at_kill["sides"]["left"]["pages"]
            assert 5 <= committed < pages

            await loop.run_in_executor(None, router.start)
            final = await admin.until(run, succeeded, "the resumed run succeeded")
            rows = await admin.report(run)
            found, journal = await settled(admin, sims, data)
    finally:
        router.stop()

    # The same run, resumed once, counted exactly the seeded drift.
    state = resumed_once_with_the_drift(final, run, data)
    left, right = state["sides"]["left"], state["sides"]["right"]
    assert (left["pages"], left["records"], left["dupes"]) == (pages, data.n, 0)
    assert (right["records"], right["dupes"]) == (data.n - data.missing + data.extra, 0)
    assert state["handled"] == {
        "missing_right:repaired": data.missing,
        "mismatched:repaired": data.mismatched,
        "missing_left:parked": data.extra,
    }
    by_class: dict[str, set[str]] = {}
    for row in rows:
        by_class.setdefault(row["class"], set()).add(row["key"])
    assert by_class == {
        "missing_right": data.drift.missing_right,
        "mismatched": data.drift.mismatched,
        "missing_left": data.drift.missing_left,
    }

    # Resumed from the checkpoint: every page asked for, the first once, at most one twice.
    reads = invoice_reads(sims)
    assert pages <= len(reads) <= pages + 1, len(reads)
    cursors = [cursor_index(q) for q in reads]
    assert cursors.count(None) == 1  # never restarted from page 1
    want = {None, *(page * PAGE - 1 for page in range(1, pages))}
    assert set(cursors) == want
    assert max(Counter(cursors).values()) <= 2
    after_restart = cursors[reads_before:]
    assert after_restart, "nothing read after the restart"
    first = after_restart[0]
    assert first == committed * PAGE - 1, (first, committed)  # the checkpointed cursor

    # Every repair applied exactly once at NetSuite (all of them after the crash), nothing else.
    repaired = data.drift.missing_right | data.drift.mismatched
    puts = Counter(payment_puts(sims))
    assert set(puts) == repaired
    assert set(puts.values()) == {1}
    assert len(found) == data.n + data.extra
    assert journal["msg"] == len(repaired)  # one repair message each, whatever was re-emitted
    assert all(paid(found[key], key, data) for key in repaired)
    print(
        f"\nreconciliation read-crash: run={run} committed_pages_at_kill={committed} "
        f"stripe_page_reads={len(reads)} (needed {pages}) netsuite_puts={sum(puts.values())} "
        f"seconds={final['seconds']:.1f} wall={final['finished_at'] - final['started_at']:.1f}"
    )


@pytest.mark.timeout(300)
async def test_sigkill_while_repairing_emits_under_the_same_keys_and_applies_each_once(
    tmp_path: Path, sims: SimulatorThread
) -> None:
    data = Payments(n=600, missing=40, mismatched=20, extra=5, seed=12)
    seed(sims, data)
    repaired = data.drift.missing_right | data.drift.mismatched
    # Repairs are slow to deliver and the credit is small: emitting them takes seconds, since
    # a repair waits (Retry-After) for a delivery to finish before it is accepted.
    inflight = 8
    sims.set_faults("netsuite", latency=0.5, match="/customerPayment/eid:")
    env = {
        **sc.simulator_env(sims),
        "INTERLOCK_MAX_INFLIGHT": str(inflight),
        "INTERLOCK_RETRY_AFTER_S": "0.25",
    }
    data_dir = tmp_path / "data"
    router = RouterProcess(sc.ROOT / "routes", data_dir, env=env)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, router.start)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            admin = Admin(session, router)
            run = await admin.start()
            await admin.until(run, lambda r: progress(r)["phase"] != "read", "the read done")
            deadline = time.monotonic() + DEADLINE_S
            while len(set(payment_puts(sims))) < inflight + 2:  # a few repairs delivered
                assert time.monotonic() < deadline, "no repair reached NetSuite"
                await asyncio.sleep(0.02)
            await loop.run_in_executor(None, router.kill)
            before = Counter(payment_puts(sims))
            at_kill = stored_run(data_dir, run)
            state_at_kill = at_kill["recons"][RECON]
            assert at_kill["state"] == "running", at_kill
            assert state_at_kill["phase"] == "act", state_at_kill  # killed while repairing
            assert set(before) < repaired  # some repairs reached NetSuite, not all

            await loop.run_in_executor(None, router.start)
            final = await admin.until(run, succeeded, "the resumed run succeeded")
            found, journal = await settled(admin, sims, data)
    finally:
        router.stop()

    state = resumed_once_with_the_drift(final, run, data)
    handled = state["handled"]
    assert handled["missing_left:parked"] == data.extra
    for cls, count in (("missing_right", data.missing), ("mismatched", data.mismatched)):
        assert handled.get(f"{cls}:repaired", 0) + handled.get(f"{cls}:already_repaired", 0) == (
            count
        ), handled
    assert set(handled) <= {
        "missing_right:repaired",
        "missing_right:already_repaired",
        "mismatched:repaired",
        "mismatched:already_repaired",
        "missing_left:parked",
    }, handled  # none failed
    # Emitted again after the resume under the same keys: those journaled before the kill
    # (at least every one NetSuite had seen) are journal duplicates, not second repairs.
    again = handled.get("missing_right:already_repaired", 0) + handled.get(
        "mismatched:already_repaired", 0
    )
    assert again >= len(before), (handled, len(before))

    # Each payment once in NetSuite, with Stripe's amount. A PUT in flight at the kill is
    # re-sent after the restart (at-least-once; the upsert by external id applies it once):
    # at most the credit's worth, each of them sent before the kill.
    puts = Counter(payment_puts(sims))
    assert set(puts) == repaired
    resent = {key for key, n in puts.items() if n > 1}
    assert all(puts[key] == 2 for key in resent), puts
    assert resent <= set(before)
    assert len(resent) <= inflight
    assert len(found) == data.n + data.extra
    assert journal["msg"] == len(repaired)  # one repair message each, whatever was re-emitted
    assert all(paid(found[key], key, data) for key in repaired)
    print(
        f"\nreconciliation act-crash: run={run} puts_before_kill={sum(before.values())} "
        f"already_repaired={again} resent_after_restart={len(resent)} handled={handled}"
    )
