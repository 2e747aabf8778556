"""A banner's identity and bytes: the digest of everything that shapes it, and encoding.

A banner is drawn once and served many times: the serving layer keys stored banners by
:func:`banner_digest`, which covers the canonical template JSON, the crowd, the variable
values, the element ids (content addresses, so they stand for the bytes of pictures and
fonts), the size, the format and the renderer (this code's version, Pillow, FreeType
and the system font file).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from typing import Literal

import PIL
from PIL import Image, features

from app.banners.fonts import system_cjk_font
from app.banners.template import BannerTemplate

RENDER_VERSION = "1"  # bump when a change to this package changes the pixels of the same inputs

OutputFormat = Literal["webp", "png", "jpg"]


def canonical_json(template: BannerTemplate) -> str:
    """The template as canonical JSON (sorted keys, no spaces): equal templates, equal text."""
    return json.dumps(
        template.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )


def renderer_fingerprint() -> str:
    """What besides the inputs shapes the pixels: this code, Pillow, FreeType, the system font."""
    font = system_cjk_font()
    font_id = "none"
    if font is not None:
        st = font.stat()
        font_id = f"{font}:{st.st_size}:{st.st_mtime_ns}"
    return f"banners/{RENDER_VERSION} pillow/{PIL.__version__} freetype/{features.version('freetype2')} font/{font_id}"


def banner_digest(
    template_json_canonical: str,
    crowd_id: str | None,
    variables: Mapping[str, str],
    element_ids: Iterable[str],
    size: str | None,
    fmt: str,
    *,
    renderer: str | None = None,
) -> str:
    """SHA-256 (hex) of everything that shapes a banner's bytes: equal digest, equal banner.

    Element ids are content addresses, so they stand for the pictures' and fonts' bytes.
    ``renderer`` defaults to :func:`renderer_fingerprint`.
    """
    payload = {
        "renderer": renderer if renderer is not None else renderer_fingerprint(),
        "template": template_json_canonical,
        "crowd": crowd_id,
        "variables": {str(k): str(v) for k, v in variables.items()},
        "elements": sorted(set(element_ids)),
        "size": size,
        "format": fmt,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def encode(image: Image.Image, fmt: OutputFormat) -> bytes:
    """The banner as WebP, PNG or JPEG bytes."""
    buf = io.BytesIO()
    if fmt == "webp":
        # method 2 of 0-6: ~2× faster than the default 4 for ~5 % more bytes.
        image.save(buf, "WEBP", quality=88, method=2)
    elif fmt == "png":
        image.save(buf, "PNG", compress_level=6)
    elif fmt == "jpg":
        if image.mode != "RGB":  # JPEG has no alpha: flatten onto white
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A") if "A" in image.getbands() else None)
            image = flat
        # 4:4:4 chroma: red text on white keeps sharp edges (4:2:0 smears them).
        image.save(buf, "JPEG", quality=88, subsampling=0)
    else:
        raise ValueError(f"unknown banner format {fmt!r}; use webp, png or jpg")
    return buf.getvalue()
