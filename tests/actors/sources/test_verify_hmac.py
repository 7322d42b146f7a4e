from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from actors.sources.verify_hmac import HmacSignatureConfig, HmacSignatureVerifier
from router.errors import SignatureError
from router.verify import Verified

from ._support import FUZZ, JUNK_IDS, JUNK_VALUES, NOW, b64, header_dicts, mac, outcome

SECRET = "hmac-current"
OLD_SECRET = "hmac-previous"
BODY = b'{"event": "created", "name": "Zo\xc3\xab"}'
TIMED: dict[str, Any] = {
    "header": "X-Signature",
    "timestamp_header": "X-Timestamp",
    "signed_payload": "v0:{timestamp}:{body}",
    "id_header": "X-Request-Id",
}


def make(*secrets: str, **fields: Any) -> HmacSignatureVerifier:
    fields.setdefault("header", "X-Signature")
    config = HmacSignatureConfig.model_validate({"secrets": list(secrets), **fields})
    return HmacSignatureVerifier(config)


def timed(ts: int = NOW, body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    message = f"v0:{ts}:".encode() + body
    return {"X-Signature": mac(secret.encode(), message).hex(), "X-Timestamp": str(ts)}


def test_defaults_are_hex_sha256_of_the_body() -> None:
    headers = {"x-signature": mac(SECRET.encode(), BODY).hex()}
    assert make(SECRET).verify(headers, BODY, NOW) == Verified(idempotency_key=None)


def test_configured_like_github_it_accepts_githubs_documented_vector() -> None:
    verifier = make("It's a Secret to Everybody", header="X-Hub-Signature-256", prefix="sha256=")
    signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert verifier.verify({"X-Hub-Signature-256": signature}, b"Hello, World!", NOW)


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_algorithms_and_encodings(algorithm: str, encoding: str) -> None:
    digest = mac(SECRET.encode(), BODY, algorithm)
    value = digest.hex() if encoding == "hex" else b64(digest)
    verifier = make(SECRET, algorithm=algorithm, encoding=encoding)
    assert verifier.verify({"X-Signature": value}, BODY, NOW) == Verified()
    other = "sha1" if algorithm != "sha1" else "sha256"
    wrong = mac(SECRET.encode(), BODY, other)
    with pytest.raises(SignatureError):
        verifier.verify(
            {"X-Signature": wrong.hex() if encoding == "hex" else b64(wrong)}, BODY, NOW
        )


def test_timestamped_template_and_id_header() -> None:
    headers = {**timed(), "X-Request-Id": "req-42"}
    assert make(SECRET, **TIMED).verify(headers, BODY, NOW) == Verified("req-42")


def test_rotation_second_secret_matches() -> None:
    headers = timed(secret=OLD_SECRET)
    assert make(SECRET, OLD_SECRET, **TIMED).verify(headers, BODY, NOW) == Verified()


def test_empty_body_still_fills_the_template() -> None:
    assert make(SECRET, **TIMED).verify(timed(body=b""), b"", NOW) == Verified()


def test_signed_id_is_part_of_the_message() -> None:
    fields = {**TIMED, "signed_payload": "{id}.{timestamp}.{body}"}
    message = f"evt_1.{NOW}.".encode() + BODY
    headers = {
        "X-Signature": mac(SECRET.encode(), message).hex(),
        "X-Timestamp": str(NOW),
        "X-Request-Id": "evt_1",
    }
    assert make(SECRET, **fields).verify(headers, BODY, NOW) == Verified("evt_1")
    with pytest.raises(SignatureError):
        make(SECRET, **fields).verify({**headers, "X-Request-Id": "evt_2"}, BODY, NOW)
    with pytest.raises(SignatureError, match="missing X-Request-Id"):
        make(SECRET, **fields).verify({k: headers[k] for k in list(headers)[:2]}, BODY, NOW)


@pytest.mark.parametrize(("skew", "ok"), [(-60, True), (60, True), (-61, False), (61, False)])
def test_tolerance_window_applies_both_ways(skew: int, ok: bool) -> None:
    verifier = make(SECRET, **TIMED, tolerance_s=60)
    if ok:
        assert verifier.verify(timed(NOW + skew), BODY, NOW) == Verified()
    else:
        with pytest.raises(SignatureError, match="timestamp outside tolerance"):
            verifier.verify(timed(NOW + skew), BODY, NOW)


@pytest.mark.parametrize(
    "fields",
    [
        {"signed_payload": "{timestamp}"},
        {"signed_payload": "{body}{body}"},
        {"signed_payload": "{body.__class__}"},
        {"signed_payload": "{0}{body}"},
        {"signed_payload": "{timestamp}.{body}"},
        {"timestamp_header": "X-Timestamp"},
        {"signed_payload": "{id}{body}"},
        {"algorithm": "md5"},
        {"encoding": "base32"},
        {"header": "Bad Header"},
        {"header": "X-Signature", "unknown": 1},
        {"tolerance_s": 0},
    ],
)
def test_config_rejects_inconsistent_settings(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        HmacSignatureConfig.model_validate({"secrets": [SECRET], "header": "X-Sig", **fields})


def test_config_errors_do_not_print_secrets() -> None:
    with pytest.raises(ValidationError) as info:
        HmacSignatureConfig.model_validate({"secrets": [SECRET], "header": "X Y"})
    assert SECRET not in str(info.value)


def _mutations() -> list[tuple[str, dict[str, str]]]:
    good = {**timed(), "X-Request-Id": "req-42"}
    cases = [
        ("missing signature", {k: v for k, v in good.items() if k != "X-Signature"}),
        ("missing timestamp", {k: v for k, v in good.items() if k != "X-Timestamp"}),
        ("truncated", {**good, "X-Signature": good["X-Signature"][:-2]}),
        ("re-timed", {**good, "X-Timestamp": str(NOW + 1)}),
        ("leading zero timestamp", {**good, "X-Timestamp": f"0{NOW}"}),
        ("wrong secret", {**good, **timed(secret="nope")}),
        ("signed other body", {**good, **timed(body=b"")}),
    ]
    for name in ("X-Signature", "X-Timestamp"):
        cases += [(f"junk {name} {v[:12]!r}", {**good, name: v}) for v in JUNK_VALUES]
    cases += [(f"junk id {v[:12]!r}", {**good, "X-Request-Id": v}) for v in JUNK_IDS]
    return cases


@pytest.mark.parametrize(("case", "headers"), _mutations(), ids=lambda x: str(x)[:40])
def test_bad_deliveries_raise_signature_error_only(case: str, headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError) as info:
        make(SECRET, **TIMED).verify(headers, BODY, NOW)
    assert timed()["X-Signature"] not in str(info.value), case


_near_valid = st.one_of(
    st.integers(NOW - 400, NOW + 400).map(str), st.binary(max_size=70).map(bytes.hex)
)


@FUZZ
@given(
    headers=header_dicts(["X-Signature", "X-Timestamp", "X-Request-Id"], _near_valid),
    body=st.binary(),
    encoding=st.sampled_from(["hex", "base64"]),
)
def test_fuzz_only_signature_errors(headers: dict[str, str], body: bytes, encoding: str) -> None:
    verifier = make(SECRET, **TIMED, encoding=encoding, prefix="v1=")
    assert isinstance(outcome(verifier, headers, body), SignatureError)
