"""Opening the Redis connection: a configured server, or the embedded one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from hiredis import pack_command as hiredis_pack
from redis.asyncio.connection import AbstractConnection

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


class HiredisPacking:
    """Commands packed by hiredis's C ``pack_command`` instead of redis-py's Python loop.

    redis-py's asyncio connection builds every command's bytes in Python (about 30 µs
    for a 17-argument script call, 3 µs in hiredis); a page view sends a dozen commands,
    and a rights grant one more. The bytes are the same (floats as ``repr``, text as
    UTF-8). Anything hiredis does not take goes to redis-py's own packer, so its
    behaviour and errors stay: a command name with a space in it ("CONFIG GET", which
    redis-py splits into words), and arguments that are not text, bytes or numbers
    (``None`` or a bool: redis-py's DataError).
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        name = args[0]
        several_words = " " in name if isinstance(name, str) else isinstance(name, bytes) and b" " in name
        if not several_words:
            try:
                return [hiredis_pack(args)]
            except TypeError:
                pass  # bool, None, memoryview ...: redis-py's packer raises its own error or copes
        return super().pack_command(*args)  # type: ignore[misc]


def with_hiredis_packing(pool: aioredis.ConnectionPool) -> aioredis.ConnectionPool:
    """The pool's connections (TCP, TLS or Unix socket, whichever the URL chose) pack with hiredis.

    hiredis writes text as UTF-8: a pool configured with another encoding keeps redis-py's packer.
    """
    base: type[AbstractConnection] = pool.connection_class
    utf8 = str(pool.connection_kwargs.get("encoding", "utf-8")).lower().replace("-", "").replace("_", "") == "utf8"
    if utf8 and pool.connection_kwargs.get("encoding_errors", "strict") == "strict" and not issubclass(base, HiredisPacking):
        pool.connection_class = type(f"Hiredis{base.__name__}", (HiredisPacking, base), {})
    return pool


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
    client = aioredis.Redis(connection_pool=with_hiredis_packing(pool))
    binary_pool = aioredis.BlockingConnectionPool.from_url(
        url, decode_responses=False, socket_timeout=max(timeout, 2.0), socket_connect_timeout=1.0, max_connections=16, timeout=2.0
    )
    return RedisHandle(client=client, url=url, embedded=embedded, binary=aioredis.Redis(connection_pool=with_hiredis_packing(binary_pool)))
