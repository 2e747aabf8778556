"""Experiment records in Redis: first exposures, attributed outcomes, and the catch-up
that attributes the event log to them.

Exposures are written by the render's exposure log (HSETNX per visitor, experiment and
phase, one script call per shop and batch). Outcomes are not written on the event path: events already land,
de-duplicated, in the shop's event log stream, and :func:`catch_up` reads that stream
from a cursor and attributes what is new. So ingesting events costs nothing more for
experiments, a replayed event is never counted twice (the stream only holds accepted
events), and one shop's attribution runs in one place at a time (a Redis lock).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from importlib import resources
from typing import Any

import redis.asyncio as aioredis

from app.experiments.attribution import COUNTED, Exposure, LoggedEvent, Outcome, Window, attribute
from app.store import keys
from app.store.streams import pages
from app.store.visitors import read_event_log

SETTLE_MS = 2_000  # events newer than this wait: their visitor's exposure may still be in a batch
CHUNK = 200  # event-log entries (batches of events) per step
FIRST_EXPOSURES_PER_CALL = 2_000
FIRST_EXPOSURES_LUA = resources.files("app.store").joinpath("lua/first_exposures.lua").read_text()


async def queue_first_exposures(pipe: Any, script: Any, shop_id: str, firsts: Sequence[tuple[str, int, str, Exposure]]) -> None:
    """Queue one shop's first exposures, (experiment, phase, visitor, exposure) each, as
    calls of ``script`` (FIRST_EXPOSURES_LUA registered on the client).

    At most FIRST_EXPOSURES_PER_CALL per call: the backlog of a Redis outage must not
    become one script that holds the server for long.
    """
    for start in range(0, len(firsts), FIRST_EXPOSURES_PER_CALL):
        index: dict[str, int] = {}
        args: list[str | int] = []
        for exp_id, phase, visitor_id, exposure in firsts[start : start + FIRST_EXPOSURES_PER_CALL]:
            key = keys.experiment_exposures(shop_id, exp_id, phase)
            args += [index.setdefault(key, len(index) + 1), visitor_id, exposure.encode()]
        await script(keys=list(index), args=args, client=pipe)  # (queued: a pipeline answers at once)


def _events(entries: Sequence[tuple[str, dict[str, str]]]) -> list[LoggedEvent]:
    return [
        LoggedEvent(row["type"], row["visitor_id"], int(row["ts_ms"]), int(row["amount_cents"] or 0))
        for row in read_event_log(entries)
        if row["type"] in COUNTED
    ]


async def catch_up(r: aioredis.Redis, shop_id: str, windows: Sequence[Window], *, now_ms: int | None = None) -> int:
    """Attribute the events logged since the cursor to ``windows``; returns events read.

    Runs under the shop's attribution lock; a caller that finds it taken waits for the
    holder to finish, then finds nothing (or little) left to do.
    """
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    upto = f"{now_ms - SETTLE_MS}-0"
    seen = 0
    async with r.lock(keys.attribution_lock(shop_id), timeout=120, blocking_timeout=60):
        cursor = str(await r.get(keys.attribution_cursor(shop_id)) or "0-0")  # replies are decoded text
        async for entries in pages(r, keys.event_log(shop_id), f"({cursor}", CHUNK, end=upto):
            events = _events(entries)
            seen += len(events)
            visitors = sorted({e.visitor_id for e in events})
            changed: list[tuple[Window, dict[str, Outcome]]] = []
            if visitors and windows:
                async with r.pipeline(transaction=False) as pipe:
                    for w in windows:
                        pipe.hmget(keys.experiment_exposures(shop_id, w.experiment, w.phase), visitors)
                        pipe.hmget(keys.experiment_outcomes(shop_id, w.experiment, w.phase), visitors)
                    replies = await pipe.execute()
                for i, w in enumerate(windows):
                    exposed = {v: Exposure.decode(x) for v, x in zip(visitors, replies[2 * i], strict=True) if x}
                    if not exposed:
                        continue
                    outcomes = {v: Outcome.decode(x) for v, x in zip(visitors, replies[2 * i + 1], strict=True) if x}
                    changed.append((w, attribute(events, exposed, outcomes, w)))
            cursor = str(entries[-1][0])
            async with r.pipeline(transaction=True) as pipe:  # outcomes and cursor move together
                for w, outs in changed:
                    if outs:
                        pipe.hset(keys.experiment_outcomes(shop_id, w.experiment, w.phase), mapping={v: o.encode() for v, o in outs.items()})
                pipe.set(keys.attribution_cursor(shop_id), cursor)
                await pipe.execute()
    return seen


async def read_phase(r: aioredis.Redis, shop_id: str, exp_id: str, phase: int) -> tuple[dict[str, Exposure], dict[str, Outcome]]:
    async with r.pipeline(transaction=True) as pipe:
        pipe.hgetall(keys.experiment_exposures(shop_id, exp_id, phase))
        pipe.hgetall(keys.experiment_outcomes(shop_id, exp_id, phase))
        exposed, outcomes = await pipe.execute()
    return {v: Exposure.decode(x) for v, x in exposed.items()}, {v: Outcome.decode(x) for v, x in outcomes.items()}
