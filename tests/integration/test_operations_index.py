"""The customer-operations index from a real Redis: every visitor found, figures stored per day."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from app.serving.operations_index import operations_index
from app.store import visitors as visitor_store
from app.store.shops import get_shop
from tests.conftest import ShopKeys
from tests.integration.shop_setup import setup_shop


def test_known_and_event_only_visitors_are_all_counted(client: TestClient, shop: ShopKeys) -> None:
    setup_shop(client, shop)  # alice (CRM and a purchase), bob (a view), carol (a purchase)
    odd = {"event_id": "o1", "type": "follow", "visitor_id": "x:1:beh", "ts": time.time() - 60}
    assert client.post(shop.url("/events"), json={"events": [odd]}, headers=shop.storefront).status_code == 200
    r = client.app.state.storefront.redis
    ids, more = client.portal.call(lambda: visitor_store.visitor_ids(r, shop.shop_id, limit=100))
    assert sorted(ids) == ["alice", "bob", "carol", "x:1:beh"] and more is False
    ids, more = client.portal.call(lambda: visitor_store.visitor_ids(r, shop.shop_id, limit=2))
    assert len(ids) == 2 and more is True

    record = client.portal.call(get_shop, r, shop.shop_id)
    computed = client.portal.call(lambda: operations_index(r, record, now=time.time()))
    index = computed.index
    assert index.visitors == 4 and not computed.sampled
    assert [g.count for g in index.groups] == [4, 1, 2, 1]  # visitors, fans, purchasers, members
    assert index.group("purchaser").gmv == 60.0
    # today's figures were stored, and read back for the history
    assert computed.snapshots[index.today.isoformat()]["fan"]["count"] == 1
