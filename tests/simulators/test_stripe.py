"""Stripe simulator: API keys, form encoding, Idempotency-Key replay and conflict, errors."""

from __future__ import annotations

from base64 import b64encode
from typing import Any

from simulators.stripe import parse_form
from tests.simulators.conftest import Harness, HarnessFactory, Reply, error_shape_ok, reply


async def post(
    h: Harness, path: str, data: dict[str, str], key: str | None = None, api_key: str | None = None
) -> Reply:
    headers = {"Authorization": f"Bearer {api_key or h.config['api_key']}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await reply(await h.http.post(f"{h.url}{path}", data=data, headers=headers))


async def get(h: Harness, path: str) -> Reply:
    headers = {"Authorization": f"Bearer {h.config['api_key']}"}
    return await reply(await h.http.get(f"{h.url}{path}", headers=headers))


def test_parse_form_builds_nested_params() -> None:
    body = (
        b"email=a%40x&metadata[ref_netsuite]=123&items[1][price]=p2&items[0][price]=p1&"
        b"items[0][quantity]=2&address[line1]=1+Main"
    )
    parsed: dict[str, Any] = parse_form(body)
    assert parsed == {
        "email": "a@x",
        "metadata": {"ref_netsuite": "123"},
        "items": [{"price": "p1", "quantity": "2"}, {"price": "p2"}],
        "address": {"line1": "1 Main"},
    }


async def test_api_key_is_required(harness: HarnessFactory) -> None:
    h = await harness("stripe")
    status, body, _ = await reply(await h.http.post(f"{h.url}/v1/customers", data={}))
    assert status == 401 and error_shape_ok("stripe", 401, body)
    assert body["error"]["type"] == "invalid_request_error"
    status, body, _ = await post(h, "/v1/customers", {}, api_key="sk_test_wrong_key")
    assert status == 401 and "Invalid API Key" in body["error"]["message"]
    encoded = b64encode(f"{h.config['api_key']}:".encode()).decode()
    basic = await reply(
        await h.http.get(f"{h.url}/v1/customers", headers={"Authorization": f"Basic {encoded}"})
    )
    assert basic[0] == 200  # Stripe also takes the key as the basic-auth user name
    assert "customer" not in await h.state()


async def test_create_and_update_a_customer(harness: HarnessFactory) -> None:
    h = await harness("stripe", api_key="sk_test_other")
    assert h.config["api_key"] == "sk_test_other"
    status, cus, headers = await post(
        h, "/v1/customers", {"email": "a@x.com", "name": "Acme", "metadata[ref_netsuite]": "C-1"}
    )
    assert status == 200 and cus["id"].startswith("cus_") and cus["object"] == "customer"
    assert cus["metadata"] == {"ref_netsuite": "C-1"} and headers["Request-Id"].startswith("req_")
    status, updated, _ = await post(
        h,
        f"/v1/customers/{cus['id']}",
        {"name": "Acme Corp", "metadata[ref_netsuite]": "", "metadata[tier]": "gold"},
    )
    assert status == 200 and updated["name"] == "Acme Corp"
    assert updated["metadata"] == {"tier": "gold"}  # "" unsets a metadata key
    (record,) = (await h.state())["customer"]
    assert record["external_id"] == "C-1" and record["data"]["email"] == "a@x.com"
    status, body, _ = await post(h, "/v1/customers/cus_missing", {"name": "x"})
    assert status == 404 and body["error"]["code"] == "resource_missing"
    _, found, _ = await get(h, "/v1/customers/search?query=metadata['tier']:'gold'")
    assert [c["id"] for c in found["data"]] == [cus["id"]]
    _, listed, _ = await get(h, "/v1/customers?email=a@x.com")
    assert [c["id"] for c in listed["data"]] == [cus["id"]]


async def test_idempotency_key_replays_and_never_creates_twice(harness: HarnessFactory) -> None:
    h = await harness("stripe")
    params = {"email": "a@x.com", "metadata[external_id]": "C-1"}
    first = await post(h, "/v1/customers", params, key="key-1")
    replay = await post(h, "/v1/customers", dict(reversed(params.items())), key="key-1")
    assert first[0] == replay[0] == 200 and first[1] == replay[1]
    assert replay[2]["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first[2]
    status, body, _ = await post(h, "/v1/customers", {"email": "b@x.com"}, key="key-1")
    assert status == 400 and error_shape_ok("stripe", 400, body)
    assert body["error"]["type"] == "idempotency_error"
    status, body, _ = await post(h, "/v1/subscriptions", params, key="key-1")  # other endpoint
    assert status == 400 and body["error"]["type"] == "idempotency_error"
    assert len((await h.state())["customer"]) == 1


async def test_a_failed_request_saves_no_idempotent_result(harness: HarnessFactory) -> None:
    h = await harness("stripe", faults={"broken": ["C-BAD"]})
    params = {"email": "a@x.com", "metadata[external_id]": "C-BAD"}
    status, body, _ = await post(h, "/v1/customers", params, key="k")
    assert status == 400 and error_shape_ok("stripe", 400, body)
    assert body["error"]["code"] == "parameter_invalid_string"
    await h.faults(broken=[])
    status, body, headers = await post(h, "/v1/customers", params, key="k")
    assert status == 200 and "Idempotent-Replayed" not in headers
    assert len((await h.state())["customer"]) == 1


async def test_subscriptions_need_a_customer_and_known_prices(harness: HarnessFactory) -> None:
    h = await harness("stripe")
    _, cus, _ = await post(h, "/v1/customers", {"email": "a@x.com"})
    status, body, _ = await post(h, "/v1/subscriptions", {"items[0][price]": "price_basic_monthly"})
    assert status == 400 and body["error"]["param"] == "customer"
    status, body, _ = await post(
        h, "/v1/subscriptions", {"customer": cus["id"], "items[0][price]": "price_nope"}
    )
    assert status == 400 and body["error"]["code"] == "resource_missing"
    assert body["error"]["param"] == "items[0][price]"
    status, sub, _ = await post(
        h,
        "/v1/subscriptions",
        {
            "customer": cus["id"],
            "items[0][price]": "price_pro_monthly",
            "items[0][quantity]": "3",
            "metadata[external_id]": "S-1",
        },
        key="sub-1",
    )
    assert status == 200 and sub["id"].startswith("sub_") and sub["status"] == "active"
    assert sub["items"]["data"][0]["quantity"] == 3
    assert sub["items"]["data"][0]["price"]["id"] == "price_pro_monthly"
    status, fetched, _ = await get(h, f"/v1/subscriptions/{sub['id']}")
    assert status == 200 and fetched == sub
    assert [s["external_id"] for s in (await h.state())["subscription"]] == ["S-1"]


async def test_price_data_makes_an_inline_price_once_every_item_is_valid(
    harness: HarnessFactory,
) -> None:
    h = await harness("stripe")
    _, cus, _ = await post(h, "/v1/customers", {"email": "a@x.com"})
    inline = {
        "customer": cus["id"],
        "items[0][price]": "price_basic_monthly",
        "items[1][price_data][currency]": "EUR",
        "items[1][price_data][product]": "prod_1",
        "items[1][price_data][unit_amount]": "990",
        "items[1][price_data][recurring][interval]": "year",
    }
    for name in ("currency", "product", "unit_amount", "recurring][interval"):
        missing = {k: v for k, v in inline.items() if not k.endswith(f"[{name}]")}
        status, body, _ = await post(h, "/v1/subscriptions", missing)
        assert status == 400 and body["error"]["code"] == "parameter_missing"
        assert body["error"]["param"] == f"items[1][price_data][{name}]"
    assert len((await h.state())["price"]) == 2  # a refused request stores no price
    status, sub, _ = await post(h, "/v1/subscriptions", inline)
    assert status == 200
    price = sub["items"]["data"][1]["price"]
    assert price["id"].startswith("price_") and price["currency"] == "eur"
    assert (price["unit_amount"], price["recurring"]["interval"]) == (990, "year")


async def test_cancel_a_subscription_then_a_second_cancel_is_resource_missing(
    harness: HarnessFactory,
) -> None:
    h = await harness("stripe")
    _, cus, _ = await post(h, "/v1/customers", {"email": "a@x.com"})
    params = {"customer": cus["id"], "items[0][price]": "price_basic_monthly"}
    _, sub, _ = await post(h, "/v1/subscriptions", params)
    auth = {"Authorization": f"Bearer {h.config['api_key']}", "Idempotency-Key": "cancel-1"}
    url = f"{h.url}/v1/subscriptions/{sub['id']}?cancellation_details[comment]=saga"
    status, canceled, _ = await reply(await h.http.delete(url, headers=auth))
    assert status == 200 and canceled["status"] == "canceled" and canceled["canceled_at"]
    assert canceled["cancellation_details"]["comment"] == "saga"
    # As on Stripe: the key is ignored on DELETE, and a canceled subscription cannot be canceled.
    status, body, _ = await reply(await h.http.delete(url, headers=auth))
    assert status == 404 and error_shape_ok("stripe", 404, body)
    assert body["error"]["code"] == "resource_missing"
    assert (await get(h, f"/v1/subscriptions/{sub['id']}"))[:2] == (200, canceled)
    missing = await reply(await h.http.delete(f"{h.url}/v1/subscriptions/sub_x", headers=auth))
    assert missing[0] == 404


async def test_customer_search_speaks_stripes_query_language(harness: HarnessFactory) -> None:
    h = await harness("stripe")
    made = {}
    for account, email in (("001A", "a@x.com"), ("001B", "b@x.com"), ("O'Neil \\ Co", "c@x.com")):
        _, cus, _ = await post(
            h, "/v1/customers", {"email": email, "metadata[salesforce_account_id]": account}
        )
        made[account] = cus["id"]

    async def search(query: str, **params: str) -> Reply:
        headers = {"Authorization": f"Bearer {h.config['api_key']}"}
        url = f"{h.url}/v1/customers/search"
        return await reply(
            await h.http.get(url, params={"query": query, **params}, headers=headers)
        )

    status, found, _ = await search("metadata['salesforce_account_id']:'001B'")
    assert status == 200 and found["object"] == "search_result"
    assert found["url"] == "/v1/customers/search" and found["has_more"] is False
    assert found["next_page"] is None and [c["id"] for c in found["data"]] == [made["001B"]]
    _, found, _ = await search('metadata["salesforce_account_id"]:"O\\\'Neil \\\\ Co"')
    assert [c["id"] for c in found["data"]] == [made["O'Neil \\ Co"]]
    _, found, _ = await search("email:'a@x.com' OR email:'b@x.com'")
    assert [c["id"] for c in found["data"]] == [made["001A"], made["001B"]]
    _, found, _ = await search("email:'a@x.com' AND metadata['salesforce_account_id']:'001B'")
    assert found["data"] == []
    _, page, _ = await search("email:'a@x.com' OR email:'b@x.com'", limit="1")
    assert page["has_more"] is True and [c["id"] for c in page["data"]] == [made["001A"]]
    _, rest, _ = await search("email:'a@x.com' OR email:'b@x.com'", page=page["next_page"])
    assert rest["has_more"] is False and [c["id"] for c in rest["data"]] == [made["001B"]]
    for bad in ("metadata['k']", "email:'a' AND name:'b' OR name:'c'", "created>5"):
        status, body, _ = await search(bad)
        assert status == 400 and error_shape_ok("stripe", 400, body)
        assert body["error"]["param"] == "query"
    status, body, _ = await search("email:'a@x.com'", page="nope")
    assert status == 400 and body["error"]["param"] == "page"
