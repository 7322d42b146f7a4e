"""``interlock trace | messages | dlq``: the admin API from a terminal, or a stopped journal.

``interlock workflows`` (router/workflows_cli.py) follows the same conventions, with these options.

Against a running router every command calls the admin API (``--url``, ``--token``). With
``--data-dir DIR`` the reads open ``DIR/journal`` read-only instead (the router may be stopped);
replay and purge change state, so they need the API. Output is a plain table, or ``--json`` (the
API's own JSON) for scripts. Exit codes: 0 ok, 1 error (unreachable, 401, unknown id), 2 usage.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from router._admin_client import (
    DEFAULT_URL,
    Api,
    CliError,
    fail,
    local_page,
    parse_id,
    parse_when,
    read_local,
)
from router._admin_render import emit, render_dead, render_messages, render_trace
from router.store.queries import (
    dead_letters_of,
    list_dead_letters,
    message_detail,
    search_messages,
)


class StatusChoice(StrEnum):
    pending = "pending"
    retry = "retry"
    delivered = "delivered"
    dead = "dead"
    unrouted = "unrouted"


Url = Annotated[
    str | None,
    typer.Option(help=f"Admin API base URL [default: from settings, {DEFAULT_URL}]"),
]
Token = Annotated[
    str | None,
    typer.Option(
        envvar="INTERLOCK_ADMIN_TOKEN",
        show_default=False,
        help="Admin bearer token [default: $INTERLOCK_ADMIN_TOKEN, else DATA_DIR/admin.token]",
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Read this (stopped) router's DATA_DIR, read-only"),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]
Route = Annotated[str | None, typer.Option(help="Route id")]
Source = Annotated[str | None, typer.Option(help="Source name")]
Since = Annotated[
    str | None,
    typer.Option(help="Received at or after: Unix seconds, ISO 8601, or an age like 15m, 2h"),
]
Until = Annotated[str | None, typer.Option(help="Received at or before (same forms as --since)")]
Cursor = Annotated[str | None, typer.Option(help="next_cursor of the previous page")]
MessageId = Annotated[str, typer.Argument(help="Message id (26 characters)", show_default=False)]


def _run(work: Callable[[], None]) -> None:
    """Run ``work()`` and turn a :class:`CliError` into its message and exit code."""
    try:
        work()
    except CliError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.code) from None


# -- commands ------------------------------------------------------------------------------------


def trace(
    message_id: MessageId,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Show one message: metadata, deliveries and every timeline event."""

    def work() -> None:
        raw = parse_id(message_id)
        if data_dir is None:
            data = Api(url, token).call("GET", f"/messages/{message_id}")
        else:
            found = read_local(data_dir, lambda journal: message_detail(journal, raw))
            if found is None:
                fail(f"no message {message_id}")
            data = found.model_dump(mode="json")
        emit(data, as_json, render_trace)

    _run(work)


def messages(
    status: Annotated[StatusChoice | None, typer.Option(help="Delivery status")] = None,
    route: Route = None,
    source: Source = None,
    since: Since = None,
    until: Until = None,
    correlation_id: Annotated[str | None, typer.Option(help="Exact correlation id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Page size")] = 50,
    cursor: Cursor = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Search messages, oldest first (filters combine)."""

    def work() -> None:
        params: dict[str, Any] = {
            "status": status.value if status else None,
            "route": route,
            "source": source,
            "since": parse_when(since, "--since"),
            "until": parse_when(until, "--until"),
            "correlation_id": correlation_id,
            "limit": limit,
            "cursor": cursor,
        }
        if data_dir is None:
            data = Api(url, token).call("GET", "/messages", params)
        else:
            data = local_page(data_dir, search_messages, params)
        emit(data, as_json, render_messages)

    _run(work)


# -- dead letters --------------------------------------------------------------------------------

dlq = typer.Typer(no_args_is_help=True, help="Dead letters: list, show, replay, purge.")
OptionalId = Annotated[
    str | None,
    typer.Argument(help="Message id; omitted: use the filter options", show_default=False),
]
All = Annotated[bool, typer.Option("--all", help="With no id and no filter: every dead letter")]
Limit = Annotated[int, typer.Option(min=1, max=10000, help="At most this many")]


@dlq.command("list")
def dlq_list(
    route: Route = None,
    source: Source = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Page size")] = 50,
    cursor: Cursor = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """List dead letters, oldest message first."""

    def work() -> None:
        params: dict[str, Any] = {
            "route": route,
            "source": source,
            "since": parse_when(since, "--since"),
            "until": parse_when(until, "--until"),
            "limit": limit,
            "cursor": cursor,
        }
        if data_dir is None:
            data = Api(url, token).call("GET", "/dead-letters", params)
        else:
            data = local_page(data_dir, list_dead_letters, params)
        emit(data, as_json, render_dead)

    _run(work)


@dlq.command("show")
def dlq_show(
    message_id: MessageId,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Show the dead letters of one message."""

    def work() -> None:
        raw = parse_id(message_id)
        if data_dir is None:
            data = Api(url, token).call("GET", f"/dead-letters/{message_id}")
        else:
            found = read_local(data_dir, lambda journal: dead_letters_of(journal, raw))
            if not found:
                fail(f"no dead letter for message {message_id}")
            data = {"id": message_id, "items": [d.model_dump(mode="json") for d in found]}
        emit(data, as_json, render_dead)

    _run(work)


def _change(
    action: str,
    message_id: str | None,
    filters: dict[str, Any],
    everything: bool,
    api: tuple[str | None, str | None],
    data_dir: Path | None,
    as_json: bool,
) -> None:
    if data_dir is not None:
        fail(
            f"{action} changes the journal: it needs the running router's admin API, not --data-dir"
        )
    given = {k: v for k, v in filters.items() if v is not None and k != "limit"}
    if message_id is not None:
        if set(given) - {"route"}:
            fail("with an id, only --route narrows the choice", 2)
        parse_id(message_id)
        client = Api(*api)
        if action == "replay":
            data = client.call("POST", f"/dead-letters/{message_id}/replay", given)
        else:
            data = client.call("DELETE", f"/dead-letters/{message_id}", given)
    else:
        if not given and not everything:
            wanted = "an id, a filter (--route, --source, --since, --until) or --all"
            fail(f"{action} what? give {wanted}", 2)
        body = {**given, "limit": filters["limit"]}
        body.update({k: parse_when(body.get(k), f"--{k}") for k in ("since", "until") if k in body})
        data = Api(*api).call("POST", f"/dead-letters/{action}", body=body)
    past = {"replay": "replayed", "purge": "purged"}[action]
    emit(data, as_json, lambda d: f"{action}: {d['matched']} matched, {d[past]} {past}")


def _change_command(action: str, summary: str) -> Callable[..., None]:
    """``dlq replay`` and ``dlq purge`` take the same options; one definition serves both."""

    def command(
        message_id: OptionalId = None,
        route: Route = None,
        source: Source = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = 1000,
        everything: All = False,
        url: Url = None,
        token: Token = None,
        data_dir: DataDir = None,
        as_json: AsJson = False,
    ) -> None:
        filters = {"route": route, "source": source, "since": since, "until": until, "limit": limit}
        _run(
            lambda: _change(
                action, message_id, filters, everything, (url, token), data_dir, as_json
            )
        )

    command.__doc__ = summary
    command.__name__ = f"dlq_{action}"
    return command


dlq_replay = dlq.command("replay")(
    _change_command(
        "replay",
        "Re-deliver dead letters (one message's, or those matching a filter); safe to repeat.",
    )
)
dlq_purge = dlq.command("purge")(
    _change_command(
        "purge", "Delete dead letters for good (one message's, or those matching a filter)."
    )
)


def register(app: typer.Typer) -> None:
    """Add ``trace``, ``messages`` and the ``dlq`` and ``workflows`` groups to ``interlock``."""
    # Imported here: router.workflows_cli builds on this module's options, so it imports this one.
    from router.workflows_cli import workflows  # noqa: PLC0415

    app.command("trace")(trace)
    app.command("messages")(messages)
    app.add_typer(dlq, name="dlq")
    app.add_typer(workflows, name="workflows")
