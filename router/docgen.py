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

from router.config.models import (
    CacheSpec,
    FromSpec,
    Predicate,
    RequestReplySpec,
    RetryPolicy,
    RouteSpec,
    SourceSpec,
    ToSpec,
)
from router.workflows.spec import (
    CallSpec,
    InputSpec,
    SlaSpec,
    StepSpec,
    TriggerSpec,
    WorkflowSpec,
)

BEGIN = "<!-- BEGIN GENERATED: python -m router.docgen -->"
END = "<!-- END GENERATED -->"
MODELS: list[tuple[str, type[BaseModel]]] = [
    ("Route file (`<route-id>.yaml`)", RouteSpec),
    ("`from:`", FromSpec),
    ("`from.when[]` predicate", Predicate),
    ("`steps[].to:`", ToSpec),
    ("`retry:`", RetryPolicy),
    ("Source (`sources.yaml` entry)", SourceSpec),
    ("Request/reply route (`kind: request-reply`)", RequestReplySpec),
    ("`cache:` of a request/reply route", CacheSpec),
    ("Workflow (`kind: workflow`)", WorkflowSpec),
    ("`trigger:` of a workflow", TriggerSpec),
    ("`steps[]` of a workflow", StepSpec),
    ("`compensate:` of a step", CallSpec),
    ("`input:` of a step or compensation", InputSpec),
    ("`sla:` of a workflow", SlaSpec),
]


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    for prefix in ("typing.", "router.config.models.", "router.workflows.spec."):
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
    for title, model in MODELS:
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
