"""Salesforce transforms: the pure mappings of :mod:`canonical.mappings`, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from canonical.mappings.salesforce import (
    salesforce_account_from_customer,
    salesforce_account_to_canonical,
    salesforce_billing_status_from_invoice,
    salesforce_contact_to_canonical,
    salesforce_customer_from_order,
    salesforce_opportunity_from_order,
    salesforce_opportunity_to_canonical,
    salesforce_subscription_status_from_subscription,
)
from router.plugin import register

TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "salesforce.account_to_canonical": salesforce_account_to_canonical,
    "salesforce.contact_to_canonical": salesforce_contact_to_canonical,
    "salesforce.opportunity_to_canonical": salesforce_opportunity_to_canonical,
    "salesforce.account_from_customer": salesforce_account_from_customer,
    "salesforce.opportunity_from_order": salesforce_opportunity_from_order,
    "salesforce.customer_from_order": salesforce_customer_from_order,
    "salesforce.billing_status_from_invoice": salesforce_billing_status_from_invoice,
    "salesforce.subscription_status_from_subscription": (
        salesforce_subscription_status_from_subscription
    ),
}
"""Transform name -> function; the names are what route files refer to."""

for _name, _fn in TRANSFORMS.items():
    register("transform", _name, None, _fn)
