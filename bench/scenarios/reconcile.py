"""Reconciliation: the payments-daily job over 10,000 and 100,000 records per side.

For each size, the vendor simulators run in this process (:class:`SimulatorThread`), seeded with
:class:`simulators.datasets.Payments`: ``n`` paid Stripe invoices and their NetSuite customer
payments with about 1 % drift (a third each missing, mismatched and extra payments), so the repair
and park paths run too. ``interlock run`` serves a temp copy of the shipped ``routes/`` in a child
process of its own, so its RSS is the router's alone, never the simulators' data. The run is
started through the admin API (``POST /jobs/payments-daily/run``) and polled
(``GET /runs/{id}``) until it is no longer running; meanwhile a thread samples the router's
``/proc/PID/status`` every 50 ms.

Reported per size: records/s (both sides' records over the run's own ``seconds``), RSS at start,
peak RSS (and its anonymous and file-backed parts: LMDB's mapped pages count in VmRSS), ``VmHWM``,
the router's CPU; across sizes the peak RSS growth and the ratio of the rates. A run whose counts
or handled exceptions differ from the seeded drift, or whose repairs do not all reach NetSuite
with Stripe's amount, fails the scenario with what differed.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import yaml

from bench import servers
from bench.machine import REPO

if TYPE_CHECKING:  # imported when run: a broken simulator import fails this scenario only
    from simulators.datasets import Payments
    from simulators.runner import SimulatorThread

JOB = "payments-daily"  # routes/payments-daily.yaml
RECON = "stripe-payments-vs-netsuite"  # routes/stripe-payments-vs-netsuite.yaml
SAMPLE_S = 0.05
POLL_S = 0.1  # GET /runs/{id}: often enough to see the phases, rarely enough to cost nothing
# The shipped netsuite limit (50/s, burst 20) paces the repairs' upserts after the run, so at
# 100k the drain would take tens of seconds; the reads (100 SuiteQL pages at most) are barely
# touched by it. Raised in the temp copy only.
NETSUITE_LIMIT = {"rate_per_s": 10_000, "burst": 1_000}
STATUS_FIELDS = ("VmRSS", "RssAnon", "RssFile", "VmHWM")


@dataclasses.dataclass(frozen=True, slots=True)
class ReconcilePlan:
    sizes: tuple[int, ...] = (10_000, 100_000)  # records per side (Stripe invoices)
    drift: float = 0.01  # of the records, split evenly: missing, mismatched, extra payments
    seed: int = 5
    run_timeout_s: float = 1800.0
    settle_timeout_s: float = 300.0  # after the run: the repairs delivered to NetSuite


FULL_PLAN = ReconcilePlan()  # `--full` measures the same sizes as `make bench`
SMOKE_PLAN = ReconcilePlan(sizes=(1_000, 2_000), run_timeout_s=120.0, settle_timeout_s=60.0)


class DriftMismatchError(RuntimeError):
    """The run did not find (or repair) exactly the seeded drift: its figures mean nothing."""


def label(n: int) -> str:
    """``10k`` for 10,000: the size as the ratio keys name it."""
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def ratio_key(plan_sizes: list[int]) -> str:
    """The ``ratios`` key of the largest size's rate over the smallest's."""
    return f"reconcile_{label(max(plan_sizes))}_vs_{label(min(plan_sizes))}_rate"


def status_kib(pid: int) -> dict[str, int]:
    """The :data:`STATUS_FIELDS` of ``/proc/PID/status`` in KiB; empty once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in STATUS_FIELDS:
            found[name] = int(rest.split()[0])
    return found


class MemorySampler(threading.Thread):
    """The router's peak VmRSS, RssAnon and RssFile, each over samples every :data:`SAMPLE_S`.

    The peaks are kept apart because they need not fall on the same sample; ``VmHWM`` read at
    the end is the kernel's own peak of VmRSS, which no 50 ms sampling can miss.
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True, name="reconcile-rss")
        self.pid = pid
        self.peaks: dict[str, int] = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
        self.samples = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            found = status_kib(self.pid)
            if found:
                self.samples += 1
                for name in self.peaks:
                    self.peaks[name] = max(self.peaks[name], found.get(name, 0))
            self.stopping.wait(SAMPLE_S)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


class Admin:
    """The router's admin API with its bearer token (``DATA_DIR/admin.token``).

    A 503 (the scheduler not started yet) or a refused connection is retried until ``patience``.
    """

    def __init__(self, port: int, data_dir: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.data_dir = data_dir

    def call(self, method: str, path: str, patience: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + patience
        while True:
            try:
                token = (self.data_dir / "admin.token").read_text().split(",")[0].strip()
                request = urllib.request.Request(
                    self.base + path,
                    method=method,
                    data=b"" if method == "POST" else None,
                    headers={"Authorization": f"Bearer {token}"},
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    found: dict[str, Any] = orjson.loads(response.read())
                    return found
            except urllib.error.HTTPError as exc:
                if exc.code != 503 or time.monotonic() > deadline:
                    raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from exc
            except (OSError, FileNotFoundError):
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)


def copy_routes(target: Path) -> dict[str, Any]:
    """``routes/`` copied to ``target`` with netsuite's rate limit raised; the limits, both."""
    shutil.copytree(REPO / "routes", target)
    connectors = target / "connectors.yaml"
    document: dict[str, Any] = yaml.safe_load(connectors.read_text())
    shipped = document["netsuite"].get("rate_limit")
    document["netsuite"]["rate_limit"] = dict(NETSUITE_LIMIT)
    connectors.write_text(yaml.safe_dump(document, sort_keys=False))
    return {"shipped": shipped, "bench": dict(NETSUITE_LIMIT)}


def expected(data: Payments) -> tuple[dict[str, int], dict[str, int]]:
    """The counts and ``handled`` outcomes the run must report for the seeded ``data``."""
    counts = {"matched": data.n - data.missing - data.mismatched, **data.drift.counts()}
    handled = {
        "missing_right:repaired": data.missing,
        "mismatched:repaired": data.mismatched,
        "missing_left:parked": data.extra,
    }
    return counts, {k: v for k, v in handled.items() if v}


def check_run(run: dict[str, Any], data: Payments) -> dict[str, Any]:
    """The reconciliation's progress of a finished run; DriftMismatchError unless it is exactly
    the seeded drift, handled as the route says (repair missing and mismatched, park extra)."""
    if run["state"] != "succeeded":
        raise DriftMismatchError(f"run {run['id']} {run['state']}: {run['reason']}")
    recon = next(r for r in run["reconciliations"] if r["reconciliation"] == RECON)
    counts, handled = expected(data)
    sides = recon["sides"]
    records = (sides["left"]["records"], sides["right"]["records"])
    want = (data.n, data.n - data.missing + data.extra)
    problems = []
    if recon["counts"] != counts:
        problems.append(f"counts {recon['counts']} != seeded {counts}")
    if recon["handled"] != handled:
        problems.append(f"handled {recon['handled']} != {handled}")
    if records != want:
        problems.append(f"records per side {records} != {want}")
    if problems:
        raise DriftMismatchError(f"run {run['id']}: " + "; ".join(problems))
    return dict(recon)


def check_repairs(sims: SimulatorThread, data: Payments) -> None:
    """Every payment in NetSuite once (the missing ones created) and every repaired one with the
    amount Stripe charged; DriftMismatchError otherwise."""
    netsuite = sims.set.simulator("netsuite")
    found: dict[str, Any] = sims.call(
        lambda: {str(r.external_id): r.data for r in netsuite.store.all("customerPayment")},
        timeout=60,
    )
    if len(found) != data.n + data.extra:
        raise DriftMismatchError(f"{len(found)} NetSuite payments, want {data.n + data.extra}")
    wrong = []
    for key in sorted(data.drift.missing_right | data.drift.mismatched):
        index = int(key.removeprefix("stripe-in_recon").removesuffix("-payment"))
        payment = found.get(key)
        if payment is None or round(payment["payment"] * 100) != data.amount(index):
            wrong.append(key)
    if wrong:
        raise DriftMismatchError(f"{len(wrong)} repairs not applied, e.g. {wrong[:3]}")


def _settle(admin: Admin, repairs: int, timeout: float) -> dict[str, Any]:
    """Wait for the journal to hold ``repairs`` messages, none pending: every repair delivered."""
    deadline = time.monotonic() + timeout
    while True:
        records: dict[str, Any] = admin.call("GET", "/readiness")["records"]
        if records["pending"] == 0 and records["msg"] >= repairs:
            return records
        if time.monotonic() > deadline:
            raise DriftMismatchError(f"repairs not delivered after {timeout:g} s: {records}")
        time.sleep(POLL_S)


def _wait_run(
    admin: Admin, run_id: str, started: float, timeout: float
) -> tuple[dict[str, Any], dict[str, float]]:
    """Poll the run until it is no longer running; also when each phase was first seen (s)."""
    seen: dict[str, float] = {}
    deadline = started + timeout
    while True:
        run = admin.call("GET", f"/runs/{run_id}")
        now = time.monotonic() - started
        for recon in run["reconciliations"]:
            seen.setdefault(recon["phase"], round(now, 2))
        if run["state"] != "running":
            return run, seen
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} still running after {timeout:g} s: {run}")
        time.sleep(POLL_S)


def measure(n: int, plan: ReconcilePlan, workdir: Path) -> dict[str, Any]:
    """Seed ``n`` records per side, run the job once in a fresh ``interlock run``, check it."""
    from simulators.datasets import Payments
    from simulators.runner import SimulatorThread, routes_env

    each = max(1, round(n * plan.drift / 3))
    data = Payments(n=n, missing=each, mismatched=each, extra=each, seed=plan.seed)
    result: dict[str, Any] = {
        "records_per_side": n,
        "drift": {"missing": each, "mismatched": each, "extra": each},
    }
    routes = workdir / "routes"
    result["netsuite_rate_limit"] = copy_routes(routes)
    with SimulatorThread() as sims:
        print(f"  seeding {n:,} invoices and their payments ({each:,} of each drift) ...")
        began = time.monotonic()
        stripe, netsuite = sims.set.simulator("stripe"), sims.set.simulator("netsuite")
        sims.call(lambda: stripe.seed_many("invoice", data.invoices()), timeout=600)
        sims.call(lambda: netsuite.seed_many("customerPayment", data.payments()), timeout=600)
        result["seed_s"] = round(time.monotonic() - began, 2)
        admin_port = servers.free_port()
        env = {**routes_env(sims), "INTERLOCK_ADMIN_PORT": str(admin_port)}
        server = servers.start_interlock(workdir, routes, env=env)
        try:
            server.wait_ready()
            admin = Admin(admin_port, workdir / "interlock-data")
            pid = server.proc.pid
            result["rss_at_start_kib"] = status_kib(pid).get("VmRSS")
            memory = MemorySampler(pid)
            memory.start()
            cpu_before, bench_before = server.cpu_seconds(), time.process_time()
            began = time.monotonic()
            run_id = str(admin.call("POST", f"/jobs/{JOB}/run")["id"])
            run, phases = _wait_run(admin, run_id, began, plan.run_timeout_s)
            wall = time.monotonic() - began
            memory.stop()
            router_cpu = server.cpu_seconds() - cpu_before
            bench_cpu = time.process_time() - bench_before
            result["hwm_kib"] = status_kib(pid).get("VmHWM")
            recon = check_run(run, data)
            repairs = data.missing + data.mismatched
            settled_at = time.monotonic()
            journal = _settle(admin, repairs, plan.settle_timeout_s)
            result["repairs_delivered_s"] = round(time.monotonic() - settled_at, 2)
            check_repairs(sims, data)
        finally:
            result["exit_code"] = server.stop()
            if result["exit_code"] != 0:
                result["log_tail"] = server.tail(10)
    sides = recon["sides"]
    records = sides["left"]["records"] + sides["right"]["records"]
    seconds = float(run["seconds"])
    result.update(
        {
            "run_id": run_id,
            "run_s": round(seconds, 3),
            "wall_s": round(wall, 3),  # POST to the poll that saw it end: up to POLL_S more
            "phases_seen_s": phases,  # the first poll that saw each phase, from the POST
            "records": records,
            "records_per_s": round(records / seconds, 1),
            "pages": {side: sides[side]["pages"] for side in ("left", "right")},
            "counts": recon["counts"],
            "handled": recon["handled"],
            "counts_equal_drift": True,  # check_run raised otherwise
            "repairs": repairs,
            "journal_messages": journal["msg"],
            "peak_rss_kib": memory.peaks["VmRSS"],
            "peak_rss_anon_kib": memory.peaks["RssAnon"],
            "peak_rss_file_kib": memory.peaks["RssFile"],
            "rss_samples": memory.samples,
            "router_cpu_s": round(router_cpu, 2),
            "router_cpu_util": round(router_cpu / wall, 3) if wall else None,
            # This process's CPU meanwhile: mostly the simulators serving the pages.
            "bench_cpu_s": round(bench_cpu, 2),
        }
    )
    return result


def run(plan: ReconcilePlan) -> dict[str, Any]:
    """Each of ``plan.sizes`` in turn, each in a fresh router and fresh simulators."""
    result: dict[str, Any] = {"plan": dataclasses.asdict(plan), "job": JOB, "reconciliation": RECON}
    sizes: dict[str, dict[str, Any]] = {}
    for n in plan.sizes:
        with tempfile.TemporaryDirectory(prefix="interlock-bench-reconcile-") as tmp:
            figures = measure(n, plan, Path(tmp))
        sizes[str(n)] = figures
        print(
            f"  {n:,} per side: {figures['records_per_s']:,.0f} records/s in "
            f"{figures['run_s']:.2f} s, peak RSS {figures['peak_rss_kib'] / 1024:,.0f} MiB",
            flush=True,
        )
    result["sizes"] = sizes
    result["netsuite_rate_limit"] = next(iter(sizes.values()))["netsuite_rate_limit"]
    small, large = sizes[str(min(plan.sizes))], sizes[str(max(plan.sizes))]
    result.update(
        {
            "small": min(plan.sizes),
            "large": max(plan.sizes),
            "compared": f"{label(max(plan.sizes))} vs {label(min(plan.sizes))}",
            "ratio_key": ratio_key(list(plan.sizes)),
            "rate_ratio": round(large["records_per_s"] / small["records_per_s"], 3),
            "peak_rss_growth_mib": round((large["peak_rss_kib"] - small["peak_rss_kib"]) / 1024, 1),
            "peak_rss_anon_growth_mib": round(
                (large["peak_rss_anon_kib"] - small["peak_rss_anon_kib"]) / 1024, 1
            ),
        }
    )
    return result
