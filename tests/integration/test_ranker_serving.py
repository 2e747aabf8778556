"""The learned ranker in the running service: grids ranked by it, merchant rules kept."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.core.profile import Context
from app.scoring.attribute_models import ModelRejected
from app.scoring.ranker_model import load_ranker
from app.serving.render import RenderOutcome, RenderRequest
from tests.conftest import create_shop, make_settings

CATS = ["beauty", "digital", "women", "food"]


def shop_with_grid(c: TestClient):
    shop = create_shop(c)
    h = shop.merchant
    products = [
        {"id": f"p{i:02d}", "title": f"item {i}", "category": CATS[i % 4], "price": 20 + 37 * i % 400, "stock": 0 if i == 5 else 10}
        for i in range(40)
    ]
    c.put(shop.url("/products"), json={"products": products}, headers=h)
    c.put(shop.url("/blocks/grid"), json={"template": "product_grid", "params": {"title": "t", "count": 10, "pin": ["p07"], "max_per_category": 4}}, headers=h)
    c.put(shop.url("/pages/home"), json={"slots": [{"slot_id": "grid", "default": "grid"}]}, headers=h)
    now = time.time()
    ev = [{"event_id": f"e{i}", "type": "view", "visitor_id": "v", "ts": now - 600 * i, "product_id": f"p{(i * 4) % 40:02d}"} for i in range(10)]
    c.post(shop.url("/events"), json={"events": ev}, headers=shop.storefront)
    return shop


def test_grids_are_ranked_by_the_model_under_the_merchants_rules(tmp_path: Path, published_ranker: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path / "data", ranker_dir=published_ranker))) as c:
        assert c.get("/readyz").json()["checks"]["ranker"]["ok"] is True
        shop = shop_with_grid(c)
        d = c.post(shop.url("/render"), json={"visitor_id": "v", "page": "home", "context": {"device": "mobile"}}, headers=shop.storefront).json()
        assert d["ranker_version"] and not d["fallbacks"]
        products = d["slots"][0]["products"]
        assert products[0] == {"id": "p07", "score": products[0]["score"], "reason": "pinned"}
        rest = products[1:]
        assert all(p["reason"].startswith("ranker") for p in rest)
        assert [p["score"] for p in rest] == sorted((p["score"] for p in rest), reverse=True)
        assert "p05" not in [p["id"] for p in products]  # out of stock
        per_cat: dict[str, int] = {}
        for p in products[1:]:
            cat = CATS[int(p["id"][1:]) % 4]
            per_cat[cat] = per_cat.get(cat, 0) + 1
        assert max(per_cat.values()) <= 4


def test_without_a_ranker_popularity_ranks(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path / "data"))) as c:
        shop = shop_with_grid(c)
        d = c.post(shop.url("/render"), json={"visitor_id": "v", "page": "home"}, headers=shop.storefront).json()
        assert d["ranker_version"] is None
        assert all(p["reason"] == "pinned" or p["reason"].startswith("popularity") for p in d["slots"][0]["products"])


def test_a_ranker_built_for_other_features_is_refused(tmp_path: Path, published_ranker: Path) -> None:
    folder = tmp_path / "r"
    shutil.copytree(published_ranker, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["features"]["ranking_names"] = manifest["features"]["ranking_names"][::-1]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelRejected, match="order"):
        load_ranker(folder)
    assert load_ranker(published_ranker).booster.num_feature() == len(manifest["features"]["ranking_names"])


def test_a_tampered_conversion_model_is_refused(tmp_path: Path, published_ranker: Path) -> None:
    folder = tmp_path / "r"
    shutil.copytree(published_ranker, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["conversion"]["weight"] > 0
    with (folder / manifest["conversion"]["file"]).open("a") as f:
        f.write("\n")
    with pytest.raises(ModelRejected, match="sha256"):
        load_ranker(folder)


def test_models_run_inline_alone_and_in_a_thread_when_page_views_wait(tmp_path: Path, published_ranker: Path) -> None:
    """Alone, a page view scores on the event loop (a thread's hop would only add
    latency); while other page views are in flight, in a worker thread, so the loop
    keeps serving them. Both ways rank alike."""
    with TestClient(create_app(make_settings(tmp_path / "data", ranker_dir=published_ranker))) as c:
        service = c.app.state.storefront.render_service
        shop = shop_with_grid(c)
        body = {"visitor_id": "v", "page": "home", "context": {"device": "mobile", "ts": time.time()}}

        def grid() -> list[tuple[str, float]]:
            d = c.post(shop.url("/render"), json=body, headers=shop.storefront).json()
            assert d["ranker_version"] and not d["fallbacks"]
            return [(p["id"], p["score"]) for p in d["slots"][0]["products"]]

        async def where(in_flight: int) -> tuple[int, int]:
            service._in_flight = in_flight
            try:
                return threading.get_ident(), await service._off_loop(threading.get_ident)
            finally:
                service._in_flight = 0

        loop_thread, ran_on = c.portal.call(where, 1)
        assert ran_on == loop_thread
        loop_thread, ran_on = c.portal.call(where, 2)
        assert ran_on != loop_thread
        inline = grid()
        service.inline_when_alone = False
        assert grid() == inline

        service.inline_when_alone = True
        req = RenderRequest("v", "home", Context(ts=body["context"]["ts"], device="mobile"))

        async def together() -> list[RenderOutcome]:
            return list(await asyncio.gather(*(service.render(shop.shop_id, req, authorize=lambda cfg: None) for _ in range(3))))

        for out in c.portal.call(together):  # three in flight: threads
            assert [(p.id, p.score) for p in out.decision.slots[0].products] == inline
