"""Historical order import: rows/s of `storefront import-orders`, end to end.

    python bench/import_bench.py [--rows 200000]

Writes a CSV of orders (visitor_id, ts, amount, product_id) for a new shop, then
times, in the same run:

- floor:  reading the file with csv.DictReader alone (what any import pays);
- import: the real command (parse + validate + Lua ingest into the embedded Redis,
          fsync per batch), as a user runs it.

The issue's target is 20,000 rows/s or more for the import.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import env_for


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(5)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["visitor_id", "ts", "amount", "product_id"])
        for i in range(rows):
            ts = 1_650_000_000 + rng.randrange(100_000_000)
            when = ts if i % 2 else time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(ts + 8 * 3600))
            w.writerow([f"c{rng.randrange(rows // 4):07d}", when, f"{rng.uniform(1, 2000):.2f}", f"p{rng.randrange(500):04d}"])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=200_000)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sf-import-"))
    data_dir, path = tmp / "data", tmp / "orders.csv"
    write_csv(path, args.rows)

    t = time.perf_counter()
    with path.open(newline="") as f:
        n = sum(1 for _ in csv.DictReader(f))
    floor = n / (time.perf_counter() - t)

    # a shop to import into (through the store, as the API would create it)
    from app.config import Settings
    from app.store.client import open_redis
    from app.store.shops import create_shop

    async def make_shop() -> None:
        handle = open_redis(Settings(admin_token="x", redis_url=None, data_dir=data_dir))
        await create_shop(handle.client, "bench", "bench")
        await handle.close()

    asyncio.run(make_shop())
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "import-orders", "--shop", "bench", str(path), "--quiet"],
        env=env_for(data_dir), capture_output=True, text=True, check=True,
    )
    wall = time.perf_counter() - t
    rate = args.rows / wall
    print(out.stdout.strip())
    print(f"\nfloor  csv.DictReader only      {floor:>10,.0f} rows/s")
    print(f"import storefront import-orders {rate:>10,.0f} rows/s  (whole command, start-up included; {wall:.1f}s for {args.rows:,} rows)")
    print(f"ratio  import / floor           {rate / floor:>10.2f}")
    print(f"target 20,000 rows/s: {'met' if rate >= 20_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
