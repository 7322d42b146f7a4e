"""Operator alerts: a storm of dead letters is a bounded number of aggregated messages, and a
parked workflow instance is alerted, and counted as an SLA miss."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from router import Engine
from router.alerts.service import Alerter
from router.testing import engine_for, recorded

DEAD = 1000
ROUTES = {
    "sources.yaml": "shop:\n  type: /type\n  idempotency_key: /id\n",
    "connectors.yaml": "target:\n  kind: recording\npager:\n  kind: recording\n",
    "orders.yaml": (
        "id: orders\nfrom: {source: shop, type: order.created}\nkey: /customer\n"
        "steps:\n  - to: {connector: target}\nretry: {max_attempts: 1}\n"
        # Every message of a storm is dead-lettered, the later ones of a customer too.
        "on_dead_letter: continue\n"
    ),
    "onboard.yaml": (
        "id: onboard\nkind: workflow\ntrigger: {source: shop, type: deal.won}\n"
        'key: "{{ /trigger/deal }}"\nsla: {objective: 30s}\n'
        "steps:\n  - id: account\n    call: {connector: target, path: /accounts}\n"
        '    input: {set: {deal: "{{ /trigger/deal }}"}}\n'
        "    retry: {max_attempts: 1}\n"
    ),
    "alerts.yaml": (
        "id: alerts\nkind: alerts\nnotify: {connector: pager, path: /alerts}\nevery: 200ms\n"
        "examples: 3\n"
    ),
}


def alerts() -> list[dict[str, Any]]:
    return [orjson.loads(r.body) for r in recorded("pager").requests]


def alerter(engine: Engine) -> Alerter:
    assert engine.alerter is not None
    return engine.alerter


async def test_a_storm_of_dead_letters_is_a_few_aggregated_alerts() -> None:
    async with engine_for(ROUTES) as engine:
        recorded("target").script(*["permanent"] * DEAD)
        started = time.monotonic()
        for i in range(DEAD):
            body = orjson.dumps({"id": f"o-{i}", "type": "order.created", "customer": f"c{i % 7}"})
            await engine.submit("shop", body)
        await engine.wait_idle()
        await alerter(engine).flush()
        took = time.monotonic() - started
        sent = alerts()
        # One message per 200 ms interval at most (and one final flush), never one per event.
        assert 1 <= len(sent) <= took / 0.2 + 2, (len(sent), took)
        assert sum(a["total"] for a in sent) == DEAD
        assert sum(c["count"] for a in sent for c in a["counts"]) == DEAD
        assert {c["kind"] for a in sent for c in a["counts"]} == {"dead_letter"}
        assert {c["where"] for a in sent for c in a["counts"]} == {"orders"}
        for alert in sent:
            assert len(alert["examples"]) <= 3  # examples per kind and place, per alert
        example = sent[0]["examples"][0]
        assert example["see"] == f"interlock trace {example['id']}"
        assert example["reason"] and example["key"].startswith("c")


async def test_a_parked_instance_is_alerted_and_missed_its_sla() -> None:
    async with engine_for(ROUTES) as engine:
        recorded("target").script("permanent")
        await engine.submit("shop", orjson.dumps({"id": "w-1", "type": "deal.won", "deal": "D1"}))
        await engine.wait_idle()
        assert engine.workflows is not None
        deadline = time.monotonic() + 30
        while not any(a for a in alerts() if a["total"]) and time.monotonic() < deadline:
            await alerter(engine).flush()
            await asyncio.sleep(0.05)
        kinds = {c["kind"]: c for a in alerts() for c in a["counts"]}
        assert kinds["parked"] == {"kind": "parked", "where": "onboard", "count": 1}
        assert kinds["sla_missed"]["count"] == 1
        parked = next(e for a in alerts() for e in a["examples"] if e["kind"] == "parked")
        assert parked["key"] == "D1" and parked["see"].startswith("interlock workflows show ")


async def test_an_alert_that_cannot_be_sent_is_kept_for_the_next_interval() -> None:
    async with engine_for(ROUTES) as engine:
        recorded("target").script("permanent", "permanent")
        recorded("pager").script("transient")  # the pager is down for one interval
        for i in range(2):
            body = orjson.dumps({"id": f"x-{i}", "type": "order.created", "customer": "c"})
            await engine.submit("shop", body)
        await engine.wait_idle()
        await alerter(engine).flush()
        await alerter(engine).flush()
        # The failed one was kept and merged into a later alert: nothing lost, nothing twice.
        assert sum(a["total"] for a in alerts()) == 2
        failed = alerter(engine).metrics.sent.labels("failed")._value.get()
        assert failed == 1
