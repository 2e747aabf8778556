"""What a crowd rule editor asks, answered the same for the JSON API and the console.

- the problems of a rule, with the JSON path of each;
- a rule tested on given attributes: does it hold, and why;
- a rule's size over a sample of visitors' attributes, and its overlap with each crowd;
- the size of every crowd and every pairwise overlap (the console's crowd list).

Pure: the sample of attributes is read by the caller (``app.serving.crowd_sample``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.core import conditions
from app.core.crowds import Crowd
from app.core.problems import Problem

Attributes = Mapping[str, Any]


def condition_problems(condition: Any, root: str = "$.condition") -> list[Problem]:
    """Every problem of a rule; paths are rooted where the rule sits in the request body."""
    return [Problem(root + e.path[1:], e.code, e.message) for e in conditions.validate(condition)]


def rule_test(condition: Mapping[str, Any], attributes: Attributes) -> dict[str, Any]:
    """Whether a (valid) rule holds for ``attributes``, each test's outcome, and what is missing."""
    explanation = conditions.explain(condition, attributes)
    referenced = sorted(conditions.referenced_attributes(condition))
    return {
        "matches": explanation.matches,
        "reasons": [
            {"path": r.path, "operator": r.operator, "expected": r.expected, "actual": r.actual, "passed": r.passed}
            for r in explanation.reasons
        ],
        "referenced_attributes": referenced,
        "missing_attributes": [a for a in referenced if a.split(".", 1)[0] not in attributes],
    }


def preview(condition: Mapping[str, Any], crowds: Sequence[Crowd], attrs: Sequence[Attributes]) -> dict[str, Any]:
    """How many of the sampled visitors a (valid) rule matches, and its overlap with each crowd."""
    rule = conditions.compile_condition(condition)
    hits = [rule(a) for a in attrs]
    matched = sum(hits)
    overlaps = []
    for c in crowds:
        in_crowd = [c.predicate(a) for a in attrs]
        size = sum(in_crowd)
        both = sum(h and m for h, m in zip(hits, in_crowd, strict=True))
        union = matched + size - both
        overlaps.append(
            {
                "crowd": c.id,
                "name": c.name,
                "crowd_matches": size,
                "both": both,
                "share_of_preview": round(both / matched, 4) if matched else 0.0,
                "jaccard": round(both / union, 4) if union else 0.0,
            }
        )
    n = len(attrs)
    return {"evaluated": n, "matches": matched, "share": round(matched / n, 4) if n else 0.0, "overlaps": overlaps}


@dataclass(frozen=True)
class CrowdSizes:
    """Every crowd's matches over a sample, and the pairwise overlaps.

    ``both[i][j]`` is the number of sampled visitors in crowd ``i`` and crowd ``j``
    (the diagonal is each crowd's size). Rule matches only: a crowd whose rule reads a
    predicted attribute counts the visitors whose known attributes satisfy it.
    """

    evaluated: int
    crowd_ids: tuple[str, ...]
    sizes: tuple[int, ...]
    both: tuple[tuple[int, ...], ...]

    def share(self, i: int) -> float:
        return self.sizes[i] / self.evaluated if self.evaluated else 0.0

    def jaccard(self, i: int, j: int) -> float:
        union = self.sizes[i] + self.sizes[j] - self.both[i][j]
        return self.both[i][j] / union if union else 0.0

    def top_overlaps(self, i: int, n: int = 3) -> list[tuple[str, int, float]]:
        """The crowds sharing most visitors with crowd ``i``: (id, shared, share of ``i``)."""
        others = [(self.crowd_ids[j], self.both[i][j]) for j in range(len(self.crowd_ids)) if j != i and self.both[i][j]]
        others.sort(key=lambda x: (-x[1], x[0]))
        size = self.sizes[i]
        return [(cid, both, both / size if size else 0.0) for cid, both in others[:n]]


def sizes_and_overlaps(crowds: Sequence[Crowd], attrs: Sequence[Attributes]) -> CrowdSizes:
    """Each crowd's rule over each sampled visitor once; overlaps as one matrix product."""
    members = np.array([[c.predicate(a) for a in attrs] for c in crowds], dtype=np.int64).reshape(len(crowds), len(attrs))
    both = members @ members.T
    return CrowdSizes(
        evaluated=len(attrs),
        crowd_ids=tuple(c.id for c in crowds),
        sizes=tuple(int(x) for x in np.diag(both)) if len(crowds) else (),
        both=tuple(tuple(int(x) for x in row) for row in both),
    )
