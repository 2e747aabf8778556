"""Off-policy evaluation (training.uplift_ope): hand-computed cases, unbiasedness against a known truth, errors."""

from __future__ import annotations

import numpy as np
import pytest

from training.uplift_ope import (
    EvaluationError,
    Log,
    compare,
    estimate,
    greedy,
    propensity_from_shares,
)

ARMS = ("none", "coupon")


def small_log() -> Log:
    # rows: (arm, propensity, outcome)
    return Log(ARMS, np.array([0, 1, 1, 0]), np.array([0.5, 0.5, 0.25, 0.8]), np.array([1.0, 0.0, 2.0, 3.0]), np.zeros(2))


def test_ips_and_snips_by_hand() -> None:
    log = small_log()
    e = estimate(log, "coupon for all", np.ones(4, dtype=int))
    # agreeing rows 1 and 2: 0/0.5 and 2/0.25 -> (0 + 8) / 4 rows; weights 2 + 4
    assert e.ips == pytest.approx(8 / 4)
    assert e.snips == pytest.approx(8 / 6)
    assert e.matched == 2 and e.shares == {"none": 0.0, "coupon": 1.0}
    assert e.dr is None
    e0 = estimate(log, "none for all", np.zeros(4, dtype=int))
    assert e0.ips == pytest.approx((1 / 0.5 + 3 / 0.8) / 4)


def test_dr_without_information_is_ips_and_with_exact_predictions_is_the_direct_value() -> None:
    log = small_log()
    chosen = np.array([1, 1, 0, 0])
    zero = estimate(log, "p", chosen, np.zeros((4, 2)))
    assert zero.dr == pytest.approx(zero.ips)
    # predictions equal to every logged outcome: the correction vanishes, DR is the mean predicted value of the choices
    pred = np.column_stack([log.outcome, log.outcome])
    exact = estimate(log, "p", chosen, pred)
    assert exact.dr == pytest.approx(pred[np.arange(4), chosen].mean())


def test_costs_are_netted_in_values_and_in_the_greedy_choice() -> None:
    log = Log(ARMS, np.array([1, 1]), np.array([0.5, 0.5]), np.array([1.0, 0.0]), np.array([0.0, 0.25]))
    assert estimate(log, "coupon", np.array([1, 1])).ips == pytest.approx(((1 - 0.25) / 0.5 + (0 - 0.25) / 0.5) / 2)
    uplift = np.array([[0.1, 0.3], [0.4, 0.2], [0.05, 0.02]])
    costs = np.array([0.0, 0.2, 0.0])
    # row 0: gains -0.1 / 0.3 -> arm 2; row 1: 0.2 / 0.2 -> the first, arm 1; row 2: -0.15 / 0.02 -> arm 2
    assert greedy(uplift, costs).tolist() == [2, 1, 2]
    assert greedy(uplift, costs, min_gain=0.05).tolist() == [2, 1, 0]
    assert greedy(-uplift, np.zeros(3)).tolist() == [0, 0, 0]  # nothing pays: the control


@pytest.mark.parametrize(
    ("arm", "p", "y", "costs", "message"),
    [
        ([], [], [], [0, 0], "no rows"),
        ([0, 1], [0.5, 0.0], [1, 0], [0, 0], "(0, 1]"),
        ([0, 1], [0.5, 1.2], [1, 0], [0, 0], "(0, 1]"),
        ([0, 2], [0.5, 0.5], [1, 0], [0, 0], "outside the arms"),
        ([0, 1], [0.5, 0.5], [1, np.nan], [0, 0], "missing"),
        ([0, 1], [0.5, 0.5], [1, 0], [0], "one cost per arm"),
    ],
)
def test_a_log_it_cannot_use_is_refused(arm: list[int], p: list[float], y: list[float], costs: list[float], message: str) -> None:
    with pytest.raises(EvaluationError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        Log(ARMS, np.array(arm, dtype=int), np.array(p, dtype=float), np.array(y, dtype=float), np.array(costs, dtype=float))


def confounded_log(n: int = 40_000, seed: int = 3, coupon_cost: float = 0.0) -> tuple[Log, np.ndarray, np.ndarray]:
    """A log whose logging policy favoured the coupon for the units it helps: the arm depends on x.

    Returns the log, the true P(buy) under each arm (n, 2) and x.
    """
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    truth = np.column_stack([0.2 + 0.1 * x, 0.2 + 0.1 * x + 0.3 * (x > 0.5)])
    p_coupon = np.where(x > 0.5, 0.8, 0.2)
    arm = (rng.random(n) < p_coupon).astype(int)
    y = (rng.random(n) < truth[np.arange(n), arm]).astype(float)
    propensity = np.where(arm == 1, p_coupon, 1 - p_coupon)
    return Log(ARMS, arm, propensity, y, np.array([0.0, coupon_cost])), truth, x


def test_estimates_find_the_true_value_of_a_policy_and_the_lift_over_the_control() -> None:
    log, truth, x = confounded_log()
    chosen = (x > 0.5).astype(int)  # the right policy: the coupon only where it helps
    true_value = truth[np.arange(len(x)), chosen].mean()
    noisy_model = truth + np.random.default_rng(9).normal(0, 0.05, truth.shape)  # a decent, imperfect outcome model
    e = estimate(log, "p", chosen, noisy_model, base=np.zeros(len(x), dtype=int))
    assert abs(e.ips - true_value) < 4 * e.ips_se
    assert e.dr is not None and e.dr_se is not None and abs(e.dr - true_value) < 4 * e.dr_se
    assert e.dr_se < e.ips_se  # the model takes out most of the noise
    true_lift = true_value - truth[:, 0].mean()
    assert e.lift is not None and e.lift_se is not None and abs(e.lift - true_lift) < 4 * e.lift_se
    assert e.lift - 1.96 * e.lift_se > 0  # the policy's gain is seen, not just estimated
    # pretending the log was randomized with fixed shares (what the command does without --propensity) is biased here
    wrong = Log(ARMS, log.arm, propensity_from_shares(log.arm, ARMS), log.outcome, log.costs)
    assert abs(estimate(wrong, "p", chosen).ips - true_value) > 5 * e.ips_se


def test_compare_lists_the_model_each_arm_for_everyone_and_the_log_as_run() -> None:
    log, truth, x = confounded_log(8_000, coupon_cost=0.1)
    rows = compare(log, greedy(truth[:, 1:] - truth[:, :1], log.costs), truth)
    assert [r.policy for r in rows] == ["model", "everyone: none", "everyone: coupon", "logged (as run)"]
    assert rows[0].shares["coupon"] == pytest.approx((x > 0.5).mean())
    assert rows[1].lift == 0.0  # the control against itself
    # true lifts net of the 0.1 cost: the coupon where it helps 0.5 · (0.3 - 0.1) = 0.10; for everyone 0.15 - 0.1 = 0.05
    model, everyone = rows[0], rows[2]
    assert model.lift is not None and everyone.lift is not None and model.lift_se is not None
    assert abs(model.lift - 0.10) < 4 * model.lift_se and model.lift > everyone.lift
    assert rows[3].ips == pytest.approx(log.net.mean()) and rows[3].dr is None
    d = model.as_dict()
    assert d["lift_95"][0] < d["lift"] < d["lift_95"][1]
