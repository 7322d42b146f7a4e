"""``github``: ``X-Hub-Signature-256: sha256=<hex>``, HMAC-SHA256 of the body.

The idempotency key is ``X-GitHub-Delivery`` (a GUID kept on redelivery). The legacy SHA-1
``X-Hub-Signature`` header is deliberately not accepted.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from actors.sources._headers import delivery_id, fail, require_header
from actors.sources._signing import Keyring, Secrets, decode_hex, guarded
from router.plugin import Verified, register

__all__ = ["GitHubSignatureConfig", "GitHubSignatureVerifier"]

HEADER = "X-Hub-Signature-256"
PREFIX = "sha256="


class GitHubSignatureConfig(BaseModel):
    """``verify: {scheme: github, ...}``."""

    # hide_input_in_errors: a validation error must not print the secrets it was given.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    secrets: Secrets


class GitHubSignatureVerifier:
    def __init__(self, config: GitHubSignatureConfig) -> None:
        self._keyring = Keyring.from_secrets(config.secrets)

    @guarded
    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        del now  # unused here; the Verifier protocol fixes the signature
        signature = require_header(headers, HEADER)
        if not signature.startswith(PREFIX):
            fail()
        key = delivery_id(headers, "X-GitHub-Delivery")
        self._keyring.check([decode_hex(signature[len(PREFIX) :])], body)
        return Verified(idempotency_key=key)


register("verifier", "github", GitHubSignatureConfig, GitHubSignatureVerifier)
