"""Training on a Dask cluster through LightGBM's Dask interface.

When the data outgrows one machine, the same targets train across the cluster's
workers: each worker holds a part of the rows, and LightGBM's distributed learners
build one model together. The result is an ordinary LightGBM booster, saved and
served exactly like one trained on one machine.

    python -m training attributes --dask-scheduler tcp://scheduler:8786
    python -m training ranker --dask-scheduler tcp://scheduler:8786
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


def rank_on_dask(
    client: Any,
    X: np.ndarray,
    y: np.ndarray,
    groups: list[int],
    init_score: np.ndarray,
    params: dict[str, Any],
    *,
    rounds: int,
    partitions: int | None = None,
) -> lgb.Booster:
    """Fit a lambdarank model on ``client``'s cluster.

    A list must not be split between workers, so the partitions end at list boundaries
    (about the same number of rows each). LightGBM's Dask interface takes no
    ``position``; the position bias goes in as ``init_score`` instead (a fixed offset per
    shown position, see training.ranker.position_offsets), which the trees then need
    not learn, and which a served model, scored without it, leaves out.
    """
    import dask.array as da

    workers = max(1, len(client.scheduler_info()["workers"]))
    parts = max(1, min(partitions or workers, len(groups)))
    ends = np.cumsum(groups)  # the row after each list
    # partition edges, in lists: where the k-th share of the rows is passed
    inner = {int(np.searchsorted(ends, ends[-1] * k / parts)) + 1 for k in range(1, parts)} - {len(groups)}
    edges = [0, *sorted(inner), len(groups)]
    group_chunks = tuple(np.diff(edges).tolist())
    row_chunks = tuple(np.diff([0, *(int(ends[e - 1]) for e in edges[1:])]).tolist())
    dX = da.from_array(X, chunks=(row_chunks, X.shape[1]))
    dy = da.from_array(y, chunks=(row_chunks,))
    dinit = da.from_array(init_score, chunks=(row_chunks,))
    dgroup = da.from_array(np.asarray(groups), chunks=(group_chunks,))
    settings = {k: v for k, v in params.items() if k not in (*_LOCAL_ONLY, "objective")}
    model = lgb.DaskLGBMRanker(client=client, n_estimators=rounds, objective="lambdarank", **settings)
    model.fit(dX, dy, group=dgroup, init_score=dinit)
    return model.to_local().booster_
