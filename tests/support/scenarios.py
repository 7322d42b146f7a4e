"""The shipped workflows against every simulator: environment, signed triggers, waiting.

Triggers are signed as each vendor signs them: Stripe with the official ``stripe`` package,
Shopify and the Salesforce callout with HMAC-SHA256 as their documentation specifies.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import orjson
import stripe

from router import Engine
from router.workflows.state import ACTIVE, Instance
from simulators.runner import SimulatorThread, routes_env

ROOT = Path(__file__).resolve().parents[2]
VENDORS = ROOT / "tests" / "fixtures" / "vendors"
STRIPE_SECRET = "whsec_interlock_demo_only"
SHOPIFY_SECRET = "shpss_interlock_demo_only"
SALESFORCE_SECRET = "sf_webhook_interlock_demo_only"


def simulator_env(sims: SimulatorThread) -> dict[str, str]:
    """What routes/connectors.yaml reads to point every connector at these simulators."""
    return routes_env(sims)


def fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((VENDORS / name).read_text())
    return document


def opportunity(n: int, run: str = "T") -> dict[str, Any]:
    """A distinct closed-won opportunity (its own account) from the Salesforce fixture."""
    opp = fixture("salesforce/opportunity_closed_won.json")
    opp = copy.deepcopy(opp)
    suffix = f"{run}{n:05d}"
    opp["Id"] = f"006Q{suffix}"
    opp["Name"] = f"Deal {suffix}"
    opp["AccountId"] = f"001Q{suffix}"
    if isinstance(opp.get("Account"), dict):
        opp["Account"]["Id"] = f"001Q{suffix}"
        opp["Account"]["Name"] = f"Customer {suffix}"
    return opp


def salesforce_headers(body: bytes, event_id: str) -> dict[str, str]:
    ts = str(int(time.time()))
    mac = hmac.new(SALESFORCE_SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Salesforce-Signature": base64.b64encode(mac.digest()).decode(),
        "X-Salesforce-Timestamp": ts,
        "X-Salesforce-Event-Id": event_id,
    }


def stripe_headers(body: bytes) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), STRIPE_SECRET, timestamp=int(time.time())
    )
    return {"Content-Type": "application/json", "Stripe-Signature": str(header)}


def shopify_headers(body: bytes, webhook_id: str, topic: str = "orders/create") -> dict[str, str]:
    mac = hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": base64.b64encode(mac).decode(),
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id,
    }


def dumps(document: Any) -> bytes:
    return orjson.dumps(document)


async def settled(
    engine: Engine, workflow: str, key: str, within_s: float = 20.0, *, notified: bool = False
) -> Instance:
    """Wait until the instance for ``key`` is neither running nor compensating; with
    ``notified``, also until its exception notification's outcome is recorded (it is sent after
    the instance settles, so its record at the target may lag the state by a round trip)."""
    assert engine.workflows is not None
    deadline = time.monotonic() + within_s
    found: list[Instance] = []
    while time.monotonic() < deadline:
        found = await engine.workflows.query(workflow=workflow, key=key)
        done = found and found[0].state not in ACTIVE
        if done and notified:
            done = not found[0].notify_pending and found[0].notifications > 0
        if done:
            return found[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"{workflow} {key} did not settle: {[i.summary() for i in found]}")


def records(sims: SimulatorThread, name: str, type_: str) -> list[dict[str, Any]]:
    sim = sims.set.simulator(name)
    snapshot: dict[str, list[dict[str, Any]]] = sims.call(sim.store.snapshot)
    return snapshot.get(type_, [])


def seed_account(sims: SimulatorThread, account_id: str, **fields: Any) -> None:
    """The deal's account, as it already exists in Salesforce (the CRM is the system of record)."""
    salesforce = sims.set.simulator("salesforce")
    data = {"Name": f"Account {account_id}", **fields}
    sims.call(lambda: salesforce.store.create("Account", data, None, id_=account_id))
