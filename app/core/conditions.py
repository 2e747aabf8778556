"""The crowd (人群) rule language: GrowthBook targeting conditions, evaluated in-process.

A crowd is a MongoDB-style condition over visitor attributes, for example
``{"lifecycle_stage": "dormant", "monetary": {"$gte": 500}}``.

Evaluation follows GrowthBook's reference SDK (JavaScript), so a rule behaves here
as in GrowthBook, loose cross-type comparisons included ("8" > 5 holds, a missing
attribute reads as null). Deliberate differences, all at the edges: ``$eq``/``$in``
compare arrays and objects by content (JS compares references, so never equal);
``$elemMatch`` also tests falsy items like 0 (JS skips them); a regex never matches
a missing attribute (JS searches the text "null"); patterns use Python's regex
dialect. Evaluation is tolerant: a malformed or unknown piece of a rule simply does
not match, it never raises. ``validate`` is the separate, strict gate used when a
merchant saves a rule.

Public API:
    evaluate(condition, attributes, groups=None) -> bool
    compile_condition(condition, groups=None) -> predicate on attributes (fast path)
    explain(condition, attributes, groups=None) -> Explanation (why (not) matched)
    validate(condition, ...) -> list[ConditionError] (empty: the rule is valid)
    referenced_attributes(condition) -> frozenset of attribute paths the rule reads

Pure module: no I/O; the only shared state is caches (compiled regexes, split paths,
padded versions).
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeGuard

import regex  # like `re`, plus a timeout on matching: a merchant's regex can't hang a page view

__all__ = [
    "ConditionError",
    "Explanation",
    "Reason",
    "compile_condition",
    "evaluate",
    "explain",
    "referenced_attributes",
    "validate",
]

Groups = Mapping[str, Sequence[Any]]
Predicate = Callable[[Any], bool]

# A regex that takes longer than this on one attribute value counts as "cannot tell",
# which never matches. Generous for sane patterns, bounded for catastrophic ones.
REGEX_TIMEOUT_SECONDS = 0.05
# Longer patterns are refused at evaluation too, not only by validate().
MAX_REGEX_LENGTH = 256

LIST_LOGICAL = ("$and", "$or", "$nor")
LOGICAL_OPERATORS = (*LIST_LOGICAL, "$not")
_RELATIONAL: dict[str, Callable[[int], bool]] = {
    "$lt": lambda c: c < 0,
    "$lte": lambda c: c <= 0,
    "$gt": lambda c: c > 0,
    "$gte": lambda c: c >= 0,
}
_VERSION: dict[str, Callable[[str, str], bool]] = {
    "$veq": operator.eq,
    "$vne": operator.ne,
    "$vgt": operator.gt,
    "$vgte": operator.ge,
    "$vlt": operator.lt,
    "$vlte": operator.le,
}
_REGEX: dict[str, tuple[bool, bool]] = {  # operator -> (ignore case, negate)
    "$regex": (False, False),
    "$regexi": (True, False),
    "$notRegex": (False, True),
    "$notRegexi": (True, True),
}
_MEMBERSHIP = ("$in", "$nin", "$ini", "$nini")
_GROUP = ("$inGroup", "$notInGroup")
FIELD_OPERATORS = frozenset(
    {"$eq", "$ne", "$exists", "$type", "$not", "$size", "$elemMatch", "$all", "$alli"}
    | set(_RELATIONAL)
    | set(_VERSION)
    | set(_REGEX)
    | set(_MEMBERSHIP)
    | set(_GROUP)
)
TYPE_NAMES = ("string", "number", "boolean", "object", "array", "null", "undefined")

# Operator name used in a Reason for a plain value test like {"country": "CN"}: it is a
# loose (GrowthBook) equality, not the strict "$eq".
EQUALS = "equals"


# --- Public result types --------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    """One leaf test of a rule, as evaluated for one visitor.

    ``path`` is where the test sits in the rule (``$.age.$gt``, ``$.$or[1].country``);
    ``operator`` is the operator, or ``"equals"`` for a plain value; ``actual`` is the
    visitor's attribute value (None when missing).
    """

    path: str
    operator: str
    expected: Any
    actual: Any
    passed: bool


@dataclass(frozen=True)
class Explanation:
    matches: bool
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class ConditionError:
    """A problem found by validate(): where (JSON path rooted at ``$``), what, and why."""

    path: str
    code: str
    message: str


# --- Public functions -------------------------------------------------------------------------


def evaluate(
    condition: Mapping[str, Any],
    attributes: Mapping[str, Any],
    groups: Groups | None = None,
) -> bool:
    """Whether the visitor's attributes satisfy the rule (GrowthBook's evalCondition).

    ``groups`` are the saved groups used by ``$inGroup``/``$notInGroup``. For many
    evaluations of the same rule, use compile_condition().
    """
    try:
        return _Interpreter(groups or {}, trace=None).condition(condition, attributes, "$")
    except RecursionError:  # nested beyond Python's stack (validate() caps depth at 12)
        return False


def compile_condition(
    condition: Mapping[str, Any], groups: Groups | None = None
) -> Callable[[Mapping[str, Any]], bool]:
    """Compile the rule once into a predicate on attributes; agrees with evaluate().

    Regexes are compiled and value lists hashed here, once. The groups are captured
    now: recompile when they change. The predicate is pure and thread-safe.
    """
    try:
        return _compile_condition(condition, groups or {})
    except RecursionError:  # nested beyond Python's stack (validate() caps depth at 12)
        return _never


def explain(
    condition: Mapping[str, Any],
    attributes: Mapping[str, Any],
    groups: Groups | None = None,
) -> Explanation:
    """Why the visitor does (not) match: one Reason per leaf test, in rule order.

    Unlike evaluate(), every branch is evaluated (no short-circuit) so a rule editor
    can show all failing tests at once. Tests nested inside ``$elemMatch``, ``$all``,
    ``$size`` and field-level ``$not`` are reported as that one operator's reason.
    """
    trace: list[Reason] = []
    try:
        matches = _Interpreter(groups or {}, trace=trace).condition(condition, attributes, "$")
    except RecursionError:  # nested beyond Python's stack (validate() caps depth at 12)
        matches = False
    return Explanation(matches=matches, reasons=tuple(trace))


def referenced_attributes(condition: Any) -> frozenset[str]:
    """The attribute paths a rule reads, as written (``"father.age"``).

    Fields tested inside ``$elemMatch`` are relative to array items, so only the
    array's own path is reported. Tolerant of malformed rules.
    """
    found: set[str] = set()
    pending = [condition]  # iterative: a hostile, deeply nested rule can't exhaust the stack
    while pending:
        current = pending.pop()
        if not isinstance(current, Mapping):
            continue
        for key, value in current.items():
            if key in LIST_LOGICAL:
                if _is_array(value):
                    pending.extend(value)
            elif key == "$not":
                pending.append(value)
            elif isinstance(key, str):
                found.add(key)
    return frozenset(found)


def validate(
    condition: Any,
    *,
    max_depth: int = 12,
    max_nodes: int = 1000,
    max_regex_length: int = MAX_REGEX_LENGTH,
    max_list_length: int = 10000,
) -> list[ConditionError]:
    """Check a rule strictly before it is saved; an empty list means it is valid.

    ``max_depth`` bounds the JSON nesting (objects and lists); ``max_nodes`` counts
    tests, operators and literal values, except the value lists of
    ``$in``/``$nin``/``$ini``/``$nini``, which are bounded by ``max_list_length``.
    A rule over the depth or size limit gets that one error and is not inspected
    further. Evaluation refuses patterns longer than MAX_REGEX_LENGTH whatever
    ``max_regex_length`` says, so raising it above that only hides a problem.
    """
    if not isinstance(condition, Mapping):
        return [
            ConditionError(
                "$",
                "not_an_object",
                'A crowd rule must be an object of attribute tests, like {"age": {"$gt": 18}}.',
            )
        ]
    checker = _Validator(max_depth, max_nodes, max_regex_length, max_list_length)
    try:
        checker.condition(condition, "$", depth=1)
    except _LimitExceeded:
        pass
    return checker.errors


# --- JavaScript value semantics ---------------------------------------------------------------
# GrowthBook's reference SDK is JavaScript; these reproduce the JS coercions it relies on.


def _is_number(v: Any) -> TypeGuard[int | float | Decimal]:
    # Decimal too: money attributes often come out of the database as Decimal.
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def _is_array(v: Any) -> bool:
    return isinstance(v, (list, tuple))


def _js_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if _is_number(v):
        return "number"
    if isinstance(v, str):
        return "string"
    if _is_array(v):
        return "array"
    if isinstance(v, Mapping):
        return "object"
    return "unknown"


def _js_truthy(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if _is_number(v):
        return not (v == 0 or v != v)  # 0 and NaN are falsy
    if isinstance(v, str):
        return v != ""
    return True  # in JS every array and object is truthy, even empty ones


def _js_number_string(x: int | float | Decimal) -> str:
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x.is_integer() and abs(x) < 1e21:
        return str(int(x))  # JS prints 3.0 as "3"
    mantissa, has_exponent, exponent = repr(x).partition("e")
    return f"{mantissa}e{int(exponent):+d}" if has_exponent else mantissa  # "1e-07" -> "1e-7"


def _js_string(v: Any) -> str:
    """String(v) in JS."""
    if isinstance(v, str):
        return v
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if _is_number(v):
        return _js_number_string(v)
    if _is_array(v):
        return ",".join("" if item is None else _js_string(item) for item in v)
    if isinstance(v, Mapping):
        return "[object Object]"
    return str(v)


_JS_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Infinity")
_JS_RADIX = re.compile(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+")


def _to_number(v: Any) -> float | int | Decimal:
    """Number(v) in JS: null is 0, "8" is 8, "abc" is NaN."""
    if _is_number(v):
        return v
    if v is None:
        return 0
    if isinstance(v, bool):
        return int(v)
    if _is_array(v):
        v = _js_string(v)  # JS: Number([5]) is 5, Number([]) is 0
    if not isinstance(v, str):
        return math.nan
    text = v.strip()
    if not text:
        return 0
    if _JS_DECIMAL.fullmatch(text):
        return float(text.replace("Infinity", "inf"))
    if _JS_RADIX.fullmatch(text):  # "0x1F", "0o17", "0b101"
        return int(text[2:], {"x": 16, "o": 8, "b": 2}[text[1].lower()])
    return math.nan


def _relational(a: Any, b: Any) -> int | None:
    """Compare like JS `<`/`>`: two texts by characters, otherwise as numbers.

    Returns -1, 0 or 1, or None when JS would answer false to every comparison (NaN).
    """
    if _is_number(a) and _is_number(b):  # the common case, exact even for big integers
        return None if a != a or b != b else (a > b) - (a < b)
    a = _js_string(a) if isinstance(a, Mapping) or _is_array(a) else a
    b = _js_string(b) if isinstance(b, Mapping) or _is_array(b) else b
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    x, y = _to_number(a), _to_number(b)
    if x != x or y != y:
        return None
    return (x > y) - (x < y)


def _json_equal(a: Any, b: Any) -> bool:
    """Type-strict deep equality: 1 == 1.0, but true != 1 and "1" != 1.

    GrowthBook compares arrays and objects by their JSON text; this is the same except
    that the order of object keys does not matter.
    """
    kind = _js_type(a)
    if kind != _js_type(b):
        return False
    if kind == "array":
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if kind == "object":
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _matches_value(expected: Any, actual: Any, insensitive: bool = False) -> bool:
    """A plain value in a rule, like {"country": "CN"}: GrowthBook's loose equality."""
    if isinstance(expected, str):
        text = _js_string(actual)  # so {"level": "3"} matches level 3, as in GrowthBook
        return text.lower() == expected.lower() if insensitive else text == expected
    if isinstance(expected, bool):
        return actual is not None and _js_truthy(actual) == expected
    if _is_number(expected):
        # JS `actual * 1 === expected`: "8" matches 8, and so does a missing attribute 0.
        return bool((actual if _is_number(actual) else _to_number(actual)) == expected)
    if expected is None:
        return actual is None
    return _json_equal(actual, expected)


def _is_operator_object(v: Any) -> bool:
    """A non-empty object whose keys all start with "$" holds operators, not a value."""
    return (
        isinstance(v, Mapping)
        and len(v) > 0
        and all(isinstance(k, str) and k.startswith("$") for k in v)
    )


class _ValueSet:
    """A list of values prepared for fast, type-strict membership tests (JS `includes`)."""

    __slots__ = ("_fold", "_hashed", "_others")

    def __init__(self, values: Iterable[Any], fold: bool = False) -> None:
        self._fold = fold  # $ini/$nini: texts compare case-insensitively
        self._hashed: set[tuple[str, Any]] = set()
        self._others: list[Any] = []  # arrays/objects: compared one by one
        for value in values:
            key = self._key(value)
            if key is None:
                self._others.append(value)
            else:
                self._hashed.add(key)

    def _key(self, v: Any) -> tuple[str, Any] | None:
        kind = _js_type(v)
        if kind in ("null", "boolean", "number"):
            return (kind, v)  # the kind keeps true apart from 1, as in JS
        if kind == "string":
            return (kind, v.lower() if self._fold else v)
        return None

    def has(self, v: Any) -> bool:
        key = self._key(v)
        if key is not None:
            return key in self._hashed
        return any(_json_equal(v, other) for other in self._others)

    def intersects(self, actual: Any) -> bool:
        """GrowthBook's isIn: an array attribute matches when any of its items is in the set."""
        if _is_array(actual):
            return any(self.has(item) for item in actual)
        return self.has(actual)


@functools.lru_cache(maxsize=1024)
def _compile_regex(pattern: str, ignore_case: bool) -> regex.Pattern[str] | None:
    """The compiled pattern, or None when it is too long or invalid (never matches)."""
    if len(pattern) > MAX_REGEX_LENGTH:
        return None
    try:
        return regex.compile(pattern, regex.IGNORECASE if ignore_case else 0)
    except Exception:  # regex.error, but also overflow/recursion on hostile patterns
        return None


def _regex_search(pattern: regex.Pattern[str], actual: Any) -> bool | None:
    """Whether the pattern occurs in the attribute; None when it ran out of time."""
    if actual is None or isinstance(actual, Mapping) or _is_array(actual):
        return False  # nothing to search (JS would search the text "null")
    try:
        return pattern.search(_js_string(actual), timeout=REGEX_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        return None


_VERSION_NOISE = re.compile(r"^v|\+.*\Z")  # a leading "v" and "+build" metadata
_DIGITS = re.compile(r"[0-9]+")


def _padded_version(v: Any) -> str | None:
    """GrowthBook's paddedVersionString: versions become plainly comparable texts.

    "v1.2.3-rc.1+build" -> "    1-    2-    3-rc-    1"; numbers are padded so that
    "9" < "10", and a release gets a "~" so that it sorts after its pre-releases.
    """
    if _is_number(v):
        v = _js_string(v)
    if not isinstance(v, str):
        return None
    return _pad_version_text(v)


@functools.lru_cache(maxsize=4096)  # few distinct app versions are seen in practice
def _pad_version_text(v: str) -> str:
    parts = re.split(r"[-.]", _VERSION_NOISE.sub("", v))
    if len(parts) == 3:
        parts.append("~")
    return "-".join(p.rjust(5) if _DIGITS.fullmatch(p) else p for p in parts)


@functools.lru_cache(maxsize=4096)
def _split_path(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def _read(obj: Any, parts: tuple[str, ...]) -> Any:
    """The attribute at a dotted path; None when missing (GrowthBook reads missing as null)."""
    current = obj
    for part in parts:
        if isinstance(current, Mapping):
            if part not in current:
                return None
            current = current[part]
        elif _is_array(current) and part.isascii() and part.isdigit() and str(int(part)) == part:
            # JS `"0" in array` is true: "items.0.sku" reads the first item, as in GrowthBook.
            index = int(part)
            if index >= len(current):
                return None
            current = current[index]
        else:
            return None
    return current


# --- Compiling: a rule becomes nested closures ----------------------------------------------------


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


def _negate(test: Predicate) -> Predicate:
    return lambda value: not test(value)


def _all_of(tests: list[Predicate]) -> Predicate:
    if not tests:
        return _always
    if len(tests) == 1:
        return tests[0]

    def all_of(value: Any) -> bool:
        for test in tests:
            if not test(value):
                return False
        return True

    return all_of


def _any_of(tests: list[Predicate]) -> Predicate:
    def any_of(value: Any) -> bool:
        for test in tests:
            if test(value):
                return True
        return False

    return any_of


def _compile_condition(condition: Any, groups: Groups) -> Predicate:
    if not isinstance(condition, Mapping):
        return _never
    return _all_of([_compile_clause(key, value, groups) for key, value in condition.items()])


def _compile_clause(key: Any, value: Any, groups: Groups) -> Predicate:
    if key in LIST_LOGICAL:
        if not _is_array(value):
            return _never  # malformed: never matches (validate() rejects it)
        tests = [_compile_condition(item, groups) for item in value]
        if key == "$and":
            return _all_of(tests)
        if not tests:  # GrowthBook: an empty $or passes, so an empty $nor fails
            return _always if key == "$or" else _never
        return _any_of(tests) if key == "$or" else _negate(_any_of(tests))
    if key == "$not":
        if not isinstance(value, Mapping):
            return _never
        return _negate(_compile_condition(value, groups))
    if not isinstance(key, str):
        return _never
    parts = _split_path(key)
    test = _compile_test(value, groups)
    return lambda attributes: test(_read(attributes, parts))


def _compile_test(expected: Any, groups: Groups, insensitive: bool = False) -> Predicate:
    """The test applied to one attribute value: operators, or a plain value to equal."""
    if _is_operator_object(expected):
        return _all_of([_operator_predicate(op, arg, groups) for op, arg in expected.items()])
    return lambda actual: _matches_value(expected, actual, insensitive)


def _operator_predicate(op: str, expected: Any, groups: Groups) -> Predicate:
    """One operator, prepared (regex compiled, lists hashed) as a test on the attribute value.

    Shared by the compiler and the interpreter so both give the same answers.
    """
    if op == "$eq":
        if isinstance(expected, str):  # the common case, without the generic type checks
            return lambda actual: isinstance(actual, str) and actual == expected
        return lambda actual: _json_equal(actual, expected)
    if op == "$ne":
        return lambda actual: not _json_equal(actual, expected)
    if op in _RELATIONAL:
        accepts = _RELATIONAL[op]

        def relational(actual: Any) -> bool:
            order = _relational(actual, expected)
            return order is not None and accepts(order)

        return relational
    if op in _VERSION:
        wanted, compare = _padded_version(expected), _VERSION[op]
        if wanted is None:
            return _never

        def version(actual: Any) -> bool:
            have = _padded_version(actual)
            return have is not None and compare(have, wanted)

        return version
    if op == "$exists":
        should_exist = _js_truthy(expected)
        return lambda actual: (actual is not None) == should_exist
    if op == "$type":
        return lambda actual: _js_type(actual) == expected
    if op in _MEMBERSHIP:
        if not _is_array(expected):
            return _never
        values = _ValueSet(expected, fold=op in ("$ini", "$nini"))
        return values.intersects if op in ("$in", "$ini") else _negate(values.intersects)
    if op in _GROUP:
        members = groups.get(expected) if isinstance(expected, str) else None
        if isinstance(members, (str, bytes)) or not isinstance(members, Iterable):
            members = ()  # an unknown group has no members
        values = _ValueSet(members)
        return values.intersects if op == "$inGroup" else _negate(values.intersects)
    if op == "$not":
        return _negate(_compile_test(expected, groups))
    if op == "$size":
        size_test = _compile_test(expected, groups)
        return lambda actual: _is_array(actual) and size_test(len(actual))
    if op == "$elemMatch":
        if _is_operator_object(expected):
            item_test = _compile_test(expected, groups)  # {"$gt": 10}: about each item itself
        elif isinstance(expected, Mapping):
            item_test = _compile_condition(expected, groups)  # {"name": ...}: about item fields
        else:
            return _never
        return lambda actual: _is_array(actual) and any(item_test(item) for item in actual)
    if op in ("$all", "$alli"):
        if not _is_array(expected):
            return _never
        tests = [_compile_test(item, groups, insensitive=op == "$alli") for item in expected]
        return lambda actual: (
            _is_array(actual) and all(any(test(item) for item in actual) for test in tests)
        )
    if op in _REGEX:
        ignore_case, negate = _REGEX[op]
        pattern = _compile_regex(expected, ignore_case) if isinstance(expected, str) else None
        if pattern is None:
            return _never

        def regex_test(actual: Any) -> bool:
            found = _regex_search(pattern, actual)
            return found is not None and found != negate  # timed out: neither matches

        return regex_test
    return _never  # unknown operator: GrowthBook treats it as not matching


# --- Interpreting: evaluate() and explain() ---------------------------------------------------


def _child(path: str, key: Any) -> str:
    """JSON path of a key: `$.age`, or `$["my key"]` when the key would be ambiguous."""
    text = str(key)
    if text and not any(c.isspace() or c in "[]'\"" for c in text):
        return f"{path}.{text}"
    return f"{path}[{json.dumps(text, ensure_ascii=False)}]"


class _Interpreter:
    """Walks a rule directly. With a trace it records one Reason per leaf test (explain)."""

    def __init__(self, groups: Groups, trace: list[Reason] | None) -> None:
        self._groups = groups
        self._trace = trace

    def _every(self, results: Iterable[bool]) -> bool:
        # explain() evaluates every branch so the editor can show all failing tests;
        # evaluate() stops at the first failure, as GrowthBook does.
        return all(list(results) if self._trace is not None else results)

    def _some(self, results: Iterable[bool]) -> bool:
        return any(list(results) if self._trace is not None else results)

    def condition(self, condition: Any, attributes: Any, path: str) -> bool:
        if not isinstance(condition, Mapping):
            return False
        return self._every(
            self._clause(key, value, attributes, _child(path, key))
            for key, value in condition.items()
        )

    def _clause(self, key: Any, value: Any, attributes: Any, path: str) -> bool:
        if key in LIST_LOGICAL:
            if not _is_array(value):
                return False
            results = (
                self.condition(item, attributes, f"{path}[{i}]") for i, item in enumerate(value)
            )
            if key == "$and":
                return self._every(results)
            if not value:  # GrowthBook: an empty $or passes, so an empty $nor fails
                return bool(key == "$or")
            found = self._some(results)
            return found if key == "$or" else not found
        if key == "$not":
            return isinstance(value, Mapping) and not self.condition(value, attributes, path)
        if not isinstance(key, str):
            return False
        return self._test(value, _read(attributes, _split_path(key)), path)

    def _test(self, expected: Any, actual: Any, path: str) -> bool:
        if _is_operator_object(expected):
            return self._every(
                self._record(
                    _child(path, op),
                    op,
                    arg,
                    actual,
                    _operator_predicate(op, arg, self._groups)(actual),
                )
                for op, arg in expected.items()
            )
        return self._record(path, EQUALS, expected, actual, _matches_value(expected, actual))

    def _record(self, path: str, op: str, expected: Any, actual: Any, passed: bool) -> bool:
        if self._trace is not None:
            self._trace.append(Reason(path, op, expected, actual, passed))
        return passed


# --- Validation -------------------------------------------------------------------------------


class _LimitExceeded(Exception):
    """Stops validating a rule that is over the depth or size limit."""


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, bool)) or _is_number(v)


def _operator_suggestion(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else "."


@dataclass
class _Validator:
    max_depth: int
    max_nodes: int
    max_regex_length: int
    max_list_length: int
    errors: list[ConditionError] = field(default_factory=list)
    nodes: int = 0

    def _error(self, path: str, code: str, message: str) -> None:
        self.errors.append(ConditionError(path, code, message))

    def _count(self) -> None:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            self._error(
                "$",
                "too_large",
                f"The rule has more than {self.max_nodes} parts; please split it into "
                "smaller crowds.",
            )
            raise _LimitExceeded

    def _nest(self, path: str, depth: int) -> None:
        """`depth` is the JSON nesting of the object or list at `path` (the rule is 1)."""
        if depth > self.max_depth:
            self._error(
                path,
                "too_deep",
                f"The rule is nested more than {self.max_depth} levels deep at {path}; "
                "please simplify it.",
            )
            raise _LimitExceeded

    def condition(self, condition: Mapping[Any, Any], path: str, depth: int) -> None:
        self._nest(path, depth)
        self._count()
        for key, value in condition.items():
            here = _child(path, key)
            self._count()
            if not isinstance(key, str):
                self._error(here, "wrong_type", f"The attribute name at {here} must be text.")
            elif key in LIST_LOGICAL:
                self._logical_list(key, value, path, here, depth + 1)
            elif key == "$not":
                if isinstance(value, Mapping):
                    self.condition(value, here, depth + 1)
                else:
                    self._error(here, "wrong_type", f"'$not' at {path} needs a condition object.")
            elif key.startswith("$"):
                if key in FIELD_OPERATORS:
                    message = (
                        f"Operator '{key}' at {path} must follow an attribute name, "
                        f'like {{"age": {{"{key}": ...}}}}.'
                    )
                else:
                    message = f"Unknown operator '{key}' at {path}" + _operator_suggestion(
                        key, LOGICAL_OPERATORS
                    )
                self._error(here, "unknown_operator", message)
            else:
                self._test(value, here, depth + 1)

    def _logical_list(self, key: str, value: Any, parent: str, path: str, depth: int) -> None:
        if not _is_array(value):
            self._error(path, "wrong_type", f"'{key}' at {parent} needs a list of conditions.")
            return
        self._nest(path, depth)
        for i, item in enumerate(value):
            item_path = f"{path}[{i}]"
            if isinstance(item, Mapping):
                self.condition(item, item_path, depth + 1)
            else:
                self._error(
                    item_path,
                    "wrong_type",
                    f"Entry {i} of '{key}' at {parent} must be a condition object.",
                )

    def _test(self, value: Any, path: str, depth: int) -> None:
        """What an attribute is tested against: operators, or a plain value to equal."""
        if _is_operator_object(value):
            self._nest(path, depth)
            for op, arg in value.items():
                self._operator(op, arg, path, depth + 1)
        elif isinstance(value, Mapping) and any(
            isinstance(k, str) and k.startswith("$") for k in value
        ):
            self._error(
                path,
                "wrong_type",
                f"The test at {path} mixes operators with plain fields; use only operators "
                "such as '$eq', or only plain fields.",
            )
        else:
            self._literal(value, path, depth)

    def _literal(self, value: Any, path: str, depth: int) -> None:
        self._count()
        if isinstance(value, Mapping):
            self._nest(path, depth)
            for key, item in value.items():
                self._literal(item, _child(path, key), depth + 1)
        elif _is_array(value):
            self._nest(path, depth)
            if self._list_too_long(value, path):
                return
            for i, item in enumerate(value):
                self._literal(item, f"{path}[{i}]", depth + 1)
        elif not _is_scalar(value):
            self._error(
                path,
                "wrong_type",
                f"The value at {path} must be text, a number, true/false or null.",
            )

    def _list_too_long(self, value: Sequence[Any], path: str) -> bool:
        if len(value) <= self.max_list_length:
            return False
        self._error(
            path,
            "too_large",
            f"The list at {path} has {len(value)} values; at most {self.max_list_length} "
            "are allowed.",
        )
        return True

    def _operator(self, op: str, arg: Any, parent: str, depth: int) -> None:
        """Check one operator; `depth` is the nesting `arg` has if it is an object or list."""
        here = _child(parent, op)
        self._count()

        def wrong(needs: str) -> None:
            self._error(here, "wrong_type", f"'{op}' at {parent} needs {needs}.")

        if op not in FIELD_OPERATORS:
            if op in LOGICAL_OPERATORS:
                message = (
                    f"'{op}' at {parent} combines whole conditions, so it cannot be used "
                    "inside an attribute test."
                )
            else:
                message = f"Unknown operator '{op}' at {parent}" + _operator_suggestion(
                    op, FIELD_OPERATORS
                )
            self._error(here, "unknown_operator", message)
        elif op in ("$eq", "$ne"):
            self._literal(arg, here, depth)
        elif op in _RELATIONAL:
            if not (_is_number(arg) or isinstance(arg, str)):
                wrong("a number or a text")
        elif op in _MEMBERSHIP:
            if not _is_array(arg):
                wrong("a list of values")
            elif not self._list_too_long(arg, here) and not all(_is_scalar(v) for v in arg):
                wrong("a list of plain values (text, numbers, true/false or null)")
        elif op in ("$all", "$alli"):
            if not _is_array(arg):
                wrong("a list of values")
            elif not self._list_too_long(arg, here):
                self._nest(here, depth)
                for i, item in enumerate(arg):
                    self._test(item, f"{here}[{i}]", depth + 1)
        elif op == "$elemMatch":
            if not isinstance(arg, Mapping):
                wrong('an object, like {"$eq": "vip"} or {"name": "vip"}')
            elif _is_operator_object(arg):
                self._test(arg, here, depth)
            else:
                self.condition(arg, here, depth)
        elif op == "$size":
            if _is_operator_object(arg):
                self._test(arg, here, depth)
            elif not (_is_number(arg) and arg >= 0 and float(arg).is_integer()):
                wrong('a whole number, or a condition like {"$gt": 2}')
        elif op == "$exists":
            if not isinstance(arg, bool):
                wrong("true or false")
        elif op == "$type":
            if arg not in TYPE_NAMES:
                wrong("one of these types: " + ", ".join(TYPE_NAMES))
        elif op == "$not":
            if isinstance(arg, Mapping):
                self._test(arg, here, depth)
            else:
                wrong('an object, like {"$regex": "^test"}')
        elif op in _REGEX:
            self._regex(op, arg, parent, here)
        elif op in _VERSION:
            if not isinstance(arg, str) or not arg:
                wrong('a version text, like "1.2.3"')
        elif op in _GROUP:
            if not isinstance(arg, str) or not arg:
                wrong("the id of a saved group")

    def _regex(self, op: str, arg: Any, parent: str, here: str) -> None:
        if not isinstance(arg, str):
            self._error(here, "wrong_type", f"'{op}' at {parent} needs a text pattern.")
        elif len(arg) > self.max_regex_length:
            self._error(
                here,
                "regex_too_long",
                f"The pattern at {here} is {len(arg)} characters long; at most "
                f"{self.max_regex_length} are allowed.",
            )
        else:
            try:
                regex.compile(arg, regex.IGNORECASE if _REGEX[op][0] else 0)
            except Exception as exc:  # the library's own words, e.g. "missing )"
                self._error(
                    here,
                    "bad_regex",
                    f"The pattern at {here} is not a valid regular expression: {exc}.",
                )
