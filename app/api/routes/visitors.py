"""Known visitors (CRM import), visitor profiles, and the events that build behaviour."""

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from app.api.auth import Merchant, ShopKey, State
from app.api.errors import ApiError, Problem
from app.api.schemas import EventsIn, VisitorsIn
from app.core.derived import DerivedSettings, derive
from app.core.events import parse_event
from app.core.known import validate_known
from app.core.profile import Context, Event
from app.store import keys
from app.store import visitors as visitor_store

router = APIRouter(tags=["visitors"])
log = logging.getLogger("storefront.events")
VisitorId = PathParam(min_length=1, max_length=128)
MAX_ATTRIBUTES_BYTES = 16_384  # one visitor's CRM record, serialized


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z") if ts is not None else None


@router.put("/v1/shops/{shop}/visitors", summary="Create or update known visitors (CRM import)")
async def upsert_visitors(body: VisitorsIn, shop: Merchant, state: State) -> dict[str, Any]:
    problems: list[Problem] = []
    for i, v in enumerate(body.visitors):
        path = f"$.visitors[{i}].attributes"
        if len(json.dumps(v.attributes, ensure_ascii=False)) > MAX_ATTRIBUTES_BYTES:
            problems.append(Problem(path, "too_large", f"A visitor's attributes may take at most {MAX_ATTRIBUTES_BYTES} bytes."))
            continue
        problems += [Problem(path + p, code, msg) for p, code, msg in validate_known(v.attributes)]
    if problems:
        raise ApiError.from_problems(422, "invalid_visitors", problems)
    n = await visitor_store.upsert_known(state.redis, shop.shop_id, [(v.visitor_id, v.attributes) for v in body.visitors])
    return {"upserted": n}


@router.get("/v1/shops/{shop}/visitors/{visitor_id}", summary="A visitor's profile: known, behaviour, derived")
async def get_visitor(shop: Merchant, state: State, visitor_id: str = VisitorId) -> dict[str, Any]:
    p = await visitor_store.read_profile(state.redis, shop.shop_id, visitor_id)
    if not p.known and p.behaviour.first_seen is None:
        raise ApiError(404, "visitor_not_found", f"Nothing is known about visitor '{visitor_id}' in this shop.")
    b = p.behaviour
    behaviour = b.as_dict()
    for k in ("first_seen", "last_seen", "first_purchase_at", "last_purchase_at", "followed_at"):
        behaviour[k] = _iso(behaviour[k])
    settings = DerivedSettings.from_mapping(shop.settings.get("derived", {}))
    derived = derive(p.known, b, Context(ts=time.time()), settings, spend_rank_pct=p.spend_rank_pct)
    return {"visitor_id": visitor_id, "known": p.known, "behaviour": behaviour, "derived": derived}


@router.post("/v1/shops/{shop}/events", summary="Visitor events: views, clicks, carts, purchases, follows, exposures")
async def post_events(body: EventsIn, shop: ShopKey, state: State) -> dict[str, Any]:
    now = time.time()
    events: list[Event] = []
    problems: list[Problem] = []
    for i, raw in enumerate(body.events):
        event, errors = parse_event(raw.model_dump(), f"$.events[{i}]", now)
        problems += [Problem(e.path, e.code, e.message) for e in errors]
        if event is not None:
            events.append(event)
    if problems:
        # All or nothing: a batch with one bad event writes none, so a retry is safe.
        raise ApiError.from_problems(422, "invalid_events", problems)
    # Views count towards the visitor's category interests and record of viewed prices:
    # the category and the price position come from the catalog as it is now.
    try:
        cat_ver = int(await state.redis.get(keys.catalog_version(shop.shop_id)) or 0)
        catalog = (await state.snapshots.catalog(state.redis, shop.shop_id, cat_ver)).catalog
    except (ValueError, KeyError, TypeError):
        # A catalog that does not load costs the views their category, not the events.
        log.exception("catalog of shop %s did not load; events ingested without categories", shop.shop_id)
        catalog = state.snapshots.cached_catalog(shop.shop_id).catalog
    resolved = [catalog.resolve(e) for e in events]
    accepted, duplicates = await visitor_store.ingest(state.redis, shop.shop_id, resolved)
    out: dict[str, Any] = {"accepted": accepted, "duplicates": duplicates}
    purchases = [e for e in resolved if e.type == "purchase"]
    if purchases and state.render_service.rights is not None:
        # Redemptions and the conversions of rights decisions (each purchase counted once).
        config = await state.snapshots.config(state.redis, shop.shop_id, None)
        if config is not None and config.rights:
            words = await state.render_service.rights.store.record_purchases(shop.shop_id, purchases, config.rights)
            out["rights"] = [{"event_id": e.event_id, "result": w} for e, w in zip(purchases, words, strict=True) if e.right_id or w != "no_decision"]
    return out
