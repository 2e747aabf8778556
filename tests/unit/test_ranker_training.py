"""The lambdarank product ranker on a small simulation: rows, groups, and better orders."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.features import FeatureSpec, ranking_names
from training.ranker import build_ranking_data, evaluate_ranker, train_ranker
from training.simulator import SimConfig, simulate


@pytest.fixture(scope="module")
def setup():
    sim = simulate(SimConfig(seed=3, n_visitors=1200, days=50))
    spec = FeatureSpec(categories=tuple(sorted({p.category for p in sim.products})))
    return sim, spec, build_ranking_data(sim, spec)


def test_one_group_per_shown_list(setup) -> None:
    sim, spec, data = setup
    assert len(data.groups) == len(sim.impressions)
    assert data.X.shape == (sum(data.groups), len(ranking_names(spec)))
    assert data.y.max() == 2 and set(np.unique(data.y)) <= {0, 1, 2}
    assert np.all(np.diff(data.ts) >= 0)
    assert data.position[: data.groups[0]].tolist() == list(range(data.groups[0]))


def test_the_ranker_beats_popularity_and_random_on_the_truth(setup) -> None:
    sim, spec, data = setup
    booster, test = train_ranker(data, test_from=sim.end - 10 * 86400, rounds=80)
    res = evaluate_ranker(booster, test, spec, sim)
    assert res["model"]["lists"] > 100
    assert res["model"]["true_purchases"] > res["popularity"]["true_purchases"] > res["random"]["true_purchases"]
    assert res["model"]["ndcg_true"] > res["popularity"]["ndcg_true"]
    assert res["random"]["ndcg"] < res["model"]["ndcg"]
    # the oracle knows the truth: nothing orders the lists better by the truth
    assert res["oracle"]["ndcg_true"] == pytest.approx(1.0, abs=0.05)
    assert all(res["oracle"]["ndcg_true"] >= m["ndcg_true"] for m in res.values())
