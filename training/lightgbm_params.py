"""LightGBM settings every model of this project trains with.

Reproducible (deterministic, fixed seed, row-wise histograms so results do not depend
on a timing-based choice), quiet, and two threads: the machines here have two cores.
"""

from __future__ import annotations

from typing import Any

COMMON: dict[str, Any] = {
    "learning_rate": 0.05,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "verbose": -1,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "seed": 7,
}
