"""python -m training uplift train / score / evaluate on CSV and Parquet tables, its errors, and the served loader."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.core.features import visitor_row
from app.core.profile import Behaviour, Context
from app.scoring.attribute_models import ModelRegistry, ModelRejected
from app.scoring.uplift_model import load_uplift
from training.__main__ import main

PUBLISHED = Path(__file__).resolve().parents[2] / "models" / "uplift"


def table(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Coupon "c10" lifts conversion by 0.3 for shoppers in Hangzhou only; "c20" does nothing."""
    rng = np.random.default_rng(seed)
    city = rng.choice(["杭州", "上海", "北京"], n)
    arm = rng.choice(["none", "c10", "c20"], n)
    spend = rng.gamma(2.0, 100.0, n)
    p = 0.15 + 0.0003 * spend + np.where((arm == "c10") & (city == "杭州"), 0.3, 0.0)
    return pd.DataFrame({
        "user": [f"u{i}" for i in range(n)], "arm": arm, "city": city, "spend": spend,
        "converted": np.where(rng.random(n) < p, "true", "false"),
    })


def test_train_then_score_csv(tmp_path: Path, capsys) -> None:
    data, model, scores = tmp_path / "t.csv", tmp_path / "model", tmp_path / "scores.csv"
    table().to_csv(data, index=False)
    assert main(["uplift", "train", "--data", str(data), "--treatment", "arm", "--control", "none",
                 "--outcome", "converted", "--features", "city,spend", "--out", str(model)]) == 0
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["kind"] == "uplift-table" and manifest["summary"]["outcome_kind"] == "binary"
    assert manifest["features"][0] == {"name": "city", "type": "categorical", "categories": ["上海", "北京", "杭州"]}
    fresh = table(900, seed=1)
    fresh.loc[0, "city"] = "成都"  # never seen in training: scored as missing, not refused
    fresh.to_csv(tmp_path / "s.csv", index=False)
    assert main(["uplift", "score", "--model", str(model), "--data", str(tmp_path / "s.csv"), "--out", str(scores), "--id", "user"]) == 0
    out = pd.read_csv(scores)
    assert list(out.columns) == ["user", "uplift_c10", "uplift_c20"]
    assert len(out) == 900 and out["user"].tolist() == fresh["user"].tolist()
    hz = fresh["city"] == "杭州"
    assert out.loc[hz, "uplift_c10"].mean() > 0.2 > out.loc[~hz, "uplift_c10"].mean()
    assert "training the x learner" in capsys.readouterr().err  # progress on stderr


def test_parquet_in_and_out_with_an_amount_and_the_t_learner(tmp_path: Path) -> None:
    df = table()
    df["revenue"] = np.where(df["converted"] == "true", df["spend"], 0.0)
    df["p"] = 1 / 3
    df.to_parquet(tmp_path / "t.parquet")
    assert main(["uplift", "train", "--data", str(tmp_path / "t.parquet"), "--treatment", "arm", "--control", "none",
                 "--outcome", "revenue", "--features", "city,spend", "--out", str(tmp_path / "m"), "--learner", "t",
                 "--propensity", "p"]) == 0
    assert json.loads((tmp_path / "m" / "manifest.json").read_text())["summary"]["outcome_kind"] == "amount"
    assert main(["uplift", "score", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "t.parquet"),
                 "--out", str(tmp_path / "s.parquet")]) == 0
    out = pd.read_parquet(tmp_path / "s.parquet")
    assert list(out.columns) == ["uplift_c10", "uplift_c20"] and len(out) == len(df)


@pytest.mark.parametrize(
    ("change", "args", "message"),
    [
        (None, {"--features": "city,age"}, "feature column 'age' not in the table"),
        (None, {"--control": "nothing"}, "control label 'nothing' not in treatment column 'arm'"),
        (None, {"--treatment": "group"}, "treatment column 'group' not in the table"),
        ("rare", {}, "arm 'c30' (5 rows) has fewer than 30 rows"),
        ("text", {}, "outcome column 'converted' is not numeric"),
        (None, {"--propensity": "city"}, "propensity column 'city' is not numeric"),
    ],
)
def test_errors_exit_2_naming_the_column(tmp_path: Path, capsys, change, args, message) -> None:
    df = table(600)
    if change == "rare":
        df.loc[:4, "arm"] = "c30"
    if change == "text":
        df.loc[3, "converted"] = "maybe"
    df.to_csv(tmp_path / "t.csv", index=False)
    argv = {"--data": str(tmp_path / "t.csv"), "--treatment": "arm", "--control": "none", "--outcome": "converted",
            "--features": "city,spend", "--out": str(tmp_path / "m"), **args}
    assert main(["uplift", "train", *[x for kv in argv.items() for x in kv]]) == 2
    assert message in capsys.readouterr().err


def test_scoring_refuses_a_tampered_model_and_missing_columns(tmp_path: Path, capsys) -> None:
    table(600).to_csv(tmp_path / "t.csv", index=False)
    assert main(["uplift", "train", "--data", str(tmp_path / "t.csv"), "--treatment", "arm", "--control", "none",
                 "--outcome", "converted", "--features", "city,spend", "--out", str(tmp_path / "m")]) == 0
    table(50).drop(columns=["spend"]).to_csv(tmp_path / "s.csv", index=False)
    assert main(["uplift", "score", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "s.csv"), "--out", str(tmp_path / "o.csv")]) == 2
    assert "feature column 'spend' not in the table" in capsys.readouterr().err
    model_file = tmp_path / "m" / "outcome.c10.lgb.txt"
    model_file.write_text(model_file.read_text().replace("learning_rate", "learning_rate ", 1))
    assert main(["uplift", "score", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "t.csv"), "--out", str(tmp_path / "o.csv")]) == 2
    assert "does not match its recorded sha256" in capsys.readouterr().err


def true_conversion(df: pd.DataFrame, arm: np.ndarray) -> np.ndarray:
    """P(convert) of each row of ``table()`` under the arm named per row (the generator's own formula)."""
    return 0.15 + 0.0003 * df["spend"].to_numpy() + np.where((arm == "c10") & (df["city"] == "杭州").to_numpy(), 0.3, 0.0)


@pytest.fixture
def trained(tmp_path: Path) -> Path:
    table().to_csv(tmp_path / "t.csv", index=False)
    assert main(["uplift", "train", "--data", str(tmp_path / "t.csv"), "--treatment", "arm", "--control", "none",
                 "--outcome", "converted", "--features", "city,spend", "--out", str(tmp_path / "m")]) == 0
    return tmp_path / "m"


def test_evaluate_finds_the_true_gain_of_the_models_policy_on_a_fresh_log(tmp_path: Path, trained: Path, capsys) -> None:
    from training.uplift_ope import greedy
    from training.uplift_table import score_table

    fresh = table(3000, seed=2)
    fresh["p"] = 1 / 3
    fresh.to_csv(tmp_path / "log.csv", index=False)
    assert main(["uplift", "evaluate", "--model", str(trained), "--data", str(tmp_path / "log.csv"), "--treatment", "arm",
                 "--outcome", "converted", "--propensity", "p", "--cost", "c10=0.05,c20=0.05", "--out", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "lift over control (DR)" in out and "note:" not in out  # propensities given, fresh rows: nothing to warn of
    report = json.loads((tmp_path / "r.json").read_text())
    model = report["policies"][0]
    assert model["policy"] == "model" and report["costs"] == {"none": 0.0, "c10": 0.05, "c20": 0.05}
    # the truth of the same choices, from the generator's formula
    arms = np.array(["none", "c10", "c20"])
    chosen = arms[greedy(score_table(trained, fresh).to_numpy(), np.array([0.0, 0.05, 0.05]))]
    true_lift = float(np.mean(true_conversion(fresh, chosen) - np.where(chosen == "none", 0.0, 0.05)
                              - true_conversion(fresh, np.full(len(fresh), "none"))))
    assert true_lift > 0.05  # the model found the coupon's city
    assert abs(model["lift"] - true_lift) < 4 * model["lift_se"]
    assert model["lift_95"][0] > 0
    assert model["arm_shares"]["c10"] == pytest.approx(float(np.mean(chosen == "c10")))
    everyone_c20 = next(p for p in report["policies"] if p["policy"] == "everyone: c20")
    assert everyone_c20["lift"] < model["lift"]


def test_evaluate_says_when_its_figures_need_care(tmp_path: Path, trained: Path, capsys) -> None:
    assert main(["uplift", "evaluate", "--model", str(trained), "--data", str(tmp_path / "t.csv"), "--treatment", "arm",
                 "--outcome", "converted"]) == 0
    out = capsys.readouterr().out
    assert "note: no --propensity column" in out
    assert "note: this is the table the model was trained on" in out


@pytest.mark.parametrize(
    ("change", "args", "message"),
    [
        ("new arm", {}, "arms the model does not know: c30"),
        ("no c20", {}, "arm 'c20' never appears in the log"),
        (None, {"--cost": "c10=abc"}, "'abc' is not a number"),
        (None, {"--cost": "c99=1"}, "expected ARM=NUMBER with ARM one of none, c10, c20"),
        ("amount", {"--outcome": "revenue"}, "outcome column 'revenue' is amount but the model was trained on a binary outcome"),
        ("zero p", {"--propensity": "p"}, "propensity column 'p' must be in (0, 1]"),
        (None, {"--treatment": "group"}, "treatment column 'group' not in the table"),
    ],
)
def test_evaluate_errors_exit_2(tmp_path: Path, trained: Path, capsys, change, args, message) -> None:
    df = table(600, seed=4)
    df["p"] = 1 / 3
    df["revenue"] = np.where(df["converted"] == "true", df["spend"], 0.0)
    if change == "new arm":
        df.loc[:4, "arm"] = "c30"
    if change == "no c20":
        df = df[df["arm"] != "c20"]
    if change == "zero p":
        df.loc[7, "p"] = 0.0
    df.to_csv(tmp_path / "log.csv", index=False)
    argv = {"--model": str(trained), "--data": str(tmp_path / "log.csv"), "--treatment": "arm", "--outcome": "converted", **args}
    assert main(["uplift", "evaluate", *[x for kv in argv.items() for x in kv]]) == 2
    assert message in capsys.readouterr().err


def one_row(model) -> np.ndarray:
    b = Behaviour(first_seen=1_767_196_800.0, last_seen=1_767_800_000.0, views=12, clicks=5, orders=2, spend_cents=52_000,
                  first_purchase_at=1_767_300_000.0, last_purchase_at=1_767_700_000.0, viewed_categories={"beauty": 8, "women": 4})
    return visitor_row(model.spec, b, Context(ts=1_768_000_000.0, device="mobile", channel="social"))[None, :]


def test_the_published_uplift_model_loads_and_predicts_one_row() -> None:
    model = load_uplift(PUBLISHED)
    assert model.control == "none" and model.arms == ("cash20", "cash50", "pct10", "free_ship", "points3x", "gift")
    pred = model.predict(one_row(model))
    assert set(pred) == {"none", *model.arms}
    for p in pred.values():
        assert p.conversion.shape == (1,) and 0 <= p.conversion[0] <= 1
        assert p.order_value[0] > 0 and p.revenue[0] == pytest.approx(p.conversion[0] * p.order_value[0])
    registry = ModelRegistry(PUBLISHED, loader=load_uplift)
    assert registry.refresh() and registry.status()["ok"]


def test_load_uplift_refuses_a_tampered_or_foreign_folder(tmp_path: Path) -> None:
    folder = tmp_path / "uplift"
    shutil.copytree(PUBLISHED, folder, ignore=shutil.ignore_patterns("report"))
    target = folder / "order_value.lgb.txt"
    target.write_bytes(target.read_bytes() + b"\n")
    with pytest.raises(ModelRejected, match="sha256"):
        load_uplift(folder)
    shutil.copytree(PUBLISHED, tmp_path / "names", ignore=shutil.ignore_patterns("report"))
    manifest = json.loads((tmp_path / "names" / "manifest.json").read_text())
    manifest["features"]["names"] = manifest["features"]["names"][::-1]
    (tmp_path / "names" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelRejected, match="feature names"):
        load_uplift(tmp_path / "names")
    with pytest.raises(ModelRejected, match="not an 'uplift' model"):
        load_uplift(Path(__file__).resolve().parents[2] / "models" / "ranker")
