"""Training and serving build the same feature row for the same data.

Serving: events go through the HTTP API into Redis, the profile is read back by the
store and turned into a row. Training: the same event log is parsed and folded in
Python. The rows must be identical, feature for feature.
"""

from __future__ import annotations

import random
import time

import numpy as np
from fastapi.testclient import TestClient

from app.core.catalog import Catalog, Product
from app.core.events import parse_event
from app.core.features import FeatureSpec, visitor_row
from app.core.profile import Context, fold
from app.store import visitors as visitor_store
from tests.conftest import ShopKeys

CATEGORIES = ("beauty", "digital", "food")


def event_log(now: float, rng: random.Random) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for v in range(12):
        for k in range(rng.randint(0, 25)):
            etype = rng.choice(["view", "view", "view", "click", "add_to_cart", "purchase", "follow", "exposure"])
            e: dict[str, object] = {
                "event_id": f"v{v}-{k}",
                "type": etype,
                "visitor_id": f"v{v}",
                "ts": now - rng.uniform(0, 200) * 86400 + rng.random(),  # sub-millisecond noise on purpose
                "product_id": f"p{rng.randrange(9)}",
            }
            if etype == "purchase":
                e["amount"] = round(rng.uniform(0, 500), 2)
            out.append(e)
    return out


def test_rows_from_redis_equal_rows_from_the_event_log(client: TestClient, shop: ShopKeys) -> None:
    now = time.time()
    products = [{"id": f"p{i}", "title": "x", "category": CATEGORIES[i % 3], "price": 10 + 37 * i, "stock": 5} for i in range(9)]
    client.put(shop.url("/products"), json={"products": products}, headers=shop.merchant)
    log = event_log(now, random.Random(11))
    assert client.post(shop.url("/events"), json={"events": log}, headers=shop.storefront).status_code == 200

    # training resolves events against the catalog as the service does on ingestion
    catalog = Catalog.build(Product.from_dict(p) for p in products)
    parsed = []
    for i, raw in enumerate(log):
        event, errors = parse_event(raw, f"$[{i}]", now)
        assert not errors and event is not None
        parsed.append(catalog.resolve(event))

    spec = FeatureSpec(categories=CATEGORIES)
    context = Context(ts=now, device="mobile", channel="social")
    redis = client.app.state.storefront.redis
    for v in range(12):
        vid = f"v{v}"
        served = client.portal.call(visitor_store.read_profile, redis, shop.shop_id, vid)
        trained = fold(e for e in parsed if e.visitor_id == vid)
        assert served.behaviour == trained
        a, b = visitor_row(spec, served.behaviour, context), visitor_row(spec, trained, context)
        assert np.array_equal(a, b, equal_nan=True), dict(zip(spec.visitor_names, zip(a, b, strict=True), strict=True))
