"""Banner templates, each with the picture every crowd variant gets.

The pictures are the storefront's own: signed, content-addressed ``/banners/…`` URLs
made by ``BannerService.url`` exactly as a render makes them, composed on first fetch
(or found in the cache a template save filled). The variables are the shop's name, the
crowd's name and the shop's most popular products; a live page adds its coupon and
today's occasion.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from app.banners.compose import ProductArt
from app.console.access import MerchantVisit, Visit
from app.serving.banners import CompiledBanner, spec_for

router = APIRouter(include_in_schema=False)
PREVIEW_PRODUCTS = 4


def _variants(v: Visit, banner: CompiledBanner, names: dict[str, str], arts: list[ProductArt]) -> list[dict[str, Any]] | None:
    """Each variant's picture URL (None: the URL signing secret is not loaded yet)."""
    assert v.shop is not None
    out = []
    for crowd in [None, *banner.template.variants]:
        variables = {"shop_name": v.shop.name, "crowd_name": names.get(crowd, crowd or "") if crowd else ""}
        try:
            url = v.state.banners.url(banner, spec_for(v.shop_id, banner, crowd, variables, arts, None, "webp"))
        except RuntimeError:
            return None
        out.append({"crowd": crowd, "name": names.get(crowd, "") if crowd else "", "url": url})
    return out


@router.get("/console/banners")
async def banner_list(v: MerchantVisit) -> Response:
    config = await v.state.snapshots.load_config(v.state.redis, v.shop_id)
    catalog = await v.state.snapshots.catalog(v.state.redis, v.shop_id, None)
    popular = sorted(catalog.catalog.products.values(), key=lambda p: (-catalog.stored_popularity.get(p.id, 0.0), p.id))
    arts = [
        ProductArt(p.title, p.price, p.image if p.image and p.image.startswith("el_") else None) for p in popular[:PREVIEW_PRODUCTS]
    ]
    names = {c.id: c.name for c in config.crowds} if config else {}
    rows = []
    for banner_id, banner in sorted((config.banners if config else {}).items()):
        rows.append(
            {
                "id": banner_id,
                "template": banner.template,
                "variants": _variants(v, banner, names, arts),
                "used_by": sorted(bid for bid, b in config.blocks.items() if b.params.get("banner") == banner_id) if config else [],
            }
        )
    return v.page("console/banners.html.j2", section="banners", rows=rows)
