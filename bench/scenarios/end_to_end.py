"""End to end: webhook -> ``order_to_canonical`` -> HTTP delivery to a sink, against alternatives.

Targets, each in its own process(es), all POSTing the canonical order to the same sink
(``bench/baselines/sink.py``, its own process):

- **interlock**: ``python -m bench.interlock_server run --routes bench/routes_e2e`` (``202`` after
  fsync; the route transforms and delivers with the ``http`` connector).
- **forwarder**: ``bench/baselines/forwarder.py``, the point-to-point aiohttp script (answers after
  the POST to the sink, nothing durable).
- **celery**: ``bench/baselines/celery_app.py`` (aiohttp enqueues to Redis, a prefork worker
  transforms and delivers); skipped with a reason without celery or Redis.
- **nodered**: Node-RED with ``bench/baselines/nodered_flow.json``; skipped without ``bench/peers``.

The rate search is the ingest scenario's (same load generator, same ladder logic). A step passes
when the HTTP answers pass the ingest criteria *and* every request due in the measured window was
delivered to the sink, with a delivery p99 within the same bound. Delivery latency is measured
from the time the request was *due* (open-loop schedule) to its arrival at the sink: the message
id encodes its place in the schedule, so no timestamp has to survive the transform.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from bench import servers
from bench.baselines import celery_app, nodered
from bench.loadgen import LoadSpec
from bench.machine import REPO
from bench.scenarios import ingest

ROUTES_E2E = REPO / "bench" / "routes_e2e"
# 4 s steps: four targets, each with its delivery wait, must fit `make bench` (about 6 min).
PLAN = ingest.IngestPlan(
    ladder=(50, 100, 250, 500, 1000, 2000, 4000), bisections=2, step_s=4.0, closed_s=0.0
)
WARM_RATE, WARM_S = 100.0, 3.0  # an unrecorded step per target first: JITs, pools, connections
SMOKE_PLAN = dataclasses.replace(ingest.SMOKE_PLAN, ladder=(100,), step_s=0.5, warmup_s=0.2)
DELIVERY_WAIT_S = 5.0  # after the load step, how long deliveries may still trickle in
ALL_TARGETS = ("interlock", "forwarder", "celery", "nodered")


def _sink_get(sink: servers.Server, query: dict[str, Any], method: str = "GET") -> dict[str, Any]:
    url = f"http://127.0.0.1:{sink.port}/stats?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        found: dict[str, Any] = orjson.loads(response.read())
        return found


def expected_count(start: float, rate: float, lo: float, hi: float) -> int:
    """How many requests of the open-loop schedule were due in ``[lo, hi)``."""
    interval = 1.0 / rate
    total = int((hi - start) * rate)
    return sum(1 for k in range(total) if lo <= start + k * interval < hi)


def delivery(sink: servers.Server, prefix: str, step: dict[str, Any]) -> dict[str, Any]:
    """Wait for the step's deliveries at the sink; their count and latency summary."""
    schedule = step["schedule"]
    start, (lo, hi) = schedule["start"], schedule["window"]
    rate = float(step["offered_rate"])
    expected = expected_count(start, rate, lo, hi)
    query = {"prefix": prefix, "start": repr(start), "rate": repr(rate), "from": lo, "to": hi}
    deadline = time.monotonic() + DELIVERY_WAIT_S
    stats = _sink_get(sink, query)
    while stats["delivered"] < expected and time.monotonic() < deadline:
        time.sleep(0.1)
        stats = _sink_get(sink, query)
    _sink_get(sink, {"prefix": prefix}, method="DELETE")
    return {
        "expected": expected,
        "delivered": stats["delivered"],
        "missing": expected - stats["delivered"],
        "duplicates": stats["duplicates"],
        "latency_ms": stats["latency_ms"],
    }


def measure_with(sink: servers.Server) -> ingest.Measure:
    def measure(server: servers.Server, spec: LoadSpec) -> dict[str, Any]:
        sink_cpu, started = sink.cpu_seconds(), time.monotonic()
        step = ingest.run_step(server, spec)
        sink_cores = (sink.cpu_seconds() - sink_cpu) / (time.monotonic() - started)
        step["sink_cpu_cores"] = round(sink_cores, 2)  # part of the set-up, not a disturbance
        step["background_cpu_cores"] = round(max(0.0, step["background_cpu_cores"] - sink_cores), 2)
        step["delivery"] = delivery(sink, spec.prefix, step)
        return step

    return measure


def passed(step: dict[str, Any], plan: ingest.IngestPlan) -> bool:
    shipped = step["delivery"]
    return bool(
        ingest.passed(step, plan)
        and shipped["missing"] == 0
        and shipped["latency_ms"]["p99"] <= plan.p99_bound_ms
    )


def _start(name: str, workdir: Path, target: str) -> servers.Server:
    if name == "interlock":
        return servers.start_interlock(
            workdir, ROUTES_E2E, with_transform=True, env={"BENCH_SINK_URL": target}
        )
    if name == "forwarder":
        return servers.start_module(
            name, "bench.baselines.forwarder", workdir, "--target", f"{target}/orders"
        )
    if name == "celery":
        return servers.start_module(
            name, "bench.baselines.celery_app", workdir, "--target", f"{target}/orders", tree=True
        )
    return servers.start_module(
        name,
        "bench.baselines.nodered",
        workdir,
        "--target",
        f"{target}/orders",
        "--user-dir",
        str(workdir / "nodered"),
    )


def unavailable(name: str) -> str | None:
    """Why target ``name`` cannot run here (None: it can)."""
    if name == "celery":
        return celery_app.unavailable()
    if name == "nodered":
        return nodered.unavailable()
    return None


def warm(server: servers.Server, sink: servers.Server, seconds: float) -> None:
    """One unrecorded step, so a cold start (Node's JIT, Celery's pool) is not measured."""
    prefix = f"{server.name[0]}warm"
    spec = LoadSpec(
        port=server.port,
        rate=WARM_RATE,
        duration_s=seconds,
        warmup_s=0.0,
        connections=8,
        prefix=prefix,
    )
    ingest.run_step(server, spec)
    time.sleep(1.0)  # let queued deliveries land
    _sink_get(sink, {"prefix": prefix}, method="DELETE")
    server.wait_quiet()


def run(
    plan: ingest.IngestPlan, targets: tuple[str, ...] = ALL_TARGETS, warm_s: float = WARM_S
) -> dict[str, Any]:
    """Start the sink and the targets, search each one's sustained end-to-end rate, stop all."""
    result: dict[str, Any] = {
        "plan": dataclasses.asdict(plan),
        "delivery_wait_s": DELIVERY_WAIT_S,
        "warm_up": {"rate": WARM_RATE, "seconds": warm_s},
        "targets": {},
        "skipped": {},
        "exit_codes": {},
        "versions": {"node_red": nodered.version()},
    }
    with tempfile.TemporaryDirectory(prefix="interlock-bench-e2e-") as tmp:
        workdir = Path(tmp)
        spawned: list[servers.Server] = []
        try:
            sink = servers.start_module("sink", "bench.baselines.sink", workdir)
            spawned.append(sink)
            sink_url = f"http://127.0.0.1:{sink.port}"
            started: list[servers.Server] = []
            for name in targets:
                reason = unavailable(name)
                if reason is not None:
                    result["skipped"][name] = reason
                    print(f"  {name:<9} skipped: {reason}", flush=True)
                    continue
                try:
                    server = _start(name, workdir, sink_url)
                except OSError as exc:
                    result["skipped"][name] = f"cannot start: {exc}"
                    continue
                spawned.append(server)
                started.append(server)
            sink.wait_ready()
            ready: list[servers.Server] = []
            for server in started:
                try:
                    server.wait_ready(timeout=60.0)
                except RuntimeError as exc:
                    result["skipped"][server.name] = str(exc)[-2000:]
                    continue
                ready.append(server)
            for server in ready if warm_s > 0 else []:
                warm(server, sink, warm_s)
            result["targets"] = ingest.compare(
                ready, plan, measure=measure_with(sink), check=passed, closed_loop=False
            )
        finally:
            for server in reversed(spawned):
                result["exit_codes"][server.name] = server.stop()
                if server.name != "sink" and server.name not in result["targets"]:
                    result.setdefault("log_tails", {})[server.name] = server.tail(15)
    _ratios(result)
    return result


def _ratios(result: dict[str, Any]) -> None:
    rates = {name: t["sustained_rate"] for name, t in result["targets"].items()}
    result["ratios"] = {
        "interlock_vs_forwarder": ingest.ratio(rates.get("interlock"), rates.get("forwarder")),
        "interlock_vs_nodered": ingest.ratio(rates.get("interlock"), rates.get("nodered")),
        "interlock_vs_celery": ingest.ratio(rates.get("interlock"), rates.get("celery")),
    }
    result["goals"] = {
        "interlock_vs_forwarder": 0.8,  # issue "The hot path" (was 0.6)
        "interlock_vs_nodered": 1.5,
        "interlock_vs_celery": 3.0,
    }
