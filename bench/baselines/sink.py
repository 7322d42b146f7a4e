"""The delivery target every end-to-end implementation POSTs to: answers 200 and timestamps.

Each delivery's arrival time (``time.monotonic()``, the same system-wide clock the load generator
uses) is recorded against the message id it carries (``"order_id":"<prefix>-<index>"`` in the
canonical order every implementation produces). The load generator's open-loop schedule is
deterministic (request ``k`` of a step is due at ``start + k / rate``), so ``GET /stats`` can turn
arrivals into end-to-end latencies from the intended send time, without the message having to
carry a timestamp through a transform that drops unknown fields.

``GET /stats?prefix=P&start=S&rate=R&from=A&to=B`` answers the delivery-latency summary for the
requests of step ``P`` due in ``[A, B)``; ``DELETE /stats?prefix=P`` forgets them.

Usage: ``python -m bench.baselines.sink --port P``.
"""

from __future__ import annotations

import argparse
import collections
import re
import time

import orjson
from aiohttp import web
from hdrh.histogram import HdrHistogram

from bench.baselines._serve import serve
from bench.loadgen import summary_ms

_ID = re.compile(rb'"order_id"\s*:\s*"([^"-]+)-(\d+)"')
_MAX_US = 60_000_000

ARRIVALS: dict[str, list[tuple[int, float]]] = collections.defaultdict(list)
COUNTS = {"deliveries": 0, "unparsed": 0}


async def _deliver(request: web.Request) -> web.Response:
    body = await request.read()
    now = time.monotonic()
    COUNTS["deliveries"] += 1
    match = _ID.search(body)
    if match is None:
        COUNTS["unparsed"] += 1
    else:
        ARRIVALS[match.group(1).decode()].append((int(match.group(2)), now))
    return web.Response(status=200, body=b'{"ok":true}', content_type="application/json")


def latency_summary(
    arrivals: list[tuple[int, float]], start: float, rate: float, lo: float, hi: float
) -> dict[str, object]:
    """Delivery latencies (arrival - due time) of the requests due in ``[lo, hi)``."""
    hist = HdrHistogram(1, _MAX_US, 3)
    seen: set[int] = set()
    duplicates = 0
    for index, arrived in arrivals:
        due = start + index / rate
        if not lo <= due < hi:
            continue
        if index in seen:
            duplicates += 1
            continue
        seen.add(index)
        hist.record_value(min(_MAX_US, max(1, int((arrived - due) * 1e6))))
    return {"delivered": len(seen), "duplicates": duplicates, "latency_ms": summary_ms(hist)}


async def _stats(request: web.Request) -> web.Response:
    q = request.query
    arrivals = ARRIVALS.get(q.get("prefix", ""), [])
    out: dict[str, object] = {"arrived": len(arrivals), **COUNTS}
    if "start" in q:
        out |= latency_summary(
            arrivals, float(q["start"]), float(q["rate"]), float(q["from"]), float(q["to"])
        )
    return web.Response(body=orjson.dumps(out), content_type="application/json")


async def _forget(request: web.Request) -> web.Response:
    ARRIVALS.pop(request.query.get("prefix", ""), None)
    return web.Response(body=b"{}", content_type="application/json")


async def _ready(_: web.Request) -> web.Response:
    return web.json_response({"status": "ready"})


def app() -> web.Application:
    application = web.Application(client_max_size=1 << 20)
    application.router.add_post("/{tail:.*}", _deliver)
    application.router.add_put("/{tail:.*}", _deliver)
    application.router.add_get("/stats", _stats)
    application.router.add_delete("/stats", _forget)
    application.router.add_get("/readyz", _ready)
    return application


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="end-to-end delivery sink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    serve(app(), args.host, args.port, shutdown_timeout=1.0)


if __name__ == "__main__":
    main()
