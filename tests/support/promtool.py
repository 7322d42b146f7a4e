"""``promtool check metrics`` on a scrape, for the exposition tests; skipped where it is absent."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest


def require_promtool() -> str:
    """promtool's path; skips the test where it is not installed."""
    promtool = shutil.which("promtool")
    if promtool is None:  # `make install` installs it (Debian's prometheus package) where apt is
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return promtool


async def check_metrics(promtool: str, text: str) -> subprocess.CompletedProcess[str]:
    """``promtool check metrics`` on exposition ``text`` (it prints nothing when it accepts it)."""
    return await asyncio.to_thread(
        subprocess.run,
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
