"""Problems in a request and the refusals that carry them: one shape for the whole service.

    {"error": {"status": 422, "code": "invalid_template",
               "message": "A box is [x, y, width, height] … (and 1 more problem(s))",
               "path": "$.layers[2].box",
               "details": [{"path": ..., "code": ..., "message": ...}, ...]}}

Pure (no web framework), so the cores that check merchants' input (block params, banner
templates, crowd rules) raise the same refusal the API answers; the API's ``ApiError``
is a :class:`Refusal` too. ``FIELD_ERRORS`` turns pydantic's error types into our codes
and messages, for every model the service validates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, NamedTuple, Self


class Problem(NamedTuple):
    """One problem in a request body: where (JSON path), what (code), and why (for people)."""

    path: str  # e.g. "$.layers[2].box", "$.params.pool.categories[2]"
    code: str  # e.g. "missing", "outside_canvas", "invalid_url"
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message}


class Refusal(Exception):
    """A request refused: HTTP ``status``, machine-readable ``code``, a message, and where."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        path: str | None = None,
        details: Sequence[Problem] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.path = path
        self.details = list(details)
        self.extra = extra or {}

    @classmethod
    def from_problems(cls, status: int, code: str, problems: Sequence[Problem], **extra: Any) -> Self:
        """The first problem's message and path, and all of them as details."""
        return cls(status, code, summary(problems), path=problems[0].path, details=problems, extra=extra or None)

    def problems(self) -> list[Problem]:
        """Its problems, one per place: the details, or itself as the only one."""
        return list(self.details) or [Problem(self.path or "$", self.code, self.message)]

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.path is not None:
            err["path"] = self.path
        if self.details:
            err["details"] = [p.as_dict() for p in self.details]
        err.update(self.extra)
        return {"error": err}


def summary(problems: Sequence[Problem]) -> str:
    """One line for a list of problems: the first one's message, and how many more."""
    first, more = problems[0], len(problems) - 1
    return first.message if not more else f"{first.message} (and {more} more problem(s))"


_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def json_path(loc: Sequence[Any], root: str = "$") -> str:
    """A location (pydantic's, or our own) as a JSON path: ``("layers", 2, "box")`` ->
    ``$.layers[2].box``.

    Keys that are not plain names are quoted (``$.attributes["bad key!"]``); pydantic's
    "[key]" marker (the error is in a dict key, not its value) adds nothing to a path.
    """
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        elif _PLAIN_KEY.match(str(part)):
            out += f".{part}"
        else:
            out += f"[{json.dumps(str(part), ensure_ascii=False)}]"
    return out


# pydantic error type -> (our code, message template). Templates use the error's ``ctx``
# (e.g. max_length) and {field}; one that cannot be filled falls back to pydantic's text.
FIELD_ERRORS: dict[str, tuple[str, str]] = {
    "missing": ("missing", "This field is required."),
    "extra_forbidden": ("unknown_field", "Unknown field {field!r}."),
    "string_too_short": ("too_short", "Must not be empty."),
    "string_too_long": ("too_long", "Must be at most {max_length} characters long."),
    "too_short": ("too_few", "Needs at least {min_length} item(s)."),
    "too_long": ("too_many", "Allows at most {max_length} item(s)."),
    "greater_than_equal": ("out_of_range", "Must be at least {ge}."),
    "greater_than": ("out_of_range", "Must be greater than {gt}."),
    "less_than_equal": ("out_of_range", "Must be at most {le}."),
    "less_than": ("out_of_range", "Must be less than {lt}."),
    "multiple_of": ("invalid_value", "Must be a multiple of {multiple_of}."),
    "decimal_max_places": ("invalid_value", "Allows at most {decimal_places} decimals."),
    "literal_error": ("invalid_choice", "Must be one of {expected}."),
    "enum": ("invalid_choice", "Must be one of {expected}."),
    "string_type": ("invalid_type", "Must be a text string."),
    "int_type": ("invalid_type", "Must be a whole number."),
    "int_parsing": ("invalid_type", "Must be a whole number."),
    "int_from_float": ("invalid_type", "Must be a whole number."),
    "float_type": ("invalid_type", "Must be a number."),
    "float_parsing": ("invalid_type", "Must be a number."),
    "finite_number": ("invalid_type", "Must be a finite number."),
    "bool_type": ("invalid_type", "Must be true or false."),
    "bool_parsing": ("invalid_type", "Must be true or false."),
    "list_type": ("invalid_type", "Must be a list."),
    "tuple_type": ("invalid_type", "Must be a list."),
    "dict_type": ("invalid_type", "Must be an object."),
    "model_type": ("invalid_type", "Must be an object."),
    "model_attributes_type": ("invalid_type", "Must be an object."),
    "string_pattern_mismatch": ("invalid_format", "Has characters that are not allowed here."),
}


def field_error(
    etype: str, field: object, ctx: dict[str, Any], fallback: str, table: dict[str, tuple[str, str]] = FIELD_ERRORS
) -> tuple[str, str] | None:
    """(code, message) for a pydantic error type in ``table``, or None when it is not there."""
    found = table.get(etype)
    if found is None:
        return None
    code, template = found
    try:
        return code, template.format(field=field, **{k: _whole(v) for k, v in ctx.items()})
    except (KeyError, IndexError, ValueError):
        return code, fallback


def _whole(value: Any) -> Any:
    """10.0 -> 10 in messages."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
