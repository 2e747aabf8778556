"""What an assigned variant changes in one page view: pure.

Each lever type turns (the experiment's lever, the visitor's variant) into overrides of
the page decision:

    block    the block a page's slot shows         {"page", "slot"} / variant "block"
    ranking  how product grids rank (the learned   {"page"?} / variant "strategy":
             ranker or popularity)                  "model" | "popularity"
    banner   which design of a banner template      {"banner"} / variant "design":
             the visitor sees                       "base" | a crowd's variant
    rights   how discount rights are chosen         {} / variant "policy": "uplift" (the
                                                    model) | "none" | "default" (the
                                                    shop's default rights for everyone)

A variant without its lever field (a control that says nothing) changes nothing: the
visitor gets what the page would show without the experiment. A new lever plugs in by
adding a function to :data:`LEVERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.core.assignment import Assignment
from app.experiments.definition import Experiment


@dataclass(frozen=True)
class Override:
    value: str
    experiment: str
    variant: str

    @property
    def reason(self) -> str:
        return f"experiment {self.experiment}, variant {self.variant}"


@dataclass
class Overrides:
    """Everything the visitor's experiments change on this page view."""

    blocks: dict[tuple[str, str], Override] = field(default_factory=dict)  # (page, slot) -> block id
    ranking: dict[str | None, Override] = field(default_factory=dict)  # page (None: all pages) -> strategy
    banners: dict[str, Override] = field(default_factory=dict)  # banner id -> design
    rights: Override | None = None  # the rights policy: "uplift" | "none" | "default"

    def block(self, page: str, slot: str) -> Override | None:
        return self.blocks.get((page, slot))

    def strategy(self, page: str) -> Override | None:
        return self.ranking.get(page) or self.ranking.get(None)

    def design(self, banner: str) -> Override | None:
        return self.banners.get(banner)

    def rights_policy(self) -> Override | None:
        return self.rights


NO_OVERRIDES = Overrides()

Apply = Callable[[Overrides, Mapping[str, Any], Mapping[str, Any], Override], None]


def _block(o: Overrides, lever: Mapping[str, Any], variant: Mapping[str, Any], how: Override) -> None:
    o.blocks.setdefault((lever["page"], lever["slot"]), how)


def _ranking(o: Overrides, lever: Mapping[str, Any], variant: Mapping[str, Any], how: Override) -> None:
    o.ranking.setdefault(lever.get("page"), how)


def _banner(o: Overrides, lever: Mapping[str, Any], variant: Mapping[str, Any], how: Override) -> None:
    o.banners.setdefault(lever["banner"], how)


def _rights(o: Overrides, lever: Mapping[str, Any], variant: Mapping[str, Any], how: Override) -> None:
    if o.rights is None:
        o.rights = how


# lever type -> (the variant field it reads, how it applies)
LEVERS: dict[str, tuple[str, Apply]] = {
    "block": ("block", _block), "ranking": ("strategy", _ranking), "banner": ("design", _banner), "rights": ("policy", _rights),
}


def overrides_for(experiments: Sequence[Experiment], assignments: Sequence[Assignment]) -> Overrides:
    """The overrides of the assigned variants, in experiment order.

    Two running experiments on the same lever target (the same slot, say) should share a
    namespace so that no visitor is in both; if they do not, the first one listed (by id)
    wins, so a page view is still decided one way.
    """
    by_id = {e.id: e for e in experiments}
    out = Overrides()
    for a in assignments:
        exp = by_id.get(a.experiment)
        if exp is None or a.variant is None:
            continue
        lever = LEVERS.get(exp.lever["type"])
        if lever is None:
            continue
        reads, apply = lever
        variant = exp.variants.get(a.variant, {})
        value = variant.get(reads)
        if value is not None:
            apply(out, exp.lever, variant, Override(str(value), exp.id, a.variant))
    return out
