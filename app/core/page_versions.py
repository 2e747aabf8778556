"""A page's version per crowd: which block each slot shows to a visitor of one crowd.

The console's page view. Each row is what a preview "as that crowd" renders
(``RenderRequest.as_crowd``): the crowd matched alone, the slots choosing with
:func:`app.core.page.choose_variant`, so the table and the preview cannot disagree.
A visitor in several crowds sees, per slot, the variant of the highest-priority one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.core.decision import CrowdScore
from app.core.page import Page, choose_variant


@dataclass(frozen=True)
class SlotChoice:
    slot_id: str
    block_id: str
    differs: bool  # not the slot's default block


@dataclass(frozen=True)
class CrowdVersion:
    crowd: str | None  # None: the default version (no crowd of the page matched)
    slots: tuple[SlotChoice, ...]


def page_crowds(page: Page) -> list[str]:
    """The crowds the page's variants name, in the order they first appear."""
    return list(dict.fromkeys(v.crowd for s in page.slots for v in s.variants))


def crowd_versions(page: Page, priorities: Mapping[str, int]) -> list[CrowdVersion]:
    """The default version, then one per crowd the page names (highest priority first)."""
    crowds = sorted(page_crowds(page), key=lambda c: (-priorities.get(c, 0), c))
    rows = [CrowdVersion(None, tuple(SlotChoice(s.slot_id, s.default, False) for s in page.slots))]
    for crowd in crowds:
        scores = {crowd: CrowdScore(crowd, 1.0, "preview", True, priorities.get(crowd, 0), "")}
        choices = []
        for slot in page.slots:
            block, _, _ = choose_variant(slot, scores)
            choices.append(SlotChoice(slot.slot_id, block, block != slot.default))
        rows.append(CrowdVersion(crowd, tuple(choices)))
    return rows
