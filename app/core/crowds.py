"""Crowds (人群): named rules over visitor attributes, and how a visitor is scored on them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.core.conditions import compile_condition, referenced_attributes
from app.core.decision import CrowdScore

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Crowd:
    id: str
    name: str
    condition: Mapping[str, Any]
    priority: int = 0  # higher wins when a visitor is in several crowds
    threshold: float = DEFAULT_THRESHOLD  # a score at or above it counts as "in the crowd"
    description: str = ""
    predicate: Callable[[Mapping[str, Any]], bool] = field(compare=False, repr=False, default=lambda a: False)
    attributes: frozenset[str] = field(compare=False, default=frozenset())

    @classmethod
    def compile(cls, crowd_id: str, body: Mapping[str, Any]) -> Crowd:
        condition = body["condition"]
        return cls(
            id=crowd_id,
            name=body.get("name", crowd_id),
            condition=condition,
            priority=int(body.get("priority", 0)),
            threshold=float(body.get("threshold", DEFAULT_THRESHOLD)),
            description=body.get("description", ""),
            predicate=compile_condition(condition),
            attributes=referenced_attributes(condition),
        )


def missing_matches(condition: Mapping[str, Any], path: str = "$") -> list[tuple[str, str]]:
    """Tests that a visitor *without* the attribute passes: (path, sentence) warnings.

    In GrowthBook's semantics a missing attribute compares as 0 (and as null for
    ``$ne``/``$nin``), so ``{"monetary_top_pct": {"$lte": 10}}`` also holds for every
    visitor who never bought. That is faithful to the rule language, and a trap; the
    write answers with these warnings so that the merchant can add
    ``{"$exists": true}`` or an attribute such as ``is_purchaser``.
    """
    out: list[tuple[str, str]] = []
    for key, value in condition.items():
        if key in ("$and", "$or", "$nor") and isinstance(value, list):
            for i, sub in enumerate(value):
                if isinstance(sub, Mapping):
                    out += missing_matches(sub, f"{path}.{key}[{i}]")
        elif key.startswith("$") or not isinstance(value, Mapping):
            continue
        elif value.get("$exists") is not True:
            for op in ("$lt", "$lte", "$ne", "$nin"):
                operand = value.get(op)
                if op not in value:
                    continue
                if op in ("$lt", "$lte") and not (isinstance(operand, int | float) and operand > 0 or (op == "$lte" and operand == 0)):
                    continue
                out.append(
                    (
                        f"{path}.{key}.{op}",
                        f"Visitors without '{key}' also pass {op} (a missing value counts as "
                        f"{'0' if op in ('$lt', '$lte') else 'null'}); add \"$exists\": true next to it if they should not.",
                    )
                )
    return out


def _top_level(path: str) -> str:
    return path.split(".", 1)[0]


def score_crowds(crowds: Iterable[Crowd], attributes: Mapping[str, Any]) -> tuple[CrowdScore, ...]:
    """Score every crowd for one visitor, best first (priority, then score, then id).

    Every attribute here is known or derived, so a rule decides 1 or 0 ("rule"). An
    attribute the rule reads that the visitor lacks is named in the reason: it is what
    a model fills in once attribute models are published.
    """
    scores: list[CrowdScore] = []
    for c in crowds:
        holds = c.predicate(attributes)
        score = 1.0 if holds else 0.0
        reason = "rule holds"
        if not holds:
            reason = "rule does not hold"
            missing = sorted(a for a in c.attributes if attributes.get(_top_level(a)) is None)
            if missing:
                reason += f"; unknown: {', '.join(missing)}"
        scores.append(
            CrowdScore(
                id=c.id,
                score=score,
                source="rule",
                matched=score >= c.threshold,
                priority=c.priority,
                reason=reason,
            )
        )
    scores.sort(key=lambda s: (not s.matched, -s.priority, -s.score, s.id))
    return tuple(scores)


def as_only_crowd(scores: Iterable[CrowdScore], crowd_id: str) -> tuple[CrowdScore, ...]:
    """The scores of a preview "as a crowd": that crowd matched with score 1, every
    other crowd unmatched with score 0 (priorities kept, so slots choose as usual).

    A merchant sees what the crowd's visitors see, whatever the previewed visitor's own
    attributes; an unknown id leaves every crowd unmatched (the default page).
    """
    forced = [
        CrowdScore(s.id, 1.0, "preview", True, s.priority, "previewed as this crowd")
        if s.id == crowd_id
        else CrowdScore(s.id, 0.0, "preview", False, s.priority, f"preview as crowd {crowd_id}")
        for s in scores
    ]
    forced.sort(key=lambda s: (not s.matched, -s.priority, -s.score, s.id))
    return tuple(forced)
