"""Who is looking at the console and in which language; the login gate; anti-forgery checks.

Every console request becomes a :class:`Visit`: its session (from the signed cookie,
or a fresh anonymous one), its translator and, behind the gate, its shop. The gate
(:func:`merchant_visit`) re-reads the shop record on every request and checks the
session's key fingerprint against it (see ``app.console.sessions``), so a rotated key
or a deleted shop ends every session at once. The shop comes from the session only:
no console URL names a shop, so one shop's session cannot address another's data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment
from starlette.datastructures import FormData

from app.api.state import AppState, get_state
from app.console import csrf, i18n
from app.console.sessions import (
    COOKIE,
    COOKIE_PATH,
    Session,
    SessionCodec,
    fingerprint_matches,
    new_token,
)
from app.console.templating import PAGE_HEADERS, language_urls
from app.core.derived import DerivedSettings
from app.store import keys
from app.store.console import signing_secret
from app.store.shops import ShopRecord, get_shop

LANG_COOKIE_AGE_S = 365 * 86400
API_PREFIX = "/console/api/"


@dataclass
class ConsoleState:
    """What the console keeps per process: its templates, and the signing secret once read."""

    env: Environment
    max_age_s: int
    _codec: SessionCodec | None = field(default=None, repr=False)
    _secret: bytes | None = field(default=None, repr=False)

    async def codec(self, state: AppState) -> tuple[SessionCodec, bytes]:
        if self._codec is None or self._secret is None:
            self._secret = await signing_secret(state.redis)
            self._codec = SessionCodec(self._secret, max_age_s=self.max_age_s)
        return self._codec, self._secret


class LoginRequired(Exception):
    """No session, or one that ended (expired, key rotated, shop gone): to the login page."""


def translator_for(request: Request) -> i18n.Translator:
    return i18n.Translator(
        i18n.choose_language(
            request.query_params.get("lang"), request.cookies.get(i18n.COOKIE), request.headers.get("accept-language")
        )
    )


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, text: str, max_age_s: int) -> None:
    response.set_cookie(
        COOKIE, text, max_age=max_age_s, path=COOKIE_PATH, httponly=True, samesite="lax", secure=is_https(request)
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=is_https(request))


def render(
    env: Environment, request: Request, t: i18n.Translator, template: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """A console page with the console's headers; remembers a language chosen by ``?lang=``."""
    html = env.get_template(template).render(
        t=t,
        lang=t.lang,
        language_names=i18n.LANGUAGE_NAMES,
        # after a POST (a refusal page) the switch leads to the overview: a POST's URL has no page to GET
        language_urls=language_urls(
            request.url.path if request.method == "GET" else "/console", dict(request.query_params), i18n.LANGUAGES
        ),
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
    chosen = request.query_params.get("lang")
    if chosen in i18n.LANGUAGES:
        response.set_cookie(
            i18n.COOKIE, chosen, max_age=LANG_COOKIE_AGE_S, path=COOKIE_PATH, httponly=True, samesite="lax", secure=is_https(request)
        )
    return response


@dataclass(frozen=True)
class Visit:
    request: Request
    state: AppState
    console: ConsoleState
    codec: SessionCodec
    secret: bytes
    session: Session
    t: i18n.Translator
    fresh: bool  # no valid cookie came: this visit's session still has to be set
    shop: ShopRecord | None = None

    @property
    def shop_id(self) -> str:
        assert self.shop is not None, "only behind the login gate"
        return self.shop.shop_id

    @property
    def timezone(self) -> str:
        """The shop's time zone (its derived-attribute settings): times are shown in it."""
        assert self.shop is not None, "only behind the login gate"
        return DerivedSettings.from_mapping(self.shop.settings.get("derived", {})).timezone

    def page(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        response = render(
            self.console.env, self.request, self.t, template, status=status, csrf_token=self.session.csrf, shop=self.shop, **context
        )
        if self.fresh:
            self.start(response, self.session)
        return response

    def start(self, response: Response, session: Session) -> None:
        """Set ``session`` as this browser's session (login, or a fresh anonymous one)."""
        set_session_cookie(response, self.request, self.codec.dump(session), self.console.max_age_s)


def console_state(request: Request) -> ConsoleState:
    return request.app.state.console  # type: ignore[no-any-return]


async def visit(request: Request, state: Annotated[AppState, Depends(get_state)]) -> Visit:
    console = console_state(request)
    codec, secret = await console.codec(state)
    session = codec.load(request.cookies.get(COOKIE))
    fresh = session is None
    return Visit(request, state, console, codec, secret, session or Session(csrf=new_token()), translator_for(request), fresh)


AnyVisit = Annotated[Visit, Depends(visit)]


async def merchant_visit(v: AnyVisit) -> Visit:
    s = v.session
    if not s.logged_in or s.shop_id is None or s.fingerprint is None or not keys.SHOP_ID_PATTERN.match(s.shop_id):
        raise LoginRequired()
    shop = await get_shop(v.state.redis, s.shop_id)
    if shop is None or not fingerprint_matches(v.secret, shop, s.fingerprint):
        raise LoginRequired()
    return replace(v, shop=shop)


MerchantVisit = Annotated[Visit, Depends(merchant_visit)]


@dataclass(frozen=True)
class Posted:
    """A form POST behind the login gate whose anti-forgery token was checked."""

    visit: Visit
    form: FormData


async def posted_form(request: Request, v: MerchantVisit) -> Posted:
    form = await request.form()
    csrf.require_token(v.session.csrf, _text(form.get(csrf.FIELD)))
    return Posted(v, form)


PostedForm = Annotated[Posted, Depends(posted_form)]


async def api_visit(request: Request, v: MerchantVisit) -> Visit:
    """The console's JSON calls: the session, and the token in the ``X-CSRF-Token`` header."""
    csrf.require_token(v.session.csrf, request.headers.get(csrf.HEADER))
    return v


ApiVisit = Annotated[Visit, Depends(api_visit)]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def login_url(next_path: str | None = None) -> str:
    return "/console/login" + (f"?next={quote(next_path, safe='/')}" if next_path else "")


def safe_next(value: str | None) -> str:
    """Where to go after login: a console page of this site, never another site."""
    if value and value.startswith("/console") and not value.startswith("//") and "\\" not in value and not value.startswith(API_PREFIX):
        return value
    return "/console"
