"""python -m training …: simulate a shop and train, evaluate and publish models.

    python -m training attributes --visitors 4000 --days 90 --out models/attributes
    python -m training ranker --visitors 5000 --days 120 --out models/ranker
    python -m training attributes --dask-scheduler tcp://scheduler:8786   # on a Dask cluster
    python -m training uplift-demo --out models/uplift --report models/uplift/report
    python -m training uplift train --data t.csv --treatment arm --control none --outcome converted --features a,b,c --out DIR
    python -m training uplift score --model DIR --data s.csv --out scores.csv
    python -m training uplift evaluate --model DIR --data log.csv --treatment arm --outcome converted --propensity p

Writes LightGBM models + manifest.json into --out and prints the metrics table
(model vs the prior-only baseline, on held-out anonymous visitors).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from app.core.features import FeatureSpec

# the uplift demo's default campaign: 6 waves of 90,000 visitors (see training/coupon_sim.py)
UPLIFT_VISITORS = 90000
UPLIFT_WAVES = 6


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
        build_ranking_data,
        evaluate_pool,
        evaluate_ranker,
        fingerprint,
        merge_metrics,
        ranker_model,
        save_ranker,
        train_conversion,
        train_ranker,
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


def cmd_uplift_demo(args: argparse.Namespace) -> int:
    from training.coupon_sim import CampaignConfig, run_campaign
    from training.simulator import SimConfig, simulate
    from training.uplift_demo import POLICIES, publish, train_and_evaluate
    from training.uplift_distill import DistillConfig
    from training.uplift_ope import Z95

    started = time.perf_counter()
    print(f"simulating {args.visitors} visitors over {args.days} days (seed {args.seed}) ...", file=sys.stderr)
    sim = simulate(SimConfig(seed=args.seed, n_visitors=args.visitors, days=args.days), progress=not args.quiet)
    spec = FeatureSpec(categories=tuple(sorted({p.category for p in sim.products})))
    print(f"running the randomized rights campaign ({args.waves} waves) ...", file=sys.stderr)
    campaign = run_campaign(sim, CampaignConfig(seed=args.seed, waves=args.waves), spec, progress=not args.quiet)
    sizes = {k: v for k, v in (("n_s", args.teacher_s), ("n_x", args.teacher_x)) if v is not None}
    distill = DistillConfig(**sizes)
    result = train_and_evaluate(campaign, spec, learner=args.learner, test_share=args.test_share, distill=distill, progress=not args.quiet)
    manifest = publish(result, campaign, Path(args.out))
    m = result.metrics
    print(f"\nheld out: {int(m['rows']['test'])} visitors (latest wave); trained on {int(m['rows']['train'])} rows")
    print(f"{'conversion uplift, mean over rights':<38} {'model':>9} {'plain T':>9}")
    for key in ("qini", "auuc", "true_qini", "true_uplift@10", "true_uplift@20", "true_uplift@30"):
        print(f"{key:<38} {m[key]['model']:>9.5f} {m[key]['baseline']:>9.5f}")
    print(f"\n{'policy (true incremental profit)':<26} {'yuan/visitor':>12} {'spend':>8} {'granted':>8}")
    for name in POLICIES:
        p = m["policies"][name]
        print(f"{name:<26} {p['value']:>12.3f} {p['spend']:>8.3f} {p['granted']:>8.1%}")
    r = m["ratios"]
    print(
        f"\nmodel / oracle at the same spend: {r['model_to_oracle_at_same_spend']:.1%} (target 80%); model / oracle:"
        f" {r['model_to_oracle']:.1%}; model - best average right ({m['best_average_right']}): {r['model_minus_best_average']:+.3f} yuan/visitor"
    )
    if "teacher" in m:
        print(f"the teacher itself (not served) / oracle at the same spend: {m['teacher']['to_oracle_at_same_spend']:.1%}")
    print("\nmeasured off-policy on the held-out randomized outcomes, as a merchant without the truth would (yuan/visitor, ± 95%):")
    for name, f in m["off_policy"].items():
        print(f"{name:<26} DR {f['dr']:+.3f} ± {Z95 * f['dr_se']:.3f}   IPS {f['ips']:+.3f} ± {Z95 * f['ips_se']:.3f}   true {f['true']:+.3f}")
    if args.ceiling:
        from training.uplift_demo import feature_ceiling

        m["feature_ceiling"] = ceiling = feature_ceiling(campaign, test_share=args.test_share, progress=not args.quiet)
        print(
            f"feature ceiling (regressors of the true incremental profit on the same rows) / oracle at the same spend:"
            f" {ceiling['all']['ratio']:.1%}"
            + "".join(f"; {k.replace('_', ' ')} {ceiling[k]['ratio']:.1%}" for k in ("with_history", "without_history") if k in ceiling)
        )
    print(f"published {manifest} in {time.perf_counter() - started:.1f}s")
    if args.report:
        from training.report import write_uplift_report

        for path in write_uplift_report(Path(args.report), result):
            print(f"wrote {path}")
    return 0


def cmd_uplift_train(args: argparse.Namespace) -> int:
    from training.uplift_table import (
        TableError,
        file_digest,
        read_table,
        save_table_model,
        train_table,
    )

    try:
        print(f"reading {args.data} ...", file=sys.stderr)
        df = read_table(Path(args.data))
        features = [f.strip() for f in args.features.split(",") if f.strip()]
        model = train_table(
            df, treatment=args.treatment, control=args.control, outcome=args.outcome, features=features, learner=args.learner,
            propensity=args.propensity, outcome_kind=args.outcome_kind, min_rows=args.min_rows, progress=True,
        )
    except TableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    manifest = save_table_model(model, Path(args.out), file_digest(Path(args.data)))
    print(f"wrote {manifest}", file=sys.stderr)
    return 0


def cmd_uplift_score(args: argparse.Namespace) -> int:
    from training.uplift_table import TableError, read_table, score_table, write_table

    try:
        print(f"reading {args.data} ...", file=sys.stderr)
        df = read_table(Path(args.data))
        ids = [c.strip() for c in (args.id or "").split(",") if c.strip()]
        print(f"scoring {len(df)} rows with {args.model} ...", file=sys.stderr)
        scores = score_table(Path(args.model), df, ids)
        write_table(scores, Path(args.out))
    except TableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({len(scores)} rows)", file=sys.stderr)
    return 0


def cmd_uplift_evaluate(args: argparse.Namespace) -> int:
    from training.uplift_ope import Z95
    from training.uplift_table import TableError, evaluate_table, file_digest, read_table

    try:
        print(f"reading {args.data} ...", file=sys.stderr)
        df = read_table(Path(args.data))
        result = evaluate_table(
            Path(args.model), df, treatment=args.treatment, outcome=args.outcome, propensity=args.propensity,
            costs=args.cost, min_gain=args.min_gain, data_digest=file_digest(Path(args.data)),
        )
    except TableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{result.summary['rows']} rows; value = mean {args.outcome}"
          f"{' less the cost of the arm given' if any(result.summary['costs'].values()) else ''} a row; ± is the 95% interval")
    print(f"{'policy':<24} {'DR value':>20} {'IPS':>10} {'SNIPS':>10} {'lift over control (DR)':>26}  arms given")
    for e in result.estimates:
        dr = f"{e.dr:.4f} ± {Z95 * (e.dr_se or 0):.4f}" if e.dr is not None else "-"
        lift = f"{e.lift:+.4f} ± {Z95 * (e.lift_se or 0):.4f}" if e.lift is not None else "-"
        given = ", ".join(f"{a} {s:.0%}" for a, s in e.shares.items() if s > 0)
        print(f"{e.policy:<24} {dr:>20} {e.ips:>10.4f} {e.snips:>10.4f} {lift:>26}  {given}")
    for note in result.notes:
        print(f"note: {note}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        print(f"wrote {args.out}", file=sys.stderr)
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
    d = sub.add_parser("uplift-demo", help="simulate a randomized rights campaign, train the uplift model, judge it against the truth, publish it")
    d.add_argument("--seed", type=int, default=1, help="the simulation's and the campaign's seed")
    d.add_argument("--visitors", type=int, default=UPLIFT_VISITORS)
    d.add_argument("--days", type=int, default=120)
    d.add_argument("--waves", type=int, default=UPLIFT_WAVES, help="campaign waves, 14 days apart (each visitor is logged once a wave)")
    d.add_argument(
        "--learner", choices=("distilled", "x", "t"), default="distilled",
        help="distilled: an ensemble teacher (offer-term S-learners and X-learners) taught to a served X-shaped student",
    )
    d.add_argument("--teacher-s", type=int, metavar="N", help="S-learners in the distilled learner's teacher (default 6)")
    d.add_argument("--teacher-x", type=int, metavar="N", help="X-learners in the distilled learner's teacher (default 3)")
    d.add_argument("--test-share", type=float, default=0.3, help="share of visitors held out")
    d.add_argument("--out", default="models/uplift")
    d.add_argument("--report", metavar="DIR", help="also write the evaluation report here: metrics.json and plots")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.add_argument(
        "--ceiling", action="store_true",
        help="also learn the true incremental profit from the rows (labels no log has): how near the oracle any learner could get (minutes at full size)",
    )
    d.set_defaults(func=cmd_uplift_demo)
    u = sub.add_parser("uplift", help="uplift models for any randomized table (CSV or Parquet)")
    usub = u.add_subparsers(dest="uplift_command", required=True)
    t = usub.add_parser("train", help="train a multi-treatment uplift model on a randomized table")
    t.add_argument("--data", required=True, help="the table: .csv or .parquet")
    t.add_argument("--treatment", required=True, help="column: the arm each row got")
    t.add_argument("--control", required=True, help="the control's label in the treatment column")
    t.add_argument("--outcome", required=True, help="column: 0/1, true/false or an amount")
    t.add_argument("--features", required=True, help="feature columns, comma separated (text columns are categorical)")
    t.add_argument("--out", required=True, help="model folder")
    t.add_argument("--learner", choices=("x", "t"), default="x")
    t.add_argument("--propensity", help="column: the logged probability of the row's arm")
    t.add_argument("--outcome-kind", choices=("binary", "amount"), help="default: binary when every value is 0/1")
    t.add_argument("--min-rows", type=int, default=30, help="fewest rows an arm may have")
    t.set_defaults(func=cmd_uplift_train)
    s = usub.add_parser("score", help="predicted uplift of every treatment for each row")
    s.add_argument("--model", required=True, help="a folder written by uplift train")
    s.add_argument("--data", required=True, help="the rows to score: .csv or .parquet")
    s.add_argument("--out", required=True, help="the scores: .csv or .parquet")
    s.add_argument("--id", help="id column(s) to pass through, comma separated")
    s.set_defaults(func=cmd_uplift_score)
    e = usub.add_parser("evaluate", help="judge the model's policy off-policy on another randomized log (IPS, SNIPS, doubly robust)")
    e.add_argument("--model", required=True, help="a folder written by uplift train")
    e.add_argument("--data", required=True, help="the log: .csv or .parquet, with the model's features, the arm given and the outcome")
    e.add_argument("--treatment", required=True, help="column: the arm each row got")
    e.add_argument("--outcome", required=True, help="column: 0/1, true/false or an amount (the kind the model was trained on)")
    e.add_argument("--propensity", help="column: the logged probability of the row's arm (default: the arm's share of the log)")
    e.add_argument("--cost", help="each arm's cost in outcome units, e.g. c10=2.5,c20=5: the policy and the values are net of it")
    e.add_argument("--min-gain", type=float, default=0.0, help="give an arm only when its predicted net uplift exceeds this")
    e.add_argument("--out", help="also write the figures as JSON here")
    e.set_defaults(func=cmd_uplift_evaluate)
    args = p.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
