"""Zendesk Support API (``kind: zendesk``); auth ``basic`` (``agent@x.com/token`` + API token)
or ``bearer`` (OAuth).

| operation                        | call                                              |
|----------------------------------|---------------------------------------------------|
| ``organization_create_or_update``| ``POST /api/v2/organizations/create_or_update.json`` |
| ``create_ticket``                | ``POST /api/v2/tickets.json``                     |

The body is the object itself or already wrapped (``{"organization": {...}}``). Organizations are
idempotent by ``external_id`` (or name): safe to resend at any age. Tickets are idempotent by the
``Idempotency-Key`` header, which Zendesk honours on ticket creation only and keeps for 2 hours
(its key window); after that a resend opens a second ticket. Other creates have no keys.
"""

from __future__ import annotations

from typing import Any

from actors.connectors._client import ClientConfig
from actors.connectors._pages import Lister, zendesk_list
from actors.connectors._vendor import Builder, Plan, VendorConnector, dumps
from actors.connectors._windows import HOUR, Rule, Window, described
from router.plugin import OutboundRequest, register

__all__ = ["ZENDESK_OPERATIONS", "ZENDESK_WINDOWS", "ZendeskConnector", "ZendeskConnectorConfig"]


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

# developer.zendesk.com, Ticketing API introduction, "Idempotency": keys expire after 2 hours.
ZENDESK_WINDOWS: dict[str, Rule] = {
    "organization_create_or_update": Window(None, "create or update by external_id"),
    "create_ticket": Window(2 * HOUR, "Zendesk's ticket Idempotency-Key retention"),
}
NO_KEYS = Window(0.0, "Zendesk keeps Idempotency-Key on ticket creation only: use create_ticket")


class ZendeskConnector(VendorConnector[ZendeskConnectorConfig]):
    OPERATIONS = ZENDESK_OPERATIONS
    LISTS = ZENDESK_LISTS
    WINDOWS = ZENDESK_WINDOWS
    PLAIN_POST = NO_KEYS


register(
    "connector",
    "zendesk",
    ZendeskConnectorConfig,
    ZendeskConnector,
    operations=set(ZENDESK_OPERATIONS),
    lists=set(ZENDESK_LISTS),
    key_windows=described(ZENDESK_WINDOWS, NO_KEYS, lists=True),
)
