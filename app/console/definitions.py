"""Configuration written in the console as a JSON definition (experiments, rights).

The form's text is parsed and validated by the API's own request model, so the console
reports the same problems at the same paths as the API, and a broken JSON text its
line and column.
"""

from __future__ import annotations

import json
from typing import TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from app.api.errors import problems_from_validation
from app.console.access import Visit
from app.core.problems import Problem

M = TypeVar("M", bound=BaseModel)


def parse_definition(v: Visit, model: type[M], definition: str, bad_json: str) -> tuple[M | None, list[Problem]]:
    """The definition as ``model``, or the problems with it; ``bad_json`` is the message
    key for text that is not JSON (given ``line`` and ``column``)."""
    try:
        return model.model_validate(json.loads(definition)), []
    except json.JSONDecodeError as exc:
        return None, [Problem("$", "invalid_json", v.t(bad_json, line=exc.lineno, column=exc.colno))]
    except ValidationError as exc:
        return None, problems_from_validation(RequestValidationError(exc.errors()))
