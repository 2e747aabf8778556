"""Reading Redis streams: a reply's text, and a stream's entries page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis


def text(x: Any) -> str:
    """A reply value as text, whether the client decodes responses or not."""
    return x.decode() if isinstance(x, bytes) else str(x)


async def pages(r: aioredis.Redis, key: str, start: str, count: int, end: str = "+") -> AsyncIterator[list[Any]]:
    """The stream's entries from ``start`` up to ``end`` (XRANGE's syntax: ``-``/``+``, an
    id, or ``(id`` for after it) in pages of up to ``count`` (id, fields) pairs, each page
    read after the last one's end; the last page is shorter (or the range ended exactly
    on one)."""
    while True:
        entries = await r.xrange(key, min=start, max=end, count=count) or []
        if entries:
            yield entries
        if len(entries) < count:
            return
        start = "(" + text(entries[-1][0])
