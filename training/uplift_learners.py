"""Multi-treatment uplift meta-learners on LightGBM, trained from a randomized table.

A table is rows ``X``, the arm each row got (index into ``arms``; ``arms[0]`` is the
control), the outcome ``y`` (binary 0/1 or an amount) and, optionally, the logged
probability of the row's own arm (its propensity). Every learner answers the same
question: the expected outcome of each row under each arm, ``predict(X) -> (n, arms)``;
the uplift of arm ``a`` is column ``a`` minus column 0.

- **T-learner**: one model per arm, control included, each on its own arm's rows.
- **X-learner** (Künzel et al. 2019, one treatment at a time against the control): the
  T-learner's models impute each row's effect, ``D = y - μ0(x)`` on arm ``a``'s rows and
  ``D = μa(x) - y`` on the control's, and one regressor per arm learns ``τa(x)`` from
  both sets together, each row weighted by 1 / its propensity so each set stands for
  the whole population: the pooled fit is the average of Künzel's two second-stage
  models, in one booster (so serving needs 1 + arms boosters, not 1 + 2 · arms). It
  predicts ``μ0(x) + τa(x)`` (clipped to [0, 1] for a binary outcome). Without logged
  propensities each arm's share of the table stands in (a uniform randomization).

``plain_t_learner`` is the baseline the issue names: LightGBM's default classifier (or
regressor) per arm, 100 rounds, 31 leaves, nothing tuned. The tuned learners use small
trees with many rows a leaf and early stopping on a held-out fifth of each arm's rows:
the effects are a few points on noisy binary outcomes, which big trees memorise.

What is saved is a set of LightGBM boosters per arm and, per arm, whether it predicts
the outcome or the uplift on top of the control (:class:`ArmBoosters` in
:mod:`app.scoring.uplift_model`, which the service and the scoring command load).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import lightgbm as lgb
import numpy as np

from app.scoring.uplift_model import ArmBoosters
from training.lightgbm_params import COMMON

BINARY, AMOUNT = "binary", "amount"
LEARNERS = ("x", "t", "plain-t")

# One thread: these tables are small (a few thousand rows an arm), and on the two cores
# shared here a second OpenMP thread waits on the other's work more than it helps
# (measured 20x slower per booster while another job ran).
TUNED: dict[str, Any] = {
    **COMMON,
    "num_threads": 1,
    "num_leaves": 7,
    "min_data_in_leaf": 80,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    "learning_rate": 0.05,
}
# At most 80 rounds at 0.05 (early stopping usually stops sooner): more let the boosters
# chase noise (on the seed-1 campaign, 400 rounds gave a policy worth 1.77 yuan a visitor,
# 80 gave 1.86) and the published model stays small and fast to score.
MAX_ROUNDS = 80
EARLY_STOP = 30
# LightGBM's own defaults, spelled out: the baseline is "a plain LightGBM pair"
PLAIN: dict[str, Any] = {"verbose": -1, "deterministic": True, "force_row_wise": True, "num_threads": 1, "seed": COMMON["seed"]}
PLAIN_ROUNDS = 100


@dataclass(frozen=True)
class ArmTable:
    """A randomized log: features, arm index per row (0 = control), outcome, logged propensity."""

    X: np.ndarray
    arm: np.ndarray
    y: np.ndarray
    arms: tuple[str, ...]
    kind: str = BINARY
    propensity: np.ndarray | None = None
    categorical: tuple[int, ...] = ()  # column indices LightGBM treats as categories

    def __post_init__(self) -> None:
        if self.kind not in (BINARY, AMOUNT):
            raise ValueError(f"outcome kind must be {BINARY!r} or {AMOUNT!r}")
        if not len(self.X) == len(self.arm) == len(self.y):
            raise ValueError("X, arm and y must have one entry per row")

    def rows(self, j: int) -> np.ndarray:
        return np.flatnonzero(self.arm == j)

    def weights(self) -> np.ndarray:
        """1 / propensity: the logged one, else the arm's share of the table."""
        if self.propensity is not None:
            return 1.0 / np.clip(self.propensity, 1e-3, 1.0)
        share = np.bincount(self.arm, minlength=len(self.arms)) / len(self.arm)
        return 1.0 / share[self.arm]


def _objective(kind: str) -> dict[str, Any]:
    return {"objective": "binary"} if kind == BINARY else {"objective": "regression"}


def fit_booster(
    X: np.ndarray, y: np.ndarray, params: dict[str, Any], *, weight: np.ndarray | None = None,
    categorical: Sequence[int] = (), rounds: int | None = None, early_stopping: bool = True, seed: int = 0,
) -> lgb.Booster:
    """One booster; with ``early_stopping`` a random fifth of the rows picks the number of rounds (at most ``rounds``)."""
    rounds = MAX_ROUNDS if rounds is None else rounds
    cats: list[int] | Literal["auto"] = list(categorical) if categorical else "auto"
    if not early_stopping or len(y) < 200:
        return lgb.train(params, lgb.Dataset(X, y, weight=weight, categorical_feature=cats), rounds)
    hold = np.random.default_rng([params.get("seed", 0), seed]).random(len(y)) < 0.2
    w_fit = weight[~hold] if weight is not None else None
    w_hold = weight[hold] if weight is not None else None
    fit = lgb.Dataset(X[~hold], y[~hold], weight=w_fit, categorical_feature=cats)
    valid = lgb.Dataset(X[hold], y[hold], weight=w_hold, reference=fit, categorical_feature=cats)
    booster = lgb.train(params, fit, rounds, valid_sets=[valid], callbacks=[lgb.early_stopping(EARLY_STOP, verbose=False)])
    # refit on every row with the rounds the held-out fifth chose: no row is wasted
    best = max(booster.best_iteration, 1)
    return lgb.train(params, lgb.Dataset(X, y, weight=weight, categorical_feature=cats), best)


def say(progress: bool, text: str) -> None:
    """A progress line on stderr when ``progress`` (the uplift commands' training steps)."""
    if progress:
        print(text, file=sys.stderr, flush=True)


def t_learner(table: ArmTable, *, params: dict[str, Any] | None = None, tuned: bool = True, progress: bool = False) -> ArmBoosters:
    """One model of the outcome per arm (control included)."""
    base = {**(TUNED if tuned else PLAIN), **(params or {}), **_objective(table.kind)}
    boosters = []
    for j, name in enumerate(table.arms):
        idx = table.rows(j)
        say(progress, f"  {name}: outcome model on {len(idx)} rows")
        boosters.append(
            fit_booster(table.X[idx], table.y[idx], base, categorical=table.categorical, early_stopping=tuned,
                        rounds=MAX_ROUNDS if tuned else PLAIN_ROUNDS, seed=j)
        )
    return ArmBoosters(table.arms, table.kind, tuple(boosters), tuple(False for _ in table.arms))


def plain_t_learner(table: ArmTable, *, progress: bool = False) -> ArmBoosters:
    """The baseline: LightGBM's default model per arm, nothing tuned."""
    return t_learner(table, tuned=False, progress=progress)


def x_learner(table: ArmTable, *, params: dict[str, Any] | None = None, progress: bool = False) -> ArmBoosters:
    """The control's outcome model plus one effect model per arm (see the module docstring)."""
    say(progress, "stage 1: the T-learner's outcome models")
    stage1 = t_learner(table, params=params, progress=progress)
    mu = [np.asarray(b.predict(table.X)) for b in stage1.boosters]
    w = table.weights()
    control = table.rows(0)
    reg = {**TUNED, **(params or {}), "objective": "regression"}
    effects = []
    say(progress, "stage 2: effect models, both imputations pooled")
    for j, name in enumerate(table.arms[1:], start=1):
        treated = table.rows(j)
        idx = np.concatenate([treated, control])
        d = np.concatenate([table.y[treated] - mu[0][treated], mu[j][control] - table.y[control]])
        say(progress, f"  {name}: effect model on {len(idx)} rows")
        effects.append(fit_booster(table.X[idx], d, reg, weight=w[idx], categorical=table.categorical, seed=100 + j))
    return ArmBoosters(table.arms, table.kind, (stage1.boosters[0], *effects), (False, *(True for _ in effects)))


def train_learner(name: str, table: ArmTable, *, progress: bool = False) -> ArmBoosters:
    if name == "x":
        return x_learner(table, progress=progress)
    if name == "t":
        return t_learner(table, progress=progress)
    if name == "plain-t":
        return plain_t_learner(table, progress=progress)
    raise ValueError(f"unknown learner {name!r}; one of {', '.join(LEARNERS)}")


def order_value_model(X: np.ndarray, arm: np.ndarray, value: np.ndarray, *, progress: bool = False) -> lgb.Booster:
    """E[order value | buy, arm]: one regressor over the buyers of every arm, the arm a categorical column.

    Buyers are a few per cent of a randomized log; pooled, the arms share what they have
    in common (the visitor's basket) and the arm column keeps what differs (a min-spend
    right pulls small baskets up to its threshold).
    """
    say(progress, f"order value model on {len(value)} buyers")
    Xa = np.column_stack([X, arm.astype(float)])
    return fit_booster(Xa, value, {**TUNED, "objective": "regression"}, categorical=[X.shape[1]], seed=999)
