"""Docs generated from code must match the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from router.docgen import PAGES, stale

ROOT = Path(__file__).resolve().parents[2]


def test_reference_tables_are_generated_from_the_registered_models() -> None:
    # In a fresh process: this one holds test components (router.testing's recording kinds).
    done = subprocess.run(
        [sys.executable, "-m", "router.docgen", "--check", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(PAGES) == [
        "docs/connectors.md",
        "docs/operations.md",
        "docs/routes.md",
        "docs/sources.md",
    ]


def test_every_setting_is_in_the_operations_table() -> None:
    from router.settings import Settings

    text = (ROOT / "docs/operations.md").read_text()
    for name in Settings.model_fields:
        assert f"| `INTERLOCK_{name.upper()}` |" in text, name


def test_a_stale_page_is_detected(tmp_path: Path) -> None:
    from router.docgen import BEGIN, END, routes_page

    page = tmp_path / "routes.md"
    page.write_text(f"# Routes\n\n{BEGIN}\n| `gone` | old |\n{END}\n")
    assert stale(page, routes_page()) is not None


def test_readme_shows_the_two_commands_and_links_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    for link in [part.split(")")[0] for part in readme.split("](")[1:]]:
        if not link.startswith("http"):
            assert (ROOT / link).exists(), f"README links to missing {link}"
