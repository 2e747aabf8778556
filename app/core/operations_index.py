"""The customer-operations index (客户运营指数): how the shop's four customer groups fare.

Groups (they overlap: a member who bought is in both "member" and "purchaser"):

- visitor (访客): everyone the shop knows, from events or the CRM import;
- fan (粉丝): followed the shop (a follow event) or flagged ``is_fan`` by the CRM;
- purchaser (已购): bought at least once (events, or orders imported from the CRM);
- member (会员): a member by the CRM (``is_member``, a ``member_level`` or ``member_since``).

Per group: its size; the active share (seen in the last 30 days, today included);
its value: share of all spend (GMV share), average order value, repurchase rate (share
of its purchasers with two orders or more); and its size at the end of each of the
last 30 days.

That size trend is rebuilt from profile timestamps, not measured: a group's size on
day d counts today's members who had joined by d (first seen, followed, first
purchase, ``member_since``). Members whose join date is unknown (a CRM flag without a
date) count on every day, and people who left a group (unfollowed, membership ended)
are not seen in the past at all. Ratios (active share, GMV share …) cannot be rebuilt
so: they have a history only through :func:`snapshot`, the day's figures the console
stores whenever it computes the index (:func:`metric_series` reads them back).

Pure: profiles in, figures out; the caller reads Redis and stores snapshots.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.core.derived import LIFECYCLE_STAGES, RFM_SEGMENTS, DerivedSettings, derive
from app.core.profile import Behaviour, Context

GROUPS: tuple[str, ...] = ("visitor", "fan", "purchaser", "member")
ACTIVE_DAYS = 30
TREND_DAYS = 30
SEGMENTS: tuple[str, ...] = (*(seg for seg, _ in RFM_SEGMENTS.values()), "prospect")
SNAPSHOT_METRICS: tuple[str, ...] = ("count", "active_share", "gmv_share", "avg_order_value", "repurchase_rate")


@dataclass(frozen=True)
class CustomerFacts:
    """What the index needs of one visitor; dates are local calendar dates of the shop."""

    first_seen: date | None = None
    last_seen: date | None = None
    is_fan: bool = False
    fan_since: date | None = None
    is_purchaser: bool = False
    first_purchase: date | None = None
    is_member: bool = False
    member_since: date | None = None
    orders: int = 0
    spend: float = 0.0
    lifecycle_stage: str | None = None
    r_score: int | None = None
    f_score: int | None = None
    rfm_segment: str | None = None

    def in_group(self, group: str) -> bool:
        return group == "visitor" or (
            self.is_fan if group == "fan" else self.is_purchaser if group == "purchaser" else self.is_member
        )

    def joined(self, group: str) -> date | None:
        """When the visitor entered ``group``; None when unknown (counted on every day)."""
        return {"visitor": self.first_seen, "fan": self.fan_since, "purchaser": self.first_purchase, "member": self.member_since}[group]


def _date_text(value: Any) -> date | None:
    """A 'YYYY-MM-DD…' CRM date; anything else is unknown (the date only shapes the trend)."""
    try:
        return date.fromisoformat(str(value)[:10]) if value is not None else None
    except ValueError:
        return None


def _days_before(today: date, days: Any) -> date | None:
    return today - timedelta(days=int(days)) if isinstance(days, int) else None


def local_today(now: float, settings: DerivedSettings) -> date:
    """The shop's calendar date at ``now`` (its time zone, as the derived attributes use)."""
    return datetime.fromtimestamp(now, ZoneInfo(settings.timezone)).date()


def customer_facts(
    known: Mapping[str, Any],
    behaviour: Behaviour,
    now: float,
    settings: DerivedSettings,
    *,
    spend_rank_pct: float | None = None,
) -> CustomerFacts:
    """One visitor's facts, through the same derived attributes crowd rules read."""
    d = derive(known, behaviour, Context(ts=now), settings, spend_rank_pct=spend_rank_pct)
    today = date.fromisoformat(d["local_date"])
    followed = behaviour.followed_at
    return CustomerFacts(
        first_seen=_days_before(today, d["days_since_first_seen"]),
        last_seen=_days_before(today, d["days_since_last_seen"]),
        is_fan=bool(d["is_fan"]),
        fan_since=datetime.fromtimestamp(followed, ZoneInfo(settings.timezone)).date() if followed is not None else None,
        is_purchaser=bool(d["is_purchaser"]),
        first_purchase=_days_before(today, d["days_since_first_purchase"]),
        is_member=bool(d["is_member"]),
        member_since=_date_text(known.get("member_since")),
        orders=int(d["frequency"]),
        spend=float(d["monetary"]),
        lifecycle_stage=d["lifecycle_stage"],
        r_score=d["r_score"],
        f_score=d["f_score"],
        rfm_segment=d["rfm_segment"],
    )


@dataclass(frozen=True)
class GroupFigures:
    group: str
    count: int
    active: int  # seen in the last ACTIVE_DAYS days
    gmv: float  # the group's spend, all time
    orders: int
    purchasers: int
    repeat_purchasers: int  # purchasers with two orders or more
    sizes: tuple[int, ...]  # size at the end of each trend day, oldest first
    total_gmv: float  # every visitor's spend: the denominator of the GMV share

    @property
    def active_share(self) -> float | None:
        return self.active / self.count if self.count else None

    @property
    def gmv_share(self) -> float | None:
        return self.gmv / self.total_gmv if self.total_gmv else None

    @property
    def avg_order_value(self) -> float | None:
        return self.gmv / self.orders if self.orders else None

    @property
    def repurchase_rate(self) -> float | None:
        return self.repeat_purchasers / self.purchasers if self.purchasers else None

    @property
    def joined_in_trend(self) -> int:
        """How many joined during the trend window (size growth from its first day)."""
        return self.sizes[-1] - self.sizes[0] if self.sizes else 0


@dataclass(frozen=True)
class OperationsIndex:
    today: date
    visitors: int
    groups: tuple[GroupFigures, ...]
    trend_days: tuple[date, ...]
    lifecycle: tuple[tuple[str, int], ...]  # every stage in order, then "unknown" if any
    rfm_grid: tuple[tuple[int, ...], ...]  # purchasers by [r_score - 1][f_score - 1]
    rfm_grid_gmv: tuple[tuple[float, ...], ...]
    segments: tuple[tuple[str, int, float], ...]  # (segment, visitors, spend)

    def group(self, name: str) -> GroupFigures:
        return next(g for g in self.groups if g.group == name)


@dataclass
class _Tally:
    count: int = 0
    active: int = 0
    gmv: float = 0.0
    orders: int = 0
    purchasers: int = 0
    repeat: int = 0


def compute_index(
    facts: Iterable[CustomerFacts], today: date, *, active_days: int = ACTIVE_DAYS, trend_days: int = TREND_DAYS
) -> OperationsIndex:
    days = tuple(today - timedelta(days=trend_days - 1 - i) for i in range(trend_days))
    first_day = days[0]
    active_from = today - timedelta(days=active_days - 1)
    tallies = {g: _Tally() for g in GROUPS}
    # per group: members counted from the first trend day on, and joins on each later day
    base = dict.fromkeys(GROUPS, 0)
    joins = {g: [0] * trend_days for g in GROUPS}
    stages: dict[str, int] = {}
    grid = [[0] * 5 for _ in range(5)]
    grid_gmv = [[0.0] * 5 for _ in range(5)]
    segments: dict[str, list[float]] = {s: [0, 0.0] for s in SEGMENTS}
    visitors = 0
    for f in facts:
        visitors += 1
        active = f.last_seen is not None and f.last_seen >= active_from
        for g in GROUPS:
            if not f.in_group(g):
                continue
            t = tallies[g]
            t.count += 1
            t.active += active
            t.gmv += f.spend
            t.orders += f.orders
            t.purchasers += f.is_purchaser
            t.repeat += f.orders >= 2
            joined = f.joined(g)
            if joined is None or joined <= first_day:
                base[g] += 1
            else:  # a join date after today (a clock ahead) counts today
                joins[g][min((joined - first_day).days, trend_days - 1)] += 1
        stage = f.lifecycle_stage or "unknown"
        stages[stage] = stages.get(stage, 0) + 1
        if f.r_score and f.f_score:
            grid[f.r_score - 1][f.f_score - 1] += 1
            grid_gmv[f.r_score - 1][f.f_score - 1] += f.spend
        if f.rfm_segment in segments:
            segments[f.rfm_segment][0] += 1
            segments[f.rfm_segment][1] += f.spend
    total_gmv = tallies["visitor"].gmv
    groups = []
    for g in GROUPS:
        t = tallies[g]
        sizes, size = [], base[g]
        for n in joins[g]:
            size += n
            sizes.append(size)
        groups.append(
            GroupFigures(g, t.count, t.active, round(t.gmv, 2), t.orders, t.purchasers, t.repeat, tuple(sizes), round(total_gmv, 2))
        )
    lifecycle = [(s, stages.get(s, 0)) for s in LIFECYCLE_STAGES] + ([("unknown", stages["unknown"])] if "unknown" in stages else [])
    return OperationsIndex(
        today=today,
        visitors=visitors,
        groups=tuple(groups),
        trend_days=days,
        lifecycle=tuple(lifecycle),
        rfm_grid=tuple(tuple(row) for row in grid),
        rfm_grid_gmv=tuple(tuple(round(x, 2) for x in row) for row in grid_gmv),
        segments=tuple((s, int(n), round(gmv, 2)) for s, (n, gmv) in segments.items()),
    )


def snapshot(index: OperationsIndex) -> dict[str, dict[str, float | int | None]]:
    """The day's figures per group, as stored (one record per day, the last computation wins)."""
    return {
        g.group: {
            "count": g.count,
            "active_share": g.active_share,
            "gmv_share": g.gmv_share,
            "avg_order_value": g.avg_order_value,
            "repurchase_rate": g.repurchase_rate,
        }
        for g in index.groups
    }


def metric_series(
    snapshots: Mapping[str, Mapping[str, Mapping[str, Any]]], days: Sequence[date], group: str, metric: str
) -> list[float | None]:
    """One metric of one group on each day, from stored snapshots (None: no snapshot that day)."""
    out: list[float | None] = []
    for day in days:
        value = snapshots.get(day.isoformat(), {}).get(group, {}).get(metric)
        out.append(float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None)
    return out
