"""Referential integrity of a shop's configuration: pages point only to existing crowds and blocks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reference:
    """One pointer from a page to a crowd or a block."""

    page_id: str
    path: str  # JSON path inside the page body, e.g. "$.slots[0].variants[1].crowd"
    kind: str  # "crowd" | "block"
    target: str


def page_references(page_id: str, page: Mapping[str, Any]) -> list[Reference]:
    refs: list[Reference] = []
    for i, slot in enumerate(page.get("slots", ())):
        refs.append(Reference(page_id, f"$.slots[{i}].default", "block", slot["default"]))
        for j, v in enumerate(slot.get("variants", ())):
            refs.append(Reference(page_id, f"$.slots[{i}].variants[{j}].crowd", "crowd", v["crowd"]))
            refs.append(Reference(page_id, f"$.slots[{i}].variants[{j}].block", "block", v["block"]))
    return refs


def dangling_references(configs: Mapping[str, Mapping[str, Any]]) -> list[Reference]:
    """Every reference from a page to a crowd or block that does not exist."""
    out: list[Reference] = []
    for page_id, page in configs.get("page", {}).items():
        for ref in page_references(page_id, page):
            if ref.target not in configs.get(ref.kind, {}):
                out.append(ref)
    return out

