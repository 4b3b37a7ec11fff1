"""Profiles: build time and peak memory along the user curve (0.1M → 1M users, ~50 events each, from the
market simulator), real-time interest reads, the per-event interest update, and each Table-1 figure
beside its baseline and the reference study.

The world is generated once by the market simulator at the curve's largest size (``BENCH_PROFILE_DAYS``
days ≈ 51 events per user) into a Parquet cache (``BENCH_PROFILE_CACHE``). Each point of the curve
loads a nested, hash-chosen share of its users (with their events, orders, order lines and comments;
all products) into a fresh warehouse straight from Parquet with DuckDB ``INSERT … SELECT FROM
read_parquet`` — no row-wise ingest: ``liveloop.ingest`` validates and de-duplicates every row, which
is right for real feeds but would dominate a 50M-event run. Generation, loading and each build run in
their own processes, so each peak RSS is that step's own; the build runs with DuckDB limited to
``BENCH_PROFILE_MEMORY`` and ``BENCH_PROFILE_THREADS`` threads. The comparison for the curve is linear
extrapolation from its smallest point (the log-log slope of time against users: 1 = linear); at the
smallest point the feature families are also computed directly in pandas on the same rows.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.machine import machine

SIZES = [int(s) for s in os.environ.get("BENCH_PROFILE_USERS", "100000,250000,500000,1000000").split(",")]
DAYS = int(os.environ.get("BENCH_PROFILE_DAYS", "13"))
CACHE = Path(os.environ.get("BENCH_PROFILE_CACHE", str(Path.home() / ".cache" / "liveloop" / "bench")))
MEMORY = os.environ.get("BENCH_PROFILE_MEMORY", "3GB")
THREADS = int(os.environ.get("BENCH_PROFILE_THREADS", "2"))
GOAL_S, GOAL_GB = 300.0, 8.0
#: Tables a profile build reads, with the column that picks a user's rows (None: every row).
LOADED = {
    "users": "user_id",
    "products": None,
    "events": "user_id",
    "orders": "user_id",
    "order_items": "order_id",
    "comments": "user_id",
}


def _child(fn: str, *args: Any, module: str = "benchmarks.bench_profiles") -> dict[str, Any]:
    """Run ``fn(*args)`` of ``module`` in a fresh Python process; its last stdout line is JSON."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(THREADS),
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    code = f"import json, sys; from {module} import {fn}; print(json.dumps({fn}(*sys.argv[1:])))"
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{fn} failed:\n{out.stderr[-4000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _usage() -> dict[str, float]:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": round(ru.ru_utime + ru.ru_stime, 2), "peak_rss_mb": round(ru.ru_maxrss / 1024, 1)}


def world_dir(users: int, days: int = DAYS, seed: int = 7) -> Path:
    return CACHE / f"profiles-world-{users}-{days}-{seed}"


def generate(users: str, days: str, out: str) -> dict[str, Any]:
    """(child) The simulator's world for ``users`` x ``days`` as Parquet under ``out`` (skipped if cached)."""
    from liveloop.datasets.simulator.config import SimConfig
    from liveloop.datasets.simulator.run import simulate_to_dir

    target = Path(out)
    if (target / "DONE").is_file():
        return json.loads((target / "DONE").read_text())
    t = time.perf_counter()
    summary = simulate_to_dir(target, SimConfig.preset("large", users=int(users), days=int(days)))
    result = {
        "events": summary["events"],
        "orders": summary["orders"],
        "seconds": round(time.perf_counter() - t, 1),
    }
    result |= _usage()
    (target / "DONE").write_text(json.dumps(result))
    return result


def load(world: str, users: str, db: str) -> dict[str, Any]:
    """(child) A fresh warehouse at ``db`` with a nested, hash-chosen ``users`` of the world."""
    from liveloop.warehouse import Warehouse

    src = Path(world)
    t = time.perf_counter()
    with Warehouse(Path(db)) as wh:
        con = wh.con
        con.execute(f"SET threads = {THREADS}")
        con.execute(
            "CREATE TEMP TABLE _users AS SELECT user_id FROM read_parquet(?) ORDER BY hash(user_id) LIMIT ?",
            [str(src / "users.parquet"), int(users)],
        )
        counts = {}
        for table, key in LOADED.items():
            path = str(src / f"{table}.parquet")
            have = {r[0] for r in con.execute("SELECT name FROM parquet_schema(?)", [path]).fetchall()}
            cols = ", ".join(f'"{c}"' for c in wh.columns(table) if c in have)
            where = ""
            if key == "user_id":
                where = "WHERE user_id IN (SELECT user_id FROM _users)"
            elif key == "order_id":
                where = "WHERE order_id IN (SELECT order_id FROM orders)"
            con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM read_parquet(?) {where}", [path])
            counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
        con.execute("CHECKPOINT")
    return counts | {"seconds": round(time.perf_counter() - t, 1)} | _usage()


def build(db: str, memory: str) -> dict[str, Any]:
    """(child) ``build_profiles`` on ``db``: wall and CPU time per stage, peak RSS of the process."""
    from liveloop.profiles import BuildOptions, build_profiles
    from liveloop.warehouse import Warehouse

    stages: dict[str, float] = {}
    last = [time.perf_counter(), ""]

    def progress(stage: str, _f: float) -> None:
        now = time.perf_counter()
        if last[1]:
            stages[str(last[1])] = round(now - float(last[0]), 2)
        last[:] = [now, stage]

    with Warehouse(Path(db)) as wh:
        wh.con.execute(f"SET threads = {THREADS}")
        t = time.perf_counter()
        result = build_profiles(wh, BuildOptions(memory_limit=memory), progress=progress)
        seconds = time.perf_counter() - t
    return {
        "users": result["users"],
        "segments": result["segments"],
        "seconds": round(seconds, 1),
        "stages_s": stages,
        "notes": result["notes"],
        "models": {
            name: {k: m.get(k) for k in ("accuracy", "recall", "f1", "auc", "chosen", "k") if k in m}
            for name, m in result["models"].items()
        },
    } | _usage()


def reads(db: str, n: str = "300") -> dict[str, Any]:
    """(child) Real-time interest reads after a build: cold (first read of a user), and warm after one new
    event arrives (the incremental path: one query, one ``update``)."""
    import pyarrow as pa

    from liveloop.profiles import predict_interest
    from liveloop.warehouse import Warehouse

    with Warehouse(Path(db)) as wh:
        users = [
            r[0]
            for r in wh.sql(
                "SELECT user_id FROM profiles WHERE CAST(features->>'events' AS DOUBLE) > 20 LIMIT ?",
                [int(n)],
            )
        ]
        product = wh.sql("SELECT product_id FROM products LIMIT 1")[0][0]
        cold, warm = [], []
        for u in users:
            t = time.perf_counter()
            predict_interest(wh, u)
            cold.append((time.perf_counter() - t) * 1000)
        for i, u in enumerate(users):
            wh.append(
                "events",
                pa.table(
                    {
                        "event_id": [f"bench-{i}"],
                        "ts": [datetime(2030, 1, 1, tzinfo=UTC)],
                        "user_id": [u],
                        "type": ["view"],
                        "product_id": [product],
                    }
                ),
            )
            t = time.perf_counter()
            out = predict_interest(wh, u)
            warm.append((time.perf_counter() - t) * 1000)
            assert out["events_seen"] > 0
    q = lambda xs, p: round(float(np.percentile(xs, p)), 2)  # noqa: E731
    return {
        "users": len(users),
        "cold_ms_p50": q(cold, 50),
        "cold_ms_p99": q(cold, 99),
        "warm_ms_p50": q(warm, 50),
        "warm_ms_p99": q(warm, 99),
    }


def pandas_features(events: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The comparison: the main behaviour feature families written directly in pandas."""
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
    per = live.pivot_table(index=["user_id", "session_id"], columns="type", values="ts", aggfunc="min")
    watch = (
        ((per.get("leave_room") - per.get("enter_room")).dt.total_seconds() / 60)
        .clip(0, 360)
        .groupby("user_id")
        .sum()
    )
    days = ev.assign(day=ev["ts"].dt.floor("D")).groupby("user_id")["day"].nunique()
    return pd.concat(
        [
            g.size().rename("events"),
            counts,
            buys[["frequency", "monetary", "recency_days"]],
            hours,
            watch.rename("watch_minutes"),
            days.rename("active_days"),
        ],
        axis=1,
    )


def features_vs_pandas(db: str) -> dict[str, Any]:
    """(child) The feature table through Ibis/DuckDB vs the same families in pandas, CPU seconds."""
    from liveloop.profiles import Window, build_features
    from liveloop.profiles.build import data_end
    from liveloop.warehouse import Warehouse

    with Warehouse(Path(db)) as wh:
        wh.con.execute(f"SET threads = {THREADS}")
        cutoff = data_end(wh)
        assert cutoff is not None
        c = time.process_time()
        f = build_features(wh, Window.ending(cutoff))
        ibis_cpu = time.process_time() - c
        df = wh.df("SELECT user_id, ts, type, session_id, CAST(amount AS DOUBLE) AS amount FROM events")
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    c = time.process_time()
    p = pandas_features(df, pd.Timestamp(cutoff))
    pandas_cpu = time.process_time() - c
    return {
        "ibis_duckdb_cpu_s": round(ibis_cpu, 2),
        "feature_columns": f.shape[1],
        "pandas_cpu_s": round(pandas_cpu, 2),
        "pandas_columns": p.shape[1],
    }


def curve() -> dict[str, Any]:
    world = world_dir(max(SIZES))
    gen = _child("generate", max(SIZES), DAYS, world)
    print(f"world: {max(SIZES):,} users x {DAYS} days, {gen['events']:,} events (simulator)", flush=True)
    points = []
    for n in sorted(SIZES):
        home = CACHE / f"profiles-{n}"  # the warehouse and the build's model artifacts
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        db = home / "liveloop.duckdb"
        loaded = _child("load", world, n, db)
        built = _child("build", db, MEMORY)
        point = {
            "users": n,
            "events": loaded["events"],
            "orders": loaded["orders"],
            "load": loaded,
            "build": built,
        }
        if n == min(SIZES):
            point["interest_reads"] = _child("reads", db)
            if os.environ.get("BENCH_PROFILE_PANDAS", "1") == "1":
                point["features_vs_pandas"] = _child("features_vs_pandas", db)
        shutil.rmtree(home, ignore_errors=True)
        points.append(point)
        print(
            f"{n:>9,} users {loaded['events']:>11,} events: load {loaded['seconds']:6.1f} s | build "
            f"{built['seconds']:6.1f} s wall, {built['cpu_s']:7.1f} s CPU, "
            f"peak RSS {built['peak_rss_mb']:,.0f} MB "
            f"| stages {built['stages_s']}",
            flush=True,
        )
    first, last = points[0], points[-1]
    slope = None
    if len(points) > 1:
        slope = math.log(last["build"]["seconds"] / first["build"]["seconds"]) / math.log(
            last["users"] / first["users"]
        )
        linear = first["build"]["seconds"] * last["users"] / first["users"]
        print(
            f"scaling: time ~ users^{slope:.2f} (1 = linear); linear extrapolation from "
            f"{first['users']:,} users "
            f"predicts {linear:.0f} s at {last['users']:,}, measured {last['build']['seconds']:.0f} s",
            flush=True,
        )
    top = last["build"]
    print(
        f"goal at {last['users']:,} users / {last['events']:,} events: build {top['seconds']:.0f} s "
        f"(goal < {GOAL_S:.0f}), peak RSS {top['peak_rss_mb'] / 1024:.2f} GB (goal < {GOAL_GB:.0f})",
        flush=True,
    )
    return {"world": gen | {"users": max(SIZES), "days": DAYS}, "points": points, "time_exponent": slope}


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
                f"{name:26} {r['algorithm']:20} {r['data_used'][:28]:28} acc {r['accuracy']:6.2f} "
                f"rec {r['recall']:6.2f} F1 {r['f1']:.3f} "
                f"| {b['name']}: {b['accuracy']:6.2f} {b['recall']:6.2f} {b['f1']:.3f} "
                f"| reference {ref.get('accuracy', '-')} {ref.get('recall', '-')} {ref.get('f1', '-')}",
                flush=True,
            )
    return reports


def run() -> dict[str, Any]:
    CACHE.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"machine": machine(), "curve": curve(), "interest_update": interest_update()}
    if os.environ.get("BENCH_PROFILE_TABLE1", "1") == "1":
        result["table1"] = table1()
    print(json.dumps({"machine": result["machine"]}))
    return result
