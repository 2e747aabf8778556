"""The customer-operations index of a shop, read from Redis and computed (app.core.operations_index).

Computed on demand (the console's overview), over every visitor up to
:data:`MAX_VISITORS`; beyond that the first ones found form a sample and the result
says so. Each computation stores the day's figures, from which the ratios' history
is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
import redis.asyncio as aioredis

from app.core.derived import DerivedSettings
from app.core.operations_index import (
    OperationsIndex,
    compute_index,
    customer_facts,
    local_today,
    snapshot,
)
from app.store import operations as operations_store
from app.store import visitors as visitor_store
from app.store.shops import ShopRecord

MAX_VISITORS = 50_000


@dataclass(frozen=True)
class ComputedIndex:
    index: OperationsIndex
    sampled: bool  # the shop has more visitors than were counted
    snapshots: dict[str, dict[str, Any]]  # local date -> stored figures, today's included


async def operations_index(r: aioredis.Redis, shop: ShopRecord, *, now: float, limit: int = MAX_VISITORS) -> ComputedIndex:
    ids, more = await visitor_store.visitor_ids(r, shop.shop_id, limit=limit)
    profiles = [p async for _, p in visitor_store.iter_profiles(r, shop.shop_id, ids)]
    settings = DerivedSettings.from_mapping(shop.settings.get("derived", {}))

    def compute() -> OperationsIndex:  # ~50 µs of derived attributes per visitor: off the loop
        facts = [customer_facts(p.known, p.behaviour, now, settings, spend_rank_pct=p.spend_rank_pct) for p in profiles]
        return compute_index(facts, local_today(now, settings))

    index = await anyio.to_thread.run_sync(compute)
    await operations_store.save_snapshot(r, shop.shop_id, index.today, snapshot(index))
    return ComputedIndex(index, more, await operations_store.read_snapshots(r, shop.shop_id))
