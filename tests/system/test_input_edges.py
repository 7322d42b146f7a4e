"""Issue 15, the input edges, over a real ``interlock run``: each finding's request, its status
and problem body, and afterwards not one ERROR line or traceback in the router's log.

The same findings are tested in depth in process (``tests/router/test_hardened_edges.py``); this
corpus proves them through the served process (uvloop, the hardened runner, the real logging),
where a 5xx or a traceback would have shown before: nesting between 255 and 1023 levels in
every mode, a non-scalar or huge ordering key, ids that used to collide, Svix-spelled headers,
percent-encoded ``ce-*`` headers, an empty batch and a body that is not an object.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from svix.webhooks import Webhook

from router.codec import MAX_DEPTH
from router.testing import Sink
from tests.router.test_hardened_edges import BATCH, SECRET, STRUCTURED, binary, ce, nested, routes
from tests.support.process import RouterProcess
from tests.system.test_hardened_edges import assert_no_error_lines, request

pytestmark = pytest.mark.slow
PROBLEMS = "https://interlock.dev/problems/"


@pytest.fixture
def router(tmp_path: Path, sink: Sink) -> Iterator[RouterProcess]:
    process = RouterProcess(routes(tmp_path / "routes", sink.url), tmp_path / "data")
    process.start()
    yield process
    process.stop()


def _order(ident: Any, customer: Any = "c1") -> bytes:
    return orjson.dumps({"id": ident, "type": "order.created", "customer": customer})


def _order_text(ident: str) -> bytes:
    """An order whose id is the JSON number ``ident``, written as text (past 64 bits)."""
    return b'{"id":' + ident.encode() + b',"type":"order.created","customer":"c1"}'


def _svix(ident: str, body: bytes) -> dict[str, str]:
    now = int(time.time())
    signature = Webhook(SECRET).sign(ident, datetime.fromtimestamp(now, tz=UTC), body.decode())
    return {"svix-id": ident, "svix-timestamp": str(now), "svix-signature": signature}


DEEP = f"nests deeper than {MAX_DEPTH} levels"
# (what it shows, path, body, headers, status, a part of the problem's detail or None)
# Headers are a dict, or made when sent (a signature's timestamp must be fresh then, not at import).
Headers = dict[str, str] | Callable[[], dict[str, str]]
CORPUS: list[tuple[str, str, bytes, Headers, int, str | None]] = [
    ("webhook at depth 300", "/webhooks/shop", nested(300), {}, 400, DEEP),
    ("webhook at depth 1023", "/webhooks/shop", nested(1023), {}, 400, DEEP),
    ("structured event at depth 300", "/events/events",
     orjson.dumps(ce("deep-s", data=1))[:-1] + b',"x":' + nested(300) + b"}", STRUCTURED, 400,
     DEEP),
    ("binary event at depth 300", "/events/events", nested(300), binary("deep-b"), 400, DEEP),
    ("batch at depth 300", "/events/events",
     b"[" + orjson.dumps(ce("deep-1"))[:-1] + b',"data":' + nested(300) + b"}]", BATCH, 400,
     DEEP),
    ("question at depth 300", "/api/ask", b'{"sku":' + nested(300) + b"}", {}, 400, DEEP),
    ("an object as ordering key", "/webhooks/shop", _order("k-obj", {"a": 1}), {}, 400,
     "the ordering key at /customer must be a string, integer or boolean"),
    ("a 500 KB ordering key", "/webhooks/shop", _order("k-big", "c" * 500_000), {}, 400,
     "longer than 1024 characters"),
    ("id 1", "/webhooks/shop", _order(1), {}, 202, None),
    ('id "1": another event', "/webhooks/shop", _order("1"), {}, 202, None),
    ("id 2^64", "/webhooks/shop", _order_text(str(2**64)), {}, 202, None),
    ("id 2^64+1: another event", "/webhooks/shop", _order_text(str(2**64 + 1)), {}, 202, None),
    ("a 30-digit id", "/webhooks/shop", _order_text("123456789012345678901234567890"), {}, 202,
     None),
    ("its neighbour: another event", "/webhooks/shop",
     _order_text("123456789012345678901234567891"), {}, 202, None),
    ("Svix-spelled Standard Webhooks", "/webhooks/sw", b'{"type":"invoice.paid","id":"i1"}',
     lambda: _svix("msg_svix_1", b'{"type":"invoice.paid","id":"i1"}'), 202, None),
    ("a percent-encoded ce-source", "/events/events", b'{"n":1}',
     binary("pct-1", **{"ce-source": "/eu%20west"}), 202, None),
    ("the same event, structured: a duplicate", "/events/events",
     orjson.dumps(ce("pct-1", source="/eu west", datacontenttype="application/json",
                     data={"n": 1})), STRUCTURED, 200, None),
    ("a ce-source that is not UTF-8", "/events/events", b"{}",
     binary("pct-2", **{"ce-source": "/a%FF"}), 400, "not percent-encoded UTF-8"),
    ("an empty batch", "/events/events", b"[]", BATCH, 400, "at least one event"),
    ("an array body", "/webhooks/shop", b"[1,2]", {}, 400, "must be a JSON object"),
]  # fmt: skip


def test_the_input_corpus_against_interlock_run(router: RouterProcess) -> None:
    seen = []
    for what, path, body, headers, status, detail in CORPUS:
        sent = headers() if callable(headers) else headers
        got, head, answer = request(router.url + path, body, sent)
        seen.append((what, got))
        assert got == status, (what, got, answer)
        if status >= 400:
            assert head["Content-Type"].startswith("application/problem+json"), what
            assert answer["status"] == status and answer["type"].startswith(PROBLEMS), answer
            assert detail is not None and detail in answer["detail"], (what, answer)
        if status == 200:
            assert answer.get("duplicate") is True, (what, answer)
    assert all(status < 500 for _, status in seen)
    assert_no_error_lines(router)
