"""The FastAPI application: routes are thin; the work is in app.core and app.store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from app import console
from app.api import errors
from app.api.banner_hits import BannerHits
from app.api.routes import banners as banners_routes
from app.api.routes import (
    catalog,
    crowds,
    demo,
    experiments,
    health,
    pages,
    render,
    shops,
    visitors,
)
from app.api.routes import rights as rights_routes
from app.api.state import AppState
from app.banners.compose import warm_up as banner_warm_up
from app.config import Settings
from app.core.derived import DerivedSettings, warm_up
from app.rendering.html import PageRenderer
from app.scoring.attribute_models import ModelRegistry
from app.scoring.ranker_model import load_ranker
from app.scoring.uplift_model import load_uplift
from app.serving.banners import BannerService
from app.serving.exposures import ExposureLog
from app.serving.render import RenderService
from app.serving.rights import RightsService
from app.serving.snapshots import Snapshots
from app.store.audit_archive import AuditArchive
from app.store.client import open_redis
from app.store.rights import RightsStore

log = logging.getLogger("storefront")

MAX_BODY_BYTES = 32 * 1024 * 1024  # 10,000 products with long titles fit; a runaway upload does not


class RequestBodies:
    """What every request body goes through first (plain ASGI: no per-request task).

    - A declared body over the limit is refused before it is read.
    - API bodies are JSON whatever the declared type (``curl -d`` says form-urlencoded),
      except multipart uploads: the body is read as the JSON it is, instead of failing
      with a message about forms.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = []
            for name, value in scope["headers"]:
                if name == b"content-length" and (not value.isdigit() or int(value) > MAX_BODY_BYTES):
                    err = errors.ApiError(413, "too_large", f"The request body may be at most {MAX_BODY_BYTES // 2**20} MiB.")
                    await JSONResponse(err.body(), status_code=413)(scope, receive, send)
                    return
                if name == b"content-type" and scope["path"].startswith("/v1/") and not value.startswith(b"multipart/"):
                    value = b"application/json"
                headers.append((name, value))
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Solar terms and holiday tables are built once per year; build this year's now,
        # off the event loop, so that no page view pays for it.
        await anyio.to_thread.run_sync(warm_up, DerivedSettings())
        models = ModelRegistry(settings.models_dir)
        ranker = ModelRegistry(settings.ranker_dir, loader=load_ranker)
        uplift = ModelRegistry(settings.uplift_dir, loader=load_uplift)
        registries = (models, ranker, uplift)
        for registry in registries:
            await anyio.to_thread.run_sync(registry.refresh)
        handle = open_redis(settings)
        snapshots = Snapshots(popularity_ttl_s=settings.snapshot_ttl_s)
        page_renderer = PageRenderer(settings.templates_dir)
        exposures = ExposureLog(handle.client)
        exposures.start()
        assert handle.binary is not None
        banners = BannerService(
            handle.client, handle.binary, memory_bytes=settings.banner_memory_mb << 20, redis_bytes=settings.banner_cache_mb << 20
        )
        try:
            await banners.start()
        except RedisError:
            log.warning("banner URLs are off until Redis answers: the signing secret could not be read")
        # the CJK font's character map: read once now, not by the first banner
        await anyio.to_thread.run_sync(banner_warm_up)
        archive = AuditArchive(handle.client, settings.rights_archive_dir, keep_days=settings.rights_log_days)
        service = RenderService(
            handle.client,
            snapshots,
            page_renderer,
            exposures,
            models,
            ranker,
            redis_timeout_s=settings.redis_timeout_ms / 1000,
            reload_timeout_s=settings.reload_timeout_ms / 1000,
            banners=banners,
            rights=RightsService(RightsStore(handle.client, archive), uplift),
        )
        app.state.storefront = AppState(settings, handle, snapshots, page_renderer, service, models, ranker, banners, uplift)

        async def watch_models() -> None:
            # Loading a model set is CPU and file work: off the event loop.
            while True:
                await asyncio.sleep(settings.models_refresh_s)
                for registry in registries:
                    await anyio.to_thread.run_sync(registry.refresh)

        async def archive_rights() -> None:
            # Moves the rights audit stream to day files (every worker runs it; a lock per
            # shop lets one at a time work on a shop).
            while True:
                await asyncio.sleep(settings.rights_archive_s)
                try:
                    runs = await archive.run()
                except RedisError as exc:  # listing the shops (a shop's own failure is kept in its run); in archive.status() for /readyz
                    log.warning("rights archive: %s (tried again in %g s)", exc, settings.rights_archive_s)
                    continue
                if moved := sum(r.moved for r in runs):
                    log.info("rights archive: %d audit entries moved to %s", moved, archive.root)

        loop = asyncio.get_running_loop()
        background = [loop.create_task(watch_models())]
        if settings.rights_archive_s > 0:
            background.append(loop.create_task(archive_rights()))
        log.info("storefront ready: redis %s", handle.url)
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await exposures.stop()
            if service.rights is not None:
                await service.rights.store.aclose()
            await handle.close()

    app = FastAPI(
        title="Storefront personalization",
        version="0.1.0",
        description="千人千面, 千人千权: pages, products, rights and banners per visitor crowd.",
        lifespan=lifespan,
    )
    app.add_middleware(RequestBodies)
    app.add_middleware(BannerHits)  # added last, so it runs first: a banner hit skips the rest
    errors.install(app)
    for module in (health, shops, catalog, visitors, crowds, pages, banners_routes, experiments, rights_routes, render, demo):
        app.include_router(module.router)
    console.install(app, settings)
    return app
