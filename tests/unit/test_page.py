"""Choosing a block per slot, and assembling a page decision."""

from __future__ import annotations

from app.core.catalog import Catalog, Product
from app.core.crowds import Crowd, score_crowds
from app.core.decision import CrowdScore
from app.core.page import Block, Page, ProductInputs, Slot, Variant, choose_variant, decide_page

NOW = 1_763_800_000.0


def cs(cid: str, matched: bool, priority: int, score: float = 1.0) -> CrowdScore:
    return CrowdScore(cid, score if matched else 0.0, "rule", matched, priority, "")


SLOT = Slot("hero", "default", (Variant("low", "b_low"), Variant("high", "b_high"), Variant("high2", "b_high2")))


def test_highest_priority_matched_crowd_wins() -> None:
    scores = {"low": cs("low", True, 1), "high": cs("high", True, 9), "high2": cs("high2", False, 99)}
    block, crowd, reason = choose_variant(SLOT, scores)
    assert (block, crowd) == ("b_high", "high")
    assert "priority 9" in reason


def test_equal_priority_higher_score_then_listed_first() -> None:
    scores = {"high": cs("high", True, 5, 0.7), "high2": cs("high2", True, 5, 0.9)}
    assert choose_variant(SLOT, scores)[0] == "b_high2"
    scores = {"high": cs("high", True, 5), "high2": cs("high2", True, 5)}
    assert choose_variant(SLOT, scores)[0] == "b_high"


def test_default_when_no_crowd_matches() -> None:
    block, crowd, reason = choose_variant(SLOT, {"low": cs("low", False, 1)})
    assert (block, crowd) == ("default", None) and reason.startswith("default")


def test_crowd_scores_sorted_and_unknowns_named() -> None:
    crowds = [
        Crowd.compile("women", {"name": "W", "condition": {"gender": "female"}, "priority": 5}),
        Crowd.compile("big", {"name": "B", "condition": {"monetary": {"$gte": 100}}, "priority": 9}),
    ]
    out = score_crowds(crowds, {"monetary": 150})
    assert [(s.id, s.matched, s.source) for s in out] == [("big", True, "rule"), ("women", False, "rule")]
    assert "unknown: gender" in out[1].reason


def test_decide_page_with_products_and_missing_block_fallback() -> None:
    page = Page("home", (Slot("hero", "hero_default", (Variant("vip", "hero_gone"),)), Slot("grid", "grid")))
    blocks = {
        "hero_default": Block("hero_default", "hero_banner", {"title": "hi"}),
        "grid": Block("grid", "product_grid", {"title": "t", "count": 2, "pool": {"categories": ["a"]}}),
    }
    catalog = Catalog.build([Product("p1", "x", "a", 1, 1), Product("p2", "y", "a", 1, 1), Product("p3", "z", "b", 1, 1)])
    d = decide_page(
        render_id="r",
        shop_id="s",
        visitor_id="v",
        page=page,
        blocks=blocks,
        crowd_scores=[cs("vip", True, 1)],
        products=ProductInputs(catalog, {"p2": 3.0}, NOW, {}),
        attributes={},
    )
    assert [s.block_id for s in d.slots] == ["hero_default", "grid"]
    assert [p.id for p in d.slots[1].products] == ["p2", "p1"]
    assert [f.step for f in d.fallbacks] == ["block"]
    assert "hero_gone" in d.fallbacks[0].reason


def test_tests_that_missing_attributes_pass_are_flagged() -> None:
    from app.core.crowds import missing_matches

    assert [p for p, _ in missing_matches({"monetary_top_pct": {"$lte": 10}})] == ["$.monetary_top_pct.$lte"]
    assert missing_matches({"monetary_top_pct": {"$lte": 10, "$exists": True}}) == []
    assert missing_matches({"age": {"$gte": 18}}) == []  # a missing age (0) fails $gte 18
    assert [p for p, _ in missing_matches({"$or": [{"a": 1}, {"tier": {"$ne": "gold"}}]})] == ["$.$or[1].tier.$ne"]
    assert missing_matches({"x": {"$lt": -5}}) == []  # 0 is not below -5
    # and it is true: the rule language lets a visitor without the attribute through
    from app.core.conditions import evaluate

    assert evaluate({"monetary_top_pct": {"$lte": 10}}, {}) is True
    assert evaluate({"monetary_top_pct": {"$lte": 10, "$exists": True}}, {}) is False
