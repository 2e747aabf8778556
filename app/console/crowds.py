"""Crowd pages: the list with sizes and overlaps, the editor, a crowd's history and rollback."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import anyio
from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from app.api.routes.configs import ConfigItemId, reference_check, reference_refusal
from app.console.access import MerchantVisit, PostedForm, Visit
from app.console.crowd_form import CrowdForm, by_field, check
from app.console.versions import rollback_item
from app.core.crowd_editor import preview, sizes_and_overlaps
from app.core.crowds import Crowd, missing_matches
from app.core.derived import DERIVED_KEYS
from app.core.problems import Problem
from app.serving.crowd_sample import known_visitor_attributes
from app.store import configs as config_store
from app.store.configs import ConfigRejected

router = APIRouter(include_in_schema=False)
# Known (CRM) fields the service reads, beside the derived ones and any key the CRM sends.
KNOWN_FIELDS = ("gender", "birthday", "city", "province", "member_level", "member_since", "is_member", "is_fan", "orders", "total_spend")


async def _crowds(v: Visit) -> list[Crowd]:
    config = await v.state.snapshots.load_config(v.state.redis, v.shop_id)
    return list(config.crowds) if config else []


async def _sample(v: Visit) -> tuple[int, list[dict[str, Any]]]:
    assert v.shop is not None
    return await known_visitor_attributes(v.state.redis, v.shop, now=time.time())


@router.get("/console/crowds")
async def crowd_list(v: MerchantVisit) -> Response:
    crowds = await _crowds(v)
    total, attrs = await _sample(v)
    sizes = await anyio.to_thread.run_sync(sizes_and_overlaps, crowds, attrs)
    # highest priority first: the order a visitor in several crowds is decided in
    order = sorted(range(len(crowds)), key=lambda i: (-crowds[i].priority, crowds[i].id))
    rows = [{"crowd": crowds[i], "size": sizes.sizes[i], "share": sizes.share(i), "top": sizes.top_overlaps(i)} for i in order]
    matrix = [[sizes.both[i][j] for j in order] for i in order]
    return v.page(
        "console/crowds.html.j2", section="crowds", rows=rows, matrix=matrix, known_visitors=total, evaluated=sizes.evaluated
    )


def _editor(
    v: Visit, form: CrowdForm, *, new: bool, errors: Sequence[Problem] = (), warnings: Sequence[Problem] = (), status: int = 200
) -> Response:
    return v.page(
        "console/crowd_edit.html.j2",
        section="crowds",
        form=form,
        new=new,
        errors=by_field(list(errors)),
        warnings=by_field(list(warnings)),
        attribute_names=sorted(set(DERIVED_KEYS) | set(KNOWN_FIELDS)),
        js_messages=v.t.subset("js."),
        status=status,
    )


async def _save(posted: PostedForm, crowd_id: str | None) -> Response:
    v, new = posted.visit, crowd_id is None
    form = CrowdForm.from_form(posted.form, crowd_id)
    checked = check(form)
    errors = list(checked.errors)
    item_id = form.crowd_id.strip()
    if new and not errors and await config_store.get_item(v.state.redis, v.shop_id, "crowd", item_id) is not None:
        errors.append(Problem("id", "exists", v.t("crowds.exists", id=item_id)))
    if errors or checked.body is None:
        return _editor(v, form, new=new, errors=errors, warnings=checked.warnings, status=422)
    try:
        record = await config_store.write(
            v.state.redis, v.shop_id, "crowd", item_id, checked.body, check=reference_check("crowd", item_id, False)
        )
    except ConfigRejected as exc:
        refusal = reference_refusal("crowd", item_id, False, exc.problems)
        return _editor(v, form, new=new, errors=refusal.details, status=refusal.status)
    return RedirectResponse(f"/console/crowds/{item_id}?saved={record.version}", status_code=303)


@router.get("/console/crowds/new")
async def new_crowd(v: MerchantVisit) -> Response:
    return _editor(v, CrowdForm(), new=True)


@router.post("/console/crowds/new")
async def create_crowd(posted: PostedForm) -> Response:
    return await _save(posted, None)


@router.get("/console/crowds/{crowd_id}/edit")
async def edit_crowd(v: MerchantVisit, crowd_id: ConfigItemId) -> Response:
    body = await config_store.get_item(v.state.redis, v.shop_id, "crowd", crowd_id)
    if body is None:
        return _not_found(v, crowd_id)
    return _editor(v, CrowdForm.from_stored(crowd_id, body), new=False)


@router.post("/console/crowds/{crowd_id}/edit")
async def update_crowd(posted: PostedForm, crowd_id: ConfigItemId) -> Response:
    return await _save(posted, crowd_id)


def _not_found(v: Visit, crowd_id: str) -> Response:
    return v.page("console/error.html.j2", section="crowds", status=404, title=v.t("error.not_found"), message=v.t("crowds.not_found", id=crowd_id))


@router.get("/console/crowds/{crowd_id}")
async def crowd_detail(v: MerchantVisit, crowd_id: ConfigItemId, saved: int | None = None, rolled_back: int | None = None) -> Response:
    records = await config_store.history(v.state.redis, v.shop_id, "crowd", crowd_id)
    if not records:
        return _not_found(v, crowd_id)
    body = await config_store.get_item(v.state.redis, v.shop_id, "crowd", crowd_id)
    size = None
    warnings: list[tuple[str, str]] = []
    if body is not None:
        crowds = [c for c in await _crowds(v) if c.id != crowd_id]
        total, attrs = await _sample(v)
        size = {"known_visitors": total, **await anyio.to_thread.run_sync(preview, body["condition"], crowds, attrs)}
        size["overlaps"] = sorted((o for o in size["overlaps"] if o["both"]), key=lambda o: -o["both"])[:5]
        warnings = missing_matches(body["condition"])
    return v.page(
        "console/crowd.html.j2",
        section="crowds",
        crowd_id=crowd_id,
        body=body,
        current=records[-1].version,
        versions=list(reversed(records)),
        size=size,
        warnings=warnings,
        saved=saved,
        rolled_back=rolled_back,
        tz=v.timezone,
    )


@router.post("/console/crowds/{crowd_id}/rollback")
async def rollback_crowd(posted: PostedForm, crowd_id: ConfigItemId) -> Response:
    return await rollback_item(posted, "crowd", crowd_id, "crowds")
