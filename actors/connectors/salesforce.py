"""Salesforce REST API (``kind: salesforce``), usually with OAuth 2.0 client credentials.

- ``upsert_by_external_id``: ``PATCH /services/data/{v}/sobjects/{type}/{field}/{value}``
- ``update_record``: ``PATCH /services/data/{v}/sobjects/{type}/{Id}``

``{v}`` is ``api_version`` (``v60.0``).

The body is the record. Its sObject type is ``attributes.type`` (Salesforce's own convention) or
the config's ``sobject``; the external id field is ``attributes.externalIdField`` or the config's
``external_id_field``, and its value comes from the record. ``attributes``, the external id field
and ``Id`` are left out of the body (they are in the path). The upsert is idempotent by the
external id: 201 ``{"id", "success", "errors", "created": true}`` the first time, then 200 with
``"created": false`` (API v46.0 and later) or 204 with no body (earlier versions, ``send`` returns
``b""``). The first upsert creates the record, so it needs the object's required fields.

Key windows: both operations are safe to resend at any age (an upsert by external id, an update
by ``Id``). Salesforce's REST API has no idempotency keys, so a plain ``POST`` (a create) has none:
any resend could make a second record.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from actors.connectors._client import ClientConfig
from actors.connectors._pages import Lister, salesforce_soql
from actors.connectors._vendor import Builder, Plan, VendorConnector, dumps, require, segment
from actors.connectors._windows import Rule, Window, described
from router.plugin import OutboundRequest, PermanentError, register

__all__ = [
    "SALESFORCE_OPERATIONS",
    "SALESFORCE_WINDOWS",
    "SalesforceConnector",
    "SalesforceConnectorConfig",
]

_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"


class SalesforceConnectorConfig(ClientConfig):
    api_version: str = Field(default="v60.0", pattern=r"^v\d+\.\d$")
    sobject: str | None = Field(default=None, pattern=_NAME, description="Default sObject type")
    external_id_field: str | None = Field(
        default=None, pattern=_NAME, description="Default external id field, e.g. `Ext_Id__c`"
    )


def _attribute(doc: dict[str, Any], name: str, default: str | None, operation: str) -> str:
    attributes = doc.get("attributes")
    value = attributes.get(name) if isinstance(attributes, dict) else None
    value = value or default
    if not isinstance(value, str) or not value:
        raise PermanentError(f"{operation}: no `attributes.{name}` in the message or the config")
    return value


def _base(config: SalesforceConnectorConfig) -> str:
    return f"/services/data/{config.api_version}/sobjects"


def upsert_by_external_id(
    config: SalesforceConnectorConfig, doc: dict[str, Any], request: OutboundRequest
) -> Plan:
    del request
    op = "upsert_by_external_id"
    sobject = _attribute(doc, "type", config.sobject, op)
    field = _attribute(doc, "externalIdField", config.external_id_field, op)
    value = require(doc, field, op)
    body = {k: v for k, v in doc.items() if k not in {"attributes", field, "Id"}}
    path = f"{_base(config)}/{segment(sobject)}/{segment(field)}/{segment(value)}"
    return Plan("PATCH", path, dumps(body))


def update_record(
    config: SalesforceConnectorConfig, doc: dict[str, Any], request: OutboundRequest
) -> Plan:
    del request
    sobject = _attribute(doc, "type", config.sobject, "update_record")
    record_id = require(doc, "Id", "update_record")
    body = {k: v for k, v in doc.items() if k not in {"attributes", "Id"}}
    return Plan("PATCH", f"{_base(config)}/{segment(sobject)}/{segment(record_id)}", dumps(body))


SALESFORCE_OPERATIONS: dict[str, Builder[Any]] = {
    "upsert_by_external_id": upsert_by_external_id,
    "update_record": update_record,
}


SALESFORCE_LISTS: dict[str, Lister] = {"soql": salesforce_soql}

SALESFORCE_WINDOWS: dict[str, Rule] = {
    "upsert_by_external_id": Window(None, "upsert by external id"),
    "update_record": Window(None, "an update by Id: a resend sets the same fields"),
}
NO_KEYS = Window(0.0, "the REST API has no idempotency keys: a resend creates again")


class SalesforceConnector(VendorConnector[SalesforceConnectorConfig]):
    OPERATIONS = SALESFORCE_OPERATIONS
    LISTS = SALESFORCE_LISTS
    WINDOWS = SALESFORCE_WINDOWS
    PLAIN_POST = NO_KEYS


register(
    "connector",
    "salesforce",
    SalesforceConnectorConfig,
    SalesforceConnector,
    operations=set(SALESFORCE_OPERATIONS),
    lists=set(SALESFORCE_LISTS),
    key_windows=described(SALESFORCE_WINDOWS, NO_KEYS, lists=True),
)
