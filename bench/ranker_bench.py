"""Scoring 200 candidates inside a render vs a bare LightGBM predict of the same rows.

    python bench/ranker_bench.py [--n 2000]

Uses the published ranker (models/ranker: the lambdarank model and the conversion model
beside it) and a 200-product catalog with engagement counters. In the same run:

- bare:   LightGBM's predict of both models on a prebuilt 200-row matrix, one thread as
          in a render, combined as the service combines them (the floor);
- render: what a render does for one grid: the visitor row, the ranking matrix of the
          pool's 200 candidates, the model call, then the merchant's rules;
- also checks the in-render scores equal LightGBM's own predicts within 1e-6.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import REPO_ROOT
from app.core.catalog import Catalog, Product
from app.core.engagement import Engagement
from app.core.features import ranking_matrix, visitor_row
from app.core.profile import Behaviour, Context
from app.core.ranking import MerchRules, decayed, purchase_score, rank
from app.scoring.ranker_model import load_ranker


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000, help="repetitions")
    p.add_argument("--ranker", type=Path, default=REPO_ROOT / "models" / "ranker")
    args = p.parse_args()
    model = load_ranker(args.ranker)
    cats = model.spec.categories
    rng = np.random.default_rng(1)
    now = time.time()
    products = [
        Product(f"p{i:03d}", "x", cats[i % len(cats)], float(rng.uniform(10, 900)), 5, added_at=now - rng.uniform(0, 200) * 86400)
        for i in range(200)
    ]
    catalog = Catalog.build(products)
    cands = catalog.candidates()
    stored = {pid: float(rng.uniform(0, 1e6)) for pid in cands.ids}
    shown = {pid: int(rng.integers(0, 2_000_000)) for pid in cands.ids}
    engagement = Engagement.of({
        "impressions": shown,
        "clicks": {pid: int(n * rng.uniform(0, 2e-4)) for pid, n in shown.items()},
        "views": {pid: int(n * rng.uniform(0, 3e-4)) for pid, n in shown.items()},
        "purchases": {pid: int(n * rng.uniform(0, 2e-5)) for pid, n in shown.items()},
    })
    behaviour = Behaviour(first_seen=now - 9e5, last_seen=now - 3600, views=14, clicks=3, orders=1, spend_cents=19900,
                          first_purchase_at=now - 5e5, last_purchase_at=now - 5e5, viewed_categories={cats[0]: 9, cats[2]: 5},
                          priced_views=14, viewed_price_milli=-2300)
    ctx = Context(ts=now, device="mobile", channel="search")
    rules = MerchRules(count=10, max_per_category=3)

    def in_render() -> tuple[np.ndarray, list]:
        visitor = visitor_row(model.spec, behaviour, ctx)
        X = ranking_matrix(model.spec, visitor, behaviour, cands, stored, decayed(1.0, now), catalog.category_price, now, engagement=engagement)
        s = model.score(X)
        return s, rank(cands, stored, now, rules, behaviour.viewed_categories, model_scores=s)

    X = ranking_matrix(model.spec, visitor_row(model.spec, behaviour, ctx), behaviour, cands, stored, decayed(1.0, now), catalog.category_price, now, engagement=engagement)
    def bare_predict(num_threads: int = 1) -> np.ndarray:
        relevance = model.booster.predict(X, num_threads=num_threads)
        if model.conversion is None:
            return relevance
        return purchase_score(relevance, model.conversion.predict(X, raw_score=True, num_threads=num_threads), model.conversion_weight)

    scores, _ = in_render()
    assert np.allclose(scores, bare_predict(), atol=1e-6), "in-render scores differ from LightGBM's"

    def timed(fn) -> np.ndarray:
        for _ in range(50):
            fn()
        out = np.empty(args.n)
        for i in range(args.n):
            t = time.perf_counter()
            fn()
            out[i] = time.perf_counter() - t
        return out * 1000

    # The render predicts with one thread (concurrent page views share the cores), so the
    # floor is the same call; LightGBM's default threading is shown for information.
    bare = timed(bare_predict)
    bare_threads = timed(lambda: bare_predict(0))
    full = timed(in_render)
    for name, a in (
        ("bare predict, 1 thread", bare),
        ("bare predict, default threads", bare_threads),
        ("in render (rows+predict+rules)", full),
    ):
        print(f"{name:<32} p50 {np.percentile(a, 50):6.3f} ms   p99 {np.percentile(a, 99):6.3f} ms")
    print(f"\nratio in-render / bare: p50 {np.percentile(full, 50) / np.percentile(bare, 50):.2f}x, "
          f"p99 {np.percentile(full, 99) / np.percentile(bare, 99):.2f}x  (target <= 1.5x)")
    models = "lambdarank + conversion" if model.conversion is not None else "lambdarank"
    print(f"in-render scores equal LightGBM's predicts ({models}) within 1e-6: yes")


if __name__ == "__main__":
    main()
