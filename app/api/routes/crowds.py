"""Crowds (人群): versioned CRUD, plus the rule editor's test and size preview."""

import time
from typing import Any

import anyio
from fastapi import APIRouter

from app.api.auth import Merchant, State
from app.api.errors import ApiError, Problem
from app.api.routes.configs import add_config_routes
from app.api.schemas import ConditionPreview, ConditionTest, CrowdIn
from app.core import conditions
from app.core.attributes import visitor_attributes
from app.core.crowds import Crowd, missing_matches
from app.core.derived import DerivedSettings
from app.core.profile import Context
from app.store import visitors as visitor_store

router = APIRouter(tags=["crowds"])


def condition_problems(condition: Any, root: str = "$.condition") -> list[Problem]:
    return [Problem(root + e.path[1:], e.code, e.message) for e in conditions.validate(condition)]


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
    explanation = conditions.explain(body.condition, body.attributes)
    referenced = sorted(conditions.referenced_attributes(body.condition))
    return {
        "matches": explanation.matches,
        "reasons": [
            {"path": r.path, "operator": r.operator, "expected": r.expected, "actual": r.actual, "passed": r.passed}
            for r in explanation.reasons
        ],
        "referenced_attributes": referenced,
        "missing_attributes": [a for a in referenced if a.split(".", 1)[0] not in body.attributes],
    }


def _preview(condition: dict[str, Any], crowds: list[Crowd], attrs: list[dict[str, Any]]) -> dict[str, Any]:
    """CPU part of a preview: the rule and every crowd over the sampled visitors."""
    rule = conditions.compile_condition(condition)
    hits = [rule(a) for a in attrs]
    matched = sum(hits)
    overlaps = []
    for c in crowds:
        in_crowd = [c.predicate(a) for a in attrs]
        size = sum(in_crowd)
        both = sum(h and m for h, m in zip(hits, in_crowd, strict=True))
        union = matched + size - both
        overlaps.append(
            {
                "crowd": c.id,
                "name": c.name,
                "crowd_matches": size,
                "both": both,
                "share_of_preview": round(both / matched, 4) if matched else 0.0,
                "jaccard": round(both / union, 4) if union else 0.0,
            }
        )
    n = len(attrs)
    return {"evaluated": n, "matches": matched, "share": round(matched / n, 4) if n else 0.0, "overlaps": overlaps}


@router.post("/v1/shops/{shop}/crowds:preview", summary="How many known visitors a rule matches, and overlaps")
async def preview_condition(body: ConditionPreview, shop: Merchant, state: State) -> dict[str, Any]:
    require_valid(body.condition)
    r = state.redis
    total = await visitor_store.count_known_visitors(r, shop.shop_id)
    settings = DerivedSettings.from_mapping(shop.settings.get("derived", {}))
    context = Context(ts=time.time())
    attrs: list[dict[str, Any]] = []
    async for _vid, p in visitor_store.iter_known_visitors(r, shop.shop_id, limit=body.sample):
        attrs.append(visitor_attributes(p.known, p.behaviour, context, settings, spend_rank_pct=p.spend_rank_pct))
    config = await state.snapshots.load_config(r, shop.shop_id)
    crowds = list(config.crowds) if config else []
    # Evaluating thousands of visitors is CPU work: keep it off the event loop.
    result = await anyio.to_thread.run_sync(_preview, body.condition, crowds, attrs)
    return {"known_visitors": total, "sampled": len(attrs) < total, **result}


add_config_routes(router, "crowd", "crowds", CrowdIn, prepare_crowd, error_code="invalid_condition")
