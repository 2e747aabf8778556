"""Page assembly: for each slot of a page, the block variant for the visitor and its products.

Pure: the shop's configuration, the visitor's crowd scores and the catalog come in,
a :class:`PageDecision` with the reason of every choice comes out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core.catalog import Candidates, Catalog
from app.core.decision import CrowdScore, Fallback, PageDecision, ScoredProduct, SlotDecision
from app.core.ranking import MerchRules, rank

# Block templates whose params describe a product pool to rank.
PRODUCT_TEMPLATES = frozenset({"product_grid"})


@dataclass(frozen=True)
class Block:
    id: str
    template: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Variant:
    crowd: str
    block: str


@dataclass(frozen=True)
class Slot:
    slot_id: str
    default: str
    variants: tuple[Variant, ...] = ()


@dataclass(frozen=True)
class Page:
    id: str
    slots: tuple[Slot, ...]
    name: str = ""

    @classmethod
    def from_dict(cls, page_id: str, body: Mapping[str, Any]) -> Page:
        return cls(
            id=page_id,
            name=body.get("name", ""),
            slots=tuple(
                Slot(
                    slot_id=s["slot_id"],
                    default=s["default"],
                    variants=tuple(Variant(v["crowd"], v["block"]) for v in s.get("variants", ())),
                )
                for s in body["slots"]
            ),
        )


@dataclass(frozen=True)
class ProductInputs:
    """What product ranking needs about the shop and the visitor."""

    catalog: Catalog
    popularity: Mapping[str, float]  # times popularity_scale: decayed to `now`
    now: float
    category_views: Mapping[str, int]
    popularity_scale: float = 1.0
    # the learned ranker's scores per block id, in the order of that block's candidates
    model_scores: Mapping[str, np.ndarray] = field(default_factory=dict)


def choose_variant(slot: Slot, scores: Mapping[str, CrowdScore]) -> tuple[str, str | None, str]:
    """The block for a slot: (block id, crowd id or None, reason).

    Among the variants whose crowd the visitor is in, the crowd with the highest
    priority wins, then the higher score, then the variant listed first.
    """
    best: tuple[tuple[int, float, int], Variant, CrowdScore] | None = None
    for order, v in enumerate(slot.variants):
        s = scores.get(v.crowd)
        if s is None or not s.matched:
            continue
        key = (s.priority, s.score, -order)
        if best is None or key > best[0]:
            best = (key, v, s)
    if best is None:
        return slot.default, None, "default: the visitor is in none of this slot's crowds"
    _, v, s = best
    return v.block, v.crowd, f"crowd {v.crowd} (priority {s.priority}, score {s.score:.2f}, {s.source})"


def pick_block(slot: Slot, scores: Mapping[str, CrowdScore], forced: Mapping[str, tuple[str, str]]) -> tuple[str, str | None, str]:
    """The block for a slot: an experiment's forced block (with its reason) first, else by crowd."""
    if slot.slot_id in forced:
        block_id, reason = forced[slot.slot_id]
        return block_id, None, reason
    return choose_variant(slot, scores)


def products_for(block: Block, inputs: ProductInputs) -> tuple[ScoredProduct, ...]:
    candidates = candidates_for(block, inputs.catalog)
    rules = MerchRules.from_params(block.params)
    return tuple(
        rank(
            candidates,
            inputs.popularity,
            inputs.now,
            rules,
            inputs.category_views,
            popularity_scale=inputs.popularity_scale,
            model_scores=inputs.model_scores.get(block.id),
        )
    )


def candidates_for(block: Block, catalog: Catalog) -> Candidates:
    """The product pool a grid block draws from (cached with the catalog)."""
    pool = block.params.get("pool") or {}
    return catalog.candidates(pool.get("categories") or (), pool.get("tags") or ())


def decide_page(
    *,
    render_id: str,
    shop_id: str,
    visitor_id: str,
    page: Page,
    blocks: Mapping[str, Block],
    crowd_scores: Sequence[CrowdScore],
    products: ProductInputs,
    attributes: Mapping[str, Any],
    fallbacks: Sequence[Fallback] = (),
    forced: Mapping[str, tuple[str, str]] | None = None,
) -> PageDecision:
    """``forced``: slot id -> (block id, reason) set by the visitor's experiments."""
    scores = {s.id: s for s in crowd_scores}
    slots: list[SlotDecision] = []
    fell_back = list(fallbacks)
    for slot in page.slots:
        block_id, crowd, reason = pick_block(slot, scores, forced or {})
        block = blocks.get(block_id)
        if block is None and block_id != slot.default:
            fell_back.append(Fallback("block", f"slot {slot.slot_id}: block {block_id} is missing", f"default block {slot.default}"))
            block_id, crowd, reason = slot.default, None, f"default: block {block_id} is missing"
            block = blocks.get(block_id)
        if block is None:
            fell_back.append(Fallback("block", f"slot {slot.slot_id}: default block {block_id} is missing", "slot left out"))
            continue
        chosen: tuple[ScoredProduct, ...] = ()
        if block.template in PRODUCT_TEMPLATES:
            chosen = products_for(block, products)
            if not chosen:
                fell_back.append(Fallback("products", f"slot {slot.slot_id}: no product in stock in the pool", "empty grid"))
        slots.append(
            SlotDecision(
                slot_id=slot.slot_id,
                block_id=block.id,
                template=block.template,
                params=block.params,
                reason=reason,
                crowd=crowd,
                products=chosen,
            )
        )
    return PageDecision(
        render_id=render_id,
        shop_id=shop_id,
        visitor_id=visitor_id,
        page_id=page.id,
        crowds=tuple(crowd_scores),
        slots=tuple(slots),
        fallbacks=tuple(fell_back),
        attributes=dict(attributes),
    )
