"""python -m training …: simulate a shop and train, evaluate and publish models.

    python -m training attributes --visitors 4000 --days 90 --out models/attributes
    python -m training ranker --visitors 5000 --days 120 --out models/ranker
    python -m training attributes --dask-scheduler tcp://scheduler:8786   # on a Dask cluster

Writes LightGBM models + manifest.json into --out and prints the metrics table
(model vs the prior-only baseline, on held-out anonymous visitors).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from app.core.features import FeatureSpec


def cmd_attributes(args: argparse.Namespace) -> int:
    from training.attributes import save, train_all
    from training.simulator import SimConfig, simulate

    started = time.perf_counter()
    print(f"simulating {args.visitors} visitors over {args.days} days (seed {args.seed}) ...", file=sys.stderr)
    sim = simulate(SimConfig(seed=args.seed, n_visitors=args.visitors, days=args.days), progress=not args.quiet)
    end = max(e.ts for e in sim.events) + 1
    spec = FeatureSpec(categories=tuple(sorted({p.category for p in sim.products})))
    client = None
    if args.dask_scheduler:
        from dask.distributed import Client

        client = Client(args.dask_scheduler)
        print(f"training on the Dask cluster at {args.dask_scheduler} ({len(client.scheduler_info()['workers'])} workers) ...", file=sys.stderr)
    else:
        print("training ...", file=sys.stderr)
    try:
        models, fingerprints = train_all(sim, spec, end=end, rounds=args.rounds, dask_client=client)
    finally:
        if client is not None:
            client.close()
    manifest = save(models, spec, fingerprints, Path(args.out))
    print(f"\n{'target':<20} {'metric':<10} {'model':>8} {'prior':>8}")
    for m in models:
        if m.target.binary:
            rows = [("auc", m.metrics["auc"], m.metrics["prior_auc"]), ("log_loss", m.metrics["log_loss"], m.metrics["prior_log_loss"]), ("ece", m.metrics["ece"], m.metrics["prior_ece"])]
        else:
            rows = [("auc_macro", m.metrics["auc_macro"], 0.5), ("log_loss", m.metrics["log_loss"], m.metrics["prior_log_loss"]), ("accuracy", m.metrics["accuracy"], m.metrics["prior_accuracy"])]
        for name, model_value, prior_value in rows:
            print(f"{m.target.name:<20} {name:<10} {model_value:>8.3f} {prior_value:>8.3f}")
    print(f"\npublished {manifest} in {time.perf_counter() - started:.1f}s")
    if args.report:
        from training.report import write_attribute_report

        binary = {m.target.name: m.test_predictions for m in models if m.test_predictions is not None}
        for path in write_attribute_report(Path(args.report), {m.target.name: m.metrics for m in models}, binary):
            print(f"wrote {path}")
    return 0


def cmd_ranker(args: argparse.Namespace) -> int:
    from training.ranker import (
        build_ranking_data, evaluate_pool, evaluate_ranker, fingerprint, merge_metrics, ranker_model, save_ranker, train_conversion, train_ranker,
    )
    from training.simulator import SimConfig, simulate

    started = time.perf_counter()
    print(f"simulating {args.visitors} visitors over {args.days} days (seed {args.seed}) ...", file=sys.stderr)
    sim = simulate(SimConfig(seed=args.seed, n_visitors=args.visitors, days=args.days), progress=not args.quiet)
    spec = FeatureSpec(categories=tuple(sorted({p.category for p in sim.products})))
    print("building ranking rows (replaying the event log) ...", file=sys.stderr)
    data = build_ranking_data(sim, spec)
    client = None
    if args.dask_scheduler:
        from dask.distributed import Client

        client = Client(args.dask_scheduler)
    where = f"the Dask cluster at {args.dask_scheduler}" if client else "this machine"
    print(f"training on {len(data.groups)} lists on {where} ...", file=sys.stderr)
    test_from = sim.end - args.test_days * 86400
    try:
        booster, test = train_ranker(data, test_from=test_from, rounds=args.rounds, dask_client=client)
        print("training the conversion model (purchase after a click) ...", file=sys.stderr)
        extra = {"rounds": args.conversion_rounds} if args.conversion_rounds else {}
        conversion = train_conversion(data, test_from=test_from, dask_client=client, **extra)
    finally:
        if client is not None:
            client.close()
    model = ranker_model(spec, booster, conversion)
    print("evaluating on the held-out days (the candidate pool of every list, then the shown lists) ...", file=sys.stderr)
    metrics = merge_metrics(evaluate_pool(model.score, sim, spec, test_from=test_from), evaluate_ranker(model.score, test, spec, sim))
    manifest = save_ranker(model, metrics, fingerprint(data), Path(args.out))
    pop = metrics["popularity"]
    lists = int(metrics["model"]["pool_lists"])
    print(f"\ncandidate pool of {lists} held-out lists, judged by the simulator's true purchase probabilities:")
    print(f"{'policy':<12} {'NDCG@10':>8} {'E[buys@10]':>11} {'vs popularity':>14}")
    for policy, m in metrics.items():
        if "pool_ndcg" in m:
            print(f"{policy:<12} {m['pool_ndcg']:>8.3f} {m['pool_purchases']:>11.4f} {m['pool_ndcg'] / pop['pool_ndcg']:>13.2f}x")
    print(f"\nshown lists with a click ({int(metrics['model']['lists'])}), reordered:")
    print(f"{'policy':<12} {'NDCG@10':>8} {'recall@10':>10} {'NDCG(true)':>11} {'E[buys@10]':>11}")
    for policy, m in metrics.items():
        if "ndcg" in m:
            print(f"{policy:<12} {m['ndcg']:>8.3f} {m['recall']:>10.3f} {m['ndcg_true']:>11.3f} {m['true_purchases']:>11.4f}")
    model = metrics["model"]
    print(
        f"\nmodel / popularity: pool NDCG@10 {model['pool_ndcg'] / pop['pool_ndcg']:.2f}x (the target: 1.3x), pool expected purchases"
        f" {model['pool_purchases'] / pop['pool_purchases']:.2f}x; shown lists: logged NDCG@10 {model['ndcg'] / pop['ndcg']:.2f}x,"
        f" true NDCG {model['ndcg_true'] / pop['ndcg_true']:.2f}x"
    )
    print(f"published {manifest} in {time.perf_counter() - started:.1f}s")
    if args.report:
        from training.report import write_ranker_report

        for path in write_ranker_report(Path(args.report), metrics):
            print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    def command(name: str, help_text: str, func: object, *, visitors: int, days: int, rounds: int) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_text)
        c.add_argument("--seed", type=int, default=1, help="the simulation's seed")
        c.add_argument("--visitors", type=int, default=visitors)
        c.add_argument("--days", type=int, default=days)
        c.add_argument("--rounds", type=int, default=rounds, help="boosting rounds")
        c.add_argument("--out", default=f"models/{name}")
        c.add_argument("--report", metavar="DIR", help="also write the evaluation report here: metrics.json and plots")
        c.add_argument("--quiet", action="store_true", help="no progress bars")
        c.set_defaults(func=func)
        return c

    a = command("attributes", "simulate, train the attribute models, publish them", cmd_attributes, visitors=4000, days=90, rounds=300)
    a.add_argument("--dask-scheduler", help="train on this Dask cluster (e.g. tcp://host:8786) through LightGBM's Dask interface")
    r = command("ranker", "simulate, train the product ranker, evaluate it against baselines, publish it", cmd_ranker, visitors=5000, days=120, rounds=150)
    r.add_argument("--conversion-rounds", type=int, help="boosting rounds of the conversion model (default: training.ranker.CONVERSION_ROUNDS)")
    r.add_argument("--test-days", type=int, default=14, help="held-out days at the end")
    r.add_argument("--dask-scheduler", help="train on this Dask cluster (e.g. tcp://host:8786) through LightGBM's Dask interface")
    args = p.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
