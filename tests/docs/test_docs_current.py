"""Docs generated from code must match the code."""

from __future__ import annotations

from pathlib import Path

from router.docgen import BEGIN, END, render

ROOT = Path(__file__).resolve().parents[2]


def test_route_reference_is_generated_from_the_models() -> None:
    text = (ROOT / "docs" / "routes.md").read_text()
    generated = BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END
    assert generated == render(), "docs/routes.md is stale: run `python -m router.docgen`"


def test_readme_shows_the_two_commands_and_links_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    for link in [part.split(")")[0] for part in readme.split("](")[1:]]:
        if not link.startswith("http"):
            assert (ROOT / link).exists(), f"README links to missing {link}"
