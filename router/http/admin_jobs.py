"""The admin API's job endpoints: jobs and their history, runs, reports (JSON or CSV), parked.

The answers are :mod:`router.jobs.views` of the job store, read in the default executor like
every admin read; ``POST /jobs/{job}/run`` starts a run now (409 while one is active). Like
:mod:`router.http.admin_workflows`, it is handed the admin app's helpers rather than importing
them back.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from router.config.models import ROUTE_ID_PATTERN
from router.errors import ConflictError, UnavailableError, UnknownInstanceError
from router.http.admin_openapi import AdminFeature, Operation
from router.http.problem import json_response
from router.jobs.kind import JOB, RECONCILIATION
from router.jobs.views import (
    JobList,
    ParkedList,
    Report,
    RunDetail,
    RunList,
    RunSummary,
    job_summary,
    report_csv,
    report_of,
    report_row,
    run_detail,
    run_summary,
)
from router.logs import get_logger

if TYPE_CHECKING:
    from router.jobs.service import JobService

__all__ = ["JobsAdmin"]
log = get_logger("interlock.admin")
RUN_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*\.[1-9][0-9]{0,11}$"
_NAME, _RUN = re.compile(ROUTE_ID_PATTERN), re.compile(RUN_PATTERN)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class HistoryQuery(_Frozen):
    limit: int = Field(default=20, ge=1, le=1000, description="At most this many, newest first")


class ReportQuery(_Frozen):
    reconciliation: str | None = Field(
        default=None,
        pattern=ROUTE_ID_PATTERN,
        description="Which of the run's reconciliations; omitted: its first",
    )
    format: Literal["json", "csv"] = Field(default="json", description="json, or csv (text/csv)")
    offset: int = Field(default=0, ge=0, le=10**12, description="The first row's number")
    limit: int = Field(default=1000, ge=1, le=10000, description="At most this many rows")


class JobsAdmin(AdminFeature):
    def _service(self, request: web.Request) -> JobService | None:
        engine = request.app[self._engine]
        if engine.jobs is None and engine.config.specs(JOB):
            if engine._jobs.elsewhere:
                raise UnavailableError(
                    "the scheduler runs on another instance (cluster mode: the owner of "
                    "partition 0; see interlock_partition_owned)"
                )
            raise UnavailableError(
                "the scheduler is not running (the router is starting or stopping)"
            )
        return engine.jobs

    def _job(self, request: web.Request) -> tuple[JobService, str]:
        name = request.match_info["job"]
        if not _NAME.fullmatch(name):
            raise self._error(400, "Bad Request", "a job id is kebab-case (`payments-daily`)")
        service = self._service(request)
        if service is None or name not in service.jobs:
            raise self._error(404, "Not Found", f"no job named {name!r}")
        return service, name

    def _run(self, request: web.Request) -> tuple[JobService, str]:
        run = request.match_info["run"]
        if not _RUN.fullmatch(run):
            raise self._error(400, "Bad Request", "a run id is `<job>.<n>` (`payments-daily.3`)")
        service = self._service(request)
        if service is None:
            raise self._error(404, "Not Found", f"no run {run!r}")
        return service, run

    async def list_jobs(self, request: web.Request) -> web.Response:
        service = self._service(request)
        if service is None:
            return _ok(JobList(jobs=[]))
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, _summaries, service)
        return _ok(JobList(jobs=found))

    async def history(self, request: web.Request) -> web.Response:
        service, name = self._job(request)
        q = self._query(request, HistoryQuery)
        runs = await asyncio.get_running_loop().run_in_executor(
            None, service.store.runs, name, q.limit
        )
        return _ok(RunList(runs=[run_summary(r) for r in runs]))

    async def start(self, request: web.Request) -> web.Response:
        service, name = self._job(request)
        try:
            run = await service.run_now(name)
        except ConflictError as exc:
            raise self._error(409, "Conflict", exc.detail) from None
        except UnknownInstanceError:
            raise self._error(404, "Not Found", f"no job named {name!r}") from None
        log.info("admin_job_run", job=name, run=run["id"])
        return _ok(run_summary(run))

    async def run(self, request: web.Request) -> web.Response:
        service, run_id = self._run(request)
        found = await asyncio.get_running_loop().run_in_executor(None, service.store.run, run_id)
        if found is None:
            raise self._error(404, "Not Found", f"no run {run_id!r}")
        return _ok(run_detail(found))

    async def report(self, request: web.Request) -> web.Response:
        service, run_id = self._run(request)
        q = self._query(request, ReportQuery)
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, service.store.run, run_id)
        if found is None:
            raise self._error(404, "Not Found", f"no run {run_id!r}")
        recons = list(found.get("recons", {})) or list(service.jobs[found["job"]].reconcile)
        recon = q.reconciliation or recons[0]
        if recon not in recons:
            detail = f"run {run_id} has no reconciliation {recon!r} (it has: {', '.join(recons)})"
            raise self._error(404, "Not Found", detail)

        def read() -> Report:
            return report_of(found, recon, service.store.report(run_id, recon, q.offset), q.limit)

        report = await loop.run_in_executor(None, read)
        if q.format == "csv":
            return web.Response(text=report_csv(report), content_type="text/csv", charset="utf-8")
        return _ok(report)

    async def parked(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not _NAME.fullmatch(name):
            raise self._error(400, "Bad Request", "a reconciliation id is kebab-case")
        engine = request.app[self._engine]
        service = self._service(request)
        if service is None or name not in engine.config.specs(RECONCILIATION):
            raise self._error(404, "Not Found", f"no reconciliation named {name!r}")
        rows = await asyncio.get_running_loop().run_in_executor(None, service.store.parked, name)
        items = [report_row(i, row, records=True) for i, row in enumerate(rows)]
        return _ok(ParkedList(reconciliation=name, items=items))

    def operations(self) -> list[Operation]:
        tag = "jobs"
        down = ("503", "The scheduler is not running (the router is starting or stopping)")
        job = (("job", "A job id (its file stem)", ROUTE_ID_PATTERN),)
        run = (("run", "A run id, `<job>.<n>`", RUN_PATTERN),)
        recon = (("name", "A reconciliation id (its file stem)", ROUTE_ID_PATTERN),)
        missing = ("404", "No such job, run or reconciliation")
        csv = (("text/csv", {"type": "string"}),)
        return [
            Operation("GET", "/jobs", self.list_jobs, "listJobs",
                      "Scheduled jobs: schedule, next slot, last run", JobList, tag,
                      errors=(down,)),
            Operation("GET", "/jobs/{job}/runs", self.history, "listJobRuns",
                      "A job's runs, newest first", RunList, tag, query=HistoryQuery,
                      path_params=job, errors=(missing, down)),
            Operation("POST", "/jobs/{job}/run", self.start, "runJob",
                      "Start a run of the job now", RunSummary, tag, path_params=job,
                      errors=(missing, ("409", "A run of the job is in progress"), down)),
            Operation("GET", "/runs/{run}", self.run, "getJobRun",
                      "One run: its reconciliations' progress and counts", RunDetail, tag,
                      path_params=run, errors=(missing, down)),
            Operation("GET", "/runs/{run}/report", self.report, "getReconciliationReport",
                      "A run's reconciliation report (JSON, or CSV with format=csv)", Report,
                      tag, query=ReportQuery, path_params=run, also=csv,
                      errors=(missing, down)),
            Operation("GET", "/reconciliations/{name}/parked", self.parked,
                      "listParkedExceptions", "Exceptions parked for an operator, both sides",
                      ParkedList, tag, path_params=recon, errors=(missing, down)),
        ]  # fmt: skip


def _summaries(service: JobService) -> list[Any]:
    now = service.clock()
    out = []
    for name, spec in service.jobs.items():
        runs = service.store.runs(name, 1)
        last = runs[0] if runs else None
        out.append(
            job_summary(spec, last, service.store.active(name), service.store.last_slot(name), now)
        )
    return out


def _ok(model: BaseModel) -> web.Response:
    return json_response(model.model_dump(mode="json", by_alias=True))
