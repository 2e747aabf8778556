"""The attributes of a sample of the shop's known visitors, for crowd sizes, overlaps and previews.

Known visitors are those the merchant's CRM import named: the population a crowd
preview counts (anonymous visitors have too little to say for most rules). Profiles
are read in pipelined batches; deriving the attributes is CPU work, done in a worker
thread so the event loop keeps serving.
"""

from __future__ import annotations

from typing import Any

import anyio
import redis.asyncio as aioredis

from app.core.attributes import visitor_attributes
from app.core.crowd_editor import preview
from app.core.derived import DerivedSettings
from app.core.profile import Context
from app.serving.snapshots import Snapshots
from app.store import visitors as visitor_store
from app.store.shops import ShopRecord

DEFAULT_SAMPLE = 20_000


async def known_visitor_attributes(
    r: aioredis.Redis, shop: ShopRecord, *, limit: int = DEFAULT_SAMPLE, now: float
) -> tuple[int, list[dict[str, Any]]]:
    """(number of known visitors, the attributes of up to ``limit`` of them) as of ``now``."""
    total = await visitor_store.count_known_visitors(r, shop.shop_id)
    profiles = [p async for _, p in visitor_store.iter_known_visitors(r, shop.shop_id, limit=limit)]
    settings = DerivedSettings.from_mapping(shop.settings.get("derived", {}))
    context = Context(ts=now)

    def derive_all() -> list[dict[str, Any]]:
        return [visitor_attributes(p.known, p.behaviour, context, settings, spend_rank_pct=p.spend_rank_pct) for p in profiles]

    return total, await anyio.to_thread.run_sync(derive_all)


async def rule_preview(
    r: aioredis.Redis, snapshots: Snapshots, shop: ShopRecord, condition: dict[str, Any], *, sample: int, now: float
) -> dict[str, Any]:
    """A (valid) rule's matches among the sampled known visitors, and its overlap with each crowd."""
    total, attrs = await known_visitor_attributes(r, shop, limit=sample, now=now)
    config = await snapshots.load_config(r, shop.shop_id)
    crowds = list(config.crowds) if config else []
    # Evaluating thousands of visitors is CPU work: keep it off the event loop.
    result = await anyio.to_thread.run_sync(preview, condition, crowds, attrs)
    return {"known_visitors": total, "sampled": len(attrs) < total, **result}
