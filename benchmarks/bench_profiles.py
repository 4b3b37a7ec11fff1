"""Profiles: feature-build time and peak memory at growing user counts (Ibis/DuckDB vs pandas), the per-event
interest update, and each Table-1 figure beside its baseline and the reference study."""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa

from benchmarks.machine import machine

SIZES = [int(s) for s in os.environ.get("BENCH_PROFILE_USERS", "10000,30000,100000").split(",")]
EVENTS_PER_USER = 50
START = datetime(2026, 1, 1, tzinfo=UTC)
TYPES = np.array(
    [
        "view",
        "view",
        "view",
        "click",
        "add_to_cart",
        "like",
        "enter_room",
        "leave_room",
        "comment",
        "purchase",
    ]
)


def synthetic_events(n_users: int, seed: int = 0) -> pa.Table:
    """``n_users`` x ~50 events over 60 days (vectorised; heavy-tailed activity per user)."""
    rng = np.random.default_rng(seed)
    per_user = np.minimum(rng.pareto(1.5, n_users) * EVENTS_PER_USER / 3 + 5, 2000).astype(int)
    users = np.repeat(np.arange(n_users), per_user)
    n = len(users)
    types = TYPES[rng.integers(0, len(TYPES), n)]
    amount = np.where(types == "purchase", np.round(rng.lognormal(4, 1, n), 2), np.nan)
    return pa.table(
        {
            "event_id": pa.array(np.char.add("e", np.arange(n).astype(str))),
            "ts": pa.array((START.timestamp() * 1e6 + rng.uniform(0, 60 * 86400e6, n)).astype(np.int64)).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "user_id": pa.array(np.char.add("u", users.astype(str))),
            "type": pa.array(types),
            "session_id": pa.array(np.char.add("s", rng.integers(0, 500, n).astype(str))),
            "category": pa.array(np.char.add("c", rng.zipf(1.6, n).clip(max=300).astype(str))),
            "amount": pa.array(amount, pa.float64(), from_pandas=True),
        }
    )


def pandas_features(events: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The comparison: the main feature families written directly in pandas."""
    ev = events[events["ts"] < cutoff]
    g = ev.groupby("user_id")
    counts = pd.crosstab(ev["user_id"], ev["type"])
    buys = (
        ev[ev["type"] == "purchase"]
        .groupby("user_id")
        .agg(frequency=("amount", "size"), monetary=("amount", "sum"), last=("ts", "max"))
    )
    buys["recency_days"] = (cutoff - buys["last"]).dt.total_seconds() / 86400
    hours = pd.crosstab(ev["user_id"], (ev["ts"].dt.hour + 8) % 24, normalize="index")
    live = ev[ev["type"].isin(["enter_room", "leave_room"])]
    per = live.pivot_table(
        index=["user_id", "session_id"], columns="type", values="ts", aggfunc={"ts": "min"}
    )
    watch = (
        ((per.get("leave_room") - per.get("enter_room")).dt.total_seconds() / 60)
        .clip(0, 360)
        .groupby("user_id")
        .sum()
    )
    out = pd.concat(
        [
            g.size().rename("events"),
            counts,
            buys[["frequency", "monetary", "recency_days"]],
            hours,
            watch.rename("watch_minutes"),
        ],
        axis=1,
    )
    return out


def _rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scaling() -> list[dict[str, Any]]:
    from liveloop.profiles import Window, build_features
    from liveloop.warehouse import Warehouse

    rows = []
    for n in SIZES:
        with tempfile.TemporaryDirectory() as tmp:
            wh = Warehouse(Path(tmp) / "b.duckdb")
            table = synthetic_events(n)
            wh.append("events", table)
            cutoff = datetime(2026, 2, 20, tzinfo=UTC)
            proc = psutil.Process()
            rss0 = proc.memory_info().rss
            t = time.perf_counter()
            f = build_features(wh, Window.ending(cutoff))
            ibis_s = time.perf_counter() - t
            rss_ibis = (proc.memory_info().rss - rss0) / 2**20
            df = table.to_pandas()
            t = time.perf_counter()
            p = pandas_features(df, pd.Timestamp(cutoff))
            pandas_s = time.perf_counter() - t
            wh.close()
        rows.append(
            {
                "users": n,
                "events": table.num_rows,
                "feature_columns": f.shape[1],
                "ibis_duckdb_s": round(ibis_s, 2),
                "pandas_s": round(pandas_s, 2),
                "pandas_columns": p.shape[1],
                "rss_growth_ibis_mb": round(rss_ibis, 1),
                "peak_rss_mb": round(_rss_peak_mb(), 1),
            }
        )
        print(
            f"{n:>8,} users {table.num_rows:>10,} events: "
            f"Ibis/DuckDB {ibis_s:6.2f} s ({f.shape[1]} columns) | "
            f"pandas {pandas_s:6.2f} s ({p.shape[1]} columns) | peak RSS {_rss_peak_mb():.0f} MB",
            flush=True,
        )
    return rows


def interest_update() -> dict[str, Any]:
    """Per-event update of one user's interest state (LSTM step + top-5), after a small fit."""
    from liveloop.profiles import InterestModel

    rng = np.random.default_rng(0)
    cats = [f"c{i}" for i in range(200)]
    seqs = {f"u{i}": [cats[j] for j in rng.zipf(1.5, 60).clip(max=199)] for i in range(300)}
    model = InterestModel(epochs=1, seed=0).fit(seqs)
    state = model.state(seqs["u0"][:10])
    times = []
    for c in seqs["u1"] * 5:
        t = time.perf_counter()
        state.update(c)
        state.top(5)
        times.append((time.perf_counter() - t) * 1000)
    rescore = []
    hist = seqs["u0"]
    for _ in range(100):
        t = time.perf_counter()
        model.predict_top(hist[-20:], 5)
        rescore.append((time.perf_counter() - t) * 1000)
    out = {
        "update_ms_p50": round(float(np.percentile(times, 50)), 3),
        "update_ms_p99": round(float(np.percentile(times, 99)), 3),
        "rescore_window_ms_p50": round(float(np.percentile(rescore, 50)), 3),
        "n": len(times),
    }
    print(
        f"interest: incremental update+top5 p50 {out['update_ms_p50']} ms, p99 {out['update_ms_p99']} ms "
        f"| re-scoring the 20-event window p50 {out['rescore_window_ms_p50']} ms",
        flush=True,
    )
    return out


def table1() -> list[dict[str, Any]]:
    from liveloop.profiles.evaluation import EVAL_DATASETS, evaluate_profiling

    names = os.environ.get("BENCH_PROFILE_DATASETS", ",".join(EVAL_DATASETS)).split(",")
    reports = []
    for name in names:
        t = time.perf_counter()
        rep = evaluate_profiling(name)
        rep["seconds"] = round(time.perf_counter() - t, 1)
        reports.append(rep)
        for r in rep["rows"]:
            b, ref = r["baseline"], r["reference"] or {}
            print(
                f"{name:26} {r['algorithm']:20} acc {r['accuracy']:6.2f} "
                f"rec {r['recall']:6.2f} F1 {r['f1']:.3f} "
                f"| {b['name']}: {b['accuracy']:6.2f} {b['recall']:6.2f} {b['f1']:.3f} "
                f"| reference {ref.get('accuracy', '-')} {ref.get('recall', '-')} {ref.get('f1', '-')}",
                flush=True,
            )
    return reports


def run() -> dict[str, Any]:
    result: dict[str, Any] = {
        "machine": machine(),
        "scaling": scaling(),
        "interest_update": interest_update(),
    }
    if os.environ.get("BENCH_PROFILE_TABLE1", "1") == "1":
        result["table1"] = table1()
    print(json.dumps({"machine": result["machine"]}))
    return result
