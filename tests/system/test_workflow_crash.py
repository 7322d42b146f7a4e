"""kill -9 during quote-to-cash under a stream of 200 deals: every deal completes, once.

Each deal's customer onboarding runs as a child workflow, so the kills also land in the middle
of onboardings: each account is onboarded once, its records created once.

A real ``interlock run`` serves the shipped routes against every simulator (in this process, with
a little latency so that kills land in the middle of steps). 200 distinct closed-won deals are
posted, signed, and retried until acknowledged. The router is SIGKILLed three times while
deals arrive and once more while instances are mid-flight, and restarted each time. Afterwards
every instance has completed, and every simulator holds exactly one record per deal: a step that
was in flight at a kill was re-sent with the same idempotency key (or is an upsert), so its target
applied it once.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.workflows.state import State
from simulators.runner import SimulatorThread
from tests.support import scenarios as sc
from tests.support import workflow_runs as wr
from tests.support.process import RouterProcess

DEALS = 200
CONCURRENCY = 16
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatorThread]:
    yield from wr.slow_simulators()


def _states(data_dir: Path) -> Counter[str]:
    return Counter(i.state.value for i in wr.instances(data_dir))


async def test_sigkill_during_quote_to_cash_completes_every_deal_once(
    tmp_path: Path, sims: SimulatorThread
) -> None:
    wr.seed_deals(sims, DEALS, "K")
    data = tmp_path / "data"
    router = RouterProcess(sc.ROOT / "routes", data, env=sc.simulator_env(sims)).start()
    rng = random.Random()
    thresholds = sorted(rng.sample(range(20, DEALS - 20), 3))
    acked: set[int] = set()
    loop = asyncio.get_running_loop()

    async def kill() -> None:
        await loop.run_in_executor(None, router.kill)
        await loop.run_in_executor(None, router.start)

    try:
        await wr.post_deals_with_kills(
            lambda: router.url, "K", "evt-crash-", DEALS, CONCURRENCY, thresholds, kill, acked
        )
        await asyncio.sleep(rng.uniform(0.2, 0.6))  # instances are mid-flight now
        await kill()
        states: Counter[str] = Counter()
        for _ in range(1200):
            states = _states(data)
            if states[State.COMPLETED.value] >= DEALS:
                break
            await asyncio.sleep(0.1)
    finally:
        router.stop()

    counts = wr.record_counts(sims)
    instances = wr.instances(data)
    onboardings = wr.instances(data, "customer-onboarding")
    both = [*instances, *onboardings]
    resumed = sum(any(e.event == "resumed" for e in i.events) for i in both)
    resent = sum(s.attempts > 1 for i in both for s in i.steps)
    print(f"\nworkflow crash test: deals={DEALS} acked={len(acked)} kills=4 "
          f"starts={router.starts} states={dict(states)} resumed_instances={resumed} "
          f"steps_resent={resent} records={counts}")  # fmt: skip
    assert resumed > 0, "no kill landed while an instance was running"
    assert len(acked) == DEALS
    assert states == Counter({State.COMPLETED.value: DEALS})
    wr.assert_one_record_per_deal(sims, counts, DEALS)
    # Each deal's onboarding ran as its child, once per account, to completion, however cut.
    assert Counter(i.state.value for i in onboardings) == Counter({State.COMPLETED.value: DEALS})
    assert {i.step("onboarding").child for i in instances} == {i.id for i in onboardings}
