"""The example of docs/testing.md runs as written, in a process of its own."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_route_test_example_runs_and_its_assertions_hold(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "testing.md").read_text()
    found = re.search(r"```python\n(.*?)```", page, re.S)
    assert found is not None, "docs/testing.md has no python example"
    (tmp_path / "example.py").write_text(found.group(1))
    done = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "delivered on attempt 2" in done.stdout
