"""The randomized rights campaign: seeded, uniform, and its truth has the four classic groups."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.features import FeatureSpec
from training.coupon_sim import GROUPS, CampaignConfig, run_campaign
from training.rights import CONTROL, DEMO_RIGHTS, RIGHTS_BY_ID
from training.simulator import SimConfig, simulate


@pytest.fixture(scope="module")
def shop():
    sim = simulate(SimConfig(seed=3, n_visitors=1500, days=60))
    spec = FeatureSpec(categories=tuple(sorted({p.category for p in sim.products})))
    return sim, spec


@pytest.fixture(scope="module")
def campaign(shop):
    sim, spec = shop
    return run_campaign(sim, CampaignConfig(seed=3, waves=2), spec)


def test_same_seed_same_campaign_and_another_seed_another(shop, campaign) -> None:
    sim, spec = shop
    again = run_campaign(sim, CampaignConfig(seed=3, waves=2), spec)
    assert again.fingerprint == campaign.fingerprint
    assert np.array_equal(again.assigned, campaign.assigned) and np.array_equal(again.truth.profit, campaign.truth.profit)
    other = run_campaign(sim, CampaignConfig(seed=4, waves=2), spec)
    assert not np.array_equal(other.assigned, campaign.assigned)


def test_arms_are_assigned_uniformly(campaign) -> None:
    arms = campaign.arms
    assert arms == (CONTROL, *(r.id for r in DEMO_RIGHTS))
    shares = np.bincount(campaign.assigned, minlength=len(arms)) / len(campaign.assigned)
    assert np.abs(shares - 1 / len(arms)).max() < 0.02  # about 3,000 rows: 1/7 ± a few SE
    assert campaign.propensity == pytest.approx(np.full(len(arms), 1 / len(arms))[campaign.assigned])


def test_rows_are_the_service_rows_and_some_visitors_have_no_history(campaign, shop) -> None:
    _, spec = shop
    assert campaign.X.shape == (len(campaign.visitor_ids), len(spec.visitor_names))
    assert 0.0 < (~campaign.has_history).mean() < 0.2
    views = campaign.X[:, spec.visitor_names.index("views")]
    assert (views[~campaign.has_history] == 0).all()
    assert set(campaign.wave.tolist()) == {0, 1}


def test_truth_has_the_four_groups_with_their_classic_responses(campaign) -> None:
    t = campaign.truth
    assert set(t.group) == set(GROUPS)
    uplift, ip = t.uplift[:, 1:], t.incremental_profit[:, 1:]
    dogs, persuadable = t.group == "sleeping_dog", t.group == "persuadable"
    sure, lost = t.group == "sure_thing", t.group == "lost_cause"
    assert (uplift[dogs] < 0).all()  # every right lowers a sleeping dog's purchase
    assert (ip[dogs] < 0).all()
    assert uplift[persuadable].mean() > 0.03 and ip[persuadable].max(axis=1).mean() > 0
    assert t.p_buy[sure, 0].mean() > 0.45 and uplift[sure].mean() < 0.02  # buy anyway
    assert ip[sure].mean() < 0  # so a right only costs
    assert t.p_buy[lost, 0].mean() < 0.08 and np.abs(uplift[lost]).mean() < 0.02


def test_different_rights_suit_different_visitors(campaign) -> None:
    best = campaign.truth.incremental_profit[:, 1:].argmax(axis=1)
    shares = np.bincount(best, minlength=len(DEMO_RIGHTS)) / len(best)
    assert (shares > 0.05).sum() >= 3


def test_money_follows_the_rights_terms(campaign) -> None:
    t, c = campaign.truth, campaign
    assert t.revenue == pytest.approx(t.p_buy * t.order_value)
    assert t.profit == pytest.approx(c.config.margin_rate * t.revenue - t.cost)
    assert (t.cost[:, 0] == 0).all()
    j = c.arms.index("free_ship")
    assert t.cost[:, j] == pytest.approx(8.0 * t.p_buy[:, j])
    # realised costs: a min-spend right costs only on orders reaching its threshold
    cash50 = (c.assigned == c.arms.index("cash50")) & c.bought
    assert ((c.cost[cash50] == 50) == (c.order_value[cash50] >= 399)).all()
    assert (c.order_value[~c.bought] == 0).all() and (c.order_value[c.bought] > 0).all()
    assert RIGHTS_BY_ID["pct10"].cost(np.array([50.0, 2000.0])).tolist() == [5.0, 100.0]


def test_behaviour_snapshots_equal_folding_up_to_each_cutoff(shop) -> None:
    from training.attributes import behaviours_at
    from training.coupon_sim import behaviours_at_each

    sim, _ = shop
    cutoffs = [sim.end - 5 * 86400, sim.end - 30 * 86400]
    snapshots = behaviours_at_each(sim.events, cutoffs)
    for cutoff, snap in zip(cutoffs, snapshots, strict=True):
        assert snap == behaviours_at(sim.events, cutoff)
