"""``interlock workflows``: list, show, stats, retry, skip and cancel workflow instances.

The same conventions as ``interlock dlq``: the admin API by default (``--url``, ``--token``), or
with ``--data-dir DIR`` the reads open ``DIR/workflows`` read-only (the router may be stopped);
retry, skip and cancel change state, so they take the API only. ``--json`` prints the API's own
JSON; the --data-dir reads build it with the API's own views (``router.workflows.views``).

Exit codes: 0 ok, 1 error (unreachable, 401, unknown id, a command that does not apply), 2 usage,
78 an invalid routes folder (``stats --data-dir`` reads the workflow definitions there).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from router.cli.admin_client import AdminClient, parse_instance_id
from router.cli.options import AsJson, DataDir, Token, Url, run_command
from router.cli.reads import reads_for
from router.cli.render import emit, render_instance, render_instances, render_workflow_stats
from router.workflows.state import State

workflows = typer.Typer(
    no_args_is_help=True, help="Workflow instances: list, show, stats, retry, skip, cancel."
)
InstanceId = Annotated[
    str, typer.Argument(help="Workflow instance id (26 characters)", show_default=False)
]
Reason = Annotated[str, typer.Option(help="Why (recorded in the instance's timeline)")]
RequiredReason = Annotated[
    str, typer.Option(help="Why (recorded in the instance's timeline)", show_default=False)
]
By = Annotated[
    str | None,
    typer.Option(
        envvar="USER", show_default=False, help="Who acts, for the timeline [default: $USER]"
    ),
]


@workflows.command("list")
def wf_list(
    workflow: Annotated[str | None, typer.Option(help="Workflow id")] = None,
    state: Annotated[State | None, typer.Option(help="Instance state")] = None,
    key: Annotated[str | None, typer.Option(help="Exact business key")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 50,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """List workflow instances, newest first (filters combine)."""

    def work() -> None:
        params: dict[str, Any] = {
            "workflow": workflow,
            "state": state.value if state else None,
            "key": key,
            "limit": limit,
        }
        emit(reads_for(url, token, data_dir).instances(params), as_json, render_instances)

    run_command(work)


@workflows.command("show")
def wf_show(
    instance_id: InstanceId,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Show one instance: where it stands, its steps and its timeline."""

    def work() -> None:
        emit(reads_for(url, token, data_dir).instance(instance_id), as_json, render_instance)

    run_command(work)


@workflows.command("stats")
def wf_stats(
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    routes: Annotated[
        Path | None,
        typer.Option(help="With --data-dir: the routes folder [default: from settings]"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Each workflow: instances per state, and its SLA (met, missed, p50, p95, max)."""

    def work() -> None:
        stats = reads_for(url, token, data_dir).workflow_stats(routes)
        emit(stats, as_json, render_workflow_stats)

    run_command(work)


def _command(
    action: str,
    instance_id: str,
    reason: str,
    by: str | None,
    api: tuple[str | None, str | None],
    as_json: bool,
) -> None:
    canonical = parse_instance_id(instance_id)
    body = {"reason": reason, "by": by or None}
    data = AdminClient(*api).call("POST", f"/workflows/{canonical}/{action}", body=body)

    def done(d: dict[str, Any]) -> str:
        return f"{action}: {d['id']} ({d['workflow']} {d['key']}) is now {d['state']}"

    emit(data, as_json, done)


@workflows.command("retry")
def wf_retry(
    instance_id: InstanceId,
    reason: Reason = "",
    by: By = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Retry a parked instance's failed step (or failed compensation), from a fresh attempt."""
    run_command(lambda: _command("retry", instance_id, reason, by, (url, token), as_json))


def _reasoned_command(action: str, summary: str) -> Callable[..., None]:
    """A command that must say why (skip, cancel): the same options, a different action."""

    def command(
        instance_id: InstanceId,
        reason: RequiredReason,
        by: By = None,
        url: Url = None,
        token: Token = None,
        as_json: AsJson = False,
    ) -> None:
        run_command(lambda: _command(action, instance_id, reason, by, (url, token), as_json))

    command.__doc__ = summary
    return command


wf_skip = workflows.command("skip")(
    _reasoned_command(
        "skip",
        "Skip a parked instance's failed step (or compensation) and go on; a reason is required.",
    )
)
wf_cancel = workflows.command("cancel")(
    _reasoned_command(
        "cancel", "Cancel a parked or completed instance: undo its finished steps in reverse order."
    )
)
