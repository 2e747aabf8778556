"""Discount rights: the versioned catalog, and what each right did.

    PUT    /v1/shops/{shop}/rights/{id}            create or replace (versioned, 422 on bad combinations)
    GET    /v1/shops/{shop}/rights[/{id}]          the catalog / one right
    GET    /v1/shops/{shop}/rights/{id}/versions   history; POST …:rollback
    GET    /v1/shops/{shop}/rights:stats           granted, redeemed, spend, remaining budget,
                                                   incremental conversions of every right
    GET    /v1/shops/{shop}/rights/{id}/stats      the same for one right
    GET    /v1/shops/{shop}/rights/{id}/audit      its newest decisions (scores, policy version)
    GET    /v1/shops/{shop}/rights:log             every decision joined to its outcome, with the
                                                   feature row the model read: CSV (or JSON lines)
                                                   for ``python -m training uplift train|evaluate``
                                                   (?since, until, explore_only, complete_only,
                                                   limit, format)
"""

import math
import time
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.api.auth import Merchant, State
from app.api.errors import ApiError, Problem
from app.api.routes.configs import ConfigItemId, add_config_routes, write_checked
from app.api.state import AppState
from app.rights.decision_log import Window, csv_chunks, jsonl_chunks
from app.rights.definition import Right, RightIn, check_right
from app.rights.report import Tally, right_report
from app.rights.settings import RightsSettings
from app.store import configs as config_store
from app.store.configs import VersionRecord
from app.store.rights import AUDIT_MAXLEN, RELEASE_GRACE_S, local_day

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


def parse_instant(name: str, text: str | None) -> int | None:
    """A query's time, ISO 8601 with a time zone or epoch seconds, in ms (None: not given)."""
    if text is None or text == "":
        return None
    try:
        ts = float(text)
    except ValueError:
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ApiError(422, "invalid_timestamp", f"'{text[:40]}' is neither an ISO 8601 time nor epoch seconds.", path=f"query:{name}") from None
        if dt.tzinfo is None:  # a shop's local time and UTC are 8 hours apart: never guess
            raise ApiError(422, "missing_timezone", f"{name} needs a time zone (for example +08:00 or Z).", path=f"query:{name}")
        ts = dt.timestamp()
    if not math.isfinite(ts) or not 0 <= ts < 1e11:  # (1e11 s is year 5138: milliseconds sent as seconds)
        raise ApiError(422, "invalid_timestamp", f"{name} must be epoch seconds after 1970 (not milliseconds).", path=f"query:{name}")
    return round(ts * 1000)


@router.get(
    "/v1/shops/{shop}/rights:log",
    summary="Every rights decision joined to its outcome and the feature row the model read (CSV or JSON lines)",
)
async def decision_log(
    shop: Merchant,
    state: State,
    since: str | None = Query(None, max_length=64, description="decided at or after: ISO 8601 with a time zone, or epoch seconds"),
    until: str | None = Query(None, max_length=64, description="decided before"),
    explore_only: bool = Query(False, description="only the randomized (exploration) decisions"),
    complete_only: bool = Query(True, description="only decisions whose term and grace are over (final outcomes)"),
    limit: int = Query(100_000, ge=1, le=AUDIT_MAXLEN),
    format: Literal["csv", "jsonl"] = Query("csv"),
) -> StreamingResponse:
    """Thin: the window from the query, the join in :mod:`app.rights.decision_log`.

    Rows logged under an older feature layout than the window's newest are left out (their
    columns would not line up) and counted in ``X-Rights-Log-Dropped``.
    """
    since_ms, until_ms = parse_instant("since", since), parse_instant("until", until)
    if since_ms is not None and until_ms is not None and until_ms <= since_ms:
        raise ApiError(422, "invalid_window", "until must be after since.", path="query:until")
    window = Window(
        now_ms=round(time.time() * 1000), grace_ms=round(RELEASE_GRACE_S * 1000), since_ms=since_ms, until_ms=until_ms,
        explore_only=explore_only, complete_only=complete_only, limit=limit,
    )
    store = state.render_service.rights.store if state.render_service.rights else None
    if store is None:
        raise ApiError(503, "rights_unavailable", "Rights are not served by this instance.")
    table = await store.decision_log(shop.shop_id, window)
    headers = {
        "X-Rights-Log-Rows": str(len(table.rows)),
        "X-Rights-Log-Truncated": "true" if table.truncated else "false",
        "Content-Disposition": f'attachment; filename="rights-log-{shop.shop_id}.{format}"',
    }
    if table.layout:
        headers["X-Rights-Log-Layout"] = table.layout
    if table.dropped:
        headers["X-Rights-Log-Dropped"] = ", ".join(f"{layout}={n}" for layout, n in sorted(table.dropped.items()))
    if format == "jsonl":
        return StreamingResponse(jsonl_chunks(table), media_type="application/x-ndjson", headers=headers)
    return StreamingResponse(csv_chunks(table), media_type="text/csv; charset=utf-8", headers=headers)
