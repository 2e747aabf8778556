"""Attribute models trained on a small simulation: better than the prior, saved with a manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from app.core.features import FeatureSpec
from training.attributes import TrainedAttribute, build_dataset, save, train_all
from training.simulator import SimConfig, simulate


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[TrainedAttribute], FeatureSpec, Path, object]:
    sim = simulate(SimConfig(seed=5, n_visitors=1500, days=60))
    end = max(e.ts for e in sim.events) + 1
    spec = FeatureSpec(categories=tuple(sorted({p.category for p in sim.products})))
    models, prints = train_all(sim, spec, end=end, rounds=120)
    out = tmp_path_factory.mktemp("models")
    save(models, spec, prints, out)
    return models, spec, out, sim


def test_gender_and_intent_beat_the_prior_on_anonymous_visitors(trained) -> None:
    models = {m.target.name: m for m in trained[0]}
    for name in ("gender", "purchase_intent_7d"):
        m = models[name].metrics
        assert m["auc"] > 0.7, (name, m)
        assert m["log_loss"] < m["prior_log_loss"], (name, m)
        assert m["ece"] < 0.1, (name, m)
    assert models["age_band"].metrics["log_loss"] < models["age_band"].metrics["prior_log_loss"]


def test_probabilities_are_distributions(trained) -> None:
    models, spec, _, sim = trained
    X = build_dataset(sim, spec, max(e.ts for e in sim.events) + 1).X[:50]
    for m in models:
        p = m.predict(X)
        assert p.shape == (50, len(m.target.classes))
        assert np.allclose(p.sum(axis=1), 1) and (p >= 0).all()


def test_manifest_describes_files_features_and_metrics(trained) -> None:
    models, spec, out, _ = trained
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["features"]["names"] == list(spec.visitor_names)
    assert manifest["versions"]["lightgbm"] == lgb.__version__
    by_target = {e["target"]: e for e in manifest["models"]}
    assert set(by_target) == {"gender", "purchase_intent_7d", "age_band", "price_sensitivity"}
    for m in models:
        entry = by_target[m.target.name]
        path = out / entry["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert entry["metrics"] == m.metrics and len(entry["data_fingerprint"]) == 16
        # LightGBM's own format, reloaded, predicts the same
        X = np.random.default_rng(0).random((20, len(spec.visitor_names)))
        assert np.allclose(lgb.Booster(model_file=str(path)).predict(X), m.booster.predict(X), atol=1e-12)
