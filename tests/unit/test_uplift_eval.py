"""Qini, uplift curves, uplift@k and the policy oracles, on tables small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from training.uplift_eval import (
    best_positive,
    oracle_at_spend,
    policy_value,
    qini_curve,
    true_qini_curve,
    uplift_at_k,
    uplift_curve,
)

# six rows, best score first: treated, control, treated, control, treated, control
SCORE = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
TREATED = np.array([1, 0, 1, 0, 1, 0], dtype=bool)
Y = np.array([1, 0, 1, 1, 0, 0], dtype=float)


def test_qini_curve_and_coefficient_by_hand() -> None:
    # Q(k) = Y_t - Y_c * N_t / N_c: 1, 1, 2, 2 - 1*2/2, 2 - 1*3/2, 2 - 1*3/3
    c = qini_curve(Y, TREATED, SCORE)
    assert c.x == pytest.approx(np.arange(7) / 6)
    assert c.y == pytest.approx(np.array([0, 1, 1, 2, 1, 0.5, 1]) / 6)
    # trapezoid of (Q(k) - k/6 * Q(6)) / 6 over steps of 1/6: 18/36/6
    assert c.coefficient == pytest.approx(1 / 12)


def test_uplift_curve_by_hand() -> None:
    # U(k) = (Y_t/N_t - Y_c/N_c) * k: 1, 2, 3, (1 - 1/2) * 4, (2/3 - 1/2) * 5, (2/3 - 1/3) * 6
    c = uplift_curve(Y, TREATED, SCORE)
    assert c.y == pytest.approx(np.array([0, 1, 2, 3, 2, 5 / 6, 2]) / 6)
    assert c.coefficient == pytest.approx(11.5 / 108)


def test_a_reversed_score_has_a_lower_qini_and_ties_do_not_depend_on_row_order() -> None:
    assert qini_curve(Y, TREATED, -SCORE).coefficient < qini_curve(Y, TREATED, SCORE).coefficient
    flat = qini_curve(Y, TREATED, np.zeros(6))
    assert flat.coefficient == pytest.approx(0.0)
    assert len(flat.x) == 2  # one cut: a tie is never split


def test_true_qini_orders_by_score() -> None:
    true_uplift = np.array([0.3, 0.2, 0.1, 0.0, -0.1, -0.2])
    good, bad = true_qini_curve(true_uplift, SCORE), true_qini_curve(true_uplift, -SCORE)
    assert good.y[-1] == pytest.approx(0.05)  # mean true uplift
    assert good.coefficient > 0 > bad.coefficient


def test_uplift_at_k() -> None:
    assert uplift_at_k(Y, TREATED, SCORE, 0.5) == pytest.approx(1.0)  # top 3: treated 1, 1; control 0
    assert uplift_at_k(Y, TREATED, SCORE, 1.0) == pytest.approx(2 / 3 - 1 / 3)
    assert np.isnan(uplift_at_k(Y, TREATED, SCORE, 1 / 6))  # only a treated row


IP = np.array([[0.0, 5.0, 3.0], [0.0, 1.0, 2.0], [0.0, -1.0, -2.0]])
COST = np.array([[0.0, 10.0, 1.0], [0.0, 1.0, 1.0], [0.0, 3.0, 3.0]])


def test_policy_value_and_best_positive() -> None:
    choice = best_positive(IP)
    assert choice.tolist() == [1, 2, 0]  # nothing for the visitor no arm helps
    v = policy_value(choice, IP, COST)
    assert (v.value, v.spend, v.granted) == pytest.approx((7 / 3, 11 / 3, 2 / 3))


def test_oracle_at_spend_keeps_the_budget_and_picks_the_cheaper_right() -> None:
    full = policy_value(best_positive(IP), IP, COST)
    capped = oracle_at_spend(IP, COST, budget=2 / 3)
    assert capped.tolist() == [2, 2, 0]  # 3 for 1 beats 5 for 10 when spend is short
    v = policy_value(capped, IP, COST)
    assert v.spend <= 2 / 3 + 1e-12 and v.value == pytest.approx(5 / 3)
    assert oracle_at_spend(IP, COST, budget=100.0).tolist() == best_positive(IP).tolist()
    assert policy_value(oracle_at_spend(IP, COST, budget=0.0), IP, COST).value == 0.0
    assert full.value >= v.value
