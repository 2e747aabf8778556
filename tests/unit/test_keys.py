"""Key formats: one module, the shop as hash tag, and the hot-loop builder in step."""

from __future__ import annotations

from app.store import keys


def test_event_keys_match_the_single_key_functions() -> None:
    prefix = keys.shop_prefix("s1")
    assert keys.visitor_event_keys(prefix, "v1") == (
        keys.visitor_behaviour("s1", "v1"),
        keys.visitor_categories("s1", "v1"),
    )


def test_every_shop_key_carries_the_shop_hash_tag() -> None:
    built = [
        keys.shop("s1"), keys.config_version("s1"), keys.config("s1", "crowd"), keys.history("s1", "page", "p"),
        keys.catalog_version("s1"), keys.products("s1"), keys.popularity("s1"), keys.known_visitors("s1"),
        keys.visitor_known("s1", "v"), keys.events_seen("s1", "20260101"), keys.spend_rank("s1"), keys.event_log("s1"), keys.exposure_log("s1"),
        keys.visitor_behaviour_pattern("s1"), keys.operations_index("s1"),
        *(keys.engagement("s1", c) for c in ("impressions", "clicks", "views", "purchases")),
    ]
    assert all(k.startswith("sf:{s1}:") for k in built)
    assert len(set(built)) == len(built)


def test_shop_ids_cannot_break_the_hash_tag() -> None:
    assert keys.SHOP_ID_PATTERN.match("shop-1_a")
    for bad in ("a{b}", "A", "a b", "x", "-a", "a" * 64):
        assert not keys.SHOP_ID_PATTERN.match(bad)
