"""Logging in with the merchant key, and out.

The key is checked exactly as the API checks ``Authorization: Bearer`` (the shop's
stored hash, in constant time): a wrong key and an unknown shop get the same answer.
The session that follows keeps a fingerprint of the key, never the key.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.console import csrf
from app.console.access import (
    AnyVisit,
    LoginRequired,
    PostedForm,
    clear_session_cookie,
    merchant_visit,
    safe_next,
)
from app.console.sessions import Session, key_fingerprint, new_token
from app.store import keys
from app.store.shops import ROLE_MERCHANT, get_shop

router = APIRouter(include_in_schema=False)


@router.get("/console/login")
async def login_page(v: AnyVisit, next: str | None = None) -> Response:
    try:
        await merchant_visit(v)
    except LoginRequired:
        return v.page("console/login.html.j2", next=safe_next(next), shop_value="", error=None)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/console/login")
async def login(request: Request, v: AnyVisit) -> Response:
    form = await request.form()
    shop_id = str(form.get("shop_id") or "").strip().lower()
    key = str(form.get("merchant_key") or "").strip()
    next_path = safe_next(str(form.get("next") or ""))
    # A session cookie that did not come with the form cannot vouch for its token.
    if v.fresh:
        raise csrf.CsrfRejected()
    csrf.require_token(v.session.csrf, str(form.get(csrf.FIELD) or ""))
    shop = await get_shop(v.state.redis, shop_id) if keys.SHOP_ID_PATTERN.match(shop_id) else None
    if shop is None or not key or shop.role_of(key) != ROLE_MERCHANT:
        return v.page("console/login.html.j2", status=401, next=next_path, shop_value=shop_id, error=v.t("login.refused"))
    response = RedirectResponse(next_path, status_code=303)
    # A new anti-forgery token with the new privilege: one seen before login is worth nothing after.
    v.start(response, Session(csrf=new_token(), shop_id=shop.shop_id, fingerprint=key_fingerprint(v.secret, shop)))
    return response


@router.post("/console/logout")
async def logout(posted: PostedForm) -> Response:
    response = RedirectResponse("/console/login", status_code=303)
    clear_session_cookie(response, posted.visit.request)
    return response
