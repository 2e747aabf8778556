"""Crowd scores for visitors whose attributes are partly unknown: P(rule holds).

A crowd rule (a GrowthBook condition, see ``app.core.conditions``) decides 1 or 0 when
every attribute it reads is known. For an anonymous visitor the attribute models
predict calibrated distributions of some attributes (gender, age_band,
price_sensitivity, purchase_intent_7d, ...); the crowd then scores the probability
that its rule holds. Pure module: no I/O; the only shared state is a bounded cache of
compiled rules.

Semantics, exactly:

* A *distribution* maps each possible value of one attribute to its probability.
  Every probability must be a finite number >= 0 (``bool`` is refused, ``Decimal``
  and numpy floats are accepted) and they must sum to 1 within ``1e-6``; they are then
  divided by their sum, so they sum to 1. Anything else raises ``ValueError`` naming
  the attribute. ``predicted`` maps attribute names (text) to distributions; every
  distribution in it is validated on every call, also one that no rule uses (a
  broken model output is never silently ignored). Values
  with probability 0 are kept in the normalised distribution but never enumerated. A
  value ``None`` is allowed and reads as a missing attribute.
* An attribute is *unknown* for a rule when (1) the rule references it: the
  top-level name of a path the rule reads (``"father.age"`` -> ``"father"``, as
  ``referenced_attributes`` reports it), (2) it is missing or ``None`` in
  ``attributes``, and (3) ``predicted`` has a distribution for it. A known attribute
  always wins over its prediction.
* An attribute the rule reads that is missing/``None`` and *not* predicted is seen
  by the rule as missing, exactly like a known ``None`` (GrowthBook reads it as
  null): ``{"gender": {"$exists": false}}`` holds, ``{"monetary": {"$lte": 10}}``
  holds (a missing value compares as 0). It never makes a score probabilistic.
* No unknown attribute: the rule is evaluated by the real evaluator; probability
  1.0 or 0.0, source ``"rule"``, method ``"exact"``, ``unknown == ()``.
* Otherwise source ``"model"`` and the probability that the rule holds when every
  unknown attribute is drawn *independently* from its distribution, the known
  attributes staying as they are. ``unknown`` lists the unknown attributes in the
  order of ``predicted``. The attribute models give marginals; independence between
  them is the modelling assumption (e.g. gender and age band are treated as
  independent), and "exact" below means exact under it.

  - method ``"enumeration"`` (the product of the support sizes of the unknown
    attributes is at most ``max_assignments``): the joint assignments of the
    unknown attributes are evaluated with the real, compiled rule over the known
    attributes plus the assignment, and the probabilities of the assignments where
    the rule holds are summed. Exact, and consistent for every operator by
    construction: ``$and``/``$or``/``$not``/``$nor``, several tests on one
    attribute (``{"$and": [{"age_band": {"$in": ["18-24", "25-34"]}},
    {"age_band": {"$ne": "18-24"}}]}`` is P(25-34) = 0.4, not the product 0.45),
    ``$in``, ``$ne``, ``$nin``, loose equality, relational tests, ``$exists`` ...
    To evaluate less, the rule's top-level ``$and`` (the tests of its object and
    the conditions of a top-level ``"$and"``, flattened) is factorised first: a
    conjunct reading no unknown attribute is evaluated once (one failing gives 0);
    the others are grouped by shared unknown attributes, each group's joint is
    enumerated with its compiled conjuncts, and the groups, independent, multiply.
    This is the same number as enumerating the whole joint.
  - method ``"composition"`` (the joint is larger): the rule tree is split.
    A (sub-)condition whose free unknown attributes have a joint support of at
    most ``max_assignments``, or that reads at most one unknown attribute, is
    enumerated as above. Otherwise an object with several tests is the ``$and`` of
    them, and the children of an ``$and``/``$or``/``$nor`` are grouped into
    components that share unknown attributes. Components are independent:
    ``$and`` multiplies their probabilities, ``$or`` gives ``1 - prod(1 - p)``,
    ``$nor`` gives ``prod(1 - p)``, and ``$not`` gives ``1 - p``. A component of
    several children is enumerated jointly when its joint support fits; else the
    attributes its children share are enumerated (conditioning: given them the
    children are independent) when their joint support fits or when there is only
    one of them. All of this is exact. **The one approximation:** when children of
    one ``$and``/``$or``/``$nor`` share two or more unknown attributes whose joint
    support exceeds ``max_assignments``, they are combined as if independent
    (e.g. ``{"$or": [{"gender": "female", "age_band": "25-34"}, {"gender": "male",
    "age_band": {"$ne": "25-34"}}]}`` with ``max_assignments=4`` gives
    1 - 0.72 * 0.82 = 0.4096 instead of the exact 0.46 when P(female) = 0.7 and
    P(25-34) = 0.4).
    ``max_assignments`` bounds each single enumeration, not the total work; it
    must be a whole number >= 1 (else ``ValueError``). A rule whose logical
    operators nest more than 32 deep (never a saved one: ``validate`` allows 12) is
    enumerated whole instead, whatever the budget.

  Probabilities are always within [0, 1], and (outside the approximation) exactly
  1.0 or 0.0 when the rule holds or fails for every possible assignment, whatever
  the rounding of the probabilities, so a threshold of 1.0 works as expected.
* Rules are treated as immutable: each rule object (or ``Crowd``) is prepared once
  and cached by identity (bounded; the oldest go first). A changed rule must be a
  new object. Malformed rules never raise: a malformed piece does not match, as in
  ``evaluate``.

``score_crowds_with_predictions`` is ``app.core.crowds.score_crowds`` with these
probabilities: same ordering (in the crowd first, then priority, score, id), same
``CrowdScore`` fields, ``matched = score >= crowd.threshold``. It uses each crowd's
compiled ``predicate`` and referenced ``attributes`` (crowds from ``Crowd.compile``).
A crowd without unknown attributes gets exactly the ``CrowdScore`` that
``score_crowds`` gives it (source ``"rule"``); with nothing predicted the result is
``score_crowds``'s. A crowd with unknown attributes gets source ``"model"``, the
probability as score, and the reason ``"model: P=0.73 over gender, age_band
(enumeration)"`` (P to two decimals, the unknown attributes in the order of
``predicted``, the method), followed by ``"; unknown, not predicted: city"`` when
the rule also reads attributes that are missing and not predicted. Within one call,
conjuncts with the same JSON text are enumerated once and shared between crowds.

Public API:
    Distribution, RuleScore
    normalise_distribution(distribution, attribute="") -> dict[value, probability]
    rule_probability(condition, attributes, predicted, *, max_assignments=512) -> RuleScore
    score_crowds_with_predictions(crowds, attributes, predicted, *, max_assignments=512)
        -> tuple[CrowdScore, ...]
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from numbers import Real
from typing import Any, Final

from app.core.conditions import compile_condition, referenced_attributes
from app.core.crowds import Crowd, score_crowds
from app.core.decision import CrowdScore

__all__ = [
    "DEFAULT_MAX_ASSIGNMENTS",
    "METHOD_COMPOSITION",
    "METHOD_ENUMERATION",
    "METHOD_EXACT",
    "SOURCE_MODEL",
    "SOURCE_RULE",
    "SUM_TOLERANCE",
    "Distribution",
    "RuleScore",
    "normalise_distribution",
    "rule_probability",
    "score_crowds_with_predictions",
]

Distribution = Mapping[Any, float]
Predicate = Callable[[Mapping[str, Any]], bool]
# One attribute's enumerable values: (value, probability > 0) pairs, summing to 1.
_Support = tuple[tuple[Any, float], ...]

SUM_TOLERANCE: Final = 1e-6
DEFAULT_MAX_ASSIGNMENTS: Final = 512
SOURCE_RULE: Final = "rule"
SOURCE_MODEL: Final = "model"
METHOD_EXACT: Final = "exact"
METHOD_ENUMERATION: Final = "enumeration"
METHOD_COMPOSITION: Final = "composition"

_PLAN_CACHE_SIZE: Final = 4096  # rules (or crowds) kept compiled
# Composition recurses along the rule; a rule nested deeper than this (validate() caps
# saved rules at 12 levels of JSON) is enumerated whole instead.
_MAX_COMPOSITION_DEPTH: Final = 32


@dataclass(frozen=True)
class RuleScore:
    """P(rule holds) for one visitor; see the module docstring for the exact semantics.

    ``source`` is "rule" (decided by known attributes) or "model" (predictions used);
    ``unknown`` the predicted attributes the probability ranges over (in the order of
    ``predicted``); ``method`` "exact", "enumeration" or "composition".
    """

    probability: float
    source: str
    unknown: tuple[str, ...]
    method: str


_HOLDS = RuleScore(1.0, SOURCE_RULE, (), METHOD_EXACT)
_FAILS = RuleScore(0.0, SOURCE_RULE, (), METHOD_EXACT)


# --- Distributions ----------------------------------------------------------------------------


def normalise_distribution(distribution: Any, attribute: str = "") -> dict[Any, float]:
    """The validated distribution, divided by its sum; ValueError says what is wrong."""

    def problem(text: str) -> ValueError:
        what = (
            f"The predicted distribution of '{attribute}'"
            if attribute
            else "A predicted distribution"
        )
        return ValueError(f"{what} {text}")

    if not isinstance(distribution, dict) and not isinstance(distribution, Mapping):
        raise problem(
            f"must map each value to its probability, not be a {type(distribution).__name__}."
        )
    if not distribution:
        raise problem("is empty; it needs at least one value with its probability.")
    probabilities: dict[Any, float] = {}
    for value, p in distribution.items():
        if type(p) is not float and (isinstance(p, bool) or not isinstance(p, (Real, Decimal))):
            raise problem(f"gives {value!r} the probability {p!r}, which is not a number.")
        q = float(p)
        if not 0.0 <= q < math.inf:  # also refuses NaN
            raise problem(
                f"gives {value!r} the probability {p!r}; a probability must be a finite "
                "number of at least 0."
            )
        probabilities[value] = q
    total = math.fsum(probabilities.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise problem(
            f"has probabilities summing to {total!r}; they must sum to 1 "
            f"(within {SUM_TOLERANCE:g})."
        )
    if total == 1.0:
        return probabilities
    return {value: q / total for value, q in probabilities.items()}


def _supports(predicted: Any) -> dict[str, _Support]:
    if not isinstance(predicted, Mapping):
        raise ValueError(  # noqa: TRY004 - bad input data, reported as ValueError throughout
            "The predictions must map attribute names to distributions, "
            f"not be a {type(predicted).__name__}."
        )
    supports: dict[str, _Support] = {}
    for name, distribution in predicted.items():
        if not isinstance(name, str):
            raise ValueError(f"A predicted attribute name must be text, not {name!r}.")  # noqa: TRY004
        normal = normalise_distribution(distribution, name)
        supports[name] = tuple((value, p) for value, p in normal.items() if p > 0)
    return supports


def _check_budget(max_assignments: int) -> None:
    if isinstance(max_assignments, bool) or not isinstance(max_assignments, int):
        raise ValueError(  # noqa: TRY004
            f"max_assignments must be a whole number, not {max_assignments!r}."
        )
    if max_assignments < 1:
        raise ValueError(f"max_assignments must be at least 1, not {max_assignments}.")


# --- Compiled rules, cached per rule object -------------------------------------------------


def _top_levels(paths: Iterable[str]) -> frozenset[str]:
    return frozenset(path.split(".", 1)[0] for path in paths)


@dataclass(frozen=True)
class _Factor:
    """One conjunct of a rule's top-level $and, compiled.

    ``key`` is its canonical JSON text (None when it has none): within one visitor's
    call, conjuncts with the same text have the same probability, so crowds that share
    a test (``{"gender": "female"}``) enumerate it once.
    """

    predicate: Predicate
    tops: frozenset[str]
    key: str | None
    memo_key: tuple[str] | None  # (key,): how a group of this conjunct alone is memoised


@dataclass(frozen=True)
class _Plan:
    """A rule prepared once: its predicate, the names it reads, its conjuncts."""

    condition: Any
    predicate: Predicate
    tops: frozenset[str]  # top-level names of the paths the rule reads
    paths: tuple[tuple[str, str], ...]  # (path, its top-level name), sorted by path
    factors: tuple[_Factor, ...]
    depth: int  # nesting of $and/$or/$nor/$not


def _conjuncts(condition: Any) -> list[Any]:
    """The rule as a list of conditions that must all hold (its top-level $and, flattened).

    ``{"a": 1, "$and": [{"b": 2}, {"c": 3, "d": 4}]}`` -> ``[{"a": 1}, {"b": 2},
    {"c": 3}, {"d": 4}]``. Evaluating all of them agrees with evaluating the rule,
    malformed pieces included (they become conjuncts that never hold).
    """
    if not isinstance(condition, Mapping):
        return [condition]
    out: list[Any] = []
    for key, value in condition.items():
        if key == "$and" and isinstance(value, (list, tuple)):
            for item in value:
                out.extend(_conjuncts(item))
        else:
            out.append({key: value})
    return out


def _text_keys_only(value: Any) -> bool:
    """Whether every object key is text: json.dumps would turn 1 into "1" silently."""
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, Mapping):
            if not all(isinstance(key, str) for key in current):
                return False
            pending.extend(current.values())
        elif isinstance(current, (list, tuple)):
            pending.extend(current)
    return True


def _canonical(part: Any) -> str | None:
    """A text equal for two conjuncts only if they test the same; None: do not share."""
    if not _text_keys_only(part):
        return None
    try:
        return json.dumps(part, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):  # Decimal, sets ...: no sharing
        return None


def _factor(part: Any) -> _Factor:
    key = _canonical(part)
    return _Factor(
        compile_condition(part),
        _top_levels(referenced_attributes(part)),
        key,
        None if key is None else (key,),
    )


def _build_plan(condition: Any, predicate: Predicate, paths: Iterable[str]) -> _Plan:
    pairs = tuple((path, path.split(".", 1)[0]) for path in sorted(paths))
    tops = frozenset(top for _, top in pairs)
    try:
        factors = tuple(_factor(part) for part in _conjuncts(condition))
    except RecursionError:  # a hostile, deeply nested $and: the whole rule is one factor
        factors = (_Factor(predicate, tops, None, None),)
    return _Plan(condition, predicate, tops, pairs, factors, _logical_depth(condition))


def _logical_depth(condition: Any) -> int:
    """How deep $and/$or/$nor/$not nest (iterative: a hostile rule can't exhaust the stack)."""
    deepest = 0
    pending = [(condition, 0)]
    while pending:
        current, depth = pending.pop()
        deepest = max(deepest, depth)
        if not isinstance(current, Mapping):
            continue
        for key, value in current.items():
            if key in ("$and", "$or", "$nor") and isinstance(value, (list, tuple)):
                pending.extend((item, depth + 1) for item in value)
            elif key == "$not":
                pending.append((value, depth + 1))
    return deepest


_plans: dict[int, tuple[Any, _Plan]] = {}  # id -> (the object, its plan); insertion order
_plans_lock = threading.Lock()


def _plan_of(owner: Any) -> _Plan:
    """The plan of a rule object or a Crowd, prepared once per object (by identity).

    The entry holds the object itself, so its id cannot be reused by another object
    while it is cached; the oldest entries go first when the cache is full. A Crowd's
    own compiled ``predicate`` and ``attributes`` are used.
    """
    hit = _plans.get(id(owner))  # reads need no lock: dict.get is atomic
    if hit is not None and hit[0] is owner:
        return hit[1]
    if isinstance(owner, Crowd):
        plan = _build_plan(owner.condition, owner.predicate, owner.attributes)
    else:
        plan = _build_plan(owner, compile_condition(owner), referenced_attributes(owner))
    with _plans_lock:
        _plans[id(owner)] = (owner, plan)
        while len(_plans) > _PLAN_CACHE_SIZE:
            del _plans[next(iter(_plans))]
    return plan


# --- Probability of a rule ----------------------------------------------------------------------


_ABSENT: Final = object()


def _joint_size(names: Iterable[str], supports: Mapping[str, _Support]) -> int:
    size = 1
    for name in names:
        size *= len(supports[name])
    return size


def _enumerate(
    predicate: Predicate,
    work: dict[str, Any],
    names: Sequence[str],
    supports: Mapping[str, _Support],
) -> float:
    """P(predicate) over the joint assignments of ``names``; ``work`` is restored after.

    Returns held / (held + failed): exactly 1.0 or 0.0 when one side is empty.
    """
    if not names:
        return 1.0 if predicate(work) else 0.0
    saved = [work.get(name, _ABSENT) for name in names]
    held = failed = 0.0
    try:
        if len(names) == 1:  # the common cases, without the generic product
            name = names[0]
            for value, p in supports[name]:
                work[name] = value
                if predicate(work):
                    held += p
                else:
                    failed += p
        elif len(names) == 2:
            first, second = names
            inner = supports[second]
            for value, p in supports[first]:
                work[first] = value
                for other, q in inner:
                    work[second] = other
                    if predicate(work):
                        held += p * q
                    else:
                        failed += p * q
        else:
            for combo in itertools.product(*(supports[name] for name in names)):
                p = 1.0
                for name, (value, q) in zip(names, combo):
                    work[name] = value
                    p *= q
                if predicate(work):
                    held += p
                else:
                    failed += p
    finally:
        _restore(work, names, saved)
    total = held + failed
    return held / total if total > 0 else 0.0


def _all_of(predicates: Sequence[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]

    def all_of(attributes: Mapping[str, Any]) -> bool:
        for predicate in predicates:
            if not predicate(attributes):
                return False
        return True

    return all_of


def _factorised(
    plan: _Plan,
    unknown: Sequence[str],
    unknown_set: frozenset[str],
    attributes: Mapping[str, Any],
    work: dict[str, Any],
    supports: Mapping[str, _Support],
    memo: dict[tuple[str, ...], float] | None,
) -> float:
    """Enumeration, factorised over the rule's top-level $and (exact under independence).

    Conjuncts reading no unknown attribute are evaluated once (one failing: 0).
    The others are grouped by shared unknown attributes; each group's joint
    assignments are enumerated with its compiled conjuncts, and the groups, being
    independent, multiply. Same number as enumerating the whole joint, with fewer
    evaluations. ``memo`` (one visitor, one call) maps the texts of a group of
    conjuncts to its probability.
    """
    pending: list[tuple[_Factor, frozenset[str]]] = []
    for factor in plan.factors:
        hit = factor.tops & unknown_set
        if hit:
            pending.append((factor, hit))
        elif not factor.predicate(attributes):
            return 0.0
    if not pending:
        return 1.0
    if len(pending) == 1 or sum(len(h) for _, h in pending) == len(
        frozenset().union(*(h for _, h in pending))
    ):  # the common case: every conjunct reads its own unknown attributes
        groups: list[list[int]] = [[i] for i in range(len(pending))]
    else:
        groups = _components([set(h) for _, h in pending])
    probability = 1.0
    key: tuple[str, ...] | None
    for group in groups:
        if len(group) == 1:  # the common case
            factor, hit = pending[group[0]]
            key = factor.memo_key
            predicate = factor.predicate
        else:
            factors = [pending[i][0] for i in group]
            texts = [f.key for f in factors if f.key is not None]
            key = tuple(sorted(texts)) if len(texts) == len(factors) else None
            hit = frozenset().union(*(pending[i][1] for i in group))
            predicate = _all_of([f.predicate for f in factors])
        cached = memo.get(key) if memo is not None and key is not None else None
        if cached is None:
            names = tuple(hit) if len(hit) == 1 else tuple(n for n in unknown if n in hit)
            cached = _enumerate(predicate, work, names, supports)
            if memo is not None and key is not None:
                memo[key] = cached
        probability *= cached
        if probability == 0.0:
            break
    return probability


def _restore(work: dict[str, Any], names: Sequence[str], saved: Sequence[Any]) -> None:
    for name, old in zip(names, saved):
        if old is _ABSENT:
            work.pop(name, None)
        else:
            work[name] = old


def _clamp(p: float) -> float:
    return 0.0 if p <= 0.0 else min(1.0, p)


def _independent(probabilities: Iterable[float], op: str) -> float:
    """Combine independent children: $and multiplies, $or is 1 - prod(1 - p)."""
    result = 1.0
    if op == "$and":
        for p in probabilities:
            result *= p
        return result
    for p in probabilities:
        result *= 1.0 - p
    return 1.0 - result


class _Composer:
    """Composition over the rule tree for one call (see the module docstring)."""

    def __init__(
        self,
        work: dict[str, Any],
        supports: Mapping[str, _Support],
        order: Sequence[str],
        max_assignments: int,
    ) -> None:
        self._work = work
        self._supports = supports
        self._order = order  # the unknown attributes, in the order of `predicted`
        self._max = max_assignments
        # id -> (object, value): the object is kept so that its id is not reused.
        self._predicates: dict[int, tuple[Any, Predicate]] = {}
        self._unknown: dict[int, tuple[Any, tuple[str, ...]]] = {}
        self._split: dict[int, tuple[Any, list[dict[str, Any]]]] = {}

    def _clauses(self, condition: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``{"a": 1, "b": 2}`` -> ``[{"a": 1}, {"b": 2}]``, the same objects every time."""
        hit = self._split.get(id(condition))
        if hit is None:
            hit = (condition, [{key: value} for key, value in condition.items()])
            self._split[id(condition)] = hit
        return hit[1]

    def _predicate(self, condition: Any) -> Predicate:
        hit = self._predicates.get(id(condition))
        if hit is None:
            hit = (condition, compile_condition(condition))
            self._predicates[id(condition)] = hit
        return hit[1]

    def _unknown_of(self, condition: Any) -> tuple[str, ...]:
        hit = self._unknown.get(id(condition))
        if hit is None:
            tops = _top_levels(referenced_attributes(condition))
            hit = (condition, tuple(name for name in self._order if name in tops))
            self._unknown[id(condition)] = hit
        return hit[1]

    def _fits(self, names: Sequence[str]) -> bool:
        return len(names) <= 1 or _joint_size(names, self._supports) <= self._max

    def node(self, condition: Any, fixed: frozenset[str]) -> float:
        free = tuple(name for name in self._unknown_of(condition) if name not in fixed)
        if self._fits(free) or not isinstance(condition, Mapping):
            return _enumerate(self._predicate(condition), self._work, free, self._supports)
        if len(condition) > 1:  # an object of several tests is their $and
            return self._combine(self._clauses(condition), "$and", fixed)
        ((key, value),) = condition.items()
        # Only lists/objects the evaluator descends into reference attributes, so a
        # logical operator here has a well-formed operand.
        if key in ("$and", "$or"):
            return self._combine(value, key, fixed)
        if key == "$nor":
            return 1.0 - self._combine(value, "$or", fixed)
        if key == "$not":
            return 1.0 - self.node(value, fixed)
        # A field test reads one top-level attribute, so it fits; kept for safety.
        return _enumerate(self._predicate(condition), self._work, free, self._supports)

    def _combine(self, children: Sequence[Any], op: str, fixed: frozenset[str]) -> float:
        """P($and / $or of the children), given the attributes in ``fixed``."""
        free = [set(self._free(child, fixed)) for child in children]
        probabilities = []
        for component in _components(free):
            members = [children[i] for i in component]
            if len(members) == 1:
                probabilities.append(self.node(members[0], fixed))
                continue
            names = [n for n in self._order if any(n in free[i] for i in component)]
            if self._fits(names):
                group = {op: members}
                probabilities.append(
                    _enumerate(self._predicate_of_group(group), self._work, names, self._supports)
                )
                continue
            shared = [n for n in names if sum(n in free[i] for i in component) > 1]
            if self._fits(shared):
                probabilities.append(self._condition_on(shared, members, op, fixed))
            else:  # the documented approximation: shared attributes taken as independent
                probabilities.append(_independent((self.node(m, fixed) for m in members), op))
        return _clamp(_independent(probabilities, op))

    def _predicate_of_group(self, group: dict[str, Any]) -> Predicate:
        predicate = compile_condition(group)
        self._predicates[id(group)] = (group, predicate)  # keeps `group` alive with its id
        return predicate

    def _free(self, condition: Any, fixed: frozenset[str]) -> tuple[str, ...]:
        return tuple(name for name in self._unknown_of(condition) if name not in fixed)

    def _condition_on(
        self, shared: Sequence[str], members: Sequence[Any], op: str, fixed: frozenset[str]
    ) -> float:
        """Sum over the shared attributes' assignments: given them, children are independent."""
        work = self._work
        saved = [work.get(name, _ABSENT) for name in shared]
        inner = fixed | frozenset(shared)
        total = weights = 0.0
        try:
            for combo in itertools.product(*(self._supports[name] for name in shared)):
                weight = 1.0
                for name, (value, q) in zip(shared, combo):
                    work[name] = value
                    weight *= q
                total += weight * self._combine(members, op, inner)
                weights += weight
        finally:
            _restore(work, shared, saved)
        # Divided by the weights' own float sum: exactly 1.0 when every branch is 1.0.
        return _clamp(total / weights) if weights > 0 else 0.0


def _components(free: Sequence[set[str]]) -> list[list[int]]:
    """Indexes of children grouped by shared attributes (transitively), in order."""
    parent = list(range(len(free)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, names in enumerate(free):
        for name in names:
            if name in owner:
                a, b = root(owner[name]), root(i)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[name] = i
    groups: dict[int, list[int]] = {}
    for i in range(len(free)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _unknown(
    plan: _Plan, attributes: Mapping[str, Any], supports: Mapping[str, _Support]
) -> tuple[str, ...]:
    """The rule's unknown attributes: read, missing or None, and predicted."""
    tops = plan.tops
    return tuple(name for name in supports if name in tops and attributes.get(name) is None)


def _score(
    plan: _Plan,
    unknown: tuple[str, ...],
    attributes: Mapping[str, Any],
    work: dict[str, Any],
    supports: Mapping[str, _Support],
    max_assignments: int,
    memo: dict[tuple[str, ...], float] | None = None,
) -> RuleScore:
    """``unknown`` is _unknown(plan, attributes, supports); ``work`` a mutable copy of
    ``attributes``, left as it was found."""
    if not unknown:
        return _HOLDS if plan.predicate(attributes) else _FAILS
    if _joint_size(unknown, supports) <= max_assignments:
        p = _factorised(plan, unknown, frozenset(unknown), attributes, work, supports, memo)
        return RuleScore(_clamp(p), SOURCE_MODEL, unknown, METHOD_ENUMERATION)
    if plan.depth > _MAX_COMPOSITION_DEPTH:  # hostile nesting: enumerate, over budget
        p = _enumerate(plan.predicate, work, unknown, supports)
        return RuleScore(_clamp(p), SOURCE_MODEL, unknown, METHOD_ENUMERATION)
    p = _Composer(work, supports, unknown, max_assignments).node(plan.condition, frozenset())
    return RuleScore(_clamp(p), SOURCE_MODEL, unknown, METHOD_COMPOSITION)


def rule_probability(
    condition: Mapping[str, Any],
    attributes: Mapping[str, Any],
    predicted: Mapping[str, Distribution],
    *,
    max_assignments: int = DEFAULT_MAX_ASSIGNMENTS,
) -> RuleScore:
    """P(the rule holds) for a visitor with known ``attributes`` and ``predicted`` ones.

    See the module docstring for the exact semantics. Raises ValueError for an invalid
    distribution or ``max_assignments`` < 1; never for a malformed rule (a malformed
    piece does not match, as in ``evaluate``).
    """
    _check_budget(max_assignments)
    supports = _supports(predicted)
    plan = _plan_of(condition)
    unknown = _unknown(plan, attributes, supports)
    return _score(plan, unknown, attributes, dict(attributes), supports, max_assignments)


def score_crowds_with_predictions(
    crowds: Iterable[Crowd],
    attributes: Mapping[str, Any],
    predicted: Mapping[str, Distribution],
    *,
    max_assignments: int = DEFAULT_MAX_ASSIGNMENTS,
) -> tuple[CrowdScore, ...]:
    """``score_crowds`` where unknown attributes are filled by predicted distributions.

    Uses each crowd's compiled ``predicate`` and referenced ``attributes`` (crowds come
    from ``Crowd.compile``). A crowd with no unknown attribute gets exactly the score
    ``score_crowds`` gives; with nothing predicted this is ``score_crowds`` itself.
    """
    _check_budget(max_assignments)
    supports = _supports(predicted)
    if not supports:
        return score_crowds(crowds, attributes)
    work = dict(attributes)
    memo: dict[tuple[str, ...], float] = {}
    scores: list[CrowdScore] = []
    for crowd in crowds:
        plan = _plan_of(crowd)
        unknown = _unknown(plan, attributes, supports)
        if not unknown:  # decided by known attributes
            scores.append(score_crowds((crowd,), attributes)[0])
            continue
        result = _score(plan, unknown, attributes, work, supports, max_assignments, memo)
        reason = (
            f"model: P={result.probability:.2f} over {', '.join(result.unknown)} ({result.method})"
        )
        missing = [
            path for path, top in plan.paths if top not in supports and attributes.get(top) is None
        ]
        if missing:
            reason += f"; unknown, not predicted: {', '.join(missing)}"
        scores.append(
            CrowdScore(
                id=crowd.id,
                score=result.probability,
                source=SOURCE_MODEL,
                matched=result.probability >= crowd.threshold,
                priority=crowd.priority,
                reason=reason,
            )
        )
    scores.sort(key=lambda s: (not s.matched, -s.priority, -s.score, s.id))
    return tuple(scores)
