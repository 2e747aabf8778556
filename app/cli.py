"""The ``storefront`` command: serve, demo, import-orders."""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

from app.config import EMBEDDED_BY_CLI, Settings, SettingsError
from app.core.orders import RowError, column_order, missing_columns, order_events_from_lists
from app.core.profile import Event
from app.store import shops as shop_store
from app.store import visitors as visitor_store
from app.store.client import open_redis
from app.store.embedded import EmbeddedRedis


def _settings() -> Settings:
    settings = Settings.from_env()
    if settings.admin_token_generated:
        print(f"STOREFRONT_ADMIN_TOKEN was not set; this run's admin token is: {settings.admin_token}", file=sys.stderr)
    return settings


def _serve(settings: Settings, host: str, port: int, workers: int, access_log: bool = True) -> None:
    import uvicorn

    embedded = None
    env = os.environ
    if settings.redis_url is None:
        # The CLI owns the embedded server, so every worker connects to the same one.
        embedded = EmbeddedRedis(settings.data_dir, settings.redis_fsync)
        env["STOREFRONT_REDIS_URL"] = embedded.start()
        env[EMBEDDED_BY_CLI] = "1"
        print(f"embedded Redis with append-only persistence in {embedded.redis_dir}", file=sys.stderr)
    env["STOREFRONT_ADMIN_TOKEN"] = settings.admin_token
    try:
        uvicorn.run(
            "app.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=access_log,
        )
    finally:
        if embedded is not None:
            embedded.stop()


def cmd_serve(args: argparse.Namespace) -> int:
    _serve(_settings(), args.host, args.port, args.workers, access_log=not args.no_access_log)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from app.demo import seed_demo

    settings = _settings()

    async def seed() -> tuple[str, str, str]:
        handle = open_redis(settings)
        try:
            return await seed_demo(handle.client, shop_id=args.shop, visitors=args.visitors, products=args.products)
        finally:
            # Leave an embedded server running only if serving follows; it is restarted otherwise.
            await handle.close()

    shop_id, merchant_key, storefront_key = asyncio.run(seed())
    base = f"http://{'localhost' if args.host in ('0.0.0.0', '127.0.0.1') else args.host}:{args.port}"
    print(
        f"\nDemo shop '{shop_id}' is ready.\n"
        f"  merchant key:   {merchant_key}\n"
        f"  storefront key: {storefront_key}\n"
        f"  admin token:    {settings.admin_token}\n"
        f"Open {base}/demo/{shop_id} to see two visitors get two different storefronts.\n"
        f"Merchant console: {base}/console (shop id '{shop_id}', the merchant key above).\n"
    )
    if args.no_serve:
        return 0
    _serve(settings, args.host, args.port, 1)
    return 0


def cmd_import_orders(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    path = Path(args.file)
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return 2
    now = time.time()
    started = time.perf_counter()
    events: list[Event] = []
    errors: list[RowError] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        missing = missing_columns(header)
        if missing:
            print(f"error: {path} lacks the column(s) {', '.join(missing)} (needs visitor_id, ts, amount[, product_id])", file=sys.stderr)
            return 2
        at = column_order(header)
        rows = ([row[i] if i is not None and i < len(row) else "" for i in at] for row in reader)
        for item in tqdm(order_events_from_lists(rows, now), desc="reading", unit=" rows", mininterval=0.5, disable=args.quiet):
            (errors if isinstance(item, RowError) else events).append(item)  # type: ignore[arg-type]
    if errors and not args.skip_invalid:
        for e in errors[:20]:
            print(f"error: {e}", file=sys.stderr)
        print(f"{len(errors)} invalid row(s); nothing was imported (use --skip-invalid to import the valid rows)", file=sys.stderr)
        return 2

    # A visitor's orders in one batch are folded into one update of its profile.
    events.sort(key=lambda e: e.visitor_id)
    read_s = time.perf_counter() - started

    async def ingest() -> tuple[int, int]:
        handle = open_redis(settings)
        try:
            if await shop_store.get_shop(handle.client, args.shop) is None:
                raise SystemExit(f"error: there is no shop '{args.shop}'")
            with tqdm(total=len(events), desc="importing", unit=" orders", mininterval=0.5, disable=args.quiet) as bar:
                return await visitor_store.ingest(handle.client, args.shop, events, progress=bar.update)
        finally:
            await handle.close()

    accepted, duplicates = asyncio.run(ingest())
    elapsed = time.perf_counter() - started
    rows = len(events) + len(errors)
    print(
        f"imported {accepted} order(s), {duplicates} already known, {len(errors)} invalid row(s) skipped"
        f" in {elapsed:.2f}s ({rows / elapsed:,.0f} rows/s: read and checked at {rows / read_s:,.0f} rows/s,"
        f" written at {len(events) / max(elapsed - read_s, 1e-9):,.0f} rows/s)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="storefront", description="Personalized storefront service.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the HTTP service")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1, help="server processes (they share the one Redis)")
    s.add_argument("--no-access-log", action="store_true", help="no line per request (for load tests)")
    s.set_defaults(func=cmd_serve)

    d = sub.add_parser("demo", help="seed a demo shop, print its keys, then serve it")
    d.add_argument("--shop", default="demo")
    d.add_argument("--visitors", type=int, default=3000)
    d.add_argument("--products", type=int, default=300)
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8000)
    d.add_argument("--no-serve", action="store_true", help="seed and exit")
    d.set_defaults(func=cmd_demo)

    i = sub.add_parser("import-orders", help="import historical orders from a CSV (visitor_id, ts, amount[, product_id])")
    i.add_argument("--shop", required=True)
    i.add_argument("file")
    i.add_argument("--skip-invalid", action="store_true", help="import the valid rows even if some are invalid")
    i.add_argument("--quiet", action="store_true", help="no progress bars")
    i.set_defaults(func=cmd_import_orders)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
