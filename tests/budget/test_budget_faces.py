"""Bid advice per audience on a real warehouse (a simulated month): values, bids and budgets that follow
from the orders, views and margins; the CLI (advise, simulate) and the API with one-line errors and
problem+json."""

from __future__ import annotations

import json

import pytest

from liveloop.budget import bid_advice
from liveloop.core.config import Settings
from liveloop.core.errors import ValidationFailed
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.warehouse import Warehouse


def _month(wh: Warehouse) -> None:
    simulate_into_warehouse(wh, scale="small", seed=9, users=400, days=30)
    wh.sql(
        "INSERT INTO segments (segment_id, name_zh, name_en, size, data_window, model_version) "
        "VALUES ('S1', '活跃买家', 'Active buyers', 0, 'w', 'v')"
    )
    wh.sql(
        "INSERT INTO profiles (user_id, segment_id, data_window, model_version) "
        "SELECT user_id, 'S1', 'w', 'v' FROM users WHERE hash(user_id) % 2 = 0"
    )


def test_advice_follows_from_orders_views_and_margins(settings: Settings) -> None:
    wh = Warehouse.open(settings)
    try:
        _month(wh)
        out = bid_advice(wh, days=30, target_roi=0.5, paid_share=0.2)
        everyone = out["everyone"]
        ids = {a["segment_id"] for a in out["audiences"]}
        assert ids == {"S1", "(none)"}  # members of S1, and the users no profile places
        assert sum(a["users"] for a in out["audiences"]) == everyone["users"] == 400
        for a in [*out["audiences"], everyone]:
            assert a["suggested_bid"] == pytest.approx(a["value_per_click"] / 1.5, abs=0.01)
            assert a["daily_budget"] == pytest.approx(
                a["suggested_bid"] * a["views_per_day"] * 0.2, rel=0.02, abs=0.02
            )
        assert everyone["value_per_click"] > 0 and everyone["enough_data"]
        with pytest.raises(ValidationFailed) as err:
            bid_advice(wh, target_roi=-1)
        assert err.value.field == "target_roi"
    finally:
        wh.close()


def test_bidding_commands(cli, settings: Settings) -> None:
    wh = Warehouse.open(settings)
    try:
        _month(wh)
    finally:
        wh.close()
    code, out, err = cli("bidding", "advise", "--json")
    assert code == 0, err
    assert json.loads(out)["everyone"]["users"] == 400
    code, out, err = cli("bidding", "advise")
    assert code == 0 and "bid advice" in out
    code, out, err = cli("bidding", "simulate", "--impressions", "50000", "--share", "8", "--json")
    assert code == 0, err
    row = json.loads(out)["budgets"][0]
    assert row["share"] == "1/8" and all(
        row[s]["spend"] <= row["budget"] + 1e-6 for s in ("linear", "ortb1", "ortb2")
    )
    for args, word in (
        (("bidding", "advise", "--days", "0"), "days"),
        (("bidding", "simulate", "--impressions", "5"), "impressions"),
        (("bidding", "simulate", "--value", "fame", "--impressions", "20000"), "value"),
    ):
        code, out, err = cli(*args)
        assert code != 0 and len(err.strip().splitlines()) == 1 and word in err, (args, err)


@pytest.mark.slow
def test_bid_advice_through_the_api(live_server_factory) -> None:
    srv = live_server_factory(seed=_month)
    with srv.client("marketer") as c:
        r = c.get("/v1/bidding/advice", params={"days": 30})
        assert r.status_code == 200 and r.json()["everyone"]["users"] == 400
        bad = c.get("/v1/bidding/advice", params={"target_roi": -1})
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert "target_roi" in bad.text
    with srv.client("ingest") as c:
        assert c.get("/v1/bidding/advice").status_code == 403
