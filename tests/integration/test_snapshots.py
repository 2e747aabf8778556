"""A shop's configuration and catalog snapshots (app.serving.snapshots) on the real Redis:
a change is rebuilt once, however many page views find their snapshot stale at once."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from app.serving.snapshots import Snapshots
from tests.conftest import ShopKeys
from tests.integration.shop_setup import setup_shop


def test_concurrent_loads_of_one_shop_share_one_reload(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    redis = client.app.state.storefront.redis
    snapshots = Snapshots()

    async def many() -> list[object]:
        configs = await asyncio.gather(*(snapshots.load_config(redis, shop.shop_id) for _ in range(30)))
        catalogs = await asyncio.gather(*(snapshots.catalog(redis, shop.shop_id, None) for _ in range(30)))
        return [*configs, *catalogs]

    got = client.portal.call(many)
    configs, catalogs = got[:30], got[30:]
    assert snapshots.config_loads == 1 and len({id(c) for c in configs}) == 1 and len({id(c) for c in catalogs}) == 1
    assert sorted(configs[0].crowds[i].id for i in range(3)) == ["campaign", "new_visitors", "women"]  # type: ignore[attr-defined]
    assert "serum" in catalogs[0].catalog.products  # type: ignore[attr-defined]
    # Once it is done, the next stale page view loads again (nothing is cached for ever).
    client.portal.call(snapshots.load_config, redis, shop.shop_id)
    assert snapshots.config_loads == 2


def test_a_merchants_change_is_rebuilt_once_for_a_rush_of_page_views(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    snapshots = client.app.state.storefront.snapshots

    def render(i: int) -> dict[str, object]:
        r = client.post(shop.url("/render"), json={"visitor_id": f"rush-{i}", "page": "home"}, headers=shop.storefront)
        assert r.status_code == 200, r.text
        return r.json()

    render(0)
    body = {"template": "hero_banner", "params": {"title": "Changed"}}
    assert client.put(shop.url("/blocks/hero_default"), json=body, headers=shop.merchant).status_code == 200
    before = snapshots.config_loads
    with ThreadPoolExecutor(max_workers=40) as pool:
        pages = list(pool.map(render, range(1, 81)))
    assert snapshots.config_loads - before == 1
    assert all(not any(f["kind"] == "profile" for f in p["fallbacks"]) for p in pages)  # every one on the new version
