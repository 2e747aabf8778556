"""The shop's rights decision log as a table: one row per decision, joined to its outcome. Pure.

The audit stream holds, in the order they happened, each decision (its arm, exploration
flag, propensity, scored rights, the feature row the uplift model read and that row's
layout) and each outcome (a purchase that converted the decision or redeemed its grant,
by grant id). :class:`DecisionLog` is fed those entries in stream order and gives the
rows of ``GET /v1/shops/{shop}/rights:log``: what ``python -m training uplift train``
learns from and ``uplift evaluate --propensity explore_propensity`` judges a policy on.

What the rows mean:

- ``arm`` is what the visitor got (the granted right, or ``none``); ``propensity`` is the
  policy's probability of the arm it chose. They differ only when a budget, pacing or
  the visitor's limit refused the chosen right (``assigned_arm`` says which it was).
  ``propensity`` is over the whole log (the exploration share's draw and the greedy
  choice together); ``explore_propensity`` (explored rows only: 1 / the arms drawn
  among) is the one to use on the randomized rows alone (``explore_only``).
- An explored row whose drawn right was refused (a budget, pacing, the visitor's limit)
  is not a randomized row of the arm the visitor got: its ``explore_propensity`` is empty
  and ``explore_only`` leaves it out (the draw is kept in ``assigned_arm``).
- ``greedy_arm`` (explored rows only) is the arm the model would have chosen: the
  explored rows whose greedy arm is a right are a random sample of the visitors the
  policy grants it to, so comparing their arms measures the right where it is granted.
- An outcome is final only once the term and the grace for late purchase events
  (``until_ms + grace``) are over: ``term_ended``; ``complete_only`` keeps only those.
- Feature columns are the layout's names. Rows logged under another layout than the
  newest one in the window are left out (their columns would not line up) and counted
  in :attr:`LogTable.dropped`; decisions the model did not score have empty features.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from app.rights.policy import NONE_ARM

FIXED_COLUMNS = (
    "decided_at", "visitor", "grant_id", "arm", "explore", "propensity", "explore_propensity", "policy_version",
    "term_ended", "converted", "order_value", "redeemed", "cost", "assigned_arm", "greedy_arm",
)


@dataclass(frozen=True)
class Window:
    """Which decisions to export (times in ms; ``now_ms`` and ``grace_ms`` decide ``term_ended``)."""

    now_ms: int
    grace_ms: int
    since_ms: int | None = None  # decided at or after
    until_ms: int | None = None  # decided before
    explore_only: bool = False
    complete_only: bool = True
    limit: int = 100_000


@dataclass
class _Decision:
    body: dict[str, Any]  # the decision as the grant script stored it
    features: bytes | None  # the row as logged (JSON array), parsed only when written out
    layout: str | None
    converted: bool = False
    order_cents: int | None = None  # the converting purchase's order
    redeemed: bool = False
    cost_cents: int = 0


@dataclass
class LogTable:
    """The exported rows' columns and the rows themselves, and what was left out."""

    columns: list[str]
    rows: list[list[Any]]
    layout: str | None  # the feature layout of the rows (None: no row has features)
    dropped: dict[str, int] = field(default_factory=dict)  # other layout -> decisions left out
    truncated: bool = False  # more decisions matched than the limit

    def records(self) -> Iterator[dict[str, Any]]:
        for row in self.rows:
            yield dict(zip(self.columns, row, strict=True))


class DecisionLog:
    """Decisions of a window joined to their outcomes: feed :meth:`add` every audit entry
    from the window's start on, in stream order (outcomes follow their decisions)."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self._decisions: dict[str, _Decision] = {}  # grant id -> decision, in stream order
        self.truncated = False

    def add(self, fields: Mapping[str, bytes | str]) -> None:
        """One stream entry: a decision ("d", with "f" and "l" when scored) or an outcome ("o")."""
        if "d" in fields:
            self._add_decision(orjson.loads(fields["d"]), fields.get("f"), fields.get("l"))
        elif "o" in fields:
            self._add_outcome(orjson.loads(fields["o"]))

    def _add_decision(self, d: dict[str, Any], features: bytes | str | None, layout: bytes | str | None) -> None:
        w = self.window
        at, grant_id = d.get("at_ms"), d.get("grant_id")
        if at is None or grant_id is None:  # (written before decisions carried them)
            return
        if (w.since_ms is not None and at < w.since_ms) or (w.until_ms is not None and at >= w.until_ms):
            return
        if w.explore_only and not _randomized(d):
            return
        if w.complete_only and not self._ended(d):
            return
        if len(self._decisions) >= w.limit:
            self.truncated = True
            return
        raw = features.encode() if isinstance(features, str) else features
        self._decisions[str(grant_id)] = _Decision(d, raw or None, _text(layout))

    def _add_outcome(self, o: dict[str, Any]) -> None:
        decision = self._decisions.get(str(o.get("grant_id")))
        if decision is None:  # a decision outside the window
            return
        if o.get("converted") and not decision.converted:
            decision.converted, decision.order_cents = True, int(o.get("order_cents") or 0)
        if o.get("redeemed"):
            decision.redeemed = True
            decision.cost_cents += int(o.get("cost_cents") or 0)

    def _ended(self, d: Mapping[str, Any]) -> bool:
        return float(d.get("until_ms", 0)) + self.window.grace_ms <= self.window.now_ms

    def table(self, layouts: Mapping[str, Sequence[str]]) -> LogTable:
        """The rows, with the feature columns named by ``layouts`` (layout -> names)."""
        decisions = list(self._decisions.values())
        newest = next((x.layout for x in reversed(decisions) if x.features is not None), None)
        dropped: dict[str, int] = {}
        kept = []
        for x in decisions:
            if x.features is not None and x.layout != newest:
                dropped[x.layout or "?"] = dropped.get(x.layout or "?", 0) + 1
            else:
                kept.append(x)
        rights = sorted({s["right"] for x in kept for s in x.body.get("scores") or ()})
        width = next((len(orjson.loads(x.features)) for x in kept if x.features is not None), 0)
        names = feature_columns(layouts.get(newest, ()) if newest else (), width)
        columns = [*FIXED_COLUMNS, *(f"pred_profit_{r}" for r in rights), *names]
        rows = [self._row(x, rights, len(names)) for x in kept]
        return LogTable(columns, rows, newest, dropped, self.truncated)

    def _row(self, x: _Decision, rights: Sequence[str], width: int) -> list[Any]:
        d = x.body
        profit = {s["right"]: s["profit"] for s in d.get("scores") or ()}
        given = d.get("right") or NONE_ARM
        features = orjson.loads(x.features) if x.features is not None else [None] * width
        return [
            iso_utc(d["at_ms"]),
            d.get("visitor", ""),
            d["grant_id"],
            given,
            int(bool(d.get("explore"))),
            d.get("propensity"),
            round(1 / d["arms"], 6) if _randomized(d) and d.get("arms") else None,
            d.get("policy_version", ""),
            int(self._ended(d)),
            int(x.converted),
            _yuan(x.order_cents) if x.converted else None,
            int(x.redeemed),
            _yuan(int(d.get("fixed") or 0) + x.cost_cents),  # the grant's own cost, paid used or not, and the redemption's
            d.get("arm", given),
            d.get("greedy"),  # (the policy keeps it on exploring decisions only)
            *(profit.get(r) for r in rights),
            *features,
        ]


def _randomized(d: Mapping[str, Any]) -> bool:
    """An explored decision whose drawn arm is the one the visitor got."""
    given = d.get("right") or NONE_ARM
    return bool(d.get("explore")) and d.get("arm", given) == given


def csv_chunks(table: LogTable, rows_per_chunk: int = 1000) -> Iterator[str]:
    """The table as CSV text, a header line then chunks of rows (empty cells for none)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.columns)
    for start in range(0, len(table.rows), rows_per_chunk):
        writer.writerows(table.rows[start:start + rows_per_chunk])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    if buf.tell():  # the header alone: no rows
        yield buf.getvalue()


def jsonl_chunks(table: LogTable, rows_per_chunk: int = 1000) -> Iterator[bytes]:
    """The table as JSON lines: one object a row, keyed by the columns (null for none)."""
    chunk: list[bytes] = []
    for record in table.records():
        chunk.append(orjson.dumps(record))
        if len(chunk) >= rows_per_chunk:
            yield b"\n".join(chunk) + b"\n"
            chunk = []
    if chunk:
        yield b"\n".join(chunk) + b"\n"


def feature_columns(names: Sequence[str], width: int) -> list[str]:
    """The layout's names (``feature_<i>`` where the layout's names are unknown), renamed
    where one would clash with a fixed column, so every column of the table is unique."""
    out = list(names) if len(names) == width else [f"feature_{i}" for i in range(width)]
    fixed = set(FIXED_COLUMNS)
    return [f"feature_{n}" if n in fixed or n.startswith("pred_profit_") else n for n in out]


def iso_utc(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _yuan(cents: int | None) -> float | None:
    return None if cents is None else round(cents / 100, 2)


def _text(x: bytes | str | None) -> str | None:
    return x.decode() if isinstance(x, bytes) else x
