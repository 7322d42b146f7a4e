"""Overload: ``interlock run`` offered twice its sustainable ingest rate, then left to drain.

Against ``interlock run --routes bench/routes_http`` (null connector), one open-loop step at
``factor`` x the sustainable rate (the ingest scenario's, when it ran in the same invocation,
else :data:`FALLBACK_SUSTAINED`). Meanwhile two sampler threads read the server's ``VmRSS`` from
``/proc/PID/status`` and the admin API's ``/readiness`` every 100 ms. Reported: peak RSS, the
answers (202 accepted, 503 shed, anything else) with the latency of the accepted and of the shed
ones apart (``accepted_latency_ms``, ``shed_latency_ms``: a fast 503 must not make the accepted
requests' p99 look better), whether every accepted message is in the journal (``records.msg``
equals the 202s once ``records.pending`` is 0) and the drain time, from the end of the offered
load to the first sample with nothing pending.
"""

from __future__ import annotations

import dataclasses
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from bench import servers
from bench.loadgen import LoadSpec
from bench.scenarios import ingest

FALLBACK_SUSTAINED = 1400.0  # interlock's sustained ingest rate, docs/benchmarks.md, 2026-11-25
SAMPLE_S = 0.1


@dataclasses.dataclass(frozen=True, slots=True)
class OverloadPlan:
    duration_s: float = 60.0  # the goal is stated for 60 s at 2x, so `make bench` runs that
    factor: float = 2.0
    connections: int = 512  # enough that the backlog reaches the server, not the client queue
    drain_timeout_s: float = 300.0  # after the load: how long pending deliveries may take
    answer_wait_s: float = 10.0  # after the last request was due: unanswered ones then time out


FULL_PLAN = OverloadPlan()  # `--full` runs the same overload as `make bench`
SMOKE_PLAN = OverloadPlan(duration_s=2.0, connections=32, drain_timeout_s=20.0, answer_wait_s=5.0)


def sustained_from(result: dict[str, Any]) -> float | None:
    """Interlock's sustained ingest rate from this invocation's ``ingest`` result, if any."""
    ing = result.get("ingest", {})
    if ing.get("status") != "ok":
        return None
    rate = ing.get("targets", {}).get("interlock", {}).get("sustained_rate")
    return float(rate) if rate else None


def rss_kib(pid: int) -> int | None:
    """``VmRSS`` of ``pid`` in KiB; None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class Admin:
    """The admin API of one ``interlock run`` (bearer token from ``DATA_DIR/admin.token``)."""

    def __init__(self, port: int, data_dir: Path) -> None:
        self.url = f"http://127.0.0.1:{port}/readiness"
        self.data_dir = data_dir
        self._token = ""

    def readiness(self) -> dict[str, Any]:
        if not self._token:
            self._token = (self.data_dir / "admin.token").read_text().split(",")[0].strip()
        request = urllib.request.Request(
            self.url, headers={"Authorization": f"Bearer {self._token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            found: dict[str, Any] = orjson.loads(response.read())
            return found


class Sampler(threading.Thread):
    """Every :data:`SAMPLE_S`: the server's ``VmRSS`` (``admin`` None) or its pending count.

    Two samplers run side by side so a slow admin answer under load never delays an RSS sample.
    """

    def __init__(self, pid: int, admin: Admin | None = None) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.admin = admin
        self.peak_kib = 0
        self.samples = 0
        self.pending: list[tuple[float, int]] = []  # (monotonic time, pending deliveries)
        self.admin_errors = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            if self.admin is None:
                rss = rss_kib(self.pid)
                if rss is not None:
                    self.peak_kib = max(self.peak_kib, rss)
                    self.samples += 1
            else:
                try:
                    records = self.admin.readiness()["records"]
                    self.pending.append((time.monotonic(), int(records["pending"])))
                except (OSError, ValueError, KeyError):
                    self.admin_errors += 1
            self.stopping.wait(SAMPLE_S)

    def drained_at(self, after: float) -> float | None:
        """The time of the first sample at or after ``after`` with nothing pending."""
        return next((t for t, n in self.pending if t >= after and n == 0), None)

    def max_pending(self) -> int:
        return max((n for _, n in self.pending), default=0)


def _wait_drained(sampler: Sampler, after: float, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at = sampler.drained_at(after)
        if at is not None:
            return at
        time.sleep(SAMPLE_S / 2)
    return None


def run(plan: OverloadPlan, sustained: float | None = None) -> dict[str, Any]:
    """Start ``interlock run``, overload it for ``plan.duration_s``, wait for the drain."""
    base = sustained or FALLBACK_SUSTAINED
    rate = round(base * plan.factor)
    result: dict[str, Any] = {
        "plan": dataclasses.asdict(plan),
        "sustained_rate": base,
        "sustained_from": "ingest" if sustained else "constant",
        "offered_rate": rate,
    }
    with tempfile.TemporaryDirectory(prefix="interlock-bench-overload-") as tmp:
        workdir = Path(tmp)
        admin_port = servers.free_port()
        server = servers.start_interlock(
            workdir, ingest.ROUTES_HTTP, env={"INTERLOCK_ADMIN_PORT": str(admin_port)}
        )
        try:
            server.wait_ready()
            admin = Admin(admin_port, workdir / "interlock-data")
            memory, sampler = Sampler(server.proc.pid), Sampler(server.proc.pid, admin)
            result["rss_at_start_kib"] = rss_kib(server.proc.pid)
            memory.start()
            sampler.start()
            print(f"  interlock offered {rate}/s for {plan.duration_s:g} s", flush=True)
            spec = LoadSpec(
                port=server.port,
                rate=float(rate),
                duration_s=plan.duration_s,
                warmup_s=0.0,  # every request counts: the journal is checked against the 202s
                connections=plan.connections,
                prefix="ovl",
                drain_s=plan.answer_wait_s,
            )
            step = ingest.run_step(server, spec)
            load_end = float(step["schedule"]["window"][1])
            drained = _wait_drained(sampler, load_end, plan.drain_timeout_s)
            for thread in (memory, sampler):
                thread.stopping.set()
                thread.join(5)
            records = admin.readiness()["records"]
        finally:
            result["exit_code"] = server.stop()
            if result["exit_code"] != 0:
                result["log_tail"] = server.tail(10)
    statuses: dict[str, int] = step["statuses"]
    accepted = statuses.get("202", 0)
    shed = statuses.get("503", 0)
    result.update(
        {
            "duration_s": plan.duration_s,
            "requests": sum(statuses.values()),
            "accepted": accepted,
            "shed": shed,
            "other": {k: v for k, v in statuses.items() if k not in ("202", "503")},
            "accepted_per_s": round(accepted / plan.duration_s, 1),
            "latency_ms": step["latency_ms"],
            # Accepted (202) and shed (503) answers apart; None when there was none of the kind.
            "accepted_latency_ms": step["latency_by_status_ms"].get("202"),
            "shed_latency_ms": step["latency_by_status_ms"].get("503"),
            "p99_bound_ms": ingest.IngestPlan().p99_bound_ms,  # the search's pass bound
            "loadgen_limited": step["loadgen"]["limited"],
            "server_cpu_us_per_request": step["server_cpu_us_per_request"],
            "server_cpu_us_per_accepted": step["server_cpu_us_per_accepted"],
            "background_cpu_cores": step["background_cpu_cores"],
            "peak_rss_kib": memory.peak_kib,
            "rss_samples": memory.samples,
            "admin_errors": sampler.admin_errors,
            "max_pending": sampler.max_pending(),
            "journal_messages": records["msg"],
            "journal_pending": records["pending"],
            "journal_dead": records["dlq"],
            # A request the load generator gave up on may still have been journaled: more
            # messages than 202s is not a loss, fewer is.
            "lost": max(0, accepted - records["msg"]),
            "journal_equals_accepted": records["msg"] == accepted,
            "no_loss": records["pending"] == 0 and records["msg"] >= accepted,
            "drained": drained is not None,
            "drain_s": None if drained is None else round(max(0.0, drained - load_end), 2),
        }
    )
    return result
