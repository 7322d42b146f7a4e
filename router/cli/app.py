"""The ``interlock`` typer app: the command groups, and the commands plugins add.

A plugin command comes from the ``interlock.commands`` entry-point group (``name =
"module:add_cli"``, where ``add_cli(app)`` registers the command). Its module is imported only
when that command runs; for the top-level ``--help`` it is listed by name, so neither the
simulators nor the demo load for any other command.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import signal
import sys

import typer

from router.cli import check, jobs, messages, serve, workflows

PLUGIN_GROUP = "interlock.commands"


def build(argv: list[str]) -> typer.Typer:
    """The app for this command line: the plugin named by ``argv[1]`` is loaded, others listed."""
    app = typer.Typer(
        add_completion=False, no_args_is_help=True, help="Interlock: a durable message router"
    )
    check.register(app)
    serve.register(app)
    messages.register(app)
    app.add_typer(workflows.workflows, name="workflows")
    app.add_typer(jobs.jobs, name="jobs")
    app.add_typer(jobs.reconcile, name="reconcile")
    wanted = argv[1] if len(argv) > 1 else None
    for entry in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        if importlib.util.find_spec(entry.module.partition(".")[0]) is None:
            continue  # declared but not shipped here (the container image has no simulators)
        if entry.name == wanted:
            entry.load()(app)
        else:
            _listed(app, entry)
    return app


def _listed(app: typer.Typer, entry: importlib.metadata.EntryPoint) -> None:
    """A stand-in that shows the plugin command in ``--help``; it never runs (see build)."""

    def stand_in() -> None:  # pragma: no cover - replaced by the real command when invoked
        raise typer.Exit(2)

    app.command(entry.name, help=f"(from {entry.module}; `interlock {entry.name} --help`)")(
        stand_in
    )


def main() -> None:
    # Python as PID 1 ignores SIGTERM unless a handler is set; `serve` installs loop handlers, and
    # this default covers the moments before the loop runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    build(sys.argv)()
