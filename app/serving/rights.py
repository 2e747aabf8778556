"""The rights step of a page view: score the eligible rights, decide, grant in Redis.

The visitor's live decision comes with the render's first round trip; a visitor who
holds one keeps it (sticky) and costs nothing more. Otherwise the uplift model scores
the eligible rights on the visitor's feature row (the same row the attribute models
read) and :func:`app.rights.policy.decide` orders the candidates; then one script call
of its ``store`` (:meth:`app.store.rights.RightsStore.grant`) grants the first that
budgets, pacing and the visitor's limit allow.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from app.core.features import FeatureSpec, VisitorRows
from app.rights.definition import Right
from app.rights.policy import ArmScore, PolicyInputs, RightsDecision, decide
from app.rights.settings import RightsSettings
from app.store.rights import DecisionFeatures, RightsStore

log = logging.getLogger("storefront.rights")


class UpliftModelLike(Protocol):
    version: str
    spec: FeatureSpec
    arms: tuple[str, ...]
    control: str
    order_value_spread: float

    def predict_one(self, row: np.ndarray) -> tuple[list[float], list[float]]: ...


class ModelSource(Protocol):
    current: Any


def arm_scores(model: UpliftModelLike, rows: VisitorRows, wanted: Collection[str]) -> dict[str, ArmScore]:
    """The model's predictions for the rights it knows, against its control arm."""
    arms = [(j, a) for j, a in enumerate(model.arms, start=1) if a in wanted]  # columns after the control's
    if not arms:
        return {}
    conversion, value = model.predict_one(rows.row(model.spec))
    base_p, base_rev = conversion[0], conversion[0] * value[0]
    spread = model.order_value_spread
    return {a: ArmScore(conversion[j], base_p, conversion[j] * value[j], base_rev, value[j], spread) for j, a in arms}


@dataclass(frozen=True)
class Decided:
    """What :meth:`RightsService.decide` made: the policy's decision, the uplift model's
    version (None: none loaded), and the feature row the model read (None: it read none)."""

    decision: RightsDecision
    model_version: str | None
    features: DecisionFeatures | None = None


class RightsService:
    def __init__(self, store: RightsStore, model: ModelSource | None = None, rng: random.Random | None = None) -> None:
        self.store = store
        self.model = model
        self.rng = rng or random.Random()

    def decide(
        self,
        rights: Mapping[str, Right],
        settings: RightsSettings,
        rows: VisitorRows,
        matched: Collection[str],
        *,
        personalized: bool,
        lever: str | None,
    ) -> Decided:
        """The policy's decision (pure but for the model call), the model version and the
        row the model read (the grant logs it, so the shop's log can train a model).

        The model runs on the event loop: one row through a few small boosters takes
        under a millisecond, less than a worker thread's hand-off and GIL contention with
        the ranker's thread cost (measured with bench/rights_bench.py: +1.5 ms at p50).
        """
        personalized = personalized and settings.personalized  # the shop's switch, then the visitor's
        model: UpliftModelLike | None = self.model.current if self.model is not None else None
        scores: dict[str, ArmScore] = {}
        features = None
        if model is not None and personalized and lever not in ("none", "default"):
            wanted = {r.id for r in rights.values() if r.mode == "uplift" and r.live_at(rows.context.ts)}
            scores = arm_scores(model, rows, wanted)
            if scores:  # the model read the row (VisitorRows keeps it: no second computation)
                features = DecisionFeatures(model.spec, rows.row(model.spec))
        inputs = PolicyInputs(
            rights=tuple(rights.values()),
            now=rows.context.ts,
            matched_crowds=matched,
            personalized=personalized,
            lever=lever,
            scores=scores,
            margin_rate=settings.margin_rate,
            exploration=settings.exploration,
            draw=self.rng.random(),
            pick=self.rng.random(),
        )
        return Decided(decide(inputs), model.version if model is not None else None, features)
