"""Shared fixtures: a real embedded Redis behind a real app, and fresh shops on it.

One app (and so one embedded redis-server) serves the whole session; every test that
needs a shop gets a new one with a unique id, so tests never see each other's data.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.config import Settings

ADMIN_TOKEN = "test-admin-token"
_counter = itertools.count()


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    # A generous Redis timeout: on a loaded CI machine a read can stall past the
    # production 150 ms, and a test of decisions must not see a fallback for it. The
    # fallback tests stop Redis outright instead.
    # No attribute models unless a test brings its own (published_models): rule-only
    # decisions keep the other tests' expectations exact.
    base = dict(
        admin_token=ADMIN_TOKEN, redis_url=None, data_dir=data_dir, redis_timeout_ms=2000, models_dir=data_dir / "no-models", ranker_dir=data_dir / "no-ranker",
        uplift_dir=data_dir / "no-uplift",
    )
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(data_dir))) as c:
        yield c


@dataclass(frozen=True)
class ShopKeys:
    shop_id: str
    merchant_key: str
    storefront_key: str

    @property
    def merchant(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.merchant_key}"}

    @property
    def storefront(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.storefront_key}"}

    def url(self, path: str) -> str:
        return f"/v1/shops/{self.shop_id}{path}"


def redis_of(client: TestClient) -> redis.Redis:
    """A plain client on the app's own embedded Redis, for tests that look at what it stored."""
    sock = client.app.state.storefront.handle.embedded.socket_path  # type: ignore[attr-defined]
    return redis.Redis(unix_socket_path=str(sock), decode_responses=True)


def create_shop(client: TestClient, prefix: str = "shop") -> ShopKeys:
    shop_id = f"{prefix}-{os.getpid()}-{next(_counter)}"
    r = client.post("/v1/shops", json={"shop_id": shop_id, "name": "Test shop"}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == 201, r.text
    body = r.json()
    return ShopKeys(shop_id, body["merchant_key"], body["storefront_key"])


@pytest.fixture
def shop(client: TestClient) -> ShopKeys:
    return create_shop(client)


@pytest.fixture(scope="session")
def published_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small attribute model set, trained on a small simulation and published once."""
    from app.core.features import FeatureSpec
    from training.attributes import save, train_all
    from training.simulator import SimConfig, simulate

    sim = simulate(SimConfig(seed=5, n_visitors=1500, days=60))
    spec = FeatureSpec(categories=tuple(sorted({p.category for p in sim.products})))
    models, prints = train_all(sim, spec, end=max(e.ts for e in sim.events) + 1, rounds=120)
    out = tmp_path_factory.mktemp("published") / "attributes"
    save(models, spec, prints, out)
    return out


@pytest.fixture(scope="session")
def published_ranker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small product ranker, trained on a small simulation and published once."""
    from app.core.features import FeatureSpec
    from training.ranker import (
        build_ranking_data,
        fingerprint,
        ranker_model,
        save_ranker,
        train_conversion,
        train_ranker,
    )
    from training.simulator import SimConfig, simulate

    sim = simulate(SimConfig(seed=3, n_visitors=800, days=40))
    spec = FeatureSpec(categories=tuple(sorted({p.category for p in sim.products})))
    data = build_ranking_data(sim, spec)
    test_from = sim.end - 7 * 86400
    booster, _ = train_ranker(data, test_from=test_from, rounds=40)
    conversion = train_conversion(data, test_from=test_from, rounds=40)
    out = tmp_path_factory.mktemp("published") / "ranker"
    save_ranker(ranker_model(spec, booster, conversion), {}, fingerprint(data), out)
    return out
