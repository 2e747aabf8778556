"""The behaviour fold: order-free, duplicate-free, money exact."""

from __future__ import annotations

import random

import pytest

from app.core.profile import Behaviour, Event, fold

T0 = 1_760_000_000.0


def history() -> list[Event]:
    return [
        Event("e1", "view", "v", T0, "p1", "shoes"),
        Event("e2", "view", "v", T0 + 10, "p2", "bags"),
        Event("e3", "view", "v", T0 + 20, "p1", "shoes"),
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


@pytest.mark.parametrize("seed", range(10))
def test_any_order_and_duplicates_give_the_same_profile(seed: int) -> None:
    events = history()
    shuffled = events + random.Random(seed).sample(events, k=4)  # replays of some ids
    random.Random(seed).shuffle(shuffled)
    assert fold(shuffled) == fold(events)


def test_empty_fold_is_the_empty_behaviour() -> None:
    assert fold([]) == Behaviour()
