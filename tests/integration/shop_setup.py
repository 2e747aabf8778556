"""A small, complete shop for render tests: products, crowds, blocks, a page, two visitors."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.conftest import ShopKeys

XSS = "<script>alert('x')</script>"


def setup_shop(client: TestClient, shop: ShopKeys) -> None:
    h = shop.merchant
    products = [
        {"id": "lipstick", "title": f"Lipstick {XSS}", "category": "beauty", "price": 199, "stock": 10, "tags": ["premium"]},
        {"id": "serum", "title": "Serum", "category": "beauty", "price": 399, "stock": 3},
        {"id": "gone", "title": "Sold out", "category": "beauty", "price": 9, "stock": 0},
        {"id": "phone", "title": "Phone", "category": "digital", "price": 2999, "stock": 5},
        {"id": "cable", "title": "Cable", "category": "digital", "price": 19, "stock": 100},
    ]
    assert client.put(shop.url("/products"), json={"products": products}, headers=h).status_code == 200
    crowds = {
        "women": {"name": "Women", "condition": {"gender": "female"}, "priority": 5},
        "new_visitors": {"name": "New", "condition": {"lifecycle_stage": "prospect"}, "priority": 1},
        "campaign": {"name": "Campaign", "condition": {"utm_campaign": "spring"}, "priority": 9},
    }
    for cid, body in crowds.items():
        assert client.put(shop.url(f"/crowds/{cid}"), json=body, headers=h).status_code == 201
    blocks = {
        "hero_default": {"template": "hero_banner", "params": {"title": "Welcome"}},
        "hero_women": {"template": "hero_banner", "params": {"title": f"For her {XSS}"}},
        "hero_new": {"template": "hero_banner", "params": {"title": "Hello, newcomer"}},
        "hero_campaign": {"template": "hero_banner", "params": {"title": "Spring campaign"}},
        "grid_all": {"template": "product_grid", "params": {"title": "All", "count": 4}},
        "grid_beauty": {"template": "product_grid", "params": {"title": "Beauty", "count": 4, "pool": {"categories": ["beauty"]}, "pin": ["serum"]}},
    }
    for bid, body in blocks.items():
        assert client.put(shop.url(f"/blocks/{bid}"), json=body, headers=h).status_code == 201, client.put(shop.url(f"/blocks/{bid}"), json=body, headers=h).text
    page = {
        "name": "Home",
        "slots": [
            {"slot_id": "hero", "default": "hero_default", "variants": [
                {"crowd": "new_visitors", "block": "hero_new"},
                {"crowd": "women", "block": "hero_women"},
                {"crowd": "campaign", "block": "hero_campaign"},
            ]},
            {"slot_id": "grid", "default": "grid_all", "variants": [{"crowd": "women", "block": "grid_beauty"}]},
        ],
    }
    assert client.put(shop.url("/pages/home"), json=page, headers=h).status_code == 201
    visitors = [{"visitor_id": "alice", "attributes": {"gender": "female", "member_level": "gold"}}]
    client.put(shop.url("/visitors"), json={"visitors": visitors}, headers=h)
    events = [
        {"event_id": "a1", "type": "purchase", "visitor_id": "alice", "ts": time.time() - 86400 * 40, "amount": 50, "product_id": "serum"},
        {"event_id": "b1", "type": "view", "visitor_id": "bob", "ts": time.time() - 600, "product_id": "phone"},
        {"event_id": "b2", "type": "purchase", "visitor_id": "carol", "ts": time.time() - 600, "amount": 10, "product_id": "cable"},
    ]
    assert client.post(shop.url("/events"), json={"events": events}, headers=shop.storefront).status_code == 200
