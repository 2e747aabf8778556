"""The merchant console: server-rendered pages under ``/console``.

Log in with the shop id and merchant key (``login``); then the overview with the
customer-operations index (``overview``), crowds (``crowds``, with the editor's JSON
calls in ``api``), pages and their previews (``pages``), banners (``banners``),
experiments (``experiments``) and discount rights (``rights``). Sessions, anti-forgery
tokens and languages: ``sessions``, ``csrf``, ``access``, ``i18n``. Templates: ``assets/templates/console/``;
styles and the editor's script: ``assets/templates/static/console/``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.api.errors import ApiError
from app.config import Settings
from app.console import api, banners, crowds, experiments, login, overview, pages, rights
from app.console.access import (
    API_PREFIX,
    ConsoleState,
    LoginRequired,
    login_url,
    render,
    translator_for,
)
from app.console.csrf import CsrfRejected
from app.console.templating import build_environment

STATIC_PATH = "/console/static"


def install(app: FastAPI, settings: Settings) -> None:
    app.state.console = ConsoleState(build_environment(settings.templates_dir), settings.console_session_s)
    for module in (login, overview, crowds, api, pages, banners, experiments, rights):
        app.include_router(module.router)
    app.mount(STATIC_PATH, StaticFiles(directory=settings.templates_dir / "static" / "console"), name="console-static")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _: LoginRequired) -> Response:
        if request.url.path.startswith(API_PREFIX):
            err = ApiError(401, "unauthorized", "Log in to the console first (the session is missing or has ended).")
            return JSONResponse(err.body(), status_code=401)
        # Back to this page after login; a POST's form is lost, so its page is not one to return to.
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(login_url(here if request.method == "GET" else None), status_code=303)

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, _: CsrfRejected) -> Response:
        if request.url.path.startswith(API_PREFIX):
            err = ApiError(403, "csrf_failed", "The request lacks this session's anti-forgery token (X-CSRF-Token).")
            return JSONResponse(err.body(), status_code=403)
        return render(app.state.console.env, request, translator_for(request), "console/forbidden.html.j2", status=403, csrf_token="", shop=None)
