"""A preview "as a crowd" (the console's page preview): the crowd's blocks, never logged."""

from __future__ import annotations

import time

import pytest
import redis
from fastapi.testclient import TestClient

from app.core.crowds import as_only_crowd
from app.core.decision import CrowdScore
from app.core.profile import Context
from app.serving.render import RenderRequest
from tests.conftest import ShopKeys
from tests.integration.shop_setup import setup_shop


def render_as(client: TestClient, shop: ShopKeys, visitor: str, crowd: str | None) -> object:
    service = client.app.state.storefront.render_service
    req = RenderRequest(visitor_id=visitor, page="home", context=Context(ts=time.time()), format="html", preview=True, as_crowd=crowd)
    return client.portal.call(lambda: service.render(shop.shop_id, req, authorize=lambda cfg: None))


def test_forced_crowd_chooses_its_variants_whoever_the_visitor_is(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    # alice is a woman (hero_women); previewed as the campaign crowd she sees its hero
    out = render_as(client, shop, "alice", "campaign")
    assert [s.block_id for s in out.decision.slots] == ["hero_campaign", "grid_all"]
    assert [c.id for c in out.decision.crowds if c.matched] == ["campaign"]
    assert "预览" in out.html  # marked as a preview
    # a crowd no page variant names, or an unknown id: the defaults
    assert [s.block_id for s in render_as(client, shop, "alice", "nope").decision.slots] == ["hero_default", "grid_all"]
    # without as_crowd, her own crowds decide
    assert render_as(client, shop, "alice", None).decision.slots[0].block_id == "hero_women"


def test_as_crowd_previews_are_not_exposures(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)
    render_as(client, shop, "alice", "women")
    real = client.post(shop.url("/render"), json={"visitor_id": "alice", "page": "home"}, headers=shop.storefront).json()
    # the exposure log writes in batches, off the request path: wait for the real render's
    sock = client.app.state.storefront.handle.embedded.socket_path
    r = redis.Redis(unix_socket_path=str(sock), decode_responses=True)
    deadline = time.time() + 10
    while time.time() < deadline and not r.xlen(f"sf:{{{shop.shop_id}}}:exposures"):
        time.sleep(0.05)
    entries = r.xrange(f"sf:{{{shop.shop_id}}}:exposures")
    assert [e[1]["render_id"] for e in entries] == [real["render_id"]]


def test_as_crowd_is_refused_outside_previews() -> None:
    with pytest.raises(ValueError, match="previews only"):
        RenderRequest(visitor_id="v", page="home", context=Context(ts=0.0), as_crowd="women")


def test_as_only_crowd_keeps_priorities_and_puts_the_crowd_first() -> None:
    scores = (
        CrowdScore("a", 1.0, "rule", True, 9, "rule holds"),
        CrowdScore("b", 0.0, "rule", False, 1, "rule does not hold"),
    )
    forced = as_only_crowd(scores, "b")
    assert [(s.id, s.matched, s.score, s.priority) for s in forced] == [("b", True, 1.0, 1), ("a", False, 0.0, 9)]
    assert all(s.source == "preview" for s in forced)
