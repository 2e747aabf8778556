"""GrowthBook's cross-SDK test vectors (section evalCondition) against our crowd rules.

Every row must pass through all three ways of evaluating a rule: evaluate(), the
compiled predicate, and explain(). The file is shared by the project; a missing file
is an error, never a skip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.core.conditions import compile_condition, evaluate, explain

CASES_FILE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "growthbook_cases.json"
)


def _load_rows() -> list[list[Any]]:
    if not CASES_FILE.is_file():
        raise FileNotFoundError(f"GrowthBook conformance file is missing: {CASES_FILE}")
    rows: list[list[Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))["evalCondition"]
    return rows


ROWS = _load_rows()


def test_section_is_present_and_well_formed() -> None:
    assert len(ROWS) > 200
    assert all(len(row) in (4, 5) for row in ROWS)
    assert any(len(row) == 5 for row in ROWS), "the savedGroups rows must be there too"


@pytest.mark.parametrize("row", ROWS, ids=[row[0] for row in ROWS])
def test_eval_condition(row: list[Any]) -> None:
    name, condition, attributes, expected = row[:4]
    groups = row[4] if len(row) == 5 else None

    assert evaluate(condition, attributes, groups) is expected, name
    assert compile_condition(condition, groups)(attributes) is expected, name
    assert explain(condition, attributes, groups).matches is expected, name
