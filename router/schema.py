"""JSON Schemas published for editors and docs: one per registered file kind, and the folder's
``sources.yaml`` and ``connectors.yaml`` built from the registered component models.

``connectors.yaml`` maps names to one of the connector kinds (picked by ``kind``, each with its
own fields); a source's ``verify:`` block is one of the schemes (picked by ``scheme``). They
describe values after ``${ENV}`` substitution, as ``interlock check`` validates them, except that
a text field with a pattern also takes a value holding a ``${NAME}`` or ``${NAME:-default}``
placeholder: what it expands to is not known until the router reads the file, and the shipped
files write their URLs that way. ``canonical`` is one document: every canonical model in
``$defs``, the root any one of them.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel

from router import registry
from router.config.kinds import file_kinds
from router.config.models import SourceSpec

_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# What router/config/_yaml.py expands: a value holding one is checked only once expanded.
PLACEHOLDER_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}",
    "description": "A ${NAME} or ${NAME:-default} placeholder, checked once expanded",
}
_ANNOTATIONS = ("title", "description", "default", "examples", "deprecated")


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


def canonical_schema() -> dict[str, Any]:
    """Every canonical model in ``$defs`` (their own definitions hoisted), the root any one."""
    canonical = importlib.import_module("canonical")
    defs: dict[str, Any] = {}
    models: list[str] = []
    for name, schema in sorted(canonical.json_schemas().items()):
        body = {k: v for k, v in schema.items() if k != "$schema"}
        for def_name, definition in body.pop("$defs", {}).items():
            if defs.setdefault(def_name, definition) != definition:
                raise ValueError(f"two canonical models define {def_name!r} differently")
        if defs.setdefault(name, body) != body:
            raise ValueError(f"canonical model {name!r} clashes with a definition of that name")
        models.append(name)
    return {
        "$schema": _DIALECT,
        "title": "canonical documents",
        "description": "Any one canonical model; `#/$defs/<Name>` is that model alone",
        "anyOf": [{"$ref": f"#/$defs/{name}"} for name in models],
        "$defs": defs,
    }


def _with_placeholders(node: Any) -> Any:
    """``node`` with every pattern-checked text also taking a ``${ENV}`` placeholder."""
    if isinstance(node, list):
        return [_with_placeholders(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: value if key in ("examples", "default", "const", "enum") else _with_placeholders(value)
        for key, value in node.items()
    }
    if "pattern" in out and out.get("type", "string") == "string":
        notes = {key: out.pop(key) for key in _ANNOTATIONS if key in out}
        return {**notes, "anyOf": [out, PLACEHOLDER_SCHEMA]}
    return out


def schema_for(what: str) -> dict[str, Any]:
    """The JSON Schema for ``what``; raises KeyError naming the accepted values."""
    if what == "canonical":
        return canonical_schema()
    if what == "connectors":
        document = connectors_schema()
    elif what == "sources":
        document = sources_schema()
    else:
        model = _models().get(what)
        if model is None:
            raise KeyError(f"unknown schema {what!r}: use {', '.join(schema_names())}")
        document = {"$schema": _DIALECT, **model.model_json_schema(by_alias=True)}
    result: dict[str, Any] = _with_placeholders(document)
    return result
