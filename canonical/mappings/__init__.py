"""Pure vendor mappings: one-argument functions, precisely annotated.

Inbound functions take the vendor's JSON (``dict[str, Any]``) and return a canonical model;
outbound functions take a canonical model and return the vendor's request body
(``dict[str, Any]``). The router type-checks transform chains from these annotations, so keep them
exact. Every failure is a :class:`~canonical.errors.MappingError` naming a path.

Derivations from one canonical model to another (``salesforce_customer_from_order``: the buying
account of a won deal) live in their vendor module and are not re-exported here.
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
    netsuite_order_ref_from_subscription,
    netsuite_payment_from_invoice,
    netsuite_sales_order_amendment,
    netsuite_sales_order_from_order,
    netsuite_sales_order_from_subscription,
)
from canonical.mappings.provisioning import (
    provisioning_entitlement_from_order,
    provisioning_entitlement_from_subscription,
)
from canonical.mappings.salesforce import (
    salesforce_account_from_customer,
    salesforce_account_to_canonical,
    salesforce_billing_status_from_invoice,
    salesforce_contact_to_canonical,
    salesforce_opportunity_from_order,
    salesforce_opportunity_to_canonical,
    salesforce_subscription_status_from_subscription,
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
    stripe_subscription_request_from_order,
    stripe_subscription_update_from_amendment,
    unflatten_form,
)
from canonical.mappings.threepl import threepl_fulfilment_request_from_order
from canonical.mappings.zendesk import (
    zendesk_organization_from_customer,
    zendesk_ticket_from_failed_invoice,
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
    "netsuite_order_ref_from_subscription",
    "netsuite_payment_from_invoice",
    "netsuite_payment_to_canonical",
    "netsuite_sales_order_amendment",
    "netsuite_sales_order_from_order",
    "netsuite_sales_order_from_subscription",
    "provisioning_entitlement_from_order",
    "provisioning_entitlement_from_subscription",
    "salesforce_account_from_customer",
    "salesforce_account_to_canonical",
    "salesforce_billing_status_from_invoice",
    "salesforce_contact_to_canonical",
    "salesforce_opportunity_from_order",
    "salesforce_opportunity_to_canonical",
    "salesforce_subscription_status_from_subscription",
    "shopify_inventory_level_to_canonical",
    "shopify_order_to_canonical",
    "stripe_charge_refund_to_canonical",
    "stripe_customer_params_from_customer",
    "stripe_customer_to_canonical",
    "stripe_invoice_to_canonical",
    "stripe_subscription_params_from_subscription",
    "stripe_subscription_request_from_order",
    "stripe_subscription_to_canonical",
    "stripe_subscription_update_from_amendment",
    "threepl_fulfilment_request_from_order",
    "unflatten_form",
    "zendesk_organization_from_customer",
    "zendesk_ticket_from_failed_invoice",
    "zendesk_ticket_from_support_ticket",
    "zendesk_ticket_to_canonical",
]
