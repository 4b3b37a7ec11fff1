"""Recommendation benchmark: quality beside published/baseline figures, speed beside implicit and goals.

python -m benchmarks bench_recommend            # everything
BENCH_RECOMMEND=quality,als,serve,feedback python -m benchmarks bench_recommend
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import machine

QUALITY_MODELS = [
    "popularity", "trending", "itemknn", "seqknn", "als", "bpr", "content", "sasrec", "gru4rec", "hybrid"
]  # fmt: skip


def _quality() -> dict[str, Any]:
    from liveloop.recommend.evaluate import PUBLISHED_MOVIELENS, evaluate_protocol
    from liveloop.recommend.ope import evaluate_obd
    from liveloop.recommend.sources import movielens, taobao

    ml = evaluate_protocol(movielens(), "stratified", QUALITY_MODELS)
    for r in ml["rows"]:
        print(
            f"  movielens_100k stratified 75/25 {r['model']:<11} NDCG@10 {r['ndcg@10']:.4f}  "
            f"(published: BPR 0.442, BiVAE 0.475)",
            flush=True,
        )
    data = taobao()
    tb = {p: evaluate_protocol(data, p, QUALITY_MODELS) for p in ("time", "time_repeat")}
    for p, block in tb.items():
        base = next(r for r in block["rows"] if r["model"] == "popularity")
        for r in block["rows"]:
            print(
                f"  taobao head {p} (seen items {block['seen_items']}) {r['model']:<11} NDCG@10 "
                f"{r['ndcg@10']:.4f}  HitRate@10 {r['hitrate@10']:.4f}  "
                f"(popularity {base['ndcg@10']:.4f} / {base['hitrate@10']:.4f})",
                flush=True,
            )
    obd = [evaluate_obd(c) for c in ("all", "men", "women")]
    for o in obd:
        print(
            f"  open bandit {o['campaign']:<6} liveloop DR CTR {o['dr']['ctr']:.4f} {o['dr']['ci95']}  "
            f"(logged random {o['logged_random_ctr']:.4f}, logged BTS {o['logged_bts_ctr']:.4f})",
            flush=True,
        )
    return {
        "movielens_100k": {**ml, "published": PUBLISHED_MOVIELENS},
        "taobao_userbehavior_head": tb,
        "open_bandit": obd,
    }


def _als_speed(repeats: int = 3) -> dict[str, Any]:
    from implicit.cpu.als import AlternatingLeastSquares

    from liveloop.recommend.factorization import ALS
    from liveloop.recommend.sources import taobao

    data = taobao()
    ours, theirs = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        model = ALS(seed=0).fit(data)
        ours.append(time.perf_counter() - t)
        matrix = model._transform(data.matrix)
        t = time.perf_counter()
        AlternatingLeastSquares(
            factors=model.factors,
            regularization=model.regularization,
            alpha=model.alpha,
            iterations=model.iterations,
            num_threads=model.num_threads,
            random_state=0,
        ).fit(matrix, show_progress=False)
        theirs.append(time.perf_counter() - t)
    ratio = min(ours) / min(theirs)
    print(
        f"  ALS fit on taobao head ({data.n_users}x{data.n_items}): liveloop {min(ours):.3f} s, implicit "
        f"direct {min(theirs):.3f} s, ratio {ratio:.2f} (goal <= 1.1)",
        flush=True,
    )
    return {
        "liveloop_s": round(min(ours), 4),
        "implicit_s": round(min(theirs), 4),
        "ratio": round(ratio, 3),
        "goal": "<= 1.1",
        "matrix": [data.n_users, data.n_items],
    }


def _seed_big_catalogue(wh: Any, n_products: int = 100_000, n_users: int = 5_000, seed: int = 0) -> None:
    """A 100k-product catalogue with Zipf-like interactions (synthetic load data, not real)."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    pids = [f"p{i:06d}" for i in range(n_products)]
    wh.append(
        "products",
        pa.table(
            {
                "product_id": pids,
                "title": [f"商品 {i}" for i in range(n_products)],
                "category": [f"c{i % 50}" for i in range(n_products)],
                "stock": np.full(n_products, 100, np.int32),
            }
        ),
    )
    n = n_users * 20
    items = np.minimum(rng.zipf(1.3, n) - 1, n_products - 1)
    users = rng.integers(0, n_users, n)
    ts = np.datetime64("2026-11-01T00:00:00") + rng.integers(0, 86_400 * 10, n).astype("timedelta64[s]")
    wh.append(
        "events",
        pa.table(
            {
                "event_id": [f"e{i}" for i in range(n)],
                "ts": pa.array(ts.astype("datetime64[us]"), pa.timestamp("us", "UTC")),
                "user_id": [f"u{u}" for u in users],
                "type": np.where(rng.random(n) < 0.1, "add_to_cart", "view"),
                "product_id": [pids[i] for i in items],
            }
        ),
    )


async def _load(base_url: str, key: str, users: int, seconds: float, conns: int) -> dict[str, Any]:
    import httpx

    lat: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=30
    ) as client:

        async def worker(w: int) -> None:
            nonlocal errors
            i = w
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                r = await client.get(f"/v1/users/u{i % users}/recommendations", params={"k": 10})
                lat.append(time.perf_counter() - t)
                errors += r.status_code != 200
                i += conns

        started = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(conns)))
        elapsed = time.perf_counter() - started
    lat.sort()
    return {
        "requests": len(lat),
        "errors": errors,
        "rps": round(len(lat) / elapsed, 1),
        "p50_ms": round(1000 * lat[len(lat) // 2], 2),
        "p99_ms": round(1000 * lat[int(len(lat) * 0.99)], 2),
    }


def _serving(seconds: float = 20.0, conns: int = 200) -> dict[str, Any]:
    from liveloop.core.config import Settings
    from liveloop.privacy.crypto import generate_key
    from liveloop.privacy.keys import create_key
    from liveloop.recommend.train import train
    from liveloop.warehouse import Warehouse

    with tempfile.TemporaryDirectory(prefix="liveloop-bench-rec-") as tmp:
        home = Path(tmp) / "home"
        env = {
            **os.environ,
            "LIVELOOP_HOME": str(home),
            "LIVELOOP_SECRET_KEY": generate_key(),
            "LIVELOOP_AUTH_MAX_FAILURES": "100000",
        }
        settings = Settings(home=home, secret_key=env["LIVELOOP_SECRET_KEY"])
        with Warehouse.open(settings) as wh:
            _seed_big_catalogue(wh)
            t = time.perf_counter()
            trained = train(wh, settings, evaluate=False)
            train_s = time.perf_counter() - t
            key = create_key(wh, "analyst", "bench").key
        port = 18000 + os.getpid() % 1000
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "liveloop.cli.main",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            import httpx

            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            asyncio.run(_load(base, key, 5_000, 3.0, 20))  # warm caches
            result = asyncio.run(_load(base, key, 5_000, seconds, conns))
        finally:
            proc.terminate()
            proc.wait(20)
    print(
        f"  GET /v1/users/{{id}}/recommendations, 100k products, {conns} connections: {result['rps']} req/s, "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, errors {result['errors']} "
        f"(goal p99 <= 20 ms, >= 1,000 req/s on 2 cores); training {train_s:.1f} s ({trained['model']})",
        flush=True,
    )
    return {
        **result,
        "connections": conns,
        "products": 100_000,
        "train_s": round(train_s, 1),
        "goal": "p99 <= 20 ms and >= 1000 req/s on 2 cores",
    }


def _feedback_latency(trials: int = 20) -> dict[str, Any]:
    from liveloop.core.config import Settings
    from liveloop.datasets.simulator import simulate_into_warehouse
    from liveloop.privacy.crypto import generate_key
    from liveloop.recommend.service import RecommendService
    from liveloop.recommend.train import train
    from liveloop.warehouse import Warehouse

    with tempfile.TemporaryDirectory(prefix="liveloop-bench-fb-") as tmp:
        settings = Settings(home=Path(tmp) / "home", secret_key=generate_key())
        with Warehouse.open(settings) as wh:
            simulate_into_warehouse(wh, scale="tiny", seed=9)
            train(wh, settings, evaluate=False)
            svc = RecommendService(wh, settings, explore=False)
            products = [r[0] for r in wh.sql("SELECT product_id FROM products ORDER BY product_id")]
            times, changed = [], 0
            for t in range(trials):
                user = f"bench-visitor-{t}"
                before = [i["product_id"] for i in svc.recommend(user, 10)["items"]]
                start = time.perf_counter()
                svc.feedback(user, products[(7 * t) % len(products)], "click")
                after = [i["product_id"] for i in svc.recommend(user, 10)["items"]]
                times.append(time.perf_counter() - start)
                changed += after != before
    out = {
        "trials": trials,
        "changed": changed,
        "median_ms": round(1000 * statistics.median(times), 2),
        "max_ms": round(1000 * max(times), 2),
        "goal": "<= 5 s",
    }
    print(
        f"  feedback -> changed list: {changed}/{trials} changed, median {out['median_ms']} ms, "
        f"max {out['max_ms']} ms (goal <= 5 s; no retrain)",
        flush=True,
    )
    return out


def run() -> dict[str, Any]:
    parts = os.environ.get("BENCH_RECOMMEND", "quality,als,serve,feedback").split(",")
    result: dict[str, Any] = {"machine": machine()}
    steps = {"als": _als_speed, "feedback": _feedback_latency, "serve": _serving, "quality": _quality}
    for name in ("als", "feedback", "serve", "quality"):
        if name in parts:
            try:
                result[name] = steps[name]()
            except Exception as exc:  # a benchmark step failing is reported, not hidden
                result[name] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"  {name}: FAILED {type(exc).__name__}: {exc}", flush=True)
    return result
