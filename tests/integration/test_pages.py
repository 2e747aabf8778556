"""Blocks and pages: templates checked at write time, references kept whole."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import ShopKeys


def test_block_with_unknown_template_is_refused(client: TestClient, shop: ShopKeys) -> None:
    r = client.put(shop.url("/blocks/b"), json={"template": "../../etc/passwd", "params": {}}, headers=shop.merchant)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["path"] == "$.template" and err["details"][0]["code"] == "unknown_template"
    assert "product_grid" in err["message"]


def test_block_params_checked_with_paths(client: TestClient, shop: ShopKeys) -> None:
    body = {"template": "product_grid", "params": {"title": "t", "count": 0, "pool": {"categories": [1]}}}
    r = client.put(shop.url("/blocks/g"), json=body, headers=shop.merchant)
    assert r.status_code == 422
    paths = {d["path"] for d in r.json()["error"]["details"]}
    assert "$.params.count" in paths
    body = {"template": "hero_banner", "params": {"title": "t", "link": "javascript:alert(1)"}}
    r = client.put(shop.url("/blocks/h"), json=body, headers=shop.merchant)
    assert r.status_code == 422 and r.json()["error"]["path"] == "$.params.link"


def test_template_catalogue(client: TestClient) -> None:
    names = {t["name"] for t in client.get("/v1/templates").json()["templates"]}
    assert {"hero_banner", "product_grid", "coupon_strip", "text", "countdown"} <= names


def test_page_references_and_duplicates(client: TestClient, shop: ShopKeys) -> None:
    client.put(shop.url("/blocks/b"), json={"template": "text", "params": {"body": "x"}}, headers=shop.merchant)
    page = {"slots": [{"slot_id": "s", "default": "b", "variants": [{"crowd": "nobody", "block": "missing"}]}]}
    r = client.put(shop.url("/pages/home"), json=page, headers=shop.merchant)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "unknown_reference"
    assert [d["path"] for d in err["details"]] == ["$.slots[0].variants[0].crowd", "$.slots[0].variants[0].block"]
    assert client.get(shop.url("/pages/home"), headers=shop.merchant).status_code == 404
    page = {"slots": [{"slot_id": "s", "default": "b"}, {"slot_id": "s", "default": "b"}]}
    r = client.put(shop.url("/pages/home"), json=page, headers=shop.merchant)
    assert r.status_code == 422 and r.json()["error"]["path"] == "$.slots[1].slot_id"


def test_block_in_use_cannot_be_deleted_and_pages_version(client: TestClient, shop: ShopKeys) -> None:
    client.put(shop.url("/blocks/b"), json={"template": "text", "params": {"body": "x"}}, headers=shop.merchant)
    client.put(shop.url("/blocks/c"), json={"template": "text", "params": {"body": "y"}}, headers=shop.merchant)
    client.put(shop.url("/pages/home"), json={"slots": [{"slot_id": "s", "default": "b"}]}, headers=shop.merchant)
    assert client.delete(shop.url("/blocks/b"), headers=shop.merchant).status_code == 409
    client.put(shop.url("/pages/home"), json={"slots": [{"slot_id": "s", "default": "c"}]}, headers=shop.merchant)
    assert client.delete(shop.url("/blocks/b"), headers=shop.merchant).status_code == 200
    # rolling the page back to a version that needs the deleted block is refused
    r = client.post(shop.url("/pages/home:rollback"), json={"version": 1}, headers=shop.merchant)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_reference"
    assert client.get(shop.url("/pages/home"), headers=shop.merchant).json()["slots"][0]["default"] == "c"
