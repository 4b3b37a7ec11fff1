"""Measurement speed: the KPIs at 10M events and a 5-step funnel with a breakdown at 50M events (goals
≤ 1 s and ≤ 10 s), each beside the same computation in pandas on a slice it can hold (1M events); the
Overview's KPI tiles at 10M events from the KPI rollup beside the raw ``kpis.compute`` path (goal ≤ 1 s):
warm, the rollup's first build, and the first Overview after a day of new events (incremental refresh).

Events are generated in DuckDB (``BENCH_MEASURE_EVENTS`` / ``_FUNNEL_EVENTS`` / ``_USERS``): users spread
over 30 days, views, carts, purchases, room entries and leaves, clicks, in the proportions of the
simulator's small world, each with a channel; orders for a share of the purchases.
``BENCH_MEASURE_PARTS`` runs some parts only (comma-separated: pandas, kpis, overview, funnel).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.machine import machine
from liveloop.analytics import funnels, kpis, overview, rollups
from liveloop.core.config import Settings
from liveloop.warehouse import Warehouse

KPI_EVENTS = int(os.environ.get("BENCH_MEASURE_EVENTS", "10000000"))
FUNNEL_EVENTS = int(os.environ.get("BENCH_MEASURE_FUNNEL_EVENTS", "50000000"))
USERS = int(os.environ.get("BENCH_MEASURE_USERS", "1000000"))
PANDAS_EVENTS = 1_000_000
PARTS = set(os.environ.get("BENCH_MEASURE_PARTS", "pandas,kpis,overview,funnel").split(","))
STEPS = ("view", "click", "add_to_cart", "purchase", "enter_room")  # 5 steps
START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 30
TZ = "Asia/Shanghai"


def _append(
    wh: Warehouse, n: int, users: int, *, first: int = 0, start: datetime = START, days: int = DAYS
) -> None:
    """Events ``first`` … ``first + n - 1`` spread over ``days`` days from ``start``, and the orders of
    their purchases."""
    wh.sql(
        "INSERT INTO events (event_id, ts, user_id, type, session_id, product_id, channel) "
        "SELECT 'e' || i, ? + to_seconds((hash(i) % ?)::BIGINT), "
        "'u' || (hash(i * 7) % ?), "
        "CASE WHEN r < 0.55 THEN 'view' WHEN r < 0.65 THEN 'click' WHEN r < 0.75 THEN 'add_to_cart' "
        "WHEN r < 0.78 THEN 'purchase' WHEN r < 0.89 THEN 'enter_room' ELSE 'leave_room' END, "
        "'s' || (hash(i * 13) % 500), 'p' || (hash(i * 17) % 5000), "
        "['feed', 'search', 'live', 'social'][1 + (hash(i * 19) % 4)::INT] "
        "FROM (SELECT i, (hash(i * 3) % 1000000) / 1000000.0 AS r FROM range(?, ?) t(i))",
        [start, days * 86400, users, first, first + n],
    )
    wh.sql(
        "INSERT INTO orders (order_id, user_id, ts, status, amount, session_id, channel) "
        "SELECT 'o' || event_id, user_id, ts, 'paid', 10 + (hash(event_id) % 300), session_id, channel "
        "FROM events WHERE type = 'purchase' AND ts >= ? AND ts < ?",
        [start, start + timedelta(days=days)],
    )


def _fill(wh: Warehouse, n: int, users: int) -> None:
    wh.sql("DELETE FROM events")
    wh.sql("DELETE FROM orders")
    _append(wh, n, users)


def _timed(fn: Any, repeat: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _pandas_gmv_gpm(df: pd.DataFrame, orders: pd.DataFrame) -> dict[str, float]:
    entries = (df["type"] == "enter_room").sum()
    gmv = float(orders["amount"].astype(float).sum())
    return {
        "gmv": gmv,
        "gpm": gmv * 1000 / entries,
        "viewers": df.loc[df["type"] == "enter_room", "user_id"].nunique(),
    }


def _pandas_funnel(df: pd.DataFrame, steps: tuple[str, ...], window_s: int) -> list[int]:
    """An ordered funnel with merge_asof, step by step (the same definition as liveloop's)."""
    ev = df[df["type"].isin(steps)].sort_values("ts")
    cur = ev[ev["type"] == steps[0]][["user_id", "ts"]].rename(columns={"ts": "t"})
    cur["t0"] = cur["t"]
    cur = cur.sort_values("t")
    reach = [cur["user_id"].nunique()]
    for step in steps[1:]:
        nxt = ev[ev["type"] == step][["user_id", "ts"]].sort_values("ts")
        cur = pd.merge_asof(cur, nxt, left_on="t", right_on="ts", by="user_id", direction="forward")
        cur = cur[cur["ts"].notna() & (cur["ts"] <= cur["t0"] + pd.Timedelta(seconds=window_s))]
        cur = cur.drop(columns="t").rename(columns={"ts": "t"}).sort_values("t")
        reach.append(cur["user_id"].nunique())
    return reach


def _overview_page(wh: Warehouse, *, rollup: bool) -> dict[str, Any]:
    """What the dashboard's Overview computes per request: the KPI tiles, GMV per day, top products."""
    return {
        "tiles": overview.kpi_tiles(wh, TZ, rollup=rollup),
        "gmv": overview.gmv_per_day(wh, TZ),
        "top": overview.top_products(wh),
    }


def _overview_tiles(wh: Warehouse) -> dict[str, Any]:
    """The Overview's KPI tiles on the warehouse ``_fill`` made: from the KPI rollup (its first build,
    warm, the first Overview after a day of new events) beside the raw ``kpis.compute`` path."""
    t_raw, want = _timed(lambda: overview.kpi_tiles(wh, TZ, rollup=False), repeat=1)
    built = rollups.refresh(wh, TZ)
    t_warm, got = _timed(lambda: overview.kpi_tiles(wh, TZ))
    t_page, _ = _timed(lambda: _overview_page(wh, rollup=True))
    t_page_raw, _ = _timed(lambda: _overview_page(wh, rollup=False), repeat=1)
    days, users = wh.sql(
        "SELECT (SELECT count(*) FROM kpi_rollup_days WHERE tz = $tz), "
        "(SELECT count(*) FROM kpi_rollup_users WHERE tz = $tz)",
        {"tz": TZ},
    )[0]
    # a day of new events (and the orders of its purchases) arrives; the next Overview refreshes its days
    _append(wh, KPI_EVENTS // DAYS, USERS, first=KPI_EVENTS, start=START + timedelta(days=DAYS), days=1)
    t = time.perf_counter()
    after = overview.kpi_tiles(wh, TZ)
    t_after = time.perf_counter() - t
    mode, rebuilt = wh.sql("SELECT refresh, days_rebuilt FROM kpi_rollup_state WHERE tz = ?", [TZ])[0]
    t_warm_after, _ = _timed(lambda: overview.kpi_tiles(wh, TZ))
    t_raw_after, want_after = _timed(lambda: overview.kpi_tiles(wh, TZ, rollup=False), repeat=1)
    return {
        "events": KPI_EVENTS,
        "tz": TZ,
        "raw_compute_tiles_s": round(t_raw, 3),
        "rollup_first_build_s": built["seconds"],
        "rollup_rows": {"days": int(days), "day_user": int(users)},
        "rollup_tiles_warm_s": round(t_warm, 3),
        "overview_page_rollup_s": round(t_page, 3),
        "overview_page_raw_s": round(t_page_raw, 3),
        "new_day_events": KPI_EVENTS // DAYS,
        "first_tiles_after_new_day_s": round(t_after, 3),
        "refresh_after_new_day": {"mode": mode, "days_rebuilt": int(rebuilt)},
        "rollup_tiles_warm_after_new_day_s": round(t_warm_after, 3),
        "raw_compute_tiles_after_new_day_s": round(t_raw_after, 3),
        "tiles_equal_raw": got == want and after == want_after,
        "goal_s": 1.0,
    }


def run() -> dict[str, Any]:
    out: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse.open(Settings(home=Path(tmp)))
        if "pandas" in PARTS:
            out["at_1m"] = _at_1m(wh)
            print(f"1M events: {out['at_1m']}", flush=True)
        if PARTS & {"kpis", "overview"}:
            _fill(wh, KPI_EVENTS, USERS)
        if "kpis" in PARTS:
            t, _ = _timed(lambda: kpis.compute(wh))
            t_day, _ = _timed(lambda: kpis.compute(wh, ["gmv", "gpm", "view_to_buy"], "day"))
            out["kpis"] = {
                "events": KPI_EVENTS,
                "all_kpis_platform_s": round(t, 3),
                "three_kpis_by_day_s": round(t_day, 3),
                "goal_s": 1.0,
            }
            print(f"KPIs: {out['kpis']}", flush=True)
        if "overview" in PARTS:
            out["overview_tiles"] = _overview_tiles(wh)
            print(f"Overview tiles: {out['overview_tiles']}", flush=True)
        if "funnel" in PARTS:
            _fill(wh, FUNNEL_EVENTS, USERS)
            t, _ = _timed(
                lambda: funnels.run(wh, funnels.FunnelSpec(STEPS, window_s=86400, breakdown="channel")),
                repeat=1,
            )
            out["funnel"] = {
                "events": FUNNEL_EVENTS,
                "steps": len(STEPS),
                "breakdown": "channel",
                "seconds": round(t, 3),
                "goal_s": 10.0,
            }
            print(f"funnel: {out['funnel']}", flush=True)
        wh.close()
    return out


def _at_1m(wh: Warehouse) -> dict[str, Any]:
    """pandas beside liveloop on 1M events."""
    _fill(wh, PANDAS_EVENTS, USERS // 10)
    df = wh.df("SELECT user_id, ts, type FROM events")
    orders = wh.df("SELECT amount FROM orders")
    t_pd, _ = _timed(lambda: _pandas_gmv_gpm(df, orders))
    t_ll, _ = _timed(lambda: kpis.compute(wh, ["gmv", "gpm", "viewers"]))
    t_pdf, ref = _timed(lambda: _pandas_funnel(df, STEPS, 86400), repeat=1)
    spec = funnels.FunnelSpec(STEPS, window_s=86400)
    t_llf, got = _timed(lambda: funnels.run(wh, spec), repeat=1)
    return {
        "kpis_s": round(t_ll, 3),
        "pandas_kpis_s": round(t_pd, 3),
        "funnel_s": round(t_llf, 3),
        "pandas_funnel_s": round(t_pdf, 3),
        "funnel_agrees_with_pandas": [s["users"] for s in got["steps"]] == ref,
    }


if __name__ == "__main__":
    run()
