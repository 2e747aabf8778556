"""Anti-forgery tokens: every console form POST and every console JSON call carries the
session's token (a hidden field, or the ``X-CSRF-Token`` header), compared in constant
time. A page of another site can make the browser send the session cookie (a top-level
form POST under ``SameSite=Lax`` does not, but older browsers and same-site subdomains
might), but it cannot read the token, so its request is refused with 403.
"""

from __future__ import annotations

import hmac

FIELD = "csrf_token"
HEADER = "x-csrf-token"


class CsrfRejected(Exception):
    """A console POST without the session's anti-forgery token (or with another one)."""


def tokens_match(expected: str, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def require_token(expected: str, presented: str | None) -> None:
    if not tokens_match(expected, presented):
        raise CsrfRejected()
