"""The one connector call: deadline, limit, classification and the catch-all, for every caller."""

from __future__ import annotations

import asyncio

import pytest

from router.connector import OutboundRequest
from router.errors import DeadlineError, PermanentError, TransientError
from router.metrics import Metrics
from router.runtime.outlet import Outlet


def request(path: str = "/x") -> OutboundRequest:
    return OutboundRequest("m1", "orders", "POST", path, b"{}", "k", "c", "tp", 1)


class Scripted:
    """A connector whose answer is chosen by the request path."""

    timeout_s = 0.2
    concurrency = 2

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, request: OutboundRequest) -> bytes | None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            match request.path:
                case "/slow":
                    await asyncio.sleep(5)
                case "/permanent":
                    raise PermanentError("HTTP 422")
                case "/transient":
                    raise TransientError("HTTP 503", retry_after=3)
                case "/bug":
                    raise KeyError("oops")
                case _:
                    await asyncio.sleep(0.01)
            return b'{"ok": true}'
        finally:
            self.running -= 1


@pytest.mark.parametrize(
    ("path", "kind", "text"),
    [
        ("/permanent", PermanentError, "HTTP 422"),
        ("/transient", TransientError, "HTTP 503"),
        ("/bug", TransientError, "connector raised KeyError: 'oops'"),
        ("/slow", DeadlineError, "no answer within 0.05s"),
    ],
)
async def test_every_failure_comes_back_classified(path: str, kind: type, text: str) -> None:
    metrics = Metrics()
    outlet = Outlet("crm", Scripted(), metrics)
    result = await outlet.call(request(path), deadline_s=0.05)
    assert isinstance(result.error, kind) and str(result.error) == text
    assert result.body is None
    outcome = "permanent" if kind is PermanentError else "transient"
    assert result.outcome == outcome
    assert metrics.deliveries.labels("orders", "crm", outcome)._value.get() == 1


async def test_success_returns_the_body_and_the_limit_holds_across_callers() -> None:
    connector = Scripted()
    outlet = Outlet("crm", connector, Metrics())
    results = await asyncio.gather(*(outlet.call(request()) for _ in range(6)))
    assert all(r.error is None and r.body == b'{"ok": true}' for r in results)
    assert connector.peak == 2  # the connector's concurrency, whoever calls


async def test_the_default_deadline_is_the_connectors_timeout() -> None:
    result = await Outlet("crm", Scripted(), Metrics()).call(request("/slow"))
    assert isinstance(result.error, DeadlineError) and str(result.error) == "no answer within 0.2s"


def test_an_inline_send_is_classified_the_same_way() -> None:
    outlet = Outlet("sink", Scripted(), Metrics())

    def send(request: OutboundRequest) -> None:
        raise ZeroDivisionError("bug")

    result = outlet.call_inline(send, request())
    assert isinstance(result.error, TransientError)
    assert str(result.error) == "connector raised ZeroDivisionError: bug"
    assert outlet.call_inline(lambda _r: None, request()).error is None
