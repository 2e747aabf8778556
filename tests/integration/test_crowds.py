"""Crowds over HTTP: versioned CRUD, rollback, refusals with paths, test and preview."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ShopKeys

WOMEN = {"name": "Women", "condition": {"gender": "female"}, "priority": 5}


def put(client: TestClient, shop: ShopKeys, cid: str, body: dict[str, object]) -> dict[str, object]:
    r = client.put(shop.url(f"/crowds/{cid}"), json=body, headers=shop.merchant)
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_crud_versions_and_rollback(client: TestClient, shop: ShopKeys) -> None:
    r = client.put(shop.url("/crowds/women"), json=WOMEN, headers=shop.merchant)
    assert r.status_code == 201 and r.json()["version"] == 1
    second = put(client, shop, "women", {**WOMEN, "condition": {"gender": "female", "is_member": True}, "priority": 7})
    assert second["version"] == 2
    got = client.get(shop.url("/crowds/women"), headers=shop.merchant).json()
    assert got["priority"] == 7 and got["version"] == 2 and got["threshold"] == 0.5
    versions = client.get(shop.url("/crowds/women/versions"), headers=shop.merchant).json()["versions"]
    assert [(v["version"], v["action"]) for v in versions] == [(1, "put"), (2, "put")]
    back = client.post(shop.url("/crowds/women:rollback"), json={"version": 1}, headers=shop.merchant).json()
    assert back["version"] == 3 and back["action"] == "rollback" and back["from_version"] == 1
    assert client.get(shop.url("/crowds/women"), headers=shop.merchant).json()["condition"] == {"gender": "female"}
    listed = client.get(shop.url("/crowds"), headers=shop.merchant).json()["crowds"]
    assert [c["id"] for c in listed] == ["women"]
    r = client.post(shop.url("/crowds/women:rollback"), json={"version": 9}, headers=shop.merchant)
    assert r.status_code == 404 and r.json()["error"]["code"] == "version_not_found"
    deleted = client.delete(shop.url("/crowds/women"), headers=shop.merchant).json()
    assert deleted == {"id": "women", "deleted": True, "version": 4}
    assert client.get(shop.url("/crowds/women"), headers=shop.merchant).status_code == 404
    # a deleted crowd's history stays, and it can be brought back
    assert client.post(shop.url("/crowds/women:rollback"), json={"version": 2}, headers=shop.merchant).status_code == 200
    assert client.get(shop.url("/crowds/women"), headers=shop.merchant).json()["priority"] == 7


def test_a_crowd_in_use_cannot_be_deleted(client: TestClient, shop: ShopKeys) -> None:
    put(client, shop, "women", WOMEN)
    client.put(shop.url("/blocks/b"), json={"template": "text", "params": {"body": "x"}}, headers=shop.merchant)
    page = {"slots": [{"slot_id": "s", "default": "b", "variants": [{"crowd": "women", "block": "b"}]}]}
    assert client.put(shop.url("/pages/home"), json=page, headers=shop.merchant).status_code == 201
    r = client.delete(shop.url("/crowds/women"), headers=shop.merchant)
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "in_use" and err["used_by"] == ["home"]
    assert client.get(shop.url("/crowds/women"), headers=shop.merchant).status_code == 200


@pytest.mark.parametrize(
    ("condition", "path", "code"),
    [
        ({"age": {"$gtt": 30}}, "$.condition.age.$gtt", "unknown_operator"),
        ({"tags": {"$in": "vip"}}, "$.condition.tags.$in", "wrong_type"),
        ({"name": {"$regex": "(unclosed"}}, "$.condition.name.$regex", "bad_regex"),
        ({"$or": {"a": 1}}, "$.condition.$or", "wrong_type"),
        ({"x": {"$exists": "yes"}}, "$.condition.x.$exists", "wrong_type"),
        ({"x": {"$type": "strin"}}, "$.condition.x.$type", "wrong_type"),
    ],
)
def test_invalid_conditions_answer_422_with_their_path(client: TestClient, shop: ShopKeys, condition: dict[str, object], path: str, code: str) -> None:
    r = client.put(shop.url("/crowds/c"), json={"name": "c", "condition": condition}, headers=shop.merchant)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_condition"
    assert (err["path"], err["details"][0]["code"]) == (path, code)
    assert client.get(shop.url("/crowds/c"), headers=shop.merchant).status_code == 404


def test_too_deep_and_too_large_conditions(client: TestClient, shop: ShopKeys) -> None:
    deep: dict[str, object] = {"a": 1}
    for _ in range(40):
        deep = {"$and": [deep]}
    r = client.put(shop.url("/crowds/c"), json={"name": "c", "condition": deep}, headers=shop.merchant)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["code"] == "too_deep"
    large = {"$or": [{f"k{i}": i} for i in range(5000)]}
    r = client.put(shop.url("/crowds/c"), json={"name": "c", "condition": large}, headers=shop.merchant)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["code"] == "too_large"


def test_bad_crowd_fields(client: TestClient, shop: ShopKeys) -> None:
    r = client.put(shop.url("/crowds/c"), json={"name": "c", "condition": {}, "threshold": 1.5}, headers=shop.merchant)
    assert r.status_code == 422 and r.json()["error"]["path"] == "$.threshold"
    r = client.put(shop.url("/crowds/bad:id"), json=WOMEN, headers=shop.merchant)
    assert r.status_code in (404, 405, 422)


def test_condition_test_explains(client: TestClient, shop: ShopKeys) -> None:
    body = {"condition": {"gender": "female", "monetary": {"$gte": 500}}, "attributes": {"gender": "female", "monetary": 120}}
    r = client.post(shop.url("/crowds:test"), json=body, headers=shop.merchant).json()
    assert r["matches"] is False
    failed = [x for x in r["reasons"] if not x["passed"]]
    assert failed[0]["path"].startswith("$.monetary") and failed[0]["actual"] == 120
    r = client.post(shop.url("/crowds:test"), json={"condition": {"gender": "female"}, "attributes": {}}, headers=shop.merchant).json()
    assert r["matches"] is False and r["missing_attributes"] == ["gender"]
    r = client.post(shop.url("/crowds:test"), json={"condition": {"a": {"$bogus": 1}}, "attributes": {}}, headers=shop.merchant)
    assert r.status_code == 422 and r.json()["error"]["path"] == "$.condition.a.$bogus"


def test_preview_counts_known_visitors_and_overlaps(client: TestClient, shop: ShopKeys) -> None:
    visitors = [{"visitor_id": f"v{i}", "attributes": {"gender": "female" if i % 4 else "male", "city": "上海" if i % 2 else "北京"}} for i in range(40)]
    client.put(shop.url("/visitors"), json={"visitors": visitors}, headers=shop.merchant)
    put(client, shop, "women", WOMEN)
    put(client, shop, "shanghai", {"name": "SH", "condition": {"region": "上海"}})
    r = client.post(shop.url("/crowds:preview"), json={"condition": {"gender": "male"}}, headers=shop.merchant).json()
    assert (r["known_visitors"], r["evaluated"], r["matches"], r["share"], r["sampled"]) == (40, 40, 10, 0.25, False)
    overlaps = {o["crowd"]: o for o in r["overlaps"]}
    assert overlaps["women"]["both"] == 0 and overlaps["women"]["crowd_matches"] == 30
    assert overlaps["shanghai"]["both"] == 0  # men are the multiples of 4: all in 北京
    r = client.post(shop.url("/crowds:preview"), json={"condition": {"gender": "male"}, "sample": 10}, headers=shop.merchant).json()
    assert r["evaluated"] == 10 and r["sampled"] is True


def test_a_rule_that_missing_attributes_pass_is_saved_with_a_warning(client: TestClient, shop: ShopKeys) -> None:
    body = {"name": "Top 10%", "condition": {"monetary_top_pct": {"$lte": 10}}}
    r = client.put(shop.url("/crowds/top"), json=body, headers=shop.merchant)
    assert r.status_code == 201
    assert [(w["path"], w["code"]) for w in r.json()["warnings"]] == [("$.condition.monetary_top_pct.$lte", "matches_missing")]
    body["condition"] = {"is_purchaser": True, "monetary_top_pct": {"$lte": 10, "$exists": True}}
    assert client.put(shop.url("/crowds/top"), json=body, headers=shop.merchant).json()["warnings"] == []
