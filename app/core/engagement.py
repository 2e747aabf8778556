"""Per-product engagement counters: how much each product was shown, clicked, viewed, bought.

Popularity (app.core.ranking) counts interactions, so it mixes how good a product is
with how often the shop put it in front of people: a product ranked first everywhere
gathers clicks whatever its appeal. Dividing clicks by impressions, and purchases by
views, separates the two; the ranker reads both rates (app.core.features).

What is counted, per product:

- impressions: every product a render showed in a product grid, weighted by its place
  with the DCG discount ``1 / log2(position + 2)`` (1 at the top, 0.29 at the 20th):
  people look at the top of a list far more than at its end, so a product shown low
  has had less of a chance to be clicked. Stored in thousandths, as integers.
- clicks: click events that came from a render (``render_id`` set), so that clicks and
  impressions count the same lists; a click elsewhere on the site has no impression.
- views and purchases: every view and purchase event of the product.

Every counter is an integer sum, so Redis (HINCRBY, in whatever order events and
renders arrive) and a replay in Python (training) hold the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from app.core.profile import Event

COUNTERS = ("impressions", "clicks", "views", "purchases")
IMPRESSION_UNIT = 1000  # impressions are stored in thousandths of a top-position impression


def exposure_weight(position: int) -> int:
    """What showing a product at 0-based ``position`` adds to its impressions (thousandths)."""
    return round(IMPRESSION_UNIT / math.log2(position + 2))


def exposure_increments(grids: Iterable[Sequence[str]]) -> dict[str, int]:
    """Impressions one render adds: ``grids`` are its product grids, each in shown order."""
    out: dict[str, int] = {}
    for ids in grids:
        for position, pid in enumerate(ids):
            out[pid] = out.get(pid, 0) + exposure_weight(position)
    return out


def event_counter(event: Event) -> str | None:
    """Which counter of its product an event adds one to, if any."""
    if not event.product_id:
        return None
    if event.type == "click":
        return "clicks" if event.render_id else None
    if event.type == "view":
        return "views"
    if event.type == "purchase":
        return "purchases"
    return None


@dataclass(frozen=True)
class Engagement:
    """The counters of a shop's products (product id -> count) and their shop-wide totals.

    The totals give the shop's average rates, towards which a product with few
    impressions or views is pulled (see app.core.features).
    """

    impressions: Mapping[str, int] = field(default_factory=dict)  # thousandths
    clicks: Mapping[str, int] = field(default_factory=dict)
    views: Mapping[str, int] = field(default_factory=dict)
    purchases: Mapping[str, int] = field(default_factory=dict)
    totals: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))

    @classmethod
    def of(cls, counters: Mapping[str, Mapping[str, int]]) -> Engagement:
        """From counter name -> {product: count} (missing counters are empty)."""
        parts = {name: dict(counters.get(name, {})) for name in COUNTERS}
        return cls(**parts, totals={name: sum(parts[name].values()) for name in COUNTERS})


EMPTY_ENGAGEMENT = Engagement()


class EngagementCounter:
    """The counters built up in Python, render by render and event by event (training).

    :attr:`current` is the state now, shared, not copied: read it before counting more.
    """

    def __init__(self) -> None:
        self._counts: dict[str, dict[str, int]] = {name: {} for name in COUNTERS}
        self._totals = dict.fromkeys(COUNTERS, 0)
        self.current = Engagement(**self._counts, totals=self._totals)

    def _add(self, name: str, pid: str, n: int) -> None:
        counts = self._counts[name]
        counts[pid] = counts.get(pid, 0) + n
        self._totals[name] += n

    def add_render(self, grids: Iterable[Sequence[str]]) -> None:
        for pid, n in exposure_increments(grids).items():
            self._add("impressions", pid, n)

    def add_event(self, event: Event) -> None:
        name = event_counter(event)
        if name is not None:
            self._add(name, event.product_id, 1)  # type: ignore[arg-type]
