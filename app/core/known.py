"""The CRM attributes the service understands, checked at import time.

Any other key a merchant sends is kept as it is and usable in crowd rules; these few
have a meaning the derived attributes rely on, so a malformed value is refused rather
than silently ignored later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

GENDERS = ("female", "male", "other")


def _birthday(v: Any) -> str | None:
    if not isinstance(v, str):
        return "birthday must be a string 'YYYY-MM-DD' or 'MM-DD'."
    try:
        if len(v) == 5:
            date.fromisoformat(f"2000-{v}")  # a leap year, so "02-29" is a valid birthday
        else:
            d = date.fromisoformat(v)
            if d > date.today():
                return "birthday is in the future."
        return None
    except ValueError:
        return f"'{v[:20]}' is not a date 'YYYY-MM-DD' or 'MM-DD'."


def _member_since(v: Any) -> str | None:
    if not isinstance(v, str):
        return "member_since must be an ISO date such as '2023-05-01'."
    try:
        datetime.fromisoformat(v.replace("Z", "+00:00"))
        return None
    except ValueError:
        return f"'{v[:30]}' is not an ISO date such as '2023-05-01'."


def _gender(v: Any) -> str | None:
    return None if v in GENDERS else f"gender must be one of {', '.join(GENDERS)}."


def _bool(name: str) -> Callable[[Any], str | None]:
    return lambda v: None if isinstance(v, bool) else f"{name} must be true or false."


def _short_text(name: str, limit: int) -> Callable[[Any], str | None]:
    return lambda v: None if isinstance(v, str) and 0 < len(v) <= limit else f"{name} must be text of 1 to {limit} characters."


CHECKS: Mapping[str, Callable[[Any], str | None]] = {
    "gender": _gender,
    "birthday": _birthday,
    "member_since": _member_since,
    "is_fan": _bool("is_fan"),
    "member_level": _short_text("member_level", 32),
    "city": _short_text("city", 64),
    "region": _short_text("region", 64),
}


def validate_known(attributes: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Problems as (relative JSON path like ".birthday", code, message); ``None`` removes a key."""
    out = []
    for key, check in CHECKS.items():
        if key in attributes and attributes[key] is not None:
            message = check(attributes[key])
            if message:
                out.append((f".{key}", "invalid_attribute", message))
    return out
