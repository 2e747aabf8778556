"""The catalog API: bulk upsert, read, delete, and refusals that write nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import ShopKeys


def product(i: int, **over: object) -> dict[str, object]:
    return {"id": f"p{i}", "title": f"商品 {i}", "category": f"c{i % 7}", "price": 10 + i % 90, "stock": i % 5, "tags": ["t"], "attributes": {"brand": "b"}, **over}


def test_upsert_10000_products_in_one_call_then_read_and_delete(client: TestClient, shop: ShopKeys) -> None:
    r = client.put(shop.url("/products"), json={"products": [product(i) for i in range(10_000)]}, headers=shop.merchant)
    assert r.status_code == 200, r.text
    assert r.json() == {"upserted": 10_000, "created": 10_000, "updated": 0}
    r = client.put(shop.url("/products"), json={"products": [product(1, title="新标题")]}, headers=shop.merchant)
    assert r.json() == {"upserted": 1, "created": 0, "updated": 1}
    got = client.get(shop.url("/products/p1"), headers=shop.merchant).json()
    assert got["title"] == "新标题" and got["category"] == "c1" and got["attributes"] == {"brand": "b"}
    assert client.delete(shop.url("/products/p1"), headers=shop.merchant).json() == {"id": "p1", "deleted": True}
    r = client.get(shop.url("/products/p1"), headers=shop.merchant)
    assert r.status_code == 404 and r.json()["error"]["code"] == "product_not_found"
    assert client.delete(shop.url("/products/p1"), headers=shop.merchant).status_code == 404


def test_more_than_10000_is_refused(client: TestClient, shop: ShopKeys) -> None:
    r = client.put(shop.url("/products"), json={"products": [product(i) for i in range(10_001)]}, headers=shop.merchant)
    assert r.status_code == 422 and r.json()["error"]["path"] == "$.products"


def test_one_bad_product_refuses_the_batch_with_its_path(client: TestClient, shop: ShopKeys) -> None:
    batch = [product(1), product(2, price=-5), product(3, stock="many"), product(4, image="javascript:alert(1)")]
    r = client.put(shop.url("/products"), json={"products": batch}, headers=shop.merchant)
    assert r.status_code == 422
    paths = [d["path"] for d in r.json()["error"]["details"]]
    assert paths == ["$.products[1].price", "$.products[2].stock", "$.products[3].image"]
    assert client.get(shop.url("/products/p1"), headers=shop.merchant).status_code == 404  # nothing half written


def test_duplicate_ids_and_unknown_fields(client: TestClient, shop: ShopKeys) -> None:
    r = client.put(shop.url("/products"), json={"products": [product(1), product(1)]}, headers=shop.merchant)
    assert r.status_code == 422 and r.json()["error"]["path"] == "$.products[1].id"
    r = client.put(shop.url("/products"), json={"products": [product(1, colour="red")]}, headers=shop.merchant)
    assert r.status_code == 422 and r.json()["error"]["details"][0] == {
        "path": "$.products[0].colour", "code": "unknown_field", "message": "'colour' is not a known field."
    }


def test_malformed_json_is_a_clear_422(client: TestClient, shop: ShopKeys) -> None:
    r = client.put(shop.url("/products"), content=b"{not json", headers={**shop.merchant, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
