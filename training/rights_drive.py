"""A discount-rights campaign through the running service, judged by the simulator's truth.

    python -m training.rights_drive --base http://127.0.0.1:8000 --admin-token T \\
        --visitors 3000 --exploration 0.2 --out rights-drive

The offline evaluation (``python -m training uplift-demo``) scores the uplift model on a
simulated campaign. This closes the loop over real HTTP instead: a simulated shop's
history goes in through the events API, the six simulated rights are defined through
the rights API (the same terms as the truth's cost formulas, :mod:`training.rights`),
and then every visitor opens the home page once. The service decides (the model's
choice, or a random arm in the exploration share), grants atomically, and answers. The
simulator then draws whether the visitor buys under the right the service *actually*
granted, from the true response (:mod:`training.coupon_sim`), and the purchase goes back
through the events API naming the right, where the service redeems it.

What it prints, and writes to ``--out`` (``rights_drive.json``, ``rights_drive.png``):

- per right, the service's own figures (``GET /rights:stats``: granted, redeemed, spend,
  the incremental conversions it estimates from its randomized share, from the average
  effect and from the effect on the visitors the model picks) beside what the drive
  counted and what the truth says, with each estimate's aim without outcome noise;
- the policy the service ran, valued by the truth (expected incremental profit per
  visitor, yuan), against no rights, the best single right for everyone, random rights
  and the oracle held to the same spend.

The simulation is moved forward by whole weeks so that it ends before now: the
service's row of a visitor (days since, hour, weekday) is then the one the truth was
computed at. Use a new shop for each run: a visitor's grant is sticky, so a second run
in the same shop would count the first run's grants again.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
import numpy as np
from tqdm import tqdm

from app.rights.definition import POINT_VALUE_SHARE
from training.coupon_sim import (
    VISITOR_NOISE,
    CampaignConfig,
    CampaignTruth,
    behaviours_at_each,
    campaign_truth,
    order_values,
)
from training.drive import add_shop_arguments, checked, event_item, shifted, shop_keys, upload_shop
from training.rights import DEMO_RIGHTS, Right
from training.simulator import DAY, SimConfig, Simulation, simulate
from training.uplift_eval import PolicyValue, at_same_spend, best_positive, policy_value

WEEK = 7 * DAY
PAGE = "home"


def service_right(r: Right) -> dict[str, Any]:
    """The rights API's definition of a simulated right: the same terms, so the service's
    cost of every order is the truth's (a test holds them to the cent)."""
    if r.kind == "amount_off":
        body: dict[str, Any] = {"kind": "amount_off", "value": {"amount": r.amount, "min_spend": r.min_spend}}
    elif r.kind == "percent_off":
        body = {"kind": "percent_off", "value": {"percent": round(r.rate * 100, 6), "max_discount": r.cap}}
    elif r.kind == "free_ship":
        body = {"kind": "free_shipping", "value": {}, "cost": {"per_redemption": r.amount}}
    elif r.kind == "points":
        body = {"kind": "points_multiplier", "value": {"multiplier": round(1 + r.rate / POINT_VALUE_SHARE, 6)}}
    elif r.kind == "gift":
        body = {"kind": "gift", "value": {"gift": "sample"}, "cost": {"per_redemption": r.amount}}
    else:
        raise ValueError(f"no service kind for {r.kind!r}")
    return {"name": r.id, **body}


def live_end(sim: Simulation, now: float) -> float:
    """Where the moved simulation ends: the latest whole number of weeks after its own end
    that is at least a minute before ``now`` (hours and weekdays stay what they were)."""
    return sim.end + math.floor((now - 60 - sim.end) / WEEK) * WEEK


@dataclass
class CampaignRun:
    """What happened to every visitor (rows, in ``visitors`` order; arms as ``arms``)."""

    arms: tuple[str, ...]
    visitors: list[str]
    truth: CampaignTruth
    choice: np.ndarray  # the arm index the service granted (0: none)
    explored: np.ndarray  # bool: the arm was drawn at random
    bought: np.ndarray  # bool
    order_value: np.ndarray  # yuan, 0 without a purchase
    redeemed: np.ndarray  # bool: the service redeemed the grant
    redemption_cost: np.ndarray  # yuan, what the right cost on the order (0 unless redeemed)
    answers: list[dict[str, Any]] = field(repr=False)  # the render's "rights" part, per visitor
    stats: dict[str, Any] = field(default_factory=dict, repr=False)  # GET /rights:stats at the end
    render_errors: int = 0

    def per_right(self) -> list[dict[str, Any]]:
        """Per right: the service's figures beside the drive's counts and the truth."""
        out = []
        by_id = {r["id"]: r for r in self.stats.get("rights", [])}
        uplift = self.truth.uplift
        greedy = np.array([a.get("greedy", "") for a in self.answers], dtype=object)
        for j, arm in enumerate(self.arms[1:], start=1):
            got = self.choice == j
            drawn, control, cell = got & self.explored, self.explored & (self.choice == 0), greedy == arm
            # each estimate with the drawn purchases replaced by their true probabilities: what
            # it aims at, without the outcome noise that dominates its interval at this size
            average = self._rate_difference(drawn, control, j)
            picked = self._rate_difference(drawn & cell, control & cell, j)
            service = by_id.get(arm, {})
            inc = service.get("incremental", {})
            targeted = inc.get("targeted", {})
            out.append({
                "right": arm,
                "granted": {"service": service.get("granted"), "drive": int(got.sum())},
                "redeemed": {"service": service.get("redeemed"), "drive": int((got & self.redeemed).sum())},
                "spend": {"service": service.get("spend"), "drive": round(float(self.redemption_cost[got].sum()), 2)},
                "explored": {"service": inc.get("explored"), "drive": int((got & self.explored).sum())},
                "incremental_conversions": {
                    "service": inc.get("incremental_conversions"),
                    "service_low": inc.get("incremental_low"),
                    "service_high": inc.get("incremental_high"),
                    # its estimate from the randomized visitors the model would have given the right
                    "service_targeted": targeted.get("incremental_conversions"),
                    "service_targeted_low": targeted.get("incremental_low"),
                    "service_targeted_high": targeted.get("incremental_high"),
                    # what the service's estimate targets: the right's effect on a random
                    # visitor (the randomized share is one), times its grants
                    "truth_average_effect": round(float(uplift[:, j].mean() * got.sum()), 1),
                    # what the grants really added: their own grantees' effect
                    "truth_grantees": round(float(uplift[got, j].sum()), 1),
                    "noise_free": None if average is None else round(average * int(got.sum()), 1),
                    "noise_free_targeted": None if average is None or picked is None
                    else round(picked * int((got & ~self.explored).sum()) + average * int(drawn.sum()), 1),
                },
            })
        return out

    def _rate_difference(self, given: np.ndarray, control: np.ndarray, j: int) -> float | None:
        """Mean true P(buy | the right) of ``given`` minus mean true P(buy | none) of ``control``."""
        if not given.any() or not control.any():
            return None
        return float(self.truth.p_buy[given, j].mean() - self.truth.p_buy[control, 0].mean())

    def policies(self) -> dict[str, dict[str, float]]:
        """Expected incremental profit per visitor (yuan) by the truth, and the oracle at the same spend."""
        inc, cost = self.truth.incremental_profit, self.truth.cost
        greedy = ~self.explored
        served, oracle, ratio = at_same_spend(self.choice, inc, cost)
        g_served, g_oracle, g_ratio = at_same_spend(self.choice[greedy], inc[greedy], cost[greedy])
        best_average = int(inc[:, 1:].mean(axis=0).argmax()) + 1
        rng = np.random.default_rng(0)
        rows = {
            "served": {**served.as_dict(), "to_oracle_at_same_spend": ratio},
            "served_greedy_share": {**g_served.as_dict(), "to_oracle_at_same_spend": g_ratio, "oracle": g_oracle.value},
            "oracle_at_served_spend": oracle.as_dict(),
            "oracle": policy_value(best_positive(inc), inc, cost).as_dict(),
            f"everyone_{self.arms[best_average]}": policy_value(np.full(len(inc), best_average), inc, cost).as_dict(),
            "random": policy_value(rng.integers(0, len(self.arms), len(inc)), inc, cost).as_dict(),
            "none": PolicyValue(0.0, 0.0, 0.0).as_dict(),
        }
        return {k: {n: round(float(x), 4) for n, x in v.items()} for k, v in rows.items()}

    def summary(self) -> dict[str, Any]:
        n = len(self.visitors)
        return {
            "visitors": n,
            "render_errors": self.render_errors,
            "granted_share": round(float((self.choice > 0).mean()), 4) if n else 0.0,
            "explored_share": round(float(self.explored.mean()), 4) if n else 0.0,
            "purchases": int(self.bought.sum()),
            "redemptions": int(self.redeemed.sum()),
            "rights": self.per_right(),
            "policies": self.policies(),
        }


def prepare(client: httpx.Client, live: Simulation, *, shop: str, merchant_key: str, storefront_key: str, exploration: float, margin: float, batch: int = 5000, progress: bool = True) -> None:
    """The shop's catalog, visitors and whole history, a home page, the rights and the settings."""
    m, s = {"Authorization": f"Bearer {merchant_key}"}, {"Authorization": f"Bearer {storefront_key}"}
    upload_shop(client, live, shop=shop, merchant_key=merchant_key)
    events = [event_item(e) for e in live.events]
    with tqdm(total=len(events), desc="history", unit=" events", disable=not progress, mininterval=0.5) as bar:
        for i in range(0, len(events), batch):
            checked(client.post(f"/v1/shops/{shop}/events", json={"events": events[i : i + batch]}, headers=s), "events")
            bar.update(len(events[i : i + batch]))
    checked(client.put(f"/v1/shops/{shop}/blocks/grid", json={"template": "product_grid", "params": {"title": "for you"}}, headers=m), "block")
    checked(client.put(f"/v1/shops/{shop}/pages/{PAGE}", json={"slots": [{"slot_id": "grid", "default": "grid"}]}, headers=m), "page")
    for r in DEMO_RIGHTS:
        checked(client.put(f"/v1/shops/{shop}/rights/{r.id}", json=service_right(r), headers=m), f"right {r.id}")
    checked(client.put(f"/v1/shops/{shop}/settings", json={"rights": {"exploration": exploration, "margin_rate": margin}}, headers=m), "settings")


def drive_campaign(
    client: httpx.Client,
    sim: Simulation,
    *,
    shop: str,
    merchant_key: str,
    storefront_key: str,
    seed: int = 1,
    exploration: float = 0.2,
    margin: float = 0.35,
    now: float | None = None,
    progress: bool = True,
) -> CampaignRun:
    """Prepare the shop, render every visitor once, send back the purchases the truth draws."""
    end = live_end(sim, time.time() if now is None else now)
    live = shifted(sim, end)
    prepare(client, live, shop=shop, merchant_key=merchant_key, storefront_key=storefront_key, exploration=exploration, margin=margin, progress=progress)
    config = CampaignConfig(seed=seed, margin_rate=margin)
    arms = config.arms
    index = {a: i for i, a in enumerate(arms)}
    visitors = [v for v in sim.visitors if v.active_from < sim.end]
    history = behaviours_at_each(sim.events, [sim.end])[0]
    rng = np.random.default_rng([seed, 2027])  # the drive's own stream
    truth, basket, ps = campaign_truth(visitors, [history.get(v.visitor_id) for v in visitors], sim.end, config, rng.normal(0.0, VISITOR_NOISE, len(visitors)))

    s = {"Authorization": f"Bearer {storefront_key}"}
    n = len(visitors)
    choice, explored = np.zeros(n, dtype=int), np.zeros(n, dtype=bool)
    answers: list[dict[str, Any]] = []
    errors = 0
    for i, v in enumerate(tqdm(visitors, desc="renders", unit=" visitors", disable=not progress, mininterval=0.5)):
        body = {"visitor_id": v.visitor_id, "page": PAGE, "context": {"device": v.device, "channel": v.channel, "ts": end}}
        r = client.post(f"/v1/shops/{shop}/render", json=body, headers=s)
        if r.status_code != 200:
            errors += 1
            answers.append({})
            continue
        rights = r.json().get("rights") or {}
        answers.append(rights)
        granted = rights.get("granted")
        choice[i] = index[granted["id"]] if granted else 0
        explored[i] = bool(rights.get("explore"))

    # Who buys under what they were really granted, and for how much (the truth's draws).
    bought = rng.random(n) < truth.p_buy[np.arange(n), choice]
    z, u = rng.normal(0.0, 1.0, n), rng.random(n)
    value = np.zeros(n)
    for j in range(len(arms)):
        rows = (choice == j) & bought
        right = DEMO_RIGHTS[j - 1] if j else None
        value[rows] = order_values(basket[rows], z[rows], right, ps[rows], u[rows])
    value = np.round(value, 2)  # what a storefront sends: yuan and fen
    purchases = [
        {"event_id": f"rd-{v.visitor_id}", "type": "purchase", "visitor_id": v.visitor_id, "ts": end + 60, "amount": float(value[i]),
         **({"right_id": arms[choice[i]]} if choice[i] else {})}
        for i, v in enumerate(visitors) if bought[i]
    ]
    redeemed = np.zeros(n, dtype=bool)
    row_of = {v.visitor_id: i for i, v in enumerate(visitors)}
    for k in range(0, len(purchases), 5000):
        out = checked(client.post(f"/v1/shops/{shop}/events", json={"events": purchases[k : k + 5000]}, headers=s), "purchases")
        for word in out.get("rights", []):
            if word["result"] == "redeemed":
                redeemed[row_of[word["event_id"][3:]]] = True
    cost = np.zeros(n)
    for j, right in enumerate(DEMO_RIGHTS, start=1):
        rows = (choice == j) & redeemed
        cost[rows] = right.cost(value[rows])
    stats = checked(client.get(f"/v1/shops/{shop}/rights:stats", headers={"Authorization": f"Bearer {merchant_key}"}), "rights stats")
    return CampaignRun(arms, [v.visitor_id for v in visitors], truth, choice, explored, bought, value, redeemed, cost, answers, stats, errors)


def print_report(s: dict[str, Any], out: TextIO | None = None) -> None:
    """The run's summary (:meth:`CampaignRun.summary`) as tables on ``out``."""
    out = out or sys.stdout  # looked up at the call: a redirected stdout is honoured
    print(
        f"{s['visitors']} visitors rendered ({s['render_errors']} not 200): {s['granted_share']:.1%} granted a right, "
        f"{s['explored_share']:.1%} in the randomized share; {s['purchases']} purchases, {s['redemptions']} redemptions",
        file=out,
    )
    print(f"\n{'right':<10} {'granted':>13} {'redeemed':>13} {'spend, yuan':>21}", file=out)
    for r in s["rights"]:
        print(
            f"{r['right']:<10} {r['granted']['service']!s:>6}/{r['granted']['drive']:<6} {r['redeemed']['service']!s:>6}/{r['redeemed']['drive']:<6} "
            f"{r['spend']['service']!s:>10}/{r['spend']['drive']:<10}",
            file=out,
        )
    print("  (service / drive: what the service reports beside what the drive counted)", file=out)
    print(
        f"\n{'incremental conversions':<24} {'service: average [95 %]':>26} {'no noise':>9} {'truth':>7}"
        f" {'service: picked [95 %]':>26} {'no noise':>9} {'truth':>7}",
        file=out,
    )
    for r in s["rights"]:
        inc = r["incremental_conversions"]
        print(
            f"{r['right']:<24} {_interval(inc, 'service'):>26} {_figure(inc['noise_free']):>9} {inc['truth_average_effect']:>7.1f} "
            f"{_interval(inc, 'service_targeted'):>26} {_figure(inc['noise_free_targeted']):>9} {inc['truth_grantees']:>7.1f}",
            file=out,
        )
    print(
        "  (average: the right's average effect in the randomized share times its grants, against the truth's average\n"
        "   effect times the grants; picked: its effect on the randomized visitors the model would have given it,\n"
        "   against what the grants really added by the truth; no noise: the same estimate with each drawn purchase\n"
        "   replaced by its true probability)",
        file=out,
    )
    print(f"\n{'policy, by the truth':<28} {'profit/visitor':>14} {'spend/visitor':>14} {'granted':>8}", file=out)
    for name, p in s["policies"].items():
        print(f"{name:<28} {p['value']:>14.3f} {p['spend']:>14.3f} {p['granted']:>8.1%}", file=out)
    for name in ("served", "served_greedy_share"):
        print(f"{name}: {s['policies'][name]['to_oracle_at_same_spend']:.1%} of the oracle at the same spend", file=out)


def _figure(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def _interval(inc: dict[str, Any], key: str) -> str:
    if inc[key] is None:
        return "not enough randomized"
    return f"{inc[key]:.1f} [{inc[key + '_low']:.1f}, {inc[key + '_high']:.1f}]"


def write_outputs(s: dict[str, Any], out: Path) -> list[Path]:
    """``rights_drive.json`` (the run's summary) and ``rights_drive.png`` (estimate against truth, per right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "rights_drive.json").write_text(json.dumps(s, indent=2, ensure_ascii=False))
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    names = [r["right"] for r in s["rights"]]
    x = np.arange(len(names))
    for key, shift, colour, label in (
        ("service", -0.3, "tab:blue", "service: average effect x grants, 95 %"),
        ("service_targeted", 0.1, "tab:orange", "service: effect on the visitors it picks, 95 %"),
    ):
        estimated = [(i, r["incremental_conversions"]) for i, r in enumerate(s["rights"]) if r["incremental_conversions"][key] is not None]
        if estimated:
            mid = np.array([e[key] for _, e in estimated])
            err = np.array([[e[key] - e[key + "_low"] for _, e in estimated], [e[key + "_high"] - e[key] for _, e in estimated]])
            ax[0].errorbar([i + shift for i, _ in estimated], mid, yerr=err, fmt="o", color=colour, capsize=4, label=label)
    ax[0].plot(x - 0.2, [r["incremental_conversions"]["truth_average_effect"] for r in s["rights"]], "s", color="tab:blue", mfc="none", label="truth: average effect x grants")
    ax[0].plot(x + 0.2, [r["incremental_conversions"]["truth_grantees"] for r in s["rights"]], "^", color="tab:orange", mfc="none", label="truth: the grantees' own effect")
    ax[0].axhline(0, color="grey", lw=0.5)
    ax[0].set_xticks(x, names)
    ax[0].set_ylabel("incremental conversions")
    ax[0].set_title("What each right added")
    ax[0].legend(fontsize=8)
    pol = s["policies"]
    keys = list(pol)
    ax[1].barh(keys, [pol[k]["value"] for k in keys], color=["tab:blue" if k.startswith("served") else "tab:grey" for k in keys])
    ax[1].set_xlabel("true incremental profit per visitor, yuan")
    ax[1].set_title(
        f"The policy the service ran: {pol['served']['to_oracle_at_same_spend']:.0%} of the oracle at its spend\n"
        f"({pol['served_greedy_share']['to_oracle_at_same_spend']:.0%} outside the randomized share, {s['explored_share']:.0%} of visitors)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out / "rights_drive.png", dpi=110)
    plt.close(fig)
    return [out / "rights_drive.json", out / "rights_drive.png"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.rights_drive", description=__doc__.split("\n\n")[0])
    add_shop_arguments(p)
    p.add_argument("--seed", type=int, default=3, help="the simulation's seed (the published model trained on 1)")
    p.add_argument("--visitors", type=int, default=3000)
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--exploration", type=float, default=0.2, help="the shop's randomized share (at most 0.5)")
    p.add_argument("--margin", type=float, default=0.35)
    p.add_argument("--out", type=Path, default=Path("rights-drive"))
    args = p.parse_args(argv)
    sim = simulate(SimConfig(seed=args.seed, n_visitors=args.visitors, days=args.days), progress=True)
    with httpx.Client(base_url=args.base, timeout=60) as client:
        merchant, storefront = shop_keys(client, args)
        run = drive_campaign(client, sim, shop=args.shop, merchant_key=merchant, storefront_key=storefront, seed=args.seed, exploration=args.exploration, margin=args.margin)
    summary = run.summary()  # the truth's policies and both estimates: computed once for the print and the files
    print_report(summary)
    for path in write_outputs(summary, args.out):
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
