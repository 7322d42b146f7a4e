"""The NetSuite order amendment: a subscription change rewrites the deal's order in place.

Pure mapping tests over the vendor fixtures: the subscription's items set the order's
subscription lines (matched by item), a line billing no longer charges for is closed, a new item
is added, one-off lines are kept, and an ended subscription closes its lines and the order.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from canonical import MappingError
from canonical.mappings.netsuite_out import (
    RECURRING_COLUMN,
    netsuite_order_ref_from_subscription,
    netsuite_sales_order_amendment,
)
from canonical.mappings.stripe import stripe_subscription_to_canonical

VENDORS = Path(__file__).parents[1] / "fixtures" / "vendors"


def _fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((VENDORS / name).read_text())
    return document


def _subscription(**changes: Any) -> dict[str, Any]:
    event = _fixture("stripe/subscription_updated.json")
    event["data"]["object"].update(changes)
    return stripe_subscription_to_canonical(event).model_dump(mode="json")


def _amend(subscription: dict[str, Any], order: dict[str, Any] | None = None) -> dict[str, Any]:
    order = order or _fixture("netsuite/sales_order.json")
    return netsuite_sales_order_amendment({"subscription": subscription, "order": order})


def test_the_deals_order_is_found_by_the_deal_the_subscription_names() -> None:
    event = _fixture("stripe/subscription_updated.json")
    ref = netsuite_order_ref_from_subscription(stripe_subscription_to_canonical(event))
    assert ref == {"type": "salesOrder", "externalId": "salesforce-006Hs00001XyZabIAB"}


def test_a_quantity_change_updates_the_seat_line_and_keeps_the_one_off_line() -> None:
    body = _amend(_subscription())
    seat, onboarding = body["item"]["items"]
    assert seat["item"] == {"externalId": "prod_RqW2proSeat"}
    assert (seat["quantity"], seat["rate"], seat["amount"]) == (5, 49, 245)
    assert seat[RECURRING_COLUMN] is True and "isClosed" not in seat
    assert onboarding == _fixture("netsuite/sales_order.json")["item"]["items"][1]
    assert body["externalId"] == "salesforce-006Hs00001XyZabIAB"  # the same order, upserted
    assert body["orderStatus"] == {"id": "B"}
    assert "links" not in body and "id" not in body  # NetSuite's read-only parts stay out
    assert body["memo"].startswith("Amended from Stripe subscription sub_1QyL8xB2nK4xPzRaH2kD")


def test_a_plan_change_closes_the_old_line_and_adds_the_new_one() -> None:
    event = _fixture("stripe/subscription_updated.json")
    item = event["data"]["object"]["items"]["data"][0]
    item["price"]["product"] = "prod_Enterprise"
    body = _amend(stripe_subscription_to_canonical(event).model_dump(mode="json"))
    old, onboarding, new = body["item"]["items"]
    assert old["item"] == {"externalId": "prod_RqW2proSeat"} and old["isClosed"] is True
    assert "isClosed" not in onboarding
    assert new["item"] == {"externalId": "prod_Enterprise"} and new["quantity"] == 5
    assert new[RECURRING_COLUMN] is True


def test_a_cancellation_closes_the_subscription_lines_and_the_order() -> None:
    event = _fixture("stripe/subscription_deleted.json")
    subscription = stripe_subscription_to_canonical(event).model_dump(mode="json")
    body = _amend(subscription)
    seat = body["item"]["items"][0]
    assert seat["isClosed"] is True
    assert body["orderStatus"] == {"id": "H"}


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({"subscription": {}}, "needs {subscription"),
        ({"subscription": None, "order": {}}, "needs {subscription"),
    ],
)
def test_missing_parts_are_a_mapping_error(parts: dict[str, Any], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        netsuite_sales_order_amendment(parts)


def test_an_order_without_lines_is_a_mapping_error() -> None:
    order = copy.deepcopy(_fixture("netsuite/sales_order.json"))
    del order["item"]
    with pytest.raises(MappingError, match="no lines to amend"):
        _amend(_subscription(), order)
