"""Durability and fallbacks: acknowledged writes survive restarts and crashes; a render
of a valid request gets a page even when Redis or a template fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.config import FSYNC_POLICIES, TEMPLATES_DIR
from tests.conftest import create_shop, make_settings
from tests.integration.shop_setup import setup_shop

CROWD = {"name": "Dormant", "condition": {"lifecycle_stage": "dormant"}, "priority": 50}


@pytest.mark.parametrize("fsync", FSYNC_POLICIES)
def test_crowd_write_survives_service_restart_and_redis_crash(tmp_path: Path, fsync: str) -> None:
    """Under either policy: with everysec the write is in the append-only file (the
    kernel's copy) before Redis answers, so killing Redis loses nothing; only a crash of
    the machine could lose the last second, which a test cannot stage."""
    settings = make_settings(tmp_path / "data", redis_fsync=fsync)
    with TestClient(create_app(settings)) as c:
        shop = create_shop(c)
        policy = c.portal.call(c.app.state.storefront.handle.client.config_get, "appendfsync")
        assert policy == {"appendfsync": fsync}
        assert c.put(shop.url("/crowds/dormant"), json=CROWD, headers=shop.merchant).status_code == 201
    # the service stopped (and its embedded Redis with it); a new one reads the crowd
    with TestClient(create_app(settings)) as c:
        assert c.get(shop.url("/crowds/dormant"), headers=shop.merchant).json()["priority"] == 50
        c.put(shop.url("/crowds/dormant"), json={**CROWD, "priority": 51}, headers=shop.merchant)
        # Redis is killed without a chance to flush anything: only the AOF remains
        c.app.state.storefront.handle.embedded.kill()
    with TestClient(create_app(settings)) as c:
        got = c.get(shop.url("/crowds/dormant"), headers=shop.merchant).json()
        assert got["priority"] == 51 and got["version"] == 2


def test_render_falls_back_when_redis_dies(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path / "data"))) as c:
        shop = create_shop(c)
        setup_shop(c, shop)
        never_seen = create_shop(c, "cold")
        r = c.post(shop.url("/render"), json={"visitor_id": "alice", "page": "home"}, headers=shop.storefront)
        assert r.json()["slots"][0]["block_id"] == "hero_women"
        c.app.state.storefront.handle.embedded.kill()

        r = c.post(shop.url("/render"), json={"visitor_id": "alice", "page": "home"}, headers=shop.storefront)
        assert r.status_code == 200
        d = r.json()
        assert [f["step"] for f in d["fallbacks"]] == ["profile"]
        assert "redis unavailable" in d["fallbacks"][0]["reason"]
        # the cached page still renders, for an anonymous profile
        assert [s["slot_id"] for s in d["slots"]] == ["hero", "grid"]
        # a wrong key is still refused from the cached configuration
        r = c.post(shop.url("/render"), json={"visitor_id": "alice", "page": "home"}, headers={"Authorization": "Bearer nope"})
        assert r.status_code == 403

        # a shop this process never loaded: the static default page, no shop data in it
        r = c.post(never_seen.url("/render"), json={"visitor_id": "v", "page": "home", "format": "html"}, headers=never_seen.storefront)
        assert r.status_code == 200 and "<html" in r.text.lower()
        r = c.post(never_seen.url("/render"), json={"visitor_id": "v", "page": "home"}, headers=never_seen.storefront)
        assert r.status_code == 200
        assert r.json()["fallbacks"][0]["served"] == "static default page"
        assert c.get("/readyz").status_code == 503
        # without a fallback to offer, the API says the store is down (nothing was written)
        ev = {"events": [{"event_id": "e", "type": "view", "visitor_id": "v", "ts": 1_763_000_000}]}
        r = c.post(shop.url("/events"), json=ev, headers=shop.storefront)
        assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
        assert r.headers["retry-after"] == "1"


def test_a_broken_block_template_becomes_a_placeholder(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    (templates / "blocks" / "hero_banner.html.j2").write_text("{{ block.title }}{{ 1 // 0 }}")
    with TestClient(create_app(make_settings(tmp_path / "data", templates_dir=templates))) as c:
        shop = create_shop(c)
        setup_shop(c, shop)
        r = c.post(shop.url("/render"), json={"visitor_id": "alice", "page": "home", "format": "html"}, headers=shop.storefront)
        assert r.status_code == 200
        assert "Lipstick" in r.text  # the other block still renders
        assert 'data-failed="1"' in r.text
        assert r.headers["x-render-fallbacks"] == "template"


def test_a_slow_redis_costs_a_render_its_profile_not_its_deadline(tmp_path: Path) -> None:
    import threading
    import time

    import redis

    with TestClient(create_app(make_settings(tmp_path / "data", redis_timeout_ms=150))) as c:
        shop = create_shop(c)
        setup_shop(c, shop)
        c.post(shop.url("/render"), json={"visitor_id": "alice", "page": "home"}, headers=shop.storefront)  # cache the config
        sock = str(c.app.state.storefront.handle.embedded.socket_path)
        blocker = threading.Thread(target=lambda: redis.Redis(unix_socket_path=sock).execute_command("DEBUG", "SLEEP", "1.5"))
        blocker.start()
        time.sleep(0.1)  # Redis is now asleep for 1.5 s
        started = time.perf_counter()
        r = c.post(shop.url("/render"), json={"visitor_id": "alice", "page": "home"}, headers=shop.storefront)
        took = time.perf_counter() - started
        blocker.join()
        assert r.status_code == 200
        assert [f["step"] for f in r.json()["fallbacks"]] == ["profile"]
        assert "TimeoutError" in r.json()["fallbacks"][0]["reason"]
        assert took < 1.2  # answered before Redis woke up (not a speed test: a bound on waiting)


def test_a_corrupt_stored_product_costs_the_grid_not_the_page(tmp_path: Path) -> None:
    import redis

    from app.store import keys

    with TestClient(create_app(make_settings(tmp_path / "data"))) as c:
        shop = create_shop(c)
        setup_shop(c, shop)
        sock = str(c.app.state.storefront.handle.embedded.socket_path)
        r = redis.Redis(unix_socket_path=sock)
        # someone wrote garbage straight into Redis, and the catalog version moved
        r.hset(keys.products(shop.shop_id), "broken", "{not json")
        r.incr(keys.catalog_version(shop.shop_id))
        resp = c.post(shop.url("/render"), json={"visitor_id": "alice", "page": "home"}, headers=shop.storefront)
        assert resp.status_code == 200
        d = resp.json()
        assert [f["step"] for f in d["fallbacks"]] == ["products"]
        assert "JSONDecodeError" in d["fallbacks"][0]["reason"]
        assert d["slots"][0]["block_id"] == "hero_women"  # the visitor's profile and crowds still count
