"""Dynamics 365 transforms: the pure mappings of :mod:`canonical.mappings`, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from canonical.mappings.dynamics import (
    dynamics_account_from_customer,
    dynamics_invoice_from_invoice,
    dynamics_sales_order_from_order,
)
from router.plugin import register

TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "dynamics.account_from_customer": dynamics_account_from_customer,
    "dynamics.sales_order_from_order": dynamics_sales_order_from_order,
    "dynamics.invoice_from_invoice": dynamics_invoice_from_invoice,
}
"""Transform name -> function; the names are what route files refer to."""

for _name, _fn in TRANSFORMS.items():
    register("transform", _name, None, _fn)
