"""Content studio: the compliance gate on the annotated sentences, selling-point mining on held-out
reviews, script speed, the gate on every script and copy variant of a simulated world, and the script's
product order against the lineup's default order on the simulator.

Order on the simulator: for every session of a world's last ``BENCH_CONTENT_EVAL_DAYS`` days, the script
is written with ``now`` = the session's start (only earlier sales and sessions inform it); the day is then
simulated again with the script's order (each product keeps its own slot discount and coupon; viewers'
arrivals and stays do not depend on the order, and the day's random stream is the same), and its realised
GMV compared with the default order's. Beside it, the Oracle's expected GMV of both orders for the same
viewers. ``BENCH_CONTENT_SEEDS`` / ``_USERS`` / ``_DAYS`` / ``_PRESET`` choose the worlds.
"""

from __future__ import annotations

import copy
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import machine
from liveloop.content import copywriting, default_checker, mining, scripts
from liveloop.content.evaluation import compliance_report
from liveloop.core.config import Settings
from liveloop.datasets.simulator import Oracle, simulate_into_warehouse
from liveloop.datasets.simulator.behaviour import State, simulate_day
from liveloop.profiles import build_profiles
from liveloop.warehouse import Warehouse

SEEDS = [int(s) for s in os.environ.get("BENCH_CONTENT_SEEDS", "7,11,13").split(",")]
USERS = int(os.environ.get("BENCH_CONTENT_USERS", "2000"))
DAYS = int(os.environ.get("BENCH_CONTENT_DAYS", "21"))
PRESET = os.environ.get("BENCH_CONTENT_PRESET", "small")
EVAL_DAYS = int(os.environ.get("BENCH_CONTENT_EVAL_DAYS", "3"))
DATA_HOME = Path(os.environ.get("LIVELOOP_DATA_HOME", "../shared/data"))


def _presence(wh: Warehouse, session_id: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    rows = wh.sql(
        "WITH e AS (SELECT user_id, type, epoch(ts) AS t, row_number() OVER (PARTITION BY user_id, type "
        "ORDER BY ts) AS n FROM events WHERE session_id = ? AND type IN ('enter_room', 'leave_room')) "
        "SELECT a.user_id, a.t - epoch(s.start_ts), b.t - epoch(s.start_ts) FROM e a JOIN e b "
        "ON a.user_id = b.user_id AND a.n = b.n AND a.type = 'enter_room' AND b.type = 'leave_room' "
        "CROSS JOIN (SELECT start_ts FROM live_sessions WHERE session_id = ?) s",
        [session_id, session_id],
    )
    return [r[0] for r in rows], np.array([r[1] for r in rows]), np.array([r[2] for r in rows])


def _world_gmv(world: Any, day: int, state: State, sessions: list[int]) -> dict[int, float]:
    out = simulate_day(world, day, copy.deepcopy(state))
    o = out.orders
    return {s: float(o["amount"][o["session"] == s].sum()) for s in sessions}


def _order_on_simulator(seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), data_home=DATA_HOME)
        wh = Warehouse.open(settings)
        simulate_into_warehouse(wh, scale=PRESET, seed=seed, users=USERS, days=DAYS)
        build_profiles(wh, settings=settings)
        oracle = Oracle.for_warehouse(wh)
        world = oracle.world
        ss = world.sessions
        days = sorted({int(d) for d in ss.day})[-EVAL_DAYS:]
        rows: list[dict[str, Any]] = []
        for day in days:
            sessions = [int(s) for s in np.flatnonzero(ss.day == day)]
            reordered = copy.deepcopy(world)
            orders: dict[int, list[str]] = {}
            for s in sessions:
                sid = f"s{seed}l{s:06d}"
                start = wh.sql("SELECT start_ts FROM live_sessions WHERE session_id = ?", [sid])[0][0]
                script = scripts.session_script(wh, sid, settings=settings, now=start)
                orders[s] = [p["product_id"] for p in script["products"]]
                slots = oracle.reordered_slots(sid, orders[s])
                lo, hi = ss.lineup_ptr[s], ss.lineup_ptr[s + 1]
                for name in ("slot_product", "slot_discount", "slot_coupon"):
                    getattr(reordered.sessions, name)[lo:hi] = getattr(ss, name)[slots]
            state = State(stock_left=world.products.stock.copy())
            for d in range(day):
                simulate_day(world, d, state)
            default = _world_gmv(world, day, state, sessions)
            scripted = _world_gmv(reordered, day, state, sessions)
            for s in sessions:
                sid = f"s{seed}l{s:06d}"
                lineup = [
                    f"s{seed}p{int(p):06d}" for p in ss.slot_product[ss.lineup_ptr[s] : ss.lineup_ptr[s + 1]]
                ]
                viewers, a, b = _presence(wh, sid)
                rows.append(
                    {
                        "session": sid,
                        "products": len(lineup),
                        "gmv_default": default[s],
                        "gmv_script": scripted[s],
                        "oracle_default": oracle.expected_live_gmv(sid, lineup, viewers, a, b)
                        if viewers
                        else 0.0,
                        "oracle_script": oracle.expected_live_gmv(sid, orders[s], viewers, a, b)
                        if viewers
                        else 0.0,
                    }
                )
        wh.close()
    tot = {
        k: round(sum(r[k] for r in rows), 2)
        for k in ("gmv_default", "gmv_script", "oracle_default", "oracle_script")
    }
    return {
        "seed": seed,
        "sessions": len(rows),
        **tot,
        "realised_lift": round(tot["gmv_script"] / tot["gmv_default"] - 1, 4) if tot["gmv_default"] else None,
        "oracle_lift": round(tot["oracle_script"] / tot["oracle_default"] - 1, 4)
        if tot["oracle_default"]
        else None,
        "sessions_oracle_better": sum(r["oracle_script"] > r["oracle_default"] for r in rows),
    }


def _speed_and_gate(seed: int) -> dict[str, Any]:
    """Script time for the biggest lineup (cold: the category reviews are mined on first use; warm), and
    every session's script and every lineup product's copy on every channel through the gate."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), data_home=DATA_HOME)
        wh = Warehouse.open(settings)
        simulate_into_warehouse(wh, scale=PRESET, seed=seed, users=USERS, days=DAYS)
        build_profiles(wh, settings=settings)
        big, n = wh.sql(
            "SELECT session_id, len(lineup) FROM live_sessions ORDER BY len(lineup) DESC, 1 LIMIT 1"
        )[0]
        t = time.perf_counter()
        scripts.session_script(wh, big, settings=settings)
        cold = time.perf_counter() - t
        warm = []
        for _ in range(5):
            t = time.perf_counter()
            scripts.session_script(wh, big, settings=settings)
            warm.append(time.perf_counter() - t)
        lines = flagged = blocked_out = 0
        blocked_left_out = 0
        sessions = [r[0] for r in wh.sql("SELECT session_id FROM live_sessions WHERE len(lineup) > 0")]
        for sid in sessions:
            s = scripts.session_script(wh, sid, settings=settings)
            every = s["opening"] + s["closing"] + [line for p in s["products"] for line in p["lines"]]
            lines += len(every)
            flagged += sum(line["verdict"] == "flag" for line in every)
            blocked_out += sum(line["verdict"] == "block" for line in every)
            blocked_left_out += len(s["blocked"])
        products = [
            r[0] for r in wh.sql("SELECT DISTINCT unnest(lineup) FROM live_sessions ORDER BY 1 LIMIT 60")
        ]
        variants = v_flag = v_block = over = 0
        checker = default_checker(settings)
        for pid in products:
            for channel in copywriting.CHANNELS:
                r = copywriting.product_copy(wh, pid, channel, settings=settings)
                for v in r["variants"]:
                    variants += 1
                    v_flag += v["verdict"] == "flag"
                    v_block += checker.check(v["text"]).verdict == "block" and v["verdict"] == "block"
                    over += len(v["text"]) > copywriting.LIMITS[channel]
        wh.close()
    return {
        "script_products": n,
        "script_cold_s": round(cold, 3),
        "script_warm_median_s": round(statistics.median(warm), 3),
        "goal_s": 2.0,
        "sessions": len(sessions),
        "script_lines": lines,
        "script_lines_flagged_for_review": flagged,
        "script_lines_blocked_in_output": blocked_out,
        "script_lines_left_out_by_gate": blocked_left_out,
        "copy_products": len(products),
        "copy_variants": variants,
        "copy_variants_flagged": v_flag,
        "copy_variants_blocked_in_output": v_block,
        "copy_variants_over_limit": over,
    }


def run() -> dict[str, Any]:
    settings = Settings(data_home=DATA_HOME)
    gate = compliance_report(settings)
    print(
        f"compliance gate on {gate['sentences']} test sentences ({gate['problems']} problems): "
        f"problem P/R/F1 {gate['gate']['problem']['precision']}/{gate['gate']['problem']['recall']}/"
        f"{gate['gate']['problem']['f1']} vs word list {gate['word_list']['problem']['precision']}/"
        f"{gate['word_list']['problem']['recall']}/{gate['word_list']['problem']['f1']}; "
        f"annotators' kappa {gate['agreement']['verdict_kappa']}",
        flush=True,
    )
    mined = mining.evaluate(settings)
    m, b = ({k: mined[w][k] for k in ("precision", "recall", "f1")} for w in ("method", "baseline"))
    print(f"selling-point mining held-out micro P/R/F1 {m} vs keyword baseline {b}", flush=True)
    speed = _speed_and_gate(SEEDS[0])
    print(f"scripts and copy: {speed}", flush=True)
    order = []
    for seed in SEEDS:
        r = _order_on_simulator(seed)
        print(f"order on the simulator: {r}", flush=True)
        order.append(r)
    return {
        "machine": machine(),
        "world": {"preset": PRESET, "users": USERS, "days": DAYS, "eval_days": EVAL_DAYS},
        "compliance": gate,
        "mining": mined,
        "scripts": speed,
        "order": order,
    }


if __name__ == "__main__":
    run()
