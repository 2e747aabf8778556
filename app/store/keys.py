"""Every Redis key the service uses, in one place.

All keys of a shop carry the shop id as a hash tag (``{shop}``), so that on Redis
Cluster one shop's keys share a slot: transactions and Lua scripts over them work,
and one shop is never split across nodes. Shop ids are restricted to
``[a-z0-9_-]`` (see :data:`SHOP_ID_PATTERN`), so they cannot contain braces.
"""

from __future__ import annotations

import re

SHOP_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")
# Visitor, product and config ids are free-form for the storefront, but bounded and
# free of control characters so that keys stay printable and small.
ID_PATTERN = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")
CONFIG_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

CONFIG_KINDS = ("crowd", "block", "page", "element", "banner", "experiment", "right")

SHOPS = "sf:shops"  # set of all shop ids (admin listing); global, not per shop


def shop_prefix(shop: str) -> str:
    """The common start of a shop's keys (for hot loops that build many keys)."""
    return f"sf:{{{shop}}}"


_p = shop_prefix


def shop(shop_id: str) -> str:
    """Hash: name, created_at, key hashes, settings (JSON), demo flag."""
    return f"{_p(shop_id)}:shop"


def config_version(shop_id: str) -> str:
    """Integer bumped by every configuration write: the cache key of a process's snapshot."""
    return f"{_p(shop_id)}:cfgver"


def config(shop_id: str, kind: str) -> str:
    """Hash: config id -> current JSON body, for kind in :data:`CONFIG_KINDS`."""
    return f"{_p(shop_id)}:cfg:{kind}"


def history(shop_id: str, kind: str, item_id: str) -> str:
    """List of JSON version records of one config item, oldest first."""
    return f"{_p(shop_id)}:hist:{kind}:{item_id}"


def element_data(shop_id: str, element_id: str) -> str:
    """String: the bytes of an uploaded element (its metadata is the config item "element")."""
    return f"{_p(shop_id)}:element:{element_id}"


# Composed banners are addressed by the digest of everything that shapes their pixels,
# so they need no shop in the key: equal digests are equal pictures.
BANNER_SECRET = "sf:banner-secret"  # signs banner URLs so that nobody else makes us compose


# Signs the console's session cookies (created once, like the banner secret).
CONSOLE_SECRET = "sf:console-secret"

BANNER_PREFIX = "sf:banner:"
BANNER_LRU = "sf:banner-lru"  # sorted set: picture name -> last use (µs), oldest evicted first
BANNER_BYTES = "sf:banner-bytes"  # integer: the bytes of all cached pictures


def banner_image(digest: str, fmt: str) -> str:
    """String: a composed banner's bytes (a cache bounded by bytes, see store/pictures.py)."""
    return f"{BANNER_PREFIX}{banner_name(digest, fmt)}"


def banner_name(digest: str, fmt: str) -> str:
    return f"{digest}.{fmt}"


def catalog_version(shop_id: str) -> str:
    return f"{_p(shop_id)}:catver"


def products(shop_id: str) -> str:
    """Hash: product id -> product JSON."""
    return f"{_p(shop_id)}:products"


def popularity(shop_id: str) -> str:
    """Sorted set: product id -> forward-decayed interaction weight (see app.core.ranking)."""
    return f"{_p(shop_id)}:pop"


def engagement(shop_id: str, counter: str) -> str:
    """Hash: product id -> count, for counter in app.core.engagement.COUNTERS
    (impressions in thousandths, clicks from renders, views, purchases)."""
    return f"{_p(shop_id)}:eng:{counter}"


def known_visitors(shop_id: str) -> str:
    """Set of visitor ids that have CRM (known) attributes."""
    return f"{_p(shop_id)}:known"


def visitor_known(shop_id: str, visitor_id: str) -> str:
    """Hash: attribute -> JSON value, from the merchant's CRM import."""
    return f"{_p(shop_id)}:v:{visitor_id}:known"


def visitor_behaviour(shop_id: str, visitor_id: str) -> str:
    """Hash of folded behaviour counters and first/last timestamps (epoch ms)."""
    return f"{_p(shop_id)}:v:{visitor_id}:beh"


def visitor_behaviour_pattern(shop_id: str) -> str:
    """SCAN pattern of every behaviour hash of a shop: the visitors events have told of.

    Shop ids hold no glob characters (see :data:`SHOP_ID_PATTERN`); the visitor id is
    whatever sits between the fixed prefix and suffix.
    """
    return f"{_p(shop_id)}:v:*:beh"


def visitor_categories(shop_id: str, visitor_id: str) -> str:
    """Hash: category -> number of views."""
    return f"{_p(shop_id)}:v:{visitor_id}:cats"


def visitor_event_keys(prefix: str, visitor_id: str) -> tuple[str, str]:
    """The behaviour and categories hashes events of one visitor update.

    Takes :func:`shop_prefix` already built, because ingestion calls it per visitor
    of every batch; the formats are those of :func:`visitor_behaviour` and
    :func:`visitor_categories` (a test holds them together).
    """
    visitor = f"{prefix}:v:{visitor_id}"
    return visitor + ":beh", visitor + ":cats"


def spend_rank(shop_id: str) -> str:
    """Sorted set: purchaser visitor id -> spend in cents (for the top-x% attribute)."""
    return f"{_p(shop_id)}:spend"


def events_seen(shop_id: str, day: str) -> str:
    """Set of the ids of ingested events whose time falls on one UTC day (YYYYMMDD).

    A repeated event has the same time, so it meets its first copy in the same set. The
    set expires the de-duplication window after the last event of that day arrived.
    """
    return f"{_p(shop_id)}:seen:{day}"


def event_log(shop_id: str) -> str:
    """Stream of accepted events (capped), the raw material for training and the index."""
    return f"{_p(shop_id)}:events"


def exposure_log(shop_id: str) -> str:
    """Stream of render decisions (capped): what each visitor was shown and why."""
    return f"{_p(shop_id)}:exposures"


def experiment_exposures(shop_id: str, exp_id: str, phase: int) -> str:
    """Hash: visitor -> "variant|first exposure ms|pre-exposure spend cents|orders|clicks",
    written once per visitor and phase (HSETNX): the first exposure is the one that counts."""
    return f"{_p(shop_id)}:xp:{exp_id}:{phase}:exposed"


def experiment_outcomes(shop_id: str, exp_id: str, phase: int) -> str:
    """Hash: visitor -> "orders|revenue cents|first purchase ms|clicks" after their first exposure."""
    return f"{_p(shop_id)}:xp:{exp_id}:{phase}:outcomes"


def attribution_cursor(shop_id: str) -> str:
    """String: the event-log stream id up to which events have been attributed."""
    return f"{_p(shop_id)}:xp-cursor"


def attribution_lock(shop_id: str) -> str:
    return f"{_p(shop_id)}:xp-lock"


def operations_index(shop_id: str) -> str:
    """Hash: local date (YYYY-MM-DD) -> that day's customer-operations index figures (JSON)."""
    return f"{_p(shop_id)}:opsindex"


def rights_visitor(shop_id: str, visitor_id: str) -> str:
    """Hash: "current" -> the visitor's live rights decision (JSON), "n:<right>" -> redemptions,
    "p:<event id>" -> purchases already counted."""
    return f"{_p(shop_id)}:v:{visitor_id}:rights"


def rights_stats(shop_id: str) -> str:
    """Hash: "<right>:granted|reserved|released|redeemed|spend|conv" and the exploration tallies
    "<arm>:x:n|x:conv", the same per arm the model would have chosen "<arm>:xg:<greedy>:n|conv",
    and "<right>:d:<day>:granted|reserved" (cents for money) of the right's last granting day
    only, which "<right>:d:last" names (YYYYMMDD, the shop's local day)."""
    return f"{_p(shop_id)}:rights:stats"


def rights_outstanding(shop_id: str) -> str:
    """Sorted set: grants whose money is still reserved, "<right>|<reserved cents>|<grant id>",
    scored by when the reservation is released if the grant has not been redeemed (ms)."""
    return f"{_p(shop_id)}:rights:outstanding"


def rights_audit(shop_id: str) -> str:
    """Stream: one entry per rights decision, field "d" (the decision as JSON: scores, policy
    version, exploration), "f" (the feature row the uplift model read, when it read one) and
    "l" (that row's layout); and one per purchase that converted or redeemed a decision,
    field "o" (the outcome as JSON, joined to its decision by grant id)."""
    return f"{_p(shop_id)}:rights:audit"


def rights_audit_archive(shop_id: str) -> str:
    """Hash: "cursor" -> the last audit stream id moved to disk (app.store.audit_archive), and
    day (YYYY-MM-DD) -> the committed size of that day's file in bytes."""
    return f"{_p(shop_id)}:rights:archived"


def rights_archive_lock(shop_id: str) -> str:
    return f"{_p(shop_id)}:rights:archive-lock"


def rights_feature_layouts(shop_id: str) -> str:
    """Hash: feature layout (FeatureSpec.layout) -> its column names (JSON array), so an
    exported decision log can name the logged rows' columns."""
    return f"{_p(shop_id)}:rights:layouts"
