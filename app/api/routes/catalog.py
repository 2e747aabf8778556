"""The catalog: bulk upsert (up to 10,000 products a call), read and delete one product."""

from typing import Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from app.api.auth import Merchant, State
from app.api.errors import ApiError, Problem
from app.api.schemas import ProductsIn
from app.core.catalog import Product
from app.store import catalog as catalog_store

router = APIRouter(tags=["catalog"])
ProductId = PathParam(min_length=1, max_length=128)


@router.put("/v1/shops/{shop}/products", summary="Create or replace products")
async def upsert_products(body: ProductsIn, shop: Merchant, state: State) -> dict[str, Any]:
    first_at: dict[str, int] = {}
    problems = []
    for i, p in enumerate(body.products):
        if p.id in first_at:
            problems.append(Problem(f"$.products[{i}].id", "duplicate", f"Product '{p.id}' appears twice (first at {first_at[p.id]})."))
        first_at.setdefault(p.id, i)
    if problems:
        raise ApiError.from_problems(422, "invalid_products", problems)
    products = [Product.from_dict(p.model_dump()) for p in body.products]
    created, updated = await catalog_store.upsert_products(state.redis, shop.shop_id, products)
    return {"upserted": len(products), "created": created, "updated": updated}


@router.get("/v1/shops/{shop}/products/{product_id}", summary="One product")
async def get_product(shop: Merchant, state: State, product_id: str = ProductId) -> dict[str, Any]:
    product = await catalog_store.get_product(state.redis, shop.shop_id, product_id)
    if product is None:
        raise ApiError(404, "product_not_found", f"There is no product '{product_id}' in this shop.")
    return product.as_dict()


@router.delete("/v1/shops/{shop}/products/{product_id}", summary="Remove a product")
async def delete_product(shop: Merchant, state: State, product_id: str = ProductId) -> dict[str, Any]:
    if not await catalog_store.delete_product(state.redis, shop.shop_id, product_id):
        raise ApiError(404, "product_not_found", f"There is no product '{product_id}' in this shop.")
    return {"id": product_id, "deleted": True}
