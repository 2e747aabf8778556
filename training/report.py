"""Evaluation reports: the metrics as JSON, and the plots people would rather look at.

- calibration (reliability) of each binary attribute model against the prior-only
  baseline: predicted probability vs observed rate, per bin;
- cumulative gains of each binary attribute model: the share of positives reached when
  targeting the top x% of visitors by score, against random targeting;
- the ranker's NDCG@10 and expected purchases per ordering policy, over the candidate
  pool and over the shown lists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np

from training.metrics import calibration_curve


def gains_curve(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share of visitors targeted, share of positives reached), best scores first."""
    order = np.argsort(-p, kind="stable")
    hits = np.cumsum(np.asarray(y, dtype=float)[order])
    total = hits[-1] if len(hits) and hits[-1] > 0 else 1.0
    return np.arange(1, len(y) + 1) / len(y), hits / total


def write_attribute_report(
    out: Path, metrics: Mapping[str, Mapping[str, float]], binary_predictions: Mapping[str, tuple[np.ndarray, np.ndarray, float]]
) -> list[Path]:
    """``binary_predictions``: target -> (positive labels, model probability, prior rate)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    written = [out / "metrics.json"]
    names = list(binary_predictions)
    fig, axes = plt.subplots(2, len(names), figsize=(5 * len(names), 9), squeeze=False)
    for col, name in enumerate(names):
        y, p, prior = binary_predictions[name]
        ax = axes[0][col]
        curve = calibration_curve(y, p)
        ax.plot([0, 1], [0, 1], color="#999", linestyle="--", label="perfect")
        ax.plot([c[0] for c in curve], [c[1] for c in curve], marker="o", color="#d9480f", label="model")
        ax.scatter([prior], [float(np.mean(y))], color="#555", zorder=3, label="prior only")
        ax.set(title=f"{name}: calibration (ECE {metrics[name].get('ece', float('nan')):.3f})", xlabel="predicted probability", ylabel="observed rate", xlim=(0, 1), ylim=(0, 1))
        ax.legend(loc="upper left")
        ax = axes[1][col]
        share, reached = gains_curve(y, p)
        ax.plot(share, reached, color="#d9480f", label=f"model (AUC {metrics[name].get('auc', float('nan')):.3f})")
        ax.plot([0, 1], [0, 1], color="#999", linestyle="--", label="random / prior only")
        ax.set(title=f"{name}: cumulative gains", xlabel="share of visitors targeted (best first)", ylabel="share of positives reached", xlim=(0, 1), ylim=(0, 1))
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "attributes.png", dpi=110)
    plt.close(fig)
    written.append(out / "attributes.png")
    return written


RANKER_PANELS = (
    ("pool_ndcg", "candidate pool: NDCG@10, true purchase probability"),
    ("pool_purchases", "candidate pool: expected purchases in the top 10"),
    ("ndcg", "shown lists: NDCG@10, logged labels"),
    ("ndcg_true", "shown lists: NDCG@10, true purchase probability"),
)


def write_ranker_report(out: Path, metrics: Mapping[str, Mapping[str, float]], policies: Sequence[str] = ("model", "popularity", "rules", "shown", "random", "oracle")) -> list[Path]:
    """The metrics as JSON and one bar chart per figure; a policy an evaluation lacks is left out of its chart."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    panels = [(key, title) for key, title in RANKER_PANELS if any(key in metrics.get(p, {}) for p in policies)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels, strict=True):
        shown = [p for p in policies if np.isfinite(metrics.get(p, {}).get(key, float("nan")))]
        bars = ax.bar(shown, [metrics[p][key] for p in shown], color=["#d9480f" if p == "model" else "#adb5bd" for p in shown])
        ax.bar_label(bars, fmt="%.3f")
        ax.set_title(title, fontsize=10)
    counts = [f"{int(metrics['model'][n])} {what}" for n, what in (("pool_lists", "held-out lists"), ("lists", "with a click")) if n in metrics.get("model", {})]
    fig.suptitle(", ".join(counts))
    fig.tight_layout()
    fig.savefig(out / "ranker.png", dpi=110)
    plt.close(fig)
    return [out / "metrics.json", out / "ranker.png"]


def jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x, default=float))


def write_uplift_report(out: Path, result: Any) -> list[Path]:
    """``result``: :class:`training.uplift_demo.DemoResult`. Qini curves per right; policy values and spend."""
    from training.uplift_eval import (  # the report reads the same figures
        best_positive,
        policy_value,
    )

    out.mkdir(parents=True, exist_ok=True)
    m, curves = result.metrics, result.curves
    (out / "metrics.json").write_text(json.dumps(jsonable(m), indent=2))
    arms = list(curves["model"])
    fig, axes = plt.subplots(2, len(arms), figsize=(3.6 * len(arms), 7), squeeze=False)
    for col, arm in enumerate(arms):
        for row, key, title in ((0, "qini", "held-out outcomes"), (1, "true_qini", "true uplift")):
            ax = axes[row][col]
            for who, color in (("model", "#d9480f"), ("baseline", "#1c7ed6"), ("random", "#adb5bd")):
                c = curves[who][arm][key]
                label = f"{'plain T pair' if who == 'baseline' else who} ({c.coefficient:.4f})"
                ax.plot(c.x, c.y, color=color, label=label, linewidth=1.4)
            ax.plot([0, 1], [0, curves["model"][arm][key].y[-1]], color="#999", linestyle="--", linewidth=0.8)
            ax.set_title(f"{arm}: Qini, {title}", fontsize=9)
            ax.set_xlabel("share targeted, best predicted uplift first", fontsize=8)
            ax.legend(fontsize=7, loc="upper left")
    axes[0][0].set_ylabel("incremental purchases per visitor")
    axes[1][0].set_ylabel("true incremental purchases per visitor")
    fig.tight_layout()
    fig.savefig(out / "uplift_qini.png", dpi=100)
    plt.close(fig)

    policies = m["policies"]
    names = [p for p in ("none", "best_average", "random", "baseline", "model", "oracle_at_model_spend", "oracle") if p in policies]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
    ax = axes[0]
    bars = ax.bar(range(len(names)), [policies[p]["value"] for p in names], color=["#d9480f" if p == "model" else "#adb5bd" for p in names])
    ax.bar_label(bars, fmt="%.2f")
    ax.set_xticks(range(len(names)), [p.replace("_", "\n") for p in names], fontsize=8)
    ax.axhline(0, color="#555", linewidth=0.8)
    ax.set_title("true incremental profit per visitor (yuan), held-out visitors", fontsize=10)
    ax = axes[1]
    truth_ip, truth_cost = curves["truth_ip"], curves["truth_cost"]
    spends, values = [], []
    for lam in np.r_[0.0, np.geomspace(0.01, 50, 40)]:
        v = policy_value(best_positive(truth_ip - lam * truth_cost), truth_ip, truth_cost)
        spends.append(v.spend)
        values.append(v.value)
    ax.plot(spends, values, color="#555", label="oracle, best at each spend")
    for p, color in (("model", "#d9480f"), ("baseline", "#1c7ed6"), ("best_average", "#868e96"), ("random", "#ced4da")):
        ax.scatter([policies[p]["spend"]], [policies[p]["value"]], color=color, zorder=3, label=p.replace("_", " "))
    ax.axhline(0, color="#999", linewidth=0.8)
    ax.set(xlabel="spend on rights per visitor (yuan, expected)", ylabel="incremental profit per visitor (yuan)")
    ax.set_title("incremental profit against spend", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "uplift_policies.png", dpi=100)
    plt.close(fig)
    return [out / "metrics.json", out / "uplift_qini.png", out / "uplift_policies.png"]
