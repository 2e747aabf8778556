"""One rights grant (``RightsStore.grant``: arguments, the script on the embedded Redis,
the reply) through the script lane against the same grant through redis-py's ``Script``.

    python bench/grant_bench.py [--grants 4000] [--evict-mb 8] [--loop uvloop]

Both calls go through the same store, pool, server and five live rights, in rounds of
100 grants each that alternate which goes first, so the machine's noise falls on both.
Between grants the bench writes ``--evict-mb`` of memory, as a render's own work does,
so neither call runs on caches warmed by the one before (0: back to back, warm).
redis-py's ``Script`` is the floor: the ratio is lane / redis-py. ``--loop uvloop``
runs both on uvloop, the loop the served app runs on (``storefront serve``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import summary

ROUND = 100


async def run(grants: int, evict_mb: int) -> dict[str, list[float]]:
    import redis.asyncio as aioredis

    from app.demo import RIGHTS
    from app.rights.definition import Right, RightIn
    from app.rights.policy import RightsDecision
    from app.store.client import with_hiredis_packing
    from app.store.embedded import EmbeddedRedis
    from app.store.rights import _GRANT_LUA, RightsStore

    server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="sf-grant-bench-")))
    url = server.start()
    pool = aioredis.BlockingConnectionPool.from_url(url, decode_responses=True, socket_timeout=2.0, max_connections=64)
    r = aioredis.Redis(connection_pool=with_hiredis_packing(pool))
    store = RightsStore(r)
    lane = store._grant
    calls = {"script lane": lane, "redis-py Script": r.register_script(_GRANT_LUA)}
    five = ("cash20", "cash50", "pct10", "free_ship", "gift")
    rights = {k: Right.from_body(k, RightIn.model_validate({**RIGHTS[k], "budget": {}, "pacing": None}).stored()) for k in five}
    decision = RightsDecision(five, "cash20 pays for itself", "cash20")
    scratch = np.zeros(evict_mb * (1 << 20) // 8)
    lat: dict[str, list[float]] = {name: [] for name in calls}
    try:
        for rnd in range(max(grants // ROUND, 2)):
            for name in sorted(calls, reverse=rnd % 2 == 1):
                store._grant = calls[name]  # type: ignore[assignment]
                for i in range(ROUND):
                    if evict_mb:
                        np.add(scratch, 1.0, out=scratch)
                    t = time.perf_counter()
                    await store.grant("bench", f"{name[:4]}{rnd}-{i}", decision, rights, now=time.time(), zone="Asia/Shanghai", policy_version="v")
                    lat[name].append(time.perf_counter() - t)
    finally:
        store._grant = lane
        await store.aclose()
        await r.aclose()
        server.stop()
    return lat


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--grants", type=int, default=4000, help="grants per call kind")
    p.add_argument("--evict-mb", type=int, default=8, help="memory written between grants (0: warm caches)")
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio", help="the event loop both run on")
    args = p.parse_args()
    factory = asyncio.new_event_loop
    if args.loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        lat = runner.run(run(args.grants, args.evict_mb))
    print(f"\n{args.grants} grants each, five live rights, {args.evict_mb} MB written between grants, {args.loop} loop\n")
    rows = {name: summary(name, v[len(v) // 10 :], sum(v[len(v) // 10 :])) for name, v in lat.items()}
    lane, floor = rows["script lane"], rows["redis-py Script"]
    print(f"\nlane / redis-py: p50 {lane['p50_ms'] / floor['p50_ms']:.2f}, p99 {lane['p99_ms'] / floor['p99_ms']:.2f} "
          f"(saved per grant: p50 {floor['p50_ms'] - lane['p50_ms']:+.3f} ms, p99 {floor['p99_ms'] - lane['p99_ms']:+.3f} ms)")


if __name__ == "__main__":
    main()
