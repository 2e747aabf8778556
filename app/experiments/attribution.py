"""Which events count for which variant: pure.

An event counts for a visitor's variant when it happened at or after the visitor's
first exposure in that phase and before the phase stopped. Purchases make conversions
and revenue, clicks make click-through, redemptions of discount rights (logged by the
rights' purchase script with their cost as the amount) and rights' per-grant fees
(logged by the grant script) make the rights cost. The
records are small strings because they live in Redis hashes of one field per visitor:

    exposure  "variant|first exposure ms|pre-exposure spend cents|pre orders|pre clicks"
    outcome   "orders|revenue cents|first purchase ms|clicks|rights cost cents"

(an outcome written before rights cost was attributed has four fields: its cost is 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Exposure:
    variant: str
    at_ms: int
    pre_spend_cents: int = 0
    pre_orders: int = 0
    pre_clicks: int = 0

    def encode(self) -> str:
        return f"{self.variant}|{self.at_ms}|{self.pre_spend_cents}|{self.pre_orders}|{self.pre_clicks}"

    @classmethod
    def decode(cls, raw: str) -> Exposure:
        variant, at, spend, orders, clicks = raw.split("|")
        return cls(variant, int(at), int(spend), int(orders), int(clicks))


@dataclass(frozen=True)
class Outcome:
    orders: int = 0
    revenue_cents: int = 0
    first_purchase_ms: int | None = None
    clicks: int = 0
    rights_cost_cents: int = 0

    def encode(self) -> str:
        first = "" if self.first_purchase_ms is None else str(self.first_purchase_ms)
        return f"{self.orders}|{self.revenue_cents}|{first}|{self.clicks}|{self.rights_cost_cents}"

    @classmethod
    def decode(cls, raw: str | None) -> Outcome:
        if not raw:
            return cls()
        orders, revenue, first, clicks, *cost = raw.split("|")
        return cls(int(orders), int(revenue), int(first) if first else None, int(clicks), int(cost[0]) if cost else 0)

    def plus(self, event_type: str, ts_ms: int, amount_cents: int) -> Outcome:
        if event_type == "purchase":
            first = ts_ms if self.first_purchase_ms is None else min(self.first_purchase_ms, ts_ms)
            return replace(self, orders=self.orders + 1, revenue_cents=self.revenue_cents + amount_cents, first_purchase_ms=first)
        if event_type == "click":
            return replace(self, clicks=self.clicks + 1)
        if event_type in ("redemption", "grant_fee"):
            return replace(self, rights_cost_cents=self.rights_cost_cents + amount_cents)
        return self


COUNTED = frozenset({"purchase", "click", "redemption", "grant_fee"})


@dataclass(frozen=True)
class Window:
    """One experiment phase: events in [a visitor's first exposure, stopped_at] count."""

    experiment: str
    phase: int
    stopped_at_ms: int | None = None


@dataclass(frozen=True)
class LoggedEvent:
    type: str
    visitor_id: str
    ts_ms: int
    amount_cents: int


def attribute(
    events: Iterable[LoggedEvent],
    exposures: Mapping[str, Exposure],
    outcomes: Mapping[str, Outcome],
    window: Window,
) -> dict[str, Outcome]:
    """The outcomes of one phase after these events: only the visitors that changed."""
    changed: dict[str, Outcome] = {}
    for e in events:
        exposure = exposures.get(e.visitor_id)
        if e.type not in COUNTED or exposure is None or e.ts_ms < exposure.at_ms:
            continue
        if window.stopped_at_ms is not None and e.ts_ms > window.stopped_at_ms:
            continue
        current = changed.get(e.visitor_id) or outcomes.get(e.visitor_id) or Outcome()
        changed[e.visitor_id] = current.plus(e.type, e.ts_ms, e.amount_cents)
    return changed
