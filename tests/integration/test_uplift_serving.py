"""The published uplift model in the running service: rights chosen by expected profit.

The repository's own ``models/uplift`` is served here (not a test double): the render
must score exactly the uplift-mode rights the model knows, order them by expected
incremental profit, and grant the best one that pays for itself, or none.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.config import REPO_ROOT
from app.demo import RIGHTS
from tests.conftest import create_shop, make_settings
from tests.integration.shop_setup import setup_shop

UPLIFT_DIR = REPO_ROOT / "models" / "uplift"
MARGIN = 0.35


def visitor_events(visitor: str, kind: str, now: float) -> list[dict[str, Any]]:
    """Three histories the model should tell apart: a stranger, a browser, a buyer."""
    if kind == "stranger":
        return []
    views = [
        {"event_id": f"{visitor}-v{i}", "type": "view", "visitor_id": visitor, "ts": now - 3600 * i, "product_id": p}
        for i, p in enumerate(["lipstick", "serum", "phone", "serum", "lipstick", "cable"])
    ]
    if kind == "browser":
        return [*views, {"event_id": f"{visitor}-c", "type": "add_to_cart", "visitor_id": visitor, "ts": now - 60, "product_id": "serum"}]
    buys = [
        {"event_id": f"{visitor}-p{i}", "type": "purchase", "visitor_id": visitor, "ts": now - 86400 * (3 + 11 * i), "amount": 260 + 40 * i,
         "product_id": "serum"}
        for i in range(4)
    ]
    return [*views, *buys]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data = tmp_path_factory.mktemp("uplift-serving")
    with TestClient(create_app(make_settings(data, uplift_dir=UPLIFT_DIR))) as c:
        yield c


def test_the_published_model_is_ready(served: TestClient) -> None:
    check = served.get("/readyz").json()["checks"]["uplift"]
    assert check["ok"] is True and check["version"]


# A thin margin makes every right cost more than it brings: nothing pays for itself.
@pytest.mark.parametrize(("kind", "margin", "pays"), [("stranger", MARGIN, True), ("browser", MARGIN, True), ("buyer", 0.02, False)])
def test_rights_are_ordered_by_expected_profit_and_only_paying_ones_granted(served: TestClient, kind: str, margin: float, pays: bool) -> None:
    shop = create_shop(served)
    setup_shop(served, shop)
    model_arms = set(json.loads((UPLIFT_DIR / "manifest.json").read_text())["arms"])
    uplift_rights = {rid: body for rid, body in RIGHTS.items() if body.get("mode", "uplift") == "uplift" and not body.get("default")}
    # A right the model has never seen is granted in the exploration share only, never scored.
    uplift_rights["mystery"] = {"name": "神秘礼", "kind": "gift", "value": {"gift": "盲盒"}, "cost": {"per_redemption": 3}}
    for rid, body in uplift_rights.items():
        r = served.put(shop.url(f"/rights/{rid}"), json=body, headers=shop.merchant)
        assert r.status_code == 201, r.text
    settings = {"rights": {"exploration": 0, "margin_rate": margin}}
    assert served.put(shop.url("/settings"), json=settings, headers=shop.merchant).status_code == 200
    now = time.time()
    visitor = f"{kind}-1"
    events = visitor_events(visitor, kind, now)
    if events:
        assert served.post(shop.url("/events"), json={"events": events}, headers=shop.storefront).status_code == 200

    out = served.post(shop.url("/render"), json={"visitor_id": visitor, "page": "home"}, headers=shop.storefront).json()
    rights = out["rights"]
    version = served.get("/readyz").json()["checks"]["uplift"]["version"]
    assert rights["policy_version"].endswith(f"uplift {version}")
    scores = rights["scores"]
    assert {s["right"] for s in scores} == model_arms & set(uplift_rights)  # "mystery" is not scored
    profits = [s["profit"] for s in scores]
    assert profits == sorted(profits, reverse=True)
    for s in scores:  # the profit the reason is given for is margin × Δrevenue − cost
        assert s["profit"] == pytest.approx(margin * s["uplift_revenue"] - s["expected_cost"], abs=2e-3)
        assert s["expected_cost"] >= 0
    assert (profits[0] > 0) is pays, scores
    if pays:
        assert rights["status"] == "granted" and rights["granted"]["id"] == scores[0]["right"]
        assert rights["reason"].startswith("highest expected incremental profit")
        audit = served.get(shop.url(f"/rights/{scores[0]['right']}/audit"), headers=shop.merchant).json()["decisions"]
        assert audit[0]["visitor"] == visitor and audit[0]["policy_version"] == rights["policy_version"]
    else:
        assert rights["granted"] is None and rights["reason"].startswith("no right pays for itself")


def test_the_model_tells_visitors_apart(served: TestClient) -> None:
    """Different histories get different scores: the model reads the visitor's row."""
    shop = create_shop(served)
    setup_shop(served, shop)
    for rid in ("cash20", "pct10"):
        assert served.put(shop.url(f"/rights/{rid}"), json=RIGHTS[rid], headers=shop.merchant).status_code == 201
    served.put(shop.url("/settings"), json={"rights": {"exploration": 0}}, headers=shop.merchant)
    now = time.time()
    seen: dict[str, tuple[tuple[str, float], ...]] = {}
    best: dict[str, float] = {}
    for kind in ("stranger", "browser", "buyer"):
        visitor = f"{kind}-2"
        events = visitor_events(visitor, kind, now)
        if events:
            served.post(shop.url("/events"), json={"events": events}, headers=shop.storefront)
        out = served.post(shop.url("/render"), json={"visitor_id": visitor, "page": "home", "preview": True}, headers=shop.merchant).json()
        seen[kind] = tuple((s["right"], s["uplift_conversion"]) for s in sorted(out["rights"]["scores"], key=lambda s: s["right"]))
        best[kind] = out["rights"]["scores"][0]["profit"]
    assert len(set(seen.values())) == 3, seen
    # A regular buyer buys anyway: a right is worth less on them than on a browser.
    assert best["buyer"] < best["browser"], best


def test_an_unreadable_model_is_refused_and_rights_fall_back(tmp_path: Path) -> None:
    broken = tmp_path / "uplift"
    broken.mkdir()
    manifest = json.loads((UPLIFT_DIR / "manifest.json").read_text())
    manifest["features"]["version"] = "visitor-0"
    (broken / "manifest.json").write_text(json.dumps(manifest))
    with TestClient(create_app(make_settings(tmp_path / "data", uplift_dir=broken))) as c:
        check = c.get("/readyz").json()["checks"]["uplift"]
        assert check["ok"] is False and "visitor-0" in check["error"]
        shop = create_shop(c)
        setup_shop(c, shop)
        assert c.put(shop.url("/rights/cash20"), json=RIGHTS["cash20"], headers=shop.merchant).status_code == 201
        c.put(shop.url("/settings"), json={"rights": {"exploration": 0}}, headers=shop.merchant)
        rights = c.post(shop.url("/render"), json={"visitor_id": "v", "page": "home"}, headers=shop.storefront).json()["rights"]
        assert rights["granted"] is None and rights["reason"].startswith("no uplift model covers")
        assert rights["policy_version"].endswith("uplift none")
