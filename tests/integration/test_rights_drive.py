"""A rights campaign through the running service, judged by the simulator's truth.

The published uplift model is served; every visitor of a simulated shop renders once
over real HTTP, the simulator draws their purchase under the right the service really
granted, and the purchase goes back through the events API. What the service counts,
decides and spends is held against what the drive saw and against the truth.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.config import REPO_ROOT
from app.core.features import visitor_row
from app.core.profile import Behaviour, Context
from app.rights.definition import Right as ServiceRight
from app.rights.definition import RightIn
from app.scoring.uplift_model import load_uplift
from tests.conftest import ShopKeys, create_shop, make_settings
from tests.integration.test_console import log_in, row_of
from training.coupon_sim import behaviours_at_each
from training.rights import DEMO_RIGHTS, Right
from training.rights_drive import (
    WEEK,
    CampaignRun,
    drive_campaign,
    live_end,
    print_report,
    service_right,
    write_outputs,
)
from training.simulator import SimConfig, Simulation, simulate
from training.uplift_demo import predicted_incremental_profit
from training.uplift_eval import best_positive

UPLIFT_DIR = REPO_ROOT / "models" / "uplift"
MARGIN = 0.35


@pytest.fixture(scope="module")
def sim() -> Simulation:
    # small but like the training shops: three months of history, a fresh seed
    return simulate(SimConfig(seed=3, n_visitors=500, days=90, n_products=80))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, ShopKeys]]:
    data = tmp_path_factory.mktemp("rights-drive")
    with TestClient(create_app(make_settings(data, uplift_dir=UPLIFT_DIR))) as client:
        yield client, create_shop(client, "drive")


@pytest.fixture(scope="module")
def run(sim: Simulation, served: tuple[TestClient, ShopKeys]) -> CampaignRun:
    client, shop = served
    # half the visitors randomized: enough explored visitors per arm for the estimates
    return drive_campaign(
        client, sim, shop=shop.shop_id, merchant_key=shop.merchant_key, storefront_key=shop.storefront_key,
        exploration=0.5, margin=MARGIN, progress=False,
    )


@pytest.mark.parametrize("r", DEMO_RIGHTS, ids=lambda r: r.id)
def test_the_service_charges_what_the_truth_charges_for_every_order(r: Right) -> None:
    served = ServiceRight.from_body(r.id, RightIn.model_validate(service_right(r)).stored())
    for order in (19.9, 198.99, 199.0, 250.0, 398.0, 399.0, 1234.56, 6000.0):
        truth = float(r.cost(np.array([order]))[0])
        if r.kind == "amount_off" and order < r.min_spend:
            assert truth == 0.0 and order < served.min_spend  # the service does not redeem it either
            continue
        assert served.redemption_cost_cents(round(order * 100)) == pytest.approx(truth * 100, abs=0.5), (r.id, order)


def test_the_simulation_moves_by_whole_weeks_to_end_before_now(sim: Simulation) -> None:
    now = time.time()
    end = live_end(sim, now)
    assert end <= now - 60 < end + WEEK
    assert (end - sim.end) % WEEK == 0  # the same hour and weekday: the rows are the truth's


def test_every_visitor_is_decided_once_and_the_service_counts_what_the_drive_saw(run: CampaignRun) -> None:
    assert run.render_errors == 0 and len(run.answers) == len(run.visitors) > 400
    assert {a["status"] for a in run.answers} == {"granted", "none"}
    redemptions = int(run.redeemed.sum())
    assert redemptions > 20
    for row in run.per_right():
        assert row["granted"]["service"] == row["granted"]["drive"] > 0, row
        assert row["redeemed"]["service"] == row["redeemed"]["drive"], row
        assert row["explored"]["service"] == row["explored"]["drive"] > 0, row
        # the service rounds each redemption to the fen; the drive sums the truth's costs
        assert row["spend"]["service"] == pytest.approx(row["spend"]["drive"], abs=0.01 * max(1, row["redeemed"]["drive"])), row
    # a grant is redeemed exactly when its holder buys and the order reaches the minimum spend
    minimum = np.array([0.0, *(r.min_spend for r in DEMO_RIGHTS)])[run.choice]
    assert np.array_equal(run.redeemed, run.bought & (run.choice > 0) & (run.order_value >= minimum))
    stats = {r["id"]: r for r in run.stats["rights"]}
    for j, arm in enumerate(run.arms[1:], start=1):
        drawn = (run.choice == j) & run.explored
        assert stats[arm]["incremental"]["explored_conversions"] == int((drawn & run.bought).sum())


@pytest.fixture(scope="module")
def offline(run: CampaignRun, sim: Simulation) -> np.ndarray:
    """The offline evaluation's expected incremental profit per visitor and arm, from the
    published model and the simulator's own rows at the shop's end."""
    model = load_uplift(UPLIFT_DIR)
    history = behaviours_at_each(sim.events, [sim.end])[0]
    by_id = {v.visitor_id: v for v in sim.visitors}
    X = np.vstack([
        visitor_row(model.spec, history.get(vid) or Behaviour(), Context(ts=sim.end, device=by_id[vid].device, channel=by_id[vid].channel))
        for vid in run.visitors
    ])
    return predicted_incremental_profit(model, X, DEMO_RIGHTS, MARGIN)


def test_the_service_decides_as_the_offline_policy(run: CampaignRun, offline: np.ndarray) -> None:
    """Outside the randomized share, every visitor gets the arm the offline evaluation's policy
    picks from the same model and the simulator's own rows, with the same scores."""
    greedy = ~run.explored
    assert greedy.sum() > 150
    assert np.array_equal(best_positive(offline)[greedy], run.choice[greedy])
    for i in np.flatnonzero(greedy):
        for score in run.answers[i]["scores"]:
            assert score["profit"] == pytest.approx(offline[i, run.arms.index(score["right"])], abs=1e-3)


def test_the_randomized_tallies_per_greedy_arm_are_the_offline_policys_cells(run: CampaignRun, offline: np.ndarray) -> None:
    """The service files each randomized visitor under the arm its model would have chosen:
    for every right, the visitors the offline policy gives it and who were drawn the right
    (or nothing) are the ones the service's targeted estimate counts, and so are their purchases."""
    would = best_positive(offline)
    # the render tells the storefront too, for an exploring decision
    assert [run.answers[i]["greedy"] for i in np.flatnonzero(run.explored)] == [run.arms[k] for k in would[run.explored]]
    assert not any("greedy" in run.answers[i] for i in np.flatnonzero(~run.explored))
    stats = {r["id"]: r["incremental"] for r in run.stats["rights"]}
    seen = 0
    for j, arm in enumerate(run.arms[1:], start=1):
        cell = run.explored & (would == j)
        given, control = cell & (run.choice == j), cell & (run.choice == 0)
        t = stats[arm]["targeted"]
        assert (t["explored"], t["control_explored"]) == (int(given.sum()), int(control.sum())), arm
        assert (t["explored_conversions"], t["control_conversions"]) == (int((given & run.bought).sum()), int((control & run.bought).sum())), arm
        assert t["picked_grants"] == int(((run.choice == j) & ~run.explored).sum()), arm
        seen += t["explored"] + t["control_explored"]
    assert seen > 30  # the cells are not all empty: the check above compared real counts


def test_the_policy_the_service_ran_pays_by_the_truth(run: CampaignRun) -> None:
    p = run.policies()
    best_average = next(v for k, v in p.items() if k.startswith("everyone_"))
    greedy = p["served_greedy_share"]
    assert greedy["value"] > best_average["value"] > p["random"]["value"]
    assert greedy["to_oracle_at_same_spend"] > 0.6
    # the randomized half costs: the whole shop earns less than its model-driven half
    assert p["served"]["value"] < greedy["value"]


def test_the_report_is_printed_and_drawn(run: CampaignRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = run.summary()
    print_report(s)
    text = capsys.readouterr().out
    assert f"{len(run.visitors)} visitors rendered (0 not 200)" in text and "of the oracle at the same spend" in text
    paths = write_outputs(s, tmp_path)
    summary = json.loads(paths[0].read_text())
    assert [r["right"] for r in summary["rights"]] == list(run.arms[1:])
    assert "service: picked [95 %]" in text and "no noise" in text
    # the estimates' aims without outcome noise, where both sides of a comparison have visitors
    assert any(r["incremental_conversions"]["noise_free_targeted"] is not None for r in summary["rights"])
    assert paths[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_console_shows_both_estimates_of_what_each_right_added(run: CampaignRun, served: tuple[TestClient, ShopKeys]) -> None:
    """The rights table shows the estimate on the visitors the model picks where the service
    has one, else the average one; each right's page shows both, with the rows they rest on."""
    client, shop = served
    client.cookies.clear()
    assert log_in(client, shop).status_code == 303
    try:
        table = client.get("/console/rights?lang=en").text
        for r in run.stats["rights"]:
            inc, targeted = r["incremental"], r["incremental"]["targeted"]
            row = row_of(table, r["id"])
            if targeted["status"] == "estimated":
                assert f'data-basis="targeted">{targeted["incremental_conversions"]:+.1f}<' in row, row
            elif inc["status"] == "estimated":
                assert f'data-basis="average">{inc["incremental_conversions"]:+.1f}<' in row, row
            page = client.get(f"/console/rights/{r['id']}?lang=en").text
            picked = page[page.index('id="inc-targeted"'):]
            picked = picked[: picked.index("</p>")]
            if targeted["status"] == "estimated":
                assert f'{targeted["incremental_conversions"]:+.1f}<' in picked
            else:
                assert "Not enough randomized visitors" in picked
            assert f"{targeted['explored']} given the right, {targeted['explored_conversions']} bought" in page
    finally:
        client.cookies.clear()
