"""Feature rows, defined once: the service builds them to score, `training/` imports them to learn.

A visitor's row describes what they did and the context of the page view, from the
same :class:`~app.core.profile.Behaviour` the profile store folds, so a model trained
on rows built from an event log sees exactly what it sees when serving. Nothing here
reads CRM attributes: the attribute models exist to predict those for visitors who
have none, and they must learn from what every visitor has.

Missing values are NaN (LightGBM routes them itself), never a made-up 0: "never
bought" and "bought 0 days ago" must stay different.

The names and their order are part of a model's manifest; :data:`FEATURES_VERSION`
changes whenever a definition here changes, so the service refuses a model built with
other definitions.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

import numpy as np

from app.core.catalog import Candidates, price_position
from app.core.engagement import IMPRESSION_UNIT, Engagement
from app.core.profile import Behaviour, Context

FEATURES_VERSION = "visitor-2"

DAY_S = 86400.0
DEVICES = ("mobile", "desktop", "tablet", "app")
CHANNELS = ("search", "social", "direct", "ads", "email")

BASE_FEATURES = (
    "views",
    "clicks",
    "carts",
    "orders",
    "log_spend",  # ln(1 + spend in yuan)
    "avg_order_value",  # yuan; NaN before the first order
    "click_rate",  # clicks / views; NaN without views
    "cart_rate",  # carts / views; NaN without views
    "days_since_first_seen",
    "days_since_last_seen",
    "days_since_first_purchase",  # NaN before the first order
    "days_since_last_purchase",  # NaN before the first order
    "is_fan",  # followed the shop (behaviour only)
    "hour",  # local hour of the page view, 0-23
    "weekday",  # local weekday, 1 = Monday
    "category_entropy",  # how spread the visitor's views are over categories (nats); NaN without views
    # Mean price position of the products viewed (ln of price over the category's median):
    # a price-sensitive visitor clicks the cheaper ones. NaN without priced views.
    "viewed_price_position",
)


@dataclass(frozen=True)
class FeatureSpec:
    """The feature layout for one shop: its categories (in a fixed order) and time zone."""

    categories: tuple[str, ...]
    timezone: str = "Asia/Shanghai"
    version: str = FEATURES_VERSION

    @cached_property
    def visitor_names(self) -> tuple[str, ...]:
        return (
            *BASE_FEATURES,
            *(f"device={d}" for d in DEVICES),
            *(f"channel={c}" for c in CHANNELS),
            *(f"view_share={c}" for c in self.categories),
        )

    @cached_property
    def layout(self) -> str:
        """The version and a digest of the names in order: rows logged under one layout
        have the same columns, so a decision log can name them and join them safely."""
        digest = hashlib.sha256("\n".join(self.visitor_names).encode()).hexdigest()[:12]
        return f"{self.version}:{digest}"

    @cached_property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def manifest(self) -> dict[str, object]:
        return {"version": self.version, "categories": list(self.categories), "timezone": self.timezone, "names": list(self.visitor_names)}


def _days(now: float, then: float | None) -> float:
    return (now - then) / DAY_S if then is not None else math.nan


def visitor_row(spec: FeatureSpec, behaviour: Behaviour, context: Context) -> np.ndarray:
    """One visitor's features at ``context.ts``, in ``spec.visitor_names`` order."""
    b, now = behaviour, context.ts
    local = datetime.fromtimestamp(now, spec._zone)
    views = b.views
    cat_views = np.array([b.viewed_categories.get(c, 0) for c in spec.categories], dtype=float)
    total_cat = cat_views.sum()
    if total_cat > 0:
        shares = cat_views / total_cat
        nz = shares[shares > 0]
        entropy = float(-(nz * np.log(nz)).sum())
    else:
        shares = np.full(len(spec.categories), math.nan)
        entropy = math.nan
    base = [
        views,
        b.clicks,
        b.carts,
        b.orders,
        math.log1p(b.spend),
        b.spend / b.orders if b.orders else math.nan,
        b.clicks / views if views else math.nan,
        b.carts / views if views else math.nan,
        _days(now, b.first_seen),
        _days(now, b.last_seen),
        _days(now, b.first_purchase_at),
        _days(now, b.last_purchase_at),
        1.0 if b.followed_at is not None and b.followed_at <= now else 0.0,
        local.hour,
        local.isoweekday(),
        entropy,
        math.nan if b.viewed_price_position is None else b.viewed_price_position,
    ]
    device = [1.0 if context.device == d else 0.0 for d in DEVICES]
    channel = [1.0 if context.channel == c else 0.0 for c in CHANNELS]
    return np.concatenate([np.array(base + device + channel, dtype=float), shares])


class VisitorRows:
    """One page view's visitor rows, each feature layout built once.

    The attribute models, the ranker and the uplift model of a shop are trained on the
    same layout, so a page view builds one row (about 0.1 ms) for all three, not one
    each. The rows are read-only: every reader gets the same array.
    """

    def __init__(self, behaviour: Behaviour, context: Context) -> None:
        self.behaviour = behaviour
        self.context = context
        self._rows: dict[FeatureSpec, np.ndarray] = {}

    def row(self, spec: FeatureSpec) -> np.ndarray:
        row = self._rows.get(spec)
        if row is None:
            row = visitor_row(spec, self.behaviour, self.context)
            row.flags.writeable = False
            self._rows[spec] = row
        return row


def visitor_matrix(spec: FeatureSpec, rows: Sequence[tuple[Behaviour, Context]]) -> np.ndarray:
    """Rows for many visitors (training, batch scoring): shape (n, len(visitor_names))."""
    if not rows:
        return np.empty((0, len(spec.visitor_names)))
    return np.vstack([visitor_row(spec, b, c) for b, c in rows])


# --- ranking: a visitor's row beside each candidate product's columns -----------------

RANKING_VERSION = "ranking-3"
PRODUCT_FEATURES = (
    "log_price",
    "price_vs_category",  # ln(price / the category's median price in the catalog)
    "log_popularity",  # ln(1 + decayed popularity) at the time of the page view
    "days_since_added",  # NaN when unknown
    "category_code",  # index in spec.categories, -1 for a category the model never saw
    "category_affinity",  # the visitor's share of views in this product's category
    "category_views",  # the visitor's views in this product's category (how sure that share is)
    "product_ctr",  # ln of clicks per impression, pulled towards the shop's rate (see RATE_PRIOR)
    "product_exposure",  # ln(1 + impressions): how much the rate above rests on
    "product_buy_rate",  # ln of purchases per view, pulled towards the shop's rate
    "price_vs_viewed",  # price_vs_category minus the visitor's viewed_price_position (in its row)
)
# How many impressions (or views) of the shop's average a product's rate starts from: a
# product shown a handful of times is judged mostly by the shop, one shown a thousand
# times by itself. NaN where the shop has no clicks (or purchases) at all yet.
RATE_PRIOR = 20.0


def ranking_names(spec: FeatureSpec) -> tuple[str, ...]:
    return (*spec.visitor_names, *PRODUCT_FEATURES)


def _counts(counter: Mapping[str, int], ids: Sequence[str]) -> np.ndarray:
    return np.fromiter((counter.get(i, 0) for i in ids), dtype=float, count=len(ids))


def _smoothed_log_rate(hits: np.ndarray, trials: np.ndarray, total_hits: float, total_trials: float) -> np.ndarray:
    if total_hits <= 0 or total_trials <= 0:
        return np.full(len(hits), math.nan)
    prior = total_hits / total_trials
    return np.log((hits + RATE_PRIOR * prior) / (trials + RATE_PRIOR))


def ranking_matrix(
    spec: FeatureSpec,
    visitor: np.ndarray,
    behaviour: Behaviour,
    candidates: Candidates,
    popularity: Mapping[str, float],
    popularity_scale: float,
    category_price: Mapping[str, float],
    now: float,
    *,
    engagement: Engagement,
) -> np.ndarray:
    """Rows for ranking ``candidates`` for one visitor: shape (len(candidates), len(ranking_names)).

    ``visitor`` is :func:`visitor_row` for this page view; ``popularity`` times
    ``popularity_scale`` is decayed popularity at ``now`` (the stored forward-decayed
    values and their common factor, as the service holds them); ``engagement`` the
    products' counters (app.core.engagement). Built column-wise from the candidates'
    cached columns: no per-product Python on the page view's path but the lookups of
    each candidate's counts.
    """
    c = candidates
    n = len(c)
    if n == 0:
        return np.empty((0, len(spec.visitor_names) + len(PRODUCT_FEATURES)))
    codes = {cat: i for i, cat in enumerate(spec.categories)}
    median = np.array([category_price.get(cat, math.nan) for cat in c.categories])[c.category_codes]
    median = np.where(np.isnan(median) | (median <= 0), c.prices, median)
    pop = np.fromiter((popularity.get(i, 0.0) for i in c.ids), dtype=float, count=n) * popularity_scale
    by_category = np.array([behaviour.viewed_categories.get(cat, 0) for cat in c.categories], dtype=float)[c.category_codes]
    total_views = sum(behaviour.viewed_categories.values())
    share = by_category / total_views if total_views else np.full(n, math.nan)
    price_vs_category = price_position(c.prices, median)
    viewed = behaviour.viewed_price_position
    viewed_position = math.nan if viewed is None else viewed
    e, totals = engagement, engagement.totals
    impressions = _counts(e.impressions, c.ids) / IMPRESSION_UNIT
    views = _counts(e.views, c.ids)
    cols = np.column_stack(
        [
            np.log1p(c.prices),
            price_vs_category,
            np.log1p(np.maximum(pop, 0.0)),
            (now - c.added_at) / DAY_S,
            np.array([codes.get(cat, -1) for cat in c.categories], dtype=float)[c.category_codes],
            share,
            by_category,
            _smoothed_log_rate(_counts(e.clicks, c.ids), impressions, totals["clicks"], totals["impressions"] / IMPRESSION_UNIT),
            np.log1p(impressions),
            _smoothed_log_rate(_counts(e.purchases, c.ids), views, totals["purchases"], totals["views"]),
            price_vs_category - viewed_position,
        ]
    )
    return np.hstack([np.broadcast_to(visitor, (n, len(visitor))), cols])
