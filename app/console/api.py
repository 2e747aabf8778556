"""The console's JSON calls (the crowd editor's live checks), behind the session.

The same answers as ``POST /v1/shops/{shop}/crowds:test`` and ``crowds:preview`` (the
same request models, core functions and error shape), for a browser that holds a
console session instead of the merchant key. Each call carries the session's
anti-forgery token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from app.api.routes.crowds import require_valid
from app.api.schemas import ConditionPreview, ConditionTest
from app.console.access import ApiVisit
from app.core.crowd_editor import rule_test
from app.serving.crowd_sample import rule_preview

router = APIRouter(include_in_schema=False)


@router.post("/console/api/crowds:test")
async def test_rule(body: ConditionTest, v: ApiVisit) -> dict[str, Any]:
    require_valid(body.condition)
    return rule_test(body.condition, body.attributes)


@router.post("/console/api/crowds:preview")
async def preview_rule(body: ConditionPreview, v: ApiVisit) -> dict[str, Any]:
    require_valid(body.condition)
    assert v.shop is not None
    return await rule_preview(v.state.redis, v.state.snapshots, v.shop, body.condition, sample=body.sample, now=time.time())
