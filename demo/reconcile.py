"""The demo's reconciliation part: the shipped jobs run now, as an operator would run them.

After the workflows, the demo starts ``payments-daily`` and ``accounts-hourly`` through the admin
API (``POST /jobs/{job}/run``), follows each run to its end (``GET /runs/{id}``), reads each
reconciliation's report (``GET /runs/{id}/report``), waits for the repairs it sent to be
delivered (``GET /messages`` on the repair routes) and runs ``payments-daily`` once more: that
run must find the repaired payments in step (``missing_right`` and ``mismatched`` 0). Against
``make run`` the data is the simulators' demo seed (``interlock simulate --demo``), whose drift is
known; a second demo finds those records repaired already, and says there is nothing to repair.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from demo.runner import AdminApi
from router.errors import CliError

JOBS = ("payments-daily", "accounts-hourly")
RECHECK = "payments-daily"  # run again once its repairs are delivered
# Where each reconciliation's repairs go (its `repair:` message's route), to see them delivered.
REPAIR_ROUTES = {
    "stripe-payments-vs-netsuite": "payment-repair",
    "accounts-vs-netsuite": "account-to-erp",
}
# Each reconciliation's left and right system, for people (the API says `left` and `right`).
SIDES = {
    "stripe-payments-vs-netsuite": ("Stripe", "NetSuite"),
    "accounts-vs-netsuite": ("Salesforce", "NetSuite"),
    "accounts-vs-stripe": ("Salesforce", "Stripe"),
}
CLASSES = ("matched", "missing_right", "mismatched", "missing_left")
OUT_OF_STEP = ("missing_right", "mismatched")  # what a repair should leave at 0
REPORT_ROWS = 12  # report rows shown per reconciliation; the CLI prints them all
POLL_S = 0.2
MESSAGES_LIMIT = 1000


def sides(reconciliation: str) -> tuple[str, str]:
    return SIDES.get(reconciliation, ("left", "right"))


@dataclass(slots=True)
class Repairs:
    """The repair messages of one reconciliation in one run, and how their delivery went."""

    route: str
    sent: int  # the run's `repaired` outcomes: one new message each
    delivered: int = 0
    dead: int = 0

    @property
    def done(self) -> bool:
        return self.delivered + self.dead >= self.sent

    def as_json(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "sent": self.sent,
            "delivered": self.delivered,
            "dead": self.dead,
        }


@dataclass(slots=True)
class JobRun:
    """One run the demo started: the run as ``GET /runs/{id}`` ends it, and its reports."""

    job: str
    description: str = ""
    run: dict[str, Any] | None = None
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)  # reconciliation -> page
    repairs: dict[str, Repairs] = field(default_factory=dict)
    error: str | None = None  # why the demo could not start, follow or read it

    @property
    def id(self) -> str | None:
        return None if self.run is None else str(self.run.get("id"))

    @property
    def state(self) -> str | None:
        return None if self.run is None else str(self.run.get("state"))

    @property
    def ok(self) -> bool:
        return self.error is None and self.state == "succeeded"

    def reconciliations(self) -> list[dict[str, Any]]:
        return list((self.run or {}).get("reconciliations") or [])

    def counts(self, reconciliation: str) -> dict[str, int]:
        for recon in self.reconciliations():
            if recon.get("reconciliation") == reconciliation:
                return {k: int(recon.get("counts", {}).get(k, 0)) for k in CLASSES}
        return {}

    def in_step(self) -> bool:
        """Nothing left to repair: no record missing on the right, none mismatched."""
        recons = self.reconciliations()
        return bool(recons) and all(
            int(r.get("counts", {}).get(k, 0)) == 0 for r in recons for k in OUT_OF_STEP
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "description": self.description,
            "ok": self.ok,
            "error": self.error,
            "run": self.run,
            "reports": self.reports,
            "repairs": {name: r.as_json() for name, r in self.repairs.items()},
        }


@dataclass(slots=True)
class Reconciling:
    """The whole reconciliation part: the first run of each job, then the recheck."""

    runs: list[JobRun] = field(default_factory=list)
    recheck: JobRun | None = None
    notes: list[str] = field(default_factory=list)  # e.g. Stripe would not record the invoices

    @property
    def ok(self) -> bool:
        """Every run succeeded, and the recheck found nothing left to repair."""
        return (
            bool(self.runs)
            and all(r.ok for r in self.runs)
            and self.recheck is not None
            and self.recheck.ok
            and self.recheck.in_step()
        )

    def problems(self) -> list[str]:
        lines = []
        for r in [*self.runs, *([self.recheck] if self.recheck else [])]:
            if r.error is not None:
                lines.append(f"{r.id or r.job}: {r.error}")
            elif r.state != "succeeded":
                reason = (r.run or {}).get("reason")
                lines.append(f"{r.id}: {r.state}" + (f" ({reason})" if reason else ""))
        if self.recheck is not None and self.recheck.ok and not self.recheck.in_step():
            left = {
                name: {k: v for k, v in self.recheck.counts(name).items() if k in OUT_OF_STEP}
                for name in self.recheck.reports
            }
            lines.append(f"{self.recheck.id} still finds records out of step: {left}")
        if self.runs and self.recheck is None and all(r.ok for r in self.runs):
            lines.append(f"{RECHECK} was not run again")
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "runs": [r.as_json() for r in self.runs],
            "recheck": None if self.recheck is None else self.recheck.as_json(),
            "notes": self.notes,
        }


def missing_jobs(api: AdminApi) -> list[str]:
    """The demo's jobs the router does not have (``GET /jobs``)."""
    answer = api.call("GET", "/jobs")
    found = (
        {str(j.get("id")) for j in (answer.get("jobs") or [])}
        if isinstance(answer, dict)
        else set()
    )
    return [j for j in JOBS if j not in found]


class Operator:
    """Starts the jobs, follows their runs, reads the reports and watches the repairs land."""

    def __init__(
        self,
        api: AdminApi,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api, self.clock, self.sleep = api, clock, sleep

    def descriptions(self) -> dict[str, str]:
        answer = self.api.call("GET", "/jobs")
        jobs = (answer.get("jobs") or []) if isinstance(answer, dict) else []
        return {str(j.get("id")): str(j.get("description") or "") for j in jobs}

    def _start(self, job: str, deadline: float) -> dict[str, Any]:
        """``POST /jobs/{job}/run``; while a run of it is going (its schedule), wait and retry."""
        while True:
            try:
                run: dict[str, Any] = self.api.call("POST", f"/jobs/{job}/run")
            except CliError as exc:
                if "answered 409" not in str(exc) or self.clock() >= deadline:
                    raise
                self.sleep(POLL_S)
                continue
            return run

    def _follow(self, run_id: str, deadline: float, tick: Callable[[], None]) -> dict[str, Any]:
        while True:
            detail: dict[str, Any] = self.api.call("GET", f"/runs/{run_id}")
            if detail.get("state") != "running" or self.clock() >= deadline:
                return detail
            tick()
            self.sleep(POLL_S)

    def run(
        self, job: str, description: str, deadline: float, tick: Callable[[JobRun], None]
    ) -> JobRun:
        """One run of ``job``, followed to its end, with each reconciliation's report."""
        done = JobRun(job, description)
        try:
            done.run = self._start(job, deadline)
            tick(done)
            done.run = self._follow(str(done.run["id"]), deadline, lambda: tick(done))
            if done.state == "running":
                done.error = "still running (raise --timeout?)"
                return done
            for recon in done.reconciliations():
                name = str(recon["reconciliation"])
                params = {"reconciliation": name, "limit": REPORT_ROWS}
                done.reports[name] = self.api.call("GET", f"/runs/{done.id}/report", params)
                route = REPAIR_ROUTES.get(name)
                handled: dict[str, int] = recon.get("handled") or {}
                sent = sum(n for k, n in handled.items() if k.endswith(":repaired"))
                if route is not None and sent:
                    done.repairs[name] = Repairs(route, sent)
        except CliError as exc:
            done.error = str(exc)
        tick(done)
        return done

    def deliveries(self, done: JobRun, deadline: float) -> None:
        """Wait until the run's repair messages are delivered (or dead), or ``deadline``."""
        since = (done.run or {}).get("started_at")
        for repairs in done.repairs.values():
            while True:
                params = {"route": repairs.route, "since": since, "limit": MESSAGES_LIMIT}
                try:
                    answer = self.api.call("GET", "/messages", params)
                except CliError as exc:
                    done.error = str(exc)
                    return
                items = (answer.get("items") or []) if isinstance(answer, dict) else []
                states = [str((m.get("routes") or {}).get(repairs.route)) for m in items]
                repairs.delivered, repairs.dead = states.count("delivered"), states.count("dead")
                if repairs.done or self.clock() >= deadline:
                    break
                self.sleep(POLL_S)


def reconcile(
    operator: Operator,
    deadline: float,
    tick: Callable[[Sequence[JobRun]], None] = lambda _runs: None,
) -> Reconciling:
    """Each job once, the repairs delivered, then :data:`RECHECK` again."""
    result = Reconciling()
    described = operator.descriptions()

    def progress(current: JobRun) -> None:
        tick([*result.runs, *([result.recheck] if result.recheck else []), current])

    for job in JOBS:
        result.runs.append(operator.run(job, described.get(job, ""), deadline, progress))
    for done in result.runs:
        if done.ok:
            operator.deliveries(done, deadline)
    first = next(r for r in result.runs if r.job == RECHECK)
    if first.ok:
        result.recheck = operator.run(RECHECK, first.description, deadline, progress)
    tick([*result.runs, *([result.recheck] if result.recheck else [])])
    return result
