"""Small helpers shared by the vendor mappings (references, addresses, external keys)."""

from __future__ import annotations

import re
from decimal import Decimal

from canonical.errors import MappingError
from canonical.models import Address, EntityRef, ExternalRef, LineItem
from canonical.models._base import _Referenced

_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_TERM_SKU = re.compile(r"-(?:\d+[MY]|MONTHLY|ANNUAL|YEARLY)$", re.IGNORECASE)


def refs(*pairs: tuple[str, str | None]) -> tuple[ExternalRef, ...]:
    """Build external refs from ``(system, id)`` pairs, skipping missing ids."""
    return tuple(ExternalRef(system=s, id=i) for s, i in pairs if i)


def entity_ref(system: str, ident: str | None, name: str | None = None) -> EntityRef | None:
    """An EntityRef to ``system:ident``, or None when the id is missing."""
    if not ident:
        return None
    return EntityRef(external_refs=(ExternalRef(system=system, id=ident),), name=name)


def external_key(record: _Referenced, path: str) -> str:
    """The idempotent upsert key for a record: ``<origin system>-<origin id>``.

    NetSuite external ids allow letters, digits, ``_`` and ``-`` only, and Dynamics alternate keys
    are compared as text, so other characters become ``_``. The key is derived from the record's
    system of origin, so redelivering the same message upserts the same target record.

    Raises:
        MappingError: The record has no external refs at all (nothing stable to key on).
    """
    origin = record.origin
    if origin is None:
        raise MappingError(f"{path}.external_refs", "no external ref to derive an upsert key from")
    return f"{origin.system}-{_KEY_UNSAFE.sub('_', origin.id)}"


def parse_external_key(key: str | None) -> ExternalRef | None:
    """Invert :func:`external_key` when the id had no unsafe characters (``stripe-cus_1``)."""
    if not key or "-" not in key:
        return None
    system, _, ident = key.partition("-")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", system) or not ident:
        return None
    return ExternalRef(system=system, id=ident)


def make_address(
    *,
    recipient: str | None = None,
    line1: str | None = None,
    line2: str | None = None,
    city: str | None = None,
    region: str | None = None,
    postal_code: str | None = None,
    country: str | None = None,
) -> Address | None:
    """An Address, or None when every field is empty (vendors send all-null address objects)."""
    if not any((line1, line2, city, region, postal_code, country)):
        return None
    return Address(
        recipient=recipient,
        line1=line1,
        line2=line2,
        city=city,
        region=region,
        postal_code=postal_code,
        country=country.upper() if country else None,
    )


def deal_key(record: _Referenced, path: str) -> str:
    """The upsert key of what a record belongs to: its Salesforce deal when it names one
    (``salesforce-006...``), else the record's own key.

    A won opportunity becomes an ERP order and an entitlement keyed by the deal; the Stripe
    subscription it started names the deal in its metadata, so every later change to that
    subscription finds the same order and the same entitlement instead of making second ones.

    Raises:
        MappingError: The record has no external refs.
    """
    deal = record.ref("salesforce")
    if deal is not None:
        return f"salesforce-{_KEY_UNSAFE.sub('_', deal)}"
    return external_key(record, path)


def is_recurring_line(line: LineItem) -> bool:
    """True for a subscription line: it has a service period, or its SKU ends in a term.

    Salesforce opportunity lines do not say how often they bill, so the product-code convention
    decides: a SKU ending in ``-<n>M``, ``-<n>Y``, ``-MONTHLY``, ``-ANNUAL`` or ``-YEARLY`` names a
    term (``PLAT-SEAT-12M`` is a twelve-month seat); anything else (``ONB-STD``, onboarding) is
    billed once and grants nothing recurring.
    """
    return line.period is not None or bool(line.sku and _TERM_SKU.search(line.sku))


def whole_quantity(quantity: Decimal, path: str) -> int:
    """A quantity as an int, for targets that count units (seats, parcels, subscription items).

    Raises:
        MappingError: The quantity has a fractional part (``2.5`` seats cannot be provisioned).
    """
    if quantity != quantity.to_integral_value():
        raise MappingError(path, f"quantity {quantity} is not a whole number")
    return int(quantity)
