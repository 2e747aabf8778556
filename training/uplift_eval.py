"""How good is an uplift model: Qini and uplift curves, uplift@k, and the value of granting policies.

Curves, for one treatment against the control on a randomized held-out set: rows are
sorted by predicted uplift, best first, and cut after each group of tied scores (so the
order within a tie never matters). After the first ``k`` rows, with ``N_t(k)``,
``N_c(k)`` the treated and control rows and ``Y_t(k)``, ``Y_c(k)`` their summed outcomes::

    Qini   Q(k) = Y_t(k) - Y_c(k) · N_t(k) / N_c(k)          (0 · … when N_c(k) = 0)
    uplift U(k) = (Y_t(k) / N_t(k) - Y_c(k) / N_c(k)) · k     (a term is 0 while its group is empty)

both divided by ``N`` (all rows) and plotted against ``k / N``. A coefficient is the
area between the curve and the straight line from (0, 0) to its end point (what random
targeting reaches), by the trapezoid rule: 0 for a random score, positive when the
responsive rows come first. With the simulator's truth, the *true* Qini curve is the
cumulative sum of the rows' true uplifts, in the same order, over ``N``.

``uplift_at_k``: treated rate minus control rate among the top ``k`` share of rows.

Policies grant each visitor one arm (0 = nothing). Their value is the simulator's true
incremental profit summed over visitors, their spend the true expected cost of the
rights granted, both per visitor. :func:`oracle_at_spend` is the best any policy can do
without spending more: for a price ``λ`` on spend, each visitor gets the arm with the
highest ``incremental profit - λ · cost`` (none if no arm is positive); ``λ`` is the
smallest, by bisection, whose spend stays within the budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Curve:
    x: np.ndarray  # share of rows targeted, from 0
    y: np.ndarray  # the curve's value there, per row of the population

    @property
    def coefficient(self) -> float:
        """Area between the curve and the random line from (0, 0) to its end."""
        random = self.x * self.y[-1]
        return float(np.trapezoid(self.y - random, self.x))


def _cut_points(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order (best first) and the positions after which a cut may fall (ends of ties)."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    s = np.asarray(score, dtype=float)[order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    return order, ends


def _cumulative(y: np.ndarray, treated: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    order, ends = _cut_points(score)
    t = np.asarray(treated, dtype=bool)[order]
    yv = np.asarray(y, dtype=float)[order]
    n_t = np.cumsum(t)[ends].astype(float)
    n_c = np.cumsum(~t)[ends].astype(float)
    y_t = np.cumsum(np.where(t, yv, 0.0))[ends]
    y_c = np.cumsum(np.where(t, 0.0, yv))[ends]
    return ends + 1.0, n_t, n_c, y_t, y_c


def qini_curve(y: np.ndarray, treated: np.ndarray, score: np.ndarray) -> Curve:
    k, n_t, n_c, y_t, y_c = _cumulative(y, treated, score)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = y_t - np.where(n_c > 0, y_c * n_t / n_c, 0.0)
    n = float(len(y))
    return Curve(np.r_[0.0, k / n], np.r_[0.0, q / n])


def uplift_curve(y: np.ndarray, treated: np.ndarray, score: np.ndarray) -> Curve:
    k, n_t, n_c, y_t, y_c = _cumulative(y, treated, score)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_t = np.where(n_t > 0, y_t / n_t, 0.0)
        rate_c = np.where(n_c > 0, y_c / n_c, 0.0)
    n = float(len(y))
    return Curve(np.r_[0.0, k / n], np.r_[0.0, (rate_t - rate_c) * k / n])


def true_qini_curve(true_uplift: np.ndarray, score: np.ndarray) -> Curve:
    order, ends = _cut_points(score)
    gain = np.cumsum(np.asarray(true_uplift, dtype=float)[order])[ends]
    n = float(len(true_uplift))
    return Curve(np.r_[0.0, (ends + 1.0) / n], np.r_[0.0, gain / n])


def uplift_at_k(y: np.ndarray, treated: np.ndarray, score: np.ndarray, k: float) -> float:
    """Treated minus control outcome rate among the top ``k`` share of rows (NaN if a group is empty)."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")[: max(1, round(k * len(score)))]
    t = np.asarray(treated, dtype=bool)[order]
    yv = np.asarray(y, dtype=float)[order]
    if not t.any() or t.all():
        return float("nan")
    return float(yv[t].mean() - yv[~t].mean())


def true_uplift_at_k(true_uplift: np.ndarray, score: np.ndarray, k: float) -> float:
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")[: max(1, round(k * len(score)))]
    return float(np.asarray(true_uplift, dtype=float)[order].mean())


@dataclass(frozen=True)
class PolicyValue:
    value: float  # true incremental profit per visitor (yuan)
    spend: float  # true expected cost of the granted rights per visitor (yuan)
    granted: float  # share of visitors granted a right

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "spend": self.spend, "granted": self.granted}


def policy_value(choice: np.ndarray, incremental_profit: np.ndarray, cost: np.ndarray) -> PolicyValue:
    """``choice``: the arm index granted per visitor (0 = none); truth arrays are (n, arms)."""
    idx = np.arange(len(choice))
    return PolicyValue(
        float(incremental_profit[idx, choice].mean()), float(cost[idx, choice].mean()), float((choice > 0).mean())
    )


def best_positive(estimate: np.ndarray) -> np.ndarray:
    """The arm with the highest estimated incremental profit, or 0 (none) where no arm is positive."""
    best = estimate[:, 1:].argmax(axis=1) + 1
    return np.where(estimate[np.arange(len(best)), best] > 0, best, 0)


def oracle_at_spend(incremental_profit: np.ndarray, cost: np.ndarray, budget: float, *, steps: int = 60) -> np.ndarray:
    """The oracle's choice when its spend per visitor may not exceed ``budget`` (see the module docstring)."""
    unconstrained = best_positive(incremental_profit)
    if policy_value(unconstrained, incremental_profit, cost).spend <= budget:
        return unconstrained
    lo, hi = 0.0, 1.0
    while policy_value(best_positive(incremental_profit - hi * cost), incremental_profit, cost).spend > budget:
        hi *= 2.0
        if hi > 1e6:
            return np.zeros(len(incremental_profit), dtype=int)
    for _ in range(steps):
        mid = (lo + hi) / 2
        if policy_value(best_positive(incremental_profit - mid * cost), incremental_profit, cost).spend > budget:
            lo = mid
        else:
            hi = mid
    return best_positive(incremental_profit - hi * cost)


def at_same_spend(choice: np.ndarray, incremental_profit: np.ndarray, cost: np.ndarray) -> tuple[PolicyValue, PolicyValue, float]:
    """A policy's value, the oracle's held to its spend, and their ratio (NaN when the oracle has nothing)."""
    value = policy_value(choice, incremental_profit, cost)
    oracle = policy_value(oracle_at_spend(incremental_profit, cost, value.spend), incremental_profit, cost)
    return value, oracle, value.value / oracle.value if oracle.value > 0 else float("nan")
