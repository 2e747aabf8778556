"""The rights audit stream kept on disk: day files that outlast the stream's cap.

Every decision a render makes and every outcome a purchase records is appended to the
shop's audit stream in Redis (:func:`app.store.keys.rights_audit`). Left there, they
would hold Redis memory for ever (a decision carries the feature row the model read,
about a kilobyte), so the stream is capped, and the cap alone would silently cut the
oldest decisions out of the log that the next uplift model trains on.

:class:`AuditArchive` moves the entries, in stream order, into gzip JSON-lines files,
one per UTC day of the entry's id (when it was appended): ``<root>/<shop>/<YYYY-MM-DD>.jsonl.gz``.
Each line is ``{"id": "<stream id>", "<field>": "<value>", ...}``, the entry as the
stream held it. The stream is then trimmed up to what was moved, keeping its last
``stream_keep_s`` (the console's "newest decisions" read those without touching disk).

Crash safety: a batch is appended as one gzip member and flushed to disk before the
shop's archive state in Redis (the cursor, the last archived id, and each day file's
committed size) moves, in one command. A crash in between leaves bytes past a file's
committed size; the next run cuts them off before it appends, and archives the same
entries again. If the state itself is lost (a new Redis), existing files are adopted as
they are and :meth:`AuditArchive.read` skips any id it has already passed, so an entry
archived twice is still read once. A torn gzip member at the end of a file is read up to
where it breaks.

One archiver at a time per shop: a lock in Redis with a time-to-live, so that every
worker and every instance may run the task. With several hosts, ``root`` must be storage
they share (the export reads the files on whichever host answers it).

Retention: day files older than ``keep_days`` are deleted (visitor ids and decisions are
not kept longer than the merchant needs them).
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import orjson
import redis.asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from app.store import keys
from app.store.shops import list_shops
from app.store.streams import pages
from app.store.streams import text as _s

log = logging.getLogger("storefront.rights.archive")

StreamId = tuple[int, int]  # (ms, sequence): compared as a tuple, as Redis orders ids
DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.jsonl\.gz$")
CURSOR = "cursor"  # the state hash's field for the last archived id; the others are day -> committed size


def parse_id(raw: str | bytes) -> StreamId:
    ms, _, seq = _s(raw).partition("-")
    return int(ms), int(seq or 0)


def format_id(sid: StreamId) -> str:
    return f"{sid[0]}-{sid[1]}"


def day_of(ms: int) -> str:
    """The UTC day of a time in ms (the day file an entry appended then goes to)."""
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


@dataclass(frozen=True)
class ArchiveRun:
    """What one run did for one shop (``skipped``: another archiver held the shop's lock)."""

    shop_id: str
    moved: int = 0
    trimmed: int = 0
    removed_days: tuple[str, ...] = ()
    skipped: bool = False
    error: str | None = None  # why this shop's run failed (the other shops' runs went on)


class AuditArchive:
    def __init__(
        self, redis: aioredis.Redis, root: Path, *, keep_days: int = 400, stream_keep_s: float = 3600.0, batch: int = 2000,
        lock_s: float = 300.0,
    ) -> None:
        self.redis = redis
        self.root = root
        self.keep_days = keep_days
        self.stream_keep_s = stream_keep_s
        self.batch = batch
        self.lock_s = lock_s
        self.last_run_at: float | None = None  # the last whole run that succeeded (epoch s)
        self.last_error: str | None = None  # what the last run failed with (None: it did not)
        self.failed_shops: dict[str, str] = {}  # shop -> why, from the last run
        self.moved_total = 0

    def folder(self, shop_id: str) -> Path:
        if not keys.SHOP_ID_PATTERN.match(shop_id):  # (never a path outside root)
            raise ValueError(f"not a shop id: {shop_id!r}")
        return self.root / shop_id

    async def run(self, now: float | None = None) -> list[ArchiveRun]:
        """Archive every shop's stream (the periodic task's call); :meth:`status` says how it went.

        One shop's failure (its folder unwritable, a lost lock) is kept in its run and the
        others still move: a bad folder must not stop every shop's archive behind it."""
        try:
            shops = await list_shops(self.redis)
        except RedisError as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise
        runs = [await self._archive_or_say_why(shop_id, now) for shop_id in shops]
        self.failed_shops = {r.shop_id: r.error for r in runs if r.error is not None}
        self.moved_total += sum(r.moved for r in runs)
        if self.failed_shops:
            shop_id, error = next(iter(self.failed_shops.items()))
            self.last_error = f"{len(self.failed_shops)} of {len(runs)} shops failed; shop {shop_id}: {error}"
        else:
            self.last_run_at, self.last_error = time.time(), None
        return runs

    async def _archive_or_say_why(self, shop_id: str, now: float | None) -> ArchiveRun:
        try:
            return await self.archive_shop(shop_id, now)
        except (RedisError, OSError, ValueError) as exc:
            log.warning("rights archive of shop %s failed: %s", shop_id, exc)
            return ArchiveRun(shop_id, error=f"{type(exc).__name__}: {exc}")

    def status(self) -> dict[str, Any]:
        """For the readiness probe: an operator sees a failing archive (a full disk) before
        the stream's cap starts to drop decisions."""
        return {"ok": self.last_error is None, "dir": str(self.root), "last_run_at": self.last_run_at, "moved": self.moved_total,
                "error": self.last_error, "failed_shops": dict(self.failed_shops)}

    async def archive_shop(self, shop_id: str, now: float | None = None) -> ArchiveRun:
        """Move the shop's unarchived entries to disk, trim the stream, expire old days."""
        now = time.time() if now is None else now
        lock = self.redis.lock(keys.rights_archive_lock(shop_id), timeout=self.lock_s, blocking=False)
        if not await lock.acquire():
            return ArchiveRun(shop_id, skipped=True)
        try:
            moved, cursor = await self._move(shop_id, lock)
            trimmed = await self._trim(shop_id, cursor, now)
            removed = await self._expire(shop_id, now)
        finally:
            try:
                await lock.release()
            except LockError:  # (it expired: the next run takes it again)
                log.warning("the rights archive lock of shop %s expired during a run", shop_id)
        return ArchiveRun(shop_id, moved, trimmed, removed)

    async def _move(self, shop_id: str, lock: Lock) -> tuple[int, StreamId | None]:
        state_key = keys.rights_audit_archive(shop_id)
        state = {_s(k): _s(v) for k, v in (await self.redis.hgetall(state_key)).items()}
        cursor = parse_id(state[CURSOR]) if CURSOR in state else None
        sizes = {day: int(v) for day, v in state.items() if day != CURSOR}
        moved = 0
        start = "(" + format_id(cursor) if cursor is not None else "-"
        async for entries in pages(self.redis, keys.rights_audit(shop_id), start, self.batch):
            by_day: dict[str, list[bytes]] = {}
            for entry_id, fields in entries:
                sid = parse_id(entry_id)
                line = orjson.dumps({"id": format_id(sid), **{_s(k): _s(v) for k, v in (fields or {}).items()}})
                by_day.setdefault(day_of(sid[0]), []).append(line)
            committed = await anyio.to_thread.run_sync(self._append, shop_id, by_day, sizes)
            cursor = parse_id(entries[-1][0])
            # the cursor and the sizes in one command: never one without the other
            await self.redis.hset(state_key, mapping={CURSOR: format_id(cursor), **{d: str(n) for d, n in committed.items()}})
            sizes.update(committed)
            moved += len(entries)
            await lock.reacquire()  # (a long backlog: keep the lock while working)
        return moved, cursor

    def _append(self, shop_id: str, by_day: Mapping[str, list[bytes]], sizes: Mapping[str, int]) -> dict[str, int]:
        """Append each day's lines as one gzip member, flushed to disk; the files' new sizes."""
        folder = self.folder(shop_id)
        new_folder = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True)
        out: dict[str, int] = {}
        new_file = False
        for day, lines in by_day.items():
            path = folder / f"{day}.jsonl.gz"
            new_file = new_file or not path.exists()
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
            try:
                actual = os.fstat(fd).st_size
                size = sizes.get(day, actual)  # a file the state does not know (the state was lost): kept as it is
                if actual > size:  # a batch written but not committed, or torn by a crash: cut off
                    os.ftruncate(fd, size)
                elif actual < size:
                    log.warning("rights archive %s is shorter (%d bytes) than committed (%d): data lost on disk", path, actual, size)
                    size = actual
                member = gzip.compress(b"\n".join(lines) + b"\n", compresslevel=6, mtime=0)
                os.lseek(fd, size, os.SEEK_SET)
                view = memoryview(member)
                while view:  # (a write may take less than it was given)
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
                out[day] = size + len(member)
            finally:
                os.close(fd)
        if new_file:  # (a file flushed in a directory whose entry for it is lost is lost)
            _fsync_dir(folder)
        if new_folder:
            _fsync_dir(folder.parent)
        return out

    async def _trim(self, shop_id: str, cursor: StreamId | None, now: float) -> int:
        """Drop from the stream what is archived and older than ``stream_keep_s``."""
        if cursor is None:
            return 0
        keep_from = (int((now - self.stream_keep_s) * 1000), 0)
        minid = min((cursor[0], cursor[1] + 1), keep_from)  # below both: archived, and out of the kept span
        return int(await self.redis.xtrim(keys.rights_audit(shop_id), minid=format_id(minid), approximate=False))

    async def _expire(self, shop_id: str, now: float) -> tuple[str, ...]:
        oldest = (datetime.fromtimestamp(now, UTC).date() - timedelta(days=self.keep_days)).isoformat()
        removed = await anyio.to_thread.run_sync(self._remove_days_before, shop_id, oldest)
        if removed:
            await self.redis.hdel(keys.rights_audit_archive(shop_id), *removed)
        return removed

    def _remove_days_before(self, shop_id: str, oldest: str) -> tuple[str, ...]:
        old = [(day, path) for day, path in self.day_files(shop_id) if day < oldest]
        for _, path in old:
            path.unlink(missing_ok=True)
        return tuple(day for day, _ in old)

    def day_files(self, shop_id: str) -> list[tuple[str, Path]]:
        """The shop's day files, oldest first."""
        folder = self.folder(shop_id)
        if not folder.is_dir():
            return []
        found = ((m.group(1), p) for p in folder.iterdir() if (m := DAY_FILE.match(p.name)))
        return sorted(found)

    def read(self, shop_id: str, since_ms: int | None = None) -> Iterator[tuple[StreamId, dict[str, str]]]:
        """The archived entries appended at or after ``since_ms``, in stream order, each once.
        Blocking file reads: call it off the event loop."""
        since = (since_ms, 0) if since_ms is not None else (0, 0)
        first_day = day_of(since_ms) if since_ms is not None else ""
        last: StreamId = (-1, 0)
        for day, path in self.day_files(shop_id):
            if day < first_day:
                continue
            for sid, fields in _entries(path):
                if sid <= last or sid < since:  # (archived twice after a lost state; before the window)
                    continue
                last = sid
                yield sid, fields

    def newest_first(self, shop_id: str, before: StreamId | None, days: int = 7) -> Iterator[tuple[StreamId, dict[str, str]]]:
        """Archived entries older than ``before``, newest first, from the newest ``days`` day
        files (what the console's newest decisions read once the stream has no more)."""
        for _, path in reversed(self.day_files(shop_id)[-days:]):
            entries = [(sid, f) for sid, f in _entries(path) if before is None or sid < before]
            seen: set[StreamId] = set()
            for sid, fields in reversed(entries):
                if sid not in seen:
                    seen.add(sid)
                    yield sid, fields


def _entries(path: Path) -> Iterator[tuple[StreamId, dict[str, str]]]:
    """A day file's entries; a torn member at the end (a crash mid-write) ends the file."""
    try:
        with gzip.open(path, "rb") as f:
            for line in f:
                fields = orjson.loads(line)
                yield parse_id(fields.pop("id")), fields
    except (EOFError, gzip.BadGzipFile, zlib.error, orjson.JSONDecodeError) as exc:
        log.warning("rights archive %s is cut short (%s): read up to the break", path, exc)


def _fsync_dir(path: Path) -> None:
    """Flush a directory, so that a new entry in it survives a crash of the machine."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


