"""Discount rights over HTTP on the real Redis: the catalog, grants, budgets, redemptions."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.store import keys
from tests.conftest import ShopKeys, redis_of
from tests.integration.shop_setup import setup_shop

CASH20 = {"name": "满199减20", "kind": "amount_off", "value": {"amount": 20, "min_spend": 199}}


def put_right(client: TestClient, shop: ShopKeys, rid: str, **body: Any) -> dict[str, Any]:
    r = client.put(shop.url(f"/rights/{rid}"), json={**CASH20, **body}, headers=shop.merchant)
    assert r.status_code in (200, 201), r.text
    return r.json()


def render(client: TestClient, shop: ShopKeys, visitor: str, **extra: Any) -> dict[str, Any]:
    r = client.post(shop.url("/render"), json={"visitor_id": visitor, "page": "home", **extra}, headers=shop.storefront)
    assert r.status_code == 200, r.text
    return r.json()


def purchase(client: TestClient, shop: ShopKeys, visitor: str, event_id: str, amount: float, right: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"event_id": event_id, "type": "purchase", "visitor_id": visitor, "ts": time.time(), "amount": amount}
    if right:
        event["right_id"] = right
    r = client.post(shop.url("/events"), json={"events": [event]}, headers=shop.storefront)
    assert r.status_code == 200, r.text
    return r.json()


def stats(client: TestClient, shop: ShopKeys, rid: str) -> dict[str, Any]:
    r = client.get(shop.url(f"/rights/{rid}/stats"), headers=shop.merchant)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def rich_shop(client: TestClient, shop: ShopKeys) -> ShopKeys:
    setup_shop(client, shop)
    block = {"template": "coupon_strip", "params": {"title": "领券", "coupons": [{"label": "满99减5", "min_spend": 99, "amount": 5}]}}
    assert client.put(shop.url("/blocks/coupons"), json=block, headers=shop.merchant).status_code == 201
    page = client.get(shop.url("/pages/home"), headers=shop.merchant).json()
    slots = [*page["slots"], {"slot_id": "coupons", "default": "coupons"}]
    assert client.put(shop.url("/pages/home"), json={"name": page["name"], "slots": slots}, headers=shop.merchant).status_code == 200
    return shop


# --- the catalog -------------------------------------------------------------------


def test_a_right_is_stored_with_its_implied_cost_and_versioned(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    body = put_right(client, shop, "cash20", crowds=["women"], budget={"money": 1000, "count": 40}, pacing={"daily_count": 10})
    assert body["version"] == 1 and body["cost"] == {"per_redemption": 20.0}
    pct = {"name": "九折", "kind": "percent_off", "value": {"percent": 10, "max_discount": 30}, "budget": {"money": 500}}
    r = client.put(shop.url("/rights/pct10"), json=pct, headers=shop.merchant)
    assert r.status_code == 201 and r.json()["cost"] == {"share_of_order": 0.1, "cap": 30.0}
    put_right(client, shop, "cash20", crowds=["women"], budget={"count": 50})
    versions = client.get(shop.url("/rights/cash20/versions"), headers=shop.merchant).json()["versions"]
    assert [v["version"] for v in versions] == [1, 2] and versions[0]["body"]["budget"] == {"money": 1000.0, "count": 40}
    listed = client.get(shop.url("/rights"), headers=shop.merchant).json()["rights"]
    assert [x["id"] for x in listed] == ["cash20", "pct10"]
    # A crowd a right uses cannot be deleted under it.
    r = client.delete(shop.url("/crowds/women"), headers=shop.merchant)
    assert r.status_code == 409 and "right:cash20" in r.json()["error"]["used_by_items"]


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"value": {"amount": 200, "min_spend": 199}}, "$.value.amount", "amount_exceeds_min_spend"),
        ({"value": {"amount": 20, "percent": 5}}, "$.value.percent", "not_for_kind"),
        ({"value": {"min_spend": 100}}, "$.value.amount", "missing"),
        ({"kind": "percent_off", "value": {"percent": 10}, "budget": {"money": 100}}, "$.value.max_discount", "unbounded_cost"),
        ({"kind": "points_multiplier", "value": {"multiplier": 3}, "budget": {"money": 100}}, "$.cost.cap", "unbounded_cost"),
        ({"kind": "free_shipping", "value": {}}, "$.cost.per_redemption", "missing"),
        ({"kind": "gift", "value": {}, "cost": {"per_redemption": 5}}, "$.value.gift", "missing"),
        ({"valid": {"from": "2026-12-01T00:00:00+08:00", "until": "2026-11-01T00:00:00+08:00"}}, "$.valid.until", "invalid_window"),
        ({"valid": {"from": "2026-12-01T00:00:00"}}, "$.valid.from", None),
        ({"mode": "crowd"}, "$.crowds", "missing"),
        ({"default": True, "crowds": ["women"]}, "$.default", "default_with_crowds"),
        ({"budget": {"count": 10}, "pacing": {"daily_count": 11}}, "$.pacing.daily_count", "pacing_above_budget"),
        ({"pacing": {}}, "$.pacing", "missing"),
        ({"crowds": ["nobody"]}, "$.crowds[0]", "unknown_reference"),
        ({"kind": "coupon"}, "$.kind", None),
        ({"value": {"amount": 20.001}}, "$.value.amount", None),
        ({"budget": {"money": -5}}, "$.budget.money", None),
        ({"per_visitor_limit": 0}, "$.per_visitor_limit", None),
        ({"surprise": 1}, "$.surprise", None),
    ],
)
def test_bad_rights_are_refused_with_a_path_and_nothing_written(
    client: TestClient, shop: ShopKeys, body: dict[str, Any], path: str, code: str | None
) -> None:
    setup_shop(client, shop)
    r = client.put(shop.url("/rights/bad"), json={**CASH20, **body}, headers=shop.merchant)
    assert r.status_code == 422, r.text
    details = r.json()["error"]["details"]
    assert path in [d["path"] for d in details], details
    if code is not None:
        assert code in [d["code"] for d in details if d["path"] == path]
    assert client.get(shop.url("/rights/bad"), headers=shop.merchant).status_code == 404
    assert client.get(shop.url("/rights/bad/versions"), headers=shop.merchant).status_code == 404


# --- grants --------------------------------------------------------------------------


def test_a_crowd_right_is_granted_sticky_shown_and_audited(client: TestClient, rich_shop: ShopKeys) -> None:
    shop = rich_shop
    put_right(client, shop, "women20", crowds=["women"], mode="crowd", code="HER20")
    first = render(client, shop, "alice")
    rights = first["rights"]
    assert rights["status"] == "granted" and rights["granted"]["id"] == "women20"
    assert rights["reason"] == "the same for everyone in crowd women"
    coupons = next(s for s in first["slots"] if s["template"] == "coupon_strip")["params"]["coupons"]
    assert coupons[0]["right"] == "women20" and coupons[0]["code"] == "HER20" and coupons[1]["label"] == "满99减5"
    again = render(client, shop, "alice")["rights"]
    assert again["status"] == "sticky" and again["granted"]["grant_id"] == rights["granted"]["grant_id"]
    html = client.post(shop.url("/render"), json={"visitor_id": "alice", "page": "home", "format": "html"}, headers=shop.storefront).text
    assert "满199减20" in html and "HER20" in html
    assert render(client, shop, "bob")["rights"]["granted"] is None  # not in the crowd
    audit = client.get(shop.url("/rights/women20/audit"), headers=shop.merchant).json()["decisions"]
    assert len(audit) == 1 and audit[0]["visitor"] == "alice" and audit[0]["render_id"] == first["render_id"]
    assert audit[0]["policy_version"].startswith("config ")
    s = stats(client, shop, "women20")
    assert (s["granted"], s["redeemed"], s["spend"]) == (1, 0, 0.0)


def test_a_preview_decides_but_grants_nothing(client: TestClient, rich_shop: ShopKeys) -> None:
    shop = rich_shop
    put_right(client, shop, "women20", crowds=["women"], mode="crowd", budget={"count": 1})
    r = client.post(shop.url("/render"), json={"visitor_id": "alice", "page": "home", "preview": True}, headers=shop.merchant).json()
    assert r["rights"]["preview"] is True and r["rights"]["granted"]["id"] == "women20"
    assert stats(client, shop, "women20")["granted"] == 0
    assert render(client, shop, "alice")["rights"]["status"] == "granted"  # the one unit was still there


def test_redemption_spend_limit_and_min_spend(client: TestClient, rich_shop: ShopKeys) -> None:
    shop = rich_shop
    put_right(client, shop, "all20", budget={"money": 100}, mode="crowd", crowds=["women"], per_visitor_limit=1)
    assert render(client, shop, "alice")["rights"]["granted"]["id"] == "all20"
    assert purchase(client, shop, "alice", "o1", 150, "all20")["rights"][0]["result"] == "below_min_spend"
    assert purchase(client, shop, "alice", "o2", 250, "all20")["rights"][0]["result"] == "redeemed"
    assert purchase(client, shop, "alice", "o2", 250, "all20")["duplicates"] == 1  # a replay changes nothing
    assert purchase(client, shop, "alice", "o3", 300, "all20")["rights"][0]["result"] == "expired"  # the grant is used up
    assert purchase(client, shop, "carol", "o4", 300, "all20")["rights"][0]["result"] == "no_decision"
    s = stats(client, shop, "all20")
    assert (s["granted"], s["redeemed"], s["spend"], s["reserved"]) == (1, 1, 20.0, 20.0)
    assert s["remaining"] == {"money": 80.0} and s["conversions"] == 1
    # Used once, limit 1: the next page view offers nothing, and says why.
    nxt = render(client, shop, "alice")["rights"]
    assert nxt["granted"] is None and nxt["skipped"] == ["all20:visitor_limit"]


def test_a_purchase_naming_a_right_the_visitor_does_not_hold_redeems_nothing(client: TestClient, rich_shop: ShopKeys) -> None:
    shop = rich_shop
    put_right(client, shop, "women20", crowds=["women"], mode="crowd")
    put_right(client, shop, "other", crowds=["campaign"], mode="crowd")
    render(client, shop, "alice")
    assert purchase(client, shop, "alice", "x1", 300, "other")["rights"][0]["result"] == "not_held"
    assert purchase(client, shop, "alice", "x2", 300, "ghost")["rights"][0]["result"] == "unknown_right"
    assert stats(client, shop, "other")["redeemed"] == 0 and stats(client, shop, "women20")["redeemed"] == 0


def test_no_overspend_under_200_concurrent_renders(client: TestClient, rich_shop: ShopKeys) -> None:
    """200 page views at once, 200 different visitors, a budget of 37 grants and of
    25 x 20 yuan: exactly 37 and 25 are granted, never one more."""
    shop = rich_shop
    put_right(client, shop, "count37", crowds=["new_visitors"], mode="crowd", priority=2, budget={"count": 37})
    put_right(client, shop, "money500", crowds=["new_visitors"], mode="crowd", priority=1, budget={"money": 500})

    def one(i: int) -> str | None:
        granted = render(client, shop, f"rush-{i}")["rights"]["granted"]
        return granted["id"] if granted else None

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(200)))
    assert results.count("count37") == 37
    assert results.count("money500") == 25  # the next best right takes over once the first is gone
    assert results.count(None) == 200 - 37 - 25
    s37, s500 = stats(client, shop, "count37"), stats(client, shop, "money500")
    assert s37["granted"] == 37 and s37["remaining"] == {"count": 0}
    assert s500["granted"] == 25 and s500["remaining"] == {"money": 0.0}


def test_pacing_spreads_a_daily_budget(client: TestClient, rich_shop: ShopKeys) -> None:
    shop = rich_shop
    put_right(client, shop, "paced", crowds=["new_visitors"], mode="crowd", pacing={"daily_count": 48})
    # One hour into the shop's day (Asia/Shanghai): 48 x 1/24 + one hour of slack = 4.
    local = datetime.now(timezone(timedelta(hours=8)))
    ts = local.replace(hour=1, minute=0, second=0, microsecond=0).timestamp()
    if ts > time.time():
        ts -= 86400
    granted = [render(client, shop, f"early-{i}", context={"ts": ts})["rights"]["granted"] for i in range(10)]
    assert sum(g is not None for g in granted) == 4
    refused = render(client, shop, "early-late", context={"ts": ts})["rights"]
    assert refused["skipped"] == ["paced:pacing_count"]


def test_the_pacing_counters_keep_one_day_a_right(client: TestClient, rich_shop: ShopKeys) -> None:
    """Pacing reads today's counters only: a new day's first grant drops the last day's,
    so the shop's counters hash does not grow by two fields a right every day."""
    shop = rich_shop
    put_right(client, shop, "paced", crowds=["new_visitors"], mode="crowd", pacing={"daily_count": 48})
    zone = timezone(timedelta(hours=8))  # the shop's (Asia/Shanghai)
    day1 = datetime.now(zone).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=3)
    r = redis_of(client)
    stats_key = keys.rights_stats(shop.shop_id)

    def day_fields() -> dict[str, str]:
        return {k: v for k, v in r.hgetall(stats_key).items() if k.startswith("paced:d:")}

    for i, when in enumerate((day1, day1 + timedelta(hours=2), day1 + timedelta(days=1), day1 + timedelta(days=2, hours=1))):
        assert render(client, shop, f"day-{i}", context={"ts": when.timestamp()})["rights"]["granted"]["id"] == "paced"
        if i == 1:  # two grants on the first day
            d = day1.strftime("%Y%m%d")
            first = day_fields()
            assert set(first) == {"paced:d:last", f"paced:d:{d}:granted", f"paced:d:{d}:reserved"}
            assert first["paced:d:last"] == d and first[f"paced:d:{d}:granted"] == "2"
    last = (day1 + timedelta(days=2)).strftime("%Y%m%d")
    reserve = int(first[f"paced:d:{d}:reserved"]) // 2  # each grant reserves the right's worst case
    assert reserve > 0
    after = {"paced:d:last": last, f"paced:d:{last}:granted": "1", f"paced:d:{last}:reserved": str(reserve)}
    assert day_fields() == after
    # a render dated on an earlier day (an old timestamp) is granted but counts in no day's pacing
    assert render(client, shop, "day-old", context={"ts": day1.timestamp()})["rights"]["granted"]["id"] == "paced"
    assert day_fields() == after
    assert stats(client, shop, "paced")["granted"] == 5  # the totals are kept


def test_not_personalized_shop_and_visitor_get_the_default_right(client: TestClient, rich_shop: ShopKeys) -> None:
    shop = rich_shop
    put_right(client, shop, "women20", crowds=["women"], mode="crowd")
    put_right(client, shop, "everyone5", name="全场减5", value={"amount": 5}, default=True)
    out = render(client, shop, "alice", personalized=False)
    assert out["personalized"] is False and not any(c["matched"] for c in out["crowds"])
    assert out["rights"]["granted"]["id"] == "everyone5" and out["rights"]["reason"].startswith("not personalized")
    hero = next(s for s in out["slots"] if s["slot_id"] == "hero")
    assert hero["block_id"] == "hero_default"
    assert client.put(shop.url("/settings"), json={"rights": {"personalized": False}}, headers=shop.merchant).status_code == 200
    got = client.get(shop.url("/settings"), headers=shop.merchant).json()["rights"]
    assert got["personalized"] is False
    assert render(client, shop, "alice-2")["rights"]["granted"]["id"] == "everyone5"


def test_exploration_logs_propensities_and_estimates_incremental_conversions(client: TestClient, rich_shop: ShopKeys) -> None:
    """With no uplift model, only the exploration share gets the uplift-mode right: half
    of the decisions, split at random between the right and nothing."""
    shop = rich_shop
    put_right(client, shop, "trial", crowds=["new_visitors"])
    assert client.put(shop.url("/settings"), json={"rights": {"exploration": 0.5}}, headers=shop.merchant).status_code == 200
    arms: dict[str, list[str]] = {"trial": [], "none": []}
    for i in range(400):
        r = render(client, shop, f"x-{i}")["rights"]
        if r["explore"]:
            assert r["propensity"] == pytest.approx(0.25 + 0.5 * (r["granted"] is None))  # greedy arm: none
            arms["trial" if r["granted"] else "none"].append(f"x-{i}")
        else:
            assert r["granted"] is None
    assert len(arms["trial"]) >= 60 and len(arms["none"]) >= 60  # ~100 each
    # Everyone randomly given the right buys; a third of those given nothing do.
    events = [{"event_id": f"b-{v}", "type": "purchase", "visitor_id": v, "ts": time.time(), "amount": 250} for v in arms["trial"]]
    events += [{"event_id": f"b-{v}", "type": "purchase", "visitor_id": v, "ts": time.time(), "amount": 250} for v in arms["none"][::3]]
    assert client.post(shop.url("/events"), json={"events": events}, headers=shop.storefront).status_code == 200
    inc = stats(client, shop, "trial")["incremental"]
    assert inc["status"] == "estimated"
    assert inc["explored"] == len(arms["trial"]) and inc["control_explored"] == len(arms["none"])
    expected = 1 - len(arms["none"][::3]) / len(arms["none"])
    assert inc["uplift"] == pytest.approx(expected, abs=1e-4)
    assert inc["uplift_low"] < inc["uplift"] < inc["uplift_high"]
    assert inc["incremental_conversions"] == pytest.approx(expected * len(arms["trial"]), abs=0.1)
    # without a model, the greedy arm of every randomized visitor is "none": no row says
    # how the right works on the visitors a model would pick
    assert inc["targeted"]["explored"] == 0 and inc["targeted"]["picked_grants"] == 0
    assert inc["targeted"]["status"].startswith("not enough")
    audit = client.get(shop.url("/rights/trial/audit?limit=1000"), headers=shop.merchant).json()["decisions"]
    assert len(audit) == len(arms["trial"]) and all(a["explore"] and a["propensity"] == 0.25 for a in audit)


def test_an_experiment_pulls_the_rights_lever(client: TestClient, rich_shop: ShopKeys) -> None:
    shop = rich_shop
    put_right(client, shop, "women20", crowds=["women"], mode="crowd")
    exp = {
        "name": "Rights or not", "lever": {"type": "rights"},
        "variants": [{"key": "policy", "control": True, "policy": "uplift"}, {"key": "nothing", "policy": "none"}],
    }
    assert client.put(shop.url("/experiments/rights-ab"), json=exp, headers=shop.merchant).status_code == 201
    assert client.post(shop.url("/experiments/rights-ab:start"), headers=shop.merchant).status_code == 200
    visitors = [{"visitor_id": f"w-{i}", "attributes": {"gender": "female"}} for i in range(40)]
    client.put(shop.url("/visitors"), json={"visitors": visitors}, headers=shop.merchant)
    seen = set()
    for i in range(40):
        out = render(client, shop, f"w-{i}")
        variant = out["experiments"][0]["variant"]
        granted = out["rights"]["granted"]
        seen.add(variant)
        if variant == "nothing":
            assert granted is None and out["rights"]["reason"] == "experiment variant: no rights"
        else:
            assert granted["id"] == "women20"
    assert seen == {"policy", "nothing"}



def test_an_unredeemed_grant_gives_its_reservation_back_after_its_term_and_grace(client: TestClient, rich_shop: ShopKeys) -> None:
    """Each grant reserves its worst case (here 30); a redemption keeps only what it cost;
    a grant that ended unredeemed is released a day (the grace for late purchase events)
    after its end; a purchase arriving later still is charged at its cost."""
    shop = rich_shop
    pct = {"name": "九折", "kind": "percent_off", "value": {"percent": 10, "max_discount": 30}}
    put_right(client, shop, "pct", **pct, crowds=["women"], mode="crowd", budget={"money": 100}, valid={"grant_days": 1})
    women = [{"visitor_id": v, "attributes": {"gender": "female"}} for v in ("dana", "erin")]
    client.put(shop.url("/visitors"), json={"visitors": women}, headers=shop.merchant)
    then = time.time() - 3 * 86400

    def render_at(visitor: str, ts: float) -> dict[str, Any]:
        return render(client, shop, visitor, context={"ts": ts})["rights"]

    def buy(visitor: str, event_id: str, ts: float, amount: float) -> str:
        event = {"event_id": event_id, "type": "purchase", "visitor_id": visitor, "ts": ts, "amount": amount, "right_id": "pct"}
        r = client.post(shop.url("/events"), json={"events": [event]}, headers=shop.storefront)
        assert r.status_code == 200, r.text
        return r.json()["rights"][0]["result"]

    assert render_at("alice", then)["granted"]["id"] == "pct"
    assert render_at("dana", then)["granted"]["id"] == "pct"
    s = stats(client, shop, "pct")
    assert (s["reserved"], s["remaining"]) == (60.0, {"money": 40.0})
    assert buy("dana", "d1", then + 3600, 200) == "redeemed"  # 10 % of 200: 20 of the 30 reserved
    s = stats(client, shop, "pct")
    assert (s["spend"], s["reserved"], s["released"]) == (20.0, 50.0, 0.0)
    # Now, two days after alice's grant ended: the next grant releases hers first.
    assert render_at("erin", time.time())["granted"]["id"] == "pct"
    s = stats(client, shop, "pct")
    assert (s["reserved"], s["released"], s["remaining"]) == (50.0, 30.0, {"money": 50.0})
    # Her purchase within the term, reported only now, still redeems and is charged.
    assert buy("alice", "a1", then + 7200, 150) == "redeemed"
    s = stats(client, shop, "pct")
    assert (s["spend"], s["reserved"], s["redeemed"]) == (35.0, 65.0, 2)
    listed = client.get(shop.url("/rights:stats"), headers=shop.merchant).json()["rights"]
    assert [(x["id"], x["spend"], x["reserved"], x["released"]) for x in listed] == [("pct", 35.0, 65.0, 30.0)]


def test_a_per_grant_cost_is_spent_when_granted_and_never_given_back(client: TestClient, rich_shop: ShopKeys) -> None:
    """A fee paid per coupon granted (here 1 of the worst case 10) is money gone whether or
    not the coupon is used: it counts in spend at once, a lapse releases only the unused
    redemption's 9, and the decision log's cost holds it. Otherwise every lapsed grant
    would hand its fee back to the budget and the budget could be overspent by the fees."""
    shop = rich_shop
    fee = {"name": "赠小样", "kind": "gift", "value": {"gift": "小样"}, "cost": {"per_grant": 1, "per_redemption": 9}}
    put_right(client, shop, "fee", **fee, crowds=["women"], mode="crowd", budget={"money": 30}, valid={"grant_days": 1})
    women = [{"visitor_id": v, "attributes": {"gender": "female"}} for v in ("w1", "w2", "w3", "w4")]
    client.put(shop.url("/visitors"), json={"visitors": women}, headers=shop.merchant)
    then = time.time() - 3 * 86400

    assert render(client, shop, "w1", context={"ts": then})["rights"]["granted"]["id"] == "fee"
    s = stats(client, shop, "fee")
    assert (s["spend"], s["reserved"], s["remaining"]) == (1.0, 10.0, {"money": 20.0})
    # w1's grant lapsed two days ago: the next grant releases its unused 9, not the fee
    assert render(client, shop, "w2")["rights"]["granted"]["id"] == "fee"
    s = stats(client, shop, "fee")
    assert (s["granted"], s["spend"], s["reserved"], s["released"]) == (2, 2.0, 11.0, 9.0)
    assert purchase(client, shop, "w2", "w2-1", 80, "fee")["rights"][0]["result"] == "redeemed"
    s = stats(client, shop, "fee")
    assert (s["spend"], s["reserved"], s["remaining"]) == (11.0, 11.0, {"money": 19.0})
    # 19 left: one more worst case (10) fits, a second would not
    assert render(client, shop, "w3")["rights"]["granted"]["id"] == "fee"
    last = render(client, shop, "w4")["rights"]
    assert last["granted"] is None and last["skipped"] == ["fee:budget_money"]
    r = client.get(shop.url("/rights:log"), params={"complete_only": "false", "format": "jsonl"}, headers=shop.merchant)
    assert r.status_code == 200, r.text
    cost = {x["visitor"]: x["cost"] for x in map(json.loads, r.text.splitlines()) if x["arm"] == "fee"}
    assert cost == {"w1": 1.0, "w2": 10.0, "w3": 1.0}


def test_the_stored_decision_is_json_whatever_its_text_holds(client: TestClient) -> None:
    """The grant script appends its fields to the client's JSON object as text (cheaper
    than decoding and encoding it): quotes, backslashes, control characters and Chinese
    in the client's fields, and a quote in a right's id, must still give valid JSON."""
    from app.rights.definition import Right, RightIn
    from app.rights.policy import RightsDecision
    from app.store.rights import RightsStore

    store = RightsStore(client.app.state.storefront.redis)
    odd = 'r"\\1'
    body = RightIn.model_validate({**CASH20, "budget": {"money": 1000}}).stored()
    rights = {"ok": Right.from_body("ok", body), odd: replace(Right.from_body(odd, body), budget_count=0)}  # spent: skipped
    reason = 'crowd "女神" \\ said\nhi\t'
    shop_id = f"json-{time.time_ns()}"

    async def grant(visitor: str, candidates: tuple[str, ...]) -> Any:
        decision = RightsDecision(candidates, reason, candidates[0] if candidates else "none")
        return await store.grant(shop_id, visitor, decision, rights, now=time.time(), zone="Asia/Shanghai", policy_version="v", render_id="r1")

    granted = client.portal.call(grant, "a", (odd, "ok"))
    assert (granted.status, granted.right, granted.skipped) == ("granted", "ok", (f"{odd}:budget_count",))
    assert granted.decision["reason"] == reason and granted.decision["right"] == "ok" and granted.decision["reserved"] == 2000
    assert granted.decision["render_id"] == "r1" and granted.decision["until_ms"] > granted.decision["at_ms"]
    none = client.portal.call(grant, "b", ())
    assert (none.status, none.right, none.decision["right"], none.decision["reason"]) == ("none", None, None, reason)
    audit = client.portal.call(store.audit, shop_id, 10)
    assert [a["right"] for a in audit] == [None, "ok"] and all(a["reason"] == reason for a in audit)
