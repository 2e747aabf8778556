"""Referential integrity of a shop's configuration.

Who may point at what:

    page   -> crowd, block      (slots' default and per-crowd variants)
    experiment -> crowd, page, block, banner  (target crowd and what its lever changes)
    block  -> banner            (a hero banner block's ``params.banner``)
    banner -> element, crowd    (layers' pictures and fonts; per-crowd variants)
    right  -> crowd             (the crowds a discount right is for)

A write that leaves a pointer dangling is refused, so a render never meets a page whose
block, banner or picture is gone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reference:
    """One pointer from a configuration item (the owner) to another (the target)."""

    owner_kind: str  # "page" | "block" | "banner" | "experiment" | "right"
    owner_id: str
    path: str  # JSON path inside the owner's body, e.g. "$.slots[0].variants[1].crowd"
    kind: str  # the target's kind: "crowd" | "block" | "banner" | "element"
    target: str

    @property
    def page_id(self) -> str:
        return self.owner_id


def page_references(page_id: str, page: Mapping[str, Any]) -> list[Reference]:
    refs: list[Reference] = []
    for i, slot in enumerate(page.get("slots", ())):
        refs.append(Reference("page", page_id, f"$.slots[{i}].default", "block", slot["default"]))
        for j, v in enumerate(slot.get("variants", ())):
            refs.append(Reference("page", page_id, f"$.slots[{i}].variants[{j}].crowd", "crowd", v["crowd"]))
            refs.append(Reference("page", page_id, f"$.slots[{i}].variants[{j}].block", "block", v["block"]))
    return refs


def block_references(block_id: str, block: Mapping[str, Any]) -> list[Reference]:
    banner = (block.get("params") or {}).get("banner")
    return [Reference("block", block_id, "$.params.banner", "banner", banner)] if isinstance(banner, str) else []


def banner_references(banner_id: str, banner: Mapping[str, Any]) -> list[Reference]:
    refs: list[Reference] = []
    for i, layer in enumerate(banner.get("layers", ())):
        for field in ("element", "font"):
            if isinstance(layer.get(field), str):
                refs.append(Reference("banner", banner_id, f"$.layers[{i}].{field}", "element", layer[field]))
    for crowd, changes in (banner.get("variants") or {}).items():
        refs.append(Reference("banner", banner_id, f"$.variants.{crowd}", "crowd", crowd))
        for layer_id, fields in changes.items():
            for field in ("element", "font"):
                if isinstance(fields.get(field), str):
                    refs.append(Reference("banner", banner_id, f"$.variants.{crowd}.{layer_id}.{field}", "element", fields[field]))
    return refs


def experiment_references(exp_id: str, exp: Mapping[str, Any]) -> list[Reference]:
    refs: list[Reference] = []
    if isinstance(exp.get("target_crowd"), str):
        refs.append(Reference("experiment", exp_id, "$.target_crowd", "crowd", exp["target_crowd"]))
    lever = exp.get("lever") or {}
    for field in ("page", "banner"):
        if isinstance(lever.get(field), str):
            refs.append(Reference("experiment", exp_id, f"$.lever.{field}", field, lever[field]))
    for i, v in enumerate(exp.get("variants", ())):
        if isinstance(v.get("block"), str):
            refs.append(Reference("experiment", exp_id, f"$.variants[{i}].block", "block", v["block"]))
    return refs


def right_references(right_id: str, right: Mapping[str, Any]) -> list[Reference]:
    return [Reference("right", right_id, f"$.crowds[{i}]", "crowd", c) for i, c in enumerate(right.get("crowds", ()))]


def all_references(configs: Mapping[str, Mapping[str, Any]]) -> Iterator[Reference]:
    for page_id, page in configs.get("page", {}).items():
        yield from page_references(page_id, page)
    for block_id, block in configs.get("block", {}).items():
        yield from block_references(block_id, block)
    for banner_id, banner in configs.get("banner", {}).items():
        yield from banner_references(banner_id, banner)
    for exp_id, exp in configs.get("experiment", {}).items():
        yield from experiment_references(exp_id, exp)
    for right_id, right in configs.get("right", {}).items():
        yield from right_references(right_id, right)


def dangling_references(configs: Mapping[str, Mapping[str, Any]]) -> list[Reference]:
    """Every reference to a crowd, block, banner or element that does not exist."""
    return [ref for ref in all_references(configs) if ref.target not in configs.get(ref.kind, {})]
