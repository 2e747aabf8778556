"""The storefront command as a user runs it: real processes, real Redis, real HTTP."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bench.common import ADMIN, env_for, served


def run(args: list[str], data_dir: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], check=False, env=env_for(data_dir), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("cli") / "data"
    out = run(["demo", "--no-serve", "--visitors", "300", "--products", "80"], data)
    assert out.returncode == 0, out.stderr
    assert "merchant key:" in out.stdout and "/demo/demo" in out.stdout
    return data


def test_serve_with_the_demo_shop_over_real_http(demo_dir: Path) -> None:
    with served(demo_dir) as base:
        # the CLI's own server, handed to its workers by URL, is still reported as the embedded one
        assert httpx.get(f"{base}/readyz", timeout=10).json()["checks"]["redis"] == {"ok": True, "embedded": True}
        page = httpx.get(f"{base}/", follow_redirects=True, timeout=10)
        assert page.status_code == 200 and "vip-lin" in page.text and "newcomer-42" in page.text
        # the demo visitors land in different crowds and so see different heroes
        assert page.text.count("<iframe") >= 2
        created = httpx.post(f"{base}/v1/shops", json={"shop_id": "cli-made", "name": "x"}, headers={"Authorization": f"Bearer {ADMIN}"})
        assert created.status_code == 201
    # the embedded Redis stopped with the service
    assert not (demo_dir / "redis" / "redis.sock").exists() or run(["import-orders", "--shop", "nope", "/dev/null"], demo_dir).returncode != 0


def test_import_orders_csv_is_idempotent(demo_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["visitor_id", "ts", "amount", "product_id"])
        for i in range(3000):
            w.writerow([f"csv-{i % 100}", 1_700_000_000 + i * 60, f"{(i % 50) + 0.5:.2f}", f"p{i % 80:04d}"])
        w.writerow(["csv-free", "2024-05-01T10:00:00+08:00", "0", ""])
    out = run(["import-orders", "--shop", "demo", str(path), "--quiet"], demo_dir)
    assert out.returncode == 0, out.stderr
    assert "imported 3001 order(s), 0 already known" in out.stdout
    again = run(["import-orders", "--shop", "demo", str(path), "--quiet"], demo_dir)
    assert "imported 0 order(s), 3001 already known" in again.stdout


def test_import_refuses_a_bad_file_and_writes_nothing(demo_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("visitor_id,ts,amount\nbad-1,1700000000,10\nbad-2,not-a-time,10\nbad-3,1700000000,-4\n")
    out = run(["import-orders", "--shop", "demo", str(path), "--quiet"], demo_dir)
    assert out.returncode == 2
    assert "line 3, column ts" in out.stderr and "line 4, column amount" in out.stderr
    assert "nothing was imported" in out.stderr
    ok = run(["import-orders", "--shop", "demo", str(path), "--quiet", "--skip-invalid"], demo_dir)
    assert ok.returncode == 0 and "imported 1 order(s)" in ok.stdout and "2 invalid row(s)" in ok.stdout
    missing = tmp_path / "cols.csv"
    missing.write_text("visitor,when\n")
    out = run(["import-orders", "--shop", "demo", str(missing)], demo_dir)
    assert out.returncode == 2 and "lacks the column(s) visitor_id, ts, amount" in out.stderr
