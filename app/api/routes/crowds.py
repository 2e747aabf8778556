"""Crowds (人群): versioned CRUD, plus the rule editor's test and size preview.

The editor's answers (problems, test, preview) come from ``app.core.crowd_editor``,
which the console's crowd editor uses too.
"""

import time
from typing import Any

from fastapi import APIRouter

from app.api.auth import Merchant, State
from app.api.errors import ApiError, Problem
from app.api.routes.configs import add_config_routes
from app.api.schemas import ConditionPreview, ConditionTest, CrowdIn
from app.core.crowd_editor import condition_problems, rule_test
from app.core.crowds import missing_matches
from app.serving.crowd_sample import rule_preview

router = APIRouter(tags=["crowds"])


def prepare_crowd(body: CrowdIn) -> tuple[dict[str, Any], list[Problem], list[Problem]]:
    errors = condition_problems(body.condition)
    warnings = [] if errors else [Problem("$.condition" + p[1:], "matches_missing", m) for p, m in missing_matches(body.condition)]
    return body.model_dump(), errors, warnings


def require_valid(condition: Any) -> None:
    problems = condition_problems(condition)
    if problems:
        raise ApiError.from_problems(422, "invalid_condition", problems)


@router.post("/v1/shops/{shop}/crowds:test", summary="Does a rule hold for these attributes, and why")
async def test_condition(body: ConditionTest, shop: Merchant) -> dict[str, Any]:
    require_valid(body.condition)
    return rule_test(body.condition, body.attributes)


@router.post("/v1/shops/{shop}/crowds:preview", summary="How many known visitors a rule matches, and overlaps")
async def preview_condition(body: ConditionPreview, shop: Merchant, state: State) -> dict[str, Any]:
    require_valid(body.condition)
    return await rule_preview(state.redis, state.snapshots, shop, body.condition, sample=body.sample, now=time.time())


add_config_routes(router, "crowd", "crowds", CrowdIn, prepare_crowd, error_code="invalid_condition")
