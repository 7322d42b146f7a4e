"""The result models of :mod:`router.store.queries`; the admin API's OpenAPI schemas too."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from router.store.statuses import DeliveryStatus, MessageStatus

__all__ = ["DeliveryStatus", "MessageStatus"]  # re-exported: the admin API's schemas use them


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MessageSummary(_Frozen):
    """One message in a search result: who sent it and where each of its deliveries stands."""

    id: str
    source: str
    type: str
    received_at: float
    correlation_id: str
    trace_id: str
    unrouted: bool
    routes: dict[str, DeliveryStatus]


class DeliveryInfo(_Frozen):
    """The state of one (message, route) delivery."""

    route: str
    status: DeliveryStatus
    attempts: int
    ordering_key: str
    last_error: str
    next_at: float | None
    first_attempt_at: float | None
    updated_at: float
    dead_letter: bool
    held_by: str | None = Field(
        default=None,
        description="Held (on_dead_letter: hold): the id of the dead letter of the same key it "
        "waits behind; it is delivered after that one is replayed or skipped",
    )


class TimelineEntry(_Frozen):
    """One journaled event: received, routed, retry_scheduled, delivered, dead_lettered ..."""

    at: float
    kind: str
    route: str
    detail: str
    attempt: int


class MessageDetail(_Frozen):
    """Everything the journal knows about one message, with its full timeline."""

    id: str
    source: str
    type: str
    idempotency_key: str
    correlation_id: str
    traceparent: str
    trace_id: str
    received_at: float
    headers: dict[str, str]
    body_size: int
    body_is_json: bool
    body: JsonValue = None
    unrouted: bool
    deliveries: list[DeliveryInfo]
    timeline: list[TimelineEntry]


class DeadLetter(_Frozen):
    """A dead-lettered delivery with the message's origin."""

    id: str
    route: str
    reason: str
    attempts: int
    last_error: str
    trace_id: str
    at: float
    source: str
    type: str
    correlation_id: str
    received_at: float
    holds_key: bool = Field(
        default=False,
        description="Its route's later messages of the same key wait for it (on_dead_letter: "
        "hold) until it is replayed or skipped",
    )
