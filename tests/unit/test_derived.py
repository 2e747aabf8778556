"""Derived attributes: spec tables of concrete profiles, boundaries, time zones, settings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.core.derived import (
    DERIVED_KEYS,
    RFM_SEGMENT_NAMES_ZH,
    DerivedSettings,
    SettingsError,
    derive,
    validate_settings,
    warm_up,
)
from app.core.profile import Behaviour, Context

SH = ZoneInfo("Asia/Shanghai")
TODAY = date(2025, 7, 15)  # a Tuesday with no occasion
DEFAULT = DerivedSettings()


def local_ts(day: date, hour: int = 12, minute: int = 0, tz: ZoneInfo = SH) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).timestamp()


def ago(days: int, hour: int = 12) -> float:
    return local_ts(TODAY - timedelta(days=days), hour)


def ctx(day: date = TODAY, hour: int = 12, **kw: Any) -> Context:
    return Context(ts=local_ts(day, hour), **kw)


def buyer(first: int, last: int, orders: int = 1, spend: float = 100.0, **kw: Any) -> Behaviour:
    """A purchaser whose first/last purchases were ``first``/``last`` days before TODAY."""
    return Behaviour(
        first_seen=ago(first + 1),
        last_seen=ago(0),
        orders=orders,
        spend_cents=round(spend * 100),
        first_purchase_at=ago(first),
        last_purchase_at=ago(last),
        **kw,
    )


def d(
    known: Mapping[str, Any] | None = None,
    behaviour: Behaviour | None = None,
    context: Context | None = None,
    settings: DerivedSettings = DEFAULT,
    **kw: Any,
) -> dict[str, Any]:
    return derive(known or {}, behaviour or Behaviour(), context or ctx(), settings, **kw)


# --- the shape ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "behaviour",
    [Behaviour(), buyer(200, 10, 3, 1234.5, views=5, viewed_categories={"shoes": 3})],
    ids=["prospect", "buyer"],
)
def test_keys_are_exactly_the_documented_ones_and_json_serializable(behaviour: Behaviour) -> None:
    out = d({"birthday": "1990-03-01", "member_level": "gold"}, behaviour)
    assert sorted(out) == sorted(DERIVED_KEYS)
    assert len(DERIVED_KEYS) == len(set(DERIVED_KEYS))
    assert all(k == k.lower() and " " not in k for k in out)
    assert json.loads(json.dumps(out, ensure_ascii=False)) == out


def test_the_documentation_defines_every_key() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "attributes.md").read_text(
        encoding="utf-8"
    )
    missing = [k for k in DERIVED_KEYS if f"`{k}`" not in doc]
    assert missing == []


def test_a_prospect() -> None:
    out = d({}, Behaviour(first_seen=ago(3), last_seen=ago(1), views=4, clicks=1, carts=1))
    expected = {
        "recency_days": None,
        "frequency": 0,
        "monetary": 0.0,
        "avg_order_value": None,
        "r_score": None,
        "f_score": None,
        "m_score": None,
        "rfm_score": None,
        "rfm_segment": "prospect",
        "rfm_segment_zh": "潜在客户",
        "monetary_top_pct": None,
        "lifecycle_stage": "prospect",
        "is_purchaser": False,
        "is_member": False,
        "member_level": None,
        "member_level_rank": None,
        "is_fan": False,
        "customer_group": "visitor",
        "days_since_first_seen": 3,
        "days_since_last_seen": 1,
        "days_since_first_purchase": None,
        "views": 4,
        "clicks": 1,
        "add_to_carts": 1,
        "top_category": None,
        "viewed_categories": [],
    }
    assert {k: out[k] for k in expected} == expected


def test_a_loyal_member() -> None:
    b = buyer(
        400,
        5,
        orders=6,
        spend=3500.0,
        views=30,
        viewed_categories={"shoes": 9, "bags": 12, "hats": 12},
    )
    known = {
        "member_level": "Gold",
        "birthday": "1990-07-20",
        "member_since": "2021-07-15",
        "city": "杭州",
    }
    out = d(known, b, ctx(device="mobile", channel="search"), spend_rank_pct=3.5)
    expected = {
        "recency_days": 5,
        "frequency": 6,
        "monetary": 3500.0,
        "avg_order_value": 583.33,
        "r_score": 5,
        "f_score": 5,
        "m_score": 5,
        "rfm_score": "555",
        "rfm_segment": "champions",
        "rfm_segment_zh": "重要价值客户",
        "monetary_top_pct": 3.5,
        "lifecycle_stage": "mature",
        "is_purchaser": True,
        "is_member": True,
        "member_level": "Gold",
        "member_level_rank": 2,
        "customer_group": "member",
        "days_since_first_purchase": 400,
        "days_to_birthday": 5,
        "birthday_this_month": True,
        "is_birthday": False,
        "age": 34,
        "days_to_member_anniversary": 0,
        "is_member_anniversary": True,
        "membership_years": 4,
        "device": "mobile",
        "channel": "search",
        "region": "杭州",
        "top_category": "bags",
        "viewed_categories": ["bags", "hats", "shoes"],  # ties by name
    }
    assert {k: out[k] for k in expected} == expected


# --- RFM ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recency", "r"),
    [(0, 5), (7, 5), (8, 4), (30, 4), (31, 3), (90, 3), (91, 2), (180, 2), (181, 1), (1000, 1)],
)
def test_r_score_bands(recency: int, r: int) -> None:
    out = d({}, buyer(2000, recency))
    assert (out["recency_days"], out["r_score"]) == (recency, r)


@pytest.mark.parametrize(("orders", "f"), [(1, 1), (2, 2), (3, 3), (4, 4), (5, 4), (6, 5), (50, 5)])
def test_f_score_bands(orders: int, f: int) -> None:
    assert d({}, buyer(10, 1, orders=orders))["f_score"] == f


@pytest.mark.parametrize(
    ("spend", "m"),
    [
        (0.0, 1),
        (100.0, 1),
        (100.01, 2),
        (300.0, 2),
        (300.01, 3),
        (1000.0, 3),
        (3000.0, 4),
        (3000.01, 5),
    ],
)
def test_m_score_bands(spend: float, m: int) -> None:
    assert d({}, buyer(10, 1, spend=spend))["m_score"] == m


def test_rfm_score_string() -> None:
    assert d({}, buyer(100, 45, orders=3, spend=1500))["rfm_score"] == "334"


# (recency, orders, spend) -> segment; boundaries: R high <= 90 days, F high >= 2, M high >= 500.
RFM_CELLS = [
    (90, 2, 500.0, "champions", "重要价值客户"),
    (90, 1, 500.0, "potential_loyalist", "重要发展客户"),
    (91, 2, 500.0, "need_attention", "重要保持客户"),
    (91, 1, 500.0, "at_risk", "重要挽留客户"),
    (90, 2, 499.99, "loyal_low_value", "一般价值客户"),
    (90, 1, 499.99, "promising", "一般发展客户"),
    (91, 2, 499.99, "about_to_sleep", "一般保持客户"),
    (91, 1, 499.99, "hibernating", "一般挽留客户"),
    (0, 9, 9999.0, "champions", "重要价值客户"),
    (400, 1, 10.0, "hibernating", "一般挽留客户"),
]


@pytest.mark.parametrize(("recency", "orders", "spend", "segment", "zh"), RFM_CELLS)
def test_rfm_segments(recency: int, orders: int, spend: float, segment: str, zh: str) -> None:
    out = d({}, buyer(500, recency, orders=orders, spend=spend))
    assert (out["rfm_segment"], out["rfm_segment_zh"]) == (segment, zh)
    assert RFM_SEGMENT_NAMES_ZH[segment] == zh


def test_rfm_follows_the_settings() -> None:
    s = DerivedSettings.from_mapping(
        {
            "recency_days_high": 30,
            "frequency_high": 5,
            "monetary_high": 100,
            "recency_breakpoints": [1, 2, 3, 4],
        }
    )
    out = d({}, buyer(500, 31, orders=4, spend=100.0), settings=s)
    assert (out["rfm_segment"], out["r_score"]) == ("at_risk", 1)


# --- lifecycle ------------------------------------------------------------------------------

# (days since first purchase, days since last purchase) -> stage, with the default
# new 30, mature 180, dormant 90, churn 365.
LIFECYCLE = [
    (0, 0, "new"),
    (30, 0, "new"),
    (31, 0, "growth"),
    (179, 10, "growth"),
    (180, 10, "mature"),
    (500, 89, "mature"),
    (500, 90, "dormant"),  # >= dormant_days
    (20, 90, "dormant"),  # dormant wins over new (not possible with real dates: first <= last)
    (500, 365, "dormant"),
    (500, 366, "churned"),  # > churn_days
    (366, 366, "churned"),
]


@pytest.mark.parametrize(("first", "last", "stage"), LIFECYCLE)
def test_lifecycle_stage(first: int, last: int, stage: str) -> None:
    b = (
        buyer(first, last)
        if first >= last
        else Behaviour(orders=1, first_purchase_at=ago(first), last_purchase_at=ago(last))
    )
    assert d({}, b)["lifecycle_stage"] == stage


def test_lifecycle_of_a_prospect_and_custom_settings() -> None:
    assert d({}, Behaviour(views=3))["lifecycle_stage"] == "prospect"
    s = DerivedSettings.from_mapping(
        {"new_days": 7, "mature_days": 60, "dormant_days": 30, "churn_days": 60}
    )
    assert [
        d({}, buyer(f, l), settings=s)["lifecycle_stage"]
        for f, l in [(7, 0), (8, 0), (60, 0), (90, 30), (90, 61)]
    ] == [
        "new",
        "growth",
        "mature",
        "dormant",
        "churned",
    ]


# --- groups ---------------------------------------------------------------------------------

GROUPS = [
    ({}, Behaviour(), "visitor", False, False, False),
    ({"is_fan": True}, Behaviour(), "fan", False, True, False),
    ({}, Behaviour(followed_at=ago(3)), "fan", False, True, False),
    (
        {"is_fan": "false"},
        Behaviour(followed_at=ago(3)),
        "fan",
        False,
        True,
        False,
    ),  # the follow event counts
    ({}, buyer(10, 1), "purchaser", True, False, False),
    ({"is_fan": 1}, buyer(10, 1), "purchaser", True, True, False),
    ({"is_member": True}, Behaviour(), "member", False, False, True),
    (
        {"member_level": "silver"},
        buyer(10, 1),
        "member",
        True,
        False,
        True,
    ),  # a level implies membership
    ({"member_since": "2024-01-01"}, Behaviour(), "member", False, False, True),
    (
        {"member_level": "silver", "is_member": False},
        Behaviour(),
        "visitor",
        False,
        False,
        False,
    ),  # explicit wins
    ({"is_member": "是"}, Behaviour(), "member", False, False, True),
]


@pytest.mark.parametrize(("known", "behaviour", "group", "purchaser", "fan", "member"), GROUPS)
def test_customer_group(
    known: dict, behaviour: Behaviour, group: str, purchaser: bool, fan: bool, member: bool
) -> None:
    out = d(known, behaviour)
    assert (out["customer_group"], out["is_purchaser"], out["is_fan"], out["is_member"]) == (
        group,
        purchaser,
        fan,
        member,
    )


@pytest.mark.parametrize(
    ("level", "rank"),
    [
        ("normal", 0),
        ("silver", 1),
        ("GOLD", 2),
        (" platinum ", 3),
        ("diamond", 4),
        ("vip", None),
        (None, None),
    ],
)
def test_member_level_rank(level: str | None, rank: int | None) -> None:
    out = d({"member_level": level} if level is not None else {})
    assert out["member_level_rank"] == rank
    assert out["member_level"] == (level.strip() if level else None)


def test_member_levels_come_from_the_settings() -> None:
    s = DerivedSettings.from_mapping({"member_levels": ["普通会员", "银卡", "金卡"]})
    assert d({"member_level": "金卡"}, settings=s)["member_level_rank"] == 2
    assert d({"member_level": "gold"}, settings=s)["member_level_rank"] is None


# --- birthday and anniversary ---------------------------------------------------------------

BIRTHDAYS = [
    # (birthday, today, days_to_birthday, this_month, is_birthday, age)
    ("1990-07-15", date(2025, 7, 15), 0, True, True, 35),
    ("1990-07-16", date(2025, 7, 15), 1, True, False, 34),
    ("1990-07-14", date(2025, 7, 15), 364, True, False, 35),
    ("07-15", date(2025, 7, 15), 0, True, True, None),
    ("12-31", date(2025, 1, 1), 364, False, False, None),
    ("01-01", date(2025, 12, 31), 1, False, False, None),
    ("1990/8/1", date(2025, 7, 15), 17, False, False, 34),
    # Feb 29: on Feb 28 in common years, on Feb 29 in leap years
    ("2000-02-29", date(2025, 2, 27), 1, True, False, 24),
    ("2000-02-29", date(2025, 2, 28), 0, True, True, 25),
    ("2000-02-29", date(2025, 3, 1), 364, False, False, 25),  # next: 2026-02-28
    ("2000-02-29", date(2024, 2, 28), 1, True, False, 23),
    ("2000-02-29", date(2024, 2, 29), 0, True, True, 24),
    ("02-29", date(2027, 2, 28), 0, True, True, None),
    ("2000-02-29", date(2027, 12, 1), 90, False, False, 27),  # 2028 is a leap year: Feb 29
]


@pytest.mark.parametrize(("birthday", "today", "days", "this_month", "is_bday", "age"), BIRTHDAYS)
def test_birthday(
    birthday: str, today: date, days: int, this_month: bool, is_bday: bool, age: int | None
) -> None:
    out = d({"birthday": birthday}, context=ctx(today))
    assert (
        out["days_to_birthday"],
        out["birthday_this_month"],
        out["is_birthday"],
        out["age"],
    ) == (
        days,
        this_month,
        is_bday,
        age,
    )


@pytest.mark.parametrize(
    "bad", ["1990-02-30", "13-01", "tomorrow", "", 19900101, None, "1990-02-29"]
)
def test_unreadable_birthday_is_unknown(bad: Any) -> None:
    out = d({"birthday": bad})
    assert (
        out["days_to_birthday"],
        out["birthday_this_month"],
        out["is_birthday"],
        out["age"],
    ) == (None,) * 4


@pytest.mark.parametrize(
    ("known", "age"),
    [
        ({"birth_year": 2000}, 25),  # only the year: the age reached this year
        ({"birthday": "12-31", "birth_year": 2000}, 24),
        ({"age": 41}, 41),
        ({"birthday": "1985-01-01", "age": 3}, 40),  # the birthday wins
        ({"birth_year": 1800}, None),
        ({"birth_year": 2030}, None),
    ],
)
def test_age_sources(known: dict, age: int | None) -> None:
    assert d(known)["age"] == age


ANNIVERSARIES = [
    # (member_since, today, days_to_anniversary, is_anniversary, years)
    ("2020-07-15", date(2025, 7, 15), 0, True, 5),
    ("2020-07-16", date(2025, 7, 15), 1, False, 4),
    ("2025-07-15", date(2025, 7, 15), 365, False, 0),  # the join day is not an anniversary
    ("2025-07-14", date(2025, 7, 15), 364, False, 0),
    ("2024-02-29", date(2025, 2, 28), 0, True, 1),
    ("2024-02-29", date(2025, 2, 27), 1, False, 0),
    ("2024-02-29T10:00:00+08:00", date(2025, 2, 28), 0, True, 1),
]


@pytest.mark.parametrize(("since", "today", "days", "is_anniv", "years"), ANNIVERSARIES)
def test_member_anniversary(since: str, today: date, days: int, is_anniv: bool, years: int) -> None:
    out = d({"member_since": since}, context=ctx(today))
    assert (
        out["days_to_member_anniversary"],
        out["is_member_anniversary"],
        out["membership_years"],
    ) == (
        days,
        is_anniv,
        years,
    )


@pytest.mark.parametrize("since", ["2026-01-01", "not a date", None])
def test_member_since_in_the_future_or_unreadable(since: Any) -> None:
    out = d({"member_since": since})
    assert (
        out["days_to_member_anniversary"],
        out["is_member_anniversary"],
        out["membership_years"],
    ) == (None,) * 3


# --- time zones and local calendar days -----------------------------------------------------


def test_2330_utc_is_the_next_day_in_shanghai() -> None:
    now = datetime(2025, 1, 31, 23, 30, tzinfo=UTC).timestamp()  # Friday in UTC
    out = d({}, Behaviour(), Context(ts=now))
    assert (out["local_date"], out["hour"], out["weekday"], out["is_weekend"]) == (
        "2025-02-01",
        7,
        6,
        True,
    )
    utc = d({}, Behaviour(), Context(ts=now), DerivedSettings.from_mapping({"timezone": "UTC"}))
    assert (utc["local_date"], utc["hour"], utc["weekday"], utc["is_weekend"]) == (
        "2025-01-31",
        23,
        5,
        False,
    )


def test_days_are_counted_on_local_calendar_dates() -> None:
    bought = datetime(2025, 1, 31, 15, 59, tzinfo=UTC).timestamp()  # 23:59 in Shanghai
    now = datetime(2025, 1, 31, 16, 1, tzinfo=UTC).timestamp()  # 00:01 the next day there
    b = Behaviour(
        orders=1,
        spend_cents=100,
        first_purchase_at=bought,
        last_purchase_at=bought,
        first_seen=bought,
    )
    sh = d({}, b, Context(ts=now))
    assert (sh["recency_days"], sh["days_since_first_purchase"], sh["days_since_first_seen"]) == (
        1,
        1,
        1,
    )
    utc = d({}, b, Context(ts=now), DerivedSettings.from_mapping({"timezone": "UTC"}))
    assert (utc["recency_days"], utc["days_since_first_purchase"]) == (0, 0)


def test_boundary_in_the_shop_time_zone_decides_the_stage() -> None:
    # Bought 90 local days ago at 23:59; 89 full days and 2 minutes have passed: dormant.
    bought = local_ts(TODAY - timedelta(days=90), 23, 59)
    b = Behaviour(
        orders=1, spend_cents=100, first_purchase_at=bought - 400 * 86400, last_purchase_at=bought
    )
    out = d({}, b, Context(ts=local_ts(TODAY, 0, 1)))
    assert (out["recency_days"], out["lifecycle_stage"]) == (90, "dormant")


def test_a_timestamp_after_now_counts_as_zero_days() -> None:
    b = buyer(5, 0)
    out = d({}, b, Context(ts=ago(1)))  # the clock of the page view is behind the events
    assert out["recency_days"] == 0 and out["days_since_last_seen"] == 0


# --- calendar -------------------------------------------------------------------------------

CALENDAR = [
    # (local day, occasion, solar_term, is_solar_term_day, upcoming, days_to_upcoming)
    (date(2025, 11, 11), ["double_11"], "lidong", False, "double_12", 31),
    (date(2025, 11, 7), ["lidong"], "lidong", True, "double_11", 4),
    (date(2025, 10, 1), ["national_day"], "qiufen", False, "mid_autumn", 5),
    (date(2025, 2, 3), ["day_off", "lichun"], "lichun", True, "yuanxiao", 9),
    (date(2025, 7, 15), [], "xiaoshu", False, "qixi", 45),
]


@pytest.mark.parametrize(("day", "occasion", "term", "term_day", "upcoming", "days"), CALENDAR)
def test_calendar_attributes(
    day: date, occasion: list[str], term: str, term_day: bool, upcoming: str, days: int
) -> None:
    s = DerivedSettings.from_mapping({"upcoming_within_days": 60})
    out = d({}, context=ctx(day), settings=s)
    assert out["occasion"] == occasion
    assert (out["solar_term"], out["is_solar_term_day"]) == (term, term_day)
    assert (out["upcoming_occasion"], out["days_to_upcoming_occasion"]) == (upcoming, days)
    assert out["days_to_occasion"][upcoming] == days
    assert upcoming in out["upcoming_occasions"]


def test_calendar_names_and_solar_terms() -> None:
    out = d({}, context=ctx(date(2025, 4, 4)))
    assert out["occasion"] == ["qingming_festival", "qingming"]
    assert out["occasion_names_zh"] == ["清明节", "清明"]
    assert (out["solar_term_zh"], out["is_public_holiday"], out["is_workday"]) == (
        "清明",
        True,
        False,
    )
    assert (out["next_solar_term"], out["days_to_next_solar_term"]) == ("guyu", 16)


def test_no_upcoming_occasion_in_a_short_window() -> None:
    out = d({}, context=ctx(date(2025, 7, 15)))  # 七夕 (29 Aug) is 45 days away
    assert (
        out["upcoming_occasion"],
        out["upcoming_occasion_zh"],
        out["days_to_upcoming_occasion"],
    ) == (None,) * 3
    assert out["upcoming_occasions"] == ["dashu", "liqiu"]  # solar terms only
    assert out["days_to_occasion"] == {"dashu": 7, "liqiu": 23}


def test_the_calendar_follows_the_shop_country() -> None:
    s = DerivedSettings.from_mapping({"country": "us"})
    out = d({}, context=ctx(date(2025, 7, 4)), settings=s)
    assert out["occasion"] == ["independence_day"]
    assert (
        out["solar_term"] == "xiazhi"
    )  # the solar term attribute exists everywhere (小暑 is 7 July)


def test_occasion_lists_are_not_shared_between_visitors() -> None:
    a = d({}, context=ctx(date(2025, 11, 11)))
    a["occasion"].append("mine")
    a["days_to_occasion"]["x"] = 1
    b = d({}, context=ctx(date(2025, 11, 11)))
    assert b["occasion"] == ["double_11"] and "x" not in b["days_to_occasion"]


# --- context and behaviour ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context_region", "known", "region"),
    [
        ("浙江", {"region": "江苏", "city": "南京"}, "浙江"),
        (None, {"region": "江苏", "city": "南京"}, "江苏"),
        (None, {"province": "广东", "city": "深圳"}, "广东"),
        (None, {"city": "深圳"}, "深圳"),
        ("  ", {}, None),
        (None, {}, None),
    ],
)
def test_region(context_region: str | None, known: dict, region: str | None) -> None:
    assert d(known, context=ctx(region=context_region))["region"] == region


@pytest.mark.parametrize(
    ("categories", "top", "listed"),
    [
        ({}, None, []),
        ({"shoes": 1}, "shoes", ["shoes"]),
        ({"shoes": 2, "bags": 5, "hats": 5}, "bags", ["bags", "hats", "shoes"]),
        ({"shoes": 0, "": 4}, None, []),
    ],
)
def test_categories(categories: dict, top: str | None, listed: list[str]) -> None:
    out = d({}, Behaviour(viewed_categories=categories))
    assert (out["top_category"], out["viewed_categories"]) == (top, listed)


@pytest.mark.parametrize(
    ("behaviour", "pct", "expected"),
    [
        (buyer(10, 1), 12.5, 12.5),
        (buyer(10, 1), None, None),
        (Behaviour(), 50.0, None),
        (buyer(10, 1), 0, 0.0),
    ],
)
def test_monetary_top_pct(behaviour: Behaviour, pct: float | None, expected: float | None) -> None:
    assert d({}, behaviour, spend_rank_pct=pct)["monetary_top_pct"] == expected


# --- purchase history from the CRM import ---------------------------------------------------

CRM = [
    # known, behaviour -> (frequency, monetary, recency, days_since_first_purchase, stage)
    (
        {
            "orders": 4,
            "total_spend": 800,
            "first_purchase_date": "2024-01-01",
            "last_purchase_date": "2025-07-01",
        },
        Behaviour(),
        (4, 800.0, 14, 561, "mature"),
    ),
    (
        {"orders": 2, "total_spend": "150.5", "last_purchase_date": "2025-07-10"},
        buyer(10, 1, orders=3, spend=100.0),
        (3, 150.5, 1, 10, "new"),
    ),
    ({"last_purchase_date": "2025-03-01"}, Behaviour(), (1, 0.0, 136, None, "dormant")),
    (
        {"last_purchase_date": "2025-07-01"},
        Behaviour(),
        (1, 0.0, 14, None, None),
    ),  # new or not: unknown
    ({"orders": 5}, Behaviour(), (5, 0.0, None, None, None)),  # a purchaser, but when is unknown
    ({"orders": -3, "total_spend": "lots"}, Behaviour(), (0, 0.0, None, None, "prospect")),
]


@pytest.mark.parametrize(("known", "behaviour", "expected"), CRM)
def test_crm_purchase_history_is_a_floor(
    known: dict, behaviour: Behaviour, expected: tuple
) -> None:
    out = d(known, behaviour)
    got = (
        out["frequency"],
        out["monetary"],
        out["recency_days"],
        out["days_since_first_purchase"],
        out["lifecycle_stage"],
    )
    assert got == expected


def test_purchaser_with_unknown_dates_has_scores_but_no_segment() -> None:
    out = d({"orders": 5, "total_spend": 900})
    assert (
        out["r_score"],
        out["f_score"],
        out["m_score"],
        out["rfm_score"],
        out["rfm_segment"],
    ) == (None, 4, 3, None, None)


# --- settings -------------------------------------------------------------------------------


def test_default_settings() -> None:
    s = DerivedSettings()
    assert (s.timezone, s.country, s.new_days, s.mature_days, s.dormant_days, s.churn_days) == (
        "Asia/Shanghai",
        "CN",
        30,
        180,
        90,
        365,
    )
    assert s.recency_breakpoints == (7, 30, 90, 180)
    assert s.frequency_breakpoints == (1, 2, 3, 5)
    assert s.monetary_breakpoints == (100, 300, 1000, 3000)
    assert (s.recency_days_high, s.frequency_high, s.monetary_high) == (90, 2, 500)
    assert s.member_levels == ("normal", "silver", "gold", "platinum", "diamond")
    assert validate_settings(s.as_dict()) == []


def test_settings_round_trip() -> None:
    s = DerivedSettings.from_mapping({"country": "hk", "new_days": 14, "member_levels": ["a", "b"]})
    assert (s.country, s.new_days, s.member_levels) == ("HK", 14, ("a", "b"))
    again = DerivedSettings.from_mapping(json.loads(json.dumps(s.as_dict())))
    assert again == s
    assert (
        DerivedSettings.from_mapping({}) == DerivedSettings() == DerivedSettings.from_mapping(None)
    )


BAD_SETTINGS = [
    ({"new_days": -1}, "new_days", "zero or more"),
    ({"churn_days": 3.5}, "churn_days", "whole number"),
    ({"dormant_days": True}, "dormant_days", "whole number"),
    ({"new_days": 180}, "new_days", "less than mature_days"),
    ({"new_days": 200, "mature_days": 100}, "new_days", "less than mature_days"),
    ({"dormant_days": 365}, "dormant_days", "less than churn_days"),
    ({"churn_days": 60}, "dormant_days", "less than churn_days"),
    ({"recency_breakpoints": [7, 30, 30, 180]}, "recency_breakpoints[2]", "must increase"),
    ({"frequency_breakpoints": [5, 3, 2, 1]}, "frequency_breakpoints[1]", "must increase"),
    ({"monetary_breakpoints": [100, 300, 1000]}, "monetary_breakpoints", "4 increasing"),
    ({"monetary_breakpoints": [100, "300", 1000, 3000]}, "monetary_breakpoints[1]", "number"),
    ({"recency_breakpoints": [7, 30, 90.5, 180]}, "recency_breakpoints[2]", "whole number"),
    ({"recency_breakpoints": [-7, 30, 90, 180]}, "recency_breakpoints[0]", "zero or more"),
    ({"timezone": "Asia/Beijing"}, "timezone", "unknown time zone"),
    ({"timezone": 8}, "timezone", "IANA"),
    ({"country": "ZZ"}, "country", "unknown country"),
    ({"new_dayz": 30}, "new_dayz", "unknown setting"),
    ({"frequency_high": 0}, "frequency_high", "1 or more"),
    ({"monetary_high": -5}, "monetary_high", "zero or more"),
    ({"member_levels": []}, "member_levels", "non-empty list"),
    ({"member_levels": ["gold", "Gold"]}, "member_levels[1]", "listed twice"),
    ({"member_levels": ["gold", ""]}, "member_levels[1]", "non-empty name"),
    ({"upcoming_within_days": 400}, "upcoming_within_days", "at most 366"),
]


@pytest.mark.parametrize(("data", "path", "message"), BAD_SETTINGS)
def test_settings_validation(data: dict, path: str, message: str) -> None:
    problems = validate_settings(data)
    assert any(p == path and message in m for p, m in problems), problems
    with pytest.raises(SettingsError) as err:
        DerivedSettings.from_mapping(data)
    assert (path, next(m for p, m in problems if p == path)) in err.value.problems


def test_every_problem_is_reported_at_once() -> None:
    problems = validate_settings({"new_days": -1, "churn_days": 10, "timezone": "X/Y", "extra": 1})
    assert [p for p, _ in problems] == ["extra", "timezone", "new_days", "dormant_days"]
    assert DerivedSettings.validate("not an object") == [("", "settings must be a JSON object.")]


def test_warm_up_builds_the_tables() -> None:
    from app.core import occasions, solar_terms

    warm_up(DEFAULT, years=[2035])
    before = (occasions._year.cache_info().misses, solar_terms._year_table.cache_info().misses)
    d({}, context=ctx(date(2035, 6, 1)))
    after = (occasions._year.cache_info().misses, solar_terms._year_table.cache_info().misses)
    assert after == before
