"""The demo's campaigns: a live-preview campaign and the welcome journey on the simulated world,
delivered for real to a local SMTP server and a local webhook receiver, answered by the simulated users
(the Oracle), and measured against their holdouts beside the Oracle's true effect.

The simulated world has no consent records or e-mail addresses: the demo records simulated ones (about
70% of users opted in to app push and 40% to e-mail at signup, ``source = 'simulated signup form'``), so
the policies have something real to enforce.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from liveloop.campaigns import audiences, coupons, engine, journeys, outbox
from liveloop.campaigns.channels import Provider, set_provider
from liveloop.campaigns.engine import CampaignSpec
from liveloop.campaigns.report import report
from liveloop.campaigns.sinks import LocalSmtp, LocalWebhook, Mailbox
from liveloop.core.crypto import Cipher
from liveloop.core.errors import InsufficientData
from liveloop.privacy import consent
from liveloop.warehouse import Warehouse

SECRET = "demo-webhook-secret"
MARKETER, ADMIN = "demo-marketer", "demo-admin"


def simulated_consent(wh: Warehouse, cipher: Cipher) -> dict[str, int]:
    users = [r[0] for r in wh.sql("SELECT user_id FROM users ORDER BY user_id")]
    push = [u for u in users if hash_share(u, "push") < 0.7]
    email = [u for u in users if hash_share(u, "email") < 0.4]
    changes = [
        consent.ConsentChange(u, "marketing", "granted", channel, source="simulated signup form")
        for channel, who in (("app_push", push), ("email", email))
        for u in who
    ]
    for at in range(0, len(changes), consent.MAX_CHANGES):
        consent.record(wh, changes[at : at + consent.MAX_CHANGES], actor="demo")
    for u in email:
        wh.sql(
            "UPDATE users SET email_enc = ? WHERE user_id = ?",
            [cipher.encrypt(f"{u}@demo.invalid", context="users.email"), u],
        )
    return {"users": len(users), "push_opt_in": len(push), "email_opt_in": len(email)}


def hash_share(user_id: str, salt: str) -> float:
    import hashlib

    digest = hashlib.blake2b(f"{salt}:{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64


def _moment(wh: Warehouse) -> tuple[datetime, str, datetime]:
    """Three hours before the busiest live session 1 to 6 days before the world ends (else the latest
    session before its last day), so the world has days of behaviour after the sends."""
    end = wh.sql("SELECT max(ts) FROM events")[0][0]
    if end is None:
        raise InsufficientData("the demo world has no events")
    rows = wh.sql(
        "SELECT s.session_id, s.start_ts FROM live_sessions s LEFT JOIN events e USING (session_id) "
        "WHERE s.start_ts <= ? - INTERVAL 1 DAY GROUP BY s.session_id, s.start_ts "
        "ORDER BY s.start_ts >= ? - INTERVAL 6 DAY DESC, count(e.event_id) DESC, s.start_ts DESC, "
        "s.session_id "
        "LIMIT 1",
        [end, end],
    )
    if not rows:
        raise InsufficientData("the demo world has no live session before its last day")
    session, start = rows[0]
    return start - timedelta(hours=3), session, end


def _lift_line(lift: dict[str, Any] | None) -> str:
    if lift is None:
        return "no holdout measured yet"
    lo, hi = lift["ci95"]
    return f"{lift['difference']:+.2%} (95% CI {lo:+.2%} … {hi:+.2%})"


def demo_step(wh: Warehouse, cipher: Cipher) -> dict[str, Any]:
    """Run the demo's campaign and journey; their funnel and lift against the holdout."""
    from liveloop.datasets.simulator.responses import respond_to_messages

    opted = simulated_consent(wh, cipher)
    t, session, end = _moment(wh)
    with LocalSmtp(Mailbox(keep=False)) as smtp, LocalWebhook(SECRET) as hook:
        set_provider(wh, cipher, Provider("email", "smtp", {"url": smtp.url, "from": "live@demo.invalid"}))
        set_provider(wh, cipher, Provider("app_push", "webhook", {"url": hook.url}, SECRET))
        aud = audiences.create(
            wh, "直播预告人群", audiences.AudienceSpec(live_session=session, size=1500), actor=MARKETER
        )
        c = engine.create(
            wh,
            CampaignSpec(
                name="今晚直播预告",
                audience_id=aud["audience_id"],
                channels=("app_push", "email"),
                subject="{{ session_title }} 即将开播",
                body="{{ name }}，您关注的「{{ session_title }}」{{ session_start }} 开播，点击预约不错过。",
                kind="live_preview",
                session_id=session,
                holdout=0.2,
            ),
            actor=MARKETER,
        )
        cid = c["campaign_id"]
        engine.approve(wh, cid, actor=ADMIN)
        plan = engine.launch(wh, cid, actor=MARKETER, now=t)
        outbox.deliver(wh, cipher, outbox.DeliveryOptions(base_url="http://127.0.0.1:8765"), now=t)

        coupon = coupons.create(
            wh,
            coupons.CouponSpec.from_dict(
                {"name": "新人券", "amount": "20", "min_spend": "99", "valid_days": 7}
            ),
            actor=MARKETER,
        )
        welcome = journeys.builtin("welcome", channels=("app_push",), holdout=0.2, coupon=coupon["coupon_id"])
        j = journeys.create(wh, welcome, actor=MARKETER)
        jid = j["journey_id"]
        journeys.approve(wh, jid, actor=ADMIN)
        start = t - timedelta(days=14)
        journeys.activate(wh, jid, actor=MARKETER, now=start)
        for hours in range(0, 14 * 24 + 1, 6):
            journeys.tick(wh, now=start + timedelta(hours=hours))
            outbox.deliver(wh, cipher, now=start + timedelta(hours=hours))
        outbox.deliver(wh, cipher, now=t + timedelta(hours=14))  # what quiet hours deferred
        delivered = {"smtp": smtp.box.count, "webhook": len(set(hook.rec.keys()))}
    issued = wh.sql("SELECT count(*) FROM coupon_grants WHERE coupon_id = ?", [coupon["coupon_id"]])[0][0]
    answered = respond_to_messages(wh)
    campaign = report(wh, cid)
    journey = journeys.report(wh, jid, now=end)
    funnel = {s["step"]: s["users"] for s in campaign["funnel"]}
    return {
        **{f"consent {k}": v for k, v in opted.items()},
        "campaign": f"{cid} (live preview of {session})",
        "campaign planned": f"{plan['to_send']} to send, {plan['holdout']} held out, "
        f"skipped {plan['skipped']}",
        "campaign funnel": " → ".join(f"{k} {v}" for k, v in funnel.items()),
        "campaign lift (bought within 3 days)": _lift_line(campaign["lift"]),
        "delivered to the local SMTP server": delivered["smtp"],
        "delivered to the local webhook receiver": delivered["webhook"],
        "journey": f"{jid} (welcome: signup → new-user coupon → its message → 72 h → exit if bought "
        "→ reminder)",
        "coupons issued by the journey": issued,
        "journey runs": ", ".join(f"{r['group']} {r['state']} {r['users']}" for r in journey["runs"]),
        "journey lift (bought within 7 days)": _lift_line(journey["lift"]),
        "oracle": (
            f"true response rate of the answered messages: treated {answered['true_rate_treated']:.2%}, "
            f"control {answered['true_rate_control']:.2%}"
            if answered["true_rate_treated"] is not None and answered["true_rate_control"] is not None
            else "no messages answered"
        ),
    }
