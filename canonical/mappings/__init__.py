"""Pure vendor mappings: one-argument functions, precisely annotated.

Inbound functions take the vendor's JSON (``dict[str, Any]``) and return a canonical model;
outbound functions take a canonical model and return the vendor's request body
(``dict[str, Any]``). The router type-checks transform chains from these annotations, so keep them
exact. Every failure is a :class:`~canonical.errors.MappingError` naming a path.
"""

from __future__ import annotations

from canonical.mappings.dynamics import (
    dynamics_account_from_customer,
    dynamics_invoice_from_invoice,
    dynamics_sales_order_from_order,
)
from canonical.mappings.netsuite import (
    netsuite_customer_to_canonical,
    netsuite_invoice_to_canonical,
    netsuite_payment_to_canonical,
)
from canonical.mappings.netsuite_out import (
    netsuite_customer_from_canonical,
    netsuite_invoice_from_invoice,
    netsuite_payment_from_invoice,
    netsuite_sales_order_from_order,
)
from canonical.mappings.salesforce import (
    salesforce_account_from_customer,
    salesforce_account_to_canonical,
    salesforce_contact_to_canonical,
    salesforce_opportunity_from_order,
    salesforce_opportunity_to_canonical,
)
from canonical.mappings.shopify import (
    shopify_inventory_level_to_canonical,
    shopify_order_to_canonical,
)
from canonical.mappings.stripe import (
    stripe_charge_refund_to_canonical,
    stripe_customer_to_canonical,
    stripe_invoice_to_canonical,
    stripe_subscription_to_canonical,
)
from canonical.mappings.stripe_out import (
    stripe_customer_params_from_customer,
    stripe_subscription_params_from_subscription,
    stripe_subscription_update_from_amendment,
    unflatten_form,
)
from canonical.mappings.zendesk import (
    zendesk_organization_from_customer,
    zendesk_ticket_from_support_ticket,
    zendesk_ticket_to_canonical,
)

__all__ = [
    "dynamics_account_from_customer",
    "dynamics_invoice_from_invoice",
    "dynamics_sales_order_from_order",
    "netsuite_customer_from_canonical",
    "netsuite_customer_to_canonical",
    "netsuite_invoice_from_invoice",
    "netsuite_invoice_to_canonical",
    "netsuite_payment_from_invoice",
    "netsuite_payment_to_canonical",
    "netsuite_sales_order_from_order",
    "salesforce_account_from_customer",
    "salesforce_account_to_canonical",
    "salesforce_contact_to_canonical",
    "salesforce_opportunity_from_order",
    "salesforce_opportunity_to_canonical",
    "shopify_inventory_level_to_canonical",
    "shopify_order_to_canonical",
    "stripe_charge_refund_to_canonical",
    "stripe_customer_params_from_customer",
    "stripe_customer_to_canonical",
    "stripe_invoice_to_canonical",
    "stripe_subscription_params_from_subscription",
    "stripe_subscription_to_canonical",
    "stripe_subscription_update_from_amendment",
    "unflatten_form",
    "zendesk_organization_from_customer",
    "zendesk_ticket_from_support_ticket",
    "zendesk_ticket_to_canonical",
]
