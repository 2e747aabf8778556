"""One page view, end to end: read, decide, render, log — with a fallback for every step.

The storefront always gets a page for a valid request: when Redis is slow or down, a
template breaks or the decision code fails, the step falls back (anonymous profile,
cached configuration, default block, placeholder, static page) and the response's
``fallbacks`` say what happened. Only a wrong key (403) or an unknown page (404) are
errors, because those are the caller's to fix.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import anyio
import numpy as np
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.banners.compose import ProductArt
from app.banners.template import find_size
from app.core.assignment import assign, in_holdout
from app.core.attributes import visitor_attributes
from app.core.catalog import Product
from app.core.crowd_probability import score_crowds_with_predictions
from app.core.crowds import as_only_crowd
from app.core.decision import CrowdScore, Fallback, PageDecision, SlotDecision
from app.core.engagement import exposure_increments
from app.core.features import VisitorRows, ranking_matrix
from app.core.page import (
    PRODUCT_TEMPLATES,
    Block,
    ProductInputs,
    candidates_for,
    decide_page,
    pick_block,
)
from app.core.profile import Behaviour, Context
from app.experiments.attribution import Exposure
from app.experiments.definition import HOLDOUT_ID
from app.experiments.levers import Overrides, overrides_for
from app.rendering.html import PageRenderer
from app.rights.definition import Right
from app.scoring.attribute_models import ModelRegistry
from app.serving.banners import BannerService, CompiledBanner, spec_for
from app.serving.exposures import ExposureLog
from app.serving.rights import Decided, RightsService
from app.serving.snapshots import ShopConfig, Snapshots
from app.store import keys
from app.store import rights as rights_store
from app.store import visitors as visitor_store

log = logging.getLogger("storefront.render")
T = TypeVar("T")

STATIC_PAGE_PARAMS = {"title": "欢迎光临 · Welcome", "body": "Our shop is getting ready for you. Please look around.", "align": "center"}


class Forbidden(Exception):
    pass


class PageNotFound(Exception):
    def __init__(self, page_id: str, known: list[str]) -> None:
        super().__init__(page_id)
        self.page_id = page_id
        self.known = known


@dataclass(frozen=True)
class RenderRequest:
    visitor_id: str
    page: str
    context: Context
    format: str = "json"  # "json" | "html"
    preview: bool = False  # a merchant's preview: not logged as an exposure
    # The console's preview "as a crowd": that crowd matched (score 1), all others not.
    # Previews only, so a forced crowd never reaches the exposure log.
    as_crowd: str | None = None
    # The visitor opted out of personalization: no crowd, no model, no experiment, and
    # the shop's default rights.
    personalized: bool = True

    def __post_init__(self) -> None:
        if self.as_crowd is not None and not self.preview:
            raise ValueError("as_crowd is for previews only")


@dataclass(frozen=True)
class RenderOutcome:
    decision: PageDecision
    html: str | None


def new_render_id() -> str:
    # Time-ordered, so exposure logs sort naturally; random tail, so ids are unguessable.
    return f"{int(time.time() * 1000):011x}{secrets.token_hex(6)}"


def check_key(config: ShopConfig, presented_key: str, *, roles: tuple[str, ...]) -> str:
    role = config.shop.role_of(presented_key)
    if role is None or role not in roles:
        raise Forbidden()
    return role


def _failure(exc: BaseException, shop_id: str, what: str) -> str:
    """The fallback reason for a failed read; unexpected errors are logged in full."""
    if isinstance(exc, RedisError | OSError | asyncio.TimeoutError):
        return f"redis unavailable ({type(exc).__name__})"
    log.exception("reading the %s of shop %s failed", what, shop_id)
    return f"reading the {what} failed ({type(exc).__name__})"


def static_decision(render_id: str, shop_id: str, req: RenderRequest, fallbacks: list[Fallback]) -> PageDecision:
    """The page served when nothing shop-specific can be read: no shop data in it at all."""
    slot = SlotDecision("main", "static", "text", STATIC_PAGE_PARAMS, "static default page")
    return PageDecision(render_id, shop_id, req.visitor_id, req.page, (), (slot,), tuple(fallbacks), {})


def banner_crowd(d: PageDecision, banner: CompiledBanner, slot_crowd: str | None) -> str | None:
    """The crowd whose variant of the banner this visitor sees.

    The crowd that chose the hero block's variant if the banner has a variant for it;
    else the visitor's highest-priority matched crowd that has one; else the base design.
    """
    variants = banner.template.variants
    if slot_crowd in variants:
        return slot_crowd
    matched = sorted((c for c in d.crowds if c.matched and c.id in variants), key=lambda c: -c.priority)
    return matched[0].id if matched else None


def banner_inputs(d: PageDecision, config: ShopConfig, products: Mapping[str, Product]) -> tuple[dict[str, str], list[ProductArt]]:
    """The variables a banner may show, from the rest of this page view's decision
    (``crowd_name`` depends on the banner's variants: the caller adds it).

    ``right``: the first coupon of the page's coupon strip (what this visitor is offered);
    products: the first product grid's, in its order; ``occasion``: the visitor's first
    occasion today (birthday, holiday, solar term, shopping festival).
    """
    coupons = next((s.params.get("coupons") or [] for s in d.slots if s.template == "coupon_strip"), [])
    grid = next((s for s in d.slots if s.template == "product_grid" and s.products), None)
    occasions = d.attributes.get("occasion_names_zh") or ()
    variables = {
        "right": str(coupons[0].get("label", "")) if coupons else "",
        "occasion": str(occasions[0]) if occasions else "",
        "shop_name": config.shop.name,
    }
    arts = []
    for p in grid.products[:4] if grid is not None else ():
        product = products.get(p.id)
        if product is not None:
            image = product.image if product.image and product.image.startswith("el_") else None
            arts.append(ProductArt(product.title, product.price, image))
    return variables, arts


def with_coupon(slots: tuple[SlotDecision, ...], right: Right | None) -> tuple[SlotDecision, ...]:
    """The page's coupon strips with the visitor's granted right first (and only once)."""
    if right is None:
        return slots
    coupon = right.coupon()
    out = []
    for s in slots:
        if s.template == "coupon_strip":
            rest = [c for c in s.params.get("coupons") or [] if c.get("right") != right.id]
            s = replace(s, params={**s.params, "coupons": [coupon, *rest][:10]})
        out.append(s)
    return tuple(out)


@dataclass(frozen=True)
class RightsAnswer:
    """The rights step's outcome, made while the page was being decided."""

    rights: dict[str, Any]  # the render's "rights" answer
    right: Right | None  # the right the coupon strips lead with
    fallback: Fallback | None = None


def _held_answer(grant: rights_store.Grant, rights: Mapping[str, Right]) -> RightsAnswer:
    """The answer for a grant the visitor holds: kept from an earlier page, or made now."""
    return RightsAnswer(grant.as_dict(rights), rights.get(grant.right) if grant.right else None)


def _rights_failed(shop_id: str, exc: Exception) -> RightsAnswer:
    log.exception("rights failed for shop %s", shop_id, exc_info=exc)
    fb = Fallback("rights", f"rights failed ({type(exc).__name__})", "no personal right on this page")
    return RightsAnswer({"granted": None, "status": "failed"}, None, fb)


def with_rights(d: PageDecision, answer: RightsAnswer) -> PageDecision:
    fallbacks = d.fallbacks if answer.fallback is None else (*d.fallbacks, answer.fallback)
    return replace(d, rights=answer.rights, slots=with_coupon(d.slots, answer.right), fallbacks=fallbacks)


class RenderService:
    def __init__(
        self,
        redis: aioredis.Redis,
        snapshots: Snapshots,
        page_renderer: PageRenderer,
        exposures: ExposureLog,
        models: ModelRegistry | None = None,
        ranker: ModelRegistry | None = None,
        *,
        redis_timeout_s: float = 0.15,
        reload_timeout_s: float = 2.0,
        banners: BannerService | None = None,
        rights: RightsService | None = None,
        inline_when_alone: bool = True,
    ) -> None:
        self.banners = banners
        self.rights = rights
        self.redis = redis
        self.snapshots = snapshots
        self.page_renderer = page_renderer
        self.exposures = exposures
        self.models = models
        self.ranker = ranker
        self.redis_timeout_s = redis_timeout_s
        self.reload_timeout_s = reload_timeout_s
        self.inline_when_alone = inline_when_alone
        self._in_flight = 0  # page views begun and not finished, on this event loop

    async def _off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, in a worker thread while other page views are in flight, inline
        when this is the only one.

        The thread is there so the event loop keeps serving the others while a model
        scores; alone, nobody waits for the loop, and the hop to a thread and back is
        pure latency: about 1 ms a render on the 2-core test machine (the thread's
        wake-up and the loop's, and the GIL passed between them; the README's benchmark
        table has the figures). The price shows at saturation: a request that arrives
        while a render runs inline waits to be read, so it is not counted in flight and
        its own render may run inline too; wrk at 16 connections measured about 8 %
        fewer renders a second.
        """
        if self.inline_when_alone and self._in_flight <= 1:
            return fn(*args)
        return await anyio.to_thread.run_sync(fn, *args)

    async def _read(self, shop_id: str, visitor_id: str) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.config_version(shop_id))
            pipe.get(keys.catalog_version(shop_id))
            rights_store.queue_visitor_read(pipe, shop_id, visitor_id)
            visitor_store.queue_profile_read(pipe, shop_id, visitor_id)
            return await pipe.execute()

    async def render(self, shop_id: str, req: RenderRequest, *, authorize: Callable[[ShopConfig], object]) -> RenderOutcome:
        """Decide (and render) one page view; ``authorize`` raises :class:`Forbidden` for a wrong key."""
        self._in_flight += 1
        try:
            return await self._render(shop_id, req, authorize)
        finally:
            self._in_flight -= 1

    async def _render(self, shop_id: str, req: RenderRequest, authorize: Callable[[ShopConfig], object]) -> RenderOutcome:
        render_id = new_render_id()
        fallbacks: list[Fallback] = []
        config = self.snapshots.configs.get(shop_id)
        profile = visitor_store.StoredProfile({}, Behaviour(), None)
        held_right: Any = None  # the visitor's live rights decision, read with the profile
        try:
            replies = await asyncio.wait_for(self._read(shop_id, req.visitor_id), self.redis_timeout_s)
            cfg_ver = int(replies[0] or 0)
            cat_ver = int(replies[1] or 0)
            config = self.snapshots.configs.get(shop_id, config)  # (another page view may have reloaded it meanwhile)
            if config is None or config.version != cfg_ver:
                config = await asyncio.wait_for(self.snapshots.load_config(self.redis, shop_id), self.reload_timeout_s)
            if config is None:
                raise Forbidden()  # no such shop: the same answer as a wrong key, so ids cannot be probed
            authorize(config)
            held_right = replies[2]
            profile = visitor_store.profile_from_replies(replies[3:])
        except Forbidden:
            raise
        except Exception as exc:  # Redis down or slow, or a stored value that does not parse
            reason = _failure(exc, shop_id, "shop")
            if config is None:
                fallbacks.append(Fallback("config", reason, "static default page"))
                return self._finish(static_decision(render_id, shop_id, req, fallbacks), req, {}, "")
            authorize(config)
            fallbacks.append(Fallback("profile", reason, "anonymous profile and the last cached shop configuration"))
            catalog = self.snapshots.cached_catalog(shop_id)
        else:
            try:
                # A catalog reload (rare) may take longer than the page view's own reads.
                catalog = await asyncio.wait_for(self.snapshots.catalog(self.redis, shop_id, cat_ver), self.reload_timeout_s)
            except Exception as exc:
                catalog = self.snapshots.cached_catalog(shop_id)
                served = "the last cached catalog" if catalog.catalog.products else "no products"
                fallbacks.append(Fallback("products", _failure(exc, shop_id, "catalog"), served))

        page = config.pages.get(req.page)
        if page is None:
            raise PageNotFound(req.page, sorted(config.pages))
        rights_task: asyncio.Future[RightsAnswer] | None = None
        try:
            attributes = self._attributes(config, req, profile, fallbacks)
            rows = VisitorRows(profile.behaviour, req.context)
            # The shop's holdout sees no personalization at all: no crowd, no model, no
            # experiment; popularity ranks and every slot shows its default block.
            held = in_holdout(shop_id, req.visitor_id, config.holdout.share)
            plain = held or not req.personalized  # the page everyone gets
            predicted, model_version = ({}, None) if plain else await self._predict(config, rows, attributes, fallbacks)
            crowd_scores = score_crowds_with_predictions(config.crowds, attributes, predicted)
            if req.as_crowd is not None:
                crowd_scores = as_only_crowd(crowd_scores, req.as_crowd)
            if plain:
                why = "shop holdout: no personalization" if held else "the visitor opted out of personalization"
                crowd_scores = tuple(replace(c, matched=False, reason=why) for c in crowd_scores)
            matched = {c.id for c in crowd_scores if c.matched}
            assignments = tuple(assign(e.spec, req.visitor_id, matched, holdout=plain) for e in config.experiments)
            overrides = overrides_for(config.experiments, assignments)
            forced = {slot: (o.value, o.reason) for (page, slot), o in overrides.blocks.items() if page == req.page}
            strategy = overrides.strategy(req.page)
            if config.rights and self.rights is not None:
                # Decided now, granted while the ranker scores the grids (the grant is a
                # Redis round trip: the script runs on Redis's core meanwhile), awaited
                # after the page decision. The request must be sent before the ranker,
                # which may run inline, holds the loop: then the reply waits for us, not
                # we for it: the store says how many turns of the loop that takes (one on
                # the grant's own connection, two through redis-py's pool).
                rights_task = self._start_rights(config, req, rows, matched, overrides, held_right, render_id, not plain)
                if not rights_task.done():  # (a held right or a preview is answered already)
                    for _ in range(self.rights.store.turns_to_send):
                        await asyncio.sleep(0)
            rank_scores: dict[str, np.ndarray]
            if plain or (strategy is not None and strategy.value == "popularity"):
                rank_scores, ranker_version = {}, None
            else:
                rank_scores, ranker_version = await self._rank_scores(config, req, rows, catalog, crowd_scores, forced, fallbacks)
            decision = self._decide(render_id, config, req, profile, catalog, attributes, crowd_scores, rank_scores, fallbacks, forced, plain)
            decision = replace(
                decision, model_version=model_version, ranker_version=ranker_version, experiments=assignments, in_holdout=held,
                personalized=not plain,
            )
            if rights_task is not None:
                decision = with_rights(decision, await rights_task)
            decision = self._attach_banners(decision, config, catalog.catalog.products, req, overrides)
        except Exception as exc:  # the decision must never cost the storefront its page
            if rights_task is not None and not rights_task.done():
                await rights_task  # (it never raises; a grant made stays with the visitor for the next page)
            log.exception("render decision failed for shop %s", shop_id)
            fallbacks.append(Fallback("page", f"decision failed ({type(exc).__name__})", "static default page"))
            decision = static_decision(render_id, shop_id, req, fallbacks)
        outcome = self._finish(decision, req, catalog.catalog.products, config.shop.name)
        if not req.preview:
            self._log_exposure(outcome.decision, req)
            self._log_experiments(outcome.decision, config, req, profile.behaviour)
        return outcome

    def _attributes(
        self, config: ShopConfig, req: RenderRequest, profile: visitor_store.StoredProfile, fallbacks: list[Fallback]
    ) -> dict[str, Any]:
        try:
            return visitor_attributes(
                profile.known, profile.behaviour, req.context, config.derived_settings, spend_rank_pct=profile.spend_rank_pct
            )
        except Exception as exc:
            log.exception("derived attributes failed for shop %s", config.shop.shop_id)
            fallbacks.append(Fallback("profile", f"derived attributes failed ({type(exc).__name__})", "known attributes only"))
            return {**req.context.extra, **profile.known}

    async def _predict(
        self,
        config: ShopConfig,
        rows: VisitorRows,
        attributes: dict[str, Any],
        fallbacks: list[Fallback],
    ) -> tuple[dict[str, dict[Any, float]], str | None]:
        """Predicted distributions of the attributes some crowd reads and this visitor lacks.

        Nothing is predicted when no model set is loaded or no crowd needs it; the
        model call runs off the event loop while other page views wait (:meth:`_off_loop`).
        """
        models = self.models.current if self.models is not None else None
        if models is None:
            return {}, None
        wanted = {
            a.split(".", 1)[0] for c in config.crowds for a in c.attributes
        } & models.attributes
        missing = {a for a in wanted if attributes.get(a) is None}
        if not missing:
            return {}, models.version
        try:
            predicted = (await self._off_loop(models.predict, rows.row(models.spec)[None, :], missing))[0]
        except Exception as exc:
            log.exception("attribute model failed for shop %s", config.shop.shop_id)
            fallbacks.append(Fallback("model", f"attribute model failed ({type(exc).__name__})", "rules on known attributes only"))
            return {}, models.version
        return {a: predicted[a] for a in missing}, models.version

    async def _rank_scores(
        self,
        config: ShopConfig,
        req: RenderRequest,
        rows: VisitorRows,
        catalog: Any,
        crowd_scores: tuple[CrowdScore, ...],
        forced: Mapping[str, tuple[str, str]],
        fallbacks: list[Fallback],
    ) -> tuple[dict[str, np.ndarray], str | None]:
        """The learned ranker's scores for every grid the page will show, in one model call.

        The blocks are chosen as the page decision will choose them (the same pure
        function); their candidates are stacked into one matrix, scored (in a worker
        thread when other page views wait: :meth:`_off_loop`), and split back per
        block. No ranker, or a failing one: popularity ranks.
        """
        ranker = self.ranker.current if self.ranker is not None else None
        if ranker is None:
            return {}, None
        by_crowd = {s.id: s for s in crowd_scores}
        chosen: dict[str, Block] = {}
        for slot in config.pages[req.page].slots:
            block = config.blocks.get(pick_block(slot, by_crowd, forced)[0])
            if block is not None and block.template in PRODUCT_TEMPLATES:
                chosen[block.id] = block
        parts = [(bid, candidates_for(b, catalog.catalog)) for bid, b in chosen.items()]
        parts = [(bid, c) for bid, c in parts if len(c)]
        if not parts:
            return {}, ranker.version
        now, behaviour = req.context.ts, rows.behaviour

        def score() -> dict[str, np.ndarray]:
            visitor = rows.row(ranker.spec)
            scale = catalog.popularity_scale(now)
            X = np.vstack([
                ranking_matrix(
                    ranker.spec, visitor, behaviour, c, catalog.stored_popularity, scale, catalog.catalog.category_price, now,
                    engagement=catalog.engagement,
                )
                for _, c in parts
            ])
            flat = ranker.score(X)
            out, at = {}, 0
            for bid, c in parts:
                out[bid], at = flat[at : at + len(c)], at + len(c)
            return out

        try:
            return await self._off_loop(score), ranker.version
        except Exception as exc:
            log.exception("product ranker failed for shop %s", config.shop.shop_id)
            fallbacks.append(Fallback("ranker", f"product ranker failed ({type(exc).__name__})", "popularity ranking"))
            return {}, ranker.version

    def _decide(
        self,
        render_id: str,
        config: ShopConfig,
        req: RenderRequest,
        profile: visitor_store.StoredProfile,
        catalog: Any,
        attributes: dict[str, Any],
        scores: tuple[CrowdScore, ...],
        rank_scores: dict[str, np.ndarray],
        fallbacks: list[Fallback],
        forced: Mapping[str, tuple[str, str]],
        held: bool,
    ) -> PageDecision:
        inputs = ProductInputs(
            catalog=catalog.catalog,
            popularity=catalog.stored_popularity,
            popularity_scale=catalog.popularity_scale(req.context.ts),
            now=req.context.ts,
            category_views={} if held else profile.behaviour.viewed_categories,
            model_scores=rank_scores,
        )
        return decide_page(
            render_id=render_id,
            shop_id=config.shop.shop_id,
            visitor_id=req.visitor_id,
            page=config.pages[req.page],
            blocks=config.blocks,
            crowd_scores=scores,
            products=inputs,
            attributes=attributes,
            fallbacks=fallbacks,
            forced=forced,
        )

    def _start_rights(
        self,
        config: ShopConfig,
        req: RenderRequest,
        rows: VisitorRows,
        matched: set[str],
        overrides: Overrides,
        held_right: Any,
        render_id: str,
        personalized: bool,
    ) -> asyncio.Future[RightsAnswer]:
        """The visitor's right for this page view: the one they hold, or a new decision.

        The decision (the uplift model, the policy) runs here, on the event loop, before
        the ranker starts, so the two do not compete for the GIL when the ranker has a
        thread; only the grant, a Redis round trip, is left running as a task while the
        page is ranked and decided (the README's benchmark table has the figures).

        A preview decides but grants nothing (no budget is spent on a merchant's look).
        A failure costs the page its personal right, never the page: the future never
        holds an exception.
        """
        assert self.rights is not None
        done: asyncio.Future[RightsAnswer] = asyncio.get_running_loop().create_future()
        shop_id, now = config.shop.shop_id, req.context.ts
        try:
            held = None if req.preview else rights_store.live_grant(held_right, now)
            if held is not None:
                done.set_result(_held_answer(held, config.rights))
                return done
            lever = overrides.rights_policy()
            decided = self.rights.decide(
                config.rights, config.rights_settings, rows, matched,
                personalized=personalized, lever=lever.value if lever is not None else None,
            )
            decision = decided.decision
            version = f"config {config.version}, uplift {decided.model_version or 'none'}"
            if req.preview:
                answer: dict[str, Any] = {"preview": True, "granted": None, **decision.as_dict(), "policy_version": version}
                first = config.rights.get(decision.candidates[0]) if decision.candidates else None
                if first is not None:
                    answer["granted"] = first.summary()
                done.set_result(RightsAnswer(answer, first))
                return done
        except Exception as exc:
            done.set_result(_rights_failed(shop_id, exc))
            return done
        return asyncio.ensure_future(self._grant(config, req, decided, version, render_id))

    async def _grant(self, config: ShopConfig, req: RenderRequest, decided: Decided, version: str, render_id: str) -> RightsAnswer:
        assert self.rights is not None
        shop_id = config.shop.shop_id
        try:
            grant = await self.rights.store.grant(
                shop_id, req.visitor_id, decided.decision, config.rights, now=req.context.ts, zone=config.derived_settings.timezone,
                policy_version=version, render_id=render_id, features=decided.features,
            )
        except Exception as exc:
            return _rights_failed(shop_id, exc)
        return _held_answer(grant, config.rights)

    def _attach_banners(
        self, d: PageDecision, config: ShopConfig, products: Mapping[str, Product], req: RenderRequest, overrides: Overrides
    ) -> PageDecision:
        """Hero blocks naming a banner template get its picture's URL for this visitor's crowd.

        Only a digest and a signature are computed here; the picture is composed when the
        template is saved or, on a miss, when it is fetched, never on this path.
        """
        if self.banners is None or not config.banners:
            return d
        slots, fallbacks = list(d.slots), list(d.fallbacks)
        inputs: tuple[dict[str, str], list[ProductArt]] | None = None  # the same for every banner of the page
        for i, slot in enumerate(slots):
            banner = config.banners.get(str(slot.params.get("banner"))) if slot.template == "hero_banner" else None
            if banner is None:
                continue
            try:
                if inputs is None:
                    inputs = banner_inputs(d, config, products)
                shared, arts = inputs
                device_size = "mobile" if req.context.device == "mobile" and find_size(banner.template, "mobile") else None
                design = overrides.design(banner.banner_id)
                if design is not None:  # an experiment's design: "base" or one crowd's variant
                    crowd = None if design.value == "base" else design.value
                else:
                    crowd = banner_crowd(d, banner, slot.crowd)
                variables = {**shared, "crowd_name": next((c.name for c in config.crowds if c.id == crowd), "")}
                urls = {
                    size or "default": self.banners.url(banner, spec_for(d.shop_id, banner, crowd, variables, arts, size, "webp"))
                    for size in [None, *(s.name for s in banner.template.sizes)]
                }
                params = {**slot.params, "banner_url": urls[device_size or "default"], "banner_urls": urls, "banner_crowd": crowd}
                slots[i] = replace(slot, params=params)
            except Exception as exc:
                log.exception("banner URL failed for shop %s", d.shop_id)
                fallbacks.append(Fallback("banner", f"banner {banner.banner_id} failed ({type(exc).__name__})", "the hero block without its banner"))
        return replace(d, slots=tuple(slots), fallbacks=tuple(fallbacks))

    def _finish(self, decision: PageDecision, req: RenderRequest, catalog: Mapping[str, Product], shop_name: str) -> RenderOutcome:
        if req.format != "html":
            return RenderOutcome(decision, None)
        # Only a page rendered here needs the shown products' records (JSON answers ids).
        products = {p.id: catalog[p.id].as_dict() for s in decision.slots for p in s.products if p.id in catalog}
        try:
            result = self.page_renderer.render_page(decision, products, shop_name=shop_name, preview=req.preview)
        except Exception as exc:
            log.exception("page template failed")
            fb = Fallback("template", f"page template failed ({type(exc).__name__})", "static default page")
            decision = static_decision(decision.render_id, decision.shop_id, req, [*decision.fallbacks, fb])
            result = self.page_renderer.render_page(decision, {}, shop_name=shop_name, preview=req.preview)
        if result.failed_slots:
            decision = replace(decision, fallbacks=decision.fallbacks + result.fallbacks())
        return RenderOutcome(decision, result.html)

    def _log_exposure(self, d: PageDecision, req: RenderRequest) -> None:
        fields = {
            "render_id": d.render_id,
            "visitor": d.visitor_id,
            "page": d.page_id,
            "ts": str(round(req.context.ts * 1000)),
            "crowds": ",".join(c.id for c in d.crowds if c.matched),
            "slots": json.dumps(
                [{"slot": s.slot_id, "block": s.block_id, "crowd": s.crowd, "products": [p.id for p in s.products]} for s in d.slots],
                separators=(",", ":"),
            ),
            "fallbacks": str(len(d.fallbacks)),
        }
        grids = [[p.id for p in s.products] for s in d.slots if s.products]  # (only product grids have products)
        self.exposures.add(d.shop_id, fields, exposure_increments(grids))

    def _log_experiments(self, d: PageDecision, config: ShopConfig, req: RenderRequest, behaviour: Behaviour) -> None:
        """One first exposure per visitor and experiment phase, with the pre-exposure
        figures (CUPED's covariate); the holdout is logged like an experiment."""
        if not d.experiments and config.holdout.share <= 0:
            return
        at_ms = round(req.context.ts * 1000)

        def exposure(variant: str) -> Exposure:
            return Exposure(variant, at_ms, behaviour.spend_cents, behaviour.orders, behaviour.clicks)

        phases = {e.id: e.phase for e in config.experiments}
        for a in d.experiments:
            if a.variant is not None:
                self.exposures.expose(d.shop_id, a.experiment, phases[a.experiment], d.visitor_id, exposure(a.variant))
        if config.holdout.share > 0 and (d.in_holdout or d.personalized):  # (an opted-out visitor is in neither group)
            variant = "holdout" if d.in_holdout else "personalized"
            self.exposures.expose(d.shop_id, HOLDOUT_ID, config.holdout.phase, d.visitor_id, exposure(variant))
