"""Composed banner pictures in Redis: a cache bounded by bytes, least recently used out.

A picture is a string key named by its digest; beside it a sorted set keeps each
picture's last use and a counter keeps the bytes of them all. Storing is one script
call that also evicts the oldest pictures until the total is within the budget, so the
cache never grows past it whatever merchants save. A read marks the picture as used in
the same round trip. Pictures are content-addressed, so an evicted one is only composed
again the next time somebody asks for it.
"""

from __future__ import annotations

import time
from importlib import resources

import redis.asyncio as aioredis

from app.store import keys

_PUT_LUA = resources.files("app.store").joinpath("lua/picture_put.lua").read_text()
DEFAULT_BUDGET_BYTES = 512 * 1024 * 1024


_last_stamp = 0


def _use_stamp() -> int:
    """When a picture is stored or read, for its place in the LRU order: microseconds,
    strictly increasing within this process. Milliseconds tied on a fast machine (a put
    and the read after it in the same one), and a tie is ordered by name, not by use."""
    global _last_stamp
    _last_stamp = max(time.time_ns() // 1000, _last_stamp + 1)
    return _last_stamp


async def get_picture(r: aioredis.Redis, digest: str, fmt: str) -> bytes | None:
    """The picture's bytes (marked as just used), or None. ``r`` answers bytes."""
    name = keys.banner_name(digest, fmt)
    async with r.pipeline(transaction=False) as pipe:
        pipe.get(keys.banner_image(digest, fmt))
        pipe.zadd(keys.BANNER_LRU, {name: _use_stamp()}, xx=True)  # xx: never resurrect an evicted name
        data, _ = await pipe.execute()
    return data  # type: ignore[no-any-return]


async def has_picture(r: aioredis.Redis, digest: str, fmt: str) -> bool:
    return bool(await r.exists(keys.banner_image(digest, fmt)))


async def put_picture(r: aioredis.Redis, digest: str, fmt: str, data: bytes, *, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> int:
    """Store a picture; the number of older pictures evicted to stay within the budget."""
    script = r.register_script(_PUT_LUA)
    evicted = await script(
        keys=[keys.BANNER_LRU, keys.BANNER_BYTES, keys.banner_image(digest, fmt)],
        args=[keys.banner_name(digest, fmt), data, _use_stamp(), budget_bytes, keys.BANNER_PREFIX],
    )
    return int(evicted)


async def cache_usage(r: aioredis.Redis) -> tuple[int, int]:
    """(pictures, bytes) in the cache."""
    async with r.pipeline(transaction=False) as pipe:
        pipe.zcard(keys.BANNER_LRU)
        pipe.get(keys.BANNER_BYTES)
        count, total = await pipe.execute()
    return int(count), int(total or 0)
