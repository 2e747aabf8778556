"""Occasions: public holidays, shopping festivals, observances, lunar dates and solar terms."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from app.core import occasions as oc
from app.core.occasions import (
    KINDS,
    Occasion,
    all_occasion_ids,
    is_public_holiday,
    is_supported_country,
    is_workday,
    occasions_on,
    slug,
    spring_festival,
    upcoming_occasion,
    upcoming_occasions,
)


def ids(day: str, country: str = "CN") -> tuple[str, ...]:
    return tuple(o.id for o in occasions_on(date.fromisoformat(day), country))


# Every id on the day, in order (public holidays, shopping festivals, observances, solar term).
# CN public holidays of 2025 and 2026 as the State Council set them (via the holidays package);
# lunar dates as printed in Chinese calendars.
CN_DAYS = [
    ("2025-01-01", ("new_year",)),
    ("2025-01-05", ("xiaohan",)),
    ("2025-01-07", ("laba",)),  # 腊月初八
    ("2025-01-28", ("spring_festival_eve",)),
    ("2025-01-29", ("spring_festival",)),
    ("2025-02-03", ("day_off", "lichun")),  # a make-up day off, and 立春
    ("2025-02-12", ("yuanxiao",)),  # 正月十五
    ("2025-02-14", ("valentines_day",)),
    ("2025-03-08", ("womens_day",)),
    ("2025-04-04", ("qingming_festival", "qingming")),  # the holiday and the solar term
    ("2025-05-01", ("labour_day",)),
    ("2025-05-20", ("day_520",)),
    ("2025-05-31", ("dragon_boat",)),
    ("2025-06-01", ("childrens_day",)),
    ("2025-06-02", ("dragon_boat_observed",)),
    ("2025-06-18", ("day_618",)),
    ("2025-08-29", ("qixi",)),  # 七月初七
    ("2025-09-10", ("teachers_day",)),
    ("2025-10-01", ("national_day",)),
    ("2025-10-06", ("mid_autumn",)),
    ("2025-10-29", ("chongyang",)),  # 九月初九
    ("2025-11-07", ("lidong",)),
    ("2025-11-11", ("double_11",)),
    ("2025-12-12", ("double_12",)),
    ("2025-12-21", ("dongzhi",)),
    ("2025-12-25", ("christmas",)),
    ("2025-07-15", ()),
    ("2026-01-26", ("laba",)),
    ("2026-02-17", ("spring_festival",)),
    ("2026-03-03", ("yuanxiao",)),
    ("2026-08-19", ("qixi",)),
    ("2026-10-18", ("chongyang",)),
    ("2026-12-22", ("dongzhi",)),
]


@pytest.mark.parametrize(("day", "expected"), CN_DAYS)
def test_cn_occasions(day: str, expected: tuple[str, ...]) -> None:
    assert ids(day) == expected


@pytest.mark.parametrize(
    ("day", "country", "expected"),
    [
        ("2025-07-04", "US", ("independence_day",)),
        (
            "2025-11-11",
            "US",
            ("veterans_day",),
        ),  # no 双11 and no solar term outside the Chinese calendar
        ("2025-12-21", "US", ()),
        ("2025-12-25", "US", ("christmas_day",)),
        ("2025-01-01", "cn", ("new_year",)),  # the country code is case-insensitive
    ],
)
def test_other_countries(day: str, country: str, expected: tuple[str, ...]) -> None:
    assert ids(day, country) == expected


def test_names_and_kinds() -> None:
    (nd,) = occasions_on(date(2025, 10, 1))
    assert nd == Occasion("national_day", "国庆节", "National Day", "public_holiday")
    d11 = occasions_on(date(2025, 11, 11))[0]
    assert (d11.name_zh, d11.kind) == ("双11", "shopping_festival")
    qm = occasions_on(date(2025, 4, 4))
    assert [(o.name_zh, o.kind) for o in qm] == [
        ("清明节", "public_holiday"),
        ("清明", "solar_term"),
    ]
    off = occasions_on(date(2025, 2, 3))[0]
    assert (off.name_zh, off.name_en) == ("调休休息日", "Day off (in lieu)")
    qixi = occasions_on(date(2025, 8, 29))[0]
    assert (qixi.name_zh, qixi.kind) == ("七夕", "observance")


def test_kinds_are_known_and_ordered_within_a_day() -> None:
    order = {k: i for i, k in enumerate(KINDS)}
    for y in (2025, 2026):
        d = date(y, 1, 1)
        while d.year == y:
            occs = occasions_on(d)
            assert all(o.kind in KINDS for o in occs)
            assert [order[o.kind] for o in occs] == sorted(order[o.kind] for o in occs)
            assert len({o.id for o in occs}) == len(occs)
            d += timedelta(days=1)


def test_every_solar_term_is_an_occasion_once_a_year() -> None:
    terms = [i for i in all_occasion_ids("CN", 2025) if i in {t.id for t in oc.SOLAR_TERMS}]
    assert len(terms) == 24


def test_occasion_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        occasions_on(date(2025, 10, 1))[0].id = "x"  # type: ignore[misc]


def test_unknown_country_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown country"):
        occasions_on(date(2025, 1, 1), "XX")
    assert not is_supported_country("XX")
    assert is_supported_country("cn") and is_supported_country("US")


def test_lunar_dates_2000_2040_agree_with_lunar_python() -> None:
    """Independent check of 元宵, 七夕, 重阳, 腊八 and the Spring Festival against lunar-python."""
    from lunar_python import LunarYear, Solar  # test dependency only

    month_start: dict[
        tuple[int, int], date
    ] = {}  # (lunar year, month; leap months negative) -> 初一
    for lunar_year in range(1999, 2041):
        for m in LunarYear.fromYear(lunar_year).getMonths():
            s = Solar.fromJulianDay(m.getFirstJulianDay())
            month_start[(m.getYear(), m.getMonth())] = date(s.getYear(), s.getMonth(), s.getDay())

    def lunar(lunar_year: int, month: int, day: int) -> date:
        return month_start[(lunar_year, month)] + timedelta(days=day - 1)

    wanted = {"yuanxiao": (1, 15), "qixi": (7, 7), "chongyang": (9, 9), "laba": (12, 8)}
    wrong = []
    for year in range(2000, 2041):
        got: dict[str, list[date]] = {}
        for d, occ in oc._lunar_dates(year):
            got.setdefault(occ.id, []).append(d)
        for oid, (m, d) in wanted.items():
            ref = [x for x in (lunar(year - 1, m, d), lunar(year, m, d)) if x.year == year]
            if sorted(got.get(oid, [])) != sorted(ref):
                wrong.append((year, oid, got.get(oid), ref))
        if spring_festival(year) != lunar(year, 1, 1):
            wrong.append((year, "spring_festival", spring_festival(year), lunar(year, 1, 1)))
    assert wrong == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("New Year's Day", "new_years_day"),
        ("Christmas Day", "christmas_day"),
        ("Martin Luther King Jr. Day", "martin_luther_king_jr_day"),
        ("Fête nationale", "fete_nationale"),
        ("  Labour  Day ", "labour_day"),
    ],
)
def test_slug(name: str, expected: str) -> None:
    assert slug(name) == expected


def test_slug_of_a_name_without_latin_letters_is_stable() -> None:
    assert slug("国庆节") == slug("国庆节")
    assert slug("国庆节").startswith("holiday_") and slug("国庆节") != slug("春节")


@pytest.mark.parametrize(
    ("day", "within", "kinds", "expected"),
    [
        # 4 Nov 2025: 立冬 (7 Nov) comes first; without solar terms, 双11 in exactly 7 days
        ("2025-11-04", 30, None, ("lidong", "2025-11-07")),
        ("2025-11-04", 30, ("shopping_festival",), ("double_11", "2025-11-11")),
        (
            "2025-11-04",
            7,
            ("public_holiday", "shopping_festival", "observance"),
            ("double_11", "2025-11-11"),
        ),
        (
            "2025-11-04",
            6,
            ("public_holiday", "shopping_festival", "observance"),
            None,
        ),  # 7 days away
        ("2025-11-04", 3, None, ("lidong", "2025-11-07")),  # the window's last day counts
        ("2025-11-04", 2, None, None),
        ("2025-11-04", 0, None, None),
        # 1 Oct: the holiday week does not announce its own next days, nor its days off
        ("2025-10-01", 30, ("public_holiday",), ("mid_autumn", "2025-10-06")),
        ("2025-10-01", 30, None, ("mid_autumn", "2025-10-06")),
        # a day with a holiday and a solar term: the holiday comes first
        ("2025-04-01", 10, None, ("qingming_festival", "2025-04-04")),
        ("2025-12-31", 5, None, ("new_year", "2026-01-01")),  # across the year end
    ],
)
def test_upcoming_occasion(
    day: str, within: int, kinds: tuple[str, ...] | None, expected: tuple[str, str] | None
) -> None:
    got = upcoming_occasion(date.fromisoformat(day), "CN", within, kinds)
    assert (None if got is None else (got[0].id, got[1].isoformat())) == expected


def test_upcoming_occasions_lists_each_id_once_nearest_first() -> None:
    ups = upcoming_occasions(date(2025, 9, 25), "CN", 20)
    got = [(o.id, d.isoformat()) for o, d in ups]
    assert got == [
        ("national_day", "2025-10-01"),
        ("mid_autumn", "2025-10-06"),
        ("hanlu", "2025-10-08"),
    ]


@pytest.mark.parametrize(
    ("day", "workday", "holiday"),
    [
        ("2025-09-28", True, False),  # a Sunday worked to make up the National Day week (调休)
        ("2025-10-11", True, False),  # a Saturday worked
        ("2025-10-01", False, True),
        ("2025-10-08", False, True),  # a day off in lieu
        ("2025-11-08", False, False),  # an ordinary Saturday
        ("2025-11-11", True, False),  # 双11 is a shopping day, not a day off
    ],
)
def test_workdays_and_public_holidays(day: str, workday: bool, holiday: bool) -> None:
    d = date.fromisoformat(day)
    assert is_workday(d, "CN") is workday
    assert is_public_holiday(d, "CN") is holiday


def test_a_year_is_built_once() -> None:
    occasions_on(date(2032, 1, 1))
    before = oc._year.cache_info()
    for n in range(365):
        occasions_on(date(2032, 1, 1) + timedelta(days=n))
    after = oc._year.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 365
