"""What ``interlock run`` checks before it starts anything, shared by its in-process start and the
``--workers`` supervisor: the settings, and the demo secrets outside demo mode. Each failure is
one line and an exit code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from router.cli.options import EXIT_CONFIG, EXIT_USAGE
from router.errors import CliError

if TYPE_CHECKING:
    from pydantic import ValidationError

    from router.config import RouterConfig
    from router.settings import Settings


def settings_or_exit(overrides: dict[str, Any], log_level: str | None) -> Settings:
    """The settings of ``interlock run``'s flags over the environment; a bad one is a one-line
    :class:`CliError` (2 for a flag, 78 for the environment)."""
    from pydantic import ValidationError

    from router.logs import level_number
    from router.settings import Settings

    if log_level is not None:
        try:
            level_number(log_level)
        except ValueError as exc:
            raise CliError(f"--log-level: {exc}", EXIT_USAGE) from None
        overrides = {**overrides, "log_level": log_level}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise _invalid_settings(exc, overrides) from None


def refuse_demo_secrets_or_exit(config: RouterConfig, demo: bool) -> None:
    """Outside demo mode, each source secret left at its shipped default: ``file:line: ...``
    on stderr, then exit 78 (as every other routes-folder error)."""
    from router.config import ConfigErrors, refuse_demo_secrets

    try:
        refuse_demo_secrets(config, demo)
    except ConfigErrors as exc:
        for error in exc.errors:
            typer.echo(error.render(), err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def _invalid_settings(exc: ValidationError, overrides: dict[str, Any]) -> CliError:
    """One line per invalid setting; a bad flag is a usage error, a bad environment config."""
    lines, code = [], EXIT_CONFIG
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else "settings"
        where = f"INTERLOCK_{name.upper()}"
        if name in overrides:
            where = f"--{name.replace('_', '-')}"
            code = EXIT_USAGE
        got = "" if "token" in name else f" (got {error['input']!r})"  # never echo a secret
        lines.append(f"{where}: {error['msg']}{got}")
    return CliError("\nerror: ".join(lines), code)
