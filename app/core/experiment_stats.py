"""A/B experiment results from per-visitor data: pure (numpy and scipy.special, no I/O).

Input: one ``VariantSample`` per variant, one row per exposed visitor. Every array of a
sample has one entry per visitor, in the same order:

- ``metrics[name]``: the visitor's value after first exposure (0/1 for a proportion
  metric, any real number for a mean metric);
- ``pre[name]``: the same visitor's value in the pre-exposure period, the CUPED
  covariate. Optional per metric; a visitor with no history has 0, not NaN;
- ``exposed_day``: day index (0 = the phase's first day) of the first exposure;
- ``converted_day``: day index (fractional: 3.5 is noon of day 3) of the first conversion
  after exposure, NaN when the visitor has not converted.

Output: ``analyze(samples, control, metrics=...)`` gives ``ExperimentResults``, whose
``as_dict()`` is JSON-ready (no NaN or infinity: a number that cannot be computed is
None, with a reason code beside it)::

    {"control": "control", "alpha": 0.05,
     "srm": {"p_value", "flagged", "threshold", "observed": {key: n}, "expected": {key: n},
             "reasons"},
     "variants": [{"key", "visitors", "conversions", "conversion_rate", "revenue_per_visitor",
                   "metrics": {name: {"mean", "std", "sum"}},
                   "vs_control": None (the control) | {name: {
                       "test", "difference", "difference_ci", "relative_lift", "ci", "p_value",
                       "chance_to_beat_control", "expected_loss", "expected_loss_relative",
                       "cuped": None | {"theta", "variance_reduction", "difference",
                                        "relative_lift", "ci", "p_value", "reasons"},
                       "sequential_difference_ci", "sequential_ci", "reasons"}}}],
     "daily": [{"day", "variants": {key: {"visitors", "conversions", "cumulative_rate"}}}]}

Every ``ci`` is on the relative lift (treatment mean / control mean - 1), every
``difference_ci`` on the absolute difference (treatment - control, in the metric's unit).

Methods, each documented where it is computed:

- fixed-horizon test of the difference, two-sided: the pooled z-test for proportions, the
  Welch t-test for means (``_fixed_horizon``); relative-lift interval by the delta method;
- Bayesian chance to beat control and expected loss: Beta posteriors by deterministic
  quadrature for proportions, a normal approximation for means (``_bayes_*``);
- CUPED with a pooled theta (``_cuped``);
- an always-valid interval for peeking, the normal-mixture confidence sequence
  (``sequential_multiplier``);
- sample-ratio mismatch by a chi-square goodness-of-fit test (``srm_check``).

Why the direction matters: for a metric in ``LOWER_IS_BETTER`` (a cost), "beating the
control" means being lower, and the loss of shipping is the excess over the control. The
lift, its intervals and the p-value are signed the same way for every metric
(treatment - control).

Reason codes (``reasons``): ``no_visitors`` (a group is empty), ``too_few_visitors`` (a
mean needs two visitors for a variance), ``no_variance`` (a standard error is 0: a test or
interval is undefined), ``control_mean_zero`` (relative numbers are undefined),
``constant_covariate`` (CUPED has nothing to regress on), ``single_variant`` (SRM needs
two). Bad input (arrays of different lengths, NaN, a non-0/1 proportion, an unknown metric)
raises ``ValueError`` instead: it is a caller's bug, not a property of the experiment.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import special

FloatArray = npt.NDArray[np.float64]

PROPORTION = "proportion"
MEAN = "mean"

METRIC_KINDS: Mapping[str, str] = {
    "conversion": PROPORTION,
    "revenue_per_visitor": MEAN,
    "click_through": PROPORTION,
    "rights_cost": MEAN,
}
# Metrics where less is better: a right's cost is money given away.
LOWER_IS_BETTER: frozenset[str] = frozenset({"rights_cost"})

# Total visitors (both arms) at which the sequential interval is narrowest: the default
# planned size of an experiment. Set it to the real plan; the interval stays valid at any
# size, it is only wider away from this one.
SEQUENTIAL_HORIZON = 10_000

# Nodes of the midpoint rule over posterior quantiles (see _bayes_beta): the integrand is
# bounded in [0, 1] and monotone, so the error is below 1 / nodes even when it is a step.
_QUADRATURE_NODES = 2048

NO_VISITORS = "no_visitors"
TOO_FEW_VISITORS = "too_few_visitors"
NO_VARIANCE = "no_variance"
CONTROL_MEAN_ZERO = "control_mean_zero"
CONSTANT_COVARIATE = "constant_covariate"
SINGLE_VARIANT = "single_variant"

Interval = tuple[float, float]


def _num(x: float | None) -> float | None:
    """A JSON-safe float: None for None, NaN and infinities (a last guard; the reasons say why)."""
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def _interval(ci: Interval | None) -> list[float] | None:
    if ci is None:
        return None
    low, high = _num(ci[0]), _num(ci[1])
    return None if low is None or high is None else [low, high]


# ---------------------------------------------------------------------------- input


@dataclass(frozen=True)
class VariantSample:
    """One variant's visitors: one entry per exposed visitor in every array (module docstring)."""

    key: str
    weight: float  # planned traffic share; any positive scale (normalized over the variants)
    metrics: Mapping[str, npt.ArrayLike]
    pre: Mapping[str, npt.ArrayLike]
    exposed_day: npt.ArrayLike
    converted_day: npt.ArrayLike

    def __post_init__(self) -> None:
        # Checked once here so that every computation below can trust the shapes.
        if not (self.weight > 0 and math.isfinite(self.weight)):
            raise ValueError(f"variant {self.key!r}: weight must be a positive number, got {self.weight!r}")
        n = self.visitors
        exposed = np.asarray(self.exposed_day)
        if exposed.ndim != 1 or (n and (not np.issubdtype(exposed.dtype, np.integer) or exposed.min() < 0)):
            raise ValueError(f"variant {self.key!r}: exposed_day must be a 1-D array of day indexes >= 0")
        converted = np.asarray(self.converted_day, dtype=float)
        if converted.shape != (n,):
            raise ValueError(f"variant {self.key!r}: converted_day has {converted.size} entries for {n} visitors")
        if np.any(converted[~np.isnan(converted)] < 0):
            raise ValueError(f"variant {self.key!r}: converted_day must be NaN or >= 0")
        for label, arrays in (("metrics", self.metrics), ("pre", self.pre)):
            for name, values in arrays.items():
                v = np.asarray(values, dtype=float)
                if v.shape != (n,):
                    raise ValueError(f"variant {self.key!r}: {label}[{name!r}] has {v.size} entries for {n} visitors")
                if not np.all(np.isfinite(v)):
                    raise ValueError(f"variant {self.key!r}: {label}[{name!r}] has NaN or infinite values")

    @property
    def visitors(self) -> int:
        return int(np.asarray(self.exposed_day).shape[0])

    def values(self, metric: str) -> FloatArray:
        """The metric's per-visitor values; an empty variant may leave its metrics out."""
        if metric in self.metrics:
            return np.asarray(self.metrics[metric], dtype=float)
        if self.visitors == 0:
            return np.zeros(0)
        raise ValueError(f"variant {self.key!r} has no values for metric {metric!r}")

    def covariate(self, metric: str) -> FloatArray | None:
        return np.asarray(self.pre[metric], dtype=float) if metric in self.pre else None


# ---------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class MetricSummary:
    """One metric of one variant.

    ``variance`` is the per-visitor variance the tests use: p(1 - p) for a proportion
    (the binomial variance, as the z-test has it), the sample variance (n - 1) for a mean.
    None where it does not exist (no visitor; one visitor of a mean metric).
    """

    n: int
    total: float
    mean: float | None
    variance: float | None

    def as_dict(self) -> dict[str, object]:
        std = None if self.variance is None else math.sqrt(self.variance)
        return {"mean": _num(self.mean), "std": _num(std), "sum": _num(self.total)}


def summarize(values: FloatArray, kind: str) -> MetricSummary:
    n = int(values.size)
    total = float(values.sum())
    if n == 0:
        return MetricSummary(0, 0.0, None, None)
    mean = total / n
    if kind == PROPORTION:
        return MetricSummary(n, total, mean, mean * (1.0 - mean))
    variance = float(values.var(ddof=1)) if n >= 2 else None
    return MetricSummary(n, total, mean, variance)


# ---------------------------------------------------------------------------- building blocks


def _z(alpha: float) -> float:
    """The two-sided normal quantile for level alpha (1.96 at 0.05)."""
    return float(special.ndtri(1.0 - alpha / 2.0))


def _relative(mt: float, var_mt: float, mc: float, var_mc: float, mult: float) -> tuple[float | None, Interval | None, list[str]]:
    """Relative lift mt / mc - 1 and ``lift ± mult * se`` by the delta method.

    The delta method linearizes the ratio of two independent means:
    Var(mt / mc) ≈ Var(mt) / mc² + mt² Var(mc) / mc⁴. It is a large-sample approximation
    (the interval is symmetric, and poor when the control mean is near 0 relative to its
    standard error); the same ``se`` serves the fixed and the sequential interval.
    """
    if mc == 0:
        return None, None, [CONTROL_MEAN_ZERO]
    lift = mt / mc - 1.0
    se = math.sqrt(var_mt / mc**2 + mt**2 * var_mc / mc**4)
    if se == 0:
        return lift, None, [NO_VARIANCE]
    return lift, (lift - mult * se, lift + mult * se), []


def _optimal_mixing(alpha: float) -> float:
    """x* minimizing the normal-mixture boundary's width at the horizon (sequential_multiplier).

    With x = n ρ², the squared half-width is proportional to (1 + 1/x)(log(1 + x) + L)/n,
    L = 2 log(1/α); setting its derivative in x to 0 gives x = L + log(1 + x), solved by
    fixed-point iteration (a contraction: the slope 1/(1 + x) is below 1).
    """
    big_l = 2.0 * math.log(1.0 / alpha)
    x = big_l
    for _ in range(100):
        nxt = big_l + math.log1p(x)
        if abs(nxt - x) < 1e-12:
            break
        x = nxt
    return x


def sequential_multiplier(n: int, *, alpha: float = 0.05, horizon: int = SEQUENTIAL_HORIZON) -> float:
    """The always-valid interval's half-width in standard errors, after ``n`` visitors in all.

    The interval for the difference is ``d ± multiplier * sqrt(V)``, V = Var(d) (the
    same V as the fixed-horizon interval, which uses ``z``). It is the two-sided
    normal-mixture confidence sequence (Robbins' mixture; the mSPRT of Johari et al. and
    the asymptotic confidence sequences of Howard et al.): mixing the Gaussian likelihood
    ratio over effects θ ~ N(0, τ²) gives the martingale
    sqrt(V / (V + τ²)) · exp(τ² (d - θ)² / (2 V (V + τ²))), and by Ville's inequality it
    stays below 1/α at *every* look with probability 1 - α. Solving for θ:

        half-width² = V (1 + V/τ²) (log(1 + τ²/V) + 2 log(1/α)).

    The mixing variance is τ² = ρ² σ², with σ² = n V the per-visitor variance of the
    difference (so the choice is free of the metric's unit), and ρ² = x* / horizon: the
    interval is narrowest when the arms together have ``horizon`` visitors. Then
    τ²/V = x = n x* / horizon. Assumptions: independent visitors, a mean that is normal
    enough (central limit) and a variance estimate that is close to the truth; the
    guarantee is asymptotic, as for the fixed-horizon z interval. The multiplier always
    exceeds ``z`` (at α = 0.05 it is at least about 3.0 against 1.96), so the sequential
    interval contains the fixed one.
    """
    if n <= 0:
        raise ValueError("sequential_multiplier needs at least one visitor")
    x = n * _optimal_mixing(alpha) / horizon
    return math.sqrt((1.0 + 1.0 / x) * (math.log1p(x) + 2.0 * math.log(1.0 / alpha)))


def _normal_pdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Bayes:
    """P(treatment beats control) and the expected loss of shipping the treatment.

    ``expected_loss`` is E[max(C - T, 0)] (or E[max(T - C, 0)] when lower is better): how
    much worse the treatment is, on average over the posterior, counting only the worlds
    where it is worse, in the metric's own unit (conversion-rate points as a fraction,
    currency per visitor). ``expected_loss_relative`` divides it by |control mean|.
    """

    chance_to_beat_control: float
    expected_loss: float


def _bayes_beta(xt: float, nt: int, xc: float, nc: int, higher_is_better: bool) -> Bayes:
    """Beta(1 + conversions, 1 + non-conversions) posteriors (uniform prior), by quadrature.

    P(T > C) = ∫₀¹ (1 - F_T(Q_C(q))) dq is written over the quantiles q of one posterior,
    so the integral is over [0, 1] of a bounded monotone function, however peaked the
    posteriors are. The quantile variable is the *wider* posterior: the integrand is then the
    narrower posterior's CDF evaluated across the wider one, which is smooth. The loss uses
    the Beta partial expectation E[B·1{B < u}] = a/(a+b) · I_u(a + 1, b), so it needs no
    second integral. Midpoint rule with _QUADRATURE_NODES nodes: deterministic, error far
    below the 0.01 a decision needs.
    """
    at, bt, ac, bc = 1.0 + xt, 1.0 + nt - xt, 1.0 + xc, 1.0 + nc - xc
    mean_t, mean_c = at / (at + bt), ac / (ac + bc)
    var_t = at * bt / ((at + bt) ** 2 * (at + bt + 1.0))
    var_c = ac * bc / ((ac + bc) ** 2 * (ac + bc + 1.0))
    q = (np.arange(_QUADRATURE_NODES) + 0.5) / _QUADRATURE_NODES
    if var_c >= var_t:
        u = special.betaincinv(ac, bc, q)  # control draws
        beats = float(np.mean(1.0 - special.betainc(at, bt, u)))  # P(T > u)
        # E[(u - T)+] = u F_T(u) - E[T 1{T < u}]
        shortfall = float(np.mean(u * special.betainc(at, bt, u) - mean_t * special.betainc(at + 1.0, bt, u)))
    else:
        t = special.betaincinv(at, bt, q)  # treatment draws
        beats = float(np.mean(special.betainc(ac, bc, t)))  # P(C < t)
        # E[(C - t)+] = E[C 1{C > t}] - t (1 - F_C(t))
        shortfall = float(np.mean(mean_c * (1.0 - special.betainc(ac + 1.0, bc, t)) - t * (1.0 - special.betainc(ac, bc, t))))
    shortfall = max(shortfall, 0.0)
    if higher_is_better:
        return Bayes(min(max(beats, 0.0), 1.0), shortfall)
    # (T - C)+ = (C - T)+ + (T - C): the excess follows from the shortfall, no new integral.
    return Bayes(min(max(1.0 - beats, 0.0), 1.0), max(shortfall + mean_t - mean_c, 0.0))


def _bayes_normal(difference: float, variance: float, higher_is_better: bool) -> Bayes:
    """Normal approximation: T - C ~ N(d, V) (flat prior, V = s_t²/n_t + s_c²/n_c).

    Closed forms: P(T > C) = Φ(d/s); E[(C - T)+] = s φ(d/s) - d Φ(-d/s), s = sqrt(V).
    Good once each arm has some hundreds of visitors (the central limit theorem); for
    heavy-tailed revenue it needs more.
    """
    s = math.sqrt(variance)
    z = difference / s
    if higher_is_better:
        return Bayes(float(special.ndtr(z)), s * _normal_pdf(z) - difference * float(special.ndtr(-z)))
    return Bayes(float(special.ndtr(-z)), s * _normal_pdf(z) + difference * float(special.ndtr(z)))


@dataclass(frozen=True)
class _Fixed:
    """The fixed-horizon numbers of one comparison (internal: MetricComparison carries them)."""

    test: str
    difference: float | None
    variance: float | None  # Var(difference), unpooled
    difference_ci: Interval | None
    relative_lift: float | None
    ci: Interval | None
    p_value: float | None
    reasons: list[str]


def _welch(
    mt: float, vt: float, nt: int, mc: float, vc: float, nc: int, alpha: float, reasons: list[str]
) -> tuple[float | None, Interval | None]:
    """Welch's t-test (unequal variances, Welch-Satterthwaite degrees of freedom): p-value, CI of d."""
    a, b = vt / nt, vc / nc
    se = math.sqrt(a + b)
    if se == 0:
        reasons.append(NO_VARIANCE)
        return None, None
    df = (a + b) ** 2 / (a**2 / (nt - 1) + b**2 / (nc - 1))
    d = mt - mc
    p = 2.0 * float(special.stdtr(df, -abs(d) / se))
    q = float(special.stdtrit(df, 1.0 - alpha / 2.0))
    return min(p, 1.0), (d - q * se, d + q * se)


def _fixed_horizon(t: MetricSummary, c: MetricSummary, kind: str, alpha: float) -> _Fixed:
    """Two-sided fixed-horizon test of the difference, and the relative lift's interval.

    Proportions: the pooled two-proportion z-test (under H0 both arms share one rate, so
    the standard error uses the pooled rate, as statsmodels' proportions_ztest does); the
    difference's interval is the unpooled Wald interval (no H0 to pool under).
    Means: Welch's t-test, which does not assume equal variances (variants change the
    spread of revenue too); its interval uses the same t quantile, so it excludes 0
    exactly when p < α.
    Relative lift: delta method with the normal quantile (the ratio has no exact t law).
    The p-value is about the difference; near the boundary the relative interval and the
    p-value can disagree slightly.
    Assumptions: visitors independent, one row each; a fixed sample size decided in
    advance (peeking needs the sequential interval).
    """
    test = "pooled_z" if kind == PROPORTION else "welch_t"
    if t.n == 0 or c.n == 0:
        return _Fixed(test, None, None, None, None, None, None, [NO_VISITORS])
    if t.variance is None or c.variance is None or t.mean is None or c.mean is None:
        return _Fixed(test, None, None, None, None, None, None, [TOO_FEW_VISITORS])
    reasons: list[str] = []
    d = t.mean - c.mean
    var_t, var_c = t.variance / t.n, c.variance / c.n
    variance = var_t + var_c
    z = _z(alpha)
    p: float | None
    d_ci: Interval | None
    if kind == PROPORTION:
        pooled = (t.total + c.total) / (t.n + c.n)
        se0 = math.sqrt(pooled * (1.0 - pooled) * (1.0 / t.n + 1.0 / c.n))
        if se0 == 0:
            p = None
            reasons.append(NO_VARIANCE)
        else:
            p = 2.0 * float(special.ndtr(-abs(d) / se0))
        se = math.sqrt(variance)
        d_ci = (d - z * se, d + z * se) if se > 0 else None
        if se == 0 and NO_VARIANCE not in reasons:
            reasons.append(NO_VARIANCE)
    else:
        p, d_ci = _welch(t.mean, t.variance, t.n, c.mean, c.variance, c.n, alpha, reasons)
    lift, ci, why = _relative(t.mean, var_t, c.mean, var_c, z)
    reasons.extend(r for r in why if r not in reasons)
    return _Fixed(test, d, variance, d_ci, lift, ci, p, reasons)


# ---------------------------------------------------------------------------- CUPED


@dataclass(frozen=True)
class CupedResult:
    """The comparison on the CUPED-adjusted metric, beside the unadjusted one.

    ``theta`` is the pooled regression slope of the metric on its pre-period value;
    ``variance_reduction`` = 1 - var(Y_adj)/var(Y) over both arms together (the share of
    the metric's variance the covariate explains: its squared correlation).
    """

    theta: float | None
    variance_reduction: float | None
    difference: float | None
    relative_lift: float | None
    ci: Interval | None
    p_value: float | None
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "theta": _num(self.theta),
            "variance_reduction": _num(self.variance_reduction),
            "difference": _num(self.difference),
            "relative_lift": _num(self.relative_lift),
            "ci": _interval(self.ci),
            "p_value": _num(self.p_value),
            "reasons": list(self.reasons),
        }


def _no_cuped(reason: str) -> CupedResult:
    return CupedResult(None, None, None, None, None, None, (reason,))


def _cuped(yt: FloatArray, xt: FloatArray, yc: FloatArray, xc: FloatArray, alpha: float) -> CupedResult:
    """CUPED (Deng et al. 2013): Y_adj = Y - θ (X - mean X), θ = cov(Y, X) / var(X).

    θ and mean X come from both arms pooled: randomization makes X independent of the
    arm, so the adjustment moves both arms' means by the same amount in expectation and
    the difference stays unbiased, while its variance shrinks by the share of Y's variance
    X explains. The adjusted comparison is Welch's t-test and the delta-method relative
    lift, for proportions too (Y_adj is no longer 0/1; at the sizes CUPED matters the
    t-test is the z-test). The uncertainty of θ itself is ignored, which is standard and
    negligible at experiment sizes. (An OLS of Y on the arm dummy and X estimates θ
    within arms instead; the two agree closely for large n.)
    """
    if yt.size == 0 or yc.size == 0:
        return _no_cuped(NO_VISITORS)
    if yt.size < 2 or yc.size < 2:
        return _no_cuped(TOO_FEW_VISITORS)
    x = np.concatenate([xt, xc])
    y = np.concatenate([yt, yc])
    xd = x - x.mean()
    sxx = float(xd @ xd)
    if sxx == 0:
        return _no_cuped(CONSTANT_COVARIATE)
    theta = float(xd @ (y - y.mean())) / sxx
    x_mean = float(x.mean())
    at = yt - theta * (xt - x_mean)
    ac = yc - theta * (xc - x_mean)
    adjusted = np.concatenate([at, ac])
    reasons: list[str] = []
    var_y = float(y.var())
    reduction = 1.0 - float(adjusted.var()) / var_y if var_y > 0 else None
    mt, mc = float(at.mean()), float(ac.mean())
    vt, vc = float(at.var(ddof=1)), float(ac.var(ddof=1))
    p, _ = _welch(mt, vt, at.size, mc, vc, ac.size, alpha, reasons)
    lift, ci, why = _relative(mt, vt / at.size, mc, vc / ac.size, _z(alpha))
    reasons.extend(r for r in why if r not in reasons)
    return CupedResult(theta, reduction, mt - mc, lift, ci, p, tuple(reasons))


# ---------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class MetricComparison:
    """One metric of one treatment against the control (module docstring for the fields)."""

    test: str
    difference: float | None
    difference_ci: Interval | None
    relative_lift: float | None
    ci: Interval | None
    p_value: float | None
    chance_to_beat_control: float | None
    expected_loss: float | None
    expected_loss_relative: float | None
    cuped: CupedResult | None  # None: no pre-period covariate for this metric
    sequential_difference_ci: Interval | None
    sequential_ci: Interval | None
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "test": self.test,
            "difference": _num(self.difference),
            "difference_ci": _interval(self.difference_ci),
            "relative_lift": _num(self.relative_lift),
            "ci": _interval(self.ci),
            "p_value": _num(self.p_value),
            "chance_to_beat_control": _num(self.chance_to_beat_control),
            "expected_loss": _num(self.expected_loss),
            "expected_loss_relative": _num(self.expected_loss_relative),
            "cuped": None if self.cuped is None else self.cuped.as_dict(),
            "sequential_difference_ci": _interval(self.sequential_difference_ci),
            "sequential_ci": _interval(self.sequential_ci),
            "reasons": list(self.reasons),
        }


def compare(
    treatment: VariantSample,
    control: VariantSample,
    metric: str,
    kind: str,
    *,
    alpha: float = 0.05,
    higher_is_better: bool = True,
    horizon: int = SEQUENTIAL_HORIZON,
) -> MetricComparison:
    """Every number of one metric, treatment against control."""
    yt, yc = treatment.values(metric), control.values(metric)
    t, c = summarize(yt, kind), summarize(yc, kind)
    fixed = _fixed_horizon(t, c, kind, alpha)
    reasons = list(fixed.reasons)

    bayes: Bayes | None = None
    if kind == PROPORTION and t.n and c.n:
        bayes = _bayes_beta(t.total, t.n, c.total, c.n, higher_is_better)
    elif kind == MEAN and fixed.difference is not None and fixed.variance:
        bayes = _bayes_normal(fixed.difference, fixed.variance, higher_is_better)
    loss_relative = None
    if bayes is not None and c.mean:
        loss_relative = bayes.expected_loss / abs(c.mean)

    seq_d: Interval | None = None
    seq_rel: Interval | None = None
    if (
        fixed.difference is not None
        and fixed.variance
        and t.mean is not None
        and c.mean is not None
        and t.variance is not None
        and c.variance is not None
    ):
        k = sequential_multiplier(t.n + c.n, alpha=alpha, horizon=horizon)
        half = k * math.sqrt(fixed.variance)
        seq_d = (fixed.difference - half, fixed.difference + half)
        # The same widening on the relative scale: the delta-method interval with k for z.
        _, seq_rel, _ = _relative(t.mean, t.variance / t.n, c.mean, c.variance / c.n, k)

    xt, xc = treatment.covariate(metric), control.covariate(metric)
    cuped = _cuped(yt, xt, yc, xc, alpha) if xt is not None and xc is not None else None

    return MetricComparison(
        test=fixed.test,
        difference=fixed.difference,
        difference_ci=fixed.difference_ci,
        relative_lift=fixed.relative_lift,
        ci=fixed.ci,
        p_value=fixed.p_value,
        chance_to_beat_control=None if bayes is None else bayes.chance_to_beat_control,
        expected_loss=None if bayes is None else bayes.expected_loss,
        expected_loss_relative=loss_relative,
        cuped=cuped,
        sequential_difference_ci=seq_d,
        sequential_ci=seq_rel,
        reasons=tuple(reasons),
    )


# ---------------------------------------------------------------------------- SRM


@dataclass(frozen=True)
class SrmResult:
    """Sample-ratio mismatch: do the visitor counts fit the planned weights?

    A mismatch means the assignment or the logging is broken (a variant that crashes
    before logging, a bot filter that sees one variant more), and then every other number
    of the experiment is suspect. Hence the very low threshold: only flag what is
    almost surely a bug, because a flag should stop the analysis.
    """

    p_value: float | None
    flagged: bool
    threshold: float
    observed: dict[str, int]
    expected: dict[str, float]
    reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "p_value": _num(self.p_value),
            "flagged": self.flagged,
            "threshold": self.threshold,
            "observed": dict(self.observed),
            "expected": {k: _num(v) for k, v in self.expected.items()},
            "reasons": list(self.reasons),
        }


def srm_check(observed: Mapping[str, int], weights: Mapping[str, float], threshold: float = 0.001) -> SrmResult:
    """Pearson's chi-square goodness of fit, k - 1 degrees of freedom.

    Expected counts are the total times each weight over the weights' sum. Flagged
    when p < threshold.
    """
    keys = list(observed)
    total = sum(observed[k] for k in keys)
    weight_sum = sum(weights[k] for k in keys)
    expected = {k: total * weights[k] / weight_sum for k in keys}
    if len(keys) < 2:
        return SrmResult(None, False, threshold, dict(observed), expected, (SINGLE_VARIANT,))
    if total == 0:
        return SrmResult(None, False, threshold, dict(observed), expected, (NO_VISITORS,))
    stat = sum((observed[k] - expected[k]) ** 2 / expected[k] for k in keys)
    p = float(special.chdtrc(len(keys) - 1, stat))
    return SrmResult(p, p < threshold, threshold, dict(observed), expected)


# ---------------------------------------------------------------------------- daily


@dataclass(frozen=True)
class DayCounts:
    visitors: int  # exposed on or before this day
    conversions: int  # converted on or before this day (converted_day < day + 1)

    def as_dict(self) -> dict[str, object]:
        rate = self.conversions / self.visitors if self.visitors else None
        return {"visitors": self.visitors, "conversions": self.conversions, "cumulative_rate": rate}


def daily_counts(samples: Sequence[VariantSample], days: int | None = None) -> list[dict[str, DayCounts]]:
    """Cumulative visitors and conversions per variant, one entry per day from day 0.

    ``days`` None: up to the last day with an exposure or a conversion. A conversion at
    day 3.7 counts from day 3 (it happened during day 3).
    """
    exposed = {s.key: np.sort(np.asarray(s.exposed_day, dtype=np.int64)) for s in samples}
    converted = {}
    for s in samples:
        cd = np.asarray(s.converted_day, dtype=float)
        converted[s.key] = np.sort(np.floor(cd[~np.isnan(cd)]).astype(np.int64))
    if days is None:
        last = max((int(a[-1]) for a in (*exposed.values(), *converted.values()) if a.size), default=-1)
        days = last + 1
    grid = np.arange(days)
    per_key = {
        k: (np.searchsorted(exposed[k], grid, side="right"), np.searchsorted(converted[k], grid, side="right"))
        for k in exposed
    }
    return [{k: DayCounts(int(v[d]), int(cv[d])) for k, (v, cv) in per_key.items()} for d in range(days)]


# ---------------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class VariantResult:
    key: str
    visitors: int
    conversions: int  # visitors with a converted_day: the same count the daily chart ends at
    revenue_per_visitor: float | None  # the revenue_per_visitor metric's mean, when given
    metrics: dict[str, MetricSummary]
    vs_control: dict[str, MetricComparison] | None  # None for the control itself

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "visitors": self.visitors,
            "conversions": self.conversions,
            "conversion_rate": self.conversions / self.visitors if self.visitors else None,
            "revenue_per_visitor": _num(self.revenue_per_visitor),
            "metrics": {name: s.as_dict() for name, s in self.metrics.items()},
            "vs_control": None if self.vs_control is None else {name: c.as_dict() for name, c in self.vs_control.items()},
        }


@dataclass(frozen=True)
class ExperimentResults:
    control: str
    alpha: float
    srm: SrmResult
    variants: tuple[VariantResult, ...]
    daily: tuple[dict[str, DayCounts], ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {
            "control": self.control,
            "alpha": self.alpha,
            "srm": self.srm.as_dict(),
            "variants": [v.as_dict() for v in self.variants],
            "daily": [
                {"day": d, "variants": {k: c.as_dict() for k, c in day.items()}} for d, day in enumerate(self.daily)
            ],
        }


def analyze(
    samples: Sequence[VariantSample],
    control: str,
    *,
    metrics: Sequence[str],
    alpha: float = 0.05,
    srm_threshold: float = 0.001,
    days: int | None = None,
    kinds: Mapping[str, str] = METRIC_KINDS,
    lower_is_better: Collection[str] = LOWER_IS_BETTER,
    sequential_horizon: int = SEQUENTIAL_HORIZON,
) -> ExperimentResults:
    """Every variant against ``control`` on every metric, plus SRM and the daily chart.

    Each treatment is compared with the control on its own: no correction for several
    treatments or metrics (the analyst reads them as separate questions; with many,
    tighten ``alpha``).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if sequential_horizon <= 0:
        raise ValueError("sequential_horizon must be positive")
    keys = [s.key for s in samples]
    if len(set(keys)) != len(keys):
        raise ValueError(f"variant keys must be unique, got {keys}")
    by_key = {s.key: s for s in samples}
    if control not in by_key:
        raise ValueError(f"control {control!r} is not one of the variants {keys}")
    for name in metrics:
        kind = kinds.get(name)
        if kind not in (PROPORTION, MEAN):
            raise ValueError(f"metric {name!r} has no known kind (proportion or mean)")
        if kind == PROPORTION:
            for s in samples:
                v = s.values(name)
                if not np.all((v == 0) | (v == 1)):
                    raise ValueError(f"variant {s.key!r}: proportion metric {name!r} must be 0/1 per visitor")

    srm = srm_check({s.key: s.visitors for s in samples}, {s.key: s.weight for s in samples}, srm_threshold)
    base = by_key[control]
    variants = []
    for s in samples:
        summaries = {name: summarize(s.values(name), kinds[name]) for name in metrics}
        vs = None
        if s.key != control:
            vs = {
                name: compare(
                    s,
                    base,
                    name,
                    kinds[name],
                    alpha=alpha,
                    higher_is_better=name not in lower_is_better,
                    horizon=sequential_horizon,
                )
                for name in metrics
            }
        cd = np.asarray(s.converted_day, dtype=float)
        revenue = None
        if "revenue_per_visitor" in s.metrics and s.visitors:
            revenue = float(np.mean(np.asarray(s.metrics["revenue_per_visitor"], dtype=float)))
        variants.append(
            VariantResult(s.key, s.visitors, int(np.count_nonzero(~np.isnan(cd))), revenue, summaries, vs)
        )
    return ExperimentResults(control, alpha, srm, tuple(variants), tuple(daily_counts(samples, days)))
