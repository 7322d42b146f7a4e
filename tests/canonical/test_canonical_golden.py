"""Golden tests: every vendor fixture through its mapping (and onward chains) vs checked-in output.

Set ``INTERLOCK_REGEN_GOLDEN=1`` to rewrite ``tests/fixtures/golden/*.json`` after an intended
change; by default the test asserts equality, so any drift in a mapping fails here first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from canonical import mappings as mp

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VENDORS = FIXTURES / "vendors"
GOLDEN = FIXTURES / "golden"
REGEN = os.environ.get("INTERLOCK_REGEN_GOLDEN") == "1"

Step = Callable[[Any], Any]


def _amended_by_the_fixture_update(order: Any) -> Any:
    """The deal's order as NetSuite returns it, amended by the stripe subscription update."""
    event = json.loads((VENDORS / "stripe/subscription_updated.json").read_text(encoding="utf-8"))
    subscription = mp.stripe_subscription_to_canonical(event).model_dump(mode="json")
    return mp.netsuite_sales_order_amendment({"subscription": subscription, "order": order})


# (golden name, fixture path under vendors/, the chain of mappings to apply in order)
CASES: list[tuple[str, str, tuple[Step, ...]]] = [
    ("stripe__customer_created", "stripe/customer_created", (mp.stripe_customer_to_canonical,)),
    ("stripe__customer_updated", "stripe/customer_updated", (mp.stripe_customer_to_canonical,)),
    ("stripe__invoice_finalized", "stripe/invoice_finalized", (mp.stripe_invoice_to_canonical,)),
    ("stripe__invoice_paid", "stripe/invoice_paid", (mp.stripe_invoice_to_canonical,)),
    (
        "stripe__invoice_payment_failed",
        "stripe/invoice_payment_failed",
        (mp.stripe_invoice_to_canonical,),
    ),
    (
        "stripe__subscription_created",
        "stripe/subscription_created",
        (mp.stripe_subscription_to_canonical,),
    ),
    (
        "stripe__subscription_updated",
        "stripe/subscription_updated",
        (mp.stripe_subscription_to_canonical,),
    ),
    (
        "stripe__subscription_deleted",
        "stripe/subscription_deleted",
        (mp.stripe_subscription_to_canonical,),
    ),
    ("stripe__charge_refunded", "stripe/charge_refunded", (mp.stripe_charge_refund_to_canonical,)),
    ("salesforce__account_rest", "salesforce/account_rest", (mp.salesforce_account_to_canonical,)),
    (
        "salesforce__account_cdc_create",
        "salesforce/account_cdc_create",
        (mp.salesforce_account_to_canonical,),
    ),
    ("salesforce__contact_rest", "salesforce/contact_rest", (mp.salesforce_contact_to_canonical,)),
    (
        "salesforce__contact_cdc_create",
        "salesforce/contact_cdc_create",
        (mp.salesforce_contact_to_canonical,),
    ),
    (
        "salesforce__opportunity_closed_won",
        "salesforce/opportunity_closed_won",
        (mp.salesforce_opportunity_to_canonical,),
    ),
    ("shopify__orders_create", "shopify/orders_create", (mp.shopify_order_to_canonical,)),
    ("shopify__orders_paid", "shopify/orders_paid", (mp.shopify_order_to_canonical,)),
    (
        "shopify__inventory_levels_update",
        "shopify/inventory_levels_update",
        (mp.shopify_inventory_level_to_canonical,),
    ),
    ("zendesk__ticket_created", "zendesk/ticket_created", (mp.zendesk_ticket_to_canonical,)),
    (
        "zendesk__ticket_status_changed",
        "zendesk/ticket_status_changed",
        (mp.zendesk_ticket_to_canonical,),
    ),
    (
        "zendesk__ticket_trigger_updated",
        "zendesk/ticket_trigger_updated",
        (mp.zendesk_ticket_to_canonical,),
    ),
    ("netsuite__invoice", "netsuite/invoice", (mp.netsuite_invoice_to_canonical,)),
    (
        "netsuite__customer_payment",
        "netsuite/customer_payment",
        (mp.netsuite_payment_to_canonical,),
    ),
    ("netsuite__customer", "netsuite/customer", (mp.netsuite_customer_to_canonical,)),
    ("netsuite__sales_order__amended", "netsuite/sales_order", (_amended_by_the_fixture_update,)),
    # outbound chains: vendor event -> canonical -> another vendor's request body
    (
        "chain__stripe_invoice_paid__netsuite_payment",
        "stripe/invoice_paid",
        (mp.stripe_invoice_to_canonical, mp.netsuite_payment_from_invoice),
    ),
    (
        "chain__stripe_invoice_finalized__netsuite_invoice",
        "stripe/invoice_finalized",
        (mp.stripe_invoice_to_canonical, mp.netsuite_invoice_from_invoice),
    ),
    (
        "chain__stripe_invoice_finalized__dynamics_invoice",
        "stripe/invoice_finalized",
        (mp.stripe_invoice_to_canonical, mp.dynamics_invoice_from_invoice),
    ),
    (
        "chain__stripe_customer__netsuite_customer",
        "stripe/customer_created",
        (mp.stripe_customer_to_canonical, mp.netsuite_customer_from_canonical),
    ),
    (
        "chain__stripe_customer__dynamics_account",
        "stripe/customer_created",
        (mp.stripe_customer_to_canonical, mp.dynamics_account_from_customer),
    ),
    (
        "chain__stripe_customer__zendesk_organization",
        "stripe/customer_created",
        (mp.stripe_customer_to_canonical, mp.zendesk_organization_from_customer),
    ),
    (
        "chain__stripe_customer__salesforce_account",
        "stripe/customer_created",
        (mp.stripe_customer_to_canonical, mp.salesforce_account_from_customer),
    ),
    (
        "chain__salesforce_account__stripe_customer",
        "salesforce/account_rest",
        (mp.salesforce_account_to_canonical, mp.stripe_customer_params_from_customer),
    ),
    (
        "chain__salesforce_opportunity__netsuite_sales_order",
        "salesforce/opportunity_closed_won",
        (mp.salesforce_opportunity_to_canonical, mp.netsuite_sales_order_from_order),
    ),
    (
        "chain__salesforce_opportunity__dynamics_sales_order",
        "salesforce/opportunity_closed_won",
        (mp.salesforce_opportunity_to_canonical, mp.dynamics_sales_order_from_order),
    ),
    (
        "chain__shopify_order__netsuite_sales_order",
        "shopify/orders_create",
        (mp.shopify_order_to_canonical, mp.netsuite_sales_order_from_order),
    ),
    (
        "chain__shopify_order__salesforce_opportunity",
        "shopify/orders_paid",
        (mp.shopify_order_to_canonical, mp.salesforce_opportunity_from_order),
    ),
    (
        "chain__stripe_subscription__stripe_params",
        "stripe/subscription_created",
        (mp.stripe_subscription_to_canonical, mp.stripe_subscription_params_from_subscription),
    ),
    (
        "chain__zendesk_ticket__zendesk_ticket_body",
        "zendesk/ticket_trigger_updated",
        (mp.zendesk_ticket_to_canonical, mp.zendesk_ticket_from_support_ticket),
    ),
]


def _as_json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


@pytest.mark.parametrize(("name", "fixture", "chain"), CASES, ids=[c[0] for c in CASES])
def test_golden(name: str, fixture: str, chain: tuple[Step, ...]) -> None:
    value: Any = json.loads((VENDORS / f"{fixture}.json").read_text(encoding="utf-8"))
    for step in chain:
        value = step(value)
    actual = json.loads(json.dumps(_as_json(value)))  # normalise tuples to lists
    golden = GOLDEN / f"{name}.json"
    if REGEN:
        golden.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert golden.is_file(), f"missing {golden}; run with INTERLOCK_REGEN_GOLDEN=1 to create it"
    assert actual == json.loads(golden.read_text(encoding="utf-8"))


def test_every_fixture_has_a_golden_case() -> None:
    used = {fixture for _, fixture, _ in CASES}
    on_disk = {str(p.relative_to(VENDORS).with_suffix("")) for p in VENDORS.rglob("*.json")}
    assert on_disk == used


def test_no_stale_golden_files() -> None:
    names = {name for name, _, _ in CASES}
    assert {p.stem for p in GOLDEN.glob("*.json")} == names
