"""``interlock check`` and ``interlock schema``: a routes folder validated, and its JSON Schemas.

Exit codes: 0 ok, 2 usage (or a missing path), 78 an invalid routes folder (EX_CONFIG).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from router.cli.options import EXIT_CONFIG

if TYPE_CHECKING:
    from router.config import RouterConfig


def load_or_exit(routes: Path) -> RouterConfig:
    """The loaded routes folder; its errors printed as ``file:line: message`` and exit 78."""
    from router.config import ConfigErrors, load_config
    from router.errors import ConfigError

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


def check(routes: Annotated[Path, typer.Argument(help="Routes folder")] = Path("routes")) -> None:
    """Validate a routes folder: syntax, schema, references and transform chain types."""
    config = load_or_exit(routes)
    for warning in config.warnings:
        typer.echo(f"warning: {warning}", err=True)
    from router.config.kinds import file_kinds

    counts = [f"{len(config.sources)} sources", f"{len(config.connectors)} connectors"]
    counts += [f"{len(config.specs(kind))} {kind.plural}" for kind in file_kinds().values()]
    typer.echo(f"{routes}: ok ({', '.join(counts)})")


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


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("schema")(schema)
