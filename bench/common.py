"""Shared pieces of the benchmarks (and of the CLI tests): a served demo shop, wrk, and
latency statistics."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from app.config import EMBEDDED_BY_CLI

ADMIN = "bench-admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "STOREFRONT_DATA_DIR": str(data_dir), "STOREFRONT_ADMIN_TOKEN": ADMIN}
    env.pop("STOREFRONT_REDIS_URL", None)
    env.pop(EMBEDDED_BY_CLI, None)
    return env


def seed_demo(data_dir: Path, visitors: int, products: int) -> tuple[str, str]:
    """Seed the demo shop; returns (merchant key, storefront key)."""
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo", "--no-serve", "--visitors", str(visitors), "--products", str(products)],
        env=env_for(data_dir), capture_output=True, text=True, check=True,
    )
    keys = {}
    for line in out.stdout.splitlines():
        if ":" in line and "key" in line:
            name, _, value = line.strip().partition(":")
            keys[name.strip()] = value.strip()
    return keys["merchant key"], keys["storefront key"]


@contextmanager
def in_process_demo(
    visitors: int, products: int = 200, fsync: str = "everysec", loop: str = "asyncio"
) -> Iterator[tuple[Any, dict[str, str]]]:
    """A freshly seeded demo shop behind the app in this process (no HTTP): a TestClient
    and the merchant's headers. For benches that call the render service directly.
    ``fsync``: the embedded Redis's appendfsync (STOREFRONT_REDIS_FSYNC); ``loop``:
    "uvloop" runs the app on the loop ``storefront serve`` uses."""
    data_dir = Path(tempfile.mkdtemp(prefix="sf-bench-")) / "data"
    print(f"seeding the demo shop ({visitors} visitors) ...", flush=True)
    merchant_key, _ = seed_demo(data_dir, visitors, products)

    from fastapi.testclient import TestClient

    from app.api.app import create_app
    from app.config import Settings

    app = create_app(Settings(admin_token="x", redis_url=None, data_dir=data_dir, redis_fsync=fsync))
    with TestClient(app, backend_options={"use_uvloop": loop == "uvloop"}) as c:
        yield c, {"Authorization": f"Bearer {merchant_key}"}


@contextmanager
def served(data_dir: Path, workers: int = 1) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--no-access-log", "--workers", str(workers)],
        env=env_for(data_dir),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"storefront serve did not become ready on {base} within 60 s")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def summary(name: str, latencies_s: list[float], wall_s: float) -> dict[str, float]:
    a = np.array(latencies_s) * 1000
    row = {
        "requests": float(len(a)),
        "rps": len(a) / wall_s,
        "p50_ms": float(np.percentile(a, 50)),
        "p90_ms": float(np.percentile(a, 90)),
        "p99_ms": float(np.percentile(a, 99)),
    }
    print(f"{name:<28} {row['rps']:>9.0f} req/s   p50 {row['p50_ms']:7.2f} ms   p90 {row['p90_ms']:7.2f} ms   p99 {row['p99_ms']:7.2f} ms   (n={len(a)})")
    return row


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, seconds: float, connections: int, script: str | None = None) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        if script:
            f.write(script)
            args[1:1] = ["-s", f.name]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # the script exits on a failed request, printing it
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {int(p): _ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.MULTILINE)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} failed requests:\n{out}")
    return {"rps": rps, "p50_ms": pct[50], "p90_ms": pct[90], "p99_ms": pct[99]}


def show(name: str, row: dict[str, float]) -> None:
    print(f"{name:<28} {row['rps']:>9.0f} req/s   p50 {row['p50_ms']:7.2f} ms   p90 {row['p90_ms']:7.2f} ms   p99 {row['p99_ms']:7.2f} ms")


def show_against_bare(rows: dict[str, dict[str, float]], bare: str) -> None:
    """Every row, then each one's throughput and latency as a ratio to the bare endpoint's."""
    for name, row in rows.items():
        show(name, row)
    b = rows[bare]
    print()
    for name, r in rows.items():
        if name != bare:
            print(f"{name:<28} throughput {r['rps'] / b['rps']:.2f}x of bare,  p50 {r['p50_ms'] / b['p50_ms']:.1f}x,  p99 {r['p99_ms'] / b['p99_ms']:.1f}x of bare")
