"""The console's session-signing secret: made once per deployment, shared by every replica."""

from __future__ import annotations

import secrets

import redis.asyncio as aioredis

from app.store import keys


async def signing_secret(r: aioredis.Redis) -> bytes:
    # SET NX: the first replica to ask makes it; everyone reads the same one after.
    await r.set(keys.CONSOLE_SECRET, secrets.token_hex(32), nx=True)
    return bytes.fromhex(str(await r.get(keys.CONSOLE_SECRET)))
