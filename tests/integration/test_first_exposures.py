"""First exposures written in batches on the real Redis: the first one counts, every
entry of a batch larger than one script call lands, shops stay apart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from app.experiments.attribution import Exposure
from app.serving.exposures import ExposureLog
from app.store import keys
from app.store.experiments import FIRST_EXPOSURES_PER_CALL

DB = 8  # a database of its own: the test flushes it


@pytest.fixture
def sock(client: TestClient) -> Iterator[str]:
    yield str(client.app.state.storefront.handle.embedded.socket_path)


def test_a_batch_keeps_each_first_exposure_across_calls_and_shops(sock: str) -> None:
    n = FIRST_EXPOSURES_PER_CALL + 37  # more than one script call

    async def go() -> tuple[int, dict[str, str], dict[str, str], dict[str, str]]:
        async with aioredis.Redis(unix_socket_path=sock, db=DB, decode_responses=True) as r:
            await r.flushdb()
            log = ExposureLog(r)
            await r.hset(keys.experiment_exposures("s1", "hero", 1), "v0", Exposure("a", 1).encode())  # exposed before
            for i in range(n):
                log.expose("s1", "hero", 1, f"v{i}", Exposure("b" if i % 2 else "a", 1000 + i, pre_orders=i % 3))
            log.expose("s1", "grid", 2, "v1", Exposure("c", 5))
            log.expose("s2", "hero", 1, "v1", Exposure("z", 7))
            log.expose("s1", "hero", 1, "v1", Exposure("late", 9))  # the same visitor again: no write
            written = await log.flush()
            try:
                return (
                    written,
                    await r.hgetall(keys.experiment_exposures("s1", "hero", 1)),
                    await r.hgetall(keys.experiment_exposures("s1", "grid", 2)),
                    await r.hgetall(keys.experiment_exposures("s2", "hero", 1)),
                )
            finally:
                await r.flushdb()

    written, hero, grid, other = asyncio.run(go())
    assert written == n + 2
    assert len(hero) == n
    assert Exposure.decode(hero["v0"]) == Exposure("a", 1)  # the earlier exposure was kept
    assert Exposure.decode(hero["v1"]) == Exposure("b", 1001, pre_orders=1)
    assert Exposure.decode(hero[f"v{n - 1}"]) == Exposure("b" if (n - 1) % 2 else "a", 1000 + n - 1, pre_orders=(n - 1) % 3)
    assert grid == {"v1": Exposure("c", 5).encode()} and other == {"v1": Exposure("z", 7).encode()}
