"""What ten running experiments add to a render, against the same renders without them.

    python bench/experiments_bench.py [--renders 3000] [--visitors 1000]

Seeds the demo shop, starts ten experiments through the API (block, ranking and banner
levers; two namespaces; one targeted at a crowd), then renders in-process (no HTTP: the
difference is small and HTTP noise would bury it) in alternating rounds with and without
the experiments. Without them is the floor: the same process, visitors and page, with the
shop's configuration snapshot swapped for a copy that has no experiments. Every render is
a real one (exposures and first exposures logged), so the figure includes assignment,
levers and exposure logging. The issue's bar: under 0.5 ms added per render.

Also timed alone: the pure assignment of the ten (hash, namespaces, coverage, overrides).
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

from bench.common import in_process_demo, summary

EXPERIMENTS = {
    # Five on the hero slot, sharing a namespace so that no visitor is in two of them.
    **{
        f"hero{i}": {
            "lever": {"type": "block", "page": "home", "slot": "hero"},
            "variants": [{"key": "control", "control": True}, {"key": "b", "block": "hero_default"}],
            "namespace": {"name": "hero", "range": [i / 5, (i + 1) / 5]},
        }
        for i in range(5)
    },
    # Both arms rank with the model: a popularity arm would skip the model's work for half
    # the visitors and make the experiments look cheaper than free.
    "ranking": {"lever": {"type": "ranking"}, "variants": [{"key": "model", "control": True, "strategy": "model"}, {"key": "model2", "strategy": "model"}]},
    "banner": {
        "lever": {"type": "banner", "banner": "hero_crowds"},
        "variants": [{"key": "control", "control": True}, {"key": "base", "design": "base"}, {"key": "dormant", "design": "dormant"}],
    },
    "promo": {"lever": {"type": "block", "page": "home", "slot": "promo"}, "variants": [{"key": "c", "control": True}, {"key": "b", "block": "countdown_sale"}], "coverage": 0.5},
    "coupons": {"lever": {"type": "block", "page": "home", "slot": "coupons"}, "variants": [{"key": "c", "control": True}, {"key": "b", "block": "coupons_default"}], "target_crowd": "dormant"},
    "grid": {
        "lever": {"type": "block", "page": "home", "slot": "grid"},
        "variants": [{"key": "c", "control": True, "weight": 2}, {"key": "b", "block": "grid_default", "weight": 1}],
        "namespace": {"name": "grid", "range": [0, 1]},
    },
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--renders", type=int, default=3000, help="renders per leg")
    p.add_argument("--visitors", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=40, help="alternating rounds; the bar is judged on their paired differences")
    args = p.parse_args()
    warnings.simplefilter("ignore")

    from app.core.assignment import assign
    from app.core.profile import Context
    from app.experiments.levers import overrides_for
    from app.serving.render import RenderRequest

    with in_process_demo(args.visitors) as (c, h):
        for exp_id, body in EXPERIMENTS.items():
            r = c.put(f"/v1/shops/demo/experiments/{exp_id}", json={"name": exp_id, **body}, headers=h)
            assert r.status_code in (200, 201), r.text
            assert c.post(f"/v1/shops/demo/experiments/{exp_id}:start", headers=h).status_code == 200
        service = c.app.state.storefront.render_service
        # A first render loads the snapshot with the ten experiments; the floor is a copy without.
        c.post("/v1/shops/demo/render", json={"visitor_id": "warm", "page": "home"}, headers=h)
        with_exps = service.snapshots.configs["demo"]
        assert len(with_exps.experiments) == 10
        without = replace(with_exps, experiments=())
        rng = random.Random(3)
        # Each leg has visitors of its own (the seeded ones split by parity, new anonymous
        # ones): a visitor's first page view costs more (the rights grant, first
        # exposures), so a leg that met the visitors first would pay it for both.
        visitors = {
            leg: [f"v{rng.randrange(args.visitors // 2) * 2 + leg:05d}" if i % 4 else f"anon-{leg}-{i}" for i in range(args.renders)]
            for leg in (0, 1)
        }
        per_round = args.renders // args.rounds
        lat: dict[str, list[float]] = {"without experiments": [], "with 10 experiments": []}
        round_mean: dict[str, list[float]] = {name: [] for name in lat}

        async def leg(name: str, config: object, chunk: list[str]) -> None:
            service.snapshots.configs["demo"] = config
            times = []
            for vid in chunk:
                req = RenderRequest(vid, "home", Context(ts=time.time(), device="mobile"))
                t = time.perf_counter()
                await service.render("demo", req, authorize=lambda cfg: None)
                times.append(time.perf_counter() - t)
            lat[name] += times
            round_mean[name].append(statistics.fmean(times))

        for k in range(args.rounds):  # alternating rounds: drift of a noisy machine hits both legs
            legs = [("without experiments", without, visitors[0]), ("with 10 experiments", with_exps, visitors[1])]
            for name, config, pool in legs if k % 2 == 0 else legs[::-1]:
                c.portal.call(leg, name, config, pool[k * per_round : (k + 1) * per_round])
        service.snapshots.configs["demo"] = with_exps

        print(f"\n{args.renders} in-process renders per leg, {args.rounds} alternating rounds\n")
        rows = {name: summary(name, v[len(v) // 10 :], sum(v[len(v) // 10 :])) for name, v in lat.items()}
        base, exp = lat["without experiments"], lat["with 10 experiments"]
        mean_add = (statistics.fmean(exp) - statistics.fmean(base)) * 1000
        p50_add = rows["with 10 experiments"]["p50_ms"] - rows["without experiments"]["p50_ms"]
        # Each round's two legs ran back to back, so their difference is free of the
        # machine's slow drift; the median over rounds is free of the round that a
        # neighbour's burst hit. The bar is judged on it.
        paired = sorted((w - o) * 1000 for w, o in zip(round_mean["with 10 experiments"], round_mean["without experiments"], strict=True))
        added = statistics.median(paired)
        q1, q3 = paired[len(paired) // 4], paired[3 * len(paired) // 4]
        print(f"\nadded per render: mean {mean_add:+.3f} ms, p50 {p50_add:+.3f} ms; "
              f"ratio with/without (mean) {statistics.fmean(exp) / statistics.fmean(base):.3f}")
        print(f"paired rounds ({len(paired)}): median added {added:+.3f} ms (quartiles {q1:+.3f} .. {q3:+.3f})")

        matched = {"dormant"}
        n = 20_000
        t = time.perf_counter()
        for i in range(n):
            assignments = [assign(e.spec, f"v{i}", matched) for e in with_exps.experiments]
            overrides_for(with_exps.experiments, assignments)
        alone = (time.perf_counter() - t) / n * 1000
        print(f"assignment alone (10 experiments + levers, pure): {alone * 1000:.1f} µs per render")
        print(f"bar: under 0.5 ms added per render -> {'met' if added < 0.5 else 'NOT met'} (median of paired rounds {added:+.3f} ms)")


if __name__ == "__main__":
    main()
