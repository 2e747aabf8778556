"""Historical orders CSV rows to purchase events."""

from __future__ import annotations

from app.core.orders import RowError, missing_columns, order_events
from app.core.profile import Event

NOW = 1_763_800_000.0


def test_rows_become_purchases_with_stable_ids() -> None:
    rows = [
        {"visitor_id": "a", "ts": "1700000000", "amount": "10.5", "product_id": "p1"},
        {"visitor_id": "a", "ts": "2023-11-14T22:13:20Z", "amount": "10.5", "product_id": "p1"},  # same order again
        {"visitor_id": "b", "ts": "1700000000", "amount": "0"},
    ]
    first = list(order_events(rows, NOW))
    again = list(order_events(rows, NOW))
    assert all(isinstance(e, Event) for e in first)
    assert [e.event_id for e in first] == [e.event_id for e in again]  # idempotent re-import
    assert len({e.event_id for e in first}) == 3  # identical rows in one file both count
    assert first[0].amount_cents == 1050 and first[0].ts == 1_700_000_000.0 and first[0].type == "purchase"
    assert first[2].amount_cents == 0 and first[2].product_id is None


def test_bad_rows_name_their_line_and_column() -> None:
    rows = [
        {"visitor_id": "a", "ts": "1700000000", "amount": "1"},
        {"visitor_id": "", "ts": "1700000000", "amount": "1"},
        {"visitor_id": "a", "ts": "not a time", "amount": "1"},
        {"visitor_id": "a", "ts": "1700000000", "amount": "-3"},
        {"visitor_id": "a", "ts": "1700000000", "amount": ""},
    ]
    out = list(order_events(rows, NOW))
    errors = [(e.line, e.column) for e in out if isinstance(e, RowError)]
    assert errors == [(3, "visitor_id"), (4, "ts"), (5, "amount"), (6, "amount")]


def test_missing_columns() -> None:
    assert missing_columns(["visitor_id", "ts"]) == ["amount"]
    assert missing_columns(["visitor_id", "ts", "amount", "product_id"]) == []


def test_epoch_forms_and_iso_forms_agree() -> None:
    rows = [
        {"visitor_id": "a", "ts": "1700000000", "amount": "1"},
        {"visitor_id": "b", "ts": " 1700000000.0 ", "amount": "1"},
        {"visitor_id": "c", "ts": "2023-11-14T22:13:20Z", "amount": "1"},
        {"visitor_id": "d", "ts": "2023-11-15 06:13:20+08:00", "amount": "1"},
        {"visitor_id": "e", "ts": "1e9", "amount": "1"},
    ]
    out = list(order_events(rows, NOW))
    assert [e.ts for e in out] == [1_700_000_000.0] * 4 + [1_000_000_000.0]
