"""Test material for the banner core, all made on the spot: fonts, photos, bombs, goldens."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from PIL import Image, ImageDraw

from app.banners.elements import ElementInfo, decode_image, inspect_element
from app.banners.fonts import FontSource, system_cjk_font
from app.banners.text import is_cjk

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "golden" / "banners"
REGEN = os.environ.get("STOREFRONT_REGEN_GOLDEN") == "1"

requires_cjk_font = pytest.mark.skipif(
    system_cjk_font() is None,
    reason="no system CJK font (apt-get install fonts-noto-cjk, or set STOREFRONT_CJK_FONT)",
)

# ---------------------------------------------------------------------------------------
# fonts

UPM = 1000


def _outline(pen: object, cp: int, advance: int) -> None:
    """A glyph that is a bar whose height depends on the character (so text is legible as a pattern)."""
    top = 300 + (cp % 7) * 70
    pen.moveTo((60, 0))  # type: ignore[attr-defined]
    pen.lineTo((60, top))  # type: ignore[attr-defined]
    pen.lineTo((advance - 60, top))  # type: ignore[attr-defined]
    pen.lineTo((advance - 60, 0))  # type: ignore[attr-defined]
    pen.closePath()  # type: ignore[attr-defined]


def make_font(chars: str, *, cff: bool = False, family: str = "Bars") -> bytes:
    """A real font covering exactly ``chars`` (and space): CJK glyphs 1 em wide, others 0.6 em.

    Built with fontTools, drawn by FreeType like any uploaded font; with ``cff`` it is an
    OpenType/CFF font ("OTTO"), otherwise TrueType.
    """
    cps = sorted({ord(c) for c in chars if not c.isspace()})
    names = [".notdef", "space", *(f"u{cp:04X}" for cp in cps)]
    advances = {".notdef": 500, "space": 250}
    advances.update({f"u{cp:04X}": UPM if is_cjk(chr(cp)) else 600 for cp in cps})
    fb = FontBuilder(UPM, isTTF=not cff)
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({0x20: "space", **{cp: f"u{cp:04X}" for cp in cps}})
    if cff:
        charstrings = {}
        for name in names:
            pen = T2CharStringPen(advances[name], None)
            if name.startswith("u"):
                _outline(pen, int(name[1:], 16), advances[name])
            charstrings[name] = pen.getCharString()
        fb.setupCFF(family, {"FullName": family}, charstrings, {})
    else:
        glyphs = {}
        for name in names:
            pen = TTGlyphPen(None)
            if name.startswith("u"):
                _outline(pen, int(name[1:], 16), advances[name])
            glyphs[name] = pen.glyph()
        fb.setupGlyf(glyphs)
    metrics = {name: (advances[name], 60 if name.startswith("u") else 0) for name in names}
    fb.setupHorizontalMetrics(metrics)
    fb.setupHorizontalHeader(ascent=880, descent=-120)
    fb.setupNameTable({"familyName": family, "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=880, sTypoDescender=-120, usWinAscent=880, usWinDescent=120)
    fb.setupPost()
    buf = io.BytesIO()
    fb.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------
# pictures


def encoded(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def gradient(
    width: int, height: int, left: tuple[int, int, int], right: tuple[int, int, int]
) -> Image.Image:
    t = np.linspace(0.0, 1.0, width)[None, :, None]
    row = np.array(left) * (1 - t) + np.array(right) * t
    return Image.fromarray(np.repeat(row, height, axis=0).round().astype(np.uint8), "RGB")


def product_photo(size: int = 600, seed: int = 7) -> Image.Image:
    """A product shot: a blue rounded body with a white button, on a grainy off-white backdrop."""
    rng = np.random.default_rng(seed)
    backdrop = np.clip(rng.normal(246, 2.5, (size, size, 3)), 0, 255).astype(np.uint8)
    im = Image.fromarray(backdrop, "RGB")
    draw = ImageDraw.Draw(im)
    s = size / 600
    draw.rounded_rectangle((150 * s, 90 * s, 450 * s, 520 * s), radius=60 * s, fill=(38, 104, 186))
    draw.ellipse((275 * s, 280 * s, 325 * s, 330 * s), fill=(250, 250, 250))  # the white button
    return im


def five_layers(background: str) -> list[dict[str, object]]:
    """The issue's benchmark banner for 1200×400: background, cut-out product, a title and a
    subtitle that shrink to fit, a price badge (the golden tests draw it too, with more)."""
    return [
        {"id": "bg", "type": "image", "element": background, "box": [0, 0, 1200, 400]},
        {"id": "product", "type": "product_image", "box": [800, 40, 360, 320], "cutout": True},
        {"id": "title", "type": "text", "text": "{crowd_name}专享 · {right}", "size": [24, 64], "box": [60, 50, 680, 170]},
        {
            "id": "sub",
            "type": "text",
            "text": "{product_title} 限时到手价，错过再等一年",
            "size": [16, 28],
            "color": "#666666",
            "max_lines": 1,
            "box": [60, 240, 560, 44],
        },
        {
            "id": "badge",
            "type": "shape",
            "shape": "badge",
            "box": [640, 250, 120, 120],
            "fill": "#e4393c",
            "text": "¥{product_price}",
            "size": [14, 36],
        },
    ]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of width×height black pixels: tens of KB that inflate to
    width×height bytes once decoded (Pillow holds a 1-bit image at one byte per pixel)."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    rows_per_piece = max(1, (1 << 20) // len(row))
    piece = row * rows_per_piece
    parts = [packer.compress(piece) for _ in range(height // rows_per_piece)]
    parts.append(packer.compress(row * (height % rows_per_piece)))
    parts.append(packer.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------------------------------
# a shop's elements


class Elements:
    """Uploaded elements by id, with the loaders compose() takes."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.info: dict[str, ElementInfo] = {}

    def add(self, data: bytes) -> str:
        info = inspect_element(data)
        self.data[info.id] = data
        self.info[info.id] = info
        return info.id

    def add_image(self, im: Image.Image) -> str:
        return self.add(encoded(im, "PNG"))

    def load_image(self, element_id: str) -> Image.Image:
        return decode_image(self.data[element_id])

    def load_font(self, element_id: str | None) -> FontSource | None:
        if element_id is None:
            return system_cjk_font()
        return self.data[element_id]


# ---------------------------------------------------------------------------------------
# goldens


def assert_golden(image: Image.Image, name: str) -> None:
    """``image`` matches tests/golden/banners/<name>.png within a tolerance.

    Tolerated: a mean absolute difference under 2 levels and under 1 % of pixels off by
    more than 40 (FreeType and zlib versions move antialiased edges a little).
    STOREFRONT_REGEN_GOLDEN=1 rewrites the goldens instead.
    """
    path = GOLDEN_DIR / f"{name}.png"
    if REGEN:
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        image.save(path, optimize=True)
        return
    assert path.exists(), f"no golden {path}; run with STOREFRONT_REGEN_GOLDEN=1 to create it"
    with Image.open(path) as golden:
        expected = golden.convert(image.mode)
    assert expected.size == image.size, f"{name}: size {image.size} != golden {expected.size}"
    a = np.asarray(image, dtype=np.int16)
    b = np.asarray(expected, dtype=np.int16)
    diff = np.abs(a - b)
    per_pixel = diff.max(axis=-1) if diff.ndim == 3 else diff
    mean, off = float(diff.mean()), float((per_pixel > 40).mean())
    if mean >= 2 or off >= 0.01:
        actual = Path(os.environ.get("TMPDIR", "/tmp")) / f"banner-{name}.actual.png"
        image.save(actual)
        pytest.fail(
            f"{name}: mean abs diff {mean:.2f}, {off:.2%} pixels off by >40; actual saved to {actual}"
        )
