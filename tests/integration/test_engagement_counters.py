"""Engagement counters in Redis, from events and renders, equal the pure counters (training's)."""

from __future__ import annotations

import json
import time

import redis
from fastapi.testclient import TestClient

from app.core.engagement import EngagementCounter
from app.core.events import parse_event
from app.store import catalog as catalog_store
from app.store import keys
from tests.conftest import ShopKeys
from tests.integration.shop_setup import setup_shop


def test_counters_from_events_and_renders_equal_the_pure_ones(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)  # its own events: views and purchases
    now = time.time()
    extra = [
        {"event_id": "c1", "type": "click", "visitor_id": "bob", "ts": now - 60, "product_id": "phone", "render_id": "r-1"},
        {"event_id": "c2", "type": "click", "visitor_id": "bob", "ts": now - 50, "product_id": "phone"},  # no render: not counted
        {"event_id": "c3", "type": "click", "visitor_id": "alice", "ts": now - 40, "product_id": "serum", "render_id": "r-2"},
        {"event_id": "v1", "type": "view", "visitor_id": "alice", "ts": now - 39, "product_id": "serum"},
        {"event_id": "p1", "type": "purchase", "visitor_id": "alice", "ts": now - 30, "product_id": "serum", "amount": 399},
        {"event_id": "x1", "type": "add_to_cart", "visitor_id": "alice", "ts": now - 35, "product_id": "serum"},
    ]
    h = shop.storefront
    assert client.post(shop.url("/events"), json={"events": extra}, headers=h).json()["accepted"] == len(extra)
    # replays of the same ids count once, as in the profile
    assert client.post(shop.url("/events"), json={"events": extra[:3]}, headers=h).json()["duplicates"] == 3
    for visitor in ("alice", "bob", "carol", "bob"):
        assert client.post(shop.url("/render"), json={"visitor_id": visitor, "page": "home"}, headers=h).status_code == 200
    client.portal.call(client.app.state.storefront.render_service.exposures.flush)

    state = client.app.state.storefront
    served = client.portal.call(catalog_store.load_engagement, state.redis, shop.shop_id)

    # the same counters built in Python from the exposure log and the accepted events
    sock = state.handle.embedded.socket_path
    r = redis.Redis(unix_socket_path=str(sock), decode_responses=True)
    counter = EngagementCounter()
    renders = r.xrange(keys.exposure_log(shop.shop_id))
    assert len(renders) == 4
    for _, fields in renders:
        counter.add_render([s["products"] for s in json.loads(fields["slots"]) if s["products"]])
    sent = [
        {"event_id": "a1", "type": "purchase", "visitor_id": "alice", "ts": now, "amount": 50, "product_id": "serum"},
        {"event_id": "b1", "type": "view", "visitor_id": "bob", "ts": now, "product_id": "phone"},
        {"event_id": "b2", "type": "purchase", "visitor_id": "carol", "ts": now, "amount": 10, "product_id": "cable"},
        *extra,
    ]
    for i, raw in enumerate(sent):
        event, errors = parse_event(raw, f"$[{i}]", now + 1)
        assert not errors and event is not None
        counter.add_event(event)
    assert served == counter.current
    assert served.clicks == {"phone": 1, "serum": 1}
    assert served.purchases == {"serum": 2, "cable": 1} and served.views == {"phone": 1, "serum": 1}
    # alice's beauty grid pins serum first; every grid shows it somewhere
    assert served.impressions["serum"] > 1000 and "gone" not in served.impressions  # out of stock: never shown
    assert served.totals["impressions"] == sum(served.impressions.values())


def test_a_deleted_product_loses_its_counters(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    state = client.app.state.storefront
    assert client.portal.call(catalog_store.load_engagement, state.redis, shop.shop_id).purchases["cable"] == 1
    assert client.delete(shop.url("/products/cable"), headers=shop.merchant).status_code in (200, 204)
    assert "cable" not in client.portal.call(catalog_store.load_engagement, state.redis, shop.shop_id).purchases
