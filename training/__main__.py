"""python -m training …: simulate a shop and train, evaluate and publish models.

    python -m training attributes --visitors 4000 --days 90 --out models/attributes

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


def cmd_attributes(args: argparse.Namespace) -> int:
    from training.attributes import save, train_all
    from training.simulator import SimConfig, simulate

    started = time.perf_counter()
    print(f"simulating {args.visitors} visitors over {args.days} days (seed {args.seed}) ...", file=sys.stderr)
    sim = simulate(SimConfig(seed=args.seed, n_visitors=args.visitors, days=args.days), progress=not args.quiet)
    end = max(e.ts for e in sim.events) + 1
    spec = FeatureSpec(categories=tuple(sorted({p.category for p in sim.products})))
    print("training ...", file=sys.stderr)
    models, fingerprints = train_all(sim, spec, end=end, rounds=args.rounds)
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
        Path(args.report).write_text(json.dumps({m.target.name: m.metrics for m in models}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("attributes", help="simulate, train the attribute models, publish them")
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--visitors", type=int, default=4000)
    a.add_argument("--days", type=int, default=90)
    a.add_argument("--rounds", type=int, default=300)
    a.add_argument("--out", default="models/attributes")
    a.add_argument("--report", help="also write the metrics as JSON here")
    a.add_argument("--quiet", action="store_true")
    a.set_defaults(func=cmd_attributes)
    args = p.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
