"""Stripe (``kind: stripe``): form-encoded calls with ``Idempotency-Key``, auth ``bearer`` (sk_...).

| operation             | call                          |
|-----------------------|-------------------------------|
| ``create_customer``   | ``POST /v1/customers``        |
| ``update_customer``   | ``POST /v1/customers/{id}``   |
| ``create_subscription`` | ``POST /v1/subscriptions``  |
| ``cancel_subscription`` | ``DELETE /v1/subscriptions/{id}`` |

The message is JSON; it is sent form-encoded the way Stripe expects, nested objects and lists
flattened into ``metadata[plan]=gold`` and ``items[0][price]=price_1`` keys. Stripe replays the
first answer for a repeated ``Idempotency-Key`` (kept 24 h), so retries create one object.

``cancel_subscription`` takes ``{"id": "sub_..."}``; other fields (``prorate``, ``invoice_now``,
``cancellation_details``) go in the query string, as Stripe's SDKs send DELETE parameters. Stripe
ignores ``Idempotency-Key`` on DELETE and answers a second cancel with 404 ``resource_missing``, so
a compensation retried after a lost reply would dead-letter although the work is done. The
connector therefore reads the subscription back after a permanent refusal and, when it is
``canceled``, answers that subscription as if the DELETE had succeeded.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
from pydantic import Field

from actors.connectors._client import ClientConfig
from actors.connectors._pages import Lister, stripe_list
from actors.connectors._vendor import Builder, Plan, VendorConnector, require, segment
from router.plugin import OutboundRequest, PermanentError, register

__all__ = ["STRIPE_OPERATIONS", "StripeConnector", "StripeConnectorConfig", "form_encode"]

FORM = "application/x-www-form-urlencoded"


class StripeConnectorConfig(ClientConfig):
    base_url: str = Field(default="https://api.stripe.com", pattern=r"^https?://[^/?#]+")
    stripe_version: str | None = Field(default=None, description="`Stripe-Version` header")


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        if not value:
            yield prefix, ""
        for key, item in value.items():
            yield from _flatten(f"{prefix}[{key}]" if prefix else str(key), item)
    elif isinstance(value, list | tuple):
        if not value:
            yield prefix, ""
        for index, item in enumerate(value):
            yield from _flatten(f"{prefix}[{index}]", item)
    elif isinstance(value, bool):
        yield prefix, "true" if value else "false"
    elif value is None:
        yield prefix, ""
    elif isinstance(value, float):
        yield prefix, str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, Decimal):
        yield prefix, format(value, "f")
    else:
        yield prefix, str(value)


def form_encode(document: dict[str, Any]) -> bytes:
    """Stripe's form encoding: ``a[b][0]=x`` for nested values, booleans as true/false."""
    if not document:  # no parameters at all, not one nameless empty one (``=``)
        return b""
    return urllib.parse.urlencode(list(_flatten("", document))).encode()


def _post(path: str) -> Builder[StripeConnectorConfig]:
    def build(config: StripeConnectorConfig, doc: dict[str, Any], request: OutboundRequest) -> Plan:
        del config, request
        return Plan("POST", path, form_encode(doc), FORM)

    return build


def update_customer(
    config: StripeConnectorConfig, doc: dict[str, Any], request: OutboundRequest
) -> Plan:
    del config, request
    customer = require(doc, "id", "update_customer")
    body = {k: v for k, v in doc.items() if k != "id"}
    return Plan("POST", f"/v1/customers/{segment(customer)}", form_encode(body), FORM)


def cancel_subscription(
    config: StripeConnectorConfig, doc: dict[str, Any], request: OutboundRequest
) -> Plan:
    del config, request
    subscription = require(doc, "id", "cancel_subscription")
    query = form_encode({k: v for k, v in doc.items() if k != "id"}).decode()
    path = f"/v1/subscriptions/{segment(subscription)}"
    return Plan("DELETE", f"{path}?{query}" if query else path, b"", None)


STRIPE_OPERATIONS: dict[str, Builder[Any]] = {
    "create_customer": _post("/v1/customers"),
    "update_customer": update_customer,
    "create_subscription": _post("/v1/subscriptions"),
    "cancel_subscription": cancel_subscription,
}


STRIPE_LISTS: dict[str, Lister] = {
    "list_invoices": stripe_list("invoices"),
    "list_customers": stripe_list("customers"),
}


class StripeConnector(VendorConnector[StripeConnectorConfig]):
    OPERATIONS = STRIPE_OPERATIONS
    LISTS = STRIPE_LISTS

    async def send(self, request: OutboundRequest) -> bytes | None:
        if request.operation in self.LISTS:
            return await super().send(request)
        plan = self.plan(request)
        try:
            return self.result(plan, await self.call(plan, request))
        except PermanentError as refused:
            if request.operation != "cancel_subscription":
                raise
            return await self._already_canceled(plan, request, refused)

    async def _already_canceled(
        self, cancel: Plan, request: OutboundRequest, refused: PermanentError
    ) -> bytes:
        """The subscription when it reads back ``canceled`` (a repeated cancel), else ``refused``.

        Any permanent refusal qualifies, not just a 404: the read-back decides, so no vendor
        message text is parsed. A transient failure of the read-back propagates (retry later)."""
        read = Plan("GET", cancel.path.partition("?")[0], b"", None)
        try:
            body = (await self.call(read, request)).body
            current = orjson.loads(body)
        except (PermanentError, orjson.JSONDecodeError):
            raise refused from None
        if isinstance(current, dict) and current.get("status") == "canceled":
            return body
        raise refused

    def default_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.config.stripe_version:
            headers["Stripe-Version"] = self.config.stripe_version
        return headers


register(
    "connector",
    "stripe",
    StripeConnectorConfig,
    StripeConnector,
    operations=set(STRIPE_OPERATIONS),
    lists=set(STRIPE_LISTS),
)
