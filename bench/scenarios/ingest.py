"""HTTP durable ingest (``interlock run``) against two baselines, same load, same run.

The targets, each in its own process: ``bare`` (an aiohttp handler that reads the body and
answers, nothing durable), ``limit`` (a tight journal-only durable ingest on the same stack:
``bench/baselines/limit.py``) and ``interlock`` (``interlock run --routes bench/routes_http``).

For each target: an open-loop throughput search (offered rate stepped up; a step *passes* when
nothing failed, p99 from the intended send time is within the bound and the answered rate is at
least 95 % of the offered rate), then a bisection between the last passing and the first failing
rate. Then one open-loop step at half of Interlock's sustained rate for ``bare`` and
``interlock`` (their ack p99 at the same, comfortable rate), and closed-loop maximum-throughput
measures at each of ``closed_connections`` (16, 64, 256). The load generator runs in its own
process; each step is one ``python -m bench.loadgen`` subprocess. Steps alternate between the
targets at each rate (and each connection count) so slow drift of the machine affects all alike.
The ratios between the targets are computed by ``bench.report``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench import servers
from bench.loadgen import LoadSpec
from bench.machine import REPO

ROUTES_HTTP = REPO / "bench" / "routes_http"
DISTURBED_CORES = 0.25  # other processes using more than this during a step make it suspect


@dataclasses.dataclass(frozen=True, slots=True)
class IngestPlan:
    ladder: tuple[int, ...] = (500, 1000, 2000, 4000, 8000, 16000)
    bisections: int = 3
    step_s: float = 4.0  # thousands of samples per step where it matters; bench stays ~5 min
    warmup_s: float = 1.0
    p99_bound_ms: float = 50.0
    open_connections: int = 32
    closed_connections: tuple[int, ...] = (16, 64, 256)
    closed_s: float = 4.0  # 9 closed-loop measures (3 targets x 3 counts): about 45 s in all
    # The open-loop step at half of Interlock's sustained rate: which targets run it.
    half_rate_targets: tuple[str, ...] = ("bare", "limit", "interlock")  # limit: the fsync floor
    settle: bool = True  # let a server go quiet after a failed step and before the closed loop
    # The targets' half-rate and closed-loop steps at the same time, one load generator each: the
    # smoke run only checks shapes (never figures) and must stay short. Their figures disturb
    # each other (and `background_cpu_cores` is meaningless then).
    side_by_side: bool = False


SMOKE_PLAN = IngestPlan(
    ladder=(200,),
    bisections=0,
    step_s=0.4,
    warmup_s=0.1,
    closed_s=0.3,
    settle=False,
    side_by_side=True,
    # The smoke run checks shapes, never figures: beside its own side-by-side scenarios on a
    # loaded 2-core machine a 50 ms p99 is a figure (it failed the step, and left the ratio
    # empty). The bound here only catches a server that does not answer at all.
    p99_bound_ms=5000.0,
)


def _busy_cpu_seconds() -> float:
    """CPU seconds all processes on the machine have used (``/proc/stat``); 0 if unknown."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / servers.TICKS


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_loadgen(spec: LoadSpec) -> dict[str, Any]:
    """One load step in a fresh load-generator process (``python -m bench.loadgen``): its result."""
    argv = [sys.executable, "-m", "bench.loadgen", orjson.dumps(dataclasses.asdict(spec)).decode()]
    timeout = spec.warmup_s + spec.duration_s + spec.drain_s + 30
    done = subprocess.run(argv, cwd=REPO, capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.decode(errors='replace')[-2000:]}")
    result: dict[str, Any] = orjson.loads(done.stdout)
    return result


def run_step(server: servers.Server, spec: LoadSpec) -> dict[str, Any]:
    """One load step in a fresh load-generator process, plus the server's CPU per request.

    ``background_cpu_cores``: what other processes on the machine used meanwhile (all busy CPU
    minus the server and the load generator), to flag steps disturbed by something else.
    """
    cpu_before, busy_before = server.cpu_seconds(), _busy_cpu_seconds()
    children_before, started = _children_cpu_seconds(), time.monotonic()
    result = run_loadgen(spec)
    cpu = server.cpu_seconds() - cpu_before
    loadgen_cpu = _children_cpu_seconds() - children_before
    elapsed = time.monotonic() - started
    background = (_busy_cpu_seconds() - busy_before - cpu - loadgen_cpu) / elapsed
    result["background_cpu_cores"] = round(max(0.0, background), 2)
    answered, accepted = result["answered_total"], result["accepted_total"]
    result["server_cpu_us_per_request"] = round(cpu / answered * 1e6, 1) if answered else None
    # The same CPU over the 2xx answers only: what an accepted request costs, shed ones included.
    result["server_cpu_us_per_accepted"] = round(cpu / accepted * 1e6, 1) if accepted else None
    return result


def passed(step: dict[str, Any], plan: IngestPlan) -> bool:
    offered = step["offered_rate"]
    return bool(
        step["errors"] == 0
        and step["latency_ms"]["p99"] <= plan.p99_bound_ms
        and step["throughput"] >= 0.95 * offered
    )


Measure = Callable[[servers.Server, LoadSpec], dict[str, Any]]
Check = Callable[[dict[str, Any], IngestPlan], bool]


class Search:
    """The rate search against one target; ``measure`` runs a step, ``check`` judges it."""

    def __init__(
        self,
        server: servers.Server,
        plan: IngestPlan,
        measure: Measure = run_step,
        check: Check = passed,
    ) -> None:
        self.server = server
        self.plan = plan
        self.measure = measure
        self.check = check
        self.steps: list[dict[str, Any]] = []
        self.best = 0
        self.first_fail: int | None = None
        self.fail_step: dict[str, Any] | None = None

    def _attempt(self, rate: int) -> dict[str, Any]:
        spec = LoadSpec(
            port=self.server.port,
            rate=float(rate),
            duration_s=self.plan.step_s,
            warmup_s=self.plan.warmup_s,
            connections=self.plan.open_connections,
            prefix=f"{self.server.name[0]}{len(self.steps):03d}",
        )
        result = self.measure(self.server, spec)
        result["passed"] = self.check(result, self.plan)
        self.steps.append(result)
        disturbed = result["background_cpu_cores"] > DISTURBED_CORES
        notes = "pass" if result["passed"] else "FAIL"
        if result["loadgen"]["limited"]:
            notes += "  (load generator saturated)"
        if disturbed:
            notes += f"  (other processes used {result['background_cpu_cores']} cores)"
        delivery = result.get("delivery")
        if delivery is not None:
            notes = f"delivered p99 {delivery['latency_ms']['p99']:>9.2f} ms  {notes}"
        print(
            f"  {self.server.name:<9} {rate:>6}/s  p99 {result['latency_ms']['p99']:>9.2f} ms"
            f"  errors {result['errors']:<5} {notes}",
            flush=True,
        )
        return result

    def step(self, rate: int) -> bool:
        """Run ``rate``; a failure while the machine was disturbed is retried once."""
        result = self._attempt(rate)
        suspect = result["loadgen"]["limited"] or result["background_cpu_cores"] > DISTURBED_CORES
        if not result["passed"] and suspect and self.plan.settle:
            self.server.wait_quiet()
            result["superseded"] = True
            result = self._attempt(rate)
        ok = bool(result["passed"])
        if ok:
            self.best = max(self.best, rate)
        elif self.first_fail is None or rate < self.first_fail:
            self.first_fail = rate
            self.fail_step = result
        if not ok and self.plan.settle:
            self.server.wait_quiet()
        return ok

    def next_bisection(self) -> int | None:
        if self.first_fail is None:
            return None
        mid = round((self.best + self.first_fail) / 2 / 50) * 50
        return mid if self.best < mid < self.first_fail else None

    def summary(self) -> dict[str, Any]:
        best_step = next(
            (s for s in self.steps if s["passed"] and s["offered_rate"] == self.best), None
        )
        retried = sum(1 for s in self.steps if s.get("superseded"))
        limited = bool(self.fail_step and self.fail_step["loadgen"]["limited"])
        return {
            "sustained_rate": self.best,
            "first_failed_rate": self.first_fail,
            "at_sustained": best_step,
            "limited_by_loadgen": limited,
            "retried_steps": retried,
            "steps": self.steps,
        }


def _closed(
    server: servers.Server, plan: IngestPlan, connections: int, measure: Measure = run_step
) -> dict[str, Any]:
    spec = LoadSpec(
        port=server.port,
        mode="closed",
        duration_s=plan.closed_s,
        warmup_s=plan.warmup_s,
        connections=connections,
        prefix=f"{server.name[0]}c{connections}",
    )
    result = measure(server, spec)
    print(
        f"  {server.name:<9} closed loop, {connections:>3} conns: {result['throughput']:.0f}/s"
        f"  p99 {result['latency_ms']['p99']:.2f} ms",
        flush=True,
    )
    return result


def half_rate(sustained: float | None) -> int | None:
    """Half of a sustained rate, the comfortable load the ack p99 is compared at."""
    half = int(sustained or 0) // 2
    return half or None


def _half_step(
    server: servers.Server, plan: IngestPlan, rate: int, measure: Measure, check: Check
) -> dict[str, Any]:
    spec = LoadSpec(
        port=server.port,
        rate=float(rate),
        duration_s=plan.step_s,
        warmup_s=plan.warmup_s,
        connections=plan.open_connections,
        prefix=f"{server.name[0]}half",
    )
    result = measure(server, spec)
    result["passed"] = check(result, plan)
    print(
        f"  {server.name:<9} {rate:>6}/s  p99 {result['latency_ms']['p99']:>9.2f} ms"
        f"  errors {result['errors']:<5} (half of interlock's sustained rate)",
        flush=True,
    )
    return result


def compare(
    targets: list[servers.Server],
    plan: IngestPlan,
    measure: Measure = run_step,
    check: Check = passed,
    closed_loop: bool = True,
) -> dict[str, dict[str, Any]]:
    """Run the search against every (ready) target; with ``closed_loop``, then the step at half
    of Interlock's sustained rate and the closed-loop measures (keyed by connection count)."""
    searches = {t.name: Search(t, plan, measure, check) for t in targets}
    if plan.settle:
        for target in targets:
            warm_up(target, plan, measure)
    for rate in plan.ladder:
        for search in searches.values():
            if search.first_fail is None:
                search.step(rate)
    for _ in range(plan.bisections):
        for search in searches.values():
            middle = search.next_bisection()
            if middle is not None:
                search.step(middle)
    out = {name: search.summary() for name, search in searches.items()}
    if closed_loop:
        _after_search(targets, plan, out, measure, check)
    return out


def warm_up(server: servers.Server, plan: IngestPlan, measure: Measure = run_step) -> None:
    """One unrecorded second at the first rung: a fresh server's first commits (new LMDB pages,
    cold caches) once failed the limit baseline's first step, and a search that fails its first
    rung never climbs."""
    spec = LoadSpec(
        port=server.port,
        rate=float(plan.ladder[0]),
        duration_s=1.0,
        warmup_s=0.0,
        connections=plan.open_connections,
        prefix=f"{server.name[0]}warm",
    )
    measure(server, spec)


def _after_search(
    targets: list[servers.Server],
    plan: IngestPlan,
    out: dict[str, dict[str, Any]],
    measure: Measure,
    check: Check,
) -> None:
    """The step at half of Interlock's sustained rate, then the closed loops, into ``out``."""

    def each(
        chosen: list[servers.Server], step: Callable[[servers.Server], dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        if plan.side_by_side:
            with concurrent.futures.ThreadPoolExecutor(len(chosen) or 1) as pool:
                futures = {t.name: pool.submit(step, t) for t in chosen}
            return {name: future.result() for name, future in futures.items()}
        found = {}
        for target in chosen:  # one after the other, alternating between the targets
            if plan.settle:
                target.wait_quiet()
            found[target.name] = step(target)
        return found

    half = half_rate(out["interlock"]["sustained_rate"]) if "interlock" in out else None
    if half is not None:
        chosen = [t for t in targets if t.name in plan.half_rate_targets]
        halves = each(chosen, lambda t: _half_step(t, plan, half, measure, check))
        for name, step in halves.items():
            out[name]["half_sustained"] = step
    for connections in plan.closed_connections:
        closed_step = functools.partial(
            _closed, plan=plan, connections=connections, measure=measure
        )
        closed = each(targets, closed_step)
        for name, step in closed.items():
            out[name].setdefault("closed_loops", {})[str(connections)] = step


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def _start_interlock(workdir: Path, result: dict[str, Any]) -> servers.Server | None:
    try:
        return servers.start_interlock(workdir, ROUTES_HTTP)
    except OSError as exc:
        result["interlock_unavailable"] = str(exc)
        return None


def _ready_interlock(interlock: servers.Server, result: dict[str, Any]) -> servers.Server | None:
    try:
        interlock.wait_ready()
    except RuntimeError as exc:
        interlock.stop()
        result["interlock_unavailable"] = str(exc)[-2000:]
        return None
    return interlock


def run(plan: IngestPlan, with_interlock: bool = True) -> dict[str, Any]:
    """Start the servers, compare them, stop them; ``interlock`` is skipped if it cannot start."""
    result: dict[str, Any] = {"plan": dataclasses.asdict(plan), "targets": {}, "exit_codes": {}}
    with tempfile.TemporaryDirectory(prefix="interlock-bench-") as tmp:
        workdir = Path(tmp)
        spawned: list[servers.Server] = []
        try:
            bare = servers.start_bare(workdir)
            spawned.append(bare)
            limit = servers.start_limit(workdir)
            spawned.append(limit)
            interlock = _start_interlock(workdir, result) if with_interlock else None
            if interlock is not None:
                spawned.append(interlock)
            bare.wait_ready()  # all three start meanwhile
            limit.wait_ready()
            ready = [bare, limit]
            if interlock is not None and _ready_interlock(interlock, result) is not None:
                ready.append(interlock)
            result["targets"] = compare(ready, plan)
        finally:
            for server in spawned:
                result["exit_codes"][server.name] = server.stop()
                if server.name == "interlock" and "interlock_unavailable" not in result:
                    result["interlock_log_tail"] = server.tail(15)
    return result
