"""A randomized coupon campaign on top of a simulated shop, with the true effect of every right.

``run_campaign(sim, CampaignConfig(seed=1))`` takes a :class:`~training.simulator.Simulation`
(unchanged: it only reads its visitors' hidden traits and event log), and at a cutoff
(by default 7 days before the simulation's end) assigns every visitor seen up to then,
plus the ones who arrive in the next 7 days (no history yet), one arm uniformly at
random among ``none`` and the demo rights (:mod:`training.rights`): a randomized log
like the service's exploration share. ``waves`` campaigns run this way, ``wave_days``
apart (wave 0 the latest), so a visitor is logged once per wave, each time with the
row the service would have built at that cutoff. Each visitor's outcome within
``window_days`` (bought or not, the order value) is drawn from the response model
below, and the truth of every visitor under every arm is kept: P(buy), E[order value |
buy], E[revenue], E[cost] and E[profit], and the visitor's group (persuadable, sure
thing, lost cause, sleeping dog). The same simulation and config give the same
campaign, byte for byte.

Response model
==============

Notation: ``σ(x) = 1 / (1 + e^-x)``; for visitor ``v``: propensity ``π``, price
sensitivity ``ps``, category affinities ``aff_c``, fan ``f``; ``level_c`` the category's
typical price (:data:`training.simulator.CATEGORY_LEVELS`); ``n_o`` and ``aov`` the
visitor's orders and average order value before the cutoff (their history: habits carry
on). All draws from one ``numpy.random.Generator`` seeded from ``config.seed``.

Recency, habit and basket::

    δ  = days the visitor has been dormant at the cutoff (0 if active or new)
    ρ  = exp(-δ / 45)                                   reach: a long-dormant visitor
                                                         rarely comes back to see a right
    k  = ln(1 + n_o)                                    buying habit
    B₀ = 1.1 · Σ_c aff_c · level_c · e^{shift[ps]}      typical order value from tastes, yuan
         shift = low +0.1, mid 0, high -0.1               (premium tastes, bargain hunters)
    B  = √(B₀ · aov) for past buyers, else B₀            what they did buy counts too

Orders: a buyer's order value before any right is ``X = B · e^{0.45 Z - 0.45²/2}``,
``Z ~ N(0, 1)``. Under a min-spend right (threshold ``T``) a buyer below it tops the
basket up to ``1.05 T`` with probability ``t[ps] · e^{-(T - X) / (0.3 T)}``
(t = low 0.4, mid 0.8, high 0.9); the right is redeemed when the order reaches ``T``.
``q_a`` is the probability that a buyer's order is redeemable under arm ``a``.

Groups (in this order; a visitor is in the first that applies)::

    p̄ = σ(η̄),  η̄ = -2 + 5 · (π - 0.3) + 0.8 · k - δ / 45    buying without any right
                                                                (the noise ε below aside)
    lost cause    ρ < 0.25 (dormant 62+ days) or p̄ < 0.04
    sleeping dog  p̄ ≥ 0.25, B ≥ 320 and n_o ≥ 1: loyal premium buyers who read a
                  discount as cheapening the brand
    sure thing    p̄ ≥ 0.45
    persuadable   everyone else (how much depends on ps)

Purchase within the window::

    η_none = η̄ + ε_v,     ε_v ~ N(0, 0.4) (hidden, per visitor)
    P(buy | a) = σ(η_none + Δ_a)

    Δ_a = ρ · damp · g_a                 persuadables, sure things, lost causes
    Δ_a = -ρ · h_a                       sleeping dogs
    damp = 1 - σ((p̄ - 0.4) / 0.06)      a sure thing buys anyway: rights barely move it

    perceived discount d_a (share of the order):
      cash20  20 / max(B, 199) · q_a      cash50  50 / max(B, 399) · q_a
      pct10   0.7 · min(0.1, 100 / B)     (a percentage reads smaller than cash)
      free_ship  min(8 / B, 0.15)         (matters on small baskets)
    g_a = 10 · s[ps] · d_a                 s = low 0.8, mid 1.0, high 1.2
    g_points3x = 10 · s[ps] · 0.02 + 0.5 · f + 0.4 · k     (fans, frequent buyers)
    g_gift     = 10 · s[ps] · 0.5 · 15 / max(B, 100) + 1.2 · (aff_beauty + aff_baby)
                 (a sample of beauty or baby products pleases those who buy them)
    h_a = 0.6 + 4 · d_a for cash20, cash50, pct10; free_ship 0.3; points3x 0.2; gift 0.4

Money, with ``m`` the gross margin rate (default 0.35) and ``c_a(x)`` the right's cost
of an order ``x`` (:meth:`training.rights.Right.cost`)::

    revenue_a = P(buy | a) · E[order | buy, a]           (merchandise value, before the right)
    cost_a    = P(buy | a) · E[c_a(order) | buy, a]
    profit_a  = m · revenue_a - cost_a,    incremental profit = profit_a - profit_none

The expectations over ``Z`` are taken on a fixed grid of 64 normal quantiles, so the
truth is exact up to that grid and deterministic; the drawn outcomes use fresh draws.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from scipy.stats import norm

from app.core.features import FeatureSpec, visitor_row
from app.core.profile import Behaviour, Context, Event, apply
from training.rights import CONTROL, DEMO_RIGHTS, Right
from training.simulator import (
    CATEGORY_LEVELS,
    DAY,
    DEFAULT_LEVEL,
    PRICE_SENSITIVITIES,
    Simulation,
    VisitorTruth,
)

GROUPS = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")

REACH_DAYS = 45.0
BASKET_SCALE = 1.1
BASKET_SHIFT = np.array([0.1, 0.0, -0.1])  # by price sensitivity low, mid, high
ORDER_SIGMA = 0.45
TOP_UP = np.array([0.4, 0.8, 0.9])
TOP_UP_SCALE = 0.3
TOP_UP_TO = 1.05
BASE_LOGIT = -2.0
PROPENSITY_SLOPE = 5.0
HABIT = 0.8
VISITOR_NOISE = 0.4
SURE_THING_P = 0.45
DAMP_CENTRE = 0.4  # the damping is half way a little below the sure things' bound
SURE_THING_WIDTH = 0.06
LOST_REACH = 0.25
LOST_P = 0.04
DOG_P = 0.25
DOG_BASKET = 320.0
DISCOUNT_WEIGHT = 10.0
SENSITIVITY = np.array([0.8, 1.0, 1.2])
PERCENT_SALIENCE = 0.7
FREE_SHIP_CAP = 0.15
FAN_POINTS = 0.5
FREQUENT_POINTS = 0.4
GIFT_AFFINITY = 1.2
GIFT_CATEGORIES = ("beauty", "baby")
DOG_BASE = 0.6
DOG_DISCOUNT = 4.0
DOG_OTHER = {"free_ship": 0.3, "points3x": 0.2, "gift": 0.4}
GRID = norm.ppf((np.arange(64) + 0.5) / 64)  # quantiles of N(0, 1): the order-value expectation grid


@dataclass(frozen=True)
class CampaignConfig:
    seed: int
    cutoff_days_before_end: float = 7.0  # visitors arriving after the cutoff take part without history
    window_days: float = 14.0
    waves: int = 3  # campaigns at cutoffs wave_days apart: each visitor is logged once a wave
    wave_days: float = 14.0
    margin_rate: float = 0.35
    rights: tuple[Right, ...] = DEMO_RIGHTS

    def __post_init__(self) -> None:
        if not 0.0 < self.margin_rate < 1.0:
            raise ValueError("margin_rate must be between 0 and 1")
        if self.window_days <= 0 or self.cutoff_days_before_end < 0 or self.waves < 1 or self.wave_days <= 0:
            raise ValueError("window_days, waves and wave_days must be positive and cutoff_days_before_end not negative")

    @property
    def arms(self) -> tuple[str, ...]:
        return (CONTROL, *(r.id for r in self.rights))


@dataclass(frozen=True)
class CampaignTruth:
    """Per visitor (rows) and arm (columns, in ``Campaign.arms`` order)."""

    p_buy: np.ndarray
    order_value: np.ndarray  # E[order value | buy, arm], yuan
    revenue: np.ndarray  # E[revenue | arm] = p_buy · order_value
    cost: np.ndarray  # E[cost of the right | arm]
    profit: np.ndarray  # margin · revenue - cost
    group: np.ndarray  # str per visitor, one of GROUPS

    @property
    def incremental_profit(self) -> np.ndarray:
        return self.profit - self.profit[:, :1]

    @property
    def uplift(self) -> np.ndarray:
        """True P(buy | arm) - P(buy | none)."""
        return self.p_buy - self.p_buy[:, :1]


@dataclass(frozen=True)
class Campaign:
    config: CampaignConfig
    cutoff: float  # the latest wave's
    arms: tuple[str, ...]  # arms[0] is the control
    visitor_ids: list[str]  # per row: a visitor appears once per wave
    wave: np.ndarray  # 0 = the latest cutoff
    X: np.ndarray  # visitor_row at the wave's cutoff, from the events before it
    has_history: np.ndarray  # bool
    assigned: np.ndarray  # arm index per visitor
    propensity: np.ndarray  # the logged assignment probability (1 / len(arms))
    bought: np.ndarray  # bool, within the window
    order_value: np.ndarray  # yuan, 0 without a purchase
    cost: np.ndarray  # the right's realised cost, yuan
    truth: CampaignTruth = field(repr=False)

    @property
    def control(self) -> str:
        return self.arms[0]

    @property
    def profit(self) -> np.ndarray:
        return self.config.margin_rate * self.order_value - self.cost

    @cached_property
    def fingerprint(self) -> str:
        h = hashlib.sha256(np.ascontiguousarray(np.nan_to_num(self.X, nan=-9e9)).tobytes())
        for a in (self.wave, self.assigned, self.bought, self.order_value, self.truth.profit):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:16]


def _basket(v: VisitorTruth, ps: int) -> float:
    level = sum(w * CATEGORY_LEVELS.get(c, ("", DEFAULT_LEVEL))[1] for c, w in v.affinity.items())
    return BASKET_SCALE * level * float(np.exp(BASKET_SHIFT[ps]))


def order_values(basket: np.ndarray, z: np.ndarray, right: Right | None, ps: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Order values of buyers with typical basket ``basket`` at normal draws ``z`` under ``right``.

    ``u`` in [0, 1) decides top-ups towards a min-spend threshold (compared with the
    top-up probability); the truth passes the probability itself to average over it.
    Shapes broadcast: (n, 1) visitors against (1, k) grid points or (n,) against (n,).
    """
    x = basket * np.exp(ORDER_SIGMA * z - ORDER_SIGMA**2 / 2)
    if right is None or right.kind != "amount_off":
        return x
    t = right.min_spend
    p_top = TOP_UP[ps] * np.exp(-(t - x) / (TOP_UP_SCALE * t))
    return np.where((x < t) & (u < p_top), TOP_UP_TO * t, x)


def _order_moments(basket: np.ndarray, ps: np.ndarray, right: Right | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(E[order | buy], E[cost | buy], P(redeemable | buy)) per visitor, over the quantile grid.

    A top-up happens with probability p_top: averaging the two outcomes weighted by it.
    """
    b, s = basket[:, None], ps[:, None]
    x = b * np.exp(ORDER_SIGMA * GRID[None, :] - ORDER_SIGMA**2 / 2)
    if right is None:
        return x.mean(axis=1), np.zeros(len(basket)), np.ones(len(basket))
    if right.kind != "amount_off":
        return x.mean(axis=1), right.cost(x).mean(axis=1), np.ones(len(basket))
    t = right.min_spend
    p_top = np.where(x < t, np.minimum(1.0, TOP_UP[s] * np.exp(-(t - x) / (TOP_UP_SCALE * t))), 0.0)
    topped = TOP_UP_TO * t
    value = (1 - p_top) * x + p_top * topped
    cost = (1 - p_top) * right.cost(x) + p_top * right.cost(np.full_like(x, topped))
    redeemable = (1 - p_top) * (x >= t) + p_top
    return value.mean(axis=1), cost.mean(axis=1), redeemable.mean(axis=1)


def _perceived(right: Right, basket: np.ndarray, redeemable: np.ndarray) -> np.ndarray:
    """The discount as a share of the order, as the visitor perceives it (d_a)."""
    if right.kind == "amount_off":
        return right.amount / np.maximum(basket, right.min_spend) * redeemable
    if right.kind == "percent_off":
        return PERCENT_SALIENCE * np.minimum(right.rate, right.cap / basket)
    if right.kind == "free_ship":
        return np.minimum(right.amount / basket, FREE_SHIP_CAP)
    return np.zeros(len(basket))


def _lift(right: Right, d: np.ndarray, sens: np.ndarray, fan: np.ndarray, habit: np.ndarray, gift_aff: np.ndarray, basket: np.ndarray) -> np.ndarray:
    """g_a: the persuasion of a right on the purchase logit."""
    if right.kind == "points":
        return DISCOUNT_WEIGHT * sens * right.rate + FAN_POINTS * fan + FREQUENT_POINTS * habit
    if right.kind == "gift":
        return DISCOUNT_WEIGHT * sens * 0.5 * right.amount / np.maximum(basket, 100.0) + GIFT_AFFINITY * gift_aff
    return DISCOUNT_WEIGHT * sens * d


def _backlash(right: Right, d: np.ndarray) -> np.ndarray:
    """h_a: how much a right puts a sleeping dog off."""
    if right.kind in ("amount_off", "percent_off"):
        return DOG_BASE + DOG_DISCOUNT * d
    return np.full(len(d), DOG_OTHER.get(right.id, DOG_OTHER.get(right.kind, 0.3)))


def campaign_truth(
    visitors: list[VisitorTruth], history: list[Behaviour | None], cutoff: float, config: CampaignConfig, noise: np.ndarray
) -> tuple[CampaignTruth, np.ndarray, np.ndarray]:
    """The truth of every visitor under every arm; also (basket, price sensitivity index) per visitor.

    ``history``: each visitor's behaviour before the cutoff (None: none yet).
    """
    n = len(visitors)
    orders = np.array([b.orders if b is not None else 0 for b in history], dtype=float)
    aov = np.array([b.spend / b.orders if b is not None and b.orders else np.nan for b in history])
    habit = np.log1p(orders)
    pi = np.array([v.propensity for v in visitors])
    ps = np.array([PRICE_SENSITIVITIES.index(v.price_sensitivity) for v in visitors])
    fan = np.array([1.0 if v.is_fan else 0.0 for v in visitors])
    gift_aff = np.array([sum(v.affinity.get(c, 0.0) for c in GIFT_CATEGORIES) for v in visitors])
    dormant_days = np.array(
        [max(0.0, cutoff - v.dormant_from) / DAY if v.dormant_from is not None else 0.0 for v in visitors]
    )
    reach = np.exp(-dormant_days / REACH_DAYS)
    basket = np.array([_basket(v, int(s)) for v, s in zip(visitors, ps, strict=True)])
    basket = np.where(np.isnan(aov), basket, np.sqrt(basket * np.nan_to_num(aov, nan=1.0)))
    eta_bar = BASE_LOGIT + PROPENSITY_SLOPE * (pi - 0.3) + HABIT * habit - dormant_days / REACH_DAYS
    anyway = 1.0 / (1.0 + np.exp(-eta_bar))
    group = np.full(n, "persuadable", dtype=object)
    lost = (reach < LOST_REACH) | (anyway < LOST_P)
    dog = ~lost & (anyway >= DOG_P) & (basket >= DOG_BASKET) & (orders >= 1)
    sure = ~lost & ~dog & (anyway >= SURE_THING_P)
    group[lost], group[dog], group[sure] = "lost_cause", "sleeping_dog", "sure_thing"

    eta = eta_bar + noise
    damp = 1.0 - 1.0 / (1.0 + np.exp(-(anyway - DAMP_CENTRE) / SURE_THING_WIDTH))
    sens = SENSITIVITY[ps]
    k = len(config.arms)
    p_buy, value, cost = np.zeros((n, k)), np.zeros((n, k)), np.zeros((n, k))
    v0, _, _ = _order_moments(basket, ps, None)
    p_buy[:, 0], value[:, 0] = 1.0 / (1.0 + np.exp(-eta)), v0
    for j, right in enumerate(config.rights, start=1):
        v, c, redeemable = _order_moments(basket, ps, right)
        d = _perceived(right, basket, redeemable)
        delta = np.where(dog, -reach * _backlash(right, d), reach * damp * _lift(right, d, sens, fan, habit, gift_aff, basket))
        p_buy[:, j] = 1.0 / (1.0 + np.exp(-(eta + delta)))
        value[:, j], cost[:, j] = v, p_buy[:, j] * c
    revenue = p_buy * value
    profit = config.margin_rate * revenue - cost
    return CampaignTruth(p_buy, value, revenue, cost, profit, group), basket, ps


def run_campaign(sim: Simulation, config: CampaignConfig, spec: FeatureSpec, *, progress: bool = False) -> Campaign:
    """Randomize, draw the outcomes, keep the truth; rows are the service's own at each wave's cutoff.

    Wave 0 is the latest (its cutoff ``cutoff_days_before_end`` before the end); wave
    ``w`` is ``w · wave_days`` earlier. A wave takes every visitor who has arrived by its
    cutoff plus those arriving within ``cutoff_days_before_end`` days after it (no history yet).
    """
    rng = np.random.default_rng([config.seed, 1009])  # its own stream: the simulation's draws stay untouched
    latest = sim.end - config.cutoff_days_before_end * DAY
    cutoffs = [latest - w * config.wave_days * DAY for w in range(config.waves)]
    snapshots = behaviours_at_each(sim.events, cutoffs)
    parts = []
    for w, cutoff in enumerate(cutoffs):
        visitors = [v for v in sim.visitors if v.active_from < cutoff + config.cutoff_days_before_end * DAY]
        parts.append(_wave(snapshots[w], visitors, cutoff, w, config, spec, rng, progress))
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "truth"}
    truths = [p["truth"] for p in parts]
    truth = CampaignTruth(*(np.concatenate([getattr(t, f) for t in truths]) for f in CampaignTruth.__dataclass_fields__))
    return Campaign(
        config=config, cutoff=latest, arms=config.arms, visitor_ids=[str(v) for v in cat["ids"]], wave=cat["wave"],
        X=cat["X"], has_history=cat["history"], assigned=cat["assigned"], propensity=np.full(len(cat["ids"]), 1.0 / len(config.arms)),
        bought=cat["bought"], order_value=cat["value"], cost=cat["cost"], truth=truth,
    )


def behaviours_at_each(events: list[Event], cutoffs: list[float]) -> list[dict[str, Behaviour]]:
    """:func:`training.attributes.behaviours_at` at every cutoff, in one pass over the sorted events."""
    order = sorted(range(len(cutoffs)), key=lambda i: cutoffs[i])
    out: list[dict[str, Behaviour]] = [{} for _ in cutoffs]
    current: dict[str, Behaviour] = {}
    seen: set[str] = set()
    pos = 0
    for i in order:
        while pos < len(events) and events[pos].ts < cutoffs[i]:
            e = events[pos]
            pos += 1
            if e.event_id in seen:
                continue
            seen.add(e.event_id)
            current[e.visitor_id] = apply(current.get(e.visitor_id, Behaviour()), e)
        out[i] = dict(current)  # Behaviour is frozen: a shallow copy is a snapshot
    return out


def _wave(
    behaviours: dict[str, Behaviour], visitors: list[VisitorTruth], cutoff: float, wave: int, config: CampaignConfig,
    spec: FeatureSpec, rng: np.random.Generator, progress: bool,
) -> dict[str, Any]:
    rows, history = [], []
    it: Any = visitors
    if progress:
        from tqdm import tqdm

        it = tqdm(visitors, desc=f"campaign wave {wave} rows", unit="visitor")
    for v in it:
        b = behaviours.get(v.visitor_id)
        history.append(b is not None)
        rows.append(visitor_row(spec, b if b is not None else Behaviour(), Context(ts=cutoff, device=v.device, channel=v.channel)))
    n, k = len(visitors), len(config.arms)
    noise = rng.normal(0.0, VISITOR_NOISE, n)
    truth, basket, ps = campaign_truth(visitors, [behaviours.get(v.visitor_id) for v in visitors], cutoff, config, noise)
    assigned = rng.integers(0, k, n)
    bought = rng.random(n) < truth.p_buy[np.arange(n), assigned]
    z, u = rng.normal(0.0, 1.0, n), rng.random(n)
    value, cost = np.zeros(n), np.zeros(n)
    for j in range(k):
        rows_j = (assigned == j) & bought
        right = config.rights[j - 1] if j > 0 else None
        value[rows_j] = order_values(basket[rows_j], z[rows_j], right, ps[rows_j], u[rows_j])
        if right is not None:
            cost[rows_j] = right.cost(value[rows_j])
    X = np.vstack(rows) if rows else np.empty((0, len(spec.visitor_names)))
    return {
        "ids": np.array([v.visitor_id for v in visitors], dtype=object), "wave": np.full(n, wave), "X": X,
        "history": np.array(history, dtype=bool), "assigned": assigned, "bought": bought, "value": value, "cost": cost, "truth": truth,
    }
