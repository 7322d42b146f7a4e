"""JSON Schemas published for editors and docs: one per registered file kind, and the folder's
``sources.yaml`` and ``connectors.yaml``."""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel, RootModel

from router.config.kinds import file_kinds
from router.config.models import ConnectorSpec, SourceSpec


class _Sources(RootModel[dict[str, SourceSpec]]):
    pass


class _Connectors(RootModel[dict[str, ConnectorSpec]]):
    pass


def _models() -> dict[str, type[BaseModel]]:
    models: dict[str, type[BaseModel]] = {name: kind.model for name, kind in file_kinds().items()}
    return {**models, "sources": _Sources, "connectors": _Connectors}


def schema_names() -> list[str]:
    """What ``interlock schema`` accepts."""
    return [*_models(), "canonical"]


def schema_for(what: str) -> dict[str, Any]:
    """The JSON Schema for ``what``; raises KeyError naming the accepted values."""
    if what == "canonical":
        canonical = importlib.import_module("canonical")
        return dict(canonical.json_schemas())
    model = _models().get(what)
    if model is None:
        raise KeyError(f"unknown schema {what!r}: use {', '.join(schema_names())}")
    document = model.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return document
