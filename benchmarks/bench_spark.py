"""Spark engine: the profile features and tags (and the KPI measures) on Spark ``local[2]`` over the
Parquet lake beside DuckDB on the warehouse, along the user curve (``BENCH_SPARK_USERS``: 0.1M, 0.5M,
1M users of the market simulator's world, ~50 events each), with equality checked at each point.

The worlds and warehouses are those of ``bench_profiles`` (same cache, same loading). Each engine runs
in its own process (peak RSS is its own; Spark's JVM is counted apart: the driver's heap is capped by
``BENCH_SPARK_DRIVER_MEMORY``). DuckDB runs with two threads, Spark with two local cores: the same
machine's two cores for both. Spark's time includes exporting the lake and starting the session, as
``--engine spark`` does; both are reported apart too.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_profiles import DAYS, THREADS, _child, _usage, world_dir
from benchmarks.machine import machine

SIZES = [int(s) for s in os.environ.get("BENCH_SPARK_USERS", "100000,500000,1000000").split(",")]
DRIVER_MEMORY = os.environ.get("BENCH_SPARK_DRIVER_MEMORY", "6g")
#: The features' window (days before the last event), as a profile build with ``--window-days``.
WINDOW_DAYS = 30


def _window(db: str) -> Any:
    from liveloop.profiles.build import data_end
    from liveloop.profiles.window import Window
    from liveloop.warehouse import Warehouse

    with Warehouse(Path(db), read_only=True) as wh:
        cutoff = data_end(wh)
    assert cutoff is not None
    return Window(cutoff=cutoff, start=cutoff - timedelta(days=WINDOW_DAYS))


def _digest(features: Any, tags: Any, kpi: dict[Any, Any]) -> dict[str, Any]:
    """What the parent compares: every feature column's values (rounded where not a count), the tags."""
    frame = features.sort_index()
    cols = {}
    for c in frame.columns:
        s = frame[c]
        cols[c] = s.astype(str).tolist() if s.dtype == object else [None if math.isnan(v) else v for v in s]
    pairs = sorted((r["user_id"], list(r["tags"])) for r in tags.to_pylist())
    return {"index": list(frame.index), "columns": cols, "tags": pairs, "kpi": kpi}


def engine_run(db: str, engine: str, out: str) -> dict[str, Any]:
    """(child) Features, tags and the KPI measures per day on one engine; the values to ``out``."""
    from liveloop.analytics import kpis
    from liveloop.core.config import Settings
    from liveloop.profiles.features import build_features
    from liveloop.profiles.tags import interest_tags
    from liveloop.warehouse import Warehouse
    from liveloop.warehouse.spark import open_lake

    win = _window(db)
    times: dict[str, float] = {}
    with Warehouse(Path(db)) as wh:
        wh.con.execute(f"SET threads = {THREADS}")
        t = time.perf_counter()
        if engine == "spark":
            os.environ["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {DRIVER_MEMORY} pyspark-shell"
            settings = Settings(home=Path(db).parent, spark_master=f"local[{THREADS}]")
            source: Any = open_lake(wh, settings)
            times |= source.timings
        else:
            source = wh
        t0 = time.perf_counter()
        features = build_features(source, win)
        times["features_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        tags = interest_tags(source, win).to_pyarrow()
        times["tags_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        kpi = kpis.measures(source, "day", tz="Asia/Shanghai")
        times["kpi_s"] = round(time.perf_counter() - t0, 2)
        times["total_s"] = round(time.perf_counter() - t, 2)
    Path(out).write_text(json.dumps(_digest(features, tags, kpi), default=str))
    return times | {"users": len(features)} | _usage()


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    if a["index"] != b["index"]:
        return ["users differ"]
    out = [f"tags of {len(a['tags'])} users" for _ in [0] if a["tags"] != b["tags"]]
    for c, x in a["columns"].items():
        y = b["columns"][c]
        for u, v in zip(x, y, strict=True):
            if u == v or (isinstance(u, float) and isinstance(v, float) and math.isclose(u, v, rel_tol=1e-9)):
                continue
            out.append(f"{c}: {u} != {v}")
            break
    for key, row in a["kpi"].items():
        other = b["kpi"].get(key, {})
        if any(
            not math.isclose(v, other.get(m, math.nan), rel_tol=1e-9, abs_tol=1e-9) for m, v in row.items()
        ):
            out.append(f"kpi {key}")
            break
    return out


#: MLlib's (regularisation, alpha) pairs tried on the validation split (it scales the regularisation by
#: each user's and item's interaction count, so ``implicit``'s values do not carry over).
ALS_GRID = tuple((r, a) for a in (1.0, 3.0, 10.0) for r in (0.03, 0.1, 0.3, 1.0))
#: ``BENCH_SPARK_PARTS``: the user curve of features, tags and KPIs, and the ALS comparison.
PARTS = os.environ.get("BENCH_SPARK_PARTS", "curve,als").split(",")
ALS_GOAL = 0.98  # MLlib's NDCG@10 at least 98% of implicit's on the same split


def als() -> list[dict[str, Any]]:
    """``implicit``'s ALS and MLlib's on the same splits: MovieLens 100K (stratified, the Microsoft
    Recommenders protocol) and the Taobao head (time); MLlib's regularisation chosen on a validation
    split carved from the training part, then both scored once on the test split."""
    from liveloop.recommend.evaluate import evaluate_models
    from liveloop.recommend.factorization import ALS, SparkALS
    from liveloop.recommend.sources import load_dataset
    from liveloop.recommend.splits import stratified_split, time_split

    rows = []
    for name in ("movielens_100k", "taobao_userbehavior_head"):
        data = load_dataset(name)
        if name == "movielens_100k":
            train, test = stratified_split(data, 0.75, seed=42)
            fit, val = stratified_split(train, 0.75, seed=7)
        else:
            train, test = time_split(data, 0.2)
            fit, val = time_split(train, 0.2)
        tried = evaluate_models(fit, val, [SparkALS(regularization=r, alpha=a) for r, a in ALS_GRID])
        chosen = ALS_GRID[max(range(len(ALS_GRID)), key=lambda i: tried[i]["ndcg@10"])]
        both = evaluate_models(train, test, [ALS(), SparkALS(regularization=chosen[0], alpha=chosen[1])])
        ratio = both[1]["ndcg@10"] / both[0]["ndcg@10"] if both[0]["ndcg@10"] else None
        rows.append(
            {
                "dataset": name,
                "validation_ndcg@10": {
                    f"{r}/{a}": t["ndcg@10"] for (r, a), t in zip(ALS_GRID, tried, strict=True)
                },
                "chosen_regularization_alpha": chosen,
                "implicit": {k: both[0][k] for k in ("ndcg@10", "recall@10", "fit_s")},
                "mllib": {k: both[1][k] for k in ("ndcg@10", "recall@10", "fit_s")},
                "ratio": round(ratio, 3) if ratio else None,
                "within_goal": bool(ratio and ratio >= ALS_GOAL),
            }
        )
        print(rows[-1], flush=True)
    return rows


def curve() -> list[dict[str, Any]]:
    points = []
    biggest = world_dir(max(SIZES))
    _child("generate", max(SIZES), DAYS, str(biggest))
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        for users in SIZES:
            db = Path(tmp) / f"w{users}" / "liveloop.duckdb"
            db.parent.mkdir()
            loaded = _child("load", str(biggest), users, str(db))
            runs = {}
            for engine in ("duckdb", "spark"):
                out = Path(tmp) / f"{engine}-{users}.json"
                runs[engine] = _child(
                    "engine_run", str(db), engine, str(out), module="benchmarks.bench_spark"
                )
            a = json.loads((Path(tmp) / f"duckdb-{users}.json").read_text())
            b = json.loads((Path(tmp) / f"spark-{users}.json").read_text())
            diffs = _differences(a, b)
            points.append(
                {
                    "users": users,
                    "events": loaded["events"],
                    **runs,
                    "equal": not diffs,
                    "differences": diffs[:5],
                }
            )
            print(points[-1], flush=True)
            db.unlink()
    return points


def run() -> dict[str, Any]:
    result: dict[str, Any] = {"machine": machine(), "days": DAYS, "window_days": WINDOW_DAYS}
    if "als" in PARTS:
        result["als"] = als()
    if "curve" in PARTS:
        result["points"] = curve()
    print(result)
    return result
