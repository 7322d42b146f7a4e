"""Quote-to-cash runs under kills, shared by the single-router and the cluster workflow crash
tests: signed closed-won deals posted until acknowledged while a router is killed, the workflow
instances read back from a data dir, and the simulators' records counted per deal."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp

from router.store.workflows import WorkflowStore
from router.workflows.state import Instance
from simulators.cli import seed_demo
from simulators.runner import SimulatorThread
from tests.support import scenarios as sc
from tests.support.acks import post_until_acked

# The records each deal makes at the simulators, once each.
PER_TYPE = {
    ("netsuite", "customer"),
    ("netsuite", "salesOrder"),
    ("stripe", "customer"),
    ("stripe", "subscription"),
    ("webhook", "entitlements"),
    ("zendesk", "organization"),
    ("salesforce", "Account"),  # seeded: crm_link must update, never create
    ("webhook", "onboarded"),  # onboarding's notification, once per account
}


def slow_simulators() -> Iterator[SimulatorThread]:
    """The demo's simulators (for a module fixture), a little slow so that kills land mid-step."""
    with SimulatorThread() as running:
        running.call(lambda: seed_demo(running.set))
        for name in running.set.names:
            running.set_faults(name, latency=0.01)  # steps take long enough to be cut by a kill
        yield running


def seed_deals(sims: SimulatorThread, deals: int, run: str) -> None:
    """The accounts of deals ``0..deals-1`` of ``run``, at the CRM simulator."""
    for n in range(deals):
        sc.seed_account(sims, sc.opportunity(n, run=run)["AccountId"])


def instances(data_dir: Path, workflow: str = "quote-to-cash") -> list[Instance]:
    """The workflow's instances in a router's data dir (none before it made its store)."""
    if not (data_dir / "workflows").exists():
        return []
    store = WorkflowStore(data_dir / "workflows", readonly=True)
    try:
        return store.query(workflow=workflow, limit=10_000)
    finally:
        store.close()


async def post_deals_with_kills(
    url: Callable[[], str],
    run: str,
    event_prefix: str,
    deals: int,
    concurrency: int,
    thresholds: list[int],
    kill: Callable[[], Awaitable[None]],
    acked: set[int],
) -> None:
    """Post deals ``0..deals-1`` (at most ``concurrency`` at once), each until acknowledged (into
    ``acked``), at ``url()`` per attempt; ``kill()`` once the acked count passes each threshold."""
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:

        async def send(n: int) -> None:
            async with limit:
                body = sc.dumps(sc.opportunity(n, run=run))
                await post_until_acked(
                    session,
                    lambda: url() + "/webhooks/salesforce",
                    body,
                    lambda: sc.salesforce_headers(body, f"{event_prefix}{n}"),
                )
                acked.add(n)

        async def killer() -> None:
            for threshold in thresholds:
                while len(acked) < threshold:  # noqa: ASYNC110 - polling a plain set
                    await asyncio.sleep(0.005)
                await kill()

        await asyncio.gather(killer(), *(send(n) for n in range(deals)))


def record_counts(sims: SimulatorThread) -> dict[str, int]:
    """How many records of each :data:`PER_TYPE` the simulators hold."""
    return {f"{sim}.{kind}": len(sc.records(sims, sim, kind)) for sim, kind in PER_TYPE}


def assert_one_record_per_deal(sims: SimulatorThread, counts: dict[str, int], deals: int) -> None:
    for name, count in counts.items():
        assert count == deals, f"{name}: {count} records for {deals} deals"
    # One record per deal, not just the right total: each deal's own external id, once.
    orders = Counter(r["external_id"] for r in sc.records(sims, "netsuite", "salesOrder"))
    assert set(orders.values()) == {1}
    entitlements = sc.records(sims, "webhook", "entitlements")
    assert len({r["data"]["body"]["external_id"] for r in entitlements}) == deals
    subscriptions = sc.records(sims, "stripe", "subscription")
    assert len({r["data"]["customer"] for r in subscriptions}) == deals
