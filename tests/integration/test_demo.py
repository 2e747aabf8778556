"""The demo shop and its side-by-side page: two visitors, two storefronts."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from app.demo import seed_demo


@pytest.fixture(scope="module")
def demo_shop(client: TestClient) -> tuple[str, str, str]:
    redis = client.app.state.storefront.redis
    return client.portal.call(lambda: seed_demo(redis, shop_id="demo-test", visitors=200, products=60, progress=False))


def blocks_of(srcdoc: str) -> dict[str, str]:
    return dict(re.findall(r'data-slot="([^"]+)"[^>]*data-block="([^"]+)"', html.unescape(srcdoc)))


def test_demo_page_shows_two_different_storefronts(client: TestClient, demo_shop: tuple[str, str, str]) -> None:
    r = client.get("/demo/demo-test")
    assert r.status_code == 200
    frames = re.findall(r'srcdoc="([^"]*)"', r.text)
    assert len(frames) == 2
    lin, newcomer = (blocks_of(f) for f in frames)
    assert lin["hero"] == "hero_birthday" and lin["coupons"] == "coupons_winback"
    assert newcomer["hero"] == "hero_welcome" and newcomer["coupons"] == "coupons_newcomer"
    assert "vip-lin" in r.text and "newcomer-42" in r.text


def test_demo_visitors_can_be_chosen_and_renders_are_previews(client: TestClient, demo_shop: tuple[str, str, str]) -> None:
    r = client.get("/demo/demo-test", params={"a": "member-wang", "b": "someone-new"})
    assert r.status_code == 200 and "member-wang" in r.text and "someone-new" in r.text
    sock = client.app.state.storefront.handle.embedded.socket_path
    import redis

    assert redis.Redis(unix_socket_path=str(sock)).exists("sf:{demo-test}:exposures") == 0


def test_demo_crowds_make_sense(client: TestClient, demo_shop: tuple[str, str, str]) -> None:
    _, merchant_key, _ = demo_shop
    h = {"Authorization": f"Bearer {merchant_key}"}
    crowds = client.get("/v1/shops/demo-test/crowds", headers=h).json()["crowds"]
    assert len(crowds) == 20
    r = client.post("/v1/shops/demo-test/render", json={"visitor_id": "newcomer-42", "page": "home"}, headers=h).json()
    matched = {c["id"] for c in r["crowds"] if c["matched"]}
    assert "new_visitors" in matched and "high_value" not in matched  # never bought: not a top spender


def test_only_demo_shops_have_a_public_page(client: TestClient) -> None:
    from tests.conftest import create_shop

    shop = create_shop(client)
    assert client.get(f"/demo/{shop.shop_id}").status_code == 404
    assert client.get("/demo/NOT_A_SHOP").status_code == 404


def test_each_crowd_of_the_demo_sees_its_own_banner(client: TestClient, demo_shop: tuple[str, str, str]) -> None:
    frames = re.findall(r'srcdoc="([^"]*)"', client.get("/demo/demo-test").text)
    lin, newcomer = (re.search(r'<img class="hero-banner" src="([^"]+)"', html.unescape(f)).group(1) for f in frames)  # type: ignore[union-attr]
    pictures = [client.get(html.unescape(url)) for url in (lin, newcomer)]
    assert [p.status_code for p in pictures] == [200, 200]
    assert all(p.headers["content-type"] == "image/webp" for p in pictures)
    assert pictures[0].content != pictures[1].content
    _, merchant_key, _ = demo_shop
    h = {"Authorization": f"Bearer {merchant_key}"}

    def hero(visitor: str, device: str) -> dict[str, object]:
        r = client.post("/v1/shops/demo-test/render", json={"visitor_id": visitor, "page": "home", "context": {"device": device}}, headers=h).json()
        return next(s for s in r["slots"] if s["slot_id"] == "hero")["params"]

    assert hero("vip-lin", "desktop")["banner_crowd"] == "birthday_month"
    assert hero("newcomer-42", "desktop")["banner_crowd"] == "new_visitors"
    mobile = hero("newcomer-42", "mobile")
    assert mobile["banner_url"] == mobile["banner_urls"]["mobile"] != mobile["banner_urls"]["default"]  # type: ignore[index]
    # the demo's pictures are elements of the shop, and the template is an ordinary banner
    assert client.get("/v1/shops/demo-test/banners/hero_crowds", headers=h).status_code == 200
    elements = client.get("/v1/shops/demo-test/elements", headers=h).json()["elements"]
    assert len(elements) == 6 and all(e["kind"] == "image" for e in elements)


def test_a_banner_experiment_shows_its_design(client: TestClient, demo_shop: tuple[str, str, str]) -> None:
    """The banner lever on the demo: the treatment sees the dormant design whatever its crowd."""
    _, merchant_key, _ = demo_shop
    h = {"Authorization": f"Bearer {merchant_key}"}
    body = {
        "name": "Miss-you banner for all", "lever": {"type": "banner", "banner": "hero_crowds"},
        "variants": [{"key": "control", "control": True}, {"key": "miss_you", "design": "dormant"}],
    }
    assert client.put("/v1/shops/demo-test/experiments/banner-test", json=body, headers=h).status_code == 201
    assert client.post("/v1/shops/demo-test/experiments/banner-test:start", headers=h).status_code == 200
    try:
        seen = set()
        for i in range(30):
            r = client.post("/v1/shops/demo-test/render", json={"visitor_id": f"newcomer-b{i}", "page": "home"}, headers=h).json()
            variant = r["experiments"][0]["variant"]
            hero = next(s for s in r["slots"] if s["slot_id"] == "hero")["params"]
            assert hero["banner_crowd"] == ("dormant" if variant == "miss_you" else "new_visitors")
            seen.add(variant)
        assert seen == {"control", "miss_you"}
    finally:
        client.post("/v1/shops/demo-test/experiments/banner-test:stop", headers=h)
