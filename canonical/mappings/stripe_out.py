"""Canonical models -> Stripe API form parameters.

Stripe's API takes ``application/x-www-form-urlencoded`` bodies with bracketed keys, so these
functions return flat ``{"metadata[ref_netsuite]": "123", "items[0][price]": "price_..."}`` dicts
of strings, ready for the connector to url-encode. :func:`unflatten_form` is the inverse (what
Stripe does on its side), used by tests and handy when reading a dead-lettered request.

Where a request goes is the connector's business: a customer that already has a ``stripe`` ref is
an update (``POST /v1/customers/{id}``), and create-only parameters (``tax_id_data``) are left out
then.

:func:`stripe_subscription_request_from_order` returns nested JSON instead (``items`` as a list of
objects, ``metadata`` as an object): the ``stripe`` connector flattens it into the same bracketed
keys, and a workflow can set ``customer`` on it afterwards.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import re
from collections.abc import Mapping
from typing import Any

from canonical.errors import MappingError
from canonical.mappings._common import external_key, is_recurring_line, whole_quantity
from canonical.mappings.stripe import REF_PREFIX, stripe_exponent
from canonical.models import (
    Address,
    Cancellation,
    Customer,
    ExternalRef,
    Order,
    Pause,
    PlanChange,
    QuantityChange,
    Subscription,
)
from canonical.money import Money


def _put(params: dict[str, str], key: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        params[key] = "true" if value else "false"
    else:
        params[key] = str(value)


def _address(params: dict[str, str], prefix: str, address: Address) -> None:
    _put(params, f"{prefix}[line1]", address.line1)
    _put(params, f"{prefix}[line2]", address.line2)
    _put(params, f"{prefix}[city]", address.city)
    _put(params, f"{prefix}[state]", address.region)
    _put(params, f"{prefix}[postal_code]", address.postal_code)
    _put(params, f"{prefix}[country]", address.country)


def _ref_metadata(params: dict[str, str], refs: tuple[ExternalRef, ...]) -> None:
    for ref in refs:
        if ref.system != "stripe":
            params[f"metadata[{REF_PREFIX}{ref.system}]"] = ref.id


def stripe_minor(money: Money) -> int:
    """An amount in Stripe's minor units; refuses amounts finer than Stripe can charge."""
    return money.to_minor(exponent=stripe_exponent(money.currency))


def _unix(when: dt.datetime) -> int:
    return calendar.timegm(when.utctimetuple())


def stripe_customer_params_from_customer(customer: Customer) -> dict[str, Any]:
    """Parameters for ``POST /v1/customers`` (create) or ``/v1/customers/{id}`` (update).

    Stripe holds one name, one email and one phone: the legal name, and the primary contact's
    email and phone. The display name and ids in other systems travel in ``metadata``.
    """
    params: dict[str, str] = {"name": customer.legal_name}
    contact = customer.primary_contact
    if contact is not None:
        _put(params, "email", contact.email)
        _put(params, "phone", contact.phone)
    if customer.billing_address is not None:
        _address(params, "address", customer.billing_address)
    if customer.shipping_address is not None:
        ship = customer.shipping_address
        params["shipping[name]"] = ship.recipient or customer.legal_name
        _address(params, "shipping[address]", ship)
    params["metadata[display_name]"] = customer.display_name
    _ref_metadata(params, customer.external_refs)
    if customer.ref("stripe") is None:
        for i, tax_id in enumerate(customer.tax_ids):
            params[f"tax_id_data[{i}][type]"] = tax_id.kind
            params[f"tax_id_data[{i}][value]"] = tax_id.value
    if customer.currency is not None:
        params["metadata[currency]"] = customer.currency  # Stripe's own currency is read-only
    return dict(params)


def stripe_subscription_params_from_subscription(subscription: Subscription) -> dict[str, Any]:
    """Parameters for ``POST /v1/subscriptions``: customer, priced items, metadata.

    Raises:
        MappingError: The customer or an item's price has no Stripe id (create them first).
    """
    customer = subscription.customer.ref("stripe")
    if customer is None:
        raise MappingError("customer.external_refs", "the customer has no stripe id")
    params: dict[str, str] = {
        "customer": customer,
        "currency": subscription.currency.lower(),
    }
    for i, item in enumerate(subscription.items):
        price = item.price.ref("stripe") if item.price else None
        if price is None:
            raise MappingError(f"items[{i}].price", "the item's price has no stripe id")
        params[f"items[{i}][price]"] = price
        params[f"items[{i}][quantity]"] = str(item.quantity)
    _put(params, "cancel_at_period_end", subscription.cancel_at_period_end)
    if subscription.trial_end is not None:
        params["trial_end"] = str(_unix(subscription.trial_end))
    _ref_metadata(params, subscription.external_refs)
    return dict(params)


def stripe_subscription_update_from_amendment(
    amendment: PlanChange | QuantityChange | Cancellation | Pause,
) -> dict[str, Any]:
    """Parameters for ``POST /v1/subscriptions/{id}`` applying one amendment.

    The proration flag becomes ``proration_behavior`` (``create_prorations`` or ``none``); the
    effective date becomes ``proration_date`` when it is not today.

    Raises:
        MappingError: A referenced subscription item or price has no Stripe id.
    """
    params: dict[str, str] = {
        "proration_behavior": "create_prorations" if amendment.prorate else "none",
        "proration_date": str(
            _unix(dt.datetime.combine(amendment.effective_date, dt.time(), dt.UTC))
        ),
    }
    if isinstance(amendment, PlanChange | QuantityChange):
        item = amendment.item.ref("stripe") if amendment.item else None
        if item is None:
            raise MappingError("item.external_refs", "the subscription item has no stripe id")
        params["items[0][id]"] = item
        if isinstance(amendment, PlanChange):
            price = amendment.to_price.ref("stripe")
            if price is None:
                raise MappingError("to_price.external_refs", "the new price has no stripe id")
            params["items[0][price]"] = price
        else:
            params["items[0][quantity]"] = str(amendment.to_quantity)
    elif isinstance(amendment, Cancellation):
        params["cancel_at_period_end"] = "true" if amendment.at_period_end else "false"
        if not amendment.at_period_end:
            params["cancel_at"] = params["proration_date"]
        if amendment.reason:
            params["cancellation_details[comment]"] = amendment.reason
    else:
        params["pause_collection[behavior]"] = "void"
        if amendment.resumes_on is not None:
            resume = dt.datetime.combine(amendment.resumes_on, dt.time(), dt.UTC)
            params["pause_collection[resumes_at]"] = str(_unix(resume))
    return dict(params)


_TERM = re.compile(r"-(\d+)([MY])$|-(MONTHLY|ANNUAL|YEARLY)$")


def stripe_recurring_for_sku(sku: str) -> dict[str, Any]:
    """Stripe's ``recurring`` for a term SKU: ``-12M`` and ``-1Y`` bill yearly, ``-3M`` every 3
    months, ``-MONTHLY`` monthly (see :func:`~canonical.mappings._common.is_recurring_line`)."""
    match = _TERM.search(sku)
    if match is None or match.group(3) == "MONTHLY":
        return {"interval": "month"}
    if match.group(3) is not None:
        return {"interval": "year"}
    count, unit = int(match.group(1)), match.group(2)
    if unit == "Y" or count % 12 == 0:
        years = count if unit == "Y" else count // 12
        return {"interval": "year", "interval_count": years}
    return {"interval": "month", "interval_count": count}


def stripe_subscription_request_from_order(order: Order) -> dict[str, Any]:
    """``create_subscription`` parameters for the recurring lines of a won order.

    A won deal with subscription lines must start billing in Stripe; this is the request, less the
    ``customer``, which the workflow sets once the Stripe customer exists. Only recurring lines
    (see :func:`~canonical.mappings._common.is_recurring_line`) become ``items``; one-off lines such
    as onboarding are not part of a subscription. Each item carries its price inline
    (``price_data``: the deal's negotiated unit price, the SKU as the product, the term as the
    interval) because a CRM deal names a product code and a price, not a Stripe price object;
    Stripe creates the price with the subscription. Lines of one SKU are merged, since Stripe
    refuses a product twice at one price. ``metadata`` names the opportunity and the order's
    upsert key, and repeats the opportunity as ``ref_salesforce``: Stripe echoes metadata in every
    ``customer.subscription.*`` event, and the inbound mapping reads ``ref_<system>`` keys back as
    external refs, so later changes to the subscription can be tied to the same deal.

    Raises:
        MappingError: No recurring line, a recurring line without a SKU or a unit price, with a
            fractional quantity, or an order without external refs.
    """
    items: dict[str, dict[str, Any]] = {}
    for i, line in enumerate(order.lines):
        if not is_recurring_line(line):
            continue
        if not line.sku:
            raise MappingError(f"lines[{i}].sku", "a recurring line needs a SKU to name its price")
        if line.unit_price is None:
            raise MappingError(f"lines[{i}].unit_price", "a recurring line needs a unit price")
        quantity = whole_quantity(line.quantity, f"lines[{i}].quantity")
        if line.sku in items:
            items[line.sku]["quantity"] += quantity
            continue
        items[line.sku] = {
            "price_data": {
                "currency": order.currency.lower(),
                "product": line.sku,
                "unit_amount": stripe_minor(line.unit_price),
                "recurring": stripe_recurring_for_sku(line.sku),
            },
            "quantity": quantity,
        }
    if not items:
        raise MappingError("lines", "the order has no recurring line to subscribe to")
    metadata = {"order_external_id": external_key(order, "order")}
    opportunity = (order.opportunity.ref("salesforce") if order.opportunity else None) or order.ref(
        "salesforce"
    )
    if opportunity is not None:
        metadata["salesforce_opportunity_id"] = opportunity
        metadata[f"{REF_PREFIX}salesforce"] = opportunity
    return {"items": list(items.values()), "metadata": metadata}


_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def unflatten_form(params: Mapping[str, str]) -> dict[str, Any]:
    """Turn bracketed form keys back into nested dicts and lists, as Stripe parses them.

    Raises:
        ValueError: A key is not of the ``a[b][0][c]`` form.
    """
    root: dict[str, Any] = {}
    for key, value in params.items():
        match = _KEY.match(key)
        if match is None:
            raise ValueError(f"malformed form key {key!r}")
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node: Any = root
        for part, nxt in itertools.pairwise(parts):
            container: Any = [] if nxt.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                node[index] = node[index] if node[index] is not None else container
                node = node[index]
            else:
                node = node.setdefault(part, container)
        last = parts[-1]
        if isinstance(node, list):
            index = int(last)
            while len(node) <= index:
                node.append(None)
            node[index] = value
        else:
            node[last] = value
    return root
