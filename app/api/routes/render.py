"""The storefront's call on every page view."""

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app.api.auth import ShopId, State, Token
from app.api.errors import ApiError, Problem
from app.api.schemas import RenderIn
from app.core.decision import PageDecision
from app.core.events import parse_timestamp
from app.core.profile import Context
from app.serving.render import Forbidden, PageNotFound, RenderRequest, check_key
from app.store.shops import ROLE_MERCHANT, ROLE_STOREFRONT

router = APIRouter(tags=["render"])
MAX_CONTEXT_KEYS = 50


def decision_json(d: PageDecision) -> dict[str, Any]:
    return {
        "render_id": d.render_id,
        "shop_id": d.shop_id,
        "visitor_id": d.visitor_id,
        "page": d.page_id,
        "model_version": d.model_version,
        "ranker_version": d.ranker_version,
        "crowds": [
            {"id": c.id, "score": c.score, "source": c.source, "matched": c.matched, "priority": c.priority, "reason": c.reason}
            for c in d.crowds
        ],
        "slots": [
            {
                "slot_id": s.slot_id,
                "block_id": s.block_id,
                "template": s.template,
                "crowd": s.crowd,
                "reason": s.reason,
                "params": s.params,
                "products": [{"id": p.id, "score": p.score, "reason": p.reason} for p in s.products],
            }
            for s in d.slots
        ],
        "fallbacks": [{"step": f.step, "reason": f.reason, "served": f.served} for f in d.fallbacks],
        "in_holdout": d.in_holdout,
        "personalized": d.personalized,
        "experiments": [a.as_dict() for a in d.experiments],
        "rights": d.rights,
    }


def build_context(body: RenderIn, now: float) -> Context:
    ctx = body.context
    extra = {k: v for k, v in (ctx.model_extra or {}).items()}
    problems: list[Problem] = []
    if len(extra) > MAX_CONTEXT_KEYS:
        problems.append(Problem("$.context", "too_many", f"context may carry at most {MAX_CONTEXT_KEYS} keys."))
    for k, v in extra.items():
        if not (v is None or isinstance(v, str | int | float | bool)) or (isinstance(v, str) and len(v) > 256):
            problems.append(Problem(f"$.context.{k}", "wrong_type", "context values must be short text, numbers or booleans."))
    ts = now
    if ctx.ts is not None:
        parsed, err = parse_timestamp(ctx.ts, "$.context.ts", now)
        if err:
            problems.append(Problem(err.path, err.code, err.message))
        elif parsed is not None:
            ts = parsed
    if problems:
        raise ApiError.from_problems(422, "invalid_request", problems)
    return Context(ts=ts, device=ctx.device, channel=ctx.channel, region=ctx.region, extra=extra)


@router.post("/v1/shops/{shop}/render", summary="What this visitor should see on this page")
async def render(body: RenderIn, shop: ShopId, token: Token, state: State) -> Response:
    req = RenderRequest(
        visitor_id=body.visitor_id,
        page=body.page,
        context=build_context(body, time.time()),
        format=body.format,
        preview=body.preview,
        personalized=body.personalized,
    )
    # A preview (not logged as an exposure) is the merchant's; storefronts render for real.
    roles = (ROLE_MERCHANT,) if body.preview else (ROLE_STOREFRONT, ROLE_MERCHANT)
    try:
        outcome = await state.render_service.render(
            shop, req, authorize=lambda cfg: check_key(cfg, token, roles=roles)
        )
    except Forbidden:
        raise ApiError(403, "forbidden", "This key does not give access to this shop.") from None
    except PageNotFound as exc:
        raise ApiError(
            404, "page_not_found", f"There is no page '{exc.page_id}' in this shop.", path="$.page", extra={"pages": exc.known}
        ) from None
    headers = {"X-Render-Id": outcome.decision.render_id, "Cache-Control": "no-store"}
    if outcome.decision.fallbacks:
        # An HTML answer has no JSON trace: the header tells the storefront which steps fell back.
        headers["X-Render-Fallbacks"] = ",".join(dict.fromkeys(f.step for f in outcome.decision.fallbacks))
    if outcome.html is not None:
        return HTMLResponse(outcome.html, headers=headers)
    return JSONResponse(decision_json(outcome.decision), headers=headers)
