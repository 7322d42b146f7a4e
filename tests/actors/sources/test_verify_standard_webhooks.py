from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from actors.sources.verify_standard_webhooks import (
    StandardWebhooksConfig,
    StandardWebhooksVerifier,
)
from router.errors import SignatureError
from router.verify import Verified

from ._support import FUZZ, JUNK_VALUES, NOW, b64, header_dicts, mac, outcome

# The spec's published test vector (standard-webhooks/standard-webhooks, spec and libraries).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = "whsec_" + b64(b"current-key-0123456789abcdef")
OLD_SECRET = "whsec_" + b64(b"previous-key-0123456789abcdef")
MSG_ID = "msg_2aB3cD4eF5"
PAYLOAD = '{"type": "invoice.paid", "name": "Zoë"}'
BODY = PAYLOAD.encode()


def make(*secrets: str, tolerance_s: int = 300) -> StandardWebhooksVerifier:
    config = StandardWebhooksConfig.model_validate(
        {"secrets": list(secrets), "tolerance_s": tolerance_s}
    )
    return StandardWebhooksVerifier(config)


def library_headers(ts: int, secret: str = SECRET, msg_id: str = MSG_ID) -> dict[str, str]:
    when = datetime.fromtimestamp(ts, tz=UTC)
    signature = Webhook(secret).sign(msg_id, when, PAYLOAD)
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def our_headers(ts: int, secret: str = SECRET) -> dict[str, str]:
    """The headers as our verifier expects them, built without the standardwebhooks package."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = b64(mac(key, f"{MSG_ID}.{ts}.".encode() + BODY))
    return {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(ts),
        "webhook-signature": f"v1,{signature}",
    }


def test_spec_known_answer_vector() -> None:
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": VECTOR_SIG,
    }
    result = make(VECTOR_SECRET).verify(headers, VECTOR_BODY, VECTOR_TS)
    assert result == Verified(idempotency_key=VECTOR_ID)


def test_accepts_the_library_signature_and_returns_the_webhook_id() -> None:
    assert make(SECRET).verify(library_headers(NOW), BODY, NOW) == Verified(MSG_ID)


def test_our_signature_passes_the_library_verify() -> None:
    ts = int(time.time())  # the library checks against the wall clock
    headers = our_headers(ts)
    assert Webhook(SECRET).verify(BODY, headers) == {"type": "invoice.paid", "name": "Zoë"}
    assert make(SECRET).verify(headers, BODY, ts) == Verified(MSG_ID)


def test_tampered_body_is_rejected_by_both_the_library_and_us() -> None:
    ts = int(time.time())
    headers = our_headers(ts)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY + b" ", headers)
    with pytest.raises(SignatureError):
        make(SECRET).verify(headers, BODY + b" ", ts)


def test_headers_are_case_insensitive_in_a_plain_dict() -> None:
    headers = {k.upper(): v for k, v in library_headers(NOW).items()}
    assert make(SECRET).verify(headers, BODY, NOW) == Verified(MSG_ID)


def test_rotation_second_secret_and_second_signature_match() -> None:
    verifier = make(SECRET, OLD_SECRET)
    assert verifier.verify(library_headers(NOW, OLD_SECRET), BODY, NOW) == Verified(MSG_ID)
    headers = library_headers(NOW)
    other = library_headers(NOW, "whsec_" + b64(b"unrelated"))["webhook-signature"]
    headers["webhook-signature"] = f"{other} v1a,ignored {headers['webhook-signature']}"
    assert make(SECRET).verify(headers, BODY, NOW) == Verified(MSG_ID)


def test_secret_without_prefix_or_padding_is_accepted_like_upstream() -> None:
    bare = VECTOR_SECRET.removeprefix("whsec_")
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": VECTOR_SIG,
    }
    assert make(bare).verify(headers, VECTOR_BODY, VECTOR_TS) == Verified(VECTOR_ID)


@pytest.mark.parametrize("secret", ["whsec_", "whsec_!!!!", "whsec_a b", ""])
def test_config_rejects_secrets_that_are_not_base64_keys(secret: str) -> None:
    with pytest.raises(ValidationError) as info:
        StandardWebhooksConfig.model_validate({"secrets": [secret]})
    assert "!!!!" not in str(info.value)


@pytest.mark.parametrize(("skew", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_tolerance_window_applies_both_ways(skew: int, ok: bool) -> None:
    headers = library_headers(NOW + skew)
    if ok:
        assert make(SECRET).verify(headers, BODY, NOW) == Verified(MSG_ID)
    else:
        with pytest.raises(SignatureError, match="timestamp outside tolerance"):
            make(SECRET).verify(headers, BODY, NOW)


def _mutations() -> list[tuple[str, dict[str, str]]]:
    good = library_headers(NOW)
    sig = good["webhook-signature"]
    cases: list[tuple[str, dict[str, str]]] = [
        (f"missing {name}", {k: v for k, v in good.items() if k != name}) for name in good
    ]
    edits = {
        "truncated signature": {"webhook-signature": sig[:-6]},
        "unversioned signature": {"webhook-signature": sig.removeprefix("v1,")},
        "only v1a": {"webhook-signature": "v1a," + sig[3:]},
        "wrong id": {"webhook-id": "msg_other"},
        "re-timed": {"webhook-timestamp": str(NOW + 1)},
        "float timestamp": {"webhook-timestamp": f"{NOW}.0"},
        "bad base64": {"webhook-signature": "v1,@@@@"},
        "wrong secret": library_headers(NOW, "whsec_" + b64(b"nope")),
    }
    cases += [(name, {**good, **edit}) for name, edit in edits.items()]
    for name in good:
        cases += [(f"junk {name} {v[:12]!r}", {**good, name: v}) for v in JUNK_VALUES]
    return cases


@pytest.mark.parametrize(("case", "headers"), _mutations(), ids=lambda x: str(x)[:40])
def test_bad_deliveries_raise_signature_error_only(case: str, headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError) as info:
        make(SECRET).verify(headers, BODY, NOW)
    assert library_headers(NOW)["webhook-signature"][3:] not in str(info.value), case


_near_valid = st.one_of(
    st.integers(NOW - 400, NOW + 400).map(str),
    st.lists(st.text("v1a,+/=AZaz09", max_size=50), max_size=3).map(" ".join),
)
_NAMES = ["webhook-id", "webhook-timestamp", "webhook-signature"]


@FUZZ
@given(headers=header_dicts(_NAMES, _near_valid), body=st.binary())
def test_fuzz_only_signature_errors(headers: dict[str, str], body: bytes) -> None:
    assert isinstance(outcome(make(SECRET), headers, body), SignatureError)


@FUZZ
@given(msg_id=st.text(max_size=300))
def test_fuzz_signed_delivery_with_any_id_is_accepted_with_that_id_or_rejected(
    msg_id: str,
) -> None:
    # The id is signed, so a valid delivery can carry any id; only well-formed ones are accepted.
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signature = b64(mac(key, f"{msg_id}.{NOW}.".encode(errors="surrogatepass") + BODY))
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(NOW),
        "webhook-signature": "v1," + signature,
    }
    result = outcome(make(SECRET), headers, BODY)
    assert isinstance(result, SignatureError) or result == Verified(msg_id)
