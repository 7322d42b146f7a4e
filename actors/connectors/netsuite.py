"""NetSuite REST Record API v1 (``kind: netsuite``), usually with ``auth: {kind: netsuite-tba}``.

Operations (paths under ``/services/rest/record/v1``):

- ``upsert_customer``: ``PUT /customer/eid:{externalId}`` (idempotent by the external id)
- ``upsert_sales_order``: ``PUT /salesOrder/eid:{externalId}``
- ``create_sales_order``: ``POST /salesOrder`` with ``X-NetSuite-Idempotency-Key``
- ``upsert_invoice``: ``PUT /invoice/eid:{externalId}``
- ``create_customer_payment``: ``POST /customerPayment`` with ``X-NetSuite-Idempotency-Key``
- ``upsert_customer_payment``: ``PUT /customerPayment/eid:{externalId}``
- ``get_record``: ``GET /{type}/{id}`` or ``GET /{type}/eid:{externalId}``

The body is the record as JSON; an upsert takes ``externalId`` from it (and leaves it out of the
body: the key is in the path). Prefer the upserts: they are safe to resend at any age (key window
"permanent"). NetSuite documents ``X-NetSuite-Idempotency-Key`` for asynchronous requests only, so
a synchronous create has no window (``0``: any resend could make a second record) unless its body
carries an ``externalId``, which NetSuite keeps unique: a resend is then refused (400), never
applied twice.

NetSuite answers a write with ``204 No Content`` and the new record's URL in ``Location``; callers
need the internal id (a workflow's next step refers to it), so ``send`` returns
``{"id": "<internal id>", "location": "<Location>"}`` for a 2xx answer with an empty body and a
``Location``. Any other answer (``get_record``'s 200 JSON) is returned as it came.
"""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from actors.connectors._client import ClientConfig, Response
from actors.connectors._pages import Lister, netsuite_suiteql
from actors.connectors._vendor import Builder, Plan, VendorConnector, dumps, require, segment
from actors.connectors._windows import Choice, Rule, Window, described
from router.plugin import OutboundRequest, PermanentError, register

__all__ = [
    "NETSUITE_OPERATIONS",
    "NETSUITE_WINDOWS",
    "NetSuiteConnector",
    "NetSuiteConnectorConfig",
    "location_result",
]

API = "/services/rest/record/v1"


class NetSuiteConnectorConfig(ClientConfig):
    base_url: str = Field(
        pattern=r"^https?://[^/?#]+",
        description="`https://<account>.suitetalk.api.netsuite.com` (no path)",
    )


def idempotency_uuid(key: str) -> str:
    """NetSuite wants a UUID: derive one, stable per key, from the outbound idempotency key."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"interlock:{key}"))


def _upsert(record_type: str, operation: str) -> Builder[NetSuiteConnectorConfig]:
    def build(
        config: NetSuiteConnectorConfig, doc: dict[str, Any], request: OutboundRequest
    ) -> Plan:
        del config, request
        external_id = require(doc, "externalId", operation)
        body = {k: v for k, v in doc.items() if k != "externalId"}
        path = f"{API}/{record_type}/eid:{segment(external_id)}"
        return Plan("PUT", path, dumps(body))

    return build


def _create(record_type: str) -> Builder[NetSuiteConnectorConfig]:
    def build(
        config: NetSuiteConnectorConfig, doc: dict[str, Any], request: OutboundRequest
    ) -> Plan:
        del config
        headers = {"X-NetSuite-Idempotency-Key": idempotency_uuid(request.idempotency_key)}
        return Plan("POST", f"{API}/{record_type}", dumps(doc), headers=headers)

    return build


def get_record(
    config: NetSuiteConnectorConfig, doc: dict[str, Any], request: OutboundRequest
) -> Plan:
    """``{"type": "customer", "id": "42"}`` or ``{"type": ..., "externalId": ...}``."""
    del config, request
    record_type = require(doc, "type", "get_record")
    if doc.get("id") is not None:
        ref = segment(require(doc, "id", "get_record"))
    elif doc.get("externalId") is not None:
        ref = "eid:" + segment(require(doc, "externalId", "get_record"))
    else:
        raise PermanentError("get_record: the message has neither `id` nor `externalId`")
    return Plan("GET", f"{API}/{segment(record_type)}/{ref}", b"", None)


NETSUITE_OPERATIONS: dict[str, Builder[Any]] = {
    "upsert_customer": _upsert("customer", "upsert_customer"),
    "upsert_sales_order": _upsert("salesOrder", "upsert_sales_order"),
    "create_sales_order": _create("salesOrder"),
    "upsert_invoice": _upsert("invoice", "upsert_invoice"),
    "create_customer_payment": _create("customerPayment"),
    "upsert_customer_payment": _upsert("customerPayment", "upsert_customer_payment"),
    "get_record": get_record,
}


def location_result(response: Response) -> bytes | None:
    """``{"id", "location"}`` from a bodiless 2xx answer's ``Location``; else the body as is."""
    location = response.headers.get("Location")
    if response.body.strip() or not location or not 200 <= response.status < 300:
        return response.body
    # The internal id is the URL's last path segment (``.../record/v1/customer/123``).
    path = urllib.parse.urlsplit(location).path.rstrip("/")
    internal_id = urllib.parse.unquote(path.rpartition("/")[2])
    if not internal_id:
        return response.body
    return dumps({"id": internal_id, "location": location})


NETSUITE_LISTS: dict[str, Lister] = {"suiteql": netsuite_suiteql}

UPSERT = Window(None, "upsert by external id")
NO_KEYS = Window(0.0, "NetSuite honours no idempotency key on a synchronous create")
UNIQUE = Window(None, "the body's `externalId` is unique: a resend is refused, never applied")


def _create_window(config: NetSuiteConnectorConfig, doc: Mapping[str, Any]) -> Window:
    del config
    return NO_KEYS if doc.get("externalId") in (None, "") else UNIQUE


CREATE = Choice(
    _create_window,
    f"{UNIQUE.text()} when the body has an `externalId`; else {NO_KEYS.text()}",
)
NETSUITE_WINDOWS: dict[str, Rule] = {
    "upsert_customer": UPSERT,
    "upsert_sales_order": UPSERT,
    "create_sales_order": CREATE,
    "upsert_invoice": UPSERT,
    "create_customer_payment": CREATE,
    "upsert_customer_payment": UPSERT,
    "get_record": Window(None, "a read"),
}


class NetSuiteConnector(VendorConnector[NetSuiteConnectorConfig]):
    OPERATIONS = NETSUITE_OPERATIONS
    LISTS = NETSUITE_LISTS
    WINDOWS = NETSUITE_WINDOWS
    PLAIN_POST = CREATE

    def result(self, plan: Plan, response: Response) -> bytes | None:
        del plan
        return location_result(response)


register(
    "connector",
    "netsuite",
    NetSuiteConnectorConfig,
    NetSuiteConnector,
    operations=set(NETSUITE_OPERATIONS),
    lists=set(NETSUITE_LISTS),
    key_windows=described(NETSUITE_WINDOWS, CREATE, lists=True),
)
