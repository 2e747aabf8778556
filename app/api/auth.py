"""Who is calling: the admin token, a shop's merchant key or its storefront key.

Dependencies are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in
a worker thread, a hop that costs more than the check itself on every page view.

A key only opens its own shop. A key of another shop, an unknown shop and a
storefront key on a merchant endpoint all get the same 403, so shop ids cannot be
probed with a wrong key.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Path, Request

from app.api.errors import ApiError
from app.api.state import AppState, get_state
from app.store import keys
from app.store.shops import ROLE_MERCHANT, ShopRecord, get_shop


async def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "Send the key as 'Authorization: Bearer <key>'.")
    return token.strip()


Token = Annotated[str, Depends(bearer_token)]
State = Annotated[AppState, Depends(get_state)]
ShopId = Annotated[str, Path(description="the shop id")]

FORBIDDEN = ApiError(403, "forbidden", "This key does not give access to this shop.")


async def require_admin(token: Token, state: State) -> None:
    if not hmac.compare_digest(token.encode(), state.settings.admin_token.encode()):
        raise ApiError(403, "forbidden", "The admin token is not valid.")


async def require_merchant(shop: ShopId, token: Token, state: State) -> ShopRecord:
    if not keys.SHOP_ID_PATTERN.match(shop):
        raise FORBIDDEN
    record = await get_shop(state.redis, shop)
    if record is None or record.role_of(token) != ROLE_MERCHANT:
        raise FORBIDDEN
    return record


Merchant = Annotated[ShopRecord, Depends(require_merchant)]


async def require_shop_key(shop: ShopId, token: Token, state: State) -> ShopRecord:
    """Any key of the shop: the storefront key (render, events) or the merchant key."""
    if not keys.SHOP_ID_PATTERN.match(shop):
        raise FORBIDDEN
    record = await get_shop(state.redis, shop)
    if record is None or record.role_of(token) is None:
        raise FORBIDDEN
    return record


ShopKey = Annotated[ShopRecord, Depends(require_shop_key)]
