"""The simulators' clock (``/_sim/clock``, ``sim.clock``) and the key windows it drives.

Stripe forgets an ``Idempotency-Key`` 24 h after its first use and Zendesk a ticket's after 2 h,
as the vendors do, so a resend past the window really makes a second object; the webhook target
keeps its keys until reset. Nothing here waits: the tests move the clock.
"""

from __future__ import annotations

import time
from base64 import b64encode
from typing import Any

import pytest

from simulators import SIMULATORS
from simulators._store import Clock
from tests.simulators.conftest import Harness, HarnessFactory, Reply, reply

HOUR = 3600.0


async def clock(h: Harness, body: Any = None) -> Reply:
    if body is None:
        return await reply(await h.http.get(f"{h.url}/_sim/clock"))
    return await reply(await h.http.post(f"{h.url}/_sim/clock", json=body))


@pytest.mark.parametrize("name", list(SIMULATORS))
async def test_the_clock_endpoint_advances_sets_and_resets(
    harness: HarnessFactory, name: str
) -> None:
    h = await harness(name)
    status, body, _ = await clock(h)
    assert status == 200 and body["offset"] == 0
    status, body, _ = await clock(h, {"advance": 90_000})
    assert status == 200 and body["offset"] == 90_000 and h.sim.clock.offset == 90_000
    assert body["now"] > time.time() + 80_000
    h.sim.clock.advance(10)  # in process, the same clock
    assert (await clock(h))[1]["offset"] == 90_010
    future = time.time() + 7 * 24 * HOUR
    status, body, _ = await clock(h, {"now": future})
    assert status == 200 and abs(body["now"] - future) < 60
    await h.reset()
    assert (await clock(h))[1]["offset"] == 0  # reset is back on real time


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"advance": -1},
        {"advance": "1h"},
        {"advance": True},
        {"now": -5},
        {"advance": 1, "now": 2},
        {"advance": 1, "extra": 0},
        [1],
    ],
)
async def test_the_clock_endpoint_refuses_what_it_cannot_do(
    harness: HarnessFactory, body: Any
) -> None:
    h = await harness("webhook")
    status, answer, _ = await clock(h, body)
    assert status == 400 and "error" in answer
    assert h.sim.clock.offset == 0


def test_the_clock_in_process() -> None:
    c = Clock()
    assert c.offset == 0
    assert c.advance(25 * HOUR) > time.time() + 24 * HOUR
    with pytest.raises(ValueError, match="non-negative"):
        c.advance(-1)
    with pytest.raises(ValueError, match="finite"):
        c.advance(float("inf"))
    c.reset()
    assert c.offset == 0


async def test_records_are_stamped_on_the_simulators_clock(harness: HarnessFactory) -> None:
    h = await harness("stripe")
    h.sim.clock.advance(30 * 24 * HOUR)
    status, customer, _ = await stripe_create(h, {"email": "a@x.com"})
    assert status == 200 and customer["created"] > time.time() + 29 * 24 * HOUR
    (record,) = h.sim.store.all("customer")
    assert record.created_at > time.time() + 29 * 24 * HOUR


async def stripe_create(h: Harness, data: dict[str, str], key: str | None = None) -> Reply:
    headers = {"Authorization": f"Bearer {h.config['api_key']}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await reply(await h.http.post(f"{h.url}/v1/customers", data=data, headers=headers))


async def test_stripe_forgets_a_key_24_hours_after_its_first_use(harness: HarnessFactory) -> None:
    h = await harness("stripe")
    params = {"email": "a@x.com", "metadata[salesforce_account_id]": "001A"}
    _, first, _ = await stripe_create(h, params, key="create-1")
    h.sim.clock.advance(23 * HOUR)
    _, replayed, headers = await stripe_create(h, params, key="create-1")
    assert replayed["id"] == first["id"] and headers["Idempotent-Replayed"] == "true"
    await clock(h, {"advance": 2 * HOUR})  # 25 h after the first use, over the control API
    status, second, headers = await stripe_create(h, params, key="create-1")
    assert status == 200 and "Idempotent-Replayed" not in headers
    assert second["id"] != first["id"]  # the raw create, resent late: a second customer
    assert len((await h.state())["customer"]) == 2
    # The key now belongs to the second request: a resend within 24 h of it replays that one.
    _, third, headers = await stripe_create(h, params, key="create-1")
    assert third["id"] == second["id"] and headers["Idempotent-Replayed"] == "true"


async def test_zendesk_forgets_a_ticket_key_after_2_hours(harness: HarnessFactory) -> None:
    h = await harness("zendesk")
    c = h.config
    token = b64encode(f"{c['email']}/token:{c['api_token']}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Idempotency-Key": "ticket-1"}
    ticket = {"ticket": {"subject": "Help", "comment": {"body": "Broken"}}}

    async def create() -> Reply:
        url = f"{h.url}/api/v2/tickets.json"
        return await reply(await h.http.post(url, json=ticket, headers=headers))

    _, first, _ = await create()
    h.sim.clock.advance(HOUR + 59 * 60)
    _, again, answer = await create()
    assert again == first and answer["x-idempotency-lookup"] == "hit"
    h.sim.clock.advance(2 * 60)
    status, second, answer = await create()
    assert status == 201 and answer["x-idempotency-lookup"] == "miss"
    assert second["ticket"]["id"] != first["ticket"]["id"]


async def test_the_webhook_target_keeps_its_keys_until_reset(harness: HarnessFactory) -> None:
    h = await harness("webhook")
    headers = {"Idempotency-Key": "ent-1"}
    url = f"{h.url}/entitlements"
    first = await reply(await h.http.post(url, json={"sku": "A"}, headers=headers))
    h.sim.clock.advance(365 * 24 * HOUR)
    again = await reply(await h.http.post(url, json={"sku": "A"}, headers=headers))
    assert again[1] == first[1] and again[2]["Idempotent-Replayed"] == "true"
    assert len((await h.state())["entitlements"]) == 1
