"""Composed banners that are already in this process's memory, answered before routing.

A page of the storefront pulls its banner on every view, so a cache hit must cost next
to nothing. Routing through FastAPI (matching some sixty routes, solving the route's
dependencies) costs three times what answering does, so hits and revalidations (304)
are answered here, in plain ASGI, and everything else (a miss that composes, a bad
name, a forged link) goes on to the route in ``routes/banners.py``, which answers the
same headers from the same helpers below.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from app.serving.banners import MEDIA_TYPES

PREFIX = "/banners/"
NAME = re.compile(r"([0-9a-f]{64})\.(webp|png|jpg)")
IMMUTABLE = "public, max-age=31536000, immutable"  # the name is the content's digest


def etag_of(digest: str) -> str:
    return f'"{digest}"'


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """True when the browser's copy is this picture (RFC 9110: a list, weak tags match)."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag in tags or "*" in tags


def picture_headers(digest: str) -> dict[str, str]:
    return {"Cache-Control": IMMUTABLE, "ETag": etag_of(digest)}


class BannerHits:
    """Answers GET/HEAD /banners/{digest}.{fmt} from memory, or passes the request on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and scope["path"].startswith(PREFIX):
            m = NAME.fullmatch(scope["path"], len(PREFIX))
            state = getattr(scope["app"].state, "storefront", None)
            if m is not None and state is not None:
                digest, fmt = m.groups()
                if await self._answer(scope, send, state.banners.cached(digest, fmt), digest, fmt):
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _answer(scope: Scope, send: Send, data: bytes | None, digest: str, fmt: str) -> bool:
        inm = next((v for k, v in scope["headers"] if k == b"if-none-match"), None)
        common = [(k.lower().encode(), v.encode()) for k, v in picture_headers(digest).items()]
        if inm is not None and not_modified(inm.decode("latin-1"), etag_of(digest)):
            # The digest names the content: a browser holding it needs nothing more, even
            # when this process has not got the picture in memory.
            await send({"type": "http.response.start", "status": 304, "headers": common})
            await send({"type": "http.response.body", "body": b""})
            return True
        if data is None:
            return False
        headers = [*common, (b"content-type", MEDIA_TYPES[fmt].encode()), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else data})
        return True
