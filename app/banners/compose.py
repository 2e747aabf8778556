"""Drawing a banner: one template, one crowd, one output size -> one picture.

:func:`compose` draws the visible layers in order on the canvas: pictures fitted into
their box (``contain``: whole picture, ``cover``: box filled, cropped by ``align``),
product photos (optionally cut out), text fitted by :mod:`app.banners.text`, shapes
(supersampled 4× so their edges are smooth) with optional text inside.

Composition must be fast (a 1200×400 banner with five layers and CJK text: a few ms once
warm), so what is expensive and does not depend on the visitor is cached per process,
keyed by content-addressed element ids: font sources and faces per size (opening a face
of the 20 MB Noto CJK collection, and measuring its glyphs), character maps, decoded
pictures, pictures fitted (and cut out) to a box, shape masks. ``clear_caches`` forgets
them all. Uploaded fonts are written to a file once (:func:`app.banners.fonts.font_file`)
so that FreeType maps them instead of Pillow copying them into every face.

Text is laid out with Pillow's basic layout (no HarfBuzz shaping): the same pixels with
or without libraqm, right for CJK and Latin, wrong for scripts that need shaping (Arabic,
Devanagari). Characters of variable values that the layer's font lacks switch the layer
to the system CJK font when that has them all; characters no font has are dropped
rather than drawn as empty boxes.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from app.banners.cache import LruCache
from app.banners.fonts import (
    FontSource,
    font_codepoints,
    font_file,
    preferred_face,
    system_cjk_font,
)
from app.banners.output import (
    RENDER_VERSION,
    OutputFormat,
    banner_digest,
    canonical_json,
    encode,
    renderer_fingerprint,
)
from app.banners.pictures import ImageLoader, clear_picture_caches, fit_picture, paste_picture, put
from app.banners.problems import BannerError
from app.banners.template import (
    BannerTemplate,
    ImageLayer,
    Layout,
    ProductImageLayer,
    ShapeLayer,
    TextLayer,
    fill,
    layout,
    placeholders,
)
from app.banners.text import Face, FaceAt, FittedText, fit_text

FontLoader = Callable[[str | None], FontSource | None]  # None asks for the system font

# Re-exported: the whole banner API is one import away.
__all__ = [
    "RENDER_VERSION",
    "FontLoader",
    "ImageLoader",
    "OutputFormat",
    "ProductArt",
    "banner_digest",
    "banner_variables",
    "canonical_json",
    "clear_caches",
    "compose",
    "elements_used",
    "encode",
    "fit_picture",
    "renderer_fingerprint",
    "system_font_loader",
    "variables_used",
    "warm_up",
]


@dataclass(frozen=True)
class ProductArt:
    """What a banner may show of a product: its title and price (variables) and its photo."""

    title: str
    price: str | float
    image_element_id: str | None = None


def banner_variables(
    variables: Mapping[str, str], products: Sequence[ProductArt]
) -> dict[str, str]:
    """``variables`` with ``product_title``/``product_price`` of the first product filled in
    where absent (pass the result to both :func:`compose` and :func:`banner_digest`)."""
    out = dict(variables)
    if products:
        first = products[0]
        out.setdefault("product_title", first.title)
        price = first.price
        if isinstance(price, float | int):
            price = f"{price:.0f}" if float(price).is_integer() else f"{price:.2f}"
        out.setdefault("product_price", str(price))
    return out


def system_font_loader(font_id: str | None) -> FontSource | None:
    """A font loader knowing only the system CJK font (None when the machine has none)."""
    if font_id is None:
        return system_cjk_font()
    raise LookupError(font_id)


# ---------------------------------------------------------------------------------------
# caches (keys are content-addressed, so only memory bounds them)

_SYSTEM = "@system"
_SOURCES: LruCache[str | None] = LruCache(max_cost=1024)  # font key -> file path
_FACES: LruCache[Face] = LruCache(max_cost=192)  # a face of a CJK font holds ~1 MB of FreeType's
_MASKS: LruCache[Image.Image] = LruCache(max_cost=64 * 1024 * 1024)
_COVERAGE: LruCache[frozenset[int]] = LruCache(max_cost=32)
_ASCII = frozenset(range(0x20, 0x7F))  # what Pillow's built-in font covers, for certain


def clear_caches() -> None:
    for cache in (_SOURCES, _FACES, _MASKS, _COVERAGE):
        cache.clear()
    clear_picture_caches()


def _source(font_id: str | None, load_font: FontLoader) -> str | None:
    """The font's file (uploaded bytes are written to one: see fonts.font_file), or None."""

    def load() -> str | None:
        source = load_font(font_id)
        if source is None:
            return None
        return os.fspath(font_file(source) if isinstance(source, bytes) else source)

    return _SOURCES.get_or_make(font_id or _SYSTEM, load)


def _face_index(font_id: str | None, source: str | None) -> int:
    if font_id is None and source is not None:
        return preferred_face(source)  # the SC face of Noto Sans CJK
    return 0


def _face_at(font_id: str | None, load_font: FontLoader) -> FaceAt:
    def make(size: int) -> Face:
        source = _source(font_id, load_font)
        if source is None:
            return Face(ImageFont.load_default(size), size)
        index = _face_index(font_id, source)
        font = ImageFont.truetype(source, size, index=index, layout_engine=ImageFont.Layout.BASIC)
        return Face(font, size)

    return lambda size: _FACES.get_or_make((font_id or _SYSTEM, size), lambda: make(size))


def _coverage(font_id: str | None, load_font: FontLoader) -> frozenset[int]:
    def read() -> frozenset[int]:
        source = _source(font_id, load_font)
        if source is None:
            return _ASCII
        return font_codepoints(source, _face_index(font_id, source), key=font_id)

    # Held here too (the fonts module's cache is keyed by file fingerprint, a stat away).
    return _COVERAGE.get_or_make(font_id or _SYSTEM, read)


@functools.lru_cache(maxsize=256)
def _rgba(color: str) -> tuple[int, int, int, int]:
    hexa = color.lstrip("#")
    if len(hexa) == 3:
        hexa = "".join(c * 2 for c in hexa)
    if len(hexa) == 6:
        hexa += "ff"
    return tuple(int(hexa[i : i + 2], 16) for i in range(0, 8, 2))  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------
# text and shapes


def _lettering(font_id: str | None, text: str, load_font: FontLoader) -> tuple[str | None, str]:
    """The font to draw ``text`` with, and the text without characters no font has."""
    covered = _coverage(font_id, load_font)
    missing = {c for c in text if not c.isspace() and ord(c) not in covered}
    if missing and font_id is not None:
        system = _coverage(None, load_font)
        if all(ord(c) in system for c in missing):
            return None, text
    if missing:
        text = "".join(c for c in text if c not in missing)
    return font_id, text


def _draw_text(
    canvas: Image.Image,
    box: tuple[int, int, int, int],
    fitted: FittedText,
    color: str,
    align: str,
    valign: str,
) -> None:
    x, y, w, h = box
    rgba = _rgba(color)
    n = len(fitted.lines)
    block = n * fitted.line_height
    top = {"top": 0.0, "middle": (h - block) / 2, "bottom": h - block}[valign]
    ax, anchor = {"left": (0.0, "lm"), "center": (w / 2, "mm"), "right": (float(w), "rm")}[align]
    if canvas.mode == "RGB" and rgba[3] == 255:
        # Opaque ink on an opaque canvas: draw straight on it (the glyphs' edges blend).
        draw, ox, oy = ImageDraw.Draw(canvas), 0, 0
        layer = None
    else:
        # Otherwise on a transparent layer a little larger than the box (accents and
        # descenders may stick out of a tight line height), composited after: drawing a
        # translucent colour, or onto a transparent canvas, would not blend.
        margin = math.ceil(fitted.face.size * 0.5)
        ox, oy = max(0, x - margin), max(0, y - margin)
        ex, ey = min(canvas.width, x + w + margin), min(canvas.height, y + h + margin)
        layer = Image.new("RGBA", (ex - ox, ey - oy), rgba[:3] + (0,))
        draw = ImageDraw.Draw(layer)
    for i, line in enumerate(fitted.lines):
        at = (x - ox + ax, y - oy + top + (i + 0.5) * fitted.line_height)
        draw.text(at, line, font=fitted.face.font, fill=rgba, anchor=anchor)
    if layer is not None:
        put(canvas, layer, (ox, oy))


def _text_layer(
    canvas: Image.Image,
    layer: TextLayer | ShapeLayer,
    text: str,
    box: tuple[int, int, int, int],
    align: str,
    valign: str,
    load_font: FontLoader,
) -> None:
    font_id, text = _lettering(layer.font, text, load_font)
    fitted = fit_text(
        text,
        box[2],
        box[3],
        layer.size,
        layer.max_lines,
        layer.line_height,
        _face_at(font_id, load_font),
    )
    if fitted is not None:
        _draw_text(canvas, box, fitted, layer.color, align, valign)


_SUPERSAMPLE = 4


def _shape_mask(shape: str, w: int, h: int, radius: int) -> Image.Image:
    def make() -> Image.Image:
        s = _SUPERSAMPLE
        big = Image.new("L", (w * s, h * s), 0)
        draw = ImageDraw.Draw(big)
        if shape == "badge":
            draw.ellipse((0, 0, w * s - 1, h * s - 1), fill=255)
        else:
            r = min(radius, w // 2, h // 2) * s
            draw.rounded_rectangle((0, 0, w * s - 1, h * s - 1), radius=r, fill=255)
        return big.reduce(s)

    return _MASKS.get_or_make((shape, w, h, radius), make, lambda m: m.width * m.height)


def _inner_box(layer: ShapeLayer) -> tuple[int, int, int, int]:
    """Where a shape's text goes: the rectangle inscribed in the ellipse, or inside the corners."""
    x, y, w, h = layer.box
    if layer.shape == "badge":
        iw, ih = w / math.sqrt(2), h / math.sqrt(2)
    else:
        pad = min(layer.radius, w // 2, h // 2) * (1 - 1 / math.sqrt(2)) + min(w, h) * 0.08
        iw, ih = w - 2 * pad, h - 2 * pad
    iw, ih = max(1, math.floor(iw)), max(1, math.floor(ih))
    return x + (w - iw) // 2, y + (h - ih) // 2, iw, ih


def _shape_layer(canvas: Image.Image, layer: ShapeLayer, text: str, load_font: FontLoader) -> None:
    x, y, w, h = layer.box
    rgba = _rgba(layer.fill)
    mask = _shape_mask(layer.shape, w, h, layer.radius)
    if rgba[3] != 255:
        mask = mask.point(lambda v: v * rgba[3] // 255)
    if canvas.mode == "RGB":
        canvas.paste(rgba[:3], (x, y, x + w, y + h), mask)  # a solid colour through the mask
    else:
        shape = Image.new("RGBA", (w, h), rgba[:3] + (0,))
        shape.putalpha(mask)
        canvas.alpha_composite(shape, (x, y))
    if text:
        _text_layer(canvas, layer, text, _inner_box(layer), "center", "middle", load_font)


# ---------------------------------------------------------------------------------------
# the banner


def compose(
    template: BannerTemplate,
    *,
    crowd_id: str | None,
    variables: Mapping[str, str],
    products: Sequence[ProductArt],
    load_image: ImageLoader,
    load_font: FontLoader = system_font_loader,
    size: str | None = None,
) -> Image.Image:
    """The banner for ``crowd_id`` (its variant, if any) in ``size`` (None: the canvas).

    RGB when the background is opaque, RGBA otherwise. A product_image layer whose
    product is missing or has no photo, and a picture ``load_image`` raises LookupError
    for, are skipped. Raises :class:`BannerError` 404 ``unknown_size``.
    """
    try:
        plan = layout(template, crowd_id, size)
    except KeyError:
        names = ", ".join(s.name for s in template.sizes) or "none"
        raise BannerError(
            404, "unknown_size", f"The banner has no size {size!r}; sizes: {names}."
        ) from None
    background = _rgba(plan.background)
    opaque = background[3] == 255
    # An opaque banner is drawn in RGB throughout: cheaper compositing, no conversion.
    canvas = Image.new(
        "RGB" if opaque else "RGBA",
        (plan.width, plan.height),
        background[:3] if opaque else background,
    )
    for layer in plan.layers:
        if isinstance(layer, ImageLayer):
            paste_picture(canvas, layer.element, load_image, layer.box, layer.fit, layer.align)
        elif isinstance(layer, ProductImageLayer):
            product = products[layer.index] if layer.index < len(products) else None
            if product is not None and product.image_element_id:
                paste_picture(
                    canvas,
                    product.image_element_id,
                    load_image,
                    layer.box,
                    layer.fit,
                    layer.align,
                    layer.cutout,
                )
        elif isinstance(layer, TextLayer):
            _text_layer(
                canvas,
                layer,
                fill(layer.text, variables),
                layer.box,
                layer.align,
                layer.valign,
                load_font,
            )
        elif isinstance(layer, ShapeLayer):
            _shape_layer(canvas, layer, fill(layer.text or "", variables), load_font)
    return canvas


def warm_up(load_font: FontLoader = system_font_loader) -> None:
    """Read the system font's character map now (~150 ms) rather than in the first banner."""
    _coverage(None, load_font)


# ---------------------------------------------------------------------------------------
# what a banner depends on


def elements_used(plan: Layout, products: Sequence[ProductArt]) -> list[str]:
    """The element ids whose bytes shape a banner laid out as ``plan`` (pictures, fonts,
    product photos). Takes the layout, not the template: a render holds it ready."""
    used: set[str] = set()
    for layer in plan.layers:
        if isinstance(layer, ImageLayer):
            used.add(layer.element)
        elif isinstance(layer, ProductImageLayer):
            if layer.index < len(products) and products[layer.index].image_element_id:
                used.add(products[layer.index].image_element_id)  # type: ignore[arg-type]
        elif layer.font is not None:
            used.add(layer.font)
    return sorted(used)


def variables_used(plan: Layout) -> set[str]:
    """The variables a banner laid out as ``plan`` shows (the only ones worth putting in its digest)."""
    names: set[str] = set()
    for layer in plan.layers:
        if isinstance(layer, TextLayer | ShapeLayer) and layer.text:
            names.update(placeholders(layer.text))
    return names
