"""The vendor key-window guard: refuse a resend the target would no longer deduplicate.

A retry or a replay reuses the message's idempotency key, which protects against a double effect
only while the target remembers it. Stripe keeps a key for 24 h; a dead letter replayed on day 3
with the same key is, to Stripe, a new request: a second customer, a second charge. So before any
attempt whose key was first sent earlier, the engine asks the connector how long its target keeps
that key (:class:`router.connector.KeyWindowed`) and refuses the attempt once that is past. An
operation that is safe at any age (an upsert by external id, a create that first looks its record
up) answers ``None`` and is never refused.

The refusal is permanent (a later attempt is only older): the message is dead-lettered, or the
workflow step fails, with :func:`refusal`'s text as the reason, which names the window, the age and
what the operator can do instead.
"""

from __future__ import annotations

from router.connector import KeyWindowed, OutboundRequest
from router.durations import format_duration


def window_of(connector: object, request: OutboundRequest) -> float | None:
    """The target's dedupe window for ``request`` in seconds; ``None``: no limit."""
    if isinstance(connector, KeyWindowed):
        return connector.key_window(request)
    return None


def refusal(
    connector: object, request: OutboundRequest, first_sent_at: float | None, now: float
) -> str | None:
    """Why this attempt must not be sent (its key is older than the target's window), or None.

    ``first_sent_at`` is when the key was first sent (the first attempt's start); ``None`` or 0
    means this is the first attempt, which no window can refuse.
    """
    if not first_sent_at:
        return None
    window = window_of(connector, request)
    if window is None:
        return None
    age = now - first_sent_at
    if age <= window:
        return None
    return (
        f"key window passed: the target deduplicates {request.idempotency_key!r} for "
        f"{format_duration(window)} and it was first sent {format_duration(age)} ago, so a resend "
        "could apply twice; check the target for the record, then skip this message or send a new "
        "one"
    )
