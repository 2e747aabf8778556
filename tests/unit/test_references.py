from __future__ import annotations

from app.core.references import dangling_references, users_of

PAGE = {"slots": [{"slot_id": "hero", "default": "b1", "variants": [{"crowd": "c1", "block": "b2"}]}]}


def test_dangling_references_name_their_path() -> None:
    cfg = {"crowd": {}, "block": {"b1": {}}, "page": {"home": PAGE}}
    refs = dangling_references(cfg)
    assert [(r.path, r.kind, r.target) for r in refs] == [
        ("$.slots[0].variants[0].crowd", "crowd", "c1"),
        ("$.slots[0].variants[0].block", "block", "b2"),
    ]


def test_users_of_a_crowd() -> None:
    cfg = {"crowd": {"c1": {}}, "block": {"b1": {}, "b2": {}}, "page": {"home": PAGE, "other": PAGE}}
    assert dangling_references(cfg) == []
    assert sorted(r.page_id for r in users_of(cfg, "crowd", "c1")) == ["home", "other"]
    assert users_of(cfg, "crowd", "nobody") == []
