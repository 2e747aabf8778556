"""Experiment statistics: checked against scipy and statsmodels as independent computations.

app.core.experiment_stats uses only scipy.special's distribution functions; the tests and
nothing else call scipy.stats' tests and statsmodels, so an agreement here is two
implementations agreeing, not one checked against itself.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

from app.core.experiment_stats import (
    CONSTANT_COVARIATE,
    CONTROL_MEAN_ZERO,
    NO_VARIANCE,
    NO_VISITORS,
    TOO_FEW_VISITORS,
    VariantSample,
    analyze,
    compare,
    sequential_multiplier,
    srm_check,
)


def sample(
    key: str,
    metrics: dict[str, np.ndarray],
    pre: dict[str, np.ndarray] | None = None,
    *,
    weight: float = 0.5,
    exposed_day: np.ndarray | None = None,
    converted_day: np.ndarray | None = None,
) -> VariantSample:
    n = len(next(iter(metrics.values()))) if metrics else 0
    return VariantSample(
        key,
        weight,
        metrics,
        pre or {},
        np.zeros(n, dtype=np.int64) if exposed_day is None else exposed_day,
        np.full(n, np.nan) if converted_day is None else converted_day,
    )


def conversions(x: int, n: int) -> np.ndarray:
    return np.r_[np.ones(x), np.zeros(n - x)]


def strict_json(result: object) -> dict:
    """The dict round-trips through JSON with NaN and infinities refused."""
    return json.loads(json.dumps(result, allow_nan=False))


# ---------------------------------------------------------------------------- frequentist

Z_CASES = [  # (conversions_t, visitors_t, conversions_c, visitors_c)
    (440, 5000, 400, 5000),
    (90, 1000, 60, 1200),
    (3, 50, 1, 40),
    (400, 5000, 400, 5000),  # no difference: p = 1
    (1200, 10000, 1000, 10000),  # a clear effect: tiny p
]


@pytest.mark.parametrize("xt,nt,xc,nc", Z_CASES)
def test_pooled_z_test_matches_statsmodels(xt: int, nt: int, xc: int, nc: int) -> None:
    res = compare(sample("t", {"conversion": conversions(xt, nt)}), sample("c", {"conversion": conversions(xc, nc)}), "conversion", "proportion")
    _, expected = proportions_ztest([xt, xc], [nt, nc])
    assert res.test == "pooled_z"
    assert res.p_value == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert res.difference == pytest.approx(xt / nt - xc / nc)
    assert res.relative_lift == pytest.approx((xt / nt) / (xc / nc) - 1)


WELCH_CASES = [  # (seed, visitors_t, visitors_c, how the treatment's values differ)
    (1, 2000, 2000, "normal, shifted"),
    (2, 500, 3000, "lognormal revenue, unequal sizes"),
    (3, 40, 25, "small, unequal spread"),
    (4, 3000, 3000, "zero-inflated revenue"),
]


def welch_values(seed: int, nt: int, nc: int, how: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if how.startswith("normal"):
        return rng.normal(10.3, 4, nt), rng.normal(10, 4, nc)
    if how.startswith("lognormal"):
        return rng.lognormal(2.1, 1, nt), rng.lognormal(2.0, 1, nc)
    if how.startswith("small"):
        return rng.normal(5, 1, nt), rng.normal(4.4, 3, nc)
    return (rng.random(nt) < 0.09) * rng.gamma(2, 60, nt), (rng.random(nc) < 0.08) * rng.gamma(2, 60, nc)


@pytest.mark.parametrize("seed,nt,nc,how", WELCH_CASES)
def test_welch_test_matches_scipy(seed: int, nt: int, nc: int, how: str) -> None:
    yt, yc = welch_values(seed, nt, nc, how)
    res = compare(sample("t", {"revenue_per_visitor": yt}), sample("c", {"revenue_per_visitor": yc}), "revenue_per_visitor", "mean")
    expected = stats.ttest_ind(yt, yc, equal_var=False)
    assert res.test == "welch_t"
    assert res.p_value == pytest.approx(expected.pvalue, rel=1e-8)
    assert res.difference_ci == pytest.approx(tuple(expected.confidence_interval(0.95)), rel=1e-8)


def test_relative_interval_width_matches_a_seeded_bootstrap_of_the_ratio() -> None:
    # A large lift (treatment twice the control) so the control's term of the delta
    # method, weighted by (mt/mc)², matters: a formula without it would be 20 % narrower.
    rng = np.random.default_rng(3)
    yt, yc = rng.gamma(2, 10, 2000), rng.gamma(2, 5, 2000)
    res = compare(sample("t", {"rpv": yt}), sample("c", {"rpv": yc}), "rpv", "mean")
    assert res.ci is not None
    delta_se = (res.ci[1] - res.ci[0]) / (2 * stats.norm.ppf(0.975))
    boots = 2000
    it, ic = rng.integers(0, yt.size, (boots, yt.size)), rng.integers(0, yc.size, (boots, yc.size))
    ratios = yt[it].mean(axis=1) / yc[ic].mean(axis=1)
    assert delta_se == pytest.approx(ratios.std(ddof=1), rel=0.05)


def test_relative_interval_is_the_delta_method_and_covers_the_true_lift() -> None:
    # Coverage of the delta-method interval over seeded repetitions: near 95 %.
    rng = np.random.default_rng(7)
    true_lift = 0.1
    covered = 0
    runs = 300
    for _ in range(runs):
        yt = rng.gamma(2, 5.5, 2000)  # mean 11
        yc = rng.gamma(2, 5.0, 2000)  # mean 10
        res = compare(sample("t", {"rpv": yt}), sample("c", {"rpv": yc}), "rpv", "mean")
        assert res.ci is not None
        covered += res.ci[0] <= true_lift <= res.ci[1]
    assert 0.92 <= covered / runs <= 0.98


# ---------------------------------------------------------------------------- SRM

SRM_CASES = [  # (observed, weights, flagged)
    ({"control": 5000, "b": 5400}, {"control": 0.5, "b": 0.5}, True),
    ({"control": 5000, "b": 5040}, {"control": 0.5, "b": 0.5}, False),
    ({"control": 3000, "b": 7000}, {"control": 0.3, "b": 0.7}, False),
    ({"control": 3000, "b": 7000}, {"control": 0.5, "b": 0.5}, True),
    ({"control": 2010, "b": 3950, "c": 4040}, {"control": 2, "b": 4, "c": 4}, False),  # weights in any scale
    ({"control": 2300, "b": 3850, "c": 3850}, {"control": 0.2, "b": 0.4, "c": 0.4}, True),
]


@pytest.mark.parametrize("observed,weights,flagged", SRM_CASES)
def test_srm_matches_scipy_chisquare_and_flags_skewed_splits(observed: dict, weights: dict, flagged: bool) -> None:
    res = srm_check(observed, weights, threshold=0.001)
    keys = list(observed)
    total = sum(observed.values())
    f_exp = [total * weights[k] / sum(weights.values()) for k in keys]
    expected = stats.chisquare([observed[k] for k in keys], f_exp)
    assert res.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert res.flagged is flagged
    assert res.expected == pytest.approx(dict(zip(keys, f_exp)))


def test_srm_in_analyze_uses_the_sample_weights() -> None:
    c = sample("control", {"conversion": conversions(400, 5000)})
    b = sample("b", {"conversion": conversions(430, 5400)})
    srm = strict_json(analyze([c, b], "control", metrics=["conversion"]).as_dict())["srm"]
    assert srm["flagged"] is True
    assert srm["observed"] == {"control": 5000, "b": 5400}
    assert srm["expected"] == {"control": 5200.0, "b": 5200.0}


# ---------------------------------------------------------------------------- Bayesian

BETA_CASES = [  # (conversions_t, visitors_t, conversions_c, visitors_c, higher_is_better)
    (440, 5000, 400, 5000, True),
    (400, 5000, 400, 5000, True),
    (5, 60, 9, 70, True),
    (0, 100, 0, 100, True),
    (30, 200, 9500, 100000, True),  # very different widths: the quadrature's hard case
    (9500, 100000, 30, 200, True),
    (440, 5000, 400, 5000, False),  # a cost rate: lower is better
]


@pytest.mark.parametrize("xt,nt,xc,nc,higher", BETA_CASES)
def test_beta_chance_and_loss_match_a_seeded_monte_carlo(xt: int, nt: int, xc: int, nc: int, higher: bool) -> None:
    res = compare(
        sample("t", {"conversion": conversions(xt, nt)}),
        sample("c", {"conversion": conversions(xc, nc)}),
        "conversion",
        "proportion",
        higher_is_better=higher,
    )
    rng = np.random.default_rng(11)
    draws = 400_000
    t = stats.beta(1 + xt, 1 + nt - xt).rvs(draws, random_state=rng)
    c = stats.beta(1 + xc, 1 + nc - xc).rvs(draws, random_state=rng)
    better = t > c if higher else t < c
    shortfall = np.maximum(c - t, 0) if higher else np.maximum(t - c, 0)
    assert res.chance_to_beat_control == pytest.approx(better.mean(), abs=0.01)
    loss_se = shortfall.std() / math.sqrt(draws)
    assert res.expected_loss == pytest.approx(shortfall.mean(), abs=5 * loss_se + 1e-6)


def test_normal_bayes_for_means_matches_a_seeded_monte_carlo() -> None:
    yt, yc = welch_values(2, 500, 3000, "lognormal")
    for higher in (True, False):
        res = compare(sample("t", {"m": yt}), sample("c", {"m": yc}), "m", "mean", higher_is_better=higher)
        rng = np.random.default_rng(5)
        t = rng.normal(yt.mean(), yt.std(ddof=1) / math.sqrt(yt.size), 400_000)
        c = rng.normal(yc.mean(), yc.std(ddof=1) / math.sqrt(yc.size), 400_000)
        assert res.chance_to_beat_control == pytest.approx(np.mean(t > c if higher else t < c), abs=0.01)
        shortfall = np.maximum(c - t, 0) if higher else np.maximum(t - c, 0)
        assert res.expected_loss == pytest.approx(shortfall.mean(), rel=0.02)
        assert res.expected_loss_relative == pytest.approx(res.expected_loss / yc.mean())


def test_bayes_is_deterministic() -> None:
    args = (sample("t", {"conversion": conversions(90, 1000)}), sample("c", {"conversion": conversions(60, 1200)}), "conversion", "proportion")
    assert compare(*args) == compare(*args)


# ---------------------------------------------------------------------------- CUPED


def cuped_pair(seed: int, n: int, slope: float, effect: float) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    xt, xc = rng.gamma(2, 5, n), rng.gamma(2, 5, n)
    yt = slope * xt + rng.normal(effect, 8, n)
    yc = slope * xc + rng.normal(0, 8, n)
    return yt, xt, yc, xc


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cuped_agrees_with_statsmodels_ols(seed: int) -> None:
    # Tolerances: theta is the pooled OLS slope exactly (1e-9); the OLS with an arm dummy
    # estimates the slope within arms, the same thing for large n (n = 20,000 per arm:
    # within 0.005 for a slope of 0.8), and its treatment p-value matches the Welch test
    # on the adjusted metric within 2 % (relative).
    n = 20_000
    yt, xt, yc, xc = cuped_pair(seed, n, slope=0.8, effect=0.25)
    res = compare(sample("t", {"rpv": yt}, {"rpv": xt}), sample("c", {"rpv": yc}, {"rpv": xc}), "rpv", "mean")
    assert res.cuped is not None and res.cuped.theta is not None
    y, x = np.r_[yt, yc], np.r_[xt, xc]
    pooled = sm.OLS(y, sm.add_constant(x)).fit()
    assert res.cuped.theta == pytest.approx(pooled.params[1], rel=1e-9)
    dummy = sm.OLS(y, np.column_stack([np.ones(2 * n), np.r_[np.ones(n), np.zeros(n)], x])).fit()
    assert res.cuped.theta == pytest.approx(dummy.params[2], abs=0.005)
    assert res.cuped.difference == pytest.approx(dummy.params[1], rel=0.01)
    assert res.cuped.p_value == pytest.approx(dummy.pvalues[1], rel=0.02)


CUPED_REDUCTION_CASES = [  # (slope of Y on X, expected variance reduction, tolerance)
    (0.8, 0.8**2 * 50 / (0.8**2 * 50 + 64), 0.02),  # var X = 2 * 5² = 50, noise variance 64
    (0.0, 0.0, 0.002),  # an unrelated covariate explains nothing
]


@pytest.mark.parametrize("slope,reduction,tol", CUPED_REDUCTION_CASES)
def test_cuped_reduces_variance_only_when_the_covariate_correlates(slope: float, reduction: float, tol: float) -> None:
    yt, xt, yc, xc = cuped_pair(3, 10_000, slope=slope, effect=0.3)
    res = compare(sample("t", {"rpv": yt}, {"rpv": xt}), sample("c", {"rpv": yc}, {"rpv": xc}), "rpv", "mean")
    assert res.cuped is not None and res.cuped.variance_reduction is not None
    assert res.cuped.variance_reduction == pytest.approx(reduction, abs=tol)
    assert res.ci is not None and res.cuped.ci is not None
    ratio = (res.cuped.ci[1] - res.cuped.ci[0]) / (res.ci[1] - res.ci[0])
    # the interval narrows by about sqrt(1 - reduction)
    assert ratio == pytest.approx(math.sqrt(1 - reduction), abs=0.02)


def test_cuped_is_absent_without_a_covariate_and_explains_a_constant_one() -> None:
    y = np.arange(10.0)
    bare = compare(sample("t", {"m": y}), sample("c", {"m": y + 1}), "m", "mean")
    assert bare.cuped is None
    flat = compare(sample("t", {"m": y}, {"m": np.ones(10)}), sample("c", {"m": y + 1}, {"m": np.ones(10)}), "m", "mean")
    assert flat.cuped is not None and flat.cuped.theta is None and flat.cuped.reasons == (CONSTANT_COVARIATE,)


# ---------------------------------------------------------------------------- sequential

SEQUENTIAL_CASES = [  # (metric kind, treatment values, control values)
    ("proportion", conversions(440, 5000), conversions(400, 5000)),
    ("proportion", conversions(30, 300), conversions(20, 300)),
    ("proportion", conversions(1300, 50000), conversions(1000, 50000)),
    ("mean", *welch_values(2, 500, 3000, "lognormal")),
    ("mean", *welch_values(4, 3000, 3000, "zero-inflated")),
]


@pytest.mark.parametrize("kind,yt,yc", SEQUENTIAL_CASES)
def test_sequential_interval_contains_the_fixed_one(kind: str, yt: np.ndarray, yc: np.ndarray) -> None:
    res = compare(sample("t", {"m": yt}), sample("c", {"m": yc}), "m", kind)
    for fixed, seq in ((res.difference_ci, res.sequential_difference_ci), (res.ci, res.sequential_ci)):
        assert fixed is not None and seq is not None
        assert seq[0] < fixed[0] and fixed[1] < seq[1]


def test_sequential_multiplier_is_narrowest_at_the_horizon() -> None:
    widths = {n: sequential_multiplier(n, horizon=10_000) / math.sqrt(n) for n in (5_000, 10_000, 20_000)}
    # Relative to the fixed interval the multiplier is smallest at the horizon ...
    ks = {n: sequential_multiplier(n, horizon=10_000) for n in (1_000, 10_000, 100_000)}
    assert ks[10_000] < ks[1_000] and ks[10_000] < ks[100_000]
    assert ks[10_000] > stats.norm.ppf(0.975)
    # ... and the interval itself still shrinks with more visitors.
    assert widths[20_000] < widths[10_000] < widths[5_000]


def test_peeking_after_every_batch_keeps_the_false_positive_rate() -> None:
    # A/A test on a 10 % conversion rate, 250 visitors per arm per batch, a look after
    # each of 20 batches; "significant" at any look counts as a false positive. The
    # fixed-horizon interval, read this way, is far above alpha: the simulation can tell.
    rng = np.random.default_rng(2024)
    runs, batches, batch, rate, alpha = 400, 20, 250, 0.10, 0.05
    xt = rng.binomial(batch, rate, (runs, batches)).cumsum(axis=1)
    xc = rng.binomial(batch, rate, (runs, batches)).cumsum(axis=1)
    n = batch * np.arange(1, batches + 1)
    pt, pc = xt / n, xc / n
    se = np.sqrt(pt * (1 - pt) / n + pc * (1 - pc) / n)
    k = np.array([sequential_multiplier(int(2 * m), alpha=alpha, horizon=10_000) for m in n])
    d = np.abs(pt - pc)
    sequential_fp = np.any(d > k * se, axis=1).mean()
    naive_fp = np.any(d > stats.norm.ppf(1 - alpha / 2) * se, axis=1).mean()
    assert sequential_fp <= alpha + 0.01
    assert naive_fp > 2 * alpha


# ---------------------------------------------------------------------------- edge cases and JSON

EDGE_CASES = [  # (what, control metrics, treatment metrics, the reason each comparison gives)
    ("empty treatment", {"conversion": conversions(40, 500), "revenue_per_visitor": np.full(500, 3.0)}, {}, NO_VISITORS),
    (
        "no conversions at all",
        {"conversion": np.zeros(500), "revenue_per_visitor": np.zeros(500)},
        {"conversion": np.zeros(480), "revenue_per_visitor": np.zeros(480)},
        NO_VARIANCE,
    ),
    (
        "control mean 0",
        {"conversion": np.zeros(500), "revenue_per_visitor": np.zeros(500)},
        {"conversion": conversions(5, 480), "revenue_per_visitor": np.r_[np.full(5, 20.0), np.zeros(475)]},
        CONTROL_MEAN_ZERO,
    ),
    (
        "one visitor in the treatment",
        {"conversion": conversions(40, 500), "revenue_per_visitor": np.full(500, 3.0)},
        {"conversion": np.ones(1), "revenue_per_visitor": np.ones(1)},
        TOO_FEW_VISITORS,
    ),
]


@pytest.mark.parametrize("what,control,treatment,reason", EDGE_CASES, ids=[c[0] for c in EDGE_CASES])
def test_edge_cases_give_strict_json_with_reasons(what: str, control: dict, treatment: dict, reason: str) -> None:
    samples = [sample("control", control), sample("b", treatment)]
    out = strict_json(analyze(samples, "control", metrics=["conversion", "revenue_per_visitor"]).as_dict())
    b = out["variants"][1]
    reasons = {r for m in b["vs_control"].values() for r in m["reasons"]}
    assert reason in reasons
    if reason in (NO_VISITORS, TOO_FEW_VISITORS):
        assert b["vs_control"]["revenue_per_visitor"]["p_value"] is None
    if reason == CONTROL_MEAN_ZERO:
        rpv = b["vs_control"]["revenue_per_visitor"]
        assert rpv["relative_lift"] is None and rpv["ci"] is None and rpv["p_value"] is not None
        assert rpv["expected_loss_relative"] is None
    if reason == NO_VARIANCE:
        assert b["vs_control"]["conversion"]["p_value"] is None
        assert b["vs_control"]["conversion"]["chance_to_beat_control"] == pytest.approx(0.5, abs=0.02)


def test_an_empty_experiment_is_strict_json_too() -> None:
    out = strict_json(analyze([sample("control", {}), sample("b", {})], "control", metrics=["conversion"]).as_dict())
    assert out["srm"]["p_value"] is None and out["srm"]["flagged"] is False
    assert out["daily"] == []
    assert out["variants"][0]["conversion_rate"] is None


# ---------------------------------------------------------------------------- shape and daily


def test_full_result_has_the_documented_shape() -> None:
    rng = np.random.default_rng(9)

    def variant(key: str, n: int, rate: float) -> VariantSample:
        conv = (rng.random(n) < rate).astype(float)
        pre = rng.gamma(2, 5, n)
        revenue = conv * rng.gamma(2, 50, n) + 0.3 * pre
        exposed = rng.integers(0, 7, n)
        converted = np.where(conv == 1, exposed + rng.random(n) * 3, np.nan)
        return VariantSample(key, 0.5, {"conversion": conv, "revenue_per_visitor": revenue}, {"revenue_per_visitor": pre}, exposed, converted)

    out = strict_json(analyze([variant("control", 5000, 0.08), variant("b", 5040, 0.09)], "control", metrics=["conversion", "revenue_per_visitor"]).as_dict())
    assert set(out) == {"control", "alpha", "srm", "variants", "daily"}
    control, b = out["variants"]
    assert control["vs_control"] is None
    assert control["conversion_rate"] == pytest.approx(control["conversions"] / control["visitors"])
    assert control["metrics"]["conversion"]["mean"] == pytest.approx(control["conversion_rate"])
    conv, rpv = b["vs_control"]["conversion"], b["vs_control"]["revenue_per_visitor"]
    assert conv["cuped"] is None and rpv["cuped"]["variance_reduction"] > 0
    for m in (conv, rpv):
        assert m["ci"][0] < m["relative_lift"] < m["ci"][1]
        assert 0 <= m["chance_to_beat_control"] <= 1 and m["expected_loss"] >= 0
    last = out["daily"][-1]["variants"]
    assert last["b"]["visitors"] == b["visitors"] and last["b"]["conversions"] == b["conversions"]


def test_daily_counts_are_cumulative_by_exposure_and_conversion_day() -> None:
    exposed = np.array([0, 0, 1, 2, 2], dtype=np.int64)
    converted = np.array([0.5, np.nan, 3.7, 2.0, np.nan])  # 3.7 is during day 3
    c = VariantSample("control", 0.5, {"conversion": np.array([1.0, 0, 1, 1, 0])}, {}, exposed, converted)
    b = VariantSample("b", 0.5, {"conversion": np.array([0.0])}, {}, np.array([3], dtype=np.int64), np.array([np.nan]))
    daily = strict_json(analyze([c, b], "control", metrics=["conversion"]).as_dict())["daily"]
    assert [d["variants"]["control"]["visitors"] for d in daily] == [2, 3, 5, 5]
    assert [d["variants"]["control"]["conversions"] for d in daily] == [1, 1, 2, 3]
    assert [d["variants"]["b"]["visitors"] for d in daily] == [0, 0, 0, 1]
    assert daily[0]["variants"]["b"]["cumulative_rate"] is None
    assert daily[3]["variants"]["control"]["cumulative_rate"] == pytest.approx(0.6)
    longer = strict_json(analyze([c, b], "control", metrics=["conversion"], days=6).as_dict())["daily"]
    assert len(longer) == 6 and longer[5] == {"day": 5, "variants": daily[3]["variants"]}


BAD_INPUT = [  # (what, a callable building the bad input)
    ("lengths differ", lambda: VariantSample("c", 0.5, {"conversion": np.ones(3)}, {}, np.zeros(4, dtype=np.int64), np.full(4, np.nan))),
    ("NaN metric", lambda: VariantSample("c", 0.5, {"rpv": np.array([np.nan])}, {}, np.zeros(1, dtype=np.int64), np.full(1, np.nan))),
    ("zero weight", lambda: VariantSample("c", 0.0, {}, {}, np.zeros(0, dtype=np.int64), np.zeros(0))),
    ("non 0/1 proportion", lambda: analyze([sample("control", {"conversion": np.array([0.0, 2.0])})], "control", metrics=["conversion"])),
    ("unknown control", lambda: analyze([sample("a", {"conversion": np.zeros(2)})], "control", metrics=["conversion"])),
    ("unknown metric kind", lambda: analyze([sample("control", {"x": np.zeros(2)})], "control", metrics=["x"])),
]


@pytest.mark.parametrize("what,build", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_a_clear_error(what: str, build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]
