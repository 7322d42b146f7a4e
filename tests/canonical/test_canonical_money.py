"""Money rules: exact decimals, ISO exponents, currency-checked arithmetic."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from canonical import CurrencyMismatchError, InexactAmountError, Money, minor_exponent, money_sum
from canonical.mappings.stripe import stripe_exponent
from canonical.money import ISO_4217_EXPONENTS

# too_slow: generation shares 2 cores with other suites; example counts are kept small instead
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BY_EXPONENT = {
    e: sorted(c for c, x in ISO_4217_EXPONENTS.items() if x == e)
    for e in sorted(set(ISO_4217_EXPONENTS.values()))
}
currencies = st.sampled_from(sorted(ISO_4217_EXPONENTS))


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4)],
)
def test_iso_exponents(currency: str, exponent: int) -> None:
    assert minor_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("units", "currency", "amount"),
    [(1234, "USD", "12.34"), (1234, "JPY", "1234"), (1234, "KWD", "1.234"), (-5, "BHD", "-0.005")],
)
def test_from_minor_scales_by_exponent(units: int, currency: str, amount: str) -> None:
    value = Money.from_minor(units, currency)
    assert value.amount == Decimal(amount)
    assert str(value.amount) == amount


def test_to_minor_refuses_to_round_silently() -> None:
    with pytest.raises(InexactAmountError, match="JPY"):
        Money.of("10.5", "JPY").to_minor()
    assert Money.of("10.5", "JPY").to_minor(rounding=ROUND_HALF_UP) == 11
    assert Money.of("0.125", "USD").quantized().amount == Decimal("0.12")  # half-even by default


def test_floats_enter_through_their_repr() -> None:
    assert Money.of(0.1, "USD").amount == Decimal("0.1")
    assert Money.model_validate({"amount": 0.1, "currency": "EUR"}).amount == Decimal("0.1")


@pytest.mark.parametrize("bad", ["NaN", "Infinity", float("inf"), True, "12,50"])
def test_non_finite_or_non_numeric_amounts_are_rejected(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        Money.model_validate({"amount": bad, "currency": "USD"})
    assert info.value.errors()[0]["loc"] == ("amount",)


@pytest.mark.parametrize("code", ["usd", "XXX", "XAU", "US", "EURO"])
def test_currency_must_be_an_active_iso_code(code: str) -> None:
    with pytest.raises(ValidationError) as info:
        Money.model_validate({"amount": "1", "currency": code})
    assert info.value.errors()[0]["loc"][0] == "currency"


def test_adding_usd_to_eur_raises() -> None:
    with pytest.raises(CurrencyMismatchError, match="USD with EUR"):
        _ = Money.of(1, "USD") + Money.of(1, "EUR")
    with pytest.raises(CurrencyMismatchError):
        _ = Money.of(1, "USD") < Money.of(1, "EUR")
    with pytest.raises(CurrencyMismatchError):
        money_sum([Money.of(1, "USD"), Money.of(1, "EUR")], "USD")


def test_arithmetic_and_sums() -> None:
    a, b = Money.of("10.10", "USD"), Money.of("0.90", "USD")
    assert (a + b).amount == Decimal("11.00")
    assert (a - b).amount == Decimal("9.20")
    assert (a * 3).amount == Decimal("30.30")
    assert (-a).amount == Decimal("-10.10")
    assert money_sum([], "JPY") == Money.zero("JPY")
    assert money_sum([a, b, b], "USD").to_minor() == 1190
    assert Money.of("1.0", "USD") == Money.of("1.00", "USD")
    with pytest.raises(TypeError, match="never a float"):
        _ = a * 1.5  # type: ignore[operator]


def test_stripe_exponents_follow_stripe_not_iso() -> None:
    assert stripe_exponent("USD") == 2
    assert stripe_exponent("JPY") == 0
    assert stripe_exponent("MGA") == 0  # ISO says 2; Stripe treats it as zero-decimal
    assert stripe_exponent("ISK") == 2  # ISO says 0; Stripe kept two decimals
    assert stripe_exponent("KWD") == 3


@FAST
@given(exponent=st.sampled_from([0, 2, 3]), data=st.data())
def test_minor_units_round_trip_for_every_exponent(exponent: int, data: st.DataObject) -> None:
    currency = data.draw(st.sampled_from(BY_EXPONENT[exponent]))
    units = data.draw(st.integers(-(10**18), 10**18))
    value = Money.from_minor(units, currency)
    assert value.to_minor() == units
    assert value.amount.as_tuple().exponent == -exponent
    assert Money.from_minor(value.to_minor(), currency) == value


@FAST
@given(exponent=st.sampled_from([0, 2, 3]), data=st.data())
def test_decimal_amounts_round_trip_through_minor_units(exponent: int, data: st.DataObject) -> None:
    currency = data.draw(st.sampled_from(BY_EXPONENT[exponent]))
    amount = data.draw(st.decimals(min_value=-(10**12), max_value=10**12, places=exponent))
    value = Money(amount=amount, currency=currency)
    assert Money.from_minor(value.to_minor(), currency).amount == amount


@FAST
@given(currency=currencies, a=st.integers(-(10**12), 10**12), b=st.integers(-(10**12), 10**12))
def test_addition_matches_integer_addition_of_minor_units(currency: str, a: int, b: int) -> None:
    total = Money.from_minor(a, currency) + Money.from_minor(b, currency)
    assert total.to_minor() == a + b
