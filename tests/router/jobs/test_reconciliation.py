"""Reconciliation end to end: the shipped routes/ against the simulators, with seeded drift.

The financial scenario (routes/stripe-payments-vs-netsuite.yaml, run by the payments-daily job):
Stripe's paid invoices read page by page through ``list_invoices``, NetSuite's customer payments
through SuiteQL, compared by the payment's external id; missing and mismatched payments repaired
through the payment-repair route, payments without an invoice parked.
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest

from router import Engine
from simulators.datasets import Payments
from simulators.runner import SimulatorThread
from tests.support.jobs import jobs, journal_messages, report, run_job, settled
from tests.support.scenarios import records

JOB = "payments-daily"
RECON = "stripe-payments-vs-netsuite"


def seed(sims: SimulatorThread, data: Payments) -> None:
    stripe, netsuite = sims.set.simulator("stripe"), sims.set.simulator("netsuite")
    sims.call(lambda: stripe.seed_many("invoice", data.invoices()), timeout=60)
    sims.call(lambda: netsuite.seed_many("customerPayment", data.payments()), timeout=60)


def payments(sims: SimulatorThread) -> dict[str, Any]:
    netsuite = sims.set.simulator("netsuite")
    return sims.call(
        lambda: {str(r.external_id): r.data for r in netsuite.store.all("customerPayment")}
    )


@pytest.mark.timeout(180)
async def test_seeded_drift_is_reported_exactly_repaired_once_then_clean(
    sims: SimulatorThread, engine: Engine
) -> None:
    data = Payments(n=437, missing=7, mismatched=5, extra=4)
    seed(sims, data)

    first = await run_job(engine, JOB)
    assert first["state"] == "succeeded", first["reason"]
    state = first["recons"][RECON]
    assert state["counts"] == {"matched": 425, **data.drift.counts()}
    sides = state["sides"]
    assert (sides["left"]["records"], sides["right"]["records"]) == (437, 434)
    assert sides["left"]["pages"] == 5  # 100 a page: Stripe's cursor walked to the end
    rows = report(engine, first, RECON)
    by_class: dict[str, set[str]] = {}
    for row in rows:
        by_class.setdefault(row["class"], set()).add(row["key"])
    assert by_class == {
        "missing_right": data.drift.missing_right,
        "mismatched": data.drift.mismatched,
        "missing_left": data.drift.missing_left,
    }
    mismatch = next(r for r in rows if r["class"] == "mismatched")
    assert mismatch["fields"] == ["amount"]
    assert mismatch["left"]["amount"] != mismatch["right"]["amount"]
    assert state["handled"] == {
        "missing_right:repaired": 7,
        "mismatched:repaired": 5,
        "missing_left:parked": 4,
    }
    parked = jobs(engine).store.parked(RECON)
    assert {p["key"] for p in parked} == data.drift.missing_left
    assert all(p["right_record"]["externalid"] == p["key"] for p in parked)  # both sides kept

    found = await settled(engine, lambda: payments(sims), 437 + 4)
    for key in data.drift.missing_right | data.drift.mismatched:
        invoice = key.removeprefix("stripe-").removesuffix("-payment")
        index = int(invoice.removeprefix("in_recon"))
        assert found[key]["payment"] * 100 == pytest.approx(data.amount(index)), key

    second = await run_job(engine, JOB)
    again = second["recons"][RECON]
    assert again["counts"] == {
        "matched": 437,
        "missing_left": 4,
        "missing_right": 0,
        "mismatched": 0,
    }
    assert again["handled"] == {"missing_left:parked": 4}  # what is left waits for finance

    metrics = generate_latest(engine.metrics.registry).decode()
    assert f'interlock_job_runs_total{{job="{JOB}",outcome="succeeded"}} 2.0' in metrics
    assert (
        f'interlock_reconciliation_drift{{class="missing_left",reconciliation="{RECON}"}} 4.0'
        in (metrics)
    )
    assert f'interlock_reconciliation_backlog{{reconciliation="{RECON}"}} 4.0' in metrics
    assert (
        f'interlock_reconciliation_exceptions_total{{class="missing_right",handling="repaired",'
        f'reconciliation="{RECON}"}} 7.0'
    ) in metrics

    requests_before = journal_messages(engine)
    third = await run_job(engine, JOB)
    assert third["recons"][RECON]["handled"] == {"missing_left:parked": 4}
    assert journal_messages(engine) == requests_before  # no repair message at all


@pytest.mark.timeout(180)
async def test_a_dead_lettered_repair_is_reported_not_counted_as_done(
    sims: SimulatorThread, engine: Engine
) -> None:
    data = Payments(n=200, missing=3, seed=7)
    seed(sims, data)
    sims.set_faults("netsuite", broken=tuple(sorted(data.drift.missing_right)))  # 400 on each

    first = await run_job(engine, JOB)
    assert first["recons"][RECON]["handled"] == {"missing_right:repaired": 3}  # journaled
    await engine.wait_idle(timeout=60)
    assert engine.journal is not None
    dead = engine.journal.dead_letters()
    assert len(dead) == 3  # the route could not deliver them: the journal kept them

    sims.set_faults("netsuite", broken=())  # the cause is fixed; the drift is still there
    second = await run_job(engine, JOB)
    assert second["recons"][RECON]["handled"] == {"missing_right:repair_dead_lettered": 3}
    rows = report(engine, second, RECON)
    assert all("is dead-lettered (payment-repair: " in row["reason"] for row in rows)
    assert {row["message"] for row in rows} == {
        row["message"] for row in report(engine, first, RECON)
    }  # the same repair messages, not new ones

    replayed = await engine.replay([(key[:16], "payment-repair") for key, _ in dead])
    assert replayed == 3
    found = await settled(engine, lambda: payments(sims), 200)
    assert set(data.drift.missing_right) <= set(found)
    third = await run_job(engine, JOB)
    assert third["recons"][RECON]["counts"]["missing_right"] == 0


async def test_alerts_for_parked_exceptions_and_for_drift_over_the_threshold(
    sims: SimulatorThread, engine: Engine
) -> None:
    data = Payments(n=150, missing=24, extra=2, seed=9)  # 26 exceptions: over the threshold 25
    seed(sims, data)
    run = await run_job(engine, JOB)
    assert run["recons"][RECON].get("alert_errors", []) == []
    alerts = [r["data"]["body"] for r in records(sims, "webhook", "reconciliation")]
    by_kind = {a["kind"]: a for a in alerts}
    assert set(by_kind) == {"reconciliation.parked", "reconciliation.drift"}
    parked = by_kind["reconciliation.parked"]
    assert parked["run"] == run["id"] and parked["summary"] == "2 exceptions parked for an operator"
    assert {e["key"] for e in parked["exceptions"]} == data.drift.missing_left
    drift = by_kind["reconciliation.drift"]
    assert drift["summary"] == "26 exceptions, above 25"
    assert drift["counts"]["missing_right"] == 24
