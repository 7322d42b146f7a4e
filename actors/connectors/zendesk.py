"""Zendesk Support API (``kind: zendesk``); auth ``basic`` (``agent@x.com/token`` + API token)
or ``bearer`` (OAuth).

| operation                        | call                                              |
|----------------------------------|---------------------------------------------------|
| ``organization_create_or_update``| ``POST /api/v2/organizations/create_or_update.json`` |
| ``create_ticket``                | ``POST /api/v2/tickets.json``                     |

The body is the object itself or already wrapped (``{"organization": {...}}``). Organizations are
idempotent by ``external_id`` (or name); tickets by the ``Idempotency-Key`` header, which Zendesk
honours for ticket creation.
"""

from __future__ import annotations

from typing import Any

from actors.connectors._client import ClientConfig
from actors.connectors._pages import Lister, zendesk_list
from actors.connectors._vendor import Builder, Plan, VendorConnector, dumps
from router.plugin import OutboundRequest, register

__all__ = ["ZENDESK_OPERATIONS", "ZendeskConnector", "ZendeskConnectorConfig"]


class ZendeskConnectorConfig(ClientConfig):
    """``base_url`` is ``https://<subdomain>.zendesk.com``."""


def _wrapped(path: str, wrapper: str) -> Builder[ZendeskConnectorConfig]:
    def build(
        config: ZendeskConnectorConfig, doc: dict[str, Any], request: OutboundRequest
    ) -> Plan:
        del config, request
        inner = doc[wrapper] if isinstance(doc.get(wrapper), dict) else doc
        return Plan("POST", path, dumps({wrapper: inner}))

    return build


ZENDESK_OPERATIONS: dict[str, Builder[Any]] = {
    "organization_create_or_update": _wrapped(
        "/api/v2/organizations/create_or_update.json", "organization"
    ),
    "create_ticket": _wrapped("/api/v2/tickets.json", "ticket"),
}


ZENDESK_LISTS: dict[str, Lister] = {
    "list_organizations": zendesk_list("organizations"),
    "list_users": zendesk_list("users"),
}


class ZendeskConnector(VendorConnector[ZendeskConnectorConfig]):
    OPERATIONS = ZENDESK_OPERATIONS
    LISTS = ZENDESK_LISTS


register(
    "connector",
    "zendesk",
    ZendeskConnectorConfig,
    ZendeskConnector,
    operations=set(ZENDESK_OPERATIONS),
    lists=set(ZENDESK_LISTS),
)
