"""Demand forecasts: the backtest's metrics by hand, exactness on a seasonal series, liveloop's choice on
real Walmart stores, calibrated intervals, the warehouse series against SQL, and clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liveloop.analytics import demand
from liveloop.analytics.backtest import backtest, mase, wmae
from liveloop.analytics.forecast import CHOICE, forecast
from liveloop.core.config import Settings
from liveloop.core.errors import InsufficientData, LiveloopError, NotFound, ValidationFailed
from liveloop.datasets.loader import load
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.warehouse import Warehouse

PAID = "status NOT IN ('cancelled', 'failed', 'refunded')"


def frame(values: dict[str, list[float]], start: str = "2026-01-05", freq: str = "D") -> pd.DataFrame:
    step = pd.Timedelta(days=7 if freq == "W" else 1)
    return pd.concat(
        pd.DataFrame({"unique_id": uid, "ds": pd.Timestamp(start) + step * np.arange(len(y)), "y": y})
        for uid, y in values.items()
    )


# --- the metrics ------------------------------------------------------------------------------------


def test_backtest_mase_and_wmae_equal_a_hand_computation() -> None:
    train = [10, 20, 13, 22, 15, 21, 14, 23]
    data = frame({"a": [*train, 16, 25]}).assign(weight=[1.0] * 8 + [1.0, 5.0])
    bt = backtest(data, 2, "D", origins=1, season_length=2, models=["SeasonalNaive", "Naive"], n_windows=0)
    # in-sample seasonal-naive error (lag 2): |13-10|, |22-20|, |15-13|, |21-22|, |14-15|, |23-21| -> 11/6
    scale = 11 / 6
    # seasonal naive forecasts 14, 23 (errors 2, 2); naive 23, 23 (7, 2); liveloop's equal mix 18.5, 23
    expected = {
        "SeasonalNaive": (2.0, 2.0),
        "Naive": (4.5, (7 + 5 * 2) / 6),
        CHOICE: (2.25, (2.5 + 5 * 2) / 6),
    }
    summary = bt.summary()
    for model, (mae, weighted) in expected.items():
        assert summary.loc[model, "mase"] == pytest.approx(mae / scale)
        assert summary.loc[model, "wmae"] == pytest.approx(weighted)
    assert summary.loc["Naive", "mase_vs_naive"] == pytest.approx(4.5 / 2.0)
    assert mase(np.array([16, 25]), np.array([14, 23]), np.array(train), 2) == pytest.approx(2 / scale)
    assert wmae(np.array([16, 25]), np.array([23, 23]), np.array([1, 5])) == pytest.approx(17 / 6)
    assert bt.per_series("mase").loc["a", "Naive"] == pytest.approx(4.5 / scale)
    json.dumps(bt.to_dict())


def test_seasonal_naive_is_exact_on_a_purely_seasonal_series_and_liveloop_follows_it() -> None:
    season = [5.0, 9.0, 2.0, 7.0, 4.0, 8.0, 6.0]
    data = frame({"s": season * 6})
    fc = forecast(data, 7, "D")
    assert fc.models["SeasonalNaive"].tolist() == season
    # validation finds seasonal naive (and the smoothers, which fit the season) exact, the levels not
    assert fc.validation["s"]["SeasonalNaive"] == 0
    assert fc.weights["s"]["HistoricAverage"] + fc.weights["s"]["WindowAverage"] < 1e-6
    assert fc.frame["mean"].to_numpy() == pytest.approx(season, abs=1e-6)
    bt = backtest(data, 7, "D", origins=2, models=["SeasonalNaive"], n_windows=0)
    assert (bt.scores.loc[bt.scores["model"] == "SeasonalNaive", "mae"] == 0).all()


# --- liveloop's choice on real data -----------------------------------------------------------------


def test_liveloop_is_at_or_below_seasonal_naive_on_walmart_stores(data_home: Path) -> None:
    raw = load("walmart_weekly_sales", Settings(data_home=data_home))["Walmart.csv"]
    raw = raw[raw["Store"].isin([1, 10, 20, 30])]
    data = pd.DataFrame(
        {
            "unique_id": raw["Store"].astype(str),
            "ds": pd.to_datetime(raw["Date"], format="%d/%m/%Y"),
            "y": raw["Weekly_Sales"],
            "weight": np.where(raw["Holiday_Flag"] > 0, 5.0, 1.0),
        }
    )
    bt = backtest(data, 8, "W", origins=2)
    summary = bt.summary()
    assert summary.loc[CHOICE, "mase"] <= summary.loc["SeasonalNaive", "mase"]
    assert summary.loc[CHOICE, "wmae"] <= summary.loc["SeasonalNaive", "wmae"]
    per = bt.per_series("mase")
    assert (per[CHOICE] <= per["SeasonalNaive"]).sum() >= 3
    weights = bt.weights.groupby(["unique_id", "origin"])["weight"].sum()
    assert weights.to_numpy() == pytest.approx(1.0)


def test_quantiles_are_ordered_and_the_95_interval_covers_about_95_percent() -> None:
    rng = np.random.default_rng(20250601)
    n, h, k = 56, 7, 24
    draws = 100 + rng.normal(0, 10, (k, n + h))
    data = frame({f"s{i}": list(draws[i, :n]) for i in range(k)})
    fc = forecast(data, h, "D", levels=(50, 80, 95))
    qs = fc.quantile_levels
    assert qs == [0.025, 0.1, 0.25, 0.75, 0.9, 0.975]
    cols = [f"q{q:g}" for q in qs[:3]] + ["mean"] + [f"q{q:g}" for q in qs[3:]]
    assert (np.diff(fc.frame[cols].to_numpy(), axis=1) >= 0).all()
    rows = [int(u[1:]) for u in fc.frame["unique_id"]]
    actual = draws[rows, n - 1 + fc.frame["step"].to_numpy()]
    inside = (actual >= fc.quantile(0.025)) & (actual <= fc.quantile(0.975))
    assert 0.90 <= inside.mean() <= 0.99
    inside80 = (actual >= fc.quantile(0.1)) & (actual <= fc.quantile(0.9))
    assert 0.70 <= inside80.mean() <= 0.92


# --- the warehouse series ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, data_home: Path) -> Iterator[Warehouse]:
    wh = Warehouse.open(Settings(home=tmp_path_factory.mktemp("forecast-world"), data_home=data_home))
    simulate_into_warehouse(wh, scale="small", seed=11, users=300, days=21)
    yield wh
    wh.close()


def _sql_totals(wh: Warehouse, key: str, value: str, joins: str) -> pd.Series:
    rows = wh.df(
        f"SELECT {key} AS k, CAST(timezone('Asia/Shanghai', o.ts) AS DATE) AS d, sum({value}) AS v "
        f"FROM orders o {joins} WHERE o.{PAID} GROUP BY 1, 2"
    )
    rows["d"] = pd.to_datetime(rows["d"])
    return rows.set_index(["k", "d"])["v"].astype(float).sort_index()


@pytest.mark.parametrize(
    ("by", "measure", "key", "value", "joins"),
    [
        ("product", "units", "i.product_id", "i.quantity", "JOIN order_items i USING (order_id)"),
        (
            "category",
            "gmv",
            "p.category",
            "i.amount",
            "JOIN order_items i USING (order_id) JOIN products p USING (product_id)",
        ),
        ("host", "gmv", "s.host_id", "o.amount", "JOIN live_sessions s USING (session_id)"),
        ("platform", "gmv", "'all'", "o.amount", ""),
        ("platform", "units", "'all'", "i.quantity", "JOIN order_items i USING (order_id)"),
    ],
)
def test_sales_history_matches_sql(
    world: Warehouse, by: str, measure: str, key: str, value: str, joins: str
) -> None:
    history = demand.sales_history(world, by, measure, tz="Asia/Shanghai")
    expected = _sql_totals(world, key, value, joins)
    got = history.set_index(["unique_id", "ds"])["y"]
    assert got[got != 0].sort_index().to_numpy() == pytest.approx(expected[expected != 0].to_numpy())
    assert got.sum() == pytest.approx(expected.sum())
    # zero-filled: every series has every day of the sales period, once
    days = history.groupby("unique_id")["ds"].agg(["min", "max", "count", "nunique"])
    assert days["min"].nunique() == 1 and days["max"].nunique() == 1
    assert (days["count"] == days["nunique"]).all()
    assert (days["count"] == (days["max"] - days["min"]).dt.days + 1).all()


def test_paid_orders_only_and_ids_get_zero_series(world: Warehouse) -> None:
    total = float(world.sql(f"SELECT sum(amount) FROM orders WHERE {PAID}")[0][0])
    placed = float(world.sql("SELECT sum(amount) FROM orders")[0][0])
    assert placed > total  # the world has refunds: they must not count
    history = demand.sales_history(world, "platform", "gmv")
    assert history["y"].sum() == pytest.approx(total)
    some = demand.sales_history(world, "product", "units", ids=["no-such-product"])
    assert some["unique_id"].unique().tolist() == ["no-such-product"] and (some["y"] == 0).all()
    weekly = demand.sales_history(world, "platform", "gmv", freq="W")
    assert (weekly["ds"].dt.weekday == 0).all()  # whole Monday-start weeks only


def test_forecast_sales_and_stock_plan_on_the_simulated_world(world: Warehouse) -> None:
    result = demand.forecast_sales(world, "category", "gmv", 7)
    categories = world.sql("SELECT count(DISTINCT category) FROM products")[0][0]
    assert result.forecast.frame["unique_id"].nunique() == categories
    assert len(result.forecast.frame) == 7 * categories
    assert (result.forecast.frame.drop(columns=["unique_id", "ds", "step"]) >= 0).all().all()
    body = json.loads(json.dumps(result.to_dict(history_points=7)))
    assert len(body["series"][0]["history"]) == 7 and len(body["series"][0]["forecast"]) == 7

    bt = demand.backtest_sales(world, "platform", "gmv", 2, origins=2)
    assert bt.summary().loc[CHOICE, "mase"] > 0 and len(bt.scores["origin"].unique()) == 2
    json.dumps(bt.to_dict())

    session_id, lineup = world.sql(
        "SELECT session_id, lineup FROM live_sessions ORDER BY start_ts DESC, session_id LIMIT 1"
    )[0]
    plan = demand.stock_plan(world, session_id=session_id, service_level=0.95)
    assert [p["product_id"] for p in plan["products"]] == list(dict.fromkeys(lineup))
    assert plan["horizon_days"] >= 1 and plan["history"]["end"] < plan["day"]
    for p in plan["products"]:
        assert isinstance(p["recommended_stock"], int)
        assert p["recommended_stock"] >= p["quantile_units"] >= p["expected_units"] >= 0
        assert p["reason"].startswith("95% of the forecast demand")
    looser = demand.stock_plan(world, session_id=session_id, service_level=0.6)
    assert sum(p["recommended_stock"] for p in looser["products"]) <= sum(
        p["recommended_stock"] for p in plan["products"]
    )


# --- bad input ---------------------------------------------------------------------------------------


def _raises(kind: type[LiveloopError], field: str, call: object, *args: object, **kwargs: object) -> None:
    with pytest.raises(kind) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    assert info.value.field == field, info.value.detail


def test_bad_input_is_a_clear_error_with_its_field(world: Warehouse) -> None:
    good = frame({"a": list(np.arange(28.0))})
    _raises(ValidationFailed, "h", forecast, good, 0)
    _raises(ValidationFailed, "h", forecast, good, -3)
    _raises(ValidationFailed, "h", forecast, good, 1.5)
    _raises(ValidationFailed, "freq", forecast, good, 7, "M")
    _raises(ValidationFailed, "levels", forecast, good, 7, levels=(0,))
    _raises(ValidationFailed, "models", forecast, good, 7, models=["Prophet"])
    _raises(InsufficientData, "series", forecast, frame({"short": [1.0] * 10}), 7)
    _raises(InsufficientData, "series", forecast, frame({"w": [1.0] * 60}, freq="W"), 8, "W")
    _raises(ValidationFailed, "ds", forecast, good.drop(index=5), 7)
    _raises(ValidationFailed, "ds", forecast, pd.concat([good, good.head(1)]), 7)
    half_day = pd.to_timedelta(np.r_[np.zeros(27), 0.5], unit="D")
    _raises(ValidationFailed, "ds", forecast, good.assign(ds=good["ds"] + half_day), 7)
    _raises(ValidationFailed, "y", forecast, good.assign(y=[*range(27), float("nan")]), 7)
    _raises(ValidationFailed, "y", forecast, good.drop(columns="y"), 7)
    _raises(InsufficientData, "frame", forecast, good.head(0), 7)
    _raises(InsufficientData, "origins", backtest, good, 7, origins=3)
    _raises(ValidationFailed, "weight", backtest, good.assign(weight=-1.0), 7, origins=1)
    _raises(ValidationFailed, "by", demand.sales_history, world, "shop")
    _raises(ValidationFailed, "measure", demand.sales_history, world, "product", "profit")
    _raises(
        ValidationFailed,
        "service_level",
        demand.stock_plan,
        world,
        products=["x"],
        day="2030-01-01",
        service_level=1.2,
    )
    _raises(NotFound, "session_id", demand.stock_plan, world, session_id="no-such-session")
    _raises(ValidationFailed, "products", demand.stock_plan, world, day="2030-01-01")
    _raises(ValidationFailed, "day", demand.stock_plan, world, products=["x"], day="soon")
