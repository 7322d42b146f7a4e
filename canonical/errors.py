"""The error tree of the canonical layer.

Every failure the pure layer can name is one of these, so the router classes a failed transform
without matching strings::

    CanonicalError
    ├── MappingError            a vendor payload cannot be mapped (``.path`` + ``.reason``);
    │                           permanent: the router dead-letters it, retrying cannot help
    ├── MoneyError (ValueError)
    │   ├── CurrencyMismatchError   arithmetic across two currencies
    │   └── InexactAmountError      an amount has more decimals than the currency's minor unit
    └── SchemaVersionError      a payload or a consumer names a version this code cannot serve

The money errors subclass ``ValueError`` on purpose: raised inside a pydantic validator they become
ordinary ``ValidationError`` entries that name the field path.
"""

from __future__ import annotations


class CanonicalError(Exception):
    """Base class of every error the canonical layer raises on purpose."""


class MappingError(CanonicalError):
    """A vendor payload could not be mapped.

    Attributes:
        path: Where the problem is, in the input's own terms (``data.object.lines.data[0].amount``),
            or ``canonical:<Model>.<field>`` when the mapped value failed canonical validation.
        reason: What is wrong, in words.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path or '<root>'}: {reason}")


class MoneyError(CanonicalError, ValueError):
    """A money operation is not defined for these operands."""


class CurrencyMismatchError(MoneyError):
    """Two amounts in different currencies were combined."""


class InexactAmountError(MoneyError):
    """An amount cannot be expressed in whole minor units of its currency without rounding."""


class SchemaVersionError(CanonicalError):
    """A payload's ``schema_version`` (or a consumer's declared one) cannot be served."""
