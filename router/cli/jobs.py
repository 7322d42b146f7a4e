"""``interlock jobs`` (list, show, run, history) and ``interlock reconcile`` (report, parked).

Reads take the admin API by default (``--url``, ``--token``) or, with ``--data-dir DIR``, open
``DIR/jobs`` read-only (the router may be stopped); ``jobs run`` starts a run on the running
router, so it takes the API only. ``--json`` prints the API's own JSON; ``reconcile report --csv``
prints the report as the API's ``format=csv`` does.

Exit codes: 0 ok, 1 error (unreachable, 401, unknown job or run, a run already going), 2 usage,
78 an invalid routes folder (``jobs list --data-dir`` reads the job definitions there).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from router.cli.admin_client import AdminClient, fail, parse_name
from router.cli.options import AsJson, DataDir, Token, Url, run_command
from router.cli.reads import reads_for
from router.cli.render import emit
from router.cli.render_jobs import (
    render_jobs,
    render_parked,
    render_report,
    render_run,
    render_runs,
)

jobs = typer.Typer(no_args_is_help=True, help="Scheduled jobs: list, show, run, history.")
reconcile = typer.Typer(no_args_is_help=True, help="Reconciliation reports and parked exceptions.")
JobId = Annotated[str, typer.Argument(help="Job id (its file stem)", show_default=False)]
RunId = Annotated[str, typer.Argument(help="Run id, <job>.<n>", show_default=False)]
Routes = Annotated[
    Path | None,
    typer.Option(help="With --data-dir: the routes folder [default: from settings]"),
]


@jobs.command("list")
def jobs_list(
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    routes: Routes = None,
    as_json: AsJson = False,
) -> None:
    """Every job: its schedule, next slot, active run and last run."""
    run_command(lambda: emit(reads_for(url, token, data_dir).jobs(routes), as_json, render_jobs))


@jobs.command("history")
def jobs_history(
    job: JobId,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 20,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """A job's runs, newest first: trigger, state, slot, duration, and why one failed."""

    def work() -> None:
        emit(reads_for(url, token, data_dir).job_runs(job, limit), as_json, render_runs)

    run_command(work)


@jobs.command("show")
def jobs_show(
    target: Annotated[
        str,
        typer.Argument(help="A job id (its last run), or a run id <job>.<n>", show_default=False),
    ],
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """One run: each reconciliation's phase, counts, pages read and exceptions handled."""

    def work() -> None:
        reads = reads_for(url, token, data_dir)
        run_id = target
        if "." not in target:
            runs = reads.job_runs(target, 1)["runs"]
            if not runs:
                fail(f"job {target} has not run yet")
            run_id = runs[0]["id"]
        emit(reads.run(run_id), as_json, render_run)

    run_command(work)


@jobs.command("run")
def jobs_run(
    job: JobId,
    wait: Annotated[bool, typer.Option(help="Wait for the run to end, then show it")] = False,
    timeout: Annotated[float, typer.Option(min=1, help="With --wait: give up after (s)")] = 3600,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Start a run of JOB now (refused while one is running)."""

    def work() -> None:
        client = AdminClient(url, token)
        run = client.call("POST", f"/jobs/{parse_name(job)}/run")
        if not wait:
            emit(run, as_json, lambda r: f"started {r['id']}")
            return
        deadline = time.monotonic() + timeout
        detail: dict[str, Any] = client.call("GET", f"/runs/{run['id']}")
        while detail["state"] == "running":
            if time.monotonic() > deadline:
                fail(f"{run['id']} is still running after {timeout:g}s")
            time.sleep(0.2)
            detail = client.call("GET", f"/runs/{run['id']}")
        emit(detail, as_json, render_run)
        if detail["state"] == "failed":
            raise typer.Exit(1)

    run_command(work)


@reconcile.command("report")
def reconcile_report(
    run_id: RunId,
    reconciliation: Annotated[
        str | None, typer.Option(help="Which of the run's reconciliations [default: its first]")
    ] = None,
    offset: Annotated[int, typer.Option(min=0, help="The first row's number")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many rows")] = 1000,
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table")] = False,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """A run's reconciliation report: every record not in step, both sides' values."""

    def work() -> None:
        from router.jobs.views import Report, report_csv

        filters = {"reconciliation": reconciliation, "offset": offset, "limit": limit}
        data = reads_for(url, token, data_dir).report(run_id, filters)
        if csv:
            typer.echo(report_csv(Report.model_validate(data)), nl=False)
            return
        emit(data, as_json, render_report)

    run_command(work)


@reconcile.command("parked")
def reconcile_parked(
    reconciliation: Annotated[str, typer.Argument(help="Reconciliation id", show_default=False)],
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Exceptions parked for an operator by the reconciliation's last run, both sides' values."""

    def work() -> None:
        emit(reads_for(url, token, data_dir).parked(reconciliation), as_json, render_parked)

    run_command(work)
