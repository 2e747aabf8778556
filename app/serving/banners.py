"""Banners at the edge: URLs in renders, composition off the event loop, a two-level cache.

A render never composes. For a hero block that names a banner template it computes
the banner's digest (everything that shapes the pixels: template, crowd variant,
variables, element ids, size, format, renderer) and answers a URL:

    /banners/{digest}.{fmt}?spec=<base64url JSON>&sig=<HMAC>

The spec says how to compose the picture again (shop, banner, template hash, crowd,
size, variables, products); ``sig`` is an HMAC of the digest with this deployment's
secret (in Redis), so nobody else can make the service compose arbitrary pictures.

A fetch looks in this process's LRU (bounded by bytes), then in Redis (a key per
digest, bounded by bytes too, least recently used out: see store/pictures.py), and
only then composes, in a worker thread, after
checking the signature and that the spec still produces the digest. Saving a template
composes its variants for every size ahead of time (in the background), so the first
visitor of a crowd finds its banner made.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from app.banners.cache import LruCache
from app.banners.compose import (
    ProductArt,
    banner_digest,
    banner_variables,
    canonical_json,
    compose,
    elements_used,
    encode,
    renderer_fingerprint,
    variables_used,
)
from app.banners.elements import decode_image
from app.banners.fonts import font_file, system_cjk_font
from app.banners.problems import BannerError
from app.banners.template import BannerTemplate, Layout, layout
from app.store import configs as config_store
from app.store import keys
from app.store import pictures as picture_store
from app.store.elements import element_bytes

log = logging.getLogger("storefront.banners")

FORMATS = ("webp", "png", "jpg")
MEDIA_TYPES = {"webp": "image/webp", "png": "image/png", "jpg": "image/jpeg"}
MAX_SPEC_CHARS = 4000


@dataclass(frozen=True)
class CompiledBanner:
    """A stored template, parsed once per configuration version."""

    banner_id: str
    template: BannerTemplate
    canonical: str
    template_hash: str  # what a URL carries to find this exact template again
    # (crowd, size) -> its layout: a render needs it for every banner URL, and laying out
    # validates every overridden layer again, so it is done once per template and variant
    _plans: dict[tuple[str | None, str | None], Layout] = field(default_factory=dict, compare=False, repr=False)

    def plan(self, crowd: str | None, size: str | None) -> Layout:
        found = self._plans.get((crowd, size))
        if found is None:
            found = self._plans[(crowd, size)] = layout(self.template, crowd, size)
        return found

    @classmethod
    def from_body(cls, banner_id: str, body: Mapping[str, Any]) -> CompiledBanner:
        template = BannerTemplate.model_validate(body)
        canonical = canonical_json(template)
        return cls(banner_id, template, canonical, hashlib.sha256(canonical.encode()).hexdigest()[:16])


@dataclass(frozen=True)
class BannerSpec:
    """Everything needed to compose one picture again."""

    shop: str
    banner: str
    template_hash: str
    crowd: str | None
    size: str | None
    fmt: str
    variables: Mapping[str, str]
    products: tuple[ProductArt, ...] = ()

    def encode(self) -> str:
        body = {
            "s": self.shop, "b": self.banner, "t": self.template_hash, "c": self.crowd, "z": self.size,
            "f": self.fmt, "v": dict(self.variables), "p": [[p.title, str(p.price), p.image_element_id] for p in self.products],
        }
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> BannerSpec:
        if len(text) > MAX_SPEC_CHARS:
            raise ValueError("spec too long")
        d = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return cls(
            shop=str(d["s"]), banner=str(d["b"]), template_hash=str(d["t"]), crowd=d.get("c"), size=d.get("z"),
            fmt=str(d["f"]), variables={str(k): str(v) for k, v in d.get("v", {}).items()},
            products=tuple(ProductArt(str(t), str(p), i) for t, p, i in d.get("p", [])),
        )


def digest_of(banner: CompiledBanner, spec: BannerSpec, renderer: str) -> str:
    ids = elements_used(banner.plan(spec.crowd, spec.size), spec.products)
    return banner_digest(banner.canonical, spec.crowd, spec.variables, ids, spec.size, spec.fmt, renderer=renderer)


def spec_for(
    shop_id: str,
    banner: CompiledBanner,
    crowd: str | None,
    variables: Mapping[str, str],
    products: Sequence[ProductArt],
    size: str | None,
    fmt: str,
) -> BannerSpec:
    """Only what the picture uses goes in: a variable no text shows must not split the cache."""
    crowd = crowd if crowd in banner.template.variants else None
    full = banner_variables(variables, products)
    used = variables_used(banner.plan(crowd, size))
    needs_products = any(getattr(layer, "type", "") == "product_image" for layer in banner.template.layers)
    kept = tuple(products[:20]) if needs_products else ()
    return BannerSpec(shop_id, banner.banner_id, banner.template_hash, crowd, size, fmt, {k: v for k, v in sorted(full.items()) if k in used}, kept)


@dataclass
class BannerService:
    redis: aioredis.Redis  # decoded replies (config)
    binary: aioredis.Redis  # bytes replies (pictures)
    memory_bytes: int = 64 * 1024 * 1024  # this process's cache of encoded pictures
    redis_bytes: int = picture_store.DEFAULT_BUDGET_BYTES  # the shared cache in Redis
    _cache: LruCache[bytes] = field(init=False)
    _secret: bytes | None = None
    _renderer: str | None = None
    _making: dict[str, asyncio.Future[bytes]] = field(default_factory=dict)
    # spec -> URL: a crowd's visitors mostly share one picture, and hashing the template
    # for its digest on every render cost a third of a millisecond per banner
    _urls: LruCache[str] = field(init=False)

    def __post_init__(self) -> None:
        self._cache = LruCache(self.memory_bytes)
        self._urls = LruCache(20_000)

    # --- identity ---------------------------------------------------------------------

    @property
    def renderer(self) -> str:
        if self._renderer is None:
            self._renderer = renderer_fingerprint()
        return self._renderer

    async def start(self) -> None:
        """Read (or create) the URL-signing secret; call once before serving."""
        await self.redis.set(keys.BANNER_SECRET, secrets.token_hex(32), nx=True)
        self._secret = bytes.fromhex(await self.redis.get(keys.BANNER_SECRET))

    def sign(self, digest: str) -> str:
        if self._secret is None:
            raise RuntimeError("BannerService.start() was not awaited")
        return hmac.new(self._secret, digest.encode(), hashlib.sha256).hexdigest()[:24]

    def url(self, banner: CompiledBanner, spec: BannerSpec) -> str:
        key = (spec.shop, spec.banner, spec.template_hash, spec.crowd, spec.size, spec.fmt, tuple(spec.variables.items()), spec.products)

        def make() -> str:
            digest = digest_of(banner, spec, self.renderer)
            return f"/banners/{digest}.{spec.fmt}?spec={spec.encode()}&sig={self.sign(digest)}"

        return self._urls.get_or_make(key, make)

    # --- fetching ---------------------------------------------------------------------

    def cached(self, digest: str, fmt: str) -> bytes | None:
        """The in-process hit path: no I/O at all."""
        return self._cache.peek(f"{digest}.{fmt}")

    async def fetch(self, digest: str, fmt: str, spec_text: str | None, sig: str | None) -> bytes:
        key = f"{digest}.{fmt}"
        hit = self._cache.peek(key)
        if hit is not None:
            return hit
        stored = await picture_store.get_picture(self.binary, digest, fmt)
        if stored is not None:
            self._cache.put(key, stored, len(stored))
            return stored
        if not spec_text or not sig or not hmac.compare_digest(sig, self.sign(digest)):
            raise BannerError(404, "banner_not_found", "No such banner here (the link is incomplete or was not made by this service).")
        try:
            spec = BannerSpec.decode(spec_text)
        except (ValueError, KeyError, TypeError):  # bad base64, JSON or shape
            raise BannerError(404, "banner_not_found", "The banner link is damaged.") from None
        if spec.fmt != fmt:
            raise BannerError(404, "banner_not_found", "The banner link is damaged.")
        # Two fetches of the same missing banner compose it once.
        pending = self._making.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._making[key] = future
        try:
            data = await self._make(spec, digest)
            future.set_result(data)
            return data
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            self._making.pop(key, None)

    async def _template(self, spec: BannerSpec) -> CompiledBanner:
        body = await config_store.get_item(self.redis, spec.shop, "banner", spec.banner)
        if body is not None:
            current = CompiledBanner.from_body(spec.banner, body)
            if current.template_hash == spec.template_hash:
                return current
        # An older version of the template: a page cached by a browser still links to it.
        for record in reversed(await config_store.history(self.redis, spec.shop, "banner", spec.banner)):
            if record.body is not None:
                old = CompiledBanner.from_body(spec.banner, record.body)
                if old.template_hash == spec.template_hash:
                    return old
        raise BannerError(404, "banner_not_found", "This banner's template no longer exists.")

    async def _make(self, spec: BannerSpec, digest: str) -> bytes:
        banner = await self._template(spec)
        if digest_of(banner, spec, self.renderer) != digest:
            raise BannerError(404, "banner_not_found", "The banner link does not match its template.")
        data = await self.compose_bytes(spec.shop, banner, spec)
        await self._keep(digest, spec.fmt, data)
        return data

    async def _keep(self, digest: str, fmt: str, data: bytes) -> None:
        self._cache.put(f"{digest}.{fmt}", data, len(data))
        evicted = await picture_store.put_picture(self.binary, digest, fmt, data, budget_bytes=self.redis_bytes)
        if evicted:
            log.info("banner cache: %d older pictures evicted to stay within %d MB", evicted, self.redis_bytes >> 20)

    # --- composing --------------------------------------------------------------------

    async def compose_bytes(self, shop_id: str, banner: CompiledBanner, spec: BannerSpec) -> bytes:
        """Compose and encode in a worker thread (element bytes read first, in one round trip)."""
        ids = elements_used(banner.plan(spec.crowd, spec.size), spec.products)
        blobs = await element_bytes(self.binary, shop_id, ids)
        return await asyncio.to_thread(_compose_encode, banner.template, spec, blobs)

    async def precompose(self, shop_id: str, banner: CompiledBanner, crowd_names: Mapping[str, str], variables: Mapping[str, str], products: Sequence[ProductArt], fmt: str = "webp") -> int:
        """Compose the base and every crowd variant in every size; the number made."""
        made = 0
        sizes: list[str | None] = [None, *(s.name for s in banner.template.sizes)]
        for crowd in [None, *banner.template.variants]:
            for size in sizes:
                v = {**variables, "crowd_name": crowd_names.get(crowd or "", "")}
                spec = spec_for(shop_id, banner, crowd, v, products, size, fmt)
                digest = digest_of(banner, spec, self.renderer)
                if await picture_store.has_picture(self.binary, digest, fmt):
                    continue
                await self._keep(digest, fmt, await self.compose_bytes(shop_id, banner, spec))
                made += 1
        return made


def element_loaders(blobs: Mapping[str, bytes]) -> tuple[Any, Any]:
    """Loaders over element bytes already read from Redis (no I/O inside composition)."""

    def load_image(element_id: str) -> Any:
        data = blobs.get(element_id)
        if data is None:
            raise LookupError(element_id)
        return decode_image(data)

    def load_font(font_id: str | None) -> Any:
        if font_id is None:
            return system_cjk_font()
        data = blobs.get(font_id)
        if data is None:
            raise LookupError(font_id)
        return font_file(data)

    return load_image, load_font


def _compose_encode(template: BannerTemplate, spec: BannerSpec, blobs: Mapping[str, bytes]) -> bytes:
    load_image, load_font = element_loaders(blobs)
    image = compose(template, crowd_id=spec.crowd, variables=spec.variables, products=spec.products, load_image=load_image, load_font=load_font, size=spec.size)
    return encode(image, spec.fmt)  # type: ignore[arg-type]
