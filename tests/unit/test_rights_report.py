"""What a right's report says it added: the randomized estimates, case by case."""

from __future__ import annotations

import math

import pytest

from app.rights.report import MIN_EXPLORED, Z95, Tally, incremental

DAY = "20261123"


def counters(**by_arm: dict[str, int]) -> dict[str, int]:
    """The stats hash as the scripts write it: {"cash20": {"granted": 3, "xg:cash20:n": 1}} -> "cash20:granted" ..."""
    return {f"{arm}:{k}": v for arm, fields in by_arm.items() for k, v in fields.items()}


# 1,000 grants of cash20, 200 of them drawn at random. Randomized rows:
#   cash20 drawn: 200, 60 bought (30 %); none drawn: 200, 40 bought (20 %): average +10 points
#   of which the model would have picked cash20: 80 drawn it, 36 bought (45 %); 80 drawn none, 16 bought (20 %): +25 points
SHOP = counters(
    cash20={"granted": 1000, "x:n": 200, "x:conv": 60, "xg:cash20:n": 80, "xg:cash20:conv": 36, "xg:none:n": 120, "xg:none:conv": 24},
    none={"x:n": 200, "x:conv": 40, "xg:cash20:n": 80, "xg:cash20:conv": 16, "xg:none:n": 120, "xg:none:conv": 24},
)


def test_the_tallies_are_read_per_greedy_arm() -> None:
    t = Tally.of(SHOP, "cash20", DAY)
    assert (t.granted, t.explored, t.explored_conversions) == (1000, 200, 60)
    assert t.by_greedy == {"cash20": (80, 36), "none": (120, 24)}
    assert Tally.of(SHOP, "none", DAY).by_greedy == {"cash20": (80, 16), "none": (120, 24)}
    assert Tally.of(SHOP, "cash50", DAY).by_greedy == {}


def test_the_average_effect_times_the_grants() -> None:
    inc = incremental("cash20", Tally.of(SHOP, "cash20", DAY), Tally.of(SHOP, "none", DAY))
    assert inc["status"] == "estimated"
    assert inc["uplift"] == pytest.approx(0.10)
    assert inc["incremental_conversions"] == pytest.approx(100.0)
    se = math.sqrt(0.3 * 0.7 / 200 + 0.2 * 0.8 / 200)
    assert inc["incremental_low"] == pytest.approx(round((0.10 - Z95 * se) * 1000, 1))


def test_the_targeted_estimate_uses_the_picked_cell_for_the_picked_grants() -> None:
    t = incremental("cash20", Tally.of(SHOP, "cash20", DAY), Tally.of(SHOP, "none", DAY))["targeted"]
    assert t["status"] == "estimated"
    assert (t["explored"], t["explored_conversions"], t["control_explored"], t["control_conversions"]) == (80, 36, 80, 16)
    assert t["picked_grants"] == 800
    assert t["uplift"] == pytest.approx(0.25)
    # 800 grants the model chose at +25 points, 200 drawn ones at the average +10 points
    assert t["incremental_conversions"] == pytest.approx(800 * 0.25 + 200 * 0.10)
    se_cell = math.sqrt(0.45 * 0.55 / 80 + 0.2 * 0.8 / 80)
    se_avg = math.sqrt(0.3 * 0.7 / 200 + 0.2 * 0.8 / 200)
    half = Z95 * (800 * se_cell + 200 * se_avg)
    assert t["incremental_low"] == pytest.approx(round(220 - half, 1))
    assert t["incremental_high"] == pytest.approx(round(220 + half, 1))


@pytest.mark.parametrize(
    ("given", "control"),
    [
        ((MIN_EXPLORED - 1, 10), (80, 16)),  # too few drawn the right among the picked
        ((80, 36), (MIN_EXPLORED - 1, 5)),  # too few drawn nothing among the picked
        ((0, 0), (0, 0)),  # the model never picks it (or no model): no cell at all
    ],
)
def test_a_thin_cell_is_reported_as_not_enough_not_as_a_figure(given: tuple[int, int], control: tuple[int, int]) -> None:
    """The average estimate still stands on all the randomized rows."""
    shop = {**SHOP, "cash20:xg:cash20:n": given[0], "cash20:xg:cash20:conv": given[1], "none:xg:cash20:n": control[0], "none:xg:cash20:conv": control[1]}
    inc = incremental("cash20", Tally.of(shop, "cash20", DAY), Tally.of(shop, "none", DAY))
    assert inc["status"] == "estimated" and inc["incremental_conversions"] == pytest.approx(100.0)
    t = inc["targeted"]
    assert t["status"].startswith("not enough randomized visitors among those the model picks")
    assert "incremental_conversions" not in t and (t["explored"], t["control_explored"]) == (given[0], control[0])


def test_without_enough_randomized_rows_neither_estimate_is_a_figure() -> None:
    shop = counters(cash20={"granted": 50, "x:n": 10, "x:conv": 3, "xg:cash20:n": 10, "xg:cash20:conv": 3}, none={"x:n": 12, "x:conv": 2})
    inc = incremental("cash20", Tally.of(shop, "cash20", DAY), Tally.of(shop, "none", DAY))
    assert inc["status"].startswith("not enough randomized visitors yet")
    assert inc["targeted"]["status"].startswith("not enough")
    assert "incremental_conversions" not in inc and "incremental_conversions" not in inc["targeted"]
