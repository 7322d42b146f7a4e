"""``python -m simulators [NAMES...]``: the same as ``interlock simulate``."""

from __future__ import annotations

import typer

from simulators.cli import simulate

if __name__ == "__main__":
    typer.run(simulate)
