"""Known visitors, events and the profile they build, through HTTP on real Redis."""

from __future__ import annotations

import random
import time

import pytest
from fastapi.testclient import TestClient

from app.core.profile import Event, fold
from tests.conftest import ShopKeys

NOW = time.time()
DAY = 86400


def history(visitor: str) -> list[dict[str, object]]:
    return [
        {"event_id": f"{visitor}-1", "type": "view", "visitor_id": visitor, "ts": NOW - 40 * DAY, "product_id": "p1"},
        {"event_id": f"{visitor}-2", "type": "view", "visitor_id": visitor, "ts": NOW - 3 * DAY, "product_id": "p2"},
        {"event_id": f"{visitor}-3", "type": "click", "visitor_id": visitor, "ts": NOW - 3 * DAY + 5, "product_id": "p2"},
        {"event_id": f"{visitor}-4", "type": "add_to_cart", "visitor_id": visitor, "ts": NOW - 3 * DAY + 9, "product_id": "p2"},
        {"event_id": f"{visitor}-5", "type": "purchase", "visitor_id": visitor, "ts": NOW - 100 * DAY, "amount": 99.9},
        {"event_id": f"{visitor}-6", "type": "purchase", "visitor_id": visitor, "ts": "2020-01-01T08:00:00+08:00", "amount": 0},
        {"event_id": f"{visitor}-7", "type": "purchase", "visitor_id": visitor, "ts": NOW - 2 * DAY, "amount": "0.10", "product_id": "p1"},
        {"event_id": f"{visitor}-8", "type": "follow", "visitor_id": visitor, "ts": NOW - DAY},
        {"event_id": f"{visitor}-9", "type": "exposure", "visitor_id": visitor, "ts": NOW - 60, "render_id": "r1"},
    ]


PRODUCTS = [
    {"id": "p1", "title": "Shoe", "category": "shoes", "price": 10, "stock": 1},
    {"id": "p2", "title": "Bag", "category": "bags", "price": 10, "stock": 1},
    {"id": "p3", "title": "Boot", "category": "shoes", "price": 30, "stock": 1},  # shoes: typically 20
]


def catalog(client: TestClient, shop: ShopKeys) -> None:
    assert client.put(shop.url("/products"), json={"products": PRODUCTS}, headers=shop.merchant).status_code == 200


def test_events_build_the_profile(client: TestClient, shop: ShopKeys) -> None:
    catalog(client, shop)
    r = client.post(shop.url("/events"), json={"events": history("a")}, headers=shop.storefront)
    assert r.json() == {"accepted": 9, "duplicates": 0}
    p = client.get(shop.url("/visitors/a"), headers=shop.merchant).json()
    b = p["behaviour"]
    assert (b["orders"], b["spend"], b["views"], b["clicks"], b["add_to_carts"]) == (3, 100.0, 2, 1, 1)
    assert b["first_purchase_at"] == "2020-01-01T00:00:00Z"
    assert b["viewed_categories"] == {"shoes": 1, "bags": 1}
    assert b["followed_at"] is not None
    d = p["derived"]
    assert d["is_fan"] is True and d["frequency"] == 3 and d["recency_days"] == 2
    assert d["lifecycle_stage"] == "mature"  # first order years ago, last two days ago
    assert p["known"] == {}


def test_duplicates_and_any_order_give_the_same_profile(client: TestClient, shop: ShopKeys) -> None:
    catalog(client, shop)
    in_order = [{**e, "event_id": f"x{e['event_id']}", "visitor_id": "x"} for e in history("a")]
    client.post(shop.url("/events"), json={"events": in_order}, headers=shop.storefront)
    shuffled = [{**e, "event_id": f"y{e['event_id']}", "visitor_id": "y"} for e in history("a")]
    random.Random(3).shuffle(shuffled)
    half = len(shuffled) // 2
    r1 = client.post(shop.url("/events"), json={"events": shuffled[:half] + shuffled[:2]}, headers=shop.storefront).json()
    r2 = client.post(shop.url("/events"), json={"events": shuffled[half:] + shuffled}, headers=shop.storefront).json()
    assert r1 == {"accepted": half, "duplicates": 2}
    assert r2 == {"accepted": len(shuffled) - half, "duplicates": len(shuffled)}
    x = client.get(shop.url("/visitors/x"), headers=shop.merchant).json()
    y = client.get(shop.url("/visitors/y"), headers=shop.merchant).json()
    assert x["behaviour"] == y["behaviour"]
    assert x["derived"] == y["derived"]


def test_redis_fold_equals_the_pure_fold(client: TestClient, shop: ShopKeys) -> None:
    """The Lua script and app.core.profile.fold are the same function."""
    catalog(client, shop)
    raw = history("z")
    client.post(shop.url("/events"), json={"events": raw}, headers=shop.storefront)
    got = client.get(shop.url("/visitors/z"), headers=shop.merchant).json()["behaviour"]
    from app.core.catalog import Catalog, Product
    from app.core.events import parse_event
    resolver = Catalog.build(Product.from_dict(p) for p in PRODUCTS)  # as the shop's catalog is now
    events: list[Event] = []
    for i, e in enumerate(raw):
        ev, errs = parse_event(e, f"$[{i}]", time.time())
        assert not errs and ev is not None
        events.append(resolver.resolve(ev))
    want = fold(events).as_dict()
    assert want["priced_views"] == 2 and want["viewed_price_position"] == pytest.approx((-693 + 0) / 2000)
    assert (got["priced_views"], got["viewed_price_position"]) == (want["priced_views"], want["viewed_price_position"])
    assert got["orders"] == want["orders"] and got["spend"] == want["spend"]
    assert got["viewed_categories"] == want["viewed_categories"]
    assert (got["views"], got["clicks"], got["add_to_carts"]) == (want["views"], want["clicks"], want["add_to_carts"])


def test_a_bad_event_refuses_the_whole_batch(client: TestClient, shop: ShopKeys) -> None:
    events = history("b")
    events[3] = {**events[3], "ts": "2024-01-01T00:00:00"}  # no timezone
    events[5] = {**events[5], "amount": -1}
    r = client.post(shop.url("/events"), json={"events": events}, headers=shop.storefront)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_events"
    assert [d["path"] for d in err["details"]] == ["$.events[3].ts", "$.events[5].amount"]
    assert client.get(shop.url("/visitors/b"), headers=shop.merchant).status_code == 404  # nothing written
    r = client.post(shop.url("/events"), json={"events": [{**history("b")[0], "type": "buy"}]}, headers=shop.storefront)
    assert r.status_code == 422 and r.json()["error"]["path"] == "$.events[0].type"


def test_known_attributes_upsert_merge_and_remove(client: TestClient, shop: ShopKeys) -> None:
    v = {"visitor_id": "k", "attributes": {"gender": "female", "birthday": "1992-02-29", "city": "上海", "member_level": "gold", "member_since": "2022-05-01", "is_fan": True, "vip_tag": ["a", "b"]}}
    assert client.put(shop.url("/visitors"), json={"visitors": [v]}, headers=shop.merchant).json() == {"upserted": 1}
    client.put(shop.url("/visitors"), json={"visitors": [{"visitor_id": "k", "attributes": {"city": "北京", "vip_tag": None}}]}, headers=shop.merchant)
    p = client.get(shop.url("/visitors/k"), headers=shop.merchant).json()
    assert p["known"] == {"gender": "female", "birthday": "1992-02-29", "city": "北京", "member_level": "gold", "member_since": "2022-05-01", "is_fan": True}
    assert p["derived"]["is_member"] is True and p["derived"]["member_level_rank"] == 2
    assert p["derived"]["customer_group"] == "member"


def test_bad_known_attributes_are_refused_with_paths(client: TestClient, shop: ShopKeys) -> None:
    visitors = [
        {"visitor_id": "ok", "attributes": {"gender": "female"}},
        {"visitor_id": "bad", "attributes": {"gender": "f", "birthday": "1990-13-01", "is_fan": "yes"}},
    ]
    r = client.put(shop.url("/visitors"), json={"visitors": visitors}, headers=shop.merchant)
    assert r.status_code == 422
    paths = [d["path"] for d in r.json()["error"]["details"]]
    assert paths == ["$.visitors[1].attributes.gender", "$.visitors[1].attributes.birthday", "$.visitors[1].attributes.is_fan"]
    assert client.get(shop.url("/visitors/ok"), headers=shop.merchant).status_code == 404  # nothing half written
    # the shape is checked first: an attribute name that is not a plain name
    r = client.put(shop.url("/visitors"), json={"visitors": [{"visitor_id": "x", "attributes": {"bad key!": 1}}]}, headers=shop.merchant)
    assert r.status_code == 422 and r.json()["error"]["path"] == '$.visitors[0].attributes["bad key!"]'


def test_accepted_events_are_logged_once_for_training(client: TestClient, shop: ShopKeys) -> None:
    import redis

    from app.store import keys
    from app.store.visitors import read_event_log

    catalog(client, shop)
    events = history("log")
    client.post(shop.url("/events"), json={"events": events}, headers=shop.storefront)
    client.post(shop.url("/events"), json={"events": events[:3]}, headers=shop.storefront)  # replays: not logged again
    sock = client.app.state.storefront.handle.embedded.socket_path
    r = redis.Redis(unix_socket_path=str(sock), decode_responses=True)
    logged = read_event_log(r.xrange(keys.event_log(shop.shop_id)))
    assert sorted(e["event_id"] for e in logged) == sorted(e["event_id"] for e in events)
    purchase = next(e for e in logged if e["event_id"] == "log-5")
    assert (purchase["type"], purchase["visitor_id"], purchase["amount_cents"]) == ("purchase", "log", "9990")
    assert next(e for e in logged if e["event_id"] == "log-9")["render_id"] == "r1"
