"""The README's embedding snippet, pasted into a file as a reader would, runs and accepts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Embedding") :]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None, "the Embedding section has no python block"
    return found.group(1)


def _embed(where: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "embed.py"]
    return subprocess.run(
        command, check=False, cwd=where, capture_output=True, text=True, timeout=120
    )


def test_the_embedding_snippet_runs_as_a_file_and_its_message_is_accepted(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "routes", tmp_path / "routes")
    (tmp_path / "embed.py").write_text(_snippet())
    run = _embed(tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    # It prints the Ack: a 26-character message id, and False (not a duplicate) on a fresh journal.
    assert re.search(r"^[0-9A-Z]{26} False$", run.stdout, re.M), run.stdout
    assert (tmp_path / "data" / "journal" / "data.mdb").is_file()
    # Run again on the same journal: the same key is now a duplicate of the first message.
    again = _embed(tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert re.search(r"^[0-9A-Z]{26} True$", again.stdout, re.M), again.stdout
