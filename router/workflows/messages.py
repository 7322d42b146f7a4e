"""Messages to the orchestrator actor, and the loop-side helpers that answer them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from router.connector import Connector, OutboundRequest
from router.errors import DeliveryError, TransientError

Phase = Literal["do", "undo"]
Action = Literal["retry", "skip", "cancel"]
Reply = Callable[[Any, Exception | None], None]
"""Called once on the actor thread with (result, error); it hops the answer to the loop."""


@dataclass(frozen=True, slots=True)
class Trigger:
    workflow: str
    message_id: str
    received_at: float
    correlation_id: str
    traceparent: str
    event: dict[str, Any]  # source, type, key: the context's /event
    body: bytes  # the trigger's canonical model as JSON
    reply: Reply


@dataclass(frozen=True, slots=True)
class Finished:
    instance_id: str
    step_id: str
    phase: Phase
    attempt: int
    body: bytes | None
    error: DeliveryError | None
    seconds: float


@dataclass(frozen=True, slots=True)
class Wake:
    """A retry timer fired: run the instance's next attempt."""

    instance_id: str


@dataclass(frozen=True, slots=True)
class Notified:
    instance_id: str
    error: str | None


@dataclass(frozen=True, slots=True)
class Command:
    action: Action
    instance_id: str
    reason: str
    reply: Reply
    actor: str = "operator"


@dataclass(frozen=True, slots=True)
class Resume:
    """Sent once at start: reload running and compensating instances, resend notifications."""

    done: Callable[[int], None] = field(default=lambda _count: None)


async def call_once(
    connector: Connector, request: OutboundRequest, deadline_s: float
) -> tuple[bytes | None, DeliveryError | None, float]:
    """One attempt: the answer or a classified error, and how long it took. Never raises."""
    started = time.perf_counter()
    body: bytes | None = None
    error: DeliveryError | None = None
    try:
        async with asyncio.timeout(deadline_s):
            body = await connector.send(request)
    except DeliveryError as exc:
        error = exc
    except TimeoutError:
        error = TransientError(f"no answer within {deadline_s:g}s")
    except Exception as exc:  # noqa: BLE001 - a connector bug delays a step, never loses it
        error = TransientError(f"connector raised {type(exc).__name__}: {exc}")
    return body, error, time.perf_counter() - started


def loop_reply(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> Reply:
    """A :data:`Reply` that settles ``future`` on its loop (safe from the actor thread)."""

    def settle(result: Any, error: Exception | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def reply(result: Any, error: Exception | None) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(settle, result, error)

    return reply
