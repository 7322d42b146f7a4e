"""Money: a Decimal amount with an ISO 4217 currency, never a float.

Rules, in one place:

- ``amount`` is a :class:`~decimal.Decimal`; NaN and infinities are rejected, floats from vendor
  JSON are converted through their shortest ``repr`` (``0.1`` -> ``Decimal("0.1")``), never through
  ``Decimal(float)``.
- ``currency`` is an upper-case ISO 4217 code from :data:`ISO_4217_EXPONENTS`.
- Sums and comparisons check currencies: ``USD + EUR`` raises :class:`CurrencyMismatchError`.
- Minor units follow the currency's exponent (JPY 0, USD 2, KWD 3). Conversion to minor units is
  exact or it raises :class:`InexactAmountError`, unless the caller names a rounding mode.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from canonical._currencies import ISO_4217_EXPONENTS
from canonical.errors import CurrencyMismatchError, InexactAmountError

__all__ = [
    "ISO_4217_EXPONENTS",
    "Currency",
    "Money",
    "minor_exponent",
    "money_sum",
    "to_decimal",
]


def minor_exponent(currency: str) -> int:
    """Return how many decimal places the currency's minor unit has (JPY 0, USD 2, KWD 3).

    Raises:
        ValueError: ``currency`` is not an active ISO 4217 code.
    """
    try:
        return ISO_4217_EXPONENTS[currency]
    except KeyError:
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code") from None


if TYPE_CHECKING:
    Currency = str
else:
    # A Literal validates in pydantic-core (no Python call per amount) and lists the codes in the
    # JSON Schema; mypy sees a plain str.
    Currency = Annotated[
        Literal[tuple(sorted(ISO_4217_EXPONENTS))],
        Field(description="ISO 4217 alphabetic code, upper case"),
    ]


def to_decimal(value: Any) -> Decimal:
    """Convert a JSON number or numeric string to Decimal without binary-float artefacts.

    Floats go through ``repr`` (the shortest string that round-trips), so ``0.1`` becomes
    ``Decimal("0.1")``, not ``Decimal("0.1000000000000000055511151231257827")``.

    Raises:
        ValueError: ``value`` is a bool, not numeric, NaN or infinite.
    """
    if isinstance(value, bool):
        # ValueError, not TypeError: pydantic turns only ValueError into a field-located error
        raise ValueError("a boolean is not an amount")  # noqa: TRY004
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except ArithmeticError:
            raise ValueError(f"{value!r} is not a decimal number") from None
    else:
        raise ValueError(f"{type(value).__name__} is not an amount")  # noqa: TRY004 - see above
    if not result.is_finite():
        raise ValueError("amounts must be finite")
    return result


# pydantic-core already converts floats through their repr (0.1 -> Decimal("0.1")) and rejects
# NaN and infinities under allow_inf_nan=False; strict=False keeps numeric strings and ints valid.
Amount = Annotated[Decimal, Field(description="exact decimal amount, never a float")]


class Money(BaseModel):
    """An amount of one currency; immutable, hashable and exact."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    amount: Amount
    currency: Currency

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def of(cls, amount: Any, currency: str) -> Self:
        """Build Money from any JSON-ish number (int, float via repr, numeric string, Decimal)."""
        return cls(amount=to_decimal(amount), currency=currency)

    @classmethod
    def zero(cls, currency: str) -> Self:
        """Return zero in ``currency``, at the currency's minor-unit scale (``0.00`` for USD)."""
        return cls.from_minor(0, currency)

    @classmethod
    def from_minor(cls, units: int, currency: str, *, exponent: int | None = None) -> Self:
        """Build Money from an integer count of minor units (cents for USD, yen for JPY).

        Args:
            units: The integer amount in minor units, as Stripe or Adyen send it.
            currency: ISO 4217 code.
            exponent: Override the ISO exponent when a vendor deviates from it (Stripe keeps ISK
                two-decimal in its API although ISO says zero).

        Returns:
            The exact amount, scaled to the exponent (``1234`` USD -> ``12.34``).
        """
        if isinstance(units, bool) or not isinstance(units, int):
            raise TypeError("minor units must be an int")
        exp = minor_exponent(currency) if exponent is None else exponent
        # Parsing "1234e-2" is exact at any size (no context rounding) and fast in C.
        return cls(amount=Decimal(f"{units}e-{exp}"), currency=currency)

    # -- conversion ---------------------------------------------------------------------------
    def to_minor(self, *, rounding: str | None = None, exponent: int | None = None) -> int:
        """Return the amount in integer minor units.

        Args:
            rounding: A :mod:`decimal` rounding mode (``ROUND_HALF_EVEN`` ...). When omitted, an
                amount finer than the minor unit raises instead of being silently rounded.
            exponent: Override the ISO exponent (see :meth:`from_minor`).

        Raises:
            InexactAmountError: The amount has more decimals than the minor unit and no rounding
                mode was given.
        """
        exp = minor_exponent(self.currency) if exponent is None else exponent
        sign, digits, dexp = self.amount.as_tuple()
        assert isinstance(dexp, int)  # finite by validation
        value = int("".join(map(str, digits)) or "0")
        shift = dexp + exp
        if shift >= 0:
            units = value * 10**shift
        else:
            units, remainder = divmod(value, 10**-shift)
            if remainder:
                if rounding is None:
                    raise InexactAmountError(
                        f"{self.amount} {self.currency} is not a whole number of 10^-{exp} units"
                    )
                # enough precision that scaling is exact; only the final rounding is lossy
                with localcontext(Context(prec=len(digits) + abs(exp) + 2)):
                    return int(self.amount.scaleb(exp).to_integral_value(rounding=rounding))
        return int(-units if sign else units)  # int() because typeshed types int ** int as Any

    def quantized(self, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Return the amount rounded to the currency's minor unit."""
        return Money.from_minor(self.to_minor(rounding=rounding), self.currency)

    # -- arithmetic ---------------------------------------------------------------------------
    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot combine {self.currency} with {other.currency}; convert first"
            )

    def _result(self, amount: Decimal) -> Money:
        # Plain validation, measured faster than model_construct (~3 µs vs ~5 µs): the checks run
        # in pydantic-core, model_construct in Python.
        return Money(amount=amount, currency=self.currency)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return self._result(self.amount + other.amount)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return self._result(self.amount - other.amount)

    def __neg__(self) -> Money:
        return self._result(-self.amount)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, Decimal | int):
            raise TypeError("Money multiplies by a Decimal or int only, never a float")
        return self._result(self.amount * factor)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def money_sum(items: Iterable[Money], currency: str) -> Money:
    """Sum amounts of one currency; an empty iterable sums to zero in ``currency``.

    Raises:
        CurrencyMismatchError: An item is in another currency.
    """
    total = Money.zero(currency)
    for item in items:
        total = total + item
    return total
