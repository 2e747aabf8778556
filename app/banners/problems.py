"""The refusals of the banner core: the service's one refusal shape (app.core.problems),
named for what was refused, so a route only re-raises them.

A template refusal carries every problem found, each with the JSON path of the
offending field of the request body, so the console can mark them all at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.core.problems import Problem, Refusal, json_path, summary

__all__ = ["BannerError", "ElementError", "Problem", "TemplateError", "json_path"]


class BannerError(Refusal):
    """A refusal: ``status`` (413, 415, 422, …), ``code``, a message and the problems."""


class ElementError(BannerError):
    """An uploaded element refused: 413 ``too_large``, 415 ``unsupported_media_type``, 422 ``corrupt_file``."""


class TemplateError(BannerError):
    """A banner template refused (422): ``details`` lists every problem with its JSON path."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(422, "invalid_template", summary(problems), path=problems[0].path, details=problems)

