"""The 24 solar terms: published dates, an independent calendar, and the API."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date, datetime, timedelta

import pytest

from app.core import solar_terms as st
from app.core.solar_terms import (
    CST,
    SOLAR_TERMS,
    SOLAR_TERMS_BY_ID,
    apparent_solar_longitude,
    current_solar_term,
    next_solar_term,
    solar_term_date,
    solar_term_on,
    solar_terms_of_year,
)

# Published instants, China Standard Time (UTC+8). Sources:
# - Hong Kong Observatory, "2013 年二十四节气的日期及时间资料"
#   (https://www.hko.gov.hk/sc/gts/astron2013/Solar_Term_2013.htm), Hong Kong Time = UTC+8, to the minute.
# - 立春 2017–2030 to the second: the table "历年来立春的时间" at https://1949la.com/46853.html
# - 冬至 2020–2030 to the second: "2020-2030冬至时间表" at https://www.wubuwen.com/answer/268835.html
# - dates of 小寒 … 小满 in 2024, 2025 and 2026: https://www.chinesecalendaronline.com/solar-terms/
#   (its times are a few minutes off for some terms, so only its dates are used)
# fmt: off
HKO_2013 = [
    ("xiaohan", "01-05 12:34"), ("dahan", "01-20 05:52"), ("lichun", "02-04 00:13"),
    ("yushui", "02-18 20:02"), ("jingzhe", "03-05 18:15"), ("chunfen", "03-20 19:02"),
    ("qingming", "04-04 23:02"), ("guyu", "04-20 06:03"), ("lixia", "05-05 16:18"),
    ("xiaoman", "05-21 05:09"), ("mangzhong", "06-05 20:23"), ("xiazhi", "06-21 13:04"),
    ("xiaoshu", "07-07 06:35"), ("dashu", "07-22 23:56"), ("liqiu", "08-07 16:20"),
    ("chushu", "08-23 07:02"), ("bailu", "09-07 19:16"), ("qiufen", "09-23 04:44"),
    ("hanlu", "10-08 10:58"), ("shuangjiang", "10-23 14:10"), ("lidong", "11-07 14:14"),
    ("xiaoxue", "11-22 11:48"), ("daxue", "12-07 07:09"), ("dongzhi", "12-22 01:11"),
]
# fmt: on

LICHUN = [
    "2017-02-03 23:34:01",
    "2018-02-04 05:28:25",
    "2019-02-04 11:14:14",
    "2020-02-04 17:03:12",
    "2021-02-03 22:58:39",
    "2022-02-04 04:50:36",
    "2023-02-04 10:42:21",
    "2024-02-04 16:26:53",
    "2025-02-03 22:10:13",
    "2026-02-04 04:01:51",
    "2027-02-04 09:46:00",
    "2028-02-04 15:30:53",
    "2029-02-03 21:20:25",
    "2030-02-04 03:08:04",
]

DONGZHI = [
    "2020-12-21 18:02:12",
    "2021-12-21 23:59:09",
    "2022-12-22 05:48:01",
    "2023-12-22 11:27:09",
    "2024-12-21 17:20:20",
    "2025-12-21 23:02:48",
    "2026-12-22 04:49:55",
    "2027-12-22 10:41:50",
    "2028-12-21 16:19:19",
    "2029-12-21 22:13:45",
    "2030-12-22 04:09:13",
]

SPRING_TERMS = [
    "xiaohan",
    "dahan",
    "lichun",
    "yushui",
    "jingzhe",
    "chunfen",
    "qingming",
    "guyu",
    "lixia",
    "xiaoman",
]
SPRING_DATES = {
    2024: [
        "01-06",
        "01-20",
        "02-04",
        "02-19",
        "03-05",
        "03-20",
        "04-04",
        "04-19",
        "05-05",
        "05-20",
    ],
    2025: [
        "01-05",
        "01-20",
        "02-03",
        "02-18",
        "03-05",
        "03-20",
        "04-04",
        "04-20",
        "05-05",
        "05-21",
    ],
    2026: [
        "01-05",
        "01-20",
        "02-04",
        "02-18",
        "03-05",
        "03-20",
        "04-05",
        "04-20",
        "05-05",
        "05-21",
    ],
}


def _instant(year: int, term_id: str) -> datetime:
    for term, dt in solar_terms_of_year(year):
        if term.id == term_id:
            return dt
    raise AssertionError(term_id)


@pytest.mark.parametrize(("term_id", "published"), HKO_2013)
def test_hko_2013_table(term_id: str, published: str) -> None:
    expected = datetime.strptime(f"2013-{published}", "%Y-%m-%d %H:%M").replace(tzinfo=CST)
    got = _instant(2013, term_id)
    assert got.date() == expected.date()
    assert abs((got - expected).total_seconds()) <= 90  # HKO rounds to the minute


@pytest.mark.parametrize("published", LICHUN)
def test_lichun_published_to_the_second(published: str) -> None:
    expected = datetime.strptime(published, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)
    got = _instant(expected.year, "lichun")
    assert got.date() == expected.date()
    assert abs((got - expected).total_seconds()) <= 60


@pytest.mark.parametrize("published", DONGZHI)
def test_dongzhi_published_to_the_second(published: str) -> None:
    expected = datetime.strptime(published, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)
    got = _instant(expected.year, "dongzhi")
    assert got.date() == expected.date()  # 2021: 51 seconds before midnight
    assert abs((got - expected).total_seconds()) <= 60


@pytest.mark.parametrize("year", sorted(SPRING_DATES))
def test_spring_terms_2024_to_2026(year: int) -> None:
    got = [solar_term_date(year, t).strftime("%m-%d") for t in SPRING_TERMS]
    assert got == SPRING_DATES[year]


@pytest.mark.parametrize(
    ("day", "term_id"),
    [
        (date(2025, 2, 3), "lichun"),  # 2025 立春 on 3 February
        (date(2026, 12, 22), "dongzhi"),
        (date(2027, 2, 4), "lichun"),
        (date(2027, 12, 22), "dongzhi"),
        (date(2025, 4, 4), "qingming"),
        (date(2025, 12, 21), "dongzhi"),
    ],
)
def test_solar_term_on_published_days(day: date, term_id: str) -> None:
    term = solar_term_on(day)
    assert term is not None and term.id == term_id
    assert solar_term_on(day - timedelta(days=1)) is None
    assert solar_term_on(day + timedelta(days=1)) is None


def test_every_term_2000_2040_agrees_with_lunar_python() -> None:
    """Independent check: the 寿星 algorithm of lunar-python, to the day, 984 terms."""
    from lunar_python import Lunar  # test dependency only

    disagreements = []
    for year in range(2000, 2041):
        table = Lunar.fromYmd(year, 6, 1).getJieQiTable()  # the lunar year's terms, keyed by name
        for term, instant in solar_terms_of_year(year):
            s = table[
                "DONG_ZHI" if term.id == "dongzhi" else term.name_zh
            ]  # 冬至 key is last year's
            ref = date(s.getYear(), s.getMonth(), s.getDay())
            if instant.date() != ref:
                disagreements.append((year, term.id, instant, ref))
    assert disagreements == []


def test_meeus_example_25b_apparent_longitude() -> None:
    # Meeus, Astronomical Algorithms, example 25.b: 1992 Oct 13.0 TD, λ = 199°54′21.818″
    expected = 199 + 54 / 60 + 21.818 / 3600
    assert abs(apparent_solar_longitude(2448908.5) - expected) * 3600 < 1.0


def test_meeus_example_49a_new_moon() -> None:
    # Meeus, example 49.a: the new moon of 1977 February, k = -283, JDE 2443192.65118
    assert abs(st._new_moon_jde(-283) - 2443192.65118) < 1e-5


def test_terms_of_a_year_are_24_in_order_and_in_the_year() -> None:
    rows = solar_terms_of_year(2025)
    assert [t.id for t, _ in rows] == [t.id for t in SOLAR_TERMS]
    instants = [dt for _, dt in rows]
    assert instants == sorted(instants)
    assert all(dt.year == 2025 and dt.utcoffset() == timedelta(hours=8) for dt in instants)
    gaps = [(b - a).days for a, b in itertools.pairwise(instants)]
    assert min(gaps) >= 14 and max(gaps) <= 16


def test_longitudes_are_the_multiples_of_15() -> None:
    assert sorted(t.longitude for t in SOLAR_TERMS) == list(range(0, 360, 15))
    assert SOLAR_TERMS_BY_ID["lichun"].longitude == 315
    assert SOLAR_TERMS_BY_ID["chunfen"].longitude == 0
    assert SOLAR_TERMS_BY_ID["dongzhi"].name_zh == "冬至"
    assert SOLAR_TERMS_BY_ID["lichun"].name_en == "Start of Spring"
    assert SOLAR_TERMS_BY_ID["chunfen"].is_major and not SOLAR_TERMS_BY_ID["lichun"].is_major


def test_the_instant_has_the_target_longitude() -> None:
    _, instant = solar_terms_of_year(2025)[5]  # 春分, 0°
    jd_ut = st._datetime_to_jd(instant)
    jde = jd_ut + st.delta_t_seconds(2025 + 79 / 365.25) / 86400
    lon = apparent_solar_longitude(jde)
    assert (
        min(lon, 360 - lon) * 3600 < 0.1
    )  # the Sun moves 0.04″ a second; instants are rounded to it


def test_solar_term_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SOLAR_TERMS[0].id = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("day", "term_id"),
    [
        (date(2025, 1, 1), "dongzhi"),  # before 小寒: still last year's 冬至
        (date(2025, 1, 4), "dongzhi"),
        (date(2025, 1, 5), "xiaohan"),  # the day of a term is in that term
        (date(2025, 2, 2), "dahan"),
        (date(2025, 2, 3), "lichun"),
        (date(2025, 12, 20), "daxue"),
        (date(2025, 12, 21), "dongzhi"),
        (date(2025, 12, 31), "dongzhi"),
    ],
)
def test_current_solar_term(day: date, term_id: str) -> None:
    assert current_solar_term(day).id == term_id


@pytest.mark.parametrize(
    ("day", "term_id", "term_day"),
    [
        (date(2025, 12, 21), "xiaohan", date(2026, 1, 5)),  # next year's first
        (date(2025, 2, 2), "lichun", date(2025, 2, 3)),
        (date(2025, 2, 3), "yushui", date(2025, 2, 18)),  # strictly after
    ],
)
def test_next_solar_term(day: date, term_id: str, term_day: date) -> None:
    term, d = next_solar_term(day)
    assert (term.id, d) == (term_id, term_day)


def test_a_year_is_computed_once() -> None:
    solar_terms_of_year(2031)
    before = st._year_table.cache_info()
    for _ in range(100):
        solar_term_on(date(2031, 6, 21))
        current_solar_term(date(2031, 6, 21))
    after = st._year_table.cache_info()
    assert after.misses == before.misses
    assert after.hits >= before.hits + 200


@pytest.mark.parametrize(
    ("year", "low", "high"), [(1990, 56, 58), (2000, 63, 65), (2025, 70, 76), (2100, 200, 215)]
)
def test_delta_t_is_plausible(year: int, low: float, high: float) -> None:
    assert low <= st.delta_t_seconds(year) <= high
