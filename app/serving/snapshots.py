"""Per-process snapshots of a shop's configuration and catalog, keyed by their Redis versions.

A render reads the two version counters in the same round trip as the visitor's
profile; only when a counter moved does the process reload (and recompile) that part.
Replicas stay stateless: the snapshot is a cache of Redis, never a source of truth.

One reload per shop and part at a time: the page views that find a snapshot stale while
it is being reloaded wait for that reload instead of starting their own. Otherwise a
merchant's change on a busy server makes every page view in flight rebuild the same
snapshot at once, on the one event loop, and under load some of them run past their
timeout and fall back to the old configuration.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from app.core.catalog import EMPTY_CATALOG, Catalog
from app.core.crowds import Crowd
from app.core.derived import DerivedSettings
from app.core.engagement import EMPTY_ENGAGEMENT, Engagement
from app.core.page import Block, Page
from app.core.ranking import decayed
from app.experiments.definition import Experiment, HoldoutSetting
from app.rights.definition import Right
from app.rights.settings import RightsSettings
from app.serving.banners import CompiledBanner
from app.store import catalog as catalog_store
from app.store import keys
from app.store.shared_loads import SharedLoads
from app.store.shops import ShopRecord


@dataclass(frozen=True)
class ShopConfig:
    version: int
    shop: ShopRecord
    crowds: tuple[Crowd, ...]
    blocks: dict[str, Block]
    pages: dict[str, Page]
    derived_settings: DerivedSettings
    banners: dict[str, CompiledBanner] = field(default_factory=dict)
    experiments: tuple[Experiment, ...] = ()  # the running ones, by id
    holdout: HoldoutSetting = field(default_factory=HoldoutSetting)
    rights: dict[str, Right] = field(default_factory=dict)
    rights_settings: RightsSettings = field(default_factory=RightsSettings)


@dataclass
class CatalogSnapshot:
    version: int
    catalog: Catalog
    stored_popularity: dict[str, float]
    popularity_at: float  # monotonic time the popularity and engagement were read
    engagement: Engagement = EMPTY_ENGAGEMENT

    @staticmethod
    def popularity_scale(now: float) -> float:
        """The factor that reads stored popularity as decayed counts at ``now``."""
        return decayed(1.0, now)


def build_config(version: int, shop: ShopRecord, cfg: dict[str, dict[str, Any]]) -> ShopConfig:
    crowds = tuple(Crowd.compile(cid, body) for cid, body in sorted(cfg.get("crowd", {}).items()))
    blocks = {bid: Block(bid, b["template"], b.get("params", {})) for bid, b in cfg.get("block", {}).items()}
    pages = {pid: Page.from_dict(pid, p) for pid, p in cfg.get("page", {}).items()}
    derived = DerivedSettings.from_mapping(shop.settings.get("derived", {}))
    banners = {bid: CompiledBanner.from_body(bid, body) for bid, body in cfg.get("banner", {}).items()}
    compiled = (Experiment.from_body(eid, body) for eid, body in sorted(cfg.get("experiment", {}).items()))
    experiments = tuple(e for e in compiled if e is not None)
    holdout = HoldoutSetting.from_mapping(shop.settings.get("experiments", {}))
    rights = {rid: Right.from_body(rid, body) for rid, body in sorted(cfg.get("right", {}).items())}
    rights_settings = RightsSettings.from_mapping(shop.settings.get("rights", {}))
    return ShopConfig(version, shop, crowds, blocks, pages, derived, banners, experiments, holdout, rights, rights_settings)


@dataclass
class Snapshots:
    popularity_ttl_s: float = 5.0
    configs: dict[str, ShopConfig] = field(default_factory=dict)
    catalogs: dict[str, CatalogSnapshot] = field(default_factory=dict)
    config_loads: int = 0  # configurations built from Redis by this process (what the shared loads save)
    _loads: SharedLoads = field(default_factory=SharedLoads, repr=False)

    async def load_config(self, r: aioredis.Redis, shop_id: str) -> ShopConfig | None:
        """The shop's configuration as Redis has it now (joining a reload already running)."""
        return await self._loads.run(f"config:{shop_id}", lambda: self._load_config(r, shop_id))

    async def _load_config(self, r: aioredis.Redis, shop_id: str) -> ShopConfig | None:
        self.config_loads += 1
        async with r.pipeline(transaction=True) as pipe:
            pipe.get(keys.config_version(shop_id))
            pipe.hgetall(keys.shop(shop_id))
            for kind in keys.CONFIG_KINDS:
                pipe.hgetall(keys.config(shop_id, kind))
            ver, shop_hash, *raw = await pipe.execute()
        if not shop_hash:
            self.configs.pop(shop_id, None)
            return None
        cfg = {kind: {k: json.loads(v) for k, v in items.items()} for kind, items in zip(keys.CONFIG_KINDS, raw, strict=True)}
        snap = build_config(int(ver or 0), ShopRecord.from_hash(shop_id, shop_hash), cfg)
        self.configs[shop_id] = snap
        return snap

    async def config(self, r: aioredis.Redis, shop_id: str, version: int | None) -> ShopConfig | None:
        """The config at ``version`` (None: whatever Redis has now)."""
        snap = self.configs.get(shop_id)
        if snap is not None and version is not None and snap.version == version:
            return snap
        return await self.load_config(r, shop_id)

    async def catalog(self, r: aioredis.Redis, shop_id: str, version: int | None) -> CatalogSnapshot:
        snap = self.catalogs.get(shop_id)
        now = time.monotonic()
        if snap is None or version is None or snap.version != version:
            snap = await self._loads.run(f"catalog:{shop_id}", lambda: self._load_catalog(r, shop_id, now))
        elif now - snap.popularity_at > self.popularity_ttl_s:
            # Popularity and engagement move with every event and render; they are re-read
            # at most every few seconds.
            snap.stored_popularity, snap.engagement = await self._signals(r, shop_id)
            snap.popularity_at = now
        return snap

    async def _load_catalog(self, r: aioredis.Redis, shop_id: str, now: float) -> CatalogSnapshot:
        ver, products = await catalog_store.load_catalog(r, shop_id)
        pop, engagement = await self._signals(r, shop_id)
        snap = CatalogSnapshot(ver, Catalog.build(products), pop, now, engagement)
        self.catalogs[shop_id] = snap
        return snap

    @staticmethod
    async def _signals(r: aioredis.Redis, shop_id: str) -> tuple[dict[str, float], Engagement]:
        """Popularity and the engagement counters, in one round trip."""
        async with r.pipeline(transaction=False) as pipe:
            pipe.zrange(keys.popularity(shop_id), 0, -1, withscores=True)
            catalog_store.queue_engagement_read(pipe, shop_id)
            pop, *engagement = await pipe.execute()
        return dict(pop), catalog_store.engagement_from_replies(engagement)

    def cached_catalog(self, shop_id: str) -> CatalogSnapshot:
        return self.catalogs.get(shop_id) or CatalogSnapshot(0, EMPTY_CATALOG, {}, 0.0)

