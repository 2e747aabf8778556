"""A demo shop a newcomer can open: catalog, visitors with history, crowds, a home page.

Seeding is deterministic and idempotent: the visitors' history is laid out relative
to the time the shop was first seeded (kept in its settings), and every event has a
stable id, so running ``storefront demo`` again changes nothing but the keys.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from tqdm import tqdm

from app.banners.elements import ElementLimits, inspect_element
from app.banners.validation import validate_template
from app.core.catalog import Catalog, Product
from app.core.derived import DerivedSettings
from app.core.profile import Event
from app.core.references import dangling_references
from app.demo_art import BANNER_ID, banner_template, demo_pictures
from app.rendering.blocks import validate_params
from app.rights.definition import RightIn
from app.store import catalog as catalog_store
from app.store import configs as config_store
from app.store import elements as element_store
from app.store import shops as shop_store
from app.store import visitors as visitor_store

DAY = 86400.0

CATEGORIES: dict[str, tuple[str, float, list[str]]] = {
    # id: (Chinese name, typical price, product nouns)
    "women": ("女装", 260, ["真丝连衣裙", "羊绒开衫", "阔腿裤", "风衣", "针织衫", "半身裙"]),
    "men": ("男装", 280, ["商务衬衫", "羽绒服", "休闲裤", "polo衫", "夹克"]),
    "beauty": ("美妆", 180, ["保湿精华", "口红", "粉底液", "面膜", "香水", "眼霜"]),
    "baby": ("母婴", 120, ["婴儿推车", "纸尿裤", "奶瓶", "儿童绘本", "爬行垫"]),
    "food": ("食品", 60, ["坚果礼盒", "龙井茶", "月饼", "咖啡豆", "蜂蜜"]),
    "digital": ("数码", 900, ["降噪耳机", "智能手表", "蓝牙音箱", "移动电源", "机械键盘"]),
    "home": ("家居", 150, ["香薰蜡烛", "四件套", "保温杯", "收纳盒", "台灯"]),
    "sports": ("运动", 220, ["瑜伽垫", "跑鞋", "运动背包", "速干T恤"]),
}
ADJECTIVES = ["经典", "新款", "轻奢", "简约", "限定", "复古", "柔软", "便携", "高端", "国潮"]
CITIES = ["上海", "北京", "杭州", "深圳", "广州", "成都", "武汉", "南京", "西安", "重庆"]
LEVELS = ["normal", "silver", "gold", "platinum", "diamond"]


def build_products(n: int, rng: random.Random, anchor: float) -> list[Product]:
    cats = list(CATEGORIES)
    out = []
    for i in range(n):
        cat = cats[i % len(cats)]
        zh, typical, nouns = CATEGORIES[cat]
        price = round(max(9.9, rng.lognormvariate(0, 0.5) * typical), 1)
        tags = [t for t, p in (("new", 0.15), ("bestseller", 0.2), ("gift", 0.15)) if rng.random() < p]
        tags.append("premium" if price > typical * 1.5 else "budget" if price < typical * 0.6 else "standard")
        out.append(
            Product(
                id=f"p{i:04d}",
                title=f"{rng.choice(ADJECTIVES)}{rng.choice(nouns)} · {zh}",
                category=cat,
                price=price,
                stock=0 if rng.random() < 0.05 else rng.randint(1, 500),
                tags=tuple(tags),
                attributes={"brand": f"品牌{rng.randint(1, 30)}"},
                # "new" products entered the catalog in the last two weeks
                added_at=anchor - rng.uniform(0, 13) * DAY if "new" in tags else anchor - rng.uniform(30, 400) * DAY,
            )
        )
    return out


def _visitor_history(
    vid: str, rng: random.Random, anchor: float, products: list[Product], *, kind: str
) -> list[Event]:
    """Events of one visitor; ``kind`` shapes the lifecycle that emerges."""
    by_cat: dict[str, list[Product]] = {}
    for p in products:
        by_cat.setdefault(p.category, []).append(p)
    favourite = rng.choice(list(by_cat))
    events: list[Event] = []

    def add(etype: str, ts: float, p: Product, amount: float | None = None) -> None:
        events.append(
            Event(
                event_id=f"demo:{vid}:{len(events)}",
                type=etype,
                visitor_id=vid,
                ts=ts,
                product_id=p.id,
                category=p.category,
                amount_cents=round(amount * 100) if amount is not None else None,
            )
        )

    spans = {  # (first day ago, last day ago, orders range)
        "browser": (20, 0, (0, 0)),
        "new": (25, 1, (1, 2)),
        "growth": (150, 5, (2, 5)),
        "mature": (500, 3, (4, 12)),
        "dormant": (400, 120, (2, 8)),
        "churned": (700, 400, (1, 3)),
    }
    first, last, (lo, hi) = spans[kind]
    sessions = rng.randint(2, 8)
    for _ in range(sessions):
        day = rng.uniform(last, first)
        ts = anchor - day * DAY + rng.uniform(8, 23) * 3600
        cat = favourite if rng.random() < 0.7 else rng.choice(list(by_cat))
        p = rng.choice(by_cat[cat])
        add("view", ts, p)
        if rng.random() < 0.5:
            add("click", ts + 30, p)
        if rng.random() < 0.25:
            add("add_to_cart", ts + 60, p)
    orders = rng.randint(lo, hi)
    for k in range(orders):
        # the first and last orders fix the lifecycle; others fall in between
        day = first if k == 0 else last if k == orders - 1 else rng.uniform(last, first)
        p = rng.choice(by_cat[favourite])
        add("purchase", anchor - day * DAY + 12 * 3600, p, p.price * rng.choice([1, 1, 1, 2, 3]))
    return events


def _birthday(rng: random.Random, month: int | None = None) -> str:
    m = month or rng.randint(1, 12)
    return f"{rng.randint(1970, 2004)}-{m:02d}-{rng.randint(1, 28):02d}"


def build_visitors(n: int, rng: random.Random, anchor: float, products: list[Product]) -> tuple[list[tuple[str, dict[str, Any]]], list[Event]]:
    kinds = ["browser"] * 30 + ["new"] * 12 + ["growth"] * 20 + ["mature"] * 15 + ["dormant"] * 15 + ["churned"] * 8
    known: list[tuple[str, dict[str, Any]]] = []
    events: list[Event] = []
    for i in range(n):
        vid = f"v{i:05d}"
        kind = rng.choice(kinds)
        events += _visitor_history(vid, rng, anchor, products, kind=kind)
        if rng.random() < 0.65:  # a share of visitors is known through the merchant's CRM
            attrs: dict[str, Any] = {"gender": rng.choice(["female", "female", "male"]), "city": rng.choice(CITIES)}
            if rng.random() < 0.7:
                attrs["birthday"] = _birthday(rng)
            if kind != "browser" and rng.random() < 0.6:
                attrs["member_level"] = rng.choices(LEVELS, weights=[40, 25, 20, 10, 5])[0]
                attrs["member_since"] = time.strftime("%Y-%m-%d", time.gmtime(anchor - rng.uniform(30, 1500) * DAY))
            attrs["is_fan"] = rng.random() < 0.4
            known.append((vid, attrs))
    return known, events


def showcase_visitors(rng: random.Random, anchor: float, products: list[Product]) -> tuple[list[tuple[str, dict[str, Any]]], list[Event], list[dict[str, str]]]:
    """Named visitors the demo page opens with, chosen to land in different crowds."""
    # "this month" in the shop's time zone (the derived attributes' default), not UTC
    month = datetime.fromtimestamp(anchor, ZoneInfo(DerivedSettings().timezone)).month
    known = [
        ("vip-lin", {"gender": "female", "city": "上海", "birthday": _birthday(rng, month), "member_level": "platinum", "member_since": "2021-03-08", "is_fan": True, "name": "林女士"}),
        ("member-wang", {"gender": "female", "city": "杭州", "member_level": "gold", "member_since": "2023-06-18", "is_fan": True}),
    ]
    events = _visitor_history("vip-lin", rng, anchor, products, kind="dormant")
    # a big spender: many orders long ago, none in the last four months
    beauty = [p for p in products if p.category == "beauty"]
    for k in range(12):
        p = beauty[k % len(beauty)]
        events.append(Event(f"demo:vip-lin:big:{k}", "purchase", "vip-lin", anchor - (130 + k * 20) * DAY, p.id, p.category, round(p.price * 300)))
    events += _visitor_history("newcomer-42", rng, anchor, products, kind="browser")
    events += _visitor_history("member-wang", rng, anchor, products, kind="growth")
    descriptions = [
        {"visitor_id": "vip-lin", "description": "林女士: platinum member, big spender, no order for 4 months, birthday this month"},
        {"visitor_id": "newcomer-42", "description": "anonymous visitor, browsed a few times, never bought"},
        {"visitor_id": "member-wang", "description": "gold member, regular customer"},
    ]
    return known, events, descriptions


CROWDS: dict[str, dict[str, Any]] = {
    "birthday_month": {"name": "本月生日 Birthday this month", "priority": 70, "condition": {"birthday_this_month": True}},
    "high_value": {"name": "高价值前10% High-value top 10%", "priority": 60, "condition": {"is_purchaser": True, "monetary_top_pct": {"$lte": 10}}},
    "at_risk": {"name": "重要挽留 At risk", "priority": 55, "condition": {"rfm_segment": "at_risk"}},
    "dormant": {"name": "沉睡客户 Dormant customers", "priority": 50, "condition": {"lifecycle_stage": "dormant"}},
    "champions": {"name": "重要价值 Champions", "priority": 45, "condition": {"rfm_segment": "champions"}},
    "churned": {"name": "流失客户 Churned", "priority": 40, "condition": {"lifecycle_stage": "churned"}},
    "gold_plus": {"name": "金卡及以上 Gold and above", "priority": 35, "condition": {"member_level_rank": {"$gte": 2}}},
    "female_members": {"name": "女性会员 Female members", "priority": 30, "condition": {"gender": "female", "is_member": True}},
    "cart_abandoners": {"name": "加购未买 Cart, no order", "priority": 25, "condition": {"add_to_carts": {"$gte": 1}, "frequency": 0}},
    "new_customers": {"name": "新客 New customers", "priority": 20, "condition": {"lifecycle_stage": "new"}},
    "beauty_lovers": {"name": "美妆爱好者 Beauty lovers", "priority": 15, "condition": {"top_category": "beauty"}},
    "digital_fans": {"name": "数码控 Gadget fans", "priority": 15, "condition": {"top_category": "digital"}},
    "mature": {"name": "成熟客户 Mature", "priority": 13, "condition": {"lifecycle_stage": "mature"}},
    "growth": {"name": "成长客户 Growing", "priority": 12, "condition": {"lifecycle_stage": "growth"}},
    "new_visitors": {"name": "新访客 New visitors", "priority": 10, "condition": {"lifecycle_stage": "prospect"}},
    "fans": {"name": "粉丝 Fans", "priority": 5, "condition": {"is_fan": True}},
    "mobile_social": {"name": "社交引流 Social, mobile", "priority": 3, "condition": {"device": "mobile", "channel": "social"}},
    "big_cities": {"name": "北上 Beijing & Shanghai", "priority": 2, "condition": {"region": {"$in": ["上海", "北京"]}}},
    "night_owls": {"name": "夜猫子 Night owls", "priority": 1, "condition": {"$or": [{"hour": {"$gte": 22}}, {"hour": {"$lt": 6}}]}},
    # gender is known for CRM visitors; for anonymous ones the attribute model predicts it
    "likely_women": {"name": "女性（含模型预测） Women, incl. predicted", "priority": 8, "condition": {"gender": "female"}},
}

# The discount rights: the uplift model picks among the first six (the arms it was
# trained on, see training/coupon_sim.py) for whom one pays for itself; the top spenders
# get priority service as a crowd right; a visitor who opts out of personalization gets
# the default right. Money in yuan.
RIGHTS: dict[str, dict[str, Any]] = {
    "cash20": {"name": "满199减20", "kind": "amount_off", "value": {"amount": 20, "min_spend": 199}, "budget": {"money": 20000}, "pacing": {"daily_count": 400}},
    "cash50": {"name": "满399减50", "kind": "amount_off", "value": {"amount": 50, "min_spend": 399}, "budget": {"money": 30000}},
    "pct10": {"name": "全场9折", "kind": "percent_off", "value": {"percent": 10, "max_discount": 100}, "budget": {"money": 20000}},
    "free_ship": {"name": "包邮券", "kind": "free_shipping", "value": {}, "cost": {"per_redemption": 8}, "budget": {"count": 5000}},
    "points3x": {"name": "3倍积分", "kind": "points_multiplier", "value": {"multiplier": 3}, "cost": {"cap": 30}},
    "gift": {"name": "下单赠香薰小样", "kind": "gift", "value": {"gift": "香薰小样"}, "cost": {"per_redemption": 15}, "budget": {"count": 2000}},
    "vip_priority": {"name": "专属客服优先", "kind": "priority_service", "value": {"service": "专属客服 · 优先发货"}, "cost": {"per_redemption": 5}, "crowds": ["high_value"], "mode": "crowd"},
    "welcome5": {"name": "无门槛减5", "kind": "amount_off", "value": {"amount": 5}, "default": True, "budget": {"money": 10000}},
}

BLOCKS: dict[str, dict[str, Any]] = {
    "hero_default": {"template": "hero_banner", "params": {"title": "冬季新品上市", "subtitle": "New season, new arrivals", "theme": "light"}},
    "hero_welcome": {"template": "hero_banner", "params": {"title": "欢迎光临，新人首单立减30元", "subtitle": "Welcome: 30 off your first order", "link": "/signup", "cta": "领取", "theme": "festive"}},
    "hero_miss_you": {"template": "hero_banner", "params": {"title": "好久不见，我们想你了", "subtitle": "We miss you: a gift is waiting", "link": "/gift", "cta": "回来看看", "theme": "dark"}},
    "hero_birthday": {"template": "hero_banner", "params": {"title": "生日快乐！专属好礼已备好", "subtitle": "Happy birthday from all of us", "link": "/birthday", "cta": "拆礼物", "theme": "festive"}},
    "hero_vip": {"template": "hero_banner", "params": {"title": "尊享会员日 · 专属折扣", "subtitle": "Member days: for our best customers", "theme": "dark"}},
    "coupons_default": {"template": "coupon_strip", "params": {"title": "领券中心", "coupons": [{"label": "满299减15", "min_spend": 299, "amount": 15}, {"label": "满599减40", "min_spend": 599, "amount": 40}]}},
    "coupons_newcomer": {"template": "coupon_strip", "params": {"title": "新人专享", "coupons": [{"label": "新人立减30", "description": "无门槛", "amount": 30, "code": "HELLO30"}]}},
    "coupons_winback": {"template": "coupon_strip", "params": {"title": "回归礼包", "coupons": [{"label": "满300减80", "min_spend": 300, "amount": 80, "code": "BACK80"}, {"label": "包邮券", "description": "全场包邮"}]}},
    "countdown_sale": {"template": "countdown", "params": {"title": "双12年终盛典倒计时", "ends_at": "2026-12-12T00:00:00+08:00", "expired_text": "活动进行中"}},
    "text_vip": {"template": "text", "params": {"title": "您的专属顾问", "body": "尊敬的会员，您的专属顾问随时为您服务。\nPriority service for our members.", "align": "center"}},
    "grid_default": {"template": "product_grid", "params": {"title": "为你推荐 Picked for you", "count": 8, "columns": 4, "max_per_category": 2}},
    "grid_beauty": {"template": "product_grid", "params": {"title": "美妆与女装精选", "count": 8, "columns": 4, "pool": {"categories": ["beauty", "women"]}, "max_per_category": 5}},
    "grid_digital": {"template": "product_grid", "params": {"title": "数码新品", "count": 8, "columns": 4, "pool": {"categories": ["digital", "sports"]}}},
    "grid_premium": {"template": "product_grid", "params": {"title": "臻选好物 Premium picks", "count": 8, "columns": 4, "pool": {"tags": ["premium"]}, "max_per_category": 2}},
    "grid_newcomer": {"template": "product_grid", "params": {"title": "人气爆款 Best sellers", "count": 8, "columns": 4, "pool": {"tags": ["bestseller", "budget"]}, "max_per_category": 2}},
}

HOME_PAGE: dict[str, Any] = {
    "name": "首页 Home",
    "slots": [
        {"slot_id": "hero", "default": "hero_default", "variants": [
            {"crowd": "birthday_month", "block": "hero_birthday"},
            {"crowd": "high_value", "block": "hero_vip"},
            {"crowd": "dormant", "block": "hero_miss_you"},
            {"crowd": "new_visitors", "block": "hero_welcome"},
        ]},
        {"slot_id": "coupons", "default": "coupons_default", "variants": [
            {"crowd": "dormant", "block": "coupons_winback"},
            {"crowd": "at_risk", "block": "coupons_winback"},
            {"crowd": "new_visitors", "block": "coupons_newcomer"},
        ]},
        {"slot_id": "promo", "default": "countdown_sale", "variants": [
            {"crowd": "gold_plus", "block": "text_vip"},
        ]},
        {"slot_id": "grid", "default": "grid_default", "variants": [
            {"crowd": "high_value", "block": "grid_premium"},
            {"crowd": "female_members", "block": "grid_beauty"},
            {"crowd": "digital_fans", "block": "grid_digital"},
            {"crowd": "new_visitors", "block": "grid_newcomer"},
            {"crowd": "likely_women", "block": "grid_beauty"},
        ]},
    ],
}


async def _put_if_changed(r: aioredis.Redis, shop_id: str, kind: str, item_id: str, body: dict[str, Any], check: Callable[[Any], list[Any]]) -> None:
    if await config_store.get_item(r, shop_id, kind, item_id) != body:
        await config_store.write(r, shop_id, kind, item_id, body, check=check)


async def seed_banner(r: aioredis.Redis, shop_id: str) -> None:
    """The pictures (drawn, cut out) as elements, and the hero banner template over them."""
    ids: dict[str, str] = {}
    known = {}
    for role, data in demo_pictures().items():
        info = inspect_element(data, ElementLimits())
        await element_store.put_element(r, shop_id, info, data, meta={"name": f"demo {role}.png"})
        ids[role] = info.id
        known[info.id] = info
    template, warnings = validate_template(banner_template(ids), known)
    assert not warnings, warnings  # the demo's own wording is clean by construction
    await _put_if_changed(r, shop_id, "banner", BANNER_ID, template.model_dump(mode="json"), dangling_references)


async def seed_demo(r: aioredis.Redis, *, shop_id: str = "demo", visitors: int = 3000, products: int = 300, progress: bool = True) -> tuple[str, str, str]:
    """Create (or refresh) the demo shop; returns (shop id, merchant key, storefront key)."""
    created = await shop_store.create_shop(r, shop_id, "千面小铺 Demo Shop", demo=True)
    if created is None:
        record = await shop_store.get_shop(r, shop_id)
        assert record is not None
        if not record.demo:
            raise SystemExit(f"shop '{shop_id}' exists and is not a demo shop; choose another --shop")
        merchant_key, storefront_key = await shop_store.rotate_keys(r, shop_id)
        settings = record.settings
    else:
        record, merchant_key, storefront_key = created
        settings = {}
    anchor = float(settings.get("demo_anchor") or time.time())
    rng = random.Random(20261122)
    catalog = build_products(products, rng, anchor)
    await catalog_store.upsert_products(r, shop_id, catalog)
    known, events = build_visitors(visitors, rng, anchor, catalog)
    show_known, show_events, descriptions = showcase_visitors(rng, anchor, catalog)
    await visitor_store.upsert_known(r, shop_id, known + show_known)
    # resolved as the events API resolves what a storefront sends (category, price position)
    resolver = Catalog.build(catalog)
    all_events = [resolver.resolve(e) for e in events + show_events]
    with tqdm(total=len(all_events), desc="seeding events", unit=" events", disable=not progress, mininterval=0.5) as bar:
        await visitor_store.ingest(r, shop_id, all_events, progress=bar.update)
    await shop_store.put_settings(r, shop_id, {**settings, "demo_anchor": anchor, "demo_visitors": descriptions})
    for cid, body in CROWDS.items():
        await _put_if_changed(r, shop_id, "crowd", cid, {"description": "", "threshold": 0.5, **body}, dangling_references)
    await seed_banner(r, shop_id)
    for bid, body in BLOCKS.items():
        extra = {"banner": BANNER_ID} if body["template"] == "hero_banner" else {}
        params, errors = validate_params(body["template"], {**body["params"], **extra})
        assert not errors, (bid, errors)  # the demo's own blocks are valid by construction
        await _put_if_changed(r, shop_id, "block", bid, {"template": body["template"], "params": params, "name": ""}, dangling_references)
    await _put_if_changed(r, shop_id, "page", "home", HOME_PAGE, dangling_references)
    for rid, body in RIGHTS.items():
        await _put_if_changed(r, shop_id, "right", rid, RightIn.model_validate(body).stored(), dangling_references)
    return shop_id, merchant_key, storefront_key
