"""``interlock trace | messages | dlq``: the admin API from a terminal, or a stopped journal.

Against a running router every command calls the admin API (``--url``, ``--token``). With
``--data-dir DIR`` the reads open ``DIR/journal`` read-only instead (the router may be stopped);
replay, skip and purge change state, so they take the API only and have no ``--data-dir``.
``dlq skip`` gives up on one message's dead letters with a reason, which releases a key they hold
(``on_dead_letter: hold``). Output is a plain table, or ``--json`` (the API's own JSON) for
scripts. Exit codes: 0 ok, 1 error (unreachable, 401, unknown id), 2 usage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, get_args

import typer

from router.cli.admin_client import AdminClient, fail, parse_id, parse_when
from router.cli.options import (
    AsJson,
    Cursor,
    DataDir,
    MessageId,
    Route,
    Since,
    Source,
    Token,
    Until,
    Url,
    run_command,
)
from router.cli.reads import reads_for
from router.cli.render import emit, render_dead, render_messages, render_trace
from router.store.statuses import MessageStatus

# The one list (the API's schema, the store's states and this option's choices share it).
STATUSES = get_args(MessageStatus)
Status = Annotated[
    str | None,
    typer.Option(help=f"Delivery status: {' | '.join(STATUSES)}", show_default=False),
]


def _status(value: str | None) -> str | None:
    if value is not None and value not in STATUSES:
        fail(f"--status: {value!r} is not one of {', '.join(STATUSES)}", 2)
    return value


# -- commands ------------------------------------------------------------------------------------


def trace(
    message_id: MessageId,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Show one message: metadata, deliveries and every timeline event."""

    run_command(
        lambda: emit(reads_for(url, token, data_dir).message(message_id), as_json, render_trace)
    )


def messages(
    status: Status = None,
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
            "status": _status(status),
            "route": route,
            "source": source,
            "since": parse_when(since, "--since"),
            "until": parse_when(until, "--until"),
            "correlation_id": correlation_id,
            "limit": limit,
            "cursor": cursor,
        }
        emit(reads_for(url, token, data_dir).messages(params), as_json, render_messages)

    run_command(work)


# -- dead letters --------------------------------------------------------------------------------

dlq = typer.Typer(no_args_is_help=True, help="Dead letters: list, show, replay, skip, purge.")
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
        emit(reads_for(url, token, data_dir).dead_letters(params), as_json, render_dead)

    run_command(work)


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
        found = reads_for(url, token, data_dir).dead_letters_of(message_id)
        emit(found, as_json, lambda data: render_dead(data, whole=True))

    run_command(work)


def _change(
    action: str,
    message_id: str | None,
    filters: dict[str, Any],
    everything: bool,
    api: tuple[str | None, str | None],
    as_json: bool,
) -> None:
    given = {k: v for k, v in filters.items() if v is not None and k != "limit"}
    if message_id is not None:
        if set(given) - {"route"}:
            fail("with an id, only --route narrows the choice", 2)
        parse_id(message_id)
        client = AdminClient(*api)
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
        data = AdminClient(*api).call("POST", f"/dead-letters/{action}", body=body)
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
        as_json: AsJson = False,
    ) -> None:
        filters = {"route": route, "source": source, "since": since, "until": until, "limit": limit}
        run_command(lambda: _change(action, message_id, filters, everything, (url, token), as_json))

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


@dlq.command("skip")
def dlq_skip(
    message_id: MessageId,
    reason: Annotated[
        str,
        typer.Option(help="Why it is never delivered (kept in its timeline)", show_default=False),
    ],
    route: Route = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Give up on one message's dead letters: never delivered; the keys they hold go on."""

    def work() -> None:
        parse_id(message_id)
        if not reason.strip():
            fail("--reason: say why the message is never delivered", 2)
        path = f"/dead-letters/{message_id}/skip"
        data = AdminClient(url, token).call("POST", path, {"route": route}, body={"reason": reason})
        emit(data, as_json, lambda d: f"skip: {d['matched']} matched, {d['skipped']} skipped")

    run_command(work)


def register(app: typer.Typer) -> None:
    """Add ``trace``, ``messages`` and the ``dlq`` group to ``interlock``."""
    app.command("trace")(trace)
    app.command("messages")(messages)
    app.add_typer(dlq, name="dlq")
