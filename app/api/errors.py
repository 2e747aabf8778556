"""One error shape for every failure the API reports (defined in app.core.problems).

    {"error": {"status": 422, "code": "invalid_condition",
               "message": "Unknown operator '$gtt' at $.condition.age; did you mean '$gt'?",
               "path": "$.condition.age",
               "details": [{"path": ..., "code": ..., "message": ...}, ...]}}

``path`` is the JSON path of the first offending field of the request body (``$`` is
the body); ``details`` lists every problem found, so a form can mark them all at once.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.problems import Problem, Refusal, json_path

__all__ = ["ApiError", "Problem", "install", "json_path", "problems_from_validation"]


class ApiError(Refusal):
    """A refusal raised by a route; the handlers below answer every :class:`Refusal` alike."""


_PYDANTIC_CODES = {
    "missing": "missing",
    "extra_forbidden": "unknown_field",
    "string_too_long": "too_long",
    "string_too_short": "too_short",
    "too_long": "too_many",
    "too_short": "too_few",
    "string_pattern_mismatch": "invalid_format",
    "json_invalid": "invalid_json",
}


def _friendly(err: dict[str, Any]) -> str:
    t = err.get("type", "")
    field = err["loc"][-1] if err.get("loc") else "body"
    if t == "missing":
        return f"'{field}' is required."
    if t == "extra_forbidden":
        return f"'{field}' is not a known field."
    if t == "json_invalid":  # its location is the character offset where parsing stopped
        at = err["loc"][-1] if err.get("loc") and isinstance(err["loc"][-1], int) else None
        why = str((err.get("ctx") or {}).get("error", "")).rstrip(".")
        where = f" at character {at}" if at is not None else ""
        return f"The request body is not valid JSON{where}" + (f": {why}." if why else ".")
    msg = str(err.get("msg", "invalid value"))
    return msg[0].upper() + msg[1:] + ("" if msg.endswith(".") else ".")


def problems_from_validation(exc: RequestValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            loc = ["body"]  # the whole body is bad: the offset goes into the message, not the path
        if loc and loc[0] in ("body", "query", "path"):
            where = loc.pop(0)
        else:
            where = "body"
        # Pydantic names union branches in the location (e.g. "int", "str"); drop them.
        loc = [p for p in loc if not (isinstance(p, str) and p in ("int", "float", "str", "bool", "function-after[...]"))]
        prefix = "$" if where == "body" else f"{where}:"
        problems.append(
            Problem(
                path=json_path(loc, prefix) if where == "body" else prefix + ".".join(str(x) for x in loc),
                code=_PYDANTIC_CODES.get(err.get("type", ""), "invalid_value"),
                message=_friendly(err),
            )
        )
    return problems or [Problem("$", "invalid_request", "The request is not valid.")]


def install(app: FastAPI) -> None:
    @app.exception_handler(Refusal)  # ApiError, and the cores' own (BannerError, …)
    async def _refusal(_: Request, exc: Refusal) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        err = ApiError.from_problems(422, "invalid_request", problems_from_validation(exc))
        return JSONResponse(err.body(), status_code=422)

    @app.exception_handler(RedisError)
    async def _store_down(_: Request, exc: RedisError) -> JSONResponse:
        # Only render has a fallback; anything else that needs the store says so plainly,
        # and nothing was acknowledged, so the caller can retry the same request.
        err = ApiError(503, "store_unavailable", f"The data store did not answer ({type(exc).__name__}); retry shortly.")
        return JSONResponse(err.body(), status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden", 413: "too_large"}
        err = ApiError(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))
        return JSONResponse(err.body(), status_code=exc.status_code, headers=getattr(exc, "headers", None))
