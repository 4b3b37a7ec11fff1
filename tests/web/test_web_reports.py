"""Reports and the measurement pages on a real server over a small simulated world: a fast schedule e-mails
the weekly report (HTML and PDF) to a real local SMTP server through the campaign e-mail channel; the API
writes, lists and serves reports with clear errors; in real Chromium the Overview's KPI tiles, the Data,
Sessions, Reports and Channels & Cost pages in Chinese and English, a post-live report written from the
Sessions page, and the CSV / Excel exports."""

from __future__ import annotations

import io
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from page_walk import page_untranslated, screenshot

from liveloop.analytics import attribution, funnels, targets
from liveloop.analytics.overview import TILES
from liveloop.campaigns.sinks import LocalSmtp
from liveloop.warehouse import Warehouse


def _seed(expected: dict[str, Any]) -> Any:
    def seed(wh: Warehouse) -> None:
        from liveloop.datasets.simulator import simulate_into_warehouse

        simulate_into_warehouse(wh, scale="small", seed=11, users=300, days=5)
        targets.set_target(wh, targets.Target("gmv", "week", 1e9), actor="test")  # far off: off track
        expected["attribution"] = attribution.attribute(wh, model="markov")
        newest = targets.newest_data(wh)
        expected["sessions"] = wh.sql("SELECT count(*) FROM live_sessions")[0][0]
        expected["newest"] = newest

    return seed


@pytest.fixture(scope="module")
def smtp() -> Any:
    with LocalSmtp() as server:
        yield server


@pytest.fixture
def report_server(live_server_factory) -> tuple[Any, dict[str, Any]]:
    expected: dict[str, Any] = {}
    srv = live_server_factory(seed=_seed(expected), env={"LIVELOOP_REPORTS_EVERY_S": "1"})
    return srv, expected


@pytest.mark.browser
def test_a_fast_schedule_mails_the_weekly_report(report_server, smtp) -> None:
    srv, _ = report_server
    with srv.client("admin") as admin:
        put = admin.put(
            "/v1/channels/email",
            json={"kind": "smtp", "config": {"url": smtp.url, "from": "reports@liveloop.test"}},
        )
        assert put.status_code == 200, put.text
    with srv.client("marketer") as c:
        made = c.post(
            "/v1/reports/schedules",
            json={"kind": "weekly", "recipients": ["ops@shop.example"], "every": "1h"},
        )
        assert made.status_code == 201, made.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            m["to"] == ["ops@shop.example"] for m in smtp.box.mails
        ):
            time.sleep(0.5)
        mail = next(m for m in smtp.box.mails if m["to"] == ["ops@shop.example"])
        assert mail["subject"].startswith("营销周报")
        names = sorted(a["filename"] for a in mail["attachments"])
        assert names[0].endswith("-zh.html") and names[1].endswith("-zh.pdf")
        assert next(a["body"] for a in mail["attachments"] if a["filename"].endswith(".pdf")).startswith(
            b"%PDF"
        )
        listed = c.get("/v1/reports/schedules").json()
        while time.monotonic() < deadline and listed[0]["last_status"] is None:
            time.sleep(0.2)  # the status is written just after the mail leaves
            listed = c.get("/v1/reports/schedules").json()
        assert (
            listed[0]["recipients"] == ["o***@shop.example"]
            and listed[0]["last_status"] == "sent 1 report(s)"
        )
        archive = c.get("/v1/reports", params={"kind": "weekly"}).json()
        assert archive["items"][0]["schedule_id"] == made.json()["schedule_id"]


def test_reports_api(report_server) -> None:
    srv, _ = report_server
    with srv.client("analyst") as c:
        made = c.post("/v1/reports", json={"kind": "weekly"})
        assert made.status_code == 201, made.text
        rid = made.json()["report_id"]
        got = c.get(f"/v1/reports/{rid}").json()
        assert got["data"]["kind"] == "weekly" and len(got["data"]["kpis"]) > 5
        html = c.get(f"/v1/reports/{rid}/file", params={"lang": "en"})
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert "Weekly marketing report" in html.text
        session = c.get("/v1/reports", params={"kind": "post_live"}).json()
        assert session["total"] == 0
        for body, status, field in (
            ({"kind": "post_live"}, 422, "session_id"),
            ({"kind": "post_live", "session_id": "nope"}, 404, "session_id"),
            ({"kind": "weekly", "start": "2026-11-10"}, 422, "start"),
            ({"kind": "monthly", "start": "2020-01-01"}, 409, "start"),
            ({"kind": "daily"}, 422, "kind"),
        ):
            r = c.post("/v1/reports", json=body)
            assert r.status_code == status, (body, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["field"] == field
        assert c.get("/v1/reports/rep_nope").status_code == 404
        assert c.get(f"/v1/reports/{rid}/file", params={"format": "docx"}).status_code == 422
        assert c.post("/v1/reports/schedules", json={"kind": "weekly", "recipients": ["x"]}).json()[
            "field"
        ] == ("recipients")
    with srv.client("ingest") as c:
        assert c.get("/v1/reports").status_code == 403
    with srv.client("host") as c:
        assert c.get("/v1/reports").status_code == 200
        assert c.post("/v1/reports", json={"kind": "weekly"}).status_code == 403


@pytest.mark.browser
def test_measurement_pages(report_server, browser_page, dashboard_login) -> None:
    srv, expected = report_server
    page = browser_page
    page.goto(f"{srv.base_url}/overview")
    dashboard_login(page, srv, "marketer")
    for lang in ("zh", "en"):
        page.goto(f"{srv.base_url}/lang?lang={lang}&next=/overview")
        page.wait_for_load_state("networkidle")
        tiles = page.locator("#kpi-tiles .tile")
        assert tiles.count() == len(TILES)
        assert page.locator(".tile[data-metric=gmv].target-off_track").count() == 1
        assert page.locator("#kpi-tiles svg.spark").count() >= 5
        assert page.locator("div.chart").count() == 2 and page.locator("div.chart .main-svg").count() >= 2
        assert page_untranslated(page, lang) == []
        screenshot(page, "overview", lang)
        page.goto(f"{srv.base_url}/data")
        assert int(page.locator("#data-status td.num").first.inner_text().replace(",", "")) > 0
        assert page_untranslated(page, lang) == []
        page.goto(f"{srv.base_url}/channels")
        page.wait_for_load_state("networkidle")
        shown = page.locator("#attribution-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.touch)")
        assert shown == [r["touch"] for r in expected["attribution"]["rows"]]
        assert page_untranslated(page, lang) == []
        screenshot(page, "channels", lang)
        page.goto(f"{srv.base_url}/sessions")
        assert page.locator("#session-table tbody tr").count() == min(50, expected["sessions"])
        assert page_untranslated(page, lang) == []
        page.goto(f"{srv.base_url}/reports")
        assert page_untranslated(page, lang) == []
    # the tiles show the registry's numbers
    page.goto(f"{srv.base_url}/overview")
    gmv_text = page.locator(".tile[data-metric=orders] .value").inner_text()
    newest = expected["newest"]
    end = newest + timedelta(microseconds=1)
    with srv.client("analyst") as c:
        got = c.get(
            "/v1/kpis",
            params={
                "metric": "orders",
                "start": (end - timedelta(days=7)).isoformat(),
                "end": end.isoformat(),
            },
        ).json()
    assert int(gmv_text.replace(",", "")) == got["rows"][0]["orders"]
    # write a post-live report from the Sessions page and open it
    page.goto(f"{srv.base_url}/sessions")
    row = page.locator("#session-table tbody tr").filter(has=page.locator("button.write-report")).first
    sid = row.get_attribute("data-session")
    row.locator("button.write-report").click()
    page.wait_for_url("**/reports/*/view")
    assert page.locator("h1").inner_text() == "Post-live report"
    assert sid in page.content()
    page.goto(f"{srv.base_url}/sessions")
    assert page.locator(f"tr[data-session='{sid}'] a.report-link").count() == 1
    # the archive: the PDF downloads, the exports open
    page.goto(f"{srv.base_url}/reports")
    with page.expect_download() as got_pdf:
        page.locator("#report-table a.pdf-zh").first.click()
    assert got_pdf.value.suggested_filename.endswith("-zh.pdf")
    assert Path(got_pdf.value.path()).read_bytes()[:4] == b"%PDF"
    page.select_option("#report-kind", "weekly")
    page.click("#report-form button[type=submit]")
    page.wait_for_url("**/reports/*/view")
    assert page.locator("h1").inner_text() == "Weekly marketing report"
    with srv.client("marketer") as c:
        csv = c.get("/sessions", params={"export": "csv"}, headers={"accept": "text/html"})
        assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
        assert csv.text.count("\n") == min(expected["sessions"], 200) + 1
        xlsx = c.get("/channels", params={"export": "xlsx"}, headers={"accept": "text/html"})
        sheet = pd.read_excel(io.BytesIO(xlsx.content))
        assert list(sheet["touch"]) == [r["touch"] for r in expected["attribution"]["rows"]]
        assert (
            c.get("/overview", params={"export": "pdf"}, headers={"accept": "text/html"}).status_code == 422
        )
        funnel = c.get(
            "/funnels",
            params={"preset": "live", "breakdown": "channel", "export": "csv"},
            headers={"accept": "text/html"},
        )
        table = pd.read_csv(io.StringIO(funnel.content.decode("utf-8-sig")))
        assert list(table.loc[table["breakdown"] == "all", "step"]) == list(funnels.PRESETS["live"])
        products = c.get("/products", params={"export": "xlsx"}, headers={"accept": "text/html"})
        assert len(pd.read_excel(io.BytesIO(products.content))) > 0
        campaigns = c.get("/campaigns", params={"export": "csv"}, headers={"accept": "text/html"})
        assert campaigns.status_code == 200 and campaigns.content.startswith("\ufeff".encode())
    assert page.console_errors == []


@pytest.mark.browser
def test_kpis_page_every_metric_at_a_grain_and_penetration(
    report_server, browser_page, dashboard_login
) -> None:
    srv, expected = report_server
    page = browser_page
    page.goto(f"{srv.base_url}/kpis")
    dashboard_login(page, srv, "analyst")
    end = expected["newest"] + timedelta(microseconds=1)
    with srv.client("analyst") as c:
        want = c.get(
            "/v1/kpis",
            params={
                "grain": "channel",
                "start": (end - timedelta(days=30)).isoformat(),
                "end": end.isoformat(),
            },
        ).json()
        pen = c.get("/v1/kpis/penetration", params={"category": "beauty"}).json()
        assert c.get("/v1/kpis/penetration", params={"category": "toys"}).json()["field"] == "category"
    for lang in ("zh", "en"):
        page.goto(
            f"{srv.base_url}/lang?lang={lang}&next=/kpis%3Fgrain%3Dchannel%26days%3D30%26category%3Dbeauty"
        )
        page.wait_for_load_state("networkidle")
        headers = page.locator("#kpi-table thead th[data-metric]").evaluate_all(
            "hs => hs.map(h => h.dataset.metric)"
        )
        assert headers == [m["key"] for m in want["metrics"]]
        assert page.locator("#kpi-table tbody tr").count() == len(want["rows"])
        cells = page.locator("#pen-table tbody tr.overall td.num").all_inner_texts()
        assert int(cells[1].replace(",", "")) == pen["overall"]["buyers"]
        assert page_untranslated(page, lang) == []
        screenshot(page, "kpis", lang)
    assert page.console_errors == []
