"""The dashboard in real headless Chromium: login, Overview charts, language switch, no console errors."""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def test_login_then_overview_renders_charts(server, browser_page, dashboard_login):
    page = browser_page
    page.goto(f"{server.base_url}/overview")
    assert page.url.startswith(f"{server.base_url}/login")
    dashboard_login(page, server, "analyst")
    page.goto(f"{server.base_url}/overview")
    page.wait_for_selector(".chart .main-svg")
    assert page.locator(".chart").count() == 3
    assert page.locator(".chart svg.main-svg").count() >= 3
    assert page.locator("nav.sidebar a[href='/overview']").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
    assert page.console_errors == []
