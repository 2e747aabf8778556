"""The crowd editor's form: typed fields to the API's crowd body, checked as the API checks.

A save from the console goes through the same steps as ``PUT /v1/shops/{shop}/crowds/{id}``:
the request model (``CrowdIn``), the rule's validation (``prepare_crowd``), then the
versioned store write. Problems keep the JSON path the API would answer
(``$.condition.age.$gtt``); :func:`field_of` says next to which field to show each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.api.errors import problems_from_validation
from app.api.routes.crowds import prepare_crowd
from app.api.schemas import CrowdIn
from app.core.problems import Problem
from app.store.keys import CONFIG_ID_PATTERN

FIELDS: tuple[str, ...] = ("crowd_id", "name", "priority", "threshold", "description", "condition")
ID_PATH = "id"  # the id is the URL's in the API, the form's here


@dataclass(frozen=True)
class CrowdForm:
    """The fields as typed, to fill the form again after a refusal."""

    crowd_id: str = ""
    name: str = ""
    priority: str = "0"
    threshold: str = "0.5"
    description: str = ""
    condition: str = "{}"

    @classmethod
    def from_form(cls, form: Mapping[str, Any], crowd_id: str | None = None) -> CrowdForm:
        values = {f: str(form.get(f) or "") for f in FIELDS}
        if crowd_id is not None:  # editing: the id is the URL's, whatever the form says
            values["crowd_id"] = crowd_id
        return cls(**values)

    @classmethod
    def from_stored(cls, crowd_id: str, body: Mapping[str, Any]) -> CrowdForm:
        return cls(
            crowd_id=crowd_id,
            name=str(body.get("name", "")),
            priority=str(body.get("priority", 0)),
            threshold=str(body.get("threshold", 0.5)),
            description=str(body.get("description", "")),
            condition=json.dumps(body.get("condition", {}), ensure_ascii=False, indent=2),
        )


@dataclass(frozen=True)
class Checked:
    body: dict[str, Any] | None  # what to store; None when there are errors
    errors: list[Problem]
    warnings: list[Problem]


def check(form: CrowdForm) -> Checked:
    errors: list[Problem] = []
    if not CONFIG_ID_PATTERN.match(form.crowd_id.strip()):
        errors.append(Problem(ID_PATH, "invalid_format", "An id is 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit."))
    try:
        condition: Any = json.loads(form.condition)
    except json.JSONDecodeError as exc:
        errors.append(Problem("$.condition", "invalid_json", f"The rule is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."))
        return Checked(None, errors, [])
    # Blank number fields take the API's defaults, as an omitted JSON field would.
    raw: dict[str, Any] = {"name": form.name.strip(), "condition": condition, "description": form.description.strip()}
    for name in ("priority", "threshold"):
        if getattr(form, name).strip():
            raw[name] = getattr(form, name).strip()
    try:
        model = CrowdIn.model_validate(raw)
    except ValidationError as exc:
        return Checked(None, errors + problems_from_validation(RequestValidationError(exc.errors())), [])
    body, rule_errors, warnings = prepare_crowd(model)
    errors += rule_errors
    return Checked(None if errors else body, errors, warnings)


def field_of(path: str) -> str:
    """The form field a problem's JSON path points into ("form" when none)."""
    if path == ID_PATH:
        return "crowd_id"
    for name in FIELDS[1:]:
        root = f"$.{name}"
        if path == root or path.startswith((root + ".", root + "[")):
            return name
    return "form"


def by_field(problems: list[Problem]) -> dict[str, list[Problem]]:
    out: dict[str, list[Problem]] = {}
    for p in problems:
        out.setdefault(field_of(p.path), []).append(p)
    return out
