"""The distilled learner: offer terms as a visitor meets them, a teacher, and a student
the service serves in the X-learner's shape, keeping what the teacher knows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

from app.core.features import FeatureSpec
from training.coupon_sim import CampaignConfig, run_campaign
from training.rights import DEMO_RIGHTS, RIGHTS_BY_ID, Right
from training.simulator import SimConfig, simulate
from training.uplift_demo import basket, split
from training.uplift_distill import (
    KIND_CODES,
    OFFER_TERMS,
    DistillConfig,
    distill,
    distilled_learner,
    offer_terms,
    teacher_predictions,
)
from training.uplift_learners import AMOUNT, ArmTable, order_value_model

BASKETS = np.array([50.0, 150.0, 199.0, 300.0, 399.0, 1200.0])


def _terms(right: Right | None, spread: float = 0.4) -> dict[str, np.ndarray]:
    t = offer_terms(right, BASKETS, spread)
    assert t.shape == (len(BASKETS), len(OFFER_TERMS))
    return {name: t[:, i] for i, name in enumerate(OFFER_TERMS)}


def test_the_control_offers_nothing_and_reaches_everything() -> None:
    t = _terms(None)
    assert (t["kind"] == 0).all() and (t["cost_share"] == 0).all() and (t["reach"] == 1).all()
    assert (t["threshold_share"] == 0).all() and (t["face_share"] == 0).all()


def test_a_min_spend_right_reads_against_the_visitors_basket() -> None:
    cash50 = RIGHTS_BY_ID["cash50"]
    t = _terms(cash50, spread=0.4)
    assert (t["kind"] == KIND_CODES["amount_off"]).all()
    np.testing.assert_allclose(t["threshold_share"], 399.0 / BASKETS)
    # the chance the order reaches 399, log-normal around the basket: the cost formula's own
    np.testing.assert_allclose(t["reach"], ndtr((np.log(BASKETS / 399.0) - 0.08) / 0.4))
    np.testing.assert_allclose(t["cost_share"], cash50.expected_cost(np.ones(len(BASKETS)), BASKETS, 0.4) / BASKETS)
    assert np.all(np.diff(t["reach"]) > 0)  # a bigger basket reaches the threshold more often
    # face value against what must be spent: 50 off 399 for a small basket, 50 off the basket for a big one
    np.testing.assert_allclose(t["face_share"], 50.0 / np.maximum(BASKETS, 399.0))
    # without a spread, reaching is a step at the threshold
    assert list(_terms(cash50, spread=0.0)["reach"]) == [0, 0, 0, 0, 1, 1]


def test_rights_without_a_threshold() -> None:
    pct = _terms(RIGHTS_BY_ID["pct10"])
    np.testing.assert_allclose(pct["face_share"], np.minimum(0.10, 100.0 / BASKETS))  # the cap bites on 1,200
    assert pct["face_share"][-1] < 0.1 and (pct["reach"] == 1).all() and (pct["threshold_share"] == 0).all()
    np.testing.assert_allclose(_terms(RIGHTS_BY_ID["free_ship"])["face_share"], 8.0 / BASKETS)
    np.testing.assert_allclose(_terms(RIGHTS_BY_ID["points3x"])["face_share"], 0.02)
    np.testing.assert_allclose(_terms(RIGHTS_BY_ID["gift"])["cost_share"], 15.0 / BASKETS)


def test_config_refuses_what_cannot_teach() -> None:
    with pytest.raises(ValueError, match="at least one member"):
        DistillConfig(n_s=0, n_x=0)
    with pytest.raises(ValueError, match="x_weight"):
        DistillConfig(x_weight=1.5)
    with pytest.raises(ValueError, match="student_rounds"):
        DistillConfig(student_rounds=0)


def test_the_teacher_needs_a_binary_outcome_and_one_right_per_arm() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    arms = ("none", "cash20", "cash50")
    table = ArmTable(X, rng.integers(0, 3, 300), rng.random(300), arms, kind=AMOUNT)
    with pytest.raises(ValueError, match="binary"):
        teacher_predictions(table, DEMO_RIGHTS[:2], np.full(300, 200.0), 0.4, DistillConfig(n_s=1, n_x=0))
    binary = ArmTable(X, table.arm, (table.y > 0.5).astype(float), arms)
    with pytest.raises(ValueError, match="3 arms need 2 rights"):
        teacher_predictions(binary, DEMO_RIGHTS[:3], np.full(300, 200.0), 0.4, DistillConfig(n_s=1, n_x=0))


def test_the_student_learns_the_teachers_effects_in_the_served_shape() -> None:
    rng = np.random.default_rng(3)
    n = 6000
    X = rng.normal(size=(n, 4))
    base = 1.0 / (1.0 + np.exp(-(-2.0 + X[:, 0])))
    # a right that helps where X1 > 0 and hurts elsewhere, one that helps everyone a little
    teacher = np.column_stack([base, np.clip(base + 0.05 * np.tanh(2 * X[:, 1]), 0, 1), np.clip(base + 0.02, 0, 1)])
    student = distill(X, teacher, ("none", "a", "b"), rounds=150)
    assert student.adds_control == (False, True, True) and student.kind == "binary"
    assert student.forest is not None  # cross-entropy and regression flatten: the one-row path serves it
    fresh = rng.normal(size=(2000, 4))
    fresh_base = 1.0 / (1.0 + np.exp(-(-2.0 + fresh[:, 0])))
    pred = student.predict(fresh)
    assert float(np.mean(np.abs(pred[:, 0] - fresh_base))) < 0.01  # trees extrapolate flat in the far tails only
    uplift = student.uplift(fresh)
    assert np.corrcoef(uplift[:, 0], np.tanh(2 * fresh[:, 1]))[0, 1] > 0.95
    assert abs(float(uplift[:, 1].mean()) - 0.02) < 0.005
    # a page view's few rows through the flat forest score as LightGBM does
    np.testing.assert_allclose(student.predict(fresh[:3]), pred[:3], rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def campaign():
    sim = simulate(SimConfig(seed=5, n_visitors=1500, days=60))
    spec = FeatureSpec(categories=tuple(sorted({p.category for p in sim.products})))
    return run_campaign(sim, CampaignConfig(seed=5, waves=2), spec)


def test_on_a_campaign_the_student_keeps_the_teachers_ranking(campaign) -> None:
    c = campaign
    train, test = split(c, 0.3)
    table = ArmTable(c.X[train], c.assigned[train], c.bought[train].astype(float), c.arms, propensity=c.propensity[train])
    buyers = train[c.bought[train]]
    order = order_value_model(c.X[buyers], c.assigned[buyers], c.order_value[buyers])
    Xt = c.X[test]
    d = distilled_learner(table, c.config.rights, basket(order, table.X), 0.4, DistillConfig(n_s=2, n_x=1), also=[(Xt, basket(order, Xt))])
    assert d.teacher_train.shape == (len(train), len(c.arms)) and d.teacher_also[0].shape == (len(test), len(c.arms))
    assert ((d.teacher_train >= 0) & (d.teacher_train <= 1)).all()
    teacher_uplift = d.teacher_also[0][:, 1:] - d.teacher_also[0][:, :1]
    student_uplift = d.student.uplift(Xt)
    for j in range(teacher_uplift.shape[1]):  # per right, on visitors neither saw in training
        assert np.corrcoef(student_uplift[:, j], teacher_uplift[:, j])[0, 1] > 0.8
