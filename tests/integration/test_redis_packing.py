"""Commands packed by hiredis reach the real Redis exactly as redis-py's own packer sends them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError

from app.store.client import HiredisPacking, with_hiredis_packing

DB = 9  # a database of its own: the test flushes it

ARGUMENTS: list[Any] = ["plain", "中文 and émoji 🎁", b"\x00\xffbytes", 0, -17, 10**20, 0.1, 1 / 3, 1e20, -0.0, "", "a\r\nb"]


@pytest.fixture
def sock(client: TestClient) -> Iterator[str]:
    yield str(client.app.state.storefront.handle.embedded.socket_path)


def test_the_bytes_are_redis_pys_own_for_every_argument_kind() -> None:
    fast, plain = type("Fast", (HiredisPacking, Connection), {})(), Connection()
    for arg in ARGUMENTS:
        assert b"".join(fast.pack_command("SET", "k", arg)) == b"".join(plain.pack_command("SET", "k", arg)), arg
    many = ("EVALSHA", "a" * 40, 4, *(f"k{i}" for i in range(4)), *ARGUMENTS)
    assert b"".join(fast.pack_command(*many)) == b"".join(plain.pack_command(*many))


def test_what_hiredis_does_not_take_keeps_redis_pys_behaviour() -> None:
    fast, plain = type("Fast", (HiredisPacking, Connection), {})(), Connection()
    # a command name of two words is split into two by redis-py
    assert b"".join(fast.pack_command("CONFIG GET", "maxmemory")) == b"".join(plain.pack_command("CONFIG GET", "maxmemory"))
    assert fast.pack_command("CONFIG GET", "x")[0].startswith(b"*3\r\n")
    view = memoryview(b"x" * 10)
    assert b"".join(fast.pack_command("SET", "k", view)) == b"".join(plain.pack_command("SET", "k", view))
    for bad in (None, True, [1]):
        with pytest.raises(DataError):
            fast.pack_command("SET", "k", bad)


def test_the_pool_keeps_its_connection_kind_and_another_encoding_keeps_redis_pys_packer() -> None:
    unix = with_hiredis_packing(aioredis.ConnectionPool.from_url("unix:///tmp/nowhere.sock"))
    assert issubclass(unix.connection_class, HiredisPacking) and issubclass(unix.connection_class, UnixDomainSocketConnection)
    again = with_hiredis_packing(unix)
    assert again.connection_class is unix.connection_class  # wrapping twice changes nothing
    tcp = with_hiredis_packing(aioredis.ConnectionPool.from_url("redis://localhost:1"))
    assert issubclass(tcp.connection_class, HiredisPacking) and issubclass(tcp.connection_class, Connection)
    latin = with_hiredis_packing(aioredis.ConnectionPool.from_url("redis://localhost:1", encoding="latin-1"))
    assert not issubclass(latin.connection_class, HiredisPacking)


def test_values_round_trip_through_the_real_redis(sock: str) -> None:
    async def go() -> list[Any]:
        pool = with_hiredis_packing(aioredis.ConnectionPool(connection_class=UnixDomainSocketConnection, path=sock, db=DB))
        async with aioredis.Redis(connection_pool=pool) as r:
            await r.flushdb()
            try:
                async with r.pipeline(transaction=True) as pipe:
                    for i, arg in enumerate(ARGUMENTS):
                        pipe.set(f"k{i}", arg)
                    await pipe.execute()
                got = [await r.get(f"k{i}") for i in range(len(ARGUMENTS))]
                got.append(await r.eval("return ARGV[1] .. '|' .. KEYS[1]", 1, "键", "值 \r\n"))
                got.append(await r.config_get("maxmemory-policy"))  # a two-word command
                return got
            finally:
                await r.flushdb()

    got = asyncio.run(go())
    expected = [a if isinstance(a, bytes) else (repr(a) if isinstance(a, float) else str(a)).encode() for a in ARGUMENTS]
    assert got[: len(ARGUMENTS)] == expected
    assert got[-2] == "值 \r\n|键".encode()
    assert set(got[-1]) == {"maxmemory-policy"}  # redis-py decodes CONFIG GET's keys itself


def test_the_service_pools_pack_with_hiredis(client: TestClient) -> None:
    handle = client.app.state.storefront.handle
    for r in (handle.client, handle.binary):
        assert issubclass(r.connection_pool.connection_class, HiredisPacking)
