"""What a right did: grants, redemptions, spend, what is left, and what it changed. Pure.

The incremental conversions are estimated from the exploration share only, where the
arm was drawn at random: the purchase rate of visitors randomly given the right minus
that of visitors randomly given nothing, times the right's grants. Comparing all
grantees with all non-grantees would measure whom the model picked, not what the right
did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from app.rights.definition import Right
from app.rights.policy import pacing_allowance

Z95 = 1.959964
MIN_EXPLORED = 30  # per arm: below this, a rate difference is noise and is not reported as a figure


@dataclass(frozen=True)
class Tally:
    """Counters of one arm (money in cents)."""

    granted: int = 0
    reserved: int = 0
    redeemed: int = 0
    spend: int = 0
    conversions: int = 0
    explored: int = 0
    explored_conversions: int = 0
    granted_today: int = 0
    reserved_today: int = 0
    released: int = 0  # reservations given back by grants that ended unredeemed

    @staticmethod
    def of(counters: dict[str, int], arm: str, day: str) -> Tally:
        g = counters.get
        return Tally(
            g(f"{arm}:granted", 0), g(f"{arm}:reserved", 0), g(f"{arm}:redeemed", 0), g(f"{arm}:spend", 0), g(f"{arm}:conv", 0),
            g(f"{arm}:x:n", 0), g(f"{arm}:x:conv", 0), g(f"{arm}:d:{day}:granted", 0), g(f"{arm}:d:{day}:reserved", 0),
            g(f"{arm}:released", 0),
        )


def incremental(right: Tally, none: Tally) -> dict[str, Any]:
    """Randomized estimate of the conversions the right added (with a 95 % interval)."""
    out: dict[str, Any] = {
        "explored": right.explored, "explored_conversions": right.explored_conversions,
        "control_explored": none.explored, "control_conversions": none.explored_conversions,
    }
    if min(right.explored, none.explored) < MIN_EXPLORED:
        out["status"] = f"not enough randomized visitors yet (at least {MIN_EXPLORED} per arm)"
        return out
    p1, p0 = right.explored_conversions / right.explored, none.explored_conversions / none.explored
    se = math.sqrt(p1 * (1 - p1) / right.explored + p0 * (1 - p0) / none.explored)
    diff = p1 - p0
    out.update(
        status="estimated",
        rate=round(p1, 5), control_rate=round(p0, 5),
        uplift=round(diff, 5), uplift_low=round(diff - Z95 * se, 5), uplift_high=round(diff + Z95 * se, 5),
        incremental_conversions=round(diff * right.granted, 1),
        incremental_low=round((diff - Z95 * se) * right.granted, 1),
        incremental_high=round((diff + Z95 * se) * right.granted, 1),
    )
    return out


def right_report(right: Right, tally: Tally, none: Tally, seconds_into_day: float) -> dict[str, Any]:
    remaining: dict[str, Any] = {}
    if right.budget_cents is not None:
        remaining["money"] = round((right.budget_cents - tally.reserved) / 100, 2)
    if right.budget_count is not None:
        remaining["count"] = right.budget_count - tally.granted
    today: dict[str, Any] = {"granted": tally.granted_today, "reserved": round(tally.reserved_today / 100, 2)}
    if right.daily_count is not None:
        today["count_allowed_now"] = pacing_allowance(right.daily_count, seconds_into_day)
    if right.daily_cents is not None:
        today["money_allowed_now"] = round(pacing_allowance(right.daily_cents, seconds_into_day) / 100, 2)
    return {
        "id": right.id,
        "name": right.name,
        "kind": right.kind,
        "mode": right.mode,
        "status": "active" if right.active else "paused",
        "granted": tally.granted,
        "redeemed": tally.redeemed,
        "redemption_rate": round(tally.redeemed / tally.granted, 4) if tally.granted else None,
        "spend": round(tally.spend / 100, 2),  # per-grant fees as granted, and redemptions
        # what the money budget is charged with: the worst case of every grant still
        # outstanding plus what was really spent (fees, redemptions)
        "reserved": round(tally.reserved / 100, 2),
        "released": round(tally.released / 100, 2),
        "budget": {"money": None if right.budget_cents is None else right.budget_cents / 100, "count": right.budget_count},
        "remaining": remaining,
        "today": today,
        "conversions": tally.conversions,
        "incremental": incremental(tally, none),
    }
