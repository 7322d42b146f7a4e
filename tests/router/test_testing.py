"""``router.testing``: what it ships for plugin and route authors works as documented."""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson
import pytest

from router.errors import SignatureError
from router.registry import verifiers
from router.testing import engine_for, recorded, sign
from router.verify import Verified

ROUTES = {
    "sources.yaml": "shop:\n  type: /type\n  idempotency_key: /id\n",
    "connectors.yaml": "out:\n  kind: recording\n",
    "orders.yaml": (
        "id: orders\nfrom: {source: shop, type: order.created}\n"
        "retry: {max_attempts: 3, initial: 10ms, max: 20ms}\n"
        "steps:\n  - to: {connector: out, path: /orders}\n"
    ),
}


async def test_engine_for_runs_routes_given_as_text_against_a_recording_connector() -> None:
    async with engine_for(ROUTES) as engine:
        out = recorded("out")
        out.script("transient")  # the first attempt fails; the retry is recorded
        ack = await engine.submit("shop", b'{"id": "o-1", "type": "order.created"}')
        await engine.wait_idle(10)
        [request] = out.requests
        assert request.message_id == ack.id and request.path == "/orders"
        assert request.attempt == 2
        assert engine.journal is not None and engine.journal.counts()["pending"] == 0


def test_a_recording_connector_refuses_an_outcome_it_does_not_know() -> None:
    from router.testing import RecordingConfig, RecordingConnector

    connector = RecordingConnector("x", RecordingConfig())
    with pytest.raises(ValueError, match="unknown outcomes"):
        connector.script("ok", "maybe")


STANDARD = "whsec_" + base64.b64encode(b"testing-standard-webhooks-key-01").decode()
HMAC_LAYOUT: dict[str, Any] = {
    "header": "X-Signature",
    "encoding": "base64",
    "prefix": "sig=",
    "timestamp_header": "X-Timestamp",
    "signed_payload": "{timestamp}.{body}",
    "id_header": "X-Delivery",
}
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "stripe": ("whsec_testing", {}),
    "standard-webhooks": (STANDARD, {}),
    "github": ("gh-secret", {}),
    "shopify": ("shpss_secret", {}),
    "zendesk": ("zd-secret", {}),
    "hmac": ("acme-key", HMAC_LAYOUT),
    "bearer": ("token-1", {}),
    "none": ("", {}),
}


@pytest.mark.parametrize("scheme", sorted(CASES))
def test_sign_is_accepted_by_the_shipped_verifier_of_every_scheme(scheme: str) -> None:
    secret, layout = CASES[scheme]
    spec = verifiers()[scheme]
    field = "tokens" if scheme == "bearer" else "secrets"
    fields: dict[str, Any] = {} if scheme == "none" else {field: [secret], **layout}
    verifier = spec.factory(spec.config_model.model_validate(fields))
    body = orjson.dumps({"id": "evt-1", "type": "t"}) + b"\xff"  # not UTF-8: raw bytes signed
    now = time.time()
    headers = sign(scheme, secret, body, now=now, delivery="d-1", verify=layout)
    assert isinstance(verifier.verify(_ci(headers), body, now), Verified)
    if scheme not in ("none", "bearer"):  # the two that sign no body
        with pytest.raises(SignatureError):
            verifier.verify(_ci(headers), body + b"tampered", now)


def _ci(headers: dict[str, str]) -> Any:
    from multidict import CIMultiDict

    return CIMultiDict(headers)
