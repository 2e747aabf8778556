"""Uploaded banner elements in Redis: metadata as the config item "element", bytes beside it.

The metadata lives with the rest of the configuration, so the reference checks that keep
pages from pointing at deleted blocks also keep banners from pointing at deleted
pictures and fonts; the bytes go in their own key, written and deleted in the same
transaction as the metadata.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis

from app.banners.elements import ElementInfo
from app.core.references import dangling_references
from app.store import configs as config_store
from app.store import keys
from app.store.configs import Configs, VersionRecord


def _deleting(element_id: str) -> config_store.Check:
    def check(proposed: Configs) -> list[Any]:
        return [ref for ref in dangling_references(proposed) if ref.kind == "element" and ref.target == element_id]

    return check


async def put_element(r: aioredis.Redis, shop_id: str, info: ElementInfo, data: bytes, *, meta: dict[str, Any] | None = None) -> tuple[dict[str, Any], bool]:
    """Store an element; (its stored metadata, created). The same bytes again change
    nothing (content address): the metadata first stored is answered."""
    stored = await config_store.get_item(r, shop_id, "element", info.id)
    if stored is not None and await r.exists(keys.element_data(shop_id, info.id)):
        return stored, False
    body = {**info.model_dump(mode="json"), **(meta or {})}
    await config_store.write(
        r, shop_id, "element", info.id, body, check=lambda _cfg: [], also=lambda pipe: pipe.set(keys.element_data(shop_id, info.id), data)
    )
    return body, True


async def delete_element(r: aioredis.Redis, shop_id: str, element_id: str) -> VersionRecord:
    """Raises ConfigRejected (with the references) while a banner uses the element."""
    return await config_store.write(
        r, shop_id, "element", element_id, None, check=_deleting(element_id), also=lambda pipe: pipe.delete(keys.element_data(shop_id, element_id))
    )


async def element_bytes(r: aioredis.Redis, shop_id: str, element_ids: Iterable[str]) -> dict[str, bytes]:
    """The bytes of the elements that exist, by id (one round trip)."""
    ids = list(dict.fromkeys(element_ids))
    if not ids:
        return {}
    values = await r.mget([keys.element_data(shop_id, i) for i in ids])
    return {i: v for i, v in zip(ids, values, strict=True) if v is not None}
