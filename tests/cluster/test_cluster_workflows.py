"""Workflows in cluster mode: three ``interlock run`` on one backbone, one killed mid-workflow.

The shipped routes against every simulator (in this process, with a little latency so that kills
land in the middle of steps), as in ``tests/system/test_workflow_crash.py``. Signed closed-won
deals are posted to random instances and retried until acknowledged; each deal's quote-to-cash
instance (and its customer-onboarding child) runs at the owner of its trigger's partition. Three
times, one instance that has instances running is SIGKILLed and restarted: it hands them back,
and their unacked triggers run them again from the start at their partitions' owners, the same
step keys making what already took effect a no-op at the targets. Afterwards every deal's
workflow completed somewhere, and every simulator holds exactly one record per deal.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.workflows.state import Instance, State
from simulators.runner import SimulatorThread
from tests.support import scenarios as sc
from tests.support import workflow_runs as wr
from tests.support.process import RouterProcess

DEALS = 60
CONCURRENCY = 12
INSTANCES = 3
KILLS = 3
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatorThread]:
    yield from wr.slow_simulators()


def _everywhere(routers: list[RouterProcess], workflow: str) -> list[Instance]:
    return [i for r in routers for i in wr.instances(r.data_dir, workflow)]


def _running_at(router: RouterProcess) -> int:
    found = wr.instances(router.data_dir, "quote-to-cash")
    return sum(i.state is State.RUNNING for i in found)


async def test_workflows_killed_mid_flight_run_again_elsewhere_and_complete_once(
    tmp_path: Path, sims: SimulatorThread, backbone_url: str, prefix: str
) -> None:
    wr.seed_deals(sims, DEALS, "C")
    env = {
        **sc.simulator_env(sims),
        "INTERLOCK_BACKBONE": backbone_url,
        "INTERLOCK_BACKBONE_PREFIX": prefix,
        "INTERLOCK_PARTITIONS": "8",
        "INTERLOCK_LEASE_S": "2",
    }
    routers = [
        RouterProcess(
            sc.ROOT / "routes", tmp_path / f"w{n}", env={**env, "INTERLOCK_INSTANCE": f"w{n}"}
        )
        for n in range(INSTANCES)
    ]
    rng = random.Random()
    acked: set[int] = set()
    victims: list[str] = []
    loop = asyncio.get_running_loop()

    async def kill_one_mid_flight() -> None:
        # A random instance among those running instances now (any, if none is).
        running = await loop.run_in_executor(None, lambda: [_running_at(r) for r in routers])
        busy = [r for r, count in zip(routers, running, strict=True) if count] or routers
        victim = rng.choice(busy)
        victims.append(victim.data_dir.name)
        await loop.run_in_executor(None, victim.kill)
        await loop.run_in_executor(None, victim.start)

    try:
        for router in routers:
            await loop.run_in_executor(None, router.start)
        thresholds = sorted(rng.sample(range(10, DEALS - 10), KILLS - 1))
        await wr.post_deals_with_kills(
            lambda: rng.choice(routers).url,  # a refused or cut-off post is retried at another one
            "C",
            "evt-cluster-wf-",
            DEALS,
            CONCURRENCY,
            thresholds,
            kill_one_mid_flight,
            acked,
        )
        await asyncio.sleep(rng.uniform(0.1, 0.3))  # the last deals are mid-flight now
        await kill_one_mid_flight()

        keys = {sc.opportunity(n, run="C")["Id"] for n in range(DEALS)}
        deadline = time.monotonic() + 60
        instances: list[Instance] = []
        while time.monotonic() < deadline:
            instances = await loop.run_in_executor(None, _everywhere, routers, "quote-to-cash")
            done = {i.key for i in instances if i.state is State.COMPLETED}
            open_ = [i for i in instances if i.state in {State.RUNNING, State.COMPENSATING}]
            if done >= keys and not open_:
                break
            await asyncio.sleep(0.2)
        onboardings = await loop.run_in_executor(None, _everywhere, routers, "customer-onboarding")
    finally:
        for router in routers:
            router.stop()

    counts = wr.record_counts(sims)
    states = Counter(i.state.value for i in instances)
    handed_back = [i for i in [*instances, *onboardings] if i.state is State.HANDED_BACK]
    completed = Counter(i.key for i in instances if i.state is State.COMPLETED)
    where = Counter(
        r.data_dir.name
        for r in routers
        for i in wr.instances(r.data_dir, "quote-to-cash")
        if i.state is State.COMPLETED
    )
    print(f"\ncluster workflows test: deals={DEALS} acked={len(acked)} victims={victims} "
          f"starts={[r.starts for r in routers]} states={dict(states)} completed_at={dict(where)} "
          f"handed_back={len(handed_back)} records={counts}")  # fmt: skip
    assert len(acked) == DEALS
    assert len(victims) == KILLS
    assert handed_back, "no kill landed while an instance was running"
    assert all(i.events[-1].event == "handed_back" for i in handed_back)
    # Every deal completed somewhere; nothing left running, parked or compensated anywhere.
    assert set(completed) == keys
    assert set(states) <= {State.COMPLETED.value, State.HANDED_BACK.value}
    assert not [i for i in onboardings if i.state not in {State.COMPLETED, State.HANDED_BACK}]
    wr.assert_one_record_per_deal(sims, counts, DEALS)
