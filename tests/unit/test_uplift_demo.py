"""The uplift demo's judgement on a small campaign: no policy beats the oracle at its spend,
and the feature ceiling (true labels, same rows) bounds what the learner reaches."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.core.features import FeatureSpec
from app.scoring.uplift_model import load_uplift
from training.coupon_sim import CampaignConfig, run_campaign
from training.simulator import SimConfig, simulate
from training.uplift_demo import POLICIES, feature_ceiling, train_and_evaluate
from training.uplift_distill import DistillConfig


@pytest.fixture(scope="module")
def campaign():
    sim = simulate(SimConfig(seed=5, n_visitors=1500, days=60))
    spec = FeatureSpec(categories=tuple(sorted({p.category for p in sim.products})))
    return run_campaign(sim, CampaignConfig(seed=5, waves=2), spec), spec


@pytest.fixture(scope="module")
def metrics(campaign):
    c, spec = campaign
    return train_and_evaluate(c, spec, learner="x").metrics


def test_the_model_is_judged_against_the_oracle_at_its_own_spend(metrics) -> None:
    m = metrics
    p = m["policies"]
    assert set(p) == set(POLICIES)
    assert p["none"]["value"] == 0.0 and p["none"]["spend"] == 0.0
    assert p["oracle_at_model_spend"]["spend"] <= p["model"]["spend"] + 1e-9
    assert p["model"]["value"] <= p["oracle_at_model_spend"]["value"] + 1e-9 <= p["oracle"]["value"] + 2e-9
    assert m["ratios"]["model_to_oracle_at_same_spend"] == pytest.approx(p["model"]["value"] / p["oracle_at_model_spend"]["value"])


def test_the_feature_ceiling_is_below_the_oracle_and_above_the_learner(campaign, metrics) -> None:
    c, _ = campaign
    learned = metrics["ratios"]["model_to_oracle_at_same_spend"]
    ceiling = feature_ceiling(c, rounds=150)
    assert {"all", "with_history", "without_history"} <= set(ceiling)
    for part in ("all", "with_history", "without_history"):
        assert ceiling[part]["value"] <= ceiling[part]["oracle_at_same_spend"] + 1e-9
        assert np.isfinite(ceiling[part]["ratio"])
    # learning the truth itself from the rows does better than learning it from outcomes
    assert learned < ceiling["all"]["ratio"] <= 1.0 + 1e-9
    assert ceiling["all"]["value"] > 0


def test_the_distilled_learner_is_judged_with_its_teacher(campaign) -> None:
    c, spec = campaign
    result = train_and_evaluate(c, spec, learner="distilled", distill=DistillConfig(n_s=1, n_x=1))
    m = result.metrics
    assert m["learner"] == "distilled" and result.model.learner == "distilled"
    t = m["teacher"]
    assert 0 < t["granted"] <= 1 and t["spend"] > 0
    # the teacher is judged like the model: against the oracle held to its own spend
    assert t["to_oracle_at_same_spend"] <= 1.0 + 1e-9
    assert t["value"] <= m["policies"]["oracle"]["value"] + 1e-9
    # what is served is the X-shaped student, not the teacher
    assert result.model.conversion.adds_control == (False, *(True for _ in c.arms[1:]))


def test_off_policy_estimates_from_the_held_out_log_find_each_policys_true_value(metrics) -> None:
    # what a merchant without the simulator could measure: each estimate within its noise of the truth
    off = metrics["off_policy"]
    assert set(off) == {"model", "baseline", "best_average", "oracle"}
    for name, f in off.items():
        assert f["true"] == pytest.approx(metrics["policies"][name]["value"])
        assert f["dr_se"] > 0 and f["ips_se"] > 0
        assert abs(f["dr"] - f["true"]) < 4 * f["dr_se"], name
        assert abs(f["ips"] - f["true"]) < 4 * f["ips_se"], name
    # the model's predicted profits take out part of the outcomes' noise
    assert off["model"]["dr_se"] < off["model"]["ips_se"]


def test_the_command_publishes_a_model_and_prints_its_judgement(tmp_path, capsys) -> None:
    from training.__main__ import main

    out = tmp_path / "uplift"
    assert main(["uplift-demo", "--visitors", "800", "--days", "40", "--waves", "2", "--teacher-s", "1", "--teacher-x", "1",
                 "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "model / oracle at the same spend:" in printed and "the teacher itself" in printed
    assert "measured off-policy on the held-out randomized outcomes" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["metrics"]["off_policy"]["model"]["true"] == pytest.approx(manifest["metrics"]["policies"]["model"]["value"])
    assert load_uplift(out).arms == ("cash20", "cash50", "pct10", "free_ship", "points3x", "gift")
