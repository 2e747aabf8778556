"""The page renderer: real Jinja rendering of the real templates (and broken copies of them)."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jinja2 import StrictUndefined, UndefinedError
from markupsafe import Markup

from app.core.decision import CrowdScore, Fallback, PageDecision, ScoredProduct, SlotDecision
from app.rendering.html import (
    DEFAULT_TEMPLATES_DIR,
    BlockRenderError,
    DemoPanel,
    PageRenderer,
    RenderResult,
    _money,
)

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)

PRODUCTS = {
    "p1": {"id": "p1", "title": "Linen dress", "category": "dress", "price": 199.0, "stock": 3, "image": None},
    "p2": {"id": "p2", "title": XSS, "category": "shoes", "price": 89.9, "stock": 1, "image": None},
    "p3": {"id": "p3", "title": "Mug", "category": "home", "price_cents": 2550, "image": "https://img.example/m.jpg"},
    "p4": {"id": "p4", "title": "Evil", "category": "home", "price": 5, "image": "javascript:alert(1)", "url": "javascript:alert(2)"},
    "p5": {"id": "p5", "title": "Linked", "category": "toys", "price": 12, "url": "/p/p5", "original_price": 20},
}

BLOCKS = {
    "hero_banner": {"title": "Welcome back", "subtitle": "A gift for you", "link": "/sale", "cta": "Shop now", "theme": "festive"},
    "product_grid": {"title": "For you", "count": 8, "columns": 4},
    "coupon_strip": {"title": "Coupons", "coupons": [{"label": "Return gift", "amount": 30, "min_spend": 199, "code": "BACK30"}]},
    "text": {"title": "About", "body": "First line\n\nSecond line\nThird line", "align": "center"},
    "countdown": {"title": "Sale ends", "ends_at": "2025-06-18T23:59:59+08:00", "expired_text": "Sale is over"},
}


def slot(template: str, params=None, *, slot_id=None, crowd=None, products=()) -> SlotDecision:
    return SlotDecision(
        slot_id=slot_id or f"s-{template}",
        block_id=f"b-{template}",
        template=template,
        params=BLOCKS[template] if params is None else params,
        reason="default: no variant crowd matched" if crowd is None else f"crowd {crowd}",
        crowd=crowd,
        products=tuple(products),
    )


def scored(*ids: str) -> tuple[ScoredProduct, ...]:
    return tuple(ScoredProduct(pid, 1.0 - i / 10, "popularity") for i, pid in enumerate(ids))


def decision(*slots: SlotDecision, fallbacks=(), crowds=None) -> PageDecision:
    return PageDecision(
        render_id="r-0001",
        shop_id="shop1",
        visitor_id="v-42",
        page_id="home",
        crowds=crowds
        if crowds is not None
        else (
            CrowdScore("dormant", 1.0, "rule", True, 50, "last purchase 120 days ago"),
            CrowdScore("female", 0.8, "model", True, 10, "predicted"),
            CrowdScore("vip", 0.0, "rule", False, 90, "not a member"),
        ),
        slots=tuple(slots),
        fallbacks=tuple(fallbacks),
    )


def full_decision(**kw) -> PageDecision:
    return decision(
        slot("hero_banner", crowd="dormant"),
        slot("countdown"),
        slot("coupon_strip"),
        slot("product_grid", crowd="dormant", products=scored("p3", "p1", "p2", "p5")),
        slot("text"),
        **kw,
    )


@pytest.fixture(scope="module")
def renderer() -> PageRenderer:
    return PageRenderer()


def broken_copy(tmp_path: Path, template: str, source: str) -> Path:
    copy = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, copy)
    (copy / "blocks" / f"{template}.html.j2").write_text(source, encoding="utf-8")
    return copy


class _Tags(HTMLParser):
    """Collects start tags with their attributes, to check structure without regexes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(html: str, name: str) -> list[dict[str, str | None]]:
    p = _Tags()
    p.feed(html)
    return [a for t, a in p.tags if t == name]


# --- the environment ---------------------------------------------------------------------


def test_environment_is_strict_and_escapes_everything(renderer):
    assert renderer.env.undefined is StrictUndefined
    assert renderer.env.autoescape is True
    with pytest.raises(UndefinedError):
        renderer.env.from_string("{{ nothing_here }}").render()
    assert renderer.env.from_string("{{ x }}").render(x=XSS) == XSS_ESCAPED
    assert renderer.problems == []


# --- the page ----------------------------------------------------------------------------


def test_page_is_a_complete_document_with_every_slot_in_order(renderer):
    result = renderer.render_page(full_decision(), PRODUCTS, shop_name="Deer Shop", now=NOW)
    assert isinstance(result, RenderResult)
    html, failed = result
    assert failed == ()
    assert html.startswith("<!doctype html>")
    assert html.rstrip().endswith("</html>")
    assert '<meta name="viewport"' in html and '<meta charset="utf-8">' in html
    sections = tags(html, "section")
    assert [s["data-slot"] for s in sections] == [
        "s-hero_banner", "s-countdown", "s-coupon_strip", "s-product_grid", "s-text"
    ]
    assert [s["data-block"] for s in sections][0] == "b-hero_banner"
    assert [s["data-crowd"] for s in sections] == ["dormant", "", "", "dormant", ""]
    body = tags(html, "body")[0]
    assert body["data-render-id"] == "r-0001"


def test_footer_shows_render_id_crowds_and_fallbacks(renderer):
    d = full_decision(fallbacks=(Fallback("products", "ranking model not loaded", "popularity ranking"),))
    html = renderer.render_page(d, PRODUCTS, shop_name="Deer", now=NOW).html
    footer = html[html.index('<footer class="sf-debug">'):]
    assert "r-0001" in footer
    assert "dormant, female" in footer and "vip" not in footer
    assert "products: popularity ranking" in footer
    html = renderer.render_page(full_decision(), PRODUCTS, shop_name="Deer", now=NOW).html
    assert "fallbacks: none" in html


def test_no_external_assets(renderer):
    html = renderer.render_page(full_decision(), {k: v for k, v in PRODUCTS.items() if k != "p3"},
                                shop_name="Deer", now=NOW).html
    assert "<link" not in html
    assert "http://" not in html and "https://" not in html
    assert "url(" not in html and "@import" not in html and "@font-face" not in html
    assert "PingFang SC" in html and "Noto Sans CJK SC" in html and "Microsoft YaHei" in html


def test_product_grid_renders_products_in_decision_order(renderer):
    html = renderer.render_block(slot("product_grid", products=scored("p3", "p1", "missing", "p5")), PRODUCTS, now=NOW)
    assert [li["data-product"] for li in tags(html, "li")] == ["p3", "p1", "p5"]  # unknown ids skipped
    assert "25.50" in html  # from price_cents
    assert "199" in html
    assert 'href="/p/p5"' in html and "¥20" in html  # link and struck original price
    assert 'src="https://img.example/m.jpg"' in html
    # products without image get a coloured tile with the category initial
    assert '<span class="card-initial" aria-hidden="true">D</span>' in html
    assert "pg--c4" in html


def test_product_grid_count_and_show_price(renderer):
    params = dict(BLOCKS["product_grid"], count=2, show_price=False)
    html = renderer.render_block(slot("product_grid", params, products=scored("p1", "p2", "p3")), PRODUCTS, now=NOW)
    assert [li["data-product"] for li in tags(html, "li")] == ["p1", "p2"]
    assert 'class="price"' not in html


def test_product_grid_without_products_says_so(renderer):
    html = renderer.render_block(slot("product_grid"), PRODUCTS, now=NOW)
    assert "pg-empty" in html


def test_unsafe_product_urls_are_dropped(renderer):
    html = renderer.render_block(slot("product_grid", products=scored("p4")), PRODUCTS, now=NOW)
    assert "javascript:" not in html
    assert tags(html, "img") == [] and tags(html, "a") == []


def test_hero_banner(renderer):
    html = renderer.render_block(slot("hero_banner"), {}, now=NOW)
    assert "hero--festive" in html
    assert [a["href"] for a in tags(html, "a")] == ["/sale"]
    assert "Welcome back" in html and "A gift for you" in html and "Shop now" in html
    html = renderer.render_block(slot("hero_banner", {"title": "Plain"}), {}, now=NOW)
    assert tags(html, "a") == [] and "hero--light" in html


def test_coupon_strip(renderer):
    html = renderer.render_block(slot("coupon_strip"), {}, now=NOW)
    assert "Return gift" in html and "满199可用" in html and "BACK30" in html
    assert re.search(r'<span class="cur">¥</span>30\b', html)


def test_text_lines_become_paragraphs(renderer):
    html = renderer.render_block(slot("text"), {}, now=NOW)
    assert re.findall(r"<p>(.*?)</p>", html) == ["First line", "Second line", "Third line"]
    assert "tx--center" in html


def test_countdown_before_and_after_the_end(renderer):
    html = renderer.render_block(slot("countdown"), {}, now=NOW)
    (time,) = tags(html, "time")
    assert time["datetime"] == "2025-06-18T23:59:59+08:00"
    assert "2025-06-18 23:59 UTC+08:00" in html  # the static end time, without JS
    assert "<script>" in html and "Sale is over" in html  # the script reads the text from data-
    later = datetime(2025, 7, 1, tzinfo=timezone.utc)
    html = renderer.render_block(slot("countdown"), {}, now=later)
    assert "<script>" not in html and "Sale is over" in html and "cd--over" in html


def test_countdown_script_holds_no_merchant_text(renderer):
    params = dict(BLOCKS["countdown"], title="</script><b>x", expired_text="\";alert(1);//")
    html = renderer.render_block(slot("countdown", params), {}, now=NOW)
    script = html[html.index("<script>"):html.index("</script>")]
    assert "alert" not in script and "<b>" not in script
    assert "&lt;/script&gt;&lt;b&gt;x" in html


@pytest.mark.parametrize("template", sorted(BLOCKS))
def test_every_template_renders_standalone(renderer, template):
    html = renderer.render_block(slot(template, products=scored("p1")), PRODUCTS, now=NOW, standalone=True)
    assert html.startswith("<!doctype html>")
    assert tags(html, "section")[0]["data-template"] == template
    assert "<style>" in html


# --- escaping ----------------------------------------------------------------------------


def test_product_title_is_escaped(renderer):
    html = renderer.render_page(full_decision(), PRODUCTS, shop_name="Deer", now=NOW).html
    assert XSS_ESCAPED in html
    assert XSS not in html


@pytest.mark.parametrize(
    ("template", "params"),
    [
        ("hero_banner", {"title": XSS, "subtitle": XSS, "cta": XSS[:16], "link": "/x"}),
        ("product_grid", {"title": XSS}),
        ("coupon_strip", {"title": XSS, "coupons": [{"label": XSS, "description": XSS, "amount": 5}]}),
        ("coupon_strip", {"title": "t", "coupons": [{"label": XSS}]}),
        ("text", {"title": XSS, "body": XSS + "\n" + XSS}),
        ("countdown", {"title": XSS, "ends_at": "2030-01-01T00:00:00Z", "expired_text": XSS}),
    ],
)
def test_block_text_is_escaped(renderer, template, params):
    html = renderer.render_page(decision(slot(template, params)), PRODUCTS, shop_name="Deer", now=NOW).html
    assert XSS_ESCAPED in html
    assert "<script>alert" not in html


def test_shop_name_ids_and_crowds_are_escaped(renderer):
    d = PageDecision(
        render_id='r"1',
        shop_id="s",
        visitor_id="<v>",
        page_id="home",
        crowds=(CrowdScore(XSS, 1.0, "rule", True, 1, ""),),
        slots=(SlotDecision('x" onmouseover="alert(1)', "<b>", "text", {"body": "hi"}, "r", crowd='"><img>'),),
    )
    html = renderer.render_page(d, {}, shop_name=XSS, now=NOW, preview=True).html
    assert XSS not in html and "<img>" not in html and "<v>" not in html and "<b>" not in html
    (section,) = tags(html, "section")
    assert section["data-slot"] == 'x" onmouseover="alert(1)'
    assert "onmouseover" not in section
    assert section["data-crowd"] == '"><img>'


# --- failures ----------------------------------------------------------------------------


def test_a_raising_block_becomes_a_placeholder(tmp_path):
    r = PageRenderer(broken_copy(tmp_path, "text", "<p>{{ 1 // 0 }}</p>"))
    assert r.problems == []  # it compiles; it fails only when rendered
    result = r.render_page(full_decision(), PRODUCTS, shop_name="Deer", now=NOW)
    assert [sid for sid, _ in result.failed_slots] == ["s-text"]
    assert "ZeroDivisionError" in result.failed_slots[0][1]
    sections = tags(result.html, "section")
    assert len(sections) == 5  # the other blocks are there
    failed = [s for s in sections if s.get("data-failed")]
    assert [s["data-slot"] for s in failed] == ["s-text"]
    assert re.search(r'<section[^>]*data-slot="s-text"[^>]*></section>', result.html)  # empty
    assert "template: slot s-text placeholder" in result.html
    assert "Welcome back" in result.html and "First line" not in result.html
    (fb,) = result.fallbacks()
    assert fb.step == "template" and "s-text" in fb.reason and fb.served == "empty placeholder"


def test_an_undefined_name_fails_the_block_not_the_page(tmp_path):
    r = PageRenderer(broken_copy(tmp_path, "coupon_strip", "<p>{{ block.title }} {{ no_such_thing }}</p>"))
    result = r.render_page(full_decision(), PRODUCTS, shop_name="Deer", now=NOW)
    ((sid, reason),) = result.failed_slots
    assert sid == "s-coupon_strip" and "UndefinedError" in reason and "no_such_thing" in reason
    with pytest.raises(BlockRenderError) as info:
        r.render_block(slot("coupon_strip"), {}, now=NOW)
    assert info.value.slot_id == "s-coupon_strip"


def test_an_undefined_attribute_of_a_block_param_fails_too(tmp_path):
    r = PageRenderer(broken_copy(tmp_path, "hero_banner", "<p>{{ block.no_such_param }}</p>"))
    result = r.render_page(decision(slot("hero_banner")), {}, shop_name="Deer", now=NOW)
    assert [sid for sid, _ in result.failed_slots] == ["s-hero_banner"]


def test_a_template_that_does_not_compile_is_reported_and_its_blocks_fail(tmp_path):
    r = PageRenderer(broken_copy(tmp_path, "countdown", "{% for x in %}"))
    assert len(r.problems) == 1 and "countdown" in r.problems[0]
    result = r.render_page(full_decision(), PRODUCTS, shop_name="Deer", now=NOW)
    ((sid, reason),) = result.failed_slots
    assert sid == "s-countdown" and "does not compile" in reason


def test_a_missing_template_file_is_reported(tmp_path):
    copy = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, copy)
    (copy / "blocks" / "text.html.j2").unlink()
    r = PageRenderer(copy)
    assert any("missing" in p for p in r.problems)
    assert r.render_page(decision(slot("text")), {}, shop_name="x", now=NOW).failed_slots[0][0] == "s-text"


def test_invalid_params_and_unknown_templates_fail_their_slot(renderer):
    bad = SlotDecision("s-bad", "b", "hero_banner", {"title": "x", "image_url": "javascript:alert(1)"}, "r")
    unknown = SlotDecision("s-unknown", "b", "carousel", {}, "r")
    result = renderer.render_page(decision(bad, slot("text"), unknown), {}, shop_name="x", now=NOW)
    failed = dict(result.failed_slots)
    assert set(failed) == {"s-bad", "s-unknown"}
    assert "$.params.image_url" in failed["s-bad"] and "invalid_url" in failed["s-bad"]
    assert "carousel" in failed["s-unknown"]
    assert "javascript:" not in result.html.split("<footer")[0]
    assert "First line" in result.html


def test_preview_shows_reasons_and_failures(renderer):
    bad = SlotDecision("s-bad", "b", "text", {}, "default")
    d = decision(slot("product_grid", crowd="dormant", products=scored("p1")), bad)
    result = renderer.render_page(d, PRODUCTS, shop_name="x", preview=True, now=NOW)
    assert '<meta name="robots" content="noindex, nofollow">' in result.html
    assert "crowd dormant" in result.html and "1.000 · popularity" in result.html
    assert "FAILED" in result.html and "$.params.body" in result.html
    plain = renderer.render_page(d, PRODUCTS, shop_name="x", now=NOW).html
    assert "noindex" not in plain and "popularity" not in plain and "FAILED" not in plain


# --- the demo ----------------------------------------------------------------------------


def test_demo_embeds_each_page_in_an_escaped_srcdoc(renderer):
    a = renderer.render_page(full_decision(), PRODUCTS, shop_name="Deer", now=NOW).html
    b = renderer.render_page(decision(slot("text")), PRODUCTS, shop_name="Deer", now=NOW).html
    panels = [
        DemoPanel("v-1", "dormant customer, female member", ["dormant", "female"], a),
        DemoPanel("v-2", XSS, [], Markup(b)),  # even a Markup page must be escaped into srcdoc
    ]
    html = renderer.render_demo("Deer", panels, sample_visitors=["v-1", ("v-2", "new visitor"), "v-3"])
    iframes = tags(html, "iframe")
    assert [f["srcdoc"] for f in iframes] == [a, b]  # the browser gets each page back intact
    assert 'srcdoc="&lt;!doctype html&gt;' in html
    assert "&#34;" in html  # quotes inside the page are escaped, so the attribute cannot end early
    assert "<!doctype html>\n<html" not in html[html.index("<iframe"):]
    assert all("allow-same-origin" not in (f["sandbox"] or "") for f in iframes)
    assert XSS not in html and XSS_ESCAPED in html
    # the page embedded in srcdoc has its product title escaped twice, never raw
    assert "&amp;lt;script&amp;gt;" in html


def test_demo_has_a_get_form_with_the_visitors(renderer):
    panels = [DemoPanel("v-1", "a", ["c"], "<p>a</p>"), DemoPanel("v-2", "b", [], "<p>b</p>")]
    html = renderer.render_demo("Deer", panels, sample_visitors=["v-1", ("v-2", "new visitor"), "v-3"])
    (form,) = tags(html, "form")
    assert form["method"] == "get"
    inputs = {i["name"]: i["value"] for i in tags(html, "input")}
    assert inputs == {"a": "v-1", "b": "v-2"}
    assert [o["value"] for o in tags(html, "option")] == ["v-1", "v-2", "v-3"]
    assert "new visitor" in html
    assert "<title>" in html and "Deer" in html


def test_demo_without_panels_still_offers_the_form(renderer):
    html = renderer.render_demo("Deer", [], sample_visitors=["v-1"])
    assert {i["name"] for i in tags(html, "input")} == {"a", "b"}
    assert tags(html, "iframe") == []


# --- small helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"), [(199, "199"), (19.9, "19.90"), (0.5, "0.50"), (1999.999, "2000"), (None, ""), ("x", "")]
)
def test_money(value, text):
    assert _money(value) == text


def test_a_naive_now_is_taken_as_utc(renderer):
    html = renderer.render_block(slot("countdown"), {}, now=datetime(2025, 7, 1))
    assert "cd--over" in html
