"""Off-policy evaluation: what a policy would have earned, judged on a randomized log.

A log row holds the arm the unit got, the probability the logging policy had of giving
it that arm (its propensity) and the outcome. A candidate policy picks one arm per row;
only the rows where it agrees with the log say anything about it, each weighted by one
over its propensity (inverse propensity scoring, IPS). Three estimates of the policy's
mean outcome a unit, each with what it is good for:

- **IPS**: unbiased when the propensities are right, but noisy: a row the log gave a
  rare arm carries a large weight.
- **SNIPS** (self-normalised IPS): the same sum divided by the sum of the weights
  instead of the row count; a little biased, much steadier when the weights are uneven.
- **DR** (doubly robust): a model's prediction of the policy's arm for every row, plus
  the IPS-weighted error of that prediction on the agreeing rows. Unbiased when either
  the propensities or the model are right, and with a good model far less noisy than
  IPS. The standard error of IPS and DR comes from the per-row terms (they are means of
  independent rows); the lift of a policy over another uses the per-row difference, so
  the noise both share cancels.

The outcome may be netted of each arm's cost (``costs``): a policy is then judged on
what it earns after paying for its treatments, as a merchant judges a coupon.
Pure numpy, no I/O: ``python -m training uplift evaluate`` reads the log and the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959964  # two-sided 95% normal quantile


class EvaluationError(ValueError):
    """Inputs an evaluation cannot use; the message says which and why."""


@dataclass(frozen=True)
class Log:
    """A randomized log: per row the arm index (into ``arms``), its propensity and the outcome."""

    arms: tuple[str, ...]  # arms[0] is the control
    arm: np.ndarray  # int, shape (n,)
    propensity: np.ndarray  # P(logged arm | row) under the logging policy, in (0, 1]
    outcome: np.ndarray  # float, shape (n,)
    costs: np.ndarray  # per arm, in outcome units, subtracted when that arm is given

    def __post_init__(self) -> None:
        n = len(self.arm)
        if n == 0:
            raise EvaluationError("the log has no rows")
        if len(self.propensity) != n or len(self.outcome) != n:
            raise EvaluationError("arm, propensity and outcome must have one value a row")
        if len(self.costs) != len(self.arms):
            raise EvaluationError("one cost per arm")
        if ((self.arm < 0) | (self.arm >= len(self.arms))).any():
            raise EvaluationError("an arm index is outside the arms")
        p = self.propensity
        if np.isnan(p).any() or (p <= 0).any() or (p > 1).any():
            raise EvaluationError("propensities must be in (0, 1] on every row")
        if np.isnan(self.outcome).any():
            raise EvaluationError("the outcome has missing values")

    @property
    def net(self) -> np.ndarray:
        """Each row's outcome less the cost of the arm it got."""
        return self.outcome - self.costs[self.arm]


@dataclass(frozen=True)
class Estimate:
    """One policy's value a unit on the log, by three estimators."""

    policy: str
    ips: float
    ips_se: float
    snips: float
    dr: float | None  # None without outcome predictions
    dr_se: float | None
    matched: int  # rows where the policy agrees with the log
    shares: dict[str, float]  # the share of rows the policy gives each arm
    lift: float | None = None  # DR (IPS without predictions) against the baseline policy, per unit
    lift_se: float | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "policy": self.policy, "ips": self.ips, "ips_se": self.ips_se, "snips": self.snips,
            "dr": self.dr, "dr_se": self.dr_se, "matched_rows": self.matched, "arm_shares": self.shares,
        }
        if self.lift is not None:
            out["lift"] = self.lift
            out["lift_se"] = self.lift_se
            out["lift_95"] = [self.lift - Z95 * (self.lift_se or 0.0), self.lift + Z95 * (self.lift_se or 0.0)]
        return out


def _se(terms: np.ndarray) -> float:
    return float(np.std(terms, ddof=1) / np.sqrt(len(terms))) if len(terms) > 1 else float("nan")


def ips_terms(log: Log, chosen: np.ndarray) -> np.ndarray:
    """Per row: the net outcome over the propensity where the policy agrees with the log, else 0."""
    return np.where(chosen == log.arm, log.net / log.propensity, 0.0)


def dr_terms(log: Log, chosen: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per row: the predicted net outcome of the chosen arm, corrected by the weighted error where the log agrees.

    ``predicted``: the expected outcome of every row under every arm, shape (n, arms).
    """
    rows = np.arange(len(chosen))
    net_pred = predicted - log.costs[None, :]
    direct = net_pred[rows, chosen]
    error = log.net - net_pred[rows, log.arm]
    return direct + np.where(chosen == log.arm, error / log.propensity, 0.0)


def estimate(
    log: Log, policy: str, chosen: np.ndarray, predicted: np.ndarray | None = None, base: np.ndarray | None = None,
) -> Estimate:
    """``chosen``: the arm index the policy gives each row. With ``base`` (another policy's
    arms) also the lift over it: the mean of the per-row difference of the DR terms (of the
    IPS terms without ``predicted``), so the noise both policies share cancels."""
    chosen = np.asarray(chosen)
    if chosen.shape != log.arm.shape:
        raise EvaluationError(f"policy {policy!r} must choose one arm a row")
    if predicted is not None and predicted.shape != (len(log.arm), len(log.arms)):
        raise EvaluationError("predictions must have one column per arm and one row per log row")
    ips = ips_terms(log, chosen)
    weights = np.where(chosen == log.arm, 1.0 / log.propensity, 0.0)
    total_weight = weights.sum()
    snips = float(ips.sum() / total_weight) if total_weight > 0 else float("nan")
    dr = dr_terms(log, chosen, predicted) if predicted is not None else None
    lift = lift_se = None
    if base is not None:
        diff = dr - dr_terms(log, base, predicted) if dr is not None and predicted is not None else ips - ips_terms(log, base)
        lift, lift_se = float(diff.mean()), _se(diff)
    return Estimate(
        policy, float(ips.mean()), _se(ips), snips,
        float(dr.mean()) if dr is not None else None, _se(dr) if dr is not None else None,
        int((chosen == log.arm).sum()), arm_shares(log.arms, chosen), lift, lift_se,
    )


def greedy(uplift: np.ndarray, costs: np.ndarray, min_gain: float = 0.0) -> np.ndarray:
    """The arm of highest predicted uplift net of its cost (more than the control's), if that gain exceeds ``min_gain``; else the control (0).

    ``uplift``: shape (n, arms - 1), against the control.
    """
    gain = uplift - (costs[1:] - costs[0])[None, :]
    best = np.argmax(gain, axis=1)
    return np.where(gain[np.arange(len(gain)), best] > min_gain, best + 1, 0)


def compare(log: Log, model_choice: np.ndarray, predicted: np.ndarray | None) -> list[Estimate]:
    """The model's policy, the control for everyone and each arm for everyone, each with its lift over the control.

    Also the logging policy itself: its value is the log's mean net outcome.
    """
    n = len(log.arm)
    control = np.zeros(n, dtype=int)
    policies: list[tuple[str, np.ndarray]] = [("model", np.asarray(model_choice))]
    policies += [(f"everyone: {a}", np.full(n, j, dtype=int)) for j, a in enumerate(log.arms)]
    out = [estimate(log, name, ch, predicted, base=control) for name, ch in policies]
    net = log.net
    out.append(Estimate("logged (as run)", float(net.mean()), _se(net), float(net.mean()), None, None, n, arm_shares(log.arms, log.arm)))
    return out


def arm_shares(arms: Sequence[str], arm: np.ndarray) -> dict[str, float]:
    """The share of rows given each arm."""
    counts = np.bincount(arm, minlength=len(arms)) / len(arm)
    return {a: float(c) for a, c in zip(arms, counts, strict=True)}


def propensity_from_shares(arm: np.ndarray, arms: Sequence[str]) -> np.ndarray:
    """Each row's arm share: the propensity of a log randomized with fixed shares (an assumption the caller states)."""
    return np.array(list(arm_shares(arms, arm).values()))[arm]
