"""Seeded data sets for reconciliation: two systems that agree, except for a known drift.

Each set says exactly which keys drift and how, so a test (or ``interlock simulate seed``, or the
benchmark) can check a reconciliation report against the truth rather than against itself:

- **payments**: ``n`` paid Stripe invoices (the shape of a real ``invoice.paid`` object) and their
  NetSuite customer payments, keyed ``stripe-<invoice id>-payment`` as the invoice-paid workflow
  writes them; ``missing`` invoices have no payment, ``mismatched`` payments carry another
  amount, and ``extra`` payments have no invoice at all.
- **accounts**: ``n`` Salesforce customer accounts, their NetSuite customers (external id
  ``salesforce-<Account Id>``) and their Stripe customers (``metadata.ref_salesforce``), with
  accounts missing in the ERP and names that disagree.

Records are generated lazily, so 100,000 of them cost no more memory than their simulator's
store.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SeedRow = tuple[str | None, dict[str, Any], str]  # external id, data, record id
_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "stripe_invoice.json"
PAID_AT = 1_767_225_760  # 2026-01-01 00:02:40 UTC


@dataclass
class Drift:
    """The keys a reconciliation must report, by class."""

    missing_right: set[str] = field(default_factory=set)
    missing_left: set[str] = field(default_factory=set)
    mismatched: set[str] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        return {
            "missing_left": len(self.missing_left),
            "missing_right": len(self.missing_right),
            "mismatched": len(self.mismatched),
        }


def _invoice_template() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_FIXTURE.read_text())
    return document


def _picks(rng: random.Random, n: int, *sizes: int) -> list[set[int]]:
    chosen = rng.sample(range(n), sum(sizes))
    out, start = [], 0
    for size in sizes:
        out.append(set(chosen[start : start + size]))
        start += size
    return out


@dataclass
class Payments:
    """Stripe paid invoices against NetSuite customer payments."""

    n: int
    missing: int = 0
    mismatched: int = 0
    extra: int = 0
    seed: int = 1
    drift: Drift = field(default_factory=Drift)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)  # noqa: S311 - reproducible data, not secrets
        self._missing, self._mismatched = _picks(rng, self.n, self.missing, self.mismatched)
        self._template = _invoice_template()
        for i in self._missing:
            self.drift.missing_right.add(self.key(i))
        for i in self._mismatched:
            self.drift.mismatched.add(self.key(i))
        for j in range(self.extra):
            self.drift.missing_left.add(f"stripe-in_extra{j:07d}-payment")

    @staticmethod
    def invoice_id(i: int) -> str:
        return f"in_recon{i:07d}"

    def key(self, i: int) -> str:
        return f"stripe-{self.invoice_id(i)}-payment"

    def amount(self, i: int) -> int:
        return 1_000 + (i * 7919) % 90_000  # cents, varied and reproducible

    def invoices(self) -> Iterator[SeedRow]:
        for i in range(self.n):
            invoice = copy.deepcopy(self._template)
            cents = self.amount(i)
            invoice.update(
                id=self.invoice_id(i),
                status="paid",
                customer=f"cus_recon{i % 997:05d}",
                amount_due=cents,
                amount_paid=cents,
                amount_remaining=0,
                subtotal=cents,
                subtotal_excluding_tax=cents,
                total=cents,
                total_excluding_tax=cents,
                total_discount_amounts=[],
                total_taxes=[],
                discounts=[],
                amount_shipping=0,
                number=f"RECON-{i:07d}",
            )
            invoice["status_transitions"] = {**invoice["status_transitions"], "paid_at": PAID_AT}
            invoice["lines"] = {
                "object": "list",
                "has_more": False,
                "data": [_line(invoice["lines"]["data"][0], invoice["id"], cents)],
            }
            yield None, invoice, invoice["id"]

    def payments(self) -> Iterator[SeedRow]:
        day = dt.datetime.fromtimestamp(PAID_AT, dt.UTC).date().isoformat()
        for i in range(self.n):
            if i in self._missing:
                continue
            cents = self.amount(i) + (500 if i in self._mismatched else 0)
            yield self.key(i), _payment(self.key(i), cents, day), ""
        for j in range(self.extra):
            key = f"stripe-in_extra{j:07d}-payment"
            yield key, _payment(key, 4_200, day), ""


def _line(template: dict[str, Any], invoice: str, cents: int) -> dict[str, Any]:
    line = copy.deepcopy(template)
    line.update(
        id=f"il_{invoice}", invoice=invoice, amount=cents, discount_amounts=[], discounts=[]
    )
    line["pretax_credit_amounts"] = []
    line["taxes"] = []
    line["quantity"] = 1
    return line


def _payment(key: str, cents: int, day: str) -> dict[str, Any]:
    return {
        "externalId": key,
        "customer": {"externalId": "stripe-cus_recon"},
        "currency": {"externalId": "USD"},
        "payment": cents / 100,
        "tranDate": day,
        "memo": f"Payment {key}",
    }


@dataclass
class Accounts:
    """Salesforce customer accounts against NetSuite customers and Stripe customers."""

    n: int
    missing_erp: int = 0
    renamed_erp: int = 0
    missing_billing: int = 0
    seed: int = 2
    erp: Drift = field(default_factory=Drift)
    billing: Drift = field(default_factory=Drift)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)  # noqa: S311 - reproducible data, not secrets
        self._missing, self._renamed = _picks(rng, self.n, self.missing_erp, self.renamed_erp)
        (self._unbilled,) = _picks(rng, self.n, self.missing_billing)
        self.erp.missing_right = {f"salesforce-{self.account_id(i)}" for i in self._missing}
        self.erp.mismatched = {f"salesforce-{self.account_id(i)}" for i in self._renamed}
        self.billing.missing_right = {self.account_id(i) for i in self._unbilled}

    @staticmethod
    def account_id(i: int) -> str:
        return f"001RC{i:013d}"  # 18 characters, as Salesforce ids are

    @staticmethod
    def name(i: int) -> str:
        return f"Recon Customer {i:06d} Ltd"

    def accounts(self) -> Iterator[SeedRow]:
        for i in range(self.n):
            data = {"Name": self.name(i), "Type": "Customer", "CurrencyIsoCode": "USD"}
            yield None, data, self.account_id(i)

    def customers(self) -> Iterator[SeedRow]:
        for i in range(self.n):
            if i in self._missing:
                continue
            key = f"salesforce-{self.account_id(i)}"
            name = self.name(i) + (" (old)" if i in self._renamed else "")
            yield key, {"externalId": key, "companyName": name, "isPerson": False}, ""

    def stripe_customers(self) -> Iterator[SeedRow]:
        for i in range(self.n):
            if i in self._unbilled:
                continue
            data = {
                "object": "customer",
                "name": self.name(i).upper(),  # Stripe holds it upper case: still the same name
                "email": f"billing{i}@recon.example",
                "metadata": {"ref_salesforce": self.account_id(i)},
            }
            yield None, data, f"cus_acct{i:07d}"
