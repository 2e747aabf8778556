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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from app.core.catalog import Candidates
from app.core.decision import ScoredProduct

HALF_LIFE_S = 7 * 86400.0
# The forward-decay epoch. Stored values grow by 2x a week; a double holds them for
# ~19 years after the epoch, long before which the epoch is moved with a rescale.
POPULARITY_EPOCH = 1_704_067_200.0  # 2024-01-01T00:00:00Z
EVENT_WEIGHTS: Mapping[str, float] = {"view": 1.0, "click": 2.0, "add_to_cart": 4.0, "purchase": 10.0}
NEW_ARRIVAL_WINDOW_S = 14 * 86400.0
NEW_ARRIVAL_BONUS = 0.5
AFFINITY_WEIGHT = 1.0


# An event older than this many half-lives weighs under a millionth of a fresh one:
# it is not written at all (historical imports are mostly such events).
NEGLIGIBLE_HALF_LIVES = 20


def popularity_increment(event_type: str, ts: float, now: float | None = None) -> float:
    """What one event adds to its product's stored (forward-decayed) popularity.

    With ``now``, an event too old to matter (see :data:`NEGLIGIBLE_HALF_LIVES`) adds 0.
    """
    if now is not None and now - ts > NEGLIGIBLE_HALF_LIVES * HALF_LIFE_S:
        return 0.0
    weight = EVENT_WEIGHTS.get(event_type, 0.0)
    return weight * 2.0 ** ((ts - POPULARITY_EPOCH) / HALF_LIFE_S)


def purchase_score(relevance: np.ndarray, conversion_logit: np.ndarray | None, weight: float) -> np.ndarray:
    """The learned ranker's score of each candidate: relevance plus ``weight`` x ln P(purchase | click).

    ``relevance`` is the lambdarank model's output (learned from clicks and purchases in
    shown lists, where purchases are too rare to teach it much about price); the
    conversion model's logit comes from every click that did or did not end in a
    purchase. A purchase needs both, a click and then a purchase, hence the sum of logs.
    """
    if conversion_logit is None:
        return relevance
    return relevance - weight * np.logaddexp(0.0, -conversion_logit)  # ln sigmoid(x), stable


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


def _boost_vector(c: Candidates, boost: Mapping[str, float]) -> np.ndarray:
    factor = np.ones(len(c))
    codes = {cat: i for i, cat in enumerate(c.categories)}
    for key, f in boost.items():
        if key.startswith("category:"):
            code = codes.get(key[len("category:") :])
            if code is not None:
                factor[c.category_codes == code] *= f
        elif key.startswith("tag:"):
            rows = c.tag_rows.get(key[len("tag:") :])
            if rows is not None:
                factor[rows] *= f
        else:
            row = c.position.get(key)
            if row is not None:
                factor[row] *= f
    return factor


def _reason(c: Candidates, row: int, pop: np.ndarray, new: np.ndarray, share: np.ndarray, boost: Mapping[str, float]) -> str:
    """Why a chosen product scored what it did (built for the chosen few only)."""
    p = c.products[row]
    parts = [f"popularity {pop[row]:.1f}"]
    if new[row]:
        parts.append("new arrival")
    if share[row]:
        parts.append(f"affinity {p.category} {share[row]:.0%}")
    for key in (p.id, f"category:{p.category}", *(f"tag:{t}" for t in p.tags)):
        if key in boost:
            parts.append(f"boost {key} x{boost[key]:g}")
    return ", ".join(parts)


def rank(
    candidates: Candidates,
    popularity: Mapping[str, float],
    now: float,
    rules: MerchRules,
    category_views: Mapping[str, int] | None = None,
    *,
    popularity_scale: float = 1.0,
    model_scores: np.ndarray | None = None,
) -> list[ScoredProduct]:
    """Rank a grid's candidates under the merchant's rules (see the module docstring).

    ``popularity`` times ``popularity_scale`` is the decayed popularity at ``now``: a
    caller holding stored forward-decayed values passes them with the common factor,
    instead of building a decayed copy per page view. All candidates are scored in one
    vectorized pass; reasons are written only for the products shown.

    With ``model_scores`` (the learned ranker's score of each candidate, in candidate
    order) those replace the popularity formula; the merchant's boosts then add
    ``ln(factor)`` (a ranker's scores are not positive, so they cannot multiply), and
    exclusions, stock, pins and the diversity cap apply as always.
    """
    c = candidates
    n = len(c)
    if n == 0 or rules.count <= 0:
        return []
    if model_scores is not None:
        return _select(c, rules, np.round(model_scores + np.log(_boost_vector(c, rules.boost)), 6), lambda row: _model_reason(c, row, model_scores, rules.boost))
    pop = np.fromiter((popularity.get(i, 0.0) for i in c.ids), dtype=float, count=n) * popularity_scale
    base = 1.0 + np.log1p(np.maximum(pop, 0.0))
    with np.errstate(invalid="ignore"):
        age = now - c.added_at
        new = (age >= 0) & (age < NEW_ARRIVAL_WINDOW_S)  # NaN (unknown) compares False
    base[new] += NEW_ARRIVAL_BONUS * (1 - age[new] / NEW_ARRIVAL_WINDOW_S)
    share = np.zeros(n)
    total_views = sum(category_views.values()) if category_views else 0
    if total_views:
        by_code = np.array([category_views.get(cat, 0) / total_views for cat in c.categories])  # type: ignore[union-attr]
        share = by_code[c.category_codes]
        base += AFFINITY_WEIGHT * share
    score = np.round(base * _boost_vector(c, rules.boost), 6)
    return _select(c, rules, score, lambda row: _reason(c, row, pop, new, share, rules.boost))


def _model_reason(c: Candidates, row: int, scores: np.ndarray, boost: Mapping[str, float]) -> str:
    p = c.products[row]
    parts = [f"ranker {scores[row]:.3f}"]
    for key in (p.id, f"category:{p.category}", *(f"tag:{t}" for t in p.tags)):
        if key in boost:
            parts.append(f"boost {key} x{boost[key]:g}")
    return ", ".join(parts)


def _select(c: Candidates, rules: MerchRules, score: np.ndarray, reason_of: Callable[[int], str]) -> list[ScoredProduct]:
    """The merchant's rules over scored candidates: exclusions, stock, pins, cap, count."""
    eligible = c.in_stock.copy()
    for pid in rules.exclude:
        row = c.position.get(pid)
        if row is not None:
            eligible[row] = False
    # Rows are in id order, so a stable sort breaks score ties by id.
    order = np.argsort(-score, kind="stable")

    chosen: list[ScoredProduct] = []
    per_category = np.zeros(len(c.categories), dtype=np.int32)
    taken: set[int] = set()

    def take(row: int, reason: str | None = None) -> None:
        per_category[c.category_codes[row]] += 1
        taken.add(row)
        why = reason if reason is not None else reason_of(row)
        chosen.append(ScoredProduct(id=c.ids[row], score=float(score[row]), reason=why))

    # Pins are the merchant's explicit choice: they bypass the diversity cap.
    for pid in rules.pin:
        row = c.position.get(pid)
        if row is not None and eligible[row] and row not in taken and len(chosen) < rules.count:
            take(row, "pinned")
    cap = rules.max_per_category
    for row in order.tolist():
        if len(chosen) >= rules.count:
            break
        if row in taken or not eligible[row]:
            continue
        if cap is not None and per_category[c.category_codes[row]] >= cap:
            continue
        take(row)
    return chosen
