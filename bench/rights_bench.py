"""What allocating discount rights adds to a render, against the same renders without rights.

    python bench/rights_bench.py [--renders 4000] [--passes 3] [--visitors 1000] [--loop uvloop]

Seeds the demo shop with the published uplift model (models/uplift), keeps five of its
rights live for everyone (uplift mode, no crowd, budgets large enough never to run out),
then renders in-process (no HTTP: the difference is small and HTTP noise would bury it)
the same visitors in blocks of 20, each block once with and once without the rights
(which goes first alternates): a block is long enough for each leg to run on its own
warm caches, as a shop that grants on every page view would, and short against the
machine's drift and bursts of noise, which fall on both legs alike (with rounds of a few
hundred renders a leg, the added p99 moved by more than the whole bar from one run to
the next). Without rights is the floor: the same process, visitors and page, with the
shop's configuration snapshot swapped for a copy that has no rights. Every visitor's
rights decision is cleared before its block (outside the timing), so every
render with rights does the whole allocation: the model scores
the five rights, the policy orders them, and the grant script checks budgets, pacing
and the visitor's limit and writes the grant and its audit record. The issue's bar:
no more than 2 ms added at p99.

The whole measurement is made ``--passes`` times, each pass with its own p99s, and the
bar is judged on the median pass; every pass's figures and the pooled ones are printed.
On this shared 2-core machine a burst of the host's noise can land on one leg of one
pass and move its p99 by several milliseconds (one pass of +6.5 ms between two of
+1.3 and +1.4); the median of three is not moved by one such burst.

Also timed alone: the model call and the pure policy for one visitor.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from app.config import FSYNC_POLICIES
from bench.common import in_process_demo, summary

FIVE = ("cash20", "cash50", "pct10", "free_ship", "gift")
BLOCK = 20  # renders of one leg in a row: long enough for each leg's own caches, short against the machine's drift


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--renders", type=int, default=4000, help="renders per leg and pass")
    p.add_argument("--passes", type=int, default=3, help="whole measurements, each with its own p99 (the bar is judged on their median)")
    p.add_argument("--visitors", type=int, default=1000)
    p.add_argument("--fsync", choices=FSYNC_POLICIES, default=FSYNC_POLICIES[0], help="the embedded Redis's appendfsync (STOREFRONT_REDIS_FSYNC)")
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio", help="the app's event loop (uvloop: what storefront serve runs)")
    args = p.parse_args()
    warnings.simplefilter("ignore")

    from app.core.features import VisitorRows
    from app.core.profile import Context
    from app.demo import RIGHTS
    from app.rights.definition import RightIn
    from app.rights.policy import PolicyInputs, decide
    from app.serving.render import RenderRequest
    from app.serving.rights import arm_scores
    from app.store import keys
    from app.store import visitors as visitor_store

    with in_process_demo(args.visitors, fsync=args.fsync, loop=args.loop) as (c, h):
        state = c.app.state.storefront
        model = state.uplift.current
        if model is None:
            raise SystemExit(f"no uplift model loaded ({state.uplift.error}); publish one with python -m training uplift-demo")
        for rid in RIGHTS:
            assert c.delete(f"/v1/shops/demo/rights/{rid}", headers=h).status_code == 200
        for rid in FIVE:
            body = RightIn.model_validate({**RIGHTS[rid], "budget": {}, "pacing": None}).stored()
            body.pop("pacing", None)
            r = c.put(f"/v1/shops/demo/rights/{rid}", json=body, headers=h)
            assert r.status_code == 201, r.text
        assert c.put("/v1/shops/demo/settings", json={"rights": {"exploration": 0.05}}, headers=h).status_code == 200
        service = state.render_service
        c.post("/v1/shops/demo/render", json={"visitor_id": "warm", "page": "home"}, headers=h)
        with_rights = service.snapshots.configs["demo"]
        assert sorted(with_rights.rights) == sorted(FIVE)
        without = replace(with_rights, rights={})
        rng = random.Random(3)
        outcomes: dict[str, int] = {}
        configs = {"without rights": without, "with 5 eligible rights": with_rights}

        async def blocks(start: int, chunk: list[str], lat: dict[str, list[float]], cpu: dict[str, list[float]]) -> None:
            for b in range(0, len(chunk), BLOCK):
                block = chunk[b : b + BLOCK]
                await service.redis.delete(*(keys.rights_visitor("demo", v) for v in set(block)))  # decide afresh (untimed)
                for name in sorted(configs, reverse=(start + b) // BLOCK % 2 == 1):
                    service.snapshots.configs["demo"] = configs[name]
                    for vid in block:
                        req = RenderRequest(vid, "home", Context(ts=time.time(), device="mobile"))
                        t, t_cpu = time.perf_counter(), time.thread_time()
                        out = await service.render("demo", req, authorize=lambda cfg: None)
                        lat[name].append(time.perf_counter() - t)
                        cpu[name].append(time.thread_time() - t_cpu)
                        if out.decision.rights is not None:
                            g = out.decision.rights.get("granted")
                            key = g["id"] if g else "none"
                            outcomes[key] = outcomes.get(key, 0) + 1

        passes: list[tuple[float, float]] = []  # (added p50, added p99) per pass, in ms
        pooled: dict[str, list[float]] = {name: [] for name in configs}
        for n in range(args.passes):
            pool = [f"v{rng.randrange(args.visitors):05d}" if i % 4 else f"anon-{n}-{i}" for i in range(args.renders)]
            lat: dict[str, list[float]] = {name: [] for name in configs}
            cpu: dict[str, list[float]] = {name: [] for name in configs}
            for start in range(0, len(pool), 500):
                c.portal.call(blocks, start, pool[start : start + 500], lat, cpu)
            print(f"\npass {n + 1}: {args.renders} in-process renders per leg, in blocks of {BLOCK} with and {BLOCK} without rights, "
                  f"embedded Redis appendfsync {args.fsync}, {args.loop} loop")
            warm = {name: v[len(v) // 10 :] for name, v in lat.items()}  # the first tenth of each leg warms it up
            rows = {name: summary(name, v, sum(v)) for name, v in warm.items()}
            base, alloc = rows["without rights"], rows["with 5 eligible rights"]
            passes.append((alloc["p50_ms"] - base["p50_ms"], alloc["p99_ms"] - base["p99_ms"]))
            print(f"added per render: p50 {passes[-1][0]:+.3f} ms, p99 {passes[-1][1]:+.3f} ms; p99 ratio with/without {alloc['p99_ms'] / base['p99_ms']:.3f}")
            own = {name: np.percentile(np.array(v[len(v) // 10 :]) * 1000, [50, 99]) for name, v in cpu.items()}
            added_cpu = own["with 5 eligible rights"] - own["without rights"]
            print(f"  the event loop thread's own CPU time per render (a diagnostic: not the bar; the host's steal and the "
                  f"waits on Redis are not in it): without {own['without rights'][0]:.2f} / {own['without rights'][1]:.2f} ms p50 / p99, "
                  f"added {added_cpu[0]:+.3f} / {added_cpu[1]:+.3f} ms")
            for name, v in warm.items():
                pooled[name] += v
        service.snapshots.configs["demo"] = with_rights

        print(f"\nall {args.passes} passes pooled:")
        rows = {name: summary(name, v, sum(v)) for name, v in pooled.items()}
        pooled_add = rows["with 5 eligible rights"]["p99_ms"] - rows["without rights"]["p99_ms"]
        p99_add = statistics.median(p99 for _, p99 in passes)
        print(f"added p99 per pass: {', '.join(f'{p99:+.3f}' for _, p99 in passes)} ms; median {p99_add:+.3f} ms; pooled {pooled_add:+.3f} ms; "
              f"added p50 median {statistics.median(p50 for p50, _ in passes):+.3f} ms")
        print("decisions:", ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1])))

        profile = c.portal.call(visitor_store.read_profile, service.redis, "demo", pool[1])
        ctx = Context(ts=time.time(), device="mobile")
        n = 2000
        t = time.perf_counter()
        for _ in range(n):
            scores = arm_scores(model, VisitorRows(profile.behaviour, ctx), set(FIVE))
        model_ms = (time.perf_counter() - t) / n * 1000
        rights = tuple(with_rights.rights.values())
        t = time.perf_counter()
        for i in range(n):
            decide(PolicyInputs(rights, ctx.ts, set(), scores=scores, exploration=0.05, draw=(i % 100) / 100))
        policy_ms = (time.perf_counter() - t) / n * 1000
        print(f"alone: the uplift model on one visitor (5 rights + control) {model_ms:.3f} ms; the pure policy {policy_ms * 1000:.1f} µs")
        print(f"bar: at most 2 ms added at p99 -> {'met' if p99_add <= 2.0 else 'NOT met'} (median pass {p99_add:+.3f} ms, pooled {pooled_add:+.3f} ms)")


if __name__ == "__main__":
    main()
