"""The behaviour fold: order-free, duplicate-free, money exact."""

from __future__ import annotations

import random

import pytest

from app.core.profile import Behaviour, Event, fold

T0 = 1_760_000_000.0


def history() -> list[Event]:
    return [
        Event("e1", "view", "v", T0, "p1", "shoes", price_position_milli=-693),
        Event("e2", "view", "v", T0 + 10, "p2", "bags", price_position_milli=405),
        Event("e3", "view", "v", T0 + 20, "p1", "shoes", price_position_milli=-693),
        Event("e4", "click", "v", T0 + 30, "p1"),
        Event("e5", "add_to_cart", "v", T0 + 40, "p1"),
        Event("e6", "purchase", "v", T0 + 50, "p1", amount_cents=19990),
        Event("e7", "purchase", "v", T0 - 86400 * 30, None, amount_cents=0),  # a free historical order
        Event("e8", "follow", "v", T0 + 60),
        Event("e9", "exposure", "v", T0 + 70),
    ]


def test_fold_counts_and_times() -> None:
    b = fold(history())
    assert (b.views, b.clicks, b.carts, b.orders) == (3, 1, 1, 2)
    assert b.spend_cents == 19990 and b.spend == 199.90
    assert b.first_purchase_at == T0 - 86400 * 30
    assert b.last_purchase_at == T0 + 50
    assert b.first_seen == T0 - 86400 * 30 and b.last_seen == T0 + 70
    assert b.followed_at == T0 + 60
    assert dict(b.viewed_categories) == {"shoes": 2, "bags": 1}
    assert (b.priced_views, b.viewed_price_milli) == (3, -981)
    assert b.viewed_price_position == pytest.approx(-0.327)


def test_only_views_of_priced_products_count_towards_the_viewed_price() -> None:
    b = fold([
        Event("a", "view", "v", T0, "p1", "shoes", price_position_milli=200),
        Event("b", "view", "v", T0, "gone", None),  # a product the catalog did not know
        Event("c", "click", "v", T0, "p1", "shoes", price_position_milli=200),
        Event("d", "purchase", "v", T0, "p1", "shoes", 1000, price_position_milli=200),
    ])
    assert (b.views, b.priced_views, b.viewed_price_milli) == (2, 1, 200)
    assert Behaviour().viewed_price_position is None and Behaviour().as_dict()["viewed_price_position"] is None


@pytest.mark.parametrize("seed", range(10))
def test_any_order_and_duplicates_give_the_same_profile(seed: int) -> None:
    events = history()
    shuffled = events + random.Random(seed).sample(events, k=4)  # replays of some ids
    random.Random(seed).shuffle(shuffled)
    assert fold(shuffled) == fold(events)


def test_empty_fold_is_the_empty_behaviour() -> None:
    assert fold([]) == Behaviour()
