"""Calibration maps: a model's raw score to a probability that means what it says.

Fitted by ``training/`` on held-out data, applied by the service to every prediction;
one definition for both, as for the feature rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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

    # A block with no positives (or no negatives) in the calibration split would map
    # to 0 (or 1): one surprise in production then costs a log loss of ~14. Bounded.
    BOUND = 1e-3

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        # a step function: the value of the first block whose upper end is at or above the score
        idx = np.clip(np.searchsorted(self.x, scores, side="left"), 0, len(self.x) - 1)
        return np.clip(self.y[idx], self.BOUND, 1 - self.BOUND)

    def as_dict(self) -> dict[str, list[float]]:
        return {"x": self.x.tolist(), "y": self.y.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, list[float]]) -> Isotonic:
        return cls(np.array(d["x"], dtype=float), np.array(d["y"], dtype=float))
