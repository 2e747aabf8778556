"""The published uplift model, loaded for serving: each right's predicted effect on one visitor.

A folder written by ``python -m training uplift-demo`` holds ``manifest.json`` (kind
``uplift``) and LightGBM text files:

- **conversion**, P(buy within the campaign window | arm): one booster per arm. Each
  predicts either the outcome itself (T-learner) or the uplift over the control's
  booster (X-learner); the manifest says which, per file.
- **order value**, E[order value in yuan | buy, arm]: one regressor over buyers with the
  arm's index as its last (categorical) column.

Revenue is conversion × order value: the merchandise value before the right (yuan), so
the caller computes a right's cost from the order value, and profit as margin × revenue
minus that cost. Files are checked against their SHA-256 and the manifest against this
service's feature code, like :mod:`app.scoring.ranker_model`; anything off raises
:class:`ModelRejected`. Loads through ``ModelRegistry(folder, loader=load_uplift)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from app.core.features import FeatureSpec
from app.scoring.attribute_models import (
    ModelRejected,
    manifest_version,
    read_booster,
    read_manifest,
    visitor_spec,
)
from app.scoring.forest import FEW_ROWS, Forest, flat_or_none

KIND = "uplift"
BINARY = "binary"


@dataclass(frozen=True)
class ArmBoosters:
    """One booster per arm (``arms[0]`` the control); ``adds_control[j]``: booster j predicts the uplift."""

    arms: tuple[str, ...]
    kind: str  # "binary" | "amount"
    boosters: tuple[lgb.Booster, ...]
    adds_control: tuple[bool, ...]

    @cached_property
    def forest(self) -> Forest | None:
        """Every booster in one flat forest, for a few rows at a time (None if it cannot be flattened)."""
        return flat_or_none(self.boosters)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The expected outcome of every row under every arm: shape (n, len(arms))."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if len(X) <= FEW_ROWS and self.forest is not None:
            return self.finish(self.forest.predict(X))
        return self.finish(np.column_stack([np.asarray(b.predict(X, num_threads=1), dtype=float) for b in self.boosters]))

    @cached_property
    def _adds(self) -> np.ndarray:
        """The columns that hold an uplift (built once: a page view calls ``finish`` for one row)."""
        return np.flatnonzero(self.adds_control)

    def finish(self, out: np.ndarray) -> np.ndarray:
        """The boosters' raw predictions (n, arms) made outcomes: uplifts added to the control, probabilities clipped."""
        adds = self._adds
        if len(adds):
            out[:, adds] += out[:, :1]
        if self.kind == BINARY:
            np.clip(out, 0.0, 1.0, out=out)
        return out

    def uplift(self, X: np.ndarray) -> np.ndarray:
        """Each treatment arm's predicted effect over the control: shape (n, len(arms) - 1)."""
        p = self.predict(X)
        return p[:, 1:] - p[:, :1]


@dataclass(frozen=True)
class ArmPrediction:
    conversion: np.ndarray  # P(buy within the window | arm), shape (n,)
    revenue: np.ndarray  # E[revenue in yuan | arm], shape (n,)  (0 when no purchase)
    order_value: np.ndarray  # E[order value in yuan | buy, arm] (what percent-off / min-spend costs are computed from)


@dataclass(frozen=True)
class UpliftModel:
    version: str  # created_at + manifest digest, like the other models
    spec: FeatureSpec
    arms: tuple[str, ...]  # treatment arm ids (right ids), without the control
    control: str  # e.g. "none"
    learner: str
    conversion: ArmBoosters
    order_value: lgb.Booster  # features + the arm's index (0 = control) as the last column
    metrics: Mapping[str, Any]
    # sd of ln(order value) around the prediction: the chance an order reaches a min-spend
    # threshold is Φ((ln(order_value / threshold) - spread² / 2) / spread), not 0 or 1
    order_value_spread: float = 0.0

    @cached_property
    def forest(self) -> Forest | None:
        """The conversion's boosters and the order value's, once per arm, in one flat forest.

        The order value's booster reads the arm's index as its last feature; fixed to
        each arm in turn (:func:`~app.scoring.forest.flatten`'s partial evaluation), it
        becomes one booster per arm on the plain visitor row, so a page view's whole
        model is one call on one row (None if the boosters cannot be flattened).
        """
        names = (self.control, *self.arms)
        n = len(self.spec.visitor_names)
        boosters = (*self.conversion.boosters, *(self.order_value for _ in names))
        fixed = (*({} for _ in names), *({n: float(j)} for j in range(len(names))))
        return flat_or_none(boosters, fixed)

    def predict_one(self, row: np.ndarray) -> tuple[list[float], list[float]]:
        """(conversion, order value) of one visitor under each arm, the control first, as floats.

        What :meth:`predict` gives for one row, without its arrays and objects per arm:
        the page view's call, where those cost more than the arithmetic (about 60 µs).
        """
        conversion, value = self._outcomes(np.asarray(row, dtype=float)[None, :])
        return conversion[0].tolist(), value[0].tolist()

    def predict(self, X: np.ndarray) -> dict[str, ArmPrediction]:
        """Predictions for every arm, control included, for rows of ``visitor_row``."""
        conversion, value = self._outcomes(np.atleast_2d(np.asarray(X, dtype=float)))
        return {
            name: ArmPrediction(conversion[:, j], conversion[:, j] * value[:, j], value[:, j])
            for j, name in enumerate((self.control, *self.arms))
        }

    def _outcomes(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P(buy | arm), E[order value | buy, arm]) for rows ``X``: each (rows, arms), the control first."""
        n, k = len(X), len(self.arms) + 1
        if n <= FEW_ROWS and self.forest is not None:
            both = self.forest.predict(X)
            return self.conversion.finish(both[:, :k]), np.maximum(both[:, k:], 0.0)
        # one call for all arms: each row repeated once per arm, the arm's index appended
        stacked = np.column_stack([np.tile(X, (k, 1)), np.repeat(np.arange(k, dtype=float), n)])
        value = np.asarray(self.order_value.predict(stacked, num_threads=1), dtype=float).reshape(k, n).T
        return self.conversion.predict(X), np.maximum(value, 0.0)


def read_arm_boosters(folder: Path, entry: Mapping[str, Any], arms: tuple[str, ...], n_features: int) -> ArmBoosters:
    """The boosters an outcome entry of a manifest lists, one per arm in ``arms`` order."""
    kind = entry.get("kind")
    if kind not in (BINARY, "amount"):
        raise ModelRejected(f"unknown outcome kind {kind!r}")
    by_arm = {m.get("arm"): m for m in entry.get("models", [])}
    if set(by_arm) != set(arms):
        raise ModelRejected(f"the models are for arms {sorted(map(str, by_arm))}, the manifest names {sorted(arms)}")
    boosters, adds = [], []
    for j, arm in enumerate(arms):
        m = by_arm[arm]
        predicts = m.get("predicts")
        if predicts not in ("outcome", "uplift") or (j == 0 and predicts != "outcome"):
            raise ModelRejected(f"arm {arm!r}: predicts {predicts!r}")
        boosters.append(read_booster(folder, m.get("file"), m.get("sha256"), n_features))
        adds.append(predicts == "uplift")
    return ArmBoosters(arms, kind, tuple(boosters), tuple(adds))


def read_kind_manifest(folder: Path, kind: str) -> tuple[dict[str, Any], bytes]:
    """The manifest of a model folder that must be of ``kind``."""
    manifest, raw = read_manifest(folder)
    if manifest.get("kind") != kind:
        raise ModelRejected(f"not an {kind!r} model (kind {manifest.get('kind')!r})")
    return manifest, raw


def load_uplift(folder: Path) -> UpliftModel:
    """Load and verify a published uplift model, or raise :class:`ModelRejected` saying why."""
    manifest, raw = read_kind_manifest(folder, KIND)
    spec = visitor_spec(manifest.get("features") or {})
    control, arms = manifest.get("control"), tuple(manifest.get("arms") or ())
    if not isinstance(control, str) or not arms or control in arms:
        raise ModelRejected("the manifest needs a control and treatment arms without it")
    outcomes = manifest.get("outcomes") or {}
    n = len(spec.visitor_names)
    conversion = read_arm_boosters(folder, outcomes.get("conversion") or {}, (control, *arms), n)
    if conversion.kind != BINARY:
        raise ModelRejected("the conversion outcome must be binary")
    ov = outcomes.get("order_value") or {}
    order_value = read_booster(folder, ov.get("file"), ov.get("sha256"), n + 1)
    try:
        spread = float(ov.get("spread", 0.0))
    except (TypeError, ValueError) as exc:
        raise ModelRejected(f"the order value's spread is not a number: {exc}") from exc
    version = manifest_version(manifest, raw)
    model = UpliftModel(
        version, spec, arms, control, str(manifest.get("learner", "?")), conversion, order_value, manifest.get("metrics") or {}, spread
    )
    # flattened now, while loading, so the first page view does not pay for it
    model.forest  # noqa: B018
    return model
