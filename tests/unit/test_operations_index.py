"""The customer-operations index on hand-made profiles."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.core.derived import DerivedSettings
from app.core.operations_index import (
    CustomerFacts,
    compute_index,
    customer_facts,
    metric_series,
    snapshot,
)
from app.core.profile import Behaviour

SETTINGS = DerivedSettings()  # Asia/Shanghai
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
TODAY = date(2026, 6, 15)
DAY = 86400.0


def ago(days: float) -> float:
    return NOW - days * DAY


def shop() -> list[CustomerFacts]:
    browser = Behaviour(first_seen=ago(10), last_seen=ago(2), views=3)
    follower = Behaviour(first_seen=ago(40), last_seen=ago(40), followed_at=ago(5), views=1)
    regular = Behaviour(
        first_seen=ago(100), last_seen=ago(20), orders=3, spend_cents=60000, first_purchase_at=ago(100), last_purchase_at=ago(20)
    )
    profiles = [
        ({}, browser),
        ({}, follower),
        ({"member_level": "gold", "member_since": (TODAY - timedelta(days=3)).isoformat(), "is_fan": True}, regular),
        # known only through the CRM: a member who bought once, long ago, never seen by events
        ({"member_level": "silver", "orders": 1, "total_spend": 200, "last_purchase_date": "2025-05-11"}, Behaviour()),
    ]
    return [customer_facts(k, b, NOW, SETTINGS) for k, b in profiles]


def test_facts_follow_the_derived_attributes() -> None:
    browser, follower, regular, crm_only = shop()
    assert (browser.first_seen, browser.last_seen, browser.lifecycle_stage) == (TODAY - timedelta(10), TODAY - timedelta(2), "prospect")
    assert follower.is_fan and follower.fan_since == TODAY - timedelta(5)
    assert regular.is_fan and regular.fan_since is None  # a CRM flag has no date
    assert regular.is_member and regular.member_since == TODAY - timedelta(3)
    assert (regular.orders, regular.spend, regular.lifecycle_stage, regular.rfm_segment) == (3, 600.0, "growth", "champions")
    assert (crm_only.is_purchaser, crm_only.first_seen, crm_only.lifecycle_stage) == (True, None, "churned")


def test_group_sizes_activity_and_value() -> None:
    index = compute_index(shop(), TODAY)
    assert index.visitors == 4
    v, fan, buyer, member = (index.group(g) for g in ("visitor", "fan", "purchaser", "member"))
    assert [g.count for g in index.groups] == [4, 2, 2, 2]
    # active: seen in the last 30 days (the browser 2 days ago, the regular 20 days ago)
    assert (v.active, v.active_share) == (2, 0.5)
    assert (fan.active, buyer.active, member.active) == (1, 1, 1)
    assert v.gmv == 800 and v.gmv_share == 1.0
    assert fan.gmv_share == 0.75  # the regular's 600 of 800
    assert buyer.avg_order_value == 200.0  # 800 over 4 orders
    assert buyer.repurchase_rate == 0.5  # the regular bought 3 times, the CRM member once
    assert fan.repurchase_rate == 1.0
    assert index.group("visitor").gmv_share == 1.0


def test_empty_groups_have_no_ratios() -> None:
    index = compute_index([CustomerFacts(first_seen=TODAY)], TODAY)
    member = index.group("member")
    assert member.count == 0 and member.active_share is None and member.gmv_share is None
    assert member.avg_order_value is None and member.repurchase_rate is None
    assert index.group("visitor").gmv_share is None  # no spend at all


def test_trend_is_rebuilt_from_join_dates() -> None:
    index = compute_index(shop(), TODAY)
    assert index.trend_days[0] == TODAY - timedelta(29) and index.trend_days[-1] == TODAY
    visitors = index.group("visitor").sizes
    # the browser was first seen 10 days ago; the CRM-only member has no date: every day
    assert visitors[:19] == (3,) * 19 and visitors[19:] == (4,) * 11
    assert index.group("visitor").joined_in_trend == 1
    fans = index.group("fan").sizes
    assert fans[23] == 1 and fans[24] == 2  # followed 5 days ago (day 29 is today)
    members = index.group("member").sizes
    assert members[25] == 1 and members[26] == 2  # member since 3 days ago
    assert set(index.group("purchaser").sizes) == {2}


def test_lifecycle_and_rfm() -> None:
    index = compute_index(shop(), TODAY)
    assert dict(index.lifecycle) == {"prospect": 2, "new": 0, "growth": 1, "mature": 0, "dormant": 0, "churned": 1}
    # the regular: bought 20 days ago (R 4), 3 orders (F 3); the CRM member: R 1, F 1
    assert index.rfm_grid[3][2] == 1 and index.rfm_grid[0][0] == 1
    assert sum(map(sum, index.rfm_grid)) == 2
    assert index.rfm_grid_gmv[3][2] == 600.0
    segments = {s: (n, gmv) for s, n, gmv in index.segments}
    assert segments["champions"] == (1, 600.0) and segments["hibernating"] == (1, 200.0) and segments["prospect"] == (2, 0.0)


def test_snapshots_give_a_series_with_gaps() -> None:
    index = compute_index(shop(), TODAY)
    today = snapshot(index)
    assert today["fan"] == {"count": 2, "active_share": 0.5, "gmv_share": 0.75, "avg_order_value": 200.0, "repurchase_rate": 1.0}
    stored = {TODAY.isoformat(): today, (TODAY - timedelta(2)).isoformat(): {"fan": {"active_share": 0.25}}}
    days = [TODAY - timedelta(2), TODAY - timedelta(1), TODAY]
    assert metric_series(stored, days, "fan", "active_share") == [0.25, None, 0.5]
    assert metric_series(stored, days, "member", "gmv_share") == [None, None, 1.0]


def test_a_join_after_today_counts_today() -> None:
    ahead = CustomerFacts(first_seen=TODAY + timedelta(1))
    assert compute_index([ahead], TODAY).group("visitor").sizes[-2:] == (0, 1)
