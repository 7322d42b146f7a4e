"""``none``: accept everything. Only for loopback senders and tests; ``check`` flags it."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from router.plugin import Verified, register

__all__ = ["NoVerificationConfig", "NoVerifier"]


class NoVerificationConfig(BaseModel):
    """``verify: {scheme: none}``: no fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoVerifier:
    def __init__(self, config: NoVerificationConfig) -> None:
        del config  # nothing to configure; the signature matches every factory

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        del headers, body, now  # unused here; the Verifier protocol fixes the signature
        return Verified()


register("verifier", "none", NoVerificationConfig, NoVerifier)
