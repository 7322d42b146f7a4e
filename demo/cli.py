"""``interlock demo``: fire each seed scenario at the running router and show what happened.

Exit codes: 0 every trigger accepted and every instance ended as expected (completed, or parked
for the out-of-stock order); 1 anything else (rejected, failed, still running at ``--timeout``);
2 the router, its admin API or a vendor simulator does not answer (is ``make run`` running?).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from demo.flow import DEFAULT_ROUTER_URL, Options, run_demo
from router.cli.options import DEFAULT_URL


def demo(
    url: Annotated[str, typer.Option(help="The router's ingress URL")] = DEFAULT_ROUTER_URL,
    admin_url: Annotated[
        str | None,
        typer.Option(help=f"Admin API base URL [default: from settings, {DEFAULT_URL}]"),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="INTERLOCK_ADMIN_TOKEN",
            show_default=False,
            help="Admin bearer token [default: $INTERLOCK_ADMIN_TOKEN, else DATA_DIR/admin.token]",
        ),
    ] = None,
    count: Annotated[
        int, typer.Option(min=1, max=500, help="How many quote-to-cash deals to send")
    ] = 3,
    timeout: Annotated[
        float, typer.Option(min=1.0, help="Seconds to wait for the instances to settle")
    ] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Fire a small batch of each seed scenario (deals, invoices, amendments, web orders) at the
    running router (`make run`) and show what each workflow instance did (docs/demo.md).
    """
    options = Options(url, admin_url, token, timeout, count, as_json)
    try:
        code = run_demo(options, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        typer.echo("interrupted: the instances go on in the router (interlock workflows)", err=True)
        raise typer.Exit(130) from None
    raise typer.Exit(code)


def add_cli(app: typer.Typer) -> None:
    """Add ``demo`` to ``app`` (the ``interlock`` CLI: an ``interlock.commands`` entry point)."""
    app.command("demo")(demo)
