"""Visitor feature rows: names, order, missing values, context."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.features import (
    FEATURES_VERSION,
    FeatureSpec,
    VisitorRows,
    visitor_matrix,
    visitor_row,
)
from app.core.profile import Behaviour, Context

SPEC = FeatureSpec(categories=("beauty", "digital"))
NOW = 1_763_800_000.0  # 2025-11-22 16:26:40 Asia/Shanghai, a Saturday
DAY = 86400.0


def row(b: Behaviour, **ctx: object) -> dict[str, float]:
    return dict(zip(SPEC.visitor_names, visitor_row(SPEC, b, Context(ts=NOW, **ctx)), strict=True))  # type: ignore[arg-type]


def test_a_new_visitor_has_missing_values_not_zeros() -> None:
    r = row(Behaviour())
    assert r["views"] == 0 and r["orders"] == 0 and r["log_spend"] == 0
    for name in ("avg_order_value", "click_rate", "days_since_last_purchase", "days_since_first_seen", "view_share=beauty", "category_entropy", "viewed_price_position"):
        assert math.isnan(r[name]), name


def test_a_buyer() -> None:
    b = Behaviour(
        first_seen=NOW - 30 * DAY, last_seen=NOW - DAY, views=8, clicks=2, carts=1, orders=2, spend_cents=30000,
        first_purchase_at=NOW - 20 * DAY, last_purchase_at=NOW - 2 * DAY, followed_at=NOW - 5 * DAY,
        viewed_categories={"beauty": 6, "digital": 2, "other": 4}, priced_views=4, viewed_price_milli=-1200,
    )
    r = row(b, device="tablet", channel="ads")
    assert (r["views"], r["orders"], r["avg_order_value"]) == (8, 2, 150.0)
    assert r["log_spend"] == math.log1p(300.0)
    assert r["click_rate"] == 0.25 and r["cart_rate"] == 0.125
    assert r["days_since_first_seen"] == 30 and r["days_since_last_purchase"] == 2 and r["is_fan"] == 1.0
    # shares over the shop's categories only ("other" is not one of them)
    assert r["view_share=beauty"] == 0.75 and r["view_share=digital"] == 0.25
    assert r["device=tablet"] == 1 and r["device=mobile"] == 0 and r["channel=ads"] == 1
    assert r["hour"] == 16 and r["weekday"] == 6  # local time in Asia/Shanghai
    assert r["viewed_price_position"] == -0.3  # cheaper than typical: the mean of four views' positions


def test_names_are_stable_and_versioned() -> None:
    assert SPEC.visitor_names[:4] == ("views", "clicks", "carts", "orders")
    assert SPEC.visitor_names[-2:] == ("view_share=beauty", "view_share=digital")
    assert SPEC.manifest()["version"] == FEATURES_VERSION
    assert len(set(SPEC.visitor_names)) == len(SPEC.visitor_names)


def test_matrix_stacks_rows() -> None:
    m = visitor_matrix(SPEC, [(Behaviour(), Context(ts=NOW)), (Behaviour(views=3), Context(ts=NOW))])
    assert m.shape == (2, len(SPEC.visitor_names))
    assert visitor_matrix(SPEC, []).shape == (0, len(SPEC.visitor_names))
    assert np.array_equal(m[1], visitor_row(SPEC, Behaviour(views=3), Context(ts=NOW)), equal_nan=True)


def test_ranking_rows_are_the_visitor_row_beside_product_columns() -> None:
    from app.core.catalog import Candidates, Product
    from app.core.engagement import Engagement
    from app.core.features import PRODUCT_FEATURES, RATE_PRIOR, ranking_matrix, ranking_names

    products = [
        Product("b", "x", "digital", 100.0, 1, added_at=NOW - 2 * DAY),
        Product("a", "x", "beauty", 50.0, 1),
        Product("c", "x", "garden", 10.0, 1),  # a category the model never saw
    ]
    shown = Candidates.build(products, in_id_order=False)
    # viewed one product at half its category's typical price, one at double
    b = Behaviour(viewed_categories={"beauty": 3, "digital": 1}, priced_views=2, viewed_price_milli=-693 + 693 - 200)
    visitor = visitor_row(SPEC, b, Context(ts=NOW))
    engagement = Engagement.of({
        "impressions": {"b": 40_000, "a": 1_000, "zz": 59_000},  # thousandths: 40, 1 and 59 impressions
        "clicks": {"b": 8, "zz": 2},
        "views": {"b": 10, "zz": 90},
        "purchases": {"b": 1, "zz": 4},
    })
    m = ranking_matrix(SPEC, visitor, b, shown, {"b": 8.0}, 0.5, {"digital": 200.0, "beauty": 50.0}, NOW, engagement=engagement)
    assert m.shape == (3, len(ranking_names(SPEC)))
    assert np.array_equal(m[:, : len(visitor)], np.tile(visitor, (3, 1)), equal_nan=True)
    cols = {name: m[:, len(visitor) + i] for i, name in enumerate(PRODUCT_FEATURES)}
    assert cols["log_price"].tolist() == [math.log1p(100), math.log1p(50), math.log1p(10)]  # shown order kept
    assert cols["price_vs_category"][0] == pytest.approx(math.log(100.01 / 200.01))
    assert cols["price_vs_category"][2] == 0.0  # no median known: its own price
    assert cols["log_popularity"].tolist() == [math.log1p(4.0), 0.0, 0.0]
    assert cols["days_since_added"][0] == 2.0 and math.isnan(cols["days_since_added"][1])
    assert cols["category_code"].tolist() == [1.0, 0.0, -1.0]
    assert cols["category_affinity"].tolist() == [0.25, 0.75, 0.0]
    assert cols["category_views"].tolist() == [1.0, 3.0, 0.0]
    # rates pulled towards the shop's: 10 clicks in 100 impressions, 5 purchases in 100 views
    assert cols["product_ctr"].tolist() == pytest.approx(np.log([(8 + RATE_PRIOR * 0.1) / (40 + RATE_PRIOR), (0 + 2) / (1 + 20), 2 / 20]).tolist())
    assert cols["product_exposure"].tolist() == pytest.approx([math.log1p(40), math.log1p(1), 0.0])
    assert cols["product_buy_rate"].tolist() == pytest.approx(np.log([(1 + 1) / (10 + 20), 1 / 20, 1 / 20]).tolist())
    assert visitor[SPEC.visitor_names.index("viewed_price_position")] == -0.1  # the visitor's, in their row
    assert cols["price_vs_viewed"].tolist() == pytest.approx((cols["price_vs_category"] + 0.1).tolist())


def test_ranking_rows_of_a_new_shop_and_a_new_visitor_have_missing_values() -> None:
    from app.core.catalog import Candidates, Product
    from app.core.engagement import EMPTY_ENGAGEMENT
    from app.core.features import PRODUCT_FEATURES, ranking_matrix

    shown = Candidates.build([Product("a", "x", "beauty", 50.0, 1)])
    visitor = visitor_row(SPEC, Behaviour(), Context(ts=NOW))
    m = ranking_matrix(SPEC, visitor, Behaviour(), shown, {}, 1.0, {"beauty": 50.0}, NOW, engagement=EMPTY_ENGAGEMENT)
    cols = dict(zip(PRODUCT_FEATURES, m[0, len(visitor):], strict=True))
    for name in ("category_affinity", "product_ctr", "product_buy_rate", "price_vs_viewed"):
        assert math.isnan(cols[name]), name
    assert math.isnan(visitor[SPEC.visitor_names.index("viewed_price_position")])
    assert cols["product_exposure"] == 0.0 and cols["category_views"] == 0.0


def test_visitor_rows_build_each_layout_once_and_read_only() -> None:
    b = Behaviour(views=3, viewed_categories={"beauty": 2, "food": 1})
    ctx = Context(ts=1_790_000_000.0, device="app")
    one, other = FeatureSpec(categories=("beauty", "food")), FeatureSpec(categories=("food",))
    rows = VisitorRows(b, ctx)
    first = rows.row(one)
    assert rows.row(FeatureSpec(categories=("beauty", "food"))) is first  # an equal layout: the same array
    np.testing.assert_array_equal(first, visitor_row(one, b, ctx))
    assert len(rows.row(other)) == len(other.visitor_names) != len(first)
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 1.0
