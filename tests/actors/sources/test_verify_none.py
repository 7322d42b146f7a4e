from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from actors.sources.verify_none import NoVerificationConfig, NoVerifier
from router.verify import Verified

from ._support import FUZZ, JUNK_VALUES, NOW, header_dicts, outcome


def test_accepts_anything_without_a_key() -> None:
    verifier = NoVerifier(NoVerificationConfig())
    assert verifier.verify({"X-Junk": JUNK_VALUES[3]}, b"\xff", NOW) == Verified(None)


def test_config_takes_no_fields() -> None:
    with pytest.raises(ValidationError):
        NoVerificationConfig.model_validate({"secrets": ["x"]})


@FUZZ
@given(headers=header_dicts(["Authorization", "X-Signature"]), body=st.binary())
def test_fuzz_always_accepts(headers: dict[str, str], body: bytes) -> None:
    assert outcome(NoVerifier(NoVerificationConfig()), headers, body) == Verified()
