"""Training and serving build the same feature rows for the same data.

Serving: events and renders go through the HTTP API into Redis; the profile, the
popularity and the engagement counters are read back by the store and turned into
rows. Training: the same event log (and the exposure log of the renders) is parsed and
folded in Python. The rows must be identical, feature for feature.
"""

from __future__ import annotations

import json
import random
import time

import numpy as np
import redis
from fastapi.testclient import TestClient

from app.core.catalog import Catalog, Product
from app.core.engagement import EngagementCounter
from app.core.events import parse_event
from app.core.features import FeatureSpec, ranking_matrix, ranking_names, visitor_row
from app.core.profile import Context, Event, fold
from app.core.ranking import decayed, popularity_increment
from app.serving.snapshots import Snapshots
from app.store import keys
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


def resolved(products: list[dict[str, object]], log: list[dict[str, object]], now: float) -> tuple[Catalog, list[Event]]:
    """The catalog and the log's events resolved against it, as the service resolves them on ingestion."""
    catalog = Catalog.build(Product.from_dict(p) for p in products)
    parsed = []
    for i, raw in enumerate(log):
        event, errors = parse_event(raw, f"$[{i}]", now)
        assert not errors and event is not None
        parsed.append(catalog.resolve(event))
    return catalog, parsed


def test_rows_from_redis_equal_rows_from_the_event_log(client: TestClient, shop: ShopKeys) -> None:
    now = time.time()
    products = [{"id": f"p{i}", "title": "x", "category": CATEGORIES[i % 3], "price": 10 + 37 * i, "stock": 5} for i in range(9)]
    client.put(shop.url("/products"), json={"products": products}, headers=shop.merchant)
    log = event_log(now, random.Random(11))
    assert client.post(shop.url("/events"), json={"events": log}, headers=shop.storefront).status_code == 200

    # training resolves events against the catalog as the service does on ingestion
    _, parsed = resolved(products, log, now)

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


def test_ranking_rows_from_the_service_equal_rows_from_the_logs(client: TestClient, shop: ShopKeys) -> None:
    """Visitor, product and engagement columns alike: what a render scores is what training saw."""
    now = time.time()
    products = [
        {"id": f"p{i}", "title": "x", "category": CATEGORIES[i % 3], "price": 10 + 37 * i, "stock": 5, "added_at": now - 3 * i * 86400}
        for i in range(9)
    ]
    h = shop.merchant
    client.put(shop.url("/products"), json={"products": products}, headers=h)
    client.put(shop.url("/blocks/grid"), json={"template": "product_grid", "params": {"title": "t", "count": 6}}, headers=h)
    client.put(shop.url("/pages/home"), json={"slots": [{"slot_id": "grid", "default": "grid"}]}, headers=h)
    log = event_log(now, random.Random(5))
    for i, e in enumerate(log):  # some clicks came from a render
        if e["type"] == "click" and i % 2:
            e["render_id"] = f"r{i}"
    assert client.post(shop.url("/events"), json={"events": log}, headers=shop.storefront).status_code == 200
    for v in range(6):
        assert client.post(shop.url("/render"), json={"visitor_id": f"v{v}", "page": "home"}, headers=shop.storefront).status_code == 200
    state = client.app.state.storefront
    client.portal.call(state.render_service.exposures.flush)

    # training's side: the logs, folded in Python
    catalog, parsed = resolved(products, log, now)
    counter = EngagementCounter()
    for e in parsed:
        counter.add_event(e)
    sock = state.handle.embedded.socket_path
    for _, fields in redis.Redis(unix_socket_path=str(sock), decode_responses=True).xrange(keys.exposure_log(shop.shop_id)):
        counter.add_render([s["products"] for s in json.loads(fields["slots"]) if s["products"]])
    popularity: dict[str, float] = {}
    for e in sorted(parsed, key=lambda e: e.ts):
        if e.product_id:
            popularity[e.product_id] = popularity.get(e.product_id, 0.0) + popularity_increment(e.type, e.ts, now)

    # the service's side: what a render reads from Redis (a fresh snapshot, no cache)
    snap = client.portal.call(Snapshots().catalog, state.redis, shop.shop_id, None)
    assert snap.engagement == counter.current
    assert all(counter.current.totals[c] > 0 for c in ("impressions", "clicks", "views", "purchases"))
    spec = FeatureSpec(categories=CATEGORIES)
    context = Context(ts=now, device="desktop", channel="search")
    names = ranking_names(spec)
    for v in range(12):
        served = client.portal.call(visitor_store.read_profile, state.redis, shop.shop_id, f"v{v}").behaviour
        trained = fold(e for e in parsed if e.visitor_id == f"v{v}")
        assert served == trained
        a = ranking_matrix(
            spec, visitor_row(spec, served, context), served, snap.catalog.candidates(), snap.stored_popularity,
            snap.popularity_scale(now), snap.catalog.category_price, now, engagement=snap.engagement,
        )
        b = ranking_matrix(
            spec, visitor_row(spec, trained, context), trained, catalog.candidates(), popularity,
            decayed(1.0, now), catalog.category_price, now, engagement=counter.current,
        )
        # popularity is a float sum whose order differs (Redis adds per batch): equal to rounding
        pop = names.index("log_popularity")
        assert np.allclose(a[:, pop], b[:, pop], rtol=1e-12, atol=0)
        a[:, pop] = b[:, pop] = 0
        same = np.array_equal(a, b, equal_nan=True)
        assert same, {n: (x, y) for n, x, y in zip(names, a.T.tolist(), b.T.tolist(), strict=True) if not np.array_equal(x, y, equal_nan=True)}
