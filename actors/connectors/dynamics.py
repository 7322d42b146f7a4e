"""Dynamics 365 / Dataverse Web API (``kind: dynamics``), usually with OAuth 2.0 client credentials.

| operation           | call                                                             |
|---------------------|------------------------------------------------------------------|
| ``upsert_account``  | ``PATCH {api_path}/accounts({alternate_key}='{value}')``         |
| ``create_salesorder`` | ``POST {api_path}/salesorders``                                |
| ``query_inventory`` | ``GET {api_path}/{entity}?$filter=...&$select=...&$top=...``     |

``upsert_account`` is idempotent by the alternate key; ``upsert_mode`` picks the OData semantics:
``upsert`` (no precondition), ``create`` (``If-None-Match: *``: never overwrite, 412 if it exists)
or ``update`` (``If-Match: *``: never create, 404 if missing). ``query_inventory`` takes
``{"entity"?, "filter": {"field": value, ...} or "OData text", "select"?: [...], "top"?: n}``.
Writes answer 204 with ``OData-EntityId`` and no body (``send`` returns ``b""``); a route header
``Prefer: return=representation`` makes Dataverse answer the entity, its id included.

Key windows: Dataverse has no idempotency keys. The alternate-key upserts (``upsert_account``, and
``create_salesorder`` with ``order_alternate_key`` in the body) are safe to resend at any age; a
plain create (``create_salesorder`` without it, a plain ``POST``) has no window at all: any resend
could make a second record.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from actors.connectors._client import ClientConfig
from actors.connectors._pages import Lister, dynamics_entities
from actors.connectors._vendor import Builder, Plan, VendorConnector, dumps, require
from actors.connectors._windows import Choice, Rule, Window, described
from router.plugin import OutboundRequest, PermanentError, register

__all__ = [
    "DYNAMICS_OPERATIONS",
    "DYNAMICS_WINDOWS",
    "DynamicsConnector",
    "DynamicsConnectorConfig",
    "odata_literal",
]


class DynamicsConnectorConfig(ClientConfig):
    api_path: str = Field(default="/api/data/v9.2", pattern=r"^/[A-Za-z0-9/._-]*$")
    alternate_key: str = Field(
        default="accountnumber", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Account key"
    )
    upsert_mode: Literal["upsert", "create", "update"] = Field(
        default="upsert", description="upsert; create: If-None-Match: *; update: If-Match: *"
    )
    order_alternate_key: str = Field(
        default="ilk_externalid",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Sales order alternate key: orders carrying it are upserted (idempotent)",
    )
    inventory_entity: str = Field(
        default="msdyn_inventoryonhands", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"
    )


def odata_literal(value: Any) -> str:
    """An OData literal: numbers bare, text single-quoted with quotes doubled."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def upsert_account(
    config: DynamicsConnectorConfig, doc: dict[str, Any], request: OutboundRequest
) -> Plan:
    del request
    key = config.alternate_key
    require(doc, key, "upsert_account")
    literal = urllib.parse.quote(odata_literal(doc[key]), safe="'")
    headers = {"create": {"If-None-Match": "*"}, "update": {"If-Match": "*"}}.get(
        config.upsert_mode, {}
    )
    path = f"{config.api_path}/accounts({key}={literal})"
    return Plan("PATCH", path, dumps(doc), headers=headers)


def create_salesorder(
    config: DynamicsConnectorConfig, doc: dict[str, Any], request: OutboundRequest
) -> Plan:
    """An order with an external id is upserted by that alternate key, so a redelivery after a lost
    reply updates the same order instead of creating a second one (Dataverse has no
    Idempotency-Key). Without one it is a plain create, which a redelivery could duplicate."""
    del request
    key = config.order_alternate_key
    if doc.get(key) is None:
        return Plan("POST", f"{config.api_path}/salesorders", dumps(doc))
    literal = urllib.parse.quote(odata_literal(doc[key]), safe="'")
    return Plan("PATCH", f"{config.api_path}/salesorders({key}={literal})", dumps(doc))


def query_inventory(
    config: DynamicsConnectorConfig, doc: dict[str, Any], request: OutboundRequest
) -> Plan:
    del request
    entity = str(doc.get("entity") or config.inventory_entity)
    if not entity.isidentifier():
        raise PermanentError("query_inventory: `entity` must be an entity set name")
    where = doc.get("filter")
    if isinstance(where, dict):
        where = " and ".join(f"{k} eq {odata_literal(v)}" for k, v in sorted(where.items()))
    query: list[tuple[str, str]] = []
    if where:
        query.append(("$filter", str(where)))
    if isinstance(doc.get("select"), list):
        query.append(("$select", ",".join(map(str, doc["select"]))))
    if doc.get("top") is not None:
        query.append(("$top", str(int(doc["top"]))))
    qs = urllib.parse.urlencode(query, quote_via=urllib.parse.quote, safe="$,'")
    path = f"{config.api_path}/{entity}" + (f"?{qs}" if qs else "")
    return Plan("GET", path, b"", None)


DYNAMICS_OPERATIONS: dict[str, Builder[Any]] = {
    "upsert_account": upsert_account,
    "create_salesorder": create_salesorder,
    "query_inventory": query_inventory,
}


DYNAMICS_LISTS: dict[str, Lister] = {"list_entities": dynamics_entities}

UPSERT = Window(None, "upsert by alternate key")
NO_KEYS = Window(0.0, "Dataverse has no idempotency keys: a resend creates again")


def _order_window(config: DynamicsConnectorConfig, doc: Mapping[str, Any]) -> Window:
    return NO_KEYS if doc.get(config.order_alternate_key) is None else UPSERT


DYNAMICS_WINDOWS: dict[str, Rule] = {
    "upsert_account": UPSERT,
    "create_salesorder": Choice(
        _order_window,
        f"{UPSERT.text()} when the body has `order_alternate_key`; else {NO_KEYS.text()}",
    ),
    "query_inventory": Window(None, "a read"),
}


class DynamicsConnector(VendorConnector[DynamicsConnectorConfig]):
    OPERATIONS = DYNAMICS_OPERATIONS
    LISTS = DYNAMICS_LISTS
    WINDOWS = DYNAMICS_WINDOWS
    PLAIN_POST = NO_KEYS

    def default_headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}


register(
    "connector",
    "dynamics",
    DynamicsConnectorConfig,
    DynamicsConnector,
    operations=set(DYNAMICS_OPERATIONS),
    lists=set(DYNAMICS_LISTS),
    key_windows=described(DYNAMICS_WINDOWS, NO_KEYS, lists=True),
)
