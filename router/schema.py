"""JSON Schemas published for editors and docs: one per registered file kind, and the folder's
``sources.yaml`` and ``connectors.yaml`` built from the registered component models.

``connectors.yaml`` maps names to one of the connector kinds (picked by ``kind``, each with its
own fields); a source's ``verify:`` block is one of the schemes (picked by ``scheme``). They
describe values after ``${ENV}`` substitution, as ``interlock check`` validates them.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel

from router import registry
from router.config.kinds import file_kinds
from router.config.models import SourceSpec

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _models() -> dict[str, type[BaseModel]]:
    return {name: kind.model for name, kind in file_kinds().items()}


def schema_names() -> list[str]:
    """What ``interlock schema`` accepts."""
    return [*_models(), "sources", "connectors", "canonical"]


def _variants(
    models: dict[str, type[BaseModel]], tag: str, prefix: str, defs: dict[str, Any]
) -> list[dict[str, Any]]:
    """One schema per registered model, with ``tag`` fixed to its name; shared defs hoisted."""
    out = []
    for name, model in sorted(models.items()):
        schema = model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        schema["properties"] = {tag: {"const": name}, **schema.get("properties", {})}
        schema["required"] = [tag, *schema.get("required", [])]
        defs[f"{prefix}-{name}"] = schema
        out.append({"$ref": f"#/$defs/{prefix}-{name}"})
    return out


def connectors_schema() -> dict[str, Any]:
    """``connectors.yaml``: name -> one of the registered kinds, with that kind's fields."""
    defs: dict[str, Any] = {}
    models = {kind: spec.config_model for kind, spec in registry.connectors().items()}
    variants = _variants(models, "kind", "connector", defs)
    return {
        "$schema": _DIALECT,
        "title": "connectors.yaml",
        "type": "object",
        "additionalProperties": {"oneOf": variants},
        "$defs": defs,
    }


def sources_schema() -> dict[str, Any]:
    """``sources.yaml``: name -> a source, whose ``verify:`` is one of the registered schemes."""
    source = SourceSpec.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs: dict[str, Any] = source.pop("$defs", {})
    models = {scheme: spec.config_model for scheme, spec in registry.verifiers().items()}
    variants = _variants(models, "scheme", "verify", defs)
    defs.pop("VerifySpec", None)
    source["properties"]["verify"] = {"anyOf": [{"oneOf": variants}, {"type": "null"}]}
    defs["SourceSpec"] = source
    return {
        "$schema": _DIALECT,
        "title": "sources.yaml",
        "type": "object",
        "additionalProperties": {"$ref": "#/$defs/SourceSpec"},
        "$defs": defs,
    }


def schema_for(what: str) -> dict[str, Any]:
    """The JSON Schema for ``what``; raises KeyError naming the accepted values."""
    if what == "canonical":
        canonical = importlib.import_module("canonical")
        return dict(canonical.json_schemas())
    if what == "connectors":
        return connectors_schema()
    if what == "sources":
        return sources_schema()
    model = _models().get(what)
    if model is None:
        raise KeyError(f"unknown schema {what!r}: use {', '.join(schema_names())}")
    document = model.model_json_schema(by_alias=True)
    document["$schema"] = _DIALECT
    return document
