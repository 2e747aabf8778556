"""Shops: creation with the admin token, settings and key rotation with the merchant key."""

import time
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from app.api.auth import Merchant, State, require_admin
from app.api.errors import ApiError, Problem
from app.api.schemas import CreateShop, RightsSettingsIn, SettingsIn
from app.api.state import AppState
from app.core.derived import DerivedSettings
from app.experiments.definition import HoldoutSetting
from app.rights.settings import RightsSettings
from app.store import catalog as catalog_store
from app.store import shops as shop_store
from app.store import visitors as visitor_store
from app.store.shops import ShopRecord

router = APIRouter(tags=["shops"])


@router.post("/v1/shops", dependencies=[Depends(require_admin)], status_code=201, summary="Create a shop")
async def create_shop(body: CreateShop, state: State) -> JSONResponse:
    created = await shop_store.create_shop(state.redis, body.shop_id, body.name)
    if created is None:
        raise ApiError(409, "shop_exists", f"A shop with id '{body.shop_id}' already exists.", path="$.shop_id")
    record, merchant_key, storefront_key = created
    return JSONResponse(
        {
            **record.public(),
            "merchant_key": merchant_key,
            "storefront_key": storefront_key,
            "note": "The keys are shown only once; store them now.",
        },
        status_code=201,
    )


@router.get("/v1/shops", dependencies=[Depends(require_admin)], summary="List shop ids")
async def list_shops(state: State) -> dict[str, Any]:
    return {"shops": await shop_store.list_shops(state.redis)}


@router.get("/v1/shops/{shop}", summary="A shop and its sizes")
async def get_shop(shop: Merchant, state: State) -> dict[str, Any]:
    return {
        **shop.public(),
        "products": await catalog_store.count_products(state.redis, shop.shop_id),
        "known_visitors": await visitor_store.count_known_visitors(state.redis, shop.shop_id),
    }


@router.get("/v1/shops/{shop}/settings", summary="The shop's settings (derived-attribute thresholds)")
async def get_settings(shop: Merchant) -> dict[str, Any]:
    return {
        "derived": DerivedSettings.from_mapping(shop.settings.get("derived", {})).as_dict(),
        "experiments": HoldoutSetting.from_mapping(shop.settings.get("experiments", {})).as_dict(),
        "rights": rights_settings(shop).as_dict(),
    }


@router.put("/v1/shops/{shop}/settings", summary="Change the shop's settings")
async def put_settings(body: SettingsIn, shop: Merchant, state: State) -> dict[str, Any]:
    problems = [Problem("$.derived" + (f".{p}" if p and not p.startswith("$") else p.lstrip("$")), "invalid_setting", m) for p, m in DerivedSettings.validate(body.derived)]
    if problems:
        raise ApiError.from_problems(422, "invalid_settings", problems)
    derived = DerivedSettings.from_mapping(body.derived).as_dict()
    holdout = HoldoutSetting.from_mapping(shop.settings.get("experiments", {}))
    if body.experiments is not None and body.experiments.holdout != holdout.share:
        # A new share is a new holdout: its results start counting now (a new phase).
        holdout = HoldoutSetting(body.experiments.holdout, time.time())
    rights = body.rights.model_dump() if body.rights is not None else rights_settings(shop).as_dict()
    await shop_store.put_settings(
        state.redis, shop.shop_id, {**shop.settings, "derived": derived, "experiments": holdout.as_dict(), "rights": rights}
    )
    return {"derived": derived, "experiments": holdout.as_dict(), "rights": rights}


def rights_settings(shop: ShopRecord) -> RightsSettings:
    return RightsSettings.from_mapping(shop.settings.get("rights", {}))


async def put_rights_settings(state: AppState, shop: ShopRecord, rights: RightsSettingsIn) -> dict[str, Any]:
    """Change only the rights settings (what ``PUT …/settings {"rights": …}`` does to them),
    keeping every other setting as it is; the console's settings form posts here."""
    stored = rights.model_dump()
    await shop_store.put_settings(state.redis, shop.shop_id, {**shop.settings, "rights": stored})
    return stored


@router.post("/v1/shops/{shop}/keys:rotate", summary="Replace both keys; the old ones stop working")
async def rotate_keys(shop: Merchant, state: State) -> dict[str, Any]:
    merchant_key, storefront_key = await shop_store.rotate_keys(state.redis, shop.shop_id)
    return {"shop_id": shop.shop_id, "merchant_key": merchant_key, "storefront_key": storefront_key}
