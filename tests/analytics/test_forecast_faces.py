"""Forecast faces: the CLI on a simulated month (sales forecast with intervals, backtest, a session's
stock plan, one-line errors) and the API on a real server (problem+json naming the field)."""

from __future__ import annotations

import json

import pytest

from liveloop.core.config import Settings
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.warehouse import Warehouse


def _month(wh: Warehouse) -> None:
    simulate_into_warehouse(wh, scale="small", seed=7, users=400, days=35)


def test_forecast_commands(cli, settings: Settings) -> None:
    wh = Warehouse.open(settings)
    try:
        _month(wh)
        session = wh.sql(
            "SELECT session_id FROM live_sessions WHERE len(lineup) > 0 ORDER BY start_ts DESC LIMIT 1"
        )[0][0]
        paid = wh.sql("SELECT count(DISTINCT p.category) FROM orders o JOIN order_items i USING (order_id) "
                      "JOIN products p USING (product_id) WHERE o.status = 'paid'")[0][0]  # fmt: skip
    finally:
        wh.close()
    code, out, err = cli("forecast", "sales", "--by", "category", "--horizon", "7", "--top", "3", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert len(result["series"]) == min(3, paid) and result["h"] == 7
    for s in result["series"]:
        assert len(s["forecast"]) == 7 and len(s["history"]) >= 28
        for row in s["forecast"]:
            q = row["quantiles"]
            assert q["0.025"] <= q["0.1"] <= q["0.9"] <= q["0.975"] and row["mean"] >= 0
    code, out, err = cli("forecast", "sales", "--by", "platform", "--horizon", "3")
    assert code == 0 and "95% interval" in out
    code, out, err = cli(
        "forecast", "backtest", "--by", "platform", "--horizon", "7", "--origins", "2", "--json"
    )
    assert code == 0, err
    bt = json.loads(out)
    assert {"liveloop", "SeasonalNaive"} <= set(bt["overall"]) and bt["origins"] == 2
    code, out, err = cli("forecast", "stock", session, "--json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["session_id"] == session and plan["products"]
    assert all(p["recommended_stock"] >= p["expected_units"] for p in plan["products"])
    for args, word in (
        (("forecast", "sales", "--horizon", "0"), "horizon"),
        (("forecast", "sales", "--by", "shoe"), "grouping"),
        (("forecast", "stock", "nope"), "nope"),
        (("forecast", "stock", session, "--service-level", "0.4"), "service level"),
    ):
        code, out, err = cli(*args)
        assert code != 0 and len(err.strip().splitlines()) == 1 and word in err, (args, err)
        assert "Traceback" not in err


@pytest.mark.slow
def test_forecasts_through_the_api(live_server_factory) -> None:
    srv = live_server_factory(seed=_month)
    with srv.client("analyst") as c:
        r = c.get("/v1/forecasts", params={"by": "platform", "horizon": 5})
        assert r.status_code == 200, r.text
        assert r.json()["series"][0]["id"] == "all" and len(r.json()["series"][0]["forecast"]) == 5
        bad = c.get("/v1/forecasts", params={"horizon": 0})
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert "horizon" in bad.text
        bad = c.get("/v1/forecasts/stock", params={"session_id": "nope"})
        assert bad.status_code == 404 and bad.json()["field"] == "session_id"
        assert c.get("/v1/forecasts/backtest", params={"by": "platform", "origins": 2}).status_code == 200
    with srv.client("ingest") as c:
        assert c.get("/v1/forecasts").status_code == 403
