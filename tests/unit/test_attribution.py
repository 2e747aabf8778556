"""Which events count for which variant: the pure attribution, and its records."""

from __future__ import annotations

import pytest

from app.experiments.attribution import Exposure, LoggedEvent, Outcome, Window, attribute

EXPOSED = {"a": Exposure("control", 1_000), "b": Exposure("treat", 5_000)}


def test_events_from_the_first_exposure_on_count() -> None:
    events = [
        LoggedEvent("purchase", "a", 999, 5_000),  # before the exposure
        LoggedEvent("purchase", "a", 1_000, 2_000),
        LoggedEvent("click", "a", 1_500, 0),
        LoggedEvent("redemption", "a", 1_000, 300),
        LoggedEvent("purchase", "b", 6_000, 100),
        LoggedEvent("purchase", "b", 5_500, 700),
        LoggedEvent("view", "b", 6_000, 0),  # not an outcome
        LoggedEvent("purchase", "stranger", 6_000, 100),  # never exposed
    ]
    got = attribute(events, EXPOSED, {}, Window("x", 1))
    assert got == {"a": Outcome(1, 2_000, 1_000, 1, 300), "b": Outcome(2, 800, 5_500, 0, 0)}


def test_adds_to_what_was_attributed_before_and_stops_with_the_phase() -> None:
    before = {"a": Outcome(1, 2_000, 1_000, 1, 300)}
    events = [LoggedEvent("redemption", "a", 2_000, 50), LoggedEvent("purchase", "a", 9_000, 1)]
    got = attribute(events, EXPOSED, before, Window("x", 1, stopped_at_ms=8_000))
    assert got == {"a": Outcome(1, 2_000, 1_000, 1, 350)}


@pytest.mark.parametrize("outcome", [Outcome(), Outcome(3, 12_345, 1_700_000_000_000, 2, 4_000), Outcome(0, 0, None, 5, 0)])
def test_an_outcome_round_trips(outcome: Outcome) -> None:
    assert Outcome.decode(outcome.encode()) == outcome


def test_an_outcome_written_before_rights_cost_reads_as_no_cost() -> None:
    assert Outcome.decode("2|5000|1700000000000|1") == Outcome(2, 5_000, 1_700_000_000_000, 1, 0)
    assert Outcome.decode(None) == Outcome() == Outcome.decode("")
