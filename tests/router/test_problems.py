"""docs/problems.md lists exactly the problem kinds, and every title the code uses has a kind."""

from __future__ import annotations

import ast
import re
from http import HTTPStatus
from pathlib import Path

from aiohttp import web

import router.errors
from router.http.problem import KINDS, PROBLEM_BASE, kind_of, problem_body

ROOT = Path(__file__).resolve().parents[2]


def _documented() -> dict[str, str]:
    rows = re.findall(
        r"^\| `([a-z-]+)` \| \d{3} \| ([^|]+) \|", (ROOT / "docs/problems.md").read_text(), re.M
    )
    return {kind: title.strip() for kind, title in rows}


def _error_titles() -> set[str]:
    def walk(cls: type[Exception]) -> set[type[Exception]]:
        found: set[type[Exception]] = {cls}
        for sub in cls.__subclasses__():
            found |= walk(sub)
        return found

    titles = (getattr(c, "title", None) for c in walk(router.errors.InterlockError))
    return {t for t in titles if isinstance(t, str)}


def _literal_titles() -> set[str]:
    """The second argument of every problem(...) and ApiError(...) call that is a literal."""
    found = set()
    for path in (ROOT / "router").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and len(node.args) >= 2:
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                title = node.args[1]
                if name in ("problem", "problem_body", "ApiError", "_error") and isinstance(
                    title, ast.Constant
                ):
                    found.add(str(title.value))
    return found


def test_the_doc_lists_exactly_the_kinds() -> None:
    assert _documented() == KINDS


def test_every_title_the_code_uses_has_its_own_kind() -> None:
    aiohttp_reasons = {
        web.HTTPNotFound().reason,
        web.HTTPMethodNotAllowed("GET", ["POST"]).reason,
        web.HTTPRequestEntityTooLarge(1, 2).reason,
    }
    protocol = {HTTPStatus(s).phrase for s in (400, 413, 431)}  # server.py's handle_error
    titles = _error_titles() | _literal_titles() | aiohttp_reasons | protocol
    unknown = {
        t
        for t in titles
        if KINDS.get(kind_of(t, 400)) != t and t not in ("Request Entity Too Large",)
    }
    assert unknown == set()
    assert {kind_of(t, 400) for t in titles} == set(KINDS)  # and no kind is unused


def test_a_problem_body_names_its_kind() -> None:
    body = problem_body(404, "Unknown source", "no source named 'x'")
    assert body == {
        "type": PROBLEM_BASE + "unknown-source",
        "title": "Unknown source",
        "status": 404,
        "detail": "no source named 'x'",
    }
