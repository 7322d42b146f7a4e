"""Parties: customers and their contacts, addresses, tax ids and payment terms."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from canonical.models._base import (
    CanonicalModel,
    CountryCode,
    Entity,
    EntityRef,
    ShortStr,
)
from canonical.money import Currency

Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


class Address(CanonicalModel):
    """A postal address. Vendors often hold partial addresses, so only one line is required."""

    recipient: str | None = Field(None, description="addressee / attention line")
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = Field(None, description="state, province or county")
    postal_code: str | None = None
    country: CountryCode | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not any(
            (self.line1, self.line2, self.city, self.region, self.postal_code, self.country)
        ):
            raise ValueError("an address needs at least one of line1, city, postal_code, country")
        return self


class TaxId(CanonicalModel):
    """A tax registration; ``kind`` uses Stripe's vocabulary (``eu_vat``, ``us_ein`` ...)."""

    kind: Annotated[str, Field(pattern=r"^[a-z]{2,3}_[a-z_]+$")]
    value: ShortStr
    country: CountryCode | None = None


class Contact(Entity):
    """A person at a customer."""

    schema_version: Literal[1] = 1
    name: ShortStr
    first_name: str | None = None
    last_name: str | None = None
    email: Email | None = None
    phone: str | None = None
    title: str | None = None
    is_primary: bool = False
    account: EntityRef | None = Field(None, description="the customer this contact belongs to")
    mailing_address: Address | None = None


class PaymentTerms(CanonicalModel):
    """When an invoice falls due: on receipt, or net N days."""

    kind: Literal["due_on_receipt", "net"]
    days: Annotated[int, Field(ge=0, le=365)] = 0

    @model_validator(mode="after")
    def _days_match_kind(self) -> Self:
        if self.kind == "net" and self.days == 0:
            raise ValueError("net terms need days > 0; use due_on_receipt")
        if self.kind == "due_on_receipt" and self.days != 0:
            raise ValueError("due_on_receipt has no days")
        return self

    @classmethod
    def net(cls, days: int) -> PaymentTerms:
        """Net ``days`` terms (0 means due on receipt)."""
        return cls(kind="net", days=days) if days else cls(kind="due_on_receipt")

    @property
    def label(self) -> str:
        """The conventional label: ``Net 30`` or ``Due on receipt``."""
        return f"Net {self.days}" if self.kind == "net" else "Due on receipt"


class CustomerStatus(StrEnum):
    """Commercial standing. ``on_hold`` is a credit hold (Stripe ``delinquent``)."""

    PROSPECT = "prospect"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    INACTIVE = "inactive"


class Customer(Entity):
    """A buying organisation (or person), the same record across CRM, billing and ERP.

    Version history: v1 had one ``name`` and a flat address (``street``, ``city`` ...); v2 splits
    the legal and display names and holds billing and shipping :class:`Address` objects.
    """

    schema_version: Literal[2] = 2
    legal_name: ShortStr
    display_name: ShortStr
    contacts: tuple[Contact, ...] = ()
    billing_address: Address | None = None
    shipping_address: Address | None = None
    tax_ids: tuple[TaxId, ...] = ()
    currency: Currency | None = None
    payment_terms: PaymentTerms | None = None
    status: CustomerStatus = CustomerStatus.ACTIVE
    website: str | None = None
    updated_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_primary(self) -> Self:
        if sum(c.is_primary for c in self.contacts) > 1:
            raise ValueError("at most one contact can be primary")
        return self

    @property
    def primary_contact(self) -> Contact | None:
        """The primary contact, else the first one."""
        return next((c for c in self.contacts if c.is_primary), None) or next(
            iter(self.contacts), None
        )
