"""The shop's own rights decision log (``GET …/rights:log``) over HTTP on the real Redis,
with the published uplift model serving: every decision joined to its outcome and to the
feature row the model read, and the table fed to ``python -m training uplift train`` and
``uplift evaluate``.

Decisions are made three days ago (the render's ``context.ts``), so their term (one day)
and the grace for late purchase events (one more) are over and their outcomes final.
"""

from __future__ import annotations

import io
import json
import math
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.config import REPO_ROOT
from app.core.features import VisitorRows
from app.core.profile import Context
from app.demo import RIGHTS
from app.store import keys
from app.store import visitors as visitor_store
from tests.conftest import ShopKeys, create_shop, make_settings
from tests.integration.shop_setup import setup_shop

UPLIFT_DIR = REPO_ROOT / "models" / "uplift"
DAY = 86400.0
PRODUCTS = ("lipstick", "serum", "phone", "cable")
DEVICES = ("mobile", "desktop", "app")
CHANNELS = ("search", "ads", "direct")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path_factory.mktemp("rights-log"), uplift_dir=UPLIFT_DIR))) as c:
        c.app.state.storefront.render_service.rights.rng.seed(20261122)  # (which arms exploration draws: the same every run)
        yield c


def open_shop(c: TestClient, rights: tuple[str, ...] = ("cash20", "pct10"), exploration: float = 0.5) -> ShopKeys:
    shop = create_shop(c)
    setup_shop(c, shop)
    for rid in rights:  # a one-day term: three days later, every outcome is final
        body = {**RIGHTS[rid], "valid": {"grant_days": 1}}
        assert c.put(shop.url(f"/rights/{rid}"), json=body, headers=shop.merchant).status_code == 201
    settings = {"rights": {"exploration": exploration, "margin_rate": 0.35}}
    assert c.put(shop.url("/settings"), json=settings, headers=shop.merchant).status_code == 200
    return shop


def post_events(c: TestClient, shop: ShopKeys, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(events), 500):
        r = c.post(shop.url("/events"), json={"events": events[i:i + 500]}, headers=shop.storefront)
        assert r.status_code == 200, r.text
        out += r.json().get("rights", [])
    return out


def history(visitor: str, views: int, ts: float) -> list[dict[str, Any]]:
    """``views`` product views in the hours before ``ts``: visitors the model reads differently."""
    return [
        {"event_id": f"{visitor}-v{k}", "type": "view", "visitor_id": visitor, "ts": ts - 3600 * (k + 1), "product_id": PRODUCTS[k % 4]}
        for k in range(views)
    ]


def render(c: TestClient, shop: ShopKeys, visitor: str, context: dict[str, Any], **extra: Any) -> dict[str, Any]:
    r = c.post(shop.url("/render"), json={"visitor_id": visitor, "page": "home", "context": context, **extra}, headers=shop.storefront)
    assert r.status_code == 200, r.text
    return r.json()["rights"]


def export(c: TestClient, shop: ShopKeys, **params: Any) -> tuple[pd.DataFrame, Any]:
    r = c.get(shop.url("/rights:log"), params=params, headers=shop.merchant)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return pd.read_csv(io.StringIO(r.text), dtype={"grant_id": str, "visitor": str}), r.headers


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_each_decision_is_exported_with_its_outcome_and_the_row_the_model_read(served: TestClient) -> None:
    c = served
    shop = open_shop(c, ("cash20", "pct10", "welcome5"))  # welcome5: the default right (what an unpersonalized visitor gets)
    now = time.time()
    then = round(now - 3 * DAY, 3)
    visitors = [f"v{i}" for i in range(14)]
    contexts: dict[str, dict[str, Any]] = {v: {"ts": then, "device": DEVICES[i % 3], "channel": CHANNELS[i % 3]} for i, v in enumerate(visitors)}
    post_events(c, shop, [e for i, v in enumerate(visitors) for e in history(v, i % 5, then)])
    answers = {v: render(c, shop, v, contexts[v]) for v in visitors}
    plain = render(c, shop, "plain", {"ts": then}, personalized=False)  # the default right, no model: no features
    late = render(c, shop, "late", {"ts": round(now, 3)})  # its term is not over
    assert plain["granted"]["id"] == "welcome5" and late["status"] in ("granted", "none")

    # What the model read: each visitor's row from their stored behaviour, before the purchases change it.
    model = c.app.state.storefront.render_service.rights.model.current
    redis = c.app.state.storefront.redis

    async def behaviours() -> dict[str, Any]:
        return {v: (await visitor_store.read_profile(redis, shop.shop_id, v)).behaviour for v in visitors}

    expected_rows = {
        v: VisitorRows(b, Context(ts=then, device=contexts[v]["device"], channel=contexts[v]["channel"])).row(model.spec)
        for v, b in c.portal.call(behaviours).items()
    }
    assert len({tuple(np.nan_to_num(r, nan=-1)) for r in expected_rows.values()}) > 3  # the visitors differ

    granted = [v for v in visitors if answers[v]["granted"]]
    nothing = [v for v in visitors if not answers[v]["granted"]]
    assert len(granted) >= 2 and nothing, answers  # (the seeded draws give both)
    redeemer, late_buyer, control_buyer = granted[0], granted[1], nothing[0]
    right = answers[redeemer]["granted"]["id"]
    words = post_events(c, shop, [
        {"event_id": "p1", "type": "purchase", "visitor_id": redeemer, "ts": then + 60, "amount": 450, "right_id": right},
        {"event_id": "p2", "type": "purchase", "visitor_id": control_buyer, "ts": then + 120, "amount": 88.5},
        {"event_id": "p3", "type": "purchase", "visitor_id": late_buyer, "ts": then + 1.5 * DAY, "amount": 300,
         "right_id": answers[late_buyer]["granted"]["id"]},
    ])
    assert [w["result"] for w in words] == ["redeemed", "converted", "expired"]

    df, headers = export(c, shop)
    assert headers["x-rights-log-layout"] == model.spec.layout and headers["x-rights-log-rows"] == str(len(df))
    names = list(model.spec.visitor_names)
    rights = sorted({s["right"] for a in answers.values() for s in a.get("scores", ())})
    assert list(df.columns) == [
        "decided_at", "visitor", "grant_id", "arm", "explore", "propensity", "explore_propensity", "policy_version", "term_ended", "converted",
        "order_value", "redeemed", "cost", "assigned_arm", "greedy_arm", *(f"pred_profit_{r}" for r in rights), *names,
    ]
    assert sorted(df["visitor"]) == sorted([*visitors, "plain"])  # "late" is not final yet
    assert (df["term_ended"] == 1).all()

    audit = {d["grant_id"]: d for d in c.portal.call(c.app.state.storefront.render_service.rights.store.audit, shop.shop_id, 100)}
    assert len(audit) == len(visitors) + 2  # the outcome entries are not decisions
    by_visitor = {row["visitor"]: row for row in df.to_dict("records")}
    for v, answer in [*answers.items(), ("plain", plain)]:
        row = by_visitor[v]
        d = audit[row["grant_id"]]
        assert d["visitor"] == v and row["decided_at"] == iso(then) == iso(d["at_ms"] / 1000)
        assert row["arm"] == (answer["granted"]["id"] if answer["granted"] else "none") == (d["right"] or "none")
        assert row["assigned_arm"] == d["arm"] and row["explore"] == int(d["explore"]) == int(answer["explore"])
        assert row["policy_version"] == d["policy_version"] == answer["policy_version"]
        if v == "plain":
            assert math.isnan(row["propensity"]) and all(math.isnan(row[n]) for n in names)
            assert all(math.isnan(row[f"pred_profit_{r}"]) for r in rights)
            continue
        assert row["propensity"] == pytest.approx(d["propensity"], abs=1e-12) and row["propensity"] == pytest.approx(answer["propensity"])
        if row["explore"]:  # drawn among none and the three uplift rights
            assert row["explore_propensity"] == pytest.approx(1 / 4) and d["arms"] == 4
            assert row["greedy_arm"] == d["greedy"] == answer["greedy"]  # what the model would have granted
        else:
            assert math.isnan(row["explore_propensity"]) and isinstance(row["greedy_arm"], float) and math.isnan(row["greedy_arm"])
        for s in d["scores"]:
            assert row[f"pred_profit_{s['right']}"] == pytest.approx(s["profit"], abs=1e-12)
        logged = np.array([row[n] for n in names], dtype=float)
        np.testing.assert_array_equal(logged, expected_rows[v])  # NaN where the row has NaN, the same floats elsewhere

    cost = {"cash20": 20.0, "pct10": 45.0}[right]  # cash20: 20 off; pct10: 10% of 450
    outcomes = {v: (r["converted"], r["order_value"], r["redeemed"], r["cost"]) for v, r in by_visitor.items()}
    assert outcomes[redeemer] == (1, 450.0, 1, cost)
    assert outcomes[control_buyer] == (1, 88.5, 0, 0.0)
    assert outcomes[late_buyer][0] == 0 and math.isnan(outcomes[late_buyer][1]) and outcomes[late_buyer][2:] == (0, 0.0)
    others = set(visitors) - {redeemer, control_buyer, late_buyer}
    assert all(outcomes[v][0] == 0 and outcomes[v][2] == 0 for v in others | {"plain"})

    # The visitor's live decision, read on every page view, does not carry the row.
    current = orjson.loads(c.portal.call(redis.hget, keys.rights_visitor(shop.shop_id, visitors[3]), "current"))
    assert not any(isinstance(x, list) and len(x) == len(names) for x in current.values()) and "features" not in current

    # The filters: undecided terms, exploration only, a window by decision time.
    everything, _ = export(c, shop, complete_only="false")
    assert sorted(everything["visitor"]) == sorted([*visitors, "plain", "late"])
    assert everything.set_index("visitor").loc["late", "term_ended"] == 0
    explored, _ = export(c, shop, explore_only="true")
    assert sorted(explored["visitor"]) == sorted(v for v in visitors if answers[v]["explore"]) and 0 < len(explored) < len(visitors)
    recent, _ = export(c, shop, complete_only="false", since=iso(then + 1))
    assert list(recent["visitor"]) == ["late"]
    before, _ = export(c, shop, complete_only="false", until=str(then + 1))  # epoch seconds too
    assert sorted(before["visitor"]) == sorted([*visitors, "plain"])
    capped, capped_headers = export(c, shop, limit=3)
    assert list(capped["grant_id"]) == list(df["grant_id"][:3]) and capped_headers["x-rights-log-truncated"] == "true"

    # JSON lines: the same rows, missing values as null.
    r = c.get(shop.url("/rights:log"), params={"format": "jsonl"}, headers=shop.merchant)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in r.text.splitlines()]
    assert [x["grant_id"] for x in records] == list(df["grant_id"])
    plain_record = next(x for x in records if x["visitor"] == "plain")
    assert plain_record["propensity"] is None and plain_record["views"] is None
    assert next(x for x in records if x["visitor"] == redeemer)["order_value"] == 450.0

    # The per-right audit route and the console's audit still list decisions only.
    listed = c.get(shop.url(f"/rights/{right}/audit"), headers=shop.merchant).json()["decisions"]
    assert listed and all("grant_id" in d and "at_ms" in d for d in listed)


@pytest.mark.parametrize(
    ("params", "path", "code"),
    [
        ({"since": "last tuesday"}, "query:since", "invalid_timestamp"),
        ({"until": "2026-11-01T00:00:00"}, "query:until", "missing_timezone"),
        ({"since": "1763800000000"}, "query:since", "invalid_timestamp"),  # milliseconds
        ({"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, "query:until", "invalid_window"),
        ({"explore_only": "perhaps"}, "query:explore_only", "invalid_value"),
        ({"limit": "0"}, "query:limit", "invalid_value"),
        ({"limit": "200001"}, "query:limit", "invalid_value"),
        ({"format": "xlsx"}, "query:format", "invalid_value"),
    ],
)
def test_bad_parameters_are_refused_with_the_field(served: TestClient, params: dict[str, str], path: str, code: str) -> None:
    shop = create_shop(served)
    r = served.get(shop.url("/rights:log"), params=params, headers=shop.merchant)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["path"] == path and code in (err["code"], *(d["code"] for d in err.get("details", ())))


def test_only_the_shops_merchant_may_export(served: TestClient) -> None:
    shop, other = create_shop(served), create_shop(served)
    assert served.get(shop.url("/rights:log")).status_code == 401
    assert served.get(shop.url("/rights:log"), headers=shop.storefront).status_code == 403
    assert served.get(shop.url("/rights:log"), headers=other.merchant).status_code == 403
    r = served.get(shop.url("/rights:log"), headers=shop.merchant)  # an empty log: the header alone
    assert r.status_code == 200 and r.text.startswith("decided_at,visitor,grant_id,arm,") and r.text.count("\n") == 1


def test_the_exported_log_trains_and_judges_an_uplift_model(served: TestClient, tmp_path: Path) -> None:
    """The loop of the README: export the explored decisions of one window, ``uplift train``
    on them, ``uplift evaluate --propensity explore_propensity`` on a later window's (the
    randomized rows alone: each arm's probability within the exploration share)."""
    from training.__main__ import main as training_cli

    c = served
    shop = open_shop(c)
    then = round(time.time() - 3 * DAY, 3)
    later = then + 3600
    rng = random.Random(5)
    batches = {"train": [f"t{i}" for i in range(300)], "judge": [f"j{i}" for i in range(200)]}
    at = {v: (then if name == "train" else later) for name, vs in batches.items() for v in vs}
    post_events(c, shop, [e for v in at for e in history(v, rng.randrange(6), at[v])])
    answers = {v: render(c, shop, v, {"ts": at[v], "device": rng.choice(DEVICES)}) for v in at}
    # A right lifts buying: a third buy with nothing, half with a right (naming it).
    buys = []
    for v, a in answers.items():
        given = a["granted"]["id"] if a["granted"] else None
        if rng.random() < (0.5 if given else 0.33):
            buys.append({"event_id": f"{v}-p", "type": "purchase", "visitor_id": v, "ts": at[v] + 600, "amount": 420, "right_id": given})
    post_events(c, shop, [{k: x for k, x in b.items() if x is not None} for b in buys])

    model = c.app.state.storefront.render_service.rights.model.current
    names = list(model.spec.visitor_names)
    train_df, _ = export(c, shop, explore_only="true", until=iso(then + 1800))
    judge_df, _ = export(c, shop, explore_only="true", since=iso(then + 1800))
    assert set(train_df["visitor"]) <= set(batches["train"]) and set(judge_df["visitor"]) <= set(batches["judge"])
    assert set(train_df["arm"]) == set(judge_df["arm"]) == {"none", "cash20", "pct10"}
    assert np.allclose(train_df["explore_propensity"], 1 / 3, atol=1e-6) and train_df["converted"].sum() > 0
    train_csv, judge_csv = tmp_path / "train.csv", tmp_path / "judge.csv"
    train_df.to_csv(train_csv, index=False)
    judge_df.to_csv(judge_csv, index=False)

    out, report = tmp_path / "model", tmp_path / "report.json"
    assert training_cli([
        "uplift", "train", "--data", str(train_csv), "--treatment", "arm", "--control", "none", "--outcome", "converted",
        "--features", ",".join(names), "--propensity", "explore_propensity", "--min-rows", "20", "--out", str(out),
    ]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert [f["name"] for f in manifest["features"]] == names and sorted(manifest["arms"]) == ["cash20", "pct10"]
    assert manifest["summary"]["rows"] == len(train_df)
    assert training_cli([
        "uplift", "evaluate", "--model", str(out), "--data", str(judge_csv), "--treatment", "arm", "--outcome", "converted",
        "--propensity", "explore_propensity", "--out", str(report),
    ]) == 0
    figures = json.loads(report.read_text())
    assert figures["rows"] == len(judge_df) and not any("propensity" in n for n in figures["notes"])  # the logged ones were used
    policies = {p["policy"] for p in figures["policies"]}
    assert {"model", "everyone: none", "everyone: cash20", "everyone: pct10"} <= policies


def test_the_column_names_go_with_the_first_grant_of_a_shop_and_layout_only(served: TestClient) -> None:
    """A grant is on the render path: the layout's names (about 1 KB) are sent once per
    shop and layout; later grants carry only the row and its layout, and the export
    still names every column."""
    c = served
    shop = open_shop(c)
    then = round(time.time() - 3 * DAY, 3)
    store = c.app.state.storefront.render_service.rights.store
    model = c.app.state.storefront.render_service.rights.model.current
    pair = (shop.shop_id, model.spec.layout)
    assert pair not in store._named_layouts
    render(c, shop, "first", {"ts": then})
    assert pair in store._named_layouts
    stored = c.portal.call(c.app.state.storefront.redis.hget, keys.rights_feature_layouts(shop.shop_id), model.spec.layout)
    assert orjson.loads(stored) == list(model.spec.visitor_names)
    for v in ("second", "third"):
        render(c, shop, v, {"ts": then})
    df, _ = export(c, shop, explore_only="false")
    assert len(df) == 3 and list(df.columns[-len(model.spec.visitor_names):]) == list(model.spec.visitor_names)
