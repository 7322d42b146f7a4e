"""The contract between ingress and a signature-verification scheme.

A scheme registers itself with :func:`router.registry.register_verifier` under its name, a frozen
pydantic config model (the ``verify:`` block of a source, minus ``scheme``) and a factory taking
that config and returning a :class:`Verifier`. Ingress calls ``verify`` on the raw bytes, before
parsing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Verified:
    """What a scheme learned from a delivery it accepted.

    ``idempotency_key`` is the scheme's own dedupe key (such as the ``webhook-id`` header) or
    None when the source's configured ``idempotency_key`` extraction should decide.
    """

    idempotency_key: str | None = None


class Verifier(Protocol):
    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        """Check one delivery; raise :class:`router.errors.SignatureError` on any failure.

        ``headers`` is case-insensitive. ``body`` is the raw request body, exactly as received.
        ``now`` is the current Unix time in seconds, injected so tolerance windows are testable.
        """
        ...
