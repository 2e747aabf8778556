"""Training through LightGBM's Dask interface on a local cluster: same quality as one machine."""

from __future__ import annotations

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="dask[distributed] is in the test extras")

from dask.distributed import Client, LocalCluster  # noqa: E402

from app.core.features import FeatureSpec  # noqa: E402
from training.attributes import TARGETS, build_dataset, train_attribute  # noqa: E402
from training.simulator import SimConfig, simulate  # noqa: E402


def test_dask_training_matches_single_machine_quality() -> None:
    sim = simulate(SimConfig(seed=5, n_visitors=1500, days=60))
    spec = FeatureSpec(categories=tuple(sorted({p.category for p in sim.products})))
    data = build_dataset(sim, spec, sim.end)
    gender = next(t for t in TARGETS if t.name == "gender")
    y = np.array([gender.classes.index(v) for v in data.labels["gender"]])
    train, test = (data.X[data.known], y[data.known]), (data.X[~data.known], y[~data.known])

    local = train_attribute(gender, train, test, rounds=120)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        on_dask = train_attribute(gender, train, test, rounds=120, dask_client=client)
    assert on_dask.booster.num_trees() > 0
    assert on_dask.metrics["auc"] > 0.7
    assert abs(on_dask.metrics["auc"] - local.metrics["auc"]) < 0.03, (on_dask.metrics, local.metrics)
    assert on_dask.metrics["log_loss"] < on_dask.metrics["prior_log_loss"]


def test_dask_ranker_matches_single_machine_quality() -> None:
    from training.ranker import (
        build_ranking_data,
        evaluate_ranker,
        ranker_model,
        train_conversion,
        train_ranker,
    )

    sim = simulate(SimConfig(seed=3, n_visitors=1200, days=50))
    spec = FeatureSpec(categories=tuple(sorted({p.category for p in sim.products})))
    data = build_ranking_data(sim, spec)
    test_from = sim.end - 10 * 86400
    local, test = train_ranker(data, test_from=test_from, rounds=80)
    local_conversion = train_conversion(data, test_from=test_from, rounds=40)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        on_dask, _ = train_ranker(data, test_from=test_from, rounds=80, dask_client=client)
        dask_conversion = train_conversion(data, test_from=test_from, rounds=40, dask_client=client)
    assert on_dask.num_trees() == 80 and dask_conversion.num_trees() == 40
    a = evaluate_ranker(ranker_model(spec, local, local_conversion).score, test, spec, sim)
    b = evaluate_ranker(ranker_model(spec, on_dask, dask_conversion).score, test, spec, sim)
    # judged on the simulator's truth, as the published ranker is
    assert b["model"]["ndcg_true"] > b["popularity"]["ndcg_true"]
    assert abs(b["model"]["ndcg_true"] - a["model"]["ndcg_true"]) < 0.03, (a["model"], b["model"])
    assert b["model"]["true_purchases"] > 0.95 * a["model"]["true_purchases"]
