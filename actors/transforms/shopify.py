"""Shopify transforms: the pure mappings of :mod:`canonical.mappings`, registered by name.

Plus :func:`availability_question_from_order`, which asks the ``inventory-availability`` question
of a web order; it lives here rather than in :mod:`canonical` because the question model belongs
to :mod:`actors.transforms.inventory`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from actors.transforms.inventory import AvailabilityQuestion
from canonical import MappingError, Order
from canonical.mappings.shopify import (
    shopify_customer_from_order,
    shopify_inventory_level_to_canonical,
    shopify_order_to_canonical,
)
from router.plugin import register


def availability_question_from_order(order: Order) -> AvailabilityQuestion:
    """Is the order's first stocked item available? The question for ``dynamics.inventory_query``.

    A web order should not be sent to the warehouse for goods the ERP says are gone, so the
    workflow asks first. The question names one SKU, that of the first line that has one, because
    the answer transform ``dynamics.inventory_availability`` sees only the OData rows, never the
    question: summed over several SKUs it would report ``in_stock`` when any one of them is in
    stock, and it cannot tell which requested SKU had no rows at all. Checking every line needs a
    question per line, or an answer transform that is given the question. ``in_stock`` means more
    than zero available, not enough for the ordered quantity.

    Raises:
        MappingError: No line has a SKU, or the SKU is not one the question accepts
            (letters, digits, ``.``, ``_`` and ``-``).
    """
    index, sku = next(((i, ln.sku) for i, ln in enumerate(order.lines) if ln.sku), (None, None))
    if index is None or sku is None:
        raise MappingError("lines", "no line has a SKU to ask the inventory about")
    try:
        return AvailabilityQuestion(sku=sku)
    except ValidationError as exc:
        raise MappingError(f"lines[{index}].sku", exc.errors()[0]["msg"]) from exc


TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "shopify.order_to_canonical": shopify_order_to_canonical,
    "shopify.inventory_level_to_canonical": shopify_inventory_level_to_canonical,
    "shopify.availability_question_from_order": availability_question_from_order,
    "shopify.customer_from_order": shopify_customer_from_order,
}
"""Transform name -> function; the names are what route files refer to."""

for _name, _fn in TRANSFORMS.items():
    register("transform", _name, None, _fn)
