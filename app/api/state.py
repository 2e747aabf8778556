"""What the running app holds: settings, the Redis handle, caches and the renderers."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from fastapi import Request

from app.config import Settings
from app.rendering.html import PageRenderer
from app.scoring.attribute_models import ModelRegistry
from app.serving.banners import BannerService
from app.serving.render import RenderService
from app.serving.snapshots import Snapshots
from app.store.client import RedisHandle


@dataclass
class AppState:
    settings: Settings
    handle: RedisHandle
    snapshots: Snapshots
    page_renderer: PageRenderer
    render_service: RenderService
    models: ModelRegistry
    ranker: ModelRegistry
    banners: BannerService
    uplift: ModelRegistry

    @property
    def redis(self) -> aioredis.Redis:
        return self.handle.client


async def get_state(request: Request) -> AppState:
    return request.app.state.storefront  # type: ignore[no-any-return]
