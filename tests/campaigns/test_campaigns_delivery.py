"""Delivery through signed webhooks: retries with backoff, permanent failures with their reason, and a
delivery process killed with SIGKILL mid-campaign that, resumed, loses nothing and repeats nothing
that a receiver honouring the idempotency key would show twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from liveloop.campaigns import audiences, engine, outbox
from liveloop.campaigns.channels import Provider, set_provider, verify
from liveloop.campaigns.engine import CampaignSpec
from liveloop.campaigns.policies import Policy
from liveloop.privacy import consent
from liveloop.warehouse import Warehouse

MORNING = datetime(2026, 4, 2, 2, 0, tzinfo=UTC)
SECRET = "whsec-test-0123456789"


def push_campaign(
    wh: Warehouse, cipher, url: str, n: int, now: datetime = MORNING, quiet: bool = True
) -> str:
    ids = [f"pu{i:05d}" for i in range(n)]
    wh.append("users", pa.table({"user_id": ids}))
    for at in range(0, n, consent.MAX_CHANGES):
        consent.record(
            wh,
            [
                consent.ConsentChange(user_id=u, purpose="marketing", status="granted", channel="app_push")
                for u in ids[at : at + consent.MAX_CHANGES]
            ],
            actor="t",
        )
    set_provider(wh, cipher, Provider("app_push", "webhook", {"url": url}, SECRET))
    aud = audiences.create(wh, "push", audiences.AudienceSpec(users=tuple(ids)))
    policy = Policy() if quiet else Policy(quiet_start=0, quiet_end=0)  # the real clock may be at night
    spec = CampaignSpec("push", aud["audience_id"], ("app_push",), "上新啦", holdout=0, policy=policy)
    c = engine.create(wh, spec, actor="key:m")
    engine.approve(wh, c["campaign_id"], actor="key:a")
    engine.launch(wh, c["campaign_id"], actor="key:a", now=now)
    return str(c["campaign_id"])


def test_webhooks_are_signed_retried_with_backoff_and_fail_with_a_reason(wh, cipher, webhook) -> None:
    rec, url = webhook
    cid = push_campaign(wh, cipher, url, 3)
    rec.fail_next = 3  # the receiver is down for the first three requests
    first = outbox.deliver(wh, cipher, now=MORNING)
    assert first["sent"] == 0 and first["retry"] == 3 and rec.requests == []
    waiting = wh.sql("SELECT DISTINCT next_attempt_at, last_error FROM messages WHERE campaign_id = ?", [cid])
    assert waiting == [(MORNING + timedelta(seconds=60), "webhook answered 503: {}")]
    assert outbox.deliver(wh, cipher, now=MORNING + timedelta(seconds=30))["sent"] == 0  # not due yet
    again = outbox.deliver(wh, cipher, now=MORNING + timedelta(seconds=61))
    assert again["sent"] == 3 and again["campaigns_done"] == [cid]
    req = rec.requests[0]
    assert verify(SECRET, req["headers"]["x-liveloop-signature"], req["body"])
    assert not verify("another secret", req["headers"]["x-liveloop-signature"], req["body"])
    assert req["headers"]["idempotency-key"] == req["json"]["message_id"] and req["json"]["body"] == "上新啦"


def test_a_permanent_refusal_fails_at_once_and_a_reason_is_kept(wh, cipher, webhook) -> None:
    rec, url = webhook
    cid = push_campaign(wh, cipher, url, 2)
    rec.fail_next, rec.status = 2, 410
    result = outbox.deliver(wh, cipher, now=MORNING)
    assert result["failed"] == 2
    assert wh.sql("SELECT DISTINCT status, attempts FROM messages WHERE campaign_id = ?", [cid]) == [
        ("failed", 1)
    ]


def test_a_refusing_smtp_server_bounces_the_address_and_suppresses_it(shop, cipher, smtp) -> None:
    box, url = smtp
    users = [r[0] for r in shop.sql("SELECT user_id FROM profiles ORDER BY user_id LIMIT 3")]
    box.refuse = {f"{users[0]}@example.com"}
    consent.record(
        shop,
        [
            consent.ConsentChange(user_id=u, purpose="marketing", status="granted", channel="email")
            for u in users
        ],
        actor="t",
    )
    set_provider(shop, cipher, Provider("email", "smtp", {"url": url, "from": "s@example.com"}))
    aud = audiences.create(shop, "3", audiences.AudienceSpec(users=tuple(users)))
    c = engine.create(shop, CampaignSpec("m", aud["audience_id"], ("email",), "b", "s", holdout=0), actor="m")
    engine.approve(shop, c["campaign_id"], actor="a")
    engine.launch(shop, c["campaign_id"], actor="a", now=MORNING)
    result = outbox.deliver(shop, cipher, now=MORNING)
    assert result["sent"] == 2 and result["bounced"] == 1
    assert shop.sql("SELECT user_id, channel, reason FROM suppressions") == [(users[0], "email", "bounce")]
    box.down = True  # the server answers 451 to everyone: a temporary failure, retried later
    c2 = engine.create(
        shop, CampaignSpec("m2", aud["audience_id"], ("email",), "b", "s", holdout=0), actor="m"
    )
    engine.approve(shop, c2["campaign_id"], actor="a")
    engine.launch(shop, c2["campaign_id"], actor="a", now=MORNING + timedelta(days=2))
    later = outbox.deliver(shop, cipher, now=MORNING + timedelta(days=2))
    assert later["retry"] == 2 and later["sent"] == 0
    errors = shop.sql(
        "SELECT DISTINCT status, coalesce(last_error, reason) FROM messages WHERE campaign_id = ? ORDER BY 1",
        [c2["campaign_id"]],
    )
    assert errors == [("queued", "recipient refused: 451 4.3.0 try again later"), ("skipped", "suppressed")]


@pytest.mark.slow
def test_kill_9_during_delivery_loses_nothing_and_sends_each_message_once_per_key(
    wh, cipher, settings, webhook
) -> None:
    rec, url = webhook
    n = 1500
    cid = push_campaign(wh, cipher, url, n, now=datetime.now(UTC) - timedelta(minutes=1), quiet=False)
    wh.close()
    env = os.environ | {"LIVELOOP_HOME": str(settings.home)}
    cmd = [str(Path(sys.executable).parent / "liveloop"), "campaigns", "deliver", "--batch", "50"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(rec.requests) < n // 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, f"delivery finished before it could be killed: {proc.communicate()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = len(rec.requests)
    assert 0 < killed_at < n
    done = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    keys = rec.keys()
    with Warehouse.open(settings) as again:
        statuses = again.sql("SELECT status, count(*) FROM messages WHERE campaign_id = ? GROUP BY 1", [cid])
        state = again.sql("SELECT status FROM campaigns WHERE campaign_id = ?", [cid])[0][0]
    assert statuses == [("sent", n)] and state == "done"
    assert set(keys) == {f"{cid}:pu{i:05d}" for i in range(n)}  # nothing lost
    repeated = len(keys) - len(set(keys))
    assert repeated <= 50, f"{repeated} messages went twice: more than the one batch in flight"
