"""Which right to offer one visitor, and why: pure (no Redis, no model calls).

The order of a decision:

1. An experiment's rights lever may say ``none`` (no right) or ``default`` (what
   everyone gets) for this visitor's variant.
2. A visitor who is not personalized (the shop's switch, the visitor's opt-out, the
   shop holdout) gets the shop's default rights, highest priority first.
3. A right in ``crowd`` mode goes to everyone in its crowds: the merchant decided, no
   model is asked (highest priority first when several apply).
4. Otherwise every eligible right (live, and the visitor is in one of its crowds, or
   it names none) is scored by the uplift model: expected incremental profit =
   margin rate × incremental revenue − expected cost of the right. The rights whose
   profit is positive are candidates, best first; none positive means no right (a
   "sure thing" buys anyway, a "lost cause" does not buy either way).
5. A small exploration share gets a uniformly random arm among the eligible rights
   and "none", with the propensity logged, so that the next uplift model learns from
   randomized data and a new policy can be evaluated off-policy.

The result is a list of candidates: the Redis script grants the first one whose
budget, pacing and per-visitor limit allow (atomically), so an exhausted right falls
through to the next best.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.rights.definition import Right

NONE_ARM = "none"


@dataclass(frozen=True)
class ArmScore:
    """The uplift model's view of one right for one visitor (money in yuan)."""

    conversion: float  # P(buy | granted)
    conversion_control: float  # P(buy | no right)
    revenue: float  # E[revenue | granted]
    revenue_control: float  # E[revenue | no right]
    order_value: float  # E[order value | buys, granted]
    order_value_spread: float = 0.0  # sd of ln(order value) around it (the model's; 0: unknown)


@dataclass(frozen=True)
class Scored:
    right: str
    uplift_conversion: float
    uplift_revenue: float
    expected_cost: float
    profit: float  # expected incremental profit, yuan

    def as_dict(self) -> dict[str, Any]:
        return {
            "right": self.right,
            "uplift_conversion": round(self.uplift_conversion, 5),
            "uplift_revenue": round(self.uplift_revenue, 3),
            "expected_cost": round(self.expected_cost, 3),
            "profit": round(self.profit, 3),
        }


@dataclass(frozen=True)
class PolicyInputs:
    rights: Sequence[Right]
    now: float
    matched_crowds: Collection[str]
    personalized: bool = True
    lever: str | None = None  # an experiment's rights policy: "uplift" | "none" | "default"
    scores: Mapping[str, ArmScore] = field(default_factory=dict)
    margin_rate: float = 0.3
    exploration: float = 0.0
    draw: float = 1.0  # U[0, 1): below ``exploration`` explores
    pick: float = 0.0  # U[0, 1): which arm an exploring visitor gets


@dataclass(frozen=True)
class RightsDecision:
    candidates: tuple[str, ...]  # granted in this order of preference, as budgets allow
    reason: str
    arm: str = NONE_ARM  # what the policy chose before budgets: a right id or "none"
    explore: bool = False
    propensity: float | None = None  # P(this arm | visitor) under the policy, for off-policy evaluation
    scores: tuple[Scored, ...] = ()
    hold_s: float = 0.0  # how long a "none" stays decided (an exploring visitor's control arm)
    # how many arms an exploring decision drew among (0: not exploring): 1 / arms is
    # P(this arm | exploring), the propensity within the randomized share alone, which
    # differs between visitors when crowds make different rights eligible
    arms: int = 0
    # exploring decisions only: the arm the model would have chosen. The randomized rows
    # whose greedy arm is a right r are a random sample of the visitors the model grants r
    # to, so comparing their drawn arms estimates r's effect on its own grantees.
    greedy: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"arm": self.arm, "reason": self.reason, "explore": self.explore, "candidates": list(self.candidates)}
        if self.propensity is not None:
            out["propensity"] = round(self.propensity, 6)
        if self.arms:
            out["arms"] = self.arms
        if self.greedy is not None:
            out["greedy"] = self.greedy
        if self.scores:
            out["scores"] = [s.as_dict() for s in self.scores]
        return out


def eligible(rights: Sequence[Right], now: float, matched: Collection[str]) -> list[Right]:
    """Live rights this visitor may get: no crowd named, or one of the visitor's."""
    return [r for r in rights if r.live_at(now) and (not r.crowds or any(c in matched for c in r.crowds))]


def score(right: Right, s: ArmScore, margin_rate: float) -> Scored:
    d_revenue = s.revenue - s.revenue_control
    cost = right.expected_cost(s.conversion, s.order_value, s.order_value_spread)
    return Scored(right.id, s.conversion - s.conversion_control, d_revenue, cost, margin_rate * d_revenue - cost)


def _by_priority(rights: Sequence[Right]) -> tuple[str, ...]:
    return tuple(r.id for r in sorted(rights, key=lambda r: (-r.priority, r.id)))


def decide(x: PolicyInputs) -> RightsDecision:
    live = eligible(x.rights, x.now, x.matched_crowds)
    if x.lever == "none":
        return RightsDecision((), "experiment variant: no rights")
    defaults = [r for r in x.rights if r.default and r.live_at(x.now)]
    if not x.personalized or x.lever == "default":
        why = "experiment variant: the default rights" if x.lever == "default" else "not personalized: the default rights for everyone"
        ids = _by_priority(defaults)
        return RightsDecision(ids, why if ids else f"{why} (the shop has none)", ids[0] if ids else NONE_ARM)
    crowd_rights = [r for r in live if r.mode == "crowd"]
    if crowd_rights:
        ids = _by_priority(crowd_rights)
        first = next(r for r in crowd_rights if r.id == ids[0])
        crowd = next(c for c in first.crowds if c in x.matched_crowds)
        return RightsDecision(ids, f"the same for everyone in crowd {crowd}", ids[0])
    modelled = [r for r in live if r.mode == "uplift"]
    if not modelled:
        return RightsDecision((), "no right is live for this visitor's crowds")
    scored = tuple(sorted((score(r, x.scores[r.id], x.margin_rate) for r in modelled if r.id in x.scores), key=lambda s: -s.profit))
    greedy = tuple(s.right for s in scored if s.profit > 0)
    greedy_arm = greedy[0] if greedy else NONE_ARM
    arms = [NONE_ARM, *sorted(r.id for r in modelled)]
    hold = max(r.grant_s for r in modelled)
    if x.exploration > 0 and x.draw < x.exploration:
        arm = arms[min(int(x.pick * len(arms)), len(arms) - 1)]
        propensity = x.exploration / len(arms) + (1 - x.exploration) * (arm == greedy_arm)
        return RightsDecision(() if arm == NONE_ARM else (arm,), "exploration: a random arm", arm, True, propensity, scored, hold, len(arms), greedy_arm)
    propensity = (1 - x.exploration) + x.exploration / len(arms) if x.exploration > 0 else 1.0
    if greedy:
        best = scored[0]
        why = f"highest expected incremental profit ({best.profit:+.2f}: +{best.uplift_conversion:.1%} purchase, cost {best.expected_cost:.2f})"
        return RightsDecision(greedy, why, greedy_arm, False, propensity, scored)
    if not scored:
        return RightsDecision((), "no uplift model covers the eligible rights (they are granted in the exploration share only)", NONE_ARM, False, propensity)
    return RightsDecision((), f"no right pays for itself (best {scored[0].right}: {scored[0].profit:+.2f})", NONE_ARM, False, propensity, scored)


def pacing_allowance(daily: int, seconds_into_day: float) -> int:
    """How much of a daily budget may be used by this time of the day.

    Spread evenly, with one hour's share of slack so that the first visitors of the
    day are not refused for arriving early; the whole day's amount by its end.
    """
    if daily <= 0:
        return 0
    fraction = min(max(seconds_into_day / 86400.0, 0.0), 1.0)
    return min(daily, math.ceil(daily * fraction + max(daily / 24.0, 1.0)))
