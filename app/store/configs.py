"""Versioned merchant configuration (crowds, blocks, pages).

Every write keeps a version record (put, delete or rollback) in the item's history
list, so a change can be listed and rolled back. A write is checked against the whole
configuration as it would be after the write (for example: no page may point to a
deleted crowd), and is applied with optimistic locking on the shop's config version:
the check and the write see the same state, or the write is retried. Nothing half
written stays behind: the item, its history record and the version bump are one
MULTI/EXEC transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from app.store import keys

Configs = dict[str, dict[str, dict[str, Any]]]  # kind -> id -> body
Check = Callable[[Configs], list[Any]]


class ConfigRejected(Exception):
    def __init__(self, problems: list[Any]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class UnknownVersion(Exception):
    pass


@dataclass(frozen=True)
class VersionRecord:
    version: int
    action: str  # "put" | "delete" | "rollback"
    at: float
    body: dict[str, Any] | None
    from_version: int | None = None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"version": self.version, "action": self.action, "at": self.at, "body": self.body}
        if self.from_version is not None:
            d["from_version"] = self.from_version
        return d


def _dumps(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False, separators=(",", ":"))


async def read_all(r: aioredis.Redis | Any, shop_id: str) -> Configs:
    """All current configuration of a shop (works inside a WATCHed pipeline too)."""
    out: Configs = {}
    for kind in keys.CONFIG_KINDS:
        raw = await r.hgetall(keys.config(shop_id, kind))
        out[kind] = {k: json.loads(v) for k, v in raw.items()}
    return out


async def get_item(r: aioredis.Redis, shop_id: str, kind: str, item_id: str) -> dict[str, Any] | None:
    raw = await r.hget(keys.config(shop_id, kind), item_id)
    return json.loads(raw) if raw else None


async def history(r: aioredis.Redis, shop_id: str, kind: str, item_id: str) -> list[VersionRecord]:
    raw = await r.lrange(keys.history(shop_id, kind, item_id), 0, -1)
    return [VersionRecord(**json.loads(x)) for x in raw]


async def write(
    r: aioredis.Redis,
    shop_id: str,
    kind: str,
    item_id: str,
    body: dict[str, Any] | None,
    *,
    check: Check,
    action: str | None = None,
    from_version: int | None = None,
    attempts: int = 20,
    also: Callable[[Any], None] | None = None,
) -> VersionRecord:
    """Put (body) or delete (None) one item after ``check`` accepts the resulting config.

    ``also`` adds more commands to the same MULTI/EXEC (an element's bytes beside its
    metadata), so they land with the item or not at all.
    """
    cfg_key = keys.config(shop_id, kind)
    hist_key = keys.history(shop_id, kind, item_id)
    ver_key = keys.config_version(shop_id)
    for _ in range(attempts):
        async with r.pipeline(transaction=True) as pipe:
            try:
                # Every config write bumps the version, so watching it covers the whole config.
                await pipe.watch(ver_key)
                current = await read_all(pipe, shop_id)
                proposed = {k: dict(v) for k, v in current.items()}
                if body is None:
                    proposed[kind].pop(item_id, None)
                else:
                    proposed[kind][item_id] = body
                problems = check(proposed)
                if problems:
                    raise ConfigRejected(problems)
                version = int(await pipe.llen(hist_key)) + 1
                record = VersionRecord(
                    version=version,
                    action=action or ("delete" if body is None else "put"),
                    at=time.time(),
                    body=body,
                    from_version=from_version,
                )
                pipe.multi()
                if body is None:
                    pipe.hdel(cfg_key, item_id)
                else:
                    pipe.hset(cfg_key, item_id, _dumps(body))
                pipe.rpush(hist_key, _dumps(record.as_dict()))
                pipe.incr(ver_key)
                if also is not None:
                    also(pipe)
                await pipe.execute()
                return record
            except WatchError:
                continue
    raise RuntimeError("configuration is changing too fast; try again")


async def rollback(
    r: aioredis.Redis, shop_id: str, kind: str, item_id: str, version: int, *, check: Check
) -> VersionRecord:
    """Make version ``version`` current again, as a new version (history is never rewritten)."""
    records = await history(r, shop_id, kind, item_id)
    target = next((rec for rec in records if rec.version == version), None)
    if target is None:
        raise UnknownVersion(version)
    return await write(
        r, shop_id, kind, item_id, target.body, check=check, action="rollback", from_version=version
    )

