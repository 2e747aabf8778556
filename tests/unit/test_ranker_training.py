"""The lambdarank product ranker on a small simulation: rows, groups, and better orders."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.features import FeatureSpec, ranking_names
from training.ranker import build_ranking_data, evaluate_pool, evaluate_ranker, merge_metrics, train_ranker
from training.simulator import SimConfig, simulate


@pytest.fixture(scope="module")
def setup():
    sim = simulate(SimConfig(seed=3, n_visitors=1200, days=50))
    spec = FeatureSpec(categories=tuple(sorted({p.category for p in sim.products})))
    return sim, spec, build_ranking_data(sim, spec)


@pytest.fixture(scope="module")
def trained(setup):
    sim, _, data = setup
    test_from = sim.end - 10 * 86400
    booster, test = train_ranker(data, test_from=test_from, rounds=80)
    return booster, test, test_from


def test_one_group_per_shown_list(setup) -> None:
    sim, spec, data = setup
    assert len(data.groups) == len(sim.impressions)
    assert data.X.shape == (sum(data.groups), len(ranking_names(spec)))
    assert data.y.max() == 2 and set(np.unique(data.y)) <= {0, 1, 2}
    assert np.all(np.diff(data.ts) >= 0)
    assert data.position[: data.groups[0]].tolist() == list(range(data.groups[0]))


def test_the_ranker_beats_popularity_and_random_on_the_truth(setup, trained) -> None:
    sim, spec, _ = setup
    booster, test, _ = trained
    res = evaluate_ranker(booster, test, spec, sim)
    assert res["model"]["lists"] > 100
    assert res["model"]["true_purchases"] > res["popularity"]["true_purchases"] > res["random"]["true_purchases"]
    assert res["model"]["ndcg_true"] > res["popularity"]["ndcg_true"]
    assert res["random"]["ndcg"] < res["model"]["ndcg"]
    # the oracle knows the truth: nothing orders the lists better by the truth
    assert res["oracle"]["ndcg_true"] == pytest.approx(1.0, abs=0.05)
    assert all(res["oracle"]["ndcg_true"] >= m["ndcg_true"] for m in res.values())


def test_the_candidate_pool_evaluation(setup, trained) -> None:
    sim, spec, _ = setup
    booster, test, test_from = trained
    pool = evaluate_pool(booster, sim, spec, test_from=test_from)
    held_out = sum(1 for i in sim.impressions if i.ts >= test_from)
    # every held-out list counts, clicked or not: the truth needs no logged outcome
    assert pool["model"]["pool_lists"] == held_out
    assert pool["oracle"]["pool_ndcg"] == pytest.approx(1.0)
    assert all(pool["oracle"]["pool_purchases"] >= m["pool_purchases"] for m in pool.values())
    assert pool["model"]["pool_ndcg"] > pool["popularity"]["pool_ndcg"] > pool["random"]["pool_ndcg"]
    assert pool["model"]["pool_purchases"] > pool["popularity"]["pool_purchases"]
    # the service's own formula without a ranker adds affinity and new arrivals to popularity
    assert pool["rules"]["pool_ndcg"] > pool["random"]["pool_ndcg"]
    merged = merge_metrics(pool, evaluate_ranker(booster, test, spec, sim))
    assert set(merged["model"]) >= {"pool_ndcg", "pool_purchases", "ndcg", "ndcg_true", "true_purchases"}
    assert "ndcg" not in merged["rules"] and "pool_ndcg" not in merged["shown"]
