"""The meta-learners recover a planted effect: its sign, its size, and who responds."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import auc
from training.uplift_learners import AMOUNT, ArmTable, plain_t_learner, t_learner, x_learner


def planted(n: int = 6000, seed: int = 0, kind: str = "binary") -> tuple[ArmTable, np.ndarray]:
    """Arm "a" lifts purchase by 0.3 where x0 > 0.5 and not elsewhere; arm "b" lowers it by 0.1 for all."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, 3))
    arm = rng.integers(0, 3, n)
    responsive = X[:, 0] > 0.5
    p = 0.2 + 0.1 * X[:, 1] + np.where(arm == 1, 0.3 * responsive, 0.0) - np.where(arm == 2, 0.1, 0.0)
    y = (rng.random(n) < p).astype(float)
    if kind == AMOUNT:
        y = y * rng.lognormal(np.log(100), 0.3, n)
    return ArmTable(X, arm, y, ("none", "a", "b"), kind=kind, propensity=np.full(n, 1 / 3)), responsive


@pytest.mark.parametrize("learner", [x_learner, t_learner])
def test_learner_recovers_the_planted_effect(learner) -> None:
    table, _ = planted()
    test, responsive = planted(3000, seed=1)
    u = learner(table).uplift(test.X)
    # the tuned boosters stop early, so the step is shrunk towards the average effect (0.15)
    assert u[responsive, 0].mean() == pytest.approx(0.3, abs=0.08)
    assert abs(u[~responsive, 0].mean()) < 0.1
    assert u[responsive, 0].mean() - u[~responsive, 0].mean() > 0.15
    assert auc(responsive, u[:, 0]) > 0.85  # responsive rows ranked first
    assert u[:, 1].mean() == pytest.approx(-0.1, abs=0.04)  # the harmful arm's sign
    p = learner(table).predict(test.X)
    assert p.shape == (3000, 3) and (p >= 0).all() and (p <= 1).all()


def test_x_learner_on_amounts_and_the_baseline_runs() -> None:
    table, _ = planted(kind=AMOUNT)
    test, responsive = planted(2000, seed=1, kind=AMOUNT)
    u = x_learner(table).uplift(test.X)
    assert u[responsive, 0].mean() > 15 > u[~responsive, 0].mean()  # 0.3 x about 100 yuan
    assert plain_t_learner(planted()[0]).uplift(test.X).shape == (2000, 2)


def test_x_learner_stores_the_control_and_effects() -> None:
    model = x_learner(planted(2000)[0])
    assert model.adds_control == (False, True, True)
    assert len(model.boosters) == 3
