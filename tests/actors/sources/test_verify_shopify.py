from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.sources.verify_shopify import ShopifySignatureConfig, ShopifySignatureVerifier
from router.errors import SignatureError
from router.verify import Verified

from ._support import FUZZ, JUNK_IDS, JUNK_VALUES, NOW, b64, header_dicts, mac, outcome

SECRET = "shpss_current"
OLD_SECRET = "shpss_previous"
BODY = b'{"id": 820982911946154508, "email": "zo\xc3\xab@example.com"}'
WEBHOOK_ID = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"


def make(*secrets: str) -> ShopifySignatureVerifier:
    config = ShopifySignatureConfig.model_validate({"secrets": list(secrets)})
    return ShopifySignatureVerifier(config)


def signed(body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-Shopify-Hmac-Sha256": b64(mac(secret.encode(), body)),
        "X-Shopify-Webhook-Id": WEBHOOK_ID,
    }


def test_accepts_and_returns_the_webhook_id() -> None:
    assert make(SECRET).verify(signed(), BODY, NOW) == Verified(WEBHOOK_ID)


def test_without_webhook_id_the_source_decides_the_key() -> None:
    headers = {"x-shopify-hmac-sha256": signed()["X-Shopify-Hmac-Sha256"]}
    assert make(SECRET).verify(headers, BODY, NOW) == Verified(idempotency_key=None)


def test_rotation_second_secret_matches() -> None:
    result = make(SECRET, OLD_SECRET).verify(signed(secret=OLD_SECRET), BODY, NOW)
    assert result == Verified(WEBHOOK_ID)


def test_empty_body_is_verified_too() -> None:
    assert make(SECRET).verify(signed(body=b""), b"", NOW) == Verified(WEBHOOK_ID)


def _mutations() -> list[tuple[str, dict[str, str]]]:
    good = signed()
    sig = good["X-Shopify-Hmac-Sha256"]
    cases = [
        ("missing", {"X-Shopify-Webhook-Id": WEBHOOK_ID}),
        ("truncated", {**good, "X-Shopify-Hmac-Sha256": sig[:-4]}),
        ("unpadded", {**good, "X-Shopify-Hmac-Sha256": sig.rstrip("=")}),
        ("hex instead", {**good, "X-Shopify-Hmac-Sha256": mac(SECRET.encode(), BODY).hex()}),
        ("wrong secret", signed(secret="nope")),
        ("signed other body", signed(body=BODY + b"\n")),
    ]
    cases += [(f"junk {v[:12]!r}", {**good, "X-Shopify-Hmac-Sha256": v}) for v in JUNK_VALUES]
    cases += [(f"junk id {v[:12]!r}", {**good, "X-Shopify-Webhook-Id": v}) for v in JUNK_IDS]
    return cases


@pytest.mark.parametrize(("case", "headers"), _mutations(), ids=lambda x: str(x)[:30])
def test_bad_deliveries_raise_signature_error_only(case: str, headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError) as info:
        make(SECRET).verify(headers, BODY, NOW)
    assert signed()["X-Shopify-Hmac-Sha256"] not in str(info.value), case


def test_tampered_body_is_rejected() -> None:
    with pytest.raises(SignatureError):
        make(SECRET).verify(signed(), BODY.replace(b"example", b"exampla"), NOW)


_near_valid = st.binary(min_size=30, max_size=34).map(b64)


@FUZZ
@given(
    headers=header_dicts(["X-Shopify-Hmac-Sha256", "X-Shopify-Webhook-Id"], _near_valid),
    body=st.binary(),
)
def test_fuzz_only_signature_errors(headers: dict[str, str], body: bytes) -> None:
    assert isinstance(outcome(make(SECRET), headers, body), SignatureError)
