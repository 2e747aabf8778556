"""Derived attributes: what the service computes about a visitor for crowd rules.

:func:`derive` turns the known attributes (CRM import), the behaviour (folded events)
and the context of one page view into a flat dict of rule-friendly attributes (RFM,
lifecycle stage, member level, birthday, today's occasions, local time …). It is pure
and runs on every page view: holiday and solar-term tables are cached per year, time
zones per name. ``docs/attributes.md`` is the exact definition of every key.

"Now" is ``context.ts`` in the shop's time zone; every "days since/to" is a difference
of local calendar dates (bought at 23:59 yesterday, it is 1 day at 00:01 today).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.core.occasions import (
    is_supported_country,
    is_workday,
    occasions_on,
    upcoming_occasion,
    upcoming_occasions,
)
from app.core.profile import Behaviour, Context
from app.core.solar_terms import current_solar_term, next_solar_term, solar_term_on

# The 8-cell RFM model (R high/low x F high/low x M high/low) -> (id, 中文名).
RFM_SEGMENTS: dict[tuple[bool, bool, bool], tuple[str, str]] = {
    (True, True, True): ("champions", "重要价值客户"),
    (True, False, True): ("potential_loyalist", "重要发展客户"),
    (False, True, True): ("need_attention", "重要保持客户"),
    (False, False, True): ("at_risk", "重要挽留客户"),
    (True, True, False): ("loyal_low_value", "一般价值客户"),
    (True, False, False): ("promising", "一般发展客户"),
    (False, True, False): ("about_to_sleep", "一般保持客户"),
    (False, False, False): ("hibernating", "一般挽留客户"),
}
PROSPECT = "prospect"
RFM_SEGMENT_NAMES_ZH: dict[str, str] = {i: zh for i, zh in RFM_SEGMENTS.values()} | {
    PROSPECT: "潜在客户"
}

LIFECYCLE_STAGES: tuple[str, ...] = ("prospect", "new", "growth", "mature", "dormant", "churned")
CUSTOMER_GROUPS: tuple[str, ...] = (
    "visitor",
    "fan",
    "purchaser",
    "member",
)  # 访客 < 粉丝 < 已购 < 会员

# Occasion kinds that ``upcoming_occasion`` announces (solar terms have next_solar_term).
UPCOMING_KINDS: tuple[str, ...] = ("public_holiday", "shopping_festival", "observance")

DERIVED_KEYS: tuple[str, ...] = (
    # RFM
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "r_score",
    "f_score",
    "m_score",
    "rfm_score",
    "rfm_segment",
    "rfm_segment_zh",
    "monetary_top_pct",
    # lifecycle and groups
    "lifecycle_stage",
    "is_purchaser",
    "is_member",
    "member_level",
    "member_level_rank",
    "is_fan",
    "customer_group",
    "days_since_first_seen",
    "days_since_last_seen",
    "days_since_first_purchase",
    # birthday and membership
    "days_to_birthday",
    "birthday_this_month",
    "is_birthday",
    "age",
    "days_to_member_anniversary",
    "is_member_anniversary",
    "membership_years",
    # calendar
    "occasion",
    "occasion_names_zh",
    "is_public_holiday",
    "is_workday",
    "solar_term",
    "solar_term_zh",
    "is_solar_term_day",
    "next_solar_term",
    "days_to_next_solar_term",
    "upcoming_occasion",
    "upcoming_occasion_zh",
    "days_to_upcoming_occasion",
    "upcoming_occasions",
    "days_to_occasion",
    # context
    "device",
    "channel",
    "region",
    "local_date",
    "hour",
    "weekday",
    "is_weekend",
    # behaviour
    "views",
    "clicks",
    "add_to_carts",
    "top_category",
    "viewed_categories",
)


# --- settings -------------------------------------------------------------------------------


class SettingsError(ValueError):
    """Bad derived-attribute settings; ``problems`` is a list of (path, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))


@dataclass(frozen=True)
class DerivedSettings:
    """Per-shop thresholds of the derived attributes (defaults suit most shops).

    Breakpoints are 4 strictly increasing numbers b1 < b2 < b3 < b4; each is the
    inclusive upper end of a band (see ``docs/attributes.md``):

    * recency_days: <= b1 -> 5, <= b2 -> 4, <= b3 -> 3, <= b4 -> 2, more -> 1
    * frequency / monetary: <= b1 -> 1, <= b2 -> 2, <= b3 -> 3, <= b4 -> 4, more -> 5
    """

    timezone: str = "Asia/Shanghai"
    country: str = "CN"
    new_days: int = 30
    mature_days: int = 180
    dormant_days: int = 90
    churn_days: int = 365
    recency_breakpoints: tuple[int, ...] = (7, 30, 90, 180)
    frequency_breakpoints: tuple[int, ...] = (1, 2, 3, 5)
    monetary_breakpoints: tuple[float, ...] = (100, 300, 1000, 3000)
    recency_days_high: int = 90  # R is high when recency_days <= this
    frequency_high: int = 2  # F is high when frequency >= this
    monetary_high: float = 500  # M is high when monetary (yuan) >= this
    member_levels: tuple[str, ...] = ("normal", "silver", "gold", "platinum", "diamond")
    upcoming_within_days: int = 30

    @classmethod
    def validate(cls, data: Any) -> list[tuple[str, str]]:
        return validate_settings(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> DerivedSettings:
        """Settings from a JSON object; missing keys keep their default. Raises
        :class:`SettingsError` listing every problem."""
        data = {} if data is None else data
        problems = validate_settings(data)
        if problems:
            raise SettingsError(problems)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in data:
                v = data[f.name]
                values[f.name] = tuple(v) if isinstance(v, list | tuple) else v
        if "country" in values:
            values["country"] = values["country"].strip().upper()
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in fields(self)
        }


_DAY_FIELDS = (
    "new_days",
    "mature_days",
    "dormant_days",
    "churn_days",
    "recency_days_high",
    "upcoming_within_days",
)
_BREAKPOINTS = ("recency_breakpoints", "frequency_breakpoints", "monetary_breakpoints")
_SETTINGS_KEYS = frozenset(f.name for f in fields(DerivedSettings))
_MAX_DAYS = 36600  # a century


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def validate_settings(data: Any) -> list[tuple[str, str]]:
    """Every problem of a settings JSON object as (path, message); empty when it is good."""
    if not isinstance(data, Mapping):
        return [("", "settings must be a JSON object.")]
    problems: list[tuple[str, str]] = []
    for key in sorted(k for k in data if k not in _SETTINGS_KEYS):
        problems.append(
            (str(key), f"unknown setting '{key}'; known: {', '.join(sorted(_SETTINGS_KEYS))}.")
        )
    d = {f.name: getattr(DerivedSettings, f.name) for f in fields(DerivedSettings)} | dict(data)

    tz = d["timezone"]
    if not isinstance(tz, str) or not tz:
        problems.append(
            ("timezone", "timezone must be an IANA time zone name such as 'Asia/Shanghai'.")
        )
    elif _zone_or_none(tz) is None:
        problems.append(
            ("timezone", f"unknown time zone '{tz}'; use an IANA name such as 'Asia/Shanghai'.")
        )

    country = d["country"]
    if not isinstance(country, str) or not is_supported_country(country):
        problems.append(
            ("country", f"unknown country {country!r}; use a two-letter code such as 'CN'.")
        )

    good_days: set[str] = set()
    for key in _DAY_FIELDS:
        v = d[key]
        limit = 366 if key == "upcoming_within_days" else _MAX_DAYS
        if not _is_int(v):
            problems.append((key, f"{key} must be a whole number of days."))
        elif v < 0:
            problems.append((key, f"{key} must be zero or more (got {v})."))
        elif v > limit:
            problems.append((key, f"{key} must be at most {limit} days (got {v})."))
        else:
            good_days.add(key)
    if {"new_days", "mature_days"} <= good_days and d["new_days"] >= d["mature_days"]:
        problems.append(
            (
                "new_days",
                f"new_days ({d['new_days']}) must be less than mature_days ({d['mature_days']}).",
            )
        )
    if {"dormant_days", "churn_days"} <= good_days and d["dormant_days"] >= d["churn_days"]:
        problems.append(
            (
                "dormant_days",
                f"dormant_days ({d['dormant_days']}) must be less than churn_days ({d['churn_days']}).",
            )
        )

    for key in _BREAKPOINTS:
        v = d[key]
        whole = key != "monetary_breakpoints"
        if not isinstance(v, list | tuple) or len(v) != 4:
            problems.append(
                (
                    key,
                    f"{key} must be a list of 4 increasing numbers, e.g. {list(getattr(DerivedSettings, key))}.",
                )
            )
            continue
        good = True
        for i, b in enumerate(v):
            if not (_is_int(b) if whole else _is_number(b)):
                problems.append(
                    (f"{key}[{i}]", "must be a whole number." if whole else "must be a number.")
                )
                good = False
            elif b < 0:
                problems.append((f"{key}[{i}]", f"must be zero or more (got {b})."))
                good = False
        if good:
            for i in range(1, 4):
                if v[i] <= v[i - 1]:
                    problems.append(
                        (
                            f"{key}[{i}]",
                            f"breakpoints must increase: {v[i]} is not more than {v[i - 1]}.",
                        )
                    )

    fh = d["frequency_high"]
    if not _is_int(fh) or fh < 1:
        problems.append(
            ("frequency_high", "frequency_high must be a whole number of orders, 1 or more.")
        )
    mh = d["monetary_high"]
    if not _is_number(mh) or mh < 0:
        problems.append(("monetary_high", "monetary_high must be an amount in yuan, zero or more."))

    levels = d["member_levels"]
    if not isinstance(levels, list | tuple) or not levels:
        problems.append(
            (
                "member_levels",
                "member_levels must be a non-empty list of level names, lowest first.",
            )
        )
    else:
        seen: set[str] = set()
        for i, lv in enumerate(levels):
            if not isinstance(lv, str) or not lv.strip():
                problems.append((f"member_levels[{i}]", "a member level must be a non-empty name."))
            elif lv.strip().casefold() in seen:
                problems.append((f"member_levels[{i}]", f"member level '{lv}' is listed twice."))
            else:
                seen.add(lv.strip().casefold())
    return problems


@lru_cache(maxsize=64)
def _zone_or_none(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    z = _zone_or_none(name)
    if z is None:
        raise ValueError(f"unknown time zone {name!r}")
    return z


@lru_cache(maxsize=64)
def _level_ranks(levels: tuple[str, ...]) -> dict[str, int]:
    return {lv.strip().casefold(): i for i, lv in enumerate(levels)}


# --- value parsing (CRM data is messy: never raise, give None) -----------------------------

_TRUE = frozenset({"true", "1", "yes", "y", "t", "是", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "f", "否", "off", ""})
_YMD = re.compile(r"^\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:$|[T\s])")
_YMD_COMPACT = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")
_MD = re.compile(r"^\s*(?:--)?(\d{1,2})[-/.](\d{1,2})\s*$")


def _as_bool(v: Any) -> bool | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, str):
        s = v.strip().casefold()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    return None


def _as_number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, str):
        try:
            f = float(v.strip())
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _as_date(v: Any, tz: ZoneInfo) -> date | None:
    """A calendar date from 'YYYY-MM-DD' (or an ISO date-time: its date part as written),
    a date, an aware datetime (converted to ``tz``), or epoch seconds (local date in ``tz``)."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, datetime):
        return v.astimezone(tz).date() if v.tzinfo else v.date()
    if isinstance(v, date):
        return v
    if isinstance(v, int | float):
        if not math.isfinite(v):
            return None
        try:
            return datetime.fromtimestamp(v, tz).date()
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(v, str):
        m = _YMD.match(v) or _YMD_COMPACT.match(v)
        if m:
            return _safe_date(int(m[1]), int(m[2]), int(m[3]))
    return None


def _parse_birthday(v: Any) -> tuple[int | None, int, int] | None:
    """(year or None, month, day) from 'YYYY-MM-DD', 'MM-DD' or a date; None if unreadable."""
    if isinstance(v, datetime):
        return v.year, v.month, v.day
    if isinstance(v, date):
        return v.year, v.month, v.day
    if not isinstance(v, str):
        return None
    m = _YMD.match(v) or _YMD_COMPACT.match(v)
    if m:
        d = _safe_date(int(m[1]), int(m[2]), int(m[3]))
        return (d.year, d.month, d.day) if d else None
    m = _MD.match(v)
    if m:
        month, day = int(m[1]), int(m[2])
        if _safe_date(2000, month, day) is None:  # 2000 is a leap year: 02-29 is fine
            return None
        return None, month, day
    return None


def _occurrence(month: int, day: int, year: int) -> date:
    """The date a yearly (month, day) falls on in ``year``: Feb 29 is Feb 28 in common years."""
    if month == 2 and day == 29 and _safe_date(year, 2, 29) is None:
        return date(year, 2, 28)
    return date(year, month, day)


def _days_to_next(month: int, day: int, today: date) -> int:
    nxt = _occurrence(month, day, today.year)
    if nxt < today:
        nxt = _occurrence(month, day, today.year + 1)
    return (nxt - today).days


def _full_years(since: date, today: date) -> int:
    years = today.year - since.year
    if today < _occurrence(since.month, since.day, today.year):
        years -= 1
    return years


def _band_up(value: float, breakpoints: Sequence[float]) -> int:
    """1..5: 1 + the number of breakpoints strictly below ``value`` (a breakpoint is the
    inclusive upper end of its band)."""
    return 1 + sum(1 for b in breakpoints if value > b)


def _local_date(ts: float | None, tz: ZoneInfo) -> date | None:
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, tz).date()
    except (OverflowError, OSError, ValueError):
        return None


def _days_since(then: date | None, today: date) -> int | None:
    return None if then is None else max(0, (today - then).days)


def _min_date(a: date | None, b: date | None) -> date | None:
    return b if a is None else a if b is None else min(a, b)


def _max_date(a: date | None, b: date | None) -> date | None:
    return b if a is None else a if b is None else max(a, b)


def _text(v: Any) -> str | None:
    if v is None or isinstance(v, bool):
        return None
    s = str(v).strip()
    return s or None


# --- derive -------------------------------------------------------------------------------


def derive(
    known: Mapping[str, Any],
    behaviour: Behaviour,
    context: Context,
    settings: DerivedSettings,
    *,
    spend_rank_pct: float | None = None,
) -> dict[str, Any]:
    """The derived attributes of one visitor at one page view (keys: :data:`DERIVED_KEYS`).

    Known keys read (all optional): ``is_member``, ``member_level``, ``member_since``,
    ``is_fan``, ``birthday``, ``birth_year``, ``age``, ``region``, ``province``,
    ``city``, and purchase history imported from a CRM: ``orders``, ``total_spend``
    (yuan), ``first_purchase_date``, ``last_purchase_date``. Unreadable values count as
    unknown; nothing here raises on bad CRM data.
    """
    tz = _zone(settings.timezone)
    now = datetime.fromtimestamp(context.ts, tz)
    today = now.date()
    out: dict[str, Any] = {}

    # --- purchases: events, with the CRM import as a floor (max counts, min/max dates) ---
    frequency = behaviour.orders
    known_orders = _as_number(known.get("orders"))
    if known_orders is not None and known_orders >= 0:
        frequency = max(frequency, int(known_orders))
    monetary = behaviour.spend_cents / 100
    known_spend = _as_number(known.get("total_spend"))
    if known_spend is not None and known_spend >= 0:
        monetary = max(monetary, known_spend)
    first_purchase = _min_date(
        _local_date(behaviour.first_purchase_at, tz), _as_date(known.get("first_purchase_date"), tz)
    )
    last_purchase = _max_date(
        _local_date(behaviour.last_purchase_at, tz), _as_date(known.get("last_purchase_date"), tz)
    )
    if first_purchase is not None and last_purchase is not None and first_purchase > last_purchase:
        first_purchase = last_purchase
    if last_purchase is None and first_purchase is not None:
        last_purchase = first_purchase
    if last_purchase is not None:
        frequency = max(frequency, 1)
    is_purchaser = frequency > 0

    recency = _days_since(last_purchase, today)
    since_first_purchase = _days_since(first_purchase, today)
    out["recency_days"] = recency
    out["frequency"] = frequency
    out["monetary"] = round(monetary, 2)
    out["avg_order_value"] = round(monetary / frequency, 2) if frequency else None

    if is_purchaser:
        r = None if recency is None else 6 - _band_up(recency, settings.recency_breakpoints)
        f = _band_up(frequency, settings.frequency_breakpoints)
        m = _band_up(monetary, settings.monetary_breakpoints)
        out["r_score"], out["f_score"], out["m_score"] = r, f, m
        out["rfm_score"] = None if r is None else f"{r}{f}{m}"
        if recency is None:
            segment = None
        else:
            cell = (
                recency <= settings.recency_days_high,
                frequency >= settings.frequency_high,
                monetary >= settings.monetary_high,
            )
            segment = RFM_SEGMENTS[cell][0]
    else:
        out["r_score"] = out["f_score"] = out["m_score"] = out["rfm_score"] = None
        segment = PROSPECT
    out["rfm_segment"] = segment
    out["rfm_segment_zh"] = RFM_SEGMENT_NAMES_ZH.get(segment) if segment else None
    pct = _as_number(spend_rank_pct)
    out["monetary_top_pct"] = pct if is_purchaser and pct is not None else None

    # --- lifecycle (precedence: prospect, churned, dormant, new, mature, growth) ---
    if not is_purchaser:
        stage: str | None = "prospect"
    elif recency is None:
        stage = None
    elif recency > settings.churn_days:
        stage = "churned"
    elif recency >= settings.dormant_days:
        stage = "dormant"
    elif since_first_purchase is None:
        stage = None
    elif since_first_purchase <= settings.new_days:
        stage = "new"
    elif since_first_purchase >= settings.mature_days:
        stage = "mature"
    else:
        stage = "growth"
    out["lifecycle_stage"] = stage
    out["is_purchaser"] = is_purchaser

    # --- membership and groups ---
    member_level = _text(known.get("member_level"))
    member_since = _as_date(known.get("member_since"), tz)
    explicit_member = _as_bool(known.get("is_member"))
    is_member = (
        explicit_member
        if explicit_member is not None
        else (member_level is not None or member_since is not None)
    )
    out["is_member"] = is_member
    out["member_level"] = member_level
    out["member_level_rank"] = (
        _level_ranks(settings.member_levels).get(member_level.casefold())
        if member_level is not None
        else None
    )
    is_fan = bool(_as_bool(known.get("is_fan"))) or behaviour.followed_at is not None
    out["is_fan"] = is_fan
    out["customer_group"] = (
        "member" if is_member else "purchaser" if is_purchaser else "fan" if is_fan else "visitor"
    )
    out["days_since_first_seen"] = _days_since(_local_date(behaviour.first_seen, tz), today)
    out["days_since_last_seen"] = _days_since(_local_date(behaviour.last_seen, tz), today)
    out["days_since_first_purchase"] = since_first_purchase

    # --- birthday ---
    bd = _parse_birthday(known.get("birthday"))
    if bd is not None:
        by, bm, bday = bd
        days = _days_to_next(bm, bday, today)
        out["days_to_birthday"] = days
        out["birthday_this_month"] = bm == today.month
        out["is_birthday"] = days == 0
    else:
        by = None
        out["days_to_birthday"] = out["birthday_this_month"] = out["is_birthday"] = None
    age: int | None = None
    birth_year = by
    if birth_year is None:
        ky = _as_number(known.get("birth_year"))
        birth_year = int(ky) if ky is not None and ky == int(ky) else None
    if birth_year is not None:
        if bd is not None:
            age = _full_years(_occurrence(bd[1], bd[2], birth_year), today)
        else:  # only the year: the age reached this year
            age = today.year - birth_year
    else:
        ka = _as_number(known.get("age"))
        age = int(ka) if ka is not None and ka == int(ka) else None
    out["age"] = age if age is not None and 0 <= age <= 130 else None

    # --- membership anniversary ---
    if member_since is not None and member_since <= today:
        years = _full_years(member_since, today)
        if today == member_since:
            days = (_occurrence(member_since.month, member_since.day, today.year + 1) - today).days
        else:
            days = _days_to_next(member_since.month, member_since.day, today)
        out["days_to_member_anniversary"] = days
        out["is_member_anniversary"] = days == 0
        out["membership_years"] = years
    else:
        out["days_to_member_anniversary"] = out["is_member_anniversary"] = out[
            "membership_years"
        ] = None

    # --- calendar: the same for every visitor of a shop on a day, so cached per day ---
    cal = _calendar(today, settings.country, settings.upcoming_within_days)
    out.update(cal)
    out["occasion"] = list(cal["occasion"])
    out["occasion_names_zh"] = list(cal["occasion_names_zh"])
    out["upcoming_occasions"] = list(cal["upcoming_occasions"])
    out["days_to_occasion"] = dict(cal["days_to_occasion"])

    # --- context ---
    out["device"] = _text(context.device)
    out["channel"] = _text(context.channel)
    out["region"] = (
        _text(context.region)
        or _text(known.get("region"))
        or _text(known.get("province"))
        or _text(known.get("city"))
    )
    out["local_date"] = today.isoformat()
    out["hour"] = now.hour
    out["weekday"] = now.isoweekday()
    out["is_weekend"] = now.isoweekday() >= 6

    # --- behaviour ---
    out["views"] = behaviour.views
    out["clicks"] = behaviour.clicks
    out["add_to_carts"] = behaviour.carts
    cats = sorted(
        ((n, c) for c, n in behaviour.viewed_categories.items() if c and n > 0),
        key=lambda x: (-x[0], x[1]),
    )
    out["viewed_categories"] = [c for _, c in cats]
    out["top_category"] = cats[0][1] if cats else None
    return out


@lru_cache(maxsize=1024)
def _calendar(today: date, country: str, within_days: int) -> dict[str, Any]:
    """The calendar attributes of a day (lists as tuples: callers copy them)."""
    out: dict[str, Any] = {}
    occs = occasions_on(today, country)
    out["occasion"] = tuple(o.id for o in occs)
    out["occasion_names_zh"] = tuple(o.name_zh for o in occs)
    out["is_public_holiday"] = any(o.kind == "public_holiday" for o in occs)
    out["is_workday"] = is_workday(today, country)
    term = current_solar_term(today)
    out["solar_term"] = term.id
    out["solar_term_zh"] = term.name_zh
    out["is_solar_term_day"] = solar_term_on(today) is not None
    nxt, nxt_day = next_solar_term(today)
    out["next_solar_term"] = nxt.id
    out["days_to_next_solar_term"] = (nxt_day - today).days
    up = upcoming_occasion(today, country, within_days, UPCOMING_KINDS)
    out["upcoming_occasion"] = up[0].id if up else None
    out["upcoming_occasion_zh"] = up[0].name_zh if up else None
    out["days_to_upcoming_occasion"] = (up[1] - today).days if up else None
    ups = upcoming_occasions(today, country, within_days)
    out["upcoming_occasions"] = tuple(o.id for o, _ in ups)
    out["days_to_occasion"] = tuple((o.id, (d - today).days) for o, d in ups)
    return out


def warm_up(settings: DerivedSettings, years: Sequence[int] | None = None) -> None:
    """Build the holiday and solar-term tables a shop will need (this year and the next),
    so that no page view pays for them. Safe to call more than once."""
    this_year = datetime.now(_zone(settings.timezone)).year
    for y in years or (this_year, this_year + 1):
        occasions_on(date(y, 1, 1), settings.country)
        current_solar_term(date(y, 1, 1))


__all__ = [
    "CUSTOMER_GROUPS",
    "DERIVED_KEYS",
    "LIFECYCLE_STAGES",
    "RFM_SEGMENTS",
    "RFM_SEGMENT_NAMES_ZH",
    "DerivedSettings",
    "SettingsError",
    "derive",
    "validate_settings",
    "warm_up",
]
