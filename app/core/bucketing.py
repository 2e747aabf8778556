"""Experiment bucketing with GrowthBook's semantics: a visitor's place in [0, 1) and the
variant it falls in.

Deterministic and stateless: the same visitor, seed and weights always give the same
variant, on any process or machine, with nothing stored. That is what makes assignment
sticky without a lookup on the render's hot path, and what lets an analyst recompute
every assignment from the exposure log. The semantics (and so the numbers) are
GrowthBook's, checked against its cross-SDK test vectors in
``tests/unit/test_bucketing_conformance.py``:

- ``hash_unit(seed, value, 2)``: FNV-1a (32 bit) of ``seed + value``, hashed again as a
  decimal string, mod 10,000, over 10,000. Version 1 (FNV-1a of ``value + seed`` mod
  1,000) is kept for namespaces, which GrowthBook defines with it.
- ``bucket_ranges``: one [start, end) per variant; ``coverage`` shrinks every range from
  its start, so raising coverage later only adds visitors, never moves one.
- ``in_namespace``: experiments sharing a namespace take disjoint slices of it, so they
  never share a visitor.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
WEIGHT_TOLERANCE = 0.01  # weights summing to 1 within this are taken as given


def fnv1a32(text: str, h: int = _FNV_OFFSET) -> int:
    """The 32-bit FNV-1a hash of ``text``'s UTF-16 code units, as JavaScript strings hash.

    ``h``: the state after a prefix (FNV is a stream: hash(a + b) continues hash(a)).
    """
    # ASCII text (ids, seeds, the decimal string of the first hash): a code unit is a byte,
    # and iterating bytes is several times faster than decoding UTF-16 pairs.
    units = text.encode("ascii") if text.isascii() else memoryview(text.encode("utf-16-le")).cast("H")
    for u in units:
        h = ((h ^ u) * _FNV_PRIME) & 0xFFFFFFFF
    return h


@lru_cache(maxsize=1024)
def _prefix_state(seed: str) -> int:
    """The hash state after an experiment's seed: hashed once, not on every page view."""
    return fnv1a32(seed)


@lru_cache(maxsize=1 << 16)
def hash_unit(seed: str, value: str, version: int = 2) -> float | None:
    """The visitor's place in [0, 1) for this seed; None for an unknown hash version.

    Memoized: a returning visitor's page views ask the same question again.
    """
    if version == 2:
        return (fnv1a32(str(fnv1a32(value, _prefix_state(seed)))) % 10000) / 10000
    if version == 1:
        return (fnv1a32(value + seed) % 1000) / 1000
    return None


def equal_weights(n: int) -> list[float]:
    return [1.0 / n] * n if n > 0 else []


def bucket_ranges(n: int, coverage: float, weights: Sequence[float] | None = None) -> list[tuple[float, float]]:
    """[start, end) of each of ``n`` variants.

    ``coverage`` is clamped to [0, 1]; weights that do not fit (wrong count, or not
    summing to 1) fall back to equal weights rather than failing a page view. Writes
    refuse such definitions before they get here (app.core.experiments).
    """
    coverage = min(1.0, max(0.0, coverage))
    if weights is None or len(weights) != n or abs(sum(weights) - 1) > WEIGHT_TOLERANCE:
        weights = equal_weights(n)
    ranges = []
    start = 0.0
    for w in weights:
        ranges.append((start, start + coverage * w))
        start += w
    return ranges


def choose_variation(n: float, ranges: Sequence[Sequence[float]]) -> int:
    """The index of the range holding ``n``, or -1 (outside the coverage)."""
    for i, (start, end) in enumerate(ranges):
        if start <= n < end:
            return i
    return -1


def in_namespace(visitor: str, namespace: str, start: float, end: float) -> bool:
    """True when the visitor's place in the namespace falls in [start, end)."""
    n = hash_unit("__" + namespace, visitor, 1)
    return n is not None and start <= n < end
