"""Render benchmark on the demo shop: 200 candidate products, 20 crowds.

    python bench/render_bench.py [--seconds 10] [--connections 16] [--visitors 3000]

Starts `storefront serve` (one worker, embedded Redis) with a freshly seeded demo shop
and loads it over real HTTP with wrk (Debian package `wrk`, a C load generator that
leaves the cores to the server), measuring in the same run:

- bare:        GET /healthz, the floor: HTTP + FastAPI with no work;
- render json: POST /v1/shops/demo/render for random visitors (3/4 known, 1/4 new);
- render html: the same, rendered to HTML from the templates;
- core:        the decision alone in-process (no HTTP), to see where time goes.

Each line prints requests/s and latency percentiles; the ratios to the bare endpoint
make figures comparable across noisy machines. wrk shares the machine with the
server, so absolute figures are a floor of what the service does on its own hardware.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import seed_demo, served, show_against_bare, summary, wrk

WRK_SCRIPT = """
math.randomseed(%(seed)d)
local n = 0
request = function()
  n = n + 1
  local vid
  if math.random() < 0.75 then vid = string.format("v%%05d", math.random(0, %(visitors)d - 1))
  else vid = "anon-" .. n end
  local device = (math.random() < 0.6) and "mobile" or "desktop"
  local body = '{"visitor_id":"' .. vid .. '","page":"home","format":"%(fmt)s","context":{"device":"' .. device .. '","channel":"search"}}'
  return wrk.format("POST", "/v1/shops/demo/render", {["Authorization"] = "Bearer %(key)s", ["Content-Type"] = "application/json"}, body)
end
response = function(status, headers, body)
  if status ~= 200 then print("status " .. status .. ": " .. body); os.exit(1) end
end
"""


def core_bench(data_dir: Path, n: int, visitors: int) -> None:
    """The decision without HTTP: profile read + derive + 20 crowds + ranking of 200."""
    import warnings

    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

    from app.api.app import create_app
    from app.config import Settings
    from app.core.profile import Context
    from app.serving.render import RenderRequest

    settings = Settings(admin_token="x", redis_url=None, data_dir=data_dir)
    with TestClient(create_app(settings)) as c:
        service = c.app.state.storefront.render_service
        rng = random.Random(1)

        async def run() -> list[float]:
            out = []
            for i in range(n):
                vid = f"v{rng.randrange(visitors):05d}" if i % 4 else f"anon-{i}"
                req = RenderRequest(vid, "home", Context(ts=time.time(), device="mobile"), preview=True)
                t = time.perf_counter()
                await service.render("demo", req, authorize=lambda cfg: None)
                out.append(time.perf_counter() - t)
            return out

        lat = c.portal.call(run)
    summary("core decision (in-process)", lat[n // 10 :], sum(lat[n // 10 :]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--visitors", type=int, default=3000)
    p.add_argument("--products", type=int, default=200)
    p.add_argument("--workers", type=int, default=1, help="server processes")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    data_dir = Path(tempfile.mkdtemp(prefix="sf-bench-")) / "data"
    print(f"seeding the demo shop ({args.visitors} visitors, {args.products} products, 20 crowds) ...", flush=True)
    _, key = seed_demo(data_dir, args.visitors, args.products)

    rows: dict[str, dict[str, float]] = {}
    with served(data_dir, args.workers) as base:
        script = {fmt: WRK_SCRIPT % {"seed": 7, "visitors": args.visitors, "fmt": fmt, "key": key} for fmt in ("json", "html")}
        wrk(base, 2, args.connections, script["json"])  # warm-up: snapshots, connections
        print(f"\n{args.seconds:.0f}s per endpoint, {args.connections} connections, {args.workers} server worker(s), wrk on the same machine\n")
        rows["bare GET /healthz"] = wrk(f"{base}/healthz", args.seconds, args.connections)
        rows["render json"] = wrk(base, args.seconds, args.connections, script["json"])
        rows["render html"] = wrk(base, args.seconds, args.connections, script["html"])
    show_against_bare(rows, "bare GET /healthz")
    print()
    core_bench(data_dir, 3000, args.visitors)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
