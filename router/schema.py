"""JSON Schemas published for editors and docs."""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel, RootModel

from router.config.models import ConnectorSpec, RequestReplySpec, RouteSpec, SourceSpec
from router.workflows.spec import WorkflowSpec


class _Sources(RootModel[dict[str, SourceSpec]]):
    pass


class _Connectors(RootModel[dict[str, ConnectorSpec]]):
    pass


_SCHEMAS: dict[str, type[BaseModel]] = {
    "route": RouteSpec,
    "request-reply": RequestReplySpec,
    "workflow": WorkflowSpec,
    "sources": _Sources,
    "connectors": _Connectors,
}


def schema_for(what: str) -> dict[str, Any]:
    """The JSON Schema for ``what``; raises KeyError naming the accepted values."""
    if what == "canonical":
        canonical = importlib.import_module("canonical")
        return dict(canonical.json_schemas())
    model = _SCHEMAS.get(what)
    if model is None:
        raise KeyError(f"unknown schema {what!r}: use {', '.join(_SCHEMAS)} or canonical")
    document = model.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return document
