"""Occasions of a day: public holidays, shopping festivals, observances and solar terms.

* Public holidays come from the ``holidays`` package (``kind="public_holiday"``), in
  English (ids) and Chinese (names) where the package has the translation. For CN the
  ids are fixed and short (``spring_festival``, ``national_day``, ``mid_autumn`` …, see
  :data:`CN_HOLIDAY_IDS`); a make-up day off of a holiday week (调休) is ``day_off`` and
  a substitute day is the holiday's id with ``_observed``. For other countries the id is
  a slug of the English name (``"Christmas Day"`` → ``christmas_day``).
* For countries that keep the Chinese calendar (:data:`CHINESE_CALENDAR_COUNTRIES`:
  CN, HK, MO, TW) there is more: the shopping festivals and observances Chinese
  e-commerce plans around (:data:`FIXED_OCCASIONS`: 情人节, 妇女节, 520, 儿童节, 618,
  教师节, 双11, 双12, 圣诞节), the lunar observances that are not public holidays
  (元宵 1/15, 七夕 7/7, 重阳 9/9, 腊八 12/8), and the 24 solar terms
  (``kind="solar_term"``, ids from :mod:`app.core.solar_terms`).

The lunar dates need no dependency beyond ``holidays``: 元宵 is 14 days after the
Spring Festival of its CN calendar; 重阳 is a public holiday of Hong Kong there (1977
on); 七夕 falls in the lunar month that holds 处暑 (150°), since a summer month never
holds two principal terms; 腊八 is in the month before the Spring Festival. Months
start on the CST date of the new moon (:func:`app.core.solar_terms.new_moon_on_or_before`).
The tests check all four against the ``lunar-python`` calendar 2000–2040 (they also
agree 1951–2099).

A year of occasions is built once per (country, year) and cached, so
:func:`occasions_on` is a dictionary lookup.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import holidays

from app.core.solar_terms import (
    SOLAR_TERMS,
    new_moon_on_or_before,
    solar_term_date,
    solar_terms_of_year,
)

KINDS: tuple[str, ...] = ("public_holiday", "shopping_festival", "observance", "solar_term")
_KIND_ORDER = {k: i for i, k in enumerate(KINDS)}

CHINESE_CALENDAR_COUNTRIES: frozenset[str] = frozenset({"CN", "HK", "MO", "TW"})


@dataclass(frozen=True)
class Occasion:
    id: str
    name_zh: str
    name_en: str
    kind: str  # one of KINDS


# (month, day, occasion): the same date every year.
FIXED_OCCASIONS: tuple[tuple[int, int, Occasion], ...] = (
    (2, 14, Occasion("valentines_day", "情人节", "Valentine's Day", "observance")),
    (
        3,
        8,
        Occasion("womens_day", "妇女节", "International Women's Day", "observance"),
    ),  # sold as 女神节
    (5, 20, Occasion("day_520", "520", "520 Day", "shopping_festival")),  # 我爱你 day
    (6, 1, Occasion("childrens_day", "儿童节", "Children's Day", "observance")),
    (6, 18, Occasion("day_618", "618", "618 Shopping Festival", "shopping_festival")),
    (9, 10, Occasion("teachers_day", "教师节", "Teachers' Day", "observance")),
    (11, 11, Occasion("double_11", "双11", "Double 11 (Singles' Day)", "shopping_festival")),
    (12, 12, Occasion("double_12", "双12", "Double 12", "shopping_festival")),
    (12, 25, Occasion("christmas", "圣诞节", "Christmas", "observance")),
)

LUNAR_OCCASIONS: dict[str, Occasion] = {
    "yuanxiao": Occasion("yuanxiao", "元宵节", "Lantern Festival", "observance"),
    "qixi": Occasion("qixi", "七夕", "Qixi Festival", "observance"),
    "chongyang": Occasion("chongyang", "重阳节", "Double Ninth Festival", "observance"),
    "laba": Occasion("laba", "腊八节", "Laba Festival", "observance"),
}

# English names of the ``holidays`` package for CN -> our id.
CN_HOLIDAY_IDS: dict[str, str] = {
    "New Year's Day": "new_year",
    "Chinese New Year's Eve": "spring_festival_eve",
    "Chinese New Year (Spring Festival)": "spring_festival",
    "Chinese New Year Extended Holiday": "spring_festival",
    "Tomb-Sweeping Day": "qingming_festival",
    "Labor Day": "labour_day",
    "Labour Day": "labour_day",
    "Dragon Boat Festival": "dragon_boat",
    "Mid-Autumn Festival": "mid_autumn",
    "National Day": "national_day",
}
_SPRING_FESTIVAL_NAME = "Chinese New Year (Spring Festival)"
_DOUBLE_NINTH_NAME = "Double Ninth Festival"  # a public holiday in Hong Kong
_DAY_OFF = re.compile(r"^Day off \(substituted from .*\)$")
_OBSERVED = " (observed)"
DAY_OFF_ID = "day_off"


def slug(name: str) -> str:
    """A snake_case id from a holiday name: ``"New Year's Day"`` -> ``new_years_day``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    s = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower().replace("'", "")).strip("_")
    if not s:  # a name with no Latin letters at all
        s = "holiday_" + hashlib.sha1(name.encode()).hexdigest()[:8]
    return s


def normalize_country(country: str) -> str:
    return (country or "").strip().upper()


@lru_cache(maxsize=1)
def supported_countries() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries())


def is_supported_country(country: str) -> bool:
    return normalize_country(country) in supported_countries()


def _holiday_id(country: str, name_en: str) -> str:
    if _DAY_OFF.match(name_en):
        return DAY_OFF_ID
    observed = name_en.endswith(_OBSERVED)
    base = name_en[: -len(_OBSERVED)] if observed else name_en
    ident = CN_HOLIDAY_IDS.get(base, "") if country == "CN" else ""
    ident = ident or slug(base)
    return ident + "_observed" if observed else ident


def _country_holidays(country: str, year: int, language: str | None) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year, language=language)


def _public_holidays(country: str, year: int) -> tuple[dict[date, list[Occasion]], Any]:
    languages = (
        getattr(holidays.country_holidays(country, years=()), "supported_languages", ()) or ()
    )
    en = _country_holidays(country, year, "en_US" if "en_US" in languages else None)
    zh = _country_holidays(country, year, "zh_CN") if "zh_CN" in languages else None
    out: dict[date, list[Occasion]] = {}
    for day in sorted(en):
        names_en = en.get_list(day)
        names_zh = zh.get_list(day) if zh is not None else []
        if len(names_zh) != len(names_en):
            names_zh = []
        for i, name_en in enumerate(names_en):
            ident = _holiday_id(country, name_en)
            name_zh = names_zh[i] if names_zh else name_en
            if ident == DAY_OFF_ID:
                name_zh, name_en = "调休休息日", "Day off (in lieu)"
            out.setdefault(day, []).append(Occasion(ident, name_zh, name_en, "public_holiday"))
    return out, en


@lru_cache(maxsize=256)
def spring_festival(year: int) -> date | None:
    """The first day of the lunar year (正月初一) that falls in ``year``, from ``holidays`` (CN)."""
    cn = _country_holidays("CN", year, "en_US")
    days = [d for d in cn if d.year == year and _SPRING_FESTIVAL_NAME in cn.get_list(d)]
    return min(days) if days else None


@lru_cache(maxsize=256)
def double_ninth(year: int) -> date:
    """重阳 (9/9): Hong Kong's public holiday of that name in ``holidays`` where it has one
    (1977 on), else day 9 of the lunar month that holds 霜降."""
    hk = _country_holidays("HK", year, "en_US")
    days = [d for d in hk if d.year == year and _DOUBLE_NINTH_NAME in hk.get_list(d)]
    if days:
        return min(days)
    return new_moon_on_or_before(solar_term_date(year, "shuangjiang")) + timedelta(days=8)


def _lunar_dates(year: int) -> list[tuple[date, Occasion]]:
    out: list[tuple[date, Occasion]] = []
    cny = spring_festival(year)
    if cny is not None:
        out.append((cny + timedelta(days=14), LUNAR_OCCASIONS["yuanxiao"]))
    # month 7 holds 处暑, month 9 holds 霜降 (summer/autumn months never hold two principal terms)
    out.append(
        (
            new_moon_on_or_before(solar_term_date(year, "chushu")) + timedelta(days=6),
            LUNAR_OCCASIONS["qixi"],
        )
    )
    out.append((double_ninth(year), LUNAR_OCCASIONS["chongyang"]))
    # 腊八: day 8 of the month before the Spring Festival; that of this lunar year or the next
    for y in (year, year + 1):
        next_cny = spring_festival(y)
        if next_cny is not None:
            laba = new_moon_on_or_before(next_cny - timedelta(days=1)) + timedelta(days=7)
            if laba.year == year:
                out.append((laba, LUNAR_OCCASIONS["laba"]))
    return out


@dataclass(frozen=True)
class _YearTable:
    by_day: dict[date, tuple[Occasion, ...]]
    calendar: Any  # the holidays object of the year (for working days)


@lru_cache(maxsize=256)
def _year(country: str, year: int) -> _YearTable:
    if country not in supported_countries():
        raise ValueError(
            f"unknown country code {country!r}: use an ISO 3166-1 alpha-2 code the holidays package supports"
        )
    days, calendar = _public_holidays(country, year)
    if country in CHINESE_CALENDAR_COUNTRIES:
        for month, dom, occ in FIXED_OCCASIONS:
            days.setdefault(date(year, month, dom), []).append(occ)
        for day, occ in _lunar_dates(year):
            days.setdefault(day, []).append(occ)
        for term, instant in solar_terms_of_year(year):
            days.setdefault(instant.date(), []).append(
                Occasion(term.id, term.name_zh, term.name_en, "solar_term")
            )
    by_day: dict[date, tuple[Occasion, ...]] = {}
    for day, occs in days.items():
        seen: set[str] = set()
        unique = []
        for o in sorted(
            occs, key=lambda o: _KIND_ORDER[o.kind]
        ):  # stable: the package's order within a kind
            if o.id not in seen:
                seen.add(o.id)
                unique.append(o)
        by_day[day] = tuple(unique)
    return _YearTable(by_day, calendar)


def occasions_on(day: date, country: str = "CN") -> tuple[Occasion, ...]:
    """Every occasion on ``day`` (a local calendar date), public holidays first, then
    shopping festivals, observances and the solar term. Raises ValueError for a country
    the ``holidays`` package does not know."""
    return _year(normalize_country(country), day.year).by_day.get(day, ())


def is_public_holiday(day: date, country: str = "CN") -> bool:
    return any(o.kind == "public_holiday" for o in occasions_on(day, country))


def is_workday(day: date, country: str = "CN") -> bool:
    """A working day: not a public holiday, and not a weekend unless it is a make-up
    workday (调休上班, CN)."""
    cal = _year(normalize_country(country), day.year).calendar
    return bool(cal.is_working_day(day))


def _continues_a_holiday(o: Occasion) -> bool:
    return o.id == DAY_OFF_ID or o.id.endswith("_observed")


@lru_cache(maxsize=2048)
def upcoming_occasions(
    day: date, country: str = "CN", within_days: int = 30
) -> tuple[tuple[Occasion, date], ...]:
    """Occasions that start after ``day`` and at most ``within_days`` later, nearest first,
    each id once (its nearest date). Left out: occasions going on ``day`` itself (a
    holiday week does not announce its own second day), make-up days off (``day_off``)
    and substitute days (``*_observed``)."""
    country = normalize_country(country)
    today = {o.id for o in occasions_on(day, country)}
    seen: set[str] = set()
    out: list[tuple[Occasion, date]] = []
    for n in range(1, within_days + 1):
        d = day + timedelta(days=n)
        for o in occasions_on(d, country):
            if o.id in today or o.id in seen or _continues_a_holiday(o):
                continue
            seen.add(o.id)
            out.append((o, d))
    return tuple(out)


def upcoming_occasion(
    day: date, country: str = "CN", within_days: int = 30, kinds: Collection[str] | None = None
) -> tuple[Occasion, date] | None:
    """The nearest occasion after ``day`` within ``within_days`` (see :func:`upcoming_occasions`),
    optionally only of some ``kinds``; on a date with several, the first in :data:`KINDS` order."""
    for occ, d in upcoming_occasions(day, country, within_days):
        if kinds is None or occ.kind in kinds:
            return occ, d
    return None


def all_occasion_ids(country: str = "CN", year: int = 2025) -> list[str]:
    """Every occasion id a year can produce (for the console's rule builder), sorted."""
    table = _year(normalize_country(country), year).by_day
    return sorted({o.id for occs in table.values() for o in occs})


__all__ = [
    "CHINESE_CALENDAR_COUNTRIES",
    "CN_HOLIDAY_IDS",
    "FIXED_OCCASIONS",
    "KINDS",
    "LUNAR_OCCASIONS",
    "SOLAR_TERMS",
    "Occasion",
    "all_occasion_ids",
    "is_public_holiday",
    "is_supported_country",
    "is_workday",
    "occasions_on",
    "slug",
    "spring_festival",
    "upcoming_occasion",
    "upcoming_occasions",
]
