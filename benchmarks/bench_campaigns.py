"""Campaigns at scale: a ``BENCH_CAMPAIGN_USERS``-user audience (default 1,000,000) resolved, filtered by
consent, suppressions, caps and quiet hours, split into a holdout, and written to the outbox with an
audit row per decision — one ``launch`` — beside the same audience merely counted (the floor any plan
pays). Then delivery of ``BENCH_CAMPAIGN_SEND`` messages to a local SMTP server (aiosmtpd) and to a
local webhook receiver, in messages per second.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import machine
from liveloop.campaigns import audiences, engine, outbox
from liveloop.campaigns.channels import Provider, set_provider
from liveloop.campaigns.engine import CampaignSpec
from liveloop.campaigns.policies import Policy
from liveloop.campaigns.sinks import LocalSmtp, LocalWebhook, Mailbox
from liveloop.core.config import Settings
from liveloop.core.crypto import generate_key, load_cipher
from liveloop.warehouse import Warehouse

USERS = int(os.environ.get("BENCH_CAMPAIGN_USERS", "1000000"))
SEND = int(os.environ.get("BENCH_CAMPAIGN_SEND", "2000"))
GOAL_S, GOAL_GB = 60.0, 4.0
NOW = datetime(2026, 4, 2, 2, 0, tzinfo=UTC)


def _fill(wh: Warehouse, cipher: Any, n: int) -> None:
    email = cipher.encrypt("someone@example.com", context="users.email")
    wh.sql(
        "INSERT INTO users (user_id, email_enc) SELECT 'u' || lpad(i::VARCHAR, 7, '0'), ? FROM range(?) t(i)",
        [email, n],
    )
    wh.sql(  # 80% granted e-mail marketing, 5% later revoked it
        "INSERT INTO consents (consent_id, user_id, purpose, channel, status, ts, source) "
        "SELECT 'c' || i, 'u' || lpad(i::VARCHAR, 7, '0'), 'marketing', 'email', "
        "CASE WHEN i % 20 = 0 THEN 'revoked' ELSE 'granted' END, TIMESTAMPTZ '2026-01-01', 'bench' "
        "FROM range(?) t(i) WHERE i % 5 <> 0",
        [n],
    )
    wh.sql(
        "INSERT INTO suppressions (user_id, channel, reason) SELECT 'u' || lpad(i::VARCHAR, 7, '0'), 'all', "
        "'do_not_contact' FROM range(?) t(i) WHERE i % 97 = 0",
        [n],
    )
    wh.sql(  # a message last week to every 7th user: caps count them
        "INSERT INTO messages (message_id, user_id, channel, status, sent_at) "
        "SELECT 'old' || i, 'u' || lpad(i::VARCHAR, 7, '0'), 'email', 'sent', TIMESTAMPTZ '2026-03-30' "
        "FROM range(?) t(i) WHERE i % 7 = 0",
        [n],
    )


def _launch(
    wh: Warehouse, cipher: Any, channel: str, name: str, policy: Policy | None = None
) -> tuple[str, float, dict]:
    aud = audiences.create(wh, name, audiences.AudienceSpec(everyone=True))
    spec = CampaignSpec(
        name,
        aud["audience_id"],
        (channel,),
        "{{ name }}，新品上架",
        "上新",
        holdout=0.1,
        policy=policy or Policy(),
    )
    c = engine.create(wh, spec, actor="bench-m")
    engine.approve(wh, c["campaign_id"], actor="bench-a")
    t = time.perf_counter()
    plan = engine.launch(wh, c["campaign_id"], actor="bench", now=NOW)
    return c["campaign_id"], time.perf_counter() - t, plan


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), secret_key=generate_key())
        cipher = load_cipher(settings)
        with Warehouse.open(settings) as wh:
            t = time.perf_counter()
            _fill(wh, cipher, USERS)
            fill_s = time.perf_counter() - t
            smtp = LocalSmtp(Mailbox(keep=False)).__enter__()
            webhook = LocalWebhook().__enter__()
            smtp_url, hook = smtp.url, webhook.url
            set_provider(wh, cipher, Provider("email", "smtp", {"url": smtp_url, "from": "b@example.com"}))
            set_provider(wh, cipher, Provider("app_push", "webhook", {"url": hook}, "bench-secret"))
            t = time.perf_counter()
            counted = wh.sql("SELECT count(*) FROM users")[0][0]
            count_s = time.perf_counter() - t
            cid, launch_s, plan = _launch(wh, cipher, "email", "big")
            rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # peak so far (KiB → GiB)
            # delivery throughput: a small campaign per channel, SEND messages each
            wh.sql(
                "UPDATE messages SET status = 'cancelled' WHERE campaign_id = ? AND status = 'queued'", [cid]
            )
            rates = {}
            for channel in ("email", "app_push"):
                wh.sql(
                    "INSERT INTO consents (consent_id, user_id, purpose, channel, status, ts) SELECT "
                    "'p' || i, 'u' || lpad(i::VARCHAR, 7, '0'), 'marketing', 'app_push', 'granted', "
                    "TIMESTAMPTZ '2026-01-01' FROM range(?) t(i) ON CONFLICT DO NOTHING",
                    [SEND],
                )
                ids = tuple(f"u{i:07d}" for i in range(1, SEND * 2) if i % 5 and i % 97 and i % 7 and i % 20)[
                    :SEND
                ]
                aud = audiences.create(wh, f"send-{channel}", audiences.AudienceSpec(users=ids))
                spec = CampaignSpec(
                    f"send-{channel}",
                    aud["audience_id"],
                    (channel,),
                    "{{ name }}，新品上架",
                    "上新",
                    holdout=0,
                    policy=Policy(cap_day=10, cap_week=10, fatigue_week=10),
                )
                c = engine.create(wh, spec, actor="m")
                engine.approve(wh, c["campaign_id"], actor="a")
                engine.launch(wh, c["campaign_id"], actor="b", now=datetime(2026, 4, 3, 2, tzinfo=UTC))
                t = time.perf_counter()
                sent = outbox.deliver(
                    wh,
                    cipher,
                    outbox.DeliveryOptions(base_url="http://shop.test"),
                    now=datetime(2026, 4, 3, 2, tzinfo=UTC),
                )
                rates[channel] = {
                    "sent": sent["sent"],
                    "per_s": round(sent["sent"] / (time.perf_counter() - t), 1),
                }
            smtp.__exit__()
            webhook.__exit__()
    out = {
        "machine": machine(),
        "users": USERS,
        "fill_s": round(fill_s, 1),
        "count_only_s": round(count_s, 3),
        "counted": counted,
        "launch_s": round(launch_s, 1),
        "launch_goal_s": GOAL_S,
        "rss_gb": round(rss_gb, 2),
        "rss_goal_gb": GOAL_GB,
        "plan": {k: plan[k] for k in ("targeted", "to_send", "holdout", "skipped")},
        "delivery": rates,
    }
    print(
        f"launch of a {USERS:,}-user audience (consent, suppressions, caps, quiet hours, holdout, audit): "
        f"{launch_s:.1f} s (goal ≤ {GOAL_S:.0f} s; counting the users alone {count_s:.3f} s), "
        f"peak RSS of the process {rss_gb:.2f} GB (goal ≤ {GOAL_GB:.0f}); plan {out['plan']}"
    )
    print(f"delivery: {rates}")
    return out
