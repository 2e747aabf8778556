"""Model quality figures, in plain numpy: AUC, log loss, calibration error, NDCG and recall."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.core.calibration import Isotonic

__all__ = ["Isotonic", "auc", "calibration_curve", "expected_calibration_error", "log_loss", "multiclass_log_loss", "ndcg_at_k", "recall_at_k"]

EPS = 1e-12


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve: the chance a random positive outscores a random negative (ties count half)."""
    y = np.asarray(y, dtype=bool)
    p = np.asarray(p, dtype=float)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sorted_p = p[order]
    # average ranks over ties
    i = 0
    while i < len(p):
        j = i
        while j + 1 < len(p) and sorted_p[j + 1] == sorted_p[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood of binary labels."""
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def multiclass_log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log-likelihood of class indices under rows of class probabilities."""
    picked = np.clip(proba[np.arange(len(y)), np.asarray(y, dtype=int)], EPS, 1.0)
    return float(-np.log(picked).mean())


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Weighted mean gap between predicted probability and observed rate, over equal-width bins."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def calibration_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean predicted, observed rate, count) per non-empty bin, for reliability plots."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    return [
        (float(p[which == b].mean()), float(np.asarray(y, dtype=float)[which == b].mean()), int((which == b).sum()))
        for b in range(bins)
        if (which == b).any()
    ]


def ndcg_at_k(relevance_in_ranked_order: Sequence[float], k: int = 10) -> float:
    """NDCG@k of one ranked list (relevance of each item in the order shown); NaN without relevant items."""
    rel = np.asarray(relevance_in_ranked_order, dtype=float)
    if not (rel > 0).any():
        return float("nan")
    discounts = 1 / np.log2(np.arange(2, k + 2))
    gains = (2**rel[:k] - 1) @ discounts[: min(k, len(rel))]
    ideal = (2 ** np.sort(rel)[::-1][:k] - 1) @ discounts[: min(k, len(rel))]
    return float(gains / ideal)


def recall_at_k(relevance_in_ranked_order: Sequence[float], k: int = 10) -> float:
    """Share of the relevant items that are in the top k; NaN without relevant items."""
    rel = np.asarray(relevance_in_ranked_order, dtype=float) > 0
    if not rel.any():
        return float("nan")
    return float(rel[:k].sum() / rel.sum())
