"""Historical orders (CSV rows) as purchase events.

Each row gets a deterministic event id from its content and how often the same
content appeared before it in the file, so importing the same file twice counts every
order once, while two genuinely identical orders in one file both count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from app.core.events import parse_amount, parse_timestamp
from app.core.profile import Event

REQUIRED_COLUMNS = ("visitor_id", "ts", "amount")
OPTIONAL_COLUMNS = ("product_id",)


@dataclass(frozen=True)
class RowError:
    line: int  # 1-based line in the file, the header being line 1
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


def missing_columns(header: Iterable[str]) -> list[str]:
    have = {h.strip() for h in header}
    return [c for c in REQUIRED_COLUMNS if c not in have]


def _parse_ts(raw: str, now: float) -> tuple[float | None, str | None]:
    value: str | float = raw.strip()
    if value.isdigit():  # epoch seconds, the common case, without an exception path
        value = float(value)
    elif value[:1].isdigit() and "-" not in value and ":" not in value:
        try:
            value = float(value)  # epoch seconds with a fraction
        except ValueError:
            pass
    ts, err = parse_timestamp(value, "ts", now)
    return ts, err.message if err else None


def order_events(rows: Iterable[Mapping[str, str]], now: float, *, first_line: int = 2) -> Iterator[Event | RowError]:
    """One purchase event (or one error) per row given as a mapping, in file order."""
    columns = ("visitor_id", "ts", "amount", "product_id")
    return order_events_from_lists(([row.get(c) or "" for c in columns] for row in rows), now, first_line=first_line)


def column_order(header: list[str]) -> list[int | None]:
    """Where visitor_id, ts, amount and product_id stand in a CSV header (None: absent)."""
    names = [h.strip() for h in header]
    return [names.index(c) if c in names else None for c in ("visitor_id", "ts", "amount", "product_id")]


def order_events_from_lists(
    rows: Iterable[list[str]], now: float, *, first_line: int = 2
) -> Iterator[Event | RowError]:
    """The same from rows already laid out as [visitor_id, ts, amount, product_id].

    (csv.reader rows, picked by :func:`column_order`: a dict per row costs more than
    the whole validation of it.)
    """
    occurrences: dict[str, int] = {}
    for line, (raw_visitor, raw_ts, raw_amount, raw_product) in enumerate(rows, start=first_line):
        visitor = raw_visitor.strip()
        if not visitor or len(visitor) > 128:
            yield RowError(line, "visitor_id", "visitor_id must be 1 to 128 characters.")
            continue
        ts, ts_err = _parse_ts(raw_ts, now)
        if ts_err:
            yield RowError(line, "ts", ts_err)
            continue
        cents, amount_err = parse_amount(raw_amount.strip() or None, "amount")
        if amount_err or cents is None:
            yield RowError(line, "amount", amount_err.message if amount_err else "amount is required (0 for a free order).")
            continue
        product = raw_product.strip() or None
        content = f"{visitor}\x1f{round((ts or 0) * 1000)}\x1f{cents}\x1f{product or ''}"
        n = occurrences.get(content, 0)
        occurrences[content] = n + 1
        digest = hashlib.blake2b(f"{content}\x1f{n}".encode(), digest_size=12).hexdigest()
        yield Event(
            event_id=f"order:{digest}",
            type="purchase",
            visitor_id=visitor,
            ts=ts or 0.0,
            product_id=product,
            amount_cents=cents,
        )
