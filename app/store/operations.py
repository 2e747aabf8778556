"""Stored daily figures of the customer-operations index (the history of its ratios).

One JSON record per local date, replaced each time the index is computed that day;
records older than :data:`KEEP_DAYS` are dropped when a new one is stored.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import redis.asyncio as aioredis

from app.store import keys

KEEP_DAYS = 400


async def save_snapshot(r: aioredis.Redis, shop_id: str, day: date, figures: dict[str, Any]) -> None:
    key = keys.operations_index(shop_id)
    cutoff = (day - timedelta(days=KEEP_DAYS)).isoformat()
    old = [str(d) for d in await r.hkeys(key) if str(d) < cutoff]  # ISO dates sort as text
    async with r.pipeline(transaction=True) as pipe:
        pipe.hset(key, day.isoformat(), json.dumps(figures, separators=(",", ":")))
        if old:
            pipe.hdel(key, *old)
        await pipe.execute()


async def read_snapshots(r: aioredis.Redis, shop_id: str) -> dict[str, dict[str, Any]]:
    """Local date (YYYY-MM-DD) -> that day's figures."""
    raw = await r.hgetall(keys.operations_index(shop_id))
    return {str(day): json.loads(text) for day, text in raw.items()}
