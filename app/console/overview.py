"""The overview: the customer-operations index (客户运营指数) of the shop.

Figures come from ``app.core.operations_index`` over every visitor (see
``app.serving.operations_index``); this module only lays them out and draws the charts.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from app.console.access import MerchantVisit
from app.console.charts import hbars, heat_grid, sparkline
from app.console.templating import pct
from app.core.operations_index import ACTIVE_DAYS, GROUPS, SNAPSHOT_METRICS, metric_series
from app.serving.operations_index import MAX_VISITORS, operations_index

router = APIRouter(include_in_schema=False)


@router.get("/console")
async def overview(v: MerchantVisit) -> Response:
    assert v.shop is not None
    computed = await operations_index(v.state.redis, v.shop, now=time.time())
    index, t = computed.index, v.t
    days = index.trend_days
    cards: list[dict[str, Any]] = []
    for g in index.groups:
        name = t(f"group.{g.group}")
        history = {
            m: metric_series(computed.snapshots, days, g.group, m) for m in SNAPSHOT_METRICS if m != "count"
        }
        stored_days = sum(1 for x in history["active_share"] if x is not None)
        cards.append(
            {
                "figures": g,
                "name": name,
                "size_chart": sparkline(list(g.sizes), title=t("overview.size_chart", group=name, days=len(days))),
                "active_chart": sparkline(history["active_share"], title=t("overview.active_chart", group=name)) if stored_days >= 2 else None,
                "stored_days": stored_days,
            }
        )
    total = index.visitors or 1
    lifecycle = hbars(
        [(t(f"lifecycle.{stage}"), n, f"{n:,} · {pct(n / total)}") for stage, n in index.lifecycle],
        title=t("overview.lifecycle"),
    )
    # R 5 (bought most recently) on top, F 1 to 5 from left to right
    rfm = heat_grid(
        [index.rfm_grid[r - 1] for r in range(5, 0, -1)],
        row_labels=[f"R{r}" for r in range(5, 0, -1)],
        col_labels=[f"F{f}" for f in range(1, 6)],
        title=t("overview.rfm_grid"),
        corner="R \\ F",
    )
    return v.page(
        "console/overview.html.j2",
        section="overview",
        index=index,
        cards=cards,
        groups=GROUPS,
        lifecycle_chart=lifecycle,
        rfm_chart=rfm,
        sampled=computed.sampled,
        max_visitors=MAX_VISITORS,
        active_days=ACTIVE_DAYS,
        first_day=days[0],
    )
