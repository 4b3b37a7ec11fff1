"""Journeys on the simulator: every built-in journey run for 14 days on a simulated world, its messages
delivered (signed webhooks to a local receiver), answered by the simulated users as the Oracle says,
and its measured lift against the holdout set beside the Oracle's true effect on the same users.

The true effect is the intention-to-treat one the report estimates: over the treatment group's runs,
the mean of the Oracle's (treated − control) response probability of each message actually sent (0 for
a user the policies skipped), against the same window. ``BENCH_JOURNEY_USERS`` / ``_DAYS`` / ``_SEEDS``
size the worlds.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from benchmarks.machine import machine
from liveloop.campaigns import journeys, outbox
from liveloop.campaigns.channels import Provider, set_provider
from liveloop.campaigns.demo import simulated_consent
from liveloop.campaigns.sinks import LocalWebhook
from liveloop.core.config import Settings
from liveloop.core.crypto import generate_key, load_cipher
from liveloop.datasets.simulator import Oracle, simulate_into_warehouse
from liveloop.datasets.simulator.responses import AS_CHANNEL, respond_to_messages
from liveloop.profiles import build_profiles
from liveloop.warehouse import Warehouse

USERS = int(os.environ.get("BENCH_JOURNEY_USERS", "6000"))
DAYS = int(os.environ.get("BENCH_JOURNEY_DAYS", "28"))
SEEDS = [int(s) for s in os.environ.get("BENCH_JOURNEY_SEEDS", "1,2,3").split(",")]
SECRET = "bench-secret"


def _true_effect(wh: Warehouse, oracle: Oracle, jid: str, zone: ZoneInfo) -> float | None:
    runs = wh.sql("SELECT user_id FROM journey_runs WHERE journey_id = ? AND grp = 'treatment'", [jid])
    if not runs:
        return None
    sent = wh.sql(
        "SELECT user_id, channel, sent_at FROM messages WHERE starts_with(campaign_id, ? || '.s') "
        "AND sent_at IS NOT NULL",
        [jid],
    )
    effect: dict[str, float] = {}
    for user, channel, at in sent:
        ch, hour = AS_CHANNEL.get(channel, channel), at.astimezone(zone).hour
        d = oracle.message_response(user, ch, hour, treated=True) - oracle.message_response(
            user, ch, hour, treated=False
        )
        effect[user] = effect.get(user, 0.0) + float(d)
    return float(np.sum(list(effect.values())) / len(runs))


def _world(seed: int) -> list[dict[str, Any]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), secret_key=generate_key())
        cipher = load_cipher(settings)
        zone = ZoneInfo(settings.timezone)
        with Warehouse.open(settings) as wh, LocalWebhook(SECRET) as hook:
            simulate_into_warehouse(wh, scale="small", seed=seed, users=USERS, days=DAYS)
            build_profiles(wh, settings=settings)
            simulated_consent(wh, cipher)
            set_provider(wh, cipher, Provider("app_push", "webhook", {"url": hook.url}, SECRET))
            oracle = Oracle.for_warehouse(wh)
            end = wh.sql("SELECT max(ts) FROM events")[0][0]
            start = end - timedelta(days=14)
            ids = {}
            for name in journeys.BUILTINS:
                j = journeys.create(
                    wh, journeys.builtin(name, channels=("app_push",), holdout=0.3), actor="m"
                )
                journeys.approve(wh, j["journey_id"], actor="a")
                journeys.activate(wh, j["journey_id"], actor="a", now=start)
                ids[name] = j["journey_id"]
            t = time.perf_counter()
            for hours in range(0, 14 * 24 + 1, 6):
                now = start + timedelta(hours=hours)
                journeys.tick(wh, now=now)
                outbox.deliver(wh, cipher, now=now)
            run_s = time.perf_counter() - t
            respond_to_messages(wh, oracle, seed=seed)
            for name, jid in ids.items():
                rep = journeys.report(wh, jid, now=end)
                lift = rep["lift"]
                truth = _true_effect(wh, oracle, jid, zone)
                entered = sum(r["users"] for r in rep["runs"])
                row: dict[str, Any] = {
                    "seed": seed,
                    "journey": name,
                    "entered": entered,
                    "run_s": round(run_s, 1),
                }
                if lift is not None:
                    lo, hi = lift["ci95"]
                    row |= {
                        "measured_users": lift["treated_users"] + lift["holdout_users"],
                        "estimate": round(lift["difference"], 4),
                        "ci95": [round(lo, 4), round(hi, 4)],
                        "true_effect": None if truth is None else round(truth, 4),
                        "covered": None if truth is None else bool(lo <= truth <= hi),
                    }
                out.append(row)
    return out


def run() -> dict[str, Any]:
    rows = [r for seed in SEEDS for r in _world(seed)]
    for r in rows:
        if "estimate" in r:
            print(
                f"seed {r['seed']} {r['journey']:>12}: entered {r['entered']:5d}, measured "
                f"{r['measured_users']:5d}; "
                f"lift {r['estimate']:+.3f} (95% CI {r['ci95'][0]:+.3f} … {r['ci95'][1]:+.3f}) vs true "
                f"{r['true_effect']:+.3f} {'✔' if r['covered'] else '✘'}"
            )
        else:
            print(f"seed {r['seed']} {r['journey']:>12}: entered {r['entered']}, no run past its goal window")
    measured = [r for r in rows if r.get("covered") is not None]
    covered = sum(r["covered"] for r in measured)
    print(f"the 95% interval covers the Oracle's true effect in {covered} of {len(measured)} journey runs")
    return {
        "machine": machine(),
        "users": USERS,
        "days": DAYS,
        "rows": rows,
        "covered": covered,
        "measured": len(measured),
    }
