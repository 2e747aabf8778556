"""The exposure log: one entry per (non-preview) render, written in batches.

A render hands its entry (and its visitor's experiment exposures) over and answers at once; a background task writes what
has gathered every ``interval_s`` (or sooner when ``batch`` entries wait) in one
pipeline: one round trip (and, with ``STOREFRONT_REDIS_FSYNC=always``, one disk flush)
per batch instead of one per page view. A crash of the service loses at most the entries of
one interval; a clean shutdown flushes them all.

The same batch adds the shown products' impressions to the engagement counters
(app.core.engagement), summed per product over the batch first: one HINCRBY per
product and batch, not one per product and render.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.experiments.attribution import Exposure
from app.store import experiments as experiment_store
from app.store.catalog import queue_impressions
from app.store.visitors import queue_exposure

log = logging.getLogger("storefront.exposures")


class ExposureLog:
    def __init__(self, redis: aioredis.Redis, *, interval_s: float = 0.05, batch: int = 500, max_pending: int = 100_000) -> None:
        self.redis = redis
        self.interval_s = interval_s
        self.batch = batch
        self.max_pending = max_pending
        self._first: list[tuple[str, str, int, str, Exposure]] = []  # shop, experiment, phase, visitor, exposure
        # (shop, experiment, phase, visitor) recently sent: a returning visitor's page views
        # need no more writes (Redis keeps the first exposure anyway, HSETNX).
        self._sent: OrderedDict[tuple[str, str, int, str], None] = OrderedDict()
        self.sent_memory = 200_000
        self._pending: list[tuple[str, Mapping[str, str], Mapping[str, int]]] = []
        self._first_script = redis.register_script(experiment_store.FIRST_EXPOSURES_LUA)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.dropped = 0  # entries given up because Redis stayed down and the buffer was full

    def add(self, shop_id: str, fields: Mapping[str, str], impressions: Mapping[str, int] | None = None) -> None:
        """Queue one render's entry and the impressions of the products it showed."""
        if len(self._pending) >= self.max_pending:
            self.dropped += 1  # Redis is down for long: keep memory bounded, count the loss
            return
        self._pending.append((shop_id, fields, impressions or {}))
        if len(self._pending) >= self.batch:
            self._wake.set()

    def expose(self, shop_id: str, exp_id: str, phase: int, visitor_id: str, exposure: Exposure) -> None:
        """Record a visitor's first exposure to an experiment phase (later ones are no-ops)."""
        key = (shop_id, exp_id, phase, visitor_id)
        if key in self._sent:
            self._sent.move_to_end(key)
            return
        if len(self._first) >= self.max_pending:
            self.dropped += 1
            return
        self._sent[key] = None
        if len(self._sent) > self.sent_memory:
            self._sent.popitem(last=False)
        self._first.append((shop_id, exp_id, phase, visitor_id, exposure))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self.flush()

    async def flush(self) -> int:
        if not self._pending and not self._first:
            return 0
        entries, self._pending = self._pending, []
        firsts, self._first = self._first, []
        shown: dict[str, dict[str, int]] = {}
        for shop_id, _, impressions in entries:
            per_shop = shown.setdefault(shop_id, {})
            for pid, n in impressions.items():
                per_shop[pid] = per_shop.get(pid, 0) + n
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for shop_id, fields, _ in entries:
                    queue_exposure(pipe, shop_id, fields)
                firsts_by_shop: dict[str, list[tuple[str, int, str, Exposure]]] = {}
                for shop_id, exp_id, phase, visitor_id, exposure in firsts:
                    firsts_by_shop.setdefault(shop_id, []).append((exp_id, phase, visitor_id, exposure))
                for shop_id, batch in firsts_by_shop.items():
                    await experiment_store.queue_first_exposures(pipe, self._first_script, shop_id, batch)
                for shop_id, increments in shown.items():
                    queue_impressions(pipe, shop_id, increments)
                await asyncio.wait_for(pipe.execute(), 5.0)
        except (TimeoutError, RedisError, OSError) as exc:
            log.warning("exposure log write failed (%s); %d entries kept for the next try", type(exc).__name__, len(entries) + len(firsts))
            self._pending[:0] = entries[: self.max_pending - len(self._pending)]
            self._first[:0] = firsts[: self.max_pending - len(self._first)]
            return 0
        return len(entries) + len(firsts)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()
