"""What the admin API answers about jobs, runs and reconciliation reports, and the CLI prints.

Plain functions of the job store's records and the job specs, so ``interlock jobs ...
--data-dir`` prints the API's JSON from a stopped router's store.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from router.jobs.service import schedule_of
from router.jobs.spec import JobSpec

RunState = Literal["running", "succeeded", "failed", "skipped"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class SideProgress(_Frozen):
    pages: int = Field(description="Pages read so far")
    records: int = Field(description="Records read so far")
    done: bool = Field(description="The last page was read")
    unkeyed: int = Field(description="Records with no match key (left out, counted)")
    dupes: int = Field(description="Records whose key was seen before on this side")


class ReconciliationProgress(_Frozen):
    reconciliation: str
    phase: Literal["read", "compare", "act", "done"] = Field(
        description="read: paging both sides; compare: matching; act: repairing and parking"
    )
    counts: dict[str, int] = Field(
        description="Records by class: matched, missing_left, missing_right, mismatched"
    )
    exceptions: int = Field(description="Records not matched (report rows)")
    handled: dict[str, int] = Field(
        description="`class:outcome` -> count; outcomes: repaired, already_repaired, "
        "repair_dead_lettered, repair_failed, parked, ignored"
    )
    sides: dict[str, SideProgress]
    alert_errors: list[str] = Field(default_factory=list, description="Alerts that failed")


class RunSummary(_Frozen):
    id: str = Field(description="`<job>.<n>`")
    job: str
    trigger: Literal["schedule", "missed", "manual"] = Field(
        description="schedule: its slot; missed: slots missed while down; manual: `jobs run`"
    )
    state: RunState
    slot: float | None = Field(description="The slot it ran for (Unix time); null: manual")
    missed: int = Field(description="Slots it stands for (missed or skipped ones)")
    started_at: float
    finished_at: float | None
    seconds: float = Field(
        description="Time spent running, resumed attempts added (an attempt a crash cut short "
        "is not counted)"
    )
    reason: str | None = Field(description="Why it failed or was skipped")
    resumed: int = Field(description="Times it resumed from its checkpoint after a crash")


class RunDetail(RunSummary):
    reconciliations: list[ReconciliationProgress]


class JobSummary(_Frozen):
    id: str
    description: str
    schedule: str = Field(description="`cron 0 6 * * *` or `every 3600s`")
    timezone: str
    missed: Literal["run_once", "skip"]
    reconcile: list[str]
    next_slot: float | None = Field(description="When it runs next (Unix time)")
    running: str | None = Field(description="The id of its active run")
    last_run: RunSummary | None


class JobList(_Frozen):
    jobs: list[JobSummary]


class RunList(_Frozen):
    runs: list[RunSummary]


class ReportRow(_Frozen):
    seq: int
    class_: Literal["missing_left", "missing_right", "mismatched"] = Field(alias="class")
    key: str
    fields: list[str] = Field(description="Mismatched: the fields that differ")
    left: dict[str, Any] | None = Field(description="The left side's compared values")
    right: dict[str, Any] | None = Field(description="The right side's compared values")
    handling: Literal["repair", "parked", "ignored"]
    outcome: str | None = Field(default=None, description="What the handling came to")
    reason: str | None = Field(default=None, description="Why ignored, or why a repair failed")
    message: str | None = Field(default=None, description="The repair message's id (its trace)")
    left_record: Any = Field(
        default=None, description="Parked: the left record as its system answered it"
    )
    right_record: Any = Field(
        default=None, description="Parked: the right record as its system answered it"
    )


class Report(_Frozen):
    run: str
    reconciliation: str
    counts: dict[str, int]
    exceptions: int
    rows: list[ReportRow]
    next_offset: int | None = Field(description="Where the next page starts; null: the last")


class ParkedList(_Frozen):
    reconciliation: str
    items: list[ReportRow]


def run_summary(run: dict[str, Any]) -> RunSummary:
    return RunSummary.model_validate(
        {k: run.get(k) for k in RunSummary.model_fields} | _defaults(run)
    )


def _defaults(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "seconds": run.get("seconds") or 0.0,
        "missed": run.get("missed") or 0,
        "resumed": run.get("resumed") or 0,
    }


def run_detail(run: dict[str, Any]) -> RunDetail:
    recons = [
        ReconciliationProgress(
            reconciliation=name,
            phase=state["phase"],
            counts=state["counts"],
            exceptions=state["exceptions"],
            handled=state["handled"],
            sides={k: SideProgress.model_validate(_side(v)) for k, v in state["sides"].items()},
            alert_errors=state.get("alert_errors", []),
        )
        for name, state in run.get("recons", {}).items()
    ]
    return RunDetail(**run_summary(run).model_dump(), reconciliations=recons)


def _side(progress: dict[str, Any]) -> dict[str, Any]:
    return {k: progress[k] for k in SideProgress.model_fields}


def job_summary(
    spec: JobSpec,
    last: dict[str, Any] | None,
    running: str | None,
    last_slot: float | None,
    now: float,
) -> JobSummary:
    s = spec.schedule
    text = f"cron {s.cron}" if s.cron else f"every {s.every:g}s"
    schedule = schedule_of(spec)
    return JobSummary(
        id=spec.id,
        description=spec.description,
        schedule=text,
        timezone=s.timezone,
        missed=spec.missed,
        reconcile=list(spec.reconcile),
        next_slot=schedule.next_after(max(last_slot or now, now)),
        running=running,
        last_run=None if last is None else run_summary(last),
    )


def report_row(seq: int, row: dict[str, Any], *, records: bool = False) -> ReportRow:
    """A report row; with ``records`` (the parked list), both sides' records as answered (the
    compared values are normalised by their rule: a name case-folded, money in minor units)."""
    wanted = {
        k: row.get(k) for k in ("key", "fields", "left", "right", "handling", "outcome", "message")
    }
    if records:
        wanted |= {"left_record": row.get("left_record"), "right_record": row.get("right_record")}
    return ReportRow.model_validate(
        {"seq": seq, "class": row["class"], **wanted, "reason": row.get("reason")}
    )


def report_of(
    run: dict[str, Any],
    recon: str,
    rows: Iterable[tuple[int, dict[str, Any]]],
    limit: int,
) -> Report:
    state = run.get("recons", {}).get(recon, {})
    page: list[ReportRow] = []
    following: int | None = None
    for seq, row in rows:
        if len(page) == limit:
            following = seq
            break
        page.append(report_row(seq, row))
    return Report(
        run=run["id"],
        reconciliation=recon,
        counts=state.get("counts", {}),
        exceptions=state.get("exceptions", 0),
        rows=page,
        next_offset=following,
    )


def report_csv(report: Report) -> str:
    """The report as CSV: one row per exception, each side's compared values as columns."""
    names = sorted({k for r in report.rows for side in (r.left, r.right) if side for k in side})
    out = io.StringIO()
    writer = csv.writer(out)
    head = ["seq", "class", "key", "fields", "handling", "outcome", "reason", "message"]
    writer.writerow(head + [f"left.{n}" for n in names] + [f"right.{n}" for n in names])
    for r in report.rows:
        left, right = r.left or {}, r.right or {}
        writer.writerow(
            [
                r.seq,
                r.class_,
                r.key,
                " ".join(r.fields),
                r.handling,
                r.outcome or "",
                r.reason or "",
                r.message or "",
            ]
            + [_cell(left.get(n)) for n in names]
            + [_cell(right.get(n)) for n in names]
        )
    return out.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
