"""Shopify transforms: the pure mappings of :mod:`canonical.mappings`, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from canonical.mappings.shopify import (
    shopify_inventory_level_to_canonical,
    shopify_order_to_canonical,
)
from router.registry import register_transform

TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "shopify.order_to_canonical": shopify_order_to_canonical,
    "shopify.inventory_level_to_canonical": shopify_inventory_level_to_canonical,
}
"""Transform name -> function; the names are what route files refer to."""

for _name, _fn in TRANSFORMS.items():
    register_transform(_name, _fn)
