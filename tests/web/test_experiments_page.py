"""The Experiments page on a real server over experiments seeded in its warehouse: the list, one experiment's
results (arms, the relative effect and its interval, a guardrail's harm shown but not acted on), the
sample-ratio warning, a stopped arm's reason, an experiment without exposures, in Chinese and English —
over HTTP, then in real Chromium (the sequential chart drawn, no string of the other language)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from babel.numbers import format_percent
from page_walk import screenshot, texts, untranslated

from liveloop.analytics import experiments as service
from liveloop.experiments import store
from liveloop.warehouse import Warehouse

ARMS = ("control", "treatment")


def _orders(wh: Warehouse, rows: list[tuple[str, str, datetime, str, float]]) -> None:
    with wh.transaction() as con:
        con.executemany(
            "INSERT INTO orders (order_id, user_id, ts, status, amount) VALUES (?, ?, ?, ?, ?)", rows
        )


def _seed(expected: dict[str, Any]) -> Any:
    """Three experiments in three layers: ``main`` (treatment lifts GMV by half and refunds a third of its
    orders: a guardrail harm), ``srm`` (a third of the treatment's exposures lost: a sample-ratio mismatch;
    its treatment stopped by a guardrail) and ``empty`` (no exposures)."""

    def seed(wh: Warehouse) -> None:
        start = datetime.now(UTC) - timedelta(days=12)
        rng = np.random.default_rng(7)
        main = service.create(
            wh,
            {"name": "首页排序 A/B", "arms": list(ARMS), "metrics": ["gmv", "aov"],
             "guardrails": ["refund_rate"], "pre_days": 30},
        )  # fmt: skip
        srm = service.create(
            wh,
            {"name": "Checkout button", "arms": list(ARMS), "layer": "checkout", "metrics": ["gmv"],
             "sequential": False, "pre_days": 0},
        )  # fmt: skip
        empty = service.create(wh, {"name": "Coupon size", "arms": list(ARMS), "layer": "coupons"})
        exposures, orders = [], []
        for i in range(1200):
            user = f"u{i:05d}"
            at = start + timedelta(hours=i % 216)
            taste = float(rng.gamma(0.6, 60.0))
            for exp in (main, srm):
                arm = exp.place(user).arm
                assert arm is not None
                if exp is srm and arm == "treatment" and i % 3 == 0:
                    continue  # lost exposures: the split no longer matches 50/50
                exposures.append((exp.experiment_id, user, arm, at))
            arm = main.place(user).arm
            if rng.random() < 0.5:
                orders.append((f"pre{i}", user, at - timedelta(days=5), "paid", round(taste + 1, 2)))
            if rng.random() < 0.35 * (1.5 if arm == "treatment" else 1.0):
                refunded = arm == "treatment" and i % 3 == 0
                status = "refunded" if refunded else "paid"
                orders.append((f"post{i}", user, at + timedelta(days=1), status, round(taste + 5, 2)))
        store.log_exposures(wh, exposures)
        _orders(wh, orders)
        store.stop_arm(wh, srm.experiment_id, "treatment", "guardrail refund_rate is worse than control")
        res = service.results(wh, main.experiment_id, act=False, actor=None)
        assert res["guardrail_breaches"] == [{"arm": "treatment", "guardrail": "refund_rate"}]
        assert service.results(wh, srm.experiment_id, act=False)["srm"]["mismatch"]
        expected.update(
            main=main.experiment_id, srm=srm.experiment_id, empty=empty.experiment_id, results=res
        )

    return seed


@pytest.fixture
def experiment_server(live_server_factory) -> tuple[Any, dict[str, Any]]:
    expected: dict[str, Any] = {}
    return live_server_factory(seed=_seed(expected)), expected


def _get(client: httpx.Client, path: str, lang: str) -> httpx.Response:
    client.cookies.set("ll_lang", lang)
    return client.get(path)


def _cells(html: str, row: str) -> list[str]:
    """The texts of the cells of the first ``<tr data-arm=row>`` after the metric table starts."""
    found = re.search(rf'<tr data-arm="{row}"[^>]*>(.*?)</tr>', html, re.S)
    assert found, row
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", found[1], re.S)]


def _section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</section>", start)]


def test_experiments_pages_over_http(experiment_server) -> None:
    srv, expected = experiment_server
    main, srm, empty = expected["main"], expected["srm"], expected["empty"]
    gmv = expected["results"]["metrics"][0]
    effect = gmv["effects"][0]
    with srv.client("analyst") as c:
        for lang in ("zh", "en"):
            listing = _get(c, "/experiments", lang)
            assert listing.status_code == 200
            html = listing.text
            for exp_id in (main, srm, empty):
                assert f'href="/experiments/{exp_id}"' in html
            assert ("实验" if lang == "zh" else "Experiments") in html
            assert ("进行中" if lang == "zh" else "running") in html
            assert '<a href="/experiments"' in html  # its menu entry
            stopped = _get(c, "/experiments?status=stopped", lang)
            assert stopped.status_code == 200 and main not in stopped.text

            page = _get(c, f"/experiments/{main}", lang)
            assert page.status_code == 200
            html = page.text
            assert 'id="srm-warning"' not in html
            metric = _section(html, "metric-gmv")
            control, treatment = _cells(metric, "control"), _cells(metric, "treatment")
            assert control[0].startswith("control") and treatment[0] == "treatment"
            assert control[1].replace(",", "") == str(gmv["arms"][0]["users"])
            assert control[2] == f"¥{gmv['arms'][0]['value']:,.2f}"  # money with the currency symbol
            locale = "zh_Hans_CN" if lang == "zh" else "en_US"
            pattern = "+#,##0.0%;-#,##0.0%"
            assert treatment[5] == format_percent(effect["relative"], format=pattern, locale=locale)
            low, high = (format_percent(x, format=pattern, locale=locale) for x in effect["ci95_relative"])
            assert treatment[6] == (f"{low} 至 {high}" if lang == "zh" else f"{low} to {high}")
            assert treatment[7] == f"{effect['p_adjusted']:.3f}" or treatment[7].startswith("<")
            cuped = gmv["cuped"]["variance_reduction"]
            assert cuped and f"{cuped * 100:.1f}%" in metric
            guardrail = _section(html, "guardrail-refund_rate")
            assert 'class="flag bad harm"' in guardrail
            assert ("有害" if lang == "zh" else "harm: worse than control") in guardrail
            refund = _cells(guardrail, "treatment")[2]
            assert refund.endswith("%")  # a ratio as a percentage
            assert 'id="experiment-history"' in html and 'class="chart"' in html

            page = _get(c, f"/experiments/{srm}", lang)
            assert page.status_code == 200
            html = page.text
            warning = html[
                html.index('id="srm-warning"') : html.index("</div>", html.index('id="srm-warning"'))
            ]
            assert ("样本比例不匹配" if lang == "zh" else "Sample-ratio mismatch") in warning
            assert html.index('id="srm-warning"') < html.index('id="experiment-facts"')  # shown first
            reason = _section(html, "stopped-arms")
            assert "treatment" in reason
            assert (
                "护栏指标“退款率”比对照组差" if lang == "zh" else "the guardrail refund rate was worse"
            ) in reason

            page = _get(c, f"/experiments/{empty}", lang)
            assert page.status_code == 200
            assert 'id="no-exposures"' in page.text and "Traceback" not in page.text
            assert ("还没有用户进入这个实验" if lang == "zh" else "No user has been exposed") in page.text

        missing = _get(c, "/experiments/exp_0000000000000000", "en")
        assert missing.status_code == 404 and 'id="experiment-missing"' in missing.text
        # a page view never applies the guardrails: the harmed arm still runs
        definition = c.get(f"/v1/experiments/{main}").json()
        assert definition["stopped_arms"] == {} and definition["status"] == "running"
    for role, status in (("marketer", 200), ("host", 403), ("ingest", 403)):
        with srv.client(role, follow_redirects=False) as c:
            assert c.get("/experiments").status_code == status, role
            assert c.get(f"/experiments/{main}").status_code == status, role


def test_experiments_pages_in_chromium(experiment_server, browser_page, dashboard_login) -> None:
    srv, expected = experiment_server
    page = browser_page
    page.goto(f"{srv.base_url}/experiments")
    dashboard_login(page, srv, "marketer")
    for lang in ("zh", "en"):
        page.goto(f"{srv.base_url}/lang?lang={lang}&next=/experiments")
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == ("实验" if lang == "zh" else "Experiments")
        assert page.locator("#experiment-table tbody tr").count() == 3
        assert page.locator("nav.sidebar a[href='/experiments']").count() == 1
        assert untranslated(texts(page), lang) == []
        screenshot(page, "experiments", lang)
        page.click(f"#experiment-table a[href='/experiments/{expected['main']}']")
        page.wait_for_selector("#experiment-history .chart .main-svg")
        # one trace of relative effects with its error bars, and the dashed zero line
        assert page.locator("#experiment-history g.scatterlayer g.trace").count() == 1
        assert page.locator("#experiment-history g.errorbar").count() >= 3
        assert (
            page.locator("#experiment-history path.hline, #experiment-history .shapelayer path").count() >= 1
        )
        # the legend names the arm (data, not a translation): every other text is in the page's language
        assert untranslated([t for t in texts(page) if t not in ARMS], lang) == []
        screenshot(page, "experiment", lang)
        page.goto(f"{srv.base_url}/experiments/{expected['srm']}")
        assert page.locator("#srm-warning").is_visible()
        assert untranslated([t for t in texts(page) if t not in ARMS], lang) == []
        screenshot(page, "experiment-srm", lang)
        page.goto(f"{srv.base_url}/experiments/{expected['empty']}")
        assert page.locator("#no-exposures").is_visible()
        assert untranslated(texts(page), lang) == []
    assert page.console_errors == []
