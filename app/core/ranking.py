"""Product ranking for a grid before the learned ranker exists: popularity, recency, affinity.

The score of an in-stock product ``p`` for visitor ``v`` at time ``t``:

    base(p)     = 1 + ln(1 + popularity(p, t)) + new_arrival(p, t) + affinity(v, p)
    popularity  = sum over events e on p of weight(e.type) * 2^-((t - e.ts) / HALF_LIFE)
                  with weights view 1, click 2, add_to_cart 4, purchase 10, half-life 7 days
    new_arrival = NEW_ARRIVAL_BONUS * (1 - age / NEW_ARRIVAL_WINDOW) for products younger
                  than the window (14 days), else 0
    affinity    = AFFINITY_WEIGHT * share of the visitor's views in p's category
    score       = base * product of the boosts that match p (id, "category:x", "tag:x")

Merch rules then apply in this order: excluded and out-of-stock products are dropped;
pinned products come first in the merchant's order; the rest by score (ties by id, so
the order is deterministic); at most ``max_per_category`` per category; ``count`` in all.

Popularity is stored with forward decay: each event adds
``weight * 2^((e.ts - EPOCH) / HALF_LIFE)`` to a sorted-set member, so events can arrive
in any order and the stored values only need one common factor
``2^(-(t - EPOCH) / HALF_LIFE)`` to read as decayed counts at time ``t``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from app.core.catalog import Product
from app.core.decision import ScoredProduct

HALF_LIFE_S = 7 * 86400.0
# The forward-decay epoch. Stored values grow by 2x a week; a double holds them for
# ~19 years after the epoch, long before which the epoch is moved with a rescale.
POPULARITY_EPOCH = 1_704_067_200.0  # 2024-01-01T00:00:00Z
EVENT_WEIGHTS: Mapping[str, float] = {"view": 1.0, "click": 2.0, "add_to_cart": 4.0, "purchase": 10.0}
NEW_ARRIVAL_WINDOW_S = 14 * 86400.0
NEW_ARRIVAL_BONUS = 0.5
AFFINITY_WEIGHT = 1.0


def popularity_increment(event_type: str, ts: float) -> float:
    """What one event adds to its product's stored (forward-decayed) popularity."""
    weight = EVENT_WEIGHTS.get(event_type, 0.0)
    return weight * 2.0 ** ((ts - POPULARITY_EPOCH) / HALF_LIFE_S)


def decayed(stored: float, now: float) -> float:
    """A stored forward-decayed value read as a decayed count at ``now``."""
    return stored * 2.0 ** (-(now - POPULARITY_EPOCH) / HALF_LIFE_S)


@dataclass(frozen=True)
class MerchRules:
    count: int = 8
    pin: tuple[str, ...] = ()
    exclude: frozenset[str] = frozenset()
    boost: Mapping[str, float] = field(default_factory=dict)  # id | "category:x" | "tag:x" -> factor
    max_per_category: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> MerchRules:
        mpc = params.get("max_per_category")
        return cls(
            count=int(params.get("count", 8)),  # type: ignore[arg-type]
            pin=tuple(params.get("pin") or ()),  # type: ignore[arg-type]
            exclude=frozenset(params.get("exclude") or ()),  # type: ignore[arg-type]
            boost=dict(params.get("boost") or {}),  # type: ignore[arg-type]
            max_per_category=int(mpc) if mpc else None,  # type: ignore[arg-type]
        )


def _boost_factor(p: Product, boost: Mapping[str, float]) -> tuple[float, list[str]]:
    factor, why = 1.0, []
    for key in (p.id, f"category:{p.category}", *(f"tag:{t}" for t in p.tags)):
        f = boost.get(key)
        if f is not None:
            factor *= f
            why.append(f"boost {key} x{f:g}")
    return factor, why


def score_products(
    products: Iterable[Product],
    popularity: Mapping[str, float],
    now: float,
    category_views: Mapping[str, int] | None = None,
    boost: Mapping[str, float] | None = None,
) -> list[ScoredProduct]:
    """Score products (popularity already decayed to ``now``) in one pass."""
    views = category_views or {}
    total_views = sum(views.values())
    out: list[ScoredProduct] = []
    for p in products:
        pop = popularity.get(p.id, 0.0)
        base = 1.0 + math.log1p(max(pop, 0.0))
        reasons = [f"popularity {pop:.1f}"]
        if p.added_at is not None and 0 <= now - p.added_at < NEW_ARRIVAL_WINDOW_S:
            base += NEW_ARRIVAL_BONUS * (1 - (now - p.added_at) / NEW_ARRIVAL_WINDOW_S)
            reasons.append("new arrival")
        if total_views:
            share = views.get(p.category, 0) / total_views
            if share:
                base += AFFINITY_WEIGHT * share
                reasons.append(f"affinity {p.category} {share:.0%}")
        factor, why = _boost_factor(p, boost or {})
        out.append(ScoredProduct(id=p.id, score=round(base * factor, 6), reason=", ".join(reasons + why)))
    return out


def rank(
    candidates: Sequence[Product],
    popularity: Mapping[str, float],
    now: float,
    rules: MerchRules,
    category_views: Mapping[str, int] | None = None,
) -> list[ScoredProduct]:
    """Rank a grid's candidates under the merchant's rules (see the module docstring)."""
    eligible = {p.id: p for p in candidates if p.in_stock and p.id not in rules.exclude}
    scored = score_products(eligible.values(), popularity, now, category_views, rules.boost)
    by_score = sorted(scored, key=lambda s: (-s.score, s.id))
    score_of = {s.id: s for s in scored}

    chosen: list[ScoredProduct] = []
    per_category: dict[str, int] = {}
    taken: set[str] = set()

    def take(s: ScoredProduct, reason: str | None = None) -> None:
        cat = eligible[s.id].category
        per_category[cat] = per_category.get(cat, 0) + 1
        taken.add(s.id)
        chosen.append(s if reason is None else ScoredProduct(s.id, s.score, reason))

    # Pins are the merchant's explicit choice: they bypass the diversity cap.
    for pid in rules.pin:
        if pid in eligible and pid not in taken and len(chosen) < rules.count:
            take(score_of[pid], "pinned")
    for s in by_score:
        if len(chosen) >= rules.count:
            break
        if s.id in taken:
            continue
        cat = eligible[s.id].category
        if rules.max_per_category is not None and per_category.get(cat, 0) >= rules.max_per_category:
            continue
        take(s)
    return chosen
