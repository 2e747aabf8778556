"""The distilled learner: an ensemble too slow to serve teaches a model the service can serve.

Purchases in a randomized log are Bernoulli draws of effects a few points wide, one arm
a visitor, so a single uplift learner mostly learns its own noise (members that differ
only in their random seed land several points apart on the oracle ratio). Averaging many
learners removes much of that noise, but seven boosters a member do not fit in a page
view's 2 ms. So training runs in two steps:

1. **Teacher** (offline, any size): the mean of ``n_s`` S-learners and ``n_x``
   X-learners (:func:`training.uplift_learners.x_learner`), weighted
   ``(1 - x_weight) : x_weight``. An S-learner here is one binary booster over every
   row of every arm; the row carries, besides the visitor's features, the *terms* of
   the offer its arm made, as this visitor would meet them (:func:`offer_terms`: the
   kind of right, its expected cost and face value as a share of the visitor's
   predicted basket, the chance the basket reaches its minimum spend, the threshold
   against the basket). Pooling the arms through their terms lets the rights share
   what they have in common (a 20-off-199 and a 50-off-399 both read as "money off if
   you reach a threshold"), which separate per-arm models cannot. The X-learners' errors
   differ from the S-learners' (separate effect models per arm), so the blend is
   better than either alone.
2. **Student** (served): the same shape as the X-learner the service already scores,
   :class:`~app.scoring.uplift_model.ArmBoosters` with the control's booster plus one
   effect booster per right, fitted to the teacher's predictions on every training row
   and *every* arm (the teacher answers the counterfactuals the log lacks, without
   noise): the control's with cross-entropy on the teacher's P(buy | none), each right's
   as a regression on the teacher's uplift. Nothing changes for serving.

The settings (15 leaves, at least 100 rows a leaf, an early-stopped 0.05 learning rate
for the S-learners; 0.25 for the X share) were chosen on the seed-1 campaign, the
figures in the README say how that carried to seed 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
from scipy.special import ndtr

from app.scoring.uplift_model import ArmBoosters
from training.lightgbm_params import COMMON
from training.rights import Right
from training.uplift_learners import BINARY, ArmTable, fit_booster, say, x_learner

KIND_CODES = {"amount_off": 1.0, "percent_off": 2.0, "free_ship": 3.0, "points": 4.0, "gift": 5.0}  # 0: no right
OFFER_TERMS = ("kind", "cost_share", "reach", "threshold_share", "face_share")

S_PARAMS = {
    **COMMON, "objective": "binary", "num_leaves": 15, "min_data_in_leaf": 100,
    "learning_rate": 0.05, "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 10.0,
}
S_MAX_ROUNDS = 3000  # early stopping on a held-out fifth picks the rounds (200-350 at the published size)
# The teacher's labels are not noisy, so the student needs no early stopping. A page
# view walks every split of every tree (app.scoring.forest), so its size is a cost:
# on visitor-1 rows 100 rounds at 0.2 kept the teacher's policy (78.6% of the oracle
# against its 78.9% on seed 1; 300 at 0.1: 78.7%). On visitor-2 rows they fell 0.7
# points under the teacher on both seeds (78.6% / 76.5% against 79.3% / 77.2%), where
# 200 rounds at 0.1 keep 0.3 more (78.9% / 76.8%; 31 leaves at 100 rounds: 78.9% /
# 76.7%), for about 0.08 ms more a page view.
STUDENT_PARAMS = {**COMMON, "num_leaves": 15, "min_data_in_leaf": 50, "learning_rate": 0.1}
STUDENT_ROUNDS = 200


@dataclass(frozen=True)
class DistillConfig:
    n_s: int = 6  # S-learners in the teacher
    n_x: int = 3  # X-learners in the teacher
    x_weight: float = 0.25
    student_rounds: int = STUDENT_ROUNDS
    seed: int = 10

    def __post_init__(self) -> None:
        if self.n_s < 0 or self.n_x < 0 or self.n_s + self.n_x == 0:
            raise ValueError("the teacher needs at least one member")
        if not 0.0 <= self.x_weight <= 1.0:
            raise ValueError("x_weight must be between 0 and 1")
        if self.student_rounds < 1:
            raise ValueError("student_rounds must be at least 1")


def offer_terms(right: Right | None, basket: np.ndarray, spread: float) -> np.ndarray:
    """The terms of one offer as each visitor meets them: shape (n, len(OFFER_TERMS)).

    ``basket`` is each visitor's predicted order value without a right (yuan), ``spread``
    the log-normal spread of orders around it (the uplift model's ``order_value.spread``).
    ``None`` is the control: no right, nothing to reach.
    """
    b = np.maximum(np.asarray(basket, dtype=float), 1e-9)
    n = len(b)
    if right is None:
        return np.column_stack([np.zeros(n), np.zeros(n), np.ones(n), np.zeros(n), np.zeros(n)])
    cost_share = right.expected_cost(np.ones(n), b, spread) / b
    if right.min_spend > 0:
        reach = ndtr((np.log(b / right.min_spend) - spread**2 / 2) / spread) if spread > 0 else (b >= right.min_spend).astype(float)
        threshold = right.min_spend / b
    else:
        reach, threshold = np.ones(n), np.zeros(n)
    if right.kind == "amount_off":
        face = right.amount / np.maximum(b, right.min_spend)
    elif right.kind == "percent_off":
        face = np.minimum(right.rate, right.cap / b)
    elif right.kind == "points":
        face = np.full(n, right.rate)
    else:  # free_ship, gift: a fixed cost per order
        face = right.amount / b
    return np.column_stack([np.full(n, KIND_CODES[right.kind]), cost_share, reach, threshold, face])


def _offer_rows(rights: Sequence[Right], arm: np.ndarray, basket: np.ndarray, spread: float) -> np.ndarray:
    out = np.zeros((len(arm), len(OFFER_TERMS)))
    for j in range(len(rights) + 1):
        rows = np.flatnonzero(arm == j)
        if len(rows):
            out[rows] = offer_terms(rights[j - 1] if j else None, basket[rows], spread)
    return out


@dataclass(frozen=True)
class OfferSLearner:
    """One booster over all arms: visitor features, the arm's offer terms, the arm's index."""

    booster: lgb.Booster
    rights: tuple[Right, ...]
    spread: float

    def predict(self, X: np.ndarray, basket: np.ndarray) -> np.ndarray:
        """P(buy | arm) for every row and arm: shape (n, 1 + len(rights))."""
        n = len(X)
        cols = []
        for j in range(len(self.rights) + 1):
            terms = offer_terms(self.rights[j - 1] if j else None, basket, self.spread)
            cols.append(self.booster.predict(np.column_stack([X, terms, np.full(n, float(j))])))
        return np.column_stack(cols)


def offer_s_learner(table: ArmTable, rights: Sequence[Right], basket: np.ndarray, spread: float, *, seed: int) -> OfferSLearner:
    nf = table.X.shape[1]
    F = np.column_stack([table.X, _offer_rows(rights, table.arm, basket, spread), table.arm.astype(float)])
    # the kind of right and the arm are categories, not quantities
    booster = fit_booster(F, table.y, {**S_PARAMS, "seed": seed}, categorical=[nf, nf + len(OFFER_TERMS)], rounds=S_MAX_ROUNDS, seed=seed)
    return OfferSLearner(booster, tuple(rights), spread)


def teacher_predictions(
    table: ArmTable, rights: Sequence[Right], basket: np.ndarray, spread: float, config: DistillConfig,
    *, also: Sequence[tuple[np.ndarray, np.ndarray]] = (), progress: bool = False,
) -> list[np.ndarray]:
    """The teacher's P(buy | arm) on the table's rows, then on each ``(X, basket)`` of ``also``."""
    if table.kind != BINARY:
        raise ValueError("the distilled learner learns a binary outcome (conversion)")
    if len(rights) + 1 != len(table.arms):
        raise ValueError(f"{len(table.arms)} arms need {len(table.arms) - 1} rights, got {len(rights)}")
    targets = [(table.X, basket), *also]
    s_sum = [np.zeros((len(X), len(table.arms))) for X, _ in targets]
    x_sum = [np.zeros((len(X), len(table.arms))) for X, _ in targets]
    for i in range(config.n_s):
        model = offer_s_learner(table, rights, basket, spread, seed=config.seed + i)
        say(progress, f"  teacher S-learner {i + 1}/{config.n_s}: {model.booster.num_trees()} trees")
        for acc, (X, b) in zip(s_sum, targets, strict=True):
            acc += model.predict(X, b)
    for i in range(config.n_x):
        xl = x_learner(table, params={"seed": config.seed + i})
        say(progress, f"  teacher X-learner {i + 1}/{config.n_x}")
        for acc, (X, _) in zip(x_sum, targets, strict=True):
            acc += xl.predict(X)
    w = config.x_weight if config.n_s and config.n_x else (1.0 if config.n_x else 0.0)
    return [(1.0 - w) * s / max(config.n_s, 1) + w * x / max(config.n_x, 1) for s, x in zip(s_sum, x_sum, strict=True)]


def distill(X: np.ndarray, teacher: np.ndarray, arms: tuple[str, ...], *, rounds: int = STUDENT_ROUNDS, progress: bool = False) -> ArmBoosters:
    """The student: the control's P(buy) by cross-entropy, each right's uplift by regression, on the teacher's labels."""
    p = np.clip(teacher, 0.0, 1.0)
    boosters = [lgb.train({**STUDENT_PARAMS, "objective": "cross_entropy"}, lgb.Dataset(X, p[:, 0]), rounds)]
    for j, name in enumerate(arms[1:], start=1):
        say(progress, f"  student: {name}'s uplift")
        boosters.append(lgb.train({**STUDENT_PARAMS, "objective": "regression", "seed": COMMON["seed"] + j}, lgb.Dataset(X, p[:, j] - p[:, 0]), rounds))
    return ArmBoosters(arms, BINARY, tuple(boosters), (False, *(True for _ in arms[1:])))


@dataclass(frozen=True)
class Distilled:
    student: ArmBoosters
    teacher_train: np.ndarray  # the teacher's P(buy | arm) on the training rows
    teacher_also: list[np.ndarray]  # and on each of ``also``


def distilled_learner(
    table: ArmTable, rights: Sequence[Right], basket: np.ndarray, spread: float, config: DistillConfig | None = None,
    *, also: Sequence[tuple[np.ndarray, np.ndarray]] = (), progress: bool = False,
) -> Distilled:
    """Teacher, then student. ``basket``: each training row's predicted order value without a right."""
    config = config or DistillConfig()
    say(progress, f"teacher: {config.n_s} S-learners with offer terms + {config.n_x} X-learners (X share {config.x_weight})")
    train, *rest = teacher_predictions(table, rights, basket, spread, config, also=also, progress=progress)
    say(progress, f"student: {len(table.arms)} boosters x {config.student_rounds} rounds on the teacher's labels")
    return Distilled(distill(table.X, train, table.arms, rounds=config.student_rounds, progress=progress), train, rest)
