"""Measurement speed: the KPIs at 10M events and a 5-step funnel with a breakdown at 50M events (goals
≤ 1 s and ≤ 10 s), each beside the same computation in pandas on a slice it can hold (1M events).

Events are generated in DuckDB (``BENCH_MEASURE_EVENTS`` / ``_FUNNEL_EVENTS`` / ``_USERS``): users spread
over 30 days, views, carts, purchases, room entries and leaves, clicks, in the proportions of the
simulator's small world, each with a channel; orders for a share of the purchases.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.machine import machine
from liveloop.analytics import funnels, kpis
from liveloop.core.config import Settings
from liveloop.warehouse import Warehouse

KPI_EVENTS = int(os.environ.get("BENCH_MEASURE_EVENTS", "10000000"))
FUNNEL_EVENTS = int(os.environ.get("BENCH_MEASURE_FUNNEL_EVENTS", "50000000"))
USERS = int(os.environ.get("BENCH_MEASURE_USERS", "1000000"))
PANDAS_EVENTS = 1_000_000
STEPS = ("view", "click", "add_to_cart", "purchase", "enter_room")  # 5 steps


def _fill(wh: Warehouse, n: int, users: int) -> None:
    wh.sql("DELETE FROM events")
    wh.sql("DELETE FROM orders")
    wh.sql(
        "INSERT INTO events (event_id, ts, user_id, type, session_id, product_id, channel) "
        "SELECT 'e' || i, TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_seconds((hash(i) % 2592000)::BIGINT), "
        "'u' || (hash(i * 7) % ?), "
        "CASE WHEN r < 0.55 THEN 'view' WHEN r < 0.65 THEN 'click' WHEN r < 0.75 THEN 'add_to_cart' "
        "WHEN r < 0.78 THEN 'purchase' WHEN r < 0.89 THEN 'enter_room' ELSE 'leave_room' END, "
        "'s' || (hash(i * 13) % 500), 'p' || (hash(i * 17) % 5000), "
        "['feed', 'search', 'live', 'social'][1 + (hash(i * 19) % 4)::INT] "
        "FROM (SELECT i, (hash(i * 3) % 1000000) / 1000000.0 AS r FROM range(?) t(i))",
        [users, n],
    )
    wh.sql(
        "INSERT INTO orders (order_id, user_id, ts, status, amount, session_id, channel) "
        "SELECT 'o' || event_id, user_id, ts, 'paid', 10 + (hash(event_id) % 300), session_id, channel "
        "FROM events WHERE type = 'purchase'"
    )


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


def run() -> dict[str, Any]:
    out: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse.open(Settings(home=Path(tmp)))
        # pandas beside liveloop on 1M events
        _fill(wh, PANDAS_EVENTS, USERS // 10)
        df = wh.df("SELECT user_id, ts, type FROM events")
        orders = wh.df("SELECT amount FROM orders")
        t_pd, _ = _timed(lambda: _pandas_gmv_gpm(df, orders))
        t_ll, _ = _timed(lambda: kpis.compute(wh, ["gmv", "gpm", "viewers"]))
        t_pdf, ref = _timed(lambda: _pandas_funnel(df, STEPS, 86400), repeat=1)
        spec = funnels.FunnelSpec(STEPS, window_s=86400)
        t_llf, got = _timed(lambda: funnels.run(wh, spec), repeat=1)
        out["at_1m"] = {
            "kpis_s": round(t_ll, 3),
            "pandas_kpis_s": round(t_pd, 3),
            "funnel_s": round(t_llf, 3),
            "pandas_funnel_s": round(t_pdf, 3),
            "funnel_agrees_with_pandas": [s["users"] for s in got["steps"]] == ref,
        }
        print(f"1M events: {out['at_1m']}", flush=True)
        df = pd.DataFrame()  # free the slice before the large tables
        _fill(wh, KPI_EVENTS, USERS)
        t, _ = _timed(lambda: kpis.compute(wh))
        t_day, _ = _timed(lambda: kpis.compute(wh, ["gmv", "gpm", "view_to_buy"], "day"))
        out["kpis"] = {
            "events": KPI_EVENTS,
            "all_kpis_platform_s": round(t, 3),
            "three_kpis_by_day_s": round(t_day, 3),
            "goal_s": 1.0,
        }
        print(f"KPIs: {out['kpis']}", flush=True)
        _fill(wh, FUNNEL_EVENTS, USERS)
        t, _ = _timed(
            lambda: funnels.run(wh, funnels.FunnelSpec(STEPS, window_s=86400, breakdown="channel")), repeat=1
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


if __name__ == "__main__":
    run()
