"""HTTP basics a careless caller meets: content types, body limits, health probes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import ShopKeys


def test_a_json_body_is_read_whatever_its_declared_type(client: TestClient, shop: ShopKeys) -> None:
    body = b'{"products": [{"id": "p", "title": "t", "category": "c", "price": 1, "stock": 1}]}'
    for ctype in ("application/x-www-form-urlencoded", "text/plain"):
        r = client.put(shop.url("/products"), content=body, headers={**shop.merchant, "content-type": ctype})
        assert r.status_code == 200, r.text


def test_a_body_that_is_not_json_is_refused_at_the_root_with_where_it_broke(client: TestClient, shop: ShopKeys) -> None:
    r = client.put(shop.url("/rights/t1"), content=b'{"name": "x",}', headers={**shop.merchant, "content-type": "application/json"})
    assert r.status_code == 422
    error = r.json()["error"]
    # the offset is where parsing stopped (the stray comma's close brace), not a list index
    assert error["path"] == "$" and error["details"][0]["code"] == "invalid_json"
    assert error["message"].startswith("The request body is not valid JSON at character 13: ")
    assert client.get(shop.url("/rights/t1"), headers=shop.merchant).status_code == 404  # nothing written


def test_a_body_over_the_limit_is_refused_before_reading(client: TestClient, shop: ShopKeys) -> None:
    r = client.put(shop.url("/products"), content=b"{}", headers={**shop.merchant, "content-length": str(64 * 2**20)})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


def test_health_probes(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["checks"]["redis"] == {"ok": True, "embedded": True}
    assert ready["checks"]["templates"]["ok"] is True


def test_unknown_routes_and_methods_use_the_error_shape(client: TestClient, shop: ShopKeys) -> None:
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.patch(shop.url("/products"), headers=shop.merchant)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_settings_roundtrip_and_refusals(client: TestClient, shop: ShopKeys) -> None:
    defaults = client.get(shop.url("/settings"), headers=shop.merchant).json()["derived"]
    assert defaults["new_days"] == 30 and defaults["dormant_days"] == 90 and defaults["churn_days"] == 365
    r = client.put(shop.url("/settings"), json={"derived": {"dormant_days": 60, "churn_days": 200}}, headers=shop.merchant)
    assert r.status_code == 200 and r.json()["derived"]["dormant_days"] == 60
    assert client.get(shop.url("/settings"), headers=shop.merchant).json()["derived"]["churn_days"] == 200
    r = client.put(shop.url("/settings"), json={"derived": {"dormant_days": 500, "churn_days": 200}}, headers=shop.merchant)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_settings"
    assert r.json()["error"]["path"].startswith("$.derived")
    r = client.put(shop.url("/settings"), json={"derived": {"no_such_setting": 1}}, headers=shop.merchant)
    assert r.status_code == 422
    assert client.get(shop.url("/settings"), headers=shop.merchant).json()["derived"]["dormant_days"] == 60


def test_settings_change_derived_attributes(client: TestClient, shop: ShopKeys) -> None:
    import time

    ev = {"events": [{"event_id": "x", "type": "purchase", "visitor_id": "v", "ts": time.time() - 70 * 86400, "amount": 5}]}
    client.post(shop.url("/events"), json=ev, headers=shop.storefront)
    assert client.get(shop.url("/visitors/v"), headers=shop.merchant).json()["derived"]["lifecycle_stage"] == "growth"
    client.put(shop.url("/settings"), json={"derived": {"dormant_days": 60}}, headers=shop.merchant)
    assert client.get(shop.url("/visitors/v"), headers=shop.merchant).json()["derived"]["lifecycle_stage"] == "dormant"
