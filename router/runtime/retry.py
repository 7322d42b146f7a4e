"""Retry decisions: exponential backoff with full jitter, bounded by attempts and by age."""

from __future__ import annotations

import random

from router.config.models import RetryPolicy


def backoff_delay(
    policy: RetryPolicy, attempts: int, retry_after: float | None, rng: random.Random
) -> float:
    """Seconds to wait before attempt ``attempts + 1``; a server's Retry-After is a lower bound."""
    if policy.backoff == "fixed":
        ceiling = min(policy.initial, policy.max)
    else:
        ceiling = min(policy.max, policy.initial * (2 ** max(0, attempts - 1)))
    delay = rng.uniform(0, ceiling) if policy.jitter == "full" else ceiling
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.max))
    return delay


def give_up_reason(policy: RetryPolicy, attempts: int, age_s: float, delay: float) -> str | None:
    """Why no further attempt should be made, or None to retry."""
    if attempts >= policy.max_attempts:
        return f"gave up after {attempts} attempts"
    if age_s + delay > policy.max_age:
        return f"gave up: next attempt would exceed max_age {policy.max_age:.0f}s"
    return None
