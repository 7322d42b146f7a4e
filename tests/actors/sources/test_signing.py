from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from actors.sources._signing import Keyring, Secrets, decode_base64, decode_hex, guarded
from actors.sources.verify_github import GitHubSignatureConfig, GitHubSignatureVerifier
from router.errors import SignatureError


class _WithSecrets(BaseModel):
    secrets: Secrets


def test_keyring_digests_equal_a_fresh_hmac_and_templates_are_not_consumed() -> None:
    ring = Keyring([b"k1", b"k2"], "sha512")
    expected = [hmac.new(k, b"ab", hashlib.sha512).digest() for k in (b"k1", b"k2")]
    assert ring.digests(b"a", b"b") == expected
    assert ring.digests(b"ab") == expected  # copies, so a second call starts from the key


def test_keyring_check_passes_on_any_pair_and_fails_with_a_bland_message() -> None:
    ring = Keyring.from_secrets([SecretStr("old"), SecretStr("new")])
    good = hmac.new(b"new", b"body", hashlib.sha256).digest()
    ring.check([b"junk", good], b"body")
    with pytest.raises(SignatureError) as info:
        ring.check([b"junk"], b"body")
    assert str(info.value) == "signature verification failed"


def test_keyring_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        Keyring([])


@pytest.mark.parametrize("value", ["zz", "abc", "ab cd", "éé", "\udcff"])
def test_decode_hex_raises_signature_error(value: str) -> None:
    with pytest.raises(SignatureError):
        decode_hex(value)


@pytest.mark.parametrize("value", ["@@@@", "abc", "YWJj\n", "é", "\udcff"])
def test_decode_base64_is_strict(value: str) -> None:
    with pytest.raises(SignatureError):
        decode_base64(value)


def test_decoders_round_trip() -> None:
    assert decode_hex("00ff") == b"\x00\xff"
    assert decode_base64("AP8=") == b"\x00\xff"


def test_guarded_turns_any_exception_into_a_chained_signature_error() -> None:
    @guarded
    def explode(kind: type[Exception]) -> None:
        raise kind("secret detail")

    for kind in (ValueError, UnicodeError, KeyError, TypeError):
        with pytest.raises(SignatureError) as info:
            explode(kind)
        assert "secret detail" not in str(info.value)
        assert isinstance(info.value.__cause__, kind)


def test_guarded_verifier_survives_a_hostile_mapping() -> None:
    class Hostile(Mapping[str, str]):
        def __getitem__(self, key: str) -> str:
            raise RuntimeError("boom")

        def __iter__(self) -> Iterator[str]:
            raise RuntimeError("boom")

        def __len__(self) -> int:
            return 1

    verifier = GitHubSignatureVerifier(GitHubSignatureConfig.model_validate({"secrets": ["s"]}))
    with pytest.raises(SignatureError):
        verifier.verify(Hostile(), b"", 0)


@pytest.mark.parametrize("secrets", [[], [""], [" \n"]])
def test_secrets_need_one_non_blank_item(secrets: list[str]) -> None:
    with pytest.raises(ValidationError):
        _WithSecrets.model_validate({"secrets": secrets})
