"""What comes back from a message: delivery receipts, opens, clicks, unsubscribes, bounces, complaints;
and the suppression (do-not-contact) list they feed.

An open or a click also becomes a ``message_open`` / ``message_click`` event (once per message), so
profiles and the send-time model learn from it. An unsubscribe revokes marketing consent on the
message's channel at once (a complaint: on every channel) and suppresses the user there; a bounce
suppresses the channel's address. Nothing here needs the user to be logged in: a link carries a signed
token (:func:`liveloop.campaigns.outbox.unsubscribe_token`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from liveloop.core.clock import checked_time, utcnow
from liveloop.core.errors import ValidationFailed
from liveloop.core.ids import is_valid_id
from liveloop.core.types import ALL_CHANNELS, Purpose
from liveloop.privacy import consent
from liveloop.privacy.audit import AuditEntry
from liveloop.privacy.audit import record as audit
from liveloop.warehouse import Warehouse

KINDS = ("delivered", "open", "click", "unsubscribe", "bounce", "complaint")
COLUMN = {
    "delivered": "delivered_at",
    "open": "opened_at",
    "click": "clicked_at",
    "unsubscribe": "unsubscribed_at",
    "bounce": "bounced_at",
    "complaint": "complained_at",
}
MAX_EVENTS = 1000
SUPPRESSION_REASONS = ("do_not_contact", "unsubscribe", "bounce", "complaint")


@dataclass(frozen=True)
class MessageEvent:
    message_id: str
    kind: str
    ts: datetime | None = None

    def checked(self) -> MessageEvent:
        if not isinstance(self.message_id, str) or not is_valid_id(self.message_id):
            raise ValidationFailed(f"message_id {self.message_id!r} is not a valid id", field="message_id")
        if self.kind not in KINDS:
            raise ValidationFailed(f"type must be one of {', '.join(KINDS)}", field="type")
        ts = checked_time(self.ts, "ts") if self.ts is not None else utcnow()
        return MessageEvent(self.message_id, self.kind, ts)


def record(wh: Warehouse, events: Sequence[MessageEvent], *, actor: str | None) -> dict[str, Any]:
    """Apply message events (the first time of each kind counts; repeats are harmless). Unknown message
    ids are reported, not an error for the others."""
    if len(events) > MAX_EVENTS:
        raise ValidationFailed(f"at most {MAX_EVENTS} events per call", field="events")
    checked = [e.checked() for e in events]
    ids = sorted({e.message_id for e in checked})
    known = dict(
        (r[0], (r[1], r[2]))
        for r in wh.sql(
            "SELECT message_id, user_id, channel FROM messages WHERE list_contains(?::VARCHAR[], message_id)",
            [ids],
        )
    )
    applied = 0
    revoked: list[consent.ConsentChange] = []
    with wh.transaction() as con:
        for e in checked:
            if e.message_id not in known:
                continue
            user, channel = known[e.message_id]
            column = COLUMN[e.kind]
            hit = con.execute(
                f"UPDATE messages SET {column} = ? WHERE message_id = ? AND {column} IS NULL RETURNING 1",
                [e.ts, e.message_id],
            ).fetchall()
            if e.kind == "delivered":
                con.execute(
                    "UPDATE messages SET status = 'delivered' WHERE message_id = ? AND status = 'sent'",
                    [e.message_id],
                )
            if not hit:
                continue
            applied += 1
            if e.kind in ("open", "click"):
                con.execute(
                    "INSERT INTO events (event_id, ts, user_id, type, channel, props, source) "
                    "VALUES (?, ?, ?, ?, ?, json_object('message_id', ?), 'messages')",
                    [f"{e.message_id}:{e.kind}", e.ts, user, f"message_{e.kind}", channel, e.message_id],
                )
            if e.kind in ("unsubscribe", "complaint", "bounce"):
                where = ALL_CHANNELS if e.kind == "complaint" else channel
                con.execute(
                    "INSERT INTO suppressions (user_id, channel, reason, actor) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    [user, where, e.kind, actor],
                )
                if e.kind != "bounce":
                    revoked.append(
                        consent.ConsentChange(
                            user_id=user,
                            purpose=Purpose.MARKETING.value,
                            status="revoked",
                            channel=where,
                            source=e.kind,
                            proof=f"message {e.message_id}",
                            ts=e.ts,
                        )
                    )
    if revoked:
        consent.record(wh, revoked, actor=actor)
    return {"received": len(checked), "applied": applied, "unknown": [i for i in ids if i not in known]}


def suppress(
    wh: Warehouse,
    user_id: str,
    *,
    channel: str = ALL_CHANNELS,
    reason: str = "do_not_contact",
    actor: str | None = None,
) -> dict[str, Any]:
    """Put a user on the do-not-contact list (for one channel or all)."""
    if not is_valid_id(user_id):
        raise ValidationFailed(f"user_id {user_id!r} is not a valid id", field="user_id")
    if channel not in consent.CHANNELS:
        raise ValidationFailed(f"unknown channel {channel!r}", field="channel")
    if reason not in SUPPRESSION_REASONS:
        raise ValidationFailed(f"reason must be one of {', '.join(SUPPRESSION_REASONS)}", field="reason")
    wh.sql(
        "INSERT INTO suppressions (user_id, channel, reason, actor) VALUES (?, ?, ?, ?) ON CONFLICT "
        "DO NOTHING",
        [user_id, channel, reason, actor],
    )
    audit(wh, AuditEntry(actor, "suppression.add", user_id, "suppressed", reason, {"channel": channel}))
    return {"user_id": user_id, "channel": channel, "reason": reason}


def unsuppress(wh: Warehouse, user_id: str, *, channel: str = ALL_CHANNELS, actor: str | None = None) -> bool:
    gone = bool(
        wh.sql("DELETE FROM suppressions WHERE user_id = ? AND channel = ? RETURNING 1", [user_id, channel])
    )
    if gone:
        audit(wh, AuditEntry(actor, "suppression.remove", user_id, "removed", None, {"channel": channel}))
    return gone


def suppressions(wh: Warehouse, limit: int = 500) -> list[dict[str, Any]]:
    rows = wh.sql(
        "SELECT user_id, channel, reason, ts, actor FROM suppressions ORDER BY ts DESC LIMIT ?", [limit]
    )
    return [dict(zip(("user_id", "channel", "reason", "ts", "actor"), r, strict=True)) for r in rows]
