"""NetSuite transforms: the pure mappings of :mod:`canonical.mappings`, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from canonical.mappings.netsuite import (
    netsuite_customer_to_canonical,
    netsuite_invoice_to_canonical,
    netsuite_payment_to_canonical,
)
from canonical.mappings.netsuite_out import (
    netsuite_customer_from_canonical,
    netsuite_invoice_from_invoice,
    netsuite_order_ref_from_subscription,
    netsuite_payment_from_invoice,
    netsuite_sales_order_amendment,
    netsuite_sales_order_from_order,
    netsuite_sales_order_from_subscription,
)
from router.plugin import register

TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "netsuite.customer_to_canonical": netsuite_customer_to_canonical,
    "netsuite.invoice_to_canonical": netsuite_invoice_to_canonical,
    "netsuite.payment_to_canonical": netsuite_payment_to_canonical,
    "netsuite.customer_from_canonical": netsuite_customer_from_canonical,
    "netsuite.sales_order_from_order": netsuite_sales_order_from_order,
    "netsuite.invoice_from_invoice": netsuite_invoice_from_invoice,
    "netsuite.payment_from_invoice": netsuite_payment_from_invoice,
    "netsuite.sales_order_from_subscription": netsuite_sales_order_from_subscription,
    "netsuite.order_ref_from_subscription": netsuite_order_ref_from_subscription,
    "netsuite.sales_order_amendment": netsuite_sales_order_amendment,
}
"""Transform name -> function; the names are what route files refer to."""

for _name, _fn in TRANSFORMS.items():
    register("transform", _name, None, _fn)
