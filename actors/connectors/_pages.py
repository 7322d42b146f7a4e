"""Batch reads: each vendor's paging, as a plan for a page and a reading of its answer.

A :class:`Lister` turns ``(params, cursor)`` into the vendor call for that page and the vendor's
answer into a :class:`~router.plugin.Page` (records, next cursor). The cursor is what the vendor
pages by, so it can be stored between pages and a crash resumes at the next one:

- Stripe: ``GET /v1/<objects>?limit=100``; the cursor is the last object's id
  (``starting_after``), while ``has_more``.
- NetSuite: ``POST /services/rest/query/v1/suiteql?limit=1000&offset=N`` with
  ``Prefer: transient``; the cursor is the next ``offset``, while ``hasMore``.
- Salesforce: ``GET /services/data/vNN/query?q=<SOQL>``; the cursor is ``nextRecordsUrl`` (a path),
  until ``done``.
- Zendesk: ``GET /api/v2/<objects>?page[size]=100``; the cursor is ``meta.after_cursor``, while
  ``meta.has_more``.
- Dynamics: ``GET {api_path}/<set>`` with ``Prefer: odata.maxpagesize=N``; the cursor is
  ``@odata.nextLink``, followed as a path.

A vendor's next-page link is followed only as a path on the connector's own base URL (its host
is dropped and checked): a link to another host is refused, so a page answer cannot steer the
connector's credentials elsewhere.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.connectors._vendor import JSON, Plan, dumps, segment
from router.plugin import Page, PermanentError

__all__ = [
    "Lister",
    "dynamics_entities",
    "netsuite_suiteql",
    "salesforce_soql",
    "stripe_list",
    "zendesk_list",
]

PlanPage = Callable[[Any, dict[str, Any], Any], Plan]
ReadPage = Callable[[Any, dict[str, Any], Plan], Page]


@dataclass(frozen=True, slots=True)
class Lister:
    plan: PlanPage  # (config, params, cursor) -> the call for that page
    read: ReadPage  # (config, the answer as JSON, the call) -> the page


def _text(params: dict[str, Any], name: str, operation: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        raise PermanentError(f"{operation}: `params.{name}` is required")
    return value


def _size(params: dict[str, Any], default: int, most: int) -> int:
    size = params.get("page_size", default)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= most:
        raise PermanentError(f"`params.page_size` must be 1 to {most}")
    return size


def _records(document: dict[str, Any], field: str, vendor: str) -> list[Any]:
    records = document.get(field)
    if not isinstance(records, list):
        raise PermanentError(f"{vendor} answered a page without a `{field}` list")
    return records


def _own_path(config: Any, link: str, vendor: str) -> str:
    """A vendor's next-page link as a path on the connector's base URL; refused elsewhere."""
    parts = urllib.parse.urlsplit(link)
    base = urllib.parse.urlsplit(config.base_url)
    foreign = (parts.scheme, parts.netloc) != (base.scheme, base.netloc)
    if (parts.scheme or parts.netloc) and foreign:
        raise PermanentError(f"{vendor} pointed the next page at another host: {parts.netloc}")
    if not parts.path.startswith("/"):
        raise PermanentError(f"{vendor} answered a next-page link that is not a path")
    return parts.path + (f"?{parts.query}" if parts.query else "")


# -- Stripe ---------------------------------------------------------------------------------------


def stripe_list(objects: str) -> Lister:
    """``GET /v1/<objects>``; params: ``page_size`` and filters (``status``, ``customer``...)."""

    def plan(config: Any, params: dict[str, Any], cursor: Any) -> Plan:
        del config
        query: dict[str, Any] = {"limit": _size(params, 100, 100)}
        query |= {k: v for k, v in params.items() if k != "page_size"}
        if cursor is not None:
            query["starting_after"] = str(cursor)
        return Plan("GET", f"/v1/{objects}?{urllib.parse.urlencode(query)}", b"", None)

    def read(config: Any, document: dict[str, Any], call: Plan) -> Page:
        del config, call
        records = _records(document, "data", "Stripe")
        more = document.get("has_more") is True and records
        last = records[-1].get("id") if more and isinstance(records[-1], dict) else None
        if more and not last:
            raise PermanentError("Stripe answered has_more with no object id to continue from")
        return Page(records, last if more else None)

    return Lister(plan, read)


# -- NetSuite -------------------------------------------------------------------------------------


def _suiteql_plan(config: Any, params: dict[str, Any], cursor: Any) -> Plan:
    del config
    query = _text(params, "query", "suiteql")
    limit = _size(params, 1000, 1000)
    offset = int(cursor or 0)
    path = f"/services/rest/query/v1/suiteql?limit={limit}&offset={offset}"
    return Plan("POST", path, dumps({"q": query}), JSON, {"Prefer": "transient"})


def _suiteql_read(config: Any, document: dict[str, Any], call: Plan) -> Page:
    del config
    records = [
        {k: v for k, v in item.items() if k != "links"} if isinstance(item, dict) else item
        for item in _records(document, "items", "NetSuite")
    ]
    if document.get("hasMore") is not True:
        return Page(records)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(call.path).query)
    offset = int(query["offset"][0]) + int(query["limit"][0])
    return Page(records, offset)


netsuite_suiteql = Lister(_suiteql_plan, _suiteql_read)
"""``params: {query: "SELECT id, externalid, ... FROM customerpayment", page_size?}``."""


# -- Salesforce -----------------------------------------------------------------------------------


def _soql_plan(config: Any, params: dict[str, Any], cursor: Any) -> Plan:
    headers = {"Sforce-Query-Options": f"batchSize={_size(params, 2000, 2000)}"}
    if cursor is not None:
        path = _own_path(config, str(cursor), "Salesforce")
        if not path.startswith("/services/data/"):
            raise PermanentError("Salesforce answered a nextRecordsUrl outside /services/data")
        return Plan("GET", path, b"", None, headers)
    query = urllib.parse.quote(_text(params, "query", "soql"), safe="")
    return Plan("GET", f"/services/data/{config.api_version}/query?q={query}", b"", None, headers)


def _soql_read(config: Any, document: dict[str, Any], call: Plan) -> Page:
    del config, call
    records = _records(document, "records", "Salesforce")
    following = document.get("nextRecordsUrl")
    if document.get("done") is False and isinstance(following, str) and following:
        return Page(records, following)
    return Page(records)


salesforce_soql = Lister(_soql_plan, _soql_read)
"""``params: {query: "SELECT Id, Name FROM Account", page_size? (200-2000)}``."""


# -- Zendesk --------------------------------------------------------------------------------------


def zendesk_list(objects: str) -> Lister:
    """``GET /api/v2/<objects>`` with cursor pagination; params: ``page_size`` (1-100)."""

    def plan(config: Any, params: dict[str, Any], cursor: Any) -> Plan:
        del config
        query: dict[str, Any] = {"page[size]": _size(params, 100, 100)}
        if cursor is not None:
            query["page[after]"] = str(cursor)
        return Plan("GET", f"/api/v2/{objects}?{urllib.parse.urlencode(query)}", b"", None)

    def read(config: Any, document: dict[str, Any], call: Plan) -> Page:
        del config, call
        records = _records(document, objects, "Zendesk")
        meta = document.get("meta")
        meta = meta if isinstance(meta, dict) else {}
        after = meta.get("after_cursor")
        if meta.get("has_more") is True and isinstance(after, str) and after:
            return Page(records, after)
        return Page(records)

    return Lister(plan, read)


# -- Dynamics 365 ---------------------------------------------------------------------------------


def _odata_plan(config: Any, params: dict[str, Any], cursor: Any) -> Plan:
    headers = {"Prefer": f"odata.maxpagesize={_size(params, 5000, 5000)}"}
    if cursor is not None:
        path = _own_path(config, str(cursor), "Dynamics")
        if not path.startswith(config.api_path + "/"):
            raise PermanentError("Dynamics answered an @odata.nextLink outside the API path")
        return Plan("GET", path, b"", None, headers)
    entity_set = _text(params, "entity_set", "list_entities")
    query = {f"${k}": v for k in ("select", "filter") if isinstance(v := params.get(k), str)}
    suffix = f"?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}" if query else ""
    return Plan("GET", f"{config.api_path}/{segment(entity_set)}{suffix}", b"", None, headers)


def _odata_read(config: Any, document: dict[str, Any], call: Plan) -> Page:
    del config, call
    records = _records(document, "value", "Dynamics")
    following = document.get("@odata.nextLink")
    return Page(records, following if isinstance(following, str) and following else None)


dynamics_entities = Lister(_odata_plan, _odata_read)
"""``params: {entity_set: "accounts", select?: "name,accountnumber", filter?, page_size?}``."""
