"""Banners over HTTP on the real Redis: elements, templates, renders with banner URLs, fetches."""

from __future__ import annotations

import io
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.banners.fonts import system_cjk_font
from tests.conftest import ShopKeys
from tests.unit.banners.helpers import bomb_png, encoded, gradient, product_photo

requires_cjk_font = pytest.mark.skipif(system_cjk_font() is None, reason="no system CJK font (.ci/run installs fonts-noto-cjk)")


def upload(client: TestClient, shop: ShopKeys, data: bytes, name: str = "x.png", **form: str):
    return client.post(shop.url("/elements"), files={"file": (name, data, "application/octet-stream")}, data=form, headers=shop.merchant)


def png(im: Image.Image) -> bytes:
    return encoded(im, "PNG")


def test_elements_are_content_addressed_and_checked_by_content(client: TestClient, shop: ShopKeys) -> None:
    data = png(gradient(320, 120, (250, 220, 200), (240, 120, 90)))
    first = upload(client, shop, data, "bg.jpg")  # the name lies; the content decides
    assert first.status_code == 201
    el = first.json()
    assert el["id"].startswith("el_") and el["kind"] == "image" and el["format"] == "png" and (el["width"], el["height"]) == (320, 120)
    again = upload(client, shop, data, "other-name.png")
    assert again.status_code == 200 and again.json()["id"] == el["id"]
    assert client.get(shop.url(f"/elements/{el['id']}/content"), headers=shop.merchant).content == data
    assert [e["id"] for e in client.get(shop.url("/elements"), headers=shop.merchant).json()["elements"]] == [el["id"]]

    text = upload(client, shop, b"just some text pretending\n" * 10, "photo.png")
    assert text.status_code == 415 and text.json()["error"]["code"] == "unsupported_media_type"
    corrupt = upload(client, shop, data[: len(data) // 2], "cut.png")
    assert corrupt.status_code == 422 and corrupt.json()["error"]["code"] == "corrupt_file"
    started = time.perf_counter()
    bomb = upload(client, shop, bomb_png(20000, 20000), "bomb.png")
    assert bomb.status_code == 413 and bomb.json()["error"]["code"] == "too_large"
    assert time.perf_counter() - started < 5  # refused from the header, never decoded
    # nothing of the refused files stayed
    assert len(client.get(shop.url("/elements"), headers=shop.merchant).json()["elements"]) == 1


def test_cutout_on_upload_and_on_request(client: TestClient, shop: ShopKeys) -> None:
    r = upload(client, shop, png(product_photo(200)), "shirt.png", cutout="true")
    assert r.status_code == 201
    cut = r.json()
    assert cut["source"] == cut["original"]["id"] and cut["format"] == "png"
    im = Image.open(io.BytesIO(client.get(shop.url(f"/elements/{cut['id']}/content"), headers=shop.merchant).content))
    assert im.mode == "RGBA" and im.getpixel((0, 0))[3] == 0 and im.getpixel((100, 100))[3] == 255
    again = client.post(shop.url(f"/elements/{cut['original']['id']}:cutout"), json={"tolerance": 24}, headers=shop.merchant)
    assert again.status_code in (200, 201) and again.json()["kind"] == "image"


def banner_body(bg: str) -> dict:
    return {
        "canvas": {"width": 600, "height": 200, "background": "#fff7f0"},
        "sizes": [{"name": "mobile", "width": 375, "height": 250}],
        "layers": [
            {"id": "bg", "type": "image", "element": bg, "box": [0, 0, 600, 200], "fit": "cover"},
            {"id": "title", "type": "text", "text": "欢迎光临 {shop_name}", "size": [16, 40], "box": [30, 40, 400, 90], "max_lines": 2},
            {"id": "badge", "type": "shape", "shape": "badge", "box": [470, 50, 100, 100], "fill": "#e4393c", "text": "新客"},
        ],
        "variants": {"vip": {"title": {"text": "尊享会员 · {right}"}}},
    }


def setup_shop(client: TestClient, shop: ShopKeys) -> str:
    bg = upload(client, shop, png(gradient(600, 200, (255, 236, 220), (250, 150, 120)))).json()["id"]
    m = shop.merchant
    assert client.put(shop.url("/crowds/vip"), json={"name": "会员", "condition": {"member_level": "gold"}, "priority": 10}, headers=m).status_code == 201
    r = client.put(shop.url("/banners/welcome"), json=banner_body(bg), headers=m)
    assert r.status_code == 201, r.text
    for bid, params in {
        "hero": {"title": "欢迎", "banner": "welcome"},
        "coupons": {"title": "券", "coupons": [{"label": "满200减30"}]},
    }.items():
        template = "hero_banner" if bid == "hero" else "coupon_strip"
        assert client.put(shop.url(f"/blocks/{bid}"), json={"template": template, "params": params}, headers=m).status_code == 201
    page = {"slots": [{"slot_id": "hero", "default": "hero"}, {"slot_id": "c", "default": "coupons"}]}
    assert client.put(shop.url("/pages/home"), json=page, headers=m).status_code == 201
    return bg


@requires_cjk_font
def test_render_carries_a_banner_url_per_crowd_and_fetches_are_cached(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    r = client.put(shop.url("/visitors"), json={"visitors": [{"visitor_id": "v-gold", "attributes": {"member_level": "gold"}}]}, headers=shop.merchant)
    assert r.status_code == 200, r.text

    def hero(visitor: str, device: str = "desktop") -> dict:
        r = client.post(shop.url("/render"), json={"visitor_id": visitor, "page": "home", "context": {"device": device}}, headers=shop.storefront)
        assert r.status_code == 200, r.text
        return next(s for s in r.json()["slots"] if s["slot_id"] == "hero")

    anon, vip = hero("anon-1"), hero("v-gold")
    assert vip["params"]["banner_crowd"] == "vip" and anon["params"]["banner_crowd"] is None
    a_url, v_url = anon["params"]["banner_url"], vip["params"]["banner_url"]
    assert a_url.startswith("/banners/") and a_url != v_url
    assert hero("anon-2")["params"]["banner_url"] == a_url  # same crowd, same picture: one cache entry
    assert hero("anon-3", "mobile")["params"]["banner_url"] == anon["params"]["banner_urls"]["mobile"]

    first = client.get(v_url)
    assert first.status_code == 200 and first.headers["content-type"] == "image/webp"
    assert "immutable" in first.headers["cache-control"]
    im = Image.open(io.BytesIO(first.content))
    assert im.size == (600, 200)
    assert client.get(v_url).content == first.content
    etag = first.headers["etag"]
    assert client.get(v_url, headers={"If-None-Match": etag}).status_code == 304
    mobile = Image.open(io.BytesIO(client.get(anon["params"]["banner_urls"]["mobile"]).content))
    assert mobile.size == (375, 250)
    # the vip banner shows other words than the base one
    base = Image.open(io.BytesIO(client.get(a_url).content)).convert("RGB")
    assert base.tobytes() != im.convert("RGB").tobytes()


@requires_cjk_font
def test_hits_are_answered_alike_from_memory_and_from_redis(client: TestClient, shop: ShopKeys) -> None:
    """A process-memory hit is answered before routing; a Redis hit by the route: same answer."""
    setup_shop(client, shop)
    r = client.post(shop.url("/render"), json={"visitor_id": "anon", "page": "home"}, headers=shop.storefront)
    url = next(s for s in r.json()["slots"] if s["slot_id"] == "hero")["params"]["banner_url"]
    path = url.split("?")[0]
    banners = client.app.state.storefront.banners
    composed = client.get(url)
    from_memory = client.get(path)  # no spec needed once made
    banners._cache.clear()
    from_redis = client.get(path)
    for answer in (from_memory, from_redis):
        assert answer.status_code == 200 and answer.content == composed.content
        assert {k: answer.headers[k] for k in ("etag", "cache-control", "content-type", "content-length")} == {
            k: composed.headers[k] for k in ("etag", "cache-control", "content-type", "content-length")
        }
    head = client.head(path)
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == composed.headers["content-length"]
    etag = composed.headers["etag"]
    for inm in (etag, f'"other", W/{etag}', "*"):
        assert client.get(path, headers={"If-None-Match": inm}).status_code == 304, inm
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


@requires_cjk_font
def test_forged_or_damaged_banner_links_are_refused(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    r = client.post(shop.url("/render"), json={"visitor_id": "a", "page": "home"}, headers=shop.storefront)
    url = next(s for s in r.json()["slots"] if s["slot_id"] == "hero")["params"]["banner_url"]
    path, query = url.split("?")
    fake = "0" * 64
    assert client.get(f"/banners/{fake}.webp?{query}").status_code == 404
    assert client.get(path.replace(".webp", ".png") + "?" + query).status_code == 404
    assert client.get(f"{path}?spec=AAAA&sig=bad").status_code in (200, 404)  # 200 only if already cached
    assert client.get("/banners/../../etc/passwd").status_code == 404


def test_banner_template_refusals_and_element_in_use(client: TestClient, shop: ShopKeys) -> None:
    bg = upload(client, shop, png(gradient(600, 200, (255, 236, 220), (250, 150, 120)))).json()["id"]
    m = shop.merchant
    body = banner_body(bg)
    body["layers"][0]["element"] = "el_" + "0" * 24
    body["layers"][1]["box"] = [500, 150, 400, 90]
    r = client.put(shop.url("/banners/b"), json=body, headers=m)
    assert r.status_code == 422
    paths = {d["path"] for d in r.json()["error"]["details"]}
    assert "$.layers[0].element" in paths and "$.layers[1].box" in paths
    body = banner_body(bg)
    body["variants"] = {}
    body["layers"][1]["text"] = "全网最低价"
    r = client.put(shop.url("/banners/b"), json=body, headers=m)
    assert r.status_code == 201 and r.json()["warnings"][0]["term"] == "最"
    assert client.get(shop.url("/banners/b"), headers=m).json()["version"] == 1
    used = client.delete(shop.url(f"/elements/{bg}"), headers=m)
    assert used.status_code == 409 and used.json()["error"]["used_by"] == ["b"]
    assert client.delete(shop.url("/banners/b"), headers=m).status_code == 200
    assert client.delete(shop.url(f"/elements/{bg}"), headers=m).status_code == 200


@requires_cjk_font
def test_preview_composes_for_given_variables(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    r = client.post(shop.url("/banners/welcome:preview"), json={"crowd": "vip", "variables": {"right": "满300减50"}, "size": "mobile"}, headers=shop.merchant)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (375, 250)
    bad = client.post(shop.url("/banners/welcome:preview"), json={"size": "poster"}, headers=shop.merchant)
    assert bad.status_code == 422 and bad.json()["error"]["path"] == "$.size"


@requires_cjk_font
def test_html_page_shows_the_crowd_banner(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    r = client.post(shop.url("/render"), json={"visitor_id": "a", "page": "home", "format": "html"}, headers=shop.storefront)
    assert r.status_code == 200
    html = r.text
    start = html.index('<img class="hero-banner" src="') + len('<img class="hero-banner" src="')
    src = html[start : html.index('"', start)].replace("&amp;", "&")
    assert src.startswith("/banners/") and 'media="(max-width: 760px)"' in html
    assert client.get(src).status_code == 200
