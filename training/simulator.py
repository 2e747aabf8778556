"""A seeded shop simulator: products, visitors with hidden traits, and what they did.

``simulate(SimConfig(seed=1))`` builds a shop whose visitors have latent traits
(gender, age band, price sensitivity, category affinities, purchase propensity) that
drive everything observable about them (device, channel, hours, views, clicks, carts,
purchases, spend), over ``days`` days of sessions. It returns the catalog, the event
log in the service's own :class:`~app.core.profile.Event` type, one
:class:`Impression` per product list a visitor saw (what a ranker learns from), the
context of every session, and the ground truth of every visitor, so that models and
policies can be scored against what really drove the behaviour. The same config
gives the same simulation, byte for byte (:meth:`Simulation.fingerprint`).

Files the service and the training pipeline read are written by :mod:`training.sim_io`;
``python -m training.simulator --seed 1 --out sim/`` writes them all.

Behaviour model
===============

Notation: ``K`` categories, ``σ(x) = 1 / (1 + e^-x)``, ``U`` uniform, all draws from
one ``numpy.random.Generator`` per stage, seeded from ``config.seed``.

Products (``i % K`` gives the category, so categories are equally stocked)::

    price_p  = round(max(9.9, level_c · LogNormal(0, 0.5)), 1)    level_c: the category's
                                                                   typical price (demo levels)
    r_p      = ln(price_p / level_c)                               price relative to its category
    appeal_p ~ N(0, 0.6)                                           hidden quality
    pop_p    = 0.8 · appeal_p + N(0, 0.5)                          the baseline system's
                                                                   (noisy) log-popularity
    added_at : 12 % arrive during the window (tag "new"), the rest 20-400 days before it

Visitors (traits independent of whether the merchant knows them)::

    gender   : female 60 %, male 40 %
    age band : 18-24 20 %, 25-34 35 %, 35-44 25 %, 45-54 12 %, 55+ 8 %
    price sensitivity | age band : young and old lean "high", 35-44 leans "low"
    propensity ~ Beta(2, 5)                                        mean 0.29
    affinity ~ Dirichlet(CONCENTRATION · softmax(g_c · s + a_{age,c}))
        s = +1/2 for women, -1/2 for men; g_c the gender lean of the category
        (women, beauty +1.4; baby +0.4; home +0.3; sports -0.5; digital -1.1; men -1.4),
        a_{age,c} the age shift (25-34: baby +1.0; 55+: food, home +0.6, digital -0.6 ...)
    device  ~ Cat(p(age, gender))    mobile 85 % at 18-24 down to 48 % at 55+, men
                                     lean desktop, older visitors lean tablet
    channel ~ Cat(softmax(base + gender + age))   women lean social, men search,
                                                  young social/ads, old email/direct
    fan     ~ Bernoulli(σ(-2.2 + 3 · propensity))   follows the shop in one session
    known   : exactly round(known_share · n) visitors, drawn at random; their CRM record
              (gender, birthday from the age, city, is_fan, member level for some)

Lifecycle and sessions::

    arrival  = day 0 for 35 % (customers already active at the start), else U(0, days)
    dormant  after Exponential(mean 30 + 200 · propensity) days of activity
    sessions = 1 (at arrival) + Poisson(rate · active days),
               rate = 0.03 + 0.45 · propensity^1.5 per day
    hour     ~ the age band's daily profile (18-24 late evening, 55+ morning ...),
               local time (UTC+8)
    device   = the visitor's own with p 0.85, else a fresh draw; channel the same with p 0.6

Page views in a session::

    lists    = 1 + Poisson(0.6 + 1.2 · propensity), each 70 % a category list (category
               ~ affinity) else a home list over all categories
    shown    = top list_size of  pop_p + 2.5 · [c_p = list category]
                                 + 0.5 · max(0, 1 - age_p / 14 days)   (new-arrival boost)
                                 + N(0, 0.6)                           (per list)
               among products already added: a noisy popularity order, as a baseline shows
    P(click at position k) = (k + 1)^-0.7                                 examination
                             · σ(-2.4 + appeal_p + 0.8 · ln max(K · affinity_{v,c_p}, 0.05)
                                 - β_click[ps] · r_p)
               β_click = low -0.3, mid 0.4, high 1.2
    organic  = Poisson(0.5 + 1.5 · propensity) product views per session from outside the
               lists (search, links): category ~ affinity, product ∝ exp(appeal_p - β_click[ps] · r_p)

Every product view (a click opens the product page, so a click is also a view) may go on::

    P(cart | view)     = σ(-2.4 + 2.5 · (propensity - 0.3) + 0.3 · appeal_p - 0.5 · β_buy[ps] · r_p)
    P(purchase | cart) = σ(-1.2 + 2.5 · (propensity - 0.3) - β_buy[ps] · r_p)
               β_buy = low -0.2, mid 0.7, high 1.8;  quantity 1, 2 or 3 (85/12/3 %)

Events (``Simulation.events``, sorted by time, ids stable for a seed)::

    exposure     one per list, render_id = the impression id         {imp}-x
    click, view  a click on a list, then its product page             {imp}-{pos}c, {imp}-{pos}v
    add_to_cart, purchase  after a view; render_id set when the view  {imp}-{pos}a, {imp}-{pos}p
                 came from a list (organic: s{seed}-o{n}v/a/p)
    follow       once per fan                                         s{seed}-{visitor}-follow

Every event of a product carries its category and price position (as the service
resolves them on ingestion, :meth:`app.core.catalog.Catalog.resolve`); a purchase
carries price × quantity in cents.

With the defaults (5,000 visitors, 120 days): about 6.5 sessions and 13 lists per
visitor, 1.1 clicks per list, 37 % of visitors buy at least once, 58 % have gone
quiet before the end. A LightGBM model on the service's own feature rows
(``app.core.features``) at the end of the run tells gender at AUC about 0.89 (0.83
after 60 days with 2,000 visitors), age band 25-34 at about 0.72.

So affinities (hence gender and age) show in which categories are viewed, price
sensitivity in the prices clicked and bought, propensity in how often a visitor comes
back, how much they browse and how often they buy; device, channel and hour carry a
weak signal of age and gender. Visitors who arrive late are new at the end, those
whose activity ended early are dormant. Positions bias clicks, and a ranker that
knows the visitor's affinity and price sensitivity can beat the popularity order.
"""

from __future__ import annotations

import argparse
import hashlib
import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any

import numpy as np
from tqdm import tqdm

from app.core.catalog import Catalog, Product
from app.core.profile import Event

DAY = 86400
TZ_OFFSET_S = 8 * 3600  # Asia/Shanghai: UTC+8 all year, no daylight saving
SHOP_TZ = timezone(timedelta(seconds=TZ_OFFSET_S))
DEFAULT_START = 1_767_196_800  # 2026-01-01T00:00:00+08:00

# id: (Chinese name, typical price in yuan, product nouns): the demo shop's levels
CATEGORY_LEVELS: Mapping[str, tuple[str, float, tuple[str, ...]]] = {
    "women": ("女装", 260.0, ("真丝连衣裙", "羊绒开衫", "阔腿裤", "风衣", "针织衫", "半身裙")),
    "men": ("男装", 280.0, ("商务衬衫", "羽绒服", "休闲裤", "polo衫", "夹克")),
    "beauty": ("美妆", 180.0, ("保湿精华", "口红", "粉底液", "面膜", "香水", "眼霜")),
    "baby": ("母婴", 120.0, ("婴儿推车", "纸尿裤", "奶瓶", "儿童绘本", "爬行垫")),
    "food": ("食品", 60.0, ("坚果礼盒", "龙井茶", "月饼", "咖啡豆", "蜂蜜")),
    "digital": ("数码", 900.0, ("降噪耳机", "智能手表", "蓝牙音箱", "移动电源", "机械键盘")),
    "home": ("家居", 150.0, ("香薰蜡烛", "四件套", "保温杯", "收纳盒", "台灯")),
    "sports": ("运动", 220.0, ("瑜伽垫", "跑鞋", "运动背包", "速干T恤")),
}
DEFAULT_CATEGORIES: tuple[str, ...] = tuple(CATEGORY_LEVELS)
DEFAULT_LEVEL = 150.0  # typical price of a category the table does not know
ADJECTIVES = ("经典", "新款", "轻奢", "简约", "限定", "复古", "柔软", "便携", "高端", "国潮")
CITIES = ("上海", "北京", "杭州", "深圳", "广州", "成都", "武汉", "南京", "西安", "重庆")
CITY_P = np.array([0.14, 0.13, 0.1, 0.11, 0.11, 0.1, 0.08, 0.08, 0.07, 0.08])
MEMBER_LEVELS = ("normal", "silver", "gold", "platinum", "diamond")

GENDERS = ("female", "male")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
PRICE_SENSITIVITIES = ("low", "mid", "high")
DEVICES = ("mobile", "desktop", "tablet")
CHANNELS = ("search", "social", "direct", "ads", "email")

# --- visitor traits -------------------------------------------------------------
P_MALE = 0.4
AGE_P = np.array([0.20, 0.35, 0.25, 0.12, 0.08])
AGE_RANGE = np.array([[18, 25], [25, 35], [35, 45], [45, 55], [55, 70]], dtype=float)
PS_BY_AGE = np.array(  # rows: age band; columns: low, mid, high
    [[0.15, 0.40, 0.45], [0.30, 0.45, 0.25], [0.40, 0.42, 0.18], [0.32, 0.45, 0.23], [0.22, 0.40, 0.38]]
)
CONCENTRATION = 4.0  # Dirichlet total: lower, more individual tastes
GENDER_LEAN = {"women": 1.4, "beauty": 1.4, "baby": 0.4, "home": 0.3, "food": 0.0, "sports": -0.5, "digital": -1.1, "men": -1.4}
AGE_SHIFT = {
    "18-24": {"beauty": 0.3, "digital": 0.4, "sports": 0.4, "baby": -1.2, "home": -0.5, "food": -0.1},
    "25-34": {"baby": 1.0, "women": 0.2, "home": 0.1},
    "35-44": {"baby": 0.4, "home": 0.4, "food": 0.2, "sports": -0.1},
    "45-54": {"food": 0.5, "home": 0.5, "baby": -0.4, "digital": -0.2, "beauty": -0.1},
    "55+": {"food": 0.6, "home": 0.6, "baby": -0.3, "digital": -0.6, "beauty": -0.3, "sports": -0.2},
}
DEVICE_P = np.array(  # [gender][age] -> mobile, desktop, tablet
    [
        [[0.88, 0.08, 0.04], [0.83, 0.11, 0.06], [0.72, 0.18, 0.10], [0.62, 0.24, 0.14], [0.52, 0.30, 0.18]],
        [[0.80, 0.16, 0.04], [0.74, 0.20, 0.06], [0.62, 0.29, 0.09], [0.54, 0.34, 0.12], [0.44, 0.40, 0.16]],
    ]
)
CHANNEL_BASE = np.array([0.0, 0.0, -0.2, -0.2, -1.0])  # search, social, direct, ads, email
CHANNEL_GENDER = np.array([[0.0, 0.4, 0.0, 0.0, 0.1], [0.4, -0.2, 0.0, 0.1, 0.0]])
CHANNEL_AGE = np.array(
    [
        [-0.1, 0.6, -0.3, 0.3, -0.6],
        [0.0, 0.3, 0.0, 0.2, -0.2],
        [0.1, 0.0, 0.1, 0.0, 0.2],
        [0.1, -0.3, 0.3, -0.1, 0.5],
        [0.0, -0.5, 0.4, -0.2, 0.7],
    ]
)
# daily profiles: (centre hour, width in hours, weight) bumps on top of a small floor
HOUR_BUMPS = (
    ((13.0, 2.0, 0.5), (22.5, 2.0, 1.3), (1.0, 1.5, 0.3)),
    ((12.5, 1.5, 0.8), (21.0, 2.0, 1.0), (9.0, 1.5, 0.3)),
    ((9.5, 2.0, 0.7), (13.0, 1.5, 0.5), (20.5, 2.0, 0.8)),
    ((8.5, 2.0, 0.9), (14.0, 2.0, 0.5), (19.5, 2.0, 0.7)),
    ((8.0, 2.0, 1.0), (15.0, 2.5, 0.7), (19.0, 1.5, 0.4)),
)

# --- lifecycle and sessions -----------------------------------------------------
P_ACTIVE_AT_START = 0.35
LIFETIME_DAYS = (30.0, 200.0)  # mean active days = a + b * propensity
SESSION_RATE = (0.03, 0.45)  # sessions per active day = a + b * propensity^1.5
P_OWN_DEVICE = 0.85
P_OWN_CHANNEL = 0.6
LISTS_PER_SESSION = (0.6, 1.2)  # 1 + Poisson(a + b * propensity)
P_CATEGORY_LIST = 0.7
ORGANIC_VIEWS = (0.5, 1.5)  # Poisson(a + b * propensity) per session

# --- the baseline display and the choice model -----------------------------------
CATEGORY_LIST_BONUS = 2.5
NEW_ARRIVAL_BOOST = 0.5
NEW_ARRIVAL_DAYS = 14.0
DISPLAY_NOISE = 0.6
EXAMINATION_POWER = 0.7
CLICK_BASE = -2.4
AFFINITY_WEIGHT = 0.8
AFFINITY_FLOOR = 0.05
BETA_CLICK = np.array([-0.3, 0.4, 1.2])  # by price sensitivity low, mid, high
BETA_BUY = np.array([-0.2, 0.7, 1.8])
CART_BASE = -2.4
BUY_BASE = -1.2
PROPENSITY_WEIGHT = 2.5
QUANTITY_P = np.array([0.85, 0.12, 0.03])

CHUNK = 2048  # lists scored per numpy pass (memory: CHUNK x n_products floats)

EXPOSURE, VIEW, CLICK, CART, PURCHASE, FOLLOW = range(6)
EVENT_TYPE_NAMES = ("exposure", "view", "click", "add_to_cart", "purchase", "follow")


@dataclass(frozen=True)
class SimConfig:
    seed: int
    n_products: int = 300
    n_visitors: int = 5000
    days: int = 120
    known_share: float = 0.3
    start: float = DEFAULT_START  # epoch seconds; fixed, so that output is reproducible
    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    list_size: int = 20  # products shown per list impression

    def __post_init__(self) -> None:
        if self.n_products < 1 or self.n_visitors < 1 or self.days < 1 or self.list_size < 1:
            raise ValueError("n_products, n_visitors, days and list_size must be at least 1")
        if not 0.0 <= self.known_share <= 1.0:
            raise ValueError("known_share must be between 0 and 1")
        if not self.categories or len(set(self.categories)) != len(self.categories):
            raise ValueError("categories must be a non-empty list of distinct names")
        if not math.isfinite(self.start) or self.start < 946_684_800:
            raise ValueError("start must be epoch seconds after 2000-01-01")

    @property
    def end(self) -> float:
        return self.start + self.days * DAY


@dataclass(frozen=True)
class ProductTruth:
    """What the simulator knows about a product and the shop does not."""

    product_id: str
    appeal: float  # hidden quality: raises clicks and carts
    popularity: float  # the baseline's log-popularity (appeal plus estimation noise)
    price_ratio: float  # ln(price / the category's typical price)


@dataclass(frozen=True)
class VisitorTruth:
    visitor_id: str
    gender: str  # "female" | "male"
    age_band: str  # "18-24" … "55+"
    age: int  # years at the start of the simulation
    price_sensitivity: str  # "low" | "mid" | "high"
    affinity: Mapping[str, float]  # category -> weight, summing to 1
    propensity: float  # in (0, 1): session frequency and conversion
    device: str  # the visitor's usual device
    channel: str  # the visitor's usual channel
    city: str
    is_fan: bool  # follows the shop during the simulation
    known: bool  # the merchant's CRM knows this visitor
    known_attributes: Mapping[str, Any]  # the CRM record (empty for anonymous visitors)
    active_from: float  # epoch seconds of the first session
    dormant_from: float | None  # when activity stopped, None if active to the end
    sessions: int

    @property
    def top_category(self) -> str:
        return max(self.affinity, key=lambda c: self.affinity[c])


@dataclass(frozen=True)
class SessionContext:
    session_id: str
    visitor_id: str
    ts: float  # start of the session, epoch seconds
    device: str
    channel: str
    hour: int  # local hour (UTC+8), 0-23
    weekday: int  # local ISO weekday, 1 = Monday


@dataclass(frozen=True)
class Impression:
    """One product list a visitor saw; the flags are per displayed position."""

    impression_id: str  # also the ``render_id`` of the events it led to
    session_id: str
    visitor_id: str
    ts: float
    device: str
    channel: str
    hour: int
    list_category: str | None  # None: a home list over all categories
    product_ids: tuple[str, ...]  # in displayed order
    clicked: tuple[bool, ...]
    carted: tuple[bool, ...]
    purchased: tuple[bool, ...]  # a purchase always follows a cart, which follows a click

    def labels(self) -> tuple[int, ...]:
        """Graded relevance per position: 2 purchase, 1 click, 0 nothing."""
        return tuple(2 if p else 1 if c else 0 for c, p in zip(self.clicked, self.purchased, strict=True))


@dataclass(frozen=True)
class Simulation:
    config: SimConfig
    products: list[Product]
    product_truth: list[ProductTruth]
    visitors: list[VisitorTruth]
    events: list[Event]  # sorted by ts
    impressions: list[Impression]  # sorted by ts
    contexts: list[SessionContext]  # one per session, sorted by ts

    @property
    def start(self) -> float:
        return self.config.start

    @property
    def end(self) -> float:
        return self.config.end

    @cached_property
    def visitor_index(self) -> Mapping[str, VisitorTruth]:
        return {v.visitor_id: v for v in self.visitors}

    @cached_property
    def product_index(self) -> Mapping[str, Product]:
        return {p.id: p for p in self.products}

    @cached_property
    def _truth_index(self) -> Mapping[str, ProductTruth]:
        return {t.product_id: t for t in self.product_truth}

    @cached_property
    def _purchase_times(self) -> Mapping[str, list[float]]:
        out: dict[str, list[float]] = {}
        for e in self.events:  # sorted by ts, so each list is sorted
            if e.type == "purchase":
                out.setdefault(e.visitor_id, []).append(e.ts)
        return out

    def purchased_between(self, visitor_id: str, t0: float, t1: float) -> bool:
        """Whether the visitor bought anything at a time ``t0 <= ts < t1``."""
        times = self._purchase_times.get(visitor_id, [])
        i = bisect_left(times, t0)
        return i < len(times) and times[i] < t1

    def fingerprint(self) -> str:
        """A digest of everything simulated (a data fingerprint for a model manifest)."""
        return _fingerprint(self)

    def true_probabilities(self, visitor_id: str, product_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The real (click, purchase) probability of each product shown in this order.

        The same formulas the simulation drew from, so a ranking policy can be scored
        by its expected clicks and purchases without a live test.
        """
        v = self.visitor_index[visitor_id]
        truth = self._truth_index
        cats = self.config.categories
        k = len(cats)
        ps = PRICE_SENSITIVITIES.index(v.price_sensitivity)
        appeal = np.array([truth[p].appeal for p in product_ids])
        ratio = np.array([truth[p].price_ratio for p in product_ids])
        aff = np.array([v.affinity[self.product_index[p].category] for p in product_ids])
        pos = np.arange(len(product_ids))
        p_click = examination(pos) * _sigmoid(click_logit(appeal, ratio, aff, k, ps))
        p_buy = _sigmoid(cart_logit(v.propensity, appeal, ratio, ps)) * _sigmoid(buy_logit(v.propensity, ratio, ps))
        return p_click, p_click * p_buy


def intent_labels(sim: Simulation, cutoff_ts: float, horizon_days: float = 7.0) -> dict[str, bool]:
    """Purchase in ``[cutoff, cutoff + horizon)`` for every visitor first seen before the cutoff."""
    end = cutoff_ts + horizon_days * DAY
    return {
        v.visitor_id: sim.purchased_between(v.visitor_id, cutoff_ts, end)
        for v in sim.visitors
        if v.active_from < cutoff_ts
    }


# --- the choice model, shared by the simulation and true_probabilities -------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def examination(position: np.ndarray) -> np.ndarray:
    """Probability that a visitor looks at the product at 0-based ``position``."""
    return (np.asarray(position, dtype=float) + 1.0) ** -EXAMINATION_POWER


def click_logit(appeal: np.ndarray, ratio: np.ndarray, affinity: np.ndarray, n_categories: int, ps: Any) -> np.ndarray:
    aff = np.log(np.maximum(affinity * n_categories, AFFINITY_FLOOR))
    return CLICK_BASE + appeal + AFFINITY_WEIGHT * aff - BETA_CLICK[ps] * ratio


def cart_logit(propensity: Any, appeal: np.ndarray, ratio: np.ndarray, ps: Any) -> np.ndarray:
    return CART_BASE + PROPENSITY_WEIGHT * (propensity - 0.3) + 0.3 * appeal - 0.5 * BETA_BUY[ps] * ratio


def buy_logit(propensity: Any, ratio: np.ndarray, ps: Any) -> np.ndarray:
    return BUY_BASE + PROPENSITY_WEIGHT * (propensity - 0.3) - BETA_BUY[ps] * ratio


# --- helpers ------------------------------------------------------------------------


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows need not be normalised)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), probs.shape[1] - 1)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _hour_profiles() -> np.ndarray:
    hours = np.arange(24, dtype=float)
    floor = np.where((hours >= 2) & (hours < 7), 0.01, 0.06)
    out = []
    for bumps in HOUR_BUMPS:
        w = floor.copy()
        for centre, width, weight in bumps:
            d = np.abs(hours - centre)
            d = np.minimum(d, 24 - d)  # circular
            w += weight * np.exp(-0.5 * (d / width) ** 2)
        out.append(w / w.sum())
    return np.array(out)


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, SHOP_TZ).strftime("%Y-%m-%d")


# --- the simulation -------------------------------------------------------------------


@dataclass
class _Products:
    cat: np.ndarray  # category index
    price: np.ndarray
    price_cents: np.ndarray
    ratio: np.ndarray
    appeal: np.ndarray
    pop: np.ndarray
    added_at: np.ndarray
    ids: list[str]
    products: list[Product]
    truth: list[ProductTruth]


def _build_products(cfg: SimConfig, rng: np.random.Generator) -> _Products:
    cats = cfg.categories
    n, k = cfg.n_products, len(cats)
    cat = np.arange(n) % k
    levels = np.array([CATEGORY_LEVELS[c][1] if c in CATEGORY_LEVELS else DEFAULT_LEVEL for c in cats])
    level = levels[cat]
    price = np.round(np.maximum(9.9, rng.lognormal(0.0, 0.5, n) * level), 1)
    price_cents = np.round(price * 100).astype(np.int64)
    ratio = np.log(price / level)
    appeal = rng.normal(0.0, 0.6, n)
    pop = 0.8 * appeal + rng.normal(0.0, 0.5, n)
    is_new = rng.random(n) < 0.12
    added_at = np.where(
        is_new,
        cfg.start + np.floor(rng.random(n) * 0.9 * cfg.days * DAY),
        cfg.start - np.floor((20 + rng.random(n) * 380) * DAY),
    )
    stock = np.where(rng.random(n) < 0.05, 0, rng.integers(1, 501, n))
    gift = rng.random(n) < 0.15
    best = pop >= np.quantile(pop, 0.85)
    adjective = rng.integers(0, len(ADJECTIVES), n)
    noun = rng.integers(0, 1_000_000, n)
    brand = rng.integers(1, 31, n)
    ids = [f"p{i:04d}" for i in range(n)]
    products, truth = [], []
    for i in range(n):
        c = cats[cat[i]]
        zh, _, nouns = CATEGORY_LEVELS.get(c, (c, DEFAULT_LEVEL, (c,)))
        tags = [t for t, on in (("new", is_new[i]), ("bestseller", best[i]), ("gift", gift[i])) if on]
        tags.append("premium" if price[i] > level[i] * 1.5 else "budget" if price[i] < level[i] * 0.6 else "standard")
        products.append(
            Product(
                id=ids[i],
                title=f"{ADJECTIVES[adjective[i]]}{nouns[noun[i] % len(nouns)]} · {zh}",
                category=c,
                price=float(price[i]),
                stock=int(stock[i]),
                tags=tuple(tags),
                attributes={"brand": f"品牌{brand[i]}"},
                added_at=float(added_at[i]),
            )
        )
        truth.append(ProductTruth(ids[i], float(appeal[i]), float(pop[i]), float(ratio[i])))
    return _Products(cat, price, price_cents, ratio, appeal, pop, added_at, ids, products, truth)


@dataclass
class _Visitors:
    male: np.ndarray
    age: np.ndarray
    ps: np.ndarray
    propensity: np.ndarray
    affinity: np.ndarray  # (n, K)
    device: np.ndarray
    channel: np.ndarray
    channel_p: np.ndarray  # (n, 5)
    device_p: np.ndarray  # (n, 3)
    city: np.ndarray
    fan: np.ndarray
    known: np.ndarray
    years: np.ndarray
    ids: list[str]


def _build_visitors(cfg: SimConfig, rng: np.random.Generator) -> _Visitors:
    n, cats = cfg.n_visitors, cfg.categories
    male = rng.random(n) < P_MALE
    g = male.astype(int)
    age = rng.choice(len(AGE_BANDS), n, p=AGE_P)
    ps = _choice_rows(rng, PS_BY_AGE[age])
    propensity = rng.beta(2.0, 5.0, n)
    lean = np.array([GENDER_LEAN.get(c, 0.0) for c in cats])
    shift = np.array([[AGE_SHIFT[b].get(c, 0.0) for c in cats] for b in AGE_BANDS])
    mean = _softmax(np.where(male, -0.5, 0.5)[:, None] * lean[None, :] + shift[age])
    raw = rng.gamma(CONCENTRATION * mean) + 1e-9
    affinity = raw / raw.sum(axis=1, keepdims=True)
    affinity = np.maximum(affinity, 1e-4)
    affinity /= affinity.sum(axis=1, keepdims=True)
    device_p = DEVICE_P[g, age]
    device = _choice_rows(rng, device_p)
    channel_p = _softmax(CHANNEL_BASE[None, :] + CHANNEL_GENDER[g] + CHANNEL_AGE[age])
    channel = _choice_rows(rng, channel_p)
    city = rng.choice(len(CITIES), n, p=CITY_P / CITY_P.sum())
    fan = rng.random(n) < _sigmoid(-2.2 + 3.0 * propensity)
    known = np.zeros(n, dtype=bool)
    known[rng.choice(n, round(cfg.known_share * n), replace=False)] = True
    years = AGE_RANGE[age, 0] + rng.random(n) * (AGE_RANGE[age, 1] - AGE_RANGE[age, 0])
    ids = [f"u{i:06d}" for i in range(n)]
    return _Visitors(male, age, ps, propensity, affinity, device, channel, channel_p, device_p, city, fan, known, years, ids)


@dataclass
class _Sessions:
    visitor: np.ndarray
    ts: np.ndarray  # int64 epoch seconds
    hour: np.ndarray
    device: np.ndarray
    channel: np.ndarray
    ids: list[str]
    first_ts: np.ndarray  # per visitor
    dormant_at: np.ndarray  # per visitor, epoch seconds (>= end: never dormant)
    count: np.ndarray  # per visitor


def _build_sessions(cfg: SimConfig, vis: _Visitors, rng: np.random.Generator) -> _Sessions:
    n, days = cfg.n_visitors, cfg.days
    prop = vis.propensity
    arrival = np.where(rng.random(n) < P_ACTIVE_AT_START, 0.0, rng.random(n) * days)
    lifetime = rng.exponential(LIFETIME_DAYS[0] + LIFETIME_DAYS[1] * prop)
    until = np.minimum(arrival + lifetime, days)
    rate = SESSION_RATE[0] + SESSION_RATE[1] * prop**1.5
    count = 1 + rng.poisson(rate * (until - arrival))
    sv = np.repeat(np.arange(n), count)
    first = np.zeros(len(sv), dtype=bool)
    first[np.concatenate([[0], np.cumsum(count)[:-1]])] = True
    day = arrival[sv] + rng.random(len(sv)) * (until - arrival)[sv]
    day = np.where(first, arrival[sv], day)
    day_int = np.minimum(np.floor(day), days - 1).astype(np.int64)
    hour = _choice_rows(rng, _hour_profiles()[vis.age[sv]])
    second = hour * 3600 + rng.integers(0, 3600, len(sv))
    start = int(cfg.start)
    day_base = start - (start + TZ_OFFSET_S) % DAY  # local midnight of the first day
    ts = day_base + day_int * DAY + second
    ts = np.where(ts < start, ts + DAY, ts)
    own_device = first | (rng.random(len(sv)) < P_OWN_DEVICE)
    device = np.where(own_device, vis.device[sv], _choice_rows(rng, vis.device_p[sv]))
    own_channel = first | (rng.random(len(sv)) < P_OWN_CHANNEL)
    channel = np.where(own_channel, vis.channel[sv], _choice_rows(rng, vis.channel_p[sv]))
    order = np.lexsort((sv, ts))  # by time, then visitor: deterministic
    sv, ts, hour, device, channel = sv[order], ts[order], hour[order], device[order], channel[order]
    first_ts = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_ts, sv, ts)
    dormant_at = cfg.start + np.floor(until * DAY)
    ids = [f"s{cfg.seed}-s{j:07d}" for j in range(len(sv))]
    return _Sessions(sv, ts, hour, device, channel, ids, first_ts, dormant_at, count)


class _EventRows:
    """Columns of events before they become :class:`Event` values."""

    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {k: [] for k in ("type", "ts", "visitor", "product", "impression", "position", "organic", "cents")}

    def add(self, etype: int, ts: np.ndarray, visitor: np.ndarray, product: np.ndarray | None = None, impression: np.ndarray | None = None, position: np.ndarray | None = None, organic: np.ndarray | None = None, cents: np.ndarray | None = None) -> None:
        m = len(ts)
        none = np.full(m, -1, dtype=np.int64)
        for key, value in (("type", np.full(m, etype)), ("ts", ts), ("visitor", visitor), ("product", product), ("impression", impression), ("position", position), ("organic", organic), ("cents", cents)):
            self.cols[key].append(none if value is None else np.asarray(value, dtype=np.int64))

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) if v else np.empty(0, dtype=np.int64) for k, v in self.cols.items()}


def simulate(config: SimConfig, *, progress: bool = False) -> Simulation:
    """Run the shop for ``config.days`` days; the same config gives the same result."""
    cfg = config
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(6)]
    prod = _build_products(cfg, streams[0])
    vis = _build_visitors(cfg, streams[1])
    ses = _build_sessions(cfg, vis, streams[2])
    rng = streams[3]
    k = len(cfg.categories)

    # --- list impressions: when, whose, which list ------------------------------------
    n_lists = 1 + rng.poisson(LISTS_PER_SESSION[0] + LISTS_PER_SESSION[1] * vis.propensity[ses.visitor])
    isess = np.repeat(np.arange(len(ses.ts)), n_lists)
    gaps = rng.integers(20, 240, len(isess))
    cum = np.cumsum(gaps)
    sess_start = np.concatenate([[0], np.cumsum(n_lists)[:-1]])
    offset = cum - np.repeat(cum[sess_start] - gaps[sess_start], n_lists)
    its = ses.ts[isess] + offset
    iv = ses.visitor[isess]
    icat = np.where(rng.random(len(isess)) < P_CATEGORY_LIST, _choice_rows(rng, vis.affinity[iv]), -1)
    order = np.argsort(its, kind="stable")
    isess, its, iv, icat = isess[order], its[order], iv[order], icat[order]
    n_imp = len(its)
    imp_ids = [f"s{cfg.seed}-i{j:07d}" for j in range(n_imp)]

    # --- what each list showed and what was clicked (chunks of lists in one pass) --------
    length = min(cfg.list_size, cfg.n_products)
    shown = np.empty((n_imp, length), dtype=np.int64)
    valid = np.empty((n_imp, length), dtype=bool)
    clicked = np.empty((n_imp, length), dtype=bool)
    pos_exam = examination(np.arange(length))
    display_rng = streams[4]
    chunks = range(0, n_imp, CHUNK)
    base_score = prod.pop.astype(np.float32)
    # bonus[c] adds the list-category bonus to products of category c; row -1 (home lists) none
    bonus = np.zeros((k + 1, cfg.n_products), dtype=np.float32)
    bonus[prod.cat, np.arange(cfg.n_products)] = CATEGORY_LIST_BONUS
    recent = np.flatnonzero(prod.added_at > cfg.start - NEW_ARRIVAL_DAYS * DAY)
    for c0 in tqdm(chunks, desc="lists", unit="chunk", disable=not progress):
        c1 = min(c0 + CHUNK, n_imp)
        t = its[c0:c1].astype(float)
        score = display_rng.standard_normal((c1 - c0, cfg.n_products), dtype=np.float32)
        score *= DISPLAY_NOISE
        score += base_score
        score += bonus[icat[c0:c1]]
        if len(recent):  # the new-arrival boost, and nothing before a product is added
            age_days = (t[:, None] - prod.added_at[None, recent]) / DAY
            boost = NEW_ARRIVAL_BOOST * np.clip(1.0 - age_days / NEW_ARRIVAL_DAYS, 0.0, 1.0)
            score[:, recent] = np.where(age_days >= 0, score[:, recent] + boost, -np.inf)
        if length < cfg.n_products:
            top = np.argpartition(-score, length - 1, axis=1)[:, :length]
        else:
            top = np.broadcast_to(np.arange(cfg.n_products), score.shape).copy()
        top_score = np.take_along_axis(score, top, axis=1)
        rank = np.argsort(-top_score, axis=1, kind="stable")
        top = np.take_along_axis(top, rank, axis=1)
        ok = np.isfinite(np.take_along_axis(top_score, rank, axis=1))
        v = iv[c0:c1]
        aff = vis.affinity[v[:, None], prod.cat[top]]
        logit = click_logit(prod.appeal[top], prod.ratio[top], aff, k, vis.ps[v][:, None])
        p = pos_exam[None, :] * _sigmoid(logit)
        shown[c0:c1], valid[c0:c1] = top, ok
        clicked[c0:c1] = ok & (display_rng.random(p.shape) < p)

    # --- product views: from clicks, and organic ones ------------------------------------
    rng = streams[5]
    ci, ck = np.nonzero(clicked)  # row-major: by list, then position
    click_ts = its[ci] + 3 + 4 * ck + rng.integers(0, 25, len(ci))
    n_org = rng.poisson(ORGANIC_VIEWS[0] + ORGANIC_VIEWS[1] * vis.propensity[ses.visitor])
    osess = np.repeat(np.arange(len(ses.ts)), n_org)
    ov = ses.visitor[osess]
    ots = ses.ts[osess] + rng.integers(5, 900, len(osess))
    ocat = _choice_rows(rng, vis.affinity[ov])
    # within a category, products weighted by appeal and how the price suits the visitor
    weight = np.exp(prod.appeal[None, :] - BETA_CLICK[:, None] * prod.ratio[None, :])  # (3, P)
    members = [np.flatnonzero(prod.cat == c) for c in range(k)]
    oprod = np.full(len(osess), -1, dtype=np.int64)
    for c in range(k):
        if len(members[c]) == 0:
            continue
        for s in range(len(PRICE_SENSITIVITIES)):
            rows = np.flatnonzero((ocat == c) & (vis.ps[ov] == s))
            if len(rows):
                w = weight[s, members[c]]
                oprod[rows] = members[c][_choice_rows(rng, np.broadcast_to(w, (len(rows), len(w))))]
    keep = (oprod >= 0) & (prod.added_at[np.maximum(oprod, 0)] <= ots)
    osess, ov, ots, oprod = osess[keep], ov[keep], ots[keep], oprod[keep]

    # one funnel for every product view: view -> cart -> purchase
    vv = np.concatenate([iv[ci], ov])
    vp = np.concatenate([shown[ci, ck], oprod])
    vts = np.concatenate([click_ts + 1, ots])
    ps = vis.ps[vv]
    prop = vis.propensity[vv]
    cart = rng.random(len(vv)) < _sigmoid(cart_logit(prop, prod.appeal[vp], prod.ratio[vp], ps))
    buy = cart & (rng.random(len(vv)) < _sigmoid(buy_logit(prop, prod.ratio[vp], ps)))
    qty = 1 + _choice_rows(rng, np.broadcast_to(QUANTITY_P, (len(vv), 3)))
    cart_ts = vts + rng.integers(20, 180, len(vv))
    buy_ts = cart_ts + rng.integers(30, 900, len(vv))
    n_click = len(ci)
    carted = np.zeros_like(clicked)
    purchased = np.zeros_like(clicked)
    carted[ci, ck] = cart[:n_click]
    purchased[ci, ck] = buy[:n_click]

    # fans follow the shop in one of their sessions
    fans = np.flatnonzero(vis.fan)
    by_visitor = np.argsort(ses.visitor, kind="stable")
    sess_of = np.split(by_visitor, np.cumsum(np.bincount(ses.visitor, minlength=cfg.n_visitors))[:-1])
    pick = np.array([sess_of[f][rng.integers(0, len(sess_of[f]))] for f in fans], dtype=np.int64)
    follow_ts = ses.ts[pick] + rng.integers(10, 600, len(pick)) if len(pick) else np.empty(0, dtype=np.int64)

    # --- events -------------------------------------------------------------------------
    org_index = np.concatenate([np.full(n_click, -1), np.arange(len(ov))])
    imp_of_view = np.concatenate([ci, np.full(len(ov), -1)])
    pos_of_view = np.concatenate([ck, np.full(len(ov), -1)])
    ev_rows = _EventRows()
    ev_rows.add(EXPOSURE, its, iv, impression=np.arange(n_imp))
    ev_rows.add(CLICK, click_ts, iv[ci], shown[ci, ck], ci, ck)
    ev_rows.add(VIEW, vts, vv, vp, imp_of_view, pos_of_view, org_index)
    ev_rows.add(CART, cart_ts[cart], vv[cart], vp[cart], imp_of_view[cart], pos_of_view[cart], org_index[cart])
    cents = prod.price_cents[vp] * qty
    ev_rows.add(PURCHASE, buy_ts[buy], vv[buy], vp[buy], imp_of_view[buy], pos_of_view[buy], org_index[buy], cents[buy])
    ev_rows.add(FOLLOW, follow_ts, fans)
    events = _make_events(cfg, ev_rows.arrays(), prod, vis, imp_ids, progress)

    # --- impressions, contexts, truth ------------------------------------------------------
    local = ses.ts + TZ_OFFSET_S
    weekday = ((local // DAY + 3) % 7) + 1  # 1970-01-01 was a Thursday (ISO 4)
    contexts = [
        SessionContext(ses.ids[j], vis.ids[ses.visitor[j]], float(ses.ts[j]), DEVICES[ses.device[j]], CHANNELS[ses.channel[j]], int(ses.hour[j]), int(weekday[j]))
        for j in range(len(ses.ts))
    ]
    n_shown = valid.sum(axis=1).tolist()  # lists are shorter only when few products exist yet
    cols = (
        np.array(prod.ids, dtype=object)[shown].tolist(),
        clicked.tolist(),
        carted.tolist(),
        purchased.tolist(),
        isess.tolist(),
        iv.tolist(),
        its.tolist(),
        icat.tolist(),
    )
    dev = [DEVICES[d] for d in ses.device.tolist()]
    chan = [CHANNELS[c] for c in ses.channel.tolist()]
    hours = ses.hour.tolist()
    impressions = []
    for j, (ids, clk, crt, buy, sj, v, t, c) in enumerate(
        tqdm(zip(*cols, strict=True), total=n_imp, desc="impressions", unit="list", disable=not progress, miniters=10_000)
    ):
        m = n_shown[j]  # valid positions come first: the invalid ones scored -inf
        impressions.append(
            Impression(
                impression_id=imp_ids[j],
                session_id=ses.ids[sj],
                visitor_id=vis.ids[v],
                ts=float(t),
                device=dev[sj],
                channel=chan[sj],
                hour=hours[sj],
                list_category=cfg.categories[c] if c >= 0 else None,
                product_ids=tuple(ids[:m]),
                clicked=tuple(clk[:m]),
                carted=tuple(crt[:m]),
                purchased=tuple(buy[:m]),
            )
        )
    visitors = _visitor_truth(cfg, vis, ses)
    return Simulation(cfg, prod.products, prod.truth, visitors, events, impressions, contexts)


def _make_events(cfg: SimConfig, a: dict[str, np.ndarray], prod: _Products, vis: _Visitors, imp_ids: list[str], progress: bool) -> list[Event]:
    order = np.lexsort((np.arange(len(a["ts"])), a["type"], a["ts"]))
    suffix = {VIEW: "v", CLICK: "c", CART: "a", PURCHASE: "p"}
    cats = [p.category for p in prod.products]
    # the price position the service records for a product's events when it ingests them
    catalog = Catalog.build(prod.products)
    price_milli = [catalog.price_position_milli(p) for p in prod.products]
    events = []
    cols = [a[key][order].tolist() for key in ("type", "ts", "visitor", "product", "impression", "position", "organic", "cents")]
    for etype, ts, v, p, imp, pos, org, cents in tqdm(zip(*cols, strict=True), total=len(order), desc="events", unit="event", disable=not progress, miniters=50_000):
        vid = vis.ids[v]
        if etype == EXPOSURE:
            eid, render = f"{imp_ids[imp]}-x", imp_ids[imp]
        elif etype == FOLLOW:
            eid, render = f"s{cfg.seed}-{vid}-follow", None
        elif imp >= 0:
            eid, render = f"{imp_ids[imp]}-{pos}{suffix[etype]}", imp_ids[imp]
        else:
            eid, render = f"s{cfg.seed}-o{org:07d}{suffix[etype]}", None
        events.append(
            Event(
                event_id=eid,
                type=EVENT_TYPE_NAMES[etype],
                visitor_id=vid,
                ts=float(ts),
                product_id=prod.ids[p] if p >= 0 else None,
                category=cats[p] if p >= 0 else None,
                amount_cents=cents if cents >= 0 else None,
                render_id=render,
                price_position_milli=price_milli[p] if p >= 0 else None,
            )
        )
    return events


def _visitor_truth(cfg: SimConfig, vis: _Visitors, ses: _Sessions) -> list[VisitorTruth]:
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed).spawn(7)[6])
    n = cfg.n_visitors
    has_birthday = rng.random(n) < 0.85
    has_city = rng.random(n) < 0.9
    member = rng.random(n) < 0.3 + 0.5 * vis.propensity
    level = np.minimum((vis.propensity * 5 + rng.normal(0, 0.8, n)).clip(0, 4.99).astype(int), 4)
    member_days = rng.uniform(0, 900, n)
    out = []
    for i in range(n):
        first_ts = float(ses.first_ts[i])
        known: dict[str, Any] = {}
        if vis.known[i]:
            known["gender"] = GENDERS[int(vis.male[i])]
            if has_birthday[i]:
                known["birthday"] = _date(cfg.start - vis.years[i] * 365.2425 * DAY)
            if has_city[i]:
                known["city"] = CITIES[vis.city[i]]
            if member[i]:
                known["member_level"] = MEMBER_LEVELS[level[i]]
                known["member_since"] = _date(first_ts - member_days[i] * DAY)
            known["is_fan"] = bool(vis.fan[i])
        dormant = float(ses.dormant_at[i])
        out.append(
            VisitorTruth(
                visitor_id=vis.ids[i],
                gender=GENDERS[int(vis.male[i])],
                age_band=AGE_BANDS[vis.age[i]],
                age=int(vis.years[i]),
                price_sensitivity=PRICE_SENSITIVITIES[vis.ps[i]],
                affinity={c: float(vis.affinity[i, j]) for j, c in enumerate(cfg.categories)},
                propensity=float(vis.propensity[i]),
                device=DEVICES[vis.device[i]],
                channel=CHANNELS[vis.channel[i]],
                city=CITIES[vis.city[i]],
                is_fan=bool(vis.fan[i]),
                known=bool(vis.known[i]),
                known_attributes=known,
                active_from=first_ts,
                dormant_from=dormant if dormant < cfg.end else None,
                sessions=int(ses.count[i]),
            )
        )
    return out


def _fingerprint(sim: Simulation) -> str:
    h = hashlib.sha256()
    h.update(repr(sim.config).encode())
    for p in sim.products:
        h.update(repr(p.as_dict()).encode())
    for v in sim.visitors:
        h.update(repr((v.visitor_id, v.gender, v.age_band, v.age, v.price_sensitivity, sorted(v.affinity.items()), v.propensity, v.device, v.channel, v.city, v.is_fan, v.known, sorted(v.known_attributes.items()), v.active_from, v.dormant_from, v.sessions)).encode())
    for e in sim.events:
        h.update(repr((e.event_id, e.type, e.visitor_id, e.ts, e.product_id, e.category, e.amount_cents, e.render_id)).encode())
    for m in sim.impressions:
        h.update(repr((m.impression_id, m.session_id, m.visitor_id, m.ts, m.device, m.channel, m.hour, m.list_category, m.product_ids, m.clicked, m.carted, m.purchased)).encode())
    for c in sim.contexts:
        h.update(repr((c.session_id, c.visitor_id, c.ts, c.device, c.channel, c.hour, c.weekday)).encode())
    return h.hexdigest()


def main(argv: Sequence[str] | None = None) -> None:
    from training import sim_io

    ap = argparse.ArgumentParser(prog="python -m training.simulator", description="Simulate a shop and write its files.")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--visitors", type=int, default=SimConfig(seed=0).n_visitors)
    ap.add_argument("--products", type=int, default=SimConfig(seed=0).n_products)
    ap.add_argument("--days", type=int, default=SimConfig(seed=0).days)
    ap.add_argument("--known-share", type=float, default=SimConfig(seed=0).known_share)
    ap.add_argument("--out", required=True, help="folder for the files (created if missing)")
    args = ap.parse_args(argv)
    cfg = SimConfig(seed=args.seed, n_products=args.products, n_visitors=args.visitors, days=args.days, known_share=args.known_share)
    sim = simulate(cfg, progress=True)
    written = sim_io.write_all(sim, args.out)
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
