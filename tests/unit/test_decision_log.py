"""The decision log's join, on audit entries written the way the grant and purchase scripts write them."""

from __future__ import annotations

from typing import Any

import orjson

from app.rights.decision_log import DecisionLog, Window, csv_chunks, feature_columns

DAY_MS = 86_400_000
NOW = 1_800_000_000_000


def decision(grant_id: str, at_ms: int, *, right: str | None = "c10", explore: bool = True, propensity: float | None = 0.5,
             row: list[float | None] | None = None, layout: str | None = None, drawn: str | None = None) -> dict[str, Any]:
    body = {"arm": drawn or right or "none", "arms": 2, "explore": explore, "propensity": propensity, "right": right, "grant_id": grant_id,
            "at_ms": at_ms, "until_ms": at_ms + DAY_MS, "visitor": f"v-{grant_id}", "policy_version": "config 1, uplift m1",
            "scores": [{"right": "c10", "profit": 1.25}] if row is not None else []}
    fields: dict[str, Any] = {"d": orjson.dumps(body)}
    if row is not None:
        fields |= {"f": orjson.dumps(row), "l": layout}
    return fields


def outcome(grant_id: str, *, converted: bool, redeemed: bool, order: int, cost: int = 0) -> dict[str, Any]:
    o = {"grant_id": grant_id, "ts_ms": 1, "order_cents": order, "converted": converted, "redeemed": redeemed, "cost_cents": cost}
    return {"o": orjson.dumps(o)}


def window(**kw: Any) -> Window:
    return Window(now_ms=NOW, grace_ms=DAY_MS, **kw)


def test_outcomes_join_their_decision_by_grant_id() -> None:
    log = DecisionLog(window())
    log.add(decision("a", NOW - 5 * DAY_MS, row=[1.0, None], layout="L1"))
    log.add(decision("b", NOW - 5 * DAY_MS, right=None, row=[2.0, 3.0], layout="L1"))
    log.add(outcome("a", converted=True, redeemed=False, order=19900))
    log.add(outcome("a", converted=False, redeemed=True, order=25000, cost=2000))  # a second purchase redeems
    log.add(outcome("zzz", converted=True, redeemed=True, order=100, cost=5))  # a decision outside the window
    table = log.table({"L1": ["spend", "views"]})
    rows = list(table.records())
    assert table.columns[-3:] == ["pred_profit_c10", "spend", "views"] and table.layout == "L1"
    assert (rows[0]["converted"], rows[0]["order_value"], rows[0]["redeemed"], rows[0]["cost"]) == (1, 199.0, 1, 20.0)
    assert (rows[1]["arm"], rows[1]["converted"], rows[1]["order_value"], rows[1]["cost"]) == ("none", 0, None, 0.0)
    assert rows[0]["views"] is None and rows[1]["views"] == 3.0


def test_only_the_newest_layouts_rows_are_kept_and_the_others_counted() -> None:
    log = DecisionLog(window())
    log.add(decision("old1", NOW - 9 * DAY_MS, row=[1.0], layout="L1"))
    log.add(decision("old2", NOW - 9 * DAY_MS, row=[1.0], layout="L1"))
    log.add(decision("crowd", NOW - 8 * DAY_MS))  # no model, no features: kept, empty cells
    log.add(decision("new", NOW - 7 * DAY_MS, row=[4.0, 5.0], layout="L2"))
    table = log.table({"L1": ["x"], "L2": ["x", "y"]})
    assert [r["grant_id"] for r in table.records()] == ["crowd", "new"]
    assert table.layout == "L2" and table.dropped == {"L1": 2} and table.columns[-2:] == ["x", "y"]
    crowd = next(table.records())
    assert crowd["x"] is None and crowd["pred_profit_c10"] is None


def test_the_window_filters_and_the_limit_marks_truncation() -> None:
    entries = [
        decision("early", NOW - 9 * DAY_MS, explore=False),
        decision("mid", NOW - 6 * DAY_MS),
        decision("open", NOW - DAY_MS // 2),  # term + grace not over
        decision("late", NOW - 5 * DAY_MS),
    ]

    def ids(w: Window) -> list[str]:
        log = DecisionLog(w)
        for e in entries:
            log.add(e)
        return [r["grant_id"] for r in log.table({}).records()]

    assert ids(window()) == ["early", "mid", "late"]
    assert ids(window(complete_only=False)) == ["early", "mid", "open", "late"]
    assert ids(window(explore_only=True)) == ["mid", "late"]
    assert ids(window(since_ms=NOW - 7 * DAY_MS, until_ms=NOW - 5 * DAY_MS)) == ["mid"]
    log = DecisionLog(window(limit=2))
    for e in entries:
        log.add(e)
    table = log.table({})
    assert [r["grant_id"] for r in table.records()] == ["early", "mid"] and table.truncated


def test_csv_has_empty_cells_for_missing_values_and_unique_columns() -> None:
    log = DecisionLog(window())
    log.add(decision("a", NOW - 5 * DAY_MS, propensity=None, row=[float("nan"), 2.5], layout="L"))
    text = "".join(csv_chunks(log.table({"L": ["arm", "views"]})))  # a feature named like a fixed column
    header, row = text.splitlines()
    assert header.endswith(",pred_profit_c10,feature_arm,views")
    cells = row.split(",")  # (the NaN was logged as null by orjson: an empty cell)
    assert cells[header.split(",").index("propensity")] == "" and cells[-2:] == ["", "2.5"]
    assert feature_columns(["a"], 2) == ["feature_0", "feature_1"]  # names unknown for this width


def test_an_exploration_whose_drawn_right_was_refused_is_not_a_randomized_row() -> None:
    """A budget refused the drawn right: the visitor got nothing, which was not drawn."""
    entries = [decision("given", NOW - 5 * DAY_MS), decision("refused", NOW - 5 * DAY_MS, right=None, drawn="c10")]

    def rows(w: Window) -> dict[str, dict[str, Any]]:
        log = DecisionLog(w)
        for e in entries:
            log.add(e)
        return {r["grant_id"]: r for r in log.table({}).records()}

    every = rows(window())
    assert (every["refused"]["arm"], every["refused"]["assigned_arm"], every["refused"]["explore"]) == ("none", "c10", 1)
    assert every["refused"]["explore_propensity"] is None and every["given"]["explore_propensity"] == 0.5
    assert list(rows(window(explore_only=True))) == ["given"]
