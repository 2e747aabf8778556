"""Experiments over HTTP on the real Redis: definitions, phases, assignment in renders,
exposures, attribution, holdout and results."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.store import keys
from tests.conftest import ShopKeys, redis_of
from tests.integration.shop_setup import setup_shop

HERO = {
    "name": "Member hero",
    "hypothesis": "A campaign hero sells more than the welcome hero",
    "lever": {"type": "block", "page": "home", "slot": "hero"},
    "variants": [{"key": "control", "control": True}, {"key": "campaign", "block": "hero_campaign"}],
}


def put(client: TestClient, shop: ShopKeys, exp_id: str, body: dict[str, Any]) -> Any:
    return client.put(shop.url(f"/experiments/{exp_id}"), json=body, headers=shop.merchant)


def start(client: TestClient, shop: ShopKeys, exp_id: str) -> Any:
    return client.post(shop.url(f"/experiments/{exp_id}:start"), headers=shop.merchant)


def render(client: TestClient, shop: ShopKeys, visitor: str, **extra: Any) -> dict[str, Any]:
    headers = shop.merchant if extra.get("preview") else shop.storefront
    r = client.post(shop.url("/render"), json={"visitor_id": visitor, "page": "home", **extra}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(check: Any, timeout: float = 5.0) -> Any:
    deadline = time.time() + timeout
    while True:
        value = check()
        if value or time.time() > deadline:
            return value
        time.sleep(0.05)


@pytest.fixture
def ready(client: TestClient, shop: ShopKeys) -> ShopKeys:
    setup_shop(client, shop)
    return shop


def test_a_definition_is_stored_as_a_draft_with_its_seed_and_weights(client: TestClient, ready: ShopKeys) -> None:
    r = put(client, ready, "hero", HERO)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "draft" and body["phases"] == [] and body["seed"] == "hero"
    assert [v["weight"] for v in body["variants"]] == [0.5, 0.5]
    weighted = {**HERO, "variants": [{**HERO["variants"][0], "weight": 3}, {**HERO["variants"][1], "weight": 1}], "seed": "s1"}
    again = put(client, ready, "hero", weighted).json()
    assert again["version"] == 2 and [v["weight"] for v in again["variants"]] == [0.75, 0.25] and again["seed"] == "s1"
    listed = client.get(ready.url("/experiments"), headers=ready.merchant).json()
    assert [e["id"] for e in listed["experiments"]] == ["hero"]


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"variants": [{"key": "a", "control": True}, {"key": "b", "control": True, "block": "hero_new"}]}, "$.variants", "one_control"),
        ({"variants": [{"key": "a", "control": True}, {"key": "a", "block": "hero_new"}]}, "$.variants[1].key", "duplicate"),
        ({"variants": [{"key": "a", "control": True, "weight": 1}, {"key": "b", "block": "hero_new"}]}, "$.variants", "weights"),
        ({"variants": [{"key": "a", "control": True}, {"key": "b", "block": "nope"}]}, "$.variants[1].block", "unknown_reference"),
        ({"variants": [{"key": "a", "control": True}, {"key": "b"}]}, "$.variants[1].block", "missing"),
        ({"variants": [{"key": "a", "control": True}, {"key": "b", "strategy": "popularity"}]}, "$.variants[1].strategy", "not_for_lever"),
        ({"lever": {"type": "block", "page": "home", "slot": "footer"}}, "$.lever.slot", "unknown_reference"),
        ({"lever": {"type": "block", "page": "nope", "slot": "hero"}}, "$.lever.page", "unknown_reference"),
        ({"lever": {"type": "block", "page": "home"}}, "$.lever.slot", "missing"),
        ({"lever": {"type": "rights"}, "variants": [{"key": "a", "control": True}, {"key": "b", "policy": "uplift"}]}, "$.lever.type", "no_rights"),
        ({"target_crowd": "ghosts"}, "$.target_crowd", "unknown_reference"),
        ({"coverage": 0}, "$.coverage", "invalid_value"),
        ({"namespace": {"name": "home", "range": [0.6, 0.2]}}, "$.namespace.range", "out_of_range"),
        ({"metrics": {"primary": "conversion", "guardrails": ["conversion"]}}, "$.metrics.guardrails[0]", "duplicate"),
        ({"metrics": {"primary": "happiness"}}, "$.metrics.primary", None),
        ({"variants": [{"key": "a", "control": True}]}, "$.variants", None),
        ({"surprise": 1}, "$.surprise", None),
    ],
)
def test_invalid_definitions_are_refused_with_a_path(client: TestClient, ready: ShopKeys, change: dict, path: str, code: str | None) -> None:
    r = put(client, ready, "bad", {**HERO, **change})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert path in [d["path"] for d in err["details"]], err
    if code is not None:
        assert code in [d["code"] for d in err["details"]], err
    assert client.get(ready.url("/experiments/bad"), headers=ready.merchant).status_code == 404  # nothing written


def test_the_holdout_id_is_reserved(client: TestClient, ready: ShopKeys) -> None:
    r = put(client, ready, "holdout", HERO)
    assert r.status_code == 422 and r.json()["error"]["code"] == "reserved_id"


def test_lifecycle_draft_running_new_phase_stopped(client: TestClient, ready: ShopKeys) -> None:
    assert put(client, ready, "hero", HERO).status_code == 201
    r = start(client, ready, "hero")
    assert r.status_code == 200 and r.json()["status"] == "running"
    assert [p["phase"] for p in r.json()["phases"]] == [1]
    assert start(client, ready, "hero").status_code == 409
    # The name may change in place; the traffic may not.
    assert put(client, ready, "hero", {**HERO, "name": "Renamed"}).json()["phases"][0]["stopped_at"] is None
    changed = {**HERO, "coverage": 0.5}
    refused = put(client, ready, "hero", changed)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "experiment_running"
    assert [d["path"] for d in refused.json()["error"]["details"]] == ["$.coverage"]
    phased = put(client, ready, "hero", {**changed, "new_phase": True}).json()
    assert [p["phase"] for p in phased["phases"]] == [1, 2] and phased["phases"][0]["stopped_at"] is not None
    assert phased["phases"][1]["coverage"] == 0.5
    assert client.delete(ready.url("/experiments/hero"), headers=ready.merchant).status_code == 409
    stopped = client.post(ready.url("/experiments/hero:stop"), headers=ready.merchant)
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert client.post(ready.url("/experiments/hero:stop"), headers=ready.merchant).status_code == 409
    assert start(client, ready, "hero").status_code == 409  # stopped is final
    assert put(client, ready, "hero", {**HERO, "coverage": 0.3, "new_phase": True}).status_code == 409
    history = client.get(ready.url("/experiments/hero/versions"), headers=ready.merchant).json()["versions"]
    assert [v["action"] for v in history] == ["put", "start", "put", "new_phase", "stop"]
    assert client.delete(ready.url("/experiments/hero"), headers=ready.merchant).status_code == 200


def test_a_block_an_experiment_uses_cannot_be_deleted(client: TestClient, ready: ShopKeys) -> None:
    put(client, ready, "hero", HERO)
    r = client.delete(ready.url("/blocks/hero_campaign"), headers=ready.merchant)
    assert r.status_code == 409 and "experiment:hero" in r.json()["error"]["used_by_items"]


def test_assignment_in_renders_is_sticky_and_pulls_the_lever(client: TestClient, ready: ShopKeys) -> None:
    put(client, ready, "hero", HERO)
    start(client, ready, "hero")
    seen: dict[str, str] = {}
    for i in range(40):
        d = render(client, ready, f"v{i}")
        [a] = d["experiments"]
        assert a["id"] == "hero" and a["in_holdout"] is False and a["reason"] == "assigned"
        seen[f"v{i}"] = a["variant"]
        hero = next(s for s in d["slots"] if s["slot_id"] == "hero")
        if a["variant"] == "campaign":
            assert hero["block_id"] == "hero_campaign" and hero["reason"] == "experiment hero, variant campaign"
        else:
            assert hero["block_id"] != "hero_campaign"  # the control sees what the page decides
    assert set(seen.values()) == {"control", "campaign"}
    for v, variant in list(seen.items())[:10]:
        assert render(client, ready, v)["experiments"][0]["variant"] == variant  # sticky


def test_a_target_crowd_limits_who_takes_part(client: TestClient, ready: ShopKeys) -> None:
    put(client, ready, "hero", {**HERO, "target_crowd": "campaign"})
    start(client, ready, "hero")
    outside = render(client, ready, "x1")["experiments"][0]
    assert outside["variant"] is None and outside["reason"] == "not_in_crowd"
    inside = render(client, ready, "x1", context={"utm_campaign": "spring"})["experiments"][0]
    assert inside["reason"] == "assigned" and inside["variant"] in ("control", "campaign")


def test_experiments_in_one_namespace_never_share_a_visitor(client: TestClient, ready: ShopKeys) -> None:
    put(client, ready, "left", {**HERO, "namespace": {"name": "home", "range": [0, 0.5]}})
    put(client, ready, "right", {**HERO, "namespace": {"name": "home", "range": [0.5, 1]}})
    put(client, ready, "overlap", {**HERO, "namespace": {"name": "home", "range": [0.4, 0.6]}})
    assert start(client, ready, "left").status_code == 200
    assert start(client, ready, "right").status_code == 200
    refused = start(client, ready, "overlap")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "namespace_overlap"
    counts = {"left": 0, "right": 0}
    for i in range(120):
        assigned = [a["id"] for a in render(client, ready, f"n{i}")["experiments"] if a["variant"] is not None]
        assert len(assigned) == 1, assigned  # exactly one of the two: the ranges cover the namespace
        counts[assigned[0]] += 1
    assert min(counts.values()) > 30


def test_one_first_exposure_per_visitor_and_none_for_previews(client: TestClient, ready: ShopKeys) -> None:
    put(client, ready, "hero", HERO)
    start(client, ready, "hero")
    r = redis_of(client)
    key = keys.experiment_exposures(ready.shop_id, "hero", 1)
    render(client, ready, "p1", preview=True)
    first = render(client, ready, "once", context={"ts": time.time() - 60})
    render(client, ready, "once")
    render(client, ready, "once")
    assert wait_for(lambda: r.hlen(key) >= 1)
    time.sleep(0.2)
    stored = r.hgetall(key)
    assert list(stored) == ["once"]  # the preview left nothing
    variant, at_ms, *_ = stored["once"].split("|")
    assert variant == first["experiments"][0]["variant"]
    assert abs(int(at_ms) / 1000 - (time.time() - 60)) < 30  # the first page view's time


def test_events_after_the_first_exposure_count_for_the_variant(client: TestClient, ready: ShopKeys) -> None:
    put(client, ready, "hero", {**HERO, "metrics": {"primary": "conversion", "guardrails": ["revenue_per_visitor", "click_through"]}})
    start(client, ready, "hero")
    now = time.time()
    variants = {v: render(client, ready, v, context={"ts": now - 100})["experiments"][0]["variant"] for v in ("u1", "u2", "u3", "u4")}
    events = [
        {"event_id": "before", "type": "purchase", "visitor_id": "u1", "ts": now - 200, "amount": 99, "product_id": "serum"},
        {"event_id": "after1", "type": "purchase", "visitor_id": "u1", "ts": now - 50, "amount": 20, "product_id": "cable"},
        {"event_id": "after2", "type": "purchase", "visitor_id": "u2", "ts": now - 40, "amount": 5.5, "product_id": "cable"},
        {"event_id": "click", "type": "click", "visitor_id": "u3", "ts": now - 30, "product_id": "cable"},
        {"event_id": "stranger", "type": "purchase", "visitor_id": "never-seen", "ts": now - 30, "amount": 7, "product_id": "cable"},
    ]
    post = lambda: client.post(ready.url("/events"), json={"events": events}, headers=ready.storefront)
    assert post().status_code == 200
    assert post().json()["duplicates"] == len(events)  # a replay is not counted again
    r = redis_of(client)
    assert wait_for(lambda: r.hlen(keys.experiment_exposures(ready.shop_id, "hero", 1)) == 4)
    time.sleep(2.1)  # attribution waits until events are 2 s old (their exposures may be in flight)
    res = client.get(ready.url("/experiments/hero/results"), headers=ready.merchant)
    assert res.status_code == 200, res.text
    body = res.json()
    by_key = {v["key"]: v for v in body["variants"]}
    expected_conversions = {k: sum(1 for v in ("u1", "u2") if variants[v] == k) for k in ("control", "campaign")}
    expected_revenue = {k: sum(a for v, a in (("u1", 20), ("u2", 5.5)) if variants[v] == k) for k in ("control", "campaign")}
    for k in ("control", "campaign"):
        n = sum(1 for v in variants.values() if v == k)
        assert by_key[k]["visitors"] == n
        assert by_key[k]["conversions"] == expected_conversions[k]
        if n:
            assert by_key[k]["revenue_per_visitor"] == pytest.approx(expected_revenue[k] / n)
    assert body["phase"] == 1 and body["control"] == "control" and "srm" in body and body["daily"]
    again = client.get(ready.url("/experiments/hero/results"), headers=ready.merchant).json()
    assert again["variants"] == body["variants"]  # attribution read each event once


def test_a_skewed_split_is_flagged(client: TestClient, ready: ShopKeys) -> None:
    """A storefront that loses half the control's page views (a redirect bug, say)."""
    put(client, ready, "hero", HERO)
    start(client, ready, "hero")
    logged = 0
    for i in range(400):
        v = f"s{i}"
        variant = render(client, ready, v, preview=True)["experiments"][0]["variant"]
        if variant == "campaign" or i % 3 == 0:
            render(client, ready, v)
            logged += 1
    r = redis_of(client)
    assert wait_for(lambda: r.hlen(keys.experiment_exposures(ready.shop_id, "hero", 1)) == logged)
    srm = client.get(ready.url("/experiments/hero/results"), headers=ready.merchant).json()["srm"]
    assert srm["flagged"] is True and srm["p_value"] < 0.001


def test_the_holdout_sees_no_personalization_and_is_reported(client: TestClient, ready: ShopKeys) -> None:
    bad = client.put(ready.url("/settings"), json={"experiments": {"holdout": 0.9}}, headers=ready.merchant)
    assert bad.status_code == 422
    ok = client.put(ready.url("/settings"), json={"experiments": {"holdout": 0.3}}, headers=ready.merchant)
    assert ok.status_code == 200 and ok.json()["experiments"]["holdout"] == 0.3
    put(client, ready, "hero", HERO)
    start(client, ready, "hero")
    held = 0
    for i in range(100):
        d = render(client, ready, f"h{i}", context={"utm_campaign": "spring"})
        if d["in_holdout"]:
            held += 1
            assert not any(c["matched"] for c in d["crowds"])
            assert all(s["crowd"] is None and s["reason"].startswith("default") for s in d["slots"])
            assert d["experiments"] == [{"id": "hero", "variant": None, "in_holdout": True, "reason": "holdout"}]
        else:
            assert any(c["matched"] for c in d["crowds"])  # the campaign crowd
    assert 15 <= held <= 45
    r = redis_of(client)
    phase = client.get(ready.url("/settings"), headers=ready.merchant).json()["experiments"]["since"]
    assert wait_for(lambda: r.hlen(keys.experiment_exposures(ready.shop_id, "holdout", int(phase))) == 100)
    res = client.get(ready.url("/experiments/holdout/results"), headers=ready.merchant).json()
    assert {v["key"]: v["visitors"] for v in res["variants"]} == {"holdout": held, "personalized": 100 - held}


def test_the_money_rights_give_away_counts_for_the_variant_that_granted_them(client: TestClient, ready: ShopKeys) -> None:
    """rights_cost: each redemption's cost, logged by the rights' purchase script, and each
    grant's fee, logged by the grant script, per variant."""
    right = {
        "name": "满199减20", "kind": "amount_off", "value": {"amount": 20, "min_spend": 199}, "default": True, "budget": {"money": 1000},
        "cost": {"per_grant": 1.5},  # the amount off (20 a redemption) is implied
    }
    assert client.put(ready.url("/rights/all20"), json=right, headers=ready.merchant).status_code == 201
    body = {
        "name": "Rights or not", "lever": {"type": "rights"},
        "variants": [{"key": "bare", "control": True, "policy": "none"}, {"key": "given", "policy": "default"}],
        "metrics": {"primary": "conversion", "guardrails": ["rights_cost"]},
    }
    assert put(client, ready, "rx", body).status_code == 201
    assert start(client, ready, "rx").status_code == 200
    now = time.time()
    pages = {v: render(client, ready, v, context={"ts": now - 100}) for v in (f"r{i}" for i in range(12))}
    variant = {v: p["experiments"][0]["variant"] for v, p in pages.items()}
    granted = {v for v, p in pages.items() if p["rights"]["granted"]}
    assert granted == {v for v, k in variant.items() if k == "given"} and 0 < len(granted) < 12
    events = [
        {"event_id": f"o-{v}", "type": "purchase", "visitor_id": v, "ts": now - 50, "amount": 250, **({"right_id": "all20"} if v in granted else {})}
        for v in pages
    ]
    out = client.post(ready.url("/events"), json={"events": events}, headers=ready.storefront).json()
    assert sorted(x["event_id"] for x in out["rights"] if x["result"] == "redeemed") == sorted(f"o-{v}" for v in granted)
    r = redis_of(client)
    assert wait_for(lambda: r.hlen(keys.experiment_exposures(ready.shop_id, "rx", 1)) == 12)
    time.sleep(2.1)
    res = client.get(ready.url("/experiments/rx/results"), headers=ready.merchant)
    assert res.status_code == 200, res.text
    by_key = {v["key"]: v for v in res.json()["variants"]}
    assert by_key["given"]["metrics"]["rights_cost"] == {"mean": pytest.approx(21.5), "std": 0.0, "sum": pytest.approx(21.5 * len(granted))}
    assert by_key["bare"]["metrics"]["rights_cost"]["sum"] == 0.0
    assert by_key["given"]["vs_control"]["rights_cost"]["difference"] == pytest.approx(21.5)
