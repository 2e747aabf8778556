"""The published uplift model on one visitor row: every right and the control in one call.

    python bench/uplift_bench.py [--n 3000]

Builds one visitor row with the service's own code, then times ``UpliftModel.predict_one``,
the page view's call (it scores every booster flattened into one set of numpy arrays,
app/scoring/forest.py, the order value's once per arm), ``UpliftModel.predict`` on the
same row (the batch API: arrays and an object per arm), and, as the floor, the same
model through LightGBM's own predict: 8 calls (the control's conversion, one effect model a right, the order value
of all arms at once), most of each LightGBM's per-call overhead, not the trees.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.features import visitor_row
from app.core.profile import Behaviour, Context
from app.scoring.uplift_model import load_uplift

FOLDER = Path(__file__).resolve().parents[1] / "models" / "uplift"


def timed(f: object, n: int) -> np.ndarray:
    out = np.empty(n)
    for i in range(n):
        t = time.perf_counter()
        f()  # type: ignore[operator]
        out[i] = time.perf_counter() - t
    return out * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=3000, help="timed calls")
    args = p.parse_args()
    model = load_uplift(FOLDER)
    b = Behaviour(first_seen=1_767_196_800.0, last_seen=1_767_800_000.0, views=12, clicks=5, orders=2, spend_cents=52_000,
                  viewed_categories={"beauty": 8, "women": 4})
    x = visitor_row(model.spec, b, Context(ts=1_768_000_000.0, device="mobile", channel="social"))[None, :]
    timed(lambda: model.predict_one(x[0]), 200)  # warm up
    full = timed(lambda: model.predict_one(x[0]), args.n)
    batch = timed(lambda: model.predict(x), args.n)
    arms = 1 + len(model.arms)
    stacked = np.column_stack([np.tile(x, (arms, 1)), np.arange(arms, dtype=float)])

    def through_lightgbm() -> None:
        for b in model.conversion.boosters:
            b.predict(x, num_threads=1)
        model.order_value.predict(stacked, num_threads=1)

    floor = timed(through_lightgbm, args.n)
    bare = timed(lambda: model.conversion.boosters[0].predict(x, num_threads=1), args.n)
    p50, f50 = np.percentile(full, 50), np.percentile(floor, 50)
    print(f"UpliftModel.predict_one, one row, {arms} arms: p50 {p50:.0f} us, p99 {np.percentile(full, 99):.0f} us")
    print(f"UpliftModel.predict on the same row: p50 {np.percentile(batch, 50):.0f} us")
    print(f"the same boosters through LightGBM's predict ({arms + 1} calls): p50 {f50:.0f} us, p99 {np.percentile(floor, 99):.0f} us; "
          f"ratio {p50 / f50:.2f}")
    print(f"one bare LightGBM predict of one row: p50 {np.percentile(bare, 50):.0f} us")


if __name__ == "__main__":
    main()
