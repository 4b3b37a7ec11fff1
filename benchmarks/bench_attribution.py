"""Attribution against the truth: the orders each model credits to the message channels of a simulated
world, beside the Oracle's true incremental orders of each channel.

A world is simulated into a warehouse; marketing campaigns then go out through liveloop's campaign engine
(audience, approval, the consent, address, cap and quiet-hour policies, a 25% random holdout per campaign)
on the four channels the simulated users answer — app push, SMS, e-mail, social — at the days, local hours
and audience shares of ``PLAN``: daytime app-push blasts in volume, evening e-mails, and SMS and social at
one good and one poor hour each, so the channels' true effects differ in sign and size and do not follow
their volumes (a first plan with every channel at mixed hours left every channel's truth near zero, with
the same verdict on the models). Campaign ids come from the seed (the holdout draw and the answers hash
them), so a run repeats exactly. Delivery is in-process (every message accepted; the transports have
their own tests and ``bench_journeys`` delivers over real sockets). The simulated users
answer every sent and held-out message as the Oracle says (``respond_to_messages``), and the shop records
each answered buy as a paid order (the simulator writes the ``purchase`` event; attribution reads
``orders``). The world's behaviour is unchanged.

The truth of a channel is its expected incremental orders: over the messages it sent, the sum of the
Oracle's ``uplift`` (treated − untreated response probability at the local hour of the send). Each model of
``liveloop.analytics.attribution`` credits every paid order from the first send on (7-day look-back);
its credit to the four message channels is scored against the truth by

- absolute error: the sum over the channels of |credited − true| orders;
- MAPE: the mean over the channels of |credited − true| / |true| (a channel whose truth is near zero
  dominates it: read the absolute error first);
- rank: Spearman's correlation of the channels' credited and true orders (1: the truth's order).

Two references: *nothing* (credit no order to any message) and the *holdout estimate*, which is what the
random holdouts measure with no model: per campaign, the campaign report's lift (buyers within 3 days of
the send, treated vs held out) × treated users, summed per channel, with its standard error.

Worlds: ``small`` seeds 1, 2, 3 and a ``medium`` world (seed 4: more products and hosts for as many users),
each ``BENCH_ATTRIBUTION_USERS`` users over ``BENCH_ATTRIBUTION_DAYS`` days. The test
(tests/analytics/test_analytics_attribution_truth.py) asserts on another seed with thresholds from these.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from liveloop.analytics import attribution
from liveloop.campaigns import audiences, engine, outbox
from liveloop.campaigns.channels import InAppSender, Provider, set_provider
from liveloop.campaigns.demo import hash_share
from liveloop.campaigns.engine import CampaignSpec
from liveloop.campaigns.report import Z95, lift
from liveloop.core.config import Settings, get_settings
from liveloop.core.crypto import Cipher, generate_key, load_cipher
from liveloop.core.ids import stable_id
from liveloop.datasets.simulator import Oracle, simulate_into_warehouse
from liveloop.datasets.simulator.config import MESSAGE_CHANNELS
from liveloop.datasets.simulator.responses import AS_CHANNEL, SOURCE, respond_to_messages
from liveloop.privacy import consent
from liveloop.warehouse import Warehouse

USERS = int(os.environ.get("BENCH_ATTRIBUTION_USERS", "3000"))
DAYS = int(os.environ.get("BENCH_ATTRIBUTION_DAYS", "21"))
WORLDS: tuple[tuple[str, int], ...] = (("small", 1), ("small", 2), ("small", 3), ("medium", 4))
HOLDOUT = 0.25
#: Share of users who opted in to marketing on each channel (and, for e-mail and SMS, gave an address).
OPT_IN = {"app_push": 0.7, "sms": 0.45, "email": 0.4, "social": 0.55}


@dataclass(frozen=True)
class Send:
    """One campaign: its channel, the day of the world (0: the first) and local hour it goes out, and the
    share of the users in its audience (drawn anew per campaign)."""

    channel: str
    day: int
    hour: int
    share: float


PLAN: tuple[Send, ...] = (
    Send("app_push", 8, 10, 0.8),
    Send("email", 9, 19, 0.9),
    Send("social", 10, 18, 0.7),
    Send("sms", 11, 20, 0.8),
    Send("app_push", 12, 11, 0.8),
    Send("email", 14, 20, 0.9),
    Send("social", 15, 12, 0.7),
    Send("app_push", 16, 12, 0.8),
    Send("sms", 17, 9, 0.8),
)


def opt_in(wh: Warehouse, cipher: Cipher) -> dict[str, int]:
    """Marketing consent on each message channel for ``OPT_IN`` of the users, with an e-mail address or a
    phone number for those who opted in to e-mail or SMS (the simulated world has neither)."""
    users = [r[0] for r in wh.sql("SELECT user_id FROM users ORDER BY user_id")]
    chosen = {ch: [u for u in users if hash_share(u, f"consent:{ch}") < p] for ch, p in OPT_IN.items()}
    changes = [
        consent.ConsentChange(u, "marketing", "granted", ch, source="simulated signup form")
        for ch, who in chosen.items()
        for u in who
    ]
    for at in range(0, len(changes), consent.MAX_CHANGES):
        consent.record(wh, changes[at : at + consent.MAX_CHANGES], actor="bench")
    for column, who, value in (
        ("email_enc", chosen["email"], lambda u: f"{u}@bench.invalid"),
        ("phone_enc", chosen["sms"], lambda u: "13800138000"),
    ):
        context = f"users.{column.removesuffix('_enc')}"
        rows = pa.table(
            {
                "user_id": who,
                "v": pa.array([cipher.encrypt(value(u), context=context) for u in who], pa.binary()),
            }
        )
        with wh.transaction() as con:
            con.register("_contact", rows)
            try:
                con.execute(
                    f"UPDATE users SET {column} = c.v FROM _contact c WHERE users.user_id = c.user_id"
                )
            finally:
                con.unregister("_contact")
    return {ch: len(who) for ch, who in chosen.items()}


def send_campaigns(
    wh: Warehouse, cipher: Cipher, plan: tuple[Send, ...] = PLAN, *, seed: int = 0
) -> list[dict[str, Any]]:
    """Run each campaign of ``plan`` through the engine at its local time (draft, approve, launch with a
    ``HOLDOUT`` random holdout, deliver); returns each campaign's id, channel, time and launch counts."""
    set_provider(
        wh, cipher, Provider("email", "smtp", {"url": "smtp://127.0.0.1:2525", "from": "shop@x.invalid"})
    )
    for channel in ("app_push", "sms", "social"):
        set_provider(wh, cipher, Provider(channel, "webhook", {"url": "http://127.0.0.1:9/hook"}, "secret"))
    accept = {channel: InAppSender() for channel in MESSAGE_CHANNELS}
    # campaign ids from the seed, not at random: the holdout draw and the answers hash them, so a run repeats
    ids = (stable_id("cmp", "bench_attribution", seed, i) for i in count())
    zone = ZoneInfo(get_settings().timezone)  # the hours the simulated users read their messages in
    first = wh.sql("SELECT min(ts) FROM events")[0][0].astimezone(zone)
    day0 = first.replace(hour=0, minute=0, second=0, microsecond=0)
    users = [r[0] for r in wh.sql("SELECT user_id FROM users ORDER BY user_id")]
    out = []
    for i, s in enumerate(plan):
        at = day0 + timedelta(days=s.day, hours=s.hour)
        who = tuple(u for u in users if hash_share(u, f"audience:{seed}:{i}") < s.share)
        aud = audiences.create(wh, f"bench {i}", audiences.AudienceSpec(users=who), actor="marketer")
        with patch.object(engine, "new_id", lambda _prefix: next(ids)):
            c = engine.create(
                wh,
                CampaignSpec(
                    name=f"bench {i} {s.channel}",
                    audience_id=aud["audience_id"],
                    channels=(s.channel,),
                    subject="今晚直播好物" if s.channel == "email" else None,
                    body="今晚八点直播间见，好物限时优惠。",
                    start_ts=at,
                    holdout=HOLDOUT,
                ),
                actor="marketer",
            )
        engine.approve(wh, c["campaign_id"], actor="admin")
        launched = engine.launch(wh, c["campaign_id"], actor="marketer", now=at)
        outbox.deliver(wh, cipher, now=at, senders=accept)
        out.append(
            {"campaign_id": c["campaign_id"], "channel": s.channel, "at": at.isoformat()}
            | {k: launched[k] for k in ("to_send", "holdout", "skipped")}
        )
    return out


def record_answers_as_orders(wh: Warehouse) -> int:
    """Each purchase the simulated users made in answer to a message becomes a paid order (same id, user,
    time and amount): what the shop's order system would hold."""
    rows = wh.sql(
        "INSERT INTO orders (order_id, user_id, ts, status, amount, source) "
        "SELECT event_id, user_id, ts, 'paid', amount, source FROM events e WHERE source = ? "
        "AND type = 'purchase' AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = e.event_id) "
        "RETURNING 1",
        [SOURCE],
    )
    return len(rows)


def true_incremental(wh: Warehouse, oracle: Oracle, zone: ZoneInfo) -> dict[str, float]:
    """Per channel, the expected incremental orders of the messages it sent: the sum of the Oracle's
    uplift (treated − untreated response probability) at each message's local send hour."""
    rows = wh.sql(
        "SELECT user_id, channel, sent_at FROM messages WHERE sent_at IS NOT NULL AND grp = 'treatment' "
        "AND starts_with(user_id, ?)",
        [f"{oracle.prefix}u"],
    )
    users = np.array([r[0] for r in rows], dtype=object)
    channels = np.array([r[1] for r in rows], dtype=object)
    hours = np.array([r[2].astimezone(zone).hour for r in rows])
    out = dict.fromkeys(MESSAGE_CHANNELS, 0.0)
    for channel in np.unique(channels):
        for hour in np.unique(hours):
            pick = (channels == channel) & (hours == hour)
            if pick.any():
                answer_as = AS_CHANNEL.get(str(channel), str(channel))
                out[str(channel)] += float(np.sum(oracle.uplift(users[pick], answer_as, int(hour))))
    return out


def answered_buys(wh: Warehouse) -> dict[str, int]:
    """Per channel, the buys that answered a sent (treated) message."""
    rows = wh.sql(
        "SELECT m.channel, count(*) FROM messages m JOIN events e ON e.event_id = 'answer:' || m.message_id "
        "WHERE m.grp = 'treatment' AND m.sent_at IS NOT NULL GROUP BY 1"
    )
    return {c: int(rows_n) for c, rows_n in rows}


def holdout_estimate(
    wh: Warehouse, campaigns: list[dict[str, Any]]
) -> tuple[dict[str, float], dict[str, float]]:
    """Per channel, the incremental buyers the random holdouts measure (each campaign's lift × its treated
    users, summed) and the standard error of that sum."""
    est = dict.fromkeys(MESSAGE_CHANNELS, 0.0)
    var = dict.fromkeys(MESSAGE_CHANNELS, 0.0)
    for c in campaigns:
        got = lift(wh, c["campaign_id"])
        if got is None:
            continue
        n = got["treated_users"]
        est[c["channel"]] += got["difference"] * n
        var[c["channel"]] += ((got["ci95"][1] - got["difference"]) / Z95 * n) ** 2
    return est, {c: math.sqrt(v) for c, v in var.items()}


def errors(credited: dict[str, float], truth: dict[str, float]) -> dict[str, float | None]:
    """Absolute error, MAPE and Spearman rank correlation of ``credited`` against ``truth`` over the
    message channels."""
    got = np.array([credited.get(c, 0.0) for c in MESSAGE_CHANNELS])
    want = np.array([truth[c] for c in MESSAGE_CHANNELS])
    gap = np.abs(got - want)
    return {
        "abs_error": round(float(gap.sum()), 2),
        "mape": round(float(np.mean(gap / np.maximum(np.abs(want), 1e-9))), 3),
        "rank": spearman(got, want),
    }


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rank correlation (None when either side is constant)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return round(float(np.corrcoef(ra, rb)[0, 1]), 4)


def check_world(scale: str, seed: int, users: int = USERS, days: int = DAYS) -> dict[str, Any]:
    """Simulate one world, run the campaigns, answer them, and score every attribution model."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), secret_key=generate_key())
        cipher = load_cipher(settings)
        zone = ZoneInfo(settings.timezone)
        with Warehouse.open(settings) as wh:
            simulate_into_warehouse(wh, scale=scale, seed=seed, users=users, days=days)
            opted = opt_in(wh, cipher)
            campaigns = send_campaigns(wh, cipher, seed=seed)
            oracle = Oracle.for_warehouse(wh)
            answered = respond_to_messages(wh, oracle, seed=seed)
            recorded = record_answers_as_orders(wh)
            truth = true_incremental(wh, oracle, zone)
            start: datetime = wh.sql("SELECT min(sent_at) FROM messages WHERE sent_at IS NOT NULL")[0][0]
            models: dict[str, Any] = {}
            for model in attribution.MODELS:
                r = attribution.attribute(wh, model=model, start=start)
                credited = {row["touch"]: row["orders"] for row in r["rows"]}
                models[model] = {
                    "credited": {c: round(credited.get(c, 0.0), 2) for c in MESSAGE_CHANNELS},
                    **errors(credited, truth),
                }
            models["nothing"] = {"credited": dict.fromkeys(MESSAGE_CHANNELS, 0.0), **errors({}, truth)}
            est, se = holdout_estimate(wh, campaigns)
            sent = dict(wh.sql("SELECT channel, count(*) FROM messages WHERE sent_at IS NOT NULL GROUP BY 1"))
            orders = wh.sql("SELECT count(*) FROM orders WHERE ts >= ?", [start])[0][0]
            buys = answered_buys(wh)
    total_sent = sum(int(sent.get(c, 0)) for c in MESSAGE_CHANNELS)
    for m in models.values():
        m["per_1000_sent"] = round(1000 * sum(m["credited"].values()) / total_sent, 2)
    return {
        "world": f"{scale} seed {seed}",
        "users": users,
        "days": days,
        "opted_in": opted,
        "campaigns": campaigns,
        "sent": {c: int(sent.get(c, 0)) for c in MESSAGE_CHANNELS},
        "answered": {k: answered[k] for k in ("answered", "bought")},
        "answered_buys_of_sent": {c: buys.get(c, 0) for c in MESSAGE_CHANNELS},
        "answer_orders": recorded,
        "orders_from_first_send": int(orders),
        "truth": {c: round(v, 2) for c, v in truth.items()},
        "truth_per_1000_sent": round(1000 * sum(truth.values()) / total_sent, 2),
        "models": models,
        "holdout_estimate": {
            "credited": {c: round(v, 2) for c, v in est.items()},
            "se": {c: round(v, 2) for c, v in se.items()},
            **errors(est, truth),
        },
        "seconds": round(time.perf_counter() - started, 1),
    }


def _print(w: dict[str, Any]) -> None:
    print(
        f"\n{w['world']}: {w['users']} users, {w['days']} days; sent {w['sent']}; "
        f"{w['answered']['bought']} of {w['answered']['answered']} messages answered with a buy; "
        f"{w['orders_from_first_send']} orders from the first send [{w['seconds']} s]"
    )
    head = "".join(f"{c:>10}" for c in MESSAGE_CHANNELS)
    print(f"{'':<18}{head}{'abs err':>9}{'MAPE':>9}{'rank':>7}")
    print(f"{'truth (Oracle)':<18}" + "".join(f"{w['truth'][c]:>10.1f}" for c in MESSAGE_CHANNELS))
    for name, m in [*w["models"].items(), ("holdout estimate", w["holdout_estimate"])]:
        cells = "".join(f"{m['credited'][c]:>10.1f}" for c in MESSAGE_CHANNELS)
        rank = "n/a" if m["rank"] is None else f"{m['rank']:+.2f}"
        print(f"{name:<18}{cells}{m['abs_error']:>9.1f}{m['mape']:>9.1f}{rank:>7}")
    se = w["holdout_estimate"]["se"]
    print(f"{'  (its s.e.)':<18}" + "".join(f"{se[c]:>10.1f}" for c in MESSAGE_CHANNELS))


def run() -> dict[str, Any]:
    from benchmarks.machine import machine

    print(f"machine: {machine()}")
    worlds = []
    for scale, seed in WORLDS:
        w = check_world(scale, seed)
        worlds.append(w)
        _print(w)
    names = [*attribution.MODELS, "nothing", "holdout estimate"]

    def scored(w: dict[str, Any], name: str) -> dict[str, Any]:
        return w["holdout_estimate"] if name == "holdout estimate" else w["models"][name]

    summary = {
        name: {
            "abs_error": round(float(np.mean([scored(w, name)["abs_error"] for w in worlds])), 2),
            "mape": round(float(np.mean([scored(w, name)["mape"] for w in worlds])), 3),
            "rank": [scored(w, name)["rank"] for w in worlds],
        }
        for name in names
    }
    print("\nmean over the worlds (absolute error in orders; MAPE; rank per world):")
    for name, s in summary.items():
        print(f"  {name:<17} {s['abs_error']:>8.1f} {s['mape']:>8.1f}  {s['rank']}")
    return {
        "machine": machine(),
        "plan": [asdict(s) for s in PLAN],
        "holdout": HOLDOUT,
        "opt_in": OPT_IN,
        "worlds": worlds,
        "summary": summary,
    }
