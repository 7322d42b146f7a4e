"""The master-data reconciliations end to end: the shipped routes/ against seeded simulators.

The accounts-hourly job (routes/accounts-hourly.yaml) runs two reconciliations in order:

- accounts-vs-netsuite: Salesforce customer accounts (SOQL) against NetSuite customers (SuiteQL)
  by the upsert external id ``salesforce-<Account Id>``. An account with no ERP customer is
  repaired through the ordinary account-to-erp route (a message of source ``salesforce``, type
  ``Account``); a name that differs is parked with both sides' values.
- accounts-vs-stripe: the same accounts against Stripe customers by ``metadata.ref_salesforce``.
  An account without a Stripe customer is ignored (with its reason); Stripe holds the names in
  upper case, which the ``string`` rule reads as the same name.
"""

from __future__ import annotations

from typing import Any

import pytest

from router import Engine
from simulators.datasets import Accounts
from simulators.runner import SimulatorThread
from tests.support.jobs import jobs, journal_messages, report, run_job, settled
from tests.support.scenarios import records

JOB = "accounts-hourly"
ERP = "accounts-vs-netsuite"
BILLING = "accounts-vs-stripe"
CUSTOMER_PUT = "/services/rest/record/v1/customer/eid:"


def seed(sims: SimulatorThread, data: Accounts) -> None:
    salesforce = sims.set.simulator("salesforce")
    netsuite, stripe = sims.set.simulator("netsuite"), sims.set.simulator("stripe")
    sims.call(lambda: salesforce.seed_many("Account", data.accounts()), timeout=60)
    sims.call(lambda: netsuite.seed_many("customer", data.customers()), timeout=60)
    sims.call(lambda: stripe.seed_many("customer", data.stripe_customers()), timeout=60)


def erp_customers(sims: SimulatorThread) -> dict[str, dict[str, Any]]:
    netsuite = sims.set.simulator("netsuite")
    return sims.call(lambda: {str(r.external_id): r.data for r in netsuite.store.all("customer")})


def customer_puts(sims: SimulatorThread) -> list[str]:
    """The external ids of every upsert NetSuite received for a customer, in order."""
    netsuite = sims.set.simulator("netsuite")
    entries = sims.call(netsuite.log.entries)
    return [
        e.path.removeprefix(CUSTOMER_PUT)
        for e in entries
        if e.method == "PUT" and e.path.startswith(CUSTOMER_PUT)
    ]


def index_of(account_key: str) -> int:
    """The data set's account number of ``salesforce-001RC<n>`` or ``001RC<n>``."""
    return int(account_key.removeprefix("salesforce-").removeprefix("001RC"))


@pytest.mark.timeout(180)
async def test_accounts_drift_is_repaired_parked_or_ignored_then_quiet(
    sims: SimulatorThread, engine: Engine
) -> None:
    data = Accounts(n=300, missing_erp=6, renamed_erp=4, missing_billing=5)
    seed(sims, data)
    assert len(erp_customers(sims)) == 294
    messages_before = journal_messages(engine)

    first = await run_job(engine, JOB)
    assert first["state"] == "succeeded", first["reason"]
    assert list(first["recons"]) == [ERP, BILLING]  # both, in the job's order

    # -- accounts-vs-netsuite: counts, report rows, handling ---------------------------------
    erp = first["recons"][ERP]
    assert erp["counts"] == {"matched": 290, **data.erp.counts()}
    assert data.erp.counts() == {"missing_left": 0, "missing_right": 6, "mismatched": 4}
    sides = erp["sides"]
    assert (sides["left"]["records"], sides["right"]["records"]) == (300, 294)
    assert sides["left"]["unkeyed"] == sides["right"]["unkeyed"] == 0
    assert erp["handled"] == {"missing_right:repaired": 6, "mismatched:parked": 4}
    rows = report(engine, first, ERP)
    by_class: dict[str, set[str]] = {}
    for row in rows:
        by_class.setdefault(row["class"], set()).add(row["key"])
    assert by_class == {"missing_right": data.erp.missing_right, "mismatched": data.erp.mismatched}
    for row in rows:
        if row["class"] == "mismatched":
            assert row["fields"] == ["name"], row
            assert row["outcome"] == "parked"
        else:
            assert row["outcome"] == "repaired"
            assert row["left_record"]["Id"] == row["key"].removeprefix("salesforce-")

    # Parked: the renamed customers, with both sides' values for an operator to decide.
    parked = jobs(engine).store.parked(ERP)
    assert {p["key"] for p in parked} == data.erp.mismatched
    for p in parked:
        i = index_of(p["key"])
        # The compared values, as the string rule reads them (case-folded)...
        assert p["left"] == {"name": data.name(i).casefold()}
        assert p["right"] == {"name": (data.name(i) + " (old)").casefold()}
        # ... and each side's record as its system holds it.
        assert p["left_record"]["Id"] == data.account_id(i)
        assert p["left_record"]["Name"] == data.name(i)
        assert p["right_record"]["externalid"] == p["key"]
        assert p["right_record"]["companyname"] == data.name(i) + " (old)"
        assert p["run"] == first["id"]

    # Repaired: each missing ERP customer created through account-to-erp, keyed and named as
    # netsuite.customer_from_canonical makes them from the Salesforce account.
    found = await settled(engine, lambda: erp_customers(sims), 300)
    assert len(found) == 300
    for key in data.erp.missing_right:
        i = index_of(key)
        customer = found[key]
        assert customer["companyName"] == data.name(i), customer
        assert customer["entityId"] == data.name(i)
        assert customer["isPerson"] is False
        assert customer["currency"] == {"externalId": "USD"}
    puts = customer_puts(sims)
    assert sorted(puts) == sorted(data.erp.missing_right)  # one upsert each, nothing else
    # The repairs are messages of the salesforce source (the route's trigger), one per account.
    assert journal_messages(engine) == messages_before + 6
    # The renamed customers were left alone: parked, never overwritten.
    for key in data.erp.mismatched:
        assert found[key]["companyName"] == data.name(index_of(key)) + " (old)"

    # -- accounts-vs-stripe: missing billing ignored with its reason, upper case no mismatch ---
    billing = first["recons"][BILLING]
    assert billing["counts"] == {
        "matched": 295,
        "missing_left": 0,
        "missing_right": 5,
        "mismatched": 0,
    }
    assert billing["counts"]["missing_right"] == data.billing.counts()["missing_right"]
    assert billing["handled"] == {"missing_right:ignored": 5}
    stripe_names = {
        r["data"]["metadata"]["ref_salesforce"]: r["data"]["name"]
        for r in records(sims, "stripe", "customer")
    }
    assert len(stripe_names) == 295
    for account, name in stripe_names.items():  # really held otherwise than in Salesforce
        assert name == data.name(index_of(account)).upper() != data.name(index_of(account))
    billing_rows = report(engine, first, BILLING)
    assert {r["key"] for r in billing_rows} == data.billing.missing_right
    for row in billing_rows:
        assert row["class"] == "missing_right"
        assert row["handling"] == row["outcome"] == "ignored"
        assert row["reason"] == "a Stripe customer is created with the account's first subscription"
    assert jobs(engine).store.parked(BILLING) == []

    # The parked rows were posted to ops-alerts.
    alerts = [r["data"] for r in records(sims, "webhook", "reconciliation")]
    kinds = sorted((a["body"]["reconciliation"], a["body"]["kind"]) for a in alerts)
    assert kinds == [(ERP, "reconciliation.parked")]

    # -- a second run: nothing missing any more, no new message ------------------------------
    messages = journal_messages(engine)
    second = await run_job(engine, JOB)
    assert second["state"] == "succeeded", second["reason"]
    again = second["recons"][ERP]
    assert again["counts"] == {
        "matched": 296,
        "missing_left": 0,
        "missing_right": 0,
        "mismatched": 4,
    }
    assert again["handled"] == {"mismatched:parked": 4}
    assert second["recons"][BILLING]["handled"] == {"missing_right:ignored": 5}
    await engine.wait_idle(timeout=60)
    assert journal_messages(engine) == messages
    assert sorted(customer_puts(sims)) == sorted(data.erp.missing_right)  # no second upsert
    assert {p["key"] for p in jobs(engine).store.parked(ERP)} == data.erp.mismatched
    assert {p["run"] for p in jobs(engine).store.parked(ERP)} == {second["id"]}
