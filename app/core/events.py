"""Turning what a storefront sends about visitor actions into validated :class:`Event` values."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.core.profile import EVENT_TYPES, Event

# Before 2000 or more than a day in the future is a unit mistake (ms sent as s), not history.
MIN_TS = 946_684_800.0  # 2000-01-01T00:00:00Z
MAX_FUTURE_S = 86_400.0
MAX_AMOUNT = Decimal("100000000")  # one order of a hundred million is a typo, not a sale


@dataclass(frozen=True)
class FieldError:
    path: str
    code: str
    message: str


def parse_timestamp(value: Any, path: str, now: float) -> tuple[float | None, FieldError | None]:
    """ISO 8601 with a timezone, or epoch seconds, to epoch seconds."""
    if isinstance(value, bool):
        return None, FieldError(path, "wrong_type", "ts must be an ISO 8601 time with a timezone or epoch seconds.")
    if isinstance(value, int | float):
        ts = float(value)
        if not math.isfinite(ts):
            return None, FieldError(path, "invalid_timestamp", "ts must be a finite number of seconds.")
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None, FieldError(path, "invalid_timestamp", f"'{value[:40]}' is not an ISO 8601 time.")
        if dt.tzinfo is None:
            return None, FieldError(
                path, "missing_timezone", "ts needs a timezone (for example +08:00 or Z): a local time is ambiguous."
            )
        ts = dt.timestamp()
    else:
        return None, FieldError(path, "wrong_type", "ts must be an ISO 8601 time with a timezone or epoch seconds.")
    if ts < MIN_TS:
        return None, FieldError(path, "invalid_timestamp", "ts is before the year 2000; epoch seconds expected.")
    if ts > now + MAX_FUTURE_S:
        return None, FieldError(
            path, "invalid_timestamp", "ts is more than a day in the future (milliseconds sent as seconds?)."
        )
    # Milliseconds are what the profile store keeps; quantizing here, once, makes a
    # profile folded in Python (training) equal to the one folded in Redis (serving).
    return round(ts, 3), None


_PLAIN_AMOUNT = re.compile(r"^(\d{1,9})(?:\.(\d{1,2}))?$")


def parse_amount(value: Any, path: str) -> tuple[int | None, FieldError | None]:
    """A money amount in yuan to integer cents (exact, so sums never drift)."""
    if value is None:
        return None, None
    if isinstance(value, str):
        # Fast path for the common "199.90" form (imports parse millions of these).
        m = _PLAIN_AMOUNT.match(value)
        if m:
            return int(m.group(1)) * 100 + int((m.group(2) or "0").ljust(2, "0")), None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None, FieldError(path, "wrong_type", "amount must be a number.")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None, FieldError(path, "wrong_type", "amount must be a number.")
    if not d.is_finite() or d < 0:
        return None, FieldError(path, "invalid_amount", "amount must be zero or more.")
    if d > MAX_AMOUNT:
        return None, FieldError(path, "invalid_amount", "amount is implausibly large.")
    if d != d.quantize(Decimal("0.01")):
        return None, FieldError(path, "invalid_amount", "amount has more than two decimals.")
    return int(d * 100), None


def parse_event(raw: Mapping[str, Any], path: str, now: float) -> tuple[Event | None, list[FieldError]]:
    """Validate one event dict (already shape-checked: strings are strings)."""
    errors: list[FieldError] = []
    etype = raw.get("type")
    if etype not in EVENT_TYPES:
        errors.append(FieldError(f"{path}.type", "invalid_event_type", f"type must be one of {', '.join(EVENT_TYPES)}."))
    ts, err = parse_timestamp(raw.get("ts"), f"{path}.ts", now)
    if err:
        errors.append(err)
    amount, err = parse_amount(raw.get("amount"), f"{path}.amount")
    if err:
        errors.append(err)
    if raw.get("right_id") is not None and etype != "purchase":
        errors.append(FieldError(f"{path}.right_id", "not_for_type", "Only a purchase names the right it used."))
    if etype == "purchase" and raw.get("amount") is None:
        errors.append(FieldError(f"{path}.amount", "missing", "a purchase needs an amount (0 for a free order)."))
    if errors or ts is None:
        return None, errors
    return (
        Event(
            event_id=raw["event_id"],
            type=etype,  # type: ignore[arg-type]
            visitor_id=raw["visitor_id"],
            ts=ts,
            product_id=raw.get("product_id"),
            amount_cents=amount,
            render_id=raw.get("render_id"),
            right_id=raw.get("right_id"),
        ),
        [],
    )
