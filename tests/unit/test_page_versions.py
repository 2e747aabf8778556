"""A page's version per crowd, as the console shows it."""

from __future__ import annotations

from app.core.page import Page
from app.core.page_versions import crowd_versions, page_crowds

PAGE = Page.from_dict(
    "home",
    {
        "slots": [
            {"slot_id": "hero", "default": "hero", "variants": [{"crowd": "vip", "block": "hero_vip"}, {"crowd": "new", "block": "hero_new"}]},
            {"slot_id": "grid", "default": "grid", "variants": [{"crowd": "new", "block": "grid_new"}]},
            {"slot_id": "text", "default": "text"},
        ]
    },
)


def test_default_row_then_each_crowd_by_priority() -> None:
    assert page_crowds(PAGE) == ["vip", "new"]
    rows = crowd_versions(PAGE, {"vip": 1, "new": 5})
    assert [r.crowd for r in rows] == [None, "new", "vip"]
    assert [(c.block_id, c.differs) for c in rows[0].slots] == [("hero", False), ("grid", False), ("text", False)]
    assert [(c.block_id, c.differs) for c in rows[1].slots] == [("hero_new", True), ("grid_new", True), ("text", False)]
    assert [c.block_id for c in rows[2].slots] == ["hero_vip", "grid", "text"]


def test_a_page_without_variants_has_only_its_default() -> None:
    page = Page.from_dict("p", {"slots": [{"slot_id": "s", "default": "b"}]})
    assert [r.crowd for r in crowd_versions(page, {})] == [None]
