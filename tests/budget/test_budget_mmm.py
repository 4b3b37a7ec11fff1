"""The media model and the allocation: curves recovered from a daily series made with known ones, the
allocation against exact answers, spend imported whole or not at all, plans tracked against spend."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liveloop.budget import allocate as alloc
from liveloop.budget.mmm import fit_media_model
from liveloop.budget.spend import daily_frame, read_spend_file, record_spend
from liveloop.core.curves import adstock, hill
from liveloop.core.errors import InsufficientData, ValidationFailed
from liveloop.warehouse import Warehouse

TRUTH = {  # decay, half, shape, beta
    "feed": (0.3, 1.0, 1.2, 0.20),
    "kol": (0.6, 1.2, 2.0, 0.15),
    "search": (0.1, 0.6, 1.0, 0.08),
}


def _series(days: int, noise: float, seed: int) -> tuple[pd.DataFrame, dict[str, float]]:
    rng = np.random.default_rng(seed)
    day = pd.date_range("2026-01-05", periods=days, freq="D")
    mean = {"feed": 1000.0, "kol": 600.0, "search": 300.0}
    frame = pd.DataFrame({"day": day.date})
    lift = np.zeros(days)
    for name, (decay, half, shape, beta) in TRUTH.items():
        weeks = rng.choice([0.0, 0.5, 1.0, 1.5, 2.0], size=-(-days // 7))
        x = mean[name] * np.repeat(weeks, 7)[:days] * np.exp(rng.normal(0, 0.2, days))
        frame[name] = x
        lift += beta * hill(adstock(x, decay) * (1 - decay) / x.mean(), half, shape)
    weekday = np.where(day.weekday >= 5, 0.15, 0.0)
    frame["gmv"] = (
        50_000 * np.exp(weekday + 0.1 * np.linspace(0, 1, days) + rng.normal(0, noise, days)) * (1 + lift)
    )
    return frame[["day", "gmv", *mean]], {k: float(frame[k].mean()) for k in mean}


def test_curves_are_recovered_from_a_series_made_with_known_ones() -> None:
    frame, mean = _series(365, 0.01, seed=1)
    model = fit_media_model(frame)
    assert model.fit["mape"] < 0.02 and model.days == 365
    for curve in model.curves:
        _decay, half, shape, beta = TRUTH[curve.channel]
        grid = np.linspace(0.25, 2.0, 15) * mean[curve.channel]
        true = beta * hill(grid / mean[curve.channel], half, shape)
        assert np.abs(curve.lift(grid) - true).mean() / true.mean() < 0.15, curve
    assert model.baseline_gmv == pytest.approx(50_000 * np.exp(0.15 * 2 / 7 + 0.1 * 0.96), rel=0.08)


def test_too_little_or_flat_data_is_said_not_guessed() -> None:
    frame, _ = _series(60, 0.05, seed=2)
    with pytest.raises(InsufficientData, match="28"):
        fit_media_model(frame.head(20))
    flat = frame.assign(search=300.0)
    with pytest.raises(InsufficientData, match="search"):
        fit_media_model(flat)
    with pytest.raises(InsufficientData, match="spend"):
        fit_media_model(frame[["day", "gmv"]])


def test_allocation_against_exact_answers() -> None:
    # concave curves a*log(1 + x/b): the optimum equalises the marginal returns a/(b + x)
    a, b = np.array([300.0, 200.0, 100.0]), np.array([100.0, 100.0, 100.0])
    curves = [lambda x, i=i: float(a[i] * np.log1p(x / b[i])) for i in range(3)]
    low, high = np.zeros(3), np.full(3, 1000.0)
    x = alloc.allocate(curves, low, high, total=600.0)
    assert x.sum() == pytest.approx(600.0) and (x >= -1e-9).all()
    assert a / (b + x) == pytest.approx(np.full(3, (a / (b + x)).mean()), rel=1e-3)
    assert x == pytest.approx([350.0, 200.0, 50.0], abs=1.0)  # a_i / λ - b_i, with λ = 600 / 900
    lo, hi = alloc.bounds([100.0, 100.0, 100.0])
    bound = alloc.allocate(curves, lo, hi, total=300.0)
    assert (bound >= lo - 1e-6).all() and (bound <= hi + 1e-6).all() and bound[0] == pytest.approx(150.0)
    # a target ROI: the largest total whose response per CNY still meets it
    roi_plan = alloc.allocate(curves, low, high, target_roi=0.9)
    response = sum(f(v) for f, v in zip(curves, roi_plan, strict=True))
    assert response / roi_plan.sum() == pytest.approx(0.9, rel=0.01)
    for kwargs, field in (
        ({"total": 5000.0}, "total"),
        ({}, "total"),
        ({"total": 10.0, "target_roi": 1.0}, "total"),
        ({"target_roi": 50.0}, "target_roi"),
    ):
        with pytest.raises(ValidationFailed) as bad:
            alloc.allocate(curves, lo, hi, **kwargs)
        assert bad.value.field == field
    for low, high, field in ((1.2, 1.5, "low"), (-0.1, 1.5, "low"), (0.7, 0.9, "high"), (0.7, 11, "high")):
        with pytest.raises(ValidationFailed) as bad_bounds:
            alloc.bounds([1.0], low, high)
        assert bad_bounds.value.field == field


def test_spend_is_imported_whole_or_not_at_all(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "w.duckdb")
    try:
        good = [{"day": "2026-03-01", "channel": "feed", "spend": "100.5"}]
        for bad, field in (
            ({"day": "2026-03-02", "channel": "feed", "spend": "-1"}, "spend"),
            ({"day": "2026-03-02", "channel": "feed", "spend": "nan"}, "spend"),
            ({"day": "2026-03-02", "channel": "feed", "spend": "1e20"}, "spend"),
            ({"day": "2026-02-30", "channel": "feed", "spend": "1"}, "day"),
            (
                {"day": "9999-12-31", "channel": "feed", "spend": "1"},
                "day",
            ),  # the range every write path keeps
            ({"day": "0001-01-01", "channel": "feed", "spend": "1"}, "day"),
            ({"day": "2026-03-02", "channel": "a b", "spend": "1"}, "channel"),
            ({"day": "2026-03-02", "channel": "feed", "spend": "1", "currency": "USD"}, "currency"),
            ({"day": "2026-03-02", "channel": "feed", "spend": "1", "clicks": "3"}, "clicks"),
        ):
            with pytest.raises(ValidationFailed) as refused:
                record_spend(wh, [*good, bad])
            assert refused.value.field == field and "row 2" in refused.value.detail
        assert wh.sql("SELECT count(*) FROM ad_spend")[0][0] == 0  # nothing of a refused import
        with pytest.raises(ValidationFailed, match="twice"):
            record_spend(wh, good * 2)
        assert record_spend(wh, good) == {"rows": 1, "replaced": 0, "channels": 1}
        again = record_spend(wh, [{**good[0], "spend": 80}])
        assert again["replaced"] == 1 and wh.sql("SELECT spend FROM ad_spend")[0][0] == 80.0
        csv = tmp_path / "spend.csv"
        csv.write_bytes("day,channel,spend,source\n2026-03-02,feed,90,巨量引擎\n".encode("gbk"))
        rows = read_spend_file(csv)
        assert rows == [{"day": "2026-03-02", "channel": "feed", "spend": "90", "source": "巨量引擎"}]
        (tmp_path / "bad.csv").write_text("date,cost\n2026-03-02,1\n", encoding="utf-8")
        with pytest.raises(ValidationFailed, match="no channel, day, spend column"):
            read_spend_file(tmp_path / "bad.csv")
    finally:
        wh.close()


def test_the_daily_frame_joins_spend_and_paid_gmv_by_local_day(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "w.duckdb")
    try:
        first = date(2026, 3, 1)
        record_spend(
            wh, [{"day": str(first + timedelta(d)), "channel": "feed", "spend": 10 * d} for d in range(4)]
        )
        record_spend(wh, [{"day": str(first + timedelta(1)), "channel": "kol", "spend": 5}])
        wh.sql(
            "INSERT INTO orders (order_id, user_id, ts, status, amount) VALUES "
            "('o1', 'u', '2026-03-01 16:30:00+00', 'paid', 100), "  # 3-02 00:30 in Shanghai
            "('o2', 'u', '2026-03-02 03:00:00+00', 'refunded', 50), "
            "('o3', 'u', '2026-03-02 04:00:00+00', 'paid', 30), "
            "('o4', 'u', '2026-03-05 04:00:00+00', 'paid', 1)"
        )
        frame = daily_frame(wh, "Asia/Shanghai")
        assert list(frame.columns) == ["day", "gmv", "feed", "kol"]
        # 3-01's spend came before the first sale (3-02 in Shanghai): the days both cover are kept
        assert frame["day"].tolist() == [first + timedelta(d) for d in (1, 2, 3)]
        assert frame["gmv"].tolist() == [130.0, 0.0, 0.0]
        assert frame["kol"].tolist() == [5.0, 0.0, 0.0] and frame["feed"].tolist() == [10, 20, 30]
        # the newest day with sales may be partial: when spend reaches it, it is left out
        wh.sql("DELETE FROM orders WHERE order_id = 'o4'")
        wh.sql("INSERT INTO orders (order_id, user_id, ts, status, amount) VALUES "
               "('o5', 'u', '2026-03-03 04:00:00+00', 'paid', 7)")  # fmt: skip
        assert daily_frame(wh, "Asia/Shanghai")["gmv"].tolist() == [130.0]
    finally:
        wh.close()
