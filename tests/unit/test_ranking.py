"""Popularity/recency ranking and the merchant's rules."""

from __future__ import annotations

import math

import pytest

from app.core.catalog import Candidates, Catalog, Product
from app.core.ranking import (
    HALF_LIFE_S,
    MerchRules,
    NEW_ARRIVAL_WINDOW_S,
    decayed,
    popularity_increment,
    rank,
)

NOW = 1_763_800_000.0


def prod(pid: str, cat: str = "a", stock: int = 5, tags: tuple[str, ...] = (), added_at: float | None = None) -> Product:
    return Product(pid, f"title {pid}", cat, 10.0, stock, tags, added_at=added_at)


def test_forward_decay_halves_per_half_life() -> None:
    stored = popularity_increment("purchase", NOW - HALF_LIFE_S)
    assert decayed(stored, NOW) == pytest.approx(5.0)  # weight 10, one half-life ago
    assert decayed(popularity_increment("view", NOW), NOW) == pytest.approx(1.0)
    assert popularity_increment("exposure", NOW) == 0.0


def test_popularity_orders_and_ties_break_by_id() -> None:
    products = [prod("p1"), prod("p2"), prod("p3")]
    out = rank(Candidates.build(products), {"p2": 10.0, "p3": 10.0}, NOW, MerchRules(count=3))
    assert [s.id for s in out] == ["p2", "p3", "p1"]
    assert out[0].score == pytest.approx(1 + math.log1p(10.0))


def test_out_of_stock_and_excluded_never_show() -> None:
    products = [prod("p1", stock=0), prod("p2"), prod("p3")]
    out = rank(Candidates.build(products), {"p1": 100.0}, NOW, MerchRules(count=5, exclude=frozenset({"p3"})))
    assert [s.id for s in out] == ["p2"]


def test_pins_come_first_in_order_even_past_the_cap() -> None:
    products = [prod(f"p{i}", cat="a") for i in range(6)]
    rules = MerchRules(count=4, pin=("p5", "p4"), max_per_category=1)
    out = rank(Candidates.build(products), {"p0": 50.0}, NOW, rules)
    assert [s.id for s in out][:2] == ["p5", "p4"]
    assert out[0].reason == "pinned"
    assert len(out) == 2  # the cap of one per category is filled by the pins: nothing else joins


def test_diversity_cap() -> None:
    products = [prod("a1", "a"), prod("a2", "a"), prod("a3", "a"), prod("b1", "b")]
    out = rank(Candidates.build(products), {"a1": 9, "a2": 8, "a3": 7, "b1": 1}, NOW, MerchRules(count=3, max_per_category=2))
    assert [s.id for s in out] == ["a1", "a2", "b1"]


@pytest.mark.parametrize(
    ("boost", "winner"),
    [({}, "p1"), ({"p2": 3.0}, "p2"), ({"category:b": 3.0}, "p2"), ({"tag:sale": 3.0}, "p2"), ({"p1": 0.1}, "p2")],
)
def test_boosts(boost: dict[str, float], winner: str) -> None:
    products = [prod("p1", "a"), prod("p2", "b", tags=("sale",))]
    out = rank(Candidates.build(products), {"p1": 5.0, "p2": 2.0}, NOW, MerchRules(count=2, boost=boost))
    assert out[0].id == winner


def test_new_arrivals_and_affinity_lift_a_product() -> None:
    products = [prod("old", "a", added_at=NOW - 10 * NEW_ARRIVAL_WINDOW_S), prod("new", "a", added_at=NOW - 3600)]
    assert rank(Candidates.build(products), {}, NOW, MerchRules(count=2))[0].id == "new"
    products = [prod("x", "shoes"), prod("y", "bags")]
    out = rank(Candidates.build(products), {}, NOW, MerchRules(count=2), category_views={"bags": 3, "shoes": 1})
    assert out[0].id == "y" and "affinity bags 75%" in out[0].reason


def test_cold_start_without_popularity_is_deterministic() -> None:
    products = [prod("b"), prod("a"), prod("c")]
    assert [s.id for s in rank(Candidates.build(products), {}, NOW, MerchRules(count=3))] == ["a", "b", "c"]


def test_catalog_pool() -> None:
    cat = Catalog.build([prod("p1", "a", tags=("x",)), prod("p2", "b", tags=("x",)), prod("p3", "b")])
    assert {p.id for p in cat.pool()} == {"p1", "p2", "p3"}
    assert [p.id for p in cat.pool(categories=["b"])] == ["p2", "p3"]
    assert [p.id for p in cat.pool(tags=["x"])] == ["p1", "p2"]
    assert [p.id for p in cat.pool(categories=["b"], tags=["x"])] == ["p2"]
    assert cat.pool(categories=["zzz"]) == []


def test_popularity_scale_reads_stored_values() -> None:
    """Stored forward-decayed values with their common factor rank like decayed ones."""
    products = Candidates.build([prod("old_hit"), prod("fresh")])
    stored = {
        "old_hit": popularity_increment("purchase", NOW - 8 * HALF_LIFE_S) * 10,  # 100 weight, long ago
        "fresh": popularity_increment("purchase", NOW - 3600),  # 10 weight, now
    }
    out = rank(products, stored, NOW, MerchRules(count=2), popularity_scale=decayed(1.0, NOW))
    assert [s.id for s in out] == ["fresh", "old_hit"]
    assert out[0].reason.startswith("popularity 10.0")


def test_empty_pool_and_zero_count() -> None:
    assert rank(Candidates.build([]), {}, NOW, MerchRules(count=5)) == []
    assert rank(Candidates.build([prod("a")]), {}, NOW, MerchRules(count=0)) == []


def test_events_are_resolved_against_the_catalog() -> None:
    from app.core.catalog import price_position
    from app.core.profile import Event

    cat = Catalog.build([
        Product("a", "x", "shoes", 10.0, 1), Product("b", "x", "shoes", 30.0, 1), Product("c", "x", "shoes", 20.0, 0),
        Product("free", "x", "gifts", 0.0, 1),
    ])
    assert cat.category_price["shoes"] == 20.0
    e = cat.resolve(Event("e", "view", "v", 1.0, "a"))
    assert (e.category, e.price_position_milli) == ("shoes", round(1000 * price_position(10.0, 20.0))) == ("shoes", -693)
    assert cat.resolve(Event("e", "view", "v", 1.0, "c")).price_position_milli == 0  # the typical price
    # a free category has a zero typical price: no position to speak of
    assert cat.resolve(Event("e", "view", "v", 1.0, "free")).price_position_milli is None
    unknown = Event("e", "view", "v", 1.0, "nope")
    assert cat.resolve(unknown) is unknown
    follow = Event("f", "follow", "v", 1.0)
    assert cat.resolve(follow) is follow
