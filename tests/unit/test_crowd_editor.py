"""The crowd editor's answers: problems with paths, a rule test, sizes and overlaps."""

from __future__ import annotations

from app.core.crowd_editor import condition_problems, preview, rule_test, sizes_and_overlaps
from app.core.crowds import Crowd

ATTRS = [
    {"gender": "female", "monetary": 800},
    {"gender": "female", "monetary": 50},
    {"gender": "male", "monetary": 900},
    {"gender": "male"},
]
WOMEN = Crowd.compile("women", {"name": "Women", "condition": {"gender": "female"}})
BIG = Crowd.compile("big", {"name": "Big spenders", "condition": {"monetary": {"$gte": 500}}})
NOBODY = Crowd.compile("nobody", {"name": "Nobody", "condition": {"gender": "other"}})


def test_problems_carry_the_path_of_the_field_in_the_body() -> None:
    problems = condition_problems({"age": {"$gtt": 3}})
    assert [(p.path, p.code) for p in problems] == [("$.condition.age.$gtt", "unknown_operator")]
    assert condition_problems({"age": {"$gt": 3}}) == []


def test_rule_test_says_why_and_what_is_missing() -> None:
    out = rule_test({"gender": "female", "city": "上海"}, {"gender": "female"})
    assert out["matches"] is False
    assert out["missing_attributes"] == ["city"]
    assert [r["passed"] for r in out["reasons"] if r["path"] == "$.gender"] == [True]


def test_preview_counts_matches_and_overlaps() -> None:
    out = preview({"gender": "female"}, [BIG], ATTRS)
    assert (out["evaluated"], out["matches"], out["share"]) == (4, 2, 0.5)
    (big,) = out["overlaps"]
    assert (big["crowd_matches"], big["both"], big["share_of_preview"]) == (2, 1, 0.5)
    assert big["jaccard"] == round(1 / 3, 4)


def test_sizes_and_pairwise_overlaps() -> None:
    s = sizes_and_overlaps([WOMEN, BIG, NOBODY], ATTRS)
    assert s.sizes == (2, 2, 0)
    assert s.both[0][1] == s.both[1][0] == 1
    assert s.share(0) == 0.5 and s.jaccard(0, 1) == 1 / 3 and s.jaccard(0, 2) == 0.0
    assert s.top_overlaps(0) == [("big", 1, 0.5)]
    assert s.top_overlaps(2) == []


def test_sizes_of_no_crowds_or_no_visitors() -> None:
    assert sizes_and_overlaps([], ATTRS).sizes == ()
    empty = sizes_and_overlaps([WOMEN], [])
    assert empty.sizes == (0,) and empty.share(0) == 0.0
