"""``interlock run`` (the router) and ``interlock healthcheck`` (the container's probe)."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from router.cli.check import load_or_exit
from router.cli.options import (
    EXIT_CANTCREAT,
    EXIT_CONFIG,
    EXIT_UNAVAILABLE,
    run_command,
)
from router.cli.startup import refuse_demo_secrets_or_exit, settings_or_exit
from router.errors import CliError

if TYPE_CHECKING:
    pass


def run(
    routes: Annotated[Path | None, typer.Option(help="Routes folder")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Journal folder")] = None,
    host: Annotated[str | None, typer.Option(help="Ingress bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Ingress port")] = None,
    log_level: Annotated[
        str | None, typer.Option(help="debug | info | warning | error [INTERLOCK_LOG_LEVEL]")
    ] = None,
    demo: Annotated[
        bool | None,
        typer.Option(
            "--demo", help="Accept the shipped demo secrets of sources.yaml [INTERLOCK_DEMO]"
        ),
    ] = None,
    backbone: Annotated[
        str | None,
        typer.Option(
            help="Cluster mode: NATS JetStream URL, nats://host:4222 [INTERLOCK_BACKBONE]"
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Processes sharing the ingress port (SO_REUSEPORT), under this one as their "
            "supervisor; more than 1 needs a backbone. Worker i (1..N) keeps its journal in "
            "DATA_DIR/worker-<i>, is instance <INTERLOCK_INSTANCE or host name>-w<i>, and serves "
            "its admin API on INTERLOCK_ADMIN_PORT + i (8082, 8083, ... by default)"
        ),
    ] = 1,
) -> None:
    """Run the router: ingress on HOST:PORT, journal in DATA_DIR, routes from ROUTES.

    Exit codes: 0 stopped by SIGTERM/SIGINT, 2 usage (a bad flag), 78 invalid routes or settings,
    69 the port or the data folder is taken by another process, 73 the data folder cannot be
    written, 1 another error of the router's (each a one-line message on stderr). With
    --workers N: 0 when every worker stopped with 0, else the first other code of a worker.
    """
    flags = {
        "routes": routes,
        "data_dir": data_dir,
        "host": host,
        "port": port,
        "demo": demo,
        "backbone": backbone,
    }
    given = {k: v for k, v in flags.items() if v is not None}
    if workers == 1:
        run_command(lambda: _run(given, log_level))
        return
    from router.cli.workers import supervise

    run_command(lambda: supervise(workers, given, log_level))


def _run(overrides: dict[str, Any], log_level: str | None) -> None:
    from router import telemetry
    from router.errors import (
        BackboneStartError,
        ConfigError,
        DataDirLockedError,
        InterlockError,
        ListenError,
        StorageOpenError,
    )
    from router.logs import configure
    from router.serve import serve

    settings = settings_or_exit(overrides, log_level)
    configure(settings.log_level)
    try:
        telemetry.configure(settings.otlp_endpoint)
    except RuntimeError as exc:
        raise CliError(f"INTERLOCK_OTLP_ENDPOINT: {exc}", EXIT_CONFIG) from None
    config = load_or_exit(settings.routes)
    refuse_demo_secrets_or_exit(config, settings.demo)
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
    except (DataDirLockedError, ListenError, BackboneStartError) as exc:
        raise CliError(str(exc), EXIT_UNAVAILABLE) from None
    except StorageOpenError as exc:
        raise CliError(str(exc), EXIT_CANTCREAT) from None
    except InterlockError as exc:  # raised on purpose, so it says what is wrong; a bug still
        raise CliError(str(exc), 1) from None  # shows its traceback


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
