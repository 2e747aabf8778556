"""Crowd rules beyond the GrowthBook vectors: real rules, explain, validate, safety."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import regex

from app.core import conditions
from app.core.conditions import (
    ConditionError,
    Explanation,
    Reason,
    compile_condition,
    evaluate,
    explain,
    referenced_attributes,
    validate,
)

DORMANT_BIG_SPENDERS: dict[str, Any] = {"lifecycle_stage": "dormant", "monetary": {"$gte": 500}}
WOMEN_OR_VIP: dict[str, Any] = {
    "$or": [{"gender": "female"}, {"tags": {"$elemMatch": {"$eq": "vip"}}}]
}
NEW_IN_TIER1_CITIES: dict[str, Any] = {
    "city": {"$in": ["上海", "北京", "深圳", "广州"]},
    "orders": {"$lt": 1},
    "app_version": {"$vgte": "3.2.0"},
}


def _agree(condition: Any, attributes: Any, groups: Any = None) -> bool:
    """Evaluate three ways and insist they agree."""
    result = evaluate(condition, attributes, groups)
    assert compile_condition(condition, groups)(attributes) is result
    assert explain(condition, attributes, groups).matches is result
    return result


# --- Realistic crowd rules -----------------------------------------------------------------

CROWD_CASES = [
    # name, condition, attributes, expected
    ("dormant big spender", DORMANT_BIG_SPENDERS,
     {"lifecycle_stage": "dormant", "monetary": 820}, True),
    ("dormant big spender: monetary as Decimal", DORMANT_BIG_SPENDERS,
     {"lifecycle_stage": "dormant", "monetary": Decimal("500.00")}, True),
    ("dormant small spender", DORMANT_BIG_SPENDERS,
     {"lifecycle_stage": "dormant", "monetary": 120}, False),
    ("active big spender", DORMANT_BIG_SPENDERS,
     {"lifecycle_stage": "active", "monetary": 820}, False),
    ("dormant, monetary unknown", DORMANT_BIG_SPENDERS, {"lifecycle_stage": "dormant"}, False),
    ("woman, no tags", WOMEN_OR_VIP, {"gender": "female"}, True),
    ("man tagged vip", WOMEN_OR_VIP, {"gender": "male", "tags": ["new", "vip"]}, True),
    ("man, not vip", WOMEN_OR_VIP, {"gender": "male", "tags": ["new"]}, False),
    ("nobody known", WOMEN_OR_VIP, {}, False),
    ("new visitor in Shanghai, recent app", NEW_IN_TIER1_CITIES,
     {"city": "上海", "orders": 0, "app_version": "3.10.0"}, True),
    ("new visitor in Shanghai, old app", NEW_IN_TIER1_CITIES,
     {"city": "上海", "orders": 0, "app_version": "3.1.9"}, False),
    ("repeat buyer in Beijing", NEW_IN_TIER1_CITIES,
     {"city": "北京", "orders": 3, "app_version": "3.2.0"}, False),
    ("new visitor in Chengdu", NEW_IN_TIER1_CITIES,
     {"city": "成都", "orders": 0, "app_version": "3.2.0"}, False),
]


@pytest.mark.parametrize(
    "condition, attributes, expected",
    [case[1:] for case in CROWD_CASES],
    ids=[case[0] for case in CROWD_CASES],
)
def test_crowd_rules(condition: Any, attributes: Any, expected: bool) -> None:
    assert _agree(condition, attributes) is expected


# --- GrowthBook semantics the shared vectors do not pin down --------------------------------

SEMANTIC_CASES = [
    ("empty $nor fails (empty $or passes)", {"$nor": []}, {}, False),
    ("plain text equals a number attribute", {"level": "3"}, {"level": 3}, True),
    ("plain number equals a numeric text", {"level": 3}, {"level": "3"}, True),
    ("plain 0 equals a missing attribute", {"orders": 0}, {}, True),
    ("plain true equals any truthy value", {"subscribed": True}, {"subscribed": "yes"}, True),
    ("plain true equals an empty list (JS truthiness)", {"subscribed": True}, {"subscribed": []},
     True),
    ("plain true does not equal 0", {"subscribed": True}, {"subscribed": 0}, False),
    ("plain false equals 0", {"subscribed": False}, {"subscribed": 0}, True),
    ("$eq is strict about types", {"level": {"$eq": 3}}, {"level": "3"}, False),
    ("$in keeps true apart from 1", {"flag": {"$in": [1]}}, {"flag": True}, False),
    ("$ne holds for a missing attribute", {"level": {"$ne": "gold"}}, {}, True),
    ("$gt on text that is no number", {"n": {"$gt": 5}}, {"n": "abc"}, False),
    ("$lt on text that is no number", {"n": {"$lt": 5}}, {"n": "abc"}, False),
    ("$gt on an empty text reads it as 0", {"n": {"$gte": 0}}, {"n": ""}, True),
    ("dotted path into a list item", {"items.0.sku": "A1"}, {"items": [{"sku": "A1"}]}, True),
    ("dotted path past the end of a list", {"items.3.sku": None}, {"items": [{"sku": "A1"}]},
     True),
    ("$regex tests a number as text", {"zip": {"$regex": "^200"}}, {"zip": 200001}, True),
    ("$regex on a missing attribute", {"utm": {"$regex": "ull"}}, {}, False),
    ("$notRegex on a missing attribute", {"utm": {"$notRegex": "google"}}, {}, True),
    ("$exists false for null", {"email": {"$exists": False}}, {"email": None}, True),
    ("$or that is not a list never matches", {"$or": {"a": 1}}, {"a": 1}, False),
    ("$not that is not an object never matches", {"$not": "a"}, {"a": 1}, False),
    ("$elemMatch on object items", {"orders": {"$elemMatch": {"total": {"$gt": 100}}}},
     {"orders": [{"total": 20}, {"total": 300}]}, True),
    ("$all with conditions", {"scores": {"$all": [{"$gt": 90}, {"$lt": 10}]}},
     {"scores": [5, 50, 95]}, True),
    ("object equality ignores key order", {"geo": {"country": "CN", "city": "上海"}},
     {"geo": {"city": "上海", "country": "CN"}}, True),
    ("$veq on a numeric attribute", {"v": {"$veq": "2"}}, {"v": 2}, True),
    ("$vgt on a missing attribute", {"v": {"$vgt": "0.0.1"}}, {}, False),
    ("a condition that is not an object", ["a"], {"a": 1}, False),
]


@pytest.mark.parametrize(
    "condition, attributes, expected",
    [case[1:] for case in SEMANTIC_CASES],
    ids=[case[0] for case in SEMANTIC_CASES],
)
def test_growthbook_semantics(condition: Any, attributes: Any, expected: bool) -> None:
    assert _agree(condition, attributes) is expected


def test_groups_are_crowds_of_ids() -> None:
    groups = {"vip_list": ["u1", "u2"], "blocked": ["u9"]}
    rule = {"user_id": {"$inGroup": "vip_list", "$notInGroup": "blocked"}}
    assert _agree(rule, {"user_id": "u2"}, groups) is True
    assert _agree(rule, {"user_id": "u3"}, groups) is False
    assert _agree(rule, {"user_id": "u2"}, None) is False  # no groups given: nobody is in one


def test_compiled_rule_is_reusable_and_holds_no_visitor_state() -> None:
    predicate = compile_condition(WOMEN_OR_VIP)
    visitors: list[dict[str, Any]] = [
        {"gender": "female"}, {"gender": "male"}, {"tags": ["vip"]}, {}
    ]
    assert [predicate(v) for v in visitors] == [True, False, True, False]
    assert [predicate(v) for v in reversed(visitors)] == [False, True, False, True]


def test_compiled_rule_compiles_its_regex_once(monkeypatch: pytest.MonkeyPatch) -> None:
    predicate = compile_condition({"ua": {"$regex": "(iPhone|Android)", "$notRegexi": "BOT"}})

    def no_compiling(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a compiled rule must not compile regexes again")

    monkeypatch.setattr(regex, "compile", no_compiling)
    conditions._compile_regex.cache_clear()
    assert predicate({"ua": "Mozilla iPhone"}) is True
    assert predicate({"ua": "Mozilla iPhone Googlebot"}) is False
    assert predicate({"ua": "Mozilla Windows"}) is False


# --- Hostile input ----------------------------------------------------------------------------


CATASTROPHIC_CHECK = """
import json, sys, time
from app.core.conditions import compile_condition, evaluate, explain
rule = {"name": {sys.argv[1]: "(a+)+$"}}
visitor = {"name": "a" * 10_000 + "!"}
predicate = compile_condition(rule)
results = []
for run in (lambda: evaluate(rule, visitor), lambda: predicate(visitor),
            lambda: explain(rule, visitor).matches):
    started = time.monotonic()
    results.append([run(), time.monotonic() - started])
print(json.dumps(results))
"""


@pytest.mark.parametrize("op", ["$regex", "$notRegex"])
def test_catastrophic_regex_gives_up_quickly_without_matching(op: str) -> None:
    # In a child process: were the guard broken, this test fails instead of hanging.
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-c", CATASTROPHIC_CHECK, op],
        cwd=repo, capture_output=True, text=True, timeout=20, check=True,
    )
    results = json.loads(child.stdout)
    assert len(results) == 3
    for matched, seconds in results:
        assert matched is False
        assert seconds < 1.0


def test_overlong_regex_never_matches_even_if_it_would() -> None:
    pattern = "a" * (conditions.MAX_REGEX_LENGTH + 1)
    assert _agree({"s": {"$regex": pattern}}, {"s": pattern}) is False
    assert _agree({"s": {"$regex": pattern[:-1]}}, {"s": pattern}) is True


def test_rule_nested_past_the_stack_does_not_match_or_raise() -> None:
    rule: dict[str, Any] = {"a": 1}
    for _ in range(5000):
        rule = {"$and": [rule]}
    assert _agree(rule, {"a": 1}) is False


# --- explain ------------------------------------------------------------------------------------


def test_explain_gives_one_reason_per_operator_with_paths() -> None:
    result = explain({"age": {"$gt": 18, "$lt": 30}}, {"age": 40})
    assert result == Explanation(
        matches=False,
        reasons=(
            Reason(path="$.age.$gt", operator="$gt", expected=18, actual=40, passed=True),
            Reason(path="$.age.$lt", operator="$lt", expected=30, actual=40, passed=False),
        ),
    )


def test_explain_paths_inside_logical_operators() -> None:
    result = explain(WOMEN_OR_VIP, {"gender": "male", "tags": ["vip"]})
    assert result.matches is True
    assert [(r.path, r.operator, r.expected, r.actual, r.passed) for r in result.reasons] == [
        ("$.$or[0].gender", "equals", "female", "male", False),
        ("$.$or[1].tags.$elemMatch", "$elemMatch", {"$eq": "vip"}, ["vip"], True),
    ]


def test_explain_shows_every_failing_test_not_just_the_first() -> None:
    result = explain(DORMANT_BIG_SPENDERS, {"lifecycle_stage": "active", "monetary": 10})
    assert result.matches is False
    assert [(r.path, r.passed) for r in result.reasons] == [
        ("$.lifecycle_stage", False),
        ("$.monetary.$gte", False),
    ]


def test_explain_reports_missing_attributes_as_none() -> None:
    (reason,) = explain({"city": {"$in": ["上海"]}}, {}).reasons
    assert reason == Reason("$.city.$in", "$in", ["上海"], None, False)


def test_explain_inside_rule_level_not_and_nested_paths() -> None:
    rule = {"$and": [{"father.age": {"$gt": 65}}, {"$not": {"name": "santa"}}]}
    result = explain(rule, {"father": {"age": 70}, "name": "santa"})
    assert result.matches is False
    assert [(r.path, r.actual, r.passed) for r in result.reasons] == [
        ("$.$and[0].father.age.$gt", 70, True),
        ("$.$and[1].$not.name", "santa", True),  # the inner test passed, so $not fails
    ]


def test_explain_quotes_ambiguous_keys() -> None:
    (reason,) = explain({"favourite brand": "acme"}, {"favourite brand": "acme"}).reasons
    assert reason.path == '$["favourite brand"]'


def test_explain_is_immutable() -> None:
    result = explain({"a": 1}, {"a": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.matches = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.reasons[0].passed = False  # type: ignore[misc]


# --- validate -----------------------------------------------------------------------------------

VALID_RULES = [
    DORMANT_BIG_SPENDERS,
    WOMEN_OR_VIP,
    NEW_IN_TIER1_CITIES,
    {},
    {"$and": [{"father.age": {"$gt": 65}}, {"$or": [{"bday": {"$regex": "-12-25$"}}]}]},
    {"$nor": [{"name": "john"}], "$not": {"age": {"$lt": 30}}},
    {"tags": {"$size": {"$gt": 2}}, "nums": {"$size": 0}, "x": {"$type": "null"}},
    {"hobbies": {"$elemMatch": {"name": {"$regexi": "^ping"}}}},
    {"tags": {"$all": ["a", {"$regex": "^b"}], "$nin": ["z"]}, "e": {"$exists": False}},
    {"name": {"$not": {"$regex": "^hello"}}, "geo": {"country": "CN", "cities": ["上海"]}},
    {"id": {"$inGroup": "vip_list"}, "v": {"$vgte": "1.2.3", "$vlt": "2.0.0"}},
    {"tags": {"$ini": ["A"], "$alli": ["B"]}, "ua": {"$notRegex": "bot", "$notRegexi": "BOT"}},
]


@pytest.mark.parametrize("rule", VALID_RULES, ids=[str(i) for i in range(len(VALID_RULES))])
def test_valid_rules_have_no_errors(rule: Any) -> None:
    assert validate(rule) == []


INVALID_RULES = [
    # name, rule, expected [(path, code)]
    ("not an object", ["age"], [("$", "not_an_object")]),
    ("unknown operator", {"age": {"$gtt": 5}}, [("$.age.$gtt", "unknown_operator")]),
    ("unknown rule-level operator", {"$adn": []}, [("$.$adn", "unknown_operator")]),
    ("field operator at rule level", {"$gt": 5}, [("$.$gt", "unknown_operator")]),
    ("logical operator inside a test", {"age": {"$or": [1]}}, [("$.age.$or", "unknown_operator")]),
    ("$in not a list", {"id": {"$in": 1}}, [("$.id.$in", "wrong_type")]),
    ("$in of objects", {"id": {"$in": [{"a": 1}]}}, [("$.id.$in", "wrong_type")]),
    ("$exists not a bool", {"x": {"$exists": "yes"}}, [("$.x.$exists", "wrong_type")]),
    ("$size as text", {"x": {"$size": "3"}}, [("$.x.$size", "wrong_type")]),
    ("$size as a fraction", {"x": {"$size": 2.5}}, [("$.x.$size", "wrong_type")]),
    ("$type unknown name", {"x": {"$type": "text"}}, [("$.x.$type", "wrong_type")]),
    ("$regex not text", {"x": {"$regex": 5}}, [("$.x.$regex", "wrong_type")]),
    ("$and not a list", {"$and": {"a": 1}}, [("$.$and", "wrong_type")]),
    ("$or with a non-object", {"$or": [{"a": 1}, 2]}, [("$.$or[1]", "wrong_type")]),
    ("$not not an object", {"$not": "a"}, [("$.$not", "wrong_type")]),
    ("field $not not an object", {"a": {"$not": "x"}}, [("$.a.$not", "wrong_type")]),
    ("$elemMatch not an object", {"tags": {"$elemMatch": ["vip"]}},
     [("$.tags.$elemMatch", "wrong_type")]),
    ("version operator not text", {"v": {"$vgt": 1}}, [("$.v.$vgt", "wrong_type")]),
    ("$gt against null", {"age": {"$gt": None}}, [("$.age.$gt", "wrong_type")]),
    ("$inGroup not an id", {"id": {"$inGroup": ["a"]}}, [("$.id.$inGroup", "wrong_type")]),
    ("operators mixed with fields", {"age": {"$gt": 1, "max": 3}}, [("$.age", "wrong_type")]),
    ("bad regex", {"name": {"$regex": "/???***[)"}}, [("$.name.$regex", "bad_regex")]),
    ("bad case-insensitive regex", {"name": {"$notRegexi": "(a"}},
     [("$.name.$notRegexi", "bad_regex")]),
    ("regex too long", {"name": {"$regex": "a" * 257}}, [("$.name.$regex", "regex_too_long")]),
    ("value list too long", {"id": {"$in": list(range(10_001))}}, [("$.id.$in", "too_large")]),
    ("errors deep inside", {"$or": [{"age": {"$gt": 1}}, {"city": {"$inn": ["x"]}}]},
     [("$.$or[1].city.$inn", "unknown_operator")]),
    ("several errors at once", {"a": {"$regx": "x"}, "b": {"$in": "x"}},
     [("$.a.$regx", "unknown_operator"), ("$.b.$in", "wrong_type")]),
]


@pytest.mark.parametrize(
    "rule, expected",
    [case[1:] for case in INVALID_RULES],
    ids=[case[0] for case in INVALID_RULES],
)
def test_invalid_rules(rule: Any, expected: list[tuple[str, str]]) -> None:
    errors = validate(rule)
    assert [(e.path, e.code) for e in errors] == expected
    for error in errors:
        assert isinstance(error, ConditionError)
        # One plain sentence: no line breaks, ends like a sentence.
        assert "\n" not in error.message and error.message[-1] in ".?"


@pytest.mark.parametrize(
    "rule, message",
    [
        ({"age": {"$gtt": 5}}, "Unknown operator '$gtt' at $.age; did you mean '$gt'?"),
        ({"name": {"$regx": "x"}}, "Unknown operator '$regx' at $.name; did you mean '$regex'?"),
        ({"$adn": []}, "Unknown operator '$adn' at $; did you mean '$and'?"),
        ({"age": {"$zzzzzz": 5}}, "Unknown operator '$zzzzzz' at $.age."),
        ({"id": {"$in": 1}}, "'$in' at $.id needs a list of values."),
        ({"x": {"$exists": "yes"}}, "'$exists' at $.x needs true or false."),
    ],
)
def test_messages_speak_to_merchants(rule: Any, message: str) -> None:
    (error,) = validate(rule)
    assert error.message == message


def test_bad_regex_message_names_the_problem() -> None:
    (error,) = validate({"name": {"$regex": "(abc"}})
    assert error.message.startswith("The pattern at $.name.$regex is not a valid regular")
    assert "missing )" in error.message


def test_limits_are_configurable() -> None:
    assert validate({"s": {"$regex": "abcdef"}}, max_regex_length=5)[0].code == "regex_too_long"
    assert validate({"s": {"$regex": "abcde"}}, max_regex_length=5) == []
    assert validate({"id": {"$in": [1, 2, 3]}}, max_list_length=2)[0].code == "too_large"
    # $in lists are bounded by max_list_length, not by max_nodes.
    assert validate({"id": {"$in": list(range(5000))}}) == []
    # Parts: the rule itself, plus each test and each literal value (here 1 + 2 + 2).
    assert validate({"a": 1, "b": 2}, max_nodes=5) == []
    assert validate({"a": 1, "b": 2}, max_nodes=4) == [
        ConditionError(
            "$", "too_large", "The rule has more than 4 parts; please split it into smaller crowds."
        )
    ]


def _nested_and(levels: int) -> dict[str, Any]:
    rule: dict[str, Any] = {"a": 1}
    for _ in range(levels):
        rule = {"$and": [rule]}
    return rule


def test_too_deep_is_reported_once_with_its_path() -> None:
    assert validate(_nested_and(5)) == []  # 11 levels of JSON nesting; 6 make 13
    errors = validate(_nested_and(6))
    assert [(e.path, e.code) for e in errors] == [("$" + ".$and[0]" * 6, "too_deep")]
    assert "more than 12 levels" in errors[0].message
    assert validate(_nested_and(2), max_depth=4)[0].code == "too_deep"


def test_deep_literal_values_count_as_nesting_too() -> None:
    value: Any = 1
    for _ in range(20):
        value = [value]
    assert [e.code for e in validate({"a": value})] == ["too_deep"]


def test_too_large_is_reported_once() -> None:
    rule = {f"attr{i}": i for i in range(1000)}
    assert [(e.path, e.code) for e in validate(rule)] == [("$", "too_large")]
    assert validate({f"attr{i}": i for i in range(400)}) == []


def test_hostile_nesting_is_rejected_without_recursion_error() -> None:
    assert [e.code for e in validate(_nested_and(50_000))] == ["too_deep"]


def test_validation_is_strict_where_evaluation_is_tolerant() -> None:
    rule = {"name": {"$regx": "hello"}}  # a conformance row: evaluates to no match
    assert evaluate(rule, {"name": "hello"}) is False
    assert [e.code for e in validate(rule)] == ["unknown_operator"]


# --- referenced_attributes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule, expected",
    [
        (DORMANT_BIG_SPENDERS, {"lifecycle_stage", "monetary"}),
        (WOMEN_OR_VIP, {"gender", "tags"}),
        ({"$and": [{"father.age": {"$gt": 65}}, {"$or": [{"bday": {"$regex": "x"}}, {"name": 1}]}],
          "$nor": [{"city": "x"}], "$not": {"vip": True}},
         {"father.age", "bday", "name", "city", "vip"}),
        ({"hobbies": {"$elemMatch": {"name": "golf"}}}, {"hobbies"}),  # item fields are relative
        ({}, set()),
        ({"$or": "broken", "$not": 3, "ok": 1}, {"ok"}),
        ("not a rule", set()),
        (_nested_and(50_000), {"a"}),
    ],
    ids=["dormant", "women-or-vip", "logical", "elemMatch", "empty", "malformed", "not-a-rule",
         "deep"],
)
def test_referenced_attributes(rule: Any, expected: set[str]) -> None:
    assert referenced_attributes(rule) == frozenset(expected)
