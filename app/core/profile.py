"""A visitor's profile: what the merchant told us, what the visitor did, and the context.

The behaviour part is a fold of events built only from commutative, idempotent
operations (sums, minima, maxima), so any order of the same set of events gives the
same profile. The Redis store applies exactly these operations in a Lua script; the
pure :func:`fold` here is the reference it is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

EVENT_TYPES: tuple[str, ...] = ("view", "click", "add_to_cart", "purchase", "follow", "exposure")


@dataclass(frozen=True)
class Event:
    """One validated event. ``ts`` is epoch seconds (UTC); money is integer cents."""

    event_id: str
    type: str
    visitor_id: str
    ts: float
    product_id: str | None = None
    category: str | None = None  # resolved from the catalog when the event is ingested
    amount_cents: int | None = None
    render_id: str | None = None
    # the product's price position (app.core.catalog.price_position) in thousandths,
    # resolved from the catalog when the event is ingested, like the category
    price_position_milli: int | None = None
    right_id: str | None = None  # a purchase: the discount right the order used


@dataclass(frozen=True)
class Behaviour:
    """What a visitor did, folded from events. Timestamps are epoch seconds (UTC)."""

    first_seen: float | None = None
    last_seen: float | None = None
    views: int = 0
    clicks: int = 0
    carts: int = 0
    orders: int = 0
    spend_cents: int = 0
    first_purchase_at: float | None = None
    last_purchase_at: float | None = None
    followed_at: float | None = None
    viewed_categories: Mapping[str, int] = field(default_factory=dict)
    # Views of products with a known price position, and the sum of those positions in
    # thousandths: integers, so the sum is exact in any order (Redis and Python agree).
    priced_views: int = 0
    viewed_price_milli: int = 0

    @property
    def spend(self) -> float:
        return self.spend_cents / 100

    @property
    def viewed_price_position(self) -> float | None:
        """Mean price position of what the visitor viewed: below 0, cheaper than is typical
        in each category (a price-sensitive visitor), above 0 dearer; None without views."""
        return self.viewed_price_milli / self.priced_views / 1000 if self.priced_views else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "views": self.views,
            "clicks": self.clicks,
            "add_to_carts": self.carts,
            "orders": self.orders,
            "spend": self.spend,
            "first_purchase_at": self.first_purchase_at,
            "last_purchase_at": self.last_purchase_at,
            "followed_at": self.followed_at,
            "viewed_categories": dict(self.viewed_categories),
            "priced_views": self.priced_views,
            "viewed_price_position": self.viewed_price_position,
        }


@dataclass(frozen=True)
class Context:
    """The request context of one page view, as the storefront sends it."""

    ts: float  # epoch seconds (UTC) of the page view
    device: str | None = None  # e.g. "mobile", "desktop", "tablet", "app"
    channel: str | None = None  # e.g. "search", "social", "direct", "ads", "email"
    region: str | None = None  # e.g. a province or city name
    extra: Mapping[str, Any] = field(default_factory=dict)  # any other key the storefront sends


def _min(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def apply(behaviour: Behaviour, event: Event) -> Behaviour:
    """Behaviour after one more event (no de-duplication: callers pass each event once)."""
    b = replace(
        behaviour,
        first_seen=_min(behaviour.first_seen, event.ts),
        last_seen=_max(behaviour.last_seen, event.ts),
    )
    if event.type == "view":
        cats = dict(b.viewed_categories)
        if event.category:
            cats[event.category] = cats.get(event.category, 0) + 1
        if event.price_position_milli is not None:
            return replace(
                b, views=b.views + 1, viewed_categories=cats,
                priced_views=b.priced_views + 1, viewed_price_milli=b.viewed_price_milli + event.price_position_milli,
            )
        return replace(b, views=b.views + 1, viewed_categories=cats)
    if event.type == "click":
        return replace(b, clicks=b.clicks + 1)
    if event.type == "add_to_cart":
        return replace(b, carts=b.carts + 1)
    if event.type == "purchase":
        return replace(
            b,
            orders=b.orders + 1,
            spend_cents=b.spend_cents + (event.amount_cents or 0),
            first_purchase_at=_min(b.first_purchase_at, event.ts),
            last_purchase_at=_max(b.last_purchase_at, event.ts),
        )
    if event.type == "follow":
        return replace(b, followed_at=_min(b.followed_at, event.ts))
    return b  # exposure: only first/last seen


def fold(events: Iterable[Event], start: Behaviour | None = None) -> Behaviour:
    """Fold events into a behaviour, counting each ``event_id`` once."""
    seen: set[str] = set()
    b = start or Behaviour()
    for e in events:
        if e.event_id in seen:
            continue
        seen.add(e.event_id)
        b = apply(b, e)
    return b
