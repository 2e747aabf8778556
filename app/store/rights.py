"""Rights in Redis: atomic grants under budgets, redemptions, counters and the audit log.

A render reads the visitor's live decision in its first round trip
(:func:`queue_visitor_read`); only a visitor without one costs a grant script call.
Both scripts are single calls, so budgets, pacing and per-visitor limits are checked
and spent in one step however many renders run at once.

The audit stream keeps every decision (with the feature row the uplift model read) and
every purchase that converted or redeemed one; :mod:`app.store.audit_archive` moves its
older entries to day files on disk, and :meth:`RightsStore.decision_log` reads both back
as the shop's decision log (:mod:`app.rights.decision_log`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone, tzinfo
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import numpy as np
import orjson
import redis.asyncio as aioredis

from app.core.features import FeatureSpec
from app.core.profile import Event
from app.rights.decision_log import DecisionLog, LogTable, Window
from app.rights.definition import Right
from app.rights.policy import NONE_ARM, RightsDecision, pacing_allowance
from app.store import keys
from app.store.audit_archive import AuditArchive, StreamId, format_id, parse_id
from app.store.script_lane import ScriptLane
from app.store.streams import pages
from app.store.streams import text as _s
from app.store.visitors import EVENT_LOG_MAXLEN

_GRANT_LUA = resources.files("app.store").joinpath("lua/rights_grant.lua").read_text()
_PURCHASE_LUA = resources.files("app.store").joinpath("lua/rights_purchase.lua").read_text()
AUDIT_MAXLEN = 200_000
AUDIT_DISK_DAYS = 3  # the console's newest decisions look this many day files back (each read whole)
RELEASE_GRACE_S = 86400.0  # an unredeemed grant's money stays reserved this long after its end (late purchase events)
CHINA = timezone(timedelta(hours=8))
NONE_HOLD_S = 3600.0  # a visitor offered nothing is asked again after an hour, not on every page


@dataclass(frozen=True)
class Grant:
    """What the render tells the storefront: the visitor's right now (or none) and why."""

    status: str  # "granted" | "sticky" | "none"
    right: str | None
    decision: dict[str, Any]  # as stored: arm, reason, explore, propensity, scores, grant_id, until_ms ...
    skipped: tuple[str, ...] = ()

    def as_dict(self, rights: Mapping[str, Right]) -> dict[str, Any]:
        d = self.decision
        out: dict[str, Any] = {
            "granted": None,
            "status": self.status,
            "reason": d.get("reason", ""),
            "explore": bool(d.get("explore")),
            "policy_version": d.get("policy_version"),
        }
        right = rights.get(self.right) if self.right else None
        if right is not None:
            out["granted"] = {**right.summary(), "grant_id": d.get("grant_id"), "until": round(d["until_ms"] / 1000, 3)}
        if d.get("propensity") is not None:
            out["propensity"] = d["propensity"]
        if d.get("greedy") is not None:  # an exploring decision: what the model would have granted
            out["greedy"] = d["greedy"]
        if d.get("scores"):
            out["scores"] = d["scores"]
        if self.skipped:
            out["skipped"] = list(self.skipped)
        return out


@dataclass(frozen=True)
class DecisionFeatures:
    """The feature row the uplift model read for a decision, under its spec's layout:
    kept with the decision's audit entry so the shop's log can train the next model."""

    spec: FeatureSpec
    values: np.ndarray

    def args(self, with_names: bool) -> list[str | int | bytes]:
        """The grant script's ARGV[13:]: the row (NaN as null: orjson's own rule), its
        layout and, ``with_names``, the layout's column names (about 1 KB, so sent once
        per shop and layout, not with every grant: a grant is on the render path)."""
        row: list[str | int | bytes] = [orjson.dumps(self.values, option=orjson.OPT_SERIALIZE_NUMPY), self.spec.layout]
        return [*row, orjson.dumps(list(self.spec.visitor_names))] if with_names else row


def queue_visitor_read(pipe: Any, shop_id: str, visitor_id: str) -> None:
    pipe.hget(keys.rights_visitor(shop_id, visitor_id), "current")


def live_grant(raw: str | bytes | None, now: float) -> Grant | None:
    """The visitor's decision from the first round trip, if it still holds."""
    if not raw:
        return None
    d = orjson.loads(raw)
    if float(d.get("until_ms", 0)) <= now * 1000:
        return None
    return Grant("sticky", d.get("right"), d)


def local_day(ts: float, zone: str) -> tuple[str, float]:
    """The shop's local day (YYYYMMDD) and seconds since its midnight, in its time zone
    (China's, +08:00, for a zone this machine does not know).

    A grant asks on every page view; the day's bounds are kept per zone and the answer
    is a subtraction until the day ends. A day with a clock change (23 or 25 hours) is
    not kept: its wall-clock seconds since midnight are not the seconds elapsed.
    """
    kept = _DAYS.get(zone)
    if kept is not None and kept[0] <= ts < kept[1]:
        return kept[2], ts - kept[0]
    try:
        tz: tzinfo = ZoneInfo(zone)
    except (KeyError, ValueError):
        tz = CHINA
    local = datetime.fromtimestamp(ts, tz)
    day = local.strftime("%Y%m%d")
    midnight = datetime.combine(local.date(), time(), tz)
    start, end = midnight.timestamp(), datetime.combine(local.date() + timedelta(days=1), time(), tz).timestamp()
    if end - start == 86400.0 and len(_DAYS) < 1024:
        _DAYS[zone] = (start, end, day)
    return day, local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6


_DAYS: dict[str, tuple[float, float, str]] = {}  # zone -> (its current day's start and end, as timestamps; YYYYMMDD)


def grant_args(
    decision: RightsDecision, rights: Mapping[str, Right], now: float, zone: str, audit: Mapping[str, str], grant_id: str,
    features: DecisionFeatures | None = None, *, with_names: bool = True,
) -> list[str | int | bytes]:
    """ARGV of the grant script; ``audit`` (visitor, render, policy version) is kept with the
    decision, ``features`` with its audit entry only."""
    day, into_day = local_day(now, zone)
    body = {**decision.as_dict(), **audit}
    hold = decision.hold_s if decision.explore and decision.arm == NONE_ARM else NONE_HOLD_S
    candidates = []
    for rid in decision.candidates:
        r = rights[rid]
        candidates.append([
            rid,
            round(r.grant_until(now) * 1000),
            r.max_cost_cents,
            -1 if r.budget_count is None else r.budget_count,
            -1 if r.budget_cents is None else r.budget_cents,
            -1 if r.daily_count is None else pacing_allowance(r.daily_count, into_day),
            -1 if r.daily_cents is None else pacing_allowance(r.daily_cents, into_day),
            r.per_visitor_limit,
            r.per_grant_cents,
        ])
    args: list[str | int | bytes] = [
        round(now * 1000), day, _json(body), round(hold * 1000), grant_id, AUDIT_MAXLEN,
        decision.arm, (decision.greedy or NONE_ARM) if decision.explore else "", round(RELEASE_GRACE_S * 1000), _json(candidates),
        str(audit.get("visitor", "")), EVENT_LOG_MAXLEN,
    ]
    if features is not None:
        args += features.args(with_names)
    return args


class RightsStore:
    def __init__(self, r: aioredis.Redis, archive: AuditArchive | None = None) -> None:
        self.redis = r
        self.archive = archive  # where the audit stream's older entries are (None: the stream only)
        self._grant = ScriptLane(r, _GRANT_LUA, "storefront-rights-grant")  # a render waits on it: its own pipelined connection
        self._purchase = r.register_script(_PURCHASE_LUA)
        # (shop, feature layout) pairs whose column names this process has stored: later
        # grants send only the row and its layout
        self._named_layouts: set[tuple[str, str]] = set()

    @property
    def turns_to_send(self) -> int:
        """Turns of the event loop a grant task takes to write its request: one on the
        lane's open connection; two through redis-py's pool (TLS), whose checkout takes
        a turn before the write."""
        return 1 if self._grant.direct else 2

    async def aclose(self) -> None:
        """Close the grant's own connection (the pool's are the client's to close)."""
        await self._grant.aclose()

    async def grant(
        self,
        shop_id: str,
        visitor_id: str,
        decision: RightsDecision,
        rights: Mapping[str, Right],
        *,
        now: float,
        zone: str,
        policy_version: str,
        render_id: str = "",
        features: DecisionFeatures | None = None,
    ) -> Grant:
        audit = {"policy_version": policy_version, "visitor": visitor_id, "render_id": render_id}
        named = features is not None and (shop_id, features.spec.layout) in self._named_layouts
        args = grant_args(decision, rights, now, zone, audit, secrets.token_hex(8), features, with_names=not named)
        kv = [
            keys.rights_visitor(shop_id, visitor_id), keys.rights_stats(shop_id), keys.rights_audit(shop_id), keys.rights_outstanding(shop_id),
            keys.rights_feature_layouts(shop_id), keys.event_log(shop_id),
        ]
        reply = await self._grant(keys=kv, args=args)
        status = _s(reply[0])
        if features is not None and not named and status != "sticky":  # (a decision was logged: its names are stored)
            self._named_layouts.add((shop_id, features.spec.layout))
        if status == "sticky":
            d = orjson.loads(reply[1])
            return Grant("sticky", d.get("right"), d)
        if status == "granted":
            return Grant("granted", _s(reply[1]), orjson.loads(reply[2]), _skipped(reply[3]))
        return Grant("none", None, orjson.loads(reply[1]), _skipped(reply[2]))

    async def record_purchases(self, shop_id: str, purchases: Sequence[Event], rights: Mapping[str, Right]) -> list[str]:
        """Count purchases against the buyers' decisions; one word each (see the script)."""
        if not purchases:
            return []
        visitors: dict[str, int] = {}
        args: list[str | int] = [len(purchases), EVENT_LOG_MAXLEN, AUDIT_MAXLEN]
        for e in purchases:
            vi = visitors.setdefault(e.visitor_id, len(visitors) + 1)
            named = rights.get(e.right_id) if e.right_id else None
            order = e.amount_cents or 0
            cost = named.redemption_cost_cents(order) if named is not None else 0
            min_spend = round(named.min_spend * 100) if named is not None else -1
            args += [vi, e.visitor_id, e.event_id, round(e.ts * 1000), e.right_id or "", cost, min_spend, order]
        kv = [keys.rights_stats(shop_id), keys.rights_outstanding(shop_id), keys.event_log(shop_id), keys.rights_audit(shop_id)]
        kv += (keys.rights_visitor(shop_id, v) for v in visitors)
        return [_s(w) for w in await self._purchase(keys=kv, args=args)]

    async def counters(self, shop_id: str) -> dict[str, int]:
        raw = await self.redis.hgetall(keys.rights_stats(shop_id))
        return {_s(k): int(v) for k, v in raw.items()}

    async def audit(self, shop_id: str, count: int = 50, right: str | None = None) -> list[dict[str, Any]]:
        """The newest decisions first (those of ``right`` only, when given): from the
        stream, then from the archive's newest days when the stream has too few."""
        out: list[dict[str, Any]] = []

        def take(entry_id: str, fields: Mapping[Any, Any] | None) -> bool:
            """Keep the entry if it is a wanted decision; True once ``count`` are kept."""
            raw = _field(fields, "d")
            if raw is not None:  # (not an outcome entry, "o")
                d = orjson.loads(raw)
                if right is None or d.get("right") == right or d.get("arm") == right:
                    out.append({"id": entry_id, **d})
            return len(out) >= count

        last, oldest = "+", None
        while len(out) < count:
            batch = await self.redis.xrevrange(keys.rights_audit(shop_id), max=last, count=500) or []
            for entry_id, fields in batch:
                oldest = _s(entry_id)
                if take(oldest, fields):
                    return out
            if len(batch) < 500:
                break
            last = "(" + _s(batch[-1][0])
        if self.archive is not None:
            archive, before = self.archive, parse_id(oldest) if oldest is not None else None

            def from_disk() -> None:
                for sid, fields in archive.newest_first(shop_id, before, days=AUDIT_DISK_DAYS):
                    if take(format_id(sid), fields):
                        return

            await anyio.to_thread.run_sync(from_disk)
        return out

    async def decision_log(self, shop_id: str, window: Window, batch: int = 1000) -> LogTable:
        """The window's decisions joined to their outcomes (:mod:`app.rights.decision_log`).

        The entries are read from the window's start on, by when they were appended: a
        decision is appended when it is made (a render with a past ``context.ts`` later,
        and its ``at_ms`` decides whether it is in the window), and its outcomes after it.
        Every entry after the start is read, as a late purchase event can still convert a
        decision: first the archive's day files (off the event loop), then the stream
        after the last archived entry. Without an archive, the stream's own cap
        (``AUDIT_MAXLEN``) bounds the read.
        """
        log = DecisionLog(window)
        key = keys.rights_audit(shop_id)
        since = max(window.since_ms, 0) if window.since_ms is not None else None
        start = f"{since}-0" if since is not None else "-"
        if self.archive is not None:
            archive = self.archive

            def from_disk() -> StreamId | None:
                last = None
                for sid, fields in archive.read(shop_id, since):
                    log.add(fields)
                    last = sid
                return last

            last = await anyio.to_thread.run_sync(from_disk)
            if last is not None:  # (the archive read is at or after the window's start)
                start = "(" + format_id(last)
        async for entries in pages(self.redis, key, start, batch):
            for _, fields in entries:
                if fields:
                    log.add({_s(k): v for k, v in fields.items()})
        raw = await self.redis.hgetall(keys.rights_feature_layouts(shop_id))
        return log.table({_s(k): orjson.loads(v) for k, v in raw.items()})


def _json(value: Any) -> bytes:
    """Compact JSON, UTF-8 (orjson: a grant's decision and candidates in 3 µs where json takes 22)."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


def _field(fields: Mapping[Any, Any] | None, name: str) -> Any:
    """A stream entry's field, whether the client decodes responses or not (None: absent)."""
    if not fields:
        return None
    value = fields.get(name.encode())
    return fields.get(name) if value is None else value


def _skipped(x: Any) -> tuple[str, ...]:
    s = _s(x)
    return tuple(s.split(",")) if s else ()
