"""Experiment assignment: sticky, reasoned, namespaces exclusive, holdout first."""

from __future__ import annotations

from collections import Counter

import pytest

from app.core.assignment import (
    Assignment,
    ExperimentSpec,
    Namespace,
    assign,
    assign_all,
    in_holdout,
)

VISITORS = [f"v{i}" for i in range(20000)]


def test_assignment_is_sticky_and_follows_the_weights() -> None:
    exp = ExperimentSpec("hero-test", ("control", "banner"), weights=(0.3, 0.7))
    first = [assign(exp, v, ()) for v in VISITORS]
    assert first == [assign(exp, v, ()) for v in VISITORS]  # the same on every page view
    shares = Counter(a.variant for a in first)
    assert shares["banner"] / len(VISITORS) == pytest.approx(0.7, abs=0.015)
    assert all(a.reason == "assigned" for a in first)


def test_a_new_seed_reshuffles_and_coverage_only_adds_visitors() -> None:
    a = ExperimentSpec("e", ("c", "t"))
    b = ExperimentSpec("e", ("c", "t"), seed="e-phase-2")
    moved = sum(assign(a, v, ()).variant != assign(b, v, ()).variant for v in VISITORS)
    assert 0.4 < moved / len(VISITORS) < 0.6  # independent of the first split
    half = ExperimentSpec("e", ("c", "t"), coverage=0.5)
    in_half = {v: assign(half, v, ()) for v in VISITORS}
    assert sum(x.variant is not None for x in in_half.values()) / len(VISITORS) == pytest.approx(0.5, abs=0.015)
    # everyone in at half coverage keeps their variant at full coverage
    assert all(assign(a, v, ()).variant == x.variant for v, x in in_half.items() if x.variant is not None)
    assert {x.reason for x in in_half.values()} == {"assigned", "outside_coverage"}


def test_experiments_in_one_namespace_never_share_a_visitor() -> None:
    left = ExperimentSpec("left", ("c", "t"), namespace=Namespace("home-hero", 0.0, 0.5))
    right = ExperimentSpec("right", ("c", "t"), namespace=Namespace("home-hero", 0.5, 1.0))
    both = [(assign(left, v, ()), assign(right, v, ())) for v in VISITORS]
    assert not any(a.variant and b.variant for a, b in both)
    assert sum(bool(a.variant) for a, _ in both) / len(VISITORS) == pytest.approx(0.5, abs=0.02)
    assert sum(bool(a.variant or b.variant) for a, b in both) == len(VISITORS)  # the namespace is fully used


def test_crowd_targeting_and_status() -> None:
    exp = ExperimentSpec("vip", ("c", "t"), crowd="gold_plus")
    assert assign(exp, "v1", {"new_visitors"}) == Assignment("vip", None, False, "not_in_crowd")
    assert assign(exp, "v1", {"gold_plus"}).reason == "assigned"
    stopped = ExperimentSpec("vip", ("c", "t"), running=False)
    assert assign(stopped, "v1", {"gold_plus"}).reason == "not_running"


def test_the_holdout_sees_no_experiment() -> None:
    exps = [ExperimentSpec("a", ("c", "t")), ExperimentSpec("b", ("c", "t", "u"))]
    held = [v for v in VISITORS if in_holdout("shop1", v, 0.05)]
    assert len(held) / len(VISITORS) == pytest.approx(0.05, abs=0.006)
    flag, results = assign_all("shop1", exps, held[0], (), 0.05)
    assert flag and all(r.variant is None and r.in_holdout and r.reason == "holdout" for r in results)
    free = next(v for v in VISITORS if v not in set(held))
    flag, results = assign_all("shop1", exps, free, (), 0.05)
    assert not flag and all(r.variant is not None for r in results)
    assert not any(in_holdout("shop1", v, 0.0) for v in VISITORS[:1000])
    # another shop holds out other visitors
    assert set(held) != {v for v in VISITORS if in_holdout("shop2", v, 0.05)}
    assert results[0].as_dict() == {"id": "a", "variant": results[0].variant, "in_holdout": False, "reason": "assigned"}
