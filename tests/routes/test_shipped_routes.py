"""Golden tests for every shipped route file: it validates, a sample message matches it, and the
request its transform chain produces equals the checked-in golden file.

Each route ``routes/<id>.yaml`` needs ``tests/fixtures/routes/<id>.input.json``; the expected body
is ``<id>.golden.json`` (regenerate with INTERLOCK_REGEN_GOLDEN=1 and review the diff).
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from router import load_config, registry
from router.alerts.kind import ALERTS
from router.envelope import Envelope
from router.ids import new_id_bytes, new_traceparent
from router.jobs.kind import JOB, RECONCILIATION
from router.request_reply.kind import REQUEST_REPLY
from router.routing import RoutingTable
from router.runtime.request_builder import build_request, run_chain
from router.source_handler import SourceHandler
from router.workflows.kind import WORKFLOW

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "routes"
CONFIG = load_config(ROOT / "routes", env={})
TABLE = RoutingTable.from_config(CONFIG)


def _golden(route_id: str, produced: object) -> None:
    golden = FIXTURES / f"{route_id}.golden.json"
    if os.environ.get("INTERLOCK_REGEN_GOLDEN") == "1":
        golden.write_bytes(
            orjson.dumps(produced, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        )
    assert produced == orjson.loads(golden.read_bytes())


def test_shipped_routes_validate_with_only_the_expected_warnings() -> None:
    # A workflow's trigger is a route of the same id, so CONFIG.routes holds the workflows too.
    assert set(CONFIG.specs(WORKFLOW)) <= set(CONFIG.routes)
    scheduled = set(CONFIG.specs(JOB)) | set(CONFIG.specs(RECONCILIATION))
    scheduled |= set(CONFIG.specs(ALERTS))
    assert set(CONFIG.routes) | set(CONFIG.specs(REQUEST_REPLY)) | scheduled == {
        p.stem for p in (ROOT / "routes").glob("*.yaml")
    } - {
        "sources",
        "connectors",
    }
    # Loaded with an empty environment: the demo source has no verification, and each webhook
    # secret falls back to its shared demo default (which `interlock run` refuses outside demo).
    unverified, *defaulted = CONFIG.warnings
    assert "'demo'" in unverified
    secrets = ["STRIPE_WEBHOOK_SECRET", "SALESFORCE_WEBHOOK_SECRET", "SHOPIFY_WEBHOOK_SECRET"]
    assert len(defaulted) == len(secrets)
    for warning, variable in zip(defaulted, secrets, strict=True):
        assert f"{variable} is not set and its default is a shared demo secret" in warning


@pytest.mark.parametrize("route_id", sorted(set(CONFIG.routes) - set(CONFIG.specs(WORKFLOW))))
def test_route_golden(route_id: str) -> None:
    route = CONFIG.routes[route_id]
    sample = FIXTURES / f"{route_id}.input.json"
    assert sample.exists(), f"every shipped route needs a sample message: {sample}"
    body = sample.read_bytes()
    payload = orjson.loads(body)
    # The type and key as the source reads them (a Salesforce record names its type in
    # /attributes/type; a file row or a repair is given its type by the router).
    source = SourceHandler(CONFIG.sources[route.from_.source])
    found = source.type_of(payload, {}) if source.type_of else None
    event_type = str(found or source.fixed_type or route.from_.type)
    key = str(source.key_of(payload, {})) if source.key_of else f"golden:{route_id}"
    matched = dict(TABLE.match(route.from_.source, event_type, payload, key))
    assert route_id in matched, f"the sample does not match {route_id}"
    envelope = Envelope(
        id=new_id_bytes(),
        source=route.from_.source,
        type=event_type,
        idempotency_key=key,
        correlation_id="golden",
        traceparent=new_traceparent(),
        received_at=0.0,
        body=body,
    )
    transforms = registry.transforms()
    request = build_request(route, [transforms[t] for t in route.transforms], envelope, attempt=1)
    _golden(route_id, orjson.loads(request.body))
    assert request.path == route.target.path
    assert request.idempotency_key and request.method == route.target.method


@pytest.mark.parametrize("route_id", sorted(CONFIG.specs(REQUEST_REPLY)))
def test_request_reply_route_golden(route_id: str) -> None:
    """The question becomes the connector's request; a recorded answer becomes the reply."""
    spec = CONFIG.specs(REQUEST_REPLY)[route_id]
    question = (FIXTURES / f"{route_id}.input.json").read_bytes()
    envelope = Envelope(
        id=new_id_bytes(),
        source="api",
        type=route_id,
        idempotency_key="golden",
        correlation_id="golden",
        traceparent=new_traceparent(),
        received_at=0.0,
        body=question,
    )
    transforms = registry.transforms()
    request = build_request(spec, [transforms[t] for t in spec.transforms], envelope, attempt=1)
    answer = orjson.loads((FIXTURES / f"{route_id}.answer.json").read_bytes())
    reply = run_chain([transforms[t] for t in spec.reply], answer)
    _golden(route_id, {"request": orjson.loads(request.body), "reply": reply})
    assert request.operation == spec.target.operation
