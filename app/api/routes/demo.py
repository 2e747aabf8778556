"""The public demo page: two visitors of a demo shop, two storefronts, side by side.

Only shops created by ``storefront demo`` (flagged as demo) are shown here, without a
key; renders are previews, so the demo does not pollute exposure logs.
"""

import time
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.auth import State
from app.api.errors import ApiError
from app.core.profile import Context
from app.rendering.html import DemoPanel
from app.serving.render import Forbidden, PageNotFound, RenderRequest
from app.serving.snapshots import ShopConfig
from app.store import shops as shop_store
from app.store.keys import SHOP_ID_PATTERN

router = APIRouter(tags=["demo"], include_in_schema=False)


def _demo_only(config: ShopConfig) -> None:
    if not config.shop.demo:
        raise Forbidden()


@router.get("/")
async def home(state: State) -> Response:
    for shop_id in await shop_store.list_shops(state.redis):
        record = await shop_store.get_shop(state.redis, shop_id)
        if record is not None and record.demo:
            return RedirectResponse(f"/demo/{shop_id}")
    return HTMLResponse(
        "<!doctype html><meta charset=utf-8><title>Storefront</title>"
        "<h1>Storefront personalization service</h1>"
        "<p>No demo shop yet: run <code>storefront demo</code>. API documentation: <a href=/docs>/docs</a>.</p>"
    )


@router.get("/demo/{shop}")
async def demo(
    shop: str,
    state: State,
    a: str | None = Query(default=None, max_length=128),
    b: str | None = Query(default=None, max_length=128),
    page: str = Query(default="home", max_length=64),
) -> HTMLResponse:
    record = await shop_store.get_shop(state.redis, shop) if SHOP_ID_PATTERN.match(shop) else None
    if record is None or not record.demo:
        raise ApiError(404, "not_found", "There is no demo shop with this id.")
    samples: list[dict[str, Any]] = record.settings.get("demo_visitors", [])
    described = {s["visitor_id"]: s.get("description", "") for s in samples}
    chosen = [a or (samples[0]["visitor_id"] if samples else "visitor-a"), b or (samples[1]["visitor_id"] if len(samples) > 1 else "visitor-b")]
    panels = []
    for visitor_id in chosen:
        req = RenderRequest(visitor_id=visitor_id, page=page, context=Context(ts=time.time(), device="mobile"), format="html", preview=True)
        try:
            outcome = await state.render_service.render(shop, req, authorize=_demo_only)
        except (Forbidden, PageNotFound):
            raise ApiError(404, "not_found", f"The demo shop has no page '{page}'.") from None
        panels.append(
            DemoPanel(
                visitor_id=visitor_id,
                description=described.get(visitor_id, ""),
                crowds=[c.id for c in outcome.decision.crowds if c.matched],
                html=outcome.html or "",
            )
        )
    html = state.page_renderer.render_demo(
        record.name, panels, sample_visitors=[(s["visitor_id"], s.get("description", "")) for s in samples]
    )
    return HTMLResponse(html)
