"""Which variant of each running experiment a visitor sees, with the reason: pure.

An experiment is in a render's answer for every visitor it was evaluated for, with the
variant (or none) and why, like a GrowthBook result: ``not_running``, ``holdout``,
``not_in_crowd``, ``not_in_namespace``, ``outside_coverage`` or ``assigned``. Nothing is
stored: the same visitor, seed and weights give the same variant on every page view and
on every process, which is what makes assignment sticky (app.core.bucketing).

The shop's holdout is decided first and for the whole page: a visitor in it sees no
personalization at all and takes part in no experiment, so comparing the holdout with
everybody else measures what the whole system adds.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from app.core.bucketing import bucket_ranges, choose_variation, hash_unit, in_namespace


@dataclass(frozen=True)
class Namespace:
    """Experiments sharing ``name`` take disjoint [start, end) slices: no shared visitor."""

    name: str
    start: float
    end: float


@dataclass(frozen=True)
class ExperimentSpec:
    id: str
    variants: tuple[str, ...]  # the first is the control
    weights: tuple[float, ...] | None = None  # None: equal
    coverage: float = 1.0
    seed: str = ""  # "": the experiment id
    crowd: str | None = None  # only visitors matched to this crowd take part
    namespace: Namespace | None = None
    running: bool = True


@dataclass(frozen=True)
class Assignment:
    experiment: str
    variant: str | None
    in_holdout: bool
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"id": self.experiment, "variant": self.variant, "in_holdout": self.in_holdout, "reason": self.reason}


def in_holdout(shop_id: str, visitor_id: str, share: float) -> bool:
    """The shop's global holdout: a fixed share of visitors, the same on every page view."""
    if share <= 0:
        return False
    n = hash_unit(f"holdout:{shop_id}", visitor_id)
    return n is not None and n < share


def assign(exp: ExperimentSpec, visitor_id: str, matched_crowds: Collection[str], *, holdout: bool = False) -> Assignment:
    def out(reason: str, variant: str | None = None) -> Assignment:
        return Assignment(exp.id, variant, holdout, reason)

    if not exp.running:
        return out("not_running")
    if holdout:
        return out("holdout")
    if exp.crowd is not None and exp.crowd not in matched_crowds:
        return out("not_in_crowd")
    ns = exp.namespace
    if ns is not None and not in_namespace(visitor_id, ns.name, ns.start, ns.end):
        return out("not_in_namespace")
    n = hash_unit(exp.seed or exp.id, visitor_id)
    ranges = bucket_ranges(len(exp.variants), exp.coverage, exp.weights)
    i = choose_variation(n if n is not None else -1.0, ranges)
    if i < 0:
        return out("outside_coverage")
    return out("assigned", exp.variants[i])


def assign_all(
    shop_id: str, experiments: Sequence[ExperimentSpec], visitor_id: str, matched_crowds: Collection[str], holdout_share: float
) -> tuple[bool, tuple[Assignment, ...]]:
    """(in the shop's holdout, each experiment's assignment) for one page view."""
    held = in_holdout(shop_id, visitor_id, holdout_share)
    return held, tuple(assign(e, visitor_id, matched_crowds, holdout=held) for e in experiments)
