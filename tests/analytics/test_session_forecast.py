"""The session model: features from before the session only, ordered quantiles, the stock plan built on
it (and its fallback), and clear errors naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from liveloop.analytics import demand
from liveloop.analytics import session_forecast as sf
from liveloop.core.config import Settings
from liveloop.core.errors import InsufficientData, LiveloopError, NotFound, ValidationFailed
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.warehouse import Warehouse

PAID = "o.status NOT IN ('cancelled', 'failed', 'refunded')"


def _world(home: Path, data_home: Path) -> Warehouse:
    wh = Warehouse.open(Settings(home=home, data_home=data_home))
    simulate_into_warehouse(wh, scale="small", seed=5, users=3000, days=24)
    return wh


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, data_home: Path) -> Iterator[Warehouse]:
    wh = _world(tmp_path_factory.mktemp("session-world"), data_home)
    yield wh
    wh.close()


def _last_day_sessions(wh: Warehouse) -> list[str]:
    """The sessions of the world's last local day (Asia/Shanghai) with a lineup."""
    return [
        r[0]
        for r in wh.sql(
            "WITH d AS (SELECT CAST(timezone('Asia/Shanghai', start_ts) AS DATE) AS day, session_id "
            "FROM live_sessions WHERE len(lineup) > 0) "
            "SELECT session_id FROM d WHERE day = (SELECT max(day) FROM d) ORDER BY session_id"
        )
    ]


def _sold(wh: Warehouse, session_id: str) -> dict[str, int]:
    return {
        r[0]: int(r[1])
        for r in wh.sql(
            f"SELECT i.product_id, sum(i.quantity) FROM orders o JOIN order_items i USING (order_id) "
            f"WHERE {PAID} AND o.session_id = ? GROUP BY 1",
            [session_id],
        )
    }


# --- leakage -----------------------------------------------------------------------------------------


def test_orders_after_the_session_start_do_not_change_its_forecast(tmp_path: Path, data_home: Path) -> None:
    wh = _world(tmp_path / "leak", data_home)
    try:
        session_id = _last_day_sessions(wh)[0]
        start, lineup = wh.sql(
            "SELECT start_ts, lineup FROM live_sessions WHERE session_id = ?", [session_id]
        )[0]
        before = sf.forecast_session(wh, session_id).to_dict()
        later = wh.sql("SELECT count(*) FROM orders WHERE ts >= ?", [start])[0][0]
        assert later > 0  # the world has orders after the start: removing them is a real change
        user = wh.sql("SELECT user_id FROM users LIMIT 1")[0][0]
        with wh.transaction() as con:
            con.execute(
                "DELETE FROM order_items WHERE order_id IN (SELECT order_id FROM orders WHERE ts >= ?)",
                [start],
            )
            con.execute("DELETE FROM orders WHERE ts >= ?", [start])
            for k, pid in enumerate(lineup):  # a flood of orders in the session itself and right after it
                for j, moment in enumerate((start + timedelta(minutes=5), start + timedelta(days=1))):
                    oid = f"leak-{k}-{j}"
                    con.execute(
                        "INSERT INTO orders (order_id, user_id, ts, status, amount, session_id, channel) "
                        "VALUES (?, ?, ?, 'paid', 999, ?, 'live')",
                        [oid, user, moment, session_id],
                    )
                    con.execute(
                        "INSERT INTO order_items "
                        "(order_id, line_no, product_id, quantity, unit_price, amount) "
                        "VALUES (?, 1, ?, 50, 19.98, 999)",
                        [oid, pid],
                    )
        after = sf.forecast_session(wh, session_id).to_dict()
        assert after["products"] == before["products"]
        assert after["totals"] == before["totals"]
        assert after["model"]["sessions"] == before["model"]["sessions"]
    finally:
        wh.close()


def test_training_rows_use_only_what_was_known_at_each_session_start(world: Warehouse) -> None:
    first = world.sql("SELECT min(start_ts) FROM live_sessions")[0][0]
    early = sf.training_rows(world, first + timedelta(days=10))
    late = sf.training_rows(world, first + timedelta(days=20))
    # a session's features are as of its own start: fitting later does not change them
    key = ["session_id", "product_id"]
    both = early.merge(late, on=key, suffixes=("_e", "_l"))
    assert len(both) == len(early)
    for col in ("p_featured", "p_mean_units", "h_sessions", "h_mean_gmv", "p_daily_units_28d"):
        np.testing.assert_allclose(both[f"{col}_e"].to_numpy(float), both[f"{col}_l"].to_numpy(float))
    # and a product's first featured session has no past featured units
    firsts = late.sort_values("start_ts").groupby("product_id").head(1)
    assert (firsts["p_featured"] == 0).all() and firsts["p_mean_units"].isna().all()


# --- the forecast ------------------------------------------------------------------------------------


def test_quantiles_are_at_least_the_mean_and_totals_add_up(world: Warehouse) -> None:
    session_id = _last_day_sessions(world)[0]
    fc = sf.forecast_session(world, session_id, service_level=0.95)
    body = json.loads(json.dumps(fc.to_dict()))
    lineup = world.sql("SELECT lineup FROM live_sessions WHERE session_id = ?", [session_id])[0][0]
    assert [p["product_id"] for p in body["products"]] == list(dict.fromkeys(lineup))
    for p in body["products"]:
        assert p["recommended_stock"] >= p["quantile_units"] >= p["expected_units"] >= 0
        assert p["expected_gmv"] == pytest.approx(
            p["expected_units"] * p["price"], abs=0.0006 * p["price"] + 0.01
        )
    t = body["totals"]
    assert t["expected_units"] == pytest.approx(sum(p["expected_units"] for p in body["products"]), abs=0.05)
    assert t["units_interval"][0] <= t["expected_units"] <= t["units_interval"][1]
    assert t["gmv_interval"][0] <= t["expected_gmv"] <= t["gmv_interval"][1]
    assert body["model"]["quantile_method"] in sf.METHODS
    assert body["model"]["validation"]["rows"] > 0
    # a looser service level never asks for more
    loose = sf.forecast_session(world, session_id, service_level=0.6, model=fc.model)
    for a, b in zip(loose.products, fc.products, strict=True):
        assert a["expected_units"] == b["expected_units"]
        assert a["quantile_units"] <= b["quantile_units"] + 1e-9
    # a planned session from its lineup, host and start gets the same kind of answer
    host, start = world.sql("SELECT host_id, start_ts FROM live_sessions WHERE session_id = ?", [session_id])[
        0
    ]
    planned = sf.forecast_session(
        world, lineup=list(lineup), host_id=host, start=start.isoformat(), model=fc.model
    ).to_dict()
    assert planned["session_id"] is None and len(planned["products"]) == len(body["products"])
    assert all(p["quantile_units"] >= p["expected_units"] for p in planned["products"])


def test_stock_plan_uses_the_session_model_and_covers_most_demand(world: Warehouse) -> None:
    covered = total = 0
    for session_id in _last_day_sessions(world)[:4]:
        plan = demand.stock_plan(world, session_id=session_id, service_level=0.95)
        assert plan["method"] == "session_model" and plan["fallback_reason"] is None
        assert plan["history"]["end"] < plan["day"] and plan["horizon_days"] >= 1
        assert plan["session"]["expected_units"] >= 0
        sold = _sold(world, session_id)
        for p in plan["products"]:
            assert p["method"] == "session_model"
            assert p["reason"].startswith("95% of the forecast demand in session")
            assert p["recommended_stock"] >= p["quantile_units"] >= p["expected_units"] >= 0
            covered += sold.get(p["product_id"], 0) <= p["recommended_stock"]
            total += 1
    assert total >= 20
    assert covered / total >= 0.85


def test_stock_plan_falls_back_to_the_daily_forecast_and_says_why(
    world: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = _last_day_sessions(world)[0]
    day = world.sql(
        "SELECT CAST(timezone('Asia/Shanghai', start_ts) AS DATE) FROM live_sessions WHERE session_id = ?",
        [session_id],
    )[0][0]
    products = world.sql("SELECT lineup FROM live_sessions WHERE session_id = ?", [session_id])[0][0][:3]
    plain = demand.stock_plan(world, products=products, day=day)
    assert plain["method"] == "daily_forecast" and "no session was named" in plain["fallback_reason"]
    assert all("not the session model: no session was named" in p["reason"] for p in plain["products"])
    monkeypatch.setattr(sf, "MIN_SESSIONS", 100_000)
    plan = demand.stock_plan(world, session_id=session_id)
    assert plan["method"] == "daily_forecast" and "needs at least 100000" in plan["fallback_reason"]
    for p in plan["products"]:
        assert p["method"] == "daily_forecast" and "needs at least 100000" in p["reason"]
        assert p["reason"].startswith("95% of the forecast demand on")
    with pytest.raises(InsufficientData) as info:
        demand.stock_plan(world, session_id=session_id, method="session")
    assert info.value.field == "before"


# --- bad input ---------------------------------------------------------------------------------------


def _raises(kind: type[LiveloopError], field: str, call: object, *args: object, **kwargs: object) -> None:
    with pytest.raises(kind) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    assert info.value.field == field, info.value.detail


def test_bad_input_is_a_clear_error_with_its_field(world: Warehouse) -> None:
    session_id = _last_day_sessions(world)[0]
    host, start, lineup = world.sql(
        "SELECT host_id, start_ts, lineup FROM live_sessions WHERE session_id = ?", [session_id]
    )[0]
    first = world.sql("SELECT min(start_ts) FROM live_sessions")[0][0]
    model = sf.fit_session_model(world, start)
    fc = sf.forecast_session
    _raises(ValidationFailed, "session_id", fc, world)
    _raises(NotFound, "session_id", fc, world, "no-such-session")
    _raises(ValidationFailed, "lineup", fc, world, lineup=[], host_id=host, start=start)
    _raises(ValidationFailed, "lineup", fc, world, session_id, lineup=["not-in-it"])
    _raises(NotFound, "lineup", fc, world, lineup=["no-such-product"], host_id=host, start=start, model=model)
    _raises(ValidationFailed, "host_id", fc, world, lineup=list(lineup), start=start)
    _raises(NotFound, "host_id", fc, world, lineup=list(lineup), host_id="no-such-host", start=start)
    _raises(ValidationFailed, "start", fc, world, lineup=list(lineup), host_id=host)
    _raises(ValidationFailed, "start", fc, world, lineup=list(lineup), host_id=host, start="tonight")
    _raises(
        ValidationFailed,
        "end",
        fc,
        world,
        lineup=list(lineup),
        host_id=host,
        start=start,
        end=start - timedelta(hours=1),
    )
    _raises(
        ValidationFailed, "prices", fc, world, lineup=list(lineup), host_id=host, start=start, prices=[1.0]
    )
    _raises(ValidationFailed, "service_level", fc, world, session_id, service_level=1.5)
    _raises(ValidationFailed, "service_level", fc, world, session_id, service_level=True)
    _raises(ValidationFailed, "model", fc, world, session_id, as_of=start - timedelta(days=3), model=model)
    _raises(InsufficientData, "before", sf.fit_session_model, world, first + timedelta(hours=12))
    _raises(ValidationFailed, "before", sf.fit_session_model, world, "yesterday")
    _raises(ValidationFailed, "method", demand.stock_plan, world, session_id=session_id, method="magic")
    _raises(
        ValidationFailed,
        "session_id",
        demand.stock_plan,
        world,
        products=list(lineup),
        day="2030-01-01",
        method="session",
    )
    _raises(
        NotFound, "host_id", demand.stock_plan, world, products=list(lineup), host_id="nobody", start=start
    )
