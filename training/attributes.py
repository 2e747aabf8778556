"""Attribute models: LightGBM predicting what crowd rules ask and anonymous visitors never told us.

Targets: gender, age band, price sensitivity (labels from visitors the merchant knows),
and purchase intent in the next 7 days (labels from what every visitor did next).
Rows are :func:`app.core.features.visitor_row` at a cutoff time, built from the events
before it, exactly as the service builds them from a stored profile.

Evaluation is on held-out *anonymous* visitors (the ones the model is for), against a
prior-only baseline that predicts the training label frequencies for everyone. Binary
models are calibrated with an isotonic map fitted on a calibration split.

Models are saved in LightGBM's own text format with a JSON manifest (features and their
order, classes, library versions, data fingerprint, metrics, created at): never pickled.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from app.core.features import FeatureSpec, visitor_row
from app.core.profile import Behaviour, Context, Event, apply
from training.lightgbm_params import COMMON
from training.metrics import (
    Isotonic,
    auc,
    expected_calibration_error,
    log_loss,
    multiclass_log_loss,
)

DAY = 86400.0


@dataclass(frozen=True)
class Target:
    name: str
    classes: tuple[Any, ...]  # for a binary target, classes[0] is the positive one

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2


TARGETS = (
    Target("gender", ("female", "male")),
    Target("purchase_intent_7d", (True, False)),
    Target("age_band", ("18-24", "25-34", "35-44", "45-54", "55+")),
    Target("price_sensitivity", ("low", "mid", "high")),
)

PARAMS: dict[str, Any] = {
    **COMMON,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
}


@dataclass
class Dataset:
    """Rows of visitors seen before ``cutoff``, with their labels and who is known."""

    X: np.ndarray
    visitor_ids: list[str]
    known: np.ndarray  # bool: the merchant knows this visitor's CRM attributes
    labels: dict[str, list[Any]] = field(default_factory=dict)

    def fingerprint(self) -> str:
        h = hashlib.sha256(np.ascontiguousarray(np.nan_to_num(self.X, nan=-9e9)).tobytes())
        for name in sorted(self.labels):
            h.update(json.dumps([str(v) for v in self.labels[name]]).encode())
        return h.hexdigest()[:16]


def behaviours_at(events: list[Event], cutoff: float) -> dict[str, Behaviour]:
    """Each visitor's behaviour folded from the events before ``cutoff`` (events sorted by ts)."""
    out: dict[str, Behaviour] = defaultdict(Behaviour)
    seen: set[str] = set()
    for e in events:
        if e.ts >= cutoff:
            break
        if e.event_id in seen:
            continue
        seen.add(e.event_id)
        out[e.visitor_id] = apply(out[e.visitor_id], e)
    return dict(out)


def purchased_in(events: list[Event], start: float, end: float) -> set[str]:
    return {e.visitor_id for e in events if e.type == "purchase" and start <= e.ts < end}


def build_dataset(sim: Any, spec: FeatureSpec, cutoff: float) -> Dataset:
    """Rows at ``cutoff`` for every simulated visitor active before it, with true labels."""
    behaviours = behaviours_at(sim.events, cutoff)
    buyers = purchased_in(sim.events, cutoff, cutoff + 7 * DAY)
    rows, ids, known = [], [], []
    labels: dict[str, list[Any]] = {t.name: [] for t in TARGETS}
    for v in sim.visitors:
        b = behaviours.get(v.visitor_id)
        if b is None:
            continue
        rows.append(visitor_row(spec, b, Context(ts=cutoff, device=v.device, channel=v.channel)))
        ids.append(v.visitor_id)
        known.append(v.known)
        labels["gender"].append(v.gender)
        labels["age_band"].append(v.age_band)
        labels["price_sensitivity"].append(v.price_sensitivity)
        labels["purchase_intent_7d"].append(v.visitor_id in buyers)
    X = np.vstack(rows) if rows else np.empty((0, len(spec.visitor_names)))
    return Dataset(X, ids, np.array(known, dtype=bool), labels)


def _encode(target: Target, values: list[Any]) -> np.ndarray:
    index = {c: i for i, c in enumerate(target.classes)}
    return np.array([index[v] for v in values], dtype=int)


@dataclass
class TrainedAttribute:
    target: Target
    booster: lgb.Booster
    calibration: Isotonic | None
    metrics: dict[str, float]
    # binary targets: (positive labels, predicted probability, prior rate) on the test set
    test_predictions: tuple[np.ndarray, np.ndarray, float] | None = None

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, len(classes))."""
        raw = self.booster.predict(X)
        if self.target.binary:
            p = self.calibration(raw) if self.calibration is not None else raw
            return np.column_stack([p, 1 - p])
        return raw


def train_attribute(
    target: Target,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    rounds: int = 300,
    dask_client: Any = None,
) -> TrainedAttribute:
    """Fit one target on ``train`` (a split of it early-stops and calibrates); evaluate on ``test``.

    With ``dask_client`` the booster trains on that Dask cluster (LightGBM's Dask
    interface, a fixed number of rounds: no early stopping there); calibration and
    evaluation stay local.
    """
    X, y = train
    rng = np.random.default_rng(PARAMS["seed"])
    holdout = rng.random(len(y)) < 0.25
    params = {**PARAMS}
    if target.binary:
        params.update(objective="binary")
        y_fit = (y == 0).astype(int)  # class 0 is the positive one
    else:
        params.update(objective="multiclass", num_class=len(target.classes))
        y_fit = y
    if dask_client is not None:
        from training.distributed import train_on_dask

        booster = train_on_dask(dask_client, X[~holdout], y_fit[~holdout], params, rounds=rounds)
    else:
        fit = lgb.Dataset(X[~holdout], y_fit[~holdout])
        valid = lgb.Dataset(X[holdout], y_fit[holdout], reference=fit)
        booster = lgb.train(params, fit, rounds, valid_sets=[valid], callbacks=[lgb.early_stopping(30, verbose=False)])
    calibration = Isotonic.fit(booster.predict(X[holdout]), y_fit[holdout]) if target.binary else None
    model = TrainedAttribute(target, booster, calibration, {})
    prior = np.bincount(y, minlength=len(target.classes)) / len(y)
    model.metrics = evaluate(model, test, prior=prior)
    if target.binary:
        model.test_predictions = (test[1] == 0, model.predict(test[0])[:, 0], float(prior[0]))
    return model


def evaluate(model: TrainedAttribute, test: tuple[np.ndarray, np.ndarray], prior: np.ndarray) -> dict[str, float]:
    X, y = test
    proba = model.predict(X)
    prior_proba = np.tile(prior, (len(y), 1))
    if model.target.binary:
        positive = y == 0
        return {
            "n_test": float(len(y)),
            "auc": auc(positive, proba[:, 0]),
            "log_loss": log_loss(positive, proba[:, 0]),
            "ece": expected_calibration_error(positive, proba[:, 0]),
            "prior_auc": 0.5,
            "prior_log_loss": log_loss(positive, prior_proba[:, 0]),
            "prior_ece": expected_calibration_error(positive, prior_proba[:, 0]),
        }
    one_vs_rest = [auc(y == k, proba[:, k]) for k in range(proba.shape[1]) if (y == k).any() and (y != k).any()]
    top = proba.argmax(axis=1)
    return {
        "n_test": float(len(y)),
        "auc_macro": float(np.mean(one_vs_rest)),
        "log_loss": multiclass_log_loss(y, proba),
        "accuracy": float((top == y).mean()),
        "ece_top": expected_calibration_error(top == y, proba.max(axis=1)),
        "prior_log_loss": multiclass_log_loss(y, prior_proba),
        "prior_accuracy": float((y == prior.argmax()).mean()),
    }


def train_all(
    sim: Any, spec: FeatureSpec, *, end: float, rounds: int = 300, dask_client: Any = None
) -> tuple[list[TrainedAttribute], dict[str, str]]:
    """Train every target; returns the models and the data fingerprints they were trained on.

    CRM-like targets learn from known visitors at ``end``; purchase intent learns from
    everyone at ``end - 14 days`` (label: bought in the next 7 days) and is tested at
    ``end - 7 days``. All are tested on anonymous visitors.
    """
    now_set = build_dataset(sim, spec, end)
    earlier = build_dataset(sim, spec, end - 14 * DAY)
    later = build_dataset(sim, spec, end - 7 * DAY)
    models, prints = [], {}
    for target in TARGETS:
        if target.name == "purchase_intent_7d":
            train_set, test_set = earlier, later
            train_mask = np.ones(len(earlier.visitor_ids), dtype=bool)
        else:
            train_set = test_set = now_set
            train_mask = now_set.known
        test_mask = ~test_set.known
        y_train = _encode(target, train_set.labels[target.name])[train_mask]
        y_test = _encode(target, test_set.labels[target.name])[test_mask]
        model = train_attribute(
            target, (train_set.X[train_mask], y_train), (test_set.X[test_mask], y_test), rounds=rounds, dask_client=dask_client
        )
        models.append(model)
        prints[target.name] = train_set.fingerprint()
    return models, prints


def save(models: list[TrainedAttribute], spec: FeatureSpec, fingerprints: dict[str, str], out: Path) -> Path:
    """Write each booster in LightGBM's text format and one manifest describing them all."""
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for m in models:
        path = out / f"{m.target.name}.lgb.txt"
        m.booster.save_model(str(path))
        entries.append(
            {
                "target": m.target.name,
                "classes": list(m.target.classes),
                "file": path.name,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "calibration": m.calibration.as_dict() if m.calibration is not None else None,
                "metrics": m.metrics,
                "data_fingerprint": fingerprints[m.target.name],
                "best_iteration": m.booster.best_iteration,
            }
        )
    manifest = {
        "kind": "attribute-models",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "features": spec.manifest(),
        "versions": {"lightgbm": lgb.__version__, "numpy": np.__version__},
        "models": entries,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return out / "manifest.json"
