"""``python -m bench.interlock_server run ...``: ``interlock`` with the bench transform registered.

A subprocess started with the ``interlock`` console script does not know
``bench.order_to_canonical``; this entry point registers it (as a plugin would) and then hands the
same arguments to :func:`router.cli.main`.
"""

from __future__ import annotations

from bench import payload


def register() -> None:
    """Register ``bench.order_to_canonical`` unless it already is."""
    from router.registry import register_transform, transforms

    if payload.TRANSFORM_NAME not in transforms():
        register_transform(payload.TRANSFORM_NAME, payload.order_to_canonical)


def main() -> None:
    register()
    from router.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
