"""Published attribute models, loaded for serving: verified, hot-swapped, never half-loaded.

A model set is a folder with ``manifest.json`` and one LightGBM text file per target
(written by ``python -m training attributes``). Before a set is used, its manifest must
match this code's feature definitions (version and names, in order) and every file
its recorded SHA-256; otherwise it is refused and the set in use stays. The registry
looks at the manifest again when asked (the service asks every few seconds), so a newly
published set takes over without a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from app.core.calibration import Isotonic
from app.core.features import FEATURES_VERSION, FeatureSpec

log = logging.getLogger("storefront.models")

Distribution = dict[Any, float]


class ModelRejected(Exception):
    pass


@dataclass(frozen=True)
class _Target:
    name: str
    classes: tuple[Any, ...]
    booster: lgb.Booster
    calibration: Isotonic | None

    def proba(self, X: np.ndarray) -> np.ndarray:
        raw = self.booster.predict(X)
        if len(self.classes) == 2:
            p = self.calibration(raw) if self.calibration is not None else raw
            return np.column_stack([p, 1 - p])
        return raw


@dataclass(frozen=True)
class AttributeModels:
    """One verified model set."""

    version: str  # created_at of the manifest + a digest: what renders report
    spec: FeatureSpec
    targets: tuple[_Target, ...]
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @property
    def attributes(self) -> frozenset[str]:
        return frozenset(t.name for t in self.targets)

    def predict(self, rows: np.ndarray, only: Collection[str] | None = None) -> list[dict[str, Distribution]]:
        """Distributions of the targets (all, or ``only`` these) for each row, one call per target."""
        out: list[dict[str, Distribution]] = [{} for _ in range(len(rows))]
        for t in self.targets:
            if only is not None and t.name not in only:
                continue
            proba = t.proba(rows)
            for i in range(len(rows)):
                out[i][t.name] = {c: float(p) for c, p in zip(t.classes, proba[i], strict=True)}
        return out


def load_model_set(folder: Path) -> AttributeModels:
    """Load and verify a model set, or raise :class:`ModelRejected` saying why."""
    manifest, raw = read_manifest(folder)
    spec = visitor_spec(manifest.get("features") or {})
    targets = []
    for entry in manifest.get("models", []):
        path = folder / entry["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelRejected(f"{entry['target']}: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ModelRejected(f"{entry['target']}: {path.name} does not match its recorded sha256")
        try:
            booster = lgb.Booster(model_str=data.decode())
        except (lgb.basic.LightGBMError, UnicodeDecodeError) as exc:
            raise ModelRejected(f"{entry['target']}: LightGBM cannot load {path.name}: {exc}") from exc
        if booster.num_feature() != len(spec.visitor_names):
            raise ModelRejected(f"{entry['target']}: model has {booster.num_feature()} features, the spec {len(spec.visitor_names)}")
        cal = entry.get("calibration")
        calibration = Isotonic.from_dict(cal) if cal else None
        classes = tuple(entry["classes"])
        targets.append(_Target(entry["target"], classes, booster, calibration))
    if not targets:
        raise ModelRejected("the manifest lists no model")
    version = manifest_version(manifest, raw)
    metrics = {e["target"]: e.get("metrics", {}) for e in manifest.get("models", [])}
    return AttributeModels(version, spec, tuple(targets), metrics)


def read_manifest(folder: Path) -> tuple[dict[str, Any], bytes]:
    """A model folder's ``manifest.json``, parsed, and its bytes (the version digests them)."""
    try:
        raw = (folder / "manifest.json").read_bytes()
        manifest = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise ModelRejected(f"manifest unreadable: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ModelRejected("manifest unreadable: not a JSON object")
    return manifest, raw


def manifest_version(manifest: Mapping[str, Any], raw: bytes) -> str:
    """A published model's version: when it was made and a digest of its manifest."""
    return f"{manifest.get('created_at', '?')}#{hashlib.sha256(raw).hexdigest()[:8]}"


def feature_spec(features: Mapping[str, Any]) -> FeatureSpec:
    """The feature spec a manifest's ``features`` entry describes (not yet checked)."""
    return FeatureSpec(categories=tuple(features.get("categories") or ()), timezone=features.get("timezone", "Asia/Shanghai"))


def visitor_spec(features: Mapping[str, Any]) -> FeatureSpec:
    """The spec of a model that reads the visitor row, refused unless this service
    builds the same row (feature version, names and their order)."""
    if features.get("version") != FEATURES_VERSION:
        raise ModelRejected(f"built for features {features.get('version')!r}, this service has {FEATURES_VERSION!r}")
    spec = feature_spec(features)
    if list(spec.visitor_names) != features.get("names"):
        raise ModelRejected("feature names or order differ from this service's feature code")
    return spec


def read_booster(folder: Path, name: object, sha256: object, n_features: int) -> lgb.Booster:
    """One model file, checked against its recorded digest and number of features."""
    if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
        raise ModelRejected(f"bad model file name {name!r} in the manifest")
    path = folder / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelRejected(str(exc)) from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ModelRejected(f"{path.name} does not match its recorded sha256")
    try:
        booster = lgb.Booster(model_str=data.decode())
    except (lgb.basic.LightGBMError, UnicodeDecodeError) as exc:
        raise ModelRejected(f"LightGBM cannot load {path.name}: {exc}") from exc
    if booster.num_feature() != n_features:
        raise ModelRejected(f"{path.name} has {booster.num_feature()} features, expected {n_features}")
    return booster


@dataclass
class ModelRegistry:
    """The model set in use, and what happened to the last attempt to replace it.

    ``loader`` turns a published folder into a verified model or raises
    :class:`ModelRejected`; the registry is the same for every kind of model.
    """

    folder: Path
    loader: Callable[[Path], Any] = field(default=lambda folder: load_model_set(folder))
    current: Any = None
    error: str | None = None  # why the last published set was refused (None: it loaded)
    _seen: tuple[float, int] | None = None  # (mtime, size) of the manifest last looked at

    def refresh(self) -> bool:
        """Load the published set if its manifest changed; True when a new set took over."""
        manifest = self.folder / "manifest.json"
        try:
            st = os.stat(manifest)
        except OSError:
            if self.current is None:
                self.error = f"no model published in {self.folder}"
            return False
        stamp = (st.st_mtime, st.st_size)
        if stamp == self._seen:
            return False
        self._seen = stamp
        try:
            loaded = self.loader(self.folder)
        except ModelRejected as exc:
            self.error = str(exc)
            log.error("model set in %s refused (%s); keeping %s", self.folder, exc, self.current.version if self.current else "none")
            return False
        self.current, self.error = loaded, None
        log.info("attribute models %s in use", loaded.version)
        return True

    def status(self) -> dict[str, Any]:
        return {
            "ok": self.current is not None and self.error is None,
            "version": self.current.version if self.current else None,
            "error": self.error,
        }
