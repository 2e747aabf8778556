"""Fetching a composed banner that is already cached: in-process and over real HTTP.

    python bench/banner_fetch_bench.py [--seconds 10] [--connections 16] [--n 20000]

Seeds the demo shop (its hero banner: 1200×400, 6 layers, CJK text), renders a page for
a visitor of each crowd variant to get the banner URLs, fetches each once (composing
it), and then measures cache hits, in the same run:

In-process (one process, the real app, the real embedded Redis):
- memory hit:   BannerService.fetch when the picture is in this process's LRU;
- redis hit:    the same with the process cache emptied before every fetch, so the
                picture comes from Redis (one pipelined round trip);
- ASGI request: the whole route (signature, headers, ETag) through the app, no sockets;
- ASGI bare:    GET /healthz the same way, the floor of the framework.

Over HTTP (`storefront serve`, one worker; wrk on the same two cores):
- bare GET /healthz, the floor: HTTP + FastAPI with no work;
- banner hit:   GET /banners/{digest}.webp?spec=…&sig=… for the five crowd variants;
- banner 304:   the same with If-None-Match (what a browser revalidating sends).

The targets are p99 ≤ 2 ms in-process and ≥ 3,000 fetches/s over HTTP; the ratios to the
bare endpoint make the figures comparable across noisy machines.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import seed_demo, served, show_against_bare, summary, wrk

# Visitors of the demo shop that land in the banner's five variants (base, new visitors,
# dormant, birthday month, top spenders) with its seed of 300 visitors and 60 products.
VARIANT_VISITORS = ("member-wang", "newcomer-42", "v00005", "vip-lin", "v00010")



def rotation(requests: list[tuple[str, dict[str, str]]]) -> str:
    """A wrk script sending these GET requests (path, headers) in turn."""
    def lua_headers(headers: dict[str, str]) -> str:
        return ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())

    entries = ", ".join(f"{{{json.dumps(path)}, {{{lua_headers(h)}}}}}" for path, h in requests)
    return (
        f"local reqs = {{{entries}}}\nlocal n = 0\n"
        "request = function()\n  n = n + 1\n  local r = reqs[(n % #reqs) + 1]\n"
        '  return wrk.format("GET", r[1], r[2])\nend\n'
    )


def banner_urls(client: httpx.Client, key: str) -> list[str]:
    """The hero banner URL of each variant visitor's page (over HTTP, or the test client)."""
    urls = []
    for vid in VARIANT_VISITORS:
        r = client.post(
            "/v1/shops/demo/render",
            json={"visitor_id": vid, "page": "home", "preview": True},
            headers={"Authorization": f"Bearer {key}"},
        )
        r.raise_for_status()
        hero = next(s for s in r.json()["slots"] if s["slot_id"] == "hero")
        urls.append(hero["params"]["banner_url"])
    return urls


def http_bench(data_dir: Path, key: str, seconds: float, connections: int) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    with served(data_dir) as base, httpx.Client(base_url=base, timeout=60) as client:
        urls = banner_urls(client, key)
        print(f"{len(set(urls))} banner variants; composing each once ...", flush=True)
        etags = []
        for url in urls:
            r = client.get(url)
            r.raise_for_status()
            etags.append(r.headers["etag"])
        wrk(f"{base}/healthz", 2, connections)  # warm-up
        print(f"\n{seconds:.0f}s per endpoint, {connections} connections, 1 server worker, wrk on the same machine\n")
        rows["bare GET /healthz"] = wrk(f"{base}/healthz", seconds, connections)
        rows["banner hit (200)"] = wrk(base, seconds, connections, rotation([(u, {}) for u in urls]))
        # every variant's URL with its own ETag: a browser revalidating
        revalidations = [(u, {"If-None-Match": e}) for u, e in zip(urls, etags, strict=True)]
        rows["banner revalidate (304)"] = wrk(base, seconds, connections, rotation(revalidations))
    return rows


def in_process_bench(data_dir: Path, key: str, n: int) -> dict[str, dict[str, float]]:
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

    from app.api.app import create_app
    from app.config import Settings

    rows: dict[str, dict[str, float]] = {}
    with TestClient(create_app(Settings(admin_token="x", redis_url=None, data_dir=data_dir))) as c:
        banners = c.app.state.storefront.banners
        app = c.app
        urls = banner_urls(c, key)
        parts = []
        for url in urls:
            split = urlsplit(url)
            digest, fmt = split.path.rsplit("/", 1)[1].split(".")
            q = parse_qs(split.query)
            parts.append((digest, fmt, q["spec"][0], q["sig"][0]))

        async def fetches(clear: bool) -> list[float]:
            out = []
            for i in range(n):
                digest, fmt, spec, sig = parts[i % len(parts)]
                if clear:
                    banners._cache.clear()  # the process cache only: the next read goes to Redis
                t = time.perf_counter()
                await banners.fetch(digest, fmt, spec, sig)
                out.append(time.perf_counter() - t)
            return out

        async def requests(paths: list[str]) -> list[float]:
            out = []
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for i in range(n):
                    t = time.perf_counter()
                    r = await client.get(paths[i % len(paths)])
                    out.append(time.perf_counter() - t)
                    if r.status_code != 200:
                        raise RuntimeError(f"{r.status_code}: {r.text[:200]}")
            return out

        c.portal.call(fetches, False)  # composes what the renders' URLs name, once
        for name, job in (
            ("memory hit (fetch)", lambda: fetches(False)),
            ("redis hit (fetch)", lambda: fetches(True)),
            ("ASGI banner request", lambda: requests(urls)),
            ("ASGI bare /healthz", lambda: requests(["/healthz"])),
        ):
            lat = c.portal.call(job)
            rows[name] = summary(name, lat, sum(lat))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--n", type=int, default=20000, help="fetches per in-process measurement")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    data_dir = Path(tempfile.mkdtemp(prefix="sf-bench-")) / "data"
    print("seeding the demo shop (300 visitors, 60 products) ...", flush=True)
    key, _ = seed_demo(data_dir, 300, 60)  # the merchant key: previews are not logged as exposures

    print("\nin-process, the real app and embedded Redis:")
    inner = in_process_bench(data_dir, key, args.n)
    rows = http_bench(data_dir, key, args.seconds, args.connections)
    show_against_bare(rows, "bare GET /healthz")
    a, b = inner["ASGI banner request"], inner["ASGI bare /healthz"]
    print(f"{'in-process banner request':<28} p50 {a['p50_ms'] / b['p50_ms']:.2f}x,  p99 {a['p99_ms'] / b['p99_ms']:.2f}x of the in-process bare request")


if __name__ == "__main__":
    main()
