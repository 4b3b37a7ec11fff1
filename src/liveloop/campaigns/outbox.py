"""Delivery from the durable outbox: ``messages`` rows queued by a launch go out in batches.

A batch is claimed (``queued`` → ``sending``, attempts + 1) and committed before anything is sent; the
senders' answers are committed in one transaction after. A crash between the two leaves the batch
``sending``: the next delivery pass sends it again with the same message id, which every channel carries
as its idempotency key (the webhook's ``Idempotency-Key``, the e-mail's ``Message-ID``), so a receiver
that honours it never shows a message twice, and nothing queued is lost. A temporary failure waits
``backoff_s × 2^(attempt-1)``; after ``max_attempts`` (or at once for a permanent failure) the message is
``failed`` with its reason; a bounce also suppresses the address's channel.

Messages are rendered at send time (names and addresses decrypted then); ``messages`` keeps no PII.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from liveloop.campaigns import templates
from liveloop.campaigns.channels import (
    ADDRESS,
    KINDS,
    Outgoing,
    Provider,
    Result,
    Sender,
    providers,
    sender_for,
)
from liveloop.core.clock import display_time, utcnow
from liveloop.core.config import get_settings
from liveloop.core.crypto import Cipher
from liveloop.core.errors import ValidationFailed
from liveloop.warehouse import Warehouse

BATCH = 200
MAX_ATTEMPTS = 5
BACKOFF_S = 60.0
_lock = threading.Lock()  # one delivery pass at a time per process (DuckDB admits one writing process)


@dataclass
class DeliveryOptions:
    base_url: str | None = None  # where unsubscribe links point (the service's public URL)
    batch: int = BATCH
    max_attempts: int = MAX_ATTEMPTS
    backoff_s: float = BACKOFF_S
    limit: int | None = None  # at most this many messages in this pass


_UNSUBSCRIBE = "liveloop-unsubscribe"


def unsubscribe_token(cipher: Cipher, message_id: str, *, key: str | None = None) -> str:
    """``<message id>.<MAC>``: proves a link came from us without storing anything (signed with the
    current key unless ``key``, one of the ring's label indexes, is given)."""
    mac = hmac.new(
        (key or cipher.blind_indexes(_UNSUBSCRIBE)[0]).encode(), message_id.encode(), hashlib.sha256
    )
    return f"{message_id}.{mac.hexdigest()[:32]}"


def message_of_token(cipher: Cipher, token: str) -> str:
    """The message an unsubscribe link names. Every key of the ring verifies, the previous one too: a
    link in a mail sent before a key rotation must still unsubscribe (the law asks for it), and a
    forged link could do no more than unsubscribe someone."""
    message_id, _, _mac = token.rpartition(".")
    keys = cipher.blind_indexes(_UNSUBSCRIBE)  # one view of the ring
    if not message_id or not any(
        hmac.compare_digest(unsubscribe_token(cipher, message_id, key=k), token) for k in keys
    ):
        raise ValidationFailed("this unsubscribe link is not valid", field="token")
    return message_id


def _claim(wh: Warehouse, now: datetime, n: int) -> list[str]:
    with wh.transaction() as con:
        rows = con.execute(
            "SELECT m.message_id FROM messages m JOIN campaigns c USING (campaign_id) "
            "WHERE m.status = 'queued' AND m.next_attempt_at <= ? AND c.status = 'running' "
            "ORDER BY m.next_attempt_at, m.message_id LIMIT ?",
            [now, n],
        ).fetchall()
        ids = [r[0] for r in rows]
        if ids:
            con.execute(
                "UPDATE messages SET status = 'sending', attempts = attempts + 1 "
                "WHERE list_contains(?::VARCHAR[], message_id)",
                [ids],
            )
    return ids


def _outgoing(wh: Warehouse, cipher: Cipher, ids: list[str], opts: DeliveryOptions) -> list[Outgoing]:
    rows = wh.sql(
        "SELECT m.message_id, m.campaign_id, m.user_id, m.channel, u.name_enc, u.email_enc, u.phone_enc, "
        "s.name_zh, p.features->>'$.top_category', CAST(c.props AS VARCHAR), c.name, l.title, l.start_ts, "
        "coalesce(u.props->>'$.timezone', ?) "
        "FROM messages m JOIN campaigns c USING (campaign_id) LEFT JOIN users u ON u.user_id = m.user_id "
        "LEFT JOIN profiles p ON p.user_id = m.user_id LEFT JOIN segments s ON s.segment_id = p.segment_id "
        "LEFT JOIN live_sessions l ON l.session_id = c.props->>'$.session_id' "
        "WHERE list_contains(?::VARCHAR[], m.message_id)",
        [get_settings().timezone, ids],
    )
    out = []
    for mid, cid, uid, channel, name, email, phone, segment, top, props, cname, title, start, tz in rows:
        spec = json.loads(props)
        base = (opts.base_url or "").rstrip("/")
        unsubscribe = (
            f"{base}/v1/messages/unsubscribe?token={unsubscribe_token(cipher, mid)}" if base else None
        )
        values = {
            "user_id": uid,
            "name": cipher.decrypt(name, context="users.name") or "亲",
            "segment": segment or "",
            "top_category": top or "",
            "campaign": cname,
            "session_title": title or "",
            "session_start": display_time(start, tz) if start is not None else "",
            "unsubscribe_url": unsubscribe or "",
        }
        body = templates.render(spec.get("body"), values)
        if unsubscribe and "unsubscribe_url" not in (spec.get("body") or ""):
            body += f"\n\n退订 / unsubscribe: {unsubscribe}"
        address = {"email": email, "phone": phone}.get(ADDRESS.get(channel, ""))
        field = ADDRESS.get(channel)
        out.append(
            Outgoing(
                mid,
                cid,
                uid,
                channel,
                templates.render(spec.get("subject"), values) or None,
                body,
                cipher.decrypt(address, context=f"users.{field}") if field else None,
                unsubscribe,
            )
        )
    return out


def _settle(wh: Warehouse, done: list[tuple[Outgoing, Result]], now: datetime, opts: DeliveryOptions) -> None:
    table = pa.table(
        {
            "message_id": [m.message_id for m, _ in done],
            "ok": [r.ok for _, r in done],
            "error": [r.error for _, r in done],
            "permanent": [r.permanent for _, r in done],
            "bounced": [r.bounced for _, r in done],
            "instant": [m.channel in KINDS["in_app"] for m, _ in done],
        }
    )
    with wh.transaction() as con:
        con.register("_done", table)
        try:
            con.execute(
                "UPDATE messages m SET "
                "status = CASE WHEN d.ok AND d.instant THEN 'delivered' WHEN d.ok THEN 'sent' "
                "  WHEN d.bounced THEN 'bounced' WHEN d.permanent OR m.attempts >= ? THEN 'failed' "
                "ELSE 'queued' END, "
                "sent_at = CASE WHEN d.ok THEN ?::TIMESTAMPTZ ELSE m.sent_at END, "
                "delivered_at = CASE WHEN d.ok AND d.instant THEN ?::TIMESTAMPTZ ELSE m.delivered_at END, "
                "bounced_at = CASE WHEN d.bounced THEN ?::TIMESTAMPTZ ELSE m.bounced_at END, "
                "last_error = CASE WHEN d.ok THEN NULL ELSE d.error END, "
                "next_attempt_at = CASE WHEN d.ok THEN m.next_attempt_at "
                "  ELSE ?::TIMESTAMPTZ + to_seconds(? * pow(2, m.attempts - 1)) END "
                "FROM _done d WHERE m.message_id = d.message_id",
                [opts.max_attempts, now, now, now, now, opts.backoff_s],
            )
            con.execute(
                "INSERT INTO suppressions (user_id, channel, reason, actor) "
                "SELECT DISTINCT m.user_id, m.channel, 'bounce', 'delivery' FROM _done d "
                "JOIN messages m USING (message_id) WHERE d.bounced ON CONFLICT DO NOTHING"
            )
        finally:
            con.unregister("_done")


def deliver(
    wh: Warehouse,
    cipher: Cipher,
    opts: DeliveryOptions | None = None,
    *,
    now: datetime | None = None,
    senders: Mapping[str, Sender] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Send what is due; a pass first re-queues what a crashed pass left ``sending``. Returns counts."""
    opts = opts or DeliveryOptions()
    with _lock:
        now = now or utcnow()
        recovered = len(wh.sql("UPDATE messages SET status = 'queued' WHERE status = 'sending' RETURNING 1"))
        wh.sql(
            "UPDATE campaigns SET status = 'running' WHERE status = 'scheduled' AND "
            "coalesce(start_ts, launched_at) <= ?",
            [now],
        )
        configured: dict[str, Provider] = providers(wh, cipher)
        live: dict[str, Sender] = dict(senders or {})
        counts = {"sent": 0, "failed": 0, "retry": 0, "bounced": 0}
        processed = 0
        while opts.limit is None or processed < opts.limit:
            n = opts.batch if opts.limit is None else min(opts.batch, opts.limit - processed)
            ids = _claim(wh, now, n)
            if not ids:
                break
            outgoing = _outgoing(wh, cipher, ids, opts)
            done: list[tuple[Outgoing, Result]] = []
            for channel in sorted({m.channel for m in outgoing}):
                batch = [m for m in outgoing if m.channel == channel]
                if channel not in live:
                    p = configured.get(channel)
                    if p is None and channel not in KINDS["in_app"]:
                        done += [
                            (m, Result(False, f"channel {channel} has no provider any more", True))
                            for m in batch
                        ]
                        continue
                    live[channel] = sender_for(p or Provider(channel, "in_app", {}))
                done += list(zip(batch, live[channel].send(batch), strict=True))
            _settle(wh, done, now, opts)
            processed += len(done)
            for _, r in done:
                key = "sent" if r.ok else "bounced" if r.bounced else "failed" if r.permanent else "retry"
                counts[key] += 1
            if progress is not None:
                progress(len(done))
        finished = wh.sql(
            "UPDATE campaigns SET status = 'done', done_at = ? WHERE status = 'running' "
            "AND NOT EXISTS (SELECT 1 FROM journeys j WHERE j.journey_id = campaigns.audience_id) "
            "AND NOT EXISTS "
            "(SELECT 1 FROM messages m WHERE m.campaign_id = campaigns.campaign_id "
            "AND m.status IN ('queued', 'sending')) RETURNING campaign_id",
            [now],
        )
    return counts | {"recovered": recovered, "campaigns_done": [r[0] for r in finished]}


def next_due(wh: Warehouse) -> datetime | None:
    """When the next queued message is due (None: nothing queued)."""
    return wh.sql("SELECT min(next_attempt_at) FROM messages WHERE status = 'queued'")[0][0]


def inbox(wh: Warehouse, cipher: Cipher, user_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The in-app and live-room preview messages delivered to a user, newest first, rendered (the app
    shows them to the user)."""
    rows = wh.sql(
        "SELECT message_id, campaign_id, channel, sent_at, opened_at FROM messages "
        "WHERE user_id = ? AND channel IN ('in_app', 'live') AND status = 'delivered' "
        "ORDER BY sent_at DESC, message_id LIMIT ?",
        [user_id, limit],
    )
    rendered = {m.message_id: m for m in _outgoing(wh, cipher, [r[0] for r in rows], DeliveryOptions())}
    return [
        {
            "message_id": mid,
            "campaign_id": cid,
            "channel": channel,
            "sent_at": sent,
            "opened_at": opened,
            "subject": rendered[mid].subject,
            "body": rendered[mid].body,
        }
        for mid, cid, channel, sent, opened in rows
    ]
