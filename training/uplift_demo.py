"""The rights uplift model on a simulated campaign: train, judge against the truth, publish.

The campaign (:mod:`training.coupon_sim`) is split by visitor: a share is held out.
On the rest, the chosen learner and the baseline (the plain LightGBM T-learner pair)
learn P(buy | arm) from the service's own rows, and one regressor learns the order
value of buyers per arm. The held-out visitors judge them:

- Qini, uplift (AUUC) and uplift@k of the conversion uplift, per right against the
  control, on the held-out randomized outcomes and on the simulator's true uplift;
- the true incremental profit of granting policies: no right, the right with the best
  average incremental profit for everyone, a random right, the model's (the right
  with the highest predicted incremental profit, when positive), the oracle's, and
  the oracle held to the model's spend.

A policy's predicted incremental profit is computed as the service will:
``margin · (conversion_a · order_value_a - conversion_0 · order_value_0) - expected cost``
with the cost from the right's terms at the predicted order value
(:meth:`training.rights.Right.expected_cost`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from app.core.features import FeatureSpec
from app.scoring.uplift_model import KIND, ArmBoosters, UpliftModel
from training.coupon_sim import Campaign
from training.rights import Right
from training.uplift_distill import DistillConfig, distilled_learner
from training.uplift_eval import (
    PolicyValue,
    at_same_spend,
    best_positive,
    oracle_at_spend,
    policy_value,
    qini_curve,
    true_qini_curve,
    true_uplift_at_k,
    uplift_at_k,
    uplift_curve,
)
from training.uplift_learners import ArmTable, order_value_model, plain_t_learner, train_learner
from training.uplift_ope import Log, estimate

TOP_K = (0.1, 0.2, 0.3)
POLICIES = ("none", "best_average", "random", "model", "baseline", "oracle", "oracle_at_model_spend")


@dataclass
class DemoResult:
    model: UpliftModel
    baseline: ArmBoosters
    metrics: dict[str, Any]
    curves: dict[str, Any] = field(default_factory=dict)  # for the report's plots


def split(c: Campaign, test_share: float) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows): visitors are split, not rows, so no held-out visitor is learned
    from in another wave; the test rows are the held-out visitors' latest wave (once each)."""
    ids = sorted(set(c.visitor_ids))
    held = np.random.default_rng([c.config.seed, 77]).random(len(ids)) < test_share
    held_out = {v for v, h in zip(ids, held, strict=True) if h}
    is_test = np.array([v in held_out for v in c.visitor_ids])
    return np.flatnonzero(~is_test), np.flatnonzero(is_test & (c.wave == 0))


def uplift_model(spec: FeatureSpec, arms: tuple[str, ...], learner: str, conversion: ArmBoosters, order_value: lgb.Booster, spread: float, version: str = "training") -> UpliftModel:
    return UpliftModel(version, spec, arms[1:], arms[0], learner, conversion, order_value, {}, spread)


def order_value_spread(order_value: lgb.Booster, X: np.ndarray, arm: np.ndarray, value: np.ndarray) -> float:
    """Standard deviation of ln(order value / predicted) over buyers: how far orders scatter around the prediction."""
    pred = np.maximum(np.asarray(order_value.predict(np.column_stack([X, arm.astype(float)]), num_threads=1)), 1e-9)
    return float(np.std(np.log(np.maximum(value, 1e-9) / pred)))


def predicted_incremental_profit(model: UpliftModel, X: np.ndarray, rights: tuple[Right, ...], margin: float) -> np.ndarray:
    """(n, arms) predicted profit of each arm minus the control's, as the service will compute it
    (a min-spend right's cost with the model's order-value spread, see Right.expected_cost)."""
    conversion, order_value = arm_matrices(model, X, rights)
    return incremental_profit(conversion, order_value, rights, margin, model.order_value_spread)


def arm_matrices(model: UpliftModel, X: np.ndarray, rights: tuple[Right, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The model's P(buy | arm) and E[order value | buy, arm]: each (n, arms), the control then ``rights`` in order."""
    pred = model.predict(X)
    arms = (model.control, *(r.id for r in rights))
    return np.column_stack([pred[a].conversion for a in arms]), np.column_stack([pred[a].order_value for a in arms])


def incremental_profit(conversion: np.ndarray, order_value: np.ndarray, rights: tuple[Right, ...], margin: float, spread: float) -> np.ndarray:
    """(n, arms) profit of each arm minus the control's from P(buy | arm) and E[order value | buy, arm] (column 0 the control)."""
    base = margin * conversion[:, 0] * order_value[:, 0]
    out = np.zeros(conversion.shape)
    for j, right in enumerate(rights, start=1):
        p, v = conversion[:, j], order_value[:, j]
        out[:, j] = margin * p * v - right.expected_cost(p, v, spread) - base
    return out


def _pair_metrics(c: Campaign, test: np.ndarray, uplift: np.ndarray) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Per right: Qini/AUUC/uplift@k on the held-out rows of that right and the control; true Qini on all."""
    out, curves = {}, {}
    true = c.truth.uplift[test]
    for j, arm in enumerate(c.arms[1:], start=1):
        rows = np.isin(c.assigned[test], (0, j))
        y = c.bought[test][rows].astype(float)
        treated = c.assigned[test][rows] == j
        score = uplift[rows, j - 1]
        qini = qini_curve(y, treated, score)
        tq = true_qini_curve(true[:, j], uplift[:, j - 1])
        m = {
            "rows": float(rows.sum()),
            "qini": qini.coefficient,
            "auuc": uplift_curve(y, treated, score).coefficient,
            "true_qini": tq.coefficient,
        }
        for k in TOP_K:
            m[f"uplift@{int(k * 100)}"] = uplift_at_k(y, treated, score, k)
            m[f"true_uplift@{int(k * 100)}"] = true_uplift_at_k(true[:, j], uplift[:, j - 1], k)
        out[arm] = m
        curves[arm] = {"qini": qini, "true_qini": tq}
    return out, curves


def _mean(per_arm: dict[str, dict[str, float]], key: str) -> float:
    return float(np.nanmean([m[key] for m in per_arm.values()]))


def basket(order_value: lgb.Booster, X: np.ndarray) -> np.ndarray:
    """Each row's predicted order value without a right (the control's arm column)."""
    return np.maximum(np.asarray(order_value.predict(np.column_stack([X, np.zeros(len(X))]), num_threads=1)), 1e-9)


def train_and_evaluate(
    c: Campaign, spec: FeatureSpec, *, learner: str = "distilled", test_share: float = 0.3,
    distill: DistillConfig | None = None, progress: bool = False,
) -> DemoResult:
    train, test = split(c, test_share)
    table = ArmTable(c.X[train], c.assigned[train], c.bought[train].astype(float), c.arms, propensity=c.propensity[train])
    buyers = train[c.bought[train]]
    order = order_value_model(c.X[buyers], c.assigned[buyers], c.order_value[buyers], progress=progress)
    spread = order_value_spread(order, c.X[buyers], c.assigned[buyers], c.order_value[buyers])
    Xt = c.X[test]
    if progress:
        print(f"training the {learner} learner on {len(train)} rows ...", file=sys.stderr, flush=True)
    teacher: np.ndarray | None = None
    if learner == "distilled":
        d = distilled_learner(table, c.config.rights, basket(order, table.X), spread, distill, also=[(Xt, basket(order, Xt))], progress=progress)
        conversion, teacher = d.student, d.teacher_also[0]
    else:
        conversion = train_learner(learner, table, progress=progress)
    baseline = plain_t_learner(table, progress=progress)
    model = uplift_model(spec, c.arms, learner, conversion, order, spread)
    base_model = uplift_model(spec, c.arms, "plain-t", baseline, order, spread)

    truth_ip = c.truth.incremental_profit[test]
    truth_cost = c.truth.cost[test]
    margin, rights = c.config.margin_rate, c.config.rights
    model_pairs, model_curves = _pair_metrics(c, test, conversion.uplift(Xt))
    base_pairs, base_curves = _pair_metrics(c, test, baseline.uplift(Xt))
    random_curves = _pair_metrics(c, test, np.random.default_rng([c.config.seed, 5]).random((len(test), len(rights))))[1]

    n = len(test)
    conversion_t, order_value_t = arm_matrices(model, Xt, rights)  # the teacher's judgement below reuses the order values
    model_ip = incremental_profit(conversion_t, order_value_t, rights, margin, spread)
    # the right with the best true average incremental profit: the strongest one-for-all policy
    best_avg = int(truth_ip[:, 1:].mean(axis=0).argmax()) + 1
    choices = {
        "none": np.zeros(n, dtype=int),
        "best_average": np.full(n, best_avg),
        "random": np.random.default_rng([c.config.seed, 6]).integers(1, len(c.arms), n),
        "model": best_positive(model_ip),
        "baseline": best_positive(predicted_incremental_profit(base_model, Xt, rights, margin)),
        "oracle": best_positive(truth_ip),
    }
    values = {k: policy_value(v, truth_ip, truth_cost) for k, v in choices.items()}
    choices["oracle_at_model_spend"] = oracle_at_spend(truth_ip, truth_cost, values["model"].spend)
    values["oracle_at_model_spend"] = policy_value(choices["oracle_at_model_spend"], truth_ip, truth_cost)
    policies = {k: {**values[k].as_dict(), "arms": {a: float((choices[k] == j).mean()) for j, a in enumerate(c.arms)}} for k in POLICIES}
    model_value = values["model"].value
    metrics: dict[str, Any] = {
        "rows": {"train": float(len(train)), "test": float(n), "waves": float(c.config.waves), "test_with_history": float(c.has_history[test].mean())},
        "learner": learner,
        "baseline": "plain-t",
        "qini": {"model": _mean(model_pairs, "qini"), "baseline": _mean(base_pairs, "qini")},
        "true_qini": {"model": _mean(model_pairs, "true_qini"), "baseline": _mean(base_pairs, "true_qini")},
        "auuc": {"model": _mean(model_pairs, "auuc"), "baseline": _mean(base_pairs, "auuc")},
        "per_right": {"model": model_pairs, "baseline": base_pairs},
        "policies": policies,
        "best_average_right": c.arms[best_avg],
        "ratios": {
            "model_to_oracle_at_same_spend": model_value / values["oracle_at_model_spend"].value,
            "model_to_oracle": model_value / values["oracle"].value,
            "model_to_best_average": model_value / values["best_average"].value if values["best_average"].value > 0 else float("inf"),
            "model_minus_best_average": model_value - values["best_average"].value,
        },
        "groups": {g: float((c.truth.group[test] == g).mean()) for g in sorted(set(c.truth.group))},
        "model_grants_by_group": {
            g: float((choices["model"][c.truth.group[test] == g] > 0).mean()) for g in sorted(set(c.truth.group))
        },
        "margin_rate": margin,
        "order_value_spread": spread,
        "window_days": c.config.window_days,
    }
    for k in TOP_K:
        key = f"true_uplift@{int(k * 100)}"
        metrics[key] = {"model": _mean(model_pairs, key), "baseline": _mean(base_pairs, key)}
    metrics["off_policy"] = off_policy(c, test, choices, model_ip, margin * conversion_t[:, 0] * order_value_t[:, 0], values)
    if teacher is not None:
        # how much of the teacher the served student keeps, judged the same way
        tv, _, ratio = at_same_spend(best_positive(incremental_profit(teacher, order_value_t, rights, margin, spread)), truth_ip, truth_cost)
        metrics["teacher"] = {**tv.as_dict(), "to_oracle_at_same_spend": ratio}
    curves = {"model": model_curves, "baseline": base_curves, "random": random_curves, "choices": choices, "truth_ip": truth_ip, "truth_cost": truth_cost}
    return DemoResult(model, baseline, metrics, curves)


OFF_POLICY = ("model", "baseline", "best_average", "oracle")


def off_policy(
    c: Campaign, test: np.ndarray, choices: dict[str, np.ndarray], predicted_ip: np.ndarray, predicted_base: np.ndarray,
    values: dict[str, PolicyValue],
) -> dict[str, dict[str, float]]:
    """What a merchant without the simulator's truth would measure: each policy's incremental profit a visitor
    estimated from the held-out visitors' randomized outcomes (doubly robust, with the model's predicted profits;
    and IPS), next to the true figure. The observed profit of a row nets the right's realised cost."""
    observed = c.config.margin_rate * np.where(c.bought[test], c.order_value[test], 0.0) - c.cost[test]
    log = Log(c.arms, c.assigned[test], c.propensity[test], observed, np.zeros(len(c.arms)))
    predicted = predicted_ip + predicted_base[:, None]
    control = np.zeros(len(test), dtype=int)
    out = {}
    for k in OFF_POLICY:
        dr, ips = estimate(log, k, choices[k], predicted, base=control), estimate(log, k, choices[k], base=control)
        assert dr.lift is not None and ips.lift is not None  # (a base was given)
        out[k] = {"dr": dr.lift, "dr_se": dr.lift_se or 0.0, "ips": ips.lift, "ips_se": ips.lift_se or 0.0, "true": values[k].value}
    return out


CEILING_ROUNDS = 500


def feature_ceiling(c: Campaign, *, test_share: float = 0.3, rounds: int = CEILING_ROUNDS, progress: bool = False) -> dict[str, Any]:
    """How much of the oracle any policy built on these visitor rows could reach.

    A learner only sees outcomes, one arm per visitor; here one regressor per right
    learns the simulator's *true* incremental profit from the same rows (labels no real
    log has, without noise), on the same training visitors. Its policy, judged like the
    model's against the oracle at the same spend, bounds what better learning could
    give: what it misses comes from what the rows do not tell (hidden traits; a new
    visitor's row is nearly empty). Same split as :func:`train_and_evaluate`.
    """
    from training.lightgbm_params import COMMON

    train, test = split(c, test_share)
    truth_ip = c.truth.incremental_profit
    predicted = np.zeros((len(test), len(c.arms)))
    params = {**COMMON, "objective": "regression", "num_leaves": 31, "min_data_in_leaf": 100}
    for j in range(1, len(c.arms)):
        if progress:
            print(f"ceiling: learning the true incremental profit of {c.arms[j]} ...", file=sys.stderr, flush=True)
        booster = lgb.train(params, lgb.Dataset(c.X[train], truth_ip[train, j]), rounds)
        predicted[:, j] = booster.predict(c.X[test], num_threads=COMMON["num_threads"])
    ip, cost = truth_ip[test], c.truth.cost[test]
    out: dict[str, Any] = {"rounds": rounds}
    for name, rows in (("all", np.ones(len(test), dtype=bool)), ("with_history", c.has_history[test]), ("without_history", ~c.has_history[test])):
        if not rows.any():
            continue
        value, oracle, ratio = at_same_spend(best_positive(predicted[rows]), ip[rows], cost[rows])
        out[name] = {**value.as_dict(), "oracle_at_same_spend": oracle.value, "ratio": ratio}
    return out


def _entry(booster: lgb.Booster, out: Path, name: str) -> dict[str, str]:
    path = out / name
    booster.save_model(str(path))
    return {"file": name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def arm_entries(boosters: ArmBoosters, out: Path, prefix: str) -> dict[str, Any]:
    models = []
    for arm, booster, adds in zip(boosters.arms, boosters.boosters, boosters.adds_control, strict=True):
        models.append({"arm": arm, **_entry(booster, out, f"{prefix}.{arm}.lgb.txt"), "predicts": "uplift" if adds else "outcome"})
    return {"kind": boosters.kind, "models": models}


def publish(result: DemoResult, c: Campaign, out: Path) -> Path:
    """LightGBM text files and a manifest of kind "uplift" (read by app.scoring.uplift_model.load_uplift)."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.lgb.txt"):
        stale.unlink()  # a republished folder keeps no file of an older learner
    m = result.model
    manifest = {
        "kind": KIND,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "features": m.spec.manifest(),
        "versions": {"lightgbm": lgb.__version__, "numpy": np.__version__},
        "arms": list(m.arms),
        "control": m.control,
        "learner": m.learner,
        "outcomes": {
            "conversion": {**arm_entries(m.conversion, out, "conversion"), "window_days": c.config.window_days},
            "order_value": {
                "kind": "amount", "unit": "yuan, merchandise value before the right", "arm_column": "last, the arm's index in [control, *arms]",
                "spread": m.order_value_spread, **_entry(m.order_value, out, "order_value.lgb.txt"),
            },
        },
        "revenue": "conversion x order_value",
        "data_fingerprint": c.fingerprint,
        "metrics": {k: result.metrics[k] for k in ("qini", "true_qini", "auuc", "ratios", "rows", "teacher", "off_policy") if k in result.metrics}
        | {"policies": {k: {kk: v for kk, v in p.items() if kk != "arms"} for k, p in result.metrics["policies"].items()}},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return out / "manifest.json"
