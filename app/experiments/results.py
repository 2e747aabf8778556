"""From the per-visitor records of one phase to the samples the statistics read: pure.

Per exposed visitor, after the first exposure (events attributed by
:mod:`app.experiments.attribution`):

    conversion           1 if the visitor bought at least once, else 0
    revenue_per_visitor  what the visitor spent, in the shop's currency (0 for non-buyers)
    click_through        1 if the visitor clicked at least once, else 0
    rights_cost          what the discount rights the visitor redeemed cost the shop

and the same figures from before the first exposure (the profile as the render saw it),
which CUPED uses as the covariate. Rights cost has none (the profile keeps no record
of past redemptions), so its CUPED figures are reported as unavailable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from app.core.experiment_stats import VariantSample, analyze
from app.experiments.attribution import Exposure, Outcome

DAY_S = 86_400.0


def samples(
    exposures: Mapping[str, Exposure],
    outcomes: Mapping[str, Outcome],
    variants: Sequence[tuple[str, float]],
    started_at: float,
) -> list[VariantSample]:
    """One sample per variant (key, planned weight), in the given order."""
    rows: dict[str, list[tuple[Exposure, Outcome]]] = {key: [] for key, _ in variants}
    for visitor, exposure in exposures.items():
        if exposure.variant in rows:  # a variant dropped in a later phase is not in this one
            rows[exposure.variant].append((exposure, outcomes.get(visitor) or Outcome()))
    out = []
    for key, weight in variants:
        ex = [e for e, _ in rows[key]]
        oc = [o for _, o in rows[key]]
        first_buy = [np.nan if o.first_purchase_ms is None else o.first_purchase_ms / 1000 for o in oc]
        out.append(
            VariantSample(
                key=key,
                weight=weight,
                metrics={
                    "conversion": np.array([o.orders > 0 for o in oc], dtype=float),
                    "revenue_per_visitor": np.array([o.revenue_cents / 100 for o in oc], dtype=float),
                    "click_through": np.array([o.clicks > 0 for o in oc], dtype=float),
                    "rights_cost": np.array([o.rights_cost_cents / 100 for o in oc], dtype=float),
                },
                pre={
                    "conversion": np.array([e.pre_orders > 0 for e in ex], dtype=float),
                    "revenue_per_visitor": np.array([e.pre_spend_cents / 100 for e in ex], dtype=float),
                    "click_through": np.array([e.pre_clicks > 0 for e in ex], dtype=float),
                },
                # A storefront may send a page view's time from before the phase began: day 0.
                exposed_day=np.array([max(0, int((e.at_ms / 1000 - started_at) // DAY_S)) for e in ex], dtype=int),
                converted_day=np.maximum((np.array(first_buy, dtype=float) - started_at) / DAY_S, 0.0),
            )
        )
    return out


def results(
    exposures: Mapping[str, Exposure],
    outcomes: Mapping[str, Outcome],
    variants: Sequence[tuple[str, float]],
    control: str,
    started_at: float,
    metrics: Sequence[str],
) -> dict[str, Any]:
    return analyze(samples(exposures, outcomes, variants, started_at), control, metrics=metrics).as_dict()
