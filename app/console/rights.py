"""Discount rights in the console: the list with each right's figures and the shop's
rights settings, create/replace from a JSON definition, one right's page (its
figures, definition, history with rollback, and newest audited decisions), and the
shop's decision log as a CSV download (the API's ``rights:log``).

Every write goes through the API's own functions (``save_right``, ``put_rights_settings``,
the configs' reference check), so the console and the API refuse the same things with
the same JSON paths. The figures are the API's ``shop_report`` rows as they are.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from starlette.datastructures import FormData

from app.api.errors import problems_from_validation
from app.api.routes import rights as right_api
from app.api.routes.configs import ConfigItemId
from app.api.routes.shops import put_rights_settings, rights_settings
from app.api.schemas import SettingsIn
from app.console.access import MerchantVisit, PostedForm, Visit
from app.console.charts import hbars
from app.console.definitions import parse_definition
from app.console.versions import rollback_item
from app.core.problems import Problem, Refusal
from app.rights.definition import RightIn
from app.store import configs as config_store
from app.store.keys import CONFIG_ID_PATTERN

router = APIRouter(include_in_schema=False)

# Valid in any shop (no crowd named), so the prefilled form saves as it is.
EXAMPLE = {
    "name": "满199减20",
    "kind": "amount_off",
    "value": {"amount": 20, "min_spend": 199},
    "mode": "uplift",
    "per_visitor_limit": 1,
    "budget": {"money": 5000, "count": 400},
    "pacing": {"daily_count": 40},
}
AUDIT_ROWS = 50


def display_mode(body: dict[str, Any]) -> str:
    """uplift / crowd / default: a default right is served when personalization is off,
    which matters more to the merchant than its (uplift) mode."""
    return "default" if body.get("default") else str(body.get("mode", "uplift"))


async def _rows(v: Visit) -> list[dict[str, Any]]:
    """The report of every right, with the mode as shown."""
    bodies = (await config_store.read_all(v.state.redis, v.shop_id))["right"]
    reports = await right_api.shop_report(v.state, v.shop_id, v.timezone)
    return [{**r, "shown_mode": display_mode(bodies.get(r["id"], {}))} for r in reports]


def _settings_form(v: Visit) -> dict[str, Any]:
    assert v.shop is not None
    return rights_settings(v.shop).as_dict()


def _list_page(
    v: Visit,
    rows: list[dict[str, Any]],
    *,
    right_id: str = "",
    definition: str = "",
    errors: list[Problem] | None = None,
    settings: dict[str, Any] | None = None,
    settings_errors: list[Problem] | None = None,
    settings_saved: bool = False,
    status: int = 200,
) -> Response:
    return v.page(
        "console/rights.html.j2",
        section="rights",
        rows=rows,
        right_id=right_id,
        definition=definition or json.dumps(EXAMPLE, ensure_ascii=False, indent=2),
        errors=errors or [],
        settings=settings or _settings_form(v),
        settings_errors=settings_errors or [],
        settings_saved=settings_saved,
        status=status,
    )


@router.get("/console/rights")
async def right_list(v: MerchantVisit, settings_saved: int | None = None) -> Response:
    return _list_page(v, await _rows(v), settings_saved=bool(settings_saved))


@router.get("/console/rights/log.csv")
async def decision_log(v: MerchantVisit) -> Response:
    """The shop's decision log: every complete decision, from the archive's day files and
    the audit stream (the API's ``GET …/rights:log`` with its other defaults, up to its
    largest limit; the API takes the window and filters)."""
    assert v.shop is not None  # (behind the login gate)
    return await right_api.decision_log(
        v.shop, v.state, since=None, until=None, explore_only=False, complete_only=True, limit=right_api.AUDIT_MAXLEN, format="csv"
    )


@router.post("/console/rights/new")
async def save_right(posted: PostedForm) -> Response:
    """Create a right, or replace one (a new version): what ``PUT …/rights/{id}`` does."""
    v, form = posted.visit, posted.form
    right_id = str(form.get("id") or "").strip()
    definition = str(form.get("definition") or "")
    errors: list[Problem] = []
    if not CONFIG_ID_PATTERN.match(right_id):
        errors.append(Problem("id", "invalid_id", v.t("rights.bad_id")))
    body, problems = parse_definition(v, RightIn, definition, "rights.bad_json")
    errors += problems
    record = None
    if not errors and body is not None:
        try:
            record, _ = await right_api.save_right(v.state, v.shop_id, right_id, body)
        except Refusal as refusal:
            errors += refusal.problems()
    if errors or record is None:
        return _list_page(v, await _rows(v), right_id=right_id, definition=definition, errors=errors, status=422)
    return RedirectResponse(f"/console/rights/{right_id}?saved={record.version}", status_code=303)


def _posted_settings(form: FormData) -> dict[str, Any]:
    # An unticked checkbox is not sent at all: absent means off.
    return {"personalized": form.get("personalized") == "on", "exploration": form.get("exploration"), "margin_rate": form.get("margin_rate")}


@router.post("/console/rights/settings")
async def save_settings(posted: PostedForm) -> Response:
    """The rights part of ``PUT …/settings``, validated by the API's own model (so the
    paths read ``$.rights.…``); every other setting stays as it is."""
    v = posted.visit
    data = _posted_settings(posted.form)
    try:
        parsed = SettingsIn.model_validate({"rights": data}).rights
    except ValidationError as exc:
        problems = problems_from_validation(RequestValidationError(exc.errors()))
        return _list_page(v, await _rows(v), settings=data, settings_errors=problems, status=422)
    assert parsed is not None and v.shop is not None
    await put_rights_settings(v.state, v.shop, parsed)
    return RedirectResponse("/console/rights?settings_saved=1", status_code=303)


def _charts(v: Visit, r: dict[str, Any]) -> dict[str, Markup]:
    """Grants and redemptions; and how much of each budget is used (reserved) and left."""
    out = {
        "funnel": hbars(
            [(v.t("rights.granted"), r["granted"], f'{r["granted"]:,}'), (v.t("rights.redeemed"), r["redeemed"], f'{r["redeemed"]:,}')],
            title=v.t("rights.chart_funnel"),
        )
    }
    left = r["remaining"]
    rows: list[tuple[str, float, str]] = []
    if "money" in left:
        rows += [(v.t("rights.money_used"), r["reserved"], f'¥{r["reserved"]:,.2f}'), (v.t("rights.money_left"), max(left["money"], 0), f'¥{left["money"]:,.2f}')]
    if "count" in left:
        rows += [(v.t("rights.count_used"), r["granted"], f'{r["granted"]:,}'), (v.t("rights.count_left"), max(left["count"], 0), f'{left["count"]:,}')]
    if rows:
        out["budget"] = hbars(rows, title=v.t("rights.chart_budget"))
    return out


def _not_found(v: Visit, right_id: str) -> Response:
    return v.page("console/error.html.j2", section="rights", status=404, title=v.t("error.not_found"), message=v.t("rights.not_found", id=right_id))


@router.get("/console/rights/{right_id}")
async def right_detail(v: MerchantVisit, right_id: ConfigItemId, saved: int | None = None, rolled_back: int | None = None) -> Response:
    body = await config_store.get_item(v.state.redis, v.shop_id, "right", right_id)
    if body is None:
        return _not_found(v, right_id)
    reports = await right_api.shop_report(v.state, v.shop_id, v.timezone, right_id)
    records = await config_store.history(v.state.redis, v.shop_id, "right", right_id)
    store = v.state.render_service.rights.store if v.state.render_service.rights else None
    audit = await store.audit(v.shop_id, AUDIT_ROWS, right_id) if store else []
    report = {**reports[0], "shown_mode": display_mode(body)}
    return v.page(
        "console/right.html.j2",
        section="rights",
        right_id=right_id,
        body=body,
        r=report,
        charts=_charts(v, report),
        current=records[-1].version if records else None,
        versions=list(reversed(records)),
        audit=[{**d, "at": int(d["id"].split("-")[0]) / 1000} for d in audit],  # a stream id starts with its time in ms
        saved=saved,
        rolled_back=rolled_back,
        tz=v.timezone,
    )


@router.post("/console/rights/{right_id}/rollback")
async def rollback_right(posted: PostedForm, right_id: ConfigItemId) -> Response:
    return await rollback_item(posted, "right", right_id, "rights")
