"""Render the route-file reference tables from the pydantic models (``python -m router.docgen``).

``docs/routes.md`` holds the output between markers; a test fails when it is stale, so the models
stay the single source of truth for validation, the JSON Schema and the docs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from router.config.kinds import file_kinds

BEGIN = "<!-- BEGIN GENERATED: python -m router.docgen -->"
END = "<!-- END GENERATED -->"


def models() -> list[tuple[str, type[BaseModel]]]:
    """Each registered file kind's table, then its sub-models', in registration order."""
    out: list[tuple[str, type[BaseModel]]] = []
    for kind in file_kinds().values():
        out += [(kind.title, kind.model), *kind.docs]
    return out


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    for prefix in (
        "typing.",
        "router.config.models.",
        "router.workflows.spec.",
        "router.request_reply.kind.",
    ):
        text = text.replace(prefix, "")
    return text.replace("|", "or")


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        return "" if field.default is None else f"`{field.default!r}`"
    if field.default_factory is not None:
        value = field.default_factory()
        return "its defaults" if isinstance(value, BaseModel) else f"`{value!r}`"
    return "**required**"


def render() -> str:
    parts = [BEGIN]
    for title, model in models():
        parts += [
            "",
            f"### {title}",
            "",
            "| field | type | default | meaning |",
            "|---|---|---|---|",
        ]
        for name, field in model.model_fields.items():
            key = field.alias or name
            meaning = (field.description or "").replace("|", "\\|")
            parts.append(
                f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {meaning} |"
            )
    parts += ["", END]
    return "\n".join(parts)


def update(path: Path) -> bool:
    """Rewrite the generated section of ``path``; True when it changed."""
    text = path.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    new = head + render() + tail
    if new == text:
        return False
    path.write_text(new)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/routes.md")
    print(f"{target}: {'updated' if update(target) else 'up to date'}")
