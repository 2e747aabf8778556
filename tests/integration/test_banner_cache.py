"""The Redis cache of composed banners stays within its byte budget, oldest use out.

It runs on a database of its own on the session's embedded Redis: the cache's keys are
global (pictures are content-addressed), and a tiny budget must not evict other tests'.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from app.store import keys
from app.store.pictures import cache_usage, get_picture, has_picture, put_picture

KB = 1024


@pytest.fixture
def cache_db(client: TestClient) -> Iterator[str]:
    sock = str(client.app.state.storefront.handle.embedded.socket_path)
    yield sock
    asyncio.run(_flush(sock))


async def _flush(sock: str) -> None:
    async with aioredis.Redis(unix_socket_path=sock, db=7) as r:
        await r.flushdb()


def run(sock: str, steps) -> object:  # type: ignore[no-untyped-def]
    async def go() -> object:
        async with aioredis.Redis(unix_socket_path=sock, db=7) as r:
            await r.flushdb()
            return await steps(r)

    return asyncio.run(go())


def test_the_least_recently_used_pictures_go_first_when_over_budget(cache_db: str) -> None:
    async def steps(r: aioredis.Redis) -> None:
        for name in "abcd":  # 4 × 10 KB within a 45 KB budget
            assert await put_picture(r, name, "webp", name.encode() * 10 * KB, budget_bytes=45 * KB) == 0
        assert await cache_usage(r) == (4, 40 * KB)
        assert await get_picture(r, "a", "webp") == b"a" * 10 * KB  # "a" is used again: "b" is now the oldest
        assert await put_picture(r, "e", "webp", b"e" * 10 * KB, budget_bytes=45 * KB) == 1
        assert not await has_picture(r, "b", "webp")
        assert all([await has_picture(r, n, "webp") for n in "acde"])
        assert await cache_usage(r) == (4, 40 * KB)
        # a big one pushes out as many as it needs, never itself
        assert await put_picture(r, "big", "png", b"x" * 30 * KB, budget_bytes=45 * KB) == 3
        assert await cache_usage(r) == (2, 40 * KB)
        assert await has_picture(r, "big", "png") and await has_picture(r, "e", "webp")
        # storing the same picture again does not count its bytes twice
        await put_picture(r, "e", "webp", b"e" * 10 * KB, budget_bytes=45 * KB)
        assert await cache_usage(r) == (2, 40 * KB)
        # a picture alone over the budget is still kept (and served): it is the one asked for
        assert await put_picture(r, "huge", "png", b"h" * 60 * KB, budget_bytes=45 * KB) == 2
        assert await cache_usage(r) == (1, 60 * KB)
        assert await r.exists(keys.banner_image("huge", "png"))

    run(cache_db, steps)


def test_a_read_of_an_evicted_picture_does_not_bring_its_name_back(cache_db: str) -> None:
    async def steps(r: aioredis.Redis) -> None:
        assert await get_picture(r, "gone", "jpg") is None
        assert await cache_usage(r) == (0, 0)

    run(cache_db, steps)
