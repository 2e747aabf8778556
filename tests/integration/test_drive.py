"""The simulator drives the running service over HTTP: the service ends up knowing the shop."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from app.core.profile import fold
from tests.conftest import create_shop
from training.drive import drive, shifted
from training.simulator import SimConfig, simulate


def test_a_simulated_shop_replayed_over_http(client: TestClient) -> None:
    shop = create_shop(client, "sim")
    h = shop.merchant
    client.put(shop.url("/blocks/b"), json={"template": "product_grid", "params": {"title": "t"}}, headers=h)
    client.put(shop.url("/pages/home"), json={"slots": [{"slot_id": "g", "default": "b"}]}, headers=h)
    sim = shifted(simulate(SimConfig(seed=2, n_visitors=60, days=10, n_products=40)), time.time() - 60)
    result = drive(client, sim, shop=shop.shop_id, merchant_key=shop.merchant_key, storefront_key=shop.storefront_key, progress=False)

    assert result.renders == len(sim.contexts) and result.render_errors == 0
    sent_before_last_session = sum(1 for e in sim.events if e.ts < max(c.ts for c in sim.contexts))
    assert result.events_sent == result.events_accepted == sent_before_last_session
    # the service's profile of a busy visitor is the fold of what was sent for them
    busiest = max(sim.visitors, key=lambda v: v.sessions).visitor_id
    last = max(c.ts for c in sim.contexts)
    expected = fold(e for e in sim.events if e.visitor_id == busiest and e.ts < last)
    got = client.get(shop.url(f"/visitors/{busiest}"), headers=h).json()["behaviour"]
    assert (got["orders"], got["views"], got["clicks"]) == (expected.orders, expected.views, expected.clicks)
