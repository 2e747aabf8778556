"""Product ranker: LightGBM lambdarank over visitor × product × context rows.

Why lambdarank: a grid shows a list, and what matters is the order at the top of it;
lambdarank optimizes NDCG directly from graded labels (purchase 2, click 1, nothing 0)
within each shown list, where a click/purchase classifier would also spend capacity on
calibrating absolute rates the grid never uses.

Rows are built with the service's own code (:func:`app.core.features.ranking_matrix`):
the visitor's behaviour and the products' decayed popularity are replayed from the
event log up to each list's time, as the service holds them at that moment. Shown
positions go to LightGBM's position-bias estimation, never into the rows.

Evaluation on held-out days, two ways:

- *the candidate pool* (:func:`evaluate_pool`, the figure the ranker is judged on): for
  every list of the held-out days, each policy orders the pool a grid would rank at
  that moment (the list's category, or the whole catalog for a home list; products
  already added and in stock), and its top 10 is scored with the simulator's true
  purchase probability of that visitor for each product, position removed: NDCG@10 with
  those probabilities as gains, and the expected purchases of the top 10 shown in that
  order. Counterfactual, so it needs no click and judges what a grid really does:
  choose 10 out of the pool, not reorder 20 products another system picked.
- *the shown lists* (:func:`evaluate_ranker`), per list with at least one click: NDCG@10
  and recall@10 on the logged labels, and the true purchase probabilities of the
  reordered 20. Logged labels favour what was shown first: the "oracle" (ordering by
  the truth) reaches only about 1.12x popularity there, because the clicks were drawn
  at the positions the logging system chose.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np

from app.core.catalog import Candidates, Catalog
from app.core.engagement import EngagementCounter
from app.core.features import RANKING_VERSION, FeatureSpec, ranking_matrix, ranking_names, visitor_row
from app.core.profile import Behaviour, Context, apply
from app.core.ranking import MerchRules, decayed, popularity_increment, rank
from app.scoring.ranker_model import RankerModel
from training.lightgbm_params import COMMON
from training.metrics import ndcg_at_k, recall_at_k
from training.simulator import examination

DAY = 86400.0
POPULARITY_COLUMN = "log_popularity"

# Small trees: clicks are a noisy label (a few per list of 20), and bigger trees learn
# that noise. Chosen on another simulated shop (seed 2), on the candidate-pool NDCG:
# 31 leaves / 50 a leaf / 200 rounds gave 1.19x popularity, 7 / 200 / 500 rounds 1.22x
# (3,000 visitors, 90 days, before the conversion model). The learning rate is high and
# the rounds few because every tree costs the render time: with both models at 500
# rounds and 0.05, 1.314x and 8.2 ms to score 200 candidates; at 150 + 60 rounds and
# 0.15, 1.312x and 1.9 ms (5,000 visitors, 120 days).
PARAMS: dict[str, Any] = {
    **COMMON,
    "objective": "lambdarank",
    "metric": "ndcg",
    "ndcg_eval_at": [10],
    "label_gain": [0, 1, 3],
    "num_leaves": 7,
    "min_data_in_leaf": 200,
    "learning_rate": 0.15,
}
CONVERSION_PARAMS: dict[str, Any] = {**COMMON, "objective": "binary", "num_leaves": 7, "min_data_in_leaf": 200, "learning_rate": 0.15}
# How much ln P(purchase | click) counts beside the lambdarank score (see
# app.core.ranking.purchase_score). Lambdarank scores are not log-probabilities, so the
# weight is measured, on the other simulated shop (seed 2): 0.3, 0.5, 0.7, 1 gave pool
# NDCG 1.27, 1.28, 1.27, 1.25x popularity (none: 1.22x).
CONVERSION_WEIGHT = 0.5
ROUNDS = 150
CONVERSION_ROUNDS = 60


@dataclass
class RankingData:
    X: np.ndarray
    y: np.ndarray
    position: np.ndarray  # where each product was shown in its list (0 = first)
    groups: list[int]  # rows per shown list, in order
    impressions: list[Any]  # the simulator's Impression of each group
    ts: np.ndarray  # time of each group


class Replay:
    """The shop as the service would hold it at any moment: profiles, popularity and the
    products' engagement counters.

    Events are applied in time order up to a moment (:meth:`advance`), and each shown
    list counts as a render once its rows are built (:meth:`shown`), so that rows built
    at a moment see exactly what a render then would see, nothing later.
    """

    def __init__(self, sim: Any) -> None:
        self.catalog = Catalog.build(sim.products)
        self.behaviours: dict[str, Behaviour] = {}
        self.popularity: dict[str, float] = {}  # stored, forward-decayed (as in Redis)
        self.engagement = EngagementCounter()
        self._events = sim.events
        self._next = 0
        # products in the order they enter the catalog, for pools "as of" a moment
        self._by_arrival = sorted(sim.products, key=lambda p: (p.added_at or 0.0, p.id))
        self._arrivals = np.array([p.added_at or 0.0 for p in self._by_arrival])
        self._pools: dict[tuple[str | None, int], Candidates] = {}

    def advance(self, ts: float) -> None:
        """Apply every event before ``ts``."""
        events, e = self._events, self._next
        while e < len(events) and events[e].ts < ts:
            ev = events[e]
            self.behaviours[ev.visitor_id] = apply(self.behaviours.get(ev.visitor_id, Behaviour()), ev)
            if ev.product_id:
                self.popularity[ev.product_id] = self.popularity.get(ev.product_id, 0.0) + popularity_increment(ev.type, ev.ts)
                self.engagement.add_event(ev)
            e += 1
        self._next = e

    def shown(self, imp: Any) -> None:
        """List ``imp`` was rendered: its products' impressions count from now on."""
        self.engagement.add_render([imp.product_ids])

    def behaviour(self, visitor_id: str) -> Behaviour:
        return self.behaviours.get(visitor_id, Behaviour())

    def rows(self, spec: FeatureSpec, imp: Any, candidates: Candidates) -> np.ndarray:
        """Ranking rows of ``candidates`` for the visitor and context of list ``imp``."""
        b = self.behaviour(imp.visitor_id)
        visitor = visitor_row(spec, b, Context(ts=imp.ts, device=imp.device, channel=imp.channel))
        return ranking_matrix(
            spec, visitor, b, candidates, self.popularity, decayed(1.0, imp.ts), self.catalog.category_price, imp.ts,
            engagement=self.engagement.current,
        )

    def pool(self, category: str | None, ts: float) -> Candidates:
        """What a grid over ``category`` (None: every category) ranks at ``ts``: the
        products already added, in stock, in id order as the service holds them."""
        n = int(np.searchsorted(self._arrivals, ts, side="right"))
        key = (category, n)
        found = self._pools.get(key)
        if found is None:
            found = Candidates.build(p for p in self._by_arrival[:n] if p.in_stock and (category is None or p.category == category))
            self._pools[key] = found
        return found


def build_ranking_data(sim: Any, spec: FeatureSpec) -> RankingData:
    """One group of rows per shown list, replaying events in time order up to each list."""
    replay = Replay(sim)
    products = replay.catalog.products
    rows, labels, groups, imps, times = [], [], [], [], []
    for imp in sorted(sim.impressions, key=lambda i: i.ts):
        replay.advance(imp.ts)
        shown = Candidates.build((products[pid] for pid in imp.product_ids), in_id_order=False)
        rows.append(replay.rows(spec, imp, shown))
        replay.shown(imp)
        labels.append(np.array(imp.labels()))
        groups.append(len(shown))
        imps.append(imp)
        times.append(imp.ts)
    width = len(ranking_names(spec))
    X = np.vstack(rows) if rows else np.empty((0, width))
    position = np.concatenate([np.arange(n) for n in groups]) if groups else np.empty(0, dtype=int)
    return RankingData(X, np.concatenate(labels) if labels else np.empty(0), position, groups, imps, np.array(times))


def fingerprint(data: RankingData) -> str:
    h = hashlib.sha256(np.ascontiguousarray(np.nan_to_num(data.X, nan=-9e9)).tobytes())
    h.update(data.y.tobytes())
    return h.hexdigest()[:16]


def _split(data: RankingData, mask: np.ndarray) -> RankingData:
    offsets = np.concatenate([[0], np.cumsum(data.groups)])
    idx = [np.arange(offsets[g], offsets[g + 1]) for g in np.flatnonzero(mask)]
    rows = np.concatenate(idx) if idx else np.empty(0, dtype=int)
    return RankingData(
        data.X[rows], data.y[rows], data.position[rows], [data.groups[g] for g in np.flatnonzero(mask)],
        [data.impressions[g] for g in np.flatnonzero(mask)], data.ts[mask],
    )


def position_offsets(y: np.ndarray, position: np.ndarray) -> np.ndarray:
    """log(click-through at each shown position / at the first), from the logs themselves.

    Used as a fixed per-row offset (``init_score``) where LightGBM cannot take positions
    (its Dask interface): the trees then explain what the position does not. On the
    simulator this ranks as well as LightGBM's own position-bias correction (true NDCG
    0.819 vs 0.818, 1,500 visitors, 10 held-out days).
    """
    n = int(position.max()) + 1 if len(position) else 1
    ctr = np.array([(y[position == p] > 0).mean() if (position == p).any() else 0.0 for p in range(n)])
    ctr = np.maximum(ctr, 1e-4)
    return np.log(ctr / ctr[0])


def train_ranker(data: RankingData, *, test_from: float, rounds: int = ROUNDS, dask_client: Any = None) -> tuple[lgb.Booster, RankingData]:
    """Train on lists before ``test_from``; return the model and the held-out lists.

    With ``dask_client`` the model trains on that Dask cluster (training.distributed).

    A fixed number of rounds, no early stopping: the only validation signal in logs is
    NDCG on position-biased labels, which rewards copying the order that was shown and
    stops a debiased model after one tree (measured: it peaks at iteration 1 while the
    true purchases of its top 10 keep rising to 200 rounds).
    """
    train = _split(data, data.ts < test_from)
    test = _split(data, data.ts >= test_from)
    if dask_client is not None:
        from training.distributed import rank_on_dask

        offsets = position_offsets(train.y, train.position)
        return rank_on_dask(dask_client, train.X, train.y, train.groups, offsets[train.position], PARAMS, rounds=rounds), test
    # Clicks follow the shown order (people look at the top first). Given the positions,
    # LightGBM's lambdarank learns that bias beside the relevance and ranks without it.
    booster = lgb.train(PARAMS, lgb.Dataset(train.X, train.y, group=train.groups, position=train.position), rounds)
    return booster, test


def train_conversion(data: RankingData, *, test_from: float, rounds: int = CONVERSION_ROUNDS, dask_client: Any = None) -> lgb.Booster:
    """P(purchase | click): a classifier over the clicked rows of the lists before ``test_from``.

    Purchases are rare (about one in 40 clicks), so within a list the lambdarank model
    sees few of them; across all clicks there are enough to learn what turns a click
    into a purchase, price against what the visitor usually looks at above all. No
    position: once clicked, where the product was shown hardly matters to the purchase.
    """
    rows = np.flatnonzero((np.repeat(data.ts, data.groups) < test_from) & (data.y > 0))
    X, bought = data.X[rows], (data.y[rows] == 2).astype(int)
    if dask_client is not None:
        from training.distributed import train_on_dask

        return train_on_dask(dask_client, X, bought, CONVERSION_PARAMS, rounds=rounds)
    return lgb.train(CONVERSION_PARAMS, lgb.Dataset(X, bought), rounds)


def ranker_model(spec: FeatureSpec, booster: lgb.Booster, conversion: lgb.Booster | None, *, version: str = "trained") -> RankerModel:
    """The boosters as the service will score with them (one scoring code for both)."""
    return RankerModel(version, spec, booster, conversion, CONVERSION_WEIGHT if conversion is not None else 0.0)


def _linear_ndcg(gains_in_order: np.ndarray, k: int) -> float:
    """NDCG@k with real-valued gains (true purchase probabilities, no 2^rel - 1)."""
    discounts = 1 / np.log2(np.arange(2, k + 2))[: min(k, len(gains_in_order))]
    ideal = np.sort(gains_in_order)[::-1][:k] @ discounts
    return float(gains_in_order[:k] @ discounts / ideal) if ideal > 0 else float("nan")


def evaluate_ranker(score: Callable[[np.ndarray], np.ndarray], test: RankingData, spec: FeatureSpec, sim: Any, *, k: int = 10) -> dict[str, dict[str, float]]:
    """NDCG@k, recall@k and true expected purchases in the top k for each ordering policy.

    ``score`` gives the model's scores of rows (``RankerModel.score``, or a booster's predict)."""
    pop_col = ranking_names(spec).index(POPULARITY_COLUMN)
    rng = np.random.default_rng(11)
    scores = score(test.X) if len(test.X) else np.empty(0)
    offsets = np.concatenate([[0], np.cumsum(test.groups)])
    policies = ("model", "popularity", "random", "shown", "oracle")
    out: dict[str, dict[str, list[float]]] = {
        p: {"ndcg": [], "recall": [], "ndcg_true": [], "true_purchases": []} for p in policies
    }
    for g, imp in enumerate(test.impressions):
        lo, hi = offsets[g], offsets[g + 1]
        rel = test.y[lo:hi]
        if not (rel > 0).any():
            continue
        n = hi - lo
        # the true click and purchase chance of each product for this visitor, position removed
        p_click, p_shown = sim.true_probabilities(imp.visitor_id, list(imp.product_ids))
        p_first = p_shown / examination(np.arange(n))
        expected_gain = p_click / examination(np.arange(n)) + 2 * p_first  # label gains 1 click, 3 purchase
        orders = {
            "model": np.argsort(-scores[lo:hi], kind="stable"),
            "popularity": np.argsort(-test.X[lo:hi, pop_col], kind="stable"),
            "random": rng.permutation(n),
            "shown": np.arange(n),
            # knows the simulator's truth: the ceiling any ranker can reach on these lists
            "oracle": np.argsort(-expected_gain, kind="stable"),
        }
        for policy, order in orders.items():
            out[policy]["ndcg"].append(ndcg_at_k(rel[order], k))
            out[policy]["recall"].append(recall_at_k(rel[order], k))
            out[policy]["ndcg_true"].append(_linear_ndcg(p_first[order], k))
            ids = [imp.product_ids[i] for i in order]
            _, p_buy = sim.true_probabilities(imp.visitor_id, ids)
            out[policy]["true_purchases"].append(float(np.sum(p_buy[:k])))
    return {
        p: {m: float(np.nanmean(v)) if v else float("nan") for m, v in metrics.items()} | {"lists": float(len(metrics["ndcg"]))}
        for p, metrics in out.items()
    }


POOL_POLICIES = ("model", "popularity", "rules", "random", "oracle")


def evaluate_pool(score: Callable[[np.ndarray], np.ndarray], sim: Any, spec: FeatureSpec, *, test_from: float, k: int = 10) -> dict[str, dict[str, float]]:
    """Each policy's top ``k`` of the candidate pool of every held-out list, judged by the truth.

    Per list: ``pool_ndcg`` is NDCG@k with each product's true purchase probability for
    this visitor (at the first position) as its gain, the ideal being the pool's ``k``
    most likely purchases; ``pool_purchases`` is the expected number of purchases when
    the top ``k`` are shown in that order (examination by position included). Policies:
    the model; popularity order (decayed interaction counts, the ``log_popularity``
    column); ``rules``, the service's own ranking without a ranker
    (:func:`app.core.ranking.rank`: popularity, new arrivals, category affinity);
    random; and the oracle, which orders by the true purchase probability: NDCG 1 by
    construction, and the most purchases any order gets.
    """
    replay = Replay(sim)
    pop_col = ranking_names(spec).index(POPULARITY_COLUMN)
    rng = np.random.default_rng(11)
    exam = examination(np.arange(k))
    discounts = 1 / np.log2(np.arange(2, k + 2))
    out: dict[str, dict[str, list[float]]] = {p: {"pool_ndcg": [], "pool_purchases": []} for p in POOL_POLICIES}
    rules = MerchRules(count=k)
    for imp in sorted(sim.impressions, key=lambda i: i.ts):
        replay.advance(imp.ts)
        c = replay.pool(imp.list_category, imp.ts) if imp.ts >= test_from else None
        if not c:  # before the held-out days (or an empty pool): it only counts as shown
            replay.shown(imp)
            continue
        n = len(c)
        X = replay.rows(spec, imp, c)
        _, p_shown = sim.true_probabilities(imp.visitor_id, list(c.ids))
        p_buy = p_shown / examination(np.arange(n))  # the chance at the first position
        served = rank(c, replay.popularity, imp.ts, rules, replay.behaviour(imp.visitor_id).viewed_categories, popularity_scale=decayed(1.0, imp.ts))
        orders = {
            "model": np.argsort(-score(X), kind="stable"),
            "popularity": np.argsort(-X[:, pop_col], kind="stable"),
            "rules": np.array([c.position[s.id] for s in served]),
            "random": rng.permutation(n),
            "oracle": np.argsort(-p_buy, kind="stable"),
        }
        ideal = np.sort(p_buy)[::-1][:k] @ discounts[: min(k, n)]
        for policy, order in orders.items():
            top = p_buy[order[:k]]  # ("rules" lists only its top k)
            out[policy]["pool_ndcg"].append(float(top @ discounts[: len(top)] / ideal))
            out[policy]["pool_purchases"].append(float(top @ exam[: len(top)]))
        replay.shown(imp)
    return {
        p: {m: float(np.nanmean(v)) if v else float("nan") for m, v in metrics.items()} | {"pool_lists": float(len(metrics["pool_ndcg"]))}
        for p, metrics in out.items()
    }


def merge_metrics(*parts: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per-policy figures of several evaluations in one table; a policy keeps only the
    figures of the evaluations that have it (no NaN placeholders: the table is JSON)."""
    merged: dict[str, dict[str, float]] = {}
    for part in parts:
        for policy, figures in part.items():
            merged.setdefault(policy, {}).update(figures)
    return merged


__all__ = [
    "RankingData", "Replay", "build_ranking_data", "evaluate_pool", "evaluate_ranker", "merge_metrics", "ranker_model",
    "save_ranker", "train_conversion", "train_ranker",
]


def save_ranker(model: RankerModel, metrics: dict[str, dict[str, float]], fingerprint: str, out: Path) -> Path:
    """LightGBM's text format plus a manifest, like the attribute models."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "ranker.lgb.txt"
    model.booster.save_model(str(path))
    manifest: dict[str, Any] = {
        "kind": "product-ranker",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "features": {**model.spec.manifest(), "ranking_version": RANKING_VERSION, "ranking_names": list(ranking_names(model.spec))},
        "versions": {"lightgbm": lgb.__version__, "numpy": np.__version__},
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "data_fingerprint": fingerprint,
        "metrics": metrics,
    }
    stale = out / "conversion.lgb.txt"
    if model.conversion is not None:
        model.conversion.save_model(str(stale))
        manifest["conversion"] = {"file": stale.name, "sha256": hashlib.sha256(stale.read_bytes()).hexdigest(), "weight": model.conversion_weight}
    elif stale.exists():
        stale.unlink()  # a folder republished without one must not keep an old one about
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out / "manifest.json"
