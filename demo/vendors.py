"""What the demo asks of the vendors' own APIs (the simulators of ``make run``), not of the router.

A real company's systems hold data before any webhook fires: the Account a deal is won for exists
in Salesforce, Stripe holds every invoice it sends an event about, and sends a subscription's
current state in its events. The demo plays the vendors, so it creates each deal's customer
Account through the Salesforce REST API first, records each invoice in Stripe before announcing
it, and reads a subscription from the Stripe API to amend it. All use the variables and defaults
of routes/connectors.yaml, so they reach the same systems the router's connectors do (and the
reconciliations later find those records in step).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from demo.runner import UnreachableError

TIMEOUT_S = 10.0
SALESFORCE_API = "v60.0"


class VendorError(Exception):
    """A vendor API answered with an error (as opposed to not answering: UnreachableError)."""


@dataclass(frozen=True, slots=True)
class VendorApis:
    """Where the vendors' APIs are; the defaults are the simulators' ports under ``make run``."""

    salesforce_url: str = "http://127.0.0.1:9103"
    salesforce_token_url: str = "http://127.0.0.1:9103/services/oauth2/token"  # noqa: S105 - a URL
    salesforce_client_id: str = "3MVG9interlock"
    salesforce_client_secret: str = "sf_secret_interlock"  # noqa: S105 - a demo default
    stripe_url: str = "http://127.0.0.1:9102"
    stripe_key: str = "sk_test_interlock"  # the simulator's demo key

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> VendorApis:
        env = os.environ if env is None else env
        d = cls()
        return cls(
            salesforce_url=env.get("SALESFORCE_URL") or d.salesforce_url,
            salesforce_token_url=env.get("SALESFORCE_TOKEN_URL") or d.salesforce_token_url,
            salesforce_client_id=env.get("SALESFORCE_CLIENT_ID") or d.salesforce_client_id,
            salesforce_client_secret=env.get("SALESFORCE_CLIENT_SECRET")
            or d.salesforce_client_secret,
            stripe_url=env.get("STRIPE_API_URL") or d.stripe_url,
            stripe_key=env.get("STRIPE_API_KEY") or d.stripe_key,
        )


def _call(
    vendor: str,
    method: str,
    url: str,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the operator's configured vendor URL
        url, data=data, headers=dict(headers or {}), method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        raise VendorError(f"{vendor} answered {exc.code} to {method} {url}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UnreachableError(
            f"cannot reach {vendor} at {url} ({reason}): is `make run` running its simulators?"
        ) from None
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        raise VendorError(f"{vendor} answered {method} {url} with no JSON") from None


class Salesforce:
    """Just enough of the REST API: a client-credentials token and an Account upsert."""

    def __init__(self, apis: VendorApis) -> None:
        self.apis = apis
        self._token: str | None = None

    def _authorization(self) -> dict[str, str]:
        if self._token is None:
            form = urllib.parse.urlencode(
                {
                    "grant_type": "client_credentials",
                    "client_id": self.apis.salesforce_client_id,
                    "client_secret": self.apis.salesforce_client_secret,
                }
            ).encode()
            answer = _call(
                "Salesforce",
                "POST",
                self.apis.salesforce_token_url,
                form,
                {"Content-Type": "application/x-www-form-urlencoded"},
            )
            self._token = str(answer.get("access_token") or "")
            if not self._token:
                raise VendorError("Salesforce issued no access token")
        return {"Authorization": f"Bearer {self._token}"}

    def upsert_account(self, external_id: str, name: str) -> str:
        """The Account's record id, created once per external id (a second run reuses nothing)."""
        path = (
            f"/services/data/{SALESFORCE_API}/sobjects/Account/Interlock_External_Id__c/"
            + urllib.parse.quote(external_id, safe="")
        )
        # A won deal's Account is a customer: the accounts reconciliations read Type = 'Customer'.
        body = json.dumps({"Name": name, "Type": "Customer"}).encode()
        headers = {**self._authorization(), "Content-Type": "application/json"}
        answer = _call(
            "Salesforce", "PATCH", self.apis.salesforce_url.rstrip("/") + path, body, headers
        )
        record_id = answer.get("id") if isinstance(answer, dict) else None
        if not record_id:
            raise VendorError(f"Salesforce upserted Account {external_id} but sent no id")
        return str(record_id)


class Stripe:
    """Just enough of the API: read a subscription (as Stripe would send it in an event), and
    record the invoices the demo's events announce."""

    def __init__(self, apis: VendorApis) -> None:
        self.apis = apis

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        url = f"{self.apis.stripe_url.rstrip('/')}/v1/subscriptions/" + urllib.parse.quote(
            subscription_id, safe=""
        )
        answer = _call(
            "Stripe", "GET", url, None, {"Authorization": f"Bearer {self.apis.stripe_key}"}
        )
        if not isinstance(answer, dict) or answer.get("object") != "subscription":
            raise VendorError(f"Stripe has no subscription {subscription_id}")
        return answer

    def record_invoices(self, invoices: Sequence[dict[str, Any]]) -> None:
        """Store ``invoices`` as Stripe's own, so ``GET /v1/invoices`` lists them.

        Stripe makes an invoice from a subscription before it sends ``invoice.paid``; the API
        has no call to create one as it stands, so this uses the simulator's ``POST /_sim/seed``
        (docs/simulators.md). A real Stripe answers 404: VendorError.
        """
        if not invoices:
            return
        records = [{"type": "invoice", "id": str(i["id"]), "data": i} for i in invoices]
        url = f"{self.apis.stripe_url.rstrip('/')}/_sim/seed"
        body = json.dumps({"records": records}).encode()
        _call("Stripe", "POST", url, body, {"Content-Type": "application/json"})
