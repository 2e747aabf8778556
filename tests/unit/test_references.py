from __future__ import annotations

from app.core.references import dangling_references

PAGE = {"slots": [{"slot_id": "hero", "default": "b1", "variants": [{"crowd": "c1", "block": "b2"}]}]}


def test_dangling_references_name_their_path() -> None:
    cfg = {"crowd": {}, "block": {"b1": {}}, "page": {"home": PAGE}}
    refs = dangling_references(cfg)
    assert [(r.path, r.kind, r.target) for r in refs] == [
        ("$.slots[0].variants[0].crowd", "crowd", "c1"),
        ("$.slots[0].variants[0].block", "block", "b2"),
    ]



def test_no_dangling_references_when_all_exist() -> None:
    cfg = {"crowd": {"c1": {}}, "block": {"b1": {}, "b2": {}}, "page": {"home": PAGE, "other": PAGE}}
    assert dangling_references(cfg) == []
