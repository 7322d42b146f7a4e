from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.sources.verify_zendesk import ZendeskSignatureConfig, ZendeskSignatureVerifier
from router.errors import SignatureError
from router.verify import Verified

from ._support import FUZZ, JUNK_VALUES, NOW, b64, header_dicts, mac, outcome

SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="  # used as text, as Zendesk does
OLD_SECRET = "zendesk-previous"
BODY = b'{"ticket": {"id": 35436, "subject": "Zo\xc3\xab"}}'
SIG = "X-Zendesk-Webhook-Signature"
TS = "X-Zendesk-Webhook-Signature-Timestamp"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make(*secrets: str, tolerance_s: int | None = 300) -> ZendeskSignatureVerifier:
    config = ZendeskSignatureConfig.model_validate(
        {"secrets": list(secrets), "tolerance_s": tolerance_s}
    )
    return ZendeskSignatureVerifier(config)


def signed(ts: float = NOW, body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    stamp = iso(ts)
    return {SIG: b64(mac(secret.encode(), stamp.encode() + body)), TS: stamp}


def test_accepts_a_signed_delivery_without_a_key_of_its_own() -> None:
    assert make(SECRET).verify(signed(), BODY, NOW) == Verified(idempotency_key=None)


def test_documented_header_example_parses() -> None:
    # From Zendesk's "Anatomy of a webhook request": the timestamp as it arrives.
    stamp = "2021-03-25T05:09:27Z"
    moment = datetime(2021, 3, 25, 5, 9, 27, tzinfo=UTC).timestamp()
    headers = {SIG: b64(mac(SECRET.encode(), stamp.encode() + BODY)), TS: stamp}
    assert make(SECRET).verify(headers, BODY, moment) == Verified()


def test_rotation_second_secret_matches() -> None:
    assert make(SECRET, OLD_SECRET).verify(signed(secret=OLD_SECRET), BODY, NOW) == Verified()


def test_headers_are_case_insensitive() -> None:
    headers = {k.lower(): v for k, v in signed().items()}
    assert make(SECRET).verify(headers, BODY, NOW) == Verified()


@pytest.mark.parametrize(("skew", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_tolerance_window_applies_both_ways(skew: int, ok: bool) -> None:
    if ok:
        assert make(SECRET).verify(signed(NOW + skew), BODY, NOW) == Verified()
    else:
        with pytest.raises(SignatureError, match="timestamp outside tolerance"):
            make(SECRET).verify(signed(NOW + skew), BODY, NOW)


def test_null_tolerance_disables_the_window_but_not_the_signature() -> None:
    verifier = make(SECRET, tolerance_s=None)
    assert verifier.verify(signed(NOW - 86_400 * 30), BODY, NOW) == Verified()
    with pytest.raises(SignatureError):
        verifier.verify(signed(NOW - 86_400 * 30), BODY + b" ", NOW)


def _mutations() -> list[tuple[str, dict[str, str]]]:
    good = signed()
    cases = [
        ("missing signature", {TS: good[TS]}),
        ("missing timestamp", {SIG: good[SIG]}),
        ("truncated signature", {**good, SIG: good[SIG][:-4]}),
        ("re-timed", {**good, TS: iso(NOW + 1)}),
        ("unix timestamp", {**good, TS: str(NOW)}),
        ("impossible date", {**good, TS: "2023-02-30T10:00:00Z"}),
        ("offset form", {**good, TS: good[TS].replace("Z", "+00:00")}),
        ("wrong secret", signed(secret="nope")),
        ("signed other body", signed(body=b"{}")),
    ]
    for name in (SIG, TS):
        cases += [(f"junk {name[-9:]} {v[:12]!r}", {**good, name: v}) for v in JUNK_VALUES]
    return cases


@pytest.mark.parametrize(("case", "headers"), _mutations(), ids=lambda x: str(x)[:40])
def test_bad_deliveries_raise_signature_error_only(case: str, headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError) as info:
        make(SECRET).verify(headers, BODY, NOW)
    assert SECRET not in str(info.value), case


_near_valid = st.one_of(
    st.integers(NOW - 400, NOW + 400).map(iso),
    st.binary(min_size=30, max_size=34).map(b64),
    st.text("0123456789-:TZ", max_size=24),
)


@FUZZ
@given(headers=header_dicts([SIG, TS], _near_valid), body=st.binary())
def test_fuzz_only_signature_errors(headers: dict[str, str], body: bytes) -> None:
    assert isinstance(outcome(make(SECRET), headers, body), SignatureError)
