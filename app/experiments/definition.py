"""An experiment as the merchant writes it, the checks it must pass, and its phases.

    {"name": "Member hero", "hypothesis": "A member-price hero sells more",
     "lever": {"type": "block", "page": "home", "slot": "hero"},
     "variants": [{"key": "control", "control": true, "weight": 1},
                  {"key": "member", "block": "hero_member", "weight": 1}],
     "target_crowd": "members", "coverage": 0.5,
     "namespace": {"name": "home", "range": [0, 0.5]},
     "metrics": {"primary": "conversion", "guardrails": ["revenue_per_visitor"]},
     "seed": "member-hero"}

Status goes draft -> running -> stopped (``:start``, ``:stop``). Every start opens a
*phase*: the variants, weights and coverage it runs with, and when. A running
experiment's variants and traffic cannot change in place, because visitors already
counted would be mixed with visitors assigned under other rules; sending the change
with ``"new_phase": true`` closes the current phase and opens the next, and results
are read per phase.

Pure: the checks see the whole proposed configuration of the shop, like the
reference checks of pages and banners.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from app.api.schemas import ConfigId, Strict
from app.core.assignment import ExperimentSpec, Namespace
from app.core.problems import Problem

LEVERS = ("block", "ranking", "banner", "rights")
METRICS = ("conversion", "revenue_per_visitor", "click_through", "rights_cost")
STRATEGIES = ("model", "popularity")
# What each lever reads from a variant; any other lever field on a variant is a mistake.
VARIANT_FIELDS: dict[str, str] = {"block": "block", "ranking": "strategy", "banner": "design", "rights": "policy"}
RIGHTS_POLICIES = ("uplift", "none", "default")
# Changing these while running would mix visitors assigned under different rules.
LOCKED = ("lever", "variants", "coverage", "seed", "namespace", "target_crowd")
HOLDOUT_ID = "holdout"  # the shop's global holdout, reported like an experiment

VariantKey = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
Metric = Literal["conversion", "revenue_per_visitor", "click_through", "rights_cost"]


class VariantIn(Strict):
    key: VariantKey
    name: str = Field(default="", max_length=200)
    control: bool = False
    weight: float | None = Field(default=None, gt=0, le=1_000_000)
    block: ConfigId | None = None  # block lever: the block the slot shows (control may leave it out)
    strategy: Literal["model", "popularity"] | None = None  # ranking lever
    design: str | None = Field(default=None, min_length=1, max_length=64)  # banner lever: "base" or a crowd's variant
    policy: Literal["uplift", "none", "default"] | None = None  # rights lever: how rights are chosen

    @field_validator("weight")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("weight must be a finite number")
        return v


class LeverIn(Strict):
    type: Literal["block", "ranking", "banner", "rights"]
    page: ConfigId | None = None  # block: required; ranking: only this page's grids (None: every page)
    slot: str | None = Field(default=None, min_length=1, max_length=64)  # block lever
    banner: ConfigId | None = None  # banner lever


class NamespaceIn(Strict):
    name: ConfigId
    range: tuple[float, float] = (0.0, 1.0)


class MetricsIn(Strict):
    primary: Metric = "conversion"
    guardrails: list[Metric] = Field(default_factory=list, max_length=4)


class ExperimentIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    hypothesis: str = Field(default="", max_length=2000)
    lever: LeverIn
    variants: list[VariantIn] = Field(min_length=2, max_length=10)
    target_crowd: ConfigId | None = None
    coverage: float = Field(default=1.0, gt=0, le=1)
    namespace: NamespaceIn | None = None
    metrics: MetricsIn = Field(default_factory=MetricsIn)
    seed: str | None = Field(default=None, min_length=1, max_length=128)
    new_phase: bool = False  # the only way to change a running experiment's variants or traffic

    def definition(self, exp_id: str) -> dict[str, Any]:
        """The stored definition: weights normalized, the seed made explicit."""
        body = self.model_dump(exclude={"new_phase"})
        weights = normalized_weights([v.weight for v in self.variants])
        for v, w in zip(body["variants"], weights, strict=True):
            v["weight"] = w
        body["seed"] = self.seed or exp_id
        return json.loads(json.dumps(body))  # as stored (tuples become lists), so comparisons hold


def normalized_weights(weights: Sequence[float | None]) -> list[float]:
    """Given weights scaled to sum to 1; none given: equal shares."""
    if all(w is None for w in weights):
        return [round(1 / len(weights), 12)] * len(weights)
    total = sum(w or 0.0 for w in weights)
    return [round((w or 0.0) / total, 12) for w in weights] if total > 0 else [0.0] * len(weights)


def check_definition(body: ExperimentIn, configs: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """What is wrong with a definition, given the shop's (proposed) configuration.

    Unknown crowds, pages, blocks and banners are found by the reference check that
    every configuration write goes through (:mod:`app.core.references`); this checks
    what only an experiment can get wrong.
    """
    problems: list[Problem] = []
    variants, lever = body.variants, body.lever
    controls = [i for i, v in enumerate(variants) if v.control]
    if len(controls) != 1:
        problems.append(Problem("$.variants", "one_control", f"Exactly one variant must be the control (\"control\": true); {len(controls)} are."))
    seen: dict[str, int] = {}
    for i, v in enumerate(variants):
        if v.key in seen:
            problems.append(Problem(f"$.variants[{i}].key", "duplicate", f"Variant key '{v.key}' is also used by variant {seen[v.key]}."))
        seen.setdefault(v.key, i)
    given = [v.weight is not None for v in variants]
    if any(given) and not all(given):  # (each given weight is > 0: the model refuses others)
        problems.append(Problem("$.variants", "weights", "Give every variant a weight, or none (equal shares)."))
    problems += _lever_problems(lever, variants, configs)
    ns = body.namespace
    if ns is not None and not 0 <= ns.range[0] < ns.range[1] <= 1:
        problems.append(Problem("$.namespace.range", "out_of_range", "A namespace range is [start, end) with 0 <= start < end <= 1."))
    metrics = body.metrics
    for i, m in enumerate(metrics.guardrails):
        if m == metrics.primary:
            problems.append(Problem(f"$.metrics.guardrails[{i}]", "duplicate", f"'{m}' is already the primary metric."))
    return problems


def _lever_problems(lever: LeverIn, variants: Sequence[VariantIn], configs: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    kind = lever.type
    if kind == "rights" and not configs.get("right"):
        return [Problem("$.lever.type", "no_rights", "This shop has no discount rights yet: define some (PUT /v1/shops/{shop}/rights/{id}) first.")]
    wants = VARIANT_FIELDS[kind]
    for i, v in enumerate(variants):
        for field in ("block", "strategy", "design", "policy"):
            if field != wants and getattr(v, field) is not None:
                problems.append(Problem(f"$.variants[{i}].{field}", "not_for_lever", f"'{field}' does not apply to a {kind} lever (it reads '{wants}')."))
        if getattr(v, wants) is None and not v.control:
            problems.append(Problem(f"$.variants[{i}].{wants}", "missing", f"A {kind} lever needs '{wants}' on every variant but the control."))
    for field in ("page", "slot", "banner"):
        allowed = {"block": ("page", "slot"), "ranking": ("page",), "banner": ("banner",), "rights": ()}[kind]
        if getattr(lever, field) is not None and field not in allowed:
            problems.append(Problem(f"$.lever.{field}", "not_for_lever", f"'{field}' does not apply to a {kind} lever."))
        elif getattr(lever, field) is None and field in allowed and not (kind == "ranking" and field == "page"):
            problems.append(Problem(f"$.lever.{field}", "missing", f"A {kind} lever needs '{field}'."))
    if problems:
        return problems
    if kind == "block":
        page = configs.get("page", {}).get(lever.page or "")
        if page is not None and lever.slot not in {s["slot_id"] for s in page.get("slots", ())}:
            slots = ", ".join(s["slot_id"] for s in page.get("slots", ()))
            problems.append(Problem("$.lever.slot", "unknown_reference", f"Page '{lever.page}' has no slot '{lever.slot}' (its slots: {slots})."))
    if kind == "banner":
        banner = configs.get("banner", {}).get(lever.banner or "")
        designs = {"base", *((banner or {}).get("variants") or {})}
        for i, v in enumerate(variants):
            if banner is not None and v.design is not None and v.design not in designs:
                problems.append(Problem(f"$.variants[{i}].design", "unknown_reference", f"Banner '{lever.banner}' has no design '{v.design}' (it has: {', '.join(sorted(designs))})."))
    return problems


def locked_changes(current: Mapping[str, Any], proposed: Mapping[str, Any]) -> list[str]:
    """The fields a running experiment may not change in place that this write changes."""
    return [f for f in LOCKED if current.get(f) != proposed.get(f)]


def phase_of(definition: Mapping[str, Any], started_at: float, number: int) -> dict[str, Any]:
    return {
        "phase": number,
        "started_at": started_at,
        "stopped_at": None,
        "variants": [v["key"] for v in definition["variants"]],
        "weights": [v["weight"] for v in definition["variants"]],
        "coverage": definition["coverage"],
        "seed": definition["seed"],
    }


@dataclass(frozen=True)
class Experiment:
    """A running experiment as a render uses it (compiled once per configuration version)."""

    id: str
    spec: ExperimentSpec
    lever: Mapping[str, Any]
    variants: Mapping[str, Mapping[str, Any]]  # key -> the variant's body
    control: str
    phase: int
    started_at: float

    @classmethod
    def from_body(cls, exp_id: str, body: Mapping[str, Any]) -> Experiment | None:
        """The compiled experiment, or None when it is not running."""
        if body.get("status") != "running" or not body.get("phases"):
            return None
        ns = body.get("namespace")
        phase = body["phases"][-1]
        spec = ExperimentSpec(
            id=exp_id,
            variants=tuple(phase["variants"]),
            weights=tuple(phase["weights"]),
            coverage=phase["coverage"],
            seed=phase["seed"],
            crowd=body.get("target_crowd"),
            namespace=Namespace(ns["name"], ns["range"][0], ns["range"][1]) if ns else None,
        )
        variants = {v["key"]: v for v in body["variants"]}
        control = next(v["key"] for v in body["variants"] if v.get("control"))
        return cls(exp_id, spec, body["lever"], variants, control, phase["phase"], phase["started_at"])


def overlapping_namespace(exp_id: str, body: Mapping[str, Any], experiments: Mapping[str, Mapping[str, Any]]) -> str | None:
    """A running experiment of the same namespace whose range overlaps this one's, if any.

    Namespaces only keep visitors apart when the ranges are disjoint; starting an
    experiment on a taken range would silently share visitors.
    """
    ns = body.get("namespace")
    if not ns:
        return None
    for other_id, other in sorted(experiments.items()):
        other_ns = other.get("namespace")
        if other_id == exp_id or other.get("status") != "running" or not other_ns or other_ns["name"] != ns["name"]:
            continue
        if ns["range"][0] < other_ns["range"][1] and other_ns["range"][0] < ns["range"][1]:
            return other_id
    return None


@dataclass(frozen=True)
class HoldoutSetting:
    """The shop's global holdout: ``share`` of visitors see no personalization at all.

    It is reported like an experiment (id ``holdout``, variants ``holdout`` and
    ``personalized``); ``since`` (when the share was last set) numbers its phase, so a
    changed share starts counting afresh.
    """

    share: float = 0.0
    since: float = 0.0

    @property
    def phase(self) -> int:
        return int(self.since)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> HoldoutSetting:
        return cls(float(data.get("holdout", 0.0)), float(data.get("since", 0.0)))

    def as_dict(self) -> dict[str, float]:
        return {"holdout": self.share, "since": self.since}
