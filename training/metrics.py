"""Model quality figures, in plain numpy: AUC, log loss, calibration error, NDCG and recall."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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


@dataclass(frozen=True)
class Isotonic:
    """A monotone map from raw scores to probabilities (pool-adjacent-violators fit).

    Fitted on held-out data, it corrects a model's over- or under-confidence without
    changing its ranking (AUC stays the same up to ties).
    """

    x: np.ndarray  # increasing breakpoints
    y: np.ndarray  # calibrated probability at each breakpoint

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray) -> Isotonic:
        order = np.argsort(scores, kind="mergesort")
        xs, ys = np.asarray(scores, dtype=float)[order], np.asarray(labels, dtype=float)[order]
        # blocks of (sum of labels, count, max x); merge while a block's mean falls below the previous one
        sums: list[float] = []
        counts: list[float] = []
        highs: list[float] = []
        for x, y in zip(xs, ys, strict=True):
            sums.append(y)
            counts.append(1.0)
            highs.append(x)
            while len(sums) > 1 and sums[-2] / counts[-2] > sums[-1] / counts[-1]:
                s, c, h = sums.pop(), counts.pop(), highs.pop()
                sums[-1] += s
                counts[-1] += c
                highs[-1] = h
        return cls(np.array(highs), np.array(sums) / np.array(counts))

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        # a step function: the value of the first block whose upper end is at or above the score
        idx = np.clip(np.searchsorted(self.x, scores, side="left"), 0, len(self.x) - 1)
        return np.clip(self.y[idx], 1e-6, 1 - 1e-6)

    def as_dict(self) -> dict[str, list[float]]:
        return {"x": self.x.tolist(), "y": self.y.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, list[float]]) -> Isotonic:
        return cls(np.array(d["x"], dtype=float), np.array(d["y"], dtype=float))
