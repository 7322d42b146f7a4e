"""``interlock run`` (the router) and ``interlock healthcheck`` (the container's probe)."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

from router.cli.check import load_or_exit
from router.cli.options import EXIT_CONFIG


def run(
    routes: Annotated[Path | None, typer.Option(help="Routes folder")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Journal folder")] = None,
    host: Annotated[str | None, typer.Option(help="Ingress bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Ingress port")] = None,
    log_level: Annotated[str, typer.Option(help="debug | info | warning | error")] = "info",
) -> None:
    """Run the router: ingress on HOST:PORT, journal in DATA_DIR, routes from ROUTES."""
    from router.errors import ConfigError
    from router.logs import configure
    from router.serve import serve
    from router.settings import Settings

    overrides: dict[str, Any] = {
        k: v
        for k, v in {"routes": routes, "data_dir": data_dir, "host": host, "port": port}.items()
        if v is not None
    }
    settings = Settings(**overrides)
    configure(log_level)
    config = load_or_exit(settings.routes)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a default dependency on Linux
        pass
    try:
        asyncio.run(serve(config, settings))
    except ConfigError as exc:  # e.g. an empty admin token file
        typer.echo(exc.render(), err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def healthcheck(
    url: Annotated[str | None, typer.Option(help="Readiness URL; default from settings")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds")] = 3.0,
) -> None:
    """Exit 0 when the local router answers /readyz with 200 (for container HEALTHCHECK)."""
    from router.settings import Settings

    if url is None:
        settings = Settings()
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
        url = f"http://{host}:{settings.port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - local probe
            ok = response.status == 200
    except (urllib.error.URLError, OSError, ValueError) as exc:
        typer.echo(f"unhealthy: {exc}", err=True)
        raise typer.Exit(1) from None
    if not ok:
        raise typer.Exit(1)
    typer.echo("healthy")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("healthcheck")(healthcheck)
