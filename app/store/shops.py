"""Shops (tenants) and their keys. Keys are shown once and stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from app.store import keys

ROLE_MERCHANT = "merchant"
ROLE_STOREFRONT = "storefront"

_CREATE_SHOP = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a plain digest is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def new_keys() -> tuple[str, str]:
    return "mk_" + secrets.token_urlsafe(32), "sk_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class ShopRecord:
    shop_id: str
    name: str
    created_at: float
    merchant_key_hash: str
    storefront_key_hash: str
    settings: dict[str, Any] = field(default_factory=dict)
    demo: bool = False

    def role_of(self, presented_key: str) -> str | None:
        digest = hash_key(presented_key)
        if hmac.compare_digest(digest, self.merchant_key_hash):
            return ROLE_MERCHANT
        if hmac.compare_digest(digest, self.storefront_key_hash):
            return ROLE_STOREFRONT
        return None

    @classmethod
    def from_hash(cls, shop_id: str, h: dict[str, str]) -> ShopRecord:
        return cls(
            shop_id=shop_id,
            name=h.get("name", shop_id),
            created_at=float(h.get("created_at", 0)),
            merchant_key_hash=h.get("merchant_key_hash", ""),
            storefront_key_hash=h.get("storefront_key_hash", ""),
            settings=json.loads(h.get("settings") or "{}"),
            demo=h.get("demo") == "1",
        )

    def public(self) -> dict[str, Any]:
        return {"shop_id": self.shop_id, "name": self.name, "created_at": self.created_at, "demo": self.demo}


async def create_shop(r: aioredis.Redis, shop_id: str, name: str, *, demo: bool = False) -> tuple[ShopRecord, str, str] | None:
    """Create a shop; None if the id is taken. Returns the record and its two keys."""
    merchant_key, storefront_key = new_keys()
    fields = {
        "name": name,
        "created_at": repr(time.time()),
        "merchant_key_hash": hash_key(merchant_key),
        "storefront_key_hash": hash_key(storefront_key),
        "settings": "{}",
        "demo": "1" if demo else "0",
    }
    argv = [x for kv in fields.items() for x in kv]
    created = await r.eval(_CREATE_SHOP, 1, keys.shop(shop_id), *argv)
    if not created:
        return None
    # The listing set lives outside the shop's slot; it is an index, rebuilt from the
    # shop hashes if it ever misses one.
    await r.sadd(keys.SHOPS, shop_id)
    await r.incr(keys.config_version(shop_id))
    record = ShopRecord.from_hash(shop_id, fields)
    return record, merchant_key, storefront_key


async def get_shop(r: aioredis.Redis, shop_id: str) -> ShopRecord | None:
    h = await r.hgetall(keys.shop(shop_id))
    return ShopRecord.from_hash(shop_id, h) if h else None


async def rotate_keys(r: aioredis.Redis, shop_id: str) -> tuple[str, str]:
    """New keys for a shop; the old ones stop working at once (the config version moves)."""
    merchant_key, storefront_key = new_keys()
    async with r.pipeline(transaction=True) as p:
        p.hset(
            keys.shop(shop_id),
            mapping={"merchant_key_hash": hash_key(merchant_key), "storefront_key_hash": hash_key(storefront_key)},
        )
        p.incr(keys.config_version(shop_id))
        await p.execute()
    return merchant_key, storefront_key


async def put_settings(r: aioredis.Redis, shop_id: str, settings: dict[str, Any]) -> None:
    async with r.pipeline(transaction=True) as p:
        p.hset(keys.shop(shop_id), "settings", json.dumps(settings, ensure_ascii=False))
        p.incr(keys.config_version(shop_id))
        await p.execute()


async def list_shops(r: aioredis.Redis) -> list[str]:
    return sorted(await r.smembers(keys.SHOPS))
