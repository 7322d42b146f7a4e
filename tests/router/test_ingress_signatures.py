"""Signatures through HTTP: what SaaS senders (and their official libraries) sign is accepted.

Every verification scheme is exercised through ``POST /webhooks/{source}`` on a real engine: good
deliveries answer 202 and reach the sink; expired or future timestamps, unknown secrets, truncated
headers and tampered bodies answer 401 problem+json that reveals neither the expected signature
nor a secret; a replay answers 200 duplicate and a reused key with another body 409.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import stripe
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from standardwebhooks.webhooks import Webhook

from actors.sources.verify_github import GitHubSignatureConfig, GitHubSignatureVerifier
from actors.sources.verify_standard_webhooks import (
    StandardWebhooksConfig,
    StandardWebhooksVerifier,
)
from router import Engine
from router.errors import SignatureError
from router.http.ingress import create_app
from router.testing import Sink
from router.verify import Verified
from tests.conftest import EngineFactory
from tests.support import ingress_routes as r
from tests.support.ingress_signing import signed_headers

Client = TestClient[web.Request, web.Application]
PROBLEM = "application/problem+json"
SIGNED = ("stripe", "standard-webhooks", "github", "shopify", "zendesk", "hmac", "bearer")
TIMESTAMPED = ("stripe", "standard-webhooks", "zendesk", "hmac")
KEYED = ("stripe", "standard-webhooks", "github", "shopify", "zendesk", "hmac")
# The header whose value is the signature, per scheme (bearer: the token).
SIGNATURE_HEADER = {
    "stripe": "Stripe-Signature",
    "standard-webhooks": "webhook-signature",
    "github": "X-Hub-Signature-256",
    "shopify": "X-Shopify-Hmac-Sha256",
    "zendesk": "X-Zendesk-Webhook-Signature",
    "hmac": r.HMAC_HEADER,
    "bearer": "Authorization",
}
ALL_SECRETS = (
    *r.STRIPE_SECRETS,
    *r.STANDARD_SECRETS,
    *r.GITHUB_SECRETS,
    *r.SHOPIFY_SECRETS,
    *r.ZENDESK_SECRETS,
    *r.HMAC_SECRETS,
    *r.BEARER_TOKENS,
)

# GitHub's published example ("Validating webhook deliveries").
GITHUB_VECTOR_SECRET = "It's a Secret to Everybody"
GITHUB_VECTOR_BODY = b"Hello, World!"
GITHUB_VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
# The Standard Webhooks spec's test vector (standard-webhooks/standard-webhooks, libraries).
SW_VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_VECTOR_TS = 1614265330
SW_VECTOR_BODY = b'{"test": 2432232314}'
SW_VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.fixture
async def engine(tmp_path: Path, sink: Sink, make_engine: EngineFactory) -> Engine:
    return await make_engine(r.write_ingress_routes(tmp_path / "routes", sink.url))


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(engine))) as test_client:
        yield test_client
    await engine.wait_idle(10)  # no delivery in flight when the engine stops


def invoice(ident: str, amount: int = 4200) -> bytes:
    return orjson.dumps(
        {"id": ident, "type": "invoice.paid", "data": {"object": {"amount_due": amount}}}
    )


async def post(
    client: Client, scheme: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str]:
    response = await client.post(f"/webhooks/{scheme}", data=body, headers=headers)
    return response.status, await response.text()


async def assert_rejected(
    client: Client, scheme: str, body: bytes, headers: dict[str, str]
) -> None:
    """401 problem+json that names neither a secret nor the signature that would have passed."""
    response = await client.post(f"/webhooks/{scheme}", data=body, headers=headers)
    text = await response.text()
    assert response.status == 401, text
    assert response.content_type == PROBLEM
    problem = orjson.loads(text)
    assert problem["status"] == 401 and problem["title"]
    revealed = text + repr(dict(response.headers))
    for secret in ALL_SECRETS:
        assert secret not in revealed
    for i in (0, 1):  # the signature that would have passed, under either configured secret
        expected = expected_mac(scheme, signed_headers(scheme, body, secret=i))
        assert expected not in revealed


def expected_mac(scheme: str, headers: dict[str, str]) -> str:
    """The MAC (or token) alone, out of a correctly signed request's signature header."""
    value = headers[SIGNATURE_HEADER[scheme]]
    for marker in ("v1=", "v1,", "sha256=", r.HMAC_PREFIX, "Bearer "):
        # A marker opens the header or follows a comma (Stripe's "t=...,v1="); anywhere else it is
        # part of a base64 MAC that happens to end in "v1=" (zendesk, shopify).
        if value.startswith(marker):
            return value[len(marker) :]
        if "," + marker in value:
            return value.split("," + marker, 1)[1]
    return value


# -- accepted ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", r.SCHEMES)
async def test_a_valid_delivery_is_accepted_and_reaches_the_sink(
    client: Client, engine: Engine, sink: Sink, scheme: str
) -> None:
    body = invoice(f"in_{scheme}")
    status, text = await post(client, scheme, body, signed_headers(scheme, body))
    assert status == 202, text
    assert set(orjson.loads(text)) == {"id"}
    await engine.wait_idle(10)
    calls = [c for c in sink.snapshot() if c.path == f"/{scheme}"]
    assert [c.body for c in calls] == [body]  # the raw bytes, untouched


@pytest.mark.parametrize("scheme", SIGNED)
async def test_the_rotated_out_secret_still_verifies(client: Client, scheme: str) -> None:
    body = invoice(f"in_rotated_{scheme}")
    status, text = await post(client, scheme, body, signed_headers(scheme, body, secret=1))
    assert status == 202, text


async def test_stripe_official_library_signature_is_accepted(client: Client) -> None:
    payload = invoice("evt_official").decode()
    header = stripe.WebhookSignature.generate_signature_header(payload, r.STRIPE_SECRETS[0])
    headers = {"Content-Type": "application/json", "Stripe-Signature": header}
    status, text = await post(client, "stripe", payload.encode(), headers)
    assert status == 202, text


async def test_stripe_roll_sends_one_v1_per_secret_and_either_may_match(client: Client) -> None:
    payload = invoice("evt_roll").decode()
    ts = int(time.time())
    unknown = stripe.WebhookSignature.generate_signature_header(payload, "whsec_unknown", ts)
    old = stripe.WebhookSignature.generate_signature_header(payload, r.STRIPE_SECRETS[1], ts)
    # Stripe's form while rolling: t=..,v1=<new>,v1=<old>; here the first one is not ours.
    header = f"{unknown},v1={old.split('v1=')[1]},v0=deadbeef"
    headers = {"Content-Type": "application/json", "Stripe-Signature": header}
    status, text = await post(client, "stripe", payload.encode(), headers)
    assert status == 202, text


def test_stripe_official_verifier_agrees_with_the_test_signer() -> None:
    """The hand signer used by the fuzz tests makes what Stripe's own library verifies."""
    body = invoice("evt_cross")
    header = signed_headers("stripe", body)["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(body, header, r.STRIPE_SECRETS[0], 300)


async def test_standard_webhooks_official_library_signature_is_accepted(client: Client) -> None:
    payload = invoice("evt_sw").decode()
    now = datetime.now(tz=UTC)
    signature = Webhook(r.STANDARD_SECRETS[0]).sign("msg_official_1", now, payload)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": "msg_official_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    status, text = await post(client, "standard-webhooks", payload.encode(), headers)
    assert status == 202, text


async def test_standard_webhooks_signature_list_may_hold_other_versions(client: Client) -> None:
    payload = invoice("evt_sw_list").decode()
    now = datetime.now(tz=UTC)
    good = Webhook(r.STANDARD_SECRETS[1]).sign("msg_list", now, payload)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": "msg_list",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": f"v1a,bm90LWFzeW1tZXRyaWM= v1,AAAA {good}",
    }
    status, text = await post(client, "standard-webhooks", payload.encode(), headers)
    assert status == 202, text


def test_standard_webhooks_official_verifier_agrees_with_the_test_signer() -> None:
    body = invoice("evt_sw_cross")
    headers = signed_headers("standard-webhooks", body, delivery="msg_cross")
    assert Webhook(r.STANDARD_SECRETS[0]).verify(body, headers)["id"] == "evt_sw_cross"


# -- published known-answer vectors ----------------------------------------------------------------


def test_github_published_vector_at_the_verifier() -> None:
    config = GitHubSignatureConfig.model_validate({"secrets": [GITHUB_VECTOR_SECRET]})
    verifier = GitHubSignatureVerifier(config)
    headers = {"X-Hub-Signature-256": GITHUB_VECTOR_SIGNATURE}
    assert verifier.verify(headers, GITHUB_VECTOR_BODY, time.time()) == Verified()
    with pytest.raises(SignatureError):
        verifier.verify(headers, GITHUB_VECTOR_BODY + b" ", time.time())


async def test_github_published_vector_passes_verification_over_http(client: Client) -> None:
    """The vector's body is not JSON: a 400 (parsed) and not a 401 shows the signature passed."""
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": GITHUB_VECTOR_SIGNATURE}
    status, text = await post(client, "github", GITHUB_VECTOR_BODY, headers)
    assert status == 400, text
    assert "not valid JSON" in orjson.loads(text)["detail"]
    tampered = {**headers, "X-Hub-Signature-256": GITHUB_VECTOR_SIGNATURE[:-1] + "0"}
    await assert_rejected(client, "github", GITHUB_VECTOR_BODY, tampered)


async def test_github_json_signed_like_the_vector_is_accepted(client: Client) -> None:
    body = b'{"zen": "Hello, World!", "hook_id": 1}'
    mac = hmac.new(GITHUB_VECTOR_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": f"sha256={mac}",
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    }
    status, text = await post(client, "github", body, headers)
    assert status == 202, text
    status, text = await post(client, "github", body, headers)
    assert status == 200 and orjson.loads(text)["duplicate"] is True


def test_standard_webhooks_spec_vector_at_the_verifier() -> None:
    config = StandardWebhooksConfig.model_validate({"secrets": [SW_VECTOR_SECRET]})
    verifier = StandardWebhooksVerifier(config)
    headers = {
        "webhook-id": SW_VECTOR_ID,
        "webhook-timestamp": str(SW_VECTOR_TS),
        "webhook-signature": SW_VECTOR_SIGNATURE,
    }
    assert verifier.verify(headers, SW_VECTOR_BODY, SW_VECTOR_TS) == Verified(SW_VECTOR_ID)
    # The official library signs the vector the same way.
    signed = Webhook(SW_VECTOR_SECRET).sign(
        SW_VECTOR_ID, datetime.fromtimestamp(SW_VECTOR_TS, tz=UTC), SW_VECTOR_BODY.decode()
    )
    assert signed == SW_VECTOR_SIGNATURE
    with pytest.raises(SignatureError):  # the same vector, 301 s later: outside tolerance
        verifier.verify(headers, SW_VECTOR_BODY, SW_VECTOR_TS + 301)


# -- rejected ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", TIMESTAMPED)
@pytest.mark.parametrize("offset", [-r.TOLERANCE_S - 30, r.TOLERANCE_S + 30, -86_400, 86_400])
async def test_expired_and_future_timestamps_are_401(
    client: Client, scheme: str, offset: int
) -> None:
    body = invoice(f"in_ts_{scheme}_{offset}")
    headers = signed_headers(scheme, body, now=time.time() + offset, delivery=f"d{offset}")
    await assert_rejected(client, scheme, body, headers)


@pytest.mark.parametrize("scheme", TIMESTAMPED)
@pytest.mark.parametrize("offset", [-r.TOLERANCE_S + 30, r.TOLERANCE_S - 30])
async def test_timestamps_inside_the_tolerance_are_accepted(
    client: Client, scheme: str, offset: int
) -> None:
    body = invoice(f"in_tol_{scheme}_{offset}")
    headers = signed_headers(scheme, body, now=time.time() + offset, delivery=f"d{offset}")
    status, text = await post(client, scheme, body, headers)
    assert status == 202, text


@pytest.mark.parametrize("scheme", SIGNED)
async def test_an_unknown_secret_is_401(client: Client, scheme: str) -> None:
    body = invoice(f"in_unknown_{scheme}")
    good = signed_headers(scheme, body)
    # A well-formed signature of this very body, made with a secret the source does not list.
    if scheme == "stripe":
        good["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(
            body.decode(), "whsec_not_configured"
        )
    elif scheme == "standard-webhooks":
        unknown = "whsec_" + base64.b64encode(b"not-configured-key").decode()
        good["webhook-signature"] = Webhook(unknown).sign(
            good["webhook-id"], datetime.now(tz=UTC), body.decode()
        )
    elif scheme == "bearer":
        good["Authorization"] = "Bearer not-a-configured-token"
    else:
        wrong = hmac.new(b"not-configured", body, hashlib.sha256).digest()
        good[SIGNATURE_HEADER[scheme]] = {
            "github": "sha256=" + wrong.hex(),
            "shopify": base64.b64encode(wrong).decode(),
            "zendesk": base64.b64encode(wrong).decode(),
            "hmac": r.HMAC_PREFIX + wrong.hex(),
        }[scheme]
    await assert_rejected(client, scheme, body, good)


@pytest.mark.parametrize("scheme", SIGNED)
@pytest.mark.parametrize("keep", [0, 1, 5, -1])
async def test_a_truncated_signature_header_is_401(client: Client, scheme: str, keep: int) -> None:
    body = invoice(f"in_trunc_{scheme}_{keep}")
    headers = signed_headers(scheme, body)
    value = headers[SIGNATURE_HEADER[scheme]]
    headers[SIGNATURE_HEADER[scheme]] = value[:keep]
    await assert_rejected(client, scheme, body, headers)


@pytest.mark.parametrize("scheme", SIGNED)
async def test_a_missing_signature_header_is_401(client: Client, scheme: str) -> None:
    body = invoice(f"in_missing_{scheme}")
    headers = signed_headers(scheme, body)
    del headers[SIGNATURE_HEADER[scheme]]
    await assert_rejected(client, scheme, body, headers)


@pytest.mark.parametrize("scheme", [s for s in SIGNED if s != "bearer"])
@pytest.mark.parametrize(
    "tamper",
    [
        lambda b: b.replace(b"4200", b"9900"),  # still valid JSON, another amount
        lambda b: b + b" ",  # one trailing byte
        lambda b: b[:-1] + b', "x": 1}',  # a field appended
        lambda b: orjson.dumps(orjson.loads(b), option=orjson.OPT_INDENT_2),  # re-serialised
    ],
    ids=["amount", "trailing-space", "field-added", "reformatted"],
)
async def test_a_tampered_body_is_401(client: Client, scheme: str, tamper: object) -> None:
    assert callable(tamper)
    body = invoice(f"in_tamper_{scheme}")
    headers = signed_headers(scheme, body)
    tampered = tamper(body)
    assert isinstance(tampered, bytes) and tampered != body
    await assert_rejected(client, scheme, tampered, headers)


@pytest.mark.parametrize(
    "value", ["Basic " + r.BEARER_TOKENS[0], "Bearer", "Bearer  ", r.BEARER_TOKENS[0]]
)
async def test_bearer_needs_the_bearer_scheme_and_a_token(client: Client, value: str) -> None:
    body = invoice("in_bearer")
    headers = {"Content-Type": "application/json", "Authorization": value}
    await assert_rejected(client, "bearer", body, headers)


async def test_bearer_scheme_word_is_case_insensitive(client: Client) -> None:
    body = invoice("in_bearer_case")
    headers = {"Content-Type": "application/json", "Authorization": f"bEaReR {r.BEARER_TOKENS[0]}"}
    status, text = await post(client, "bearer", body, headers)
    assert status == 202, text


# -- replays and reused keys ---------------------------------------------------------------------


@pytest.mark.parametrize("scheme", r.SCHEMES)
async def test_a_replayed_delivery_is_200_duplicate(client: Client, scheme: str) -> None:
    body = invoice(f"in_replay_{scheme}")
    headers = signed_headers(scheme, body, delivery=f"replay-{scheme}")
    status, text = await post(client, scheme, body, headers)
    assert status == 202, text
    first = orjson.loads(text)["id"]
    status, text = await post(client, scheme, body, headers)
    assert status == 200, text
    assert orjson.loads(text) == {"id": first, "duplicate": True}


@pytest.mark.parametrize("scheme", TIMESTAMPED)
async def test_a_resigned_retry_of_the_same_delivery_is_200_duplicate(
    client: Client, scheme: str
) -> None:
    """Senders re-sign each retry with a new timestamp: the dedupe key, not the bytes, decides."""
    body = invoice(f"in_retry_{scheme}")
    first = signed_headers(scheme, body, now=time.time() - 60, delivery="retry-1")
    status, text = await post(client, scheme, body, first)
    assert status == 202, text
    again = signed_headers(scheme, body, secret=1, delivery="retry-1")
    status, text = await post(client, scheme, body, again)
    assert status == 200, text
    assert orjson.loads(text)["duplicate"] is True


@pytest.mark.parametrize("scheme", KEYED)
async def test_the_same_key_with_another_body_is_409(client: Client, scheme: str) -> None:
    body = invoice(f"in_conflict_{scheme}", amount=100)
    other = invoice(f"in_conflict_{scheme}", amount=200)  # same /id, same delivery id
    status, text = await post(client, scheme, body, signed_headers(scheme, body, delivery="k-1"))
    assert status == 202, text
    response = await client.post(
        f"/webhooks/{scheme}", data=other, headers=signed_headers(scheme, other, delivery="k-1")
    )
    assert response.status == 409, await response.text()
    assert response.content_type == PROBLEM
    assert (await response.json(content_type=None))["status"] == 409
