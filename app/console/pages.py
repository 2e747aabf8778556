"""Pages: the list, each crowd's version of a page, and previews as a visitor or a crowd.

A preview is the real render (``RenderService.render``, HTML) with ``preview=True``:
marked as a preview on the page, never logged as an exposure. "As a crowd" forces that
crowd matched and every other one not (``RenderRequest.as_crowd``) for an anonymous
visitor; "as a visitor" decides on that visitor's own profile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from app.api.routes.configs import ConfigItemId
from app.console.access import MerchantVisit, Visit
from app.core.page_versions import crowd_versions, page_crowds
from app.core.profile import Context
from app.serving.render import PageNotFound, RenderOutcome, RenderRequest
from app.serving.snapshots import ShopConfig
from app.store.keys import ID_PATTERN

router = APIRouter(include_in_schema=False)
DEVICES = ("mobile", "desktop")
CROWD_PREVIEW_VISITOR = "console-preview"  # anonymous: nothing of it decides, the forced crowd does
# The storefront page runs in an opaque origin (it may have scripts: countdowns) and only
# the console may frame it.
PREVIEW_HEADERS = {
    "Content-Security-Policy": "sandbox allow-scripts; frame-ancestors 'self'",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}


async def _config(v: Visit) -> ShopConfig | None:
    return await v.state.snapshots.load_config(v.state.redis, v.shop_id)


def _block_summary(config: ShopConfig) -> dict[str, dict[str, Any]]:
    return {
        bid: {"template": b.template, "title": str(b.params.get("title") or b.params.get("body") or "")[:60], "banner": b.params.get("banner")}
        for bid, b in config.blocks.items()
    }


@router.get("/console/pages")
async def page_list(v: MerchantVisit) -> Response:
    config = await _config(v)
    pages = sorted(config.pages.values(), key=lambda p: p.id) if config else []
    rows = [{"page": p, "crowds": page_crowds(p)} for p in pages]
    return v.page("console/pages.html.j2", section="pages", rows=rows)


@dataclass(frozen=True)
class PreviewChoice:
    """The preview asked for in the query, checked; ``problem`` is a message key, or None."""

    visitor: str
    crowd: str
    device: str
    problem: str | None

    @classmethod
    def of(cls, config: ShopConfig, visitor: str | None, crowd: str | None, device: str | None) -> PreviewChoice:
        visitor, crowd = (visitor or "").strip(), (crowd or "").strip()
        problem = None
        if visitor and not ID_PATTERN.match(visitor):
            problem = "pages.bad_visitor"
        elif crowd and crowd not in {c.id for c in config.crowds}:
            problem = "pages.unknown_crowd"
        return cls(visitor, crowd, device if device in DEVICES else "mobile", problem)

    @property
    def wanted(self) -> bool:
        return bool(self.visitor or self.crowd) and self.problem is None

    def request(self, page_id: str, fmt: str) -> RenderRequest:
        return RenderRequest(
            visitor_id=self.visitor or CROWD_PREVIEW_VISITOR,
            page=page_id,
            context=Context(ts=time.time(), device=self.device),
            format=fmt,
            preview=True,
            as_crowd=self.crowd or None,
        )

    def query(self) -> str:
        return urlencode({k: val for k, val in (("visitor", self.visitor), ("crowd", self.crowd), ("device", self.device)) if val})


def preview_query(
    visitor: str | None = Query(default=None, max_length=128),
    crowd: str | None = Query(default=None, max_length=64),
    device: str | None = Query(default=None, max_length=16),
) -> tuple[str | None, str | None, str | None]:
    """The preview the query asks for (visitor, crowd, device), bounded; checked by PreviewChoice."""
    return visitor, crowd, device


AskedPreview = Annotated[tuple[str | None, str | None, str | None], Depends(preview_query)]


async def _render(v: Visit, req: RenderRequest) -> RenderOutcome:
    # The session already opened this shop: nothing more to authorize.
    return await v.state.render_service.render(v.shop_id, req, authorize=lambda cfg: None)


def _no_page(v: Visit, page_id: str) -> Response:
    return v.page("console/error.html.j2", section="pages", status=404, title=v.t("error.not_found"), message=v.t("pages.not_found", id=page_id))


@router.get("/console/pages/{page_id}")
async def page_detail(
    v: MerchantVisit,
    asked: AskedPreview,
    page_id: ConfigItemId,
) -> Response:
    config = await _config(v)
    page = config.pages.get(page_id) if config else None
    if config is None or page is None:
        return _no_page(v, page_id)
    priorities = {c.id: c.priority for c in config.crowds}
    choice = PreviewChoice.of(config, *asked)
    decision = (await _render(v, choice.request(page_id, "json"))).decision if choice.wanted else None
    return v.page(
        "console/page.html.j2",
        section="pages",
        page=page,
        versions=crowd_versions(page, priorities),
        blocks=_block_summary(config),
        crowd_names={c.id: c.name for c in config.crowds},
        crowds=sorted(config.crowds, key=lambda c: (-c.priority, c.id)),
        choice=choice,
        decision=decision,
        devices=DEVICES,
    )


@router.get("/console/pages/{page_id}/preview")
async def page_preview(
    v: MerchantVisit,
    asked: AskedPreview,
    page_id: ConfigItemId,
) -> Response:
    config = await _config(v)
    if config is None:
        return _no_page(v, page_id)
    choice = PreviewChoice.of(config, *asked)
    if choice.problem is not None:
        return v.page("console/error.html.j2", section="pages", status=422, title=v.t("error.refused"), message=v.t(choice.problem))
    try:
        outcome = await _render(v, choice.request(page_id, "html"))
    except PageNotFound:
        return _no_page(v, page_id)
    return HTMLResponse(outcome.html or "", headers=PREVIEW_HEADERS)
