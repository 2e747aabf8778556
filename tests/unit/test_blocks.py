"""The block template registry: parameter schemas, error paths and codes, template files."""

from __future__ import annotations

import json
import shutil

import pytest

from app.rendering.blocks import (
    BLOCK_TEMPLATES,
    ParamError,
    check_templates,
    discover_block_files,
    is_safe_url,
    json_path,
    template_names,
    validate_params,
)
from app.rendering.html import DEFAULT_TEMPLATES_DIR, build_environment

VALID = {
    "hero_banner": {
        "title": "好久不见",
        "subtitle": "回归礼已到账",
        "image_url": "https://cdn.shop.example/hero.jpg",
        "link": "/sale",
        "cta": "去看看",
        "theme": "festive",
    },
    "product_grid": {
        "title": "为你推荐",
        "count": 12,
        "columns": 3,
        "pool": {"categories": ["dress", "shoes"], "tags": ["new"]},
        "pin": ["p1", "p2"],
        "boost": {"p3": 2.0, "category:dress": 1.5, "tag:new": 0.5},
        "exclude": ["p9"],
        "max_per_category": 3,
        "show_price": False,
    },
    "coupon_strip": {
        "title": "领券中心",
        "coupons": [
            {"label": "回归礼", "description": "老客专享", "code": "BACK30", "min_spend": 199, "amount": 30},
            {"label": "包邮券"},
        ],
    },
    "text": {"title": "关于我们", "body": "第一段\n第二段", "align": "center"},
    "countdown": {"title": "618 倒计时", "ends_at": "2025-06-18T23:59:59+08:00", "expired_text": "下次见"},
}

MINIMAL = {
    "hero_banner": {"title": "Hi"},
    "product_grid": {"title": "Top"},
    "coupon_strip": {"title": "Coupons", "coupons": [{"label": "10 off"}]},
    "text": {"body": "hello"},
    "countdown": {"title": "Soon", "ends_at": "2030-01-01T00:00:00Z"},
}


def test_registry_names_files_and_descriptions():
    assert template_names() == list(BLOCK_TEMPLATES)
    assert set(template_names()) == {"hero_banner", "product_grid", "coupon_strip", "text", "countdown"}
    on_disk = discover_block_files(DEFAULT_TEMPLATES_DIR)
    for name, spec in BLOCK_TEMPLATES.items():
        assert spec.name == name
        assert spec.file == f"{name}.html.j2"
        assert spec.path == f"blocks/{name}.html.j2"
        assert spec.description
        assert name in on_disk, f"{spec.file} missing from assets/templates/blocks"
        assert spec.params_model.model_config.get("extra") == "forbid"
        schema = spec.json_schema()
        assert schema["type"] == "object" and "properties" in schema


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_params_are_accepted_and_json_ready(name):
    normalized, errors = validate_params(name, VALID[name])
    assert errors == []
    json.dumps(normalized)  # storable as is
    for key, value in VALID[name].items():
        if key != "coupons":
            assert normalized[key] == value


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_defaults_are_filled(name):
    normalized, errors = validate_params(name, MINIMAL[name])
    assert errors == []
    assert set(normalized) == set(BLOCK_TEMPLATES[name].params_model.model_fields)


def test_product_grid_defaults():
    normalized, _ = validate_params("product_grid", {"title": "Top"})
    assert normalized == {
        "title": "Top",
        "count": 8,
        "columns": 4,
        "pool": {"categories": [], "tags": []},
        "pin": [],
        "boost": {},
        "exclude": [],
        "max_per_category": None,
        "show_price": True,
    }


def test_other_defaults():
    assert validate_params("hero_banner", {"title": "Hi"})[0]["theme"] == "light"
    assert validate_params("text", {"body": "x"})[0]["align"] == "left"
    assert validate_params("countdown", MINIMAL["countdown"])[0]["expired_text"]
    coupon = validate_params("coupon_strip", MINIMAL["coupon_strip"])[0]["coupons"][0]
    assert coupon == {"label": "10 off", "description": None, "code": None, "min_spend": None, "amount": None, "right": None}


def test_strings_are_stripped():
    normalized, errors = validate_params("text", {"body": "  hi  \n"})
    assert errors == [] and normalized["body"] == "hi"


def _with(name: str, **changes):
    params = json.loads(json.dumps(VALID[name]))
    for key, value in changes.items():
        if value is _DROP:
            params.pop(key)
        else:
            params[key] = value
    return params


_DROP = object()

INVALID = [
    # hero_banner
    ("hero_banner", _with("hero_banner", title=_DROP), "$.params.title", "missing"),
    ("hero_banner", _with("hero_banner", title=""), "$.params.title", "too_short"),
    ("hero_banner", _with("hero_banner", title="x" * 61), "$.params.title", "too_long"),
    ("hero_banner", _with("hero_banner", title=42), "$.params.title", "invalid_type"),
    ("hero_banner", _with("hero_banner", image_url="javascript:alert(1)"), "$.params.image_url", "invalid_url"),
    ("hero_banner", _with("hero_banner", image_url="data:image/png;base64,AAAA"), "$.params.image_url", "invalid_url"),
    ("hero_banner", _with("hero_banner", link=" JavaScript:alert(1)"), "$.params.link", "invalid_url"),
    ("hero_banner", _with("hero_banner", link="//evil.example/x"), "$.params.link", "invalid_url"),
    ("hero_banner", _with("hero_banner", link="https://"), "$.params.link", "invalid_url"),
    ("hero_banner", _with("hero_banner", link="/a b"), "$.params.link", "invalid_url"),
    ("hero_banner", _with("hero_banner", theme="neon"), "$.params.theme", "invalid_choice"),
    ("hero_banner", _with("hero_banner", cta="x" * 17), "$.params.cta", "too_long"),
    ("hero_banner", _with("hero_banner", link=_DROP), "$.params.cta", "requires_link"),
    ("hero_banner", _with("hero_banner", colour="red"), "$.params.colour", "unknown_field"),
    # product_grid
    ("product_grid", _with("product_grid", count=0), "$.params.count", "out_of_range"),
    ("product_grid", _with("product_grid", count=61), "$.params.count", "out_of_range"),
    ("product_grid", _with("product_grid", count="many"), "$.params.count", "invalid_type"),
    ("product_grid", _with("product_grid", columns=1), "$.params.columns", "out_of_range"),
    ("product_grid", _with("product_grid", columns=7), "$.params.columns", "out_of_range"),
    ("product_grid", _with("product_grid", pool={"categories": ["a", "b", 3]}), "$.params.pool.categories[2]", "invalid_type"),
    ("product_grid", _with("product_grid", pool={"categories": ["a", ""]}), "$.params.pool.categories[1]", "too_short"),
    ("product_grid", _with("product_grid", pool={"brands": ["x"]}), "$.params.pool.brands", "unknown_field"),
    ("product_grid", _with("product_grid", pool={"tags": ["t"] * 51}), "$.params.pool.tags", "too_many"),
    ("product_grid", _with("product_grid", pin=["p1", "bad id"]), "$.params.pin[1]", "invalid_format"),
    ("product_grid", _with("product_grid", pin=["p1", "p1"]), "$.params.pin[1]", "duplicate"),
    ("product_grid", _with("product_grid", pin=[f"q{i}" for i in range(13)]), "$.params.pin", "too_many"),
    ("product_grid", _with("product_grid", exclude=["p9", "p2"]), "$.params.exclude[1]", "conflict"),
    ("product_grid", _with("product_grid", boost={"p3": 11}), "$.params.boost.p3", "out_of_range"),
    ("product_grid", _with("product_grid", boost={"p3": 0.05}), "$.params.boost.p3", "out_of_range"),
    ("product_grid", _with("product_grid", boost={"category:": 2}), '$.params.boost["category:"]', "invalid_boost_key"),
    ("product_grid", _with("product_grid", boost={"tag:new": "lots"}), '$.params.boost["tag:new"]', "invalid_type"),
    ("product_grid", _with("product_grid", max_per_category=0), "$.params.max_per_category", "out_of_range"),
    ("product_grid", _with("product_grid", show_price="perhaps"), "$.params.show_price", "invalid_type"),
    # coupon_strip
    ("coupon_strip", _with("coupon_strip", coupons=[]), "$.params.coupons", "too_few"),
    ("coupon_strip", _with("coupon_strip", coupons=[{"label": "x"}] * 11), "$.params.coupons", "too_many"),
    ("coupon_strip", _with("coupon_strip", coupons=[{"label": "a"}, {"description": "no label"}]), "$.params.coupons[1].label", "missing"),
    ("coupon_strip", _with("coupon_strip", coupons=[{"label": "a", "code": "NO SPACE"}]), "$.params.coupons[0].code", "invalid_format"),
    ("coupon_strip", _with("coupon_strip", coupons=[{"label": "a", "amount": 0}]), "$.params.coupons[0].amount", "out_of_range"),
    ("coupon_strip", _with("coupon_strip", coupons=[{"label": "a", "amount": 1.234}]), "$.params.coupons[0].amount", "invalid_value"),
    ("coupon_strip", _with("coupon_strip", coupons=[{"label": "a", "min_spend": -1}]), "$.params.coupons[0].min_spend", "out_of_range"),
    ("coupon_strip", _with("coupon_strip", coupons=[{"label": "a", "url": "/x"}]), "$.params.coupons[0].url", "unknown_field"),
    ("coupon_strip", _with("coupon_strip", coupons={"label": "a"}), "$.params.coupons", "invalid_type"),
    # text
    ("text", _with("text", body=_DROP), "$.params.body", "missing"),
    ("text", _with("text", body="x" * 5001), "$.params.body", "too_long"),
    ("text", _with("text", align="right"), "$.params.align", "invalid_choice"),
    ("text", _with("text", title=""), "$.params.title", "too_short"),
    # countdown
    ("countdown", _with("countdown", ends_at="2025-06-18T23:59:59"), "$.params.ends_at", "invalid_datetime"),
    ("countdown", _with("countdown", ends_at="next friday"), "$.params.ends_at", "invalid_datetime"),
    ("countdown", _with("countdown", ends_at=1750000000), "$.params.ends_at", "invalid_datetime"),
    ("countdown", _with("countdown", ends_at=_DROP), "$.params.ends_at", "missing"),
    ("countdown", _with("countdown", expired_text="x" * 61), "$.params.expired_text", "too_long"),
]


@pytest.mark.parametrize(("name", "params", "path", "code"), INVALID, ids=[f"{c[0]}:{c[2]}:{c[3]}" for c in INVALID])
def test_invalid_params_give_path_and_code(name, params, path, code):
    normalized, errors = validate_params(name, params)
    assert normalized == {}
    assert (path, code) in [(e.path, e.code) for e in errors], errors
    for e in errors:
        assert isinstance(e, ParamError)
        assert e.path.startswith("$.params")
        assert len(e.message) > 10 and e.message.endswith(".")


def test_every_error_is_reported_not_only_the_first():
    _, errors = validate_params("hero_banner", {"title": "", "theme": "x", "oops": 1})
    assert {e.path for e in errors} == {"$.params.title", "$.params.theme", "$.params.oops"}


def test_unknown_field_message_lists_the_allowed_fields():
    _, errors = validate_params("product_grid", {"title": "x", "pool": {"brand": ["a"]}})
    (err,) = errors
    assert "categories" in err.message and "tags" in err.message


def test_messages_are_readable():
    _, errors = validate_params("product_grid", {"title": "x", "count": 99})
    assert errors[0].message == "Must be at most 60."


def test_unknown_template():
    normalized, errors = validate_params("carousel", {"title": "x"})
    assert normalized == {}
    (err,) = errors
    assert err.path == "$.template" and err.code == "unknown_template"
    for name in template_names():
        assert name in err.message


@pytest.mark.parametrize("params", [None, [], "title", 3])
def test_params_must_be_an_object(params):
    _, errors = validate_params("text", params)
    assert [(e.path, e.code) for e in errors] == [("$.params", "invalid_type")]


def test_countdown_keeps_the_offset():
    normalized, _ = validate_params("countdown", {"title": "t", "ends_at": "2025-06-18T23:59:59+08:00"})
    assert normalized["ends_at"] == "2025-06-18T23:59:59+08:00"


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("pool", "categories", 2), "$.params.pool.categories[2]"),
        (("boost", "category:x"), '$.params.boost["category:x"]'),
        (("coupons", 0, "label"), "$.params.coupons[0].label"),
        ((), "$.params"),
    ],
)
def test_json_path(loc, path):
    assert json_path(loc) == path


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://a.example/x.jpg", True),
        ("http://a.example", True),
        ("/sale?x=1#top", True),
        ("javascript:alert(1)", False),
        ("JAVASCRIPT:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("vbscript:x", False),
        ("data:text/html,<script>", False),
        ("//evil.example", False),
        ("https:/x", False),
        ("", False),
        (None, False),
        (42, False),
    ],
)
def test_is_safe_url(url, ok):
    assert is_safe_url(url) is ok


def test_check_templates_on_the_real_folder_finds_nothing():
    assert check_templates(build_environment(DEFAULT_TEMPLATES_DIR)) == []


def test_check_templates_reports_missing_and_broken_files(tmp_path):
    copy = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, copy)
    (copy / "blocks" / "text.html.j2").unlink()
    (copy / "blocks" / "countdown.html.j2").write_text("{% if block.title %}never closed", encoding="utf-8")
    problems = check_templates(build_environment(copy))
    assert len(problems) == 2
    assert any("'text'" in p and "missing" in p for p in problems)
    assert any("'countdown'" in p and "does not compile" in p for p in problems)
    assert "text" not in discover_block_files(copy)
