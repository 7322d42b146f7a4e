from __future__ import annotations

import time

import pytest
import stripe
from hypothesis import given
from hypothesis import strategies as st

from actors.sources.verify_stripe import StripeSignatureConfig, StripeSignatureVerifier
from router.errors import SignatureError
from router.verify import Verified

from ._support import FUZZ, JUNK_VALUES, NOW, header_dicts, mac, outcome

SECRET = "whsec_test_current"
OLD_SECRET = "whsec_test_previous"
PAYLOAD = '{"id": "evt_1", "object": "event", "name": "Zoë"}'  # non-ASCII on purpose
BODY = PAYLOAD.encode()


def make(*secrets: str, tolerance_s: int = 300) -> StripeSignatureVerifier:
    config = StripeSignatureConfig.model_validate(
        {"secrets": list(secrets), "tolerance_s": tolerance_s}
    )
    return StripeSignatureVerifier(config)


def our_header(body: bytes, secret: str, t: int) -> str:
    """The header as our verifier expects it, built without the stripe package."""
    return f"t={t},v1={mac(secret.encode(), b'%d.' % t + body).hex()}"


def library_header(t: int, secret: str = SECRET) -> str:
    return str(stripe.WebhookSignature.generate_signature_header(PAYLOAD, secret, timestamp=t))


def test_accepts_the_stripe_library_signature() -> None:
    result = make(SECRET).verify({"Stripe-Signature": library_header(NOW)}, BODY, NOW)
    assert result == Verified(idempotency_key=None)


def test_our_signature_passes_the_stripe_library_verify() -> None:
    t = int(time.time())  # the library checks against the wall clock
    header = our_header(BODY, SECRET, t)
    assert stripe.WebhookSignature.verify_header(PAYLOAD, header, SECRET, tolerance=300)
    assert make(SECRET).verify({"Stripe-Signature": header}, BODY, t) == Verified()


def test_tampered_body_is_rejected_by_both_the_library_and_us() -> None:
    t = int(time.time())
    header = our_header(BODY, SECRET, t)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(PAYLOAD + " ", header, SECRET, tolerance=300)
    with pytest.raises(SignatureError):
        make(SECRET).verify({"Stripe-Signature": header}, BODY + b" ", t)


def test_header_name_is_case_insensitive_in_a_plain_dict() -> None:
    verifier = make(SECRET)
    for name in ("stripe-signature", "STRIPE-SIGNATURE"):
        assert verifier.verify({name: library_header(NOW)}, BODY, NOW) == Verified()


def test_rotation_either_configured_secret_matches() -> None:
    verifier = make(SECRET, OLD_SECRET)
    assert verifier.verify({"Stripe-Signature": library_header(NOW, OLD_SECRET)}, BODY, NOW)
    assert verifier.verify({"Stripe-Signature": library_header(NOW, SECRET)}, BODY, NOW)


def test_rotation_any_of_several_v1_signatures_matches() -> None:
    wrong = mac(b"whsec_other", b"%d." % NOW + BODY).hex()
    right = mac(SECRET.encode(), b"%d." % NOW + BODY).hex()
    header = f"t={NOW},v1={wrong},v0=ignored,v1={right}"
    assert make(SECRET).verify({"Stripe-Signature": header}, BODY, NOW) == Verified()


@pytest.mark.parametrize(("skew", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_tolerance_window_applies_both_ways(skew: int, ok: bool) -> None:
    header = {"Stripe-Signature": library_header(NOW + skew)}
    if ok:
        assert make(SECRET).verify(header, BODY, NOW) == Verified()
    else:
        with pytest.raises(SignatureError, match="timestamp outside tolerance"):
            make(SECRET).verify(header, BODY, NOW)


def test_tolerance_is_configurable() -> None:
    header = {"Stripe-Signature": library_header(NOW - 3600)}
    assert make(SECRET, tolerance_s=7200).verify(header, BODY, NOW) == Verified()


def _mutations() -> list[tuple[str, dict[str, str]]]:
    good = library_header(NOW)
    t_part, v1_part = good.split(",")
    cases = [
        ("missing", {}),
        ("truncated signature", {"Stripe-Signature": good[:-4]}),
        ("no v1", {"Stripe-Signature": t_part}),
        ("no t", {"Stripe-Signature": v1_part}),
        ("two t", {"Stripe-Signature": f"{t_part},{good}"}),
        ("wrong secret", {"Stripe-Signature": library_header(NOW, "whsec_nope")}),
        ("re-timed", {"Stripe-Signature": f"t={NOW + 1},{v1_part}"}),
        ("non-numeric t", {"Stripe-Signature": f"t=abc,{v1_part}"}),
        ("non-ASCII digits", {"Stripe-Signature": f"t=\u0661\u0662,{v1_part}"}),
        ("bad hex", {"Stripe-Signature": f"{t_part},v1=zz{v1_part[5:]}"}),
        ("no equals", {"Stripe-Signature": f"{t_part},v1"}),
    ]
    cases += [(f"junk {v[:12]!r}", {"Stripe-Signature": v}) for v in JUNK_VALUES]
    return cases


@pytest.mark.parametrize(("case", "headers"), _mutations(), ids=lambda x: str(x)[:30])
def test_bad_deliveries_raise_signature_error_only(case: str, headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError) as info:
        make(SECRET).verify(headers, BODY, NOW)
    assert SECRET not in str(info.value), case


def test_error_never_echoes_the_expected_signature() -> None:
    expected = mac(SECRET.encode(), b"%d." % NOW + BODY).hex()
    with pytest.raises(SignatureError) as info:
        make(SECRET).verify({"Stripe-Signature": f"t={NOW},v1={'0' * 64}"}, BODY, NOW)
    assert expected not in str(info.value)
    assert str(info.value) == "signature verification failed"


_near_valid = st.builds(
    lambda t, sigs: ",".join([f"t={t}", *(f"v1={s}" for s in sigs)]),
    st.one_of(st.integers(NOW - 400, NOW + 400).map(str), st.text(max_size=12)),
    st.lists(st.text("0123456789abcdef", max_size=70), max_size=3),
)


@FUZZ
@given(headers=header_dicts(["Stripe-Signature", "X-Other"], _near_valid), body=st.binary())
def test_fuzz_only_signature_errors(headers: dict[str, str], body: bytes) -> None:
    assert isinstance(outcome(make(SECRET), headers, body), SignatureError)
