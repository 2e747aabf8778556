"""Experiments in the console: the shop's experiments, as stored (a stub to build on).

Lists the configuration kind "experiment" when the store has it; until experiments are
configured, the list is empty.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from app.console.access import MerchantVisit
from app.store import configs as config_store

router = APIRouter(include_in_schema=False)


@router.get("/console/experiments")
async def experiment_list(v: MerchantVisit) -> Response:
    stored = await config_store.read_all(v.state.redis, v.shop_id)
    experiments = sorted(stored.get("experiment", {}).items())
    return v.page("console/experiments.html.j2", section="experiments", experiments=experiments)
