"""Old canonical payloads are upcast on the data path, before a transform's input is validated.

A message carrying a canonical document of an older ``schema_version`` goes through the route's
transform chain and reaches the connector as the current version; one this code cannot read (newer
than it knows, or with no upcaster path) is dead-lettered on the first attempt with a reason that
names the model and both versions.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
import pytest
from pydantic import BaseModel

from canonical.errors import SchemaVersionError
from canonical.models import Entitlement, Entity
from canonical.versioning import upcaster
from router.errors import PermanentError
from router.ids import decode_id
from router.plugin import register
from router.registry import register_transform, transforms
from router.runtime.request_builder import run_chain, validate_input
from router.testing import engine_for, recorded

V1_ENTITLEMENT: dict[str, Any] = {
    "schema_version": 1,
    "external_refs": [{"system": "salesforce", "id": "006Hs00001XyZ"}],
    "customer": {"name": "Acme Robotics", "external_refs": [{"system": "stripe", "id": "cus_1"}]},
    "target_kind": "product",
    "target": "PLAT-SEAT-12M",
    "limits": [{"name": "seats", "value": "10", "unit": "seat"}],
    "starts_at": "2026-02-01T00:00:00Z",
}


def grant_from_entitlement(entitlement: Entitlement) -> dict[str, Any]:
    """What a licence-server route would send: the entitlement as this code reads it."""
    return {
        "schema_version": entitlement.schema_version,
        "product": entitlement.target,
        "status": entitlement.status.value,
        "seats": str(entitlement.limits[0].value),
    }


def unwrap(event: dict[str, Any]) -> dict[str, Any]:
    """A first transform handing a nested canonical document on as a plain dict."""
    document: dict[str, Any] = event["entitlement"]
    return document


class Gauge(Entity):
    """A test-only document at v3 whose v1 -> v2 upcaster was never written."""

    schema_version: Literal[3] = 3
    reading: int


@upcaster(Gauge, 2, breaking=False, note="reading became an int")
def _gauge_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "reading": int(data["reading"])}


def read_gauge(gauge: Gauge) -> dict[str, Any]:
    return {"reading": gauge.reading}


register("transform", "test.grant_from_entitlement", None, grant_from_entitlement)
register("transform", "test.read_gauge", None, read_gauge)

ROUTES = {
    "sources.yaml": (
        "licences:\n  fixed_type: entitlement.changed\n"
        "  idempotency_key: /external_refs/0/id\n"
        "gauges:\n  fixed_type: gauge.read\n"  # the key: SHA-256 of the body
    ),
    "connectors.yaml": "licence_server:\n  kind: recording\n",
    "grants.yaml": (
        "id: grants\nfrom: {source: licences, type: entitlement.changed}\n"
        "retry: {max_attempts: 3, initial: 10ms, max: 20ms}\n"
        "steps:\n  - transform: test.grant_from_entitlement\n"
        "  - to: {connector: licence_server, path: /entitlements}\n"
    ),
    "gauges.yaml": (
        "id: gauges\nfrom: {source: gauges, type: gauge.read}\n"
        "retry: {max_attempts: 3, initial: 10ms, max: 20ms}\n"
        "steps:\n  - transform: test.read_gauge\n"
        "  - to: {connector: licence_server, path: /gauges}\n"
    ),
}


def entitlement(**changes: Any) -> bytes:
    return orjson.dumps({**V1_ENTITLEMENT, **changes})


async def test_an_older_canonical_payload_is_upcast_before_its_transform_runs() -> None:
    async with engine_for(ROUTES) as engine:
        await engine.submit("licences", entitlement())
        await engine.wait_idle(10)
        [request] = recorded("licence_server").requests
        assert orjson.loads(request.body) == {
            "schema_version": 2,
            "product": "PLAT-SEAT-12M",
            "status": "active",  # filled in by the Entitlement v1 -> v2 upcaster
            "seats": "10",
        }
        assert engine.journal is not None and engine.journal.dead_letters() == []


async def test_a_current_payload_is_delivered_as_it_is() -> None:
    current = {**V1_ENTITLEMENT, "schema_version": 2, "status": "suspended"}
    async with engine_for(ROUTES) as engine:
        await engine.submit("licences", orjson.dumps(current))
        await engine.wait_idle(10)
        [request] = recorded("licence_server").requests
        assert orjson.loads(request.body)["status"] == "suspended"


async def test_a_version_newer_than_this_code_is_dead_lettered_with_its_reason() -> None:
    async with engine_for(ROUTES) as engine:
        ack = await engine.submit("licences", entitlement(schema_version=3, status="active"))
        await engine.wait_idle(10)
        assert recorded("licence_server").requests == []
        assert engine.journal is not None
        [(message_id, dead)] = engine.journal.dead_letters()
        assert message_id == decode_id(ack.id)
        assert dead["attempts"] == 0  # refused before any send, and never retried
        kinds = [e.kind for e in engine.journal.timeline(message_id)]
        assert kinds == ["received", "routed", "dead_lettered"]
        assert dead["reason"] == (
            "transform test.grant_from_entitlement failed: SchemaVersionError: "
            "Entitlement v3 is newer than this code (v2); upgrade the reader"
        )


async def test_a_version_with_no_upcaster_path_is_dead_lettered_with_its_reason() -> None:
    async with engine_for(ROUTES) as engine:
        await engine.submit("gauges", orjson.dumps({"schema_version": 2, "reading": "7"}))
        await engine.submit("gauges", orjson.dumps({"schema_version": 1, "reading": 7}))
        await engine.wait_idle(10)
        [request] = recorded("licence_server").requests  # v2 has its step to v3
        assert orjson.loads(request.body) == {"reading": 7}
        assert engine.journal is not None
        [(_, dead)] = engine.journal.dead_letters()
        assert dead["attempts"] == 0
        assert dead["reason"] == (
            "transform test.read_gauge failed: SchemaVersionError: "
            "Gauge v1 cannot be upcast to v3: no upcaster for v1 -> v2"
        )


async def test_a_payload_without_schema_version_is_read_as_current_not_upcast() -> None:
    unversioned = {k: v for k, v in V1_ENTITLEMENT.items() if k != "schema_version"}
    async with engine_for(ROUTES) as engine:
        await engine.submit("licences", orjson.dumps(unversioned))
        await engine.wait_idle(10)
        assert recorded("licence_server").requests == []
        assert engine.journal is not None
        [(_, dead)] = engine.journal.dead_letters()
        # Taken as v2, as canonical.versioning treats it, so the missing status is an error.
        assert "ValidationError" in dead["reason"] and "status" in dead["reason"]


def test_a_document_handed_on_mid_chain_is_upcast_too() -> None:
    chain = [
        register_transform("test.unwrap_entitlement", unwrap),
        register_transform("test.grant_from_entitlement", grant_from_entitlement),
    ]
    grant = run_chain(chain, {"entitlement": V1_ENTITLEMENT})
    assert grant["schema_version"] == 2 and grant["status"] == "active"
    with pytest.raises(PermanentError, match=r"Entitlement v3 is newer than this code \(v2\)"):
        run_chain(chain, {"entitlement": {**V1_ENTITLEMENT, "schema_version": 3}})


def test_validate_input_leaves_the_payload_untouched_and_plain_models_alone() -> None:
    model = validate_input(Entitlement, V1_ENTITLEMENT)
    assert isinstance(model, Entitlement) and model.schema_version == 2
    assert V1_ENTITLEMENT["schema_version"] == 1 and "status" not in V1_ENTITLEMENT
    for bogus in (True, None, "1"):
        with pytest.raises(SchemaVersionError, match="not valid"):
            validate_input(Entitlement, {**V1_ENTITLEMENT, "schema_version": bogus})

    class Reading(BaseModel):  # not a canonical document: its schema_version is just a field
        schema_version: int

    assert validate_input(Reading, {"schema_version": 7}) == Reading(schema_version=7)


def test_a_shipped_transform_reads_a_v1_customer() -> None:
    v1_customer = {
        "schema_version": 1,
        "external_refs": [{"system": "salesforce", "id": "001Hs00002ABCdeIAH"}],
        "name": "Acme Robotics, Inc.",
        "email": "billing@acme-robotics.example",
        "country": "US",
        "currency": "USD",
        "status": "active",
    }
    chain = [transforms()["zendesk.organization_from_customer"]]
    body = run_chain(chain, v1_customer)
    assert body["organization"]["name"] == "Acme Robotics, Inc."  # v1 `name` -> v2 names
