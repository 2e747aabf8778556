"""LightGBM boosters flattened into numpy arrays, to score many boosters on a few rows fast.

A page view scores one visitor through the uplift model's conversion boosters, one
per arm. Through ``Booster.predict`` each booster is its own call into LightGBM, and
for one row that call's fixed cost (argument checks, data conversion, the C call) is
nearly all of the time: the seven take about 200 µs. Here every tree of every
booster becomes nodes of one set of arrays, and a batch is scored with a few
whole-array steps: every split of every tree is decided at once for each row, then
each tree is walked from its root by following the chosen child, one array lookup
per level: about 40 µs for the seven on one row.

Deciding every split costs rows × splits, so the forest only pays with few rows and
several boosters: measured on the published conversion boosters (forest / LightGBM),
1 row 39 / 199 µs, 8 rows 239 / 303 µs, 16 rows 1,174 / 425 µs. :data:`FEW_ROWS` is
where callers switch.

A booster whose last features are the same for every row it scores (the order value
model reads the arm's index there) can have them fixed when flattened: its splits on
them are decided once and disappear, so one booster on one row per arm becomes one
booster per arm on the same row, scored with the others in the same call.

The decisions are LightGBM's own (``include/LightGBM/tree.h``), from the booster's
``dump_model()``:

- a numerical split sends the row left when ``value <= threshold``; a missing value
  (NaN with missing type "NaN", or zero with missing type "Zero") goes to the split's
  default side, and NaN counts as 0 when the missing type is not "NaN";
- a categorical split sends the row left when the value, truncated to an integer, is
  in the split's categories; NaN and negative values go right.

Scores equal ``Booster.predict`` (the tests check this on the published models and on
boosters trained to have every kind of split, with NaN, zero and negative values).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import lightgbm as lgb
import numpy as np

FEW_ROWS = 8  # above this many rows, LightGBM's own predict is the faster one (see above)
ROUTE_PATTERNS = 256  # patterns of missing features whose split routes a forest keeps (see Forest._raw_one)
_SIDES = np.array([-np.inf, np.inf])  # what a NaN feature reads instead: -inf goes left, +inf right
ZERO = 1e-35  # LightGBM's kZeroThreshold: |x| at most this counts as zero
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}


class UnsupportedForest(ValueError):
    """A booster this evaluator cannot reproduce exactly (multiclass, linear trees, ...)."""


@dataclass(frozen=True)
class Forest:
    """The trees of one or more boosters as flat arrays; column ``b`` of a score is booster ``b``.

    Nodes are numbered splits first (``0 .. splits - 1``), then leaves (``splits ..
    nodes - 1``); a leaf's next node is itself, so walking ``depth`` levels from every
    root ends on every tree's leaf whatever its depth.
    """

    feature: np.ndarray  # (splits,) the feature a split reads
    threshold: np.ndarray  # (splits,) go left when value <= threshold (NaN on categorical splits)
    default_left: np.ndarray  # (splits,) where a missing value goes
    nan_left: np.ndarray  # (splits,) where NaN goes: the default side, or as 0 when NaN is not the missing value
    zero_missing: np.ndarray  # (splits,) numerical splits whose missing value is zero
    zero_missing_any: bool
    cat_splits: np.ndarray  # (categorical splits,) their split indices
    categories: np.ndarray  # (categorical splits, most category + 2) bool: category k goes left; the last column is all False
    cat_rows: np.ndarray  # (categorical splits,) 0 .. n - 1, to index ``categories`` row by row
    left: np.ndarray  # (splits,) node on the left
    right: np.ndarray  # (splits,) node on the right
    leaf_ids: np.ndarray  # (leaves,) the leaves' node numbers
    value: np.ndarray  # (leaves,) leaf values
    roots: np.ndarray  # (trees,) each tree's first node
    first_tree: np.ndarray  # (boosters,) index of each booster's first tree
    sigmoid: np.ndarray  # (boosters,) bool: the booster's score is a probability (binary or cross-entropy)
    depth: int  # levels of the deepest tree
    n_features: int
    _routes: dict[bytes, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)
    _walks: threading.local = field(default_factory=threading.local, init=False, repr=False, compare=False)

    @property
    def splits(self) -> int:
        return len(self.feature)

    @property
    def nodes(self) -> int:
        return len(self.feature) + len(self.value)

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Sums of leaf values: shape (rows, boosters)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.n_features:
            raise ValueError(f"rows have {X.shape[1]} features, the boosters {self.n_features}")
        n = len(X)
        if n == 0:
            return np.zeros((0, len(self.first_tree)))
        if n == 1:
            return self._raw_one(X[0])[None, :]
        x = X[:, self.feature]  # (rows, splits): each split's feature value
        go_left = self._go_left(x, np.isnan(X).any())
        # the next node of every node (leaves point at themselves), rows laid end to end
        nxt = np.empty((n, self.nodes), dtype=np.intp)
        splits = nxt[:, : self.splits]
        np.multiply(go_left, self._left_minus_right, out=splits)  # as in _raw_one: cheaper than np.where
        splits += self.right
        nxt[:, self.splits :] = self.leaf_ids
        offsets = (np.arange(n) * self.nodes)[:, None]
        flat, node = (nxt + offsets).ravel(), (self.roots + offsets).ravel()
        for _ in range(self.depth):
            node = flat[node]
        leaves = self.value[(node.reshape(n, -1) % self.nodes) - self.splits]
        # a booster's trees are consecutive: one sum per booster's run of trees
        return np.add.reduceat(leaves, self.first_tree, axis=1)

    def _raw_one(self, row: np.ndarray) -> np.ndarray:
        """:meth:`raw` of one row (a page view's case), with fewer and smaller array steps.

        A missing value's side is known per split (``nan_left``), so instead of deciding
        every split and then correcting the NaN ones, each split whose feature is NaN
        reads -inf (goes left) or +inf (goes right) from two slots after the row's
        values. Which slot a split reads depends only on which features are NaN: that
        map is built once per pattern (a handful of patterns in practice: new visitors,
        visitors without orders, ...) and kept, up to :data:`ROUTE_PATTERNS` of them.
        """
        nan = np.isnan(row)
        if nan.any():
            key = nan.tobytes()
            route = self._routes.get(key)
            if route is None:
                route = np.where(nan[self.feature], np.where(self.nan_left, self.n_features, self.n_features + 1), self.feature)
                if len(self._routes) < ROUTE_PATTERNS:
                    self._routes[key] = route
            x = np.concatenate((row, _SIDES)).take(route)
        else:
            x = row.take(self.feature)
        nxt = self._walk_buffer()
        # next = right + go_left · (left - right), written in place: np.where on a bool
        # mask and two index arrays costs 2-3 times as much (about 150 against 60 us on
        # a forest of 29,400 splits)
        splits = nxt[: self.splits]
        np.multiply(self._go_left(x, False), self._left_minus_right, out=splits)
        splits += self.right
        node = self.roots
        for _ in range(self.depth):
            node = nxt[node]
        return np.add.reduceat(self.value[node - self.splits], self.first_tree)

    def _go_left(self, x: np.ndarray, may_be_nan: bool) -> np.ndarray:
        """Each split's decision for split values ``x`` (..., splits)."""
        go_left = x <= self.threshold  # NaN compares False; fixed below
        if self.zero_missing_any:
            go_left = np.where(self.zero_missing & (np.abs(x) <= ZERO), self.default_left, go_left)
        if may_be_nan:
            go_left = np.where(np.isnan(x), self.nan_left, go_left)
        if len(self.cat_splits):
            c = x[..., self.cat_splits]
            top = self.categories.shape[1] - 1  # the padded last column: "in no set"
            # NaN and values at or below -1 go right (as do -inf and +inf, which stand for
            # NaN in _raw_one); truncation toward zero keeps -0.5 as category 0, as
            # LightGBM's int cast does
            k = np.where(np.isnan(c) | (c <= -1.0) | (c >= top), top, np.trunc(np.where(np.isnan(c), 0.0, c))).astype(np.intp)
            go_left[..., self.cat_splits] = self.categories[self.cat_rows, k]
        return go_left

    @cached_property
    def _left_minus_right(self) -> np.ndarray:
        return self.left - self.right

    def _walk_buffer(self) -> np.ndarray:
        """This thread's next-node array for one-row walks, the leaves' part filled in (themselves).

        Kept, not copied per call: a fresh copy of the whole array (about 14,000 nodes for
        the published uplift model) cost as much as deciding the splits; only the splits'
        part is rewritten by a walk, and one per thread keeps concurrent walks apart.
        """
        nxt: np.ndarray | None = getattr(self._walks, "next", None)
        if nxt is None:
            nxt = np.empty(self.nodes, dtype=np.intp)
            nxt[self.splits :] = self.leaf_ids
            self._walks.next = nxt
        return nxt

    def predict(self, X: np.ndarray) -> np.ndarray:
        """What each booster's ``predict`` gives: shape (rows, boosters)."""
        raw = self.raw(X)
        return np.where(self.sigmoid, 1.0 / (1.0 + np.exp(-raw)), raw)


def _objective(dump: dict[str, Any]) -> bool:
    """True for a probability (binary with the standard sigmoid, or cross-entropy on
    labels in [0, 1], which a distilled student learns from), False for a plain regression."""
    objective = str(dump.get("objective", ""))
    name, *params = objective.split()
    if name == "binary":
        if params and params[0] != "sigmoid:1":
            raise UnsupportedForest(f"binary objective with {params[0]!r}")
        return True
    if name in ("cross_entropy", "xentropy"):  # LightGBM's output is sigmoid(raw), as for binary
        return True
    if name in ("regression", "regression_l1", "huber", "fair", "quantile", "mape"):
        return False
    raise UnsupportedForest(f"objective {objective!r}")


def goes_left(node: Mapping[str, Any], value: float) -> bool:
    """Where one split (a ``dump_model()`` node) sends ``value``: the same rules as :meth:`Forest.raw`."""
    missing = str(node.get("missing_type", "None"))
    if node["decision_type"] == "==":
        if math.isnan(value) or value <= -1.0:
            return False
        return int(value) in {int(k) for k in str(node["threshold"]).split("||")}
    if math.isnan(value):
        if missing == "NaN":
            return bool(node.get("default_left", False))
        value = 0.0
    if missing == "Zero" and abs(value) <= ZERO:
        return bool(node.get("default_left", False))
    return value <= float(node["threshold"])


def flatten(boosters: Sequence[lgb.Booster], fixed: Sequence[Mapping[int, float]] | None = None) -> Forest:
    """One :class:`Forest` of every tree of ``boosters``.

    ``fixed[b]``, if given, holds values of some features of booster ``b`` that are the
    same for every row it will score: its splits on them are decided now, once, and
    leave the forest (partial evaluation). They must be the booster's last features,
    and the rest of its features those of the other boosters. This is how one booster
    that takes an arm's index as its last feature becomes one booster per arm, all
    scored on the same row, in the same call as the others.
    """
    if not boosters:
        raise UnsupportedForest("no booster to flatten")
    if fixed is not None and len(fixed) != len(boosters):
        raise ValueError("fixed needs one mapping per booster")
    splits: list[dict[str, Any]] = []
    children: list[tuple[int, int]] = []  # per split: (left, right), a leaf as -(its index + 1)
    leaves: list[float] = []
    roots: list[int] = []
    first_tree: list[int] = []
    sigmoid: list[bool] = []
    n_features = -1
    depth = 0

    def add(node: dict[str, Any], level: int, known: Mapping[int, float]) -> int:
        nonlocal depth
        if "split_feature" not in node:
            if "leaf_const" in node:  # a linear tree's leaf (its dump has no tree-level flag)
                raise UnsupportedForest("linear trees")
            leaves.append(float(node.get("leaf_value", 0.0)))
            depth = max(depth, level)
            return -len(leaves)
        if node["decision_type"] not in ("<=", "=="):
            raise UnsupportedForest(f"split of type {node['decision_type']!r}")
        if (f := int(node["split_feature"])) in known:  # decided once: only the chosen side stays
            return add(node["left_child" if goes_left(node, known[f]) else "right_child"], level, known)
        i = len(splits)
        splits.append(node)
        children.append((0, 0))
        children[i] = (add(node["left_child"], level + 1, known), add(node["right_child"], level + 1, known))
        return i

    for b, booster in enumerate(boosters):
        dump = booster.dump_model()
        if dump.get("num_tree_per_iteration", 1) != 1 or dump.get("average_output"):
            raise UnsupportedForest("only single-output boosted trees")
        known = dict(fixed[b]) if fixed is not None else {}
        n = int(dump["max_feature_idx"]) + 1 - len(known)
        if set(known) != set(range(n, n + len(known))):
            raise UnsupportedForest(f"fixed features {sorted(known)} are not the booster's last ones")
        if n_features not in (-1, n):
            raise UnsupportedForest(f"boosters of {n_features} and {n} features")
        n_features = n
        sigmoid.append(_objective(dump))
        if not dump["tree_info"]:
            raise UnsupportedForest("a booster without trees")
        first_tree.append(len(roots))
        for tree in dump["tree_info"]:
            roots.append(add(tree["tree_structure"], 0, known))

    n_splits = len(splits)

    def node_id(ref: int) -> int:
        return ref if ref >= 0 else n_splits + (-ref - 1)

    categorical = np.array([s["decision_type"] == "==" for s in splits], dtype=bool)
    missing = np.array([_MISSING[str(s.get("missing_type", "None"))] for s in splits], dtype=np.int8)
    default_left = np.array([bool(s.get("default_left", False)) for s in splits], dtype=bool)
    threshold = np.array([float("nan") if c else float(s["threshold"]) for s, c in zip(splits, categorical, strict=True)])
    cat_sets = [[int(k) for k in str(s["threshold"]).split("||")] for s, c in zip(splits, categorical, strict=True) if c]
    table = np.zeros((len(cat_sets), max((max(c) for c in cat_sets), default=0) + 2), dtype=bool)
    for row, c in enumerate(cat_sets):
        table[row, c] = True
    with np.errstate(invalid="ignore"):
        nan_left = np.where(missing == 0, 0.0 <= threshold, default_left)
    return Forest(
        feature=np.array([int(s["split_feature"]) for s in splits], dtype=np.intp),
        threshold=threshold,
        default_left=default_left,
        nan_left=nan_left,
        zero_missing=(missing == 1) & ~categorical,
        zero_missing_any=bool(((missing == 1) & ~categorical).any()),
        cat_splits=np.flatnonzero(categorical),
        categories=table,
        cat_rows=np.arange(len(cat_sets), dtype=np.intp),
        left=np.array([node_id(lt) for lt, _ in children], dtype=np.intp),
        right=np.array([node_id(rt) for _, rt in children], dtype=np.intp),
        leaf_ids=np.arange(n_splits, n_splits + len(leaves), dtype=np.intp),
        value=np.array(leaves),
        roots=np.array([node_id(r) for r in roots], dtype=np.intp),
        first_tree=np.array(first_tree, dtype=np.intp),
        sigmoid=np.array(sigmoid),
        depth=depth,
        n_features=n_features,
    )


def flat_or_none(boosters: Sequence[lgb.Booster], fixed: Sequence[Mapping[int, float]] | None = None) -> Forest | None:
    """:func:`flatten`, or None for boosters it cannot reproduce (their callers use LightGBM's predict)."""
    try:
        return flatten(boosters, fixed)
    except UnsupportedForest:
        return None
