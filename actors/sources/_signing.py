"""HMAC keyrings, signature decoding and the guard that keeps every failure a SignatureError."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from collections.abc import Callable, Iterable
from typing import Annotated, Literal, ParamSpec, TypeVar

from pydantic import AfterValidator, Field, SecretStr, WithJsonSchema

from actors.sources._headers import FAILED, fail
from router.plugin import SignatureError

__all__ = ["Algorithm", "Keyring", "Secrets", "decode_base64", "decode_hex", "guarded"]

Algorithm = Literal["sha1", "sha256", "sha512"]
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _no_blank_secret(secrets: list[SecretStr]) -> list[SecretStr]:
    if any(not s.get_secret_value().strip() for s in secrets):
        raise ValueError("secrets must not be empty or blank")
    return secrets


# The schema says what _no_blank_secret checks: a secret holds something besides blanks.
SECRET_SCHEMA = {"type": "string", "format": "password", "writeOnly": True, "pattern": r"\S"}
Secrets = Annotated[
    list[Annotated[SecretStr, WithJsonSchema(SECRET_SCHEMA)]],
    Field(min_length=1, description="Accepted secrets; during a rotation any one may match"),
    AfterValidator(_no_blank_secret),
]


class Keyring:
    """One keyed HMAC per secret, built once so that a request only pays for ``copy()``.

    ``copy()`` skips re-deriving the padded key, and the templates are never updated, so sharing
    them between threads is safe.
    """

    __slots__ = ("_templates",)

    def __init__(self, keys: Iterable[bytes], algorithm: Algorithm = "sha256") -> None:
        self._templates = tuple(
            hmac.new(key, digestmod=getattr(hashlib, algorithm)) for key in keys
        )
        if not self._templates:
            raise ValueError("a keyring needs at least one key")

    @classmethod
    def from_secrets(cls, secrets: Iterable[SecretStr], algorithm: Algorithm = "sha256") -> Keyring:
        return cls((s.get_secret_value().encode() for s in secrets), algorithm)

    def digests(self, *parts: bytes) -> list[bytes]:
        """The MAC of ``parts`` concatenated, under every key (no copy of a large body is made)."""
        out = []
        for template in self._templates:
            mac = template.copy()
            for part in parts:
                mac.update(part)
            out.append(mac.digest())
        return out

    def check(self, candidates: Iterable[bytes], *parts: bytes) -> None:
        """Pass when any candidate equals the MAC under any key; otherwise raise SignatureError."""
        expected = self.digests(*parts)
        matched = False
        for candidate in candidates:
            for digest in expected:
                # No early exit: the time taken does not depend on which pair matched.
                matched |= hmac.compare_digest(candidate, digest)
        if not matched:
            fail()


def decode_hex(value: str) -> bytes:
    try:
        return binascii.unhexlify(value)
    except (binascii.Error, ValueError):
        fail()


def decode_base64(value: str) -> bytes:
    # validate=True: the lenient default silently drops junk characters.
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        fail()


def guarded(verify: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn any stray exception from ``verify`` into a SignatureError (401), never a 500.

    The schemes validate their input, so this is the last line: a bug or an odd header mapping
    must still answer 401 without echoing the cause to the sender.
    """

    @functools.wraps(verify)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return verify(*args, **kwargs)
        except SignatureError:
            raise
        except Exception as exc:  # by design: whatever the cause, the answer is a 401
            raise SignatureError(FAILED) from exc

    return wrapper
