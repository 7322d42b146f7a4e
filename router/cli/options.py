"""The options the admin commands share, and how a command turns a CliError into an exit code.

Exit codes: 0 ok, 1 error (unreachable, 401, unknown id), 2 usage, 78 invalid routes (EX_CONFIG);
``interlock run`` also 69 (EX_UNAVAILABLE: a port, or the data folder, is held by another
process) and 73 (EX_CANTCREAT: the data folder cannot be written).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from router.errors import CliError

EXIT_USAGE = 2
EXIT_CONFIG = 78  # EX_CONFIG, as `interlock check` and `interlock run` exit on invalid routes
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: `interlock run` finds its port or its data folder taken
EXIT_CANTCREAT = 73  # EX_CANTCREAT: `interlock run` cannot write its data folder
DEFAULT_URL = "http://127.0.0.1:8081"

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


def run_command(work: Callable[[], None]) -> None:
    """Run ``work()`` and turn a :class:`CliError` into its message and exit code."""
    try:
        work()
    except CliError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.code) from None
