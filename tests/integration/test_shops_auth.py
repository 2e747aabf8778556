"""Shops and keys: created with the admin token, keys shown once and stored hashed,
a key opens only its own shop, a storefront key only renders and sends events."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN, ShopKeys, create_shop, redis_of

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_create_shop_shows_keys_once_and_stores_only_digests(client: TestClient, shop: ShopKeys, data_dir) -> None:
    assert shop.merchant_key.startswith("mk_") and shop.storefront_key.startswith("sk_")
    r = redis_of(client)
    stored = r.hgetall(f"sf:{{{shop.shop_id}}}:shop")
    assert shop.merchant_key not in str(stored) and shop.storefront_key not in str(stored)
    assert len(stored["merchant_key_hash"]) == 64
    body = client.get(shop.url(""), headers=shop.merchant).json()
    assert body["shop_id"] == shop.shop_id and "merchant_key" not in body


def test_duplicate_and_invalid_shops(client: TestClient, shop: ShopKeys) -> None:
    r = client.post("/v1/shops", json={"shop_id": shop.shop_id, "name": "again"}, headers=ADMIN)
    assert r.status_code == 409 and r.json()["error"]["code"] == "shop_exists"
    r = client.post("/v1/shops", json={"shop_id": "Bad Id{x}", "name": "x"}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["error"]["path"] == "$.shop_id"


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 403), ({"Authorization": "Basic abc"}, 401)],
)
def test_admin_token_required(client: TestClient, headers: dict[str, str], status: int) -> None:
    r = client.post("/v1/shops", json={"shop_id": f"x{time.time_ns()}", "name": "x"}, headers=headers)
    assert r.status_code == status
    assert r.json()["error"]["code"] in ("unauthorized", "forbidden")


MERCHANT_CALLS = [
    ("GET", "", None),
    ("PUT", "/products", {"products": [{"id": "p", "title": "t", "category": "c", "price": 1, "stock": 1}]}),
    ("GET", "/products/p", None),
    ("PUT", "/visitors", {"visitors": [{"visitor_id": "v", "attributes": {"gender": "female"}}]}),
    ("GET", "/visitors/v", None),
    ("PUT", "/crowds/c", {"name": "c", "condition": {}}),
    ("GET", "/crowds", None),
    ("POST", "/crowds:test", {"condition": {}, "attributes": {}}),
    ("POST", "/crowds:preview", {"condition": {}}),
    ("PUT", "/blocks/b", {"template": "text", "params": {"body": "x"}}),
    ("PUT", "/pages/home", {"slots": [{"slot_id": "s", "default": "b"}]}),
    ("GET", "/settings", None),
    ("POST", "/keys:rotate", None),
]


@pytest.mark.parametrize(("method", "path", "body"), MERCHANT_CALLS)
def test_other_shops_key_and_storefront_key_get_403(client: TestClient, shop: ShopKeys, method: str, path: str, body: object) -> None:
    other = create_shop(client, "other")
    for headers in (other.merchant, other.storefront, shop.storefront):
        r = client.request(method, shop.url(path), json=body, headers=headers)
        assert r.status_code == 403, (headers, r.text)
        assert r.json()["error"]["code"] == "forbidden"


def test_storefront_key_renders_and_sends_events_only_in_its_shop(client: TestClient, shop: ShopKeys) -> None:
    other = create_shop(client, "other")
    client.put(shop.url("/blocks/b"), json={"template": "text", "params": {"body": "hello"}}, headers=shop.merchant)
    client.put(shop.url("/pages/home"), json={"slots": [{"slot_id": "s", "default": "b"}]}, headers=shop.merchant)
    ev = {"events": [{"event_id": "e1", "type": "view", "visitor_id": "v", "ts": time.time()}]}
    assert client.post(shop.url("/events"), json=ev, headers=shop.storefront).status_code == 200
    assert client.post(shop.url("/render"), json={"visitor_id": "v", "page": "home"}, headers=shop.storefront).status_code == 200
    for headers in (other.storefront, other.merchant):
        assert client.post(shop.url("/events"), json=ev, headers=headers).status_code == 403
        r = client.post(shop.url("/render"), json={"visitor_id": "v", "page": "home"}, headers=headers)
        assert r.status_code == 403 and "slots" not in r.text
    # an unknown shop answers like a wrong key: shop ids cannot be probed
    r = client.post("/v1/shops/no-such-shop/render", json={"visitor_id": "v", "page": "home"}, headers=shop.storefront)
    assert r.status_code == 403
    # a preview (not logged) is for the merchant only
    r = client.post(shop.url("/render"), json={"visitor_id": "v", "page": "home", "preview": True}, headers=shop.storefront)
    assert r.status_code == 403


def test_rotated_keys_replace_the_old_ones_at_once(client: TestClient, shop: ShopKeys) -> None:
    client.put(shop.url("/blocks/b"), json={"template": "text", "params": {"body": "hello"}}, headers=shop.merchant)
    client.put(shop.url("/pages/home"), json={"slots": [{"slot_id": "s", "default": "b"}]}, headers=shop.merchant)
    render = {"visitor_id": "v", "page": "home"}
    assert client.post(shop.url("/render"), json=render, headers=shop.storefront).status_code == 200  # cached config
    new = client.post(shop.url("/keys:rotate"), headers=shop.merchant).json()
    assert client.get(shop.url(""), headers=shop.merchant).status_code == 403
    assert client.post(shop.url("/render"), json=render, headers=shop.storefront).status_code == 403
    assert client.get(shop.url(""), headers={"Authorization": f"Bearer {new['merchant_key']}"}).status_code == 200
    assert client.post(shop.url("/render"), json=render, headers={"Authorization": f"Bearer {new['storefront_key']}"}).status_code == 200
