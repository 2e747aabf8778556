"""The rights audit stream moved to day files on disk (app.store.audit_archive), on the
real Redis behind a real app with the published uplift model: the decision log reads the
same before and after, across a crash mid-write, a lost archive state, two archivers at
once, and the retention of old days.

A run "two hours from now" trims everything it moved (the stream keeps its last hour).
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.store import keys
from app.store.audit_archive import CURSOR, AuditArchive, day_of, parse_id
from tests.conftest import ShopKeys, make_settings
from tests.integration.test_rights_log import (
    DAY,
    UPLIFT_DIR,
    history,
    iso,
    open_shop,
    post_events,
    render,
)

LATER = 2 * 3600.0  # a run this far ahead trims all it moved


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # archive_s 0: no periodic run; the tests run the archive themselves
    with TestClient(create_app(make_settings(tmp_path_factory.mktemp("archive"), uplift_dir=UPLIFT_DIR, rights_archive_s=0))) as c:
        c.app.state.storefront.render_service.rights.rng.seed(20261123)
        yield c


def archive_of(c: TestClient) -> AuditArchive:
    archive = c.app.state.storefront.render_service.rights.store.archive
    assert archive is not None
    return archive


def log_text(c: TestClient, shop: ShopKeys, **params: Any) -> str:
    r = c.get(shop.url("/rights:log"), params={"complete_only": "false", **params}, headers=shop.merchant)
    assert r.status_code == 200, r.text
    return r.text


def stream_length(c: TestClient, shop: ShopKeys) -> int:
    return int(c.portal.call(c.app.state.storefront.redis.xlen, keys.rights_audit(shop.shop_id)))


def state(c: TestClient, shop: ShopKeys) -> dict[str, str]:
    return dict(c.portal.call(c.app.state.storefront.redis.hgetall, keys.rights_audit_archive(shop.shop_id)))


def decide(c: TestClient, shop: ShopKeys, visitors: list[str], then: float) -> dict[str, dict[str, Any]]:
    post_events(c, shop, [e for i, v in enumerate(visitors) for e in history(v, i % 4, then)])
    return {v: render(c, shop, v, {"ts": then}) for v in visitors}


def test_the_log_reads_the_same_after_its_stream_is_moved_to_disk(served: TestClient) -> None:
    c, archive = served, archive_of(served)
    shop = open_shop(c)
    then = round(time.time() - 3 * DAY, 3)
    answers = decide(c, shop, [f"a{i}" for i in range(12)], then)
    granted = [v for v, a in answers.items() if a["granted"]]
    assert granted, answers
    post_events(c, shop, [{"event_id": "p1", "type": "purchase", "visitor_id": granted[0], "ts": then + 60, "amount": 300,
                           "right_id": answers[granted[0]]["granted"]["id"]}])
    before, entries = log_text(c, shop), stream_length(c, shop)
    assert before.count("\n") == 13 and entries == 13  # the header and 12 decisions; 12 decisions and 1 outcome

    run = c.portal.call(archive.archive_shop, shop.shop_id, time.time() + LATER)
    assert (run.moved, run.trimmed, run.skipped) == (entries, entries, False)
    assert stream_length(c, shop) == 0
    [(day, path)] = archive.day_files(shop.shop_id)
    assert day == day_of(round(time.time() * 1000)) and state(c, shop)[day] == str(path.stat().st_size)
    with gzip.open(path) as f:
        lines = [orjson.loads(line) for line in f]
    assert len(lines) == entries and sum("d" in x for x in lines) == 12 and sum("o" in x for x in lines) == 1
    assert log_text(c, shop) == before  # every row, from disk
    assert log_text(c, shop, since=iso(then - 1), until=iso(then + 1)) == before

    # A purchase now converts a decision on disk: its outcome is in the stream, the join holds.
    buyer = next(v for v in answers if v != granted[0])
    post_events(c, shop, [{"event_id": "p2", "type": "purchase", "visitor_id": buyer, "ts": then + 120, "amount": 99}])
    after = log_text(c, shop)
    row = next(line for line in after.splitlines() if f",{buyer}," in line)
    assert after != before and ",1,99.0," in row
    # ... and after the next run, from disk alone (a second gzip member of the same day file).
    assert c.portal.call(archive.archive_shop, shop.shop_id, time.time() + LATER).moved == 1
    assert stream_length(c, shop) == 0 and log_text(c, shop) == after
    # The console's newest decisions: from disk once the stream has none.
    listed = c.portal.call(c.app.state.storefront.render_service.rights.store.audit, shop.shop_id, 50)
    assert sorted(d["visitor"] for d in listed) == sorted(answers)
    assert [d["id"] for d in listed] == sorted((d["id"] for d in listed), key=parse_id, reverse=True)
    right = answers[granted[0]]["granted"]["id"]
    r = c.get(shop.url(f"/rights/{right}/audit"), headers=shop.merchant)
    assert r.status_code == 200 and {d["visitor"] for d in r.json()["decisions"]} >= {granted[0]}


def test_the_stream_keeps_its_last_hour_for_the_console(served: TestClient) -> None:
    c, archive = served, archive_of(served)
    shop = open_shop(c)
    decide(c, shop, ["k1", "k2", "k3"], round(time.time() - 3 * DAY, 3))
    before = log_text(c, shop)
    run = c.portal.call(archive.archive_shop, shop.shop_id, time.time())
    assert (run.moved, run.trimmed) == (3, 0) and stream_length(c, shop) == 3  # moved, and still in the stream
    assert log_text(c, shop) == before  # the stream is read after the last archived id: no row twice
    assert c.portal.call(archive.archive_shop, shop.shop_id, time.time()).moved == 0  # nothing new


def test_a_crash_between_the_write_and_the_commit_leaves_no_row_twice(served: TestClient) -> None:
    c, archive = served, archive_of(served)
    shop = open_shop(c)
    decide(c, shop, [f"c{i}" for i in range(6)], round(time.time() - 3 * DAY, 3))
    before = log_text(c, shop)
    # What a crashed run leaves: its batch on disk, the state in Redis not moved.
    entries = c.portal.call(c.app.state.storefront.redis.xrange, keys.rights_audit(shop.shop_id))
    lines = [orjson.dumps({"id": i, **f}) for i, f in entries]
    day = day_of(parse_id(entries[0][0])[0])
    archive._append(shop.shop_id, {day: lines}, {})
    path = archive.folder(shop.shop_id) / f"{day}.jsonl.gz"
    assert path.stat().st_size > 0 and state(c, shop) == {}
    # The state is lost with the crash, so the file is adopted as it is and the same entries
    # appended again: read once all the same.
    assert c.portal.call(archive.archive_shop, shop.shop_id, time.time() + LATER).moved == 6
    assert log_text(c, shop) == before
    committed = int(state(c, shop)[day])
    assert committed == path.stat().st_size

    # A run torn by a crash mid-write: bytes past the committed size, half a gzip member.
    decide(c, shop, ["c6", "c7"], round(time.time() - 3 * DAY, 3))
    more = log_text(c, shop)
    with path.open("ab") as f:
        f.write(gzip.compress(b'{"id": "1-0", "d": "{}"}\n')[:15])
    assert log_text(c, shop) == more  # read up to the break, the rest from the stream
    assert c.portal.call(archive.archive_shop, shop.shop_id, time.time() + LATER).moved == 2
    assert int(state(c, shop)[day]) == path.stat().st_size > committed  # cut off, then appended
    assert stream_length(c, shop) == 0 and log_text(c, shop) == more
    with gzip.open(path) as f:  # a whole file again
        assert len(f.read().splitlines()) == 6 + 6 + 2


def test_two_archivers_at_once_move_each_entry_once(served: TestClient) -> None:
    c, archive = served, archive_of(served)
    shop = open_shop(c)
    decide(c, shop, [f"t{i}" for i in range(8)], round(time.time() - 3 * DAY, 3))
    before = log_text(c, shop)
    other = AuditArchive(c.app.state.storefront.redis, archive.root)  # another worker's, on the same Redis and folder

    async def both() -> list[Any]:
        return list(await asyncio.gather(archive.archive_shop(shop.shop_id), other.archive_shop(shop.shop_id)))

    runs = c.portal.call(both)
    assert sorted(r.skipped for r in runs) == [False, True] and sum(r.moved for r in runs) == 8
    assert c.portal.call(other.archive_shop, shop.shop_id, time.time() + LATER).moved == 0  # the lock is free again
    [(_, path)] = archive.day_files(shop.shop_id)
    with gzip.open(path) as f:
        assert len(f.read().splitlines()) == 8
    assert log_text(c, shop) == before


def test_day_files_older_than_the_retention_are_deleted(served: TestClient) -> None:
    c, archive = served, archive_of(served)
    shop = open_shop(c)
    decide(c, shop, ["r1"], round(time.time() - 3 * DAY, 3))
    folder = archive.folder(shop.shop_id)
    folder.mkdir(parents=True)
    old = folder / "2025-01-01.jsonl.gz"
    old.write_bytes(gzip.compress(b'{"id": "1735689600000-0", "o": "{\\"grant_id\\": \\"x\\"}"}\n'))
    c.portal.call(c.app.state.storefront.redis.hset, keys.rights_audit_archive(shop.shop_id), "2025-01-01", str(old.stat().st_size))
    (folder / "notes.txt").write_text("not a day file: left alone")
    short = AuditArchive(c.app.state.storefront.redis, archive.root, keep_days=30)
    run = c.portal.call(short.archive_shop, shop.shop_id)
    assert run.removed_days == ("2025-01-01",) and not old.exists() and (folder / "notes.txt").exists()
    assert "2025-01-01" not in state(c, shop) and CURSOR in state(c, shop)
    assert [d for d, _ in archive.day_files(shop.shop_id)] == [day_of(round(time.time() * 1000))]


def test_the_service_moves_the_stream_on_its_own(tmp_path: Path) -> None:
    """The app's periodic task, as configured (STOREFRONT_RIGHTS_ARCHIVE_S)."""
    with TestClient(create_app(make_settings(tmp_path, uplift_dir=UPLIFT_DIR, rights_archive_s=0.1))) as c:
        shop = open_shop(c)
        decide(c, shop, ["s1", "s2"], round(time.time() - 3 * DAY, 3))
        folder = tmp_path / "rights-log" / shop.shop_id
        newest = c.portal.call(c.app.state.storefront.redis.xrevrange, keys.rights_audit(shop.shop_id), "+", "-", 1)[0][0]
        deadline = time.time() + 30
        while time.time() < deadline and state(c, shop).get(CURSOR) != newest:
            time.sleep(0.05)
        assert state(c, shop).get(CURSOR) == newest
        assert [p.name for p in folder.iterdir()] == [f"{day_of(round(time.time() * 1000))}.jsonl.gz"]
        check = c.get("/readyz").json()["checks"]["rights_archive"]
        assert check["ok"] and check["moved"] >= 2 and check["every_s"] == 0.1 and check["dir"] == str(tmp_path / "rights-log")


def test_a_failing_archive_says_why_and_moves_nothing(served: TestClient, tmp_path: Path) -> None:
    c = served
    shop = open_shop(c)
    decide(c, shop, ["f1"], round(time.time() - 3 * DAY, 3))
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the archive's folder should be")
    broken = AuditArchive(c.app.state.storefront.redis, blocked)
    runs = {r.shop_id: r for r in c.portal.call(broken.run)}
    assert runs[shop.shop_id].error is not None and runs[shop.shop_id].moved == 0
    status = broken.status()
    assert not status["ok"] and status["last_run_at"] is None and "Error" in status["error"]
    assert shop.shop_id in status["failed_shops"]
    assert CURSOR not in state(c, shop) and stream_length(c, shop) == 1  # nothing moved, nothing trimmed
    assert c.get("/readyz").json()["checks"]["rights_archive"]["every_s"] is None  # (this app's archive task is off)


def test_one_shops_bad_folder_does_not_stop_the_others(served: TestClient, tmp_path: Path) -> None:
    c = served
    bad, good = open_shop(c), open_shop(c)
    then = round(time.time() - 3 * DAY, 3)
    decide(c, bad, ["b1"], then)
    decide(c, good, ["g1"], then)
    root = tmp_path / "rights-log"  # (this archive also moves the module's other shops: later tests make their own)
    root.mkdir()
    (root / bad.shop_id).write_text("a file where the shop's folder should be")
    archive = AuditArchive(c.app.state.storefront.redis, root)
    runs = {r.shop_id: r for r in c.portal.call(archive.run, time.time() + LATER)}
    assert runs[bad.shop_id].error is not None and runs[bad.shop_id].moved == 0
    assert runs[good.shop_id].error is None and runs[good.shop_id].moved == 1  # (listed before or after the bad one: either way)
    assert stream_length(c, bad) == 1 and stream_length(c, good) == 0
    status = archive.status()
    assert not status["ok"] and list(status["failed_shops"]) == [bad.shop_id] and bad.shop_id in status["error"]
    (root / bad.shop_id).unlink()  # the operator mends the folder: the next run catches up and says all is well
    runs = {r.shop_id: r for r in c.portal.call(archive.run, time.time() + LATER)}
    assert runs[bad.shop_id].moved == 1 and archive.status()["ok"] and archive.status()["failed_shops"] == {}


def test_a_folder_outside_the_archive_is_never_a_shop(served: TestClient) -> None:
    archive = archive_of(served)
    for bad in ("../etc", "a/b", "", "UPPER"):
        with pytest.raises(ValueError, match="not a shop id"):
            archive.folder(bad)
    assert archive.folder("shop-1") == Path(archive.root) / "shop-1"
