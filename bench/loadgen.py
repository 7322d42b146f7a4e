"""The load generator: open loop (constant arrival rate) or closed loop, in its own process.

Open loop: request ``k`` is *due* at ``start + k / rate`` whatever happened to earlier requests.
It goes out on a free keep-alive connection, or waits in a queue until one frees up. Its latency
is measured from the time it was due, not from when it was written, so a slow server cannot hide
its stalls by slowing the sender down (coordinated omission). The time from write to response is
recorded separately as the service time.

Closed loop: each of N connections sends its next request as soon as the previous one is
answered; this finds the maximum throughput, and its latencies are service times. A connection
answered 503 with ``Retry-After`` waits that long first, as the vendors' senders do.

Every request is signed as the bench source verifies it (``X-Hub-Signature-256``, see
``bench._body.signature``). Latency is also kept per answer status (``latency_by_status_ms``),
so an overloaded server's accepted (202) and shed (503) answers can be told apart.

Run as ``python -m bench.loadgen '<LoadSpec as JSON>'``; it prints one JSON result on stdout.
Requests due during the warm-up are sent but not counted. Requests still unanswered ``drain_s``
after the last one was due count as errors (``timeout``) with their age as latency.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import sys
import time
from typing import Any, Literal

import orjson
from hdrh.histogram import HdrHistogram

from bench import _body
from bench._http import Connection, connect, request_head, signed_request

_MAX_US = 60_000_000
_LAG_LIMIT_MS = 5.0  # a scheduler running this late means the generator itself is saturated
_CPU_LIMIT = 0.9


@dataclasses.dataclass(frozen=True, slots=True)
class LoadSpec:
    port: int
    mode: Literal["open", "closed"] = "open"
    rate: float = 1000.0  # requests/s, open loop only
    duration_s: float = 5.0
    warmup_s: float = 1.0
    connections: int = 64
    prefix: str = "o"  # id prefix: must be unique per run against one journal
    host: str = "127.0.0.1"
    path: str = "/webhooks/bench"
    drain_s: float = 5.0


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, _MAX_US, 3)


def summary_ms(hist: HdrHistogram) -> dict[str, float]:
    """p50/p90/p99/p99.9/max/mean of a microsecond histogram, in milliseconds."""
    if hist.get_total_count() == 0:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0, "mean": 0.0}
    points = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}
    out = {k: hist.get_value_at_percentile(p) / 1000 for k, p in points.items()}
    out["max"] = hist.get_max_value() / 1000
    out["mean"] = hist.get_mean_value() / 1000
    return {k: round(v, 3) for k, v in out.items()}


class Generator:
    """Owns the connections, the queue of due requests and the histograms."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.latency = _histogram()
        self.service = _histogram()
        self.lag = _histogram()
        self.statuses: collections.Counter[str] = collections.Counter()
        self.by_status: dict[str, HdrHistogram] = {}  # latency per answer status (and timeout)
        self.free: list[Connection] = []
        self.busy: set[Connection] = set()
        self.queue: collections.deque[tuple[bytes, float]] = collections.deque()
        self.counter = 0
        self.answered = 0  # every response, warm-up included: server CPU per request
        self.accepted = 0  # every 2xx response, warm-up included: server CPU per accepted one
        self.window = (0.0, 0.0)
        self.sending = True
        self.idle = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        length = len(_body.body(0, spec.prefix))
        self.head = request_head(spec.host, spec.port, spec.path, length)

    def _request(self) -> bytes:
        """The next request, signed as the bench source verifies it (``bench._body``)."""
        request = signed_request(self.head, _body.body(self.counter, self.spec.prefix))
        self.counter += 1
        return request

    def _measured(self, intended: float) -> bool:
        return self.window[0] <= intended < self.window[1]

    def dispatch(self, intended: float) -> None:
        """Issue the next request, due at ``intended``."""
        request = self._request()
        if self.free:
            conn = self.free.pop()
            self.busy.add(conn)
            conn.send(request, intended)
        else:
            self.queue.append((request, intended))

    def _record(self, status: str, latency_us: int) -> None:
        self.latency.record_value(latency_us)
        self.statuses[status] += 1
        hist = self.by_status.get(status)
        if hist is None:
            hist = self.by_status[status] = _histogram()
        hist.record_value(latency_us)

    def on_response(self, conn: Connection, status: int) -> None:
        now = time.monotonic()
        self.answered += 1
        if 200 <= status < 300:
            self.accepted += 1
        self.busy.discard(conn)
        if self._measured(conn.intended):
            self._record(str(status), min(_MAX_US, max(1, int((now - conn.intended) * 1e6))))
            self.service.record_value(min(_MAX_US, max(1, int((now - conn.sent) * 1e6))))
        if not conn.closed:
            self._reuse(conn, now)

    def _reuse(self, conn: Connection, now: float) -> None:
        if self.spec.mode == "closed" and self.sending:
            self.busy.add(conn)
            if conn.retry_after > 0:
                # Shed: wait as the server asked, as every vendor's sender does, instead of
                # resending at once (a client that never backs off keeps any server's loop
                # busy answering 503s). Latency of the next request counts from when it is sent.
                asyncio.get_running_loop().call_later(conn.retry_after, self._resend, conn)
                return
            conn.send(self._request(), now)
        elif self.queue:
            self.busy.add(conn)
            conn.send(*self.queue.popleft())
        else:
            self.free.append(conn)
            if not self.sending and not self.busy:
                self.idle.set()

    def _resend(self, conn: Connection) -> None:
        if conn.closed or not self.sending:
            self.busy.discard(conn)
            if not self.sending and not self.busy:
                self.idle.set()
            return
        conn.send(self._request(), time.monotonic())

    def on_lost(self, conn: Connection) -> None:
        if conn in self.busy:
            self.busy.discard(conn)
            if self._measured(conn.intended):
                self.statuses["connection_lost"] += 1
        if conn in self.free:
            self.free.remove(conn)
        if self.sending or self.queue:
            task = asyncio.get_running_loop().create_task(self._replace())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _replace(self) -> None:
        try:
            conn = await connect(self.spec.host, self.spec.port, self)
        except OSError:
            self.statuses["connect_error"] += 1
            return
        self._reuse(conn, time.monotonic())

    async def _open_loop(self, start: float, end: float) -> None:
        interval = 1.0 / self.spec.rate
        total = int((end - start) * self.spec.rate)
        k = 0
        while k < total:
            now = time.monotonic()
            due = start + k * interval
            if due > now:
                await asyncio.sleep(max(due - now, 0.001))  # uvloop timers: 1 ms ticks
                continue
            self.lag.record_value(min(_MAX_US, max(1, int((now - due) * 1e6))))
            while k < total and start + k * interval <= now:
                self.dispatch(start + k * interval)
                k += 1
            await asyncio.sleep(0)

    async def run(self) -> dict[str, Any]:
        spec = self.spec
        conns = await asyncio.gather(
            *(connect(spec.host, spec.port, self) for _ in range(spec.connections))
        )
        self.free.extend(conns)
        start = time.monotonic() + 0.05
        self.window = (start + spec.warmup_s, start + spec.warmup_s + spec.duration_s)
        cpu_at: list[float] = []
        loop = asyncio.get_running_loop()
        offset = loop.time() - time.monotonic()  # uvloop keeps its own (millisecond) clock
        for at in self.window:
            loop.call_at(at + offset, lambda: cpu_at.append(time.process_time()))
        if spec.mode == "open":
            await self._open_loop(start, self.window[1])
        else:
            await asyncio.sleep(start - time.monotonic())
            for conn in list(self.free):
                self._reuse(conn, time.monotonic())
            self.free.clear()
            await asyncio.sleep(self.window[1] - time.monotonic())
        self.sending = False
        if self.busy or self.queue:
            self.idle.clear()
            try:
                await asyncio.wait_for(self.idle.wait(), spec.drain_s)
            except TimeoutError:
                self._expire()
        cpu_at.append(time.process_time())
        for conn in self.free + list(self.busy):
            conn.close()
        result = self._result((cpu_at[1] - cpu_at[0]) if len(cpu_at) > 2 else 0.0)
        if spec.mode == "open":  # request k was due at start + k * (1 / rate): end to end uses it
            result["schedule"] = {"start": start, "window": list(self.window)}
        return result

    def _expire(self) -> None:
        now = time.monotonic()
        stale = [c.intended for c in self.busy] + [intended for _, intended in self.queue]
        for intended in stale:
            if self._measured(intended):
                self._record("timeout", min(_MAX_US, max(1, int((now - intended) * 1e6))))
        self.queue.clear()

    def _result(self, cpu_s: float) -> dict[str, Any]:
        spec = self.spec
        ok = sum(n for s, n in self.statuses.items() if s.startswith("2"))
        errors = sum(self.statuses.values()) - ok
        cpu_util = cpu_s / spec.duration_s
        lag = summary_ms(self.lag)
        return {
            "mode": spec.mode,
            "offered_rate": spec.rate if spec.mode == "open" else None,
            "connections": spec.connections,
            "duration_s": spec.duration_s,
            "answered_total": self.answered,
            "accepted_total": self.accepted,
            "ok": ok,
            "errors": errors,
            "statuses": dict(self.statuses),
            "throughput": round(ok / spec.duration_s, 1),
            "latency_ms": summary_ms(self.latency),
            "latency_by_status_ms": {k: summary_ms(h) for k, h in sorted(self.by_status.items())},
            "service_ms": summary_ms(self.service),
            "loadgen": {
                "cpu_util": round(cpu_util, 3),
                "sched_lag_p99_ms": lag["p99"],
                "sched_lag_max_ms": lag["max"],
                "limited": cpu_util > _CPU_LIMIT or lag["p99"] > _LAG_LIMIT_MS,
            },
        }


async def generate(spec: LoadSpec) -> dict[str, Any]:
    """Run one load step against ``spec.host:spec.port`` and return its figures."""
    return await Generator(spec).run()


def main(argv: list[str]) -> int:
    spec = LoadSpec(**orjson.loads(argv[0]))
    try:
        import uvloop

        result = uvloop.run(generate(spec))
    except ImportError:
        result = asyncio.run(generate(spec))
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
