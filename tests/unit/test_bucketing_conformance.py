"""GrowthBook's cross-SDK test vectors for bucketing (hash, getBucketRange,
chooseVariation, inNamespace, getEqualWeights) against app.core.bucketing.

Loaded straight from the project's shared conformance file; a missing file or section
is an error, never a skip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.core.bucketing import (
    bucket_ranges,
    choose_variation,
    equal_weights,
    fnv1a32,
    hash_unit,
    in_namespace,
)

CASES_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "growthbook_cases.json"


def _section(name: str) -> list[list[Any]]:
    if not CASES_FILE.is_file():
        raise FileNotFoundError(f"GrowthBook conformance file is missing: {CASES_FILE}")
    rows: list[list[Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))[name]
    assert rows, f"section {name} is empty"
    return rows


@pytest.mark.parametrize("row", _section("hash"), ids=lambda r: f"{r[0]!r}:{r[1]!r}:v{r[2]}")
def test_hash(row: list[Any]) -> None:
    seed, value, version, expected = row
    got = hash_unit(seed, value, version)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("row", _section("getBucketRange"), ids=lambda r: r[0])
def test_get_bucket_range(row: list[Any]) -> None:
    _, (n, coverage, weights), expected = row
    got = bucket_ranges(n, coverage, weights)
    assert len(got) == len(expected)
    for (s, e), (xs, xe) in zip(got, expected, strict=True):
        assert s == pytest.approx(xs, abs=1e-6) and e == pytest.approx(xe, abs=1e-6)


@pytest.mark.parametrize("row", _section("chooseVariation"), ids=lambda r: r[0])
def test_choose_variation(row: list[Any]) -> None:
    _, n, ranges, expected = row
    assert choose_variation(n, ranges) == expected


@pytest.mark.parametrize("row", _section("inNamespace"), ids=lambda r: r[0])
def test_in_namespace(row: list[Any]) -> None:
    _, visitor, (namespace, start, end), expected = row
    assert in_namespace(visitor, namespace, start, end) is expected


@pytest.mark.parametrize("row", _section("getEqualWeights"), ids=lambda r: str(r[0]))
def test_get_equal_weights(row: list[Any]) -> None:
    n, expected = row
    assert equal_weights(n) == pytest.approx(expected, abs=1e-8)


def test_fnv1a_known_values() -> None:
    # the FNV-1a 32-bit reference values (offset basis for "", and the classic "a")
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C


def test_assignment_is_spread_evenly_and_stable() -> None:
    """Not a vector from the file: 20,000 visitors split 50/50 within a percent, and the
    same visitor lands in the same variant every time."""
    ranges = bucket_ranges(2, 1.0)
    picks = [choose_variation(hash_unit("exp-1", f"v{i}") or 0.0, ranges) for i in range(20000)]
    assert abs(picks.count(0) / len(picks) - 0.5) < 0.01
    assert picks == [choose_variation(hash_unit("exp-1", f"v{i}") or 0.0, ranges) for i in range(20000)]
