"""Typed mapping errors that name a path, validation errors that name a field, and upcasting."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import ValidationError

from canonical import Customer, MappingError, SchemaVersionError, consumer, load, upcast
from canonical import mappings as mp
from canonical.models import Entitlement, EntitlementStatus, Entity, Invoice
from canonical.versioning import steps, upcaster

VENDORS = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VENDORS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def test_mapping_error_names_path_and_reason() -> None:
    error = MappingError("data.object.total", "is required")
    assert (error.path, error.reason) == ("data.object.total", "is required")
    assert str(error) == "data.object.total: is required"


def test_missing_line_amount_is_reported_at_its_path() -> None:
    event = fixture("stripe/invoice_paid")
    del event["data"]["object"]["lines"]["data"][1]["amount"]
    with pytest.raises(MappingError) as info:
        mp.stripe_invoice_to_canonical(event)
    assert info.value.path == "data.object.lines.data[1].amount"
    assert "required" in info.value.reason


def test_wrong_event_type_is_a_mapping_error() -> None:
    with pytest.raises(MappingError) as info:
        mp.stripe_invoice_to_canonical(fixture("stripe/customer_created"))
    assert info.value.path == "type"


def test_totals_that_do_not_reconcile_are_refused() -> None:
    event = fixture("stripe/invoice_finalized")
    event["data"]["object"]["total_discount_amounts"][0]["amount"] = 1
    with pytest.raises(MappingError, match="do not reconcile") as info:
        mp.stripe_invoice_to_canonical(event)
    assert info.value.path == "data.object.total_discount_amounts"


def test_canonical_validation_failures_become_mapping_errors_with_a_canonical_path() -> None:
    event = fixture("stripe/customer_created")
    event["data"]["object"]["address"]["country"] = "USA"
    with pytest.raises(MappingError) as info:
        mp.stripe_customer_to_canonical(event)
    assert info.value.path == "canonical:Address.country"
    assert "pattern" in info.value.reason


def test_unknown_currency_names_the_vendor_field() -> None:
    order = fixture("shopify/orders_create")
    order["currency"] = "ZZZ"
    with pytest.raises(MappingError) as info:
        mp.shopify_order_to_canonical(order)
    assert info.value.path.endswith(".currency")


def test_salesforce_cdc_update_is_refused_with_a_reason() -> None:
    event = copy.deepcopy(fixture("salesforce/account_cdc_create"))
    event["data"]["payload"]["ChangeEventHeader"]["changeType"] = "UPDATE"
    with pytest.raises(MappingError, match="changed fields only") as info:
        mp.salesforce_account_to_canonical(event)
    assert info.value.path == "data.payload.ChangeEventHeader.changeType"


def test_open_opportunity_is_not_an_order() -> None:
    opp = fixture("salesforce/opportunity_closed_won")
    opp |= {"StageName": "Negotiation/Review", "IsWon": False, "IsClosed": False}
    with pytest.raises(MappingError, match="not Closed Won"):
        mp.salesforce_opportunity_to_canonical(opp)


def test_netsuite_unexpanded_sublist_says_how_to_fix_it() -> None:
    record = fixture("netsuite/invoice")
    record["item"] = {"links": [{"rel": "self", "href": "https://example/invoice/8812/item"}]}
    with pytest.raises(MappingError, match="expandSubResources") as info:
        mp.netsuite_invoice_to_canonical(record)
    assert info.value.path == "item.items"


def test_outbound_mapping_without_a_key_fails_cleanly() -> None:
    invoice = mp.stripe_invoice_to_canonical(fixture("stripe/invoice_finalized"))
    with pytest.raises(MappingError, match="no payment") as info:
        mp.netsuite_payment_from_invoice(invoice)
    assert info.value.path == "amount_paid"


def test_validation_errors_name_the_nested_field_path() -> None:
    payload = mp.stripe_invoice_to_canonical(fixture("stripe/invoice_paid")).model_dump(mode="json")
    payload["lines"][1]["amount"]["currency"] = "usd"
    with pytest.raises(ValidationError) as info:
        Invoice.model_validate(payload)
    assert info.value.errors()[0]["loc"] == ("lines", 1, "amount", "currency")


V1_CUSTOMER = {
    "schema_version": 1,
    "external_refs": [{"system": "salesforce", "id": "001Hs00002ABCdeIAH"}],
    "name": "Acme Robotics, Inc.",
    "email": "billing@acme-robotics.example",
    "phone": "+14155550132",
    "street": "510 Townsend St",
    "city": "San Francisco",
    "state": "CA",
    "postal_code": "94103",
    "country": "US",
    "currency": "USD",
    "payment_terms_days": 30,
    "status": "active",
}


def test_v1_customer_is_refused_by_plain_validation() -> None:
    with pytest.raises(ValidationError, match="upcast"):
        Customer.model_validate(V1_CUSTOMER)


def test_v1_customer_is_upcast_and_validates() -> None:
    customer = load(Customer, V1_CUSTOMER)
    assert customer.schema_version == 2
    assert customer.legal_name == customer.display_name == "Acme Robotics, Inc."
    assert customer.billing_address is not None
    assert customer.billing_address.line1 == "510 Townsend St"
    assert customer.billing_address.region == "CA"
    assert customer.primary_contact is not None
    assert customer.primary_contact.email == "billing@acme-robotics.example"
    assert customer.payment_terms is not None
    assert customer.payment_terms.label == "Net 30"
    assert V1_CUSTOMER["schema_version"] == 1  # the input is not mutated


def test_current_payloads_pass_through_upcast_unchanged() -> None:
    current = load(Customer, V1_CUSTOMER).model_dump(mode="json")
    assert upcast(Customer, current) == current


def test_newer_or_bogus_versions_are_refused() -> None:
    with pytest.raises(SchemaVersionError, match="newer than this code"):
        upcast(Customer, {**V1_CUSTOMER, "schema_version": 3})
    with pytest.raises(SchemaVersionError, match="not valid"):
        upcast(Customer, {**V1_CUSTOMER, "schema_version": "1"})


def test_upcast_output_that_is_still_invalid_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        load(Customer, {**V1_CUSTOMER, "country": "United States"})
    assert info.value.errors()[0]["loc"] == ("billing_address", "country")


def test_consumers_state_the_version_they_read() -> None:
    read = consumer(Customer, 2)
    assert read(V1_CUSTOMER).legal_name == "Acme Robotics, Inc."
    with pytest.raises(SchemaVersionError, match="breaking"):
        consumer(Customer, 1)
    with pytest.raises(SchemaVersionError, match="only v2"):
        consumer(Customer, 3)
    assert [s.from_version for s in steps(Customer)] == [1]


V1_ENTITLEMENT: dict[str, Any] = {
    "schema_version": 1,
    "external_refs": [{"system": "salesforce", "id": "006Hs00001XyZ"}],
    "customer": {"external_refs": [{"system": "stripe", "id": "cus_1"}]},
    "target_kind": "product",
    "target": "PLAT-SEAT-12M",
    "limits": [{"name": "seats", "value": "10", "unit": "seat"}],
    "starts_at": "2026-02-01T00:00:00Z",
    "ends_at": "2027-02-01T00:00:00Z",
}


def test_v1_entitlement_is_refused_by_plain_validation() -> None:
    with pytest.raises(ValidationError, match="upcast"):
        Entitlement.model_validate(V1_ENTITLEMENT)


def test_v1_entitlement_is_upcast_to_an_active_v2() -> None:
    lifted = upcast(Entitlement, V1_ENTITLEMENT)
    assert lifted == {**V1_ENTITLEMENT, "schema_version": 2, "status": "active"}
    entitlement = load(Entitlement, V1_ENTITLEMENT)
    assert entitlement.schema_version == 2
    assert entitlement.status is EntitlementStatus.ACTIVE
    assert entitlement.active_at(entitlement.starts_at)  # what v1 meant: in force over its range
    assert entitlement.ends_at is not None and not entitlement.active_at(entitlement.ends_at)
    assert V1_ENTITLEMENT["schema_version"] == 1 and "status" not in V1_ENTITLEMENT


def test_the_entitlement_upcaster_never_overrides_an_explicit_status() -> None:
    suspended = {**V1_ENTITLEMENT, "status": "suspended"}
    assert load(Entitlement, suspended).status is EntitlementStatus.SUSPENDED


def test_current_entitlements_pass_through_and_newer_ones_are_refused() -> None:
    current = load(Entitlement, V1_ENTITLEMENT).model_dump(mode="json")
    assert upcast(Entitlement, current) == current
    with pytest.raises(SchemaVersionError, match=r"Entitlement v3 is newer than this code \(v2\)"):
        upcast(Entitlement, {**current, "schema_version": 3})


def test_the_entitlement_step_is_not_breaking() -> None:
    [step] = steps(Entitlement)
    assert (step.from_version, step.breaking) == (1, False)
    read = consumer(Entitlement, 1)  # an additive change: a v1 consumer may still read
    assert read(V1_ENTITLEMENT).status is EntitlementStatus.ACTIVE


class _Widget(Entity):
    """Test-only: at v3, with the v2 -> v3 step registered and v1 -> v2 missing."""

    schema_version: Literal[3] = 3
    size: int


@upcaster(_Widget, 2, breaking=False, note="size became an int")
def _widget_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "size": int(data["size"])}


def test_a_missing_step_names_the_model_both_versions_and_the_gap() -> None:
    assert load(_Widget, {"schema_version": 2, "size": "4"}).size == 4
    with pytest.raises(SchemaVersionError) as info:
        upcast(_Widget, {"schema_version": 1, "size": 4})
    assert str(info.value) == "_Widget v1 cannot be upcast to v3: no upcaster for v1 -> v2"
