"""Request bodies of the JSON API, with the bounds a careless or hostile caller meets."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
ConfigId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Tag = Annotated[str, Field(min_length=1, max_length=64)]
AttrName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Scalar = str | int | float | bool | None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateShop(Strict):
    shop_id: str = Field(min_length=2, max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]+$")
    name: ShortText


class ProductIn(Strict):
    id: Id
    title: ShortText
    category: Tag
    price: float = Field(ge=0, le=100_000_000)
    stock: int = Field(ge=0, le=1_000_000_000)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    attributes: dict[AttrName, Scalar] = Field(default_factory=dict, max_length=50)
    image: str | None = Field(default=None, max_length=512, pattern=r"^(https?://|/)[^\s\"'<>]*$")
    added_at: float | None = Field(default=None, ge=0)

    @field_validator("price")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("price must be a finite number")
        return v


class ProductsIn(Strict):
    products: list[ProductIn] = Field(min_length=1, max_length=10_000)


class VisitorIn(Strict):
    visitor_id: Id
    attributes: dict[AttrName, Any] = Field(max_length=100)


class VisitorsIn(Strict):
    visitors: list[VisitorIn] = Field(min_length=1, max_length=10_000)


class EventIn(Strict):
    event_id: Id
    type: str = Field(max_length=32)
    visitor_id: Id
    ts: float | int | str
    product_id: Id | None = None
    amount: float | int | str | None = None
    render_id: Id | None = None
    right_id: ConfigId | None = None  # a purchase: the right the order used (redeems the visitor's grant)


class EventsIn(Strict):
    events: list[EventIn] = Field(min_length=1, max_length=10_000)


class CrowdIn(Strict):
    name: ShortText
    condition: dict[str, Any]
    priority: int = Field(default=0, ge=-1000, le=1000)
    threshold: float = Field(default=0.5, gt=0, le=1)
    description: str = Field(default="", max_length=500)


class ConditionTest(Strict):
    condition: dict[str, Any]
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=500)


class ConditionPreview(Strict):
    condition: dict[str, Any]
    sample: int = Field(default=20_000, ge=1, le=200_000)


class BlockIn(Strict):
    template: Annotated[str, Field(min_length=1, max_length=64)]
    params: dict[str, Any] = Field(default_factory=dict)
    name: str = Field(default="", max_length=200)


class VariantIn(Strict):
    crowd: ConfigId
    block: ConfigId


class SlotIn(Strict):
    slot_id: ConfigId
    default: ConfigId
    variants: list[VariantIn] = Field(default_factory=list, max_length=50)


class PageIn(Strict):
    name: str = Field(default="", max_length=200)
    slots: list[SlotIn] = Field(min_length=1, max_length=30)


class Rollback(Strict):
    version: int = Field(ge=1)


class RenderContext(BaseModel):
    # Storefronts may send more context keys (for example "utm_campaign"); they become
    # attributes crowd rules can use. Bounded in count, scalar in value.
    model_config = ConfigDict(extra="allow")
    device: str | None = Field(default=None, max_length=32)
    channel: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=64)
    ts: float | int | str | None = None


class RenderIn(Strict):
    visitor_id: Id
    page: ConfigId
    context: RenderContext = Field(default_factory=RenderContext)
    format: Literal["json", "html"] = "json"
    preview: bool = False
    # The visitor opted out of personalization: the page everyone gets, the default rights.
    personalized: bool = True


class ExperimentSettingsIn(Strict):
    # Half the shop unpersonalized is already a very expensive measurement; more is a mistake.
    holdout: float = Field(ge=0, le=0.5)


class RightsSettingsIn(Strict):
    personalized: bool = True
    # Beyond half, exploring is no longer a small price for learning: it is the policy.
    exploration: float = Field(default=0.05, ge=0, le=0.5)
    margin_rate: float = Field(default=0.35, gt=0, le=1)


class SettingsIn(Strict):
    derived: dict[str, Any] = Field(default_factory=dict)
    experiments: ExperimentSettingsIn | None = None  # None: unchanged
    rights: RightsSettingsIn | None = None  # None: unchanged
