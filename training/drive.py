"""Drive a running service with a simulated shop: a realistic load over real HTTP.

    python -m training.drive --base http://localhost:8000 --shop sim --admin-token T \\
        --visitors 2000 --days 30

Creates the shop (or uses the keys given), uploads the catalog and the CRM visitors
through the merchant API, then replays the simulation in time order: each session's
page view is a render with the session's device and channel, and the visitor's events
are sent in batches as a storefront would. Times are shifted so that the simulation
ends now (the service refuses events from the future, and lifecycles then look current).
Prints what was sent, what was accepted and the renders' latency percentiles.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import numpy as np
from tqdm import tqdm

from app.core.profile import Event
from training.simulator import SimConfig, Simulation, simulate


@dataclass
class DriveResult:
    events_sent: int = 0
    events_accepted: int = 0
    renders: int = 0
    render_errors: int = 0
    render_ms: list[float] = field(default_factory=list)

    def summary(self) -> str:
        lat = np.array(self.render_ms) if self.render_ms else np.array([np.nan])
        return (
            f"events sent {self.events_sent}, accepted {self.events_accepted}; renders {self.renders} "
            f"({self.render_errors} not 200), p50 {np.nanpercentile(lat, 50):.1f} ms, p99 {np.nanpercentile(lat, 99):.1f} ms"
        )


def shifted(sim: Simulation, end: float) -> Simulation:
    """The same simulation, moved in time so that it ends at ``end``."""
    dt = end - sim.end
    return replace(
        sim,
        events=[replace(e, ts=e.ts + dt) for e in sim.events],
        contexts=[replace(c, ts=c.ts + dt) for c in sim.contexts],
        products=[replace(p, added_at=p.added_at + dt if p.added_at is not None else None) for p in sim.products],
    )


def checked(r: httpx.Response, what: str) -> dict[str, Any]:
    if r.status_code >= 300:
        raise SystemExit(f"{what} failed: {r.status_code} {r.text[:300]}")
    return r.json()  # type: ignore[no-any-return]


def upload_shop(client: httpx.Client, sim: Simulation, *, shop: str, merchant_key: str) -> None:
    """The catalog and the CRM visitors, through the merchant API."""
    m = {"Authorization": f"Bearer {merchant_key}"}
    products = [p.as_dict() for p in sim.products]
    for i in range(0, len(products), 5000):
        checked(client.put(f"/v1/shops/{shop}/products", json={"products": products[i : i + 5000]}, headers=m), "catalog upload")
    known = [{"visitor_id": v.visitor_id, "attributes": dict(v.known_attributes)} for v in sim.visitors if v.known]
    for i in range(0, len(known), 5000):
        checked(client.put(f"/v1/shops/{shop}/visitors", json={"visitors": known[i : i + 5000]}, headers=m), "visitor upload")


def event_item(ev: Event) -> dict[str, Any]:
    """One simulated event as the events API takes it."""
    item: dict[str, Any] = {"event_id": ev.event_id, "type": ev.type, "visitor_id": ev.visitor_id, "ts": round(ev.ts, 3)}
    if ev.product_id:
        item["product_id"] = ev.product_id
    if ev.amount_cents is not None:
        item["amount"] = ev.amount_cents / 100
    if ev.render_id:
        item["render_id"] = ev.render_id
    return item


def drive(
    client: httpx.Client,
    sim: Simulation,
    *,
    shop: str,
    merchant_key: str,
    storefront_key: str,
    page: str = "home",
    batch: int = 200,
    progress: bool = True,
) -> DriveResult:
    s = {"Authorization": f"Bearer {storefront_key}"}
    upload_shop(client, sim, shop=shop, merchant_key=merchant_key)
    result = DriveResult()
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if pending:
            body = checked(client.post(f"/v1/shops/{shop}/events", json={"events": pending}, headers=s), "events")
            result.events_sent += len(pending)
            result.events_accepted += int(body["accepted"])
            pending.clear()

    sessions = sorted(sim.contexts, key=lambda c: c.ts)
    e = 0
    for ctx in tqdm(sessions, desc="replaying", unit=" sessions", disable=not progress, mininterval=0.5):
        # everything that happened before this page view reaches the service first
        while e < len(sim.events) and sim.events[e].ts < ctx.ts:
            pending.append(event_item(sim.events[e]))
            if len(pending) >= batch:
                flush()
            e += 1
        flush()
        body = {"visitor_id": ctx.visitor_id, "page": page, "context": {"device": ctx.device, "channel": ctx.channel, "ts": ctx.ts}}
        t = time.perf_counter()
        r = client.post(f"/v1/shops/{shop}/render", json=body, headers=s)
        result.render_ms.append((time.perf_counter() - t) * 1000)
        result.renders += 1
        result.render_errors += r.status_code != 200
    return result


def add_shop_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", default="http://127.0.0.1:8000")
    p.add_argument("--shop", default="sim")
    p.add_argument("--admin-token", help="create the shop with this token (else give its keys)")
    p.add_argument("--merchant-key")
    p.add_argument("--storefront-key")


def shop_keys(client: httpx.Client, args: argparse.Namespace) -> tuple[str, str]:
    """(merchant key, storefront key): the shop created with the admin token, or the keys given."""
    merchant, storefront = args.merchant_key, args.storefront_key
    if args.admin_token:
        body = checked(
            client.post("/v1/shops", json={"shop_id": args.shop, "name": f"simulated {args.shop}"}, headers={"Authorization": f"Bearer {args.admin_token}"}),
            "shop creation",
        )
        merchant, storefront = body["merchant_key"], body["storefront_key"]
        print(f"created shop {args.shop}: merchant key {merchant}, storefront key {storefront}", file=sys.stderr)
    if not (merchant and storefront):
        raise SystemExit("give --admin-token, or both --merchant-key and --storefront-key")
    return merchant, storefront


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.drive", description=__doc__.split("\n\n")[0])
    add_shop_arguments(p)
    p.add_argument("--page", default="home", help="the page to render (the shop needs it configured)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--visitors", type=int, default=2000)
    p.add_argument("--days", type=int, default=30)
    args = p.parse_args(argv)
    sim = shifted(simulate(SimConfig(seed=args.seed, n_visitors=args.visitors, days=args.days), progress=True), time.time() - 60)
    with httpx.Client(base_url=args.base, timeout=30) as client:
        merchant, storefront = shop_keys(client, args)
        result = drive(client, sim, shop=args.shop, merchant_key=merchant, storefront_key=storefront, page=args.page)
    print(result.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
