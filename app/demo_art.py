"""The demo shop's banner: its pictures, drawn with Pillow at seed time, and its template.

A newcomer's demo has no designer either: the backdrops and product shots are drawn
here (deterministically, so seeding twice stores the same content-addressed elements),
the product shots go through the same cut-out a merchant's upload does, and one
template with a variant per crowd gives every crowd of the home page its own banner.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from app.banners.cutout import cut_out

BANNER_ID = "hero_crowds"
WHITE_BACKDROP = (250, 250, 248)


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")  # (optimize=True would take 0.4 s per backdrop at every seeding)
    return buf.getvalue()


def backdrop(width: int, height: int, left: str, right: str, glow: str, seed: int) -> Image.Image:
    """A horizontal colour wash with a few soft out-of-focus discs (a photo studio's bokeh)."""
    wash = ImageOps.colorize(Image.linear_gradient("L").rotate(90).resize((width, height)), left, right)
    # linear_gradient runs top (black) to bottom (white); rotated, it runs right to left
    wash = ImageOps.mirror(wash).convert("RGBA")
    discs = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(discs)
    colour = ImageOps.colorize(Image.new("L", (1, 1), 255), "black", glow).getpixel((0, 0))
    for k in range(7):  # positions from a small linear congruence: the same every run
        x = (seed * 131 + k * 389) % width
        y = (seed * 71 + k * 157) % height
        r = 30 + (seed * 17 + k * 53) % 90
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(*colour, 70))
    return Image.alpha_composite(wash, discs.filter(ImageFilter.GaussianBlur(18))).convert("RGB")


def tea_tin(size: int = 600) -> Image.Image:
    """A red tea tin with a gold band, shot on a white backdrop."""
    im = Image.new("RGB", (size, size), WHITE_BACKDROP)
    d = ImageDraw.Draw(im)
    s = size / 600
    d.rounded_rectangle((170 * s, 130 * s, 430 * s, 540 * s), radius=26 * s, fill=(178, 34, 40))
    d.rounded_rectangle((160 * s, 90 * s, 440 * s, 170 * s), radius=20 * s, fill=(122, 20, 26))  # lid
    d.rectangle((170 * s, 300 * s, 430 * s, 340 * s), fill=(212, 170, 72))  # band
    d.ellipse((235 * s, 200 * s, 365 * s, 290 * s), fill=(246, 226, 180))  # label
    d.ellipse((270 * s, 225 * s, 330 * s, 265 * s), fill=(150, 110, 40))
    return im


def gift_box(size: int = 600) -> Image.Image:
    """A gift box with a ribbon and a bow, shot on a white backdrop."""
    im = Image.new("RGB", (size, size), WHITE_BACKDROP)
    d = ImageDraw.Draw(im)
    s = size / 600
    d.rectangle((130 * s, 250 * s, 470 * s, 540 * s), fill=(226, 58, 90))  # box
    d.rectangle((110 * s, 200 * s, 490 * s, 260 * s), fill=(196, 40, 72))  # lid
    d.rectangle((275 * s, 200 * s, 325 * s, 540 * s), fill=(250, 206, 90))  # ribbon
    d.ellipse((170 * s, 110 * s, 300 * s, 210 * s), outline=(250, 206, 90), width=round(22 * s))  # bow
    d.ellipse((300 * s, 110 * s, 430 * s, 210 * s), outline=(250, 206, 90), width=round(22 * s))
    return im


def demo_pictures() -> dict[str, bytes]:
    """The demo's picture elements as PNG bytes, by role."""
    return {
        "bg_warm": _png(backdrop(1200, 400, "#fff1e0", "#ffc9a8", "#ffffff", 3)),
        "bg_night": _png(backdrop(1200, 400, "#1d2340", "#4b2d5e", "#8fa8ff", 5)),
        "bg_party": _png(backdrop(1200, 400, "#ffe3ec", "#ffb3c7", "#fff6c0", 8)),
        "bg_gold": _png(backdrop(1200, 400, "#2b2118", "#6b4e24", "#f3d27a", 13)),
        "tin": _png(cut_out(tea_tin(), tolerance=24, feather=1.5)),
        "gift": _png(cut_out(gift_box(), tolerance=24, feather=1.5)),
    }


def banner_template(el: Mapping[str, str]) -> dict[str, Any]:
    """The home page's hero banner: a base design and a variant per crowd.

    ``el`` maps the roles of :func:`demo_pictures` to their element ids. Texts use the
    render's variables: ``{right}`` is the coupon the page offers this visitor.
    """
    return {
        "canvas": {"width": 1200, "height": 400, "background": "#fff7f0"},
        "sizes": [
            {
                "name": "mobile",
                "width": 750,
                "height": 500,
                "layers": {
                    "panel": {"box": [30, 30, 690, 250]},
                    "title": {"box": [60, 50, 630, 130]},
                    "sub": {"box": [60, 190, 630, 60]},
                    "art": {"box": [390, 280, 330, 210]},
                    "badge": {"box": [70, 320, 140, 140]},
                },
            }
        ],
        "layers": [
            {"id": "bg", "type": "image", "element": el["bg_warm"], "box": [0, 0, 1200, 400], "fit": "cover"},
            {"id": "art", "type": "image", "element": el["tin"], "box": [850, 30, 320, 340], "fit": "contain"},
            {"id": "panel", "type": "shape", "shape": "rounded_rect", "box": [50, 60, 760, 280], "fill": "#ffffffb8", "radius": 28},
            {"id": "title", "type": "text", "text": "冬季新品上市 · 暖冬好茶", "size": [30, 60], "color": "#3a2418", "max_lines": 2, "box": [90, 85, 680, 140]},
            {"id": "sub", "type": "text", "text": "今日领券：{right}", "size": [18, 30], "color": "#7a4a32", "max_lines": 1, "box": [90, 240, 500, 60]},
            {"id": "badge", "type": "shape", "shape": "badge", "box": [650, 215, 130, 130], "fill": "#e4393c", "text": "新品", "size": [18, 40]},
        ],
        "variants": {
            "new_visitors": {
                "title": {"text": "欢迎光临 · 首单立减30元"},
                "sub": {"text": "{right} · 注册即领"},
                "badge": {"text": "新人"},
            },
            "dormant": {
                "bg": {"element": el["bg_night"]},
                "art": {"element": el["gift"]},
                "panel": {"fill": "#00000066"},
                "title": {"text": "好久不见，我们想你了", "color": "#ffffff"},
                "sub": {"text": "回归礼 {right} 已放入账户", "color": "#e8dcff"},
                "badge": {"text": "回归", "fill": "#f5a623"},
            },
            "birthday_month": {
                "bg": {"element": el["bg_party"]},
                "art": {"element": el["gift"]},
                "title": {"text": "生日快乐！专属好礼已备好"},
                "sub": {"text": "寿星专享：{right}"},
                "badge": {"text": "寿星", "fill": "#d6336c"},
            },
            "high_value": {
                "bg": {"element": el["bg_gold"]},
                "panel": {"fill": "#00000059"},
                "title": {"text": "尊享会员日 · 专属折扣", "color": "#f8e7b9"},
                "sub": {"text": "感谢一路相伴：{right}", "color": "#f1dca6"},
                "badge": {"text": "VIP", "fill": "#b8860b"},
            },
        },
    }
