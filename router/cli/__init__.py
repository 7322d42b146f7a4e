"""The ``interlock`` command line: one module per command group.

``app`` builds the typer app; ``check`` (check, schema), ``serve`` (run, healthcheck),
``messages`` (trace, messages, dlq) and ``workflows`` are the groups; ``reads`` is the one data
access every read command uses (the admin API, or a stopped router's data dir, read-only);
``admin_client`` talks to the admin API; ``render`` prints tables. Plugins add commands through
the ``interlock.commands`` entry points, imported only when their command runs.

Every module here imports only what building the app needs; a command's heavy imports (the
engine, the store, the registry) happen in its body, so ``interlock --help`` starts fast.
"""


def main() -> None:
    """The console script (``interlock``)."""
    from router.cli.app import main as run

    run()
