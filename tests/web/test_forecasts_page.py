"""The Forecasts page on a real server over a simulated month: each series's chart and table in Chinese
and English, other groupings and measures, a session's stock plan, a bad session shown next to the form."""

from __future__ import annotations

import re

import pytest

from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.warehouse import Warehouse

pytestmark = pytest.mark.slow
SESSION: dict[str, str] = {}


def _month(wh: Warehouse) -> None:
    simulate_into_warehouse(wh, scale="small", seed=7, users=400, days=35)
    SESSION["id"] = wh.sql(
        "SELECT session_id FROM live_sessions WHERE len(lineup) > 0 ORDER BY start_ts DESC LIMIT 1"
    )[0][0]


def test_forecasts_page(live_server_factory) -> None:
    srv = live_server_factory(seed=_month)
    with srv.client("analyst") as c:
        for lang, title in (("zh", "预测"), ("en", "Forecasts")):
            c.cookies.set("ll_lang", lang)
            r = c.get("/forecasts")
            assert r.status_code == 200 and title in r.text
            series = re.findall(r'class="forecast-series" data-series="([^"]+)"', r.text)
            assert 1 <= len(series) <= 6
            assert r.text.count('class="chart"') == len(series)
            rows = re.findall(r'<table class="grid forecast-table">.*?<tbody>(.*?)</tbody>', r.text, re.S)
            assert len(rows) == len(series) and rows[0].count("<tr>") == 7
            assert "¥" in rows[0]
        c.cookies.set("ll_lang", "en")
        weekly = c.get("/forecasts", params={"by": "platform", "measure": "units", "horizon": 14})
        assert weekly.status_code == 200 and 'data-series="all"' in weekly.text
        plan = c.get("/forecasts", params={"session": SESSION["id"]})
        assert plan.status_code == 200 and 'id="stock-table"' in plan.text
        assert len(re.findall(r'<tr data-product="', plan.text)) >= 1
        missing = c.get("/forecasts", params={"session": "nope"})
        assert missing.status_code == 200 and 'id="stock-error"' in missing.text and "nope" in missing.text
        assert c.get("/forecasts", params={"horizon": 0}).status_code == 422
    with srv.client("ingest") as c:
        assert c.get("/forecasts", headers={"accept": "text/html"}).status_code in (302, 303, 401, 403)
