"""The dashboard in real headless Chromium: login, Overview charts, language switch, no console errors."""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def _small_world(wh):
    from liveloop.datasets.simulator import simulate_into_warehouse

    simulate_into_warehouse(wh, scale="small", seed=11, users=150, days=3)


def test_login_overview_charts_language_switch_and_screenshot(
    live_server_factory, browser_page, dashboard_login
):
    server = live_server_factory(seed=_small_world)
    page = browser_page
    page.goto(f"{server.base_url}/overview")
    assert page.url.startswith(f"{server.base_url}/login")  # no session: sent to the login page
    dashboard_login(page, server, "marketer")
    assert page.url.rstrip("/").endswith("/overview")
    page.wait_for_selector(".chart .main-svg")
    assert page.locator("div.chart").count() == 2
    for chart in page.locator("div.chart").all():  # each chart drew bars from real warehouse data
        assert chart.locator("svg.main-svg").count() >= 1
        assert chart.locator("g.trace.bars path, g.point path").count() > 0
    assert page.locator("#kpi-tiles .tile").count() > 0
    assert page.locator("nav.sidebar a[href='/overview']").count() == 1
    assert page.locator("h1").inner_text() == "概览"  # the browser asked for zh-CN

    def texts(selector: str) -> list[str]:  # SVG text has no innerText
        return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")

    money_ticks = texts("div.chart >> nth=0 >> .ytick text")
    assert money_ticks and all(t.startswith("¥") for t in money_ticks) and money_ticks[0] == "¥0"
    assert texts("div.chart >> nth=0 >> .y2tick text")[0] == "0"  # amounts start at zero
    top_ticks = texts("div.chart >> nth=1 >> .xtick text")
    assert top_ticks and all(t.startswith("¥") for t in top_ticks)
    dates = " ".join(texts("div.chart >> nth=0 >> .xtick text"))
    assert dates and "Nov" not in dates and "Dec" not in dates  # zh-CN dates
    page.click("#lang-switch")
    page.wait_for_selector(".chart .main-svg")
    assert page.locator("h1").inner_text() == "Overview"
    assert page.locator("#lang-switch").inner_text() == "中文"
    page.reload()
    assert page.locator("h1").inner_text() == "Overview"  # remembered in a cookie
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)
    assert (ARTIFACTS / "dashboard-overview.png").stat().st_size > 10_000
    cookie = next(c for c in page.context.cookies() if c["name"] == "ll_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.click("#logout-form button[type=submit]")  # log out (a CSRF-protected form)
    page.wait_for_url("**/login")
    page.goto(f"{server.base_url}/overview")
    assert "/login" in page.url
    assert page.console_errors == []


def test_empty_warehouse_overview_and_offline_docs(server, browser_page, dashboard_login):
    page = browser_page
    dashboard_login(page, server, "analyst")
    page.goto(f"{server.base_url}/")
    # the shared server may be empty (how to load the demo world) or hold other tests' data (the tiles)
    assert page.locator("#kpi-tiles, p.empty").count() >= 1
    page.goto(f"{server.base_url}/data")
    page.wait_for_selector(".chart .main-svg")
    page.goto(f"{server.base_url}/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "liveloop" in page.locator(".swagger-ui .info .title").inner_text()
    requested = []
    page.on("request", lambda req: requested.append(req.url))
    page.reload()
    page.wait_for_selector(".swagger-ui .info .title")
    assert requested and all(url.startswith(server.base_url) for url in requested)  # nothing off the box
    assert page.console_errors == []


def test_a_bad_key_shows_an_error_on_the_login_page(server, browser_page):
    page = browser_page
    page.goto(f"{server.base_url}/login")
    page.fill("#key", "ll_0123456789ab.not-a-real-secret-at-all")
    page.click("#login-form button[type=submit]")
    assert page.locator(".error").is_visible()
    assert "/login" in page.url
