"""Training on a Dask cluster through LightGBM's Dask interface.

When the data outgrows one machine, the same targets train across the cluster's
workers: each worker holds a part of the rows, and LightGBM's distributed learners
build one model together. The result is an ordinary LightGBM booster, saved and
served exactly like one trained on one machine.

    python -m training attributes --dask-scheduler tcp://scheduler:8786
"""

from __future__ import annotations

import math
from typing import Any

import lightgbm as lgb
import numpy as np

# Booster settings that make sense only on one machine (threads, determinism of a
# single process); the cluster decides those itself.
_LOCAL_ONLY = ("num_threads", "deterministic", "force_row_wise")


def train_on_dask(
    client: Any, X: np.ndarray, y: np.ndarray, params: dict[str, Any], *, rounds: int, partitions: int | None = None
) -> lgb.Booster:
    """Fit a classifier on ``client``'s cluster; ``y`` holds class indices (binary: 1 = positive)."""
    import dask.array as da

    workers = max(1, len(client.scheduler_info()["workers"]))
    parts = partitions or workers
    chunk = math.ceil(len(y) / parts)
    dX = da.from_array(X, chunks=(chunk, X.shape[1]))
    dy = da.from_array(y, chunks=chunk)
    # the classifier infers objective and classes from the labels
    settings = {k: v for k, v in params.items() if k not in (*_LOCAL_ONLY, "objective", "num_class")}
    model = lgb.DaskLGBMClassifier(client=client, n_estimators=rounds, **settings)
    model.fit(dX, dy)
    return model.to_local().booster_
