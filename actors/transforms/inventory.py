"""Inventory availability for the request/reply route against Dynamics 365.

The question ("is SKU X in stock, where?") becomes an OData query the ``dynamics`` connector's
``query_inventory`` operation runs, and the OData answer becomes a small, stable reply.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from router.plugin import register


class AvailabilityQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    warehouse: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")


def inventory_query(question: AvailabilityQuestion) -> dict[str, Any]:
    """The ``query_inventory`` document for one SKU (optionally one warehouse)."""
    where = {"msdyn_itemnumber": question.sku}
    if question.warehouse:
        where["msdyn_warehouse"] = question.warehouse
    return {
        "filter": where,
        "select": ["msdyn_itemnumber", "msdyn_warehouse", "msdyn_availablequantity"],
        "top": 50,
    }


def inventory_availability(answer: dict[str, Any]) -> dict[str, Any]:
    """Sum an OData ``value`` list of on-hand rows: ``{sku, available, in_stock, locations}``."""
    rows = [row for row in answer.get("value") or [] if isinstance(row, dict)]
    locations: list[dict[str, Any]] = [
        {
            "warehouse": str(row.get("msdyn_warehouse", "")),
            "available": float(row.get("msdyn_availablequantity") or 0),
        }
        for row in rows
    ]
    skus = {str(row.get("msdyn_itemnumber")) for row in rows}
    available = sum(float(location["available"]) for location in locations)
    return {
        "sku": skus.pop() if len(skus) == 1 else None,
        "available": available,
        "in_stock": available > 0,
        "locations": locations,
    }


register("transform", "dynamics.inventory_query", None, inventory_query)
register("transform", "dynamics.inventory_availability", None, inventory_availability)
