"""One Lua script on the page-view path, called over its own pipelined connection.

A rights grant is the one Redis call a render waits on after its first round trip.
Through redis-py's asyncio client every call checks a connection out of the pool,
writes, reads through a stream reader and checks the connection back in; measured by
``bench/grant_bench.py`` (the whole grant, with the script's time in Redis), that
path takes 0.57–0.73 ms at p50, this lane 0.34–0.45; at p99 1.05–4.3 ms against
0.73–1.4, the wider figures when the machine was noisier.

A lane keeps one connection per event loop and writes every call to it at once,
whoever else is waiting: Redis answers a connection's commands in the order they were
sent, so replies go to their callers first in, first out, with no pool and no lock.
Commands are packed and replies parsed by hiredis (C), as the pool's connections do.

What a lane does not speak (TLS, a credential provider) is left to redis-py: the lane
then calls the pool's own script object (:attr:`ScriptLane.direct` is false). A lane
never retries a call: a grant that may have run must not run twice. A connection that
breaks fails the calls written to it, and the next call opens a new one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.store.shared_loads import SharedLoads

Arg = str | int | float | bytes
LANE_NAME = "storefront-script-lane"


def _pack(command: tuple[Arg, ...]) -> bytes:
    # (hiredis's stub types its argument as a tuple of one item; it takes any length)
    return hiredis.pack_command(cast(Any, command))


class _Replies(asyncio.Protocol):
    """The connection's reading side: each complete reply goes to the oldest waiting call."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.lost_because = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports, which the served app runs on, are not asyncio.Transport
        # subclasses: no isinstance check, only the methods used)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as exc:  # not Redis speaking: nothing after it can be matched
                self._drop(f"not a Redis reply ({exc})")
                return
            if reply is False:
                return
            if not self.waiting:
                self._drop("a reply nobody asked for")
                return
            waiter = self.waiting.popleft()
            if not waiter.done():  # (a caller that gave up still had its reply in line)
                waiter.set_result(reply)

    def _drop(self, why: str) -> None:
        self.lost_because = why
        if self.transport is not None:
            self.transport.abort()  # connection_lost fails every waiting call

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        why = self.lost_because or (str(exc) if exc else "")
        error = RedisConnectionError(f"Redis connection lost{f': {why}' if why else ''}")
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        assert self.transport is not None
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        self.transport.write(packed)
        return waiter


class ScriptLane:
    """``await lane(keys=..., args=...)`` runs ``script`` as redis-py's ``Script`` would
    (EVALSHA, EVAL when the server does not have it yet), with replies as bytes."""

    def __init__(self, client: aioredis.Redis, script: str, name: str = LANE_NAME) -> None:
        self.script = script
        self.name = name  # the connection's CLIENT SETNAME, for an operator's CLIENT LIST
        self.sha = hashlib.sha1(script.encode()).hexdigest()
        pool = client.connection_pool
        self._kw = dict(pool.connection_kwargs)
        cls = pool.connection_class
        # the pool's class may be a subclass that only packs differently (app.store.client);
        # a TLS connection (SSLConnection, a Connection subclass too) is left to redis-py
        self._unix = issubclass(cls, UnixDomainSocketConnection)
        plain_tcp = issubclass(cls, Connection) and not issubclass(cls, SSLConnection)
        self.direct = (self._unix or plain_tcp) and self._kw.get("credential_provider") is None
        self._fallback = client.register_script(script)
        self._timeout: float | None = self._kw.get("socket_timeout")
        self._replies: _Replies | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opens = SharedLoads()  # concurrent first calls share one connection attempt

    async def __call__(self, *, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        if not self.direct:
            return await self._fallback(keys=keys, args=args)
        replies = self._replies
        if replies is None or replies.closed or self._loop is not asyncio.get_running_loop():
            replies = await self._open()
        head = ("EVALSHA", self.sha, len(keys), *keys, *args)
        reply = await self._await(replies, replies.send(_pack(head)))
        if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT"):
            # a server restarted or flushed since the last call: send the whole script,
            # which also caches it there for the next call
            reply = await self._await(replies, replies.send(_pack(("EVAL", self.script, *head[2:]))))
        if isinstance(reply, hiredis.ReplyError):
            message = str(reply)
            raise NoScriptError(message) if message.startswith("NOSCRIPT") else ResponseError(message)
        return reply

    async def _await(self, replies: _Replies, waiter: asyncio.Future[Any]) -> Any:
        if self._timeout is None:
            return await waiter
        try:
            async with asyncio.timeout(self._timeout):
                return await waiter
        except TimeoutError:
            # the server may be stuck, or the socket half dead: drop the connection (its
            # other calls fail now rather than at their own deadlines) and reconnect next time
            if replies.transport is not None:
                replies.transport.abort()
            raise RedisTimeoutError(f"Redis did not answer the script within {self._timeout} s") from None

    async def _open(self) -> _Replies:
        return await self._opens.run("connection", self._reopen)

    async def _reopen(self) -> _Replies:
        loop = asyncio.get_running_loop()
        old = self._replies
        if old is not None and old.transport is not None and self._loop is loop:
            old.transport.close()
        self._loop, self._replies = loop, None
        self._replies = await self._connect(loop)
        return self._replies

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Replies:
        kw = self._kw
        # AUTH first: a server with a password answers nothing else before it
        hello: list[tuple[Arg, ...]] = []
        if kw.get("password") is not None:
            user = kw.get("username")
            hello.append(("AUTH", user, kw["password"]) if user else ("AUTH", kw["password"]))
        if kw.get("db"):
            hello.append(("SELECT", kw["db"]))
        hello.append(("CLIENT", "SETNAME", self.name))
        replies: _Replies | None = None
        try:
            async with asyncio.timeout(kw.get("socket_connect_timeout") or self._timeout):
                if self._unix:
                    _, replies = await loop.create_unix_connection(_Replies, kw["path"])
                else:
                    _, replies = await loop.create_connection(_Replies, kw.get("host", "localhost"), kw.get("port", 6379))
                for command in hello:
                    answer = await replies.send(_pack(command))
                    if isinstance(answer, hiredis.ReplyError):
                        raise RedisConnectionError(f"Redis refused the script lane's {command[0]!s}: {answer}")
            return replies
        except BaseException as exc:
            if replies is not None and replies.transport is not None:
                replies.transport.close()
            if isinstance(exc, TimeoutError):
                raise RedisTimeoutError("Redis did not accept the script lane's connection in time") from None
            if isinstance(exc, OSError):
                raise RedisConnectionError(f"could not connect the script lane to Redis: {exc}") from exc
            raise

    async def aclose(self) -> None:
        replies, self._replies = self._replies, None
        if replies is not None and replies.transport is not None and self._loop is asyncio.get_running_loop():
            replies.transport.close()
