"""Stripe API simulator: customers, subscriptions and invoices, with ``Idempotency-Key``.

- ``POST /v1/customers``, ``POST /v1/customers/{id}``, ``GET /v1/customers/{id}``,
  ``GET /v1/customers?email=&limit=&starting_after=&ending_before=``,
  ``GET /v1/customers/search?query=metadata['k']:'v'&limit=&page=`` (Stripe's search result).
- ``GET /v1/invoices?status=&customer=&limit=&starting_after=&ending_before=`` and
  ``GET /v1/invoices/{id}``; invoices (type ``invoice``) are preloaded through ``/_sim/seed`` or
  :meth:`Simulator.seed_many`, since the simulator does not bill.
- ``POST /v1/subscriptions`` (``customer``, ``items[0][price]`` or ``items[0][price_data][...]``,
  ``items[0][quantity]``), ``GET /v1/subscriptions/{id}``; prices must exist
  (``price_basic_monthly`` and ``price_pro_monthly`` are preloaded; seed others through
  ``/_sim/seed`` with type ``price``), or come inline as ``price_data``.
- ``DELETE /v1/subscriptions/{id}``: cancel now (``status: canceled``, ``canceled_at``); a second
  cancel is a 404 ``resource_missing``, as on Stripe, while GET still reads it.

``Idempotency-Key`` on a POST: the same key with the same parameters replays the first 2xx reply
with ``Idempotent-Replayed: true``; with different parameters it is a 400 ``idempotency_error``.
As on Stripe, a request that fails validation saves no result, and a key is forgotten 24 h after
its first use (on the simulator's clock): a request reusing it then runs again, a second customer
for a create. A customer's external id (in ``/_sim/state`` and for the ``broken`` fault) is
``metadata[external_id]`` or its first ``metadata[ref_*]`` value; ``broken`` also matches an
email.
"""

from __future__ import annotations

import re
import secrets
from functools import partial
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from aiohttp import web
from typing_extensions import override

from simulators._auth import basic_credentials, bearer_token
from simulators._base import Simulator, json_response
from simulators._paging import PagingError, around, bounded_int
from simulators._store import Record

_KEY_PART = re.compile(r"\[([^\]]*)\]")
_CLAUSE = re.compile(
    r"""\s*(?:metadata\[(?P<kq>['"])(?P<key>(?:\\.|(?!(?P=kq)).)+)(?P=kq)\]"""
    r"""|(?P<field>email|name|phone)):(?P<vq>['"])(?P<value>(?:\\.|(?!(?P=vq)).)*)(?P=vq)\s*"""
)
_JOIN = re.compile(r"(AND|OR)\b")
_ESCAPE = re.compile(r"\\(.)")
Clause = tuple[str | None, str | None, str]
"""One search clause: (metadata key, or None; field, or None; the value wanted)."""
_PREFIX = {
    "customer": "cus_",
    "subscription": "sub_",
    "price": "price_",
    "item": "si_",
    "invoice": "in_",
}
_KINDS = {"customers": "customer", "subscriptions": "subscription", "invoices": "invoice"}
_INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")
_CODES = {"rate_limited": "rate_limit", "not_found": "resource_missing"}


def parse_form(body: bytes) -> dict[str, Any]:
    """Stripe's bracket syntax: ``metadata[k]=v`` -> dict, ``items[0][price]=p`` -> list of dict."""
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(body.decode(), keep_blank_values=True):
        head, _, tail = raw_key.partition("[")
        path = [head, *_KEY_PART.findall("[" + tail)] if tail else [head]
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    listed: dict[str, Any] = _listify(root)
    return listed


def parse_search(query: str) -> tuple[list[Clause], bool] | str:
    """The clauses of a search query and whether any (``OR``) or all (``AND``) must match; the
    error message when the simulator cannot read it."""
    clauses: list[Clause] = []
    joins: set[str] = set()
    at = 0
    while True:
        m = _CLAUSE.match(query, at)
        if m is None:
            return (
                "The simulator reads clauses metadata['k']:'v', email:'v', name:'v' and "
                f"phone:'v', joined by AND or by OR; could not read {query[at:]!r}."
            )
        key = _ESCAPE.sub(r"\1", m["key"]) if m["key"] is not None else None
        clauses.append((key, m["field"], _ESCAPE.sub(r"\1", m["value"])))
        at = m.end()
        if at == len(query):
            break
        join = _JOIN.match(query, at)
        if join is None:
            return f"Expected AND or OR at {query[at:]!r}."
        joins.add(join[1])
        at = join.end()
    if len(joins) > 1:
        return "A search query cannot mix AND and OR."
    return clauses, joins == {"OR"}


def _matches(record: Record, clause: Clause) -> bool:
    key, field, value = clause
    if key is not None:
        metadata = record.data.get("metadata") or {}
        return isinstance(metadata, dict) and metadata.get(key) == value
    return record.data.get(field or "") == value


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


class StripeSimulator(Simulator):
    """Stripe's v1 API for customers and subscriptions."""

    name = "stripe"
    defaults: ClassVar[dict[str, str]] = {"api_key": "sk_test_interlock"}
    idempotency_window = 24 * 3600.0  # keys may be pruned once 24 hours old

    @override
    def new_id(self, type_: str, n: int) -> str:
        return f"{_PREFIX.get(type_, 'obj_')}{secrets.token_hex(7)}"

    @override
    def seed_defaults(self) -> None:
        for price, amount in (("price_basic_monthly", 1900), ("price_pro_monthly", 4900)):
            self.store.create(
                "price",
                {
                    "object": "price",
                    "currency": "usd",
                    "unit_amount": amount,
                    "recurring": {"interval": "month", "interval_count": 1},
                    "active": True,
                },
                price,
                id_=price,
            )

    @override
    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/customers", self._create_customer),
            web.get("/v1/customers", self._list_customers),
            web.get("/v1/customers/search", self._search_customers),
            web.get("/v1/customers/{id}", self._get),
            web.post("/v1/customers/{id}", self._update_customer),
            web.post("/v1/subscriptions", self._create_subscription),
            web.get("/v1/subscriptions/{id}", self._get),
            web.delete("/v1/subscriptions/{id}", self._cancel_subscription),
            web.get("/v1/invoices", self._list_invoices),
            web.get("/v1/invoices/{id}", self._get),
        ]

    @override
    def error(self, status: int, code: str, message: str, field: str | None = None) -> web.Response:
        if status >= 500:
            kind = "api_error"
        elif code == "idempotency_error":
            kind = "idempotency_error"
        else:
            kind = "invalid_request_error"
        body = {"type": kind, "code": _CODES.get(code, code), "message": message, "param": field}
        return json_response({"error": body}, status=status, headers=self._headers())

    def _headers(self) -> dict[str, str]:
        return {"Request-Id": f"req_{secrets.token_hex(7)}", "Stripe-Version": "2024-06-20"}

    @override
    async def authenticate(self, request: web.Request) -> web.Response | None:
        basic = basic_credentials(request)
        key = bearer_token(request) or (basic[0] if basic else None)
        if key == self.credentials["api_key"]:
            return None
        if key is None:
            message = (
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY')."
            )
        else:
            message = f"Invalid API Key provided: {key[:8]}{'*' * 4}{key[-4:]}"
        return self.error(401, "api_key_invalid" if key else "api_key_missing", message)

    # --- helpers --------------------------------------------------------------------------------

    def _object(self, record: Record) -> dict[str, Any]:
        if record.type == "invoice":  # seeded invoices may be sparse: fill what Stripe always has
            base: dict[str, Any] = {"id": record.id, "object": "invoice", "status": "draft"}
            base |= {"customer": None, "amount_paid": 0, "amount_due": 0, "currency": "usd"}
            base |= {"created": int(record.created_at), "status_transitions": {"paid_at": None}}
            base["metadata"] = {}
            return {**base, **record.data}
        return {"id": record.id, **record.data}

    def _ok(self, record: Record) -> web.Response:
        return json_response(self._object(record), headers=self._headers())

    def _missing(self, kind: str, id_: str, param: str | None = None) -> web.Response:
        return self.error(
            404 if param is None else 400,
            "resource_missing",
            f"No such {kind}: '{id_}'",
            field=param,
        )

    def _external_id(self, metadata: dict[str, str]) -> str | None:
        if metadata.get("external_id"):
            return metadata["external_id"]
        refs = [v for k, v in sorted(metadata.items()) if k.startswith("ref_") and v]
        return refs[0] if refs else None

    def _broken(self, params: dict[str, Any]) -> web.Response | None:
        metadata = params.get("metadata") or {}
        values = [*metadata.values(), params.get("email")] if isinstance(metadata, dict) else []
        bad = next((v for v in values if self.is_broken(v)), None)
        if bad is None:
            return None
        return self.error(
            400,
            "parameter_invalid_string",
            f"Invalid value for record {bad}: the parameter failed validation.",
            field="email",
        )

    async def _params(self, request: web.Request) -> tuple[bytes, dict[str, Any]]:
        body = await request.read()
        return body, parse_form(body)

    def _fingerprint(self, request: web.Request, body: bytes) -> str:
        pairs = sorted(parse_qsl(body.decode(), keep_blank_values=True))
        return f"{request.method} {request.path} {pairs}"

    async def _idempotent(self, request: web.Request, body: bytes, run: Any) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        scoped = None if key is None else f"{self.credentials['api_key']}:{key}"
        return await self.idempotent(scoped, self._fingerprint(request, body), run)

    # --- customers ------------------------------------------------------------------------------

    async def _create_customer(self, request: web.Request) -> web.Response:
        body, params = await self._params(request)

        async def run() -> web.Response:
            denied = self._broken(params)
            if denied is not None:
                return denied
            metadata = params.get("metadata") or {}
            data = {
                "object": "customer",
                "created": int(self.clock.time()),
                "livemode": False,
                "email": params.get("email"),
                "name": params.get("name"),
                "phone": params.get("phone"),
                "description": params.get("description"),
                "address": params.get("address"),
                "currency": None,
                "metadata": {k: v for k, v in metadata.items() if v != ""},
            }
            return self._ok(self.store.create("customer", data, self._external_id(metadata)))

        return await self._idempotent(request, body, run)

    async def _update_customer(self, request: web.Request) -> web.Response:
        body, params = await self._params(request)
        record = self.store.get("customer", request.match_info["id"])
        if record is None:
            return self._missing("customer", request.match_info["id"])

        async def run() -> web.Response:
            denied = self._broken(params)
            if denied is not None:
                return denied
            changes = {k: v for k, v in params.items() if k != "metadata"}
            metadata = {**record.data.get("metadata", {}), **(params.get("metadata") or {})}
            changes["metadata"] = {k: v for k, v in metadata.items() if v != ""}  # "" unsets
            self.store.update(record, changes)
            ext = self._external_id(changes["metadata"])
            if ext is not None and ext != record.external_id:
                self.store.set_external_id(record, ext)
            return self._ok(record)

        return await self._idempotent(request, body, run)

    async def _get(self, request: web.Request) -> web.Response:
        kind = _KINDS[request.path.split("/")[2]]
        record = self.store.get(kind, request.match_info["id"])
        return self._missing(kind, request.match_info["id"]) if record is None else self._ok(record)

    def _page(
        self, request: web.Request, type_: str, filters: dict[str, str | None]
    ) -> web.Response:
        """One page of a Stripe list: ``limit`` (1..100, default 10) after a cursor object.

        ``starting_after=<id>`` answers the objects after that one, ``ending_before=<id>`` the
        ones before it (``starting_after`` wins if both come); an unknown id is a 400
        ``resource_missing`` naming the parameter, a bad limit a 400
        ``parameter_invalid_integer``. ``has_more`` says whether another page lies that way.
        Real Stripe lists newest first; the simulator lists in insertion order (oldest first).
        Either way a walk passing each page's last id as ``starting_after`` sees every object
        once. ``filters`` (field -> wanted value, None to ignore) narrow the list.
        """
        query = request.query
        wanted = {k: v for k, v in filters.items() if v is not None}
        match = (lambda r: all(r.data.get(k) == v for k, v in wanted.items())) if wanted else None
        after, before = query.get("starting_after"), query.get("ending_before")
        try:
            limit = bounded_int(query.get("limit"), 10, 1, 100, "limit")
            rows, position = self.store.ordered(type_), partial(self.store.position, type_)
            window = around(rows, position, after, before, limit, match)
        except PagingError as exc:
            if exc.param == "limit":
                return self.error(400, "parameter_invalid_integer", exc.message, field="limit")
            param = "starting_after" if exc.param == "after" else "ending_before"
            return self._missing(type_, str(after or before), param)
        body = {
            "object": "list",
            "url": request.path,
            "has_more": window.more,
            "data": [self._object(r) for r in window.records],
        }
        return json_response(body, headers=self._headers())

    async def _list_customers(self, request: web.Request) -> web.Response:
        """``GET /v1/customers``: paged like every Stripe list, filtered by exact ``email``."""
        return self._page(request, "customer", {"email": request.query.get("email")})

    async def _list_invoices(self, request: web.Request) -> web.Response:
        """``GET /v1/invoices``: paged, filtered by ``status`` and ``customer`` as on Stripe.

        Stripe refuses a ``status`` outside draft, open, paid, uncollectible and void.
        """
        status = request.query.get("status")
        if status is not None and status not in _INVOICE_STATUSES:
            return self.error(
                400,
                "parameter_invalid_string",
                f"Invalid status: must be one of {', '.join(_INVOICE_STATUSES)}",
                field="status",
            )
        filters = {"status": status, "customer": request.query.get("customer")}
        return self._page(request, "invoice", filters)

    async def _search_customers(self, request: web.Request) -> web.Response:
        """``GET /v1/customers/search?query=...``: Stripe's search result, paged by ``page``.

        The query is Stripe's search language, in part: clauses ``metadata['k']:'v'``,
        ``email:'v'``, ``name:'v'`` and ``phone:'v'`` (single or double quotes, ``\\`` escapes),
        all joined by ``AND`` or all by ``OR``. A match is exact. Simulated: results are at once,
        where Stripe's search may lag new objects by about a minute.
        """
        query = request.query
        parsed = parse_search(query.get("query", ""))
        if isinstance(parsed, str):
            return self.error(400, "parameter_invalid_string", parsed, field="query")
        clauses, any_of = parsed
        page = query.get("page", "")
        try:
            limit = bounded_int(query.get("limit"), 10, 1, 100, "limit")
        except PagingError as exc:
            return self.error(400, "parameter_invalid_integer", exc.message, field="limit")
        if page and not (page.startswith("page_") and page[5:].isdigit()):
            return self.error(400, "parameter_invalid_string", "Invalid page token", field="page")
        start = int(page[5:]) if page else 0
        test = any if any_of else all
        rows = [r for r in self.store.all("customer") if test(_matches(r, c) for c in clauses)]
        window = rows[start : start + limit]
        more = start + limit < len(rows)
        body = {
            "object": "search_result",
            "url": "/v1/customers/search",
            "has_more": more,
            "next_page": f"page_{start + limit}" if more else None,
            "data": [self._object(r) for r in window],
        }
        return json_response(body, headers=self._headers())

    # --- subscriptions --------------------------------------------------------------------------

    async def _create_subscription(self, request: web.Request) -> web.Response:
        body, params = await self._params(request)

        async def run() -> web.Response:
            customer_id = params.get("customer")
            if not customer_id:
                return self.error(
                    400, "parameter_missing", "Missing required param: customer.", field="customer"
                )
            if self.store.get("customer", str(customer_id)) is None:
                return self._missing("customer", str(customer_id), param="customer")
            items = params.get("items")
            if not isinstance(items, list) or not items:
                return self.error(
                    400, "parameter_missing", "Missing required param: items.", field="items"
                )
            denied = self._broken(params)
            if denied is not None:
                return denied
            prices = [self._price(i, item) for i, item in enumerate(items)]
            valid = [p for p in prices if not isinstance(p, web.Response)]
            refused = [p for p in prices if isinstance(p, web.Response)]
            if refused:
                return refused[0]
            lines: list[dict[str, Any]] = [
                {
                    "id": self.new_id("item", i),
                    "object": "subscription_item",
                    "price": self._object(self._stored_price(price)),
                    "quantity": int(item.get("quantity", 1)),
                }
                for i, (item, price) in enumerate(zip(items, valid, strict=True))
            ]
            now = int(self.clock.time())
            metadata = params.get("metadata") or {}
            data = {
                "object": "subscription",
                "customer": customer_id,
                "status": "active",
                "currency": lines[0]["price"].get("currency", "usd"),  # Stripe: its prices' one
                "created": now,
                "current_period_start": now,
                "current_period_end": now + 30 * 86400,
                "livemode": False,
                "items": {"object": "list", "data": lines, "has_more": False},
                "metadata": metadata,
            }
            created = self.store.create("subscription", data, self._external_id(metadata))
            return self._ok(created)

        return await self._idempotent(request, body, run)

    def _price(self, i: int, item: Any) -> Record | dict[str, Any] | web.Response:
        """Item ``i``'s price: a stored one by id, or new price data (stored once all are valid)."""
        item = item if isinstance(item, dict) else {}
        inline = item.get("price_data")
        if item.get("price") or not isinstance(inline, dict):
            price = self.store.get("price", str(item.get("price", "")))
            return price or self._missing("price", str(item.get("price")), f"items[{i}][price]")
        # Stripe wants an existing product here; the simulator has no products, so any id goes.
        recurring: dict[str, Any] = inline.get("recurring") or {}
        recurring = recurring if isinstance(recurring, dict) else {}
        amount = str(inline.get("unit_amount", ""))
        count = str(recurring.get("interval_count", 1))
        for name, ok in (
            ("[currency]", bool(inline.get("currency"))),
            ("[product]", bool(inline.get("product"))),
            ("[unit_amount]", amount.isdigit()),
            (
                "[recurring][interval]",
                recurring.get("interval") in {"day", "week", "month", "year"},
            ),
        ):
            if not ok:
                param = f"items[{i}][price_data]{name}"
                return self.error(
                    400, "parameter_missing", f"Missing or invalid param: {param}.", field=param
                )
        return {
            "object": "price",
            "currency": str(inline["currency"]).lower(),
            "product": inline["product"],
            "unit_amount": int(amount),
            "recurring": {
                "interval": recurring["interval"],
                "interval_count": int(count) if count.isdigit() else 1,
            },
        }

    def _stored_price(self, price: Record | dict[str, Any]) -> Record:
        return price if isinstance(price, Record) else self.store.create("price", price)

    async def _cancel_subscription(self, request: web.Request) -> web.Response:
        # Stripe ignores Idempotency-Key on DELETE, so this skips the replay cache. Like Stripe, a
        # canceled subscription is gone for a second cancel (404 resource_missing) though GET still
        # reads it: the simulator keeps that so the connector's read-back is what gets tested.
        id_ = request.match_info["id"]
        record = self.store.get("subscription", id_)
        if record is None or record.data.get("status") == "canceled":
            return self._missing("subscription", id_)
        details = parse_form(request.rel_url.raw_query_string.encode()).get("cancellation_details")
        details = details if isinstance(details, dict) else {}
        now = int(self.clock.time())
        cancellation = {
            "comment": details.get("comment"),
            "feedback": details.get("feedback"),
            "reason": "cancellation_requested",
        }
        changes = {"status": "canceled", "canceled_at": now, "ended_at": now}
        self.store.update(record, {**changes, "cancellation_details": cancellation})
        return self._ok(record)
