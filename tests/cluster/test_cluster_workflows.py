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

import aiohttp
import pytest

from router.store.workflows import WorkflowStore
from router.workflows.state import Instance, State
from simulators.cli import seed_demo
from simulators.runner import SimulatorThread
from tests.support import scenarios as sc
from tests.support.process import RouterProcess

DEALS = 60
CONCURRENCY = 12
INSTANCES = 3
KILLS = 3
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatorThread]:
    with SimulatorThread() as running:
        running.call(lambda: seed_demo(running.set))
        for name in running.set.names:
            running.set_faults(name, latency=0.01)  # steps take long enough to be cut by a kill
        yield running


def _instances(data_dir: Path, workflow: str) -> list[Instance]:
    if not (data_dir / "workflows").exists():
        return []
    store = WorkflowStore(data_dir / "workflows", readonly=True)
    try:
        return store.query(workflow=workflow, limit=10_000)
    finally:
        store.close()


def _everywhere(routers: list[RouterProcess], workflow: str) -> list[Instance]:
    return [i for r in routers for i in _instances(r.data_dir, workflow)]


async def _post_until_acked(
    session: aiohttp.ClientSession,
    routers: list[RouterProcess],
    rng: random.Random,
    n: int,
    acked: set[int],
) -> None:
    body = sc.dumps(sc.opportunity(n, run="C"))
    while True:
        router = rng.choice(routers)  # a refused or cut-off post is retried at another one
        try:
            headers = sc.salesforce_headers(body, f"evt-cluster-wf-{n}")
            async with session.post(
                router.url + "/webhooks/salesforce", data=body, headers=headers
            ) as response:
                if response.status in (200, 202):  # 200: a retry of one already accepted
                    acked.add(n)
                    return
                assert response.status == 503, await response.text()
        except (TimeoutError, aiohttp.ClientError):
            pass
        await asyncio.sleep(0.05)


def _running_at(router: RouterProcess) -> int:
    found = _instances(router.data_dir, "quote-to-cash")
    return sum(i.state is State.RUNNING for i in found)


async def test_workflows_killed_mid_flight_run_again_elsewhere_and_complete_once(
    tmp_path: Path, sims: SimulatorThread, backbone_url: str, prefix: str
) -> None:
    for n in range(DEALS):
        sc.seed_account(sims, sc.opportunity(n, run="C")["AccountId"])
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
        limit = asyncio.Semaphore(CONCURRENCY)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:

            async def send(n: int) -> None:
                async with limit:
                    await _post_until_acked(session, routers, rng, n, acked)

            async def killer() -> None:
                for threshold in thresholds:
                    while len(acked) < threshold:  # noqa: ASYNC110 - polling a plain set
                        await asyncio.sleep(0.005)
                    await kill_one_mid_flight()

            await asyncio.gather(killer(), *(send(n) for n in range(DEALS)))
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

    per_type = {
        ("netsuite", "customer"),
        ("netsuite", "salesOrder"),
        ("stripe", "customer"),
        ("stripe", "subscription"),
        ("webhook", "entitlements"),
        ("zendesk", "organization"),
        ("salesforce", "Account"),  # seeded: crm_link must update, never create
        ("webhook", "onboarded"),  # onboarding's notification, once per account
    }
    counts = {f"{sim}.{kind}": len(sc.records(sims, sim, kind)) for sim, kind in per_type}
    states = Counter(i.state.value for i in instances)
    handed_back = [i for i in [*instances, *onboardings] if i.state is State.HANDED_BACK]
    completed = Counter(i.key for i in instances if i.state is State.COMPLETED)
    where = Counter(
        r.data_dir.name
        for r in routers
        for i in _instances(r.data_dir, "quote-to-cash")
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
    for name, count in counts.items():
        assert count == DEALS, f"{name}: {count} records for {DEALS} deals"
    # One record per deal, not just the right total: each deal's own external id, once.
    orders = Counter(r["external_id"] for r in sc.records(sims, "netsuite", "salesOrder"))
    assert set(orders.values()) == {1}
    entitlements = sc.records(sims, "webhook", "entitlements")
    assert len({r["data"]["body"]["external_id"] for r in entitlements}) == DEALS
    subscriptions = sc.records(sims, "stripe", "subscription")
    assert len({r["data"]["customer"] for r in subscriptions}) == DEALS
