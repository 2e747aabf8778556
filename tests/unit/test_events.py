"""Parsing what the storefront sends: timestamps, amounts, event types."""

from __future__ import annotations

import pytest

from app.core.events import parse_amount, parse_event, parse_timestamp

NOW = 1_763_800_000.0  # 2025-11-22


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000, 1_700_000_000.0),
        (1_700_000_000.5, 1_700_000_000.5),
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-15T06:13:20+08:00", 1_700_000_000.0),
    ],
)
def test_timestamps_accepted(value: object, expected: float) -> None:
    assert parse_timestamp(value, "$.ts", NOW) == (expected, None)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("2023-11-15T06:13:20", "missing_timezone"),
        ("yesterday", "invalid_timestamp"),
        (1_700_000_000_000, "invalid_timestamp"),  # milliseconds sent as seconds
        (12, "invalid_timestamp"),
        (True, "wrong_type"),
        (None, "wrong_type"),
        (float("nan"), "invalid_timestamp"),
    ],
)
def test_timestamps_refused(value: object, code: str) -> None:
    ts, err = parse_timestamp(value, "$.events[0].ts", NOW)
    assert ts is None and err is not None
    assert err.code == code and err.path == "$.events[0].ts"


@pytest.mark.parametrize(
    ("value", "cents", "code"),
    [
        (0, 0, None),
        (199.9, 19990, None),
        ("19.99", 1999, None),
        (-1, None, "invalid_amount"),
        (1.001, None, "invalid_amount"),
        ("abc", None, "wrong_type"),
        (float("inf"), None, "invalid_amount"),
        (1e12, None, "invalid_amount"),
    ],
)
def test_amounts(value: object, cents: int | None, code: str | None) -> None:
    got, err = parse_amount(value, "$.amount")
    assert got == cents
    assert (err.code if err else None) == code


def test_purchase_needs_an_amount_and_a_known_type() -> None:
    event, errors = parse_event({"event_id": "e", "type": "purchase", "visitor_id": "v", "ts": NOW}, "$.events[3]", NOW)
    assert event is None
    assert [(e.path, e.code) for e in errors] == [("$.events[3].amount", "missing")]
    event, errors = parse_event({"event_id": "e", "type": "buy", "visitor_id": "v", "ts": NOW}, "$.events[0]", NOW)
    assert event is None and errors[0].path == "$.events[0].type"


def test_free_order_is_a_valid_purchase() -> None:
    event, errors = parse_event({"event_id": "e", "type": "purchase", "visitor_id": "v", "ts": NOW, "amount": 0}, "$", NOW)
    assert errors == [] and event is not None and event.amount_cents == 0


@pytest.mark.parametrize("text", ["0", "7", "7.5", "7.05", "123456789.99", "0.10"])
def test_the_amount_fast_path_agrees_with_decimal(text: str) -> None:
    from decimal import Decimal

    assert parse_amount(text, "$") == (int(Decimal(text) * 100), None)
