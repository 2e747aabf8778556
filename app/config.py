"""Service configuration, read once from the environment (``STOREFRONT_*``)."""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
# When the embedded Redis makes a write durable (its appendfsync): "everysec" writes every
# command to the append-only file before answering and flushes the file to disk once a
# second; "always" flushes before answering, which survives a crash of the machine too
# but costs a disk flush (about 1 ms here) on every write of a page view.
FSYNC_POLICIES = ("everysec", "always")
TEMPLATES_DIR = REPO_ROOT / "assets" / "templates"


class SettingsError(ValueError):
    """A setting from the environment that cannot be used (the message names the variable)."""


def _number(e: Mapping[str, str], name: str, default: str, kind: type[int | float], least: float) -> Any:
    """The setting as a number of ``kind``, at least ``least`` (a negative timeout or a
    NaN time-to-live would be accepted silently and then misbehave)."""
    raw = e.get(name, default)
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if not math.isfinite(value) or value < least:
        raise SettingsError(f"{name} must be a number of at least {least:g}, not {raw!r}")
    return value


EMBEDDED_BY_CLI = "STOREFRONT_REDIS_EMBEDDED_BY_CLI"  # set by the CLI for its workers, not by operators


@dataclass(frozen=True)
class Settings:
    admin_token: str
    redis_url: str | None  # None: start the embedded Redis server under data_dir
    data_dir: Path
    render_deadline_ms: int = 250  # a render answers within this, falling back where needed
    redis_timeout_ms: int = 150  # one Redis round trip on the hot path gives up after this
    snapshot_ttl_s: float = 5.0  # how stale a process may keep a shop's popularity figures
    reload_timeout_ms: int = 2000  # reloading a changed config or catalog (rare, bigger than a page view's reads)
    admin_token_generated: bool = False  # True: nobody set one; it was generated and printed
    templates_dir: Path = TEMPLATES_DIR  # the project's templates; never a merchant upload
    models_dir: Path = REPO_ROOT / "models" / "attributes"  # published attribute models (optional)
    ranker_dir: Path = REPO_ROOT / "models" / "ranker"  # the published product ranker (optional)
    uplift_dir: Path = REPO_ROOT / "models" / "uplift"  # the published uplift model of discount rights (optional)
    models_refresh_s: float = 5.0  # how often the service looks for a newly published model set
    banner_cache_mb: int = 512  # composed banners kept in Redis (least recently used out)
    banner_memory_mb: int = 64  # composed banners kept in each process's memory
    console_session_s: int = 12 * 3600  # a console login lasts this long (then log in again)
    redis_fsync: str = "everysec"  # the embedded Redis's appendfsync (see FSYNC_POLICIES)
    # The rights audit stream's older entries go to day files here (app.store.audit_archive):
    # None is data_dir/rights-log. With several hosts, storage they all share.
    rights_log_dir: Path | None = None
    rights_archive_s: float = 60.0  # how often the stream is moved to disk (0: never; the stream's cap then bounds the log)
    rights_log_days: int = 400  # day files older than this are deleted
    # True when redis_url is the embedded server the `storefront` command started for its
    # workers (it hands them the URL): readiness then reports the Redis as embedded.
    redis_embedded_by_cli: bool = False

    @property
    def rights_archive_dir(self) -> Path:
        return self.rights_log_dir or self.data_dir / "rights-log"

    def __post_init__(self) -> None:
        if self.redis_fsync not in FSYNC_POLICIES:
            raise SettingsError(f"STOREFRONT_REDIS_FSYNC must be one of {', '.join(FSYNC_POLICIES)}, not {self.redis_fsync!r}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        token = e.get("STOREFRONT_ADMIN_TOKEN", "")
        generated = not token
        if generated:
            # Never run with a guessable admin token: make one and let the CLI print it.
            token = secrets.token_urlsafe(24)
        return cls(
            admin_token=token,
            redis_url=e.get("STOREFRONT_REDIS_URL") or None,
            redis_embedded_by_cli=e.get(EMBEDDED_BY_CLI) == "1",
            data_dir=Path(e.get("STOREFRONT_DATA_DIR", "./data")).resolve(),
            render_deadline_ms=_number(e, "STOREFRONT_RENDER_DEADLINE_MS", "250", int, 1),
            redis_timeout_ms=_number(e, "STOREFRONT_REDIS_TIMEOUT_MS", "150", int, 1),
            snapshot_ttl_s=_number(e, "STOREFRONT_SNAPSHOT_TTL_S", "5", float, 0),
            reload_timeout_ms=_number(e, "STOREFRONT_RELOAD_TIMEOUT_MS", "2000", int, 1),
            models_dir=Path(e.get("STOREFRONT_MODELS_DIR", str(REPO_ROOT / "models" / "attributes"))).resolve(),
            ranker_dir=Path(e.get("STOREFRONT_RANKER_DIR", str(REPO_ROOT / "models" / "ranker"))).resolve(),
            uplift_dir=Path(e.get("STOREFRONT_UPLIFT_DIR", str(REPO_ROOT / "models" / "uplift"))).resolve(),
            banner_cache_mb=_number(e, "STOREFRONT_BANNER_CACHE_MB", "512", int, 0),
            banner_memory_mb=_number(e, "STOREFRONT_BANNER_MEMORY_MB", "64", int, 0),
            console_session_s=_number(e, "STOREFRONT_CONSOLE_SESSION_S", str(12 * 3600), int, 60),
            admin_token_generated=generated,
            redis_fsync=e.get("STOREFRONT_REDIS_FSYNC", "everysec"),
            rights_log_dir=Path(e["STOREFRONT_RIGHTS_LOG_DIR"]).resolve() if e.get("STOREFRONT_RIGHTS_LOG_DIR") else None,
            rights_archive_s=_number(e, "STOREFRONT_RIGHTS_ARCHIVE_S", "60", float, 0),
            rights_log_days=_number(e, "STOREFRONT_RIGHTS_LOG_DAYS", "400", int, 1),
        )
