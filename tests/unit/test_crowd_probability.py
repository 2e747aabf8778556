"""P(crowd rule holds) for visitors whose attributes are partly predicted.

Hand-computed spec tables first, then the crowd scorer, then properties checked
against independent references: brute-force enumeration with the interpreter
(``evaluate``) and seeded Monte Carlo sampling.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from app.core.conditions import evaluate
from app.core.crowd_probability import (
    METHOD_COMPOSITION,
    METHOD_ENUMERATION,
    METHOD_EXACT,
    SOURCE_MODEL,
    SOURCE_RULE,
    RuleScore,
    normalise_distribution,
    rule_probability,
    score_crowds_with_predictions,
)
from app.core.crowds import Crowd, score_crowds
from app.core.decision import CrowdScore

GENDER = {"female": 0.7, "male": 0.3}
AGE = {"18-24": 0.1, "25-34": 0.4, "35-44": 0.3, "45-54": 0.15, "55+": 0.05}
PRICE = {"low": 0.2, "mid": 0.5, "high": 0.3}
INTENT = {True: 0.25, False: 0.75}
PREDICTED: dict[str, dict[Any, float]] = {
    "gender": GENDER,
    "age_band": AGE,
    "price_sensitivity": PRICE,
    "purchase_intent_7d": INTENT,
}


def brute_force(
    condition: Mapping[str, Any],
    attributes: Mapping[str, Any],
    predicted: Mapping[str, Mapping[Any, float]],
) -> float:
    """Reference: every predicted attribute the visitor lacks, enumerated with evaluate()."""
    names = [name for name in predicted if attributes.get(name) is None]
    total = 0.0
    for combo in itertools.product(*(list(predicted[name].items()) for name in names)):
        trial = dict(attributes)
        weight = 1.0
        for name, (value, p) in zip(names, combo, strict=True):
            trial[name] = value
            weight *= p
        if evaluate(condition, trial):
            total += weight
    return total


# --- Spec table: one or more unknown attributes -------------------------------------------------

MODEL_CASES: list[tuple[str, dict[str, Any], dict[str, Any], float, tuple[str, ...]]] = [
    # name, rule, known attributes, P(rule holds), unknown attributes (in PREDICTED order)
    ("plain value", {"gender": "female"}, {}, 0.7, ("gender",)),
    ("$eq", {"gender": {"$eq": "male"}}, {}, 0.3, ("gender",)),
    ("$in", {"age_band": {"$in": ["25-34", "35-44"]}}, {}, 0.7, ("age_band",)),
    ("$ne", {"price_sensitivity": {"$ne": "high"}}, {}, 0.7, ("price_sensitivity",)),
    ("$nin", {"age_band": {"$nin": ["18-24", "55+"]}}, {}, 0.85, ("age_band",)),
    ("boolean value", {"purchase_intent_7d": True}, {}, 0.25, ("purchase_intent_7d",)),
    ("$eq false", {"purchase_intent_7d": {"$eq": False}}, {}, 0.75, ("purchase_intent_7d",)),
    ("$gte on text", {"age_band": {"$gte": "35-44"}}, {}, 0.5, ("age_band",)),
    ("field-level $not", {"gender": {"$not": {"$eq": "female"}}}, {}, 0.3, ("gender",)),
    ("value outside the support", {"gender": "other"}, {}, 0.0, ("gender",)),
    ("$exists on a predicted attribute", {"gender": {"$exists": True}}, {}, 1.0, ("gender",)),
    # Several tests on one attribute: consistent, never a product of marginals.
    (
        "$and of two tests on age_band",
        {"$and": [{"age_band": {"$in": ["18-24", "25-34"]}}, {"age_band": {"$ne": "18-24"}}]},
        {},
        0.4,  # P(25-34); the naive product would say 0.5 * 0.9 = 0.45
        ("age_band",),
    ),
    (
        "two operators in one test",
        {"age_band": {"$in": ["18-24", "25-34"], "$ne": "18-24"}},
        {},
        0.4,
        ("age_band",),
    ),
    (
        "$or of two tests on age_band",
        {"$or": [{"age_band": "18-24"}, {"age_band": "55+"}]},
        {},
        0.15,  # disjoint events add up; 1 - 0.9 * 0.95 = 0.145 would be wrong
        ("age_band",),
    ),
    (
        "contradiction",
        {"gender": "female", "$not": {"gender": "female"}},
        {},
        0.0,
        ("gender",),
    ),
    (
        "tautology",
        {"$or": [{"gender": "female"}, {"gender": {"$ne": "female"}}]},
        {},
        1.0,
        ("gender",),
    ),
    # Independent attributes.
    (
        "$and across two attributes",
        {"gender": "female", "price_sensitivity": "high"},
        {},
        0.21,
        ("gender", "price_sensitivity"),
    ),
    (
        "$and across three attributes",
        {
            "gender": "female",
            "age_band": {"$in": ["25-34", "35-44"]},
            "purchase_intent_7d": True,
        },
        {},
        0.7 * 0.7 * 0.25,
        ("gender", "age_band", "purchase_intent_7d"),
    ),
    (
        "$or across two attributes",
        {"$or": [{"gender": "male"}, {"purchase_intent_7d": True}]},
        {},
        1 - 0.7 * 0.75,
        ("gender", "purchase_intent_7d"),
    ),
    (
        "$or across three attributes",
        {"$or": [{"gender": "male"}, {"price_sensitivity": "low"}, {"age_band": "55+"}]},
        {},
        1 - 0.7 * 0.8 * 0.95,
        ("gender", "age_band", "price_sensitivity"),
    ),
    ("$not", {"$not": {"gender": "female"}}, {}, 0.3, ("gender",)),
    (
        "$not of an $and",
        {"$not": {"gender": "female", "price_sensitivity": "high"}},
        {},
        1 - 0.21,
        ("gender", "price_sensitivity"),
    ),
    (
        "$not of an $or",
        {"$not": {"$or": [{"gender": "male"}, {"purchase_intent_7d": True}]}},
        {},
        0.7 * 0.75,
        ("gender", "purchase_intent_7d"),
    ),
    (
        "$nor across two attributes",
        {"$nor": [{"gender": "male"}, {"price_sensitivity": "low"}]},
        {},
        0.7 * 0.8,
        ("gender", "price_sensitivity"),
    ),
    (
        "$nor of two tests on age_band",
        {"$nor": [{"age_band": "18-24"}, {"age_band": "55+"}]},
        {},
        0.85,
        ("age_band",),
    ),
    (
        "$or of $ands sharing gender",
        {
            "$or": [
                {"gender": "female", "age_band": "25-34"},
                {"gender": "male", "price_sensitivity": "low"},
            ]
        },
        {},
        0.7 * 0.4 + 0.3 * 0.2,  # disjoint branches; independence would say 0.3232
        ("gender", "age_band", "price_sensitivity"),
    ),
    # Known and unknown attributes mixed.
    (
        "known test fails in an $and",
        {"lifecycle_stage": "dormant", "gender": "female"},
        {"lifecycle_stage": "active"},
        0.0,
        ("gender",),
    ),
    (
        "known test holds in an $and",
        {"lifecycle_stage": "dormant", "gender": "female"},
        {"lifecycle_stage": "dormant"},
        0.7,
        ("gender",),
    ),
    (
        "known test fails in an $and, nested",
        {"$and": [{"gender": "female", "age_band": "25-34"}, {"member_level": {"$gte": 3}}]},
        {"member_level": 1},
        0.0,
        ("gender", "age_band"),
    ),
    (
        "known test holds in an $or",
        {"$or": [{"lifecycle_stage": "dormant"}, {"gender": "female"}]},
        {"lifecycle_stage": "dormant"},
        1.0,
        ("gender",),
    ),
    (
        "known test fails in an $or",
        {"$or": [{"lifecycle_stage": "dormant"}, {"gender": "female"}]},
        {"lifecycle_stage": "active"},
        0.7,
        ("gender",),
    ),
    (
        "known attribute overrides its prediction, other one predicted",
        {"gender": "female", "age_band": "25-34"},
        {"gender": "female"},
        0.4,
        ("age_band",),
    ),
    ("None counts as unknown", {"gender": "female"}, {"gender": None}, 0.7, ("gender",)),
    # Unknown and not predicted: missing, as in GrowthBook.
    (
        "not predicted: $exists false holds",
        {"city": {"$exists": False}, "gender": "female"},
        {},
        0.7,
        ("gender",),
    ),
    (
        "not predicted: missing compares as 0",
        {"monetary": {"$lte": 10}, "gender": "male"},
        {},
        0.3,
        ("gender",),
    ),
    (
        "not predicted: a plain value never matches",
        {"city": "上海", "gender": "female"},
        {},
        0.0,
        ("gender",),
    ),
    # Malformed pieces do not match, as in evaluate(); they never raise.
    ("unknown operator", {"gender": {"$like": "fem"}}, {}, 0.0, ("gender",)),
    ("malformed $and", {"$and": "oops", "gender": "female"}, {}, 0.0, ("gender",)),
]


@pytest.mark.parametrize(
    ("rule", "attributes", "expected", "unknown"),
    [pytest.param(*case[1:], id=case[0]) for case in MODEL_CASES],
)
def test_probability_from_predictions(
    rule: dict[str, Any], attributes: dict[str, Any], expected: float, unknown: tuple[str, ...]
) -> None:
    result = rule_probability(rule, attributes, PREDICTED)
    assert result.probability == pytest.approx(expected, abs=1e-12)
    assert result.probability == pytest.approx(brute_force(rule, attributes, PREDICTED), abs=1e-12)
    assert result.source == SOURCE_MODEL
    assert result.unknown == unknown
    assert result.method == METHOD_ENUMERATION


RULE_CASES: list[tuple[str, dict[str, Any], dict[str, Any], float]] = [
    # name, rule, known attributes, 1.0 or 0.0: decided by known attributes alone
    ("known attribute overrides its prediction", {"gender": "female"}, {"gender": "male"}, 0.0),
    ("known attribute holds", {"gender": "female"}, {"gender": "female"}, 1.0),
    (
        "rule reads nothing predicted",
        {"lifecycle_stage": "dormant"},
        {"lifecycle_stage": "dormant"},
        1.0,
    ),
    ("not predicted, missing: $exists false holds", {"city": {"$exists": False}}, {}, 1.0),
    ("not predicted, None: $exists false holds", {"city": {"$exists": False}}, {"city": None}, 1.0),
    ("not predicted, missing: $eq fails", {"city": "上海"}, {}, 0.0),
    ("empty rule", {}, {}, 1.0),
]


@pytest.mark.parametrize(
    ("rule", "attributes", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in RULE_CASES],
)
def test_probability_from_known_attributes(
    rule: dict[str, Any], attributes: dict[str, Any], expected: float
) -> None:
    assert rule_probability(rule, attributes, PREDICTED) == RuleScore(
        expected, SOURCE_RULE, (), METHOD_EXACT
    )
    assert expected == (1.0 if evaluate(rule, attributes) else 0.0)


def test_unknown_attributes_follow_the_order_of_the_predictions() -> None:
    rule = {"age_band": "25-34", "gender": "female"}
    assert rule_probability(rule, {}, PREDICTED).unknown == ("gender", "age_band")
    reversed_predictions = dict(reversed(PREDICTED.items()))
    assert rule_probability(rule, {}, reversed_predictions).unknown == ("age_band", "gender")


def test_a_certain_rule_scores_exactly_one_even_with_inexact_probabilities() -> None:
    # 0.7 + 0.2 + 0.1 is 0.9999999999999999 in floating point.
    inexact = {"band": {"a": 0.7, "b": 0.2, "c": 0.1}, "tier": {"x": 0.7, "y": 0.2, "z": 0.1}}
    certain: list[dict[str, Any]] = [
        {"band": {"$exists": True}},
        {"band": {"$in": ["a", "b", "c"]}},
        {"band": {"$exists": True}, "tier": {"$ne": "w"}},
        {"$or": [{"band": "a"}, {"band": {"$ne": "a"}, "tier": {"$exists": True}}]},
    ]
    for rule in certain:
        assert rule_probability(rule, {}, inexact).probability == 1.0, rule
        assert rule_probability(rule, {}, inexact, max_assignments=1).probability == 1.0, rule
    assert rule_probability({"band": {"$nin": ["a", "b", "c"]}}, {}, inexact).probability == 0.0


def test_values_with_probability_zero_never_match() -> None:
    certain = {"gender": {"female": 1.0, "male": 0.0}}
    assert rule_probability({"gender": "male"}, {}, certain).probability == 0.0
    result = rule_probability({"gender": "female"}, {}, certain)
    assert (result.probability, result.source) == (1.0, SOURCE_MODEL)


def test_a_predicted_none_reads_as_missing() -> None:
    predicted = {"gender": {"female": 0.6, None: 0.4}}
    assert rule_probability({"gender": {"$exists": False}}, {}, predicted).probability == (
        pytest.approx(0.4)
    )


def test_the_same_rule_object_scores_the_same_every_time() -> None:
    rule = {"gender": "female", "age_band": {"$in": ["25-34"]}}
    first = rule_probability(rule, {}, PREDICTED)
    again = rule_probability(rule, {}, PREDICTED)  # from the compiled cache
    equal_copy = rule_probability(dict(rule), {}, PREDICTED)
    known = rule_probability(rule, {"gender": "male"}, PREDICTED)
    assert first == again == equal_copy
    assert first.probability == pytest.approx(0.28)
    assert known.probability == 0.0  # the cache holds the rule, not an answer


def test_the_attributes_are_not_changed() -> None:
    attributes = {"lifecycle_stage": "dormant", "gender": None}
    rule = {"$or": [{"gender": "female"}, {"age_band": "55+"}]}
    rule_probability(rule, attributes, PREDICTED)
    rule_probability(rule, attributes, PREDICTED, max_assignments=1)
    assert attributes == {"lifecycle_stage": "dormant", "gender": None}
    frozen = MappingProxyType({"lifecycle_stage": "dormant"})
    assert rule_probability(rule, frozen, PREDICTED).probability == pytest.approx(1 - 0.3 * 0.95)


# --- Distributions --------------------------------------------------------------------------------

BAD_DISTRIBUTIONS: list[tuple[str, Any, str]] = [
    # name, distribution of "gender", words the error must contain
    ("not a mapping", ["female", "male"], "must map each value to its probability"),
    ("a number", 0.7, "must map each value to its probability"),
    ("empty", {}, "is empty"),
    ("negative probability", {"female": 1.2, "male": -0.2}, "at least 0"),
    ("NaN", {"female": math.nan, "male": 0.3}, "finite"),
    ("infinite", {"female": math.inf, "male": 0.3}, "finite"),
    ("boolean probability", {"female": True}, "not a number"),
    ("text probability", {"female": "0.7", "male": 0.3}, "not a number"),
    ("None probability", {"female": None, "male": 1.0}, "not a number"),
    ("sums to 0.9", {"female": 0.6, "male": 0.3}, "sum"),
    ("sums to 1.1", {"female": 0.8, "male": 0.3}, "sum"),
    ("sums to 1 + 2e-6", {"female": 0.7 + 2e-6, "male": 0.3}, "sum"),
    ("all zero", {"female": 0.0, "male": 0.0}, "sum"),
]


@pytest.mark.parametrize(
    ("distribution", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_DISTRIBUTIONS],
)
def test_bad_distributions_are_refused(distribution: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words) as direct:
        normalise_distribution(distribution, "gender")
    assert "'gender'" in str(direct.value)
    predicted = {**PREDICTED, "gender": distribution}
    with pytest.raises(ValueError, match="'gender'"):
        rule_probability({"gender": "female"}, {}, predicted)
    with pytest.raises(ValueError, match="'gender'"):
        rule_probability({"age_band": "25-34"}, {}, predicted)  # validated even when unused
    with pytest.raises(ValueError, match="'gender'"):
        score_crowds_with_predictions([Crowd.compile("c", {"condition": {}})], {}, predicted)


@pytest.mark.parametrize(
    ("distribution", "expected"),
    [
        pytest.param({"a": 0.25, "b": 0.75}, {"a": 0.25, "b": 0.75}, id="exact"),
        pytest.param(
            {"a": 0.5 + 5e-7, "b": 0.5}, {"a": 0.5 + 2.5e-7, "b": 0.5 - 2.5e-7}, id="within 1e-6"
        ),
        pytest.param({"a": 1, "b": 0}, {"a": 1.0, "b": 0.0}, id="integers"),
        pytest.param(
            {"a": Decimal("0.4"), "b": Decimal("0.6")}, {"a": 0.4, "b": 0.6}, id="decimals"
        ),
        pytest.param(
            {"a": np.float32(0.7), "b": np.float32(0.3)}, {"a": 0.7, "b": 0.3}, id="numpy float32"
        ),
    ],
)
def test_good_distributions_are_normalised(distribution: Any, expected: dict[str, float]) -> None:
    normal = normalise_distribution(distribution)
    assert normal == pytest.approx(expected, abs=1e-7)
    assert math.fsum(normal.values()) == pytest.approx(1.0, abs=1e-12)
    assert all(type(p) is float for p in normal.values())


@pytest.mark.parametrize(
    "predicted",
    [
        pytest.param([("gender", GENDER)], id="not a mapping"),
        pytest.param({1: GENDER}, id="name not text"),
    ],
)
def test_bad_predictions_are_refused(predicted: Any) -> None:
    with pytest.raises(ValueError, match="predict"):
        rule_probability({"gender": "female"}, {}, predicted)


@pytest.mark.parametrize("budget", [0, -1, 1.5, True, None])
def test_max_assignments_must_be_a_positive_whole_number(budget: Any) -> None:
    with pytest.raises(ValueError, match="max_assignments"):
        rule_probability({"gender": "female"}, {}, PREDICTED, max_assignments=budget)
    with pytest.raises(ValueError, match="max_assignments"):
        score_crowds_with_predictions([], {}, PREDICTED, max_assignments=budget)


# --- Enumeration and composition --------------------------------------------------------------

# Rules whose composition is exact (the approximation needs siblings sharing two or
# more unknown attributes whose joint exceeds the budget); the budget forces composition.
COMPOSITION_CASES: list[tuple[str, dict[str, Any], dict[str, Any], int]] = [
    # name, rule, known attributes, max_assignments
    ("$and of disjoint tests", {"gender": "female", "price_sensitivity": "high"}, {}, 1),
    (
        "$or of disjoint tests",
        {"$or": [{"gender": "male"}, {"price_sensitivity": "low"}, {"age_band": "55+"}]},
        {},
        4,
    ),
    ("$nor of disjoint tests", {"$nor": [{"gender": "male"}, {"price_sensitivity": "low"}]}, {}, 1),
    ("$not of an $and", {"$not": {"gender": "female", "price_sensitivity": "high"}}, {}, 1),
    (
        "same attribute within a sub-tree",
        {
            "price_sensitivity": "high",
            "$and": [{"age_band": {"$in": ["18-24", "25-34"]}}, {"age_band": {"$ne": "18-24"}}],
        },
        {},
        1,
    ),
    (
        "siblings sharing gender, enumerated jointly",
        {
            "$or": [
                {"gender": "female", "age_band": "25-34"},
                {"gender": "male", "price_sensitivity": "low"},
            ],
            "purchase_intent_7d": True,
        },
        {},
        30,  # the $or's joint (2 * 5 * 3) fits, the whole rule's (60) does not
    ),
    (
        "siblings sharing gender, conditioned on it",
        {
            "$or": [
                {"gender": "female", "age_band": "25-34"},
                {"gender": "male", "price_sensitivity": "low"},
            ]
        },
        {},
        1,
    ),
    (
        "$and of $ors sharing gender",
        {
            "$and": [
                {"$or": [{"gender": "female"}, {"age_band": "18-24"}]},
                {"$or": [{"gender": "male"}, {"price_sensitivity": "low"}]},
            ]
        },
        {},
        2,
    ),
    (
        "known and unknown mixed",
        {"lifecycle_stage": "dormant", "$or": [{"age_band": "55+"}, {"price_sensitivity": "high"}]},
        {"lifecycle_stage": "dormant"},
        1,
    ),
    (
        "nested $not of an $or",
        {
            "$not": {
                "$or": [{"age_band": "18-24"}, {"age_band": "25-34", "purchase_intent_7d": True}]
            }
        },
        {},
        1,
    ),
]


@pytest.mark.parametrize(
    ("rule", "attributes", "budget"),
    [pytest.param(*case[1:], id=case[0]) for case in COMPOSITION_CASES],
)
def test_composition_agrees_with_enumeration(
    rule: dict[str, Any], attributes: dict[str, Any], budget: int
) -> None:
    enumerated = rule_probability(rule, attributes, PREDICTED)
    composed = rule_probability(rule, attributes, PREDICTED, max_assignments=budget)
    assert enumerated.method == METHOD_ENUMERATION
    assert composed.method == METHOD_COMPOSITION
    assert composed.unknown == enumerated.unknown
    assert composed.probability == pytest.approx(enumerated.probability, abs=1e-12)
    assert enumerated.probability == pytest.approx(
        brute_force(rule, attributes, PREDICTED), abs=1e-12
    )


def test_composition_approximates_siblings_sharing_two_attributes_as_independent() -> None:
    rule = {
        "$or": [
            {"gender": "female", "age_band": "25-34"},
            {"gender": "male", "age_band": {"$ne": "25-34"}},
        ]
    }
    exact = 0.7 * 0.4 + 0.3 * 0.6
    assert rule_probability(rule, {}, PREDICTED).probability == pytest.approx(exact)
    assert rule_probability(rule, {}, PREDICTED, max_assignments=10).method == METHOD_ENUMERATION
    composed = rule_probability(rule, {}, PREDICTED, max_assignments=4)
    assert composed.method == METHOD_COMPOSITION
    # The documented approximation: 1 - (1 - 0.28) * (1 - 0.18), not 0.46.
    assert composed.probability == pytest.approx(1 - (1 - 0.28) * (1 - 0.18))


# --- Scoring crowds ----------------------------------------------------------------------------


def crowd(crowd_id: str, condition: dict[str, Any], **extra: Any) -> Crowd:
    return Crowd.compile(crowd_id, {"condition": condition, **extra})


SHOP_CROWDS = [
    crowd("women", {"gender": "female"}, priority=10),
    crowd("young", {"age_band": {"$in": ["18-24", "25-34"]}}, priority=10),
    crowd("men", {"gender": "male"}, priority=20),
    crowd("dormant", {"lifecycle_stage": "dormant"}, priority=5),
    crowd("picky", {"price_sensitivity": "high"}, priority=10, threshold=0.25),
    crowd("vip", {"member_level": {"$gte": 3}}, priority=50),
    crowd("shanghai", {"city": "上海"}, priority=1),
]


@pytest.mark.parametrize(
    "attributes",
    [
        pytest.param({}, id="nothing known"),
        pytest.param({"lifecycle_stage": "dormant", "member_level": 4}, id="some known"),
        pytest.param({"gender": "male", "city": "上海", "member_level": 1}, id="others known"),
    ],
)
def test_without_predictions_crowds_score_as_score_crowds(attributes: dict[str, Any]) -> None:
    assert score_crowds_with_predictions(SHOP_CROWDS, attributes, {}) == score_crowds(
        SHOP_CROWDS, attributes
    )


def test_crowds_decided_by_known_attributes_score_as_score_crowds() -> None:
    attributes = {
        "gender": "female",
        "age_band": "45-54",
        "price_sensitivity": "mid",
        "purchase_intent_7d": False,
        "lifecycle_stage": "dormant",
    }
    scored = score_crowds_with_predictions(SHOP_CROWDS, attributes, PREDICTED)
    assert scored == score_crowds(SHOP_CROWDS, attributes)
    assert {s.source for s in scored} == {SOURCE_RULE}


def test_crowds_are_ordered_as_score_crowds_orders_them() -> None:
    scored = score_crowds_with_predictions(
        SHOP_CROWDS, {"lifecycle_stage": "dormant", "member_level": 1}, PREDICTED
    )
    by_id = {s.id: s for s in scored}
    # In the crowd first; then priority, score (higher first), id.
    assert [s.id for s in scored] == [
        "women",  # 10, 0.7
        "young",  # 10, 0.5 (threshold 0.5: in)
        "picky",  # 10, 0.3 (threshold 0.25: in)
        "dormant",  # 5, 1.0
        "vip",  # 50, 0.0
        "men",  # 20, 0.3
        "shanghai",  # 1, 0.0
    ]
    assert [by_id[i].matched for i in ("women", "young", "picky", "dormant")] == [True] * 4
    assert [by_id[i].matched for i in ("vip", "men", "shanghai")] == [False] * 3
    assert by_id["women"] == CrowdScore(
        id="women",
        score=pytest.approx(0.7),  # type: ignore[arg-type]
        source=SOURCE_MODEL,
        matched=True,
        priority=10,
        reason="model: P=0.70 over gender (enumeration)",
    )
    assert by_id["young"].score == pytest.approx(0.5)
    assert (by_id["dormant"].source, by_id["dormant"].score) == (SOURCE_RULE, 1.0)
    assert (by_id["vip"].source, by_id["vip"].reason) == (SOURCE_RULE, "rule does not hold")
    assert by_id["shanghai"].reason == "rule does not hold; unknown: city"


@pytest.mark.parametrize(
    ("threshold", "matched"),
    [(0.69, True), (0.7, True), (0.71, False), (1.0, False)],
)
def test_a_crowd_is_matched_at_or_above_its_threshold(threshold: float, matched: bool) -> None:
    women = crowd("women", {"gender": "female"}, threshold=threshold)
    (score,) = score_crowds_with_predictions([women], {}, PREDICTED)
    assert score.score == 0.7
    assert score.matched is matched


def test_a_certain_crowd_is_matched_at_threshold_one() -> None:
    everyone = crowd("everyone", {"gender": {"$in": ["female", "male"]}}, threshold=1.0)
    (score,) = score_crowds_with_predictions([everyone], {}, PREDICTED)
    assert (score.score, score.source, score.matched) == (1.0, SOURCE_MODEL, True)


@pytest.mark.parametrize(
    ("condition", "attributes", "budget", "reason"),
    [
        pytest.param(
            {"gender": "female", "price_sensitivity": "high"},
            {},
            512,
            "model: P=0.21 over gender, price_sensitivity (enumeration)",
            id="two unknown",
        ),
        pytest.param(
            {"age_band": "25-34", "gender": "female"},
            {},
            512,
            "model: P=0.28 over gender, age_band (enumeration)",
            id="in the order of the predictions",
        ),
        pytest.param(
            {"gender": "female", "price_sensitivity": "high"},
            {},
            1,
            "model: P=0.21 over gender, price_sensitivity (composition)",
            id="composition",
        ),
        pytest.param(
            {"$or": [{"gender": "female"}, {"city": "上海"}, {"address.zip": "200000"}]},
            {"address": None},
            512,
            "model: P=0.70 over gender (enumeration); unknown, not predicted: address.zip, city",
            id="with attributes not predicted",
        ),
    ],
)
def test_model_reasons_name_the_unknown_attributes_and_the_method(
    condition: dict[str, Any], attributes: dict[str, Any], budget: int, reason: str
) -> None:
    (score,) = score_crowds_with_predictions(
        [crowd("c", condition)], attributes, PREDICTED, max_assignments=budget
    )
    assert score.source == SOURCE_MODEL
    assert score.reason == reason


def test_crowds_sharing_tests_each_get_their_own_probability() -> None:
    # Shared tests are enumerated once per call; each crowd still gets its own answer.
    crowds = [
        crowd("a", {"gender": "female"}),
        crowd("b", {"gender": "female", "lifecycle_stage": "dormant"}),
        crowd("c", {"$or": [{"gender": "female"}, {"lifecycle_stage": "dormant"}]}),
        crowd("d", {"age_band": {"$in": ["25-34"]}}),
        crowd("e", {"age_band": {"$in": ["25-34"]}, "gender": "female"}),
        crowd("f", {"gender": "female", "age_band": {"$in": ["25-34"]}}),
        crowd("g", {"age_band": {"$in": ["25-34", "35-44"]}, "gender": "male"}),
        crowd("h", {"age_band": {"$in": ["18-24", "25-34"]}}),
        crowd(
            "i",
            {"$and": [{"age_band": {"$in": ["18-24", "25-34"]}}, {"age_band": {"$ne": "18-24"}}]},
        ),
    ]
    for attributes in ({"lifecycle_stage": "dormant"}, {"lifecycle_stage": "active"}):
        scored = {
            s.id: s.score for s in score_crowds_with_predictions(crowds, attributes, PREDICTED)
        }
        for c in crowds:
            alone = rule_probability(c.condition, attributes, PREDICTED).probability
            assert scored[c.id] == pytest.approx(alone, abs=1e-12), c.id
            assert alone == pytest.approx(brute_force(c.condition, attributes, PREDICTED))
    scored = {
        s.id: s.score
        for s in score_crowds_with_predictions(crowds, {"lifecycle_stage": "active"}, PREDICTED)
    }
    assert scored == pytest.approx(
        {
            "a": 0.7,
            "b": 0.0,
            "c": 0.7,
            "d": 0.4,
            "e": 0.28,
            "f": 0.28,
            "g": 0.21,
            "h": 0.5,
            "i": 0.4,
        }
    )


def test_crowds_may_come_from_a_generator_and_attributes_stay_untouched() -> None:
    attributes = {"lifecycle_stage": "dormant", "gender": None}
    scored = score_crowds_with_predictions(
        (c for c in SHOP_CROWDS), MappingProxyType(attributes), PREDICTED
    )
    assert len(scored) == len(SHOP_CROWDS)
    assert attributes == {"lifecycle_stage": "dormant", "gender": None}
    assert {s.id: s.score for s in scored}["women"] == pytest.approx(0.7)


def test_a_crowd_score_is_a_plain_crowd_score() -> None:
    (score,) = score_crowds_with_predictions([crowd("w", {"gender": "female"})], {}, PREDICTED)
    assert isinstance(score, CrowdScore)
    assert dataclasses.asdict(score)["source"] == SOURCE_MODEL


# --- Properties: random distributions and rules against independent references ------------------

DOMAINS: dict[str, list[Any]] = {
    "gender": ["female", "male"],
    "age_band": ["18-24", "25-34", "35-44", "45-54", "55+"],
    "price_sensitivity": ["low", "mid", "high"],
    "purchase_intent_7d": [True, False],
}

# (rule, whether composition is exact for it whatever the budget)
RULE_POOL: list[tuple[dict[str, Any], bool]] = [
    ({"gender": "female"}, True),
    ({"age_band": {"$in": ["25-34", "35-44"]}}, True),
    ({"price_sensitivity": {"$ne": "low"}}, True),
    ({"age_band": {"$nin": ["18-24", "55+"]}, "gender": "male"}, True),
    ({"$and": [{"age_band": {"$in": ["18-24", "25-34"]}}, {"age_band": {"$ne": "18-24"}}]}, True),
    ({"$or": [{"gender": "female"}, {"purchase_intent_7d": True}]}, True),
    ({"$nor": [{"price_sensitivity": "high"}, {"age_band": "55+"}]}, True),
    ({"$not": {"gender": "female", "price_sensitivity": "low"}}, True),
    (
        {
            "$or": [
                {"gender": "female", "age_band": "25-34"},
                {"gender": "male", "price_sensitivity": {"$in": ["mid", "high"]}},
            ]
        },
        True,
    ),
    (
        {
            "$or": [
                {"gender": "female", "age_band": "25-34"},
                {"gender": "male", "age_band": {"$ne": "25-34"}},
            ],
            "purchase_intent_7d": True,
        },
        False,  # siblings share gender and age_band: approximated under a small budget
    ),
    (
        {"lifecycle_stage": "dormant", "$or": [{"age_band": "55+"}, {"price_sensitivity": "high"}]},
        True,
    ),
    ({"age_band": {"$gte": "35-44"}, "gender": {"$exists": True}}, True),
    ({"$or": [{"gender": {"$exists": False}}, {"purchase_intent_7d": False}]}, True),
    (
        {
            "$and": [
                {"$or": [{"gender": "female"}, {"age_band": "18-24"}]},
                {"$or": [{"gender": "male"}, {"price_sensitivity": "low"}]},
            ]
        },
        True,
    ),
    (
        {
            "$not": {
                "$or": [{"age_band": "18-24"}, {"age_band": "25-34", "purchase_intent_7d": True}]
            }
        },
        True,
    ),
    ({"lifecycle_stage": {"$in": ["dormant", "churned"]}, "$nor": [{"gender": "male"}]}, True),
]


def random_case(
    rng: random.Random,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], bool]:
    """(predicted, attributes, rule, composition is exact): random supports (some zeros),
    some attributes known, a rule from the pool."""
    predicted: dict[str, Any] = {}
    attributes: dict[str, Any] = {"lifecycle_stage": rng.choice(["dormant", "active", None])}
    for name, domain in DOMAINS.items():
        weights = [rng.random() if rng.random() < 0.8 else 0.0 for _ in domain]
        if sum(weights) == 0:
            weights[0] = 1.0
        total = sum(weights)
        predicted[name] = {value: w / total for value, w in zip(domain, weights, strict=True)}
        roll = rng.random()
        if roll < 0.25:
            attributes[name] = rng.choice(domain)
        elif roll < 0.4:
            attributes[name] = None
    rule, exact_under_composition = rng.choice(RULE_POOL)
    return predicted, attributes, rule, exact_under_composition


def monte_carlo(
    rule: dict[str, Any],
    attributes: dict[str, Any],
    predicted: dict[str, Any],
    rng: random.Random,
    samples: int,
) -> float:
    names = [name for name in predicted if attributes.get(name) is None]
    hits = 0
    for _ in range(samples):
        trial = dict(attributes)
        for name in names:
            values = list(predicted[name])
            trial[name] = rng.choices(values, weights=[predicted[name][v] for v in values])[0]
        hits += evaluate(rule, trial)
    return hits / samples


def test_enumeration_agrees_with_monte_carlo_sampling() -> None:
    rng = random.Random(20240611)
    samples = 600
    for _ in range(40):
        predicted, attributes, rule, _ = random_case(rng)
        result = rule_probability(rule, attributes, predicted)
        sampled = monte_carlo(rule, attributes, predicted, rng, samples)
        p = result.probability
        tolerance = 4.5 * math.sqrt(max(p * (1 - p), 0.01) / samples)
        assert abs(p - sampled) <= tolerance, (rule, attributes, predicted, p, sampled)


def test_random_cases_agree_with_brute_force_and_stay_within_bounds() -> None:
    rng = random.Random(7)
    approximations = 0
    for _ in range(300):
        predicted, attributes, rule, exact_under_composition = random_case(rng)
        enumerated = rule_probability(rule, attributes, predicted)
        reference = brute_force(rule, attributes, predicted)
        assert enumerated.probability == pytest.approx(reference, abs=1e-9)
        assert 0.0 <= enumerated.probability <= 1.0
        if enumerated.source == SOURCE_RULE:
            assert enumerated.probability in (0.0, 1.0)
            continue
        for budget in (1, 2, 3):
            composed = rule_probability(rule, attributes, predicted, max_assignments=budget)
            assert 0.0 <= composed.probability <= 1.0
            assert composed.unknown == enumerated.unknown
            if exact_under_composition:
                assert composed.probability == pytest.approx(enumerated.probability, abs=1e-9)
            elif abs(composed.probability - enumerated.probability) > 1e-9:
                approximations += 1
    assert approximations > 0  # the pool does exercise the documented approximation


@pytest.mark.parametrize("budget", [512, 1])
def test_a_hostile_deeply_nested_rule_does_not_raise(budget: int) -> None:
    rule: dict[str, Any] = {"gender": "female", "price_sensitivity": "high"}
    for _ in range(5000):
        rule = {"$and": [rule]}
    assert evaluate(rule, {"gender": "female", "price_sensitivity": "high"}) is False
    result = rule_probability(rule, {}, PREDICTED, max_assignments=budget)
    assert result.probability == 0.0  # as evaluate(): too deep never matches
    assert result.unknown == ("gender", "price_sensitivity")


def test_only_tests_with_the_same_meaning_share_a_memo_text() -> None:
    from app.core.crowd_probability import _canonical  # the sharing key, private

    assert _canonical({"age": {"$in": [1, 2]}}) == _canonical({"age": {"$in": (1, 2)}})
    assert _canonical({"a": 1, "b": 2}) == _canonical({"b": 2, "a": 1})
    distinct = [
        {"tags": {1: "x"}},  # json.dumps alone would write this key as "1"
        {"tags": {"1": "x"}},
        {"level": 1},
        {"level": 1.0},
        {"level": True},
        {"level": "1"},
    ]
    texts = [_canonical(rule) for rule in distinct]
    assert texts[0] is None
    assert len(set(texts[1:])) == len(texts) - 1
    assert _canonical({"spend": Decimal("1.5")}) is None
