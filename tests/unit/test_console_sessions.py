"""Console session cookies: signed, expiring, and bound to the shop's current key."""

from __future__ import annotations

import json

from itsdangerous import URLSafeSerializer

from app.console.sessions import Session, SessionCodec, fingerprint_matches, key_fingerprint
from app.store.shops import ShopRecord, hash_key

SECRET = b"s" * 32
NOW = 1_800_000_000.0


def shop(key: str, shop_id: str = "tea") -> ShopRecord:
    return ShopRecord(shop_id, "Tea", 0.0, hash_key(key), hash_key("sk_" + key))


def test_a_session_survives_the_round_trip() -> None:
    codec = SessionCodec(SECRET, max_age_s=60, clock=lambda: NOW)
    s = Session(csrf="t", shop_id="tea", fingerprint=key_fingerprint(SECRET, shop("mk_1")))
    assert codec.load(codec.dump(s)) == s
    anonymous = Session(csrf="t")
    assert codec.load(codec.dump(anonymous)) == anonymous and not anonymous.logged_in


def test_the_cookie_holds_neither_the_key_nor_its_stored_hash() -> None:
    codec = SessionCodec(SECRET, clock=lambda: NOW)
    record = shop("mk_secret-key")
    text = codec.dump(Session(csrf="t", shop_id="tea", fingerprint=key_fingerprint(SECRET, record)))
    # the signed text is payload.timestamp.signature; anyone can read the payload
    decoded = URLSafeSerializer("no secret needed to read").load_payload(text.rsplit(".", 2)[0].encode())
    assert decoded["s"] == "tea"
    assert "mk_secret-key" not in text and record.merchant_key_hash not in json.dumps(decoded)


def test_expired_forged_or_tampered_cookies_are_no_session() -> None:
    old = SessionCodec(SECRET, max_age_s=60, clock=lambda: NOW - 61).dump(Session(csrf="t", shop_id="tea", fingerprint="f"))
    now = SessionCodec(SECRET, max_age_s=60, clock=lambda: NOW)
    assert now.load(old) is None
    assert SessionCodec(SECRET, max_age_s=60, clock=lambda: NOW - 59).load(old) is not None
    other = SessionCodec(b"x" * 32, clock=lambda: NOW).dump(Session(csrf="t", shop_id="tea", fingerprint="f"))
    assert now.load(other) is None
    good = now.dump(Session(csrf="t"))
    assert now.load(good[:-2] + ("AA" if not good.endswith("AA") else "BB")) is None
    assert now.load("") is None and now.load(None) is None and now.load("not-a-cookie") is None


def test_the_fingerprint_follows_the_stored_key_and_the_shop() -> None:
    fp = key_fingerprint(SECRET, shop("mk_1"))
    assert fingerprint_matches(SECRET, shop("mk_1"), fp)
    assert not fingerprint_matches(SECRET, shop("mk_2"), fp)  # the key was rotated
    assert not fingerprint_matches(SECRET, shop("mk_1", "other"), fp)  # another shop, same key hash
    assert not fingerprint_matches(b"y" * 32, shop("mk_1"), fp)
