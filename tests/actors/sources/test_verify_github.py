from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.sources.verify_github import GitHubSignatureConfig, GitHubSignatureVerifier
from router.errors import SignatureError
from router.verify import Verified

from ._support import FUZZ, JUNK_IDS, JUNK_VALUES, NOW, header_dicts, mac, outcome

# GitHub's documented example ("Validating webhook deliveries").
DOC_SECRET = "It's a Secret to Everybody"
DOC_BODY = b"Hello, World!"
DOC_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

SECRET = "gh-current"
OLD_SECRET = "gh-previous"
BODY = b'{"action": "opened", "title": "Zo\xc3\xab"}'
DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def make(*secrets: str) -> GitHubSignatureVerifier:
    return GitHubSignatureVerifier(GitHubSignatureConfig.model_validate({"secrets": list(secrets)}))


def signed(body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-Hub-Signature-256": "sha256=" + mac(secret.encode(), body).hex(),
        "X-GitHub-Delivery": DELIVERY,
    }


def test_documented_known_answer_vector() -> None:
    headers = {"X-Hub-Signature-256": DOC_SIGNATURE}
    assert make(DOC_SECRET).verify(headers, DOC_BODY, NOW) == Verified(idempotency_key=None)


def test_returns_the_delivery_id_as_idempotency_key() -> None:
    assert make(SECRET).verify(signed(), BODY, NOW) == Verified(DELIVERY)


def test_headers_are_case_insensitive_and_uppercase_hex_is_accepted() -> None:
    headers = {k.lower(): v.upper().replace("SHA256=", "sha256=") for k, v in signed().items()}
    assert make(SECRET).verify(headers, BODY, NOW) == Verified(DELIVERY.upper())


def test_rotation_second_secret_matches() -> None:
    assert make(SECRET, OLD_SECRET).verify(signed(secret=OLD_SECRET), BODY, NOW) == Verified(
        DELIVERY
    )


def _mutations() -> list[tuple[str, dict[str, str]]]:
    good = signed()
    sig = good["X-Hub-Signature-256"]
    cases = [
        ("missing", {"X-GitHub-Delivery": DELIVERY}),
        ("truncated", {**good, "X-Hub-Signature-256": sig[:-2]}),
        ("odd length", {**good, "X-Hub-Signature-256": sig[:-1]}),
        ("sha1 prefix", {**good, "X-Hub-Signature-256": sig.replace("sha256=", "sha1=")}),
        ("no prefix", {**good, "X-Hub-Signature-256": sig.removeprefix("sha256=")}),
        ("wrong secret", signed(secret="nope")),
        ("signed other body", signed(body=BODY + b" ")),
    ]
    cases += [(f"junk id {v[:12]!r}", {**good, "X-GitHub-Delivery": v}) for v in JUNK_IDS]
    cases += [(f"junk {v[:12]!r}", {**good, "X-Hub-Signature-256": v}) for v in JUNK_VALUES]
    return cases


@pytest.mark.parametrize(("case", "headers"), _mutations(), ids=lambda x: str(x)[:30])
def test_bad_deliveries_raise_signature_error_only(case: str, headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError) as info:
        make(SECRET).verify(headers, BODY, NOW)
    assert signed()["X-Hub-Signature-256"] not in str(info.value), case


def test_tampered_body_is_rejected() -> None:
    with pytest.raises(SignatureError):
        make(SECRET).verify(signed(), BODY[:-1], NOW)


_near_valid = st.text("0123456789abcdef", max_size=70).map(lambda h: "sha256=" + h)


@FUZZ
@given(
    headers=header_dicts(["X-Hub-Signature-256", "X-GitHub-Delivery"], _near_valid),
    body=st.binary(),
)
def test_fuzz_only_signature_errors(headers: dict[str, str], body: bytes) -> None:
    assert isinstance(outcome(make(SECRET), headers, body), SignatureError)


@FUZZ
@given(delivery=st.text(max_size=300))
def test_fuzz_delivery_id_is_returned_verbatim_or_rejected(delivery: str) -> None:
    headers = {**signed(), "X-GitHub-Delivery": delivery}
    result = outcome(make(SECRET), headers, BODY)
    assert isinstance(result, SignatureError) or result == Verified(delivery)
