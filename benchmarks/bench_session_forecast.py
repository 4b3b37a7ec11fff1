"""Sales of planned live sessions (``liveloop.analytics.session_forecast``) and the stock they need,
beside two baselines in the same run, on the market simulator.

Each world is simulated into a temporary warehouse. Rolling origin over time: at each origin T (a
local midnight), the session model is fitted on the sessions ended before T (labels: paid orders placed
before T) and forecasts every (session, lineup product) of the sessions starting in [T, T + 7 days),
with every feature read as of T. Origins are 7 days apart and cover the last 28 days of the world.

Compared, at the same origins, from the same data (everything as of T):

- **session model**: LightGBM Poisson mean; the stock quantile from a negative binomial or a LightGBM
  quantile regression, whichever the time-ordered validation inside the training sessions picks.
- **(a) past featured mean**: the product's mean units in its past featured sessions (a product never
  featured before: the mean over every past (session, product)); stock from a Poisson quantile.
- **(b) daily forecast**: what ``demand.stock_plan`` did before the session model: liveloop's daily
  forecast of the product's units (all channels) from its daily history before T, read at the session's
  day, with its 95% quantile.

Every method's recommended stock is its 95% quantile, never below its expected units, rounded up
(``session_forecast.stock_of``). Demand is the product's units in the session's paid orders (the
model's target). Per (session, product): MAE of units and WMAE (weighted by the planned price: a unit's
error costs its price); per session: MAE of GMV (expected units x planned price against the order lines'
amounts) and the relative MAE (sum of errors over the sum of GMV). Stock at the 95% service level: the
share of (session, product) pairs whose demand exceeds the stock (goal about 5%), the mean overstock
(units left over per pair) and the mean stock. The model's session totals: coverage of its 90%
intervals of units and GMV.

The model's settings were tuned on the first world only (``TUNED``); the others are reported untuned.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from benchmarks.machine import machine

SERVICE_LEVEL = 0.95
H_DAYS = 7
ORIGINS = 4
TZ = "Asia/Shanghai"
#: (preset, seed, days); the first is the world the model's settings were tuned on.
WORLDS = (("medium", 7, 45), ("medium", 8, 45), ("small", 21, 90))
TUNED = WORLDS[0]
METHODS = ("model", "past", "daily")
LABELS = {
    "model": "session model",
    "past": "(a) past featured mean",
    "daily": "(b) daily forecast (stock_plan before)",
}


def origins(wh: Any, zone: ZoneInfo) -> list[datetime]:
    """``ORIGINS`` local midnights ``H_DAYS`` apart, the last one ``H_DAYS`` before the data's end."""
    last = wh.sql("SELECT max(start_ts) FROM live_sessions")[0][0].astimezone(zone).date()
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return [end - timedelta(days=H_DAYS * k) for k in range(ORIGINS, 0, -1)]


def actuals(wh: Any) -> pd.DataFrame:
    from liveloop.analytics.session_forecast import _PAID

    return wh.df(
        f"SELECT o.session_id, i.product_id, sum(i.quantity) AS units, sum(CAST(i.amount AS DOUBLE)) AS gmv "
        f"FROM orders o JOIN order_items i USING (order_id) WHERE {_PAID} AND o.session_id IS NOT NULL "
        f"GROUP BY 1, 2"
    )


def daily_baseline(wh: Any, rows: pd.DataFrame, origin: datetime, zone: ZoneInfo) -> pd.DataFrame:
    """(b): liveloop's daily forecast of each lineup product's units from the history before the
    origin, read at the session's local day, as ``demand.stock_plan`` did."""
    from liveloop.analytics.demand import sales_history
    from liveloop.analytics.forecast import forecast

    products = sorted(rows["product_id"].unique())
    history = sales_history(wh, "product", "units", end=origin, ids=products, tz=zone.key)
    level = round(200 * SERVICE_LEVEL - 100, 6)
    fc = forecast(history, H_DAYS, "D", levels=(level,))
    frame = fc.frame.assign(upper=fc.quantile(SERVICE_LEVEL))
    frame["day"] = frame["ds"].dt.date
    day = rows["start_ts"].dt.tz_convert(zone.key).dt.date
    keyed = frame.set_index(["unique_id", "day"])
    idx = pd.MultiIndex.from_arrays([rows["product_id"], day])
    return pd.DataFrame(
        {
            "daily_mean": keyed["mean"].reindex(idx).to_numpy(),
            "daily_q": keyed["upper"].reindex(idx).to_numpy(),
        },
        index=rows.index,
    )


def evaluate_origin(
    wh: Any, origin: datetime, zone: ZoneInfo, sold: pd.DataFrame, daily: bool = True
) -> dict[str, Any]:
    """Every method's forecasts of the sessions in [origin, origin + H_DAYS) with their actuals."""
    from scipy import stats

    from liveloop.analytics import session_forecast as sf

    started = time.perf_counter()
    cut = origin.astimezone(UTC)
    model = sf.fit_session_model(wh, cut, service_level=SERVICE_LEVEL, tz=zone.key)
    fit_s = time.perf_counter() - started
    rows = sf._session_rows(wh, "s.start_ts >= ? AND s.start_ts < ?", [cut, cut + timedelta(days=H_DAYS)])
    out = sf.forecast_rows(wh, model, rows, cut, SERVICE_LEVEL, zone.key)
    out = out.merge(sold, on=["session_id", "product_id"], how="left")
    out["units"] = out["units"].fillna(0.0)
    out["gmv"] = out["gmv"].fillna(0.0)
    out["model_mean"], out["model_q"] = out["expected_units"], out["quantile_units"]
    out["model_q_raw"] = out["raw_quantile_units"]
    train = sf.training_rows(wh, cut, zone.key)
    overall = float(train["units"].mean())
    out["past_mean"] = out["p_mean_units"].fillna(overall)
    out["past_q"] = stats.poisson.ppf(SERVICE_LEVEL, np.maximum(out["past_mean"], 1e-9))
    if daily:
        started_b = time.perf_counter()
        out = out.join(daily_baseline(wh, out, origin, zone))
        daily_s = time.perf_counter() - started_b
    else:
        daily_s = 0.0
    out["origin"] = f"{origin:%Y-%m-%d}"
    # session totals: the model's 90% interval
    cover = []
    for sid, g in out.groupby("session_id", sort=False):
        t = model.totals(g["model_mean"].to_numpy(), g["price"].fillna(0).to_numpy(), SERVICE_LEVEL)
        u, v = g["units"].sum(), g["gmv"].sum()
        cover.append(
            {
                "session_id": sid,
                "units_in": t["units_interval"][0] <= u <= t["units_interval"][1],
                "gmv_in": t["gmv_interval"][0] <= v <= t["gmv_interval"][1],
            }
        )
    return {
        "rows": out,
        "cover": pd.DataFrame(cover),
        "model": model.to_dict(),
        "fit_seconds": round(fit_s, 2),
        "daily_seconds": round(daily_s, 2),
    }


def scores(rows: pd.DataFrame, methods: tuple[str, ...] = METHODS) -> dict[str, dict[str, float]]:
    """Per method: errors of units (per pair) and of GMV (per session), and the stock outcome."""
    from liveloop.analytics.session_forecast import stock_of

    out: dict[str, dict[str, float]] = {}
    y, w = rows["units"].to_numpy(), rows["price"].fillna(0).to_numpy()
    for m in methods:
        if f"{m}_mean" not in rows or rows[f"{m}_mean"].isna().all():
            continue
        mean = rows[f"{m}_mean"].fillna(0).to_numpy()
        stock = stock_of(rows[f"{m}_q"].fillna(0).to_numpy(), mean)
        raw = np.ceil(rows.get(f"{m}_q_raw", rows[f"{m}_q"]).fillna(0).to_numpy() - 1e-9)
        err = np.abs(y - mean)
        sess = rows.assign(pred=mean * w).groupby(["origin", "session_id"])[["pred", "gmv"]].sum()
        gerr = (sess["pred"] - sess["gmv"]).abs()
        out[m] = {
            "mae_units": float(err.mean()),
            "wmae_units": float((err * w).sum() / w.sum()),
            "bias_units": float((mean - y).mean()),
            "mae_session_gmv": float(gerr.mean()),
            "relative_mae_session_gmv": float(gerr.sum() / sess["gmv"].sum()),
            "stockout_share": float((y > stock).mean()),
            "mean_overstock": float(np.maximum(stock - y, 0).mean()),
            "mean_stock": float(stock.mean()),
            # the same quantile without the floor at the expected units (a product may get 0)
            "stockout_share_no_floor": float((y > raw).mean()),
            "mean_overstock_no_floor": float(np.maximum(raw - y, 0).mean()),
            "floor_binds_share": float((raw < stock).mean()),
        }
    return out


def world(preset: str, seed: int, days: int, daily: bool = True) -> dict[str, Any]:
    from liveloop.core.config import Settings
    from liveloop.datasets.simulator import simulate_into_warehouse
    from liveloop.warehouse import Warehouse

    zone = ZoneInfo(TZ)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse.open(Settings(home=Path(tmp) / "home", timezone=TZ))
        try:
            simulate_into_warehouse(wh, scale=preset, seed=seed, days=days)
            sim_s = time.perf_counter() - started
            sold = actuals(wh)
            sessions = int(wh.sql("SELECT count(*) FROM live_sessions")[0][0])
            results = [evaluate_origin(wh, t, zone, sold, daily) for t in origins(wh, zone)]
        finally:
            wh.close()
    rows = pd.concat([r["rows"] for r in results], ignore_index=True)
    cover = pd.concat([r["cover"] for r in results], ignore_index=True)
    per_origin = {str(o): scores(g) for o, g in rows.groupby("origin")}
    return {
        "preset": preset,
        "seed": seed,
        "days": days,
        "tuned_on": (preset, seed, days) == TUNED,
        "sessions": sessions,
        "test_sessions": int(rows["session_id"].nunique()),
        "test_pairs": len(rows),
        "mean_units_per_pair": float(rows["units"].mean()),
        "zero_share": float((rows["units"] == 0).mean()),
        "overall": scores(rows),
        "per_origin": per_origin,
        "interval_coverage": {
            "units_90": float(cover["units_in"].mean()),
            "gmv_90": float(cover["gmv_in"].mean()),
        },
        "models": [r["model"] for r in results],
        "fit_seconds": [r["fit_seconds"] for r in results],
        "daily_seconds": [r["daily_seconds"] for r in results],
        "simulate_seconds": round(sim_s, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _table(overall: dict[str, dict[str, float]]) -> None:
    print(
        f"{'method':<40} {'MAE u':>7} {'WMAE u':>8} {'bias u':>7} {'MAE GMV':>9} {'rel GMV':>8} "
        f"{'stockout':>8} {'overst.':>8} {'stock':>6}"
    )
    for m, s in overall.items():
        print(
            f"{LABELS[m]:<40} {s['mae_units']:>7.3f} {s['wmae_units']:>8.3f} {s['bias_units']:>+7.3f} "
            f"{s['mae_session_gmv']:>9.1f} {s['relative_mae_session_gmv']:>8.3f} "
            f"{100 * s['stockout_share']:>7.1f}% {s['mean_overstock']:>8.2f} {s['mean_stock']:>6.2f}"
        )


def run() -> dict[str, Any]:
    started = time.perf_counter()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    worlds = []
    for preset, seed, days in WORLDS:
        w = world(preset, seed, days)
        worlds.append(w)
        tag = "tuned on" if w["tuned_on"] else "not tuned on"
        print(
            f"\n{preset} preset, seed {seed}, {days} days ({tag}): {w['sessions']} sessions; tested "
            f"{w['test_sessions']} sessions, {w['test_pairs']} (session, product) pairs, "
            f"{w['mean_units_per_pair']:.3f} units a pair ({100 * w['zero_share']:.0f}% zero)"
        )
        _table(w["overall"])
        for o, s in w["per_origin"].items():
            line = ", ".join(
                f"{m} MAE {v['mae_units']:.3f} / stockout {100 * v['stockout_share']:.1f}%"
                for m, v in s.items()
            )
            print(f"  origin {o}: {line}")
        c = w["interval_coverage"]
        methods = ", ".join(sorted({m["quantile_method"] for m in w["models"]}))
        print(
            f"  model's 90% session intervals cover units {100 * c['units_90']:.1f}%, "
            f"GMV {100 * c['gmv_90']:.1f}%; quantile method picked: {methods}; "
            f"fit {w['fit_seconds']} s, daily forecast {w['daily_seconds']} s"
        )
    seconds = round(time.perf_counter() - started, 1)
    print(f"\n[{seconds} s]")
    return {
        "machine": machine(),
        "load_average": os.getloadavg()[0],
        "date": time.strftime("%Y-%m-%d"),
        "service_level": SERVICE_LEVEL,
        "horizon_days": H_DAYS,
        "origins": ORIGINS,
        "tuned_on": {"preset": TUNED[0], "seed": TUNED[1], "days": TUNED[2]},
        "worlds": worlds,
        "seconds": seconds,
    }


if __name__ == "__main__":
    run()
