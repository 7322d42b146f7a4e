"""Vendor connectors through the real engine: breaker under a downtime window, dead-letter reasons.

Real LMDB in tmp_path, the NetSuite simulator on loopback, TBA secrets read from a secrets dir.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import orjson
import pytest
from structlog.testing import capture_logs

from actors.connectors._secrets import SECRETS_DIR_ENV
from router.ids import decode_id
from router.store.statuses import Status
from tests.conftest import EngineFactory

runner = pytest.importorskip("simulators.runner")


@pytest.fixture
async def netsuite() -> AsyncIterator[Any]:
    running = await runner.start(["netsuite"])
    yield running
    await running.close()


def write_routes(folder: Path, secrets: Path, sim: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    secrets.mkdir()
    for name in ("consumer_secret", "token_secret"):
        (secrets / f"ns_{name}").write_text(sim[name] + "\n")
    (folder / "sources.yaml").write_text("shop:\n  type: /type\n  idempotency_key: /id\n")
    (folder / "connectors.yaml").write_text(
        dedent(
            f"""\
            erp:
              kind: netsuite
              base_url: {sim["base_url"]}
              timeout: 2s
              breaker: {{failures: 2, open_for: 150ms}}
              auth:
                kind: netsuite-tba
                account_id: {sim["account_id"]}
                consumer_key: {sim["consumer_key"]}
                consumer_secret: file:ns_consumer_secret
                token_id: {sim["token_id"]}
                token_secret: file:ns_token_secret
            """
        )
    )
    (folder / "customers.yaml").write_text(
        dedent(
            """\
            id: customers
            from: {source: shop, type: customer.updated}
            key: /externalId
            steps:
              - to: {connector: erp, operation: upsert_customer}
            retry: {max_attempts: 200, initial: 10ms, max: 100ms}
            """
        )
    )
    return folder


def customer(ext: str) -> bytes:
    return orjson.dumps(
        {"id": f"evt-{ext}", "type": "customer.updated", "externalId": ext, "subsidiary": {"id": 1}}
    )


async def test_the_circuit_opens_during_downtime_and_closes_after_with_nothing_lost(
    tmp_path: Path,
    netsuite: Any,
    make_engine: EngineFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRETS_DIR_ENV, str(tmp_path / "secrets"))
    sim = netsuite.simulator("netsuite")
    routes = write_routes(tmp_path / "routes", tmp_path / "secrets", netsuite.config("netsuite"))
    engine = await make_engine(routes)
    sim.set_faults({"down_for": 0.6})
    acks = [await engine.submit("shop", customer(f"C{i}")) for i in range(6)]
    await engine.wait_idle(30)

    assert sorted(r.external_id for r in sim.store.all("customer")) == [f"C{i}" for i in range(6)]
    assert engine.journal is not None
    for ack in acks:
        assert engine.journal.deliveries(decode_id(ack.id))["customers"].status is Status.DELIVERED
    connector: Any = engine._connectors["erp"]  # the connector's own metrics
    metrics = connector.client.metrics
    refused = metrics.value("interlock_connector_outcomes_total", outcome="circuit_open")
    failed = metrics.value("interlock_connector_outcomes_total", outcome="transient")
    assert refused > 0  # attempts answered by the open breaker, without a call
    assert len(sim.log.entries()) == failed + 6  # only real calls reached NetSuite
    assert metrics.value("interlock_connector_circuit_state") == 0  # closed again


async def test_a_rejected_record_is_dead_lettered_with_netsuites_text_and_no_secret(
    tmp_path: Path,
    netsuite: Any,
    make_engine: EngineFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRETS_DIR_ENV, str(tmp_path / "secrets"))
    sim = netsuite.simulator("netsuite")
    config = netsuite.config("netsuite")
    routes = write_routes(tmp_path / "routes", tmp_path / "secrets", config)
    sim.set_faults({"broken": ["BAD-1"]})
    with capture_logs() as logs:
        engine = await make_engine(routes)
        await engine.submit("shop", customer("BAD-1"))
        await engine.submit("shop", customer("OK-1"))
        await engine.wait_idle(30)
    assert engine.journal is not None
    [(_, dead)] = engine.journal.dead_letters()
    assert dead["attempts"] == 1
    assert "HTTP 400 USER_ERROR: Error while accessing a resource." in dead["reason"]
    assert [r.external_id for r in sim.store.all("customer")] == ["OK-1"]
    for secret in (config["consumer_secret"], config["token_secret"]):
        assert secret not in dead["reason"] and secret not in repr(logs)
