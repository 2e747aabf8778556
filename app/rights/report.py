"""What a right did: grants, redemptions, spend, what is left, and what it changed. Pure.

The incremental conversions are estimated from the exploration share only, where the
arm was drawn at random: the purchase rate of visitors randomly given the right minus
that of visitors randomly given nothing, times the right's grants. Comparing all
grantees with all non-grantees would measure whom the model picked, not what the right
did.

That average effect is the effect on a random visitor. The model grants a right to
the visitors it expects to move most, so for its own grants the average runs low. The
randomized rows also carry the arm the model would have chosen ("greedy"). The ones
whose greedy arm is the right are a random sample of the visitors the model grants it
to, and comparing their drawn arms (the right against nothing) estimates the effect on
those visitors. The ``targeted`` estimate applies that effect to the grants made
outside the randomized share and the average effect to the randomized grants. It
needs many more randomized visitors, because it uses only one cell of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    # the randomized rows of this arm by the arm the model would have chosen: (rows, conversions)
    by_greedy: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    @staticmethod
    def of(counters: dict[str, int], arm: str, day: str) -> Tally:
        g = counters.get
        prefix = f"{arm}:xg:"
        greedy = {k[len(prefix):].rpartition(":")[0] for k in counters if k.startswith(prefix)}
        return Tally(
            g(f"{arm}:granted", 0), g(f"{arm}:reserved", 0), g(f"{arm}:redeemed", 0), g(f"{arm}:spend", 0), g(f"{arm}:conv", 0),
            g(f"{arm}:x:n", 0), g(f"{arm}:x:conv", 0), g(f"{arm}:d:{day}:granted", 0), g(f"{arm}:d:{day}:reserved", 0),
            g(f"{arm}:released", 0), {a: (g(f"{prefix}{a}:n", 0), g(f"{prefix}{a}:conv", 0)) for a in sorted(greedy)},
        )


@dataclass(frozen=True)
class RateDifference:
    """Purchase rate of randomized rows given the right minus that of rows given nothing."""

    n1: int
    c1: int
    n0: int
    c0: int

    @property
    def enough(self) -> bool:
        return min(self.n1, self.n0) >= MIN_EXPLORED

    @property
    def diff(self) -> float:
        return self.c1 / self.n1 - self.c0 / self.n0

    @property
    def se(self) -> float:
        p1, p0 = self.c1 / self.n1, self.c0 / self.n0
        return math.sqrt(p1 * (1 - p1) / self.n1 + p0 * (1 - p0) / self.n0)

    def counts(self) -> dict[str, int]:
        return {"explored": self.n1, "explored_conversions": self.c1, "control_explored": self.n0, "control_conversions": self.c0}

    def rates(self) -> dict[str, float]:
        d, h = self.diff, Z95 * self.se
        return {
            "rate": round(self.c1 / self.n1, 5), "control_rate": round(self.c0 / self.n0, 5),
            "uplift": round(d, 5), "uplift_low": round(d - h, 5), "uplift_high": round(d + h, 5),
        }


def _not_enough(what: str) -> str:
    return f"not enough randomized visitors {what}yet (at least {MIN_EXPLORED} per arm)"


def incremental(right_id: str, right: Tally, none: Tally) -> dict[str, Any]:
    """Randomized estimates of the conversions the right added (with 95 % intervals): from
    its average effect, and (``targeted``) from its effect on the visitors the model picks."""
    avg = RateDifference(right.explored, right.explored_conversions, none.explored, none.explored_conversions)
    out: dict[str, Any] = {**avg.counts(), "targeted": targeted(right_id, right, none, avg)}
    if not avg.enough:
        out["status"] = _not_enough("")
        return out
    d, h = avg.diff, Z95 * avg.se
    out.update(
        status="estimated",
        **avg.rates(),
        incremental_conversions=round(d * right.granted, 1),
        incremental_low=round((d - h) * right.granted, 1),
        incremental_high=round((d + h) * right.granted, 1),
    )
    return out


def targeted(right_id: str, right: Tally, none: Tally, avg: RateDifference) -> dict[str, Any]:
    """The effect on the randomized rows whose greedy arm is the right, applied to the
    grants outside the randomized share; the randomized grants keep the average effect."""
    cell = RateDifference(*right.by_greedy.get(right_id, (0, 0)), *none.by_greedy.get(right_id, (0, 0)))
    picked = right.granted - right.explored  # grants the policy made, not the draw
    out: dict[str, Any] = {**cell.counts(), "picked_grants": picked}
    if not cell.enough or not avg.enough:  # the cell is part of the whole: enough here is enough there
        out["status"] = _not_enough("among those the model picks ")
        return out
    est = picked * cell.diff + right.explored * avg.diff
    # The cell's rows are among the average's, so the two estimates are not independent:
    # adding their half-widths (not their variances) gives an interval at least 95 %.
    half = Z95 * (picked * cell.se + right.explored * avg.se)
    out.update(
        status="estimated",
        **cell.rates(),
        incremental_conversions=round(est, 1), incremental_low=round(est - half, 1), incremental_high=round(est + half, 1),
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
        "incremental": incremental(right.id, tally, none),
    }
