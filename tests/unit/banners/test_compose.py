"""Composing banners: goldens for fitting, CJK, variants and sizes; skips, digest, encoding."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from PIL import Image

from app.banners.compose import (
    ProductArt,
    banner_digest,
    banner_variables,
    canonical_json,
    clear_caches,
    compose,
    elements_used,
    encode,
    variables_used,
)
from app.banners.fonts import font_covers, preferred_face, system_cjk_font
from app.banners.problems import BannerError
from app.banners.template import BannerTemplate, layout, literal_text
from app.banners.text import fit_text
from app.banners.validation import validate_template
from tests.unit.banners.helpers import (
    five_layers,
    Elements,
    assert_golden,
    gradient,
    make_font,
    product_photo,
    requires_cjk_font,
)

VARIABLES = {"crowd_name": "本月生日会员", "right": "满300减50", "shop_name": "茶铺"}


@pytest.fixture(scope="module")
def shop() -> Elements:
    elements = Elements()
    elements.add_image(gradient(1200, 400, (255, 236, 222), (255, 196, 168)))
    elements.add_image(product_photo(600))
    elements.add(make_font("VIP"))
    return elements


def element(shop: Elements, n: int) -> str:
    return list(shop.info)[n]


def banner_body(shop: Elements) -> dict[str, Any]:
    return {
        "canvas": {"width": 1200, "height": 400, "background": "#fff7f0"},
        "sizes": [
            {
                "name": "mobile",
                "width": 750,
                "height": 500,
                "layers": {"product": {"box": [430, 190, 300, 290]}},
            }
        ],
        "layers": [
            *five_layers(element(shop, 0)),
            {
                "id": "cta",
                "type": "shape",
                "shape": "rounded_rect",
                "box": [60, 310, 180, 56],
                "radius": 28,
                "fill": "#222222cc",
                "text": "立即抢购",
                "size": [14, 26],
            },
        ],
        "variants": {
            "vip": {
                "title": {"text": "尊享 · {right}", "color": "#8a5a00"},
                "cta": {"fill": "#8a5a00"},
            }
        },
    }


PRODUCTS = [ProductArt("明前龙井", 268, None)]


def products(shop: Elements) -> list[ProductArt]:
    return [ProductArt("明前龙井", 268, element(shop, 1))]


def make(shop: Elements, b: Mapping[str, Any]) -> BannerTemplate:
    template, _ = validate_template(dict(b), shop.info, load_font=shop.load_font)
    return template


def draw(
    shop: Elements, template: BannerTemplate, crowd: str | None = None, **kw: Any
) -> Image.Image:
    prods = kw.pop("products", products(shop))
    variables = kw.pop("variables", banner_variables(VARIABLES, prods))
    return compose(
        template,
        crowd_id=crowd,
        variables=variables,
        products=prods,
        load_image=shop.load_image,
        load_font=shop.load_font,
        **kw,
    )


def pixels(im: Image.Image) -> np.ndarray:
    return np.asarray(im, dtype=np.int16)


# ---------------------------------------------------------------------------------------
# goldens (the system CJK font draws them)


@requires_cjk_font
def test_cjk_text_is_covered_never_tofu(shop: Elements) -> None:
    template = make(shop, banner_body(shop))
    font = system_cjk_font()
    assert font is not None
    texts = [literal_text(layer.text or "") for layer in template.layers if hasattr(layer, "text")]
    texts += [v for v in VARIABLES.values()] + ["明前龙井268", "尊享 ·…"]
    assert font_covers(font, "".join(texts), preferred_face(font)) == set()


@requires_cjk_font
def test_golden_cjk_banner(shop: Elements) -> None:
    im = draw(shop, make(shop, banner_body(shop)))
    assert (im.mode, im.size) == ("RGB", (1200, 400))
    assert_golden(im, "cjk_base")


@requires_cjk_font
def test_golden_variant_differs_from_base_where_it_changes(shop: Elements) -> None:
    template = make(shop, banner_body(shop))
    base, vip = pixels(draw(shop, template)), pixels(draw(shop, template, "vip"))
    title = np.abs(base[50:220, 60:740] - vip[50:220, 60:740]).max(axis=-1)
    assert (title > 40).mean() > 0.02  # other words, other colour
    product = np.abs(base[40:360, 800:1160] - vip[40:360, 800:1160])
    assert product.max() == 0  # untouched layers are identical
    assert_golden(Image.fromarray(vip.astype(np.uint8), "RGB"), "cjk_vip")
    assert np.array_equal(pixels(draw(shop, template, "somebody-else")), base)  # no variant: base


@requires_cjk_font
def test_golden_extra_size(shop: Elements) -> None:
    im = draw(shop, make(shop, banner_body(shop)), size="mobile")
    assert im.size == (750, 500)
    assert_golden(im, "cjk_mobile")


@requires_cjk_font
def test_golden_text_fitting(shop: Elements) -> None:
    long = "会员日全场满三百减五十，新品首发同步开启，限时三天，售完即止，老客回购再享专属好礼"
    boxes = {"short": [40, 20, 520, 90], "wraps": [40, 130, 520, 110], "cut": [40, 260, 520, 60]}
    texts = {"short": "好久不见", "wraps": long[:30], "cut": long * 2}
    layers: list[dict[str, Any]] = []
    for name, box in boxes.items():
        layers.append(
            {
                "id": f"{name}_bg",
                "type": "shape",
                "shape": "rounded_rect",
                "box": box,
                "fill": "#eeeeee",
            }
        )
        layers.append(
            {
                "id": name,
                "type": "text",
                "text": texts[name],
                "size": [20, 72],
                "max_lines": 2,
                "box": box,
            }
        )
    template = make(shop, {"canvas": {"width": 600, "height": 340}, "layers": layers})
    from app.banners.compose import _face_at  # the very faces compose draws with

    faces = _face_at(None, shop.load_font)
    fits = {
        name: fit_text(texts[name], b[2], b[3], (20, 72), 2, 1.25, faces)
        for name, b in boxes.items()
    }
    assert fits["short"] is not None and fits["short"].face.size == 72  # fits at the largest size
    assert (
        fits["wraps"] is not None
        and 20 < fits["wraps"].face.size < 72
        and len(fits["wraps"].lines) == 2
    )
    assert not fits["wraps"].truncated
    assert fits["cut"] is not None and fits["cut"].truncated and fits["cut"].face.size == 20
    assert fits["cut"].lines[-1].endswith("…")
    assert_golden(draw(shop, template, variables={}), "text_fitting")


# ---------------------------------------------------------------------------------------
# behaviour


def test_a_transparent_canvas_gives_rgba(shop: Elements) -> None:
    b = {
        "canvas": {"width": 200, "height": 100, "background": "#ffffff00"},
        "layers": [
            {
                "id": "b",
                "type": "shape",
                "shape": "badge",
                "box": [50, 0, 100, 100],
                "fill": "#e4393c",
            }
        ],
    }
    im = draw(shop, make(shop, b))
    assert im.mode == "RGBA"
    assert im.getpixel((0, 0))[3] == 0 and im.getpixel((100, 50)) == (228, 57, 60, 255)
    alpha = np.asarray(im)[..., 3]
    assert ((alpha > 0) & (alpha < 255)).sum() > 100  # supersampled: a smooth rim


def test_a_product_without_photo_or_gone_is_skipped(shop: Elements) -> None:
    b = banner_body(shop)
    b["layers"], b["variants"], b["sizes"] = [b["layers"][0], b["layers"][1]], {}, []
    template = make(shop, b)
    background_only = draw(shop, make(shop, {**b, "layers": [b["layers"][0]]}))
    for prods in ([], [ProductArt("无图", 1, None)], [ProductArt("已删", 1, "el_" + "0" * 24)]):
        assert np.array_equal(pixels(draw(shop, template, products=prods)), pixels(background_only))


def test_an_unknown_size_is_404(shop: Elements) -> None:
    with pytest.raises(BannerError) as caught:
        draw(shop, make(shop, banner_body(shop)), size="poster")
    assert (caught.value.status, caught.value.code) == (404, "unknown_size")
    assert "mobile" in caught.value.message


def test_a_missing_variable_renders_as_nothing(shop: Elements) -> None:
    b = {
        "canvas": {"width": 300, "height": 80},
        "layers": [{"id": "t", "type": "text", "text": "{occasion}", "box": [0, 0, 300, 80]}],
    }
    im = draw(shop, make(shop, b), variables={})
    assert np.array_equal(pixels(im), pixels(Image.new("RGB", (300, 80), "white")))


def _one_text(font: str | None, text: str) -> dict[str, Any]:
    return {
        "canvas": {"width": 320, "height": 80},
        "layers": [
            {
                "id": "t",
                "type": "text",
                "text": text,
                "font": font,
                "size": [20, 40],
                "box": [10, 10, 300, 60],
            }
        ],
    }


@requires_cjk_font
def test_characters_the_font_lacks_switch_the_layer_to_the_system_font(shop: Elements) -> None:
    bars = element(shop, 2)  # covers only V, I, P
    mixed = draw(
        shop, make(shop, _one_text(bars, "{crowd_name}VIP")), variables={"crowd_name": "生日"}
    )
    system = draw(shop, make(shop, _one_text(None, "生日VIP")), variables={})
    assert np.array_equal(pixels(mixed), pixels(system))


def test_characters_no_font_has_are_dropped(shop: Elements) -> None:
    bars = element(shop, 2)
    template = make(shop, _one_text(bars, "{crowd_name}VIP"))
    with_cake = draw(shop, template, variables={"crowd_name": "\U0001f382"})
    without = draw(shop, template, variables={"crowd_name": ""})
    assert np.array_equal(pixels(with_cake), pixels(without))


def test_no_system_font_falls_back_to_pillows_font_for_ascii(
    shop: Elements, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOREFRONT_CJK_FONT", "/nonexistent.ttc")
    clear_caches()
    try:
        template = make(shop, _one_text(None, "SALE {right}"))
        im = draw(
            shop, template, variables={"right": "满减 50% off"}
        )  # 满减 dropped, the rest drawn
        assert pixels(im).min() < 100
    finally:
        monkeypatch.undo()
        clear_caches()


def test_variables_and_elements_used(shop: Elements) -> None:
    template = make(shop, banner_body(shop))
    assert variables_used(layout(template, None)) == {
        "crowd_name",
        "right",
        "product_title",
        "product_price",
    }
    assert variables_used(layout(template, "vip")) == {"right", "product_title", "product_price"}
    assert elements_used(layout(template, None), products(shop)) == sorted(
        [element(shop, 0), element(shop, 1)]
    )
    assert elements_used(layout(template, None), []) == [element(shop, 0)]


def test_banner_variables_fill_product_fields() -> None:
    assert banner_variables({"right": "包邮"}, [ProductArt("龙井", 268)]) == {
        "right": "包邮",
        "product_title": "龙井",
        "product_price": "268",
    }
    assert banner_variables({}, [ProductArt("茶", 19.9)])["product_price"] == "19.90"
    assert banner_variables({"product_title": "自定"}, [ProductArt("茶", "¥9")]) == {
        "product_title": "自定",
        "product_price": "¥9",
    }
    assert banner_variables({"a": "b"}, []) == {"a": "b"}


def test_digest_covers_every_input(shop: Elements) -> None:
    template = make(shop, banner_body(shop))
    canon = canonical_json(template)
    base = (canon, "vip", {"right": "包邮"}, ["el_a", "el_b"], None, "webp")
    digest = banner_digest(*base, renderer="r1")
    assert len(digest) == 64 and digest == banner_digest(*base, renderer="r1")
    assert digest == banner_digest(
        canon, "vip", {"right": "包邮"}, ["el_b", "el_a", "el_a"], None, "webp", renderer="r1"
    )
    changed = [
        (canon.replace("#fff7f0", "#fff7f1"), *base[1:]),
        (canon, None, *base[2:]),
        (canon, "vip", {"right": "包邮 "}, *base[3:]),
        (canon, "vip", {"right": "包邮"}, ["el_a"], None, "webp"),
        (*base[:4], "mobile", "webp"),
        (*base[:5], "png"),
    ]
    digests = {banner_digest(*args, renderer="r1") for args in changed}  # type: ignore[arg-type]
    assert len(digests) == len(changed) and digest not in digests
    assert banner_digest(*base, renderer="r2") != digest
    assert banner_digest(*base) == banner_digest(
        *base
    )  # the default renderer fingerprint is stable


def test_canonical_json_is_stable_across_key_order(shop: Elements) -> None:
    b = banner_body(shop)
    reordered = dict(reversed(list(b.items())))
    assert canonical_json(make(shop, b)) == canonical_json(make(shop, reordered))


@pytest.mark.parametrize(("fmt", "pil"), [("webp", "WEBP"), ("png", "PNG"), ("jpg", "JPEG")])
def test_encode(fmt: str, pil: str) -> None:
    for im in (Image.new("RGB", (64, 32), "red"), Image.new("RGBA", (64, 32), (0, 0, 255, 128))):
        data = encode(im, fmt)  # type: ignore[arg-type]
        with Image.open(io.BytesIO(data)) as back:
            assert back.format == pil and back.size == (64, 32)
    with pytest.raises(ValueError):
        encode(Image.new("RGB", (4, 4)), "gif")  # type: ignore[arg-type]
