"""The durable scheduler: missed slots by policy, one run per slot, one active run, failures kept.

An engine over a copy of routes/ with two extra jobs on a one-minute interval (one per missed-run
policy), against the simulators; the engine's clock is set by the test, so "the router was down
across two slots" is a restart with the clock 150 s later, not a test that waits minutes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from router import Engine, Settings, load_config
from router.jobs.service import JobService
from simulators.runner import SimulatorThread
from tests.support.scenarios import simulator_env

ROUTES = Path(__file__).resolve().parents[3] / "routes"
T0 = 1_800_000_000.0 + 10  # 10 s after a whole minute
RECON = "stripe-payments-vs-netsuite"


@pytest.fixture
def sims() -> Iterator[SimulatorThread]:
    with SimulatorThread() as running:
        yield running


@pytest.fixture
def routes(tmp_path: Path) -> Path:
    folder = tmp_path / "routes"
    shutil.copytree(ROUTES, folder)
    for name, policy in (("each-minute-once", "run_once"), ("each-minute-skip", "skip")):
        (folder / f"{name}.yaml").write_text(
            f"id: {name}\nkind: job\nschedule: {{every: 1m}}\nmissed: {policy}\n"
            f"reconcile: {RECON}\n"
        )
    return folder


class Router:
    """Engines started and stopped over one data dir, each with the clock the test sets."""

    def __init__(self, routes: Path, data: Path, sims: SimulatorThread) -> None:
        self.config = load_config(routes, {**os.environ, **simulator_env(sims)})
        self.data = data
        self.engine: Engine | None = None

    async def start(self, now: float) -> JobService:
        self.now = now
        self.engine = Engine(
            self.config, Settings(data_dir=self.data, demo=True), clock=lambda: self.now
        )
        await self.engine.start()
        assert self.engine.jobs is not None
        return self.engine.jobs

    async def stop(self) -> None:
        if self.engine is not None and self.engine.started:
            await self.engine.stop()


@pytest.fixture
async def router(routes: Path, tmp_path: Path, sims: SimulatorThread) -> Any:
    running = Router(routes, tmp_path / "data", sims)
    yield running
    await running.stop()


async def settle(jobs: JobService, *names: str) -> None:
    for name in names:
        await jobs.wait(name)


async def test_slots_missed_while_down_run_once_or_are_skipped_by_policy(router: Router) -> None:
    jobs = await router.start(T0)  # first start: each schedule begins now, nothing is missed
    assert jobs.store.runs("each-minute-once") == []
    await router.stop()

    jobs = await router.start(T0 + 150)  # down across the slots at T0+50 and T0+110
    await settle(jobs, "each-minute-once", "each-minute-skip")
    (once,) = jobs.store.runs("each-minute-once")
    assert (once["trigger"], once["missed"], once["state"]) == ("missed", 2, "succeeded")
    assert once["slot"] == T0 + 110  # one run, for the newest slot
    (skipped,) = jobs.store.runs("each-minute-skip")
    assert (skipped["state"], skipped["missed"]) == ("skipped", 2)
    assert "missed while the router was down" in skipped["reason"]
    await router.stop()

    jobs = await router.start(T0 + 160)  # same slots: claimed already, nothing runs twice
    await settle(jobs, "each-minute-once", "each-minute-skip")
    assert len(jobs.store.runs("each-minute-once")) == 1
    assert len(jobs.store.runs("each-minute-skip")) == 1
    # The daily and hourly jobs started their schedules at T0: nothing of theirs was due.
    assert jobs.store.runs("payments-daily") == []


async def test_one_active_run_per_job(router: Router, sims: SimulatorThread) -> None:
    sims.set_faults("stripe", latency=0.5)  # the run's first page takes a while
    jobs = await router.start(T0)
    run = await jobs.run_now("payments-daily")
    with pytest.raises(Exception, match="is running"):
        await jobs.run_now("payments-daily")
    await settle(jobs, "payments-daily")
    stored = jobs.store.run(run["id"])
    assert stored is not None and stored["state"] == "succeeded"
    second = await jobs.run_now("payments-daily")  # free again once it ended
    assert second["id"] == "payments-daily.2"
    await settle(jobs, "payments-daily")


async def test_a_page_answered_5xx_is_retried(router: Router, sims: SimulatorThread) -> None:
    sims.set_faults("netsuite", fail_next=2)  # the first two SuiteQL pages fail, then succeed
    jobs = await router.start(T0)
    run = await jobs.run_now("payments-daily")
    await settle(jobs, "payments-daily")
    stored = jobs.store.run(run["id"])
    assert stored is not None
    assert stored["state"] == "succeeded", stored["reason"]
    netsuite = sims.set.simulator("netsuite")
    statuses = sims.call(lambda: [r.status for r in netsuite.log.entries() if "suiteql" in r.path])
    assert statuses[:3] == [500, 500, 200]


async def test_a_permanent_failure_fails_the_run_with_its_reason(
    router: Router, sims: SimulatorThread
) -> None:
    jobs = await router.start(T0)
    # A 401 is permanent: the Stripe simulator refuses a wrong key.
    stripe = sims.set.simulator("stripe")
    sims.call(lambda: stripe.credentials.update(api_key="sk_test_other"))
    run = await jobs.run_now("payments-daily")
    await settle(jobs, "payments-daily")
    (stored,) = jobs.store.runs("payments-daily")
    assert stored["id"] == run["id"] and stored["state"] == "failed"
    assert stored["reason"].startswith("stripe page 1: ")
    assert "401" in stored["reason"] or "unauthorized" in stored["reason"].lower()


async def test_a_slot_that_comes_due_while_running_runs_on_schedule(router: Router) -> None:
    jobs = await router.start(T0)
    router.now = T0 + 55  # the slot at T0+50 has come; the timer's wake-up is what runs it
    jobs._wake()
    await asyncio.sleep(0)
    assert jobs._tick is not None
    await jobs._tick
    await settle(jobs, "each-minute-once", "each-minute-skip")
    for name in ("each-minute-once", "each-minute-skip"):  # on time: the policy does not apply
        (run,) = jobs.store.runs(name)
        assert (run["trigger"], run["missed"], run["slot"], run["state"]) == (
            "schedule",
            0,
            T0 + 50,
            "succeeded",
        )
