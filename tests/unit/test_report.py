"""Evaluation reports: metrics JSON and plots are written, gains curves are right."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from training.report import gains_curve, write_attribute_report, write_ranker_report


def test_gains_curve() -> None:
    share, reached = gains_curve(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1]))
    assert share.tolist() == [0.25, 0.5, 0.75, 1.0]
    assert reached.tolist() == [0.5, 0.5, 1.0, 1.0]


def test_reports_are_written(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    p = rng.random(500)
    y = rng.random(500) < p
    metrics = {"gender": {"auc": 0.8, "ece": 0.02}}
    files = write_attribute_report(tmp_path / "a", metrics, {"gender": (y, p, 0.5)})
    assert json.loads((tmp_path / "a" / "metrics.json").read_text()) == metrics
    png = tmp_path / "a" / "attributes.png"
    assert png in files and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    ranker = {pol: {"ndcg": 0.5, "ndcg_true": 0.7, "true_purchases": 0.05, "lists": 10.0} for pol in ("model", "popularity", "shown", "random", "oracle")}
    for pol in ("model", "popularity", "rules", "random", "oracle"):  # the candidate pool: no "shown", but "rules"
        ranker.setdefault(pol, {}).update(pool_ndcg=0.6, pool_purchases=0.04, pool_lists=20.0)
    files = write_ranker_report(tmp_path / "r", ranker)
    assert (tmp_path / "r" / "ranker.png").stat().st_size > 10_000
