"""Visitor profiles in Redis: known (CRM) attributes, folded behaviour, and event ingestion."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis.asyncio as aioredis

from app.core.profile import Behaviour, Event
from app.core.ranking import popularity_increment
from app.store import keys

DEDUPE_WINDOW_S = 400 * 86400  # an event id is remembered for 400 days: imports are idempotent
INGEST_BATCH = 500

_INGEST_LUA = resources.files("app.store").joinpath("lua/ingest_events.lua").read_text()
# {purchasers with strictly higher spend, purchasers} (-1 when the visitor never bought),
# so that equal spenders share a rank however Redis orders equal scores.
_SPEND_RANK_LUA = """
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
if not s then return {-1, n} end
return {redis.call('ZCOUNT', KEYS[1], '(' .. s, '+inf'), n}
"""


@dataclass(frozen=True)
class StoredProfile:
    known: dict[str, Any]
    behaviour: Behaviour
    # Top-x% of the visitor by spend among the shop's purchasers: 100 * (number with a
    # strictly higher spend + 1) / purchasers; None for a visitor who never bought.
    spend_rank_pct: float | None


def _ms(x: str | None) -> float | None:
    return int(x) / 1000 if x is not None else None


def behaviour_from_hashes(beh: Mapping[str, str], cats: Mapping[str, str]) -> Behaviour:
    return Behaviour(
        first_seen=_ms(beh.get("first_seen")),
        last_seen=_ms(beh.get("last_seen")),
        views=int(beh.get("views", 0)),
        clicks=int(beh.get("clicks", 0)),
        carts=int(beh.get("carts", 0)),
        orders=int(beh.get("orders", 0)),
        spend_cents=int(beh.get("spend_cents", 0)),
        first_purchase_at=_ms(beh.get("first_purchase_at")),
        last_purchase_at=_ms(beh.get("last_purchase_at")),
        followed_at=_ms(beh.get("followed_at")),
        viewed_categories={k: int(v) for k, v in cats.items()},
        priced_views=int(beh.get("priced_views", 0)),
        viewed_price_milli=int(beh.get("viewed_price_milli", 0)),
    )


def queue_profile_read(pipe: Any, shop_id: str, visitor_id: str) -> None:
    """Add the reads of one profile to a pipeline (so a render costs one round trip)."""
    pipe.hgetall(keys.visitor_known(shop_id, visitor_id))
    pipe.hgetall(keys.visitor_behaviour(shop_id, visitor_id))
    pipe.hgetall(keys.visitor_categories(shop_id, visitor_id))
    pipe.eval(_SPEND_RANK_LUA, 1, keys.spend_rank(shop_id), visitor_id)


PROFILE_REPLIES = 4  # replies queue_profile_read adds to a pipeline


def profile_from_replies(replies: Sequence[Any]) -> StoredProfile:
    known_raw, beh, cats, (higher, purchasers) = replies
    pct = None
    if int(higher) >= 0 and int(purchasers):
        pct = round((int(higher) + 1) / int(purchasers) * 100, 4)
    return StoredProfile(
        known={k: json.loads(v) for k, v in known_raw.items()},
        behaviour=behaviour_from_hashes(beh, cats),
        spend_rank_pct=pct,
    )


async def read_profile(r: aioredis.Redis, shop_id: str, visitor_id: str) -> StoredProfile:
    async with r.pipeline(transaction=False) as pipe:
        queue_profile_read(pipe, shop_id, visitor_id)
        replies = await pipe.execute()
    return profile_from_replies(replies)


async def upsert_known(r: aioredis.Redis, shop_id: str, visitors: Sequence[tuple[str, Mapping[str, Any]]]) -> int:
    """Merge CRM attributes into profiles in one transaction; a ``null`` value removes one."""
    async with r.pipeline(transaction=True) as pipe:
        for visitor_id, attrs in visitors:
            key = keys.visitor_known(shop_id, visitor_id)
            to_set = {k: json.dumps(v, ensure_ascii=False) for k, v in attrs.items() if v is not None}
            to_del = [k for k, v in attrs.items() if v is None]
            if to_set:
                pipe.hset(key, mapping=to_set)
            if to_del:
                pipe.hdel(key, *to_del)
            pipe.sadd(keys.known_visitors(shop_id), visitor_id)
        await pipe.execute()
    return len(visitors)


# The event log holds one stream entry per ingested batch; its field "events" has one
# line per accepted event with these tab-separated fields.
EVENT_LOG_FIELDS = ("event_id", "type", "visitor_id", "ts_ms", "product_id", "amount_cents", "render_id")
EVENT_LOG_MAXLEN = 200_000  # batches, so up to 100 million events


def read_event_log(entries: Sequence[tuple[str, Mapping[str, str]]]) -> list[dict[str, str]]:
    """Event log stream entries (as XRANGE returns them) back to one dict per event."""
    return [
        dict(zip(EVENT_LOG_FIELDS, line.split("\t"), strict=True))
        for _, fields in entries
        for line in fields["events"].split("\n")
    ]


def _day(ts: float) -> str:
    return time.strftime("%Y%m%d", time.gmtime(ts))


def _ingest_call(shop_id: str, batch: Sequence[Event]) -> tuple[list[str], list[str | int]]:
    """KEYS and ARGV of one ingest script call (every key declared, for Redis Cluster)."""
    prefix = keys.shop_prefix(shop_id)
    visitors: dict[str, int] = {}
    days: dict[str, int] = {}
    values: list[str | int] = []
    now = time.time()
    for e in batch:
        vi = visitors.setdefault(e.visitor_id, len(visitors) + 1)
        di = days.setdefault(_day(e.ts), len(days) + 1)
        pop = popularity_increment(e.type, e.ts, now) if e.product_id else 0.0
        values += (
            e.event_id,
            e.type,
            vi,
            di,
            str(round(e.ts * 1000)),
            e.product_id or "",
            e.category or "",
            str(e.amount_cents or 0),
            repr(pop) if pop else "0",
            e.render_id or "",
            "" if e.price_position_milli is None else str(e.price_position_milli),
        )
    kv = [keys.spend_rank(shop_id), keys.popularity(shop_id), keys.event_log(shop_id)]
    kv += (keys.engagement(shop_id, c) for c in ("clicks", "views", "purchases"))  # in the script's order
    kv += (keys.events_seen(shop_id, d) for d in days)
    for v in visitors:
        kv += keys.visitor_event_keys(prefix, v)
    argv: list[str | int] = [DEDUPE_WINDOW_S, EVENT_LOG_MAXLEN, len(days), len(batch), *values, *visitors]
    return kv, argv


async def ingest(
    r: aioredis.Redis,
    shop_id: str,
    events: Sequence[Event],
    *,
    batch: int = INGEST_BATCH,
    in_flight: int = 3,
    progress: Callable[[int], object] | None = None,
) -> tuple[int, int]:
    """Apply events to profiles (each event id once); returns (accepted, duplicates).

    Each batch is one atomic script call. Up to ``in_flight`` batches are sent at once,
    so that Python prepares the next batch while Redis applies the last one.
    """
    script = r.register_script(_INGEST_LUA)
    gate = asyncio.Semaphore(in_flight)

    async def one(chunk: Sequence[Event]) -> tuple[int, int]:
        async with gate:
            kv, argv = _ingest_call(shop_id, chunk)
            a, d = await script(keys=kv, args=argv)
            if progress is not None:
                progress(len(chunk))
            return int(a), int(d)

    results = await asyncio.gather(*(one(events[i : i + batch]) for i in range(0, len(events), batch)))
    return sum(a for a, _ in results), sum(d for _, d in results)


async def _profiles(r: aioredis.Redis, shop_id: str, ids: Sequence[str], batch: int) -> AsyncIterator[tuple[str, StoredProfile]]:
    for i in range(0, len(ids), batch):
        chunk = ids[i : i + batch]
        async with r.pipeline(transaction=False) as pipe:
            for vid in chunk:
                queue_profile_read(pipe, shop_id, vid)
            replies = await pipe.execute()
        for j, vid in enumerate(chunk):
            yield vid, profile_from_replies(replies[j * PROFILE_REPLIES : (j + 1) * PROFILE_REPLIES])


async def iter_known_visitors(
    r: aioredis.Redis, shop_id: str, *, limit: int, batch: int = 500
) -> AsyncIterator[tuple[str, StoredProfile]]:
    """Known visitors with their profiles, up to ``limit`` (SSCAN order), in pipelined batches."""
    ids: list[str] = []
    async for vid in r.sscan_iter(keys.known_visitors(shop_id), count=batch):
        ids.append(vid)
        if len(ids) >= limit:
            break
    async for item in _profiles(r, shop_id, ids, batch):
        yield item


async def visitor_ids(r: aioredis.Redis, shop_id: str, *, limit: int) -> tuple[list[str], bool]:
    """Every visitor of a shop, known (CRM) or seen through events, up to ``limit``;
    and whether there were more.

    Visitors seen only through events are in no set: their behaviour hashes are found
    with SCAN, which walks the whole keyspace. That is for the console's occasional
    index, never for a page view.
    """
    found: dict[str, None] = {}
    async for vid in r.sscan_iter(keys.known_visitors(shop_id), count=1000):
        found[vid] = None
        if len(found) > limit:
            return list(found)[:limit], True
    pattern = keys.visitor_behaviour_pattern(shop_id)
    start, end = len(pattern.split("*", 1)[0]), -len(pattern.split("*", 1)[1])
    async for key in r.scan_iter(match=pattern, count=1000):
        found[key[start:end]] = None
        if len(found) > limit:
            return list(found)[:limit], True
    return list(found), False


async def iter_profiles(r: aioredis.Redis, shop_id: str, ids: Sequence[str], *, batch: int = 500) -> AsyncIterator[tuple[str, StoredProfile]]:
    """The profiles of the given visitors, in pipelined batches."""
    async for item in _profiles(r, shop_id, ids, batch):
        yield item


async def count_known_visitors(r: aioredis.Redis, shop_id: str) -> int:
    return int(await r.scard(keys.known_visitors(shop_id)))


EXPOSURE_LOG_MAXLEN = 2_000_000


def queue_exposure(pipe: Any, shop_id: str, fields: Mapping[str, str]) -> None:
    """Add one render's exposure entry to a pipeline (the log is capped, oldest out)."""
    pipe.xadd(keys.exposure_log(shop_id), dict(fields), maxlen=EXPOSURE_LOG_MAXLEN, approximate=True)
