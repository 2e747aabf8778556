"""The rights policy, case by case: who gets which right, and the reason given."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.rights.definition import Right, RightIn, reach_probability
from app.rights.policy import ArmScore, PolicyInputs, decide, eligible, pacing_allowance, score
from app.store.rights import local_day

NOW = 1_790_000_000.0


def right(rid: str, **body: object) -> Right:
    base: dict[str, object] = {"name": rid, "kind": "amount_off", "value": {"amount": 20, "min_spend": 199}}
    base.update(body)
    return Right.from_body(rid, RightIn.model_validate(base).stored())


CASH20 = right("cash20")
CASH50 = right("cash50", value={"amount": 50, "min_spend": 399})
SHIP = right("ship", kind="free_shipping", value={}, cost={"per_redemption": 8})
VIP = right("vip_gift", kind="gift", value={"gift": "香薰"}, cost={"per_redemption": 15}, crowds=["vip"], mode="crowd", priority=5)
VIP2 = right("vip_ship", kind="free_shipping", value={}, cost={"per_redemption": 8}, crowds=["vip"], mode="crowd", priority=1)
DEFAULT = right("everyone5", value={"amount": 5}, default=True)
PAUSED = right("paused", status="paused")
LATER = right("later", valid={"from": "2030-01-01T00:00:00+08:00"})
WOMEN_ONLY = right("women20", crowds=["women"])


def arm(p: float, p0: float, order: float = 250.0) -> ArmScore:
    return ArmScore(p, p0, p * order, p0 * order, order)


# The four classic groups, against cash20 (cost 20 per redemption), margin 0.35:
PERSUADABLE = arm(0.40, 0.10)  # +30 points of purchase: 0.35 * 75 - 0.4 * 20 = +18.25
SURE_THING = arm(0.82, 0.80)  # buys anyway: 0.35 * 5 - 0.82 * 20 = -14.65
LOST_CAUSE = arm(0.011, 0.01)  # buys neither way: 0.35 * 0.25 - 0.011 * 20 = -0.13
SLEEPING_DOG = arm(0.20, 0.30)  # the coupon puts them off: negative before any cost


@pytest.mark.parametrize(
    ("who", "scores", "granted"),
    [
        ("persuadable", PERSUADABLE, ("cash20",)),
        ("sure thing", SURE_THING, ()),
        ("lost cause", LOST_CAUSE, ()),
        ("sleeping dog", SLEEPING_DOG, ()),
    ],
)
def test_only_a_visitor_the_right_changes_gets_it(who: str, scores: ArmScore, granted: tuple[str, ...]) -> None:
    d = decide(PolicyInputs([CASH20], NOW, set(), scores={"cash20": scores}, margin_rate=0.35))
    assert d.candidates == granted, who
    assert not d.explore and d.propensity == 1.0
    (s,) = d.scores
    assert s.profit == pytest.approx(0.35 * (scores.revenue - scores.revenue_control) - scores.conversion * 20)
    assert ("highest expected incremental profit" in d.reason) == bool(granted)
    if not granted:
        assert d.reason.startswith("no right pays for itself")


def test_the_most_profitable_right_first_and_the_rest_as_fallbacks() -> None:
    scores = {"cash20": arm(0.30, 0.10), "cash50": arm(0.45, 0.10), "ship": arm(0.12, 0.10, order=80)}
    d = decide(PolicyInputs([CASH20, CASH50, SHIP], NOW, set(), scores=scores, margin_rate=0.35))
    profits = {s.right: s.profit for s in d.scores}
    assert [s.right for s in d.scores] == sorted(profits, key=lambda r: -profits[r])
    assert d.candidates == tuple(r for r in sorted(profits, key=lambda r: -profits[r]) if profits[r] > 0)
    assert d.arm == d.candidates[0]


def test_crowd_mode_rights_go_to_everyone_in_the_crowd_without_the_model() -> None:
    d = decide(PolicyInputs([CASH20, VIP, VIP2], NOW, {"vip"}, scores={"cash20": PERSUADABLE}))
    assert d.candidates == ("vip_gift", "vip_ship")  # priority 5 before 1
    assert d.reason == "the same for everyone in crowd vip"
    assert d.scores == ()
    assert decide(PolicyInputs([CASH20, VIP], NOW, {"women"}, scores={"cash20": PERSUADABLE})).candidates == ("cash20",)


def test_not_personalized_gets_the_default_rights_only() -> None:
    rights = [CASH20, VIP, DEFAULT]
    d = decide(PolicyInputs(rights, NOW, {"vip"}, personalized=False, scores={"cash20": PERSUADABLE}))
    assert d.candidates == ("everyone5",)
    assert d.reason.startswith("not personalized")
    assert decide(PolicyInputs([CASH20], NOW, set(), personalized=False)).candidates == ()


def test_experiment_lever_overrides_the_policy() -> None:
    assert decide(PolicyInputs([CASH20, DEFAULT], NOW, set(), lever="none", scores={"cash20": PERSUADABLE})).candidates == ()
    d = decide(PolicyInputs([CASH20, DEFAULT], NOW, set(), lever="default", scores={"cash20": PERSUADABLE}))
    assert d.candidates == ("everyone5",) and d.reason.startswith("experiment variant")
    assert decide(PolicyInputs([CASH20], NOW, set(), lever="uplift", scores={"cash20": PERSUADABLE})).candidates == ("cash20",)


def test_eligibility_window_status_and_crowds() -> None:
    live = eligible([CASH20, PAUSED, LATER, WOMEN_ONLY], NOW, {"men"})
    assert [r.id for r in live] == ["cash20"]
    assert [r.id for r in eligible([WOMEN_ONLY], NOW, {"women"})] == ["women20"]


def test_rights_the_model_does_not_know_are_granted_only_when_exploring() -> None:
    d = decide(PolicyInputs([CASH20], NOW, set(), scores={}, exploration=0.1, draw=0.5))
    assert d.candidates == () and "no uplift model" in d.reason
    d = decide(PolicyInputs([CASH20], NOW, set(), scores={}, exploration=0.1, draw=0.05, pick=0.9))
    assert d.explore and d.candidates == ("cash20",)


@pytest.mark.parametrize("pick", [0.0, 0.34, 0.67, 0.999])
def test_exploration_draws_every_arm_with_its_propensity(pick: float) -> None:
    eps = 0.2
    scores = {"cash20": PERSUADABLE, "cash50": SURE_THING}
    d = decide(PolicyInputs([CASH20, CASH50], NOW, set(), scores=scores, exploration=eps, draw=0.1, pick=pick))
    arms = ["none", "cash20", "cash50"]
    chosen = arms[int(pick * 3)]
    assert d.explore and d.arm == chosen
    assert d.candidates == (() if chosen == "none" else (chosen,))
    greedy = "cash20"  # the persuadable's best
    assert d.propensity == pytest.approx(eps / 3 + (1 - eps) * (chosen == greedy))
    assert d.arms == 3 and d.as_dict()["arms"] == 3  # P(arm | exploring) = 1/3, for the randomized share alone
    assert d.hold_s == CASH20.grant_s
    # whatever was drawn, the decision keeps what the model would have chosen: the
    # randomized rows per greedy arm estimate a right's effect on its own grantees
    assert d.greedy == greedy and d.as_dict()["greedy"] == greedy
    not_exploring = decide(PolicyInputs([CASH20, CASH50], NOW, set(), scores=scores, exploration=eps, draw=0.9))
    assert not not_exploring.explore and not_exploring.propensity == pytest.approx(1 - eps + eps / 3)
    assert not_exploring.arms == 0 and "arms" not in not_exploring.as_dict()
    assert not_exploring.greedy is None and "greedy" not in not_exploring.as_dict()  # its arm is the greedy one


def test_propensities_of_all_arms_sum_to_one() -> None:
    eps = 0.3
    scores = {"cash20": PERSUADABLE, "cash50": SURE_THING}
    total = 0.0
    for pick in (0.1, 0.5, 0.9):
        d = decide(PolicyInputs([CASH20, CASH50], NOW, set(), scores=scores, exploration=eps, draw=0.0, pick=pick))
        total += d.propensity or 0.0
    # The arms' propensities: each exploring arm's share plus the greedy arm's (1 - eps).
    assert total == pytest.approx(1.0)


def test_score_uses_the_cost_model() -> None:
    pct = right("pct10", kind="percent_off", value={"percent": 10, "max_discount": 30})
    s = score(pct, arm(0.5, 0.2, order=400), 0.35)
    # cost: 0.5 * min(10 % of 400, 30) = 15
    assert s.expected_cost == pytest.approx(15.0)
    assert s.profit == pytest.approx(0.35 * (200 - 80) - 15)


@pytest.mark.parametrize(
    ("value", "cost", "reserved", "fee"),
    [
        ({"percent": 10, "max_discount": 30}, {"per_grant": 0.5}, 3050, 50),  # the fee and the worst redemption
        ({"percent": 10}, {"per_grant": 0.5}, 50, 50),  # unbounded (no money budget allowed): the fee alone
        ({"percent": 10}, {}, 0, 0),
    ],
)
def test_a_grant_reserves_its_worst_case_of_which_the_fee_is_spent_at_once(
    value: dict[str, float], cost: dict[str, float], reserved: int, fee: int
) -> None:
    r = right("pct", kind="percent_off", value=value, cost=cost)
    assert (r.max_cost_cents, r.per_grant_cents) == (reserved, fee)


@pytest.mark.parametrize(
    ("value", "min_spend", "spread", "p"),
    [
        (250, 0, 0.5, 1.0),  # no threshold
        (150, 199, 0.0, 1.0),  # no spread known: every purchase counts (the overestimate)
        (199 * 1.1331484530668263, 199, 0.5, 0.5),  # the median order sits on the threshold: e^(σ²/2) above it
        (100, 199, 0.5, 0.0519),  # far below: rarely reached
        (600, 199, 0.5, 0.9748),  # far above: almost always
    ],
)
def test_a_min_spend_is_reached_with_log_normal_orders(value: float, min_spend: float, spread: float, p: float) -> None:
    assert reach_probability(value, min_spend, spread) == pytest.approx(p, abs=1e-4)


def test_the_model_spread_lowers_the_cost_of_a_threshold_few_orders_reach() -> None:
    cash50 = right("cash50", value={"amount": 50, "min_spend": 399})
    s = score(cash50, arm(0.40, 0.10, order=250), 0.35)
    spread = score(cash50, ArmScore(0.40, 0.10, 100.0, 25.0, 250.0, order_value_spread=0.5), 0.35)
    assert s.expected_cost == pytest.approx(0.40 * 50)  # every purchase assumed to redeem
    assert spread.expected_cost == pytest.approx(0.40 * 50 * reach_probability(250, 399, 0.5))
    assert spread.expected_cost < 0.2 * s.expected_cost and spread.profit > s.profit


@pytest.mark.parametrize(
    ("who", "p", "p0", "profit"),
    [("persuadable", 0.40, 0.10, 21.55), ("sure thing", 0.82, 0.80, -7.88)],
)
def test_the_readmes_worked_example_with_the_published_spread(who: str, p: float, p0: float, profit: float) -> None:
    """README, "How rights are chosen": orders around 250, sigma 0.49 (models/uplift's manifest)."""
    s = score(CASH20, ArmScore(p, p0, p * 250, p0 * 250, 250.0, order_value_spread=0.49), 0.35)
    assert reach_probability(250, 199, 0.49) == pytest.approx(0.587, abs=1e-3)
    assert s.profit == pytest.approx(profit, abs=0.005), who


@pytest.mark.parametrize(
    ("daily", "seconds", "allowed"),
    [(240, 0, 10), (240, 43200, 130), (240, 86399, 240), (240, 90000, 240), (10, 0, 1), (10, 43200, 6), (0, 43200, 0), (1, 0, 1)],
)
def test_pacing_spreads_the_daily_budget_with_an_hour_of_slack(daily: int, seconds: float, allowed: int) -> None:
    assert pacing_allowance(daily, seconds) == allowed


def test_pacing_never_goes_back_during_the_day() -> None:
    values = [pacing_allowance(500, s) for s in range(0, 86400, 600)]
    assert values == sorted(values) and values[-1] == 500


@pytest.mark.parametrize(
    ("zone", "day", "seconds"),
    [
        ("Asia/Shanghai", "20261122", 8 * 3600 + 30 * 60),  # 00:30 UTC is 08:30 in China
        ("America/New_York", "20261121", 19 * 3600 + 30 * 60),  # still the evening before there
        ("Mars/Olympus", "20261122", 8 * 3600 + 30 * 60),  # a zone this machine does not know: China's
    ],
)
def test_the_shops_day_and_seconds_into_it_are_local(zone: str, day: str, seconds: float) -> None:
    ts = datetime(2026, 11, 22, 0, 30, tzinfo=UTC).timestamp()
    assert local_day(ts, zone) == (day, pytest.approx(seconds))


def test_the_kept_day_bounds_give_the_same_answers_as_the_clock_across_days_and_clock_changes() -> None:
    """local_day keeps each zone's day bounds: every answer must still be the wall clock's,
    through midnights, a day with a clock change (New York, 1 November 2026) and
    timestamps going back and forth between zones and days."""
    start = datetime(2026, 10, 31, 0, 0, tzinfo=UTC).timestamp()
    stamps = [start + i * 7 * 60 + 0.25 for i in range(3 * 24 * 60 // 7)]
    stamps += [start + 86400 * 1.5, start + 3600.5, start + 86400 * 2.7]  # back in time, then forward again
    for ts in stamps:
        for zone in ("America/New_York", "Asia/Shanghai", "Europe/London"):
            local = datetime.fromtimestamp(ts, ZoneInfo(zone))
            expected = (local.strftime("%Y%m%d"), local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6)
            got = local_day(ts, zone)
            assert got[0] == expected[0] and got[1] == pytest.approx(expected[1], abs=1e-6), (zone, ts)
