"""Liveness and readiness probes."""

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from app.api.auth import State

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Redis answers and the templates are loaded")
async def readyz(state: State) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        await asyncio.wait_for(state.redis.ping(), 1.0)
        embedded = state.handle.embedded is not None or state.settings.redis_embedded_by_cli
        checks["redis"] = {"ok": True, "embedded": embedded}
    except (TimeoutError, RedisError, OSError) as exc:
        checks["redis"] = {"ok": False, "error": type(exc).__name__}
    problems = state.page_renderer.problems
    checks["templates"] = {"ok": not problems, "problems": problems}
    ready = all(c["ok"] for c in checks.values())
    # Models are reported, not required: without them crowds are decided by rules alone.
    checks["models"] = {**state.models.status(), "required": False}
    checks["ranker"] = {**state.ranker.status(), "required": False}
    checks["uplift"] = {**state.uplift.status(), "required": False}
    rights = state.render_service.rights
    if rights is not None and rights.store.archive is not None:
        every = state.settings.rights_archive_s
        checks["rights_archive"] = {**rights.store.archive.status(), "every_s": every or None, "required": False}
    return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503)
