"""JSON Schemas of the canonical models, and the checked-in copies under docs/schemas/canonical.

``python -m canonical.schemas`` rewrites the files; ``python -m canonical.schemas --check`` exits 1
when they are stale (a test runs the same check).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from canonical import models as m

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "docs" / "schemas" / "canonical"

MODELS: dict[str, Any] = {
    "Contact": m.Contact,
    "CreditNote": m.CreditNote,
    "Customer": m.Customer,
    "Entitlement": m.Entitlement,
    "Fulfillment": m.Fulfillment,
    "InventoryLevel": m.InventoryLevel,
    "Invoice": m.Invoice,
    "Order": m.Order,
    "Payment": m.Payment,
    "Price": m.Price,
    "Product": m.Product,
    "Quote": m.Quote,
    "Subscription": m.Subscription,
    "SubscriptionAmendment": m.SubscriptionAmendment,
    "SupportOrganization": m.SupportOrganization,
    "SupportTicket": m.SupportTicket,
}
"""Every top-level canonical document, by schema name (unions included)."""


def json_schemas() -> dict[str, dict[str, Any]]:
    """Return the JSON Schema (draft 2020-12, validation mode) of every canonical model."""
    out: dict[str, dict[str, Any]] = {}
    for name, tp in MODELS.items():
        schema = TypeAdapter(tp).json_schema(mode="validation")
        schema.setdefault("title", name)
        out[name] = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return out


def render(schema: dict[str, Any]) -> str:
    """Serialise one schema the way the checked-in files are written (stable, diff-friendly)."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write ``<Name>.json`` for every model into ``directory``; remove stale extra files."""
    directory.mkdir(parents=True, exist_ok=True)
    schemas = json_schemas()
    for old in directory.glob("*.json"):
        if old.stem not in schemas:
            old.unlink()
    written = []
    for name, schema in schemas.items():
        path = directory / f"{name}.json"
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names whose checked-in file is missing, differs from the models, or has no model."""
    schemas = json_schemas()
    stale = [
        name
        for name, schema in schemas.items()
        if not (directory / f"{name}.json").is_file()
        or (directory / f"{name}.json").read_text(encoding="utf-8") != render(schema)
    ]
    stale += [p.stem for p in directory.glob("*.json") if p.stem not in schemas]
    return sorted(stale)


def main(argv: list[str] | None = None) -> int:
    """Entry point: write the schemas, or with ``--check`` report stale ones and return 1."""
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        stale = stale_schemas()
        for name in stale:
            sys.stderr.write(f"stale: {SCHEMA_DIR / name}.json\n")
        return 1 if stale else 0
    for path in write_schemas():
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
