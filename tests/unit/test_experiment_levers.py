"""Pure parts of experiments: levers, attribution windows and record encodings, phases."""

from __future__ import annotations

import pytest

from app.core.assignment import Assignment
from app.experiments.attribution import Exposure, LoggedEvent, Outcome, Window, attribute
from app.experiments.definition import (
    Experiment,
    ExperimentIn,
    check_definition,
    locked_changes,
    overlapping_namespace,
    phase_of,
)
from app.experiments.levers import overrides_for


def experiment(exp_id: str, lever: dict, variants: list[dict], status: str = "running", **extra: object) -> dict:
    body = ExperimentIn(name=exp_id, lever=lever, variants=variants, **extra).definition(exp_id)  # type: ignore[arg-type]
    return {**body, "status": status, "phases": [phase_of(body, 1000.0, 1)] if status != "draft" else []}


BLOCK = {"type": "block", "page": "home", "slot": "hero"}
BLOCK_VARIANTS = [{"key": "c", "control": True}, {"key": "b", "block": "hero_b"}]


def compiled(exp_id: str, lever: dict, variants: list[dict]) -> Experiment:
    e = Experiment.from_body(exp_id, experiment(exp_id, lever, variants))
    assert e is not None
    return e


@pytest.mark.parametrize(
    ("lever", "variants", "variant", "check"),
    [
        (BLOCK, BLOCK_VARIANTS, "b", lambda o: o.block("home", "hero").value == "hero_b" and o.block("other", "hero") is None),
        (BLOCK, BLOCK_VARIANTS, "c", lambda o: o.block("home", "hero") is None),  # the control changes nothing
        ({"type": "ranking"}, [{"key": "c", "control": True, "strategy": "model"}, {"key": "p", "strategy": "popularity"}], "p",
         lambda o: o.strategy("home").value == "popularity" and o.strategy("any").value == "popularity"),
        ({"type": "ranking", "page": "home"}, [{"key": "c", "control": True}, {"key": "p", "strategy": "popularity"}], "p",
         lambda o: o.strategy("home").value == "popularity" and o.strategy("cart") is None),
        ({"type": "banner", "banner": "hero"}, [{"key": "c", "control": True}, {"key": "d", "design": "dormant"}], "d",
         lambda o: o.design("hero").value == "dormant" and o.design("other") is None),
    ],
)
def test_each_lever_overrides_only_its_target(lever: dict, variants: list[dict], variant: str, check: object) -> None:
    e = compiled("x", lever, variants)
    o = overrides_for([e], [Assignment("x", variant, False, "assigned")])
    assert check(o)  # type: ignore[operator]


def test_unassigned_visitors_and_unknown_experiments_change_nothing() -> None:
    e = compiled("x", BLOCK, BLOCK_VARIANTS)
    o = overrides_for([e], [Assignment("x", None, True, "holdout"), Assignment("gone", "b", False, "assigned")])
    assert o.blocks == {} and o.ranking == {} and o.banners == {}


def test_the_first_experiment_wins_a_shared_target() -> None:
    a = compiled("a", BLOCK, BLOCK_VARIANTS)
    b = compiled("b", BLOCK, [{"key": "c", "control": True}, {"key": "z", "block": "hero_z"}])
    o = overrides_for([a, b], [Assignment("a", "b", False, "assigned"), Assignment("b", "z", False, "assigned")])
    assert o.block("home", "hero").experiment == "a"


def test_only_running_experiments_compile() -> None:
    assert Experiment.from_body("x", experiment("x", BLOCK, BLOCK_VARIANTS, status="draft")) is None
    assert Experiment.from_body("x", experiment("x", BLOCK, BLOCK_VARIANTS, status="stopped")) is None
    e = compiled("x", BLOCK, BLOCK_VARIANTS)
    assert e.spec.variants == ("c", "b") and e.spec.seed == "x" and e.control == "c" and e.phase == 1


def test_locked_fields_and_namespace_overlap() -> None:
    current = experiment("x", BLOCK, BLOCK_VARIANTS, namespace={"name": "n", "range": [0, 0.5]})
    renamed = {**current, "name": "new"}
    assert locked_changes(current, renamed) == []
    assert locked_changes(current, {**current, "coverage": 0.2, "seed": "s"}) == ["coverage", "seed"]
    others = {"y": experiment("y", BLOCK, BLOCK_VARIANTS, namespace={"name": "n", "range": [0.4, 1]})}
    assert overlapping_namespace("x", current, others) == "y"
    others["y"]["namespace"]["range"] = [0.5, 1]
    assert overlapping_namespace("x", current, others) is None  # [0, .5) and [.5, 1) are disjoint
    others["y"]["namespace"] = {"name": "other", "range": [0, 1]}
    assert overlapping_namespace("x", current, others) is None


def test_a_banner_design_must_exist_in_the_template() -> None:
    body = ExperimentIn(name="b", lever={"type": "banner", "banner": "hero"}, variants=[{"key": "c", "control": True}, {"key": "d", "design": "vip"}])  # type: ignore[arg-type]
    configs = {"banner": {"hero": {"variants": {"dormant": {}}}}}
    [problem] = check_definition(body, configs)
    assert problem.path == "$.variants[1].design" and "base, dormant" in problem.message


def test_attribution_counts_events_inside_the_window_only() -> None:
    exposures = {"a": Exposure("b", 1_000), "b": Exposure("c", 5_000)}
    events = [
        LoggedEvent("purchase", "a", 999, 500),  # before a's exposure
        LoggedEvent("purchase", "a", 1_000, 500),
        LoggedEvent("purchase", "a", 3_000, 250),
        LoggedEvent("click", "a", 2_000, 0),
        LoggedEvent("view", "a", 2_000, 0),  # not an outcome
        LoggedEvent("purchase", "b", 9_000, 100),  # after the phase stopped
        LoggedEvent("purchase", "z", 2_000, 100),  # never exposed
    ]
    out = attribute(events, exposures, {"a": Outcome(1, 100, 1_500, 0)}, Window("x", 1, stopped_at_ms=8_000))
    assert out == {"a": Outcome(3, 850, 1_000, 1)}
    assert Outcome.decode(out["a"].encode()) == out["a"] and Outcome.decode(None) == Outcome()
    assert Exposure.decode(Exposure("v", 5, 100, 2, 3).encode()) == Exposure("v", 5, 100, 2, 3)
