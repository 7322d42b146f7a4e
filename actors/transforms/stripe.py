"""Stripe transforms: the pure mappings of :mod:`canonical.mappings`, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from canonical.mappings.stripe import (
    stripe_charge_refund_to_canonical,
    stripe_customer_to_canonical,
    stripe_invoice_to_canonical,
    stripe_subscription_to_canonical,
)
from canonical.mappings.stripe_out import (
    stripe_customer_params_from_customer,
    stripe_subscription_params_from_subscription,
    stripe_subscription_request_from_order,
    stripe_subscription_update_from_amendment,
)
from router.plugin import register

TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "stripe.customer_to_canonical": stripe_customer_to_canonical,
    "stripe.invoice_to_canonical": stripe_invoice_to_canonical,
    "stripe.subscription_to_canonical": stripe_subscription_to_canonical,
    "stripe.charge_refund_to_canonical": stripe_charge_refund_to_canonical,
    "stripe.customer_from_canonical": stripe_customer_params_from_customer,
    "stripe.subscription_from_canonical": stripe_subscription_params_from_subscription,
    "stripe.subscription_update_from_amendment": stripe_subscription_update_from_amendment,
    "stripe.subscription_request_from_order": stripe_subscription_request_from_order,
}
"""Transform name -> function; the names are what route files refer to."""

for _name, _fn in TRANSFORMS.items():
    register("transform", _name, None, _fn)
