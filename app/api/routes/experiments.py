"""A/B experiments: definitions, start/stop with phases, and results.

    PUT  /v1/shops/{shop}/experiments/{id}            create or change (201 on create)
    POST /v1/shops/{shop}/experiments/{id}:start      draft -> running (phase 1)
    POST /v1/shops/{shop}/experiments/{id}:stop       running -> stopped
    GET  /v1/shops/{shop}/experiments/{id}/results    per variant, against control
    GET, list, DELETE (not while running), versions   as for every configuration item

The shop's global holdout is reported as the experiment ``holdout`` (its share is a
shop setting: ``PUT /settings {"experiments": {"holdout": 0.05}}``).
"""

import time
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from app.api.auth import Merchant, State
from app.api.errors import ApiError, Problem
from app.api.routes.configs import ItemId, add_config_routes, reference_check, reference_refusal
from app.experiments.attribution import Window
from app.experiments.definition import (
    HOLDOUT_ID,
    ExperimentIn,
    HoldoutSetting,
    check_definition,
    locked_changes,
    overlapping_namespace,
    phase_of,
)
from app.experiments.results import results as experiment_results
from app.store import configs as config_store
from app.store import experiments as experiment_store
from app.store.configs import ConfigRejected
from app.store.shops import ShopRecord

router = APIRouter(tags=["experiments"])


def _not_found(exp_id: str) -> ApiError:
    return ApiError(404, "experiment_not_found", f"There is no experiment '{exp_id}' in this shop.")


async def _write(state: Any, shop_id: str, exp_id: str, body: dict[str, Any], action: str) -> int:
    try:
        record = await config_store.write(
            state.redis, shop_id, "experiment", exp_id, body, check=reference_check("experiment", exp_id, False), action=action
        )
    except ConfigRejected as exc:
        raise reference_refusal("experiment", exp_id, False, exc.problems) from None
    return record.version


def _with_phase_change(exp_id: str, current: dict[str, Any] | None, definition: dict[str, Any], new_phase: bool) -> dict[str, Any]:
    """The body to store: the new definition with the status and phases it may have."""
    if current is None:
        return {**definition, "status": "draft", "phases": []}
    status, phases = current["status"], [dict(p) for p in current["phases"]]
    locked = locked_changes(current, definition)
    if status == "stopped" and (locked or new_phase):
        raise ApiError(
            409, "experiment_stopped",
            f"Experiment '{exp_id}' has stopped; its variants and traffic are final. Create a new experiment instead.",
            details=[Problem(f"$.{f}", "locked", f"'{f}' cannot change after the experiment stopped.") for f in locked],
        )
    if status == "running" and locked and not new_phase:
        raise ApiError(
            409, "experiment_running",
            f"Experiment '{exp_id}' is running: changing {', '.join(locked)} would mix visitors assigned under "
            'different rules. Send the change with "new_phase": true to close this phase and start the next.',
            details=[Problem(f"$.{f}", "locked", f"'{f}' cannot change in place while the experiment runs.") for f in locked],
        )
    if status == "running" and new_phase:
        now = time.time()
        phases[-1]["stopped_at"] = now
        phases.append(phase_of(definition, now, len(phases) + 1))
    return {**definition, "status": status, "phases": phases}


async def save(state: Any, shop: ShopRecord, item_id: str, body: ExperimentIn) -> tuple[bool, dict[str, Any]]:
    """Create or change an experiment (the API's and the console's): (created, stored with version)."""
    if item_id == HOLDOUT_ID:
        raise ApiError(422, "reserved_id", f"'{HOLDOUT_ID}' is the shop's global holdout; choose another id.", path="$")
    configs = await config_store.read_all(state.redis, shop.shop_id)
    problems = check_definition(body, configs)
    if problems:
        raise ApiError.from_problems(422, "invalid_experiment", problems)
    current = configs["experiment"].get(item_id)
    stored = _with_phase_change(item_id, current, body.definition(item_id), body.new_phase)
    action = "new_phase" if current is not None and len(stored["phases"]) > len(current["phases"]) else "put"
    version = await _write(state, shop.shop_id, item_id, stored, action)
    return current is None, {"id": item_id, "version": version, **stored}


@router.put("/v1/shops/{shop}/experiments/{item_id}", summary="Create or change an experiment")
async def put_experiment(shop: Merchant, state: State, body: ExperimentIn, item_id: str = ItemId) -> JSONResponse:
    created, stored = await save(state, shop, item_id, body)
    return JSONResponse(stored, status_code=201 if created else 200)


@router.post("/v1/shops/{shop}/experiments/{item_id}:start", summary="Start a draft experiment (phase 1)")
async def start_experiment(shop: Merchant, state: State, item_id: str = ItemId) -> dict[str, Any]:
    return await start(state, shop, item_id)


@router.post("/v1/shops/{shop}/experiments/{item_id}:stop", summary="Stop a running experiment")
async def stop_experiment(shop: Merchant, state: State, item_id: str = ItemId) -> dict[str, Any]:
    return await stop(state, shop, item_id)


async def start(state: Any, shop: ShopRecord, item_id: str) -> dict[str, Any]:
    configs = await config_store.read_all(state.redis, shop.shop_id)
    current = configs["experiment"].get(item_id)
    if current is None:
        raise _not_found(item_id)
    if current["status"] != "draft":
        raise ApiError(409, f"experiment_{current['status']}", f"Experiment '{item_id}' is {current['status']}; only a draft can start.")
    taken = overlapping_namespace(item_id, current, configs["experiment"])
    if taken is not None:
        raise ApiError(
            409, "namespace_overlap",
            f"Running experiment '{taken}' uses an overlapping range of namespace '{current['namespace']['name']}': "
            "the two would share visitors. Give this one a disjoint range.",
            path="$.namespace.range",
        )
    body = {**current, "status": "running", "phases": [phase_of(current, time.time(), 1)]}
    version = await _write(state, shop.shop_id, item_id, body, "start")
    return {"id": item_id, "version": version, **body}


async def stop(state: Any, shop: ShopRecord, item_id: str) -> dict[str, Any]:
    current = await config_store.get_item(state.redis, shop.shop_id, "experiment", item_id)
    if current is None:
        raise _not_found(item_id)
    if current["status"] != "running":
        raise ApiError(409, f"experiment_{current['status']}", f"Experiment '{item_id}' is {current['status']}; only a running one can stop.")
    phases = [dict(p) for p in current["phases"]]
    phases[-1]["stopped_at"] = time.time()
    body = {**current, "status": "stopped", "phases": phases}
    version = await _write(state, shop.shop_id, item_id, body, "stop")
    return {"id": item_id, "version": version, **body}


def _windows(experiments: dict[str, dict[str, Any]], holdout: HoldoutSetting) -> list[Window]:
    """Every phase that can still collect events (attribution reads each event once)."""
    out = [
        Window(exp_id, p["phase"], None if p["stopped_at"] is None else int(p["stopped_at"] * 1000))
        for exp_id, body in sorted(experiments.items())
        for p in body.get("phases", ())
    ]
    if holdout.share > 0:
        out.append(Window(HOLDOUT_ID, holdout.phase))
    return out


@router.get("/v1/shops/{shop}/experiments/{item_id}/results", summary="Results per variant, against control")
async def get_results(
    shop: Merchant, state: State, item_id: str = ItemId, phase: int | None = Query(default=None, ge=1)
) -> dict[str, Any]:
    return await results(state, shop, item_id, phase)


async def results(state: Any, shop: ShopRecord, item_id: str, phase: int | None = None) -> dict[str, Any]:
    """Attribute what is new in the event log, then the results of one phase (default: the last)."""
    r = state.redis
    configs = await config_store.read_all(r, shop.shop_id)
    holdout = HoldoutSetting.from_mapping(shop.settings.get("experiments", {}))
    await experiment_store.catch_up(r, shop.shop_id, _windows(configs["experiment"], holdout))
    if item_id == HOLDOUT_ID:
        if holdout.share <= 0:
            raise ApiError(404, "no_holdout", "This shop has no holdout; set one with PUT /settings {\"experiments\": {\"holdout\": 0.05}}.")
        exposures, outcomes = await experiment_store.read_phase(r, shop.shop_id, HOLDOUT_ID, holdout.phase)
        variants = [("holdout", holdout.share), ("personalized", 1 - holdout.share)]
        body = experiment_results(exposures, outcomes, variants, "holdout", holdout.since, ["conversion", "revenue_per_visitor", "click_through"])
        return {"id": HOLDOUT_ID, "status": "running", "phase": None, "started_at": holdout.since, "control": "holdout", **body}
    exp = configs["experiment"].get(item_id)
    if exp is None:
        raise _not_found(item_id)
    phases = exp["phases"]
    if not phases:
        raise ApiError(409, "experiment_draft", f"Experiment '{item_id}' has not started yet: it has no results.")
    number = phase if phase is not None else phases[-1]["phase"]
    chosen = next((p for p in phases if p["phase"] == number), None)
    if chosen is None:
        raise ApiError(404, "phase_not_found", f"Experiment '{item_id}' has phases 1 to {len(phases)}.", path="$.phase")
    exposures, outcomes = await experiment_store.read_phase(r, shop.shop_id, item_id, number)
    control = next(v["key"] for v in exp["variants"] if v.get("control"))
    variants = list(zip(chosen["variants"], chosen["weights"], strict=True))
    metrics = [exp["metrics"]["primary"], *exp["metrics"]["guardrails"]]
    body = experiment_results(exposures, outcomes, variants, control, chosen["started_at"], metrics)
    return {
        "id": item_id, "status": exp["status"], "phase": number, "started_at": chosen["started_at"],
        "stopped_at": chosen["stopped_at"], "control": control, "primary_metric": exp["metrics"]["primary"], **body,
    }


def _running_guard(item_id: str, current: dict[str, Any]) -> ApiError | None:
    if current.get("status") == "running":
        return ApiError(409, "experiment_running", f"Experiment '{item_id}' is running; stop it before deleting it.")
    return None


add_config_routes(router, "experiment", "experiments", None, None, with_put=False, with_rollback=False, guard_delete=_running_guard)
