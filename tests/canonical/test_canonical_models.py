"""Model invariants: frozen and closed, totals, lifecycles, prices, refs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from pydantic import ValidationError

from canonical import models as m
from canonical.money import Money

USD = "USD"
REFS = (m.ExternalRef(system="stripe", id="in_1"),)


def usd(amount: str) -> Money:
    return Money.of(amount, USD)


def _invoice(**overrides: object) -> m.Invoice:
    fields: dict[str, object] = {
        "external_refs": REFS,
        "currency": USD,
        "lines": (m.LineItem(quantity=Decimal(2), unit_price=usd("50"), amount=usd("100")),),
        "subtotal": usd("100"),
        "discount_total": usd("10"),
        "tax_total": usd("7.20"),
        "total": usd("97.20"),
        "amount_paid": usd("0"),
        "amount_remaining": usd("97.20"),
        "status": m.InvoiceStatus.OPEN,
    }
    fields.update(overrides)
    return m.Invoice.model_validate(fields)


def test_models_are_frozen_and_closed() -> None:
    invoice = _invoice()
    with pytest.raises(ValidationError):
        invoice.number = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError) as info:
        m.Invoice.model_validate({**invoice.model_dump(), "colour": "red"})
    assert info.value.errors()[0]["loc"] == ("colour",)


def test_totals_must_add_up() -> None:
    with pytest.raises(ValidationError, match=r"total .* != subtotal - discounts"):
        _invoice(total=usd("100"))
    assert _invoice(tax_inclusive=True, total=usd("90")).total == usd("90")


def test_a_document_has_one_currency_and_the_error_names_the_field() -> None:
    eur_line = m.LineItem(amount=Money.of("100", "EUR"))
    with pytest.raises(ValidationError, match=r"lines\[0\]\.amount is in EUR"):
        _invoice(lines=(eur_line,))


def test_line_amount_must_match_unit_price_within_a_minor_unit() -> None:
    assert m.LineItem(quantity=Decimal(3), unit_price=usd("0.333"), amount=usd("1.00")).amount
    with pytest.raises(ValidationError, match="amount"):
        m.LineItem(quantity=Decimal(3), unit_price=usd("10"), amount=usd("31"))


def test_line_discounts_and_taxes() -> None:
    line = m.LineItem(
        quantity=Decimal(4),
        unit_price=usd("25"),
        amount=usd("100"),
        discounts=(m.Discount(percent=Decimal(10)), m.Discount(amount=usd("5"))),
        taxes=(m.TaxLine(amount=usd("6.80"), rate=Decimal(8)),),
    )
    assert line.discount_total == usd("15")
    assert line.tax_total == usd("6.80")
    with pytest.raises(ValidationError, match="exactly one"):
        m.Discount(percent=Decimal(10), amount=usd("1"))


def test_invoice_lifecycle() -> None:
    invoice = _invoice()
    assert invoice.advance(m.InvoiceStatus.VOID).status is m.InvoiceStatus.VOID
    with pytest.raises(ValueError, match="cannot become draft"):
        invoice.advance(m.InvoiceStatus.DRAFT)
    assert not m.InvoiceStatus.PAID.can_become(m.InvoiceStatus.OPEN)
    with pytest.raises(ValidationError, match="paid invoice has nothing remaining"):
        _invoice(status=m.InvoiceStatus.PAID)


def test_order_lifecycle() -> None:
    flow = [
        m.OrderStatus.SUBMITTED,
        m.OrderStatus.CONFIRMED,
        m.OrderStatus.FULFILLED,
        m.OrderStatus.COMPLETED,
    ]
    order = m.Order(
        external_refs=REFS,
        currency=USD,
        subtotal=usd("0"),
        discount_total=usd("0"),
        tax_total=usd("0"),
        total=usd("0"),
    )
    for status in flow:
        order = order.advance(status)
    assert order.status is m.OrderStatus.COMPLETED
    with pytest.raises(ValueError, match="completed cannot become canceled"):
        order.advance(m.OrderStatus.CANCELED)


def test_every_lifecycle_table_names_only_its_own_statuses() -> None:
    for enum in (
        m.OrderStatus,
        m.QuoteStatus,
        m.PaymentState,
        m.InvoiceStatus,
        m.PaymentStatus,
        m.CreditNoteStatus,
        m.SubscriptionStatus,
        m.EntitlementStatus,
        m.TicketStatus,
    ):
        table = enum.transitions()
        values = {s.value for s in enum}
        assert set(table) == values, enum
        assert all(targets <= values for targets in table.values()), enum


def test_graduated_and_volume_prices() -> None:
    tiers = (
        m.PriceTier(up_to=10, unit_amount=usd("5")),
        m.PriceTier(up_to=None, unit_amount=usd("3"), flat_amount=usd("20")),
    )
    graduated = m.TieredPrice(external_refs=REFS, currency=USD, tiers=tiers)
    volume = m.VolumePrice(external_refs=REFS, currency=USD, tiers=tiers)
    assert graduated.amount_for(15) == usd("85")  # 10 x 5 + (5 x 3 + 20)
    assert volume.amount_for(15) == usd("65")  # 15 x 3 + 20
    assert volume.amount_for(10) == usd("50")
    with pytest.raises(ValidationError, match="open-ended"):
        m.TieredPrice(external_refs=REFS, currency=USD, tiers=tiers[:1])


def test_recurring_price_and_terms() -> None:
    price = m.RecurringPrice(
        external_refs=REFS,
        currency=USD,
        unit_amount=usd("49"),
        recurrence=m.Recurrence(interval=m.Interval.MONTH),
    )
    assert price.amount_for(3) == usd("147")
    assert m.PaymentTerms.net(30).label == "Net 30"
    assert m.PaymentTerms.net(0).kind == "due_on_receipt"
    with pytest.raises(ValidationError, match="net terms need days"):
        m.PaymentTerms(kind="net", days=0)


def test_refs_are_unique_per_system_and_the_first_is_the_origin() -> None:
    refs = (
        m.ExternalRef(system="salesforce", id="001"),
        m.ExternalRef(system="stripe", id="cus_1"),
    )
    customer = m.Customer(external_refs=refs, legal_name="Acme", display_name="Acme")
    assert customer.origin == refs[0]
    assert customer.ref("stripe") == "cus_1"
    assert customer.ref("netsuite") is None
    with pytest.raises(ValidationError, match="names stripe more than once"):
        m.Customer(external_refs=(refs[1], refs[1]), legal_name="Acme", display_name="Acme")


def test_amendments_and_entitlements() -> None:
    sub = m.EntityRef(external_refs=(m.ExternalRef(system="stripe", id="sub_1"),))
    day = dt.date(2026, 2, 1)
    with pytest.raises(ValidationError, match="must change the quantity"):
        m.QuantityChange(subscription=sub, effective_date=day, from_quantity=3, to_quantity=3)
    with pytest.raises(ValidationError, match="resumes_on must come after"):
        m.Pause(subscription=sub, effective_date=day, resumes_on=day)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    grant = m.Entitlement(
        customer=sub,
        target_kind="feature",
        target="sso",
        status=m.EntitlementStatus.ACTIVE,
        starts_at=start,
        ends_at=start + dt.timedelta(days=30),
    )
    assert grant.active_at(start + dt.timedelta(days=1))
    assert not grant.active_at(start + dt.timedelta(days=31))
    suspended = grant.model_copy(update={"status": m.EntitlementStatus.SUSPENDED})
    assert not suspended.active_at(start + dt.timedelta(days=1))  # in range, but not in force
    with pytest.raises(ValidationError, match="status"):
        m.Entitlement.model_validate(
            {"customer": sub, "target_kind": "feature", "target": "sso", "starts_at": start}
        )


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        m.InventoryLevel(
            item=m.EntityRef(),
            location=m.EntityRef(),
            available=1,
            updated_at=dt.datetime(2026, 1, 1),  # noqa: DTZ001
        )
    assert info.value.errors()[0]["loc"] == ("updated_at",)
