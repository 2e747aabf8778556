"""The console in a real headless Chromium, against the real service on a free port.

One demo shop, one service and one browser serve the whole module; the tests run in
file order and share the logged-in browser context where it helps. A screenshot of
each page goes to ``test-artifacts/console/`` (or ``$STOREFRONT_TEST_ARTIFACTS/console``).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bench.common import seed_demo, served

playwright_api = pytest.importorskip("playwright.sync_api")
Browser, BrowserContext, Page, expect = (
    playwright_api.Browser, playwright_api.BrowserContext, playwright_api.Page, playwright_api.expect,
)

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"  # Debian's; CI installs it (.ci/run). Never `playwright install`.
REPO_ROOT = Path(__file__).resolve().parents[2]


def artifacts() -> Path:
    root = Path(os.environ.get("STOREFRONT_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")
    out = root / "console"
    out.mkdir(parents=True, exist_ok=True)
    return out


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(artifacts() / f"{name}.png"), full_page=True)


@dataclass(frozen=True)
class Service:
    base: str
    merchant_key: str

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data = tmp_path_factory.mktemp("console-browser") / "data"
    merchant_key, _ = seed_demo(data, visitors=300, products=80)
    with served(data) as base:
        yield Service(base, merchant_key)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def page(context: BrowserContext) -> Page:
    return context.new_page()


EXPERIMENT = {
    "name": "Win-back hero for everyone",
    "lever": {"type": "block", "page": "home", "slot": "hero"},
    "variants": [{"key": "control", "control": True}, {"key": "miss_you", "block": "hero_miss_you"}],
    "metrics": {"primary": "conversion", "guardrails": ["revenue_per_visitor", "rights_cost"]},
}


def log_in(page: Page, key: str) -> None:
    """Fill and send the login form of the page shown."""
    page.fill("input[name=shop_id]", "demo")
    page.fill("input[name=merchant_key]", key)
    page.click("#login-form button[type=submit]")


def test_login_refuses_a_wrong_key_then_lets_the_merchant_in(page: Page, service: Service) -> None:
    page.goto(service.url("/console/crowds"))
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console/crowds"))
    shot(page, "login")
    log_in(page, "mk_not-the-key")
    expect(page.locator("#login-error")).to_be_visible()
    shot(page, "login-refused")
    log_in(page, service.merchant_key)
    expect(page).to_have_url(service.url("/console/crowds"))  # back where the login began
    expect(page.locator("#crowd-list")).to_be_visible()


def test_language_follows_the_browser_and_the_switch(page: Page, service: Service, browser: Browser) -> None:
    english = browser.new_context(locale="en-US")
    try:
        first = english.new_page()
        first.goto(service.url("/console/login"))
        expect(first.locator("h1")).to_have_text("Log in to your shop")
    finally:
        english.close()
    page.goto(service.url("/console/crowds"))
    expect(page.locator("a[data-nav=crowds]")).to_have_text("人群")
    page.click("a[data-lang=en]")
    expect(page.locator("a[data-nav=crowds]")).to_have_text("Crowds")
    page.goto(service.url("/console/pages"))  # the choice is remembered
    expect(page.locator("a[data-nav=pages]")).to_have_text("Pages")
    page.click("a[data-lang=zh]")
    expect(page.locator("a[data-nav=pages]")).to_have_text("页面")


def test_overview_shows_the_operations_index_with_charts(page: Page, service: Service) -> None:
    page.goto(service.url("/console"))
    groups = page.locator("#groups .group")
    expect(groups).to_have_count(4)
    expect(page.locator("[data-group=purchaser] [data-metric=count]")).not_to_have_text("0")
    expect(page.locator("#groups svg.chart")).not_to_have_count(0)
    expect(page.locator("#lifecycle-chart svg rect")).to_have_count(6)
    expect(page.locator("#rfm-chart svg rect")).to_have_count(25)
    expect(page.locator("#method")).to_be_visible()
    shot(page, "overview")
    page.goto(service.url("/console?lang=en"))
    expect(page.locator("h1")).to_have_text("Customer operations index")
    shot(page, "overview-en")
    page.goto(service.url("/console?lang=zh"))


def test_create_a_crowd_from_an_invalid_then_a_valid_rule(page: Page, service: Service) -> None:
    page.goto(service.url("/console/crowds/new"))
    page.fill("input[name=crowd_id]", "vip_women")
    page.fill("input[name=name]", "VIP 女性")
    page.fill("#condition", '{"gender": {"$eqq": "female"}}')
    # the live check names the offending operator, with its JSON path
    expect(page.locator("#live-problems")).to_contain_text("$.condition.gender.$eqq")
    page.click("#save-crowd")
    expect(page.locator("#save-refused")).to_be_visible()
    expect(page.locator('.problems[data-field="condition"]').first).to_contain_text("$.condition.gender.$eqq")
    shot(page, "crowd-editor-refused")
    page.fill("#condition", '{"gender": "female", "member_level_rank": {"$gte": 2}}')
    expect(page.locator("#live-size")).to_have_text(re.compile(r"\d+ 位"))
    expect(page.locator("#live-problems")).to_be_hidden()
    page.fill("#test-attributes", '{"gender": "female", "member_level_rank": 3}')
    page.click("#run-test")
    expect(page.locator("#test-verdict")).to_have_class(re.compile("holds"))
    shot(page, "crowd-editor")
    page.click("#save-crowd")
    expect(page).to_have_url(re.compile(r"/console/crowds/vip_women\?saved=1"))
    expect(page.locator("#saved")).to_be_visible()
    page.goto(service.url("/console/crowds"))
    row = page.locator("tr[data-crowd=vip_women]")
    expect(row).to_be_visible()
    assert int(row.locator("[data-size]").get_attribute("data-size") or "-1") > 0
    shot(page, "crowds")


def test_roll_back_a_crowd_version(page: Page, service: Service) -> None:
    page.goto(service.url("/console/crowds/vip_women/edit"))
    page.fill("input[name=priority]", "42")
    page.fill("#condition", '{"gender": "female"}')
    page.click("#save-crowd")
    expect(page).to_have_url(re.compile(r"\?saved=2"))
    expect(page.locator("#current-rule")).not_to_contain_text("member_level_rank")
    page.click("button[data-rollback='1']")
    expect(page).to_have_url(re.compile(r"\?rolled_back=1"))
    expect(page.locator("#rolled-back")).to_be_visible()
    expect(page.locator("#current-rule")).to_contain_text("member_level_rank")
    expect(page.locator("#versions tr[data-version='3']")).to_contain_text("v1")
    shot(page, "crowd-history")


def test_preview_a_page_as_a_crowd_and_as_a_visitor(page: Page, service: Service) -> None:
    page.goto(service.url("/console/pages"))
    shot(page, "pages")
    page.click("tr[data-page=home] a")
    expect(page.locator("#crowd-versions tr[data-crowd=dormant] td[data-slot=hero]")).to_have_attribute("data-block", "hero_miss_you")
    page.select_option("select[name=crowd]", "dormant")
    page.click("#preview-form button[type=submit]")
    frame = page.frame_locator("#preview-frame")
    expect(frame.locator(".sf-preview-bar")).to_be_visible()  # marked as a preview
    expect(frame.locator("section[data-slot=hero]")).to_have_attribute("data-block", "hero_miss_you")
    expect(page.locator("#preview-why")).to_contain_text("hero_miss_you")
    banner = frame.locator("img.hero-banner")  # the crowd's banner, composed on first fetch
    expect(banner).to_have_js_property("complete", True)
    assert banner.evaluate("i => i.naturalWidth") > 0
    shot(page, "page-preview-crowd")
    page.fill("input[name=visitor]", "newcomer-42")
    page.select_option("select[name=crowd]", "")
    page.click("#preview-form button[type=submit]")
    expect(frame.locator("body")).to_have_attribute("data-visitor", "newcomer-42")
    expect(frame.locator("section[data-slot=hero]")).to_have_attribute("data-block", "hero_welcome")
    shot(page, "page-preview-visitor")


def test_banners_show_each_crowd_variant(page: Page, service: Service) -> None:
    page.goto(service.url("/console/banners"))
    figures = page.locator("[data-banner] figure.variant")
    expect(figures).not_to_have_count(0)
    first = figures.first.locator("img")
    expect(first).to_have_attribute("src", re.compile(r"^/banners/[0-9a-f]{64}\.webp\?spec="))
    for i in range(figures.count()):  # composed on first fetch, then drawn
        img = figures.nth(i).locator("img")
        img.scroll_into_view_if_needed()
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("i => i.naturalWidth") > 0
    shot(page, "banners")
    page.goto(service.url("/console/experiments"))
    expect(page.locator("#experiments")).to_be_visible()


def test_a_forged_post_is_refused(page: Page, service: Service, context: BrowserContext) -> None:
    page.goto(service.url("/console/crowds/vip_women"))
    versions = page.locator("#versions tbody tr").count()
    # a form on our own origin with a wrong token (the cookie goes with it): refused
    page.evaluate(
        """() => {
            const f = document.createElement("form");
            f.method = "post"; f.action = "/console/crowds/vip_women/rollback";
            for (const [k, v] of [["version", "2"], ["csrf_token", "forged"]]) {
                const i = document.createElement("input"); i.name = k; i.value = v; f.appendChild(i);
            }
            document.body.appendChild(f); f.submit();
        }"""
    )
    expect(page.locator("#csrf-refused")).to_be_visible()
    shot(page, "csrf-refused")
    refused = context.request.post(service.url("/console/crowds/vip_women/rollback"), form={"version": "2"})
    assert refused.status == 403
    # nothing was rolled back
    page.goto(service.url("/console/crowds/vip_women"))
    expect(page.locator("#versions tbody tr")).to_have_count(versions)


def test_create_start_and_read_an_experiment(page: Page, service: Service) -> None:
    """An invalid then a valid definition, start, real renders and purchases, the results page."""
    page.goto(service.url("/console/experiments"))
    shot(page, "experiments")
    page.fill("#experiment-id", "hero-test")
    page.fill("#experiment-definition", json.dumps({**EXPERIMENT, "variants": [{"key": "control", "control": True}, {"key": "b", "block": "no_such_block"}]}))
    page.click("#create-experiment")
    expect(page.locator("#experiment-errors")).to_contain_text("$.variants[1].block")
    shot(page, "experiment-refused")
    page.fill("#experiment-definition", json.dumps(EXPERIMENT))
    page.click("#create-experiment")
    expect(page).to_have_url(re.compile(r"/console/experiments/hero-test"))
    page.click("#start-experiment")
    expect(page.locator("#experiment-status")).to_have_attribute("class", re.compile("status-running"))
    # Drive the storefront: 120 visitors see the home page, a third of them buy afterwards.
    h = {"Authorization": f"Bearer {service.merchant_key}"}
    now = time.time()
    with httpx.Client(base_url=service.base, headers=h, timeout=30) as http:
        for i in range(120):
            r = http.post("/v1/shops/demo/render", json={"visitor_id": f"exp-v{i}", "page": "home", "context": {"ts": now - 30}})
            assert r.status_code == 200 and r.json()["experiments"][0]["id"] == "hero-test"
        events = [
            {"event_id": f"exp-buy-{i}", "type": "purchase", "visitor_id": f"exp-v{i}", "ts": now - 10, "amount": 99}
            for i in range(0, 120, 3)
        ]
        assert http.post("/v1/shops/demo/events", json={"events": events}).status_code == 200
    time.sleep(2.5)  # attribution leaves events younger than 2 s for the next look
    page.goto(service.url("/console/experiments/hero-test"))
    rows = page.locator("#variant-results tbody tr")
    expect(rows).to_have_count(2)
    visitors = sum(int(rows.nth(i).locator("td").nth(1).inner_text().replace(",", "")) for i in range(2))
    conversions = sum(int(rows.nth(i).locator("td").nth(2).inner_text().replace(",", "")) for i in range(2))
    assert (visitors, conversions) == (120, 40)
    expect(page.locator("#chart-cumulative svg polyline, #chart-cumulative svg circle").first).to_be_visible()
    expect(page.locator("#chart-lift svg")).to_be_visible()
    expect(page.locator("#srm-ok, #srm-warning")).to_have_count(1)
    guardrails = page.locator("#guardrail-results tbody tr")
    expect(guardrails).to_have_count(4)  # two metrics, two variants
    expect(page.locator('#guardrail-results tr[data-metric="rights_cost"][data-variant="control"] td').nth(3)).to_have_text("—")
    rpv = [page.locator(f'#guardrail-results tr[data-metric="revenue_per_visitor"][data-variant="{k}"] td').nth(2).inner_text() for k in ("control", "miss_you")]
    assert all(any(ch.isdigit() for ch in x) for x in rpv), rpv
    shot(page, "experiment-results")


NEWCOMER20 = {
    "name": "新客满199减20", "kind": "amount_off", "value": {"amount": 20, "min_spend": 199}, "mode": "crowd",
    "crowds": ["new_visitors"], "budget": {"money": 1000, "count": 200}, "pacing": {"daily_count": 100},
}


def test_rights_list_and_a_rights_page_with_real_grants(page: Page, service: Service) -> None:
    """A crowd-mode right made through the API, granted by three real renders, redeemed by one
    purchase naming it: the list and its page show those figures and the audited decisions."""
    h = {"Authorization": f"Bearer {service.merchant_key}"}
    with httpx.Client(base_url=service.base, headers=h, timeout=30) as http:
        assert http.put("/v1/shops/demo/rights/newcomer20", json=NEWCOMER20).status_code == 201
        for i in range(3):  # new visitors: in the demo's new_visitors crowd
            r = http.post("/v1/shops/demo/render", json={"visitor_id": f"rights-v{i}", "page": "home"})
            assert r.status_code == 200 and r.json()["rights"]["granted"]["id"] == "newcomer20", r.text
        event = {"event_id": "rights-buy-0", "type": "purchase", "visitor_id": "rights-v0", "ts": time.time(), "amount": 259, "right_id": "newcomer20"}
        bought = http.post("/v1/shops/demo/events", json={"events": [event]})
        assert bought.json()["rights"][0]["result"] == "redeemed"
    page.goto(service.url("/console/experiments"))
    page.click("a[data-nav=rights]")
    expect(page).to_have_url(service.url("/console/rights"))
    expect(page.locator("a[data-nav=rights]")).to_have_text("权益")
    row = page.locator("tr[data-right=newcomer20]")
    expect(row.locator("[data-metric=granted]")).to_have_text("3")
    expect(row.locator("[data-metric=redeemed]")).to_have_text("1 (33.3%)")
    expect(row.locator("[data-metric=spend]")).to_have_text("¥20.00")
    expect(row.locator("[data-metric=remaining_money]")).to_have_text("¥940.00")  # 3 grants reserved at ¥20 each
    expect(row.locator("[data-metric=remaining_count]")).to_have_text("197")
    expect(row.locator("[data-metric=today]")).to_have_text(re.compile(r"^3 / \d+$"))
    expect(row).to_contain_text("满减")
    expect(row).to_contain_text("随机探索样本不足")
    # the decision log: a download behind the login (these grants' terms are not over, so only its header)
    expect(page.locator("#decision-log")).to_have_text("下载决策日志（CSV）")
    log = page.request.get(service.url("/console/rights/log.csv"))
    assert log.status == 200 and log.headers["content-type"].startswith("text/csv"), log.text()
    assert log.text().splitlines()[0].startswith("decided_at,visitor,grant_id,arm,explore,propensity,")
    with httpx.Client(base_url=service.base, timeout=30) as anonymous:  # without the console's session: to the login
        assert anonymous.get("/console/rights/log.csv").status_code in (302, 303, 401)
    # the create form refuses an unknown crowd at its path, as the API does
    page.fill("#right-id", "ghost")
    page.fill("#right-definition", json.dumps({**NEWCOMER20, "crowds": ["no_such_crowd"]}))
    page.click("#save-right")
    expect(page.locator("#right-errors")).to_contain_text("$.crowds[0]")
    page.goto(service.url("/console/rights"))
    shot(page, "rights")
    page.click("tr[data-right=newcomer20] a")
    expect(page).to_have_url(service.url("/console/rights/newcomer20"))
    figures = page.locator("#figures")
    expect(figures.locator("[data-metric=granted]")).to_have_text("3")
    expect(figures.locator("[data-metric=redeemed]")).to_have_text("1")
    expect(figures.locator("[data-metric=spend]")).to_have_text("¥20.00")
    expect(figures.locator("[data-metric=reserved]")).to_have_text("¥60.00")
    expect(page.locator("#chart-budget svg rect")).to_have_count(4)
    expect(page.locator("#definition")).to_contain_text('"new_visitors"')
    decisions = page.locator("#audit tbody tr")
    expect(decisions).to_have_count(3)
    expect(decisions.first).to_have_attribute("data-visitor", "rights-v2")  # the newest first
    expect(decisions.first.locator("td[data-granted]")).to_have_text("newcomer20")
    expect(decisions.first).to_contain_text("the same for everyone in crowd new_visitors")
    shot(page, "right")


def test_logout_ends_the_session(page: Page, service: Service) -> None:
    page.goto(service.url("/console"))
    page.click("button[data-action=logout]")
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.goto(service.url("/console/pages"))
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
