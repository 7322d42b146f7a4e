from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from actors.sources.verify_bearer import BearerTokenConfig, BearerTokenVerifier
from router.errors import SignatureError
from router.verify import Verified

from ._support import FUZZ, JUNK_VALUES, NOW, header_dicts, outcome

TOKEN = "tok_current_6f1c2d"
OLD_TOKEN = "tok_previous_9a8b7c"


def make(*tokens: str, **fields: Any) -> BearerTokenVerifier:
    return BearerTokenVerifier(BearerTokenConfig.model_validate({"tokens": list(tokens), **fields}))


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {TOKEN}"},
        {"authorization": f"bearer {TOKEN}"},
        {"AUTHORIZATION": f"BEARER  {TOKEN} "},
    ],
)
def test_accepts_the_token_in_any_case_of_name_and_scheme(headers: dict[str, str]) -> None:
    assert make(TOKEN).verify(headers, b"anything", NOW) == Verified(idempotency_key=None)


def test_rotation_second_token_matches() -> None:
    verifier = make(TOKEN, OLD_TOKEN)
    assert verifier.verify({"Authorization": f"Bearer {OLD_TOKEN}"}, b"", NOW) == Verified()


def test_custom_header() -> None:
    verifier = make(TOKEN, header="X-Api-Key")
    assert verifier.verify({"x-api-key": f"Bearer {TOKEN}"}, b"", NOW) == Verified()
    with pytest.raises(SignatureError, match="missing X-Api-Key"):
        verifier.verify({"Authorization": f"Bearer {TOKEN}"}, b"", NOW)


@pytest.mark.parametrize("tokens", [[], [""], ["  "]])
def test_config_rejects_missing_or_blank_tokens(tokens: list[str]) -> None:
    with pytest.raises(ValidationError):
        BearerTokenConfig.model_validate({"tokens": tokens})


_BAD = [
    {},
    {"Authorization": TOKEN},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": "Bearer "},
    {"Authorization": f"Bearer {TOKEN[:-1]}"},
    {"Authorization": f"Bearer {TOKEN}x"},
    {"Authorization": f"Bearer {TOKEN.upper()}"},
    {"Authorization": f"Bearer {TOKEN}\u00e9"},
    *({"Authorization": f"Bearer {v}"} for v in JUNK_VALUES),
    *({"Authorization": v} for v in JUNK_VALUES),
]


@pytest.mark.parametrize("headers", _BAD, ids=lambda h: repr(h)[:40])
def test_bad_credentials_raise_signature_error_only(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError) as info:
        make(TOKEN).verify(headers, b"", NOW)
    assert TOKEN not in str(info.value)


_near_valid = st.text(max_size=40).map(lambda t: f"Bearer {t}")


@FUZZ
@given(headers=header_dicts(["Authorization", "X-Other"], _near_valid), body=st.binary())
def test_fuzz_only_signature_errors(headers: dict[str, str], body: bytes) -> None:
    assert isinstance(outcome(make(TOKEN), headers, body), SignatureError)
