"""Experiments in the console: list, create (a JSON definition, checked like the API's),
start/stop, and results with charts and the sample-ratio warning.

Every write goes through the API's own functions (``app.api.routes.experiments``), so
the console and the API refuse the same definitions with the same JSON paths.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from app.api.routes import experiments as experiment_api
from app.api.routes.configs import ConfigItemId
from app.console.access import MerchantVisit, PostedForm, Visit
from app.console.charts import intervals, lines
from app.console.definitions import parse_definition
from app.core.problems import Problem, Refusal
from app.experiments.definition import ExperimentIn
from app.store import configs as config_store
from app.store.keys import CONFIG_ID_PATTERN

router = APIRouter(include_in_schema=False)

EXAMPLE = {
    "name": "Win-back hero for everyone",
    "hypothesis": "The miss-you hero sells more than the default one",
    "lever": {"type": "block", "page": "home", "slot": "hero"},
    "variants": [{"key": "control", "control": True}, {"key": "miss_you", "block": "hero_miss_you"}],
    "coverage": 1.0,
    "metrics": {"primary": "conversion", "guardrails": ["revenue_per_visitor", "click_through"]},
}


def _list_page(v: Visit, *, experiments: list[tuple[str, dict[str, Any]]], exp_id: str = "", definition: str = "", errors: list[Problem] | None = None, status: int = 200) -> Response:
    return v.page(
        "console/experiments.html.j2",
        section="experiments",
        experiments=experiments,
        exp_id=exp_id,
        definition=definition or json.dumps(EXAMPLE, ensure_ascii=False, indent=2),
        errors=errors or [],
        status=status,
    )


async def _stored(v: Visit) -> list[tuple[str, dict[str, Any]]]:
    return sorted((await config_store.read_all(v.state.redis, v.shop_id)).get("experiment", {}).items())


@router.get("/console/experiments")
async def experiment_list(v: MerchantVisit) -> Response:
    return _list_page(v, experiments=await _stored(v))


@router.post("/console/experiments/new")
async def create_experiment(posted: PostedForm) -> Response:
    v, form = posted.visit, posted.form
    exp_id = str(form.get("id") or "").strip()
    definition = str(form.get("definition") or "")
    errors: list[Problem] = []
    if not CONFIG_ID_PATTERN.match(exp_id):
        errors.append(Problem("id", "invalid_id", v.t("experiments.bad_id")))
    elif await config_store.get_item(v.state.redis, v.shop_id, "experiment", exp_id) is not None:
        errors.append(Problem("id", "exists", v.t("experiments.exists", id=exp_id)))
    body, problems = parse_definition(v, ExperimentIn, definition, "experiments.bad_json")
    errors += problems
    if not errors and body is not None:
        try:
            assert v.shop is not None
            await experiment_api.save(v.state, v.shop, exp_id, body)
        except Refusal as refusal:
            errors += refusal.problems()
    if errors:
        return _list_page(v, experiments=await _stored(v), exp_id=exp_id, definition=definition, errors=errors, status=422)
    return RedirectResponse(f"/console/experiments/{exp_id}?saved=1", status_code=303)


@router.post("/console/experiments/{exp_id}/start")
async def start_experiment(posted: PostedForm, exp_id: ConfigItemId) -> Response:
    return await _transition(posted, exp_id, experiment_api.start)


@router.post("/console/experiments/{exp_id}/stop")
async def stop_experiment(posted: PostedForm, exp_id: ConfigItemId) -> Response:
    return await _transition(posted, exp_id, experiment_api.stop)


async def _transition(posted: PostedForm, exp_id: str, action: Any) -> Response:
    v = posted.visit
    try:
        await action(v.state, v.shop, exp_id)
    except Refusal as refusal:
        return await _detail(v, exp_id, error=refusal.message, status=refusal.status)
    return RedirectResponse(f"/console/experiments/{exp_id}", status_code=303)


def _charts(v: Visit, res: dict[str, Any]) -> dict[str, Markup]:
    """Cumulative conversion per variant over the days, and each variant's lift with its interval."""
    keys = [x["key"] for x in res["variants"]]
    days = res.get("daily") or []
    series = [
        (key, [d["variants"][key]["cumulative_rate"] if d["variants"][key]["visitors"] else None for d in days])
        for key in keys
    ]
    metric = res.get("primary_metric") or "conversion"
    rows = []
    for x in res["variants"]:
        cmp = (x.get("vs_control") or {}).get(metric)
        if cmp is not None:
            ci = cmp.get("ci") or [None, None]
            rows.append((x["key"], cmp.get("relative_lift"), ci[0], ci[1]))
    return {
        "cumulative": lines(series, title=v.t("experiments.chart_cumulative")),
        "lift": intervals(rows, title=v.t("experiments.chart_lift", metric=metric)) if rows else Markup(""),
    }


async def _detail(v: Visit, exp_id: str, *, error: str | None = None, status: int = 200, saved: bool = False) -> Response:
    body = await config_store.get_item(v.state.redis, v.shop_id, "experiment", exp_id)
    if body is None:
        return v.page("console/error.html.j2", section="experiments", status=404, title=v.t("error.not_found"), message=v.t("experiments.not_found", id=exp_id))
    res = None
    if body.get("phases"):
        assert v.shop is not None
        res = await experiment_api.results(v.state, v.shop, exp_id)
    return v.page(
        "console/experiment.html.j2",
        section="experiments",
        exp_id=exp_id,
        body=body,
        res=res,
        charts=_charts(v, res) if res else None,
        error=error,
        saved=saved,
        status=status,
    )


@router.get("/console/experiments/{exp_id}")
async def experiment_detail(v: MerchantVisit, exp_id: ConfigItemId, saved: int | None = None) -> Response:
    return await _detail(v, exp_id, saved=bool(saved))
