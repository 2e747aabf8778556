"""One load per key in flight: callers who ask while it runs await the same one.

Two places need it. A shop's configuration or catalog snapshot
(:mod:`app.serving.snapshots`): without it, a merchant's change on a busy server makes
every page view in flight rebuild the same snapshot at once, on the one event loop. And
the script lane's connection (:mod:`app.store.script_lane`): the first burst of grants
after a start or a lost connection opens one connection, not one each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class SharedLoads:
    """At most one load per key (and event loop) in flight; callers who ask meanwhile
    await the same one.

    The load is shielded: a caller that gives up (its timeout) does not cancel it for the
    others, and its result is still there for the next caller. A load that fails is
    forgotten, so the next caller starts a new one.
    """

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[Any]] = {}

    async def run(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        task = self._running.get(key)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(load())
            self._running[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task)

    def _forget(self, key: str, done: asyncio.Future[Any]) -> None:
        if self._running.get(key) is done:
            del self._running[key]
        if not done.cancelled():
            done.exception()  # (retrieved: if every caller gave up, the error is not "never retrieved")
