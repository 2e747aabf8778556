"""Training metrics against their textbook definitions, computed the slow way."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from training.metrics import (
    Isotonic,
    auc,
    calibration_curve,
    expected_calibration_error,
    log_loss,
    multiclass_log_loss,
    ndcg_at_k,
    recall_at_k,
)

RNG = np.random.default_rng(3)


def brute_auc(y: np.ndarray, p: np.ndarray) -> float:
    pos, neg = p[y == 1], p[y == 0]
    wins = sum((a > b) + 0.5 * (a == b) for a, b in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(5))
def test_auc_equals_pairwise_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 60)
    p = np.round(rng.random(60), 1)  # many ties
    assert auc(y, p) == pytest.approx(brute_auc(y, p))
    assert math.isnan(auc(np.ones(5), np.ones(5)))


def test_log_losses() -> None:
    assert log_loss(np.array([1, 0]), np.array([0.8, 0.2])) == pytest.approx(-math.log(0.8))
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert multiclass_log_loss(np.array([0, 2]), proba) == pytest.approx(-(math.log(0.7) + math.log(0.8)) / 2)


def test_calibration_error() -> None:
    p = RNG.random(20000)
    y = RNG.random(20000) < p  # perfectly calibrated
    assert expected_calibration_error(y, p) < 0.02
    assert expected_calibration_error(y, np.clip(p + 0.2, 0, 1)) > 0.12
    curve = calibration_curve(y, p)
    assert len(curve) == 10 and sum(c for _, _, c in curve) == 20000


def test_ranking_metrics() -> None:
    assert ndcg_at_k([3, 2, 1, 0], 10) == pytest.approx(1.0)
    assert ndcg_at_k([0, 0, 1], 10) == pytest.approx(1 / math.log2(4))
    assert math.isnan(ndcg_at_k([0, 0], 10))
    assert recall_at_k([1, 0, 1, 0], 2) == 0.5 and recall_at_k([1, 1], 10) == 1.0


def test_isotonic_fixes_overconfidence_and_keeps_the_order() -> None:
    true_p = RNG.random(5000)
    y = RNG.random(5000) < true_p
    overconfident = np.clip(true_p**0.3, 0, 1)  # pushed towards 1
    iso = Isotonic.fit(overconfident, y)
    fixed = iso(overconfident)
    assert expected_calibration_error(y, fixed) < expected_calibration_error(y, overconfident) / 3
    assert np.all(np.diff(iso.y) >= 0)
    assert auc(y, fixed) == pytest.approx(auc(y, overconfident), abs=0.01)
    again = Isotonic.from_dict(iso.as_dict())
    assert np.array_equal(again(overconfident), fixed)
