"""The published product ranker, loaded for serving (verified like the attribute models)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np

from app.core.features import FEATURES_VERSION, RANKING_VERSION, FeatureSpec, ranking_names
from app.core.ranking import purchase_score
from app.scoring.attribute_models import (
    ModelRejected,
    feature_spec,
    manifest_version,
    read_booster,
    read_manifest,
)


@dataclass(frozen=True)
class RankerModel:
    """The lambdarank model and, when published with one, the conversion model beside it.

    Training evaluates through this same class, so the published figures are the scores
    the service serves.
    """

    version: str
    spec: FeatureSpec
    booster: lgb.Booster
    conversion: lgb.Booster | None = None  # P(purchase | click), see app.core.ranking.purchase_score
    conversion_weight: float = 0.0

    def score(self, X: np.ndarray) -> np.ndarray:
        """Scores of many rows in one call (all grids of a page at once)."""
        relevance = np.asarray(self.booster.predict(X, num_threads=1))
        if self.conversion is None:
            return relevance
        logit = np.asarray(self.conversion.predict(X, raw_score=True, num_threads=1))
        return purchase_score(relevance, logit, self.conversion_weight)


def load_ranker(folder: Path) -> RankerModel:
    manifest, raw = read_manifest(folder)
    features = manifest.get("features") or {}
    if features.get("version") != FEATURES_VERSION or features.get("ranking_version") != RANKING_VERSION:
        raise ModelRejected(
            f"built for features {features.get('version')!r}/{features.get('ranking_version')!r}, "
            f"this service has {FEATURES_VERSION!r}/{RANKING_VERSION!r}"
        )
    spec = feature_spec(features)
    if list(ranking_names(spec)) != features.get("ranking_names"):
        raise ModelRejected("ranking feature names or order differ from this service's feature code")
    booster = read_booster(folder, manifest.get("file"), manifest.get("sha256"), len(ranking_names(spec)))
    conversion, weight = None, 0.0
    if (conv := manifest.get("conversion")) is not None:
        try:
            weight = float(conv["weight"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelRejected(f"the conversion model's weight is missing or not a number: {exc}") from exc
        conversion = read_booster(folder, conv.get("file"), conv.get("sha256"), len(ranking_names(spec)))
    version = manifest_version(manifest, raw)
    return RankerModel(version, spec, booster, conversion, weight)
