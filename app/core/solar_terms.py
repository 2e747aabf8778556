"""The 24 solar terms (二十四节气), computed from the Sun's apparent position.

A solar term is the instant the Sun's apparent geocentric ecliptic longitude reaches a
multiple of 15° (春分 0°, 清明 15°, …, 立春 315°). Chinese calendars give the date of
that instant in China Standard Time (UTC+8), and so does this module.

How it is computed (no date tables anywhere):

* the Earth's heliocentric longitude from the VSOP87D series, truncated as in
  J. Meeus, *Astronomical Algorithms* (2nd ed.), Appendix III (about 1″);
* geocentric longitude = heliocentric + 180°, with the FK5 correction (−0.09033″),
  nutation in longitude (the four main terms of Meeus ch. 22, about 0.5″) and
  aberration (−20.4898″ / R);
* the instant is solved by a few Newton steps on the longitude, in Terrestrial Time,
  then converted to UT with ΔT from the Espenak & Meeus polynomials (NASA, 2006).

An error of 1″ in longitude is about 24 seconds of time, so the instants are good to
about a minute between 1900 and 2100: enough that the dates agree with the published
ones (a term within a minute of midnight is the only possible disagreement; none
occurs 2000–2040, see the tests). The low-precision solar formula (Meeus ch. 25,
±0.01°) would be up to 15 minutes off, and put a term on the wrong day once or twice
a decade.

The new moon (Meeus ch. 49) is here too: :mod:`app.core.occasions` uses it for the
few lunar observances (七夕, 重阳, 腊八) that no runtime dependency provides.

Everything is cached per year, so :func:`solar_term_on` and
:func:`current_solar_term` cost a dictionary lookup after the first call of a year.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache

CST = timezone(timedelta(hours=8), "CST")  # China Standard Time, as Chinese calendars use

_J2000 = 2451545.0
_UNIX_EPOCH_JD = 2440587.5
_TROPICAL_YEAR = 365.242189
_ARCSEC = 1 / 3600.0


@dataclass(frozen=True)
class SolarTerm:
    """One of the 24 solar terms; ``longitude`` is the Sun's apparent longitude in degrees."""

    id: str
    name_zh: str
    name_en: str
    longitude: int

    @property
    def is_major(self) -> bool:
        """True for the 12 principal terms (中气: multiples of 30°), which fix the lunar months."""
        return self.longitude % 30 == 0


# In the order they fall in a Gregorian year: 小寒 (early January) … 冬至 (late December).
SOLAR_TERMS: tuple[SolarTerm, ...] = (
    SolarTerm("xiaohan", "小寒", "Minor Cold", 285),
    SolarTerm("dahan", "大寒", "Major Cold", 300),
    SolarTerm("lichun", "立春", "Start of Spring", 315),
    SolarTerm("yushui", "雨水", "Rain Water", 330),
    SolarTerm("jingzhe", "惊蛰", "Awakening of Insects", 345),
    SolarTerm("chunfen", "春分", "Spring Equinox", 0),
    SolarTerm("qingming", "清明", "Pure Brightness", 15),
    SolarTerm("guyu", "谷雨", "Grain Rain", 30),
    SolarTerm("lixia", "立夏", "Start of Summer", 45),
    SolarTerm("xiaoman", "小满", "Grain Buds", 60),
    SolarTerm("mangzhong", "芒种", "Grain in Ear", 75),
    SolarTerm("xiazhi", "夏至", "Summer Solstice", 90),
    SolarTerm("xiaoshu", "小暑", "Minor Heat", 105),
    SolarTerm("dashu", "大暑", "Major Heat", 120),
    SolarTerm("liqiu", "立秋", "Start of Autumn", 135),
    SolarTerm("chushu", "处暑", "End of Heat", 150),
    SolarTerm("bailu", "白露", "White Dew", 165),
    SolarTerm("qiufen", "秋分", "Autumn Equinox", 180),
    SolarTerm("hanlu", "寒露", "Cold Dew", 195),
    SolarTerm("shuangjiang", "霜降", "Frost's Descent", 210),
    SolarTerm("lidong", "立冬", "Start of Winter", 225),
    SolarTerm("xiaoxue", "小雪", "Minor Snow", 240),
    SolarTerm("daxue", "大雪", "Major Snow", 255),
    SolarTerm("dongzhi", "冬至", "Winter Solstice", 270),
)
SOLAR_TERMS_BY_ID: dict[str, SolarTerm] = {t.id: t for t in SOLAR_TERMS}
SOLAR_TERMS_BY_LONGITUDE: dict[int, SolarTerm] = {t.longitude: t for t in SOLAR_TERMS}

# fmt: off
# --- VSOP87D, Earth, heliocentric longitude (Meeus, Appendix III) -------------------------
# Each term is (A, B, C): A·cos(B + C·τ), τ in Julian millennia from J2000.0 (TT);
# the sum of series Ln times τ^n, divided by 1e8, is the longitude in radians.
_L0 = (
    (175347046, 0.0, 0.0), (3341656, 4.6692568, 6283.07585), (34894, 4.6261, 12566.1517),
    (3497, 2.7441, 5753.3849), (3418, 2.8289, 3.5231), (3136, 3.6277, 77713.7715),
    (2676, 4.4181, 7860.4194), (2343, 6.1352, 3930.2097), (1324, 0.7425, 11506.7698),
    (1273, 2.0371, 529.691), (1199, 1.1096, 1577.3435), (990, 5.233, 5884.927),
    (902, 2.045, 26.298), (857, 3.508, 398.149), (780, 1.179, 5223.694),
    (753, 2.533, 5507.553), (505, 4.583, 18849.228), (492, 4.205, 775.523),
    (357, 2.92, 0.067), (317, 5.849, 11790.629), (284, 1.899, 796.298),
    (271, 0.315, 10977.079), (243, 0.345, 5486.778), (206, 4.806, 2544.314),
    (205, 1.869, 5573.143), (202, 2.458, 6069.777), (156, 0.833, 213.299),
    (132, 3.411, 2942.463), (126, 1.083, 20.775), (115, 0.645, 0.98),
    (103, 0.636, 4694.003), (102, 0.976, 15720.839), (102, 4.267, 7.114),
    (99, 6.21, 2146.17), (98, 0.68, 155.42), (86, 5.98, 161000.69),
    (85, 1.3, 6275.96), (85, 3.67, 71430.7), (80, 1.81, 17260.15),
    (79, 3.04, 12036.46), (75, 1.76, 5088.63), (74, 3.5, 3154.69),
    (74, 4.68, 801.82), (70, 0.83, 9437.76), (62, 3.98, 8827.39),
    (61, 1.82, 7084.9), (57, 2.78, 6286.6), (56, 4.39, 14143.5),
    (56, 3.47, 6279.55), (52, 0.19, 12139.55), (52, 1.33, 1748.02),
    (51, 0.28, 5856.48), (49, 0.49, 1194.45), (41, 5.37, 8429.24),
    (41, 2.4, 19651.05), (39, 6.17, 10447.39), (37, 6.04, 10213.29),
    (37, 2.57, 1059.38), (36, 1.71, 2352.87), (36, 1.78, 6812.77),
    (33, 0.59, 17789.85), (30, 0.44, 83996.85), (30, 2.74, 1349.87),
    (25, 3.16, 4690.48),
)
_L1 = (
    (628331966747, 0.0, 0.0), (206059, 2.678235, 6283.07585), (4303, 2.6351, 12566.1517),
    (425, 1.59, 3.523), (119, 5.796, 26.298), (109, 2.966, 1577.344),
    (93, 2.59, 18849.23), (72, 1.14, 529.69), (68, 1.87, 398.15),
    (67, 4.41, 5507.55), (59, 2.89, 5223.69), (56, 2.17, 155.42),
    (45, 0.4, 796.3), (36, 0.47, 775.52), (29, 2.65, 7.11),
    (21, 5.34, 0.98), (19, 1.85, 5486.78), (19, 4.97, 213.3),
    (17, 2.99, 6275.96), (16, 0.03, 2544.31), (16, 1.43, 2146.17),
    (15, 1.21, 10977.08), (12, 2.83, 1748.02), (12, 3.26, 5088.63),
    (12, 5.27, 1194.45), (12, 2.08, 4694.0), (11, 0.77, 553.57),
    (10, 1.3, 6286.6), (10, 4.24, 1349.87), (9, 2.7, 242.73),
    (9, 5.64, 951.72), (8, 5.3, 2352.87), (6, 2.65, 9437.76),
    (6, 4.67, 4690.48),
)
_L2 = (
    (52919, 0.0, 0.0), (8720, 1.0721, 6283.0758), (309, 0.867, 12566.152),
    (27, 0.05, 3.52), (16, 5.19, 26.3), (16, 3.68, 155.42),
    (10, 0.76, 18849.23), (9, 2.06, 77713.77), (7, 0.83, 775.52),
    (5, 4.66, 1577.34), (4, 1.03, 7.11), (4, 3.44, 5573.14),
    (3, 5.14, 796.3), (3, 6.05, 5507.55), (3, 1.19, 242.73),
    (3, 6.12, 529.69), (3, 0.31, 398.15), (3, 2.28, 553.57),
    (2, 4.38, 5223.69), (2, 3.75, 0.98),
)
_L3 = (
    (289, 5.844, 6283.076), (35, 0.0, 0.0), (17, 5.49, 12566.15),
    (3, 5.2, 155.42), (1, 4.72, 3.52), (1, 5.3, 18849.23), (1, 5.97, 242.73),
)
_L4 = ((114, 3.142, 0.0), (8, 4.13, 6283.08), (1, 3.84, 12566.15))
_L5 = ((1, 3.14, 0.0),)
_L_SERIES = (_L0, _L1, _L2, _L3, _L4, _L5)

# Earth-Sun distance: the largest terms of R0 and R1 (only the aberration needs R, to ~1e-4).
_R0 = (
    (100013989, 0.0, 0.0), (1670700, 3.0984635, 6283.07585), (13956, 3.05525, 12566.1517),
    (3084, 5.1985, 77713.7715), (1628, 1.1739, 5753.3849), (1576, 2.8469, 7860.4194),
)
_R1 = ((103019, 1.10749, 6283.07585), (1721, 1.0644, 12566.1517))
# fmt: on


def _series(terms: tuple[tuple[float, float, float], ...], tau: float) -> float:
    return sum(a * math.cos(b + c * tau) for a, b, c in terms)


def delta_t_seconds(year: float) -> float:
    """ΔT = TT − UT in seconds (Espenak & Meeus polynomials, NASA 2006), for a decimal year."""
    y = year
    if 2005 <= y < 2050:
        t = y - 2000
        return 62.92 + 0.32217 * t + 0.005589 * t * t
    if 1986 <= y < 2005:
        t = y - 2000
        return (
            63.86
            + 0.3345 * t
            - 0.060374 * t**2
            + 0.0017275 * t**3
            + 0.000651814 * t**4
            + 0.00002373599 * t**5
        )
    if 2050 <= y < 2150:
        return -20 + 32 * ((y - 1820) / 100) ** 2 - 0.5628 * (2150 - y)
    if 1961 <= y < 1986:
        t = y - 1975
        return 45.45 + 1.067 * t - t * t / 260 - t**3 / 718
    if 1941 <= y < 1961:
        t = y - 1950
        return 29.07 + 0.407 * t - t * t / 233 + t**3 / 2547
    if 1920 <= y < 1941:
        t = y - 1920
        return 21.20 + 0.84493 * t - 0.076100 * t * t + 0.0020936 * t**3
    if 1900 <= y < 1920:
        t = y - 1900
        return -2.79 + 1.494119 * t - 0.0598939 * t * t + 0.0061966 * t**3 - 0.000197 * t**4
    u = (y - 1820) / 100  # the long-term parabola outside 1900–2150
    return -20 + 32 * u * u


def apparent_solar_longitude(jde: float) -> float:
    """The Sun's apparent geocentric ecliptic longitude in degrees [0, 360), at a JDE (TT)."""
    tau = (jde - _J2000) / 365250.0
    lon = 0.0
    power = 1.0
    for terms in _L_SERIES:
        lon += _series(terms, tau) * power
        power *= tau
    helio = math.degrees(lon / 1e8)
    r = (_series(_R0, tau) + _series(_R1, tau) * tau) / 1e8
    t = tau * 10  # Julian centuries
    omega = math.radians(125.04452 - 1934.136261 * t)
    l_sun = math.radians(280.4665 + 36000.7698 * t)
    l_moon = math.radians(218.3165 + 481267.8813 * t)
    nutation = (
        -17.20 * math.sin(omega)
        - 1.32 * math.sin(2 * l_sun)
        - 0.23 * math.sin(2 * l_moon)
        + 0.21 * math.sin(2 * omega)
    )
    lam = helio + 180.0 + (-0.09033 + nutation - 20.4898 / r) * _ARCSEC
    return lam % 360.0


def _jd_to_datetime_utc(jd: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=jd - _UNIX_EPOCH_JD)


def _datetime_to_jd(dt: datetime) -> float:
    return _UNIX_EPOCH_JD + (dt - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(days=1)


def _tt_to_ut(jde: float) -> float:
    year = 2000.0 + (jde - _J2000) / 365.25
    return jde - delta_t_seconds(year) / 86400.0


def solar_longitude_instant(longitude: float, near_jde: float) -> float:
    """The JDE (TT) nearest ``near_jde`` (within ~half a year) when the apparent longitude is ``longitude``."""
    jde = near_jde
    for _ in range(30):
        diff = (longitude - apparent_solar_longitude(jde) + 180.0) % 360.0 - 180.0
        step = diff * _TROPICAL_YEAR / 360.0  # the mean speed is a good enough derivative
        jde += step
        if abs(step) < 1e-7:  # ~0.01 s
            break
    return jde


@lru_cache(maxsize=512)
def _year_table(
    year: int,
) -> tuple[tuple[tuple[SolarTerm, datetime], ...], dict[date, SolarTerm], list[date]]:
    if not 1 < year < 9999:
        raise ValueError(f"year {year} is out of range")
    jan1 = _datetime_to_jd(datetime(year, 1, 1, tzinfo=UTC))
    rows: list[tuple[SolarTerm, datetime]] = []
    for i, term in enumerate(SOLAR_TERMS):
        guess = jan1 + 5.5 + i * _TROPICAL_YEAR / 24  # 小寒 is about 5–6 January
        jde = solar_longitude_instant(term.longitude, guess)
        instant = _jd_to_datetime_utc(_tt_to_ut(jde)).astimezone(CST).replace(microsecond=0)
        rows.append((term, instant))
    by_date = {dt.date(): term for term, dt in rows}
    dates = [dt.date() for _, dt in rows]
    return tuple(rows), by_date, dates


def solar_terms_of_year(year: int) -> list[tuple[SolarTerm, datetime]]:
    """The 24 terms whose CST date falls in ``year``, in order (小寒 … 冬至), with their instant in CST."""
    return list(_year_table(year)[0])


def solar_term_on(day: date) -> SolarTerm | None:
    """The term whose instant falls on ``day`` (a CST calendar date), or None."""
    return _year_table(day.year)[1].get(day)


def current_solar_term(day: date) -> SolarTerm:
    """The term whose period ``day`` is in: the last term whose CST date is on or before ``day``."""
    _, by_date, dates = _year_table(day.year)
    i = bisect.bisect_right(dates, day)
    if i == 0:  # before 小寒: still in the 冬至 of the previous year
        return SOLAR_TERMS[-1]
    return by_date[dates[i - 1]]


def solar_term_date(year: int, term_id: str) -> date:
    """The CST date of one term in a Gregorian year, e.g. ``solar_term_date(2025, "lichun")``."""
    term = SOLAR_TERMS_BY_ID[term_id]
    for t, dt in _year_table(year)[0]:
        if t is term:
            return dt.date()
    raise KeyError(term_id)  # pragma: no cover - every year has all 24


# --- New moons (Meeus, Astronomical Algorithms, ch. 49) ------------------------------------

_SYNODIC_MONTH = 29.530588861


def _new_moon_jde(k: int) -> float:
    """JDE (TT) of the new moon number ``k`` (k = 0 is the new moon of 2000-01-06)."""
    t = k / 1236.85
    jde = (
        2451550.09766
        + _SYNODIC_MONTH * k
        + 0.00015437 * t**2
        - 0.000000150 * t**3
        + 0.00000000073 * t**4
    )
    e = 1 - 0.002516 * t - 0.0000074 * t * t
    rad = math.radians
    m = rad(2.5534 + 29.10535670 * k - 0.0000014 * t**2 - 0.00000011 * t**3)
    mp = rad(
        201.5643 + 385.81693528 * k + 0.0107582 * t**2 + 0.00001238 * t**3 - 0.000000058 * t**4
    )
    f = rad(160.7108 + 390.67050284 * k - 0.0016118 * t**2 - 0.00000227 * t**3 + 0.000000011 * t**4)
    om = rad(124.7746 - 1.56375588 * k + 0.0020672 * t**2 + 0.00000215 * t**3)
    s = math.sin
    corr = (
        -0.40720 * s(mp)
        + 0.17241 * e * s(m)
        + 0.01608 * s(2 * mp)
        + 0.01039 * s(2 * f)
        + 0.00739 * e * s(mp - m)
        - 0.00514 * e * s(mp + m)
        + 0.00208 * e * e * s(2 * m)
        - 0.00111 * s(mp - 2 * f)
        - 0.00057 * s(mp + 2 * f)
        + 0.00056 * e * s(2 * mp + m)
        - 0.00042 * s(3 * mp)
        + 0.00042 * e * s(m + 2 * f)
        + 0.00038 * e * s(m - 2 * f)
        - 0.00024 * e * s(2 * mp - m)
        - 0.00017 * s(om)
        - 0.00007 * s(mp + 2 * m)
        + 0.00004 * s(2 * mp - 2 * f)
        + 0.00004 * s(3 * m)
        + 0.00003 * s(mp + m - 2 * f)
        + 0.00003 * s(2 * mp + 2 * f)
        - 0.00003 * s(mp + m + 2 * f)
        + 0.00003 * s(mp - m + 2 * f)
        - 0.00002 * s(mp - m - 2 * f)
        - 0.00002 * s(3 * mp + m)
        + 0.00002 * s(4 * mp)
    )
    # fmt: off
    planetary = (
        (0.000325, 299.77, 0.107408), (0.000165, 251.88, 0.016321), (0.000164, 251.83, 26.651886),
        (0.000126, 349.42, 36.412478), (0.000110, 84.66, 18.206239), (0.000062, 141.74, 53.303771),
        (0.000060, 207.14, 2.453732), (0.000056, 154.84, 7.306860), (0.000047, 34.52, 27.261239),
        (0.000042, 207.19, 0.121824), (0.000040, 291.34, 1.844379), (0.000037, 161.72, 24.198154),
        (0.000035, 239.56, 25.513099), (0.000023, 331.55, 3.592518),
    )
    # fmt: on
    extra = 0.0
    for i, (coef, a0, a1) in enumerate(planetary):
        arg = a0 + a1 * k - (0.009173 * t * t if i == 0 else 0.0)
        extra += coef * s(rad(arg))
    return jde + corr + extra


def new_moon_instant(k: int) -> datetime:
    """The instant (CST) of new moon number ``k`` (k = 0: 2000-01-06)."""
    return _jd_to_datetime_utc(_tt_to_ut(_new_moon_jde(k))).astimezone(CST)


@lru_cache(maxsize=4096)
def _new_moon_date(k: int) -> date:
    return new_moon_instant(k).date()


def new_moon_on_or_before(day: date) -> date:
    """The CST date of the last new moon on or before ``day``: the first day (初一) of its lunar month."""
    jd = _datetime_to_jd(datetime(day.year, day.month, day.day, tzinfo=UTC))
    k = math.floor((jd - 2451550.09766) / _SYNODIC_MONTH)
    while _new_moon_date(k) > day:
        k -= 1
    while _new_moon_date(k + 1) <= day:
        k += 1
    return _new_moon_date(k)


def next_solar_term(day: date) -> tuple[SolarTerm, date]:
    """The first term whose CST date is after ``day``, with that date."""
    _, by_date, dates = _year_table(day.year)
    i = bisect.bisect_right(dates, day)
    if i < len(dates):
        return by_date[dates[i]], dates[i]
    _, by_date, dates = _year_table(day.year + 1)
    return by_date[dates[0]], dates[0]
