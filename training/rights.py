"""The demo shop's discount rights and what each costs the shop when it is redeemed.

The ids are the ones the service's demo shop defines. Money is yuan. A right costs
nothing unless the visitor orders; then it costs what its terms say, computed from the
order value (the merchandise value before the discount):

    amount_off   ``amount`` if the order reaches ``min_spend``, else 0 (not redeemable)
    percent_off  ``rate · order``, at most ``cap``
    free_ship    the shop's shipping cost per order
    points       the extra points' value: ``rate · order``
    gift         the gift's cost per order

Both the campaign simulator (true costs, from the order-value distribution) and the
model's policy (expected cost from predicted P(buy) and order value) use these formulas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr  # the standard normal CDF

CONTROL = "none"  # the arm without any right


@dataclass(frozen=True)
class Right:
    id: str
    kind: str  # "amount_off" | "percent_off" | "free_ship" | "points" | "gift"
    amount: float = 0.0  # yuan off (amount_off), cost per order (free_ship, gift)
    rate: float = 0.0  # share of the order (percent_off, points)
    min_spend: float = 0.0  # an amount_off is redeemable from this order value on
    cap: float = float("inf")  # most a percent_off takes off one order

    def cost(self, order_value: np.ndarray) -> np.ndarray:
        """The shop's cost of one order of each value under this right (0 where not redeemable)."""
        v = np.asarray(order_value, dtype=float)
        if self.kind == "amount_off":
            return np.where(v >= self.min_spend, self.amount, 0.0)
        if self.kind in ("percent_off", "points"):
            return np.minimum(self.rate * v, self.cap)
        if self.kind in ("free_ship", "gift"):
            return np.full(v.shape, self.amount)
        raise ValueError(f"unknown kind of right {self.kind!r}")

    def expected_cost(self, p_buy: np.ndarray, order_value: np.ndarray, spread: float = 0.0) -> np.ndarray:
        """Expected cost per visitor from a model's predictions: P(buy) and E[order value | buy].

        ``spread`` is the standard deviation of ln(order value) around its prediction
        (the uplift model's manifest records it). With it, a min-spend right counts the
        chance that an order reaches the threshold, taking orders as log-normal around
        the expected value: ``P(order >= T) = Φ((ln(E / T) - spread² / 2) / spread)``.
        Without it (0), an order counts as redeemed when its expected value reaches the
        threshold, which calls a right free for every visitor expected a little below
        it, though many of their orders will reach it.
        """
        p = np.asarray(p_buy, dtype=float)
        if self.kind != "amount_off" or spread <= 0:
            return p * self.cost(order_value)
        v = np.maximum(np.asarray(order_value, dtype=float), 1e-9)
        return p * self.amount * ndtr((np.log(v / self.min_spend) - spread**2 / 2) / spread)


DEMO_RIGHTS: tuple[Right, ...] = (
    Right("cash20", "amount_off", amount=20.0, min_spend=199.0),
    Right("cash50", "amount_off", amount=50.0, min_spend=399.0),
    Right("pct10", "percent_off", rate=0.10, cap=100.0),
    Right("free_ship", "free_ship", amount=8.0),
    Right("points3x", "points", rate=0.02),  # two extra points per yuan, a point is worth 1 fen
    Right("gift", "gift", amount=15.0),
)
RIGHTS_BY_ID = {r.id: r for r in DEMO_RIGHTS}
