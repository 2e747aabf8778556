"""Template validation: every problem with its JSON path and code; wording warnings or errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from PIL import Image

from app.banners.fonts import CJK_FONT_ENV
from app.banners.problems import Problem, TemplateError
from app.banners.template import MAX_LAYERS, fill, layout, literal_text, placeholders
from app.banners.validation import TemplateWarning, validate_template
from app.banners.wording import DEFAULT_ABSOLUTE_TERMS, wording_hits
from tests.unit.banners.helpers import Elements, make_font, requires_cjk_font

LATIN = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789¥·,.!%"


@pytest.fixture(scope="module")
def shop() -> Elements:
    elements = Elements()
    elements.add_image(Image.new("RGB", (60, 20), (250, 230, 220)))
    elements.add(make_font(LATIN + "专享会员"))
    return elements


def ids(shop: Elements, kind: str) -> str:
    return next(i for i, info in shop.info.items() if info.kind == kind)


def body(shop: Elements) -> dict[str, Any]:
    return {
        "canvas": {"width": 1200, "height": 400, "background": "#FFF7F0"},
        "sizes": [{"name": "mobile", "width": 750, "height": 500}],
        "layers": [
            {"id": "bg", "type": "image", "element": ids(shop, "image"), "box": [0, 0, 1200, 400]},
            {"id": "product", "type": "product_image", "index": 0, "box": [800, 40, 360, 320]},
            {
                "id": "title",
                "type": "text",
                "text": "{crowd_name}专享 · {right}",
                "font": ids(shop, "font"),
                "size": [24, 64],
                "box": [60, 60, 680, 160],
            },
            {
                "id": "badge",
                "type": "shape",
                "shape": "badge",
                "box": [660, 250, 120, 120],
                "fill": "#e4393c",
            },
        ],
        "variants": {"vip": {"title": {"text": "会员专享"}, "bg": {"element": ids(shop, "image")}}},
    }


def problems(shop: Elements, b: dict[str, Any], **kw: Any) -> list[Problem]:
    with pytest.raises(TemplateError) as caught:
        validate_template(b, shop.info, load_font=shop.load_font, **kw)
    err = caught.value
    assert err.status == 422 and err.code == "invalid_template" and err.path == err.details[0].path
    return err.details


def codes(found: list[Problem]) -> set[tuple[str, str]]:
    return {(p.path, p.code) for p in found}


def test_a_good_template_is_accepted_normalized(shop: Elements) -> None:
    template, warnings = validate_template(body(shop), shop.info, load_font=shop.load_font)
    assert warnings == []
    assert template.canvas.background == "#fff7f0"
    assert template.layers[2].size == (24, 64)
    assert template.layers[0].fit == "cover" and template.layers[1].fit == "contain"


def test_pydantic_problems_carry_paths(shop: Elements) -> None:
    b = body(shop)
    b["canvas"]["width"] = 5000
    b["layers"][2]["color"] = "red"
    b["layers"][2]["size"] = [30, 20]
    b["layers"][3]["shape"] = "star"
    b["layers"][1]["box"] = [0, 0, 0, 10]
    b["layers"][0]["opacity"] = 0.5
    assert codes(problems(shop, b)) == {
        ("$.canvas.width", "out_of_range"),
        ("$.layers[2].color", "invalid_color"),
        ("$.layers[2].size", "invalid_size"),
        ("$.layers[3].shape", "invalid_choice"),
        ("$.layers[1].box", "invalid_box"),
        ("$.layers[0].opacity", "unknown_field"),
    }


@pytest.mark.parametrize("box", [[0, 0, 10], "0,0,10,10", [0, "a", 10, 10], [0, 0.5, 10, 10]])
def test_a_malformed_box_is_one_problem_at_the_box(shop: Elements, box: Any) -> None:
    b = body(shop)
    b["layers"][1]["box"] = box
    found = problems(shop, b)
    assert codes(found) == {("$.layers[1].box", "invalid_box")}
    assert "[x, y, width, height]" in found[0].message


def test_an_unknown_layer_type_points_at_type(shop: Elements) -> None:
    b = body(shop)
    b["layers"][1]["type"] = "video"
    found = problems(shop, b)
    assert codes(found) == {("$.layers[1].type", "invalid_choice")}
    assert "video" in found[0].message


def test_too_many_layers(shop: Elements) -> None:
    b = body(shop)
    b["layers"] = [{**b["layers"][3], "id": f"s{i}"} for i in range(MAX_LAYERS + 1)]
    b["variants"] = {}
    assert codes(problems(shop, b)) == {("$.layers", "too_many")}


def test_unknown_element_and_wrong_kind(shop: Elements) -> None:
    b = body(shop)
    b["layers"][0]["element"] = ids(shop, "font")  # a font used as a picture
    b["layers"][2]["font"] = ids(shop, "image")  # a picture used as a font
    b["variants"]["vip"]["bg"]["element"] = "el_000000000000000000000000"
    assert codes(problems(shop, b)) == {
        ("$.layers[0].element", "wrong_element_kind"),
        ("$.layers[2].font", "wrong_element_kind"),
        ("$.variants.vip.bg.element", "unknown_element"),
    }


def test_boxes_outside_the_canvas(shop: Elements) -> None:
    b = body(shop)
    b["layers"][1]["box"] = [900, 40, 360, 320]  # 1260 > 1200
    b["layers"][3]["box"] = [-1, 0, 10, 10]
    b["sizes"][0]["layers"] = {"title": {"box": [0, 0, 751, 100]}}
    b["variants"]["vip"]["title"]["box"] = [0, 300, 100, 101]
    assert codes(problems(shop, b)) == {
        ("$.layers[1].box", "outside_canvas"),
        ("$.layers[3].box", "outside_canvas"),
        ("$.sizes[0].layers.title.box", "outside_canvas"),
        ("$.variants.vip.title.box", "outside_canvas"),
    }


def test_duplicate_layer_ids_and_size_names(shop: Elements) -> None:
    b = body(shop)
    b["layers"][3]["id"] = "title"
    b["sizes"].append({"name": "mobile", "width": 100, "height": 100})
    assert codes(problems(shop, b)) == {
        ("$.layers[3].id", "duplicate_id"),
        ("$.sizes[1].name", "duplicate_size"),
    }


def test_variants_may_change_only_known_layers_and_allowed_fields(shop: Elements) -> None:
    b = body(shop)
    b["variants"]["vip"]["ghost"] = {"text": "x"}
    b["variants"]["vip"]["bg"]["text"] = "a picture has no text"
    b["variants"]["new-buyers"] = {"title": {"type": "image"}, "badge": {"radius": -3}}
    assert codes(problems(shop, b)) == {
        ("$.variants.vip.ghost", "unknown_layer"),
        ("$.variants.vip.bg.text", "field_not_allowed"),
        ('$.variants["new-buyers"].title.type', "field_not_allowed"),
        ('$.variants["new-buyers"].badge.radius', "out_of_range"),
    }


def test_sizes_may_change_only_known_layers_and_layout_fields(shop: Elements) -> None:
    b = body(shop)
    b["sizes"][0]["layers"] = {"nope": {"visible": False}, "bg": {"size": [10, 20]}}
    assert codes(problems(shop, b)) == {
        ("$.sizes[0].layers.nope", "unknown_layer"),
        ("$.sizes[0].layers.bg.size", "field_not_allowed"),
    }


def test_field_problems_come_before_the_checks_across_fields(shop: Elements) -> None:
    # The cross-field checks need well-formed fields: a body with both kinds of problem
    # gets the field problems first (and the others on its next PUT).
    b = body(shop)
    b["sizes"][0]["layers"] = {"nope": {"visible": False}}
    b["sizes"].append({"name": "huge", "width": 4001, "height": 10})
    assert codes(problems(shop, b)) == {("$.sizes[1].width", "out_of_range")}


def test_unknown_variables_are_refused(shop: Elements) -> None:
    b = body(shop)
    b["layers"][2]["text"] = "{crowd_name}{discount}"
    b["variants"]["vip"]["title"]["text"] = "{Right}"
    found = problems(shop, b)
    assert codes(found) == {
        ("$.layers[2].text", "unknown_variable"),
        ("$.variants.vip.title.text", "unknown_variable"),
    }
    assert "{discount}" in found[0].message and "{crowd_name}" in found[0].message


def test_uploaded_font_missing_glyphs(shop: Elements) -> None:
    b = body(shop)
    b["layers"][2]["text"] = "{crowd_name}专享 · 满300减50"  # 满 and 减 are not in the font
    b["variants"]["vip"]["title"]["text"] = "生日快乐"
    found = problems(shop, b)
    assert codes(found) == {
        ("$.layers[2].text", "missing_glyphs"),
        ("$.variants.vip.title.text", "missing_glyphs"),
    }
    assert "'满'" in found[0].message and "'减'" in found[0].message


def test_a_variant_switching_font_is_checked_at_the_font(shop: Elements) -> None:
    other = make_font("XYZ")
    shop2 = Elements()
    shop2.data, shop2.info = dict(shop.data), dict(shop.info)
    font2 = shop2.add(other)
    b = body(shop)
    b["variants"]["vip"] = {"title": {"font": font2}}
    found = problems(shop2, b)
    assert codes(found) == {("$.variants.vip.title.font", "missing_glyphs")}


def test_no_system_cjk_font_is_missing_font(
    shop: Elements, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CJK_FONT_ENV, "/nonexistent/font.ttc")
    b = body(shop)
    b["layers"][2]["font"] = None
    found = problems(shop, b)
    assert codes(found) == {
        ("$.layers[2].text", "missing_font"),
        ("$.variants.vip.title.text", "missing_font"),
    }
    assert "fonts-noto-cjk" in found[0].message
    b["layers"][2]["text"] = "{crowd_name} VIP"  # ASCII draws with Pillow's built-in font
    b["variants"] = {}
    validate_template(b, shop.info, load_font=shop.load_font)


@requires_cjk_font
def test_the_system_font_is_checked_when_font_is_null(shop: Elements) -> None:
    b = body(shop)
    b["layers"][2]["font"] = None
    b["layers"][2]["text"] = "{crowd_name}专享 · 满300减50"
    b["variants"] = {"vip": {"title": {"text": "尊享\U0001f382"}}}  # no CJK font has the cake emoji
    assert codes(problems(shop, b)) == {("$.variants.vip.title.text", "missing_font")}


def test_uploaded_fonts_need_a_loader(shop: Elements) -> None:
    with pytest.raises(ValueError, match="load_font"):
        validate_template(body(shop), shop.info)


def test_not_an_object() -> None:
    with pytest.raises(TemplateError) as caught:
        validate_template([1, 2], {})
    assert codes(caught.value.details) == {("$", "invalid_type")}


def test_every_problem_is_in_the_error_body(shop: Elements) -> None:
    b = body(shop)
    b["layers"][1]["box"] = [900, 40, 360, 320]
    b["variants"]["vip"]["ghost"] = {}
    with pytest.raises(TemplateError) as caught:
        validate_template(b, shop.info, load_font=shop.load_font)
    error = caught.value.body()["error"]
    assert error["status"] == 422 and error["path"] == "$.layers[1].box"
    assert [d["path"] for d in error["details"]] == ["$.layers[1].box", "$.variants.vip.ghost"]
    assert "1 more problem" in error["message"]


# ---------------------------------------------------------------------------------------
# wording


def test_wording_hits_finds_absolute_terms() -> None:
    assert wording_hits("全网最低价，销量第一！", DEFAULT_ABSOLUTE_TERMS) == ["最", "第一"]
    assert wording_hits("品质 no.1，100%纯棉") == ["100%", "NO.1"]
    assert wording_hits("最近上新，第一次购买有礼") == []  # 最近, 第一次 are ordinary words
    assert wording_hits("最近上新，最低价") == ["最"]
    assert wording_hits("顶级好茶", ["好茶"]) == ["好茶"]


def test_absolute_wording_is_a_warning_by_default(shop: Elements) -> None:
    b = body(shop)
    b["layers"][2]["text"] = "{crowd_name}会员专享"
    b["variants"]["vip"]["title"]["text"] = "专享 NO.1"
    b["layers"][3]["text"] = "100%"
    template, warnings = validate_template(b, shop.info, load_font=shop.load_font)
    assert warnings == [
        TemplateWarning("$.layers[3].text", "absolute_wording", "100%", warnings[0].message),
        TemplateWarning(
            "$.variants.vip.title.text", "absolute_wording", "NO.1", warnings[1].message
        ),
    ]
    assert "广告法" in warnings[0].message
    assert template.layers[3].text == "100%"


def test_absolute_wording_is_an_error_when_the_shop_says_so(shop: Elements) -> None:
    b = body(shop)
    b["variants"]["vip"]["title"]["text"] = "专享 NO.1"
    found = problems(shop, b, wording_errors=True)
    assert codes(found) == {("$.variants.vip.title.text", "absolute_wording")}
    # a shop's own list replaces the default one
    validate_template(
        b, shop.info, load_font=shop.load_font, wording_errors=True, absolute_terms=["绝对"]
    )


# ---------------------------------------------------------------------------------------
# variables and layout


def test_placeholders_fill_and_literal_text() -> None:
    text = "{crowd_name}专享{{VIP}} {right}"
    assert placeholders(text) == ["crowd_name", "right"]
    assert fill(text, {"crowd_name": "老客", "right": "包邮"}) == "老客专享{VIP} 包邮"
    assert fill(text, {}) == literal_text(text) == "专享{VIP} "


def test_layout_applies_the_variant_then_scales_to_the_size(shop: Elements) -> None:
    b = body(shop)
    b["layers"][2]["box"] = [60, 60, 680, 160]
    b["sizes"][0]["layers"] = {"product": {"visible": False}, "title": {"size": [20, 40]}}
    template, _ = validate_template(b, shop.info, load_font=shop.load_font)
    base = layout(template)
    assert [layer.id for layer in base.layers] == ["bg", "product", "title", "badge"]
    vip = layout(template, "vip")
    assert (
        vip.layers[2].text == "会员专享"
        and layout(template, "nobody").layers[2].text == b["layers"][2]["text"]
    )
    mobile = layout(template, "vip", "mobile")
    assert (mobile.width, mobile.height) == (750, 500)
    by_id = {layer.id: layer for layer in mobile.layers}
    assert "product" not in by_id  # hidden in this size
    assert by_id["bg"].box == (0, 0, 750, 500)
    assert by_id["title"].box == (38, 75, 425, 200)  # x by 750/1200, y by 500/400
    assert by_id["title"].size == (20, 40) and by_id["title"].text == "会员专享"
    badge = by_id["badge"]
    assert badge.box[2] == badge.box[3] == 75  # a round badge stays round: 120 × min(0.625, 1.25)


def test_layout_of_an_unknown_size(shop: Elements) -> None:
    template, _ = validate_template(body(shop), shop.info, load_font=shop.load_font)
    with pytest.raises(KeyError):
        layout(template, None, "poster")


def test_validation_does_not_change_the_body(shop: Elements) -> None:
    b = body(shop)
    before = copy.deepcopy(b)
    validate_template(b, shop.info, load_font=shop.load_font)
    assert b == before
