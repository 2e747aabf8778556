"""Opening the Redis connection: a configured server, or the embedded one."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from app.config import Settings
from app.store.embedded import EmbeddedRedis


@dataclass
class RedisHandle:
    """The client the service uses, and the embedded server behind it, if any."""

    client: aioredis.Redis
    url: str
    embedded: EmbeddedRedis | None
    binary: aioredis.Redis | None = None  # replies as bytes: pictures, fonts, banners

    async def close(self) -> None:
        await self.client.aclose()
        if self.binary is not None:
            await self.binary.aclose()
        if self.embedded is not None:
            self.embedded.stop()


def open_redis(settings: Settings, *, start_embedded: bool = True) -> RedisHandle:
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if url is None:
        embedded = EmbeddedRedis(settings.data_dir, settings.redis_fsync)
        url = embedded.start() if start_embedded else embedded.url
    timeout = settings.redis_timeout_ms / 1000
    # A blocking pool: under a burst, a request waits briefly for a free connection
    # instead of failing with "too many connections".
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        socket_timeout=max(timeout, 2.0),  # admin calls may scan; the hot path sets its own deadline
        socket_connect_timeout=1.0,
        health_check_interval=30,
        max_connections=64,
        timeout=2.0,
    )
    client = aioredis.Redis(connection_pool=pool)
    binary_pool = aioredis.BlockingConnectionPool.from_url(
        url, decode_responses=False, socket_timeout=max(timeout, 2.0), socket_connect_timeout=1.0, max_connections=16, timeout=2.0
    )
    return RedisHandle(client=client, url=url, embedded=embedded, binary=aioredis.Redis(connection_pool=binary_pool))
