"""A discount right as the merchant writes it, the checks it must pass, and its compiled form.

    PUT /v1/shops/{shop}/rights/cash20
    {"name": "满199减20", "kind": "amount_off", "value": {"amount": 20, "min_spend": 199},
     "crowds": ["price_sensitive"], "per_visitor_limit": 1,
     "budget": {"money": 5000, "count": 400},
     "valid": {"from": "2026-11-01T00:00:00+08:00", "until": "2026-12-31T23:59:59+08:00", "grant_days": 7},
     "pacing": {"daily_count": 40}}

Kinds and what their ``value`` holds (money in the shop's currency, yuan):

    amount_off          amount, min_spend (0: no threshold; else amount < min_spend)
    percent_off         percent (0-100, exclusive), max_discount, min_spend
    free_shipping       min_spend
    gift                gift (what is given), min_spend
    points_multiplier   multiplier (1-10], min_spend
    priority_service    service (what is prioritised)

The *cost model* says what one grant costs the merchant: ``per_grant`` (printing, a
fee), ``per_redemption`` (a gift's cost, the shipping paid) and ``share_of_order``
(a percent off, extra points) up to ``cap``. Each kind fills what it implies (an
amount off costs its amount per redemption), so most rights need no cost given.

Modes: ``uplift`` (the default): the uplift model grants it to the eligible visitors
it pays off for. ``crowd``: the same for everyone in its crowds, no model. A
``default`` right is what every visitor gets when personalization is off (for the
shop, or a visitor who opted out); it targets no crowd, because a crowd is
personalization too.

Every grant reserves the right's worst-case cost against a money budget, so no sum of
redemptions can overspend it; a money budget therefore needs a bounded cost (a percent
off needs ``max_discount`` or a ``cap``). Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from app.api.schemas import ConfigId, Strict
from app.core.problems import Problem

KINDS = ("amount_off", "percent_off", "free_shipping", "gift", "points_multiplier", "priority_service")
Kind = Literal["amount_off", "percent_off", "free_shipping", "gift", "points_multiplier", "priority_service"]
# The value fields each kind reads; any other is a mistake the merchant should hear about.
VALUE_FIELDS: dict[str, tuple[str, ...]] = {
    "amount_off": ("amount", "min_spend"),
    "percent_off": ("percent", "max_discount", "min_spend"),
    "free_shipping": ("min_spend",),
    "gift": ("gift", "min_spend"),
    "points_multiplier": ("multiplier", "min_spend"),
    "priority_service": ("service",),
}
REQUIRED_VALUE: dict[str, tuple[str, ...]] = {
    "amount_off": ("amount",),
    "percent_off": ("percent",),
    "gift": ("gift",),
    "points_multiplier": ("multiplier",),
}
# Kinds whose cost the value does not imply: the merchant must say what one costs.
NEEDS_COST = {"free_shipping": "the shipping the shop pays", "gift": "the gift's cost", "priority_service": "the service's cost"}
POINT_VALUE_SHARE = 0.01  # one point per yuan, worth one fen: each extra multiple costs 1 % of the order
MAX_MONEY = 100_000_000.0

Money = Annotated[float, Field(ge=0, le=MAX_MONEY)]


def _money(v: float | None) -> float | None:
    if v is not None and (not math.isfinite(v) or round(v, 2) != v):
        raise ValueError("a money amount is a finite number with at most two decimals")
    return v


class ValueIn(Strict):
    amount: Money | None = None
    min_spend: Money | None = None
    percent: float | None = Field(default=None, gt=0, lt=100)
    max_discount: Money | None = None
    gift: str | None = Field(default=None, min_length=1, max_length=100)
    multiplier: float | None = Field(default=None, gt=1, le=10)
    service: str | None = Field(default=None, min_length=1, max_length=100)

    _m = field_validator("amount", "min_spend", "max_discount")(classmethod(lambda cls, v: _money(v)))


class CostIn(Strict):
    per_grant: Money | None = None
    per_redemption: Money | None = None
    share_of_order: float | None = Field(default=None, ge=0, le=1)
    cap: Money | None = None

    _m = field_validator("per_grant", "per_redemption", "cap")(classmethod(lambda cls, v: _money(v)))


class BudgetIn(Strict):
    money: Money | None = Field(default=None, gt=0)
    count: int | None = Field(default=None, gt=0, le=100_000_000)

    _m = field_validator("money")(classmethod(lambda cls, v: _money(v)))


class ValidIn(Strict):
    from_: datetime | None = Field(default=None, alias="from")
    until: datetime | None = None
    grant_days: float = Field(default=7.0, gt=0, le=366)  # how long one grant stays usable

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("from_", "until")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("a time needs a timezone (for example +08:00 or Z): a local time is ambiguous")
        return v


class PacingIn(Strict):
    daily_count: int | None = Field(default=None, gt=0, le=10_000_000)
    daily_money: Money | None = Field(default=None, gt=0)

    _m = field_validator("daily_money")(classmethod(lambda cls, v: _money(v)))


class RightIn(Strict):
    name: str = Field(min_length=1, max_length=40)  # shown as the coupon's label
    description: str = Field(default="", max_length=120)
    kind: Kind
    value: ValueIn = Field(default_factory=ValueIn)
    cost: CostIn = Field(default_factory=CostIn)
    crowds: list[ConfigId] = Field(default_factory=list, max_length=20)
    mode: Literal["uplift", "crowd"] = "uplift"
    default: bool = False
    priority: int = Field(default=0, ge=-1000, le=1000)  # among crowd-mode and default rights: higher first
    per_visitor_limit: int = Field(default=1, ge=1, le=1000)  # redemptions one visitor may make
    budget: BudgetIn = Field(default_factory=BudgetIn)
    valid: ValidIn = Field(default_factory=ValidIn)
    pacing: PacingIn | None = None
    status: Literal["active", "paused"] = "active"
    code: str | None = Field(default=None, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")  # shown on the coupon

    def stored(self) -> dict[str, Any]:
        """The body kept in Redis: the cost model made explicit, times as ISO strings."""
        body = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        body["cost"] = implied_cost(self)
        return body


def implied_cost(body: RightIn) -> dict[str, float]:
    """The cost model with what the kind implies filled in (given fields win)."""
    v, c = body.value, body.cost
    implied: dict[str, float] = {}
    if body.kind == "amount_off" and v.amount is not None:
        implied["per_redemption"] = v.amount
    elif body.kind == "percent_off" and v.percent is not None:
        implied["share_of_order"] = round(v.percent / 100, 6)
        if v.max_discount is not None:
            implied["cap"] = v.max_discount
    elif body.kind == "points_multiplier" and v.multiplier is not None:
        implied["share_of_order"] = round((v.multiplier - 1) * POINT_VALUE_SHARE, 6)
    given = {k: x for k, x in c.model_dump().items() if x is not None}
    return {**implied, **given}


def check_right(body: RightIn, crowd_ids: set[str] | None = None) -> list[Problem]:
    """What is wrong with a right beyond field types (which pydantic checks)."""
    problems: list[Problem] = []
    v = body.value
    allowed = VALUE_FIELDS[body.kind]
    for name, x in v.model_dump().items():
        if x is not None and name not in allowed:
            problems.append(Problem(f"$.value.{name}", "not_for_kind", f"A right of kind {body.kind} has no '{name}'; it takes {', '.join(allowed)}."))
    for name in REQUIRED_VALUE.get(body.kind, ()):
        if getattr(v, name) is None:
            problems.append(Problem(f"$.value.{name}", "missing", f"A right of kind {body.kind} needs value.{name}."))
    if body.kind == "amount_off" and v.amount is not None:
        if v.amount <= 0:
            problems.append(Problem("$.value.amount", "invalid_value", "An amount off must be more than 0."))
        if v.min_spend and v.amount >= v.min_spend:
            problems.append(Problem("$.value.amount", "amount_exceeds_min_spend", f"{v.amount:g} off a minimum spend of {v.min_spend:g} gives the order away; the amount must be below the minimum spend (or the minimum spend 0)."))
    cost = implied_cost(body)
    if body.kind in NEEDS_COST and not cost.get("per_redemption") and not cost.get("per_grant"):
        problems.append(Problem("$.cost.per_redemption", "missing", f"Say what one {body.kind.replace('_', ' ')} costs the shop ({NEEDS_COST[body.kind]}): cost.per_redemption."))
    if body.budget.money is not None and cost.get("share_of_order") and cost.get("cap") is None:
        where = "$.value.max_discount" if body.kind == "percent_off" else "$.cost.cap"
        problems.append(Problem(where, "unbounded_cost", "A money budget needs a bounded cost per grant: a share of the order needs a cap (max_discount for a percent off), else one big order could overspend it."))
    if body.valid.from_ is not None and body.valid.until is not None and body.valid.until <= body.valid.from_:
        problems.append(Problem("$.valid.until", "invalid_window", "valid.until must be after valid.from."))
    if body.mode == "crowd" and not body.crowds:
        problems.append(Problem("$.crowds", "missing", "A right that is the same for everyone in a crowd needs the crowds (mode 'crowd')."))
    if body.default and body.crowds:
        problems.append(Problem("$.default", "default_with_crowds", "A default right is what every visitor gets when personalization is off, so it cannot target crowds."))
    if body.default and body.mode == "crowd":
        problems.append(Problem("$.mode", "default_with_crowds", "A default right targets no crowd; leave mode 'uplift' (the model may still grant it to whom it pays off for)."))
    if len(set(body.crowds)) != len(body.crowds):
        problems.append(Problem("$.crowds", "duplicate", "A crowd is listed twice."))
    if crowd_ids is not None:
        for i, c in enumerate(body.crowds):
            if c not in crowd_ids:
                problems.append(Problem(f"$.crowds[{i}]", "unknown_reference", f"There is no crowd '{c}' in this shop."))
    p = body.pacing
    if p is not None:
        if p.daily_count is None and p.daily_money is None:
            problems.append(Problem("$.pacing", "missing", "Pacing needs daily_count or daily_money."))
        if p.daily_count is not None and body.budget.count is not None and p.daily_count > body.budget.count:
            problems.append(Problem("$.pacing.daily_count", "pacing_above_budget", f"A daily pace of {p.daily_count} is more than the whole budget of {body.budget.count} grants."))
        if p.daily_money is not None and body.budget.money is not None and p.daily_money > body.budget.money:
            problems.append(Problem("$.pacing.daily_money", "pacing_above_budget", f"A daily pace of {p.daily_money:g} is more than the whole money budget of {body.budget.money:g}."))
        if p.daily_money is not None and max_cost_cents(cost) is None:
            problems.append(Problem("$.pacing.daily_money", "unbounded_cost", "Pacing money needs a bounded cost per grant (a cap on the share of the order)."))
    return problems


def max_cost_cents(cost: dict[str, float]) -> int | None:
    """The most one grant can cost, in cents (None: unbounded, a share without a cap)."""
    share = cost.get("share_of_order") or 0.0
    cap = cost.get("cap")
    if share and cap is None:
        return None
    fixed = (cost.get("per_grant") or 0.0) + (cost.get("per_redemption") or 0.0)
    return round((fixed + (cap if share else 0.0)) * 100)


def _ts(s: str | None) -> float | None:
    return datetime.fromisoformat(s).timestamp() if s else None


def reach_probability(order_value: float, min_spend: float, spread: float) -> float:
    """P(an order expected at ``order_value`` reaches ``min_spend``) under a log-normal
    spread of ``spread`` (sd of the log); 1 without a threshold or without a spread."""
    if min_spend <= 0 or spread <= 0:
        return 1.0
    z = (math.log(max(order_value, 1e-9) / min_spend) - spread * spread / 2) / spread
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


@dataclass(frozen=True)
class Right:
    """A right compiled for serving: money in cents, times in epoch seconds."""

    id: str
    name: str
    kind: str
    value: dict[str, Any]
    cost: dict[str, float]
    crowds: tuple[str, ...]
    mode: str
    default: bool
    priority: int
    per_visitor_limit: int
    budget_cents: int | None
    budget_count: int | None
    valid_from: float | None
    valid_until: float | None
    grant_s: float
    daily_count: int | None
    daily_cents: int | None
    active: bool
    description: str = ""
    code: str | None = None

    @staticmethod
    def from_body(right_id: str, b: dict[str, Any]) -> Right:
        budget, valid, pacing = b.get("budget") or {}, b.get("valid") or {}, b.get("pacing") or {}
        return Right(
            id=right_id,
            name=b["name"],
            kind=b["kind"],
            value=dict(b.get("value") or {}),
            cost=dict(b.get("cost") or {}),
            crowds=tuple(b.get("crowds") or ()),
            mode=b.get("mode", "uplift"),
            default=bool(b.get("default")),
            priority=int(b.get("priority", 0)),
            per_visitor_limit=int(b.get("per_visitor_limit", 1)),
            budget_cents=round(budget["money"] * 100) if budget.get("money") is not None else None,
            budget_count=budget.get("count"),
            valid_from=_ts(valid.get("from")),
            valid_until=_ts(valid.get("until")),
            grant_s=float(valid.get("grant_days", 7.0)) * 86400,
            daily_count=pacing.get("daily_count"),
            daily_cents=round(pacing["daily_money"] * 100) if pacing.get("daily_money") is not None else None,
            active=b.get("status", "active") == "active",
            description=b.get("description", ""),
            code=b.get("code"),
        )

    @property
    def max_cost_cents(self) -> int:
        """Reserved per grant: the worst case (when unbounded, which no money budget allows,
        only the per-grant cost, which is spent at once)."""
        worst = max_cost_cents(self.cost)
        return self.per_grant_cents if worst is None else worst

    @property
    def per_grant_cents(self) -> int:
        """Paid on every grant, used or not (part of :attr:`max_cost_cents`)."""
        return round((self.cost.get("per_grant") or 0.0) * 100)

    @property
    def min_spend(self) -> float:
        return float(self.value.get("min_spend") or 0.0)

    def live_at(self, ts: float) -> bool:
        return self.active and (self.valid_from is None or ts >= self.valid_from) and (self.valid_until is None or ts < self.valid_until)

    def grant_until(self, ts: float) -> float:
        """When a grant made at ``ts`` stops being usable: its own term, within the window."""
        end = ts + self.grant_s
        return min(end, self.valid_until) if self.valid_until is not None else end

    def expected_cost(self, p_buy: float, order_value: float, spread: float = 0.0) -> float:
        """Expected cost in yuan of granting to a visitor who buys with probability
        ``p_buy`` an order of ``order_value`` (its expected value).

        A right with a minimum spend is redeemed only by orders that reach it. ``spread``
        is the standard deviation of ln(order value) around its prediction (the uplift
        model's manifest records it): orders are taken as log-normal around the expected
        value, so ``P(order >= min_spend) = Φ((ln(value / min_spend) - spread² / 2) / spread)``,
        the formula the training evaluated the policy with. Without a spread every
        purchase counts as a redemption: an overestimate, so the policy errs towards
        granting less.
        """
        c = self.cost
        fixed = c.get("per_grant") or 0.0
        share = (c.get("share_of_order") or 0.0) * order_value
        if c.get("cap") is not None:
            share = min(share, c["cap"])
        return fixed + p_buy * reach_probability(order_value, self.min_spend, spread) * ((c.get("per_redemption") or 0.0) + share)

    def redemption_cost_cents(self, order_cents: int) -> int:
        """What one redemption on an order of ``order_cents`` costs (per-grant cost excluded)."""
        c = self.cost
        share = (c.get("share_of_order") or 0.0) * order_cents
        if c.get("cap") is not None:
            share = min(share, c["cap"] * 100)
        return round((c.get("per_redemption") or 0.0) * 100 + share)

    def coupon(self) -> dict[str, Any]:
        """The right as a coupon of the page's coupon strip (every field the template reads)."""
        v = self.value
        return {
            "label": self.name,
            "amount": v.get("amount") if self.kind == "amount_off" else None,
            "min_spend": v.get("min_spend") or None,
            "description": self.description or self._plain_words(),
            "code": self.code,
            "right": self.id,
        }

    def _plain_words(self) -> str:
        v = self.value
        if self.kind == "percent_off":
            cap = f", 最高减{v['max_discount']:g}" if v.get("max_discount") else ""
            return f"{(100 - v['percent']) / 10:g}折{cap}"
        if self.kind == "free_shipping":
            return "包邮"
        if self.kind == "gift":
            return f"赠 {v['gift']}"
        if self.kind == "points_multiplier":
            return f"{v['multiplier']:g}倍积分"
        if self.kind == "priority_service":
            return str(v.get("service") or "优先服务")
        return "无门槛" if not v.get("min_spend") else f"满{v['min_spend']:g}可用"

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind, "value": self.value}
