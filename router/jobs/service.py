"""The durable scheduler: slots claimed in LMDB, one active run per job, resume after a crash.

On start it first resumes every run left ``running`` by a crash (from its checkpoints), then looks
at each job's slots since the last one it claimed: slots that came due while the router was down
are *missed*, and the job's policy either runs once for all of them (``run_once``) or records
them as skipped (``skip``). A job never seen before starts its schedule now: nothing is missed.
While running, a timer wakes at the next slot (and at least each minute, so a clock change is
noticed); a slot that comes due while the job's previous run is still going is recorded as
skipped (as Kubernetes' CronJob ``concurrencyPolicy: Forbid`` does), never run twice at once.

All store access happens on one thread of its own (``interlock-jobs``), so the event loop never
waits for an fsync; runs are tasks on the loop, where the connectors live.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from router.errors import ConflictError, InterlockError, UnknownInstanceError
from router.jobs.cron import Cron, Schedule, zone
from router.jobs.metrics import JobMetrics
from router.jobs.reconcile import DeadLetter, Reconciliation, RunFailedError
from router.jobs.spec import JobSpec, ReconciliationSpec
from router.logs import get_logger
from router.runtime.outlet import Outlet
from router.source_handler import Emit
from router.store.jobs import RUNNING, JobStore

log = get_logger("interlock.jobs")
MAX_SLEEP_S = 60.0
Clock = Callable[[], float]


def schedule_of(spec: JobSpec) -> Schedule:
    s = spec.schedule
    return Schedule(Cron.parse(s.cron) if s.cron else None, s.every, zone(s.timezone))


class JobService:
    def __init__(
        self,
        jobs: dict[str, JobSpec],
        reconciliations: dict[str, ReconciliationSpec],
        data_dir: Path,
        sync: bool,
        outlets: dict[str, Outlet],
        emit: Emit,
        registry: CollectorRegistry,
        clock: Clock = time.time,
        dead_letter: DeadLetter = lambda _message_id: None,
        metrics: JobMetrics | None = None,
    ) -> None:
        self.jobs = jobs
        self.reconciliations = reconciliations
        self.schedules = {name: schedule_of(spec) for name, spec in jobs.items()}
        self.store = JobStore(data_dir / "jobs", sync=sync)
        self.outlets = outlets
        self.emit = emit
        # A service started again (cluster mode: this instance became the scheduler again) keeps
        # the families it registered the first time.
        self.metrics = metrics or JobMetrics(registry)
        self.clock = clock
        self.dead_letter = dead_letter
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="interlock-jobs")
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._tick: asyncio.Task[None] | None = None
        self._stopping = False
        self._last: dict[str, float] = {}  # each job's newest slot claimed, as the timer reads it
        for name in jobs:
            self.metrics.last_success.labels(name).set(0)

    async def offload(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the job thread (every store access goes there)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        for run in await self.offload(self.store.active_runs):
            if run["job"] in self.jobs:
                run["resumed"] = run.get("resumed", 0) + 1
                log.info("job_run_resumed", run=run["id"])
                self._launch(run)
            else:  # its job file was removed: the run cannot go on
                run.update(state="failed", reason="the job no longer exists")
                await self.offload(self._finish, run)
        for name in self.jobs:
            await self._due(name, starting=True)
        self._arm()

    async def stop(self) -> None:
        """Stop the timer and the runs; a run stopped here resumes from its checkpoint on start."""
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
        if self._tick is not None:  # a wake-up in progress must not claim a slot after this
            self._tick.cancel()
        tasks = [*self._tasks.values(), *([self._tick] if self._tick else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)
        self.store.close()

    # -- slots -------------------------------------------------------------------------------------

    def _arm(self) -> None:
        if self._stopping:
            return
        now = self.clock()
        due = [self.schedules[n].next_after(self._last.get(n, now)) for n in self.jobs]
        delay = min([MAX_SLEEP_S, *(max(0.0, d - now) for d in due)])
        self._timer = asyncio.get_running_loop().call_later(delay, self._wake)

    def _wake(self) -> None:
        async def tick() -> None:
            for name in self.jobs:
                await self._due(name, starting=False)
            self._arm()

        self._tick = asyncio.get_running_loop().create_task(tick())
        self._tick.add_done_callback(_log_failure)

    async def _due(self, name: str, *, starting: bool) -> None:
        """Start what the slots since the last claimed one call for."""
        now = self.clock()
        last = await self.offload(self.store.last_slot, name)
        if last is None:  # a new job: its schedule starts now
            await self.offload(self.store.set_last_slot, name, now)
            self._last[name] = now
            return
        self._last[name] = last
        slots = self.schedules[name].slots_between(last, now)
        if not slots:
            return
        spec = self.jobs[name]
        newest = slots[-1]
        self._last[name] = newest
        missed = starting or len(slots) > 1
        if name in self._tasks:
            await self._skip(name, newest, len(slots), "the previous run was still running")
        elif missed and spec.missed == "skip":
            why = f"{len(slots)} slot(s) missed while the router was down; policy: skip"
            await self._skip(name, newest, len(slots), why)
        else:
            trigger = "missed" if missed else "schedule"
            await self._begin(name, trigger, newest, len(slots) if missed else 0)

    async def _skip(self, name: str, slot: float, count: int, reason: str) -> None:
        record = self._record(name, "schedule", slot, count)
        record.update(state="skipped", reason=reason, finished_at=self.clock())
        stored = await self.offload(self.store.start_run, name, record, slot)
        if stored is not None:
            self.metrics.runs.labels(name, "skipped").inc()
            log.info("job_slot_skipped", job=name, run=stored["id"], reason=reason)

    def _record(self, name: str, trigger: str, slot: float | None, missed: int) -> dict[str, Any]:
        return {
            "job": name,
            "trigger": trigger,
            "slot": slot,
            "missed": missed,
            "state": RUNNING,
            "started_at": self.clock(),
            "finished_at": None,
            "reason": None,
            "resumed": 0,
            "recons": {},
        }

    async def _begin(
        self, name: str, trigger: str, slot: float | None, missed: int
    ) -> dict[str, Any] | None:
        run: dict[str, Any] | None = await self.offload(
            self.store.start_run, name, self._record(name, trigger, slot, missed), slot
        )
        if run is not None:
            log.info("job_run_started", job=name, run=run["id"], trigger=trigger)
            self._launch(run)
        return run

    async def run_now(self, name: str) -> dict[str, Any]:
        """Start a manual run; ConflictError while one is active (at most one at a time)."""
        if name not in self.jobs:
            raise UnknownInstanceError(f"no job named {name!r}")
        if name in self._tasks:
            raise ConflictError(f"job {name!r} is running ({self._tasks[name].get_name()})")
        run = await self._begin(name, "manual", None, 0)
        if run is None:
            raise ConflictError(f"job {name!r} has a run in progress")
        return run

    async def wait(self, name: str) -> None:
        """Wait for the job's current run, if any, to end (tests, `jobs run --wait`)."""
        task = self._tasks.get(name)
        if task is not None:
            await asyncio.shield(task)

    # -- a run -------------------------------------------------------------------------------------

    def _launch(self, run: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._execute(run), name=run["id"])
        job: str = run["job"]
        self._tasks[job] = task
        task.add_done_callback(lambda _task: self._tasks.pop(job, None))

    async def _execute(self, run: dict[str, Any]) -> None:
        spec = self.jobs[run["job"]]
        started = time.monotonic()
        try:
            async with asyncio.timeout(spec.timeout):
                for recon in spec.reconcile:
                    await self._reconciliation(recon).run(run)
            run.update(state="succeeded", reason=None)
        except TimeoutError:
            run.update(state="failed", reason=f"timed out after {spec.timeout:g}s")
        except RunFailedError as exc:
            run.update(state="failed", reason=str(exc))
        except InterlockError as exc:  # storage trouble, a refused alert...
            run.update(state="failed", reason=f"{type(exc).__name__}: {exc}")
        except asyncio.CancelledError:
            raise  # a stop: the run stays `running` and resumes from its checkpoint
        except Exception as exc:  # a bug fails the run with its reason, never the router
            log.exception("job_run_crashed", run=run["id"])
            run.update(state="failed", reason=f"internal error: {type(exc).__name__}: {exc}")
        run["finished_at"] = self.clock()
        run["seconds"] = run.get("seconds", 0.0) + time.monotonic() - started
        await self.offload(self._finish, run)

    def _finish(self, run: dict[str, Any]) -> None:
        self.store.finish_run(run)
        outcome = run["state"]
        self.metrics.runs.labels(run["job"], outcome).inc()
        self.metrics.duration.labels(run["job"], outcome).observe(run.get("seconds", 0.0))
        if outcome == "succeeded":
            self.metrics.last_success.labels(run["job"]).set(run["finished_at"])
        log.info("job_run_finished", run=run["id"], state=outcome, reason=run["reason"])

    def _reconciliation(self, name: str) -> Reconciliation:
        return Reconciliation(
            self.reconciliations[name],
            self.outlets,
            self.store,
            self.offload,
            self.emit,
            self.metrics,
            self.dead_letter,
        )


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("job_tick_failed", error=repr(task.exception()))
