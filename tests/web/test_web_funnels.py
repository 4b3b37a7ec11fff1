"""The Funnels page on a real server over a small simulated world, in real Chromium: a funnel chart and
table that agree with the library, a target tile with its alert, a bad step shown by its form, and the
page in Chinese and English."""

from __future__ import annotations

from typing import Any

import pytest
from page_walk import page_untranslated, screenshot

from liveloop.analytics import funnels, targets
from liveloop.warehouse import Warehouse


def _seed(expected: dict[str, Any]) -> Any:
    def seed(wh: Warehouse) -> None:
        from liveloop.datasets.simulator import simulate_into_warehouse

        simulate_into_warehouse(wh, scale="small", seed=11, users=300, days=5)
        spec = funnels.FunnelSpec(("view", "add_to_cart", "purchase"), window_s=86400)
        expected["users"] = [s["users"] for s in funnels.run(wh, spec)["steps"]]
        targets.set_target(wh, targets.Target("gmv", "month", 1e9), actor="test")  # far off: an alert

    return seed


@pytest.fixture
def funnel_server(live_server_factory) -> tuple[Any, dict[str, Any]]:
    expected: dict[str, Any] = {}
    return live_server_factory(seed=_seed(expected)), expected


def test_funnels_page(funnel_server, browser_page, dashboard_login) -> None:
    srv, expected = funnel_server
    page = browser_page
    page.goto(f"{srv.base_url}/funnels")
    dashboard_login(page, srv, "marketer")
    query = "preset=&steps=view,add_to_cart,purchase&window=86400&mode=ordered&breakdown=channel"
    for lang in ("zh", "en"):
        page.goto(f"{srv.base_url}/lang?lang={lang}&next=/funnels")
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == ("漏斗" if lang == "zh" else "Funnels")
        assert page_untranslated(page, lang) == []  # the live preset
        page.goto(f"{srv.base_url}/funnels?{query}")
        page.wait_for_load_state("networkidle")
        cells = page.locator("#funnel-steps-table tbody tr td:nth-child(2)").all_inner_texts()
        assert [int(c.replace(",", "")) for c in cells] == expected["users"]
        assert page.locator("#funnel .chart .main-svg").count() >= 1  # Plotly drew it
        assert page.locator(".target-off_track[data-metric=gmv]").count() == 1
        assert page.locator("#kpi-targets .alert").count() == 1
        assert page_untranslated(page, lang) == []
        assert page.locator("#cohort-table").count() == 1
        rates = page.locator("#cohort-table tbody tr").first.locator("td.num").all_inner_texts()
        assert rates[1] in ("100%", "100.0%")  # a cohort all bought in its first week
        screenshot(page, "funnels", lang)
    page.goto(f"{srv.base_url}/funnels?preset=&steps=view,teleport&window=3600")
    assert page.locator("#funnel-error").get_attribute("data-field") == "steps[1]"
    assert page.console_errors == []


def test_funnels_page_roles(funnel_server) -> None:
    srv, _ = funnel_server
    for role, status in (("analyst", 200), ("marketer", 200), ("host", 200), ("ingest", 403)):
        with srv.client(role, follow_redirects=False) as c:
            assert c.get("/funnels").status_code == status, role
