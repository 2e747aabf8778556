"""Blocks (a template with params) and pages (ordered slots with per-crowd variants)."""

from typing import Any

from fastapi import APIRouter

from app.api.errors import Problem
from app.api.routes.configs import add_config_routes
from app.api.schemas import BlockIn, PageIn
from app.rendering.blocks import BLOCK_TEMPLATES, validate_params

router = APIRouter(tags=["pages"])


def prepare_block(body: BlockIn) -> tuple[dict[str, Any], list[Problem], list[Problem]]:
    params, errors = validate_params(body.template, body.params)
    problems = [Problem(e.path, e.code, e.message) for e in errors]
    return {"template": body.template, "params": params, "name": body.name}, problems, []


def prepare_page(body: PageIn) -> tuple[dict[str, Any], list[Problem], list[Problem]]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, slot in enumerate(body.slots):
        if slot.slot_id in seen:
            problems.append(
                Problem(f"$.slots[{i}].slot_id", "duplicate", f"Slot '{slot.slot_id}' is already used by slot {seen[slot.slot_id]}.")
            )
        seen.setdefault(slot.slot_id, i)
        crowds: dict[str, int] = {}
        for j, v in enumerate(slot.variants):
            if v.crowd in crowds:
                problems.append(
                    Problem(
                        f"$.slots[{i}].variants[{j}].crowd",
                        "duplicate",
                        f"Crowd '{v.crowd}' already has a variant in this slot (variant {crowds[v.crowd]}).",
                    )
                )
            crowds.setdefault(v.crowd, j)
    return body.model_dump(), problems, []


@router.get("/v1/templates", summary="The block templates and their parameters")
async def list_templates() -> dict[str, Any]:
    return {
        "templates": [
            {"name": t.name, "description": t.description, "params_schema": t.json_schema()}
            for t in BLOCK_TEMPLATES.values()
        ]
    }


add_config_routes(router, "block", "blocks", BlockIn, prepare_block)
add_config_routes(router, "page", "pages", PageIn, prepare_page)
