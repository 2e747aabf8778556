"""Composing a 1200×400 crowd banner: 5 layers, CJK text, the system Noto Sans CJK font.

    python bench/banner_bench.py [--n 300]

Layers: a background picture (cover), a product photo cut out of its white backdrop
(contain), a two-line title and a one-line subtitle that shrink to fit, a price badge.
Every call gets new variable values (a banner not rendered before). In the same run:

- warm_up: reading the system font's character map (what compose.warm_up does at start);
- first:  the first banner of the process after that: opens the 20 MB font collection's
          faces, decodes the pictures, cuts the product out, fits them to their boxes;
- cold banner: p50 / p95 of the following banners, each one never composed before (not
          in any banner cache: the cost of a cache miss), with the process caches of
          elements warm (font faces per size, character maps, decoded, cut-out and fitted
          pictures) — the target is 30 ms p50 on two cores;
- floor:  a canvas with the background pasted and one line of text, in bare Pillow;
- no picture cache: the same, with decoded/cut-out/fitted pictures forgotten before
          every call (fonts stay warm), to show what those caches buy;
- encode: WebP, PNG and JPEG of the warm banner (median of 5).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw, ImageFont

from app.banners.compose import (
    ProductArt,
    banner_variables,
    clear_caches,
    compose,
    encode,
    warm_up,
)
from app.banners.fonts import clear_font_caches, system_cjk_font
from app.banners.pictures import clear_picture_caches
from app.banners.validation import validate_template
from tests.unit.banners.helpers import Elements, five_layers, gradient, product_photo


def bare_pillow(background: Image.Image, i: int) -> float:
    """The floor: a canvas, the background pasted, one line of CJK text drawn, no layout."""
    font = ImageFont.truetype(str(system_cjk_font()), 48)
    started = time.perf_counter()
    canvas = Image.new("RGB", (1200, 400), "#fff7f0")
    canvas.paste(background.convert("RGB"), (0, 0))
    ImageDraw.Draw(canvas).text((60, 60), f"第{i % 97}期会员专享", font=font, fill="#222222")
    return (time.perf_counter() - started) * 1000


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=300, help="banners per measurement")
    args = p.parse_args()
    if system_cjk_font() is None:
        raise SystemExit(
            "no system CJK font: apt-get install fonts-noto-cjk (or set STOREFRONT_CJK_FONT)"
        )
    shop = Elements()
    bg = shop.add_image(gradient(1200, 400, (255, 236, 222), (255, 196, 168)))
    photo = shop.add_image(product_photo(1200))
    body = {
        "canvas": {"width": 1200, "height": 400, "background": "#fff7f0"},
        "layers": five_layers(bg),  # the same five layers the golden tests compose
    }
    template, _ = validate_template(body, shop.info, load_font=shop.load_font)
    products = [ProductArt("明前龙井", 268, photo)]
    clear_caches()  # validation read the font's character map: forget it, and the rest
    clear_font_caches()

    def one(i: int) -> float:
        variables = banner_variables(
            {"crowd_name": f"第{i % 97}期会员", "right": f"满{300 + i}减{50 + i % 50}"}, products
        )
        started = time.perf_counter()
        compose(
            template,
            crowd_id=None,
            variables=variables,
            products=products,
            load_image=shop.load_image,
            load_font=shop.load_font,
        )
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    warm_up(shop.load_font)
    warm_up_ms = (time.perf_counter() - started) * 1000
    first = one(0)
    warm = [one(i) for i in range(1, args.n + 1)]
    uncached = []
    for i in range(max(10, args.n // 10)):
        clear_picture_caches()
        uncached.append(one(10_000 + i))

    def pct(xs: list[float], q: float) -> float:
        return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]

    floor = [bare_pillow(shop.load_image(bg), i) for i in range(args.n)]

    print(f"warm_up (character map):     {warm_up_ms:7.1f} ms")
    print(f"first banner of the process: {first:7.1f} ms")
    print(
        f"cold banner:       p50 {statistics.median(warm):6.2f} ms   p95 {pct(warm, 0.95):6.2f} ms   (n={len(warm)})"
    )
    print(
        f"floor (bare Pillow): p50 {statistics.median(floor):4.2f} ms   cold banner / floor: {statistics.median(warm) / statistics.median(floor):.1f}x"
    )
    print(
        f"no picture cache:  p50 {statistics.median(uncached):6.2f} ms   p95 {pct(uncached, 0.95):6.2f} ms   (elements decoded again)"
    )
    im = compose(
        template,
        crowd_id=None,
        variables=banner_variables({}, products),
        products=products,
        load_image=shop.load_image,
        load_font=shop.load_font,
    )
    for fmt in ("webp", "png", "jpg"):
        spent = []
        for _ in range(5):
            started = time.perf_counter()
            data = encode(im, fmt)  # type: ignore[arg-type]
            spent.append((time.perf_counter() - started) * 1000)
        print(f"encode {fmt:4}: {statistics.median(spent):6.1f} ms, {len(data):,} bytes")


if __name__ == "__main__":
    main()
