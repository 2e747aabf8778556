"""Console sessions: a signed, expiring cookie that names the shop but never holds its key.

The cookie carries the shop id, a fingerprint of the shop's *stored* merchant-key
hash and the session's anti-forgery token, signed with this deployment's secret
(``itsdangerous``: an HMAC over the payload and the time it was issued). The payload
is readable base64; nothing in it opens the shop:

- the fingerprint is an HMAC of the stored key hash under the signing secret, so it
  reveals neither the key nor its hash;
- every request recomputes it from the shop record in Redis and compares, in constant
  time: rotating the merchant key changes the stored hash, and every session of the
  old key ends at its next request;
- a session expires ``max_age_s`` after login (the signature's timestamp), whatever the
  cookie's own expiry says.

Before login the cookie holds only an anti-forgery token, so the login form is
protected like every other form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

from app.store.shops import ShopRecord

COOKIE = "sf_console"
COOKIE_PATH = "/console"
DEFAULT_MAX_AGE_S = 12 * 3600
_SALT = "storefront-console-session"


@dataclass(frozen=True)
class Session:
    csrf: str  # the session's anti-forgery token (there is one before login too)
    shop_id: str | None = None
    fingerprint: str | None = None

    @property
    def logged_in(self) -> bool:
        return self.shop_id is not None and self.fingerprint is not None

    def as_payload(self) -> dict[str, Any]:
        return {"c": self.csrf, "s": self.shop_id, "f": self.fingerprint}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def key_fingerprint(secret: bytes, shop: ShopRecord) -> str:
    """What a session remembers of the key it was opened with (see the module's docstring)."""
    return hmac.new(secret, f"{shop.shop_id}\0{shop.merchant_key_hash}".encode(), hashlib.sha256).hexdigest()


def fingerprint_matches(secret: bytes, shop: ShopRecord, fingerprint: str) -> bool:
    return hmac.compare_digest(key_fingerprint(secret, shop).encode(), fingerprint.encode())


def _clocked_signer(clock: Callable[[], float]) -> type[TimestampSigner]:
    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return ClockedSigner


class SessionCodec:
    """Sessions to and from the cookie's text; ``clock`` dates signatures and checks expiry."""

    def __init__(self, secret: bytes, *, max_age_s: int = DEFAULT_MAX_AGE_S, clock: Callable[[], float] = time.time) -> None:
        self.max_age_s = max_age_s
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT, signer=_clocked_signer(clock))

    def dump(self, session: Session) -> str:
        return str(self._serializer.dumps(session.as_payload()))

    def load(self, text: str | None) -> Session | None:
        """The session, or None when the text is missing, forged, tampered with or expired."""
        if not text:
            return None
        try:
            payload = self._serializer.loads(text, max_age=self.max_age_s)
        except BadData:  # a bad or expired signature, or an unreadable payload
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("c"), str):
            return None
        shop, fp = payload.get("s"), payload.get("f")
        if not (isinstance(shop, str) and isinstance(fp, str)):
            shop = fp = None
        return Session(csrf=payload["c"], shop_id=shop, fingerprint=fp)
