"""The flattened forest scores exactly as LightGBM's own predict, split kind by split kind."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from app.scoring.forest import FEW_ROWS, ROUTE_PATTERNS, UnsupportedForest, flat_or_none, flatten
from app.scoring.uplift_model import load_uplift

UPLIFT = Path(__file__).resolve().parents[2] / "models" / "uplift"
BASE = {"verbose": -1, "num_threads": 1, "deterministic": True, "seed": 3, "min_data_in_leaf": 5, "num_leaves": 15}


def _rows(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """Values of every awkward kind: NaN, exact zeros, tiny and negative numbers."""
    X = rng.normal(size=(n, width)) * 3
    X[rng.random(X.shape) < 0.1] = np.nan
    X[rng.random(X.shape) < 0.1] = 0.0
    X[rng.random(X.shape) < 0.02] = 1e-40
    return X


def _categories(rng: np.random.Generator, n: int) -> np.ndarray:
    c = rng.integers(0, 12, n).astype(float)
    c[rng.random(n) < 0.05] = np.nan
    c[rng.random(n) < 0.03] = -1.0
    c[rng.random(n) < 0.03] = -0.5  # LightGBM's int cast makes this category 0
    c[rng.random(n) < 0.03] = 3.7  # and this one 3
    c[rng.random(n) < 0.03] = 40.0  # a category no split names
    return c


def _trained(params: dict[str, object], *, categorical: bool, rounds: int = 25) -> tuple[lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(7)
    X = _rows(rng, 3000, 4)
    if categorical:
        X = np.column_stack([X, _categories(rng, 3000)])
    signal = np.nan_to_num(X[:, 0]) - 0.5 * np.isnan(X[:, 1]) + (X[:, -1] % 3 == 1 if categorical else 0)
    noisy = signal + rng.normal(size=3000)
    if params.get("objective") == "binary":
        y = (noisy > 0).astype(float)
    elif params.get("objective") == "cross_entropy":
        y = 1.0 / (1.0 + np.exp(-noisy))  # soft labels in [0, 1], as a distilled student gets
    else:
        y = noisy
    cats = [X.shape[1] - 1] if categorical else "auto"
    return lgb.train({**BASE, **params}, lgb.Dataset(X, y, categorical_feature=cats), rounds), X


@pytest.mark.parametrize(
    ("params", "categorical"),
    [
        ({"objective": "binary"}, False),
        ({"objective": "regression"}, False),
        ({"objective": "regression", "zero_as_missing": True}, False),
        ({"objective": "regression", "use_missing": False}, False),
        ({"objective": "binary"}, True),
        ({"objective": "regression", "max_cat_to_onehot": 32}, True),
        ({"objective": "cross_entropy"}, False),
    ],
    ids=["binary", "regression", "zero-as-missing", "no-missing", "categorical", "one-hot-categorical", "cross-entropy"],
)
def test_scores_equal_lightgbm(params: dict[str, object], categorical: bool) -> None:
    booster, X = _trained(params, categorical=categorical)
    forest = flatten([booster])
    rows = np.vstack([X[:500], _rows(np.random.default_rng(9), 200, X.shape[1])])
    if categorical:
        rows[500:, -1] = _categories(np.random.default_rng(10), 200)
    expected = booster.predict(rows)
    np.testing.assert_allclose(forest.predict(rows)[:, 0], expected, rtol=1e-12, atol=1e-12)
    # one row at a time: a page view's path, with missing values routed by their pattern
    one_by_one = np.array([forest.predict(row[None, :])[0, 0] for row in rows])
    np.testing.assert_allclose(one_by_one, expected, rtol=1e-12, atol=1e-12)
    assert forest._routes  # rows with NaN took the routed path


def test_one_row_routes_are_kept_for_a_bounded_number_of_missing_patterns() -> None:
    """A caller sending every pattern of missing values cannot grow the cache without bound."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(2000, 12))
    y = X[:, 0] + X[:, 5] - X[:, 11] + rng.normal(size=2000)
    X[rng.random(X.shape) < 0.5] = np.nan
    booster = lgb.train({**BASE, "objective": "regression"}, lgb.Dataset(X, y), 30)
    forest = flatten([booster])
    rows = X[:900]
    assert len({r.tobytes() for r in np.isnan(rows)}) > ROUTE_PATTERNS  # more patterns than are kept
    one_by_one = np.array([forest.predict(row[None, :])[0, 0] for row in rows])
    np.testing.assert_allclose(one_by_one, booster.predict(rows), rtol=1e-12, atol=1e-12)
    assert len(forest._routes) == ROUTE_PATTERNS


def test_one_row_walks_in_several_threads_at_once_score_as_lightgbm() -> None:
    """Each thread walks with its own kept next-node array: walks running at the same
    time (attribute models in worker threads, the uplift model on the loop) do not
    overwrite each other's decided splits."""
    booster, X = _trained({"objective": "regression"}, categorical=False, rounds=60)
    forest = flatten([booster])
    rows = X[:400]
    expected = booster.predict(rows)
    start = threading.Barrier(4)

    def walk(offset: int) -> np.ndarray:
        start.wait()
        order = np.roll(np.arange(len(rows)), offset * 97)  # each thread in its own order
        out = np.empty(len(rows))
        for _ in range(5):
            for i in order:
                out[i] = forest.predict(rows[i][None, :])[0, 0]
        return out

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(walk, range(4)))
    for got in results:
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert forest._walk_buffer() is forest._walk_buffer()  # kept for this thread, not copied per walk


def test_split_kinds_really_occur() -> None:
    """The parity above means something only if the boosters have those splits."""
    zero, _ = _trained({"objective": "regression", "zero_as_missing": True}, categorical=False)
    assert flatten([zero]).zero_missing.any()
    cat, _ = _trained({"objective": "binary"}, categorical=True)
    assert len(flatten([cat]).cat_splits) > 0
    nan, _ = _trained({"objective": "binary"}, categorical=False)
    text = nan.model_to_string()
    assert "missing_type" not in text  # (the text format packs it in decision_type: bits 2-3 = 2 for NaN)
    kinds = {int(t) >> 2 & 3 for line in text.splitlines() if line.startswith("decision_type=") for t in line[14:].split()}
    assert 2 in kinds  # some split sends NaN to its default side


def test_several_boosters_one_column_each() -> None:
    a, X = _trained({"objective": "binary"}, categorical=False)
    b, _ = _trained({"objective": "regression"}, categorical=False, rounds=7)
    single, _ = _trained({"objective": "regression", "num_leaves": 2, "min_data_in_leaf": 10_000}, categorical=False, rounds=1)
    forest = flatten([a, b, single])
    got = forest.predict(X[:50])
    for j, booster in enumerate((a, b, single)):
        np.testing.assert_allclose(got[:, j], booster.predict(X[:50]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("params", "categorical"),
    [
        ({"objective": "regression"}, False),
        ({"objective": "regression", "zero_as_missing": True}, False),
        ({"objective": "binary"}, True),
    ],
    ids=["numerical", "zero-as-missing", "categorical"],
)
@pytest.mark.parametrize("value", [0.0, 1.0, 2.0, 3.7, -0.5, -1.0, 40.0, float("nan"), 1e-40])
def test_fixed_last_feature_scores_as_lightgbm_with_that_value(params: dict[str, object], categorical: bool, value: float) -> None:
    booster, X = _trained(params, categorical=categorical)
    last = X.shape[1] - 1
    narrow = X[:200, :last]  # a booster with its last feature fixed reads rows without it
    fixed = flatten([booster], [{last: value}])
    assert fixed.n_features == last
    assert fixed.splits < flatten([booster]).splits  # its splits on the fixed feature are decided and gone
    expected = booster.predict(np.column_stack([narrow, np.full(len(narrow), value)]))
    np.testing.assert_allclose(fixed.predict(narrow)[:, 0], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose([fixed.predict(row[None, :])[0, 0] for row in narrow[:60]], expected[:60], rtol=1e-12, atol=1e-12)
    with pytest.raises(UnsupportedForest, match="features"):
        flatten([booster, booster], [{}, {last: value}])  # one reads a feature more than the other


def test_published_uplift_model_scores_as_lightgbm() -> None:
    model = load_uplift(UPLIFT)
    rng = np.random.default_rng(1)
    X = np.abs(_rows(rng, FEW_ROWS, len(model.spec.visitor_names))) * 50
    assert model.conversion.forest is not None
    assert model.forest is not None
    fast = model.predict(X)  # FEW_ROWS rows: the whole model's flattened path
    slow_conversion = np.column_stack([b.predict(X) for b in model.conversion.boosters])
    adds = np.asarray(model.conversion.adds_control)
    slow_conversion[:, adds] += slow_conversion[:, :1]
    np.clip(slow_conversion, 0, 1, out=slow_conversion)
    for j, arm in enumerate((model.control, *model.arms)):
        np.testing.assert_allclose(fast[arm].conversion, slow_conversion[:, j], rtol=1e-12, atol=1e-12)
        stacked = np.column_stack([X, np.full(len(X), float(j))])
        np.testing.assert_allclose(fast[arm].order_value, np.maximum(model.order_value.predict(stacked), 0), rtol=1e-12, atol=1e-9)
    X[0, ::2] = np.nan  # a visitor without history has missing features
    for row in X:
        one, many = model.predict(row[None, :]), model.predict(np.vstack([row, row]))
        for arm in one:
            np.testing.assert_allclose(one[arm].conversion, many[arm].conversion[:1], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(one[arm].order_value, many[arm].order_value[:1], rtol=1e-12, atol=1e-12)


def test_one_visitor_floats_are_the_batch_predictions() -> None:
    """predict_one (the page view's call) gives predict's numbers, through the forest or without it."""
    model = load_uplift(UPLIFT)
    n = len(model.spec.visitor_names)
    rng = np.random.default_rng(4)
    X = np.abs(_rows(rng, 6, n)) * 50
    X[0, :] = np.nan  # a visitor with nothing known
    rows = rng.normal(size=(400, n + 1))
    linear = lgb.train({**BASE, "objective": "regression", "linear_tree": True}, lgb.Dataset(rows, rows[:, 0] * 100 + 200), 3)
    unflattened = replace(model, order_value=linear)  # linear trees: no forest, LightGBM's own predict
    assert model.forest is not None and unflattened.forest is None
    for m in (model, unflattened):
        names = (m.control, *m.arms)
        for row in X:
            conversion, value = m.predict_one(row)
            batch = m.predict(np.vstack([row, row]))
            assert all(isinstance(v, float) for v in (*conversion, *value))
            np.testing.assert_allclose(conversion, [batch[a].conversion[0] for a in names], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(value, [batch[a].order_value[0] for a in names], rtol=1e-12, atol=1e-9)


def test_no_rows_give_no_scores_as_lightgbm_does() -> None:
    booster, X = _trained({"objective": "binary"}, categorical=False)
    assert flatten([booster, booster]).predict(np.empty((0, X.shape[1]))).shape == (0, 2)
    assert booster.predict(np.empty((0, X.shape[1]))).shape == (0,)
    model = load_uplift(UPLIFT)
    empty = model.predict(np.empty((0, len(model.spec.visitor_names))))
    assert all(p.conversion.shape == p.order_value.shape == (0,) for p in empty.values())


def test_refuses_what_it_cannot_reproduce() -> None:
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(300, 3)), rng.integers(0, 3, 300)
    multi = lgb.train({**BASE, "objective": "multiclass", "num_class": 3}, lgb.Dataset(X, y), 3)
    with pytest.raises(UnsupportedForest, match="single-output"):
        flatten([multi])
    assert flat_or_none([multi]) is None
    with pytest.raises(UnsupportedForest, match="no booster"):
        flatten([])
    binary = lgb.train({**BASE, "objective": "binary"}, lgb.Dataset(X, (y > 0).astype(float)), 3)
    wider = lgb.train({**BASE, "objective": "binary"}, lgb.Dataset(np.column_stack([X, X]), (y > 0).astype(float)), 3)
    with pytest.raises(UnsupportedForest, match="features"):
        flatten([binary, wider])
    with pytest.raises(ValueError, match="features"):
        flatten([binary]).predict(np.zeros((1, 5)))
    with pytest.raises(UnsupportedForest, match="last ones"):
        flatten([binary], [{0: 1.0}])  # only trailing features may be fixed
    with pytest.raises(ValueError, match="one mapping per booster"):
        flatten([binary, binary], [{}])
    linear = lgb.train({**BASE, "objective": "regression", "linear_tree": True}, lgb.Dataset(X, X[:, 0] * 10 + y), 3)
    with pytest.raises(UnsupportedForest, match="linear"):  # a leaf's value depends on the row there
        flatten([linear])
