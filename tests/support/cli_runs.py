"""Run several ``interlock`` commands at once, as real processes, and keep what each printed.

The CLI tests start every invocation of a module together, so they share one wait for the
interpreter's start-up instead of paying it once per command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def interlock() -> str:
    """The ``interlock`` console script of this interpreter's environment."""
    beside = Path(sys.executable).parent / "interlock"
    found = str(beside) if beside.exists() else shutil.which("interlock")
    if found is None:
        pytest.fail("the interlock console script is not installed (pip install -e .)")
    return found


def run_together(
    commands: Mapping[str, tuple[Sequence[str], Mapping[str, str]]], timeout_s: float = 120
) -> dict[str, Result]:
    """Each named ``(arguments, extra environment)`` run as ``interlock <arguments>`` with no
    ``INTERLOCK_*`` variable of the caller's; all started before any is waited for."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INTERLOCK_")}
    script = interlock()
    started = {
        name: subprocess.Popen(
            [script, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**clean, **env},
        )
        for name, (args, env) in commands.items()
    }
    results = {}
    try:
        for name, process in started.items():
            stdout, stderr = process.communicate(timeout=timeout_s)
            results[name] = Result(process.returncode, stdout, stderr)
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results
