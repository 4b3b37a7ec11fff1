"""The Pricing & Budget page on a real server over a simulated month with shelf markdowns, in real Chromium:
elasticities per category, recommendations with reasons in words of the page's language, what-if with the
price history, applying a recommended price (marketers only; an analyst sees no Apply), a refused
apply showing the rule's reason without writing anything, the coupon offer policy's round and what it learnt
per lifecycle stage, the newest media budget plan against its spend, and the bid advice per audience."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from page_walk import texts, untranslated

from liveloop.budget import plans as budget_plans
from liveloop.campaigns import coupons
from liveloop.campaigns.offer_rounds import issue_round
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.pricing import fit, offer_policies, recommend_prices
from liveloop.profiles.build import build_profiles
from liveloop.warehouse import Warehouse


def _seed(expected: dict[str, Any]) -> Any:
    def seed(wh: Warehouse) -> None:
        simulate_into_warehouse(
            wh, scale="small", seed=9, users=500, days=30, markdown_rate=0.1, media_budget=400
        )
        expected["fit"] = fit(wh)
        model = budget_plans.fit_model(wh, "Asia/Shanghai")
        total = 7 * sum(c.last_spend for c in model.curves)
        expected["plan"] = budget_plans.create_plan(
            wh,
            "Asia/Shanghai",
            name="下周投放",
            starts=date.fromisoformat(model.end),
            days=7,
            total=total,
            model=model,
        )
        expected["recs"] = recommend_prices(wh, limit=500)
        build_profiles(wh)
        specs = [
            coupons.CouponSpec(name=f"直播间{z}折券", percent_off=Decimal(off), valid_days=1, repeatable=True)
            for z, off in ((9, 10), (8, 20))
        ]
        menu = [coupons.create(wh, spec, actor="t")["coupon_id"] for spec in specs]
        policy = offer_policies.create_policy(wh, "今晚的券", menu, budget=300.0, rounds=5)
        expected["offers"] = issue_round(wh, policy["policy_id"], actor="t")

    return seed


@pytest.mark.browser
def test_pricing_page_in_chromium(live_server_factory, browser_page, dashboard_login) -> None:
    expected: dict[str, Any] = {}
    srv = live_server_factory(seed=_seed(expected))
    page = browser_page
    page.goto(f"{srv.base_url}/pricing")
    dashboard_login(page, srv, "marketer")
    for lang, heading, reason in (("zh", "定价与预算", "弹性"), ("en", "Pricing & Budget", "elasticity")):
        page.goto(f"{srv.base_url}/lang?lang={lang}&next=/pricing")
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == heading
        assert untranslated(texts(page), lang) == []
        identified = [c for c in expected["fit"]["categories"] if c["identified"]]
        assert page.locator("#elasticity-table tbody tr").count() == len(expected["fit"]["categories"])
        assert page.locator("#elasticities .js-plotly-plot").count() == 1 and identified
        rows = page.locator("#recommendation-table tbody tr")
        assert rows.count() == min(30, len(expected["recs"]["recommendations"]))
        assert reason in rows.first.locator("ul.reasons").inner_text()
        assert page.locator("#bid-table tbody tr").count() >= 2  # the audiences and everyone
        offers = expected["offers"]
        assert page.locator(f"#offers h3[data-policy='{offers['policy_id']}']").count() == 1
        stages = len(offers["offers"])
        assert page.locator("#offers .offers-table tbody tr").count() == stages * 3  # no coupon and two
        assert page.locator("#offers .pill").count() == stages
        assert ("不发券" if lang == "zh" else "no coupon") in page.locator("#offers .pill").first.inner_text()
        plan = expected["plan"]
        assert plan["plan_id"] in page.locator("#budget-summary").inner_text()
        assert page.locator("#budget .budget-table tbody tr").count() == 4
        assert page.locator("#budget .js-plotly-plot").count() == 1
        feed = page.locator("#budget tr[data-channel='feed_ads']").inner_text()
        assert ("信息流广告" if lang == "zh" else "feed ads") in feed
        assert f"{plan['lines'][0]['planned_daily']:,.2f}" in feed.replace("¥", "")
    moving = [r for r in expected["recs"]["recommendations"] if r["action"] != "hold"]
    first = moving[0]
    row = page.locator(f"#recommendation-table tr[data-product='{first['product_id']}']")
    row.locator("button").click()
    page.wait_for_selector("#applied")
    history = page.locator("#price-history tbody tr").first.inner_text()
    assert f"{first['price']:,.2f}" in history.replace("¥", "")
    assert page.console_errors == []
    # the same price again from the same moment: refused (a 422 page) with the rule's reason, nothing written
    page.goto(f"{srv.base_url}/pricing")
    page.locator(f"#recommendation-table tr[data-product='{first['product_id']}'] button").click()
    page.wait_for_selector("#apply-error")
    assert "one price per product" in page.locator("#apply-error").inner_text()
    # what-if
    page.fill("#what-if-product", first["product_id"])
    page.fill("#what-if-price", "10")
    page.click("#what-if-form button")
    page.wait_for_selector("#what-if-table")
    assert page.locator("#what-if-table tbody tr").count() >= 2
    assert [e for e in page.console_errors if "422" not in e] == []
    # an analyst reads the page but gets no Apply button
    page.context.clear_cookies()
    dashboard_login(page, srv, "analyst")
    page.goto(f"{srv.base_url}/pricing")
    assert page.locator("#recommendation-table tbody tr").count() > 0
    assert page.locator("#recommendation-table button").count() == 0
