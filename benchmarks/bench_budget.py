"""Media budget on simulated worlds with paid media: each channel's response curve as ``liveloop budget``
fits it beside the world's true curve, and the allocation's true response beside the Oracle's best
allocation and last period's split, under the same budget and bounds.

Worlds: ``medium`` seed 7 (120 days) was seen while the model was written (its decay prior was set after
it); seeds 8 and 21, another media budget, and a ``small`` preset with more users were run once after,
then world 8 again with a year of days; the prior on the lift was chosen after seeing those (and the demo
world), and the last two worlds (medium 13, small 31) were run once after that.
Set ``BENCH_BUDGET_WORLDS=7`` (comma-separated seeds) for fewer.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import machine
from liveloop.budget import allocate as alloc
from liveloop.budget.plans import fit_model
from liveloop.core.config import Settings
from liveloop.datasets.simulator import simulate_into_warehouse
from liveloop.datasets.simulator.config import SimConfig
from liveloop.datasets.simulator.oracle import Oracle
from liveloop.warehouse import Warehouse

TZ = "Asia/Shanghai"
#: Every 120-day world runs from 1 August to 28 November (11.11 inside, nothing after today's date).
START = date(2026, 8, 1)
#: (seed, scale, users, days, media budget per 1,000 users a day, first day, seen while building); the
#: last is world 8 again with a year of days
WORLDS = (
    (7, "medium", None, 120, 500.0, START, True),
    (8, "medium", None, 120, 500.0, START, False),
    (21, "medium", None, 120, 800.0, START, False),
    (5, "small", 20_000, 120, 300.0, START, False),
    (8, "medium", None, 365, 500.0, date(2025, 11, 20), False),
    (13, "medium", None, 120, 600.0, START, False),
    (31, "small", 20_000, 120, 400.0, START, False),
)
GRID = np.linspace(0.25, 2.0, 15)  # × the channel's mean daily spend
BUDGETS = (1.0, 1.3)  # × last period's total


def _world(seed: int, scale: str, users: int | None, days: int, budget: float, start: date) -> dict[str, Any]:
    cfg = SimConfig.preset(scale, seed=seed, users=users, days=days, start=start, media_budget=budget)
    with tempfile.TemporaryDirectory(prefix="bench-budget-") as tmp:
        wh = Warehouse.open(Settings(home=Path(tmp)))
        try:
            t0 = time.perf_counter()
            simulate_into_warehouse(wh, config=cfg)
            sim_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            model = fit_model(wh, TZ)
            fit_s = time.perf_counter() - t0
        finally:
            wh.close()
    oracle = Oracle.from_config(cfg)
    truth = {c["channel"]: c for c in oracle.media_curves()}
    names = model.channels()
    order = [list(truth).index(n) for n in names]
    curves = []
    for i, c in enumerate(model.curves):
        mean = float(truth[c.channel]["mean_spend"])
        daily = np.zeros((len(GRID), len(truth)))
        daily[:, order[i]] = GRID * mean
        true = np.array([oracle.media_lift(row)[order[i]] for row in daily])
        est = c.lift(GRID * mean)
        curves.append(
            {
                "channel": c.channel,
                "error": round(float(np.abs(est - true).mean() / true.mean()), 3),
                "fitted": {"decay": round(c.decay, 2), "half": round(c.half, 2), "shape": round(c.shape, 2),
                           "beta": round(c.beta, 3)},
                "true": {k: truth[c.channel][k] for k in ("decay", "half", "shape", "beta")},
            }
        )  # fmt: skip

    def true_lift(x: np.ndarray) -> float:
        full = np.zeros(len(truth))
        full[order] = x
        return float(oracle.media_lift(full).sum())

    last = np.array([c.last_spend for c in model.curves])
    low, high = alloc.bounds(last.tolist())
    fitted = [partial(model.gain, i) for i in range(len(names))]
    true_curves = [lambda x, j=j: true_lift(np.eye(len(names))[j] * x) for j in range(len(names))]
    plans = []
    for scale_b in BUDGETS:
        total = float(last.sum() * scale_b)
        ours = alloc.allocate(fitted, low, high, total=total)
        best = alloc.allocate(true_curves, low, high, total=total)
        prop = np.clip(last * scale_b, low, high)
        o, b, p = true_lift(ours), true_lift(best), true_lift(prop)
        plans.append(
            {
                "budget_x_last": scale_b,
                "liveloop_share_of_oracle": round(o / b, 4),
                "proportional_share_of_oracle": round(p / b, 4),
                "liveloop_daily": dict(zip(names, np.round(ours, 0).tolist(), strict=True)),
                "oracle_daily": dict(zip(names, np.round(best, 0).tolist(), strict=True)),
            }
        )
    return {
        "seed": seed,
        "scale": scale,
        "users": cfg.users,
        "days": days,
        "media_budget": budget,
        "seen_while_building": None,
        "simulate_s": round(sim_s, 1),
        "fit_s": round(fit_s, 1),
        "fit": model.fit,
        "curves": curves,
        "within_20pct": sum(c["error"] <= 0.2 for c in curves),
        "plans": plans,
    }


def run() -> dict[str, Any]:
    wanted = os.environ.get("BENCH_BUDGET_WORLDS")
    seeds = {int(s) for s in wanted.split(",")} if wanted else None
    results = []
    for seed, scale, users, days, budget, start, seen in WORLDS:
        if seeds is not None and seed not in seeds:
            continue
        r = _world(seed, scale, users, days, budget, start)
        r["seen_while_building"] = seen
        print(r, flush=True)
        results.append(r)
    return {"machine": machine(), "worlds": results}
