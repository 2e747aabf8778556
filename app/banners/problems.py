"""The errors of the banner core, shaped like the API's so a route only re-raises them.

Every refusal carries an HTTP status and a machine-readable code; a template refusal
also carries every problem found, each with the JSON path of the offending field of the
request body, so the console can mark them all at once. ``app.api.errors.ApiError`` is
not used here because the core must not import FastAPI.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, NamedTuple


class Problem(NamedTuple):
    """One problem in a request body: where (JSON path), what (code), and why (for people)."""

    path: str  # e.g. "$.layers[2].box", "$.variants.vip.title.text"
    code: str  # e.g. "outside_canvas", "unknown_element", "missing_glyphs"
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message}


class BannerError(Exception):
    """A refusal: ``status`` (413, 415, 422, …), ``code``, a message and the problems."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        path: str | None = None,
        details: Sequence[Problem] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.path = path
        self.details = list(details)

    def body(self) -> dict[str, Any]:
        """The API's error body (see app/api/errors.py)."""
        err: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.path is not None:
            err["path"] = self.path
        if self.details:
            err["details"] = [p.as_dict() for p in self.details]
        return {"error": err}


class ElementError(BannerError):
    """An uploaded element refused: 413 ``too_large``, 415 ``unsupported_media_type``, 422 ``corrupt_file``."""


class TemplateError(BannerError):
    """A banner template refused (422): ``details`` lists every problem with its JSON path."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        more = len(problems) - 1
        message = first.message if not more else f"{first.message} (and {more} more problem(s))"
        super().__init__(422, "invalid_template", message, path=first.path, details=problems)


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_path(loc: Sequence[Any], root: str = "$") -> str:
    """``("layers", 2, "box")`` -> ``$.layers[2].box``; keys that are not plain names are quoted."""
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(str(part)):
            out += f".{part}"
        else:
            out += "[" + json.dumps(str(part), ensure_ascii=False) + "]"
    return out
