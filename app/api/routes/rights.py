"""Discount rights: the versioned catalog, and what each right did.

    PUT    /v1/shops/{shop}/rights/{id}            create or replace (versioned, 422 on bad combinations)
    GET    /v1/shops/{shop}/rights[/{id}]          the catalog / one right
    GET    /v1/shops/{shop}/rights/{id}/versions   history; POST …:rollback
    GET    /v1/shops/{shop}/rights:stats           granted, redeemed, spend, remaining budget,
                                                   incremental conversions of every right
    GET    /v1/shops/{shop}/rights/{id}/stats      the same for one right
    GET    /v1/shops/{shop}/rights/{id}/audit      its newest decisions (scores, policy version)
"""

import time
from typing import Any

from fastapi import APIRouter, Query

from app.api.auth import Merchant, State
from app.api.errors import ApiError, Problem
from app.api.routes.configs import ConfigItemId, add_config_routes, write_checked
from app.api.state import AppState
from app.rights.definition import Right, RightIn, check_right
from app.rights.report import Tally, right_report
from app.rights.settings import RightsSettings
from app.store import configs as config_store
from app.store.configs import VersionRecord
from app.store.rights import local_day

router = APIRouter(tags=["rights"])


def prepare_right(body: RightIn) -> tuple[dict[str, Any], list[Problem], list[Problem]]:
    return body.stored(), check_right(body), []


add_config_routes(router, "right", "rights", RightIn, prepare_right)


async def save_right(state: AppState, shop_id: str, right_id: str, body: RightIn) -> tuple[VersionRecord, bool]:
    """What ``PUT …/rights/{id}`` does, for callers other than the route (the console):
    the same checks, the same 422s with the same JSON paths, then a new version."""
    stored, errors, _ = prepare_right(body)
    if errors:
        raise ApiError.from_problems(422, "invalid_right", errors)
    return await write_checked(state, shop_id, "right", right_id, stored)


async def shop_report(state: AppState, shop_id: str, timezone: str, only: str | None = None) -> list[dict[str, Any]]:
    """Every right's report (or one's), from the catalog and the counters."""
    bodies = (await config_store.read_all(state.redis, shop_id))["right"]
    counters = await state.render_service.rights.store.counters(shop_id) if state.render_service.rights else {}
    day, into_day = local_day(time.time(), timezone)
    none = Tally.of(counters, "none", day)
    return [
        right_report(Right.from_body(rid, body), Tally.of(counters, rid, day), none, into_day)
        for rid, body in sorted(bodies.items())
        if only is None or rid == only
    ]


@router.get("/v1/shops/{shop}/rights:stats", summary="What every right did: grants, redemptions, spend, budget left, incremental conversions")
async def all_stats(shop: Merchant, state: State) -> dict[str, Any]:
    tz = shop.settings.get("derived", {}).get("timezone", "Asia/Shanghai")
    return {"rights": await shop_report(state, shop.shop_id, tz), "settings": RightsSettings.from_mapping(shop.settings.get("rights", {})).as_dict()}


@router.get("/v1/shops/{shop}/rights/{right_id}/stats", summary="What one right did")
async def one_stats(shop: Merchant, state: State, right_id: ConfigItemId) -> dict[str, Any]:
    tz = shop.settings.get("derived", {}).get("timezone", "Asia/Shanghai")
    found = await shop_report(state, shop.shop_id, tz, right_id)
    if not found:
        raise ApiError(404, "right_not_found", f"There is no right '{right_id}' in this shop.")
    return found[0]


@router.get("/v1/shops/{shop}/rights/{right_id}/audit", summary="The newest decisions that granted (or explored) this right")
async def audit(shop: Merchant, state: State, right_id: ConfigItemId, limit: int = Query(50, ge=1, le=1000)) -> dict[str, Any]:
    if await config_store.get_item(state.redis, shop.shop_id, "right", right_id) is None:
        raise ApiError(404, "right_not_found", f"There is no right '{right_id}' in this shop.")
    store = state.render_service.rights.store if state.render_service.rights else None
    return {"id": right_id, "decisions": await store.audit(shop.shop_id, limit, right_id) if store else []}
