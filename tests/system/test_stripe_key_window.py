"""A Stripe create re-sent 25 h later (simulated clocks) never makes a second customer.

The dangerous case: the first attempt reached Stripe and created the customer, but its answer was
lost (here: the simulator answers after the step's deadline). The step fails, the instance parks,
and an operator retries it a day later. Stripe forgot the ``Idempotency-Key`` after 24 h, so a
plain re-send would create a second customer. Both of the router's answers are shown, with the
router's clock and the Stripe simulator's moved 25 h ahead together:

- ``create_customer`` on a connector that looks the customer up first (the shipped default, by
  ``metadata[salesforce_account_id]``) is safe at any age: the retry finds the first customer;
- on a connector without the look-up, the orchestrator refuses the re-send, and the instance
  parks again with the key window named as the reason.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from router import Engine, Settings, load_config
from router.workflows.state import Instance, State
from simulators.runner import SimulatorThread

WORKFLOW = """\
id: signup
kind: workflow
trigger: {{source: demo, type: account.customer}}
key: "{{{{ /trigger/account }}}}"
on_failure: park
steps:
  - id: billing_customer
    call: {{connector: {connector}, operation: create_customer}}
    input:
      set:
        name: "{{{{ /trigger/name }}}}"
        "metadata[salesforce_account_id]": "{{{{ /trigger/account }}}}"
    output: {{id: /id}}
    timeout: 300ms
    retry: {{max_attempts: 1}}
"""
DAY = 86400.0


@pytest.fixture(scope="module")
def stripe() -> Iterator[SimulatorThread]:
    with SimulatorThread(["stripe"]) as sims:
        yield sims


class Clock:
    """The router's wall clock, movable by a test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
async def engine_for(tmp_path: Path, stripe: SimulatorThread) -> AsyncIterator[tuple[Any, Clock]]:
    sim = stripe.set.simulator("stripe")
    stripe.call(sim.reset)
    clock = Clock()
    engines: list[Engine] = []

    async def start(connector: str) -> Engine:
        routes = tmp_path / "routes"
        routes.mkdir()
        (routes / "sources.yaml").write_text("demo:\n  type: /type\n  idempotency_key: /id\n")
        base = stripe.url("stripe")
        (routes / "connectors.yaml").write_text(
            f"stripe-lookup:\n  kind: stripe\n  base_url: {base}\n"
            "  auth: {kind: bearer, token: sk_test_interlock}\n"
            f"stripe-plain:\n  kind: stripe\n  base_url: {base}\n  customer_lookup: []\n"
            "  auth: {kind: bearer, token: sk_test_interlock}\n"
        )
        (routes / "signup.yaml").write_text(WORKFLOW.format(connector=connector))
        engine = Engine(load_config(routes), Settings(data_dir=tmp_path / "data"), clock=clock)
        await engine.start()
        engines.append(engine)
        return engine

    yield start, clock
    for engine in engines:
        await engine.stop()


async def _parked(engine: Engine, key: str, attempts: int) -> Instance:
    assert engine.workflows is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = await engine.workflows.query(workflow="signup", key=key)
        if found and found[0].state is State.PARKED:
            step = found[0].step("billing_customer")
            if step.attempts >= attempts or "key window" in (step.error or ""):
                return found[0]
        if found and found[0].state is State.COMPLETED:
            return found[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"signup {key} did not settle: {found}")


def _customers(stripe: SimulatorThread) -> list[dict[str, Any]]:
    sim = stripe.set.simulator("stripe")
    snapshot: dict[str, list[dict[str, Any]]] = stripe.call(sim.store.snapshot)
    return snapshot.get("customer", [])


async def _retried_a_day_later(
    engine_for: tuple[Any, Clock], stripe: SimulatorThread, connector: str, account: str
) -> Instance:
    """The first create lands at Stripe after the step gave up; 25 h later an operator retries."""
    start, clock = engine_for
    engine = await start(connector)
    sim = stripe.set.simulator("stripe")
    # The create (not the look-up before it) answers past the step's 300 ms deadline.
    stripe.call(lambda: sim.set_faults({"latency": 0.6, "match": "POST /v1/customers"}))
    body = {"type": "account.customer", "id": f"evt-{account}", "account": account, "name": "Acme"}
    await engine.submit("demo", orjson.dumps(body))
    parked = await _parked(engine, account, attempts=1)
    assert parked.state is State.PARKED, [(e.event, e.detail) for e in parked.events]
    for _ in range(500):  # the lost answer's effect lands a little after the step gave up
        if _customers(stripe):
            break
        await asyncio.sleep(0.02)
    assert len(_customers(stripe)) == 1
    stripe.call(lambda: sim.set_faults({"latency": 0.0, "match": None}))
    stripe.advance_clock("stripe", DAY + 3600)  # Stripe forgets the key after 24 h
    clock.offset += DAY + 3600
    assert engine.workflows is not None
    await engine.workflows.command("retry", parked.id, "Stripe is answering again", "ops")
    return await _parked(engine, account, attempts=2)


async def test_a_create_that_looks_up_first_is_retried_a_day_later_without_a_second_customer(
    engine_for: tuple[Any, Clock], stripe: SimulatorThread
) -> None:
    done = await _retried_a_day_later(engine_for, stripe, "stripe-lookup", "001LOOK")
    assert done.state is State.COMPLETED, done.reason
    customers = _customers(stripe)
    assert len(customers) == 1  # found by its account id, not created again
    assert done.step("billing_customer").output["id"] == customers[0]["id"]


async def test_a_plain_create_past_the_window_is_refused_with_its_reason(
    engine_for: tuple[Any, Clock], stripe: SimulatorThread
) -> None:
    again = await _retried_a_day_later(engine_for, stripe, "stripe-plain", "001PLAIN")
    assert again.state is State.PARKED
    error = again.step("billing_customer").error or ""
    assert "key window passed" in error and "1d" in error, error
    assert "key window passed" in (again.reason or "")
    assert len(_customers(stripe)) == 1  # refused: nothing was sent
    events = [e.event for e in again.events]
    assert events.count("step_started") == 1  # the retry never reached Stripe
