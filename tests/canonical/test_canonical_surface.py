"""The public surface, the layering rule, the registered transforms and the JSON Schemas."""

from __future__ import annotations

import ast
import inspect
import json
import typing
from pathlib import Path
from typing import Any

import canonical
from canonical import mappings
from canonical.models import Entity
from canonical.schemas import MODELS, SCHEMA_DIR, json_schemas, render, stale_schemas

PACKAGE = Path(canonical.__file__).resolve().parent


def test_public_names_are_pinned() -> None:
    assert sorted(canonical.__all__) == [
        "Address", "CanonicalError", "Contact", "CreditNote", "CurrencyMismatchError", "Customer",
        "Entitlement", "EntityRef", "ExternalRef", "Fulfillment", "InexactAmountError",
        "InventoryLevel", "Invoice", "LineItem", "MappingError", "Money", "MoneyError", "Order",
        "Payment", "Price", "Product", "Quote", "SchemaVersionError", "Shipment", "Subscription",
        "SubscriptionAmendment", "SupportOrganization", "SupportTicket", "TaxId", "consumer",
        "json_schemas", "load", "minor_exponent", "money_sum", "upcast",
    ]  # fmt: skip
    assert all(hasattr(canonical, name) for name in canonical.__all__)


def test_canonical_imports_nothing_from_router_or_actors() -> None:
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not roots & {"router", "actors"}, f"{path} imports {roots}"


def test_every_mapping_takes_one_precisely_annotated_argument() -> None:
    for name in mappings.__all__:
        if name == "unflatten_form":
            continue
        fn = getattr(mappings, name)
        params = list(inspect.signature(fn).parameters)
        hints = typing.get_type_hints(fn)
        assert len(params) == 1, name
        assert hints[params[0]] is not Any, name
        if name.endswith("_to_canonical"):
            assert hints[params[0]] == dict[str, Any], name
            assert issubclass(hints["return"], Entity), name
        else:
            assert hints["return"] == dict[str, Any], name


def test_every_document_model_is_versioned_and_has_a_schema() -> None:
    schemas = json_schemas()
    assert set(schemas) == set(MODELS)
    for name, schema in schemas.items():
        assert schema["title"] == name
        text = json.dumps(schema)
        assert "schema_version" in text, name
    for tp in MODELS.values():
        if isinstance(tp, type) and issubclass(tp, Entity):
            assert "schema_version" in tp.model_fields, tp


def test_checked_in_schemas_are_current() -> None:
    assert stale_schemas() == [], "run: python -m canonical.schemas"
    customer = json.loads((SCHEMA_DIR / "Customer.json").read_text(encoding="utf-8"))
    assert customer["properties"]["schema_version"]["const"] == 2
    assert render(json_schemas()["Customer"]) == (SCHEMA_DIR / "Customer.json").read_text(
        encoding="utf-8"
    )


def test_stale_schema_detection_notices_a_changed_file(tmp_path: Path) -> None:
    from canonical.schemas import write_schemas

    write_schemas(tmp_path)
    assert stale_schemas(tmp_path) == []
    (tmp_path / "Invoice.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "Gone.json").write_text("{}\n", encoding="utf-8")
    assert stale_schemas(tmp_path) == ["Gone", "Invoice"]
