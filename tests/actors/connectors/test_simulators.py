"""Every vendor connector against its simulator: real paths, auth, upserts, faults and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from structlog.testing import capture_logs

from router.errors import PermanentError, TransientError
from tests.actors.connectors._support import outbound
from tests.actors.connectors.conftest import OpenConnector

runner = pytest.importorskip("simulators.runner")


@dataclass(frozen=True)
class Case:
    kind: str
    operation: str
    store: str  # the simulator's record type
    body: Callable[[str], dict[str, Any]]  # external id -> message body
    config: Callable[[dict[str, str]], dict[str, Any]]  # simulator config -> connector config
    secret: str  # the credential that must never show up
    oauth: bool = False


def _oauth(c: dict[str, str], **extra: str) -> dict[str, Any]:
    auth = {
        "kind": "oauth2-client-credentials",
        "token_url": c["token_url"],
        "client_id": c["client_id"],
        "client_secret": c["client_secret"],
        **extra,
    }
    return {"base_url": c["base_url"], "auth": auth}


CASES = {
    "netsuite": Case(
        "netsuite",
        "upsert_customer",
        "customer",
        lambda ext: {"externalId": ext, "companyName": "Acme", "subsidiary": {"id": "1"}},
        lambda c: {
            "base_url": c["base_url"],
            "auth": {
                "kind": "netsuite-tba",
                **{k: c[k] for k in ("account_id", "consumer_key", "consumer_secret", "token_id")},
                "token_secret": c["token_secret"],
            },
        },
        "ns_token_secret_interlock",
    ),
    "dynamics": Case(
        "dynamics",
        "upsert_account",
        "accounts",
        lambda ext: {"ilk_externalid": ext, "name": "Acme"},
        lambda c: {**_oauth(c, scope=c["scope"]), "alternate_key": "ilk_externalid"},
        "client_secret",
        oauth=True,
    ),
    "stripe": Case(
        "stripe",
        "create_customer",
        "customer",
        lambda ext: {"email": "a@b.example", "metadata": {"external_id": ext}},
        lambda c: {"base_url": c["base_url"], "auth": {"kind": "bearer", "token": c["api_key"]}},
        "sk_test_interlock",
    ),
    "salesforce": Case(
        "salesforce",
        "upsert_by_external_id",
        "Account",
        lambda ext: {"attributes": {"type": "Account"}, "Ext_Id__c": ext, "Name": "Acme"},
        lambda c: {**_oauth(c), "external_id_field": "Ext_Id__c", "api_version": c["api_version"]},
        "sf_secret_interlock",
        oauth=True,
    ),
    "zendesk": Case(
        "zendesk",
        "organization_create_or_update",
        "organization",
        lambda ext: {"name": f"Acme {ext}", "external_id": ext},
        lambda c: {
            "base_url": c["base_url"],
            "auth": {
                "kind": "basic",
                "username": f"{c['email']}/token",
                "password": c["api_token"],
            },
        },
        "zd_token_interlock",
    ),
    "shopify": Case(
        "shopify",
        "set_inventory_level",
        "inventory_level",
        lambda ext: {"location_id": 1, "inventory_item_id": ext, "available": 5},
        lambda c: {
            "base_url": c["base_url"],
            "api_version": c["api_version"],
            "auth": {
                "kind": "api-key",
                "header": "X-Shopify-Access-Token",
                "value": c["access_token"],
            },
        },
        "shpat_interlock",
    ),
}
KINDS = sorted(CASES)


@pytest.fixture
async def sims() -> AsyncIterator[Any]:
    running = await runner.start(KINDS)
    yield running
    await running.close()


async def connect(open_connector: OpenConnector, case: Case, sims: Any, **extra: Any) -> Any:
    return await open_connector(
        case.kind, case.kind, **{**case.config(sims.config(case.kind)), **extra}
    )


def secret_of(case: Case, sims: Any) -> str:
    config = case.config(sims.config(case.kind))
    return str(config["auth"].get("client_secret") or case.secret)


@pytest.mark.parametrize("kind", KINDS)
async def test_upsert_twice_gives_one_record(
    kind: str, sims: Any, open_connector: OpenConnector
) -> None:
    case = CASES[kind]
    connector = await connect(open_connector, case, sims)
    with capture_logs() as logs:
        await connector.send(outbound(case.body("1001"), operation=case.operation, key="k1"))
        await connector.send(outbound(case.body("1001"), operation=case.operation, key="k1"))
    records = sims.simulator(kind).store.all(case.store)
    assert len(records) == 1
    assert secret_of(case, sims) not in repr(logs)


@pytest.mark.parametrize("kind", KINDS)
async def test_wrong_credentials_are_permanent_and_not_echoed(
    kind: str, sims: Any, open_connector: OpenConnector
) -> None:
    case = CASES[kind]
    config = case.config(sims.config(kind))
    auth = dict(config["auth"])
    for field in ("client_secret", "token_secret", "token", "password", "value"):
        if field in auth:
            auth[field] = "WRONG-secret-value"
    connector = await open_connector(kind, kind, **{**config, "auth": auth})
    with capture_logs() as logs, pytest.raises(PermanentError) as info:
        await connector.send(outbound(case.body("1002"), operation=case.operation))
    assert "40" in str(info.value)  # a 400/401/403 from the token endpoint or the API
    assert "WRONG-secret-value" not in str(info.value) and "WRONG-secret" not in repr(logs)
    assert sims.simulator(kind).store.all(case.store) == []


@pytest.mark.parametrize("kind", [k for k in KINDS if CASES[k].oauth])
async def test_an_expired_token_is_refreshed_once(
    kind: str, sims: Any, open_connector: OpenConnector
) -> None:
    case = CASES[kind]
    connector = await connect(open_connector, case, sims)
    await connector.send(outbound(case.body("1003"), operation=case.operation, key="k3"))
    sims.simulator(kind).tokens.expire_all()
    await connector.send(outbound(case.body("1004"), operation=case.operation, key="k4"))
    assert len(sims.simulator(kind).store.all(case.store)) == 2
    assert connector.client.metrics.value("interlock_connector_token_refreshes_total") == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_429_carries_retry_after_and_5xx_is_transient(
    kind: str, sims: Any, open_connector: OpenConnector
) -> None:
    case = CASES[kind]
    connector = await connect(open_connector, case, sims)
    sim = sims.simulator(kind)
    await connector.send(outbound(case.body("1000"), operation=case.operation, key="k0"))
    sim.set_faults({"fail_next": 1})
    with pytest.raises(TransientError, match="HTTP 5"):
        await connector.send(outbound(case.body("1005"), operation=case.operation, key="k5"))
    sim.set_faults({"rate_limit": 1})
    await connector.send(outbound(case.body("1005"), operation=case.operation, key="k5"))
    with pytest.raises(TransientError, match="HTTP 429") as info:
        await connector.send(outbound(case.body("1006"), operation=case.operation, key="k6"))
    assert info.value.retry_after is not None and info.value.retry_after >= 1


@pytest.mark.parametrize("kind", KINDS)
async def test_a_rejected_record_is_permanent_with_the_vendors_text(
    kind: str, sims: Any, open_connector: OpenConnector
) -> None:
    case = CASES[kind]
    connector = await connect(open_connector, case, sims)
    broken = "4242" if kind == "shopify" else "BROKEN-1"
    body = case.body(broken)
    if kind == "salesforce":  # the external id travels in the path; the rule checks the body
        body["Name"] = broken
    sims.simulator(kind).set_faults({"broken": [broken]})
    with pytest.raises(PermanentError) as info:
        await connector.send(outbound(body, operation=case.operation))
    reason = str(info.value)
    assert reason.startswith("HTTP 4") and len(reason) > len("HTTP 400 ") + 10
    assert "\n" not in reason


async def test_netsuite_reason_names_the_error_code(
    sims: Any, open_connector: OpenConnector
) -> None:
    case = CASES["netsuite"]
    connector = await connect(open_connector, case, sims)
    sims.simulator("netsuite").set_faults({"broken": ["X1"]})
    with pytest.raises(PermanentError, match=r"^HTTP 400 USER_ERROR: .*Subsidiary"):
        await connector.send(outbound(case.body("X1"), operation=case.operation))


@pytest.mark.parametrize("kind", KINDS)
async def test_a_held_request_times_out_as_transient(
    kind: str, sims: Any, open_connector: OpenConnector
) -> None:
    case = CASES[kind]
    connector = await connect(open_connector, case, sims, timeout="200ms")
    if case.oauth:  # get the token first, so the timeout hits the API call
        await connector.send(outbound(case.body("1007"), operation=case.operation, key="k7"))
    sims.simulator(kind).set_faults({"timeout_rate": 1.0, "timeout_hold": 10})
    try:
        with pytest.raises(TransientError, match=r"timed out after 0\.2s"):
            await connector.send(outbound(case.body("1008"), operation=case.operation, key="k8"))
    finally:
        sims.simulator(kind).release_held()


async def test_a_dynamics_order_with_an_external_id_is_created_once(
    sims: Any, open_connector: OpenConnector
) -> None:
    case = CASES["dynamics"]
    connector = await connect(open_connector, case, sims)
    await connector.send(outbound(case.body("acct-1"), operation="upsert_account", key="a1"))
    order = {
        "ilk_externalid": "sfdc-006-1",
        "name": "Order 006-1",
        "customerid_account@odata.bind": "/accounts(ilk_externalid='acct-1')",
    }
    for attempt in range(2):  # a redelivery after a lost reply
        await connector.send(outbound(order, operation="create_salesorder", key=f"o{attempt}"))
    orders = sims.simulator("dynamics").store.all("salesorders")
    assert [o.external_id for o in orders] == ["sfdc-006-1"]
