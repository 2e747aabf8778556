"""Render over HTTP: per-crowd blocks, ranked products, reasons, HTML escaping, errors."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.conftest import ShopKeys, redis_of
from tests.integration.shop_setup import XSS, setup_shop


def render(client: TestClient, shop: ShopKeys, visitor: str, **extra: object) -> dict:
    r = client.post(shop.url("/render"), json={"visitor_id": visitor, "page": "home", **extra}, headers=shop.storefront)
    assert r.status_code == 200, r.text
    return r.json()


def test_two_visitors_get_two_storefronts(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    alice = render(client, shop, "alice", context={"device": "mobile", "channel": "search"})
    bob = render(client, shop, "bob")
    assert [s["block_id"] for s in alice["slots"]] == ["hero_women", "grid_beauty"]
    assert [s["block_id"] for s in bob["slots"]] == ["hero_new", "grid_all"]
    assert alice["render_id"] != bob["render_id"]
    hero = alice["slots"][0]
    assert hero["crowd"] == "women" and "priority 5" in hero["reason"] and hero["template"] == "hero_banner"
    crowds = {c["id"]: c for c in alice["crowds"]}
    assert crowds["women"] == {"id": "women", "score": 1.0, "source": "rule", "matched": True, "priority": 5, "reason": "rule holds"}
    assert crowds["new_visitors"]["matched"] is False
    assert alice["fallbacks"] == []


def test_products_follow_merch_rules(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    grid = render(client, shop, "alice")["slots"][1]
    ids = [p["id"] for p in grid["products"]]
    assert ids[0] == "serum" and grid["products"][0]["reason"] == "pinned"
    assert "gone" not in ids  # out of stock
    assert set(ids) == {"serum", "lipstick"}  # the pool is beauty only
    everything = render(client, shop, "bob")["slots"][1]["products"]
    assert len(everything) == 4 and "gone" not in [p["id"] for p in everything]


def test_context_keys_are_attributes_and_win_by_priority(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    d = render(client, shop, "alice", context={"utm_campaign": "spring"})
    assert d["slots"][0]["block_id"] == "hero_campaign"


def test_html_escapes_every_merchant_string(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    r = client.post(shop.url("/render"), json={"visitor_id": "alice", "page": "home", "format": "html"}, headers=shop.storefront)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert XSS not in r.text
    assert "&lt;script&gt;alert(" in r.text
    assert "For her" in r.text and "Lipstick" in r.text
    assert r.headers["x-render-id"]


def test_unknown_page_and_bad_requests(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    r = client.post(shop.url("/render"), json={"visitor_id": "x", "page": "nope"}, headers=shop.storefront)
    assert r.status_code == 404 and r.json()["error"]["code"] == "page_not_found" and r.json()["error"]["pages"] == ["home"]
    r = client.post(shop.url("/render"), json={"visitor_id": "x", "page": "home", "context": {"ts": "tomorrow"}}, headers=shop.storefront)
    assert r.status_code == 422 and r.json()["error"]["path"] == "$.context.ts"
    r = client.post(shop.url("/render"), json={"visitor_id": "x", "page": "home", "format": "pdf"}, headers=shop.storefront)
    assert r.status_code == 422 and r.json()["error"]["path"] == "$.format"
    r = client.post(shop.url("/render"), json={"visitor_id": "x", "page": "home", "context": {"nested": {"a": 1}}}, headers=shop.storefront)
    assert r.status_code == 422 and r.json()["error"]["path"] == "$.context.nested"


def test_exposures_logged_once_per_render_but_not_for_previews(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    d = render(client, shop, "alice")
    preview = client.post(shop.url("/render"), json={"visitor_id": "alice", "page": "home", "preview": True}, headers=shop.merchant)
    assert preview.status_code == 200
    r = redis_of(client)
    deadline = time.time() + 5
    entries: list = []
    while time.time() < deadline:
        entries = r.xrange(f"sf:{{{shop.shop_id}}}:exposures")
        if entries:
            break
        time.sleep(0.05)
    time.sleep(0.2)
    entries = r.xrange(f"sf:{{{shop.shop_id}}}:exposures")
    assert [e[1]["render_id"] for e in entries] == [d["render_id"]]
    assert entries[0][1]["crowds"] == "women"


def test_config_changes_reach_the_next_render(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    assert render(client, shop, "alice")["slots"][0]["block_id"] == "hero_women"
    client.put(shop.url("/crowds/women"), json={"name": "Women", "condition": {"gender": "female"}, "priority": 0}, headers=shop.merchant)
    client.put(shop.url("/crowds/new_visitors"), json={"name": "New", "condition": {"gender": "female"}, "priority": 3}, headers=shop.merchant)
    assert render(client, shop, "alice")["slots"][0]["block_id"] == "hero_new"
