"""A shop's products in Redis: one hash of product JSON, a version, the popularity set and
the engagement counters (app.core.engagement)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from app.core.catalog import Product
from app.core.engagement import COUNTERS, Engagement
from app.store import keys

_UPSERT_CHUNK = 1000


async def upsert_products(r: aioredis.Redis, shop_id: str, products: Sequence[Product]) -> tuple[int, int]:
    """Insert or replace products in one transaction; returns (created, updated).

    A product keeps the time it first entered the catalog (``added_at``) across updates
    unless the merchant sets one, so "new arrival" means new to the shop.
    """
    if not products:
        return 0, 0
    pkey = keys.products(shop_id)
    existing: list[str | None] = []
    ids = [p.id for p in products]
    for i in range(0, len(ids), _UPSERT_CHUNK):
        existing.extend(await r.hmget(pkey, ids[i : i + _UPSERT_CHUNK]))
    now = time.time()
    mapping: dict[str, str] = {}
    created = 0
    for p, old in zip(products, existing, strict=True):
        d = p.as_dict()
        if d["added_at"] is None:
            d["added_at"] = json.loads(old).get("added_at", now) if old else now
        created += old is None
        mapping[p.id] = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
    async with r.pipeline(transaction=True) as pipe:
        pipe.hset(pkey, mapping=mapping)
        pipe.incr(keys.catalog_version(shop_id))
        await pipe.execute()
    return created, len(products) - created


async def get_product(r: aioredis.Redis, shop_id: str, product_id: str) -> Product | None:
    raw = await r.hget(keys.products(shop_id), product_id)
    return Product.from_dict(json.loads(raw)) if raw else None


async def delete_product(r: aioredis.Redis, shop_id: str, product_id: str) -> bool:
    async with r.pipeline(transaction=True) as pipe:
        pipe.hdel(keys.products(shop_id), product_id)
        pipe.zrem(keys.popularity(shop_id), product_id)
        for counter in COUNTERS:
            pipe.hdel(keys.engagement(shop_id, counter), product_id)
        pipe.incr(keys.catalog_version(shop_id))
        deleted, *_ = await pipe.execute()
    return bool(deleted)


async def load_catalog(r: aioredis.Redis, shop_id: str) -> tuple[int, list[Product]]:
    """The catalog with the version it was read at (one transaction: no torn read)."""
    async with r.pipeline(transaction=True) as pipe:
        pipe.get(keys.catalog_version(shop_id))
        pipe.hgetall(keys.products(shop_id))
        ver, raw = await pipe.execute()
    return int(ver or 0), [Product.from_dict(json.loads(v)) for v in raw.values()]


def queue_engagement_read(pipe: Any, shop_id: str) -> None:
    """Add the reads of every engagement counter to a pipeline (see :func:`engagement_from_replies`)."""
    for counter in COUNTERS:
        pipe.hgetall(keys.engagement(shop_id, counter))


def engagement_from_replies(replies: Sequence[Mapping[str, str]]) -> Engagement:
    return Engagement.of({c: {pid: int(n) for pid, n in raw.items()} for c, raw in zip(COUNTERS, replies, strict=True)})


async def load_engagement(r: aioredis.Redis, shop_id: str) -> Engagement:
    """Every product's engagement counters, read in one transaction (no torn totals)."""
    async with r.pipeline(transaction=True) as pipe:
        queue_engagement_read(pipe, shop_id)
        return engagement_from_replies(await pipe.execute())


def queue_impressions(pipe: Any, shop_id: str, increments: Mapping[str, int]) -> None:
    """Add products' impressions (app.core.engagement.exposure_increments) to a pipeline."""
    key = keys.engagement(shop_id, "impressions")
    for pid, n in increments.items():
        pipe.hincrby(key, pid, n)


async def count_products(r: aioredis.Redis, shop_id: str) -> int:
    return int(await r.hlen(keys.products(shop_id)))
