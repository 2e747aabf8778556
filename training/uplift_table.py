"""Uplift models for any randomized table: ``python -m training uplift train``, ``… score`` and ``… evaluate``.

A table (CSV or Parquet, by the file's extension) has one row per unit: the arm it got
(``--treatment``, the control's label ``--control``), the outcome (``--outcome``: 0/1,
true/false, or an amount), the feature columns and, optionally, the logged probability
of the row's arm (``--propensity``). Numeric features go to LightGBM as they are;
any other column is categorical: its values (as text) are numbered in sorted order, the
list is kept in the model's manifest, and scoring maps values the same way (a value
training never saw becomes missing). ``evaluate`` judges the model's policy on another
randomized log off-policy (:mod:`training.uplift_ope`). Problems with the table raise :class:`TableError`
naming the column; the command prints it and exits with status 2.

The model folder holds ``manifest.json`` (kind ``uplift-table``) and one LightGBM text
file per arm, checked against their SHA-256 when scored (:mod:`app.scoring.uplift_model`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from app.scoring.attribute_models import ModelRejected
from app.scoring.uplift_model import ArmBoosters, read_arm_boosters, read_kind_manifest
from training.uplift_demo import arm_entries
from training.uplift_learners import AMOUNT, BINARY, ArmTable, train_learner
from training.uplift_ope import (
    Estimate,
    EvaluationError,
    Log,
    compare,
    greedy,
    propensity_from_shares,
)

KIND = "uplift-table"
MIN_ROWS = 30  # per arm: fewer and a booster learns nothing but noise
TRUE_WORDS = {"1", "true", "t", "yes", "y"}
FALSE_WORDS = {"0", "false", "f", "no", "n"}


class TableError(Exception):
    """A table the command cannot use; the message names the column and what is wrong."""


def read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (OSError, ValueError, ImportError) as exc:
        raise TableError(f"cannot read {path}: {exc}") from exc
    raise TableError(f"{path}: the extension must be .csv or .parquet")


def write_table(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix.lower() in (".parquet", ".pq"):
        df.to_parquet(path, index=False)
    else:
        raise TableError(f"{path}: the extension must be .csv or .parquet")


def _require(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise TableError(f"{what} column {', '.join(map(repr, missing))} not in the table (it has {', '.join(map(str, df.columns))})")


@dataclass(frozen=True)
class Feature:
    name: str
    categories: tuple[str, ...] | None = None  # None: numeric

    def manifest(self) -> dict[str, Any]:
        if self.categories is None:
            return {"name": self.name, "type": "numeric"}
        return {"name": self.name, "type": "categorical", "categories": list(self.categories)}


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


def infer_features(df: pd.DataFrame, names: Sequence[str]) -> tuple[Feature, ...]:
    out = []
    for name in names:
        s = df[name]
        if _is_numeric(s):
            out.append(Feature(name))
        else:
            out.append(Feature(name, tuple(sorted({str(v) for v in s.dropna()}))))
    return tuple(out)


def encode(df: pd.DataFrame, features: Sequence[Feature]) -> np.ndarray:
    """The feature matrix: numbers as floats, categories as their index (unseen or missing: NaN)."""
    _require(df, [f.name for f in features], "feature")
    cols = []
    for f in features:
        s = df[f.name]
        if f.categories is None:
            if not _is_numeric(s):
                raise TableError(f"feature column {f.name!r} was numeric in training but is not here")
            cols.append(s.astype(float).to_numpy())
        else:
            index = {c: float(i) for i, c in enumerate(f.categories)}
            cols.append(np.array([index.get(str(v), np.nan) if pd.notna(v) else np.nan for v in s], dtype=float))
    return np.column_stack(cols) if cols else np.empty((len(df), 0))


def outcome_values(s: pd.Series, name: str, kind: str | None) -> tuple[np.ndarray, str]:
    """The outcome as floats and its kind: binary when every value is 0/1 or true/false, else an amount."""
    if s.isna().any():
        raise TableError(f"outcome column {name!r} has {int(s.isna().sum())} missing values")
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        y = s.astype(float).to_numpy()
    else:
        words = s.astype(str).str.strip().str.lower()
        if words.isin(TRUE_WORDS | FALSE_WORDS).all():
            y = words.isin(TRUE_WORDS).to_numpy().astype(float)
        else:
            bad = s[~words.isin(TRUE_WORDS | FALSE_WORDS)].iloc[0]
            raise TableError(f"outcome column {name!r} is not numeric (e.g. {bad!r}); use 0/1, true/false or amounts")
    detected = BINARY if np.isin(y, (0.0, 1.0)).all() else AMOUNT
    if kind is None:
        return y, detected
    if kind == BINARY and detected != BINARY:
        raise TableError(f"outcome column {name!r} has values other than 0/1, but --outcome-kind binary was given")
    return y, kind


def treatment_labels(df: pd.DataFrame, column: str) -> pd.Series:
    """Each row's arm as text, from a treatment column that exists and has no gaps."""
    _require(df, [column], "treatment")
    if df[column].isna().any():
        raise TableError(f"treatment column {column!r} has missing values")
    return df[column].astype(str)


def propensity_values(df: pd.DataFrame, column: str) -> np.ndarray:
    """The logged probability of each row's arm, checked to be a probability a weight can divide by."""
    _require(df, [column], "propensity")
    if not pd.api.types.is_numeric_dtype(df[column]):
        raise TableError(f"propensity column {column!r} is not numeric")
    p = df[column].astype(float).to_numpy()
    if np.isnan(p).any() or (p <= 0).any() or (p > 1).any():
        raise TableError(f"propensity column {column!r} must be in (0, 1] on every row")
    return p


@dataclass
class TableModel:
    boosters: ArmBoosters
    features: tuple[Feature, ...]
    treatment: str
    control: str
    outcome: str
    learner: str
    summary: dict[str, Any]


def train_table(
    df: pd.DataFrame, *, treatment: str, control: str, outcome: str, features: Sequence[str], learner: str = "x",
    propensity: str | None = None, outcome_kind: str | None = None, min_rows: int = MIN_ROWS, progress: bool = False,
) -> TableModel:
    if not features:
        raise TableError("no feature columns given (--features a,b,c)")
    _require(df, [treatment], "treatment")
    _require(df, [outcome], "outcome")
    _require(df, list(features), "feature")
    for name in (treatment, outcome):
        if name in features:
            raise TableError(f"column {name!r} cannot be both a feature and the {'treatment' if name == treatment else 'outcome'}")
    labels = treatment_labels(df, treatment)
    if control not in set(labels):
        raise TableError(f"control label {control!r} not in treatment column {treatment!r} (it has {', '.join(sorted(set(labels))[:20])})")
    arms = (control, *sorted(set(labels) - {control}))
    if len(arms) < 2:
        raise TableError(f"treatment column {treatment!r} has only the control {control!r}: nothing to compare")
    counts = labels.value_counts()
    small = [f"{a!r} ({int(counts[a])} rows)" for a in arms if counts[a] < min_rows]
    if small:
        raise TableError(f"treatment column {treatment!r}: arm {', '.join(small)} has fewer than {min_rows} rows")
    y, kind = outcome_values(df[outcome], outcome, outcome_kind)
    p = propensity_values(df, propensity) if propensity is not None else None
    feats = infer_features(df, features)
    X = encode(df, feats)
    index = {a: i for i, a in enumerate(arms)}
    arm = labels.map(index).to_numpy()
    cats = tuple(i for i, f in enumerate(feats) if f.categories is not None)
    table = ArmTable(X, arm, y, arms, kind=kind, propensity=p, categorical=cats)
    if progress:
        print(f"training the {learner} learner: {len(df)} rows, {len(feats)} features ({len(cats)} categorical), "
              f"arms {', '.join(f'{a} ({int(counts[a])})' for a in arms)}, {kind} outcome", file=sys.stderr, flush=True)
    boosters = train_learner(learner, table, progress=progress)
    summary = {
        "rows": len(df),
        "outcome_kind": kind,
        "rows_per_arm": {a: int(counts[a]) for a in arms},
        "mean_outcome_per_arm": {a: float(y[arm == i].mean()) for i, a in enumerate(arms)},
    }
    return TableModel(boosters, feats, treatment, control, outcome, learner, summary)


def save_table_model(model: TableModel, out: Path, data_digest: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.lgb.txt"):
        stale.unlink()
    manifest = {
        "kind": KIND,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": {"lightgbm": lgb.__version__, "numpy": np.__version__, "pandas": pd.__version__},
        "features": [f.manifest() for f in model.features],
        "treatment": model.treatment,
        "arms": list(model.boosters.arms[1:]),
        "control": model.control,
        "outcome": {"column": model.outcome, **arm_entries(model.boosters, out, "outcome")},
        "learner": model.learner,
        "data_sha256": data_digest,
        "summary": model.summary,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return out / "manifest.json"


def load_table_model(folder: Path) -> tuple[ArmBoosters, tuple[Feature, ...], dict[str, Any]]:
    manifest, _ = read_kind_manifest(folder, KIND)
    feats = []
    for f in manifest.get("features") or []:
        cats = f.get("categories")
        feats.append(Feature(str(f["name"]), tuple(str(c) for c in cats) if f.get("type") == "categorical" else None))
    arms = (str(manifest.get("control")), *(str(a) for a in manifest.get("arms") or ()))
    boosters = read_arm_boosters(folder, manifest.get("outcome") or {}, arms, len(feats))
    return boosters, tuple(feats), manifest


def score_table(folder: Path, df: pd.DataFrame, ids: Sequence[str] = ()) -> pd.DataFrame:
    """The id columns passed through, then ``uplift_<arm>`` per treatment arm."""
    try:
        boosters, feats, _ = load_table_model(folder)
    except ModelRejected as exc:
        raise TableError(f"model {folder}: {exc}") from exc
    _require(df, list(ids), "id")
    X = encode(df, feats)
    uplift = boosters.uplift(X)
    out = df[list(ids)].copy() if ids else pd.DataFrame(index=df.index)
    for j, arm in enumerate(boosters.arms[1:]):
        out[f"uplift_{arm}"] = uplift[:, j]
    return out.reset_index(drop=True)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_costs(text: str | None, arms: Sequence[str]) -> np.ndarray:
    """``"c10=2.5,c20=5"``: each arm's cost in outcome units (arms not named cost 0)."""
    costs = np.zeros(len(arms))
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in arms:
            raise TableError(f"--cost {part.strip()!r}: expected ARM=NUMBER with ARM one of {', '.join(arms)}")
        try:
            costs[list(arms).index(name)] = float(value)
        except ValueError:
            raise TableError(f"--cost {part.strip()!r}: {value.strip()!r} is not a number") from None
    if not np.isfinite(costs).all():
        raise TableError("--cost: every cost must be a finite number")
    return costs


@dataclass(frozen=True)
class Evaluation:
    estimates: list[Estimate]
    notes: list[str]  # what the reader must know to trust the figures (assumed propensities, training data reused)
    summary: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {**self.summary, "notes": self.notes, "policies": [e.as_dict() for e in self.estimates]}


def evaluate_table(
    folder: Path, df: pd.DataFrame, *, treatment: str, outcome: str, propensity: str | None = None,
    costs: str | None = None, min_gain: float = 0.0, data_digest: str | None = None,
) -> Evaluation:
    """The model's policy (each row's arm of highest predicted uplift net of cost, if above ``min_gain``) judged on a randomized log."""
    try:
        boosters, feats, manifest = load_table_model(folder)
    except ModelRejected as exc:
        raise TableError(f"model {folder}: {exc}") from exc
    arms = boosters.arms
    labels = treatment_labels(df, treatment)
    _require(df, [outcome], "outcome")
    logged = set(labels)
    unknown = sorted(logged - set(arms))
    if unknown:
        raise TableError(f"treatment column {treatment!r} has arms the model does not know: {', '.join(unknown[:10])} (it knows {', '.join(arms)})")
    unlogged = [a for a in arms if a not in logged]
    if unlogged:
        raise TableError(f"arm {', '.join(map(repr, unlogged))} never appears in the log: a policy that gives it cannot be judged here")
    y, kind = outcome_values(df[outcome], outcome, None)
    if kind != boosters.kind:
        raise TableError(f"outcome column {outcome!r} is {kind} but the model was trained on a {boosters.kind} outcome")
    arm = labels.map({a: i for i, a in enumerate(arms)}).to_numpy()
    notes = []
    if propensity is not None:
        p = propensity_values(df, propensity)
    else:
        p = propensity_from_shares(arm, arms)
        notes.append("no --propensity column: each row's propensity is its arm's share of the log, "
                     "which is right only if the log gave every row the same chances")
    if data_digest is not None and data_digest == manifest.get("data_sha256"):
        notes.append("this is the table the model was trained on: its own policy looks better here than it will on new rows")
    cost = parse_costs(costs, arms)
    try:
        log = Log(arms, arm, p, y, cost)
    except EvaluationError as exc:
        raise TableError(str(exc)) from exc
    predicted = boosters.predict(encode(df, feats))
    chosen = greedy(predicted[:, 1:] - predicted[:, :1], cost, min_gain)
    summary = {
        "model": str(folder), "rows": len(df), "outcome": outcome, "outcome_kind": kind,
        "costs": {a: float(c) for a, c in zip(arms, cost, strict=True)}, "min_gain": min_gain,
    }
    return Evaluation(compare(log, chosen, predicted), notes, summary)
