"""The ``interlock`` command line.

Exit codes: 0 ok, 1 error, 2 usage (or a missing path), 78 invalid configuration (EX_CONFIG).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

from router.admin_cli import register as register_admin
from router.config import ConfigErrors, RouterConfig, load_config
from router.errors import ConfigError

EXIT_CONFIG = 78
app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Interlock: a durable message router"
)


def _load_or_exit(routes: Path) -> RouterConfig:
    if not routes.exists():
        typer.echo(f"{routes}: no such file or directory", err=True)
        raise typer.Exit(2)
    try:
        return load_config(routes)
    except ConfigErrors as exc:
        for error in exc.errors:
            typer.echo(error.render(), err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    except ConfigError as exc:
        typer.echo(exc.render(), err=True)
        raise typer.Exit(EXIT_CONFIG) from None


@app.command()
def check(routes: Annotated[Path, typer.Argument(help="Routes folder")] = Path("routes")) -> None:
    """Validate a routes folder: syntax, schema, references and transform chain types."""
    config = _load_or_exit(routes)
    for warning in config.warnings:
        typer.echo(f"warning: {warning}", err=True)
    from router.config.kinds import file_kinds

    counts = [f"{len(config.sources)} sources", f"{len(config.connectors)} connectors"]
    counts += [f"{len(config.specs(kind))} {kind.plural}" for kind in file_kinds().values()]
    typer.echo(f"{routes}: ok ({', '.join(counts)})")


@app.command()
def schema(
    what: Annotated[
        str,
        typer.Argument(help="route | request-reply | workflow | sources | connectors | canonical"),
    ] = "route",
) -> None:
    """Print the JSON Schema of route files (for editors) or of the canonical models."""
    from router.schema import schema_for

    try:
        document = schema_for(what)
    except KeyError as exc:
        typer.echo(str(exc.args[0]), err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(document, indent=2, sort_keys=True))


@app.command()
def run(
    routes: Annotated[Path | None, typer.Option(help="Routes folder")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Journal folder")] = None,
    host: Annotated[str | None, typer.Option(help="Ingress bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Ingress port")] = None,
    log_level: Annotated[str, typer.Option(help="debug | info | warning | error")] = "info",
) -> None:
    """Run the router: ingress on HOST:PORT, journal in DATA_DIR, routes from ROUTES."""
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
    config = _load_or_exit(settings.routes)
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


@app.command()
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


register_admin(app)


def _plugin_commands() -> None:
    from router import registry

    for add in registry.commands():
        add(app)


def main() -> None:
    # Python as PID 1 ignores SIGTERM unless a handler is set; `serve` installs loop handlers, and
    # this default covers the moments before the loop runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    _plugin_commands()  # e.g. `interlock simulate`, from the actors package
    app()
