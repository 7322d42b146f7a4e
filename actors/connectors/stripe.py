"""Stripe (``kind: stripe``): form-encoded calls with ``Idempotency-Key``, auth ``bearer`` (sk_...).

| operation               | call                                                      |
|-------------------------|-----------------------------------------------------------|
| ``create_customer``     | ``GET /v1/customers/search``, then ``POST /v1/customers`` |
| ``update_customer``     | ``POST /v1/customers/{id}``                               |
| ``create_subscription`` | ``POST /v1/subscriptions``                                |
| ``cancel_subscription`` | ``DELETE /v1/subscriptions/{id}``                         |

The message is JSON; it is sent form-encoded the way Stripe expects, nested objects and lists
flattened into ``metadata[plan]=gold`` and ``items[0][price]=price_1`` keys. Stripe replays the
first answer for a repeated ``Idempotency-Key``, but only for 24 h: after that the same key is a
new request, so a create resent later makes a second object. ``key_window`` says so (24 h for the
creates), and the engine refuses such a resend.

``create_customer`` looks its customer up first, so it is safe at any age: when the message
carries one of the ``customer_lookup`` metadata keys (``metadata[salesforce_account_id]``, the
shipped routes' convention, by default), the connector asks ``GET /v1/customers/search?query=
metadata['<key>']:'<value>'`` and answers the customer found (the oldest, if several) as a create
would; only when none is found does it ``POST /v1/customers`` with the ``Idempotency-Key``. A
message without such a key is a plain create (24 h window).

``cancel_subscription`` takes ``{"id": "sub_..."}``; other fields (``prorate``, ``invoice_now``,
``cancellation_details``) go in the query string, as Stripe's SDKs send DELETE parameters. Stripe
ignores ``Idempotency-Key`` on DELETE and answers a second cancel with 404 ``resource_missing``, so
a compensation retried after a lost reply would dead-letter although the work is done. The
connector therefore reads the subscription back after a permanent refusal and, when it is
``canceled``, answers that subscription as if the DELETE had succeeded.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Annotated, Any

import orjson
from pydantic import Field

from actors.connectors._client import ClientConfig
from actors.connectors._pages import Lister, stripe_list
from actors.connectors._vendor import (
    Builder,
    Plan,
    VendorConnector,
    json_object,
    require,
    segment,
)
from actors.connectors._windows import DAY, Choice, Rule, Window, described
from router.plugin import OutboundRequest, PermanentError, register

__all__ = [
    "STRIPE_OPERATIONS",
    "STRIPE_WINDOWS",
    "StripeConnector",
    "StripeConnectorConfig",
    "form_encode",
    "lookup_key",
    "search_query",
]

FORM = "application/x-www-form-urlencoded"


MetadataKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]


class StripeConnectorConfig(ClientConfig):
    base_url: str = Field(default="https://api.stripe.com", pattern=r"^https?://[^/?#]+")
    stripe_version: str | None = Field(default=None, description="`Stripe-Version` header")
    customer_lookup: list[MetadataKey] = Field(
        default_factory=lambda: ["salesforce_account_id"],
        description="Metadata keys `create_customer` finds an existing customer by, in order: "
        "the first the message carries is searched (`metadata['<key>']:'<value>'`) and the "
        "customer found is answered instead of a new one (safe to resend at any age); none "
        "carried: a plain create (24h key window). `[]`: never look up",
    )


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


def lookup_key(config: StripeConnectorConfig, doc: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first ``customer_lookup`` metadata key the message carries, with its value.

    The metadata may come nested (``{"metadata": {"k": "v"}}``) or already flat
    (``{"metadata[k]": "v"}``, as the canonical mappings and route ``set`` write it)."""
    nested = doc.get("metadata")
    for key in config.customer_lookup:
        value = doc.get(f"metadata[{key}]")
        if value is None and isinstance(nested, dict):
            value = nested.get(key)
        if value is not None and not isinstance(value, dict | list | bool) and str(value) != "":
            return key, str(value)
    return None


def search_query(key: str, value: str) -> str:
    """Stripe's search clause ``metadata['key']:'value'`` (quotes and backslashes escaped)."""
    quoted = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"metadata['{key}']:'{quoted}'"


def customer_search(config: StripeConnectorConfig, doc: Mapping[str, Any]) -> Plan | None:
    """The look-up ``create_customer`` makes first, or None when the message has no look-up key."""
    found = lookup_key(config, doc)
    if found is None:
        return None
    query = urllib.parse.urlencode(
        {"query": search_query(*found), "limit": "10"}, quote_via=urllib.parse.quote
    )
    return Plan("GET", f"/v1/customers/search?{query}", b"", None)


def oldest_customer(body: bytes) -> dict[str, Any] | None:
    """The oldest customer of a search answer (several: an earlier duplicate), or None."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        raise PermanentError("create_customer: the customer search answered no `data` list")
    customers = [c for c in data if isinstance(c, dict) and c.get("id")]
    if not customers:
        return None
    return min(customers, key=lambda c: (_created(c), str(c["id"])))


def _created(customer: Mapping[str, Any]) -> int:
    created = customer.get("created")
    return created if isinstance(created, int) and not isinstance(created, bool) else 0


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

# https://docs.stripe.com/api/idempotent_requests: keys may be pruned once 24 hours old, and a
# key reused after that is a new request.
CREATE = Window(DAY, "Stripe's Idempotency-Key retention")
LOOKED_UP = Window(None, "looked up by metadata first, then created")


def _customer_window(config: StripeConnectorConfig, doc: Mapping[str, Any]) -> Window:
    return CREATE if lookup_key(config, doc) is None else LOOKED_UP


STRIPE_WINDOWS: dict[str, Rule] = {
    "create_customer": Choice(
        _customer_window,
        f"{LOOKED_UP.text()} when the message carries a `customer_lookup` metadata key; "
        f"else {CREATE.text()}",
    ),
    "update_customer": Window(None, "an update by id: a resend sets the same fields"),
    "create_subscription": CREATE,
    "cancel_subscription": Window(None, "a DELETE; a repeat reads back as canceled"),
}


class StripeConnector(VendorConnector[StripeConnectorConfig]):
    OPERATIONS = STRIPE_OPERATIONS
    LISTS = STRIPE_LISTS
    WINDOWS = STRIPE_WINDOWS
    PLAIN_POST = CREATE

    async def send(self, request: OutboundRequest) -> bytes | None:
        if request.operation in self.LISTS:
            return await super().send(request)
        plan = self.plan(request)
        if request.operation == "create_customer":
            existing = await self._existing_customer(request)
            if existing is not None:
                return existing
        try:
            return self.result(plan, await self.call(plan, request))
        except PermanentError as refused:
            if request.operation != "cancel_subscription":
                raise
            return await self._already_canceled(plan, request, refused)

    async def _existing_customer(self, request: OutboundRequest) -> bytes | None:
        """The customer a look-up finds by the message's metadata key, or None (create it).

        Stripe's search is eventually consistent: a customer created within about a minute may
        not be found yet. That gap is covered by the create's ``Idempotency-Key``, which Stripe
        keeps 24 h: a resend that soon replays the first create instead of making a second
        customer. Past 24 h the search has long caught up, so the look-up finds it. A failed
        look-up never falls back to a blind create: a transient error is retried, a permanent
        one (a malformed answer, search unavailable) stands."""
        search = customer_search(self.config, json_object(request.body, "create_customer"))
        if search is None:
            return None
        customer = oldest_customer((await self.call(search, request)).body)
        return None if customer is None else orjson.dumps(customer)

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
    key_windows=described(STRIPE_WINDOWS, CREATE, lists=True),
)
