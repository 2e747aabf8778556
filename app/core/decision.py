"""The decision of one page view: plain data, with the reason of every choice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from app.core.assignment import Assignment


@dataclass(frozen=True)
class CrowdScore:
    """How well the visitor fits one crowd.

    ``score`` is 1.0/0.0 where the rule was decided by known attributes; a probability
    where a model filled unknown attributes. ``source`` says which: "rule" or "model".
    """

    id: str
    score: float
    source: str
    matched: bool
    priority: int
    reason: str


@dataclass(frozen=True)
class ScoredProduct:
    id: str
    score: float
    reason: str = ""  # e.g. "pinned", "boosted x1.5", "popularity"


@dataclass(frozen=True)
class SlotDecision:
    slot_id: str
    block_id: str
    template: str
    params: Mapping[str, Any]
    reason: str  # e.g. "crowd dormant (priority 50, score 1.00)" or "default: no variant crowd matched"
    crowd: str | None = None  # the crowd whose variant was chosen, if any
    products: tuple[ScoredProduct, ...] = ()


@dataclass(frozen=True)
class Fallback:
    """Something that did not go as planned and what was served instead."""

    step: str  # "profile", "config", "block", "products", "template", "page"
    reason: str
    served: str  # what was served instead


@dataclass(frozen=True)
class PageDecision:
    render_id: str
    shop_id: str
    visitor_id: str
    page_id: str
    crowds: tuple[CrowdScore, ...]
    slots: tuple[SlotDecision, ...]
    fallbacks: tuple[Fallback, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)  # the attributes the rules saw
    model_version: str | None = None  # the attribute model set in use, if any
    ranker_version: str | None = None  # the product ranker in use, if any (else popularity ranks)
    experiments: tuple[Assignment, ...] = ()  # the visitor's variant of each running experiment
    in_holdout: bool = False  # the shop's global holdout: no personalization on this page view
    personalized: bool = True  # False: the holdout, or a visitor who opted out of personalization
    rights: Mapping[str, Any] | None = None  # the visitor's discount right now and why (None: the shop has no rights)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
