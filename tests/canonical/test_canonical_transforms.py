"""The transforms ``actors.transforms`` registers: names, types, and type-consistent chains."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import actors.transforms  # noqa: F401 - importing registers the transforms
from canonical import Customer, Invoice, Order
from router import registry

VENDORS = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"

EXPECTED = {
    "dynamics.account_from_customer",
    "dynamics.invoice_from_invoice",
    "dynamics.sales_order_from_order",
    "netsuite.customer_from_canonical",
    "netsuite.customer_to_canonical",
    "netsuite.invoice_from_invoice",
    "netsuite.invoice_to_canonical",
    "netsuite.payment_from_invoice",
    "netsuite.payment_to_canonical",
    "netsuite.sales_order_from_order",
    "salesforce.account_from_customer",
    "salesforce.account_to_canonical",
    "salesforce.contact_to_canonical",
    "salesforce.opportunity_from_order",
    "salesforce.opportunity_to_canonical",
    "shopify.inventory_level_to_canonical",
    "shopify.order_to_canonical",
    "stripe.charge_refund_to_canonical",
    "stripe.customer_from_canonical",
    "stripe.customer_to_canonical",
    "stripe.invoice_to_canonical",
    "stripe.subscription_from_canonical",
    "stripe.subscription_to_canonical",
    "stripe.subscription_update_from_amendment",
    "zendesk.organization_from_customer",
    "zendesk.ticket_from_support_ticket",
    "zendesk.ticket_to_canonical",
}


def test_every_mapping_is_registered_under_its_dotted_name() -> None:
    specs = registry.transforms()
    assert set(specs) >= EXPECTED
    for name in EXPECTED:
        vendor = name.split(".")[0]
        module = specs[name].fn.__module__
        assert module in {f"canonical.mappings.{vendor}", f"canonical.mappings.{vendor}_out"}, name


def test_inbound_transforms_take_raw_json_and_outbound_take_models() -> None:
    specs = registry.transforms()
    for name in EXPECTED:
        spec = specs[name]
        if name.endswith("_to_canonical"):
            assert spec.input_type == dict[str, Any]
            assert not spec.validates_input
            assert issubclass(spec.output_type, BaseModel)
        else:
            assert spec.output_type == dict[str, Any]


def _chains_ok(first: str, second: str) -> bool:
    specs = registry.transforms()
    out, into = specs[first].output_type, specs[second].input_type
    return isinstance(out, type) and isinstance(into, type) and issubclass(out, into)


def test_typical_chains_are_type_consistent() -> None:
    assert _chains_ok("stripe.invoice_to_canonical", "netsuite.payment_from_invoice")
    assert _chains_ok("salesforce.opportunity_to_canonical", "netsuite.sales_order_from_order")
    assert _chains_ok("stripe.customer_to_canonical", "dynamics.account_from_customer")
    assert not _chains_ok("stripe.customer_to_canonical", "netsuite.payment_from_invoice")
    assert registry.transforms()["netsuite.payment_from_invoice"].input_type is Invoice
    assert registry.transforms()["netsuite.sales_order_from_order"].input_type is Order
    assert registry.transforms()["zendesk.organization_from_customer"].input_type is Customer


def test_a_registered_chain_runs_end_to_end() -> None:
    specs = registry.transforms()
    event = json.loads((VENDORS / "stripe" / "invoice_paid.json").read_text(encoding="utf-8"))
    invoice = specs["stripe.invoice_to_canonical"].fn(event)
    body = specs["netsuite.payment_from_invoice"].fn(invoice)
    assert body["externalId"] == "stripe-in_1QyL9bB2nK4xPzRaVw4c-payment"
    assert body["payment"] == 385.88
    assert body["apply"]["items"][0]["doc"] == {"externalId": "stripe-in_1QyL9bB2nK4xPzRaVw4c"}
