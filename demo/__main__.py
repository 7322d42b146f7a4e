"""``python -m demo``: the same as ``interlock demo``."""

from __future__ import annotations

import typer

from demo.cli import demo

if __name__ == "__main__":
    typer.run(demo)
