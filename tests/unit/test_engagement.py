"""Engagement counters, pure: position-weighted impressions, which events count, totals."""

from __future__ import annotations

from app.core.engagement import (
    COUNTERS,
    Engagement,
    EngagementCounter,
    event_counter,
    exposure_increments,
    exposure_weight,
)
from app.core.profile import Event


def test_impressions_are_weighted_by_place() -> None:
    assert [exposure_weight(k) for k in (0, 1, 2, 9, 19)] == [1000, 631, 500, 289, 228]
    # the same product in two grids of one render: both places count
    assert exposure_increments([["a", "b", "c"], ["c", "a"]]) == {"a": 1631, "b": 631, "c": 1500}
    assert exposure_increments([]) == {}


def test_which_events_count() -> None:
    assert event_counter(Event("1", "click", "v", 1.0, "p", render_id="r1")) == "clicks"
    # a click that no render led to has no impression to set it against
    assert event_counter(Event("2", "click", "v", 1.0, "p")) is None
    assert event_counter(Event("3", "view", "v", 1.0, "p")) == "views"
    assert event_counter(Event("4", "purchase", "v", 1.0, "p", amount_cents=100)) == "purchases"
    assert event_counter(Event("5", "purchase", "v", 1.0, None, amount_cents=100)) is None  # an order without a product
    assert event_counter(Event("6", "add_to_cart", "v", 1.0, "p")) is None
    assert event_counter(Event("7", "exposure", "v", 1.0, render_id="r1")) is None


def test_the_counter_keeps_totals_and_equals_the_counts_it_saw() -> None:
    c = EngagementCounter()
    c.add_render([["a", "b"]])
    c.add_render([["b"]])
    for e in (Event("1", "click", "v", 1.0, "b", render_id="r"), Event("2", "view", "v", 1.0, "b"), Event("3", "purchase", "v", 1.0, "a")):
        c.add_event(e)
    want = Engagement.of({"impressions": {"a": 1000, "b": 1631}, "clicks": {"b": 1}, "views": {"b": 1}, "purchases": {"a": 1}})
    assert c.current == want
    assert dict(want.totals) == {"impressions": 2631, "clicks": 1, "views": 1, "purchases": 1}
    assert dict(Engagement().totals) == dict.fromkeys(COUNTERS, 0)
