"""Request building of every vendor operation: method, path, body and headers, no network."""

from __future__ import annotations

import urllib.parse
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from actors.connectors import dynamics, netsuite, salesforce, shopify, stripe, zendesk
from actors.connectors._client import Response
from actors.connectors._vendor import Plan, VendorConnector
from router.errors import PermanentError
from router.registry import connectors
from tests.actors.connectors._support import outbound

BASE = {"base_url": "https://vendor.example.com"}


def plan(kind: str, operation: str, body: Any, **config: Any) -> Plan:
    spec = connectors()[kind]
    connector = spec.factory("v", spec.config_model.model_validate({**BASE, **config}))
    assert isinstance(connector, VendorConnector)  # the factory's type is the Connector protocol
    return connector.plan(outbound(body, operation=operation, key="a" * 40))


def test_netsuite_upserts_by_external_id_in_the_path() -> None:
    p = plan("netsuite", "upsert_customer", {"externalId": "C 1/x", "companyName": "Acme"})
    assert (p.method, p.path) == ("PUT", "/services/rest/record/v1/customer/eid:C%201%2Fx")
    assert orjson.loads(p.body) == {"companyName": "Acme"}
    assert plan("netsuite", "upsert_sales_order", {"externalId": "SO1"}).path.endswith(
        "/salesOrder/eid:SO1"
    )
    assert plan("netsuite", "upsert_invoice", {"externalId": "I1"}).path.endswith("/invoice/eid:I1")


def test_netsuite_creates_carry_a_stable_uuid_idempotency_key() -> None:
    first = plan("netsuite", "create_customer_payment", {"payment": 5})
    again = plan("netsuite", "create_sales_order", {"entity": {"id": "1"}})
    assert (first.method, first.path) == ("POST", "/services/rest/record/v1/customerPayment")
    assert again.path == "/services/rest/record/v1/salesOrder"
    key = first.headers["X-NetSuite-Idempotency-Key"]
    assert key == again.headers["X-NetSuite-Idempotency-Key"] and len(key) == 36


def test_netsuite_get_record() -> None:
    by_id = plan("netsuite", "get_record", {"type": "customer", "id": 42})
    assert (by_id.method, by_id.path, by_id.body) == (
        "GET",
        "/services/rest/record/v1/customer/42",
        b"",
    )
    by_ext = plan("netsuite", "get_record", {"type": "invoice", "externalId": "I-1"})
    assert by_ext.path == "/services/rest/record/v1/invoice/eid:I-1"
    with pytest.raises(PermanentError, match="neither"):
        plan("netsuite", "get_record", {"type": "invoice"})


def test_dynamics_upsert_account_by_alternate_key_with_preconditions() -> None:
    p = plan("dynamics", "upsert_account", {"accountnumber": "O'Neil 1", "name": "x"})
    assert p.method == "PATCH"
    assert p.path == "/api/data/v9.2/accounts(accountnumber='O''Neil%201')"
    assert p.headers == {}
    create_only = plan(
        "dynamics", "upsert_account", {"k": 7}, alternate_key="k", upsert_mode="create"
    )
    assert create_only.path == "/api/data/v9.2/accounts(k=7)"
    assert create_only.headers == {"If-None-Match": "*"}
    update_only = plan("dynamics", "upsert_account", {"accountnumber": "A"}, upsert_mode="update")
    assert update_only.headers == {"If-Match": "*"}


def test_dynamics_salesorder_and_inventory_query() -> None:
    order = plan("dynamics", "create_salesorder", {"name": "SO"})
    assert (order.method, order.path) == ("POST", "/api/data/v9.2/salesorders")
    query = plan(
        "dynamics",
        "query_inventory",
        {"filter": {"msdyn_itemnumber": "SKU 1"}, "select": ["a", "b"], "top": 5},
    )
    assert query.method == "GET" and query.body == b""
    path, _, qs = query.path.partition("?")
    assert path == "/api/data/v9.2/msdyn_inventoryonhands"
    assert urllib.parse.parse_qs(qs) == {
        "$filter": ["msdyn_itemnumber eq 'SKU 1'"],
        "$select": ["a,b"],
        "$top": ["5"],
    }
    with pytest.raises(PermanentError, match="entity"):
        plan("dynamics", "query_inventory", {"entity": "x/../y"})


def test_stripe_form_encoding_flattens_nested_values() -> None:
    body = {
        "email": "a@b.c",
        "metadata": {"plan": "gold", "n": 2},
        "items": [{"price": "price_1", "quantity": 2}],
        "off": False,
        "ratio": 0.5,
        "cleared": None,
    }
    assert urllib.parse.parse_qsl(stripe.form_encode(body).decode(), keep_blank_values=True) == [
        ("email", "a@b.c"),
        ("metadata[plan]", "gold"),
        ("metadata[n]", "2"),
        ("items[0][price]", "price_1"),
        ("items[0][quantity]", "2"),
        ("off", "false"),
        ("ratio", "0.5"),
        ("cleared", ""),
    ]


def test_stripe_operations() -> None:
    create = plan("stripe", "create_customer", {"email": "a@b.c"})
    assert (create.method, create.path, create.content_type) == (
        "POST",
        "/v1/customers",
        "application/x-www-form-urlencoded",
    )
    update = plan("stripe", "update_customer", {"id": "cus_1", "name": "N"})
    assert (update.path, update.body) == ("/v1/customers/cus_1", b"name=N")
    assert plan("stripe", "create_subscription", {"customer": "cus_1"}).path == "/v1/subscriptions"
    with pytest.raises(PermanentError, match="`id`"):
        plan("stripe", "update_customer", {"name": "N"})


def test_salesforce_upsert_and_update() -> None:
    p = plan(
        "salesforce",
        "upsert_by_external_id",
        {"attributes": {"type": "Account"}, "Ext_Id__c": "E/1", "Name": "Acme"},
        external_id_field="Ext_Id__c",
    )
    assert (p.method, p.path) == ("PATCH", "/services/data/v60.0/sobjects/Account/Ext_Id__c/E%2F1")
    assert orjson.loads(p.body) == {"Name": "Acme"}
    u = plan("salesforce", "update_record", {"Id": "001", "Name": "B"}, sobject="Contact")
    assert u.path == "/services/data/v60.0/sobjects/Contact/001"
    assert orjson.loads(u.body) == {"Name": "B"}
    with pytest.raises(PermanentError, match="externalIdField"):
        plan("salesforce", "upsert_by_external_id", {"Name": "x"}, sobject="Account")


def test_zendesk_wraps_the_object_once() -> None:
    org = plan("zendesk", "organization_create_or_update", {"name": "Acme", "external_id": "1"})
    assert org.path == "/api/v2/organizations/create_or_update.json"
    assert orjson.loads(org.body) == {"organization": {"name": "Acme", "external_id": "1"}}
    ticket = plan("zendesk", "create_ticket", {"ticket": {"subject": "s"}})
    assert (ticket.path, orjson.loads(ticket.body)) == (
        "/api/v2/tickets.json",
        {"ticket": {"subject": "s"}},
    )


def test_shopify_set_inventory_level() -> None:
    p = plan(
        "shopify",
        "set_inventory_level",
        {"location_id": "12", "inventory_item_id": 34, "available": 5, "extra": 1},
        api_version="2024-10",
    )
    assert (p.method, p.path) == ("POST", "/admin/api/2024-10/inventory_levels/set.json")
    assert orjson.loads(p.body) == {"location_id": 12, "inventory_item_id": 34, "available": 5}
    with pytest.raises(PermanentError, match="integer"):
        plan("shopify", "set_inventory_level", {"location_id": 1, "inventory_item_id": 2})


def test_operations_reject_bodies_they_cannot_use() -> None:
    with pytest.raises(PermanentError, match="not JSON"):
        plan("netsuite", "upsert_customer", b"<xml/>")
    with pytest.raises(PermanentError, match="not a JSON object"):
        plan("netsuite", "upsert_customer", [1])
    with pytest.raises(PermanentError, match="`externalId`"):
        plan("netsuite", "upsert_customer", {"externalId": ""})


def test_stripe_cancel_subscription_is_a_delete_with_query_parameters() -> None:
    p = plan("stripe", "cancel_subscription", {"id": "sub_1/x"})
    assert (p.method, p.path, p.body, p.content_type) == (
        "DELETE",
        "/v1/subscriptions/sub_1%2Fx",
        b"",
        None,
    )
    more = plan("stripe", "cancel_subscription", {"id": "sub_1", "prorate": True, "x": {"a": 1}})
    assert more.path == "/v1/subscriptions/sub_1?prorate=true&x%5Ba%5D=1"
    with pytest.raises(PermanentError, match="`id`"):
        plan("stripe", "cancel_subscription", {})


def test_netsuite_result_reads_the_internal_id_from_location() -> None:
    loc = "https://1.suitetalk.api.netsuite.com/services/rest/record/v1/customer/123"

    def answer(status: int, body: bytes, location: str | None) -> Response:
        headers = CIMultiDict({"Location": location} if location else {})
        return Response(status, CIMultiDictProxy(headers), body)

    result = netsuite.location_result(answer(204, b"", loc))
    assert result is not None and orjson.loads(result) == {"id": "123", "location": loc}
    assert orjson.loads(netsuite.location_result(answer(204, b"", loc + "/")) or b"")["id"] == "123"
    assert netsuite.location_result(answer(200, b'{"id": "9"}', loc)) == b'{"id": "9"}'
    assert netsuite.location_result(answer(204, b"", None)) == b""
    assert netsuite.location_result(answer(204, b"", "https://x.example/")) == b""


def test_a_plain_call_without_operation_passes_method_and_path() -> None:
    spec = connectors()["zendesk"]
    connector = spec.factory("z", spec.config_model.model_validate(BASE))
    assert isinstance(connector, VendorConnector)
    p = connector.plan(outbound({"a": 1}, path="/api/v2/x.json", method="PUT"))
    assert (p.method, p.path, orjson.loads(p.body)) == ("PUT", "/api/v2/x.json", {"a": 1})


MODULES = {
    "netsuite": netsuite.NETSUITE_OPERATIONS,
    "dynamics": dynamics.DYNAMICS_OPERATIONS,
    "stripe": stripe.STRIPE_OPERATIONS,
    "salesforce": salesforce.SALESFORCE_OPERATIONS,
    "zendesk": zendesk.ZENDESK_OPERATIONS,
    "shopify": shopify.SHOPIFY_OPERATIONS,
}


@pytest.mark.parametrize("kind", sorted(MODULES))
def test_every_vendor_kind_registers_its_operations(kind: str) -> None:
    assert connectors()[kind].operations == frozenset(MODULES[kind])
