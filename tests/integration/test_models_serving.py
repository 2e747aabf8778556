"""Attribute models in the running service: probabilistic crowds, hot swap, last good kept."""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient

from app.api.app import create_app
from tests.conftest import create_shop, make_settings


def setup(c: TestClient) -> object:
    shop = create_shop(c)
    h = shop.merchant
    c.put(shop.url("/crowds/women"), json={"name": "Women", "condition": {"gender": "female"}, "priority": 5}, headers=h)
    c.put(shop.url("/crowds/buyers_soon"), json={"name": "Intent", "condition": {"purchase_intent_7d": True}, "priority": 1, "threshold": 0.2}, headers=h)
    c.put(shop.url("/blocks/b"), json={"template": "text", "params": {"body": "hi"}}, headers=h)
    c.put(shop.url("/blocks/w"), json={"template": "text", "params": {"body": "for her"}}, headers=h)
    c.put(shop.url("/pages/home"), json={"slots": [{"slot_id": "s", "default": "b", "variants": [{"crowd": "women", "block": "w"}]}]}, headers=h)
    c.put(shop.url("/visitors"), json={"visitors": [{"visitor_id": "known-man", "attributes": {"gender": "male"}}]}, headers=h)
    products = [{"id": f"p{i}", "title": "x", "category": c_, "price": 50, "stock": 5} for i, c_ in enumerate(["beauty", "women", "beauty", "digital"])]
    c.put(shop.url("/products"), json={"products": products}, headers=h)
    now = time.time()
    views = [{"event_id": f"a{i}", "type": "view", "visitor_id": "anon", "ts": now - 3600 * i, "product_id": f"p{i % 3}"} for i in range(12)]
    c.post(shop.url("/events"), json={"events": views}, headers=shop.storefront)
    return shop


def test_unknown_attributes_are_scored_by_the_model(tmp_path: Path, published_models: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path / "data", models_dir=published_models))) as c:
        shop = setup(c)
        ready = c.get("/readyz").json()
        assert ready["checks"]["models"]["ok"] is True and ready["status"] == "ready"
        d = c.post(shop.url("/render"), json={"visitor_id": "anon", "page": "home"}, headers=shop.storefront).json()
        crowds = {x["id"]: x for x in d["crowds"]}
        assert crowds["women"]["source"] == "model" and 0 < crowds["women"]["score"] < 1
        assert crowds["buyers_soon"]["source"] == "model"
        assert "gender" in crowds["women"]["reason"]
        assert d["model_version"] == ready["checks"]["models"]["version"]
        # a known attribute wins over any prediction
        d = c.post(shop.url("/render"), json={"visitor_id": "known-man", "page": "home"}, headers=shop.storefront).json()
        women = next(x for x in d["crowds"] if x["id"] == "women")
        assert (women["source"], women["score"]) == ("rule", 0.0)


def test_without_models_rules_decide_alone(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path / "data", models_dir=tmp_path / "none"))) as c:
        shop = setup(c)
        d = c.post(shop.url("/render"), json={"visitor_id": "anon", "page": "home"}, headers=shop.storefront).json()
        assert all(x["source"] == "rule" for x in d["crowds"]) and d["model_version"] is None
        ready = c.get("/readyz").json()
        assert ready["status"] == "ready" and ready["checks"]["models"]["ok"] is False


def test_hot_swap_under_concurrent_renders_and_a_broken_set_keeps_the_last_good(tmp_path: Path, published_models: Path) -> None:
    live = tmp_path / "models"
    shutil.copytree(published_models, live)
    with TestClient(create_app(make_settings(tmp_path / "data", models_dir=live))) as c:
        shop = setup(c)
        registry = c.app.state.storefront.models
        first = registry.current.version

        def render(i: int) -> tuple[int, str | None]:
            r = c.post(shop.url("/render"), json={"visitor_id": f"anon-{i % 3}", "page": "home"}, headers=shop.storefront)
            return r.status_code, r.json().get("model_version")

        manifest = live / "manifest.json"
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(render, i) for i in range(60)]
            m = json.loads(manifest.read_text())
            m["created_at"] = "2030-01-01T00:00:00Z"
            manifest.write_text(json.dumps(m))
            assert registry.refresh() is True  # what the service's watcher does every few seconds
            futures += [pool.submit(render, i) for i in range(60, 120)]
            results = [f.result() for f in futures]
        assert all(status == 200 for status, _ in results)
        versions = {v for _, v in results}
        assert registry.current.version in versions and versions <= {first, registry.current.version}

        good = registry.current.version
        (live / json.loads(manifest.read_text())["models"][0]["file"]).write_text("not a model")
        m["created_at"] = "2031-01-01T00:00:00Z"
        manifest.write_text(json.dumps(m))
        assert registry.refresh() is False
        ready = c.get("/readyz").json()["checks"]["models"]
        assert ready["ok"] is False and ready["version"] == good and "sha256" in ready["error"]
        status, version = render(1)
        assert status == 200 and version == good
